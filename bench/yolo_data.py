"""Our labelled scenes as an Ultralytics YOLO OBB dataset, at the same working GSD our model sees.

Each scene is read whole through ``detector.io.scene`` at its working GSD (the native GSD clipped
to the model's 2-5 m), stretched the same way, and written as a PNG. Each vessel not hidden by
cloud becomes ``0 x1 y1 ... x4 y4`` (one class, vessel; corners normalised to the image). The
scale from scene pixels to image pixels is kept in ``scales.json`` so predictions can be mapped
back and scored with ``detector.train.evaluate``.

    python bench/yolo_data.py truth:outputs/cache/synth-s1000-n2000 --out outputs/bench/yolo/train
    python bench/yolo_data.py coco:../shared/data/harbours-ge/labels.json coco:../shared/data/ships-aerial/labels.json \
        coco:../shared/data/sen2ships/labels.json --exclude-groups test validate cartagena klang valencia \
        --holdout-share 0.15 --out outputs/bench/yolo/real      # the real mix train.py learns from
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
from detector.io.atomic import fit_name  # noqa: E402
from detector.train.sources import parse, select_groups, select_holdout  # noqa: E402


def select(specs: list[str], exclude_groups: list[str] | None = None, holdout_share: float = 0.0,
           held_out: bool = False) -> list[tuple[int, object]]:
    """(source index, scene) of ``specs`` split as ``train.py`` splits them: places in
    ``exclude_groups`` left out, and of the scenes that name their source the ``holdout_share``
    kept (``held_out``) or left out, by the same hash of the source's name."""
    out = []
    for k, spec in enumerate(specs):
        scenes = parse(spec, ROOT / "outputs" / "cache", None, None, False).scenes
        scenes = select_holdout(select_groups(scenes, None, exclude_groups), holdout_share, held_out=held_out)
        out += [(k, s) for s in scenes]
    return out


def convert(specs: list[str], out: Path, max_px: int = 1024, exclude_groups: list[str] | None = None,
            holdout_share: float = 0.0) -> int:
    """Write images/ and labels/ under ``out``; returns the number of images.

    Oriented labels (keypoints, polygons, masks, truth.csv) keep their angle; a box-only label
    (ships-aerial) becomes the box itself, an upright rectangle: all such a label says, and what
    YOLO then learns of those hulls' angles. Names carry their source's index, so two sources may
    hold files of one name."""
    cfg = ModelConfig()
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    scales = {}
    chosen = select(specs, exclude_groups, holdout_share)
    for k, ls in chosen:
        with Scene(ls.path, gsd_m=ls.gsd_m) as scene:
            info = scene.info
            work = cfg.work_gsd_m(info.gsd_m)
            scale = min(info.gsd_m / work, max_px / max(info.width, info.height))
            shape = (max(32, round(info.height * scale)), max(32, round(info.width * scale)))
            rgb, _ = scene.read_box((0, 0, info.width, info.height), shape)
        sx, sy = shape[1] / info.width, shape[0] / info.height
        name = f"s{k}-{fit_name(Path(ls.path).stem)}"
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
    return len(chosen)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", help="--data style sources (truth:DIR, coco:JSON, ...)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--exclude-groups", nargs="*", default=None, help="as train.py: never these places")
    p.add_argument("--holdout-share", type=float, default=0.0, help="as train.py: leave out this hashed share of sources")
    args = p.parse_args()
    n = convert(args.sources, args.out, exclude_groups=args.exclude_groups, holdout_share=args.holdout_share)
    print(f"{n} images in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
