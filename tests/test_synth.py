"""Synthetic scenes: determinism, labels that match the pixels, lengths in metres, series truth."""

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest
import shapely

from detector.io.records import TRUTH_COLUMNS, read_csv
from detector.io.scene import Scene
from detector.synth.compose import random_spec, render
from detector.synth.ground import Grid, Sun
from detector.synth.layout import BERTHS, REF_LAT, REF_LON, berth
from detector.synth.sensor import Weather
from detector.synth.series import series_specs, simulate_visits
from detector.synth.vessels import Vessel, at_berth


def run_cli(*args):
    proc = subprocess.run([sys.executable, "-m", "detector.synth", *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        run_cli("--out", tmp_path / name, "--seed", seed, "--scenes", 2, "--size", 192, "--gsd", 3)
    a, b, c = digests(tmp_path / "a"), digests(tmp_path / "b"), digests(tmp_path / "c")
    assert a == b and len(a) == 4  # two scenes, truth.csv, berths
    assert a["synth_s3_0000.tif"] != c["synth_s4_0000.tif"]


def clean_spec(gsd_m, vessels, size=256, centre=(200.0, -700.0)):
    """A spec with no shadow (sun overhead), no cloud or haze, no nodata: only the hull changes pixels."""
    half = size * gsd_m / 2
    spec = random_spec(9, 0, gsd_m=gsd_m, size_px=size, sensor="sentinel2")
    return replace(spec, grid=Grid(centre[0] - half, centre[1] + half, gsd_m, size, size), sun=Sun(89.99, 180.0),
                   weather=Weather(0.0, 0.0, 1), vessels=vessels, nodata_chance=0.0)


@pytest.mark.parametrize("gsd_m", [0.5, 3.0, 10.0])
def test_polygon_covers_the_rendered_hull_and_lengths_are_metres(gsd_m):
    rng = np.random.default_rng(int(gsd_m * 10))
    size = 256
    length = min(180.0, 0.6 * size * gsd_m)
    vessel = Vessel("tanker", length, length / 6, float(rng.uniform(0, 360)), -2500.0, -2500.0, "anchored", style=5)
    spec = clean_spec(gsd_m, [vessel], size, centre=(-2500.0, -2500.0))
    rendered = render(spec)
    with_ship = rendered.data.astype(float)
    empty = render(replace(spec, vessels=[])).data.astype(float)
    (label,) = rendered.labels
    corners = np.array([[label[f"x{k}_px"], label[f"y{k}_px"]] for k in range(1, 5)])
    # The polygon's sides are the hull's length and beam in metres.
    assert np.linalg.norm(corners[0] - corners[3]) * gsd_m == pytest.approx(label["length_m"], rel=1e-3)
    assert np.linalg.norm(corners[0] - corners[1]) * gsd_m == pytest.approx(label["beam_m"], rel=1e-3)
    assert label["length_m"] == pytest.approx(length, abs=0.01)
    changed = np.abs(with_ship - empty).max(axis=0) > 60  # 16-bit reflectance x 10,000
    rows, cols = np.nonzero(changed)
    poly = shapely.Polygon(corners)
    centres = shapely.points(cols + 0.5, rows + 0.5)
    # Every changed pixel lies in the polygon grown by the blur (1.5 px) ...
    assert shapely.contains(poly.buffer(1.5 + 0.71), centres).all()
    # ... and the changed pixels span the hull's length along its axis.
    axis = (corners[0] - corners[3]) / np.linalg.norm(corners[0] - corners[3])
    along = (np.column_stack([cols + 0.5, rows + 0.5]) - corners[[0, 3]].mean(axis=0)) @ axis
    assert (along.max() - along.min()) * gsd_m == pytest.approx(length, abs=3.5 * gsd_m + 2.0)


def test_written_scene_opens_as_a_georeferenced_scene(tmp_path):
    run_cli("--out", tmp_path, "--seed", 1, "--scenes", 1, "--size", 128, "--gsd", 3, "--sensor", "planetscope")
    scene = Scene(tmp_path / "synth_s1_0000.tif")
    info = scene.info
    assert info.crs == "EPSG:32653" and info.gsd_m == pytest.approx(3.0, rel=2e-3)
    assert info.bands.indexes == (1, 2, 3) and info.datetime_source == "TIFFTAG_DATETIME"
    lon, lat = scene.georef.pixel_to_lonlat(64, 64)
    assert abs(lon.item() - REF_LON) < 0.1 and abs(lat.item() - REF_LAT) < 0.1
    rows = read_csv(tmp_path / "truth.csv")
    assert rows, "the scene has vessels"
    assert list(rows[0]) == TRUTH_COLUMNS
    for r in rows:
        # The label's lon/lat is where its pixel centre lands on the map.
        cx = np.mean([float(r[f"x{k}_px"]) for k in range(1, 5)])
        cy = np.mean([float(r[f"y{k}_px"]) for k in range(1, 5)])
        lon, lat = scene.georef.pixel_to_lonlat(cx, cy)
        assert lon.item() == pytest.approx(float(r["lon"]), abs=1e-6) and lat.item() == pytest.approx(float(r["lat"]), abs=1e-6)


@pytest.mark.parametrize("sensor,bands", [("pan", 1), ("worldview3", 4), ("sentinel2", 3)])
def test_band_layouts_open_with_the_right_bands(tmp_path, sensor, bands):
    run_cli("--out", tmp_path, "--seed", 2, "--scenes", 1, "--size", 96, "--sensor", sensor)
    info = Scene(tmp_path / "synth_s2_0000.tif").info
    assert info.count == bands
    assert info.bands.indexes == ((1,) if bands == 1 else (1, 2, 3))


def test_independent_scene_labels_lie_in_the_image():
    for i in range(4):
        scene = render(random_spec(11, i, size_px=256))
        h, w = scene.data.shape[1:]
        for lab in scene.labels:
            xs = [lab[f"x{k}_px"] for k in range(1, 5)]
            ys = [lab[f"y{k}_px"] for k in range(1, 5)]
            assert 0 <= np.mean(xs) < w and 0 <= np.mean(ys) < h
            if not lab["truncated"]:
                assert min(xs) >= 0 and min(ys) >= 0 and max(xs) <= w and max(ys) <= h


def test_series_truth_is_consistent():
    start, end = datetime(2024, 3, 7, tzinfo=timezone.utc), datetime(2024, 5, 7, tzinfo=timezone.utc)
    visits = simulate_visits(start, end, seed=5)
    nk = [v for v in visits if v.loading]
    assert 5 <= len(nk) <= 20  # about 0.18 trips a day over 61 days
    for v in visits:
        assert start <= v.arrival < v.departure <= end
    by_hull = {}
    for v in nk:
        by_hull.setdefault(v.hull, []).append(v)
        assert 1.0 <= (v.departure - v.arrival).total_seconds() / 86400 <= 2.0
    for stays in by_hull.values():  # no hull in two places at once
        stays.sort(key=lambda v: v.arrival)
        assert all(a.departure <= b.arrival for a, b in zip(stays, stays[1:]))
    for tier in (0, 1):  # one hull per slot at the oil berth at a time
        slot = sorted((v for v in nk if v.tier == tier), key=lambda v: v.arrival)
        assert all(a.departure <= b.arrival for a, b in zip(slot, slot[1:]))
    specs = series_specs(start, end, "planetscope", 5, visits, size_px=64)
    assert len(specs) > 40
    for spec in specs:
        present = {v.name for v in spec.vessels if v.berth == "oil_berth"}
        expected = {v.hull for v in nk if v.arrival <= spec.when < v.departure}
        assert present == expected


def test_forced_visit_count_and_barrels():
    start, end = datetime(2024, 3, 7, tzinfo=timezone.utc), datetime(2024, 3, 22, tzinfo=timezone.utc)
    nk = [v for v in simulate_visits(start, end, seed=2024, nk_visits=5) if v.loading]
    assert len(nk) == 5
    for v in nk:  # 90 % laden diesel: 7.46 bbl/t x dwt x 0.85-0.95
        assert 0.85 * 7.46 * v.dwt_t - 1 <= v.barrels <= 0.95 * 7.46 * v.dwt_t + 1
        assert 55 <= v.length_m <= 100


def test_berths_geojson(tmp_path):
    run_cli("--out", tmp_path, "--seed", 0, "--scenes", 1, "--size", 64)
    fc = json.loads((tmp_path / "vostochny_berths.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(BERTHS)
    for f in fc["features"]:
        ring = np.array(f["geometry"]["coordinates"][0])
        assert np.allclose(ring[0], ring[-1]) and abs(ring[:, 0].mean() - REF_LON) < 0.05 and abs(ring[:, 1].mean() - REF_LAT) < 0.05
        assert f["properties"]["max_length_m"] >= 100


def test_moored_hull_lies_in_its_berth_outline():
    rng = np.random.default_rng(0)
    for b in BERTHS:
        v = at_berth(b, "tanker", 80.0, 13.0, 60.0, rng)
        assert b.outline().contains(shapely.Polygon(v.corners()))
        assert v.berth == b.name and berth(b.name) is b


def test_a_series_around_a_berth_is_clips_centred_on_it(tmp_path):
    from detector.io.berths import load_berths
    from detector.synth.cli import clip_size_px, get_args_parser, main

    argv = ["--out", str(tmp_path), "--seed", "4", "--series", "2024-04-01", "2024-04-04", "--sensor", "planetscope,skysat",
            "--around-berth", "oil_berth"]
    assert main(get_args_parser().parse_args(argv)) == 0
    oil = {b.name: b for b in load_berths(tmp_path / "vostochny_berths.geojson")}["oil_berth"].outline_lonlat.centroid
    scenes = sorted(tmp_path.glob("*.tif"))
    assert scenes
    for path in scenes:
        with Scene(str(path)) as s:
            assert s.info.width == s.info.height == clip_size_px(s.info.gsd_m)
            x, y = s.georef.lonlat_to_pixel(np.array([oil.x]), np.array([oil.y]))
            # The berth sits in the middle of the clip (its centroid is off the quay line by half its strip).
            assert abs(x[0] / s.info.width - 0.5) < 0.1 and abs(y[0] / s.info.height - 0.5) < 0.1
    bad = get_args_parser().parse_args(["--out", str(tmp_path / "x"), "--series", "2024-04-01", "2024-04-02", "--around-berth", "nowhere"])
    assert main(bad) == 2
