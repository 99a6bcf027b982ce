"""Visits no image caught, and total barrels with an interval (Monte Carlo).

Tanker arrivals at a loading berth are taken as a Poisson process of unknown rate; a visit is
seen when a clear look of its berth falls inside its stay (each clear look finds the hull with
the detector's recall at that look's GSD, ``recall.DetectorRecall``). For the berth's actual clear looks and a stay drawn from the dwell
distribution (default uniform 1-2 days, DESIGN.md section 5), ``detection_probability`` gives
the chance p(t) that a visit arriving at time t is seen. Then:

* the recall: measured counts give a Beta posterior per GSD band; each Monte Carlo draw takes
  one of ``recall_levels`` equally likely quantiles of it, so p, the rate and the misses below
  follow a detector that may be better or worse than its point estimate;
* the rate: Gamma(n_seen + 1/2, integral of p) (Jeffreys prior), where n_seen counts the
  visits a clear look saw, so a month or a berth that was never seen clearly adds visits with a
  wide spread instead of none;
* missed visits in each month: Poisson(rate x integral over the month of 1 - p), less the
  visits that only unclear looks (haze, part cloud) glimpsed, which are counted as seen;
* barrels of a seen visit: its length drawn within its tolerance, deadweight from it, a load
  factor drawn from 85-95 % (a visit seen only coarser than ``max_sizing_gsd_m``: like the
  visits seen sharper); a missed visit: a seen visit's barrels drawn at random, or with
  none seen, 10,000-30,000 barrels (UN Panel of Experts' range for one load).

The observed-only total (what published counts do) is reported beside the corrected one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from .recall import DetectorRecall
from .tracks import TrackConfig, Visit
from .volumes import barrels_per_tonne, dwt_for_length, length_tolerance_m, load_factors

UN_LOAD_BARRELS = (10_000.0, 30_000.0)  # UN Panel of Experts: one tanker load
CAP_BARRELS = 500_000.0  # UNSCR 2397 (2017): refined petroleum a year
DEFAULT_LOOK_GSD_M = 3.0  # a look whose scene GSD is not known: PlanetScope's


@dataclass(frozen=True)
class EstimateConfig:
    """The correction's assumptions."""

    dwell_days: tuple[float, float] = (1.0, 2.0)  # stay at the berth, uniform between these
    recall: DetectorRecall | float = 1.0  # chance a clear look finds a hull that is there (a float: exact)
    recall_levels: int = 32  # quantiles of the recall's posterior the draws are spread over
    draws: int = 4000
    interval: float = 0.9
    seed: int = 0
    cap_barrels: float = CAP_BARRELS


def detector_recall(cfg: EstimateConfig) -> DetectorRecall:
    """The estimate's recall as a :class:`DetectorRecall` (a float is an exact recall)."""
    return cfg.recall if isinstance(cfg.recall, DetectorRecall) else DetectorRecall.exact(cfg.recall)


def _days(t: datetime, origin: datetime) -> float:
    return (t - origin).total_seconds() / 86400.0


def detection_probability(look_days: np.ndarray, arrival_days: np.ndarray, dwell_days: tuple[float, float],
                          recall: float | np.ndarray = 1.0, samples: int = 64) -> np.ndarray:
    """Chance that a visit arriving at each of ``arrival_days`` is seen by clear looks at ``look_days``.

    The stay is uniform in ``dwell_days``; each clear look inside the stay finds the hull with
    probability ``recall`` (one value, or one per look: looks at different GSDs see differently).
    Days are floats on one axis.
    """
    look_days = np.asarray(look_days, float)
    order = np.argsort(look_days, kind="stable")
    looks = look_days[order]
    recall = np.broadcast_to(np.asarray(recall, float), look_days.shape)[order]
    # Misses multiply across looks: sums of log(1 - recall) over the looks inside each stay.
    # A look of recall 1 cannot miss; counted apart, as log(0) would make sums undefined.
    certain = recall >= 1.0
    log_miss = np.where(certain, 0.0, np.log1p(-np.clip(recall, 0.0, 1.0 - 1e-12)))
    cum = np.concatenate([[0.0], np.cumsum(log_miss)])
    cum_certain = np.concatenate([[0], np.cumsum(certain)])
    arrivals = np.asarray(arrival_days, float)
    lo, hi = dwell_days
    dwell = lo + (hi - lo) * (np.arange(samples) + 0.5) / samples  # quantiles of the uniform stay
    first = np.searchsorted(looks, arrivals, side="left")
    last = np.searchsorted(looks, arrivals[:, None] + dwell[None, :], side="right")
    if recall.size and np.all(recall == recall[0]):  # one recall: powers, exact
        return (1.0 - (1.0 - recall[0]) ** (last - first[:, None])).mean(axis=1)
    p_seen = np.where(cum_certain[last] > cum_certain[first][:, None], 1.0, -np.expm1(cum[last] - cum[first][:, None]))
    return p_seen.mean(axis=1)


