"""Score checkpoints on the validation splits that training never sees (the model card's figures).

Splits (data from ``../shared/data``; a split whose data is absent is skipped):

- ``harbours-test``: harbours-ge group ``test`` (80 Google Earth harbour images, 662 vessels with bow);
- ``sen2ships-heldout``: the sen2ships ports cartagena, klang and valencia (Sentinel-2, 10 m);
- ``aerial-holdout``: ships-aerial, the 15 % of whole sources picked by ``--holdout-share 0.15``
  (axis-aligned truth, scored against the envelopes of the detections), also by group;
- ``synth-fine`` and ``synth-10m``: synthetic scenes of seeds never trained on (seed 7 at 0.3-3 m,
  seed 8 at 10 m, 40 each), rendered once into ``--cache-dir``.

Prints one row per checkpoint and split, and writes them all as JSON with ``--json``.

``--store-recall OUT.pt`` also measures the recall ``infer.py --events`` needs (``detector/train/berth_recall.py``):
two seasons of clips around the oil berth (seeds ``bench/seasons.CALIBRATION_SEEDS``, busier
than usual so that many hulls are seen) run through the pipeline; in each look the clear-look
rule calls clear, each true tanker at the berth is found or not. The counts by GSD band go into a
copy of the (one) checkpoint at OUT.pt, which ``infer.py --events`` then uses by default.

    python bench/eval_splits.py models/vostochny_default.pt --threads 2
    python bench/eval_splits.py runs/x/model.pt --splits --store-recall runs/x/model-recall.pt
    python bench/eval_splits.py runs/cmp/resnet18-init/last.pt runs/cmp/regnet-scratch/last.pt --splits harbours-test aerial-holdout --json runs/cmp/eval.json
    python bench/eval_splits.py models/vostochny_default.pt --splits sen2ships-heldout synth-10m --work-gsd-max 10
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detector.infer.predict import PredictConfig  # noqa: E402
from detector.io.atomic import write_text_atomic  # noqa: E402
from detector.model.routed import load_detector  # noqa: E402
from detector.train.engine import evaluate_detector  # noqa: E402
from detector.train.evaluate import hulls_by_length, long_side_range, summarise  # noqa: E402
from detector.train.labels import read_coco, read_truth_dir  # noqa: E402
from detector.train.sources import select_groups, select_holdout  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
HELD_OUT_PORTS = ["cartagena", "klang", "valencia"]
AERIAL_HOLDOUT_SHARE = 0.15
AERIAL_MIN_PX = 40  # issue 27's target counts ships-aerial boxes whose long side is 40 px or more
SPLITS = ("harbours-test", "sen2ships-heldout", "aerial-holdout", "synth-fine", "synth-10m")
COLUMNS = ("ap50", "recall", "precision", "length_mae_m", "length_rel_error", "bow_right", "heading_mae_deg", "type_accuracy")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", type=Path, default=[ROOT / "models" / "vostochny_default.pt"])
    p.add_argument("--splits", nargs="*", default=list(SPLITS), choices=SPLITS, help="none: only --store-recall")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--score-threshold", type=float, default=PredictConfig.score_threshold)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / "cache")
    p.add_argument("--json", type=Path, default=None, help="also write every row here")
    p.add_argument("--work-gsd-max", type=float, default=None, metavar="M",
                   help="score the models reading coarser scenes at M metres instead of their config's ceiling")
    p.add_argument("--no-amp", action="store_true", help="float32 inference (default: bfloat16 on CPUs with native bf16)")
    p.add_argument("--tta", action="store_true", help="also read each tile mirrored and average the maps (infer.py --tta)")
    p.add_argument("--store-recall", type=Path, default=None, metavar="OUT.pt",
                   help="measure the loading-berth recall and write a copy of the checkpoint carrying it here")
    return p


def measure_recall(model: Path, out: Path, cache_dir: Path, threads: int, amp: bool, tta: bool = False) -> None:
    """The events step's recall on the calibration seasons, stored in a copy of ``model`` at ``out``."""
    import tempfile
    from datetime import datetime, timezone

    import seasons

    from detector.infer.pipeline import InferConfig
    from detector.train.berth_recall import MATCH_DISTANCE_M, berth_recall, store_recall

    start, end = datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 7, 30, tzinfo=timezone.utc)
    truth, dets, looks = [], [], []
    for seed in seasons.CALIBRATION_SEEDS:
        scene_dir = seasons.render(cache_dir, seed, start, end, nk_visits=70)
        with tempfile.TemporaryDirectory() as tmp:
            seasons.infer(scene_dir, model, Path(tmp), threads, events=False, amp=amp, tta=tta)
            # Scene names are times and sensors, which two seeds could share: tell them apart.
            for rows, path in ((truth, scene_dir / "truth.csv"), (dets, Path(tmp) / "detections.csv"), (looks, Path(tmp) / "counts.csv")):
                rows += [{**r, "scene": f"{seed}/{r['scene']}"} for r in seasons.read_rows(path)]
    source = (f"measured on synthetic seasons (seeds {', '.join(map(str, seasons.CALIBRATION_SEEDS))}, "
              f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, clips around the oil berth{', tiles read mirrored too' if tta else ''})")
    recall = berth_recall(truth, dets, looks, {"oil_berth"}, InferConfig.min_clear_share, source=source)
    store_recall(model, out, recall, score_threshold=PredictConfig.score_threshold, min_clear_share=InferConfig.min_clear_share,
                 match_distance_m=MATCH_DISTANCE_M, tta=tta)
    print(f"{out}: {recall.describe()}")


