"""From scene-pixel detections to measured vessels: the pixel -> ground boundary of the pipeline.

Lengths and beams are in ground metres from the scene's per-axis ground sample distance;
positions and headings go through ``GeoRef`` to WGS84 only here. A scene without a CRS keeps
its pixel polygons and metres (from ``--gsd``) but has no lon/lat or heading.
"""

from __future__ import annotations

import math

import numpy as np

from ..events.hulls import class_for_length
from ..io.georef import GeoRef, heading_deg
from ..io.records import POLYGON_COLUMNS
from .predict import SceneDetections

TANKER_THRESHOLD = 0.5  # p(tanker) at or above which a vessel is called a tanker


def side_lengths_m(corners_px: np.ndarray, gsd_x_m: float, gsd_y_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Length (bow to stern) and beam in ground metres of (n, 4, 2) corner arrays, bow pair first."""
    corners_px = np.asarray(corners_px, float).reshape(-1, 4, 2)
    scale = np.array([gsd_x_m, gsd_y_m])
    length = np.linalg.norm((corners_px[:, 0] - corners_px[:, 3]) * scale, axis=-1)
    beam = np.linalg.norm((corners_px[:, 0] - corners_px[:, 1]) * scale, axis=-1)
    return length, beam


def vessel_rows(scene_name: str, dets: SceneDetections, gsd_x_m: float, gsd_y_m: float,
                georef: GeoRef | None, berth_names: list[str], when_iso: str) -> list[dict]:
    """Rows of ``detections.csv`` for one scene, best score first, ids ``<scene>#<k>``."""
    order = np.argsort(-dets.score, kind="stable")
    corners = dets.corners[order]
    length, beam = side_lengths_m(corners, gsd_x_m, gsd_y_m)
    centre = corners.mean(axis=1)
    lon = lat = heading = np.full(len(order), math.nan)
    if georef is not None and len(order):
        lon, lat = georef.pixel_to_lonlat(centre[:, 0], centre[:, 1])
        bow = corners[:, :2].mean(axis=1)
        stern = corners[:, 2:].mean(axis=1)
        bow_lon, bow_lat = georef.pixel_to_lonlat(bow[:, 0], bow[:, 1])
        stern_lon, stern_lat = georef.pixel_to_lonlat(stern[:, 0], stern[:, 1])
        heading = heading_deg(stern_lon, stern_lat, bow_lon, bow_lat)
    rows = []
    for k, i in enumerate(order):
        row = {"scene": scene_name, "vessel_id": f"{scene_name}#{k + 1}", "score": round(float(dets.score[i]), 4)}
        row.update({name: round(float(v), 2) for name, v in zip(POLYGON_COLUMNS, corners[k].ravel())})
        row.update(
            lon=_num(lon[k], 7), lat=_num(lat[k], 7), length_m=round(float(length[k]), 1), beam_m=round(float(beam[k]), 1),
            heading_deg=_num(heading[k], 1),
            vessel_type="tanker" if dets.p_tanker[i] >= TANKER_THRESHOLD else "other",
            hull_class=class_for_length(float(length[k])).name, berth=berth_names[i], datetime=when_iso,
            p_tanker=round(float(dets.p_tanker[i]), 3), bow_confidence=round(float(dets.bow_confidence[i]), 3),
            work_gsd_m=round(dets.work_gsd_m, 3),
        )
        rows.append(row)
    return rows


def _num(value: float, digits: int):
    return "" if not math.isfinite(value) else round(float(value), digits)


def geojson_feature(row: dict, georef: GeoRef) -> dict:
    """An RFC 7946 Feature: the vessel's polygon in WGS84 (counter-clockwise, closed) and its row."""
    xy = np.array([float(row[c]) for c in POLYGON_COLUMNS]).reshape(4, 2)
    lon, lat = georef.pixel_to_lonlat(xy[:, 0], xy[:, 1])
    ring = np.column_stack([lon, lat])
    # Shoelace sign: RFC 7946 wants exterior rings counter-clockwise in lon/lat.
    signed = np.sum(ring[:, 0] * np.roll(ring[:, 1], -1) - np.roll(ring[:, 0], -1) * ring[:, 1])
    if signed < 0:
        ring = ring[::-1]
    coords = [[round(float(a), 7), round(float(b), 7)] for a, b in ring]
    props = {k: v for k, v in row.items() if k not in POLYGON_COLUMNS}
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords + coords[:1]]}, "properties": props}
