"""Does the missed-visit correction recover the true barrels? Simulated years with known truth.

For each seed, the time-series generator simulates Vostochny from 7 March to 5 November 2024
(North Korean tankers at the oil berth: about 43 trips of about 23,000 barrels, stays of 1-2
days) and the PlanetScope-like passes with their weather. The oil berth counts as seen on a
pass unless a cloud hides it, drawn with the pass's cloud cover as probability (the rendered
cloud field is not computed here). On each seen pass, every tanker at the berth is found with
probability ``--recall`` and measured with a length error of sd ``--length-sd-m``. Those
sightings go through ``events.track_visits`` and ``estimate.estimate`` exactly as ``infer.py
--events`` sends its detections. Printed: per seed the true, observed-only and corrected totals
with the 90 % interval; then the mean absolute error, the coverage and the observed-only bias.

    python bench/events_validation.py --seeds 20
    python bench/events_validation.py --seeds 20 --recall 0.8 --length-sd-m 10
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.events.estimate import EstimateConfig, estimate  # noqa: E402
from detector.events.tracks import Look, Sighting, TrackConfig, load_events, track_visits  # noqa: E402
from detector.synth.series import series_specs, simulate_visits  # noqa: E402

START = datetime(2024, 3, 7, tzinfo=timezone.utc)
END = datetime(2024, 11, 5, tzinfo=timezone.utc)
GSD_M = 3.0


def observe(seed: int, recall: float, rng: np.random.Generator, measure, start: datetime = START, end: datetime = END):
    """(true loading visits, looks, sightings) of one simulated season at the oil berth: each
    PlanetScope pass sees the berth unless its cloud cover hides it, finds each tanker there with
    chance ``recall``, and ``measure(spec, visit)`` makes the sighting (drawing from ``rng`` in
    pass order, so one seed gives one season)."""
    visits = [v for v in simulate_visits(start, end, seed) if v.loading]
    looks, sightings = [], []
    for spec in series_specs(start, end, "planetscope", seed, visits):
        seen = rng.random() >= spec.weather.cloud
        looks.append(Look(spec.name, spec.when, "oil_berth", bool(seen)))
        if not seen:
            continue
        for v in visits:
            if v.arrival <= spec.when < v.departure and rng.random() < recall:
                sightings.append(measure(spec, v))
    return visits, looks, sightings


def simulate(seed: int, recall: float, length_sd_m: float, start: datetime = START, end: datetime = END):
    """(looks, sightings, true barrels, true visits) of one simulated season at the oil berth."""
    rng = np.random.default_rng([seed, 99])

    def measure(spec, v):
        heading = (rng.normal(0, 3) + (180 if v.bow_flip else 0)) % 360
        along = v.along_m + rng.normal(0, 5.0)
        return Sighting(spec.name, spec.when, "oil_berth", along, v.length_m + rng.normal(0, length_sd_m), heading, GSD_M)

    visits, looks, sightings = observe(seed, recall, rng, measure, start, end)
    return looks, sightings, float(sum(v.barrels for v in visits)), len(visits)


def correct(seed: int, recall: float, length_sd_m: float, start: datetime = START, end: datetime = END, draws: int = 4000):
    """(truth, observed, corrected dict, seen events, true visits) of one season from sightings alone."""
    track = TrackConfig(detector_recall=recall, length_pixels=max(3.0, 2 * length_sd_m / GSD_M))
    looks, sightings, truth, n_true = simulate(seed, recall, length_sd_m, start, end)
    events = load_events(track_visits(looks, sightings, {"oil_berth": "oil"}, track), track)
    clear = {"oil_berth": [lk.time for lk in looks if lk.seen]}
    total = estimate(events, clear, start, end, track, EstimateConfig(recall=recall, draws=draws, seed=seed))[-1]
    return truth, total.barrels_observed, total.barrels_corrected, len(events), n_true


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--recall", type=float, default=1.0, help="chance a seen pass finds a tanker that is there")
    p.add_argument("--length-sd-m", type=float, default=3.0, help="length measurement error (sd, metres)")
    p.add_argument("--draws", type=int, default=4000)
    args = p.parse_args()
    # The tracker is told what the bench's detector does: its recall and its length error (2 sd).
    assert TrackConfig().max_stay_days == 1.5 * 2.0 and TrackConfig().max_gap_days == 2.0 * 2.0  # as infer.py derives them
    print("| seed | true visits | seen events | true barrels | observed-only | corrected (90 % interval) | inside |")
    print("|---|---|---|---|---|---|---|")
    rel_err, rel_obs, covered = [], [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        truth, observed, c, n_events, n_true = correct(seed, args.recall, args.length_sd_m, draws=args.draws)
        inside = c["low"] <= truth <= c["high"]
        rel_err.append((c["median"] - truth) / truth)
        rel_obs.append((observed - truth) / truth)
        covered.append(inside)
        print(f"| {seed} | {n_true} | {n_events} | {truth:,.0f} | {observed:,.0f} | "
              f"{c['median']:,.0f} ({c['low']:,.0f}-{c['high']:,.0f}) | {'yes' if inside else 'NO'} |", flush=True)
    rel_err, rel_obs = np.array(rel_err), np.array(rel_obs)
    print(f"\n{args.seeds} seeds, recall {args.recall}, length sd {args.length_sd_m} m:")
    print(f"  corrected: mean absolute error {np.mean(np.abs(rel_err)):.1%}, mean error (bias) {np.mean(rel_err):+.1%}, "
          f"90 % interval covers the truth in {np.mean(covered):.0%} of seeds")
    print(f"  observed-only: mean error (bias) {np.mean(rel_obs):+.1%}, mean absolute error {np.mean(np.abs(rel_obs)):.1%}")
    print(f"\nreproduce: python bench/events_validation.py --seeds {args.seeds} --first-seed {args.first_seed} "
          f"--recall {args.recall} --length-sd-m {args.length_sd_m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
