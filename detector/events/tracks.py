"""Visits and load events from dated detections: the same hull at the same berth across scenes.

A visit is one hull's stay at one berth. Scenes are taken in time order; in each, the tankers
at a berth are matched to the berth's open visits by position along the berth, length (within
a tolerance that grows with the GSD) and hull axis. A matched tanker extends its visit; an
unmatched one opens a new visit. A visit ends when a scene sees its berth clear (valid and
cloud-free) without it (with a detector that misses hulls, after enough such looks in a row that
a miss is unlikely), or when it has not been seen for ``max_gap_days`` (longer than any stay):
a berth under cloud or nodata is unobserved, not empty. A hull that moves berth is two visits.
Each visit at a loading berth (``loading_kinds``) is a load event with a barrels range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from .volumes import Volume, length_tolerance_m, volume


@dataclass(frozen=True)
class TrackConfig:
    """How sightings are joined into visits."""

    min_clear_share: float = 0.7  # a berth counts as seen when this share of it is valid and cloud-free
    along_tolerance_m: float = 40.0  # same hull: centre within this distance along the berth
    length_pixels: float = 3.0  # same hull: lengths within max(10 m, this many ground pixels) x 1.5
    axis_tolerance_deg: float = 30.0  # same hull: hull axes within this angle (bow-blind)
    max_gap_days: float = 4.0  # unseen for longer than this: a new visit (stays last 1-2 days)
    max_stay_days: float = 3.0  # a visit spans at most this long: 1.5 x the longest stay assumed
    detector_recall: float = 1.0  # chance a clear look finds a hull that is there
    max_sizing_gsd_m: float = 6.0  # looks coarser than this find a hull but do not size it for barrels
    length_noise_m: float = 0.0  # the detector's length error (1 sd) where measured: two sightings of one hull differ by it

    @property
    def empty_looks_to_end(self) -> int:
        """Clear looks in a row without the hull that end its visit: enough that a detector of this
        recall would have missed a hull still there less than 5 % of the time (1 when it misses none)."""
        if self.detector_recall >= 1.0:
            return 1
        return max(1, math.ceil(math.log(0.05) / math.log(1.0 - self.detector_recall)))
    loading_kinds: tuple[str, ...] = ("oil",)
    product: str | None = None  # barrels per tonne of this product (default: the data file's, diesel)


@dataclass(frozen=True)
class Sighting:
    """One tanker at one berth in one scene."""

    scene: str
    time: datetime
    berth: str
    along_m: float
    length_m: float
    heading_deg: float
    gsd_m: float
    vessel_id: str = ""  # the detection's id in detections.csv, so a sighting can be shown
    beam_m: float = 0.0
    pixel_length_m: float | None = None  # the length its own pixels show (infer/signature.py), where they show its ends
    chroma: tuple[float, float] | None = None  # red and green shares of the deck's colour over the water
    super_pos: float | None = None  # the accommodation block's centre, share of the length from the nearer end


@dataclass(frozen=True)
class Look:
    """One scene's view of one berth: ``seen`` when clear enough to tell an empty berth."""

    scene: str
    time: datetime
    berth: str
    seen: bool
    gsd_m: float | None = None  # the scene's: the detector's recall depends on it


@dataclass
class Visit:
    """One hull's stay at one berth, as observed."""

    visit_id: str
    berth: str
    berth_kind: str
    sightings: list[Sighting] = field(default_factory=list)
    empty_looks: int = 0  # clear looks of the berth in a row without this hull (while open)

    @property
    def first_seen(self) -> datetime:
        return self.sightings[0].time

    @property
    def last_seen(self) -> datetime:
        return self.sightings[-1].time

    @property
    def length_m(self) -> float:
        """Median length measured in the sharpest looks (within 1.5 times the finest GSD): robust
        to one bad measurement, and a 10 m look does not blur a 3 m one."""
        sharp = 1.5 * self.gsd_m
        return float(np.median([s.length_m for s in self.sightings if s.gsd_m <= sharp]))

    @property
    def gsd_m(self) -> float:
        """The finest GSD the hull was seen at (its length is known that well)."""
        return min(s.gsd_m for s in self.sightings)

    def volume(self, cfg: TrackConfig) -> Volume:
        """Hull classes and barrels of this hull, the length known to within the finest GSD's tolerance."""
        return volume(self.length_m, length_tolerance_m(self.gsd_m, pixels=cfg.length_pixels), cfg.product)


