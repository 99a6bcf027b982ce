"""Synthetic training and test sets: many small scenes sized for the model's working tiles.

Native GSDs run from 0.3 to 10 m (half at a sensor's own GSD, half log-uniform). Scenes finer
than ``min_render_gsd_m`` are rendered at that GSD with the same sensor look: the reader would
average them down to the working GSD anyway, and rendering 0.3 m pixels only to average them
away would cost ten times more. Each scene spans ``context`` working tiles.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from pathlib import Path

import numpy as np

from ..io.atomic import write_text_atomic
from ..io.records import TRUTH_COLUMNS, write_csv
from .compose import random_spec, render
from .sensor import SENSORS

MANIFEST = "manifest.json"
SENSOR_SHARE = {"planetscope": 0.35, "sentinel2": 0.2, "skysat": 0.25, "worldview3": 0.1, "pan": 0.1}


def native_gsd(seed: int, index: int, gsd_range_m: tuple[float, float] = (0.3, 10.0)) -> tuple[str, float]:
    """A sensor and native GSD for scene ``index``: half the sensor's own, half log-uniform in range."""
    rng = np.random.default_rng([seed, index, 7])
    sensor = str(rng.choice(list(SENSOR_SHARE), p=list(SENSOR_SHARE.values())))
    lo, hi = gsd_range_m
    own = SENSORS[sensor].gsd_m
    if lo <= own <= hi and rng.random() < 0.5:
        return sensor, own
    return sensor, float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _render_one(job: tuple) -> list[dict]:
    from .cli import write_scene

    seed, index, out, gsd_range_m, work_min_m, work_max_m, tile_px, context, min_render_gsd_m = job
    sensor, gsd = native_gsd(seed, index, gsd_range_m)
    render_gsd = max(gsd, min_render_gsd_m)
    work = min(max(gsd, work_min_m), work_max_m)
    size_px = int(math.ceil(context * tile_px * work / render_gsd))
    scene = render(random_spec(seed, index, gsd_m=render_gsd, size_px=size_px, sensor=sensor))
    write_scene(scene, Path(out), quicklooks=False)
    for row in scene.labels:
        row["gsd_m"] = round(gsd, 4)  # the native GSD this scene stands for
    return scene.labels


def write_set(out: str | Path, seed: int, count: int, *, gsd_range_m=(0.3, 10.0), work_gsd_m=(2.0, 5.0), tile_px: int = 256,
              context: float = 1.6, min_render_gsd_m: float = 1.0, workers: int = 2, progress: bool = True) -> Path:
    """Render ``count`` scenes of ``seed`` under ``out`` with truth.csv; reuse a finished set.

    A set is finished when its manifest matches the request; a half-written one is redone.
    """
    out = Path(out)
    request = {"seed": seed, "count": count, "gsd_range_m": list(gsd_range_m), "work_gsd_m": list(work_gsd_m),
               "tile_px": tile_px, "context": context, "min_render_gsd_m": min_render_gsd_m, "version": 1}
    manifest = out / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()) == request and (out / "truth.csv").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, i, str(out), tuple(gsd_range_m), work_gsd_m[0], work_gsd_m[1], tile_px, context, min_render_gsd_m)
            for i in range(count)]
    rows: list[dict] = []
    bar = _bar(count, f"rendering {count} synthetic scenes", progress)
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for labels in pool.imap(_render_one, jobs, chunksize=4):
                rows += labels
                bar.update()
    else:
        for job in jobs:
            rows += _render_one(job)
            bar.update()
    bar.close()
    write_csv(out / "truth.csv", rows, TRUTH_COLUMNS)
    write_text_atomic(manifest, json.dumps(request, indent=1))
    return out


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="scene", disable=not enabled, dynamic_ncols=True)
