"""Accuracy at equal budget: our detector and Ultralytics YOLO11n-OBB (built from its YAML, no
weights downloaded), trained from scratch on the same synthetic scenes for the same wall time,
concurrently with one CPU thread each, then scored with the same oriented AP50 and length error
on held-out synthetic scenes and on the real sen2ships ports.

YOLO gets the scenes as ``bench/yolo_data.py`` writes them: read at the working GSD our model
sees, with the same stretch. Ours trains through ``train.py`` and is stopped at the budget (its
last finished epoch counts); YOLO stops itself (its ``time`` argument).

    python bench/yolo_data.py truth:outputs/cache/synth-s1000-n2000 --out outputs/bench/yolo/train
    python bench/yolo_data.py truth:outputs/cache/synth-test-fine-s7-n40 truth:outputs/cache/synth-test-10m-s8-n40 --out outputs/bench/yolo/val
    python bench/yolo_data.py coco:../shared/data/sen2ships/labels.json --out outputs/bench/yolo/sen2ships
    python bench/yolo_vs_ours.py train --minutes 20
    python bench/yolo_vs_ours.py score
    python bench/yolo_vs_ours.py train --minutes 20 --only yolo   # the peer weights of bench/speed_gsd.py alone

A run is named (``--name``, default ``budget``), so runs of other budgets or seeds sit side by side:

    python bench/yolo_vs_ours.py train --minutes 45 --seed 1 --name budget45
    python bench/yolo_vs_ours.py score --name budget45

The same peer on the real mix, scored on every validation split: ``bench/yolo_real.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = ROOT / "outputs" / "bench"
YOLO_DIR = WORK / "yolo"


def train(minutes: float, name: str, seed: int, only: str | None = None) -> None:
    """Start both trainings at once, one thread each, and stop ours at the budget; ``only``
    ("yolo" or "ours") trains that one alone (the peer weights ``bench/speed_gsd.py`` times)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    (YOLO_DIR / "data.yaml").write_text(f"path: {YOLO_DIR}\ntrain: train/images\nval: val/images\nnames:\n  0: vessel\n")
    yolo_code = (
        "import torch; torch.set_num_threads(1)\n"
        "from ultralytics import YOLO\n"
        f"m = YOLO('yolo11n-obb.yaml')\n"
        f"m.train(data='{YOLO_DIR / 'data.yaml'}', epochs=1000, time={minutes / 60.0}, imgsz=416, batch=16, workers=0,"
        f" device='cpu', plots=False, val=False, amp=False, pretrained=False, seed={seed}, deterministic=True,"
        f" project='{YOLO_DIR / 'runs'}', name='{name}', exist_ok=True, verbose=False)\n"
    )
    # Our schedule (warm-up, cosine) is laid over --epochs, so the budget sets it: an epoch of
    # 400 tiles takes about 80 s on one thread here. YOLO fits its own schedule to ``time``.
    epochs = max(1, int(minutes * 60 / 80))
    ours_cmd = [sys.executable, str(ROOT / "train.py"), "--data", "synth:2000:1000", "--epochs", str(epochs),
                "--draws-per-epoch", "400", "--batch-size", "16", "--workers", "0", "--threads", "1", "--seed", str(seed),
                "--out", str(WORK / f"ours_{name}"), "--cache-dir", str(ROOT / "outputs" / "cache"), "--quiet"]
    t0 = time.perf_counter()
    yolo = ours = None
    if only != "ours":
        yolo = subprocess.Popen([sys.executable, "-c", yolo_code], env=env, cwd=YOLO_DIR,
                                stdout=open(WORK / f"yolo_{name}_train.log", "w"), stderr=subprocess.STDOUT)
    if only != "yolo":
        ours = subprocess.Popen(ours_cmd, env=env, stdout=open(WORK / f"ours_{name}_train.log", "w"), stderr=subprocess.STDOUT)
        while time.perf_counter() - t0 < minutes * 60 and ours.poll() is None:
            time.sleep(5)
        ours.terminate()
        ours.wait()
    if yolo is not None:
        yolo.wait()
    print(f"both stopped after {(time.perf_counter() - t0) / 60:.1f} min")


