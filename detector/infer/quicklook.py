"""Quicklook pictures: the searched area with each vessel's outline, hull class and length.

Drawn with matplotlib (Agg, no display) because labels need text: its wheel carries its own
DejaVu fonts, so nothing is downloaded. Tankers red, other vessels cyan, bow end yellow,
berths dashed white.
"""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")  # files only; never open a window (batch jobs have no display)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Polygon as PolygonPatch  # noqa: E402

from ..io.atomic import atomic_path  # noqa: E402
from ..io.records import POLYGON_COLUMNS  # noqa: E402

TANKER = "#ff3c28"
OTHER = "#28c8ff"
BOW = "#fff000"
BERTH = "white"


def _scale_bar_m(width_m: float) -> float:
    """A round length near a fifth of the picture's width, in metres."""
    target = width_m / 5
    base = 10 ** math.floor(math.log10(target))
    return max(m * base for m in (1, 2, 5) if m * base <= target)


def draw_quicklook(path: str | os.PathLike, rgb: np.ndarray, origin_px: tuple[float, float], scale: float,
                   gsd_m: float, vessels: list[dict], berths_px: list[tuple[str, object]], title: str) -> None:
    """Write a PNG of ``rgb`` (3, H, W in [0, 1]) with ``vessels`` (detections.csv rows) drawn on it.

    ``origin_px`` is the scene pixel of the picture's top-left corner and ``scale`` picture
    pixels per scene pixel; ``berths_px`` are (name, shapely geometry in scene pixels).
    """
    height, width = rgb.shape[1:]
    dpi = 100
    fig = Figure(figsize=(max(width, 480) / dpi, max(height, 360) / dpi + 0.5), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, height / (height + 50)))
    ax.imshow(np.clip(rgb.transpose(1, 2, 0), 0, 1), interpolation="nearest")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_axis_off()

    def to_pic(xy):
        xy = np.asarray(xy, float)
        return np.column_stack([(xy[:, 0] - origin_px[0]) * scale, (xy[:, 1] - origin_px[1]) * scale])

    for name, outline in berths_px:
        for poly in getattr(outline, "geoms", [outline]):
            xy = to_pic(np.asarray(poly.exterior.coords))
            ax.plot(xy[:, 0], xy[:, 1], ls="--", lw=1.0, color=BERTH, alpha=0.8)
            # Inside the outline's top-left corner, clamped into the picture, so it is never cut off.
            x = min(max(xy[:, 0].min(), 0) + 3, width - 60)
            y = min(max(xy[:, 1].min(), 0) + 3, height - 12)
            ax.text(x, y, name, color=BERTH, fontsize=7, va="top")
    for v in vessels:
        corners = to_pic(np.array([float(v[c]) for c in POLYGON_COLUMNS]).reshape(4, 2))
        colour = TANKER if v["vessel_type"] == "tanker" else OTHER
        ax.add_patch(PolygonPatch(corners, closed=True, fill=False, ec=colour, lw=1.4))
        ax.plot(corners[:2, 0], corners[:2, 1], color=BOW, lw=1.6)
        label = f"{v['hull_class']} {float(v['length_m']):.0f} m" if v["vessel_type"] == "tanker" else f"{float(v['length_m']):.0f} m"
        x, y = corners[:, 0].max() + 3, corners[:, 1].mean()
        ax.text(x, y, label, color=colour, fontsize=7, va="center",
                bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0))

    bar_m = _scale_bar_m(width / scale * gsd_m)
    bar_px = bar_m / gsd_m * scale
    x0, y0 = 0.04 * width, 0.95 * height
    ax.plot([x0, x0 + bar_px], [y0, y0], color="white", lw=3)
    ax.text(x0 + bar_px / 2, y0 - 0.015 * height, f"{bar_m:g} m", color="white", ha="center", va="bottom", fontsize=8)
    handles = [Line2D([], [], color=TANKER, lw=2, label="tanker"), Line2D([], [], color=OTHER, lw=2, label="other vessel"),
               Line2D([], [], color=BOW, lw=2, label="bow end"), Line2D([], [], color=BERTH, ls="--", lw=1, label="berth")]
    ax.legend(handles=handles, loc="upper right", fontsize=7, facecolor="black", labelcolor="white", framealpha=0.6)
    fig.text(0.01, 1 - 0.25 / fig.get_figheight(), title, fontsize=9, va="center")
    with atomic_path(path) as tmp:
        # zlib level 1: files a fifth larger, written several times faster than at the default 6.
        fig.savefig(tmp, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
