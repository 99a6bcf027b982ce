"""Which tankers, from pixels: simulated whole seasons through the detector, ``--events`` and ``--fleet``.

For each seed the time-series generator simulates a whole season at the oil berth (7 March - 5
November 2024: about 43 trips of a fleet of 12 named North Korean tankers, each with a fixed paint
and accommodation block) and the passes of PlanetScope (3 m), SkySat (0.5 m) and Sentinel-2
(10 m); every pass is rendered as a clip around the berth (``bench/seasons.py``) and
``infer.py``'s pipeline runs on the clips with ``--events --fleet`` (the generator's fleet:
name, length from the deadweight, beam length / 6.2). Each load event is joined to the true
visit it lies in (by time, then length), so each found hull has the true names of its visits.

Printed per season: the true distinct hulls (all loading visits, and those among the visits the
events caught), the reported counts with their 90 % intervals, how pure the hulls are (pairs of
events put together that are one true hull, and pairs of one true hull put together), and for
hulls of two visits or more how often their true name (the majority of their visits) is the
fleet match's first candidate, or among its first three. Then, over the seasons, the mean
absolute error of the counts and their intervals' coverage.

Beside it, the sightings-only check on the same seeds: the true loading visits seen by
PlanetScope's clear passes with the checkpoint's recall, each sighting's length off by the errors
given (``--sightings``: per sighting, and shared by one stay's sightings; beams a sixth of it),
size only, through the same clustering and fleet match: what size alone can do with a perfect
event step, and how fine a size is needed to tell the fleet's hulls apart. Last, the
features per GSD band on the images: each feature's spread between one hull's sightings, and the
spread of the fleet's hull means, so their ratio says what separates hulls where.

    python bench/hulls_e2e.py --seeds 10 --threads 2
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import seasons  # noqa: E402
from events_validation import observe  # noqa: E402

from detector.events.estimate import EstimateConfig, estimate  # noqa: E402
from detector.events.fleet import FleetConfig, ListedVessel, match_hull  # noqa: E402
from detector.events.recall import recall_of  # noqa: E402
from detector.events.reid import BETWEEN_VISIT_SD_AT_3M, DEFAULT_NOISE_AT_3M, GSD_BANDS_M, ReidConfig, cluster_visits, distinct_hulls  # noqa: E402
from detector.events.tracks import Sighting, TrackConfig, Visit  # noqa: E402
from detector.model.routed import read_any_checkpoint  # noqa: E402
from detector.synth.series import NK_FLEET, length_for_dwt, simulate_visits  # noqa: E402

FEATURES = ("length_m", "beam_m", "chroma_r", "chroma_g", "super_pos")
MATCH_RADIUS_M = 40.0  # a detected vessel is the true one whose centre lies this near


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "vostochny_default.pt")
    p.add_argument("--seeds", type=int, default=10, help="number of whole seasons (10 for the README's figures)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--sensors", nargs="+", default=list(seasons.SENSORS), choices=seasons.SENSORS)
    p.add_argument("--sightings", nargs="+", default=["3:0", "6:8", "2:1", "1:0.5", "0.5:0.25"], metavar="SIGHTING:VISIT",
                   help="sightings-only errors to try, m (1 sd): per sighting, and shared by one stay's sightings; "
                        "the first is printed per season")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / "cache")
    p.add_argument("--out", type=Path, default=ROOT / "outputs" / "hulls_e2e", help="per-season runs and results.json")
    return p


def fleet_list() -> list[ListedVessel]:
    """The generator's fleet as a user's list would give it."""
    return [ListedVessel(name, f"{9_000_000 + k}", round(length_for_dwt(dwt), 1), round(length_for_dwt(dwt) / 6.2, 1), dwt, "generator")
            for k, (name, dwt) in enumerate(NK_FLEET)]


def write_fleet(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "imo", "length_m", "beam_m", "dwt", "source"])
        for v in fleet_list():
            w.writerow([v.name, v.imo, v.length_m, v.beam_m, v.dwt, v.source])
    return path


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def true_visit_of(times: list[datetime], length_m: float, visits: list[dict]) -> dict | None:
    """The true loading visit an event lies in: most of its sightings inside the stay, then the nearer length."""
    def score(v):
        inside = sum(_t(v["arrival"]) <= t <= _t(v["departure"]) for t in times)
        return inside, -abs(float(v["length_m"]) - length_m)
    best = max(visits, key=score, default=None)
    return best if best is not None and score(best)[0] > 0 else None


def pair_scores(found: list[int], true: list[str]) -> tuple[float, float]:
    """(precision, recall) over pairs of events: pairs put in one hull that are one true hull, and
    pairs of one true hull put in one hull (1 where there is no pair to count)."""
    same_f = same_t = both = 0
    for i in range(len(found)):
        for j in range(i + 1, len(found)):
            f, t = found[i] == found[j], true[i] == true[j]
            same_f += f
            same_t += t
            both += f and t
    return (both / same_f if same_f else 1.0), (both / same_t if same_t else 1.0)


def rank_of(name: str, candidates: list[str]) -> int | None:
    return candidates.index(name) + 1 if name in candidates else None


def season_from_images(seed: int, args, fleet_csv: Path) -> tuple[dict, dict]:
    """One season through the pipeline: (row of figures, per-feature sightings by band and true hull)."""
    start, end = seasons.WHOLE_SEASON
    scene_dir = seasons.render(args.cache_dir, seed, start, end, tuple(args.sensors))
    out = args.out / scene_dir.name
    seasons.infer(scene_dir, args.model, out, args.threads, events=True, fleet=fleet_csv)
    truth = [r for r in seasons.read_rows(scene_dir / "visits.csv") if r["loading"] == "True"]
    events = seasons.read_rows(out / "events.csv")
    hulls = seasons.read_rows(out / "hulls.csv")
    summary = json.loads((out / "summary.json").read_text())["hulls"]
    name_of = {}
    for e in events:
        times = [_t(e["first_seen"]), _t(e["last_seen"])]
        v = true_visit_of(times, float(e["length_m"]), truth)
        name_of[e["visit_id"]] = v["hull"] if v else "(no true visit)"
    hull_of = {vid: h["hull_id"] for h in hulls for vid in h["visits"].split(";")}
    ids = list(name_of)
    precision, recall = pair_scores([hull_of[i] for i in ids], [name_of[i] for i in ids])
    ranks = []
    for h in hulls:
        members = h["visits"].split(";")
        if len(members) < 2:
            continue
        true_name = Counter(name_of[m] for m in members).most_common(1)[0][0]
        cands = [c.rsplit(":", 1)[0] for c in h["candidates"].split(";") if c]
        ranks.append(rank_of(true_name, cands))
    row = {
        "seed": seed, "true_hulls": len({r["hull"] for r in truth}), "true_visits": len(truth),
        "events": len(events), "true_hulls_seen": len({n for n in name_of.values() if n != "(no true visit)"}),
        "among_seen": summary["among_seen_visits"], "with_missed": summary.get("with_missed_visits"),
        "pair_precision": precision, "pair_recall": recall, "ranks": ranks,
    }
    return row, feature_sightings(scene_dir, out)


def feature_sightings(scene_dir: Path, out: Path) -> dict:
    """{(feature, band): {true hull: [values]}} from the run's signatures and boxes at the oil berth."""
    truth = defaultdict(list)
    for r in seasons.read_rows(scene_dir / "truth.csv"):
        if r["name"]:
            truth[r["scene"]].append(r)
    got: dict = defaultdict(lambda: defaultdict(list))
    for part_path in sorted((out / "parts").glob("*.json")):
        part = json.loads(part_path.read_text())
        sigs = part.get("signatures") or {}
        gsd = float(part.get("gsd_m") or 0)
        band = int(np.searchsorted(GSD_BANDS_M, gsd, side="right"))
        for v in part.get("vessels", []):
            near = [t for t in truth.get(part["scene"], [])
                    if _dist_m(float(v["lon"]), float(v["lat"]), float(t["lon"]), float(t["lat"])) < MATCH_RADIUS_M]
            if not near:
                continue
            name = near[0]["name"]
            sig = sigs.get(v["vessel_id"], {})
            got[("box_length_m", band)][name].append(float(v["length_m"]) - float(near[0]["length_m"]))
            if sig.get("length_px"):
                got[("pixel_length_raw_m", band)][name].append(sig["length_px"] * gsd - float(near[0]["length_m"]))
            got[("beam_m", band)][name].append(float(v["beam_m"]) - float(near[0]["beam_m"]))
            for f in ("chroma_r", "chroma_g", "super_pos"):
                if f in sig:
                    got[(f, band)][name].append(float(sig[f]))
    return got


