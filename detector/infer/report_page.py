"""``report.html``: one page that shows a reader why the run says what it says, offline.

The page holds the headline figures, the timeline, a map of the berths with every detection over
each scene's picture, the load events with a chip of every sighting and of the looks around them,
the provenance of every input (SHA-256, time and its source, sensor) and the method. Everything it
needs is inside it or beside it in the output folder (the pictures under ``report/``, the chips
under ``evidence/``, ``timeline.png``): no script, font or map tile comes from the network.

The map is an inline SVG in a local plane (metres east and south of the berths' centre), each
scene's picture placed by the affine map of its corners and panned and zoomed by a few lines of
script. A web-map library earns its weight by streaming tiles from a server, which an offline file
cannot use, and Leaflet's image overlay places north-up rectangles only.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__
from ..events.hulls import load_classes
from ..events.loads import hulls_line
from ..events.volumes import barrels_per_tonne, load_factors
from ..io.atomic import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


class Plane:
    """A local plane around (lon0, lat0): x metres east, y metres south (SVG's y points down)."""

    def __init__(self, lon0: float, lat0: float):
        self.lon0, self.lat0 = lon0, lat0
        self.kx = M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return round((lon - self.lon0) * self.kx, 2), round(-(lat - self.lat0) * M_PER_DEG_LAT, 2)

    def points(self, ring) -> str:
        """An SVG ``points`` attribute from (lon, lat) pairs."""
        return " ".join("{},{}".format(*self.xy(lon, lat)) for lon, lat in ring)


def picture_matrix(plane: Plane, pic: dict) -> str:
    """The SVG ``matrix(a b c d e f)`` that puts a picture's pixels on the plane, from its
    top-left, top-right and bottom-left corners on the ground."""
    (x0, y0), (x1, y1), (x2, y2) = (plane.xy(*c) for c in pic["corners_lonlat"])
    w, h = pic["width_px"], pic["height_px"]
    a, b, c, d = (x1 - x0) / w, (y1 - y0) / w, (x2 - x0) / h, (y2 - y0) / h
    return f"matrix({a:.6g} {b:.6g} {c:.6g} {d:.6g} {x0:.6g} {y0:.6g})"


def _rings(geometry) -> list:
    """Outer rings of a GeoJSON Polygon or MultiPolygon, as lists of (lon, lat)."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def _map(parts: list[dict], berths) -> dict | None:
    """Everything the map draws, on one plane around the middle of it all, and the view that
    holds it; None when no scene has a place on the ground."""
    placed = [p for p in parts if p["status"] == "ok" and p.get("crs")]
    rings = {p["scene"]: [ring for f in p.get("features", []) for ring in _rings(f["geometry"])] for p in placed}
    lonlat = [xy for b in berths for xy in b.outline_lonlat.exterior.coords]
    lonlat += [c for p in placed if p.get("map_picture") for c in p["map_picture"]["corners_lonlat"]]
    lonlat += [xy for scene_rings in rings.values() for ring in scene_rings for xy in ring]
    if not placed or not lonlat:
        return None
    plane = Plane(sum(x for x, _ in lonlat) / len(lonlat), sum(y for _, y in lonlat) / len(lonlat))
    scenes = []
    for p in placed:
        pic = p.get("map_picture")
        vessels = []
        for f in p.get("features", []):
            props = f["properties"]
            for ring in _rings(f["geometry"]):
                vessels.append({"points": plane.points(ring), "tanker": props.get("vessel_type") == "tanker",
                                "label": f"{props.get('vessel_id')}: {props.get('vessel_type')} {props.get('hull_class') or ''} "
                                         f"{float(props.get('length_m') or 0):.0f} m, score {float(props.get('score') or 0):.2f}"})
        scenes.append({"scene": p["scene"], "datetime": p.get("datetime", ""), "sensor": (p.get("provenance") or {}).get("sensor", ""),
                       "gsd_m": p.get("gsd_m"), "picture": pic["file"] if pic else None,
                       "matrix": picture_matrix(plane, pic) if pic else None,
                       "width_px": pic["width_px"] if pic else 0, "height_px": pic["height_px"] if pic else 0,
                       "vessels": vessels, "tankers": p.get("tankers", 0), "found": p.get("vessels_found", 0)})
    berth_shapes = [{"name": b.name, "kind": b.kind, "points": plane.points(b.outline_lonlat.exterior.coords)} for b in berths]
    xs, ys = zip(*(plane.xy(lon, lat) for lon, lat in lonlat))
    pad = 0.05 * max(max(xs) - min(xs), max(ys) - min(ys), 100.0)
    view = [min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad]
    return {"scenes": scenes, "berths": berth_shapes, "view": " ".join(f"{v:.1f}" for v in view),
            "centre": [round(plane.lon0, 6), round(plane.lat0, 6)]}


def _events(loads, parts: list[dict]) -> list[dict]:
    """Each load event with its sightings (chip, detection) and the looks around it."""
    by_scene = {p["scene"]: p for p in parts}
    chips = {(p["scene"], c["berth"]): c["chip"] for p in parts for c in p.get("chips", [])}
    vessels = {(p["scene"], v["vessel_id"]): v for p in parts for v in p.get("vessels", [])}
    tanker_at = {(p["scene"], v["berth"]) for p in parts for v in p.get("vessels", []) if v["vessel_type"] == "tanker"}
    out = []
    for e, row in zip(loads.events, loads.rows):
        sightings = []
        for s in e.sightings:
            v = vessels.get((s.scene, s.vessel_id), {})
            p = by_scene.get(s.scene, {})
            sightings.append({"scene": s.scene, "time": s.time.isoformat()[:16].replace("T", " "),
                              "sensor": (p.get("provenance") or {}).get("sensor", ""), "gsd_m": s.gsd_m,
                              "length_m": s.length_m, "vessel_id": s.vessel_id, "hull_class": v.get("hull_class", ""),
                              "score": float(v["score"]) if v.get("score") not in (None, "") else None,
                              "sha256": (p.get("provenance") or {}).get("sha256", ""),
                              "chip": chips.get((s.scene, s.berth))})
        seen_scenes = {s.scene for s in e.sightings}
        looks = sorted((lk for lk in loads.looks if lk.berth == e.berth), key=lambda lk: lk.time)
        times = [lk.time for lk in looks]
        first = max([k for k, t in enumerate(times) if t < e.first_seen and looks[k].seen] or [0])
        last = min([k for k, t in enumerate(times) if t > e.last_seen and looks[k].seen] or [len(looks) - 1])
        around = []
        for lk in looks[first:last + 1]:
            if lk.scene in seen_scenes:
                continue
            state = ("not clear (cloud or edge)" if not lk.seen else
                     "clear, another tanker" if (lk.scene, lk.berth) in tanker_at else "clear, empty")
            around.append({"scene": lk.scene, "time": lk.time.isoformat()[:16].replace("T", " "), "state": state,
                           "gsd_m": lk.gsd_m, "chip": chips.get((lk.scene, lk.berth))})
        out.append({**row, "sightings": sightings, "around": around,
                    "first": row["first_seen"][:16].replace("T", " "), "last": row["last_seen"][:16].replace("T", " ")})
    return out


def _headline(loads, cap_barrels: float, loading: set[str]) -> dict | None:
    if loads is None or isinstance(loads, str):
        return None
    total = next((e for e in loads.estimates if e.period == "total"), None)
    looks = [lk for lk in loads.looks if lk.berth in loading]
    return {"events": len(loads.events), "start": loads.start.isoformat()[:10], "end": loads.end.isoformat()[:10],
            "total": total.to_dict() if total else None, "periods": [e.to_dict() for e in loads.estimates],
            "cap": cap_barrels, "looks": len(looks), "clear_looks": sum(lk.seen for lk in looks),
            "never_seen": loads.never_seen}


def _hulls(loads) -> dict | None:
    """The distinct-hull section: the printed line, and each hull of hulls.csv with a swatch of
    its deck colour (its red and green shares of the excess over water, blue the rest)."""
    if loads is None or isinstance(loads, str) or loads.hulls is None:
        return None
    rows = []
    for h in loads.hull_rows:
        swatch = None
        if h["chroma_r"] != "" and h["chroma_g"] != "":
            r, g = float(h["chroma_r"]), float(h["chroma_g"])
            rgb = np.clip(np.array([r, g, 1.0 - r - g]), 0.0, 1.0)
            swatch = "#" + "".join(f"{int(round(255 * c / max(rgb.max(), 1e-6))):02x}" for c in rgb)
        rows.append({**h, "visit_list": h["visits"].split(";") if h["visits"] else [], "swatch": swatch})
    return {"line": hulls_line(loads.hulls), "rows": rows, "fleet": bool(loads.hulls.get("fleet"))}


def _method(record: dict, lcfg) -> dict:
    classes = [{"name": c.name, "label": c.label, "length_m": c.length_m, "dwt_t": c.dwt_t} for c in load_classes()]
    product = lcfg.track.product if lcfg is not None else None
    try:
        bpt = barrels_per_tonne(product)
    except KeyError:
        bpt = None
    return {"model": record["model"], "classes": classes, "product": product or "the data file's default",
            "barrels_per_tonne": bpt, "load": asdict(load_factors()),
            "recall": (lcfg.estimate.recall.describe() if lcfg is not None and lcfg.estimate.recall is not None else None),
            "options": record["config"], "precision": record.get("precision"), "device": record.get("device"),
            "run_key": record.get("run_key"), "inputs": record.get("inputs", {})}


def render(out_dir: Path, parts: list[dict], record: dict, berths, loads=None, lcfg=None) -> str:
    """The page's HTML. ``loads`` is the events step's ``LoadsResult``, or the reason it has none
    (a string), or None when it was not run; ``lcfg`` its ``LoadsConfig``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["thousands"] = lambda v: f"{float(v):,.0f}"
    env.filters["pct"] = lambda v: f"{float(v):.0%}"
    cap = lcfg.estimate.cap_barrels if lcfg is not None else 500_000.0
    ok = [p for p in parts if p["status"] == "ok"]
    context = {
        "version": __version__, "parts": parts, "ok": len(ok), "failed": [p for p in parts if p["status"] != "ok"],
        "vessels": sum(len(p.get("vessels", [])) for p in ok), "tankers": sum(p.get("tankers", 0) for p in ok),
        "headline": _headline(loads, cap, {b.name for b in berths if lcfg is None or b.kind in lcfg.track.loading_kinds}), "no_events": loads if isinstance(loads, str) else None,
        "events": _events(loads, parts) if loads is not None and not isinstance(loads, str) else [],
        "hulls": _hulls(loads),
        "timeline": (Path(out_dir) / "timeline.png").is_file() and loads is not None and not isinstance(loads, str),
        "map": _map(parts, berths), "method": _method(record, lcfg),
        "interval_pct": round(100 * (lcfg.estimate.interval if lcfg is not None else 0.9)),
    }
    return env.get_template("report.html.j2").render(**context)


def write_report(out_dir: Path, parts: list[dict], record: dict, berths, loads=None, lcfg=None) -> Path:
    """Write ``report.html`` into ``out_dir`` (atomically) and return its path."""
    path = Path(out_dir) / "report.html"
    write_text_atomic(path, render(out_dir, parts, record, berths, loads, lcfg))
    return path
