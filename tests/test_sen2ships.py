"""The real Sentinel-2 port scenes of ../shared/data/sen2ships (skipped when absent)."""

import json

import numpy as np
import pytest

from detector.io.scene import Scene

MEDITERRANEAN = ["algiers", "genoa", "marseille", "valencia"]


def test_every_real_scene_opens_with_its_date(sen2ships):
    images = json.loads((sen2ships / "labels.json").read_text())["images"]
    for image in images:
        info = Scene(sen2ships / image["file_name"]).info
        assert (info.width, info.height) == (image["width"], image["height"])
        assert info.crs == "EPSG:3857" and info.bands.indexes == (1, 2, 3)
        assert info.datetime_source == "TIFFTAG_DATETIME"
        assert info.datetime.date().isoformat() == image["date"]


@pytest.mark.parametrize("port", MEDITERRANEAN)
def test_mediterranean_gsd_is_near_8_m(sen2ships, port):
    # 10 m Web Mercator pixels at 36-44 N are 7.2-8.1 m on the ground.
    assert 7.0 < Scene(sen2ships / f"{port}.tif").info.gsd_m < 8.2


@pytest.mark.parametrize("port", ["marseille", "genoa"])
def test_stretched_tile_looks_sane(sen2ships, port):
    scene = Scene(sen2ships / f"{port}.tif")
    (tile, *_) = scene.tiles(work_gsd_m=10.0, tile_px=256)
    rgb, valid = scene.read_tile(tile, 256)
    assert valid.all()
    lo, hi = np.percentile(rgb, [5, 95])
    assert hi - lo > 0.3  # values spread over the range, not crushed to black or white
    assert len(np.unique(np.round(rgb * 255))) > 100
    # Natural colour: the three bands agree in where it is bright.
    assert np.corrcoef(rgb[0].ravel(), rgb[2].ravel())[0, 1] > 0.5