def split_scenes(name: str, cache_dir: Path):
    """The labelled scenes of a validation split, or None when its data is absent."""
    if name == "harbours-test":
        labels = DATA / "harbours-ge" / "labels.json"
        return select_groups(read_coco(labels), ["test"]) if labels.is_file() else None
    if name == "sen2ships-heldout":
        labels = DATA / "sen2ships" / "labels.json"
        return select_groups(read_coco(labels), HELD_OUT_PORTS) if labels.is_file() else None
    if name == "aerial-holdout":
        labels = DATA / "ships-aerial" / "labels.json"
        return select_holdout(read_coco(labels), AERIAL_HOLDOUT_SHARE, held_out=True) if labels.is_file() else None
    from detector.synth.training import write_set

    if name == "synth-fine":
        return read_truth_dir(write_set(cache_dir / "synth-test-fine-s7-n40", 7, 40, gsd_range_m=(0.3, 3.0), context=1.6,
                                        min_render_gsd_m=0.3, workers=1, progress=False))
    return read_truth_dir(write_set(cache_dir / "synth-test-10m-s8-n40", 8, 40, gsd_range_m=(10.0, 10.0), context=2.0,
                                    min_render_gsd_m=0.3, workers=1, progress=False))


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}" if isinstance(v, float) else str(v)


def report_split(model: str, name: str, scenes, results, seconds: float, score_threshold: float) -> list[dict]:
    """Print the rows of one model on one split (ships-aerial also by group and for boxes of
    ``AERIAL_MIN_PX`` or more; the others by hull length) and return them for ``--json``."""
    rows = []
    parts = {"all": summarise(results, score_threshold)}
    if name == "aerial-holdout":  # by group: each sensor family on its own; the hulls that matter here
        by_group = {}
        for ls, r in zip(scenes, results):
            by_group.setdefault(ls.group, []).append(r)
        parts.update({g: summarise(rs, score_threshold) for g, rs in sorted(by_group.items())})
        parts[f"long-side>={AERIAL_MIN_PX}px"] = summarise(long_side_range(results, AERIAL_MIN_PX), score_threshold)
    for part, s in parts.items():
        label = name if part == "all" else f"{name}/{part}"
        images = len(scenes) if part == "all" else s["scenes"]
        print(f"{model} | {label} | {images} | {s['vessels']} | " + " | ".join(_fmt(s.get(c)) for c in COLUMNS)
              + f" | {seconds:.0f}" * (part == "all"), flush=True)
        rows.append({"model": model, "split": label, **{k: v for k, v in s.items() if not isinstance(v, dict)}})
    if name != "aerial-holdout":  # box-only truth gives no hull length
        lengths = hulls_by_length(results, score_threshold)
        print(f"{model} | {name} | by hull length at score {score_threshold}: " + "; ".join(
            f"{k}: {v['hulls']} hulls, {v['whole']} whole, {v['split']} split, {v['partial']} partial, {v['missed']} missed"
            for k, v in lengths.items() if v["hulls"]), flush=True)
        rows.append({"model": model, "split": f"{name}/by-length", "by_length": lengths})
    return rows


def main(args) -> None:
    torch.set_num_threads(args.threads)
    splits = {name: split_scenes(name, args.cache_dir) for name in args.splits}
    rows = []
    print("model | split | images | vessels | " + " | ".join(COLUMNS) + " | seconds")
    for path in args.models:
        detector = load_detector(path)
        if args.work_gsd_max is not None:
            detector = detector.map_configs(lambda cfg: replace(cfg, work_gsd_max_m=args.work_gsd_max))
        for name, scenes in splits.items():
            if scenes is None:
                print(f"{path} | {name} | skipped: data absent")
                continue
            t0 = time.perf_counter()
            _, results = evaluate_detector(detector, scenes, PredictConfig(score_threshold=args.score_threshold, amp=not args.no_amp, tta=args.tta),
                                              progress=False)
            seconds = time.perf_counter() - t0
            rows += report_split(str(path), name, scenes, results, seconds, args.score_threshold)
    if args.store_recall is not None:
        if len(args.models) != 1:
            raise SystemExit("--store-recall takes one model")
        if args.work_gsd_max is not None:
            raise SystemExit("--store-recall measures the checkpoint as it is: retrain or fine-tune with train.py --work-gsd-max")
        measure_recall(args.models[0], args.store_recall, args.cache_dir, args.threads, not args.no_amp, args.tta)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.json, json.dumps(rows, indent=1, default=float))
    print(f"# reproduce: python bench/eval_splits.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
