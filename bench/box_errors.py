"""What keeps AP50 down on a split: missed hulls, or boxes that find the hull but miss IoU 0.5?

For one checkpoint and one split (``bench/eval_splits.py`` names), prints:

- AP at IoU 0.1, 0.3, 0.5 and 0.7: a wide gap between 0.3 and 0.5 means the hulls are found and
  the boxes disagree with the labels;
- on splits with oriented labels (not ships-aerial's boxes), for the detections at the operating
  point (0.3) that overlap a labelled hull (IoU >= 0.1), the share that reach IoU 0.5, and that
  share again with one part of each box replaced by the label's (centre across the axis, centre
  along it, length, beam, angle): the part whose replacement helps most is what to train or
  label better;
- the predicted beam and length against the labelled ones (median ratio), and the share of
  labelled beams that sit at the data set's clip of length / 12 (harbours-ge's beams are
  estimated from its axis-aligned boxes and clipped to length/12..length/4: README).

    python train.py --unroute models/vostochny_default.pt --export runs/nets   # one network a file; route0.pt reads < 6 m
    python bench/box_errors.py runs/nets/route0.pt --split harbours-test --threads 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_splits import SPLITS, split_scenes  # noqa: E402

from detector.infer.predict import PredictConfig  # noqa: E402
from detector.model.geometry import corners_to_obb, obb_to_corners, paired_iou  # noqa: E402
from detector.model.network import load_model  # noqa: E402
from detector.train.engine import evaluate_model  # noqa: E402
from detector.train.evaluate import average_precision, match  # noqa: E402

OVERLAP_IOU = 0.1  # a detection "on" a labelled hull: it overlaps it at all


def pairs(results, score_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, 5) predicted and labelled boxes of the detections at ``score_threshold`` that overlap a
    labelled hull, matched the COCO way at IoU ``OVERLAP_IOU``."""
    pred, true = [], []
    for r in results:
        keep = r.pred_score >= score_threshold
        if not keep.any() or not len(r.true_corners):
            continue
        matched, ignored = match(r.iou[keep], r.pred_score[keep], r.true_ignore, OVERLAP_IOU)
        hit = (matched >= 0) & ~ignored & ~r.true_box_only[np.maximum(matched, 0)]
        pred.append(corners_to_obb(r.pred_corners[keep][hit]))
        true.append(corners_to_obb(r.true_corners[matched[hit]]))
    return np.concatenate(pred), np.concatenate(true)


def pass_share(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of pairs whose oriented IoU reaches 0.5."""
    return float(np.mean(paired_iou(obb_to_corners(pred), obb_to_corners(true)) >= 0.5))


def centre_offsets(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The labelled hull's unit axis and normal (n, 2), and the predicted centre's offset from the
    labelled one along each (n,), in pixels."""
    axis = np.stack([np.cos(true[:, 4]), np.sin(true[:, 4])], axis=1)
    normal = np.stack([-axis[:, 1], axis[:, 0]], axis=1)
    offset = pred[:, :2] - true[:, :2]
    return axis, normal, (offset * axis).sum(1), (offset * normal).sum(1)


def with_label_part(pred: np.ndarray, true: np.ndarray, part: str) -> np.ndarray:
    """``pred`` with one part of each box taken from the label."""
    out = pred.copy()
    axis, normal, along, across = centre_offsets(pred, true)
    if part == "centre across the axis":
        out[:, :2] = true[:, :2] + along[:, None] * axis
    elif part == "centre along the axis":
        out[:, :2] = true[:, :2] + across[:, None] * normal
    else:
        k = {"length": 2, "beam": 3, "angle": 4}[part]
        out[:, k] = true[:, k]
    return out


def main(args) -> None:
    torch.set_num_threads(args.threads)
    scenes = split_scenes(args.split, args.cache_dir)
    if scenes is None:
        raise SystemExit(f"{args.split}: data absent")
    model, cfg, _ = load_model(args.model)
    _, results = evaluate_model(model, cfg, scenes, PredictConfig(score_threshold=args.score_threshold), progress=False)
    print(f"{args.model} | {args.split} | " + " | ".join(f"AP@{t:g} {average_precision(results, t):.3f}" for t in (0.1, 0.3, 0.5, 0.7)))
    pred, true = pairs(results, args.score_threshold)
    if not len(pred):  # ships-aerial: boxes only, AP compares envelopes
        print("no detection overlaps a labelled oriented hull: AP only")
        return
    print(f"detections on a labelled hull (IoU >= {OVERLAP_IOU:g}, score >= {args.score_threshold:g}): {len(pred)}; "
          f"reaching IoU 0.5: {pass_share(pred, true):.3f}")
    for part in ("centre across the axis", "centre along the axis", "length", "beam", "angle"):
        print(f"  with the label's {part}: {pass_share(with_label_part(pred, true, part), true):.3f}")
    across = np.abs(centre_offsets(pred, true)[3])
    print(f"median predicted/labelled length {np.median(pred[:, 2] / true[:, 2]):.2f}, beam {np.median(pred[:, 3] / true[:, 3]):.2f}; "
          f"centre across the axis off by a median {np.median(across / true[:, 3]):.2f} labelled beams; "
          f"labelled beams at length/12 (+-1 %): {np.mean(np.abs(true[:, 2] / true[:, 3] - 12) < 0.12):.2f}")
    print(f"# reproduce: python bench/box_errors.py {' '.join(sys.argv[1:])}")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--split", default="harbours-test", choices=SPLITS)
    p.add_argument("--score-threshold", type=float, default=PredictConfig.score_threshold)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / "cache")
    return p


if __name__ == "__main__":
    main(get_args_parser().parse_args())
