"""``infer.py --events``: from a run's scene results to load events, totals and their outputs.

Joins the pieces: detections and berth looks from the scene results (``infer/outputs.py`` parts),
visits (``tracks.py``), the missed-visit correction (``estimate.py``), AIS marking, and the
files ``events.csv`` and ``summary.json`` (``timeline.py`` draws ``timeline.png``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import shapely

from ..io.atomic import write_text_atomic
from ..io.berths import Berth, along_m
from ..io.records import user_csv, write_csv
from ..io.tables import format_table
from .distinct import HULL_COLUMNS, hull_rows, summary_block
from .estimate import DEFAULT_LOOK_GSD_M, EstimateConfig, PeriodEstimate, detector_recall, estimate
from .fleet import FleetConfig, ListedVessel, read_fleet
from .recall import DetectorRecall
from .reid import ReidConfig, cluster_visits, distinct_hulls
from .tracks import Look, Sighting, TrackConfig, Visit, load_events, track_visits

EVENT_COLUMNS = ["visit_id", "berth", "hull_class", "length_m", "first_seen", "last_seen", "observations",
                 "barrels_low", "barrels_mid", "barrels_high", "dark", "floor_barrels", "scenes"]
AIS_MARGIN = timedelta(hours=12)  # the stay reaches past the first and last image
AIS_BUFFER_M = 50.0  # a position report this close to the berth counts as at the berth
# A hull's pixel length (infer/signature.py) ends at half-maximum inside a bow and stern that
# taper and are blurred by the sensor: at 3 m it was 3.9 m (1.3 pixels) short on the hulls
# bench's seasons (sd 5.0 m, 268 sightings; the box: +1.1 m, sd 9.1 m). Measured on synthetic hulls.
END_SHORTFALL_PX = 1.3


class AisError(ValueError):
    """An AIS file that cannot be read; the message names the file, line and problem."""


@dataclass(frozen=True)
class LoadsConfig:
    """Settings of the events step."""

    track: TrackConfig = field(default_factory=TrackConfig)
    estimate: EstimateConfig = field(default_factory=EstimateConfig)
    ais: str | None = None  # CSV of mmsi,time,lon,lat
    fleet: str | None = None  # CSV of name,imo,length_m,beam_m,dwt,source
    reid: ReidConfig = field(default_factory=ReidConfig)
    fleet_match: FleetConfig = field(default_factory=FleetConfig)


def _time(text: str) -> datetime | None:
    if not text:
        return None
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def looks_and_sightings(parts: list[dict], berths: dict[str, Berth], track: TrackConfig,
                        recall: DetectorRecall | None = None) -> tuple[list[Look], list[Sighting]]:
    """Berth looks and tanker sightings of the dated, georeferenced scenes of a run; each
    sighting's length has ``recall``'s measured length bias at its GSD taken off, and is held
    to the berth's ``max_length_m`` where the berth file gives one."""
    looks, sightings = [], []
    for p in parts:
        if p["status"] != "ok" or not p.get("datetime"):
            continue
        when = _time(p["datetime"])
        signatures = p.get("signatures") or {}  # parts of runs before signatures were taken have none
        for c in p["counts"]:
            if c["berth"] in berths:
                seen = float(c.get("clear_share") or 0.0) >= track.min_clear_share
                looks.append(Look(p["scene"], when, c["berth"], seen, float(p["gsd_m"]) if p.get("gsd_m") else None))
        for v in p["vessels"]:
            if v["vessel_type"] != "tanker" or v["berth"] not in berths or v["lon"] == "":
                continue
            pos = float(along_m(berths[v["berth"]], float(v["lon"]), float(v["lat"])))
            heading = float(v["heading_deg"]) if v["heading_deg"] != "" else 0.0
            gsd = float(p["gsd_m"])
            length = float(v["length_m"]) - (recall.length_bias_m(gsd) if recall is not None else 0.0)
            longest = berths[v["berth"]].max_length_m
            if longest:  # a hull longer than its berth takes is a measurement gone wrong, not a hull
                length = min(length, longest)
            sig = signatures.get(str(v.get("vessel_id", ""))) or {}
            pixel_length = (sig["length_px"] + END_SHORTFALL_PX) * gsd if sig.get("length_px") else None
            if pixel_length is not None and longest:
                pixel_length = min(pixel_length, longest)
            chroma = (sig["chroma_r"], sig["chroma_g"]) if "chroma_r" in sig else None
            sightings.append(Sighting(p["scene"], when, v["berth"], pos, length, heading, gsd, str(v.get("vessel_id", "")),
                                      float(v["beam_m"] or 0.0), pixel_length, chroma, sig.get("super_pos")))
    return looks, sightings


