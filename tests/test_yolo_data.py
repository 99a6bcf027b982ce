"""The peer's data: our labels as Ultralytics YOLO OBB label files (bench/yolo_data.py), a
keypoint label with its angle and a box-only label as its box, at the image's written scale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import yolo_data  # noqa: E402


def test_a_keypoint_and_a_box_label_become_yolo_obb_lines(tmp_path, make_geotiff):
    make_geotiff("port.tif", width=200, height=100, pixel=3.0, dtype="uint8")
    anns = [
        # bow at (150, 30), stern at (70, 70): an 89 px hull heading up and to the right
        {"keypoints": [150, 30, 2, 70, 70, 2], "bbox": [70, 30, 80, 40], "category_id": 1, "beam_px_estimated": 12},
        {"bbox": [20, 10, 30, 8], "category_id": 2},
    ]
    doc = {"images": [{"id": 1, "file_name": "port.tif", "width": 200, "height": 100}],
           "annotations": [dict(a, id=i + 1, image_id=1) for i, a in enumerate(anns)],
           "categories": [{"id": 1, "name": "ship", "keypoints": ["bow", "stern"]}, {"id": 2, "name": "ship"}]}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(doc))
    out = tmp_path / "yolo"
    assert yolo_data.convert([f"coco:{labels}"], out) == 1
    scale = json.loads((out / "scales.json").read_text())["s0-port"]
    assert scale["sx"] == scale["sy"] == 1.0  # 3 m scenes are read at 3 m
    rows = [line.split() for line in (out / "labels" / "s0-port.txt").read_text().splitlines()]
    assert len(rows) == 2 and all(len(r) == 9 and r[0] == "0" for r in rows)
    keypoint = np.array(rows[0][1:], float).reshape(4, 2) * [200, 100]
    bow, stern = keypoint[:2].mean(0), keypoint[2:].mean(0)
    assert np.allclose(bow, [150, 30], atol=0.01) and np.allclose(stern, [70, 70], atol=0.01)  # the hull's own angle
    assert abs(np.linalg.norm(keypoint[0] - keypoint[1]) - 12) < 0.01  # its estimated beam
    box = np.array(rows[1][1:], float).reshape(4, 2) * [200, 100]
    assert np.allclose(sorted(map(tuple, box)), sorted([(20, 10), (50, 10), (50, 18), (20, 18)]), atol=0.01)
    assert (out / "images" / "s0-port.png").is_file()


def test_a_large_scene_is_tiled_at_its_working_gsd_and_sources_are_listed_by_weight(tmp_path, make_geotiff):
    # a 10 m scene is read at 5 m: 300 x 120 px become 600 x 240, cut into 256 px tiles
    make_geotiff("wide.tif", width=300, height=120, pixel=10.0, dtype="uint8")
    make_geotiff("small.tif", width=100, height=100, pixel=3.0, dtype="uint8")
    hull = {"keypoints": [260, 60, 2, 240, 60, 2], "bbox": [240, 57, 20, 6], "category_id": 1, "beam_px_estimated": 6}
    docs = {}
    for name, (w, h), anns in (("wide", (300, 120), [hull]), ("small", (100, 100), [{"bbox": [10, 10, 20, 8], "category_id": 1}])):
        doc = {"images": [{"id": 1, "file_name": f"{name}.tif", "width": w, "height": h}],
               "annotations": [dict(a, id=i + 1, image_id=1) for i, a in enumerate(anns)],
               "categories": [{"id": 1, "name": "ship", "keypoints": ["bow", "stern"]}]}
        docs[name] = tmp_path / f"{name}.json"
        docs[name].write_text(json.dumps(doc))
    out = tmp_path / "yolo"
    n = yolo_data.convert([f"coco:{docs['wide']}@0.5", f"coco:{docs['small']}@0.5"], out, tile_px=256, overlap_px=64)
    scales = json.loads((out / "scales.json").read_text())
    wide = {k: v for k, v in scales.items() if k.startswith("s0-")}
    assert n == len(scales) == len(wide) + 1 and len(wide) == 3  # 600 px across: three 256 px tiles, one row
    assert all(v["sx"] == v["sy"] == 2.0 for v in wide.values())
    holding = [k for k in wide if (out / "labels" / f"{k}.txt").read_text().strip()]
    assert len(holding) == 1  # the hull (centre x 500 px at 5 m) belongs to the one tile holding its centre
    x0 = wide[holding[0]]["x0_px"]
    xy = np.array((out / "labels" / f"{holding[0]}.txt").read_text().split()[1:], float).reshape(4, 2) * [256, 240] + [x0, 0]  # the tile is the scene's 240 rows tall
    assert np.allclose(xy.mean(0), [500, 120], atol=0.5) and x0 <= 500 < x0 + 256
    listed = (out / "train.txt").read_text().split()
    # equal weights: the one small image is listed three times, as often as the wide scene's tiles
    assert sum("s1-small" in p for p in listed) == 3 and sum("/s0-" in p for p in listed) == 3
