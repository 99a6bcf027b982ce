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


# Weight of the beam in the size loss where the beam is an estimate, not a measurement.
ESTIMATED_BEAM_WEIGHT = 0.25


def encode(obb: np.ndarray, has_bow: np.ndarray, type_code: np.ndarray, size_px: tuple[int, int], stride: int,
           box_only: np.ndarray | None = None, beam_known: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """Target maps for one tile.

    ``obb``: (n, 5) cx, cy, length, beam, heading_rad in working pixels; ``has_bow`` (n,) bool;
    ``type_code`` (n,) int (0 tanker, 1 other, -1 unknown); ``size_px`` = (rows, cols) of the
    tile; ``box_only`` (n,) bool marks axis-aligned boxes whose hull angle and size are unknown
    (they teach the centre and, through the envelope loss, the extent); ``beam_known`` (n,) bool
    is False where the beam is an estimate. Returns float tensors at ``rows / stride`` x
    ``cols / stride``: ``heat`` (1, h, w), ``reg`` (8, h, w) offset x/y, log length, log beam,
    cos 2a, sin 2a, cos h, sin h (cells), ``reg_w`` (1, h, w) offset weight (every vessel),
    ``obb_w`` and ``beam_w`` (1, h, w) weights of the oriented terms and of the beam, ``env``
    (2, h, w) log width and height of the axis-aligned envelope (cells) with ``env_w``, and the
    ``bow_w``, ``type_w`` masks and ``type`` (1, h, w).
    """
    n = len(np.asarray(obb).reshape(-1, 5))
    box_only = np.zeros(n, bool) if box_only is None else np.asarray(box_only, bool)
    beam_known = np.ones(n, bool) if beam_known is None else np.asarray(beam_known, bool)
    h, w = size_px[0] // stride, size_px[1] // stride
    heat = np.zeros((h, w), np.float32)
    owner_val = np.zeros((h, w), np.float32)
    reg = np.zeros((8, h, w), np.float32)
    reg_w = np.zeros((h, w), np.float32)
    obb_w = np.zeros((h, w), np.float32)
    beam_w = np.zeros((h, w), np.float32)
    env = np.zeros((2, h, w), np.float32)
    env_w = np.zeros((h, w), np.float32)
    bow_w = np.zeros((h, w), np.float32)
    type_w = np.zeros((h, w), np.float32)
    type_t = np.zeros((h, w), np.float32)
    rows = zip(np.asarray(obb, np.float64).reshape(-1, 5), has_bow, type_code, box_only, beam_known)
    for (cx, cy, length, beam, th), bow, tcode, boxed, beam_ok in rows:
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
        if boxed:
            ex, ey = envelope_px(length, beam, th)
            env[0, i0:i1, j0:j1][mine] = math.log(max(ex, 1.0) / stride)
            env[1, i0:i1, j0:j1][mine] = math.log(max(ey, 1.0) / stride)
            env_w[i0:i1, j0:j1][mine] = g[mine]
        else:
            obb_w[i0:i1, j0:j1][mine] = g[mine]
            beam_w[i0:i1, j0:j1][mine] = g[mine] * (1.0 if beam_ok else ESTIMATED_BEAM_WEIGHT)
        bow_w[i0:i1, j0:j1][mine] = g[mine] if bow and not boxed else 0.0
        type_w[i0:i1, j0:j1][mine] = g[mine] if tcode >= 0 else 0.0
        type_t[i0:i1, j0:j1][mine] = 1.0 if tcode == 0 else 0.0
    t = torch.from_numpy
    return {"heat": t(heat)[None], "reg": t(reg), "reg_w": t(reg_w)[None], "obb_w": t(obb_w)[None],
            "beam_w": t(beam_w)[None], "env": t(env), "env_w": t(env_w)[None], "bow_w": t(bow_w)[None],
            "type_w": t(type_w)[None], "type": t(type_t)[None]}


def envelope_px(length: float, beam: float, heading_rad: float) -> tuple[float, float]:
    """Width and height of the axis-aligned envelope of an oriented box (same units as its sides)."""
    c, s = abs(math.cos(heading_rad)), abs(math.sin(heading_rad))
    return length * c + beam * s, length * s + beam * c


def predicted_envelope(size: torch.Tensor, axis: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Log width and height (B, 2, h, w) of the envelope of the predicted oriented boxes.

    ``size``: log length and log beam; ``axis``: (cos 2a, sin 2a), not necessarily of unit norm.
    |cos a| and |sin a| come from cos 2a by the half-angle identities, which keeps the gradient
    smooth where atan2 would not be (H2RBox's envelope supervision, written for this head).
    """
    length, beam = torch.exp(size[:, 0:1].float().clamp(-3, 6)), torch.exp(size[:, 1:2].float().clamp(-3, 6))
    c2 = axis[:, 0:1].float() / torch.sqrt(axis[:, 0:1].float() ** 2 + axis[:, 1:2].float() ** 2 + eps)
    cos_a = torch.sqrt((1 + c2) / 2 + eps)
    sin_a = torch.sqrt((1 - c2) / 2 + eps)
    return torch.log(torch.cat([length * cos_a + beam * sin_a, length * sin_a + beam * cos_a], dim=1))


def focal_heat_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), per vessel centre."""
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = target >= 1.0
    pos_loss = -torch.log(p) * (1 - p) ** 2
    neg_loss = -torch.log(1 - p) * p ** 2 * (1 - target) ** 4
    n_pos = pos.sum().clamp(min=1)
    return (torch.where(pos, pos_loss, neg_loss)).sum() / n_pos


LOSS_WEIGHTS = {"heat": 1.0, "offset": 1.0, "size": 1.0, "axis": 1.0, "bow": 0.5, "type": 0.5, "envelope": 1.0}


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
    obb_w = tgt["obb_w"]
    obb_norm = obb_w.sum().clamp(min=1.0)
    env_w = tgt["env_w"]
    terms = {
        "heat": focal_heat_loss(out["heat"], tgt["heat"]),
        "offset": l1(out["offset"], r[:, 0:2], reg_w, norm),
        "size": l1(out["size"][:, 0:1], r[:, 2:3], obb_w, obb_norm) + l1(out["size"][:, 1:2], r[:, 3:4], tgt["beam_w"], obb_norm),
        "axis": l1(out["axis"], r[:, 4:6], obb_w, obb_norm),
        "envelope": l1(predicted_envelope(out["size"], out["axis"]), tgt["env"], env_w, env_w.sum().clamp(min=1.0)),
        "bow": l1(out["bow"], r[:, 6:8], tgt["bow_w"], tgt["bow_w"].sum().clamp(min=1.0)),
        "type": (F.binary_cross_entropy_with_logits(out["type"].float(), tgt["type"], reduction="none") * tgt["type_w"]).sum()
        / tgt["type_w"].sum().clamp(min=1.0),
    }
    terms["total"] = sum(w[k] * v for k, v in terms.items())
    return terms