def _dist_m(lon1, lat1, lon2, lat2) -> float:
    return float(np.hypot((lon1 - lon2) * 111_320 * np.cos(np.radians(lat1)), (lat1 - lat2) * 110_540))


def season_from_sightings(seed: int, recall: float, length_sd_m: float, visit_sd_m: float, fleet: list[ListedVessel]) -> dict:
    """The same season from simulated PlanetScope sightings, measured in size only: each
    sighting's length off by ``length_sd_m`` (1 sd) plus an error ``visit_sd_m`` shared by the
    sightings of one stay; beams a sixth of that (a beam is a sixth of a length). The clustering
    is told both errors (``between_visit_share``, ``default_noise_share``), as a run on that
    sensor would have them measured."""
    start, end = seasons.WHOLE_SEASON
    rng = np.random.default_rng([seed, 98])
    shared = {v.visit_id: rng.normal(0, visit_sd_m) for v in simulate_visits(start, end, seed) if v.loading}

    def measure(spec, v):
        heading = (rng.normal(0, 3) + (180 if v.bow_flip else 0)) % 360
        err_m = shared[v.visit_id] + rng.normal(0, length_sd_m)
        return v.visit_id, Sighting(spec.name, spec.when, "oil_berth", v.along_m, v.length_m + err_m, heading, 3.0,
                                    beam_m=v.beam_m + err_m / 6.0)

    visits, looks, seen = observe(seed, recall, rng, measure, start, end)
    by_visit = defaultdict(list)
    for visit_id, s in seen:
        by_visit[visit_id].append(s)
    # a perfect event step: one event per true visit any clear look caught
    hull_of = {v.visit_id: v.hull for v in visits}
    order = sorted(by_visit, key=lambda vid: by_visit[vid][0].time)
    events = [Visit(f"v{k + 1:04d}", "oil_berth", "oil", by_visit[vid]) for k, vid in enumerate(order)]
    names = [hull_of[vid] for vid in order]
    track = TrackConfig(detector_recall=recall)
    clear = {"oil_berth": [lk.time for lk in looks if lk.seen]}
    est = estimate(events, clear, start, end, track, EstimateConfig(recall=recall, draws=2000, seed=seed))
    cfg = ReidConfig(seed=seed, between_visit_share=visit_sd_m / BETWEEN_VISIT_SD_AT_3M["length_m"],
                     default_noise_share=length_sd_m / DEFAULT_NOISE_AT_3M["length_m"])
    clusters = cluster_visits(events, cfg)
    counts = distinct_hulls(clusters, est[-1].visit_draws - len(events), len(events), cfg, seed=seed)
    precision, recall_pairs = pair_scores(list(clusters.labels), names)
    ranks = []
    for h in range(int(clusters.labels.max()) + 1 if clusters.labels.size else 0):
        members = list(np.flatnonzero(clusters.labels == h))
        if len(members) < 2:
            continue
        true_name = Counter(names[i] for i in members).most_common(1)[0][0]
        cands = match_hull(clusters.hull_signature(members), tuple(fleet), clusters.fleet_prior, FleetConfig())
        ranks.append(rank_of(true_name, [c.name or "(not on the list)" for c in cands][:3]))
    return {"seed": seed, "true_hulls": len({v.hull for v in visits}), "true_hulls_seen": len(set(names)), "events": len(events),
            "among_seen": counts["among_seen_visits"], "with_missed": counts.get("with_missed_visits"),
            "pair_precision": precision, "pair_recall": recall_pairs, "ranks": ranks}


