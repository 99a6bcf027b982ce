"""The clear-look rule on rendered scenes whose cloud is known: a berth under a cloud, in a
cloud's shadow, or cut by the scene's edge is not a clear look; a clear one is."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest

from detector.infer.batch import berth_shares
from detector.io.berths import load_berths, place
from detector.io.scene import Scene
from detector.synth import sensor as synth_sensor
from detector.synth.cli import write_scene
from detector.synth.compose import render
from detector.synth.layout import write_berths
from detector.synth.sensor import Weather
from detector.synth.series import berth_centre_m, series_specs, simulate_visits

START = datetime(2024, 4, 3, tzinfo=timezone.utc)
END = datetime(2024, 4, 6, tzinfo=timezone.utc)
CLOUD_RADIUS_M = 220.0
CLOUD_HEIGHT_M = 600.0


def _disk_clouds(centre_m):
    """A stand-in for ``sensor.clouds``: one round cloud at ``centre_m`` (local metres), its shadow
    cast away from the sun by the weather's cloud height, as the renderer casts its own."""
    def clouds(grid, weather, sun):
        e, n = grid.east_m[None, :], grid.north_m[:, None]
        opacity = np.clip((CLOUD_RADIUS_M - np.hypot(e - centre_m[0], n - centre_m[1])) / 30.0, 0, 1)
        off = sun.shadow_m(weather.cloud_height_m)
        shade = np.clip((CLOUD_RADIUS_M - np.hypot(e - off[0] - centre_m[0], n - off[1] - centre_m[1])) / 30.0, 0, 1)
        return opacity.astype(np.float32), (shade * (1 - opacity)).astype(np.float32)
    return clouds


@pytest.fixture(scope="module")
def berth_clip():
    """The spec of a PlanetScope clip around the oil berth with a tanker moored there."""
    visits = [v for v in simulate_visits(START, END, 3, nk_visits=1) if v.loading]
    spec = series_specs(START, END, "planetscope", 3, visits, size_px=400, centre_m=berth_centre_m("oil_berth"))
    spec = next(s for s in spec if any(v.arrival <= s.when < v.departure for v in visits))
    return replace(spec, nodata_chance=0.0, weather=Weather(0.2, 0.0, 1, CLOUD_HEIGHT_M))


def _shares(tmp_path, spec, monkeypatch, cloud_at=None):
    if cloud_at is not None:
        monkeypatch.setattr(synth_sensor, "clouds", _disk_clouds(cloud_at))
    else:
        spec = replace(spec, weather=Weather(0.0, 0.0, 1, CLOUD_HEIGHT_M))
    scene = render(spec)
    path = write_scene(scene, tmp_path, False)
    write_berths(tmp_path / "berths.geojson")
    berths = load_berths(tmp_path / "berths.geojson")
    with Scene(str(path)) as s:
        placed = {pb.berth.name: pb for pb in place(berths, s.georef, s.info.width, s.info.height)}
        return berth_shares(s, placed["oil_berth"]), scene


def test_a_clear_berth_is_a_clear_look(tmp_path, berth_clip, monkeypatch):
    (valid, clear), scene = _shares(tmp_path, berth_clip, monkeypatch)
    assert valid == 1.0 and clear >= 0.95


def test_a_cloud_over_the_berth_hides_it(tmp_path, berth_clip, monkeypatch):
    (valid, clear), scene = _shares(tmp_path, berth_clip, monkeypatch, cloud_at=berth_centre_m("oil_berth"))
    assert valid == 1.0 and clear < 0.3
    hulls = [lb for lb in scene.labels if lb["berth"] == "oil_berth"]
    assert hulls and all(lb["cloud_hidden"] for lb in hulls)  # the renderer agrees: the hull is hidden


def test_a_cloud_shadow_over_the_berth_is_not_a_clear_look(tmp_path, berth_clip, monkeypatch):
    e, n = berth_centre_m("oil_berth")
    off = berth_clip.sun.shadow_m(CLOUD_HEIGHT_M)
    cloud_at = (e - off[0], n - off[1])  # towards the sun, so the shadow lands on the berth
    assert np.hypot(*off) > 1.5 * CLOUD_RADIUS_M  # the cloud itself is off the berth
    (valid, clear), scene = _shares(tmp_path, berth_clip, monkeypatch, cloud_at=cloud_at)
    assert valid == 1.0 and clear < 0.3
    # The same cloud on the far side of the berth casts its shadow away from it: a clear look.
    (valid, clear), _ = _shares(tmp_path, berth_clip, monkeypatch, cloud_at=(e + off[0], n + off[1]))
    assert valid == 1.0 and clear >= 0.95


def test_a_berth_cut_by_the_scene_edge_is_only_partly_seen(tmp_path, berth_clip, monkeypatch):
    # Move the clip so that its western edge runs through the middle of the berth's outline.
    berths = {b.name: b for b in load_berths(_write(tmp_path))}
    spec = replace(berth_clip, weather=Weather(0.0, 0.0, 1, CLOUD_HEIGHT_M))
    (valid_whole, _), _ = _shares(tmp_path / "whole", spec, monkeypatch)
    outline = berths["oil_berth"].outline_lonlat
    assert outline.area > 0 and valid_whole == 1.0
    g = spec.grid
    with Scene(str(write_scene(render(spec), _dir(tmp_path / "probe"), False))) as s:
        x, _ = s.georef.lonlat_to_pixel(np.array([outline.centroid.x]), np.array([outline.centroid.y]))
    shift_m = float(x[0]) * g.gsd_m  # the clip's west edge moved onto the berth's centre
    cut = replace(spec, grid=replace(g, east0_m=g.east0_m + shift_m))
    (valid, clear), _ = _shares(tmp_path / "cut", cut, monkeypatch)
    assert 0.3 < valid < 0.7 and clear <= valid
    assert clear < 0.7  # below the events step's default share: not a clear look


def _write(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_berths(tmp_path / "b.geojson")
    return tmp_path / "b.geojson"


def _dir(p):
    p.mkdir(parents=True, exist_ok=True)
    return p
