"""Our labelled scenes as an Ultralytics YOLO OBB dataset, at the same working GSD our model sees.

Each scene is read whole through ``detector.io.scene`` at its working GSD (the native GSD clipped
to the model's 2-5 m), stretched the same way, and written as a PNG. Each vessel not hidden by
cloud becomes ``0 x1 y1 ... x4 y4`` (one class, vessel; corners normalised to the image). The
scale from scene pixels to image pixels is kept in ``scales.json`` so predictions can be mapped
back and scored with ``detector.train.evaluate``.

    python bench/yolo_data.py truth:outputs/cache/synth-s1000-n2000 --out outputs/bench/yolo/train
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.io.scene import Scene, write_png  # noqa: E402
from detector.model.network import ModelConfig  # noqa: E402
from detector.train.sources import parse  # noqa: E402


def convert(specs: list[str], out: Path, max_px: int = 1024) -> int:
    """Write images/ and labels/ under ``out``; returns the number of images."""
    cfg = ModelConfig()
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    scales = {}
    scenes = [s for spec in specs for s in parse(spec, ROOT / "outputs" / "cache", None, None, False).scenes]
    for ls in scenes:
        with Scene(ls.path) as scene:
            info = scene.info
            work = cfg.work_gsd_m(info.gsd_m)
            scale = min(info.gsd_m / work, max_px / max(info.width, info.height))
            shape = (max(32, round(info.height * scale)), max(32, round(info.width * scale)))
            rgb, _ = scene.read_box((0, 0, info.width, info.height), shape)
        sx, sy = shape[1] / info.width, shape[0] / info.height
        name = Path(ls.path).stem
        write_png(out / "images" / f"{name}.png", (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
        lines = []
        for corners, ignore in zip(ls.corners, ls.ignore):
            if ignore:
                continue
            xy = np.asarray(corners, float).reshape(4, 2) * [sx / shape[1], sy / shape[0]]
            xy = np.clip(xy, 0.0, 1.0)
            lines.append("0 " + " ".join(f"{v:.6f}" for v in xy.ravel()))
        (out / "labels" / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        scales[name] = {"sx": sx, "sy": sy, "path": str(ls.path), "gsd_m": info.gsd_m}
    (out / "scales.json").write_text(json.dumps(scales))
    return len(scenes)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", help="--data style sources (truth:DIR, coco:JSON, ...)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    n = convert(args.sources, args.out)
    print(f"{n} images in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
