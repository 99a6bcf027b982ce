"""Assemble a synthetic scene: ground, vessels, weather, sensor; and its exact labels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import shapely
from affine import Affine

from ..io.georef import GeoRef, heading_deg
from .ground import Grid, Sun, render_ground
from .layout import UTM53, PortMap, local_georef, port_map
from .paint import draw_vessel
from .sensor import NODATA, SENSORS, Sensor, Weather, apply_atmosphere, apply_optics, band_metadata, nodata_margin, to_digital
from .vessels import Vessel, fill_berth, free_vessel, overlaps_any


@dataclass
class SceneSpec:
    """Everything that decides a synthetic scene's pixels."""

    name: str
    grid: Grid
    sensor: Sensor
    layout: str
    sun: Sun
    weather: Weather
    when: datetime
    vessels: list[Vessel]
    seed: int
    nodata_chance: float = 0.0


@dataclass
class SynthScene:
    """A rendered scene: stored bands, georeferencing, and one label dict per vessel."""

    name: str
    data: np.ndarray  # (bands, H, W) uint8 or uint16, 0 = nodata
    crs: str
    transform: Affine
    when: datetime
    sensor: str
    gsd_m: float
    colorinterp: list[str]
    descriptions: list[str]
    labels: list[dict]
    cloud_fraction: float
    nodata: int = NODATA


def render(spec: SceneSpec, pm: PortMap | None = None) -> SynthScene:
    """Render ``spec`` to stored bands with labels for every vessel whose centre has data."""
    pm = pm or port_map()
    rng = np.random.default_rng([spec.seed, 1])
    grid = spec.grid
    img, _ = render_ground(grid, pm, spec.sun, rng)
    for v in sorted(spec.vessels, key=lambda v: v.state == "rafted"):
        draw_vessel(img, grid, v, spec.sun)
    opacity = apply_atmosphere(img, grid, spec.weather, spec.sun)
    img = apply_optics(img, spec.sensor, rng)
    data = to_digital(img, spec.layout)
    margin = nodata_margin(grid, rng, spec.nodata_chance)
    if margin is not None:
        data[:, margin] = NODATA
    # Scene pixels -> local metres -> UTM 53N.
    transform = local_georef().transform @ Affine(grid.gsd_m, 0, grid.east0_m, 0, -grid.gsd_m, grid.north0_m)
    colorinterp, descriptions = band_metadata(spec.layout)
    labels = vessel_labels(spec, GeoRef(local_georef().crs, transform), opacity, margin)
    return SynthScene(spec.name, data, UTM53, transform, spec.when, spec.sensor.name, grid.gsd_m, colorinterp,
                      descriptions, labels, float(opacity.mean()))


def vessel_labels(spec: SceneSpec, georef: GeoRef, opacity: np.ndarray, margin: np.ndarray | None) -> list[dict]:
    """Truth rows (the columns of detections.csv plus a few of the generator's own).

    A vessel is labelled when its centre lies on valid data in the image; map coordinates
    come from the scene's own georeferencing, in one batch.
    """
    grid = spec.grid
    kept, polys = [], []
    for v in spec.vessels:
        corners = v.corners()
        px, py = grid.to_px(corners[:, 0], corners[:, 1])
        cx, cy = px.mean(), py.mean()
        if 0 <= cx < grid.width and 0 <= cy < grid.height and (margin is None or not margin[int(cy), int(cx)]):
            kept.append(v)
            polys.append(np.column_stack([px, py]))
    if not kept:
        return []
    polys = np.asarray(polys)  # (n, 4, 2): bow-starboard, bow-port, stern-port, stern-starboard
    centre, bow, stern = polys.mean(axis=1), polys[:, :2].mean(axis=1), polys[:, 2:].mean(axis=1)
    pts = np.concatenate([centre, bow, stern])
    lon, lat = georef.pixel_to_lonlat(pts[:, 0], pts[:, 1])
    n = len(kept)
    headings = heading_deg(lon[2 * n:], lat[2 * n:], lon[n:2 * n], lat[n:2 * n])
    rows = []
    for i, (v, poly) in enumerate(zip(kept, polys)):
        r, c = int(centre[i, 1]), int(centre[i, 0])
        row = {"scene": spec.name, "vessel_id": f"{spec.name}#{i + 1}", "score": 1.0}
        for k in range(4):
            row[f"x{k + 1}_px"] = round(float(poly[k, 0]), 3)
            row[f"y{k + 1}_px"] = round(float(poly[k, 1]), 3)
        row.update(
            lon=round(float(lon[i]), 7), lat=round(float(lat[i]), 7), length_m=round(v.length_m, 2),
            beam_m=round(v.beam_m, 2), heading_deg=round(float(headings[i]), 2), vessel_type=v.vessel_type,
            hull_class=v.hull_class, berth=v.berth, datetime=spec.when.isoformat(), kind=v.kind, state=v.state,
            name=v.name, cloud_hidden=bool(opacity[r, c] >= 0.5),
            truncated=bool(poly.min() < 0 or poly[:, 0].max() > grid.width or poly[:, 1].max() > grid.height),
            gsd_m=grid.gsd_m, sensor=spec.sensor.name,
        )
        rows.append(row)
    return rows


