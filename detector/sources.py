"""Training and evaluation data named on the command line, with mixture weights.

A source is ``KIND:ARGS[@WEIGHT]``:

- ``synth:N[:SEED]`` N synthetic scenes, rendered once into the cache directory;
- ``truth:DIR`` GeoTIFFs and a truth.csv in the detections.csv columns (what the generator writes);
- ``coco:LABELS.json[:IMAGE_DIR]`` COCO boxes, polygons or RLE masks;
- ``dota:LABEL_DIR:IMAGE_DIR`` DOTA oriented boxes.

``WEIGHT`` (default 1) is the source's share of the draws. Places (``group``) can be kept or
left out by name, which is how the sen2ships port split is expressed.
"""

from __future__ import annotations

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
        from .synth.training import write_set

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
