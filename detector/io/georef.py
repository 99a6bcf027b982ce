"""The one boundary between scene pixels and the world: scene CRS, WGS84 lon/lat, ground metres.

Pixel coordinates follow GDAL and rasterio: ``(x_px, y_px) = (0, 0)`` is the top-left corner of
the top-left pixel, x grows along columns and y along rows, so the centre of pixel (row r,
column c) is ``(c + 0.5, r + 0.5)``. Lon/lat are WGS84 degrees in that order (RFC 7946).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

WGS84 = CRS.from_epsg(4326)

# WGS84 ellipsoid: semi-major axis and first eccentricity squared.
_A_M = 6378137.0
_E2 = 6.69437999014e-3


def metres_per_degree(lat_deg):
    """Ground metres per degree of longitude and of latitude at ``lat_deg`` on the WGS84 ellipsoid.

    Uses the prime-vertical and meridional radii of curvature, exact for small steps, so a
    pixel's ground size needs no geodesic library. Takes a float or an array.
    """
    phi = np.radians(lat_deg)
    w = np.sqrt(1.0 - _E2 * np.sin(phi) ** 2)
    n_m = _A_M / w
    m_m = _A_M * (1.0 - _E2) / w**3
    return np.radians(1.0) * n_m * np.cos(phi), np.radians(1.0) * m_m


@dataclass(frozen=True)
class GeoRef:
    """A scene's CRS and affine transform, with conversions for points and polygons."""

    crs: CRS
    transform: Affine

    # --- points (numpy arrays or scalars in, float64 arrays out) -------------------------
    def pixel_to_crs(self, x_px, y_px) -> tuple[np.ndarray, np.ndarray]:
        """Scene pixel coordinates to scene CRS coordinates."""
        a, b, c, d, e, f = self.transform[:6]
        x_px, y_px = np.asarray(x_px, float), np.asarray(y_px, float)
        return a * x_px + b * y_px + c, d * x_px + e * y_px + f

    def crs_to_pixel(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Scene CRS coordinates to scene pixel coordinates."""
        a, b, c, d, e, f = (~self.transform)[:6]
        x, y = np.asarray(x, float), np.asarray(y, float)
        return a * x + b * y + c, d * x + e * y + f

    def crs_to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Scene CRS coordinates to WGS84 longitude and latitude in degrees."""
        return _reproject(self.crs, WGS84, x, y)

    def lonlat_to_crs(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 longitude and latitude in degrees to scene CRS coordinates."""
        return _reproject(WGS84, self.crs, lon, lat)

    def pixel_to_lonlat(self, x_px, y_px) -> tuple[np.ndarray, np.ndarray]:
        """Scene pixel coordinates to WGS84 lon/lat degrees."""
        return self.crs_to_lonlat(*self.pixel_to_crs(x_px, y_px))

    def lonlat_to_pixel(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 lon/lat degrees to scene pixel coordinates."""
        return self.crs_to_pixel(*self.lonlat_to_crs(lon, lat))

    # --- polygons and other shapely geometries -------------------------------------------
    def geometry_to_pixels(self, geom, crs: CRS | str | None = None):
        """A shapely geometry in ``crs`` (default WGS84 lon/lat) to scene pixel coordinates."""
        src = WGS84 if crs is None else CRS.from_user_input(crs)
        if src != self.crs:
            geom = _apply(geom, lambda x, y: _reproject(src, self.crs, x, y))
        return _apply(geom, self.crs_to_pixel)

    def pixels_to_lonlat(self, geom):
        """A shapely geometry in scene pixels to WGS84 lon/lat (for GeoJSON output)."""
        return _apply(geom, self.pixel_to_lonlat)

    # --- ground sample distance ----------------------------------------------------------
    def ground_gsd_m(self, width: int, height: int) -> tuple[float, float]:
        """Ground length in metres of one pixel step along columns and along rows.

        Measured at the scene centre on the WGS84 ellipsoid, so it is right for any CRS:
        projected metres, degrees (EPSG:4326) and Web Mercator, whose nominal metres are
        1/cos(latitude) too long (a 10 m EPSG:3857 pixel at 42.7 N is about 7.35 m).
        """
        cx, cy = width / 2.0, height / 2.0
        lon, lat = self.pixel_to_lonlat([cx, cx + 1.0, cx], [cy, cy, cy + 1.0])
        m_lon, m_lat = (float(m) for m in metres_per_degree(float(lat[0])))

        def step_m(i: int) -> float:
            dlon = (float(lon[i]) - float(lon[0]) + 180.0) % 360.0 - 180.0
            return math.hypot(dlon * m_lon, (float(lat[i]) - float(lat[0])) * m_lat)

        return step_m(1), step_m(2)


def _reproject(src: CRS, dst: CRS, x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
    shape = x.shape
    xs, ys = warp_transform(src, dst, x.ravel().tolist(), y.ravel().tolist())
    return np.asarray(xs).reshape(shape), np.asarray(ys).reshape(shape)


def _apply(geom, fn):
    """Apply a vectorised ``fn(x, y) -> (x, y)`` to every vertex of a shapely geometry."""

    def on_coords(xy: np.ndarray) -> np.ndarray:
        x, y = fn(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, on_coords)


def heading_deg(stern_lon, stern_lat, bow_lon, bow_lat) -> np.ndarray:
    """Bearing from stern to bow in degrees clockwise from true north, in [0, 360).

    Uses local ellipsoidal metres per degree, exact enough over a hull's length.
    """
    stern_lon, stern_lat = np.asarray(stern_lon, float), np.asarray(stern_lat, float)
    bow_lon, bow_lat = np.asarray(bow_lon, float), np.asarray(bow_lat, float)
    m_lon, m_lat = metres_per_degree((stern_lat + bow_lat) / 2)
    de = ((bow_lon - stern_lon + 180.0) % 360.0 - 180.0) * m_lon
    dn = (bow_lat - stern_lat) * m_lat
    return np.degrees(np.arctan2(de, dn)) % 360.0