def random_sun(rng: np.random.Generator) -> Sun:
    """Late-morning sun at 42.7 N across the seasons."""
    return Sun(float(rng.uniform(22.0, 68.0)), float(rng.uniform(125.0, 200.0)))


def random_weather(rng: np.random.Generator, clear_chance: float = 0.55) -> Weather:
    """About 55 % of acquisitions are usable under clouds (DESIGN.md section 5)."""
    if rng.random() < clear_chance:
        cloud = float(rng.uniform(0.0, 0.08)) if rng.random() < 0.5 else 0.0
    else:
        cloud = float(rng.uniform(0.15, 0.95))
    return Weather(cloud, float(rng.uniform(0.0, 0.3)) ** 1.5, int(rng.integers(1 << 30)))


def random_spec(seed: int, index: int, *, gsd_m: float | None = None, size_px: int | None = None,
                sensor: str | None = None, pm: PortMap | None = None) -> SceneSpec:
    """An independent scene: random place in the port, GSD, sensor, weather, berths and traffic."""
    pm = pm or port_map()
    rng = np.random.default_rng([seed, index, 0])
    if sensor is None:
        sensor = str(rng.choice(list(SENSORS), p=[0.35, 0.2, 0.25, 0.1, 0.1]))
    sens = SENSORS[sensor]
    if gsd_m is None:
        gsd_m = sens.gsd_m if rng.random() < 0.5 else float(math.exp(rng.uniform(math.log(0.3), math.log(10.0))))
    size_px = size_px or 1024
    half_m = size_px * gsd_m / 2
    focus = [b.outline().centroid for b in pm.berths] + [pm.anchorage.centroid]
    f = focus[int(rng.choice(len(focus), p=[0.3, 0.2, 0.15, 0.2, 0.15]))]
    ce = f.x + float(rng.normal(0, min(half_m * 0.5, 600.0)))
    cn = f.y + float(rng.normal(0, min(half_m * 0.5, 600.0)))
    grid = Grid(ce - half_m, cn + half_m, gsd_m, size_px, size_px)

    vessels: list[Vessel] = []
    frame = (ce - half_m - 400, cn - half_m - 400, ce + half_m + 400, cn + half_m + 400)
    frame_poly = shapely.box(*frame)
    for b in pm.berths:
        if b.outline().intersects(frame_poly):
            vessels += fill_berth(b, rng, occupancy=float(rng.uniform(0.3, 0.95)))
    area_km2 = (2 * half_m / 1000) ** 2
    n_free = int(rng.poisson(min(12.0, 1.0 + 1.5 * area_km2)))
    for k in range(n_free):
        state = "underway" if rng.random() < 0.3 else "anchored"
        v = free_vessel(pm, rng, (ce, cn), half_m * 0.6, state)
        if v is not None and not overlaps_any(v, vessels, gap_m=20.0):
            vessels.append(v)
    day = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 366)), hours=float(rng.uniform(0.5, 3.0)))
    layout = sens.layout
    return SceneSpec(f"synth_s{seed}_{index:04d}", grid, sens, layout, random_sun(rng), random_weather(rng),
                     day.replace(microsecond=0), vessels, seed=int(rng.integers(1 << 30)), nodata_chance=0.2)
