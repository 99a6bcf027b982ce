"""Berth outlines (GeoJSON, WGS84), placing them on a scene, and assigning vessels to them.

A berth is the water a moored hull occupies, drawn as a polygon in lon/lat (RFC 7946) with
``name``, ``kind`` (``oil``, ``crude``, ``container``, ...) and ``max_length_m``. A vessel
belongs to the berth that holds its centre. No rasterio here: ``GeoRef`` does the mapping.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from .georef import GeoRef

DEFAULT_BERTHS = Path(__file__).resolve().parents[2] / "scenes" / "vostochny_berths.geojson"


class BerthError(ValueError):
    """A berth file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Berth:
    """One berth outline in WGS84 lon/lat degrees."""

    name: str
    kind: str
    max_length_m: float | None
    outline_lonlat: shapely.Geometry


@dataclass(frozen=True)
class PlacedBerth:
    """A berth on one scene: its outline in scene pixels, clipped to the scene (``outline_px``)
    and whole (``full_px``, reaching beyond the edge where the scene cuts it; None: as clipped)."""

    berth: Berth
    outline_px: shapely.Geometry
    full_px: shapely.Geometry | None = None

    @property
    def whole_px(self) -> shapely.Geometry:
        """The whole outline in scene pixels: a look of a berth the scene's edge cuts sees part of it."""
        return self.full_px if self.full_px is not None else self.outline_px


def load_berths(path: str | os.PathLike) -> tuple[Berth, ...]:
    """Berths from a GeoJSON FeatureCollection of (Multi)Polygons with a unique ``name`` each."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BerthError(f"{path}: berth file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BerthError(f"{path}: not valid GeoJSON ({exc})") from None
    features = raw.get("features") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or raw.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise BerthError(f"{path}: expected a GeoJSON FeatureCollection of berth polygons")
    berths, names = [], set()
    for i, feat in enumerate(features):
        if not isinstance(feat, dict):
            raise BerthError(f"{path}: feature {i + 1} is not a GeoJSON Feature object")
        props = feat.get("properties") or {}
        name = str(props.get("name") or f"berth_{i + 1}")
        try:
            geom = shape(feat["geometry"])
        except Exception as exc:  # shapely raises several types for bad geometry dicts
            raise BerthError(f"{path}: feature {name!r} has no usable geometry ({exc})") from None
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty or not geom.is_valid:
            raise BerthError(f"{path}: feature {name!r} must be a valid Polygon or MultiPolygon, got {geom.geom_type}")
        lon_min, lat_min, lon_max, lat_max = geom.bounds
        if not (-180 <= lon_min <= lon_max <= 180 and -90 <= lat_min <= lat_max <= 90):
            raise BerthError(f"{path}: feature {name!r} is not in WGS84 lon/lat degrees (RFC 7946)")
        if name in names:
            raise BerthError(f"{path}: two berths are named {name!r}; names must be unique")
        names.add(name)
        max_len = props.get("max_length_m")
        berths.append(Berth(name, str(props.get("kind") or ""), float(max_len) if max_len is not None else None, geom))
    if not berths:
        raise BerthError(f"{path}: holds no berth polygons")
    return tuple(berths)


def place(berths: tuple[Berth, ...], georef: GeoRef | None, width: int, height: int) -> list[PlacedBerth]:
    """The berths that overlap a ``width`` x ``height`` scene, outlines in scene pixels.

    A scene without a CRS (``georef`` None) cannot place berths and gets none.
    """
    if georef is None:
        return []
    frame = shapely.box(0, 0, width, height)
    placed = []
    for b in berths:
        px = georef.geometry_to_pixels(b.outline_lonlat)
        clipped = px.intersection(frame)
        if not clipped.is_empty and clipped.area > 0:
            placed.append(PlacedBerth(b, clipped, px))
    return placed


def assign(centres_px: np.ndarray, placed: list[PlacedBerth]) -> list[str]:
    """Name of the berth holding each (x_px, y_px) centre, or "" for none (first berth wins)."""
    names = [""] * len(centres_px)
    if len(centres_px) == 0 or not placed:
        return names
    points = shapely.points(np.asarray(centres_px, float))
    for pb in reversed(placed):  # reversed so that the first listed berth wins overlaps
        inside = shapely.contains(pb.outline_px, points)
        for i in np.flatnonzero(inside):
            names[i] = pb.berth.name
    return names


def search_area_px(placed: list[PlacedBerth], buffer_px: float, width: int, height: int):
    """The union of the placed berths grown by ``buffer_px``, clipped to the scene; None if no berth."""
    if not placed:
        return None
    area = shapely.union_all([pb.outline_px for pb in placed]).buffer(buffer_px)
    return area.intersection(shapely.box(0, 0, width, height))


def load_area(path: str | os.PathLike) -> shapely.Geometry:
    """An area of interest: the union of the polygons of a GeoJSON file (WGS84 lon/lat)."""
    return shapely.union_all([b.outline_lonlat for b in load_berths(path)])


def along_m(berth: Berth, lon, lat) -> np.ndarray:
    """Position of points along the berth's long axis, in ground metres from one end.

    Local metres around the outline's centre (ellipsoidal metres per degree): exact enough over
    a berth. Used to tell two hulls of one berth apart and to follow one hull across scenes.
    """
    from .georef import metres_per_degree

    centre = berth.outline_lonlat.centroid
    m_lon, m_lat = metres_per_degree(centre.y)

    def local(x, y):
        return (np.asarray(x, float) - centre.x) * m_lon, (np.asarray(y, float) - centre.y) * m_lat

    rect = np.asarray(berth.outline_lonlat.minimum_rotated_rectangle.exterior.coords)[:4]
    ex, ey = local(rect[:, 0], rect[:, 1])
    sides = [(ex[(k + 1) % 4] - ex[k], ey[(k + 1) % 4] - ey[k]) for k in range(2)]
    dx, dy = max(sides, key=lambda s: s[0] ** 2 + s[1] ** 2)
    norm = float(np.hypot(dx, dy)) or 1.0
    px, py = local(lon, lat)
    along = ((px - ex[0]) * dx + (py - ey[0]) * dy) / norm
    return along