def summarise(label: str, rows: list[dict]) -> dict:
    """Mean absolute error and coverage of the counts, and the fleet match's first / first-three shares."""
    def err(key, truth_key):
        e = np.array([(r[key]["median"] - r[truth_key]) / r[truth_key] for r in rows if r[key] and "median" in r[key]])
        cover = np.mean([r[key]["low"] <= r[truth_key] <= r[key]["high"] for r in rows if r[key] and "median" in r[key]])
        return e, cover
    e_all, c_all = err("with_missed", "true_hulls")
    e_seen, c_seen = err("among_seen", "true_hulls_seen")
    ranks = [k for r in rows for k in r["ranks"]]
    top1 = float(np.mean([k == 1 for k in ranks])) if ranks else float("nan")
    top3 = float(np.mean([k is not None and k <= 3 for k in ranks])) if ranks else float("nan")
    prec = float(np.mean([r["pair_precision"] for r in rows]))
    rec = float(np.mean([r["pair_recall"] for r in rows]))
    print(f"{label}, {len(rows)} seasons:")
    print(f"  distinct hulls, all visits: mean absolute error {np.abs(e_all).mean():.1%} (bias {e_all.mean():+.1%}), "
          f"90 % interval holds the truth in {c_all:.0%}")
    print(f"  distinct hulls among the events seen: mean absolute error {np.abs(e_seen).mean():.1%} (bias {e_seen.mean():+.1%}), "
          f"interval holds it in {c_seen:.0%}")
    print(f"  pairs of events: precision {prec:.2f}, recall {rec:.2f}")
    print(f"  fleet match, {len(ranks)} hulls seen at least twice: true name first {top1:.0%}, in the first three {top3:.0%}")
    return {"mae_all": float(np.abs(e_all).mean()), "bias_all": float(e_all.mean()), "coverage_all": float(c_all),
            "mae_seen": float(np.abs(e_seen).mean()), "coverage_seen": float(c_seen), "pair_precision": prec,
            "pair_recall": rec, "top1": top1, "top3": top3, "hulls_ranked": len(ranks)}


