"""Every bad input gives one SceneError that names the file and the problem."""

import os
import subprocess
import sys

import numpy as np
import pytest

from detector.io.errors import SceneError
from detector.io.scene import Scene, write_png


def expect_error(path, match, **kwargs):
    with pytest.raises(SceneError, match=match) as err:
        Scene(path, **kwargs)
    assert err.value.path == str(path) and str(err.value).startswith(str(path))
    return err.value


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.tif", "file not found")


def test_directory(tmp_path):
    expect_error(tmp_path, "directory")


def test_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("these are not pixels\n" * 50)
    expect_error(path, "not a readable image")


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_truncated_geotiff(make_geotiff, keep):
    rng = np.random.default_rng(0)
    # Noise does not compress, so the file is large and truncation cuts into pixel data.
    data = rng.integers(0, 4000, (3, 600, 600)).astype(np.uint16)
    path = make_geotiff("cut.tif", data=data, width=600, height=600)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * keep))
    expect_error(path, "not a readable image|truncated or corrupt")


def test_plain_image_without_gsd(tmp_path):
    path = write_png(tmp_path / "photo.png", np.full((3, 20, 20), 90, np.uint8))
    expect_error(path, "no CRS.*--gsd")


def test_bad_gsd_value(make_geotiff):
    expect_error(make_geotiff(), "positive", gsd_m=-3.0)


def test_unsupported_dtype(make_geotiff):
    data = (np.ones((1, 30, 30)) + 1j).astype(np.complex64)
    expect_error(make_geotiff(data=data, count=1), "complex64 is not supported")


def test_all_nodata_scene(make_geotiff):
    expect_error(make_geotiff(data=np.zeros((3, 40, 40), np.uint16), nodata=0), "every pixel is nodata")


def test_bands_that_do_not_exist(make_geotiff):
    expect_error(make_geotiff(), r"names band\(s\) \[5\]", bands=(5, 2, 1))


def test_two_band_scene_needs_a_band_choice(make_geotiff):
    expect_error(make_geotiff(count=2), "cannot tell red, green and blue apart")


def test_a_batch_records_bad_scenes_and_goes_on(make_geotiff, tmp_path):
    good = make_geotiff("good.tif")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    results = {}
    for path in [bad, tmp_path / "missing.tif", good]:
        try:
            results[path.name] = Scene(path).info.width
        except SceneError as exc:
            results[path.name] = exc.problem
    assert results["good.tif"] == 96
    assert "not a readable image" in results["bad.tif"] and results["missing.tif"] == "file not found"


def test_cli_prints_one_line_per_bad_scene_without_traceback(make_geotiff, tmp_path):
    good = make_geotiff("good.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("nope")
    quicklooks = tmp_path / "ql"
    proc = subprocess.run(
        [sys.executable, "-m", "detector.info", str(bad), str(good), str(tmp_path / "missing.tif"), "--quicklook-dir", str(quicklooks)],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and str(bad) in errors[0] and "file not found" in errors[1]
    assert "good.tif: 96x80 px" in proc.stdout
    assert (quicklooks / "good.png").is_file() and not (quicklooks / "bad.png").exists()