def _yolo_results(weights: Path, data_dir: Path):
    """YOLO's oriented boxes on ``data_dir`` images, mapped back to scene pixels."""
    from ultralytics import YOLO

    model = YOLO(str(weights))
    scales = json.loads((data_dir / "scales.json").read_text())
    out = {}
    for name, sc in scales.items():
        r = model.predict(str(data_dir / "images" / f"{name}.png"), imgsz=416, conf=0.001, device="cpu", verbose=False)[0]
        if r.obb is not None and len(r.obb):
            poly = r.obb.xyxyxyxy.cpu().numpy().reshape(-1, 4, 2) / [sc["sx"], sc["sy"]]
            conf = r.obb.conf.cpu().numpy()
        else:
            poly, conf = np.zeros((0, 4, 2)), np.zeros(0)
        out[name] = (poly, conf)
    return out


def score(name: str) -> None:
    """Oriented AP50 and length MAE of both models on the held-out synthetic scenes and sen2ships."""
    import torch

    from detector.infer.predict import PredictConfig
    from detector.io.scene import Scene
    from detector.model.network import load_model
    from detector.train.engine import evaluate_model
    from detector.train.evaluate import SceneResult, evaluate
    from detector.train.sources import parse

    torch.set_num_threads(2)
    sets = {
        "synthetic, held-out seeds (0.3-10 m)": (["truth:outputs/cache/synth-test-fine-s7-n40", "truth:outputs/cache/synth-test-10m-s8-n40"], YOLO_DIR / "val"),
        "sen2ships, real Sentinel-2 (10 m)": (["coco:../shared/data/sen2ships/labels.json"], YOLO_DIR / "sen2ships"),
    }
    yolo_w = YOLO_DIR / "runs" / name / "weights" / "last.pt"
    ours_w = WORK / f"ours_{name}" / "last.pt"
    model, mcfg, _ = load_model(ours_w)
    print("| data | model | AP50 | recall at 0.3 | length MAE (m) |")
    print("|---|---|---|---|---|")
    for label, (specs, ydir) in sets.items():
        scenes = [s for spec in specs for s in parse(spec, ROOT / "outputs" / "cache", None, None, False).scenes]
        # Both ranked over all their peaks for AP (ours from 0.05, YOLO from 0.001); recall at 0.3 for both.
        _, ours_results = evaluate_model(model, mcfg, scenes, PredictConfig(score_threshold=0.05), progress=False)
        ours = evaluate(ours_results, score_threshold=0.3)
        preds = _yolo_results(yolo_w, ydir)
        results = []
        for s in scenes:
            poly, conf = preds[Path(s.path).stem]
            with Scene(s.path) as sc:
                gsd = sc.info.gsd_m
            results.append(SceneResult(Path(s.path).stem, gsd, poly, conf, np.full(len(conf), 0.5), s.corners, s.has_bow,
                                       s.type_code, s.ignore))
        theirs = evaluate(results, score_threshold=0.3)["all"]
        a = ours["all"]
        print(f"| {label} | ours | {a['ap50']:.3f} | {a['recall']:.2f} | {a['length_mae_m']:.1f} |")
        print(f"| {label} | YOLO11n-OBB | {theirs['ap50']:.3f} | {theirs['recall']:.2f} | {theirs['length_mae_m']:.1f} |", flush=True)
    print(f"\nreproduce: see the commands at the top of bench/yolo_vs_ours.py (run name {name})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=20.0)
    t.add_argument("--seed", type=int, default=0, help="seed of both trainings")
    t.add_argument("--name", default="budget", help="run name: outputs/bench/ours_NAME and yolo/runs/NAME")
    t.add_argument("--only", choices=("yolo", "ours"), default=None, help="train one of the two alone")
    sc = sub.add_parser("score")
    sc.add_argument("--name", default="budget")
    args = p.parse_args()
    if args.cmd == "train":
        train(args.minutes, args.name, args.seed, args.only)
    else:
        score(args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
