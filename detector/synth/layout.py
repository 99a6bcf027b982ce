"""A synthetic map of the Vostochny berths in local ground metres (east, north) from a reference point.

The real berth outlines are not public in a form we hold (DESIGN.md section 5), so this is a
plausible port, not a survey: a container terminal with a small oil berth in its corner (where
the North Korean tankers were seen), a general-cargo quay, and a crude jetty like Kozmino's.
Local metres are UTM 53N metres shifted to the reference point, so they are ground metres.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import LineString, Polygon, box

from ..io.georef import GeoRef
from .noise import hash01

# Vostochny port, Vrangel Bay (DESIGN.md section 5).
REF_LON, REF_LAT = 133.07, 42.73
UTM53 = "EPSG:32653"
WORLD_SEED = 20240307  # the port itself never changes between scenes


@lru_cache(maxsize=1)
def local_georef() -> GeoRef:
    """Local ground metres (east, north from the reference point) as "pixels" of UTM 53N.

    The generator's one way to the map: its ``pixel_to_lonlat`` takes local metres.
    """
    utm = GeoRef(CRS.from_user_input(UTM53), Affine.identity())
    x0, y0 = utm.lonlat_to_crs(REF_LON, REF_LAT)
    return GeoRef(utm.crs, Affine.translation(float(x0[0]), float(y0[0])))


@dataclass(frozen=True)
class Berth:
    """A berth: the quay face it lies along and the water strip a moored hull occupies.

    ``quay`` runs from ``start`` to ``end`` (local metres); ``water_side`` is +1 when the water is
    on the left of that direction, -1 on the right. ``max_length_m`` is the longest hull it takes.
    """

    name: str
    kind: str  # "oil", "container", "general", "crude"
    start: tuple[float, float]
    end: tuple[float, float]
    water_side: int
    max_length_m: float
    strip_m: float = 70.0

    @property
    def direction(self) -> np.ndarray:
        d = np.subtract(self.end, self.start)
        return d / np.linalg.norm(d)

    @property
    def normal(self) -> np.ndarray:
        """Unit vector from the quay face into the water."""
        dx, dy = self.direction
        return np.array([-dy, dx]) * self.water_side

    @property
    def quay_length_m(self) -> float:
        return float(np.linalg.norm(np.subtract(self.end, self.start)))

    def outline(self) -> Polygon:
        """The water strip along the quay where moored (and rafted) hulls lie."""
        s, e, n = np.asarray(self.start), np.asarray(self.end), self.normal * self.strip_m
        return Polygon([tuple(s), tuple(e), tuple(e + n), tuple(s + n)])

    def slot(self, along_m: float, length_m: float, beam_m: float, tier: int = 0) -> tuple[np.ndarray, float]:
        """Centre (local metres) and quay-parallel heading of a hull moored at ``along_m`` from start.

        ``tier`` 0 lies against the quay, 1 rafted outside it (2 m fenders each side).
        """
        centre = np.asarray(self.start) + self.direction * along_m + self.normal * (2.0 + beam_m / 2 + tier * (beam_m + 2.0))
        heading = math.degrees(math.atan2(self.direction[0], self.direction[1])) % 360.0
        return centre, heading


BERTHS = (
    Berth("oil_berth", "oil", (292.0, -838.0), (292.0, -712.0), +1, 130.0, 45.0),
    Berth("container_quay", "container", (248.0, -690.0), (248.0, 280.0), +1, 300.0),
    Berth("general_quay", "general", (-1000.0, 447.0), (-260.0, 447.0), -1, 230.0),
    Berth("crude_jetty", "crude", (-1320.0, -432.0), (-1690.0, -432.0), +1, 280.0, 80.0),
)


def berth(name: str) -> Berth:
    for b in BERTHS:
        if b.name == name:
            return b
    raise KeyError(name)


def _wiggle(coords: list[tuple[float, float]], amp_m: float, step_m: float, seed: int) -> list[tuple[float, float]]:
    """Subdivide a polyline and push its points sideways by smooth noise: a natural shore."""
    out = []
    for (x0, y0), (x1, y1) in zip(coords[:-1], coords[1:]):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step_m))
        nx, ny = -(y1 - y0), x1 - x0
        norm = math.hypot(nx, ny)
        for k in range(n):
            t = k / n
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            h = sum(
                (hash01(np.array(int(x // s)), np.array(int(y // s)), seed + s) - 0.5) * amp_m * (s / 400.0)
                for s in (100, 200, 400)
            )
            out.append((x + float(h) * nx / norm, y + float(h) * ny / norm))
    out.append(coords[-1])
    return out


@dataclass(frozen=True)
class PortMap:
    """Ground-truth geometry of the port in local metres: land, surfaces, piers, tanks, berths."""

    land: shapely.Geometry
    town: shapely.Geometry
    aprons: shapely.Geometry  # concrete: terminals, piers, jetty
    container_yard: shapely.Geometry
    roads: shapely.Geometry
    tanks: tuple[tuple[float, float, float], ...]  # (east, north, radius_m)
    berths: tuple[Berth, ...]
    anchorage: Polygon


@lru_cache(maxsize=1)
def port_map() -> PortMap:
    """The synthetic Vostochny port (cached: it is the same for every scene)."""
    seed = WORLD_SEED
    north_shore = _wiggle([(-6000.0, 900.0), (-3000.0, 700.0), (-1900.0, 520.0), (-1100.0, 500.0)], 140.0, 25.0, seed)
    east_shore = _wiggle([(1500.0, -700.0), (2300.0, -1600.0), (3200.0, -2600.0), (4200.0, -4200.0), (6000.0, -6000.0)], 160.0, 25.0, seed + 1)
    land = Polygon(
        north_shore
        + [(-1000.0, 447.0), (-260.0, 447.0), (-100.0, 420.0), (120.0, 330.0), (248.0, 280.0), (248.0, -700.0), (1500.0, -700.0)]
        + east_shore
        + [(6000.0, 6000.0), (-6000.0, 6000.0)]
    ).buffer(0)
    terminal = box(248.0, -700.0, 1500.0, 280.0)
    quay_apron = box(-1000.0, 447.0, -260.0, 620.0)
    oil_pier = box(292.0, -840.0, 318.0, -700.0)
    trestle = box(-1506.0, -410.0, -1494.0, 520.0)
    jetty_head = box(-1690.0, -432.0, -1320.0, -405.0)
    aprons = shapely.union_all([terminal, quay_apron, oil_pier, trestle, jetty_head, box(-1560.0, 480.0, -1420.0, 600.0)])
    land = shapely.union(land, aprons)
    container_yard = box(330.0, -650.0, 980.0, 230.0)
    town = shapely.intersection(box(-900.0, 800.0, 1800.0, 2600.0).union(box(1600.0, -600.0, 3200.0, 900.0)), land)
    roads = shapely.union_all([
        LineString([(-1500.0, 520.0), (-1500.0, 700.0), (-300.0, 700.0), (200.0, 450.0), (1100.0, 320.0), (1300.0, 1500.0)]).buffer(9.0),
        LineString([(1100.0, 320.0), (1100.0, -680.0)]).buffer(7.0),
        LineString([(300.0, 265.0), (1480.0, 265.0)]).buffer(6.0),
        LineString([(-300.0, 700.0), (-600.0, 2600.0)]).buffer(8.0),
    ])
    rng = np.random.default_rng(seed)
    tanks = []
    for k, (e0, n0) in enumerate([(1160.0, -640.0), (1160.0, -440.0)]):
        for r in range(2):
            for c in range(4):
                radius = float(rng.uniform(14.0, 24.0))
                tanks.append((e0 + c * 75.0, n0 + r * 85.0, radius))
    anchorage = box(-4200.0, -3600.0, -500.0, -1300.0)
    return PortMap(land, town, aprons, container_yard, roads, tuple(tanks), BERTHS, anchorage)


def berths_geojson(berths=BERTHS) -> dict:
    """The berth outlines as an RFC 7946 FeatureCollection in WGS84 lon/lat, editable by users."""
    to_map = local_georef()
    features = []
    for b in berths:
        ring = np.asarray(b.outline().exterior.coords)
        lon, lat = to_map.pixel_to_lonlat(ring[:, 0], ring[:, 1])
        features.append({
            "type": "Feature",
            "properties": {"name": b.name, "kind": b.kind, "max_length_m": b.max_length_m,
                           "note": "synthetic outline for the demo; replace with surveyed outlines"},
            "geometry": {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in zip(lon, lat)]]},
        })
    return {"type": "FeatureCollection", "features": features}


def write_berths(path) -> None:
    """Write :func:`berths_geojson` to ``path`` atomically."""
    from ..io.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(berths_geojson(), indent=1) + "\n")
