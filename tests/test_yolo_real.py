"""The peer's scoring on real splits (bench/yolo_real.py): YOLO's boxes, predicted on a scene
read at the working GSD, come back in the scene's own pixels, and the image it is handed is the
scene as YOLO trained on it (BGR, at the working GSD, never shrunk)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import yolo_real  # noqa: E402
from detector.train.labels import read_coco  # noqa: E402


class FakeYolo:
    """Returns one box, given in the pixels of the image it was handed, and records the call."""

    def __init__(self, box_px):
        self.box_px = np.asarray(box_px, np.float32)

    def predict(self, image, imgsz, conf, max_det, device, verbose):
        self.image, self.imgsz = image, imgsz
        return [SimpleNamespace(obb=FakeObb(torch.tensor(self.box_px[None]), torch.tensor([0.9])))]


class FakeObb:
    """The two fields of Ultralytics' ``Results.obb`` that the scoring reads."""

    def __init__(self, xyxyxyxy, conf):
        self.xyxyxyxy, self.conf = xyxyxyxy, conf

    def __len__(self):
        return len(self.conf)


def test_a_10m_scene_is_predicted_at_5m_and_boxes_return_to_scene_pixels(tmp_path, make_geotiff):
    import json

    make_geotiff("port.tif", width=700, height=300, pixel=10.0, dtype="uint8")
    doc = {"images": [{"id": 1, "file_name": "port.tif", "width": 700, "height": 300}],
           "annotations": [{"id": 1, "image_id": 1, "bbox": [100, 50, 30, 10], "category_id": 1}],
           "categories": [{"id": 1, "name": "ship"}]}
    (tmp_path / "labels.json").write_text(json.dumps(doc))
    ls = read_coco(tmp_path / "labels.json")[0]
    # a box at (200..260, 100..120) in the 5 m image is (100..130, 50..60) in the 10 m scene
    model = FakeYolo([[200, 100], [260, 100], [260, 120], [200, 120]])
    corners, conf, gsd_m = yolo_real.predict(model, ls, imgsz=416)
    assert model.image.shape == (600, 1400, 3) and model.image.dtype == np.uint8  # 5 m, rows x cols x BGR
    assert model.imgsz == 1408  # larger than 416: read at its own size, a multiple of YOLO's stride 32
    assert np.allclose(corners[0], [[100, 50], [130, 50], [130, 60], [100, 60]], atol=1e-4)
    assert np.allclose(conf, [0.9]) and abs(gsd_m - 10.0) < 0.01  # the file's GSD, for the scoring