@dataclass
class PeriodEstimate:
    """Observed and corrected figures for one period (a month, or the whole run)."""

    period: str
    visits_observed: int
    visits_estimated: dict  # mean, low, high
    barrels_observed: float
    barrels_corrected: dict  # median, low, high
    share_of_cap: dict  # of the corrected total: median, low, high
    mean_detection_probability: float
    start: datetime | None = None
    end: datetime | None = None
    draws: np.ndarray | None = None  # corrected barrels in each Monte Carlo draw (not serialised)
    visit_draws: np.ndarray | None = None  # seen plus missed visits in each draw (not serialised)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("draws", "visit_draws")}
        d["start"], d["end"] = (t.isoformat() if t else None for t in (self.start, self.end))
        return d


def _months(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    out, t = [], start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while t < end:
        nxt = (t + timedelta(days=32)).replace(day=1)
        out.append((t.strftime("%Y-%m"), max(t, start), min(nxt, end)))
        t = nxt
    return out


def estimate(events: list[Visit], clear_looks: dict[str, list[datetime]], start: datetime, end: datetime,
             track: TrackConfig = TrackConfig(), cfg: EstimateConfig = EstimateConfig(),
             look_gsd_m: dict[str, list[float]] | None = None) -> list[PeriodEstimate]:
    """Per month and in total ("total" last): seen and corrected visits and barrels with intervals.

    ``events`` are the load events, ``clear_looks`` the times each loading berth was seen
    clearly (``look_gsd_m``: the GSD of each of those looks, for the recall at it; default
    ``DEFAULT_LOOK_GSD_M``), ``start``-``end`` the period the scenes cover.
    """
    rng = np.random.default_rng(cfg.seed)
    recall = detector_recall(cfg)
    k_levels = max(1, cfg.recall_levels if recall.fixed is None else 1)
    level = rng.permutation(np.arange(cfg.draws) % k_levels)  # each draw's recall quantile
    step = 1.0 / 24.0  # arrival grid: hourly
    grid = np.arange(0.0, _days(end, start), step) + step / 2
    months = _months(start, end)
    month_starts = np.array([_days(a, start) for _, a, _ in months])
    month_of_grid = np.searchsorted(month_starts, grid, side="right") - 1
    first_days = np.array([_days(e.first_seen, start) for e in events], float)
    month_of_event = np.clip(np.searchsorted(month_starts, first_days, side="right") - 1, 0, len(months) - 1)
    berths = sorted(set(clear_looks) | {e.berth for e in events})
    p_seen = {}  # berth -> chance a visit arriving at each grid hour is seen (at the recall's mean level)
    missed = np.zeros((cfg.draws, len(months)))
    for b in berths:
        times = clear_looks.get(b, [])
        looks = np.array([_days(t, start) for t in times])
        gsd = np.asarray((look_gsd_m or {}).get(b, [DEFAULT_LOOK_GSD_M] * len(times)), float)
        clear_set = set(times)
        mine = [k for k, e in enumerate(events) if e.berth == b]
        glimpsed = [k for k in mine if not any(s.time in clear_set for s in events[k].sightings)]
        if not len(looks):
            p_seen[b] = np.zeros_like(grid)
            continue  # never seen clearly: its rate cannot be told (said in the summary)
        r_levels = recall.levels(gsd, k_levels)  # (levels, looks)
        p_by_level = np.array([detection_probability(looks, grid, cfg.dwell_days, r) for r in r_levels])
        p_seen[b] = p_by_level.mean(axis=0)
        exposure = p_by_level.sum(axis=1) * step  # expected clearly seen visits per unit rate, per level
        if exposure.min() <= 0:
            continue  # no arrival in the period could be seen: its rate cannot be told
        unseen_days = np.stack([np.bincount(month_of_grid, weights=(1 - p) * step, minlength=len(months)) for p in p_by_level])
        rate = rng.gamma(len(mine) - len(glimpsed) + 0.5, 1.0 / exposure[level])
        here = rng.poisson(rate[:, None] * unseen_days[level])
        for k in glimpsed:  # a visit only unclear looks saw is one of the misses, and already counted
            m = month_of_event[k]
            here[:, m] = np.maximum(here[:, m] - 1, 0)
        missed += here
    seen_barrels = _seen_barrels(events, track, rng, cfg.draws, recall)  # (draws, events)
    missed_barrels = _missed_barrels(missed, seen_barrels, rng)  # (draws, months)
    mids = np.array([e.volume(track).barrels[1] for e in events])
    q = ((1 - cfg.interval) / 2, 0.5, (1 + cfg.interval) / 2)
    out = []
    for m, (name, period_start, period_end) in enumerate(months + [("total", start, end)]):
        whole = name == "total"
        in_m = np.ones(len(events), bool) if whole else month_of_event == m
        on_grid = np.ones(len(grid), bool) if whole else month_of_grid == m
        visits = in_m.sum() + (missed.sum(axis=1) if whole else missed[:, m])
        total = seen_barrels[:, in_m].sum(axis=1) + (missed_barrels.sum(axis=1) if whole else missed_barrels[:, m])
        lo, med, hi = np.quantile(total, q)
        p_mean = float(np.mean([p[on_grid].mean() for p in p_seen.values()])) if p_seen and on_grid.any() else 0.0
        out.append(PeriodEstimate(
            name, int(in_m.sum()),
            {"mean": round(float(visits.mean()), 1), "low": float(np.quantile(visits, q[0])), "high": float(np.quantile(visits, q[2]))},
            round(float(mids[in_m].sum())),
            {"median": round(float(med)), "low": round(float(lo)), "high": round(float(hi))},
            {k: round(float(v / cfg.cap_barrels), 4) for k, v in (("median", med), ("low", lo), ("high", hi))},
            round(p_mean, 4),
            period_start,
            period_end,
            total,
            visits,
        ))
    return out


def _seen_barrels(events: list[Visit], track: TrackConfig, rng: np.random.Generator, draws: int,
                  recall: DetectorRecall | None = None) -> np.ndarray:
    """Barrels of each seen event in each draw: its true length drawn from what its measured
    length says (``true_lengths``), deadweight from it, load 85-95 %."""
    load = load_factors()
    bpt = barrels_per_tonne(track.product)
    out = np.zeros((draws, len(events)))
    sigma = np.array([_length_sd_m(e, track, recall) for e in events])
    coarse = np.array([e.gsd_m > track.max_sizing_gsd_m for e in events], bool)
    mean, sd = true_lengths(np.array([e.length_m for e in events]), sigma, ~coarse)
    for k in range(len(events)):
        lengths = np.clip(rng.normal(mean[k], sd[k], draws), 1.0, None)
        out[:, k] = dwt_for_length(lengths) * rng.uniform(load.low, load.high, draws) * bpt
    # A hull seen only at a GSD too coarse to size it (a 10 m look cannot tell 70 m from 100 m,
    # and barrels follow length to about the fourth power) loads like the hulls seen sharper.
    if coarse.any() and (~coarse).any():
        sharp = np.flatnonzero(~coarse)
        for k in np.flatnonzero(coarse):
            out[:, k] = out[np.arange(draws), sharp[rng.integers(0, sharp.size, draws)]]
    return out


def _length_sd_m(e: Visit, track: TrackConfig, recall: DetectorRecall | None) -> float:
    """How far a visit's measured length may be off (m, 1 sd): half its tolerance, or the
    detector's measured length spread at its GSD where that is wider."""
    sigma = length_tolerance_m(e.gsd_m, pixels=track.length_pixels) / 2.0
    measured = recall.length_sd_m(e.gsd_m) if recall is not None else None
    return max(sigma, measured or 0.0)


def true_lengths(measured_m: np.ndarray, sd_m: np.ndarray, pooled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (m) of each hull's true length given lengths measured with error ``sd_m``.

    Barrels grow with about the fourth power of length, so measurement noise alone inflates a
    total: a hull measured 10 m long gains more than one measured 10 m short loses. The hulls of
    one run are taken as drawn from one fleet (empirical Bayes, normal): its mean and spread come
    from the ``pooled`` hulls (all by default), the spread less the measurement noise, and each
    length is drawn towards the fleet's mean by the share of its variance that is noise (the
    regression calibration of measurement-error models). With fewer than 3 pooled hulls, or
    hulls no more alike than their noise, the fleet tells nothing and each keeps its own length."""
    measured_m, sd_m = np.asarray(measured_m, float), np.asarray(sd_m, float)
    pooled = np.ones(measured_m.size, bool) if pooled is None else np.asarray(pooled, bool)
    if pooled.sum() < 3:
        return measured_m, sd_m
    fleet_mean = float(measured_m[pooled].mean())
    fleet_var = float(measured_m[pooled].var(ddof=1) - np.mean(sd_m[pooled] ** 2))
    if fleet_var <= 0:
        fleet_var = 1.0  # hulls as alike as noise can tell: a floor of 1 m, not none
    keep = fleet_var / (fleet_var + sd_m**2)  # share of each hull's own measurement that is signal
    return fleet_mean + keep * (measured_m - fleet_mean), np.sqrt(keep) * sd_m


def _missed_barrels(missed: np.ndarray, seen_barrels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Barrels of the missed visits per draw and month: like the seen ones, else the UN range."""
    n = missed.astype(int)
    cell = np.repeat(np.arange(n.size), n.ravel())  # one entry per missed visit: its (draw, month) cell
    if seen_barrels.shape[1]:
        each = seen_barrels[rng.integers(0, seen_barrels.shape[0], cell.size), rng.integers(0, seen_barrels.shape[1], cell.size)]
    else:
        each = rng.uniform(*UN_LOAD_BARRELS, cell.size)
    return np.bincount(cell, weights=each, minlength=n.size).reshape(n.shape)
