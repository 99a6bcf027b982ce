"""Scene-level evaluation: oriented AP50 and AP50:95, recall, length, heading, type and counts.

AP follows COCO: detections of all scenes (down to ``AP_SCORE_FLOOR``) ranked by score, each
matched greedily to the unmatched truth of its scene with the highest IoU at or above the
threshold, precision made monotone and sampled at 101 recall points. IoU is the exact polygon IoU of the oriented boxes
(``geometry.iou_matrix``), not a rasterised mask IoU: hulls at 10 m are a few pixels wide, and
rasterising them would quantise IoU. Truth marked ``ignore`` (under cloud) neither counts as
missed nor makes a detection false. ``tests/test_evaluate.py`` checks this against pycocotools
on axis-aligned boxes.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from torchvision.ops import box_iou

from ..model.geometry import corners_to_obb, iou_matrix

IOU_THRESHOLDS = np.round(np.arange(0.5, 0.96, 0.05), 2)
RECALL_POINTS = np.linspace(0, 1, 101)
# Lowest score a detection needs to be ranked for AP. AP is the area under the whole
# precision-recall curve; cutting it at the operating point (0.3) would drop its low-precision
# tail and understate it. 0.05 is the score_thr of MMRotate's and MMDetection's test configs.
AP_SCORE_FLOOR = 0.05
GSD_BINS_M = ((0.0, 1.0), (1.0, 3.05), (3.05, 6.0), (6.0, 100.0))


@dataclass
class SceneResult:
    """Predictions and truth of one scene, both as (n, 4, 2) corners in scene pixels."""

    name: str
    gsd_m: float  # ground metres per pixel (native)
    pred_corners: np.ndarray
    pred_score: np.ndarray
    pred_p_tanker: np.ndarray
    true_corners: np.ndarray
    true_has_bow: np.ndarray
    true_type: np.ndarray  # 0 tanker, 1 other, -1 unknown
    true_ignore: np.ndarray = field(default=None)
    scene_gsd_m: float | None = None  # metres per pixel of the file (defaults to gsd_m)
    true_box_only: np.ndarray = field(default=None)  # (n,) bool: truth is an axis-aligned box

    def __post_init__(self):
        if self.true_ignore is None:
            self.true_ignore = np.zeros(len(self.true_corners), bool)
        if self.true_box_only is None:
            self.true_box_only = np.zeros(len(self.true_corners), bool)

    @cached_property
    def iou(self) -> np.ndarray:
        """(detections, truth) IoU, computed once for every threshold and summary: oriented IoU,
        except against box-only truth, where the detection's axis-aligned envelope is compared with
        the box (the horizontal-box task of DOTA: all such a label can tell)."""
        boxed = self.true_box_only
        out = np.zeros((len(self.pred_corners), len(self.true_corners)))
        out[:, ~boxed] = iou_matrix(self.pred_corners, self.true_corners[~boxed])
        if boxed.any() and len(self.pred_corners):
            out[:, boxed] = box_iou(_envelope_xyxy(self.pred_corners), _envelope_xyxy(self.true_corners[boxed])).numpy()
        return out


def _envelope_xyxy(corners: np.ndarray) -> torch.Tensor:
    """(n, 4, 2) corners to their axis-aligned envelopes as (n, 4) x0, y0, x1, y1."""
    return torch.from_numpy(np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1))


def match(iou: np.ndarray, scores: np.ndarray, ignore: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """COCO greedy matching in one scene. Returns per detection the matched truth index (-1 none)
    and whether the detection is to be ignored (matched to ignored truth).

    Best first, each detection takes the free real truth with the highest IoU >= ``threshold``;
    failing that, the ignored truth with the highest IoU (which may be shared, as COCO allows).
    """
    taken = np.zeros(iou.shape[1], bool)
    matched = np.full(len(scores), -1)
    ignored = np.zeros(len(scores), bool)
    for d in np.argsort(-scores, kind="stable"):
        for pool in (~ignore & ~taken, ignore):
            cand = np.where(pool & (iou[d] >= threshold), iou[d], -1.0)
            if cand.size and cand.max() >= 0:
                g = int(cand.argmax())
                matched[d], ignored[d] = g, bool(ignore[g])
                taken[g] |= not ignore[g]
                break
    return matched, ignored


def average_precision(results: list[SceneResult], threshold: float) -> float:
    """COCO 101-point AP at one IoU threshold over all scenes; nan when there is no truth."""
    scores, tps, keep = [], [], []
    n_true = 0
    for r in results:
        matched, ignored = match(r.iou, r.pred_score, r.true_ignore, threshold)
        scores.append(r.pred_score)
        tps.append(matched >= 0)
        keep.append(~ignored)
        n_true += int((~r.true_ignore).sum())
    if n_true == 0:
        return float("nan")
    scores, tps, keep = np.concatenate(scores), np.concatenate(tps), np.concatenate(keep)
    scores, tps = scores[keep], tps[keep]
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(tps[order])
    fp = np.cumsum(~tps[order])
    recall = tp / n_true
    precision = tp / np.maximum(tp + fp, np.finfo(float).eps)
    precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.zeros(RECALL_POINTS.size)
    reached = idx < precision.size
    sampled[reached] = precision[idx[reached]]
    return float(np.mean(sampled))


def _angle_diff_deg(a_rad: np.ndarray, b_rad: np.ndarray) -> np.ndarray:
    d = np.abs((a_rad - b_rad + np.pi) % (2 * np.pi) - np.pi)
    return np.degrees(d)


def summarise(results: list[SceneResult], score_threshold: float) -> dict:
    """All metrics for ``results``: AP50, AP50:95, and at ``score_threshold`` recall, precision,
    length MAE and mean signed length error (m; a bias moves every hull class and barrel figure
    the same way, noise mostly cancels), mean relative length error (share of the true length),
    heading error (deg, bow known) and the share of hulls whose bow end is the right one (heading
    within 90 degrees), type accuracy and per-scene counts."""
    out = {"scenes": len(results), "vessels": int(sum((~r.true_ignore).sum() for r in results))}
    out["ap50"] = average_precision(results, 0.5)
    out["ap50_95"] = float(np.mean([average_precision(results, t) for t in IOU_THRESHOLDS])) if out["vessels"] else float("nan")
    tp = fp = fn = 0
    length_err, length_rel, heading_err, type_ok, count_err = [], [], [], [], []
    for r in results:
        sel = r.pred_score >= score_threshold
        pc, ps, pt = r.pred_corners[sel], r.pred_score[sel], r.pred_p_tanker[sel]
        matched, ignored = match(r.iou[sel], ps, r.true_ignore, 0.5)
        real = (matched >= 0) & ~ignored
        tp += int(real.sum())
        fp += int(((matched < 0) & ~ignored).sum())
        fn += int((~r.true_ignore).sum()) - int(real.sum())
        count_err.append(int((~ignored).sum()) - int((~r.true_ignore).sum()))
        if real.any():
            po, to = corners_to_obb(pc[real]), corners_to_obb(r.true_corners[matched[real]])
            sized = ~r.true_box_only[matched[real]]  # a box's long side is not the hull's length
            length_err += list((po[sized, 2] - to[sized, 2]) * (r.scene_gsd_m or r.gsd_m))
            length_rel += list(np.abs(po[sized, 2] - to[sized, 2]) / np.maximum(to[sized, 2], 1e-9))
            bow = r.true_has_bow[matched[real]]
            heading_err += list(_angle_diff_deg(po[bow, 4], to[bow, 4]))
            ttype = r.true_type[matched[real]]
            known = ttype >= 0
            type_ok += list((pt[real][known] >= 0.5) == (ttype[known] == 0))
    out.update(
        score_threshold=score_threshold,
        recall=tp / max(tp + fn, 1), precision=tp / max(tp + fp, 1),
        length_mae_m=float(np.mean(np.abs(length_err))) if length_err else float("nan"),
        length_bias_m=float(np.mean(length_err)) if length_err else float("nan"),
        heading_mae_deg=float(np.mean(heading_err)) if heading_err else float("nan"),
        length_rel_error=float(np.mean(length_rel)) if length_rel else float("nan"),
        heading_within_30deg=float(np.mean(np.asarray(heading_err) <= 30)) if heading_err else float("nan"),
        bow_right=float(np.mean(np.asarray(heading_err) < 90)) if heading_err else float("nan"),
        type_accuracy=float(np.mean(type_ok)) if type_ok else float("nan"),
        count_exact=float(np.mean(np.asarray(count_err) == 0)) if count_err else float("nan"),
        count_mae=float(np.mean(np.abs(count_err))) if count_err else float("nan"),
    )
    return out


LENGTH_BINS_M = ((0.0, 50.0), (50.0, 120.0), (120.0, 240.0), (240.0, math.inf))  # small craft, coastal, Handysize+, carriers


def hulls_by_length(results: list[SceneResult], score_threshold: float, bins_m=LENGTH_BINS_M) -> dict:
    """How each true hull (not ignored) fared at the operating point, by its true length in metres:
    ``whole`` (a detection with oriented IoU >= 0.5), ``split`` (not whole, and two or more
    detections centred on the hull: a long deck read as several short boxes), ``partial`` (the
    best detection overlaps, IoU 0.1-0.5) and ``missed`` (none overlaps by 0.1). ``recall`` is the
    whole share, the field's match at AP50."""
    from shapely import Polygon, contains_xy

    out = {f"{lo:g}-{hi:g}m": {"hulls": 0, "whole": 0, "split": 0, "partial": 0, "missed": 0} for lo, hi in bins_m}
    for r in results:
        if not len(r.true_corners):
            continue
        sel = r.pred_score >= score_threshold
        iou = r.iou[sel]
        centres = r.pred_corners[sel].mean(axis=1) if sel.any() else np.zeros((0, 2))
        lengths_m = corners_to_obb(r.true_corners)[:, 2] * (r.scene_gsd_m or r.gsd_m)
        for j in np.flatnonzero(~r.true_ignore):
            label = next((f"{lo:g}-{hi:g}m" for lo, hi in bins_m if lo <= lengths_m[j] < hi), None)
            if label is None:
                continue
            best = float(iou[:, j].max()) if len(iou) else 0.0
            on_hull = int(contains_xy(Polygon(r.true_corners[j]), centres[:, 0], centres[:, 1]).sum()) if len(centres) else 0
            kind = "whole" if best >= 0.5 else "split" if on_hull >= 2 else "partial" if best >= 0.1 else "missed"
            out[label]["hulls"] += 1
            out[label][kind] += 1
    for row in out.values():
        row["recall"] = row["whole"] / row["hulls"] if row["hulls"] else float("nan")
    return out


