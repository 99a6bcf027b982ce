"""Oriented AP agrees with pycocotools on axis-aligned boxes; other metrics mean what they say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.model.geometry import obb_to_corners
from detector.train.evaluate import IOU_THRESHOLDS, SceneResult, average_precision, summarise


def _aabb_corners(xywh):
    x, y, w, h = np.asarray(xywh, float).T
    return np.stack([np.stack([x, y], 1), np.stack([x + w, y], 1), np.stack([x + w, y + h], 1), np.stack([x, y + h], 1)], 1)


def _random_case(seed):
    rng = np.random.default_rng(seed)
    scenes = []
    for k in range(4):
        n = int(rng.integers(1, 8))
        gt = np.column_stack([rng.uniform(0, 200, n), rng.uniform(0, 200, n), rng.uniform(8, 60, n), rng.uniform(4, 20, n)])
        preds = []
        for g in gt:
            if rng.random() < 0.8:
                preds.append(g + rng.normal(0, [2, 2, 3, 2]))
        for _ in range(int(rng.integers(0, 4))):
            preds.append([rng.uniform(0, 200), rng.uniform(0, 200), rng.uniform(8, 60), rng.uniform(4, 20)])
        preds = np.abs(np.asarray(preds, float).reshape(-1, 4)) + [0, 0, 1, 1]
        scores = rng.uniform(0.05, 1.0, len(preds))
        scenes.append((gt, preds, scores))
    return scenes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_matches_pycocotools_on_axis_aligned_boxes(seed):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    case = _random_case(seed)
    images, anns, dets, results = [], [], [], []
    for i, (gt, preds, scores) in enumerate(case):
        images.append({"id": i, "width": 300, "height": 300})
        for g in gt:
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "bbox": g.tolist(), "area": float(g[2] * g[3]), "iscrowd": 0})
        for p, s in zip(preds, scores):
            dets.append({"image_id": i, "category_id": 1, "bbox": p.tolist(), "score": float(s)})
        results.append(SceneResult(f"s{i}", 1.0, _aabb_corners(preds), scores, np.zeros(len(preds)), _aabb_corners(gt),
                                   np.zeros(len(gt), bool), np.full(len(gt), -1)))
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "vessel"}]}
    coco.createIndex()
    ev = COCOeval(coco, coco.loadRes(dets), "bbox")
    ev.params.maxDets = [1, 10, 1000]
    ev.params.areaRng = [[0, 1e10]] * 4
    ev.evaluate()
    ev.accumulate()
    ours50 = average_precision(results, 0.5)
    ours = np.mean([average_precision(results, t) for t in IOU_THRESHOLDS])
    theirs50 = float(np.mean(ev.eval["precision"][0, :, 0, 0, 2]))
    theirs = float(np.mean(ev.eval["precision"][:, :, 0, 0, 2]))
    assert ours50 == pytest.approx(theirs50, abs=1e-9)
    assert ours == pytest.approx(theirs, abs=1e-9)


def _scene(pred_obb, true_obb, scores, gsd=2.0, ignore=None, p_tanker=None, types=None):
    return SceneResult("s", gsd, obb_to_corners(pred_obb), np.asarray(scores, float),
                       np.asarray(p_tanker if p_tanker is not None else np.ones(len(pred_obb))),
                       obb_to_corners(true_obb), np.ones(len(true_obb), bool),
                       np.asarray(types if types is not None else np.zeros(len(true_obb), int)),
                       None if ignore is None else np.asarray(ignore, bool))


def test_perfect_detections_and_metric_units():
    true = np.array([[50, 50, 40, 8, 0.2], [150, 80, 30, 6, 2.5]])
    pred = true + [[0, 0, 2.0, 0, math.pi], [0, 0, -1.0, 0, 0]]  # first: bow reversed, 2 px long
    r = summarise([_scene(pred, true, [0.9, 0.8], gsd=3.0, p_tanker=[0.9, 0.2])], 0.5)
    assert r["ap50"] == pytest.approx(1.0)
    assert r["recall"] == 1.0 and r["precision"] == 1.0
    assert r["length_mae_m"] == pytest.approx((2.0 + 1.0) / 2 * 3.0)
    assert r["length_bias_m"] == pytest.approx((2.0 - 1.0) / 2 * 3.0)  # one 6 m long, one 3 m short
    assert r["heading_mae_deg"] == pytest.approx(90.0)  # 180 and 0
    assert r["type_accuracy"] == 0.5
    assert r["count_exact"] == 1.0


def test_ignored_truth_neither_missed_nor_false():
    true = np.array([[50, 50, 40, 8, 0.0], [150, 80, 30, 6, 0.0]])
    only_first = summarise([_scene(true[:1], true, [0.9], ignore=[False, True])], 0.5)
    both = summarise([_scene(true, true, [0.9, 0.8], ignore=[False, True])], 0.5)
    assert only_first["ap50"] == both["ap50"] == pytest.approx(1.0)
    assert only_first["recall"] == both["recall"] == 1.0 and both["precision"] == 1.0


def test_false_positive_and_miss_lower_ap_and_counts():
    true = np.array([[50, 50, 40, 8, 0.0], [150, 80, 30, 6, 0.0]])
    pred = np.array([[50, 50, 40, 8, 0.0], [250, 250, 30, 6, 0.0]])
    r = summarise([_scene(pred, true, [0.5, 0.9])], 0.3)
    assert r["ap50"] < 0.6 and r["recall"] == 0.5 and r["precision"] == 0.5
    assert r["count_mae"] == 0.0  # two found, two there: a right count can still hide a miss


def test_size_range_ignores_short_truth_and_drops_short_detections():
    from detector.train.evaluate import evaluate

    true = np.array([[50, 50, 40, 8, 0.0], [150, 80, 10, 3, 0.0]])  # 80 m and 20 m at 2 m/px
    pred = np.array([[50, 50, 40, 8, 0.0], [250, 250, 12, 3, 0.0]])  # the big one, and a short false one
    r = [_scene(pred, true, [0.9, 0.95])]
    everything = evaluate(r, 0.3)["all"]
    big = evaluate(r, 0.3, min_length_m=50.0)["all"]
    assert everything["ap50"] < 1.0 and everything["recall"] == 0.5
    assert big["ap50"] == pytest.approx(1.0) and big["recall"] == 1.0 and big["vessels"] == 1


def test_hulls_by_length_tells_whole_split_partial_and_missed_hulls():
    from detector.model.geometry import obb_to_corners
    from detector.train.evaluate import SceneResult, hulls_by_length, long_side_range

    # At 1 m a pixel: a 300 m carrier read as two 140 m boxes, a 100 m tanker found whole, a
    # 60 m one overlapped by a box a third its length, a 30 m boat missed.
    truth = obb_to_corners(np.array([[400, 100, 300, 40, 0], [400, 300, 100, 16, 0], [400, 500, 60, 10, 0], [100, 700, 30, 6, 0]], float))
    preds = obb_to_corners(np.array([[325, 100, 140, 40, 0], [475, 100, 140, 40, 0], [400, 300, 98, 16, 0], [380, 500, 20, 10, 0]], float))
    r = SceneResult("s", 1.0, preds, np.array([0.9, 0.8, 0.9, 0.6]), np.full(4, 0.5), truth, np.ones(4, bool), np.zeros(4, int))
    got = hulls_by_length([r], 0.5)
    assert got["240-infm"] == {"hulls": 1, "whole": 0, "split": 1, "partial": 0, "missed": 0, "recall": 0.0}
    assert got["50-120m"]["whole"] == 1 and got["50-120m"]["partial"] == 1 and got["50-120m"]["hulls"] == 2
    assert got["0-50m"]["missed"] == 1
    # At a higher operating point the weaker half of the carrier drops out: no longer split.
    assert hulls_by_length([r], 0.85)["240-infm"]["partial"] == 1
    # Long sides of 40 px or more: the 30 px boat is ignored, not missed, and short detections go.
    long = long_side_range([r], 40)[0]
    assert long.true_ignore.tolist() == [False, False, False, True] and len(long.pred_corners) == 3