def read_ais(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AIS position reports: times (UTC epoch seconds), lon, lat, from a UTF-8 CSV with
    mmsi,time,lon,lat. ISO 8601 times; a time without a timezone is taken as UTC (AIS reports
    are stamped in UTC). Raises AisError naming the line of a report that cannot be one."""
    times, lons, lats = [], [], []
    with user_csv(path, AisError, "AIS") as reader:
        missing = {"mmsi", "time", "lon", "lat"} - set(reader.fieldnames or [])
        if missing:
            raise AisError(f"{path}: missing columns {', '.join(sorted(missing))} (need mmsi,time,lon,lat)")
        for line, row in enumerate(reader, start=2):
            try:
                t, lon, lat = _time(row["time"]).timestamp(), float(row["lon"]), float(row["lat"])
            except (ValueError, TypeError, AttributeError):
                raise AisError(f"{path}, line {line}: cannot read time/lon/lat from {row}") from None
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                raise AisError(f"{path}, line {line}: lon {row['lon']}, lat {row['lat']} is not a place on Earth "
                               "(WGS84 degrees: lon -180 to 180, lat -90 to 90)")
            times.append(t)
            lons.append(lon)
            lats.append(lat)
    return np.array(times), np.array(lons), np.array(lats)


def dark_flags(events: list[Visit], berths: dict[str, Berth], ais) -> list[bool | None]:
    """Per event: True when no AIS report lies at its berth during its stay (a dark visit)."""
    if ais is None:
        return [None] * len(events)
    times, lons, lats = ais
    out = []
    for e in events:
        area = berths[e.berth].outline_lonlat
        grown = area.buffer(AIS_BUFFER_M / 111_000.0)  # degrees; generous enough at 42.7 N
        t0, t1 = (e.first_seen - AIS_MARGIN).timestamp(), (e.last_seen + AIS_MARGIN).timestamp()
        during = (times >= t0) & (times <= t1)
        inside = shapely.contains_xy(grown, lons[during], lats[during]) if during.any() else np.zeros(0, bool)
        out.append(not bool(np.any(inside)))
    return out


def event_rows(events: list[Visit], dark: list[bool | None], track: TrackConfig) -> list[dict]:
    """Rows of ``events.csv``."""
    rows = []
    for e, d in zip(events, dark):
        v = e.volume(track)
        rows.append({
            "visit_id": e.visit_id, "berth": e.berth, "hull_class": v.hull_class, "length_m": round(e.length_m, 1),
            "first_seen": e.first_seen.isoformat(), "last_seen": e.last_seen.isoformat(), "observations": len(e.sightings),
            "barrels_low": round(v.barrels[0]), "barrels_mid": round(v.barrels[1]), "barrels_high": round(v.barrels[2]),
            "dark": "" if d is None else d, "floor_barrels": round(v.floor_barrels),
            "scenes": ";".join(s.scene for s in e.sightings),
        })
    return rows


@dataclass
class LoadsResult:
    """What the events step found: for the files, the picture and the printed table."""

    events: list[Visit]
    rows: list[dict]
    looks: list[Look]
    estimates: list[PeriodEstimate]
    start: datetime
    end: datetime
    never_seen: list[str]
    hulls: dict | None = None  # the distinct-hull counts of summary.json
    hull_rows: list[dict] = field(default_factory=list)


def run_loads(parts: list[dict], berth_list: tuple[Berth, ...], cfg: LoadsConfig, out_dir: Path, ais=None,
              fleet: tuple[ListedVessel, ...] | None = None) -> LoadsResult | str:
    """Events, totals, distinct hulls and their files for one run; returns a reason string when it
    cannot be done. ``ais`` and ``fleet``: ``cfg.ais`` and ``cfg.fleet`` already read
    (:func:`read_ais`, ``fleet.read_fleet``), so a caller that checked them early reads them once."""
    berths = {b.name: b for b in berth_list}
    kinds = {b.name: b.kind for b in berth_list}
    recall = detector_recall(cfg.estimate)
    looks, sightings = looks_and_sightings(parts, berths, cfg.track, recall)
    loading = {b for b, k in kinds.items() if k in cfg.track.loading_kinds}
    load_looks = [lk for lk in looks if lk.berth in loading]
    if not load_looks:
        return ("no dated, georeferenced scene shows a loading berth "
                f"(berth kinds {', '.join(cfg.track.loading_kinds)}): no events")
    seen_loads = [lk for lk in load_looks if lk.seen]
    # How many empty clear looks end a visit, and how far apart two lengths of one hull may be,
    # follow the detector's measured recall and length error where the berths were seen.
    mean_recall = float(np.mean([recall.mean(lk.gsd_m or DEFAULT_LOOK_GSD_M) for lk in seen_loads])) if seen_loads else 1.0
    noise = [recall.length_sd_m(lk.gsd_m or DEFAULT_LOOK_GSD_M) for lk in seen_loads]
    noise_m = float(np.mean([n for n in noise if n is not None])) if any(n is not None for n in noise) else cfg.track.length_noise_m
    track = replace(cfg.track, detector_recall=mean_recall, length_noise_m=max(cfg.track.length_noise_m, noise_m))
    events = load_events(track_visits(looks, sightings, kinds, track), track)
    if ais is None and cfg.ais:
        ais = read_ais(cfg.ais)
    dark = dark_flags(events, berths, ais)
    rows = event_rows(events, dark, track)
    start, end = min(lk.time for lk in looks), max(lk.time for lk in looks)
    names = sorted(loading & {lk.berth for lk in looks})
    clear = {b: [lk.time for lk in seen_loads if lk.berth == b] for b in names}
    clear_gsd = {b: [lk.gsd_m or DEFAULT_LOOK_GSD_M for lk in seen_loads if lk.berth == b] for b in names}
    never = [b for b, ts in clear.items() if not ts]
    estimates = estimate(events, clear, start, end, track, cfg.estimate, clear_gsd) if end > start else []
    if fleet is None and cfg.fleet:
        fleet = read_fleet(cfg.fleet)
    clusters = cluster_visits(events, cfg.reid)
    missed = estimates[-1].visit_draws - len(events) if estimates else None
    counts = distinct_hulls(clusters, missed, len(events), cfg.reid, seed=cfg.reid.seed)
    hrows, candidates = hull_rows(events, clusters, fleet, cfg.fleet_match)
    hulls = summary_block(counts, hrows, candidates, cfg.fleet, clusters)
    write_csv(out_dir / "events.csv", rows, EVENT_COLUMNS)
    write_csv(out_dir / "hulls.csv", hrows, HULL_COLUMNS)
    summary = {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "days": round((end - start).total_seconds() / 86400, 2)},
        "loading_berths": sorted(clear), "berths_never_seen_clearly": never,
        "looks": {b: {"scenes": sum(lk.berth == b for lk in load_looks), "clear": len(ts)} for b, ts in clear.items()},
        "load_events": len(events), "dark_events": sum(bool(d) for d in dark) if cfg.ais else None,
        "cap_barrels": cfg.estimate.cap_barrels,
        "periods": [e.to_dict() for e in estimates],
        "hulls": hulls,
        "detector_recall": {"used": recall.describe(), "mean_at_clear_looks": round(mean_recall, 4),
                            "empty_looks_to_end_a_visit": track.empty_looks_to_end},
        "assumptions": {"track": asdict(track), "estimate": asdict(cfg.estimate),
                        "note": "barrels_observed: the seen events at their mid barrels (what published counts do); "
                                "barrels_corrected: seen plus estimated missed visits, Monte Carlo median and interval"},
    }
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=1, default=str))
    return LoadsResult(events, rows, looks, estimates, start, end, never, hulls, hrows)


def quote_table(result: LoadsResult, cfg: LoadsConfig) -> str:
    """The printed summary: one short table a journalist could quote, with its uncertainty."""
    pct = int(round(cfg.estimate.interval * 100))
    lines = [f"Load events at the loading berths, {result.start:%Y-%m-%d} to {result.end:%Y-%m-%d} "
             f"({len(result.events)} seen; missed visits estimated from the clear looks, {pct} % intervals)"]
    head = ("period", "events seen", "visits (est.)", "barrels seen", f"barrels corrected ({pct} %)", "share of 500k cap")
    rows = [head]
    for e in result.estimates:
        v, b, s = e.visits_estimated, e.barrels_corrected, e.share_of_cap
        rows.append((e.period, str(e.visits_observed), f"{v['mean']:.0f} ({v['low']:.0f}-{v['high']:.0f})",
                     f"{e.barrels_observed:,.0f}", f"{b['median']:,.0f} ({b['low']:,.0f}-{b['high']:,.0f})",
                     f"{s['median']:.0%} ({s['low']:.0%}-{s['high']:.0%})"))
    lines.append(format_table(rows))
    if result.hulls is not None:
        lines.append(hulls_line(result.hulls))
    if result.never_seen:
        lines.append(f"never seen clearly (no events, rate not estimable): {', '.join(result.never_seen)}")
    return "\n".join(lines)


def hulls_line(hulls: dict) -> str:
    """The printed line of distinct hulls, with its interval and the fleet's matches."""
    seen = hulls["among_seen_visits"]
    pct = int(round(hulls["interval"] * 100))
    text = f"distinct hulls: {seen['reported']} among {hulls['seen_visits']} events seen"
    if "median" in seen:
        text += f" ({pct} %: {seen['low']:.0f}-{seen['high']:.0f})"
    more = hulls.get("with_missed_visits")
    if more:
        text += f"; with the missed visits' hulls {more['median']:.0f} ({more['low']:.0f}-{more['high']:.0f})"
    if hulls.get("fleet"):
        f = hulls["fleet"]
        text += (f"; {f['hulls_consistent_with_a_listed_vessel']} consistent with a listed vessel, "
                 f"{f['hulls_consistent_with_none']} with none")
    return text + " (hulls.csv)"
