"""infer.py end to end on generated scenes with known vessels: counts, output files, resume after
kill -9, a corrupt scene among good ones, torchrun with two processes, images without a CRS."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

import infer
from detector.events.distinct import HULL_COLUMNS
from detector.events.loads import EVENT_COLUMNS
from detector.infer.outputs import COUNT_COLUMNS, OUTPUT_COLUMNS
from detector.io.records import DETECTION_COLUMNS, read_csv
from detector.io.scene import write_png

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_FILES = ("detections.csv", "counts.csv", "detections.geojson")


def _args(port, *extra) -> list[str]:
    return ["--model", str(port["model"]), "--berths", str(port["berths"]), "--workers", "0", "--quiet", *extra]


def _infer(argv: list[str]) -> int:
    return infer.main(infer.get_args_parser().parse_args(argv))


@pytest.fixture(scope="module")
def single_run(port):
    out = port["dir"] / "single"
    assert _infer([str(port["scenes"]), "--out", str(out), *_args(port)]) == 0
    return out


def _share_inside(port) -> dict[tuple[str, str], float]:
    """Per (scene, berth): the share of the berth's outline that lies inside the scene."""
    from detector.io.berths import load_berths, place
    from detector.io.scene import Scene

    out = {}
    for path in sorted(Path(port["scenes"]).glob("*.tif")):
        with Scene(str(path)) as s:
            for pb in place(load_berths(port["berths"]), s.georef, s.info.width, s.info.height):
                out[(path.stem, pb.berth.name)] = pb.outline_px.area / pb.whole_px.area
    return out


def test_counts_per_berth_match_the_truth(port, single_run):
    truth = Counter((r["scene"], r["berth"], r["vessel_type"]) for r in port["truth"] if r["berth"])
    counts = read_csv(single_run / "counts.csv")
    assert list(counts[0]) == COUNT_COLUMNS
    inside = _share_inside(port)
    seen = set()
    for c in counts:
        if c["berth"]:
            assert int(c["tankers"]) == truth[(c["scene"], c["berth"], "tanker")], c
            assert int(c["other_vessels"]) == truth[(c["scene"], c["berth"], "other")], c
            # No nodata and no cloud: valid and clear wherever the scene reaches (white decks are not cloud).
            assert float(c["valid_share"]) == pytest.approx(inside[(c["scene"], c["berth"])], abs=0.03), c
            assert float(c["clear_share"]) == pytest.approx(float(c["valid_share"]), abs=0.01), c
            seen.add((c["scene"], c["berth"]))
    # Every occupied berth of the truth has its row; empty berths the scene shows have one too.
    assert {(s, b) for s, b, _ in truth} <= seen
    assert sum(int(c["tankers"]) + int(c["other_vessels"]) for c in counts if c["berth"]) == sum(truth.values())


