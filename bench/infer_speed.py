"""End-to-end scene time: ``infer.py`` against SAHI sliced inference around torchvision's
Faster R-CNN MobileNetV3-FPN, on the same 0.5 m 8,000 x 6,000 RGB GeoTIFF, interleaved.

Each run is a fresh process, timed from start to exit (imports, reading, model, merging,
writing), alternating ours and SAHI so machine noise hits both alike. The scene is a synthetic
SkySat-like Vostochny scene with exact truth (rendered once into --work, about 2 minutes), so
both are also scored (oriented AP50 against the truth). The Faster R-CNN is untrained (nothing
may be downloaded): its time is real, its accuracy is that of random weights. It is given every
advantage: 512 px slices with SAHI's default 0.2 overlap, its input size set to the slice size
(torchvision would otherwise upscale each slice to 800 px), and a confidence threshold of 0.9
so that random scores do not flood SAHI's merge with boxes a trained model would not make.

    python bench/infer_speed.py --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTH_PX, HEIGHT_PX, GSD_M = 8000, 6000, 0.5


def render_scene(tif: Path, truth: Path, seed: int, gsd_m: float, width_px: int, height_px: int, sensor: str) -> tuple[Path, Path]:
    """A clear synthetic Vostochny scene and its truth (vessels wholly inside), rendered once and kept."""
    from detector.io.records import TRUTH_COLUMNS, write_csv
    from detector.io.scene import write_geotiff
    from detector.synth.compose import random_spec, render
    from detector.synth.sensor import Weather

    if tif.exists() and truth.exists():
        return tif, truth
    spec = random_spec(seed, 0, gsd_m=gsd_m, size_px=max(width_px, height_px), sensor=sensor)
    scene = render(dataclasses.replace(spec, weather=Weather(0.0, 0.05, 1), name=tif.stem))
    data = scene.data[:, :height_px, :width_px]
    write_geotiff(tif, data, scene.crs, scene.transform, nodata=scene.nodata, colorinterp=scene.colorinterp,
                  tags={"TIFFTAG_DATETIME": scene.when.strftime("%Y:%m:%d %H:%M:%S")})
    inside = [r for r in scene.labels if not r["truncated"]
              and max(float(r[f"x{k}_px"]) for k in range(1, 5)) < width_px
              and max(float(r[f"y{k}_px"]) for k in range(1, 5)) < height_px]
    write_csv(truth, inside, TRUTH_COLUMNS)
    return tif, truth


def make_scene(work: Path) -> tuple[Path, Path]:
    """The 0.5 m 8,000 x 6,000 test scene and its truth."""
    return render_scene(work / "vostochny_0.5m_8000x6000.tif", work / "truth.csv", 3, GSD_M, WIDTH_PX, HEIGHT_PX, "skysat")


def read_detections(csv_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Our ``detections.csv`` as (n, 8) polygon corners in scene pixels and (n,) scores."""
    from detector.io.records import POLYGON_COLUMNS, read_csv

    dets = read_csv(csv_path)
    corners = np.array([[float(d[c]) for c in POLYGON_COLUMNS] for d in dets], np.float64).reshape(-1, 8)
    return corners, np.array([float(d["score"]) for d in dets])


def read_native(scene: Path) -> np.ndarray:
    """The whole scene as (rows, cols, 3) uint8 RGB at its native GSD, with the same reader and
    stretch as ours: what a peer that takes a whole image is given."""
    from detector.io.scene import Scene

    with Scene(scene) as s:
        rgb, _ = s.read_box((0, 0, s.info.width, s.info.height), (s.info.height, s.info.width))
    return (rgb.transpose(1, 2, 0) * 255).astype(np.uint8)


def sahi_frcnn(slice_px: int = 512):
    """SAHI's wrapper around an untrained torchvision Faster R-CNN MobileNetV3-FPN, its input
    size set to the slice, with a 0.9 threshold so random scores do not flood the merge."""
    from sahi.models.torchvision import TorchVisionDetectionModel
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    net = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=2, min_size=slice_px, max_size=slice_px)
    return TorchVisionDetectionModel(model=net, device="cpu", confidence_threshold=0.9,
                                     category_mapping={"0": "background", "1": "vessel"}, load_at_init=True)


def sahi_once(scene: Path, out_json: Path, threads: int) -> None:
    """One SAHI run (in its own process): read the scene, slice, predict, merge, write boxes."""
    import torch
    from sahi.predict import get_sliced_prediction

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    image = read_native(scene)
    t_read = time.perf_counter() - t0
    model = sahi_frcnn()
    result = get_sliced_prediction(image, model, slice_height=512, slice_width=512, overlap_height_ratio=0.2,
                                   overlap_width_ratio=0.2, verbose=0)
    boxes = [[*p.bbox.to_xyxy(), p.score.value] for p in result.object_prediction_list]
    out_json.write_text(json.dumps({"boxes": boxes, "read_s": t_read, "total_s": time.perf_counter() - t0,
                                    "durations": result.durations_in_seconds}))


