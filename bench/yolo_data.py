"""Our labelled scenes as an Ultralytics YOLO OBB dataset, at the same working GSD our model sees.

Each scene is read whole through ``detector.io.scene`` at its working GSD (the native GSD clipped
to the model's 2-5 m), stretched the same way, and written as a PNG. Each vessel not hidden by
cloud becomes ``0 x1 y1 ... x4 y4`` (one class, vessel; corners normalised to the image). The
scale from scene pixels to image pixels is kept in ``scales.json`` so predictions can be mapped
back and scored with ``detector.train.evaluate``.

    python bench/yolo_data.py truth:outputs/cache/synth-s1000-n2000 --out outputs/bench/yolo/train
    python bench/yolo_data.py coco:../shared/data/harbours-ge/labels.json@0.2 coco:../shared/data/ships-aerial/labels.json@0.2 \
        coco:../shared/data/sen2ships/labels.json@0.35 synth:400:1000@0.25 --exclude-groups test validate cartagena klang valencia \
        --holdout-share 0.15 --tile-px 416 --out outputs/bench/yolo/real      # the real mix train.py learns from, tiled

``train.txt`` lists the images, each source's as often as its ``@w`` asks; YOLO trains on that list.
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
           held_out: bool = False) -> tuple[list[tuple[int, object]], list[float]]:
    """(source index, scene) of ``specs`` split as ``train.py`` splits them: places in
    ``exclude_groups`` left out, and of the scenes that name their source the ``holdout_share``
    kept (``held_out``) or left out, by the same hash of the source's name; and each source's
    weight (its ``@w``)."""
    out, weights = [], []
    for k, spec in enumerate(specs):
        source = parse(spec, ROOT / "outputs" / "cache", None, None, False)
        scenes = select_holdout(select_groups(source.scenes, None, exclude_groups), holdout_share, held_out=held_out)
        out += [(k, s) for s in scenes]
        weights.append(source.weight)
    return out, weights


def scene_image(ls, max_px: int | None = 1024) -> tuple[np.ndarray, float, float, float]:
    """A labelled scene read whole at the working GSD our model sees (native GSD clipped to its
    2-5 m), as 8-bit (3, rows, cols) RGB, shrunk further only to fit ``max_px``; with the scale
    (sx, sy) from scene pixels to image pixels and the file's GSD in metres."""
    cfg = ModelConfig()
    with Scene(ls.path, gsd_m=ls.gsd_m) as scene:
        info = scene.info
        scale = info.gsd_m / cfg.work_gsd_m(info.gsd_m)
        if max_px:
            scale = min(scale, max_px / max(info.width, info.height))
        shape = (max(32, round(info.height * scale)), max(32, round(info.width * scale)))
        rgb, _ = scene.read_box((0, 0, info.width, info.height), shape)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), shape[1] / info.width, shape[0] / info.height, info.gsd_m


def tile_origins(size_px: int, tile_px: int, overlap_px: int) -> list[int]:
    """Left (or top) edges of tiles of ``tile_px`` covering ``size_px``, overlapping by at least
    ``overlap_px``; one tile when the image fits."""
    if size_px <= tile_px:
        return [0]
    n = int(np.ceil((size_px - overlap_px) / (tile_px - overlap_px)))
    return [round(v) for v in np.linspace(0, size_px - tile_px, n)]


def repeats(counts: list[int], weights: list[float]) -> list[int]:
    """How many times to list each source's images so that each source's share of an epoch
    follows its weight (``--data``'s ``@w``): the source with the most images per unit of weight
    is listed once, the others repeated (never dropped: a fixed list cannot resample)."""
    ratio = [n / w if n and w > 0 else 0.0 for n, w in zip(counts, weights)]
    base = max(ratio, default=0.0)
    return [max(1, round(base * w / n)) if n else 0 for n, w in zip(counts, weights)]


def convert(specs: list[str], out: Path, max_px: int | None = 1024, exclude_groups: list[str] | None = None,
            holdout_share: float = 0.0, tile_px: int | None = None, overlap_px: int = 128) -> int:
    """Write images/ and labels/ under ``out``, and ``train.txt`` listing each image as many
    times as its source's weight asks (:func:`repeats`); returns the number of images.

    With ``tile_px``, a scene larger than that at the working GSD is cut into overlapping tiles
    (so YOLO trains at the pixels our model sees, not on a whole port shrunk to its input), and
    a hull belongs to the tiles that hold its centre, its corners clipped to the tile.
    Oriented labels (keypoints, polygons, masks, truth.csv) keep their angle; a box-only label
    (ships-aerial) becomes the box itself, an upright rectangle: all such a label says, and what
    YOLO then learns of those hulls' angles. Names carry their source's index, so two sources may
    hold files of one name."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    scales, by_source = {}, {}
    chosen, weights = select(specs, exclude_groups, holdout_share)
    for k, ls in chosen:
        rgb, sx, sy, _ = scene_image(ls, None if tile_px else max_px)
        h, w = rgb.shape[1:]
        corners = [np.asarray(c, float).reshape(4, 2) * [sx, sy] for c, ignore in zip(ls.corners, ls.ignore) if not ignore]
        stem = f"s{k}-{fit_name(Path(ls.path).stem)}"
        size = tile_px or max(h, w)
        tiles = [(x0, y0) for y0 in tile_origins(h, size, overlap_px) for x0 in tile_origins(w, size, overlap_px)]
        for x0, y0 in tiles:
            th, tw = min(size, h - y0), min(size, w - x0)
            name = stem if len(tiles) == 1 else f"{stem}-{x0}-{y0}"
            write_png(out / "images" / f"{name}.png", rgb[:, y0:y0 + th, x0:x0 + tw])
            lines = []
            for xy in corners:
                cx, cy = xy.mean(0)
                if not (x0 <= cx < x0 + tw and y0 <= cy < y0 + th):
                    continue
                norm = np.clip((xy - [x0, y0]) / [tw, th], 0.0, 1.0)
                lines.append("0 " + " ".join(f"{v:.6f}" for v in norm.ravel()))
            (out / "labels" / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            scales[name] = {"sx": sx, "sy": sy, "x0_px": x0, "y0_px": y0, "path": str(ls.path), "gsd_m": ls.gsd_m}
            by_source.setdefault(k, []).append(name)
    reps = repeats([len(by_source.get(k, [])) for k in range(len(specs))], weights)
    listed = [str((out / "images" / f"{n}.png").resolve()) for k, r in enumerate(reps) for n in by_source.get(k, []) * r]
    (out / "train.txt").write_text("\n".join(listed) + "\n")
    (out / "scales.json").write_text(json.dumps(scales))
    return len(scales)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", help="--data style sources (truth:DIR, coco:JSON, ...)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--exclude-groups", nargs="*", default=None, help="as train.py: never these places")
    p.add_argument("--holdout-share", type=float, default=0.0, help="as train.py: leave out this hashed share of sources")
    p.add_argument("--tile-px", type=int, default=None,
                   help="cut scenes larger than this (at the working GSD) into overlapping tiles, instead of shrinking them to 1,024 px")
    args = p.parse_args()
    n = convert(args.sources, args.out, exclude_groups=args.exclude_groups, holdout_share=args.holdout_share,
                tile_px=args.tile_px)
    print(f"{n} images in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
