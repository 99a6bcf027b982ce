"""Render the port's ground and water as top-of-atmosphere-like reflectance (R, G, B, NIR).

Everything is a function of ground metres through :mod:`noise`, so the same pier, yard or
tank looks the same on every date and at every resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage

from .layout import WORLD_SEED, PortMap
from .noise import fbm, hash01, value_noise

# Reflectance (R, G, B, NIR). Values follow typical surface spectra: dark water with low NIR,
# vegetation with high NIR, grey concrete, painted steel.
WATER = np.array([0.028, 0.042, 0.052, 0.010], np.float32)
SHALLOW = np.array([0.055, 0.085, 0.080, 0.020], np.float32)
VEGETATION = np.array([0.040, 0.068, 0.036, 0.300], np.float32)
DRY_GRASS = np.array([0.110, 0.105, 0.070, 0.260], np.float32)
SOIL = np.array([0.135, 0.115, 0.090, 0.200], np.float32)
URBAN = np.array([0.130, 0.125, 0.118, 0.170], np.float32)
CONCRETE = np.array([0.210, 0.208, 0.198, 0.230], np.float32)
ASPHALT = np.array([0.075, 0.076, 0.080, 0.095], np.float32)
TANK_WHITE = np.array([0.500, 0.500, 0.480, 0.500], np.float32)
PALETTE = np.array([  # container and roof paints
    [0.30, 0.07, 0.05, 0.32], [0.06, 0.12, 0.27, 0.20], [0.07, 0.19, 0.10, 0.25], [0.44, 0.44, 0.43, 0.45],
    [0.45, 0.21, 0.05, 0.40], [0.19, 0.19, 0.20, 0.22], [0.17, 0.05, 0.05, 0.25], [0.43, 0.38, 0.07, 0.40],
    [0.25, 0.25, 0.26, 0.27], [0.09, 0.22, 0.30, 0.22],
], np.float32)


@dataclass(frozen=True)
class Grid:
    """A north-up scene grid in local ground metres: left and top edges, pixel size, shape."""

    east0_m: float
    north0_m: float
    gsd_m: float
    width: int
    height: int

    @property
    def east_m(self) -> np.ndarray:
        """East coordinate of each column's pixel centres."""
        return self.east0_m + (np.arange(self.width) + 0.5) * self.gsd_m

    @property
    def north_m(self) -> np.ndarray:
        """North coordinate of each row's pixel centres."""
        return self.north0_m - (np.arange(self.height) + 0.5) * self.gsd_m

    def to_px(self, east_m, north_m):
        """Local metres to pixel coordinates (GDAL convention: corner of the top-left pixel is 0, 0)."""
        return (np.asarray(east_m) - self.east0_m) / self.gsd_m, (self.north0_m - np.asarray(north_m)) / self.gsd_m


@dataclass(frozen=True)
class Sun:
    """Sun elevation and azimuth in degrees (azimuth clockwise from north, towards the sun)."""

    elevation_deg: float
    azimuth_deg: float

    def shadow_m(self, height_m: float) -> np.ndarray:
        """Ground offset (east, north) in metres of the shadow of a point ``height_m`` up."""
        d = height_m / math.tan(math.radians(self.elevation_deg))
        a = math.radians(self.azimuth_deg)
        return np.array([-d * math.sin(a), -d * math.cos(a)])


def coverage(geom, grid: Grid, supersample: int = 2) -> np.ndarray:
    """Fraction of each pixel covered by a shapely geometry in local metres (anti-aliased).

    Only the window of the geometry's bounds is rasterised, so a small shape costs little.
    """
    s = supersample if grid.gsd_m > 0.6 else 1
    out = np.zeros((grid.height, grid.width), np.float32)
    if geom.is_empty:
        return out
    e0, n0, e1, n1 = geom.bounds
    c0 = max(0, int(math.floor((e0 - grid.east0_m) / grid.gsd_m)))
    c1 = min(grid.width, int(math.ceil((e1 - grid.east0_m) / grid.gsd_m)))
    r0 = max(0, int(math.floor((grid.north0_m - n1) / grid.gsd_m)))
    r1 = min(grid.height, int(math.ceil((grid.north0_m - n0) / grid.gsd_m)))
    if c0 >= c1 or r0 >= r1:
        return out
    t = Affine(grid.gsd_m / s, 0, grid.east0_m + c0 * grid.gsd_m, 0, -grid.gsd_m / s, grid.north0_m - r0 * grid.gsd_m)
    h, w = r1 - r0, c1 - c0
    fine = rasterize([(geom, 1)], out_shape=(h * s, w * s), transform=t, fill=0, dtype="uint8")
    out[r0:r1, c0:c1] = fine.reshape(h, s, w, s).mean(axis=(1, 3), dtype=np.float32)
    return out


