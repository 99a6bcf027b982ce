"""Pictures: outlines land on the box edges, bow side marked, nothing inside painted."""

from __future__ import annotations

import numpy as np

from detector.infer.report import BOW_RGB, TANKER_RGB, TRUTH_RGB, detections_picture
from detector.model.geometry import obb_to_corners


def test_outlines_follow_the_boxes():
    rgb = np.zeros((3, 60, 80), np.float32)
    pred = obb_to_corners(np.array([[40.0, 30.0, 40.0, 10.0, 0.0]]))  # bow to the right (+x)
    img = detections_picture(rgb, 1.0, pred, np.array([0.9]), true_corners=pred + 100)  # truth off-picture
    assert tuple(img[:, 25, 40]) == TANKER_RGB  # top edge (y = 25)
    assert tuple(img[:, 30, 60]) == BOW_RGB  # bow edge (x = 60)
    assert tuple(img[:, 30, 20]) == TANKER_RGB  # stern edge
    assert img[:, 28:33, 25:55].max() == 0  # inside untouched
    assert not (img == np.asarray(TRUTH_RGB, np.uint8)[:, None, None]).all(axis=0).any()
