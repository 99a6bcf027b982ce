"""Loss targets and decoding agree: a head that outputs exactly its targets gives back the boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from detector.model.geometry import iou_matrix, obb_to_corners, rotated_nms
from detector.model.network import ModelConfig, build, decode
from detector.model.targets import detection_loss, encode

STRIDE = 4


def perfect_output(t: dict) -> dict:
    """Head output whose decode reproduces the targets: logits of the heatmap, the regression maps."""
    heat = t["heat"].clamp(1e-6, 1 - 1e-6)
    heat = torch.where(t["heat"] >= 1, torch.full_like(heat, 0.999), heat * 0.9)
    r = t["reg"]
    return {"heat": torch.logit(heat)[None], "type": (t["type"] * 8 - 4)[None], "offset": r[None, 0:2], "size": r[None, 2:4],
            "axis": r[None, 4:6], "bow": r[None, 6:8]}


def boxes_back(obb, size=128, types=None):
    n = len(obb)
    t = encode(obb, np.ones(n, bool), np.zeros(n, int) if types is None else types, (size, size), STRIDE)
    dets = decode(perfect_output(t), STRIDE, score_threshold=0.5)[0]
    return t, dets


@pytest.mark.parametrize("angle_deg", [0.0, 0.5, 89.5, 90.0, 90.5, 179.5, 180.0, -179.5, -90.0, 37.0])
def test_decode_of_targets_gives_the_box_back(angle_deg):
    obb = np.array([[61.3, 70.9, 60.0, 10.0, math.radians(angle_deg)]])
    _, dets = boxes_back(obb)
    assert len(dets.score) == 1
    got = dets.obb.numpy()[0]
    assert got[:4] == pytest.approx(obb[0, :4], abs=1e-3)
    d = (got[4] - obb[0, 4] + math.pi) % (2 * math.pi) - math.pi
    assert abs(d) < 1e-3  # the bow, not only the axis
    assert iou_matrix(obb_to_corners(got[None]), obb_to_corners(obb))[0, 0] > 0.99


def test_touching_hulls_keep_their_own_centres_and_cells():
    # Two 80 x 14 px tankers moored side by side, touching, and a small boat at their bows.
    th = math.radians(20)
    normal = np.array([-math.sin(th), math.cos(th)])
    c0 = np.array([60.0, 60.0])
    c1 = c0 + 14.0 * normal
    obb = np.array([[*c0, 80, 14, th], [*c1, 80, 14, th], [110.0, 90.0, 12.0, 4.0, -2.0]])
    t, dets = boxes_back(obb, types=np.array([0, 0, 1]))
    # Cells next to a centre decode to the same hull; the merge step's NMS removes such copies.
    keep = rotated_nms(obb_to_corners(dets.obb.numpy()), dets.score.numpy(), 0.4)
    got, p_tanker = dets.obb.numpy()[keep], dets.p_tanker.numpy()[keep]
    assert len(got) == 3
    iou = iou_matrix(obb_to_corners(got), obb_to_corners(obb))
    assert (iou.max(axis=0) > 0.95).all()
    assert p_tanker[iou.argmax(axis=0)].round().tolist() == [1, 1, 0]
    # Each hull owns regression cells: nothing is averaged between neighbours.
    assert (t["heat"] >= 1).sum() == 3


def test_centre_outside_tile_gives_no_target_and_loss_is_finite():
    obb = np.array([[-5.0, 40.0, 60.0, 10.0, 0.0]])
    t = encode(obb, np.ones(1, bool), np.zeros(1, int), (64, 64), STRIDE)
    assert float(t["heat"].max()) < 1 and float(t["reg_w"].sum()) == 0
    model = build(ModelConfig())
    out = model(torch.rand(1, 3, 64, 64))
    batch = {k: v[None] for k, v in t.items()}
    loss = detection_loss(out, batch)
    assert all(torch.isfinite(v) for v in loss.values())


def test_unknown_bow_and_type_are_masked():
    obb = np.array([[32.0, 32.0, 40.0, 8.0, 0.0]])
    t = encode(obb, np.zeros(1, bool), np.full(1, -1), (64, 64), STRIDE)
    assert float(t["bow_w"].sum()) == 0 and float(t["type_w"].sum()) == 0 and float(t["reg_w"].sum()) > 0


def test_bow_is_voted_by_cells_fore_and_aft_of_the_centre():
    # A 120 px hull heading along +x whose centre cell is unsure of its bow (a small vector the
    # wrong way), while the cells a fifth of the length fore and aft see it clearly.
    obb = np.array([[64.0, 64.0, 120.0, 16.0, 0.0]])
    t = encode(obb, np.ones(1, bool), np.zeros(1, int), (128, 128), STRIDE)
    out = perfect_output(t)
    out["bow"] = torch.zeros_like(out["bow"])
    centre = (int(64 / STRIDE), int(64 / STRIDE))
    out["bow"][0, 0, centre[0], centre[1]] = -0.2
    for dx_px in (-24, 24):
        out["bow"][0, 0, centre[0], centre[1] + dx_px // STRIDE] = 0.9
    dets = decode(out, STRIDE, score_threshold=0.5)[0]
    assert len(dets.score) == 1
    assert abs(float(dets.obb[0, 4])) < 1e-3  # +x, as the two outer cells say
    assert float(dets.bow_confidence[0]) == pytest.approx((0.9 + 0.9 - 0.2) / 3, abs=1e-5)
