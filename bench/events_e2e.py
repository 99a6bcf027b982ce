"""Barrels from pixels: simulated seasons rendered to images, through the detector and ``--events``.

For each seed the time-series generator simulates the oil berth (North Korean tankers, about 43
trips in 243 days, stays of 1-2 days) and the passes of PlanetScope (3 m), SkySat (0.5 m) and
Sentinel-2 (10 m) with their weather; every pass is rendered as a clip around the berth
(``bench/seasons.py``). ``infer.py``'s pipeline runs on the clips with ``--events``, using the
recall the model's checkpoint carries (or ``--detector-recall``). Seeds 1..W are whole seasons
(7 March - 5 November 2024), the rest 45-day windows. Printed per season: true visits and
barrels, events seen, observed-only and corrected totals with the 90 % interval; then the mean
signed and absolute error of the corrected total and the interval's coverage.

Beside it, the sightings-only validation (``bench/events_validation.py``) on the same seeds and
windows, told the same recall: there a clear pass finds a hull with exactly that chance and
measures it to 3 m. The gap between the two is what the detector costs (lengths, false and
split events, clear looks that are not).

    python bench/events_e2e.py --seeds 20 --whole 4 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import seasons  # noqa: E402
from events_validation import correct  # noqa: E402

from detector.events.recall import recall_of  # noqa: E402
from detector.model.routed import read_any_checkpoint  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "vostochny_default.pt")
    p.add_argument("--seeds", type=int, default=20, help="number of seasons (at least 20 for the README's figures)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--whole", type=int, default=4, help="how many of the seasons are whole March-November ones")
    p.add_argument("--sensors", nargs="+", default=list(seasons.SENSORS), choices=seasons.SENSORS)
    p.add_argument("--detector-recall", type=float, default=None, help="override the checkpoint's recall (exact)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / "cache")
    p.add_argument("--out", type=Path, default=ROOT / "outputs" / "events_e2e", help="per-season runs and results.json")
    return p


def main(args) -> int:
    torch.set_num_threads(args.threads)
    meta = read_any_checkpoint(args.model).get("meta", {})
    carried = recall_of(meta)
    recall_3m = args.detector_recall or (carried.mean(3.0) if carried else 1.0)
    print(f"model {args.model}; recall used: "
          + (f"--detector-recall {args.detector_recall}" if args.detector_recall else carried.describe() if carried else "none (1)"))
    print("| seed | days | true visits | true barrels | events seen | observed-only | corrected (90 % interval) | inside "
          "| sightings-only corrected | inside |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for k, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        if seed in seasons.CALIBRATION_SEEDS:
            raise SystemExit(f"seed {seed} is one the recall is measured on; pick others")
        start, end = seasons.WHOLE_SEASON if k < args.whole else seasons.short_season(seed)
        t0 = time.perf_counter()
        scene_dir = seasons.render(args.cache_dir, seed, start, end, tuple(args.sensors))
        out = args.out / scene_dir.name
        seasons.infer(scene_dir, args.model, out, args.threads, events=True, detector_recall=args.detector_recall)
        summary = json.loads((out / "summary.json").read_text())
        total = summary["periods"][-1]
        n_true, truth = seasons.true_loads(scene_dir)
        c = total["barrels_corrected"]
        s_truth, _, s_c, _, _ = correct(seed, recall_3m, 3.0, start, end)
        row = {"seed": seed, "days": (end - start).days, "true_visits": n_true, "truth": truth, "events": total["visits_observed"],
               "observed": total["barrels_observed"], "corrected": c, "inside": c["low"] <= truth <= c["high"],
               "sightings_truth": s_truth, "sightings_corrected": s_c, "sightings_inside": s_c["low"] <= s_truth <= s_c["high"],
               "clear_looks": summary["looks"]["oil_berth"], "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"| {seed} | {row['days']} | {n_true} | {truth:,.0f} | {row['events']} | {row['observed']:,.0f} | "
              f"{c['median']:,.0f} ({c['low']:,.0f}-{c['high']:,.0f}) | {'yes' if row['inside'] else 'NO'} | "
              f"{s_c['median']:,.0f} of {s_truth:,.0f} | {'yes' if row['sightings_inside'] else 'NO'} |", flush=True)
    err = np.array([(r["corrected"]["median"] - r["truth"]) / r["truth"] for r in rows if r["truth"] > 0])
    obs = np.array([(r["observed"] - r["truth"]) / r["truth"] for r in rows if r["truth"] > 0])
    s_err = np.array([(r["sightings_corrected"]["median"] - r["sightings_truth"]) / r["sightings_truth"] for r in rows if r["sightings_truth"] > 0])
    print(f"\n{len(rows)} seasons ({args.whole} whole, the rest {seasons.SHORT_DAYS} days), from images:")
    print(f"  corrected: mean error (bias) {err.mean():+.1%}, mean absolute error {np.abs(err).mean():.1%}, "
          f"90 % interval covers the truth in {np.mean([r['inside'] for r in rows]):.0%} of seasons")
    print(f"  observed-only: mean error (bias) {obs.mean():+.1%}, mean absolute error {np.abs(obs).mean():.1%}")
    print(f"  sightings-only (recall {recall_3m:.2f}, length sd 3 m): bias {s_err.mean():+.1%}, mean absolute error "
          f"{np.abs(s_err).mean():.1%}, coverage {np.mean([r['sightings_inside'] for r in rows]):.0%}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    print(f"\nreproduce: python bench/events_e2e.py {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
