"""Training and evaluation data named on the command line, with mixture weights.

A source is ``KIND:ARGS[@WEIGHT]``:

- ``synth:N[:SEED]`` N synthetic scenes, rendered once into the cache directory;
- ``truth:DIR`` GeoTIFFs and a truth.csv in the detections.csv columns (what the generator writes);
- ``coco:LABELS.json[:IMAGE_DIR]`` COCO boxes, polygons or RLE masks;
- ``dota:LABEL_DIR:IMAGE_DIR`` DOTA oriented boxes.

``WEIGHT`` (default 1) is the source's share of the draws. Places (``group``) can be kept or
left out by name, which is how the sen2ships port split and the harbours-ge train/test split are
expressed; a share of whole sources can be held out by a hash of their names
(:func:`select_holdout`), which is how the ships-aerial split is expressed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from .labels import LabelledScene, read_coco, read_dota, read_truth_dir


@dataclass
class Source:
    spec: str
    scenes: list[LabelledScene]
    weight: float


def parse(spec: str, cache_dir: Path, gsd_m: float | None = None, synth_options: dict | None = None,
          progress: bool = True) -> Source:
    """Load one source spec (see the module docstring); raises ValueError on a malformed spec."""
    body, _, weight = spec.partition("@")
    kind, _, rest = body.partition(":")
    try:
        w = float(weight) if weight else 1.0
    except ValueError:
        raise ValueError(f"{spec}: weight {weight!r} is not a number") from None
    if kind == "synth":
        from ..synth.training import write_set

        parts = rest.split(":")
        try:
            count, seed = int(parts[0]), int(parts[1]) if len(parts) > 1 else 1000
        except ValueError:
            raise ValueError(f"{spec}: expected synth:COUNT[:SEED]") from None
        opts = synth_options or {}
        out = write_set(Path(cache_dir) / f"synth-s{seed}-n{count}", seed, count, progress=progress, **opts)
        scenes = read_truth_dir(out)
    elif kind == "truth":
        scenes = read_truth_dir(rest)
    elif kind == "coco":
        label, _, images = rest.partition(":")
        scenes = read_coco(label, images or None, gsd_m)
    elif kind == "dota":
        label, _, images = rest.partition(":")
        if not images:
            raise ValueError(f"{spec}: expected dota:LABEL_DIR:IMAGE_DIR")
        scenes = read_dota(label, images)
    else:
        raise ValueError(f"{spec}: unknown source kind {kind!r} (synth, truth, coco, dota)")
    if gsd_m is not None:
        for s in scenes:
            s.gsd_m = s.gsd_m or gsd_m
    return Source(spec, scenes, w)


def select_groups(scenes: list[LabelledScene], keep: list[str] | None = None, drop: list[str] | None = None) -> list[LabelledScene]:
    """Scenes whose ``group`` is in ``keep`` (all when None) and not in ``drop``."""
    out = [s for s in scenes if (not keep or s.group in keep) and not (drop and s.group in drop)]
    return out


def in_holdout(scene: LabelledScene, share: float) -> bool:
    """Whether a scene's source (its label's ``source_name``) falls in the held-out ``share`` (0-1).

    A hash of the source name decides, so the split is the same on every machine and run, every
    copy of one source lands on the same side, and each group is split in about that share.
    """
    return zlib.crc32(str(scene.meta["source_name"]).encode()) % 10_000 < round(share * 10_000)


def select_holdout(scenes: list[LabelledScene], share: float, held_out: bool) -> list[LabelledScene]:
    """Of the scenes whose labels name their source, the held-out ``share`` (``held_out``) or the
    rest; scenes that name no source (split by group instead) are always kept. All when ``share`` is 0."""
    if share <= 0:
        return list(scenes)
    return [s for s in scenes if "source_name" not in s.meta or in_holdout(s, share) == held_out]
