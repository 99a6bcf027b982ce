"""Measuring the detector's recall for tankers at loading berths from a run on scenes whose truth
is known, and storing it in a copy of the checkpoint (``events.recall`` reads it back).

A clear look of a loading berth finds a tanker that is there only with the detector's recall. The
recall that matters is the events step's own: in a look the clear-look rule calls clear, a true
tanker at the berth counts as found when the run holds a detection typed tanker at that berth
within ``match_distance_m`` of it (a sighting the tracker can use; no box overlap asked). The same
matches give the detector's length bias and spread on those hulls by GSD band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..events.recall import META_KEY, DetectorRecall, RecallBand
from ..events.tracks import TrackConfig
from ..io.georef import metres_per_degree
from .evaluate import GSD_BINS_M

# A detection this close to a true hull is a sighting of it: the tracker's own along-berth tolerance.
MATCH_DISTANCE_M = TrackConfig.along_tolerance_m


@dataclass
class _Counts:
    found: dict = field(default_factory=dict)
    hulls: dict = field(default_factory=dict)
    length_err: dict = field(default_factory=dict)


def berth_recall(truth: list[dict], detections: list[dict], looks: list[dict], loading_berths: set[str],
                 min_clear_share: float, match_distance_m: float = MATCH_DISTANCE_M, source: str = "") -> DetectorRecall:
    """Recall of the events step, measured from a run on scenes whose truth is known.

    ``truth``: the generator's ``truth.csv`` rows (scene, berth, vessel_type, lon, lat, gsd_m,
    cloud_hidden); ``detections``: the run's ``detections.csv`` rows; ``looks``: its
    ``counts.csv`` rows (scene, berth, clear_share). A true tanker at a loading berth in a look
    whose ``clear_share`` reaches ``min_clear_share`` is one hull; it is found when a tanker
    detection at that berth in that scene lies within ``match_distance_m`` (each detection finds
    one hull, the nearest first). The found hulls' length errors (detection minus truth) give each
    band's length bias and spread."""
    clear = {(r["scene"], r["berth"]) for r in looks if r["berth"] in loading_berths
             and float(r.get("clear_share") or 0.0) >= min_clear_share}
    dets: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for d in detections:
        if d.get("vessel_type") == "tanker" and (d["scene"], d.get("berth", "")) in clear and d.get("lon", "") != "":
            dets.setdefault((d["scene"], d["berth"]), []).append((float(d["lon"]), float(d["lat"]), float(d["length_m"])))
    counts = _Counts()
    edges = [lo for lo, _ in GSD_BINS_M]
    for key in sorted(clear):
        hulls = [t for t in truth if (t["scene"], t.get("berth", "")) == key and t.get("vessel_type") == "tanker"]
        if not hulls:
            continue
        band = int(np.searchsorted(edges, float(hulls[0]["gsd_m"]), side="right") - 1)
        here = dets.get(key, [])
        pairs = _matches([(float(t["lon"]), float(t["lat"])) for t in hulls], [d[:2] for d in here], match_distance_m)
        counts.found[band] = counts.found.get(band, 0) + len(pairs)
        counts.hulls[band] = counts.hulls.get(band, 0) + len(hulls)
        counts.length_err.setdefault(band, []).extend(here[j][2] - float(hulls[i]["length_m"]) for i, j in pairs)
    bands = []
    for b in sorted(counts.hulls):
        err = counts.length_err.get(b, [])
        bands.append(RecallBand(*GSD_BINS_M[b], counts.found[b], counts.hulls[b], round(float(np.mean(err)), 2) if err else 0.0,
                                round(float(np.std(err)), 2) if len(err) > 1 else None))
    return DetectorRecall(tuple(bands), None, source)


def _matches(truth_lonlat: list[tuple[float, float]], det_lonlat: list[tuple[float, float]], max_m: float) -> list[tuple[int, int]]:
    """(truth, detection) index pairs within ``max_m`` of each other, one detection a truth point, nearest pairs first."""
    if not truth_lonlat or not det_lonlat:
        return []
    t, d = np.array(truth_lonlat), np.array(det_lonlat)
    m_lon, m_lat = metres_per_degree(float(t[:, 1].mean()))
    dist = np.hypot((t[:, None, 0] - d[None, :, 0]) * m_lon, (t[:, None, 1] - d[None, :, 1]) * m_lat)
    pairs, used_t, used_d = [], set(), set()
    for flat in np.argsort(dist, axis=None):
        i, j = (int(x) for x in np.unravel_index(flat, dist.shape))
        if dist[i, j] > max_m:
            break
        if i in used_t or j in used_d:
            continue
        used_t.add(i)
        used_d.add(j)
        pairs.append((i, j))
    return pairs


def store_recall(model_path: str | Path, out_path: str | Path, recall: DetectorRecall, **about) -> None:
    """Write a copy of the checkpoint at ``model_path`` to ``out_path`` whose metadata carries
    ``recall`` (and ``about``: how it was measured). Never writes over ``model_path``."""
    import torch

    from ..io.atomic import atomic_path
    from ..model.routed import read_any_checkpoint

    if Path(out_path).resolve() == Path(model_path).resolve():
        raise ValueError(f"{out_path}: the copy with the recall must not overwrite its source checkpoint")
    ckpt = read_any_checkpoint(model_path)
    ckpt["meta"] = {**ckpt.get("meta", {}), META_KEY: {**recall.to_dict(), **about}}
    with atomic_path(out_path) as tmp:
        torch.save(ckpt, tmp)