def _axis_diff_deg(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def _match_cost(v: Visit, s: Sighting, cfg: TrackConfig) -> float | None:
    last = v.sightings[-1]
    if (s.time - v.first_seen).total_seconds() > cfg.max_stay_days * 86400:
        return None  # longer than any stay: the slot's next hull, however alike
    # Two measurements of one hull differ by up to about 2 sd of their difference (sqrt 2 sd).
    tol_len = max(1.5 * length_tolerance_m(max(last.gsd_m, s.gsd_m), pixels=cfg.length_pixels), 2.0 * math.sqrt(2.0) * cfg.length_noise_m)
    d_along, d_len = abs(last.along_m - s.along_m), abs(v.length_m - s.length_m)
    if d_along > cfg.along_tolerance_m or d_len > tol_len:
        return None
    if _axis_diff_deg(last.heading_deg, s.heading_deg) > cfg.axis_tolerance_deg:
        return None
    return d_along / cfg.along_tolerance_m + d_len / tol_len


def track_visits(looks: list[Look], sightings: list[Sighting], berth_kinds: dict[str, str],
                 cfg: TrackConfig = TrackConfig()) -> list[Visit]:
    """Visits of every berth from its looks and tanker sightings (any order), ids in time order."""
    by_look: dict[tuple[str, str], list[Sighting]] = {}
    for s in sightings:
        by_look.setdefault((s.scene, s.berth), []).append(s)
    # A sighting whose scene has no look of its berth still counts, as an unclear look.
    known = {(lk.scene, lk.berth) for lk in looks}
    looks = list(looks) + [Look(s.scene, s.time, s.berth, False) for s in sightings if (s.scene, s.berth) not in known]
    looks = sorted({(lk.scene, lk.berth): lk for lk in looks}.values(), key=lambda lk: (lk.time, lk.scene, lk.berth))
    open_visits: dict[str, list[Visit]] = {}
    done: list[Visit] = []
    for look in looks:
        current = open_visits.setdefault(look.berth, [])
        for v in [v for v in current if (look.time - v.last_seen).total_seconds() > cfg.max_gap_days * 86400]:
            current.remove(v)
            done.append(v)
        here = by_look.get((look.scene, look.berth), [])
        pairs = sorted((c, i, j) for i, v in enumerate(current) for j, s in enumerate(here)
                       if (c := _match_cost(v, s, cfg)) is not None)
        used_v, used_s = set(), set()
        for _, i, j in pairs:
            if i in used_v or j in used_s:
                continue
            used_v.add(i)
            used_s.add(j)
            current[i].sightings.append(here[j])
            current[i].empty_looks = 0
        if look.seen:  # a clear view without the hull: it has left (or, rarely, the detector missed it)
            for i in sorted(set(range(len(current))) - used_v, reverse=True):
                current[i].empty_looks += 1
                if current[i].empty_looks >= cfg.empty_looks_to_end:
                    done.append(current.pop(i))
        for j, s in enumerate(here):
            if j not in used_s:
                current.append(Visit("", look.berth, berth_kinds.get(look.berth, ""), [s]))
    done += [v for vs in open_visits.values() for v in vs]
    done.sort(key=lambda v: (v.first_seen, v.berth, v.sightings[0].along_m))
    for k, v in enumerate(done, start=1):
        v.visit_id = f"v{k:04d}"
    return done


def load_events(visits: list[Visit], cfg: TrackConfig = TrackConfig()) -> list[Visit]:
    """The visits at loading berths: each is one load event."""
    return [v for v in visits if v.berth_kind in cfg.loading_kinds]
