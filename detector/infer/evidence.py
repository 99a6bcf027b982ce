"""Evidence chips: each berth as one look saw it, saved losslessly with a sidecar that says where from.

One chip per berth per scene, also of an empty or clouded berth (an empty look is evidence too).
The chip is the scene's own pixels around the berth, stretched for display and enlarged by a whole
factor with nearest-neighbour sampling, so every source pixel stays a visible square and nothing
is invented between them. Outlines are drawn on it (tankers red, other vessels cyan, bow end
yellow, berth dashed white). The JSON sidecar names the file and its SHA-256, the window in scene
pixels and in lon/lat, and every detection drawn, so that a reader can cut the same window from
the same file and check it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .. import __version__
from ..io.atomic import atomic_path, fit_name, write_text_atomic
from ..io.records import POLYGON_COLUMNS
from .quicklook import BERTH, BOW, OTHER, TANKER, dashed_line

CHIP_FORMAT = "vostochny-evidence-chip/1"
CHIP_TARGET_PX = 320  # chips are enlarged by a whole factor towards this longest side
MAX_ENLARGE = 12
MARGIN_M = 60.0  # ground around the berth's outline, so a hull overhanging it is whole in the chip


def chip_window(outline_px, gsd_m: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The scene-pixel box (col0, row0, col1, row1), max exclusive, around a berth outline with
    ``MARGIN_M`` of ground (at least a quarter of the berth's size) on every side, inside the scene."""
    c0, r0, c1, r1 = outline_px.bounds
    margin_px = max(MARGIN_M / gsd_m, 0.25 * max(c1 - c0, r1 - r0))
    c0, r0 = max(0, math.floor(c0 - margin_px)), max(0, math.floor(r0 - margin_px))
    c1, r1 = min(width, math.ceil(c1 + margin_px)), min(height, math.ceil(r1 + margin_px))
    return c0, r0, max(c1, c0 + 1), max(r1, r0 + 1)


def enlargement(window: tuple[int, int, int, int]) -> int:
    """The whole factor a chip of ``window`` is enlarged by (1 when it is already large)."""
    side = max(window[2] - window[0], window[3] - window[1])
    return int(min(MAX_ENLARGE, max(1, CHIP_TARGET_PX // side)))


def chip_paths(out_dir: Path, scene_name: str, berth: str) -> tuple[Path, Path]:
    """Where the chip of ``berth`` in ``scene_name`` and its sidecar go (relative names stay short)."""
    folder = Path(out_dir) / "evidence" / fit_name(scene_name)
    stem = fit_name(berth or "berth")
    return folder / f"{stem}.png", folder / f"{stem}.json"


def write_chip(out_dir: Path, scene, scene_name: str, placed, rows: list[dict], look: tuple[float, float] | None,
               provenance: dict) -> dict:
    """Cut, draw and save the chip of one placed berth (``io.berths.PlacedBerth``) of an open
    ``scene``; ``rows`` are the scene's detections.csv rows, ``look`` its (valid, clear) share of the
    berth. Returns the chip's record (paths relative to ``out_dir``), also written as its sidecar."""
    info = scene.info
    window = chip_window(placed.outline_px, info.gsd_m, info.width, info.height)
    c0, r0, c1, r1 = window
    rgb, _ = scene.read_box(window, (r1 - r0, c1 - c0))
    k = enlargement(window)
    pixels = (np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels, "RGB").resize(((c1 - c0) * k, (r1 - r0) * k), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(picture)

    def to_chip(xy) -> np.ndarray:
        xy = np.asarray(xy, float)
        return np.column_stack([(xy[:, 0] - c0) * k, (xy[:, 1] - r0) * k])

    for poly in getattr(placed.outline_px, "geoms", [placed.outline_px]):
        dashed_line(draw, to_chip(np.asarray(poly.exterior.coords)), BERTH, 1)
    name = placed.berth.name
    drawn = []
    for v in rows:
        if v["berth"] != name:
            continue
        corners = np.array([float(v[c]) for c in POLYGON_COLUMNS]).reshape(4, 2)
        xy = to_chip(corners)
        draw.polygon([tuple(p) for p in xy], outline=TANKER if v["vessel_type"] == "tanker" else OTHER, width=2)
        draw.line([tuple(xy[0]), tuple(xy[1])], fill=BOW, width=2)
        drawn.append({key: v[key] for key in ("vessel_id", "vessel_type", "hull_class", "length_m", "beam_m", "heading_deg",
                                              "score", "lon", "lat")}
                     | {"polygon_px": corners.round(2).tolist(), "polygon_chip_px": xy.round(1).tolist()})
    png, sidecar = chip_paths(out_dir, scene_name, name)
    with atomic_path(png) as tmp:
        picture.save(tmp, format="PNG", optimize=True)
    lonlat = None
    if scene.georef is not None:
        lon, lat = scene.georef.pixel_to_lonlat(np.array([c0, c1, c1, c0], float), np.array([r0, r0, r1, r1], float))
        lonlat = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]
    record = {
        "format": CHIP_FORMAT, "tool": f"vostochny-detector {__version__}",
        "chip": str(png.relative_to(out_dir)), "sidecar": str(sidecar.relative_to(out_dir)),
        "scene": scene_name, "scene_id": info.scene_id, "file": provenance.get("file"), "sha256": provenance.get("sha256"),
        "datetime": info.datetime.isoformat() if info.datetime else "", "datetime_source": info.datetime_source,
        "sensor": info.sensor, "gsd_m": round(info.gsd_m, 4), "berth": name, "berth_kind": placed.berth.kind,
        "valid_share": look[0] if look else None, "clear_share": look[1] if look else None,
        "window_px": {"col_off": c0, "row_off": r0, "width": c1 - c0, "height": r1 - r0},
        "window_lonlat": lonlat,  # corners top-left, top-right, bottom-right, bottom-left; None without a CRS
        "enlarged": k,
        "display": "the scene's own pixels, 2-98 % stretch to 8 bits, enlarged by a whole factor (nearest neighbour); "
                   "outlines drawn: tanker red, other vessel cyan, bow end yellow, berth dashed white",
        "detections": drawn,
    }
    write_text_atomic(sidecar, json.dumps(record, indent=1))
    return record