def score(truth_csv: Path, corners: np.ndarray, scores: np.ndarray, gsd_m: float = GSD_M) -> dict:
    """Oriented AP50, recall and length MAE against the truth (cloud-hidden truth ignored)."""
    from detector.io.records import POLYGON_COLUMNS, read_csv
    from detector.train.evaluate import SceneResult, evaluate

    rows = read_csv(truth_csv)
    true = np.array([[float(r[c]) for c in POLYGON_COLUMNS] for r in rows]).reshape(-1, 4, 2)
    ignore = np.array([r["cloud_hidden"] == "True" for r in rows], bool)
    types = np.array([0 if r["vessel_type"] == "tanker" else 1 for r in rows])
    res = SceneResult("scene", gsd_m, corners.reshape(-1, 4, 2), scores, np.full(len(scores), 0.5), true,
                      np.ones(len(rows), bool), types, ignore)
    report = evaluate([res], score_threshold=0.3)["all"]
    return {k: report.get(k) for k in ("vessels", "ap50", "recall", "precision", "length_mae_m")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench")
    p.add_argument("--sahi-once", nargs=2, metavar=("SCENE", "OUT_JSON"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.sahi_once:
        sahi_once(Path(args.sahi_once[0]), Path(args.sahi_once[1]), args.threads)
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    tif, truth = make_scene(args.work)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    ours_s, sahi_s, ours_timing, sahi_inner = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rep in range(args.repeats):
            cmd = [sys.executable, str(ROOT / "infer.py"), str(tif), "--aoi", "whole", "--berths", "none",
                   "--threads", str(args.threads), "--workers", "1", "--out", str(tmp / "ours"), "--fresh", "--quiet"]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env)
            ours_s.append(time.perf_counter() - t0)
            ours_timing.append(json.loads((tmp / "ours" / "run.json").read_text())["rank0_timing_s"])
            cmd = [sys.executable, __file__, "--threads", str(args.threads), "--sahi-once", str(tif), str(tmp / "sahi.json")]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env)
            sahi_s.append(time.perf_counter() - t0)
            sahi_inner.append(json.loads((tmp / "sahi.json").read_text()))
            print(f"repeat {rep + 1}: ours {ours_s[-1]:.1f} s, SAHI {sahi_s[-1]:.1f} s", flush=True)

        ours_acc = score(truth, *read_detections(tmp / "ours" / "detections.csv"))
        boxes = np.array(sahi_inner[-1]["boxes"]).reshape(-1, 5)
        sahi_corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], axis=1)
        sahi_acc = score(truth, sahi_corners, boxes[:, 4])

    best_ours, best_sahi = min(ours_s), min(sahi_s)
    print(f"\nScene: {WIDTH_PX} x {HEIGHT_PX} px RGB uint8 GeoTIFF at {GSD_M} m ({WIDTH_PX * HEIGHT_PX / 1e6:.0f} Mpx), "
          f"{platform.processor() or platform.machine()}, {args.threads} threads, {os.cpu_count()} cores visible")
    print("| | end to end, best of %d (s) | runs (s) | AP50 | recall | length MAE (m) |" % args.repeats)
    print("|---|---|---|---|---|---|")
    print(f"| ours (`infer.py --aoi whole`) | {best_ours:.1f} | {', '.join(f'{t:.1f}' for t in ours_s)} | "
          f"{ours_acc['ap50']:.2f} | {ours_acc['recall']:.2f} | {ours_acc['length_mae_m'] or float('nan'):.1f} |")
    print(f"| SAHI + Faster R-CNN MobileNetV3-FPN (untrained) | {best_sahi:.1f} | {', '.join(f'{t:.1f}' for t in sahi_s)} | "
          f"{sahi_acc['ap50']:.2f} | {sahi_acc['recall']:.2f} | n/a (axis-aligned) |")
    print(f"\nspeed-up (best vs best): {best_sahi / best_ours:.1f}x; truth: {ours_acc['vessels']} vessels")
    print(f"ours, rank-0 split of the last run (s): {ours_timing[-1]}")
    print(f"SAHI, last run (s): read {sahi_inner[-1]['read_s']:.1f}, {sahi_inner[-1]['durations']}, "
          f"{len(sahi_inner[-1]['boxes'])} boxes kept")
    print(f"\nreproduce: python bench/infer_speed.py --threads {args.threads} --repeats {args.repeats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
