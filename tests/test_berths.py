"""Berth outlines: loading and its errors, placing on a scene, assigning vessels, observed share."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from detector.io.berths import BerthError, assign, load_berths, place, search_area_px
from detector.io.scene import Scene

from .conftest import VOSTOCHNY_LAT, VOSTOCHNY_LON


def _write(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _square(name, lon, lat, half_deg, **props):
    ring = [[lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg], [lon + half_deg, lat + half_deg],
            [lon - half_deg, lat + half_deg], [lon - half_deg, lat - half_deg]]
    return {"type": "Feature", "properties": {"name": name, **props}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_load_place_and_assign_on_a_georeferenced_scene(tmp_path, make_geotiff):
    path = _write(tmp_path / "b.geojson", [
        _square("centre", VOSTOCHNY_LON, VOSTOCHNY_LAT, 0.0005, kind="oil", max_length_m=130),
        _square("far", VOSTOCHNY_LON + 1.0, VOSTOCHNY_LAT, 0.0005),
    ])
    berths = load_berths(path)
    assert [b.name for b in berths] == ["centre", "far"] and berths[0].kind == "oil" and berths[0].max_length_m == 130
    with Scene(make_geotiff(pixel=3.0, width=200, height=200)) as scene:
        placed = place(berths, scene.georef, 200, 200)
        assert [p.berth.name for p in placed] == ["centre"]  # the far one is off the scene
        # 0.001 deg of latitude is about 111 m, 37 px at 3 m: the outline is centred on the scene.
        minx, miny, maxx, maxy = placed[0].outline_px.bounds
        assert abs((minx + maxx) / 2 - 100) < 1 and abs((miny + maxy) / 2 - 100) < 1 and 30 < maxy - miny < 45
        names = assign(np.array([[100.0, 100.0], [5.0, 5.0]]), placed)
        assert names == ["centre", ""]
        area = search_area_px(placed, 10.0, 200, 200)
        assert area.contains(placed[0].outline_px.buffer(9.0)) and not area.contains(placed[0].outline_px.buffer(11.0))
        assert place(berths, None, 200, 200) == []  # no CRS: nothing can be placed


def test_overlapping_berths_give_the_vessel_to_the_first_listed():
    from detector.io.berths import Berth, PlacedBerth

    a = PlacedBerth(Berth("a", "", None, shapely.box(0, 0, 1, 1)), shapely.box(0, 0, 10, 10))
    b = PlacedBerth(Berth("b", "", None, shapely.box(0, 0, 1, 1)), shapely.box(5, 5, 15, 15))
    assert assign(np.array([[7.0, 7.0], [12.0, 12.0], [2.0, 2.0]]), [a, b]) == ["a", "b", "a"]


@pytest.mark.parametrize("features, problem", [
    ([_square("x", 500000.0, 4700000.0, 50.0)], "WGS84"),
    ([_square("x", 133.0, 42.7, 0.001), _square("x", 133.1, 42.7, 0.001)], "named 'x'"),
    ([{"type": "Feature", "properties": {"name": "p"}, "geometry": {"type": "Point", "coordinates": [133.0, 42.7]}}], "Polygon"),
    ([], "no berth"),
])
def test_bad_berth_files_name_the_problem(tmp_path, features, problem):
    with pytest.raises(BerthError, match=problem):
        load_berths(_write(tmp_path / "b.geojson", features))


def test_missing_and_malformed_berth_files(tmp_path):
    with pytest.raises(BerthError, match="not found"):
        load_berths(tmp_path / "none.geojson")
    (tmp_path / "bad.geojson").write_text("{not json")
    with pytest.raises(BerthError, match="not valid GeoJSON"):
        load_berths(tmp_path / "bad.geojson")


def test_valid_share_sees_a_nodata_swath(make_geotiff):
    data = np.full((3, 100, 100), 120, np.uint8)
    data[:, :, :30] = 0  # nodata swath over the left 30 columns
    with Scene(make_geotiff(dtype="uint8", width=100, height=100, nodata=0, data=data)) as scene:
        assert scene.area_shares(shapely.box(50, 10, 90, 90))[0] == 1.0
        assert abs(scene.area_shares(shapely.box(0, 0, 60, 100))[0] - 0.5) < 0.03
        assert scene.area_shares(shapely.box(0, 0, 20, 100))[0] == 0.0


def test_clear_share_sees_a_white_cloud_over_water(make_geotiff):
    data = np.full((3, 100, 100), 40, np.uint8)  # dark water
    data[:, :50, :] = 250  # a saturated cloud over the top half
    data[0, 60:70, 60:70] = 250  # a red roof: bright in one band only, not a cloud
    with Scene(make_geotiff(dtype="uint8", width=100, height=100, nodata=0, data=data)) as scene:
        valid, clear = scene.area_shares(shapely.box(0, 0, 100, 100))
        assert valid == 1.0 and abs(clear - 0.5) < 0.03
        assert scene.area_shares(shapely.box(0, 55, 100, 100)) == (1.0, 1.0)