def print_features(pooled: dict) -> None:
    """Per feature and GSD band: the spread within one hull and between the hulls' means."""
    names = {0: "< 1 m", 1: "1-4 m", 2: "4-8 m", 3: ">= 8 m"}
    print("\nfeatures on the images, per GSD band (lengths and beams as error against the truth, m; the pixel length "
          "raw, before the events step adds its end shortfall):")
    print("| feature | GSD | sightings | mean | sd within one hull | sd of the hulls' means | ratio |")
    print("|---|---|---|---|---|---|---|")
    for (f, band) in sorted(pooled, key=lambda k: (k[0], k[1])):
        by_hull = {h: np.array(xs) for h, xs in pooled[(f, band)].items() if len(xs) >= 2}
        if len(by_hull) < 2:
            continue
        within = float(np.sqrt(np.mean([xs.var(ddof=1) for xs in by_hull.values()])))
        means = np.array([xs.mean() for xs in by_hull.values()])
        n = sum(len(xs) for xs in by_hull.values())
        allx = np.concatenate(list(by_hull.values()))
        ratio = means.std(ddof=1) / within if within > 0 else float("inf")
        print(f"| {f} | {names[band]} | {n} | {allx.mean():+.3f} | {within:.3f} | {means.std(ddof=1):.3f} | {ratio:.2f} |")


def main(args) -> int:
    torch.set_num_threads(args.threads)
    meta = read_any_checkpoint(args.model).get("meta", {})
    carried = recall_of(meta)
    recall_3m = carried.mean(3.0) if carried else 1.0
    fleet_csv = write_fleet(args.out / "fleet.csv")
    fleet = fleet_list()
    print(f"model {args.model}; fleet {fleet_csv} ({len(fleet)} hulls)")
    print("| seed | true hulls (seen) | events | distinct, with missed (90 %) | among seen (90 %) | pairs prec. / rec. "
          "| ranks of true names | sightings-only with missed | s.-o. ranks |")
    print("|---|---|---|---|---|---|---|---|---|")
    sweeps = [tuple(float(x) for x in pair.split(":")) for pair in args.sightings]
    img_rows, sight_rows, pooled = [], {sw: [] for sw in sweeps}, defaultdict(lambda: defaultdict(list))
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if seed in seasons.CALIBRATION_SEEDS:
            raise SystemExit(f"seed {seed} is one the recall is measured on; pick others")
        t0 = time.perf_counter()
        row, feats = season_from_images(seed, args, fleet_csv)
        for key, by in feats.items():
            for h, xs in by.items():
                pooled[key][h].extend(xs)
        for sw in sweeps:
            sight_rows[sw].append(season_from_sightings(seed, recall_3m, sw[0], sw[1], fleet))
        s_row = sight_rows[sweeps[0]][-1]
        row["seconds"] = round(time.perf_counter() - t0, 1)
        img_rows.append(row)
        wm, sm, sw = row["with_missed"] or {}, row["among_seen"], s_row["with_missed"] or {}
        print(f"| {seed} | {row['true_hulls']} ({row['true_hulls_seen']}) | {row['events']} | "
              f"{wm.get('median', float('nan')):.0f} ({wm.get('low', float('nan')):.0f}-{wm.get('high', float('nan')):.0f}) | "
              f"{sm.get('median', float('nan')):.0f} ({sm.get('low', float('nan')):.0f}-{sm.get('high', float('nan')):.0f}) | "
              f"{row['pair_precision']:.2f} / {row['pair_recall']:.2f} | {_ranks(row['ranks'])} | "
              f"{sw.get('median', float('nan')):.0f} ({sw.get('low', float('nan')):.0f}-{sw.get('high', float('nan')):.0f}) | "
              f"{_ranks(s_row['ranks'])} |", flush=True)
    print()
    figures = {"images": summarise("from images", img_rows)}
    for sw in sweeps:
        figures[f"sightings {sw[0]}:{sw[1]}"] = summarise(
            f"sightings-only (PlanetScope looks, recall {recall_3m:.2f}, length off by {sw[0]} m a sighting and {sw[1]} m a stay, "
            "size only)", sight_rows[sw])
    print_features(pooled)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"images": img_rows, "sightings": {f"{a}:{b}": r for (a, b), r in sight_rows.items()}, "figures": figures},
                                                      indent=1, default=str))
    print(f"\nreproduce: python bench/hulls_e2e.py {' '.join(sys.argv[1:])}")
    return 0


def _ranks(ranks: list) -> str:
    return " ".join("-" if k is None else str(k) for k in ranks) or "none"


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
