"""Simulated seasons at the oil berth, rendered to GeoTIFFs and run through ``infer.py``'s pipeline.

Shared by ``bench/events_e2e.py`` (does the corrected total match the truth, from pixels?) and
``bench/eval_splits.py --store-recall`` (the detector's recall at the loading berth, measured on
seasons of seeds the end-to-end bench never uses). Scenes are clips around the oil berth
(``python -m detector.synth --around-berth oil_berth``), as a user orders them, at each
sensor's GSD; each season is rendered once into the cache folder.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

from detector.infer.pipeline import InferConfig, run
from detector.synth.cli import write_series

SENSORS = ("planetscope", "skysat", "sentinel2")
WHOLE_SEASON = (datetime(2024, 3, 7, tzinfo=timezone.utc), datetime(2024, 11, 5, tzinfo=timezone.utc))
SHORT_DAYS = 45
# Seeds the recall is measured on; the end-to-end bench refuses them.
CALIBRATION_SEEDS = (9001, 9002)


def short_season(seed: int) -> tuple[datetime, datetime]:
    """A ``SHORT_DAYS`` window of the season, its start moved by the seed (March to September)."""
    room_days = (WHOLE_SEASON[1] - WHOLE_SEASON[0]).days - SHORT_DAYS
    start = WHOLE_SEASON[0] + timedelta(days=(seed * 37) % room_days)
    return start, start + timedelta(days=SHORT_DAYS)


def render(cache_dir: Path, seed: int, start: datetime, end: datetime, sensors=SENSORS, nk_visits: int | None = None) -> Path:
    """The season's scenes, truth.csv, visits.csv and berths (rendered once, then reused)."""
    name = f"season-s{seed}-{start:%Y%m%d}-{end:%Y%m%d}-{'-'.join(sensors)}" + (f"-nk{nk_visits}" if nk_visits is not None else "")
    return write_series(cache_dir / name, seed, start, end, list(sensors), around_berth="oil_berth", nk_visits=nk_visits)


def infer(scene_dir: Path, model: Path, out_dir: Path, threads: int, events: bool = True, detector_recall: float | None = None,
          amp: bool = True, fleet: Path | None = None, tta: bool = False) -> int:
    """``python infer.py SCENE_DIR --berths SCENE_DIR/vostochny_berths.geojson [--events] [--fleet CSV]`` into ``out_dir``."""
    cfg = InferConfig(inputs=(str(scene_dir),), out_dir=str(out_dir), model=str(model),
                      berths=str(scene_dir / "vostochny_berths.geojson"), quicklooks=False, quiet=True,
                      threads=threads, events=events, detector_recall=detector_recall, amp=amp, tta=tta,
                      fleet=str(fleet) if fleet else None)
    return run(cfg, log=lambda *_: None)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def true_loads(scene_dir: Path) -> tuple[int, float]:
    """(visits, barrels) that really loaded at the oil berth in the season."""
    rows = [r for r in read_rows(scene_dir / "visits.csv") if r["loading"] == "True"]
    return len(rows), float(sum(float(r["barrels"]) for r in rows))