def _mix(base: np.ndarray, colour, weight: np.ndarray) -> None:
    """base = base * (1 - weight) + colour * weight, in place; ``colour`` is (4,) or (4, H, W)."""
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 1:
        colour = colour[:, None, None]
    base += (colour - base) * weight[None]


def _supersampled(grid: Grid, mask: np.ndarray, pattern, s: int) -> np.ndarray:
    """Average ``pattern(east, north) -> (4, N)`` over s x s points in each pixel where ``mask``."""
    rows, cols = np.nonzero(mask)
    out = np.zeros((4, rows.size), np.float32)
    if rows.size == 0:
        return out
    offs = (np.arange(s) + 0.5) / s
    for oy in offs:
        for ox in offs:
            e = grid.east0_m + (cols + ox) * grid.gsd_m
            n = grid.north0_m - (rows + oy) * grid.gsd_m
            out += pattern(e, n)
    return out / (s * s)


def _paint_pattern(img: np.ndarray, grid: Grid, weight: np.ndarray, pattern, detail_m: float, max_ss: int) -> None:
    """Blend ``pattern`` into ``img`` where ``weight`` > 0, supersampled so detail of ``detail_m`` averages."""
    mask = weight > 0
    if not mask.any():
        return
    s = 1 if grid.gsd_m < detail_m else min(max_ss, int(math.ceil(grid.gsd_m / detail_m)))
    paint = np.zeros_like(img)
    paint[:, mask] = _supersampled(grid, mask, pattern, s)
    _mix(img, paint, weight)


