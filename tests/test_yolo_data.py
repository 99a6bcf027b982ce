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
