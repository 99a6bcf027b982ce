"""``hulls.csv`` and the distinct-hull part of ``summary.json``: the run's load events grouped
into hulls (``reid.py``), each held against the user's fleet list where one is given (``fleet.py``)."""

from __future__ import annotations

import math

import numpy as np

from .fleet import FleetConfig, ListedVessel, describe, match_hull
from .reid import GSD_BAND_NAMES, HullClusters
from .tracks import Visit

HULL_COLUMNS = ["hull_id", "visits", "n_visits", "first_seen", "last_seen", "length_m", "length_sd_m", "beam_m", "beam_sd_m",
                "chroma_r", "chroma_g", "super_pos", "days_between_visits", "together", "fleet_match", "best_name", "best_share", "candidates"]
TOP_CANDIDATES = 3  # names written per hull in hulls.csv's ``candidates``, best first


def _round(value: float | None, digits: int):
    return "" if value is None or not math.isfinite(value) else round(float(value), digits)


def hull_rows(events: list[Visit], clusters: HullClusters, fleet: tuple[ListedVessel, ...] | None,
              fleet_cfg: FleetConfig = FleetConfig()) -> tuple[list[dict], list[list]]:
    """Rows of ``hulls.csv`` (hull ids h001.. in order of first sighting) and, per hull, its fleet
    candidates (empty without a fleet). ``together``: the share of the samples in which the
    hull's visits all lie in one hull (1 for a hull of one visit)."""
    rows, candidates = [], []
    for h in range(int(clusters.labels.max()) + 1 if clusters.labels.size else 0):
        members = [i for i in np.flatnonzero(clusters.labels == h)]
        members.sort(key=lambda i: events[i].first_seen)
        sig = clusters.hull_signature(members)
        firsts = [events[i].first_seen for i in members]
        gaps = [(firsts[k + 1] - events[members[k]].last_seen).total_seconds() / 86400 for k in range(len(members) - 1)]
        together = float(np.mean([np.all(s[members] == s[members[0]]) for s in clusters.samples])) if clusters.samples.size else 1.0
        row = {
            "hull_id": f"h{h + 1:03d}", "visits": ";".join(events[i].visit_id for i in members), "n_visits": len(members),
            "first_seen": firsts[0].isoformat(), "last_seen": max(events[i].last_seen for i in members).isoformat(),
            "length_m": _round(sig.get("length_m", (None,))[0], 1),
            "length_sd_m": _round(math.sqrt(sig["length_m"][1]) if "length_m" in sig else None, 1),
            "beam_m": _round(sig.get("beam_m", (None,))[0], 1),
            "beam_sd_m": _round(math.sqrt(sig["beam_m"][1]) if "beam_m" in sig else None, 1),
            "chroma_r": _round(sig.get("chroma_r", (None,))[0], 3), "chroma_g": _round(sig.get("chroma_g", (None,))[0], 3),
            "super_pos": _round(sig.get("super_pos", (None,))[0], 3),
            "days_between_visits": ";".join(f"{g:.1f}" for g in gaps), "together": round(together, 3),
            "fleet_match": "", "best_name": "", "best_share": "", "candidates": "",
        }
        cands = []
        if fleet:
            cands = match_hull(sig, fleet, clusters.fleet_prior, fleet_cfg)
            row["fleet_match"] = describe(cands, fleet_cfg)
            best = cands[0]
            row["best_name"] = best.name or "(not on the list)"
            row["best_share"] = round(best.share, 3)
            row["candidates"] = ";".join(f"{c.name or '(not on the list)'}:{c.share:.3f}" for c in cands[:TOP_CANDIDATES])
        rows.append(row)
        candidates.append(cands)
    return rows, candidates


def summary_block(counts: dict, rows: list[dict], candidates: list[list], fleet_path: str | None,
                  clusters: HullClusters | None = None) -> dict:
    """The ``hulls`` entry of summary.json: the counts, and the errors the clustering used."""
    out = dict(counts)
    out["hulls_csv"] = "hulls.csv"
    if clusters is not None and clusters.fleet_sizes.size:
        lo, med, hi = np.quantile(clusters.fleet_sizes, ((1 - counts["interval"]) / 2, 0.5, (1 + counts["interval"]) / 2), method="nearest")
        out["fleet_size"] = {"median": float(med), "low": float(lo), "high": float(hi),
                             "note": "hulls that use the loading berths, if each comes as often as another"}
        out["sighting_error"] = {f"{f}@{GSD_BAND_NAMES[b]}": round(sd, 4) for (f, b), sd in sorted(clusters.noise.items())}
    if fleet_path:
        out["fleet"] = {
            "file": fleet_path,
            "hulls_consistent_with_a_listed_vessel": sum(any(c.name and c.consistent for c in cs) for cs in candidates),
            "hulls_consistent_with_none": sum(not any(c.name and c.consistent for c in cs) for cs in candidates),
            "note": "likelihoods from length and beam: 'consistent with', never an identity",
        }
    out["method"] = ("events clustered into hulls by a mixture over a fleet of unknown size, each hull as likely as another "
                     "to come (capture-recapture), over length, beam, deck colour and the accommodation block's place; errors "
                     "measured on the run's own repeated sightings plus what a stay shares; overlapping events are never one hull")
    return out
