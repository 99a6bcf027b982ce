"""Pixel <-> CRS <-> lon/lat conversions and ground sample distance in ground metres."""

import math

import numpy as np
import pytest
import shapely
from rasterio.warp import transform as warp_transform

from detector.io.georef import metres_per_degree
from detector.io.scene import Scene

from .conftest import VOSTOCHNY_LAT, VOSTOCHNY_LON


@pytest.mark.parametrize("epsg,pixel", [(32653, 3.0), (4326, 3e-5), (3857, 4.0)])
def test_pixel_lonlat_round_trip_within_a_hundredth_of_a_pixel(make_geotiff, epsg, pixel):
    scene = Scene(make_geotiff(epsg=epsg, pixel=pixel, width=200, height=150))
    rng = np.random.default_rng(1)
    x_px, y_px = rng.uniform(0, 200, 500), rng.uniform(0, 150, 500)
    lon, lat = scene.georef.pixel_to_lonlat(x_px, y_px)
    assert np.all(np.abs(lon - VOSTOCHNY_LON) < 0.1) and np.all(np.abs(lat - VOSTOCHNY_LAT) < 0.1)
    x2, y2 = scene.georef.lonlat_to_pixel(lon, lat)
    assert np.max(np.abs(x2 - x_px)) < 0.01 and np.max(np.abs(y2 - y_px)) < 0.01


def test_scene_centre_is_where_the_transform_puts_it(make_geotiff):
    scene = Scene(make_geotiff(epsg=32653, pixel=3.0, width=200, height=150))
    lon, lat = scene.georef.pixel_to_lonlat(100, 75)
    assert lon.item() == pytest.approx(VOSTOCHNY_LON, abs=1e-6)
    assert lat.item() == pytest.approx(VOSTOCHNY_LAT, abs=1e-6)


def test_web_mercator_gsd_is_shrunk_by_cos_latitude(make_geotiff):
    scene = Scene(make_geotiff(epsg=3857, pixel=10.0, width=100, height=100))
    ratio = scene.info.gsd_m / 10.0
    assert ratio == pytest.approx(0.735, abs=0.002)
    assert ratio == pytest.approx(math.cos(math.radians(VOSTOCHNY_LAT)), rel=2e-3)


def test_utm_gsd_is_its_nominal_metres(make_geotiff):
    scene = Scene(make_geotiff(epsg=32653, pixel=3.0))
    # UTM's scale error is below 0.1 % this close to the zone's central meridian (135 E).
    assert scene.info.gsd_x_m == pytest.approx(3.0, rel=1e-3)
    assert scene.info.gsd_y_m == pytest.approx(3.0, rel=1e-3)


def test_degree_pixels_become_ground_metres(make_geotiff):
    scene = Scene(make_geotiff(epsg=4326, pixel=1e-4))
    phi = math.radians(VOSTOCHNY_LAT)
    # Standard series for the WGS84 ellipsoid (independent of the code under test).
    lat_m = 111132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    lon_m = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    assert scene.info.gsd_x_m == pytest.approx(1e-4 * lon_m, rel=1e-4)
    assert scene.info.gsd_y_m == pytest.approx(1e-4 * lat_m, rel=1e-4)
    assert metres_per_degree(VOSTOCHNY_LAT) == pytest.approx((lon_m, lat_m), rel=1e-4)


def test_polygon_from_lonlat_lands_on_the_right_pixels_and_back(make_geotiff):
    scene = Scene(make_geotiff(epsg=32653, pixel=3.0, width=200, height=150))
    lon, lat = scene.georef.pixel_to_lonlat([20, 120, 120, 20], [30, 30, 90, 90])
    poly_ll = shapely.Polygon(zip(lon, lat))
    poly_px = scene.georef.geometry_to_pixels(poly_ll)
    assert np.allclose(np.asarray(poly_px.exterior.coords)[:4], [[20, 30], [120, 30], [120, 90], [20, 90]], atol=0.01)
    back = scene.georef.pixels_to_lonlat(poly_px)
    assert back.equals_exact(poly_ll, tolerance=1e-9)
    # The same polygon given in another CRS (Web Mercator) lands on the same pixels.
    x, y = warp_transform("EPSG:4326", "EPSG:3857", list(lon), list(lat))
    poly_3857 = shapely.Polygon(zip(x, y))
    again = scene.georef.geometry_to_pixels(poly_3857, "EPSG:3857")
    assert np.allclose(np.asarray(again.exterior.coords), np.asarray(poly_px.exterior.coords), atol=0.01)