def _containers(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Container stacks: 12.2 x 2.44 m boxes in rows of blocks with driving lanes between blocks."""
    col, row = np.floor(e / 13.4), np.floor(n / 2.6)
    fx = e / 13.4 - col
    lane = (np.mod(row, 8) >= 6) | (np.mod(col, 9) == 8)
    k = hash01(col, row, WORLD_SEED + 11)
    empty = k < 0.18
    idx = np.floor(hash01(col, row, WORLD_SEED + 12) * len(PALETTE)).astype(int)
    muted = 0.45 * PALETTE + 0.55 * np.array([0.17, 0.17, 0.17, 0.22], np.float32)
    colour = muted[idx].T * (0.85 + 0.3 * hash01(col, row, WORLD_SEED + 13))[None]
    ground = (lane | empty | (fx > 0.91))
    return np.where(ground[None], CONCRETE[:, None] * 0.9, colour).astype(np.float32)


def _buildings(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Town blocks: one building per 40 m cell with a hashed footprint and roof colour."""
    col, row = np.floor(e / 40.0), np.floor(n / 40.0)
    fx, fy = e / 40.0 - col, n / 40.0 - row
    h = [hash01(col, row, WORLD_SEED + 20 + k) for k in range(5)]
    x0, x1 = 0.1 + 0.2 * h[0], 0.55 + 0.35 * h[1]
    y0, y1 = 0.1 + 0.2 * h[2], 0.55 + 0.35 * h[3]
    inside = (fx > x0) & (fx < x1) & (fy > y0) & (fy < y1) & (h[4] < 0.7)
    muted = 0.35 * PALETTE + 0.65 * URBAN
    roof = muted[np.floor(hash01(col, row, WORLD_SEED + 30) * len(PALETTE)).astype(int)].T * (0.8 + 0.5 * h[0])[None]
    yard = np.where(h[4] < 0.35, VEGETATION[:, None], URBAN[:, None])
    return np.where(inside[None], roof, yard).astype(np.float32)


def render_ground(grid: Grid, pm: PortMap, sun: Sun, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The scene without vessels or weather: (4, H, W) reflectance and the (H, W) land fraction.

    ``rng`` draws what changes between acquisitions: swell direction and sun glint.
    """
    e, n = grid.east_m, grid.north_m
    g = grid.gsd_m
    land = coverage(pm.land, grid)
    img = np.empty((4, grid.height, grid.width), np.float32)

    # Water: slow variations, shallow tint along the shore, swell and glint where resolvable.
    slow = fbm(e, n, 900.0, WORLD_SEED + 1, 4, g)
    img[:] = WATER[:, None, None] * (0.8 + 0.4 * slow)[None]
    # Shallows and sediment lie along natural shores; dredged quays drop straight into deep water.
    shore = np.maximum(land - coverage(pm.aprons.buffer(60.0), grid), 0)
    dist_m = ndimage.distance_transform_edt(shore < 0.5) * g
    _mix(img, SHALLOW, 0.7 * np.exp(-dist_m / 45.0) * (0.5 + fbm(e, n, 150.0, WORLD_SEED + 2, 3, g)))
    wavelength_m = float(rng.uniform(35.0, 110.0))
    visible = math.exp(-2.0 * (math.pi * g / wavelength_m) ** 2)
    if visible > 1e-3:
        theta = float(rng.uniform(0, math.pi))
        phase = (e[None, :] * math.cos(theta) + n[:, None] * math.sin(theta)) * (2 * math.pi / wavelength_m)
        warp = 2.5 * value_noise(e, n, wavelength_m * 3, int(rng.integers(1 << 30)))
        swell = (np.sin(phase + warp) * (0.3 + value_noise(e, n, 700.0, int(rng.integers(1 << 30))))).astype(np.float32)
        glint = float(rng.uniform(0.0, 1.0)) ** 2
        sparkle = value_noise(e, n, max(2.0 * g, 1.0), int(rng.integers(1 << 30))) ** 10
        img += (visible * (0.0015 * swell + 0.03 * glint * np.clip(swell, 0, None) * sparkle))[None] * np.array([1, 1, 1, 0.6], np.float32)[:, None, None]

    # Natural land: vegetation, dry grass and soil patches with texture.
    patches = fbm(e, n, 500.0, WORLD_SEED + 3, 5, g)
    texture = fbm(e, n, 60.0, WORLD_SEED + 4, 4, g)
    natural = VEGETATION[:, None, None] * (0.75 + 0.5 * texture)[None]
    _mix(natural, DRY_GRASS, np.clip((patches - 0.5) * 6, 0, 1))
    _mix(natural, SOIL, np.clip((texture - 0.62) * 8, 0, 1) * 0.8)
    _mix(img, natural, land)

    # Town, aprons, container yard, roads.
    # Patterns finer than a pixel (buildings, 2.4 m containers) are averaged over sub-pixel points.
    _paint_pattern(img, grid, coverage(pm.town, grid) * land, _buildings, detail_m=1.5, max_ss=4)
    apron = coverage(pm.aprons, grid)
    concrete = CONCRETE[:, None, None] * (0.85 + 0.3 * fbm(e, n, 80.0, WORLD_SEED + 5, 4, g))[None]
    _mix(img, concrete, apron)
    _paint_pattern(img, grid, coverage(pm.container_yard, grid), _containers, detail_m=0.8, max_ss=5)
    _mix(img, ASPHALT, coverage(pm.roads, grid))

    # Tanks: white roofs with a soft rim, and their shadows on the ground (one raster per layer).
    roofs, shadows = [], []
    for east, north, radius in pm.tanks:
        sh = sun.shadow_m(radius * 0.9)
        tank = shapely.Point(east, north).buffer(radius, 32)
        roofs.append(tank)
        shadows.append(shapely.union(tank, shapely.affinity.translate(tank, sh[0], sh[1])).convex_hull)
    roofs_u = shapely.union_all(roofs)
    img *= (1 - 0.55 * coverage(shapely.union_all(shadows).difference(roofs_u), grid))[None]
    _mix(img, TANK_WHITE, coverage(roofs_u, grid))
    _mix(img, TANK_WHITE * 0.7, coverage(roofs_u.boundary.buffer(1.2), grid))
    return img, land