def test_output_files_follow_the_documented_contract(port, single_run):
    with open(single_run / "detections.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == OUTPUT_COLUMNS and header[: len(DETECTION_COLUMNS)] == DETECTION_COLUMNS
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{c}`" in readme for c in OUTPUT_COLUMNS + COUNT_COLUMNS), "README documents every column"
    detections = read_csv(single_run / "detections.csv")
    assert len({d["vessel_id"] for d in detections}) == len(detections)

    collection = json.loads((single_run / "detections.geojson").read_text())
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == len(detections)
    polygons = []
    for feat in collection["features"]:
        ring = feat["geometry"]["coordinates"][0]
        assert feat["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
        poly = shape(feat["geometry"])
        assert poly.is_valid and shapely.is_ccw(poly.exterior)  # RFC 7946 winding
        polygons.append(poly)
    # Every truth vessel at a berth lies inside some detected polygon, on the map.
    for r in port["truth"]:
        if r["berth"]:
            point = shapely.Point(float(r["lon"]), float(r["lat"]))
            assert any(p.contains(point) for p in polygons), r["vessel_id"]

    record = json.loads((single_run / "run.json").read_text())
    assert record["model"]["sha256"] == hashlib.sha256(Path(port["model"]).read_bytes()).hexdigest()
    assert [s["status"] for s in record["scenes"]] == ["ok"] * 3
    for s in record["scenes"]:
        picture = single_run / "quicklooks" / f"{s['scene']}.jpg"
        assert picture.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    inputs = sorted(port["scenes"].glob("*.tif"))
    assert all(p.stat().st_size > 0 for p in inputs)  # inputs untouched

    # The events step: its table, summary and picture.
    with open(single_run / "events.csv", newline="") as f:
        assert next(csv.reader(f)) == EVENT_COLUMNS
    summary = json.loads((single_run / "summary.json").read_text())
    assert summary["periods"][-1]["period"] == "total" and summary["cap_barrels"] == 500_000
    assert (single_run / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The distinct hulls: one row per hull, every event in exactly one, the count in the summary.
    hulls = read_csv(single_run / "hulls.csv")
    with open(single_run / "hulls.csv", newline="") as f:
        assert next(csv.reader(f)) == HULL_COLUMNS
    events = read_csv(single_run / "events.csv")
    assert sorted(v for h in hulls for v in h["visits"].split(";") if v) == sorted(e["visit_id"] for e in events)
    assert summary["hulls"]["among_seen_visits"]["reported"] == len(hulls)
    docs = (ROOT / "docs" / "events.md").read_text()
    assert all(f"`{c}`" in docs for c in HULL_COLUMNS), "docs/events.md documents every hulls.csv column"


def _outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUT_FILES}


def test_rerun_after_kill_9_gives_exactly_the_outputs_of_a_straight_run(port, tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for k in range(3):  # nine scenes, so the kill lands mid-run
        for tif in sorted(port["scenes"].glob("*.tif")):
            shutil.copy(tif, scenes / f"{tif.stem}_copy{k}.tif")
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    # One thread in every run: the killed process's parts and the finishing run's parts come from
    # the same floating-point path as the straight run's, so the bytes may be compared exactly.
    assert _infer([str(scenes), "--out", str(straight), *_args(port), "--threads", "1"]) == 0

    cmd = [sys.executable, str(ROOT / "infer.py"), str(scenes), "--out", str(crashed), *_args(port), "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list((crashed / "parts").glob("*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    finished = len(list((crashed / "parts").glob("*.json")))
    assert 1 <= finished < 9
    assert not (crashed / "detections.csv").exists()

    assert _infer([str(scenes), "--out", str(crashed), *_args(port), "--threads", "1"]) == 0
    assert _outputs(crashed) == _outputs(straight)
    ids = [d["vessel_id"] for d in read_csv(crashed / "detections.csv")]
    assert len(ids) == len(set(ids)) > 0


def test_a_corrupt_and_an_empty_scene_are_recorded_and_the_others_finish(port, tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    good = sorted(port["scenes"].glob("*.tif"))
    for tif in good:
        shutil.copy(tif, scenes / tif.name)
    data = good[0].read_bytes()
    (scenes / "truncated.tif").write_bytes(data[: len(data) // 2])
    (scenes / "empty.tif").write_bytes(b"")
    out = tmp_path / "out"
    assert _infer([str(scenes), "--out", str(out), *_args(port)]) == 1
    record = {s["scene"]: s for s in json.loads((out / "run.json").read_text())["scenes"]}
    assert record["truncated"]["status"] == "error" and "truncated.tif" in record["truncated"]["error"]
    assert record["empty"]["status"] == "error" and "empty.tif" in record["empty"]["error"]
    assert [record[t.stem]["status"] for t in good] == ["ok"] * len(good)
    found = {d["scene"] for d in read_csv(out / "detections.csv")}
    assert found == {t.stem for t in good}

    # The user replaces the damaged file: a rerun redoes only the failed scenes, and all succeed.
    shutil.copy(good[0], scenes / "truncated.tif")
    (scenes / "empty.tif").unlink()
    assert _infer([str(scenes), "--out", str(out), *_args(port)]) == 0
    record = {s["scene"]: s for s in json.loads((out / "run.json").read_text())["scenes"]}
    assert set(record) == {t.stem for t in good} | {"truncated"} and all(s["status"] == "ok" for s in record.values())


def test_two_process_torchrun_equals_one_process(port, tmp_path):
    # Each rank runs one thread; so does the single process it is compared with (same float path).
    single = tmp_path / "single"
    assert _infer([str(port["scenes"]), "--out", str(single), *_args(port), "--threads", "1"]) == 0
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(ROOT / "infer.py"),
           str(port["scenes"]), "--out", str(out), "--device", "cpu", *_args(port)]
    done = subprocess.run(cmd, cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _outputs(out) == _outputs(single)
    record = json.loads((out / "run.json").read_text())
    assert record["world_size"] == 2 and len(record["scenes"]) == 3


def test_an_image_without_crs_needs_gsd_and_is_searched_whole(port, tmp_path):
    tif = sorted(port["scenes"].glob("*.tif"))[0]
    from detector.io.scene import Scene

    with Scene(tif) as scene:
        rgb, _ = scene.read_box((0, 0, scene.info.width, scene.info.height), (scene.info.height, scene.info.width))
    png = write_png(tmp_path / "plain.png", (rgb * 255).astype(np.uint8))
    out = tmp_path / "out"
    assert _infer([str(png), "--out", str(out), *_args(port)]) == 1
    error = json.loads((out / "run.json").read_text())["scenes"][0]["error"]
    assert "--gsd" in error

    assert _infer([str(png), "--out", str(out), "--gsd", "3", *_args(port)]) == 0
    rows = read_csv(out / "detections.csv")
    truth = [r for r in port["truth"] if r["scene"] == tif.stem]
    assert len(rows) == len(truth) and all(r["berth"] == "" and r["lon"] == "" for r in rows)
    assert json.loads((out / "detections.geojson").read_text())["features"] == []
    counts = read_csv(out / "counts.csv")
    assert [c["berth"] for c in counts] == [""] and int(counts[0]["tankers"]) + int(counts[0]["other_vessels"]) == len(truth)


def test_bad_options_stop_before_anything_runs(port, tmp_path, capsys):
    assert _infer([str(tmp_path / "nothing*.tif"), "--out", str(tmp_path / "o"), *_args(port)]) == 2
    assert "no file matches" in capsys.readouterr().err
    inside = tmp_path / "o" / "parts"
    inside.mkdir(parents=True)
    shutil.copy(sorted(port["scenes"].glob("*.tif"))[0], inside / "x.tif")
    assert _infer([str(inside / "x.tif"), "--out", str(tmp_path / "o"), *_args(port)]) == 2
    assert "overwritten" in capsys.readouterr().err
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "a"}, '
                   '"geometry": {"type": "Polygon", "coordinates": [[[500000, 4700000], [500100, 4700000], [500100, 4700100], [500000, 4700000]]]}}]}')
    argv = [str(port["scenes"]), "--out", str(tmp_path / "o2"), "--model", str(port["model"]), "--berths", str(bad), "--quiet"]
    assert _infer(argv) == 2
    assert "WGS84" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
    fleet = tmp_path / "fleet.csv"
    fleet.write_text("name,imo,beam_m\nA,1,12\n", encoding="utf-8")
    argv = [str(port["scenes"]), "--out", str(tmp_path / "o3"), *_args(port), "--fleet", str(fleet)]
    assert _infer(argv) == 2
    assert "missing columns length_m" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists()


def test_a_model_whose_metadata_alone_changed_reuses_the_scenes_new_weights_redo_them(port, tmp_path):
    import torch

    from detector.events.recall import DetectorRecall, RecallBand
    from detector.model.network import read_checkpoint
    from detector.train.berth_recall import store_recall

    out = tmp_path / "o"
    assert _infer([str(port["scenes"]), "--out", str(out), *_args(port, "--no-events")]) == 0
    parts = {p.name: p.read_text() for p in (out / "parts").glob("*.json")}
    assert parts
    # The same weights with a measured recall in their metadata: every scene is reused as it was.
    recalled = tmp_path / "recalled.pt"
    store_recall(port["model"], recalled, DetectorRecall((RecallBand(1.0, 3.05, 7, 10),), None, "test"))
    argv = [a if a != str(port["model"]) else str(recalled) for a in _args(port, "--no-events")]
    assert _infer([str(port["scenes"]), "--out", str(out), *argv]) == 0
    assert {p.name: p.read_text() for p in (out / "parts").glob("*.json")} == parts
    # Other weights: every scene is detected again, under another key.
    ckpt = read_checkpoint(port["model"])
    name = next(k for k, v in ckpt["model"].items() if v.is_floating_point())
    ckpt["model"][name] = ckpt["model"][name] + 1e-3
    other = tmp_path / "other.pt"
    torch.save(ckpt, other)
    argv = [a if a != str(port["model"]) else str(other) for a in _args(port, "--no-events")]
    assert _infer([str(port["scenes"]), "--out", str(out), *argv]) == 0
    redone = {p.name: json.loads(p.read_text())["key"] for p in (out / "parts").glob("*.json")}
    assert set(redone) == set(parts) and all(k != json.loads(parts[n])["key"] for n, k in redone.items())


def test_work_gsd_max_reads_a_coarse_scene_with_fewer_pixels_and_is_checked(port, make_geotiff, tmp_path, capsys):
    tif = make_geotiff("coarse.tif", pixel=10.0, width=600, height=600, seed=3)
    runs = {}
    for label, extra in (("model's own", []), ("7 m", ["--work-gsd-max", "7"])):
        out = tmp_path / label.replace(" ", "_")
        argv = [str(tif), "--out", str(out), "--model", str(port["model"]), "--berths", "none", "--aoi", "whole",
                "--workers", "0", "--quiet", "--no-events", "--tile-px", "256", *extra]
        assert _infer(argv) == 0
        runs[label] = json.loads((out / "run.json").read_text())
    own, coarse = runs["model's own"], runs["7 m"]
    assert own["scenes"][0]["work_gsd_m"] == own["model"]["config"]["work_gsd_max_m"] < 7
    assert coarse["scenes"][0]["work_gsd_m"] == 7 and coarse["model"]["config"]["work_gsd_max_m"] == 7
    assert coarse["scenes"][0]["tiles"] < own["scenes"][0]["tiles"]  # fewer working pixels
    assert coarse["run_key"] != own["run_key"]  # what decides detections changed: no part is reused
    finest = own["model"]["config"]["work_gsd_min_m"]
    argv = [str(tif), "--out", str(tmp_path / "bad"), "--model", str(port["model"]), "--berths", "none", "--quiet",
            "--work-gsd-max", str(finest / 2)]
    assert _infer(argv) == 2
    assert "finer than the model's finest working GSD" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
