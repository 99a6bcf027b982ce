"""Scene metadata, band choice, contrast stretch and windowed resampled reads."""

import json
import pickle
from datetime import datetime, timezone

import numpy as np
import pytest
from rasterio.windows import Window

from detector.io.scene import PREVIEW_PX, Scene, write_png


def test_metadata_is_reported(make_geotiff):
    path = make_geotiff(width=120, height=70, dtype="uint16", nodata=0, tags={"TIFFTAG_DATETIME": "2024:03:07 02:15:00"})
    info = Scene(path).info
    assert (info.width, info.height, info.count, info.dtype, info.nodata) == (120, 70, 3, "uint16", 0)
    assert info.crs == "EPSG:32653"
    assert info.transform[0] == 3.0 and info.transform[4] == -3.0
    assert info.datetime == datetime(2024, 3, 7, 2, 15, tzinfo=timezone.utc)
    assert info.datetime_source == "TIFFTAG_DATETIME"
    assert json.loads(json.dumps(info.to_dict(), default=str))["gsd_m"] == pytest.approx(3.0, rel=1e-3)


def test_date_from_file_name(make_geotiff):
    info = Scene(make_geotiff("vostochny_20240322T013045_3m.tif")).info
    assert info.datetime == datetime(2024, 3, 22, 1, 30, 45, tzinfo=timezone.utc)
    assert info.datetime_source == "filename"
    assert Scene(make_geotiff("pass_2024-03-09.tif")).info.datetime.date().isoformat() == "2024-03-09"


def test_stac_sidecar_wins_over_tag_and_name(make_geotiff):
    path = make_geotiff("scene_20200101.tif", tags={"TIFFTAG_DATETIME": "2021:01:01 00:00:00"})
    path.with_suffix(".json").write_text(json.dumps({"type": "Feature", "properties": {"datetime": "2024-03-15T01:02:03Z"}}))
    info = Scene(path).info
    assert info.datetime == datetime(2024, 3, 15, 1, 2, 3, tzinfo=timezone.utc)
    assert info.datetime_source.startswith("stac:")


def test_no_date_is_none(make_geotiff):
    info = Scene(make_geotiff("scene.tif")).info
    assert info.datetime is None and info.datetime_source == "none"


def test_bands_from_colour_interpretation(make_geotiff):
    # Stored blue, green, red (as many sensors deliver): red must be read from band 3.
    data = np.zeros((3, 40, 40), np.uint8)
    data[0], data[1], data[2] = 10, 120, 240
    data[:, :5, :5] = 0  # some dark pixels so the stretch has a spread
    scene = Scene(make_geotiff(data=data, dtype="uint8", colorinterp=["blue", "green", "red"]))
    assert scene.info.bands.indexes == (3, 2, 1) and scene.info.bands.source == "colorinterp"


def test_bands_from_descriptions_and_user_choice(make_geotiff):
    path = make_geotiff(count=4, descriptions=["blue", "green", "red", "nir"])
    assert Scene(path).info.bands.indexes == (3, 2, 1)
    assert Scene(path, bands=(4, 3, 2)).info.bands.source == "user"


def test_panchromatic_single_band_reads_as_grey_rgb(make_geotiff):
    scene = Scene(make_geotiff(count=1, dtype="uint16"))
    assert scene.info.bands.panchromatic
    rgb, valid = scene.read(Window(0, 0, 96, 80), (40, 48))
    assert rgb.shape == (3, 40, 48) and np.array_equal(rgb[0], rgb[2]) and valid.all()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
def test_every_supported_dtype_reads_to_unit_range(make_geotiff, dtype):
    scene = Scene(make_geotiff(dtype=dtype))
    rgb, valid = scene.read(Window(0, 0, 96, 80), (80, 96))
    assert rgb.dtype == np.float32 and 0.0 <= rgb.min() and rgb.max() <= 1.0
    # A 2-98 % stretch leaves about 2 % of pixels at each end.
    assert 0.005 < (rgb == 0).mean() < 0.06 and 0.005 < (rgb == 1).mean() < 0.06


def test_nodata_is_masked_and_left_out_of_the_stretch(make_geotiff):
    data = np.full((3, 60, 60), 1000, np.uint16)
    data[:, :, 30:] = 3000
    data[:, :20, :] = 0  # nodata margin, a third of the scene
    scene = Scene(make_geotiff(data=data, nodata=0))
    assert scene.info.stretch.lo[0] == 1000  # the zeros did not drag the stretch down
    rgb, valid = scene.read(Window(0, 0, 60, 60), (60, 60))
    assert not valid[:20].any() and valid[20:].all()
    assert (rgb[:, :20] == 0).all()
    assert rgb[0, 30, 10] == 0.0 and rgb[0, 30, 50] == 1.0


def test_stretch_comes_from_a_decimated_read(make_geotiff, monkeypatch):
    shapes = []
    original = Scene._read_raw

    def spy(self, window, out_shape, *args, **kwargs):
        shapes.append(out_shape)
        return original(self, window, out_shape, *args, **kwargs)

    monkeypatch.setattr(Scene, "_read_raw", spy)
    Scene(make_geotiff(width=3000, height=1500, count=1, dtype="uint8"))
    assert shapes == [(512, PREVIEW_PX)]


def test_windowed_read_resamples_to_the_requested_size(make_geotiff):
    # A bright 30 x 20 px block on a dark scene at 1 m, read at 3 m: a 10 x ~7 px block.
    data = np.full((1, 300, 300), 100, np.uint16)
    data[0, 150:170, 60:90] = 3000
    data[0, :3, :3] = 3000  # so that the block is the top of the stretch
    scene = Scene(make_geotiff(data=data, pixel=1.0, count=1))
    rgb, _ = scene.read(Window(0, 90, 300, 150), (50, 100))
    bright = rgb[0] > 0.5
    rows, cols = np.nonzero(bright)
    assert (cols.min(), cols.max()) == (20, 29)
    assert (rows.min(), rows.max()) == (20, 26)


def test_scene_pickles_and_reopens(make_geotiff):
    scene = Scene(make_geotiff())
    a, _ = scene.read(Window(10, 10, 30, 30), (30, 30))
    clone = pickle.loads(pickle.dumps(scene))
    b, _ = clone.read(Window(10, 10, 30, 30), (30, 30))
    assert np.array_equal(a, b)


def test_plain_png_with_gsd(tmp_path):
    rng = np.random.default_rng(3)
    path = write_png(tmp_path / "harbour.png", rng.integers(0, 255, (3, 50, 70)).astype(np.uint8))
    info = Scene(path, gsd_m=2.5).info
    assert info.crs is None and info.gsd_m == 2.5 and info.gsd_source == "user" and (info.width, info.height) == (70, 50)
