"""Run outputs: one result file per scene (the resume point), then the aggregated files.

Each finished scene is written once, atomically, to ``parts/<scene>.json``; it is the commit
point of that scene, so a run killed at any moment and started again redoes only scenes without
a part (or whose part came from another model or config). ``detections.csv``,
``detections.geojson``, ``counts.csv`` and ``run.json`` are then rebuilt from the parts of the
run's scenes in input order, so several ranks or restarts give one set of files, not many.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..io.atomic import fit_name, write_text_atomic
from ..io.records import DETECTION_COLUMNS, write_csv
from ..io.tables import format_table

PART_FORMAT = "vostochny-scene-result/1"
EXTRA_COLUMNS = ["p_tanker", "bow_confidence", "work_gsd_m"]
OUTPUT_COLUMNS = DETECTION_COLUMNS + EXTRA_COLUMNS
COUNT_COLUMNS = ["scene", "datetime", "berth", "berth_kind", "tankers", "other_vessels", "hull_classes", "valid_share",
                 "clear_share"]


def part_path(out_dir: Path, scene_name: str) -> Path:
    """Where the result of ``scene_name`` is kept (a long name shortened to fit, ``fit_name``)."""
    return Path(out_dir) / "parts" / f"{fit_name(scene_name)}.json"


def write_part(out_dir: Path, result: dict) -> None:
    """Commit one scene's result (atomic)."""
    write_text_atomic(part_path(out_dir, result["scene"]), json.dumps({"format": PART_FORMAT, **result}, indent=1))


def read_part(out_dir: Path, scene_name: str, key: str) -> dict | None:
    """A finished result of ``scene_name`` made with run key ``key``, or None (missing, foreign, stale)."""
    try:
        part = json.loads(part_path(out_dir, scene_name).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if part.get("format") != PART_FORMAT or part.get("key") != key:
        return None
    return part


def count_rows(scene_name: str, when_iso: str, vessels: list[dict], berths: list[tuple[str, str]],
               shares: dict[str, tuple[float, float]]) -> list[dict]:
    """Tankers and other vessels per berth of one scene; berth "" holds vessels outside every berth.

    Every berth the scene shows gets a row, also an empty one (an empty berth is a fact). The
    "" row is written when some vessel lies outside the berths or the scene has no berths.
    """
    names = [b for b, _ in berths]
    kinds = dict(berths)
    if any(v["berth"] == "" for v in vessels) or not names:
        names.append("")
    rows = []
    for name in names:
        here = [v for v in vessels if v["berth"] == name]
        tankers = [v for v in here if v["vessel_type"] == "tanker"]
        classes: dict[str, int] = {}
        for v in tankers:
            classes[v["hull_class"]] = classes.get(v["hull_class"], 0) + 1
        rows.append({
            "scene": scene_name, "datetime": when_iso, "berth": name, "berth_kind": kinds.get(name, ""),
            "tankers": len(tankers), "other_vessels": len(here) - len(tankers),
            "hull_classes": " ".join(f"{k}:{n}" for k, n in classes.items()),
            "valid_share": shares[name][0] if name in shares else "",
            "clear_share": shares[name][1] if name in shares else "",
        })
    return rows


def aggregate(out_dir: Path, parts: list[dict], run_record: dict) -> None:
    """Write the run's combined files from its scene results, in input order."""
    out_dir = Path(out_dir)
    vessels = [v for p in parts for v in p.get("vessels", [])]
    write_csv(out_dir / "detections.csv", vessels, OUTPUT_COLUMNS)
    write_csv(out_dir / "counts.csv", [c for p in parts for c in p.get("counts", [])], COUNT_COLUMNS)
    no_crs = [p["scene"] for p in parts if p["status"] == "ok" and not p.get("crs")]
    collection = {
        "type": "FeatureCollection",
        "features": [f for p in parts for f in p.get("features", [])],
        # A foreign member (RFC 7946 section 6.1): scenes whose vessels have no map position.
        "scenes_without_crs": no_crs,
    }
    write_text_atomic(out_dir / "detections.geojson", json.dumps(collection))
    write_text_atomic(out_dir / "run.json", json.dumps(run_record, indent=1, default=str))


def table(parts: list[dict]) -> str:
    """The printed summary: one line per scene and berth, the scene named once (failures say why)."""
    head = ("scene", "date (UTC)", "berth", "tankers", "others", "hull classes (tankers)")
    lines = [head]
    for p in parts:
        if p["status"] != "ok":
            lines.append((p["scene"], "", "FAILED", "", "", (p.get("error") or "")[:100]))
            continue
        for k, c in enumerate(p["counts"]):
            scene, date = (c["scene"], (c["datetime"] or "")[:16].replace("T", " ")) if k == 0 else ("", "")
            lines.append((scene, date, c["berth"] or "(outside berths)", str(c["tankers"]), str(c["other_vessels"]),
                          c["hull_classes"]))
    return format_table(lines, last_free=True)


def is_output_path(out_dir: Path, path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file this run would write (so an input there would be overwritten)."""
    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()
    fixed = {out_dir / n for n in ("detections.csv", "detections.geojson", "counts.csv", "run.json", "report.html",
                                   "events.csv", "summary.json", "timeline.png")}
    evidence = out_dir / "evidence"
    return path in fixed or path.parent in (out_dir / "parts", out_dir / "quicklooks", out_dir / "report", evidence) \
        or path.parent.parent == evidence
