"""The honest peer on real data: Ultralytics YOLO11n-OBB (built from its YAML, no weights
downloaded) trained from scratch on the real mix ``train.py`` learns from, for a wall-time budget,
and scored by our evaluator on the validation splits of ``bench/eval_splits.py``.

YOLO trains on tiles of the scenes read at the working GSD our model sees, each source listed
as often as its ``@w`` asks (``bench/yolo_data.py --tile-px``). For scoring, each held-out scene
is read the same way and predicted whole (a scene smaller than ``--imgsz`` is scaled up to it,
as YOLO's own training scales it; a larger one is read at its own size, the scale of the tiles).
Its boxes go back to scene pixels and through ``detector.train.evaluate``: exact polygon IoU,
COCO 101-point AP50 over every box scoring 0.05 or more, recall at 0.3, as our model is scored.

    python bench/yolo_data.py coco:../shared/data/harbours-ge/labels.json@0.2 coco:../shared/data/ships-aerial/labels.json@0.2 \\
        coco:../shared/data/sen2ships/labels.json@0.35 synth:400:1000@0.25 --exclude-groups test validate cartagena klang valencia \\
        --holdout-share 0.15 --tile-px 416 --out outputs/bench/yolo/real
    python bench/yolo_real.py train --minutes 60 --threads 1 --name real60
    python bench/yolo_real.py score --name real60 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import eval_splits  # noqa: E402

YOLO_DIR = ROOT / "outputs" / "bench" / "yolo"
SCORE_FLOOR = 0.05  # as our AP: every detection scoring this or more is ranked


def train(data_dir: Path, minutes: float, name: str, seed: int, imgsz: int, threads: int) -> Path:
    """Train YOLO11n-OBB from scratch on ``data_dir/train.txt`` for ``minutes`` of wall time;
    returns the last weights. An epoch of the weighted list is longer than an hour on a CPU
    thread, so YOLO's default warm-up of 3 epochs would be the whole budget: it is set to
    YOLO's floor of 100 steps instead (``warmup_epochs`` 0.05), and the learning rate holds at
    YOLO's ``lr0`` after it (its schedule decays by epoch)."""
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(threads)
    # YOLO validates once before it saves its weights, even with val=False; on the whole list that
    # took longer than the hour of training, so it gets 16 images (the scoring is ours, below).
    listed = (data_dir / "train.txt").read_text().split()
    (data_dir / "val.txt").write_text("\n".join(listed[:: max(1, len(listed) // 16)][:16]) + "\n")
    (data_dir / "data.yaml").write_text(f"path: {data_dir}\ntrain: train.txt\nval: val.txt\nnames:\n  0: vessel\n")
    model = YOLO("yolo11n-obb.yaml")
    t0 = time.perf_counter()
    model.train(data=str(data_dir / "data.yaml"), epochs=1000, time=minutes / 60.0, imgsz=imgsz, batch=16, workers=0,
                device="cpu", plots=False, val=False, amp=False, pretrained=False, seed=seed, deterministic=True,
                warmup_epochs=0.05, project=str(YOLO_DIR / "runs"), name=name, exist_ok=True, verbose=False)
    print(f"trained {(time.perf_counter() - t0) / 60:.1f} min")
    return YOLO_DIR / "runs" / name / "weights" / "last.pt"


def predict(model, ls, imgsz: int):
    """YOLO's oriented boxes (corners in scene pixels) and scores on one labelled scene, and the
    scene file's GSD in metres."""
    from yolo_data import scene_image

    rgb, sx, sy, gsd_m = scene_image(ls, max_px=None)
    size = max(imgsz, int(np.ceil(max(rgb.shape[1:]) / 32) * 32))
    bgr = np.ascontiguousarray(rgb.transpose(1, 2, 0)[..., ::-1])  # Ultralytics reads arrays as OpenCV's BGR
    r = model.predict(bgr, imgsz=size, conf=SCORE_FLOOR, max_det=1000, device="cpu", verbose=False)[0]
    if r.obb is None or not len(r.obb):
        return np.zeros((0, 4, 2)), np.zeros(0), gsd_m
    return r.obb.xyxyxyxy.cpu().numpy().reshape(-1, 4, 2) / [sx, sy], r.obb.conf.cpu().numpy(), gsd_m


def score(weights: Path, splits: list[str], imgsz: int, threads: int) -> None:
    """Rows as ``bench/eval_splits.py`` prints them, for the YOLO weights."""
    import torch
    from ultralytics import YOLO

    from detector.infer.predict import PredictConfig
    from detector.train.evaluate import SceneResult

    torch.set_num_threads(threads)
    model = YOLO(str(weights))
    print("model | split | images | vessels | " + " | ".join(eval_splits.COLUMNS) + " | seconds")
    for name in splits:
        scenes = eval_splits.split_scenes(name, ROOT / "outputs" / "cache")
        if scenes is None:
            print(f"{weights} | {name} | skipped: data absent")
            continue
        t0 = time.perf_counter()
        results = []
        for ls in scenes:
            corners, conf, gsd = predict(model, ls, imgsz)
            # YOLO has no tanker class or bow: p_tanker 0.5, and its bow is not scored
            results.append(SceneResult(ls.path.stem, float(ls.meta.get("native_gsd_m") or gsd), corners, conf,
                                       np.full(len(conf), 0.5), ls.corners, np.zeros_like(ls.has_bow), ls.type_code,
                                       ls.ignore, scene_gsd_m=gsd, true_box_only=ls.box_only))
        eval_splits.report_split(str(weights), name, scenes, results, time.perf_counter() - t0, PredictConfig.score_threshold)
    print(f"# reproduce: python bench/yolo_real.py {' '.join(sys.argv[1:])}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, default=YOLO_DIR / "real", help="a bench/yolo_data.py output holding train.txt")
    t.add_argument("--minutes", type=float, default=60.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--name", default="real60")
    sc = sub.add_parser("score")
    sc.add_argument("--name", default="real60")
    sc.add_argument("--splits", nargs="*", default=list(eval_splits.SPLITS), choices=eval_splits.SPLITS)
    for q in (t, sc):
        q.add_argument("--imgsz", type=int, default=416)
        q.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    if args.cmd == "train":
        if not (args.data / "train.txt").is_file():
            raise SystemExit(f"{args.data / 'train.txt'} is missing: write it with bench/yolo_data.py --tile-px (see --help)")
        train(args.data, args.minutes, args.name, args.seed, args.imgsz, args.threads)
    else:
        weights = YOLO_DIR / "runs" / args.name / "weights" / "last.pt"
        if not weights.is_file():
            raise SystemExit(f"{weights} is missing: train it first (bench/yolo_real.py train --name {args.name})")
        score(weights, args.splits, args.imgsz, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
