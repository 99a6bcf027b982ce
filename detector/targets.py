"""Training targets for the dense head, and the loss.

Each vessel paints an elliptical Gaussian on the centre heatmap, aligned with its hull (sigma
a sixth of its length and beam in cells, at least 0.6 cell); its centre cell is exactly 1. The
cells where the Gaussian is at least ``REG_MIN`` (and this vessel is the strongest) regress the
vessel's box from their own position, so touching hulls keep their own cells.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

REG_MIN = 0.3
SIGMA_MIN_CELLS = 0.6
# Type codes in the targets: 0 tanker, 1 other vessel, -1 unknown (not trained on).
TYPE_UNKNOWN = -1


def encode(obb: np.ndarray, has_bow: np.ndarray, type_code: np.ndarray, size_px: tuple[int, int], stride: int) -> dict[str, torch.Tensor]:
    """Target maps for one tile.

    ``obb``: (n, 5) cx, cy, length, beam, heading_rad in working pixels; ``has_bow`` (n,) bool;
    ``type_code`` (n,) int (0 tanker, 1 other, -1 unknown); ``size_px`` = (rows, cols) of the
    tile. Returns float tensors at ``rows / stride`` x ``cols / stride``: ``heat`` (1, h, w),
    ``reg`` (8, h, w) offset x/y, log length, log beam, cos 2a, sin 2a, cos h, sin h (cells),
    ``reg_w`` (1, h, w) regression weight, ``bow_w`` and ``type_w`` (1, h, w) masks, ``type`` (1, h, w).
    """
    h, w = size_px[0] // stride, size_px[1] // stride
    heat = np.zeros((h, w), np.float32)
    owner_val = np.zeros((h, w), np.float32)
    reg = np.zeros((8, h, w), np.float32)
    reg_w = np.zeros((h, w), np.float32)
    bow_w = np.zeros((h, w), np.float32)
    type_w = np.zeros((h, w), np.float32)
    type_t = np.zeros((h, w), np.float32)
    for (cx, cy, length, beam, th), bow, tcode in zip(np.asarray(obb, np.float64).reshape(-1, 5), has_bow, type_code):
        gx, gy = cx / stride - 0.5, cy / stride - 0.5  # centre in cell-index units
        ci, cj = int(math.floor(gy + 0.5)), int(math.floor(gx + 0.5))
        if not (0 <= ci < h and 0 <= cj < w):
            continue
        sa = max(length / stride / 6.0, SIGMA_MIN_CELLS)
        sb = max(beam / stride / 6.0, SIGMA_MIN_CELLS)
        reach = int(math.ceil(3 * sa)) + 1
        i0, i1 = max(0, ci - reach), min(h, ci + reach + 1)
        j0, j1 = max(0, cj - reach), min(w, cj + reach + 1)
        yy, xx = np.mgrid[i0:i1, j0:j1].astype(np.float64)
        dx, dy = xx - gx, yy - gy
        c, s = math.cos(th), math.sin(th)
        along, across = dx * c + dy * s, -dx * s + dy * c
        g = np.exp(-0.5 * ((along / sa) ** 2 + (across / sb) ** 2)).astype(np.float32)
        g[ci - i0, cj - j0] = 1.0
        heat[i0:i1, j0:j1] = np.maximum(heat[i0:i1, j0:j1], g)
        mine = (g >= REG_MIN) & (g > owner_val[i0:i1, j0:j1])
        if not mine.any():
            continue
        owner_val[i0:i1, j0:j1][mine] = g[mine]
        a = 2 * th
        values = [
            gx - xx, gy - yy,
            np.full_like(xx, math.log(max(length, 1.0) / stride)), np.full_like(xx, math.log(max(beam, 1.0) / stride)),
            np.full_like(xx, math.cos(a)), np.full_like(xx, math.sin(a)), np.full_like(xx, c), np.full_like(xx, s),
        ]
        for k, v in enumerate(values):
            reg[k, i0:i1, j0:j1][mine] = v[mine]
        reg_w[i0:i1, j0:j1][mine] = g[mine]
        bow_w[i0:i1, j0:j1][mine] = g[mine] if bow else 0.0
        type_w[i0:i1, j0:j1][mine] = g[mine] if tcode >= 0 else 0.0
        type_t[i0:i1, j0:j1][mine] = 1.0 if tcode == 0 else 0.0
    t = torch.from_numpy
    return {"heat": t(heat)[None], "reg": t(reg), "reg_w": t(reg_w)[None], "bow_w": t(bow_w)[None],
            "type_w": t(type_w)[None], "type": t(type_t)[None]}


def focal_heat_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), per vessel centre."""
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = target >= 1.0
    pos_loss = -torch.log(p) * (1 - p) ** 2
    neg_loss = -torch.log(1 - p) * p ** 2 * (1 - target) ** 4
    n_pos = pos.sum().clamp(min=1)
    return (torch.where(pos, pos_loss, neg_loss)).sum() / n_pos


LOSS_WEIGHTS = {"heat": 1.0, "offset": 1.0, "size": 1.0, "axis": 1.0, "bow": 0.5, "type": 0.5}


def detection_loss(out: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor], weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """Loss terms and their weighted sum (``"total"``) for a batch of head outputs and targets.

    ``weights`` overrides entries of ``LOSS_WEIGHTS``.
    """
    w = {**LOSS_WEIGHTS, **(weights or {})}
    reg_w = tgt["reg_w"]
    norm = reg_w.sum().clamp(min=1.0)

    def l1(pred, target, weight, denom):
        return (F.smooth_l1_loss(pred.float(), target, reduction="none", beta=0.1) * weight).sum() / denom

    r = tgt["reg"]
    terms = {
        "heat": focal_heat_loss(out["heat"], tgt["heat"]),
        "offset": l1(out["offset"], r[:, 0:2], reg_w, norm),
        "size": l1(out["size"], r[:, 2:4], reg_w, norm),
        "axis": l1(out["axis"], r[:, 4:6], reg_w, norm),
        "bow": l1(out["bow"], r[:, 6:8], tgt["bow_w"], tgt["bow_w"].sum().clamp(min=1.0)),
        "type": (F.binary_cross_entropy_with_logits(out["type"].float(), tgt["type"], reduction="none") * tgt["type_w"]).sum()
        / tgt["type_w"].sum().clamp(min=1.0),
    }
    terms["total"] = sum(w[k] * v for k, v in terms.items())
    return terms