def long_side_range(results: list[SceneResult], min_px: float) -> list[SceneResult]:
    """Results restricted to hulls whose long side is at least ``min_px`` image pixels, COCO
    area-range style (as :func:`size_range`, in the image's own pixels: for sets whose GSD is
    uncertain, such as ships-aerial, where a size in metres would be a guess)."""
    return [_length_range(r, min_px, 1.0) for r in results]


def _length_range(r: SceneResult, min_length: float, unit: float) -> SceneResult:
    """``r`` with truth shorter than ``min_length`` ignored and shorter detections dropped, lengths
    being pixels times ``unit`` (metres per pixel, or 1 for pixels)."""
    keep = corners_to_obb(r.pred_corners)[:, 2] * unit >= min_length if len(r.pred_corners) else np.zeros(0, bool)
    short = corners_to_obb(r.true_corners)[:, 2] * unit < min_length if len(r.true_corners) else np.zeros(0, bool)
    return SceneResult(r.name, r.gsd_m, r.pred_corners[keep], r.pred_score[keep], r.pred_p_tanker[keep], r.true_corners,
                       r.true_has_bow, r.true_type, r.true_ignore | short, r.scene_gsd_m, r.true_box_only)


def size_range(results: list[SceneResult], min_length_m: float) -> list[SceneResult]:
    """Results restricted to hulls of at least ``min_length_m``, the way COCO scores an area range:
    shorter truth is ignored (neither missed nor making a detection false), shorter detections dropped.

    For data sets that label only ships above some size (sen2ships labels none under about 40 m),
    and for our own question: the smallest tanker class starts at 55 m.
    """
    return [_length_range(r, min_length_m, r.scene_gsd_m or r.gsd_m) for r in results]


def evaluate(results: list[SceneResult], score_threshold: float = 0.3, min_length_m: float = 0.0) -> dict:
    """Metrics over all scenes and broken down by native GSD bin (``GSD_BINS_M``), for hulls of
    at least ``min_length_m`` (all when 0)."""
    if min_length_m > 0:
        results = size_range(results, min_length_m)
    report = {"min_length_m": min_length_m, "all": summarise(results, score_threshold), "by_gsd": {}}
    for lo, hi in GSD_BINS_M:
        part = [r for r in results if lo <= r.gsd_m < hi]
        if part:
            report["by_gsd"][f"{lo:g}-{hi:g}m"] = summarise(part, score_threshold)
    return report
