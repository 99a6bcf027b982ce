"""The installed torch and torchvision work together: compiled ops load and run."""

import torch
from torchvision.ops import nms


def test_torchvision_nms_runs():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    # The second box overlaps the first by IoU 0.81 and is suppressed; the third stands apart.
    assert nms(boxes, scores, iou_threshold=0.5).tolist() == [0, 2]
