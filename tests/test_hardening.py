"""What bad inputs and crowded runs used to break (issue 28): long names, impossible labels, two
runs in one folder, options that ended in tracebacks, a full disk, huge sparse rasters, leftovers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import infer
from detector.io.atomic import atomic_path, fit_name, sweep_temporaries
from detector.io.lock import LOCK_NAME, hold
from detector.io.scene import Scene
from detector.train.labels import LabelError, read_coco

ROOT = Path(__file__).resolve().parents[1]


def _infer(port, *argv) -> int:
    args = [*argv, "--model", str(port["model"]), "--berths", str(port["berths"]), "--workers", "0", "--quiet"]
    return infer.main(infer.get_args_parser().parse_args(args))


def _one_scene(port, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    src = sorted(port["scenes"].glob("*.tif"))[0]
    dst = folder / (name or src.name)
    shutil.copy(src, dst)
    return dst


# 1. long names --------------------------------------------------------------------------------

def test_a_long_legal_file_name_is_run_like_any_other(port, tmp_path):
    long = "a" * 240 + ".tif"
    scenes = tmp_path / "names"
    _one_scene(port, scenes, long)
    _one_scene(port, scenes)
    out = tmp_path / "out"
    assert _infer(port, str(scenes), "--out", str(out)) == 0
    record = json.loads((out / "run.json").read_text())
    assert [s["status"] for s in record["scenes"]] == ["ok", "ok"]
    assert all(len(p.name.encode()) < 255 for p in (out / "parts").iterdir())
    assert len(list((out / "quicklooks").iterdir())) == 2
    # The rerun finds the long scene's part under its shortened name and keeps it.
    before = {p.name: p.stat().st_mtime_ns for p in (out / "parts").iterdir()}
    assert _infer(port, str(scenes), "--out", str(out)) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "parts").iterdir()} == before
    # Two long names that share their first 200 characters stay apart.
    assert fit_name("b" * 300 + "1") != fit_name("b" * 300 + "2")
    with atomic_path(tmp_path / ("c" * 250 + ".json")) as tmp:  # the temporary fits too
        tmp.write_text("{}")


# 2. impossible labels -------------------------------------------------------------------------

def _coco_file(tmp_path, anns, images=None) -> Path:
    img = tmp_path / "img.tif"
    if not img.exists():
        from .conftest import crs_transform, write_geotiff

        write_geotiff(img, np.full((3, 512, 512), 40, np.uint8), "EPSG:32653", crs_transform(32653, 3.0, 512, 512))
    doc = {"images": images or [{"id": 1, "file_name": "img.tif", "width": 512, "height": 512}],
           "annotations": [dict(a, id=i + 1, image_id=1, category_id=1) for i, a in enumerate(anns)],
           "categories": [{"id": 1, "name": "ship"}]}
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    return path


def test_impossible_labels_are_refused_by_file_image_and_annotation(tmp_path):
    with pytest.raises(LabelError, match=r"labels.json.*'img.tif'.*annotation 2.*negative"):
        read_coco(_coco_file(tmp_path, [{"bbox": [10, 10, 30, 8]}, {"bbox": [100, 100, -60, 20]}]))
    with pytest.raises(LabelError, match="annotation 1.*wholly outside"):
        read_coco(_coco_file(tmp_path, [{"bbox": [600, 600, 40, 10]}]))
    with pytest.raises(LabelError, match="no annotations"):
        read_coco(_coco_file(tmp_path, []))
    missing = [{"id": 1, "file_name": "img.tif", "width": 512, "height": 512},
               {"id": 2, "file_name": "gone.tif", "width": 512, "height": 512}]
    with pytest.raises(LabelError, match="1 of 2 images.*gone.tif"):
        read_coco(_coco_file(tmp_path, [{"bbox": [10, 10, 30, 8]}], missing))
    # An overhanging box is clipped to the image and counted; a zero-height one is left out.
    scenes = read_coco(_coco_file(tmp_path, [{"bbox": [490, 100, 40, 10]}, {"bbox": [5, 5, 3, 0]}]))
    assert len(scenes[0]) == 1 and scenes[0].corners[..., 0].max() == pytest.approx(512)
    assert scenes[0].meta["clipped_boxes"] == 1 and scenes[0].meta["dropped_boxes"] == 1


def test_train_cli_refuses_a_negative_box_before_training(tmp_path):
    labels = _coco_file(tmp_path, [{"bbox": [100, 100, -60, 20]}])
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", f"coco:{labels}", "--epochs", "1",
                           "--out", str(tmp_path / "run"), "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "negative" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "last.pt").exists()


# 3. one run a folder -------------------------------------------------------------------------

def test_a_second_run_into_a_held_folder_exits_2_and_a_stale_lock_is_taken_over(port, tmp_path, capsys):
    scenes = tmp_path / "s"
    _one_scene(port, scenes)
    out = tmp_path / "out"
    other = hold(out, "someone-else")  # another run holds the folder
    try:
        assert _infer(port, str(scenes), "--out", str(out)) == 2
        err = capsys.readouterr().err
        assert "in use by another run" in err and f"pid {os.getpid()}" in err
        assert not (out / "parts").exists()
    finally:
        other.release()
    # A run killed with kill -9 leaves its lock file naming a process that is gone: taken over.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "job": "killed"}))
    assert _infer(port, str(scenes), "--out", str(out)) == 0
    assert (out / "run.json").is_file()


# 4. clear exits where tracebacks were --------------------------------------------------------

def test_options_that_ended_in_tracebacks_exit_2_with_a_reason(port, tmp_path, capsys):
    scenes = tmp_path / "s"
    _one_scene(port, scenes)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert _infer(port, str(scenes), "--out", str(a_file)) == 2
    assert "is a file" in capsys.readouterr().err
    listed = tmp_path / "list.geojson"
    listed.write_text("[1, 2]")
    argv = [str(scenes), "--out", str(tmp_path / "o"), "--model", str(port["model"]), "--berths", str(listed), "--quiet"]
    assert infer.main(infer.get_args_parser().parse_args(argv)) == 2
    assert "FeatureCollection" in capsys.readouterr().err
    ais = tmp_path / "ais.csv"
    ais.write_bytes(b"mmsi,time,lon,lat\n1,2024-03-07T00:00:00Z,133.0,42.7\n2,2024-03-07T01:00:00Z,133.0,\xff42.7\n")
    assert _infer(port, str(scenes), "--out", str(tmp_path / "o3"), "--ais", str(ais)) == 2
    assert "not UTF-8" in capsys.readouterr().err
    ais.write_text("mmsi,time,lon,lat\n1,2024-03-07T00:00:00Z,133.0,999\n")
    assert _infer(port, str(scenes), "--out", str(tmp_path / "o4"), "--ais", str(ais)) == 2
    assert "line 2" in capsys.readouterr().err
    assert not (tmp_path / "o3" / "parts").exists()  # refused before any scene ran
    with pytest.raises(SystemExit) as stop:
        infer.get_args_parser().parse_args([str(scenes), "--gsd", "inf"])
    assert stop.value.code == 2


def _mount_tmpfs(path: Path, size: str, read_only: bool = False) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_a_read_only_out_and_a_full_disk_are_said_plainly_and_a_rerun_trusts_nothing_half_written(port, tmp_path, capsys):
    ro, small = tmp_path / "ro", tmp_path / "small"
    if not _mount_tmpfs(ro, "1m", read_only=True):
        pytest.skip("cannot mount a tmpfs here (needs root): the read-only and disk-full cases are not tested")
    try:
        scenes = tmp_path / "s"
        for k in range(3):
            _one_scene(port, scenes, f"scene{k}.tif")
        assert _infer(port, str(scenes), "--out", str(ro / "out")) == 2
        assert "cannot write there" in capsys.readouterr().err
        straight = tmp_path / "straight"
        assert _infer(port, str(scenes), "--out", str(straight), "--threads", "1") == 0
        need = sum(f.stat().st_size for f in straight.rglob("*") if f.is_file())
        assert _mount_tmpfs(small, f"{need // 3 // 1024}k")
        assert _infer(port, str(scenes), "--out", str(small / "out"), "--threads", "1") == 2
        assert "no space left" in capsys.readouterr().err
        subprocess.run(["mount", "-o", f"remount,size={need * 4 // 1024}k", str(small)], check=True)
        assert _infer(port, str(scenes), "--out", str(small / "out"), "--threads", "1") == 0
        for name in ("detections.csv", "counts.csv", "detections.geojson"):
            assert (small / "out" / name).read_bytes() == (straight / name).read_bytes(), name
    finally:
        for m in (ro, small):
            subprocess.run(["umount", str(m)], capture_output=True)


# 5. huge sparse rasters -----------------------------------------------------------------------

def test_tiles_of_nodata_alone_are_skipped_on_a_sparse_geotiff(tmp_path):
    import rasterio
    from rasterio.windows import Window

    from .conftest import crs_transform

    path = tmp_path / "sparse.tif"
    size = 12_000
    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", nodata=0, crs="EPSG:32653",
                   transform=crs_transform(32653, 3.0, size, size), tiled=True, blockxsize=512, blockysize=512,
                   compress="deflate", sparse_ok=True)
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", **profile) as dst:  # only one 1,000 px patch holds data
        dst.write(rng.integers(20, 200, (3, 1000, 1000)).astype(np.uint8), window=Window(5000, 3000, 1000, 1000))
    assert path.stat().st_size < 5_000_000
    with Scene(str(path)) as scene:
        tiles = scene.tiles(3.0, 512, fit=True)
        kept = scene.tiles_with_data(tiles)
    assert len(tiles) > 400 and 1 <= len(kept) <= 16
    for t in kept:  # each kept tile touches the patch
        assert t.col_off < 6000 and t.col_off + t.width > 5000 and t.row_off < 4000 and t.row_off + t.height > 3000


# 6. leftovers ---------------------------------------------------------------------------------

def test_a_run_sweeps_its_own_stale_temporaries_and_quiet_still_names_failures(port, tmp_path, capsys):
    scenes = tmp_path / "s"
    _one_scene(port, scenes)
    (scenes / "broken.tif").write_bytes(b"not an image" * 100)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".timeline.png.k3j9x_a2.png").write_bytes(b"half a picture")  # what a kill -9 left, older naming
    (out / "parts").mkdir()
    (out / "parts" / ".scene.ab12cd34.partial.json").write_text("{")
    (out / "notes.txt").write_text("the user's own")
    assert _infer(port, str(scenes), "--out", str(out)) == 1
    assert not (out / ".timeline.png.k3j9x_a2.png").exists() and not list((out / "parts").glob(".*"))
    assert (out / "notes.txt").read_text() == "the user's own"
    assert "FAILED broken" in capsys.readouterr().err
    assert sweep_temporaries(tmp_path / "nowhere") == 0


def test_exif_orientation_is_reported_not_silently_ignored(tmp_path):
    from PIL import Image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    img.save(tmp_path / "photo.jpg", exif=exif)
    img.save(tmp_path / "plain.jpg")
    with Scene(str(tmp_path / "photo.jpg"), gsd_m=1.0) as s, Scene(str(tmp_path / "plain.jpg"), gsd_m=1.0) as p:
        assert s.info.exif_orientation == 6 and p.info.exif_orientation == 1
    from detector.infer.pipeline import _notes

    with Scene(str(tmp_path / "photo.jpg"), gsd_m=1.0) as s:
        assert "not applied" in _notes(s.info)[0]


def test_the_tile_count_is_known_before_the_first_tile(port):
    from detector.infer.batch import PlanConfig, SceneJob, TileStream
    from detector.model.network import ModelConfig
    from detector.model.routed import Routing

    jobs = [SceneJob(i, str(p), p.stem) for i, p in enumerate(sorted(port["scenes"].glob("*.tif")))]
    at_3m = Routing((float("inf"),), (ModelConfig(work_gsd_min_m=3.0, work_gsd_max_m=3.0),))
    stream = iter(TileStream(jobs, PlanConfig(tile_px=128), at_3m, batch_size=1))
    first = next(stream)
    assert len(first.headers) == len(jobs) and not first.keys  # every plan before any tile
    total = sum(len(h.tiles) for h in first.headers)
    assert total == sum(len(b.keys) for b in stream)
