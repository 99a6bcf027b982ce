"""Quicklook pictures: the searched area with each vessel's outline, hull class and length.

Drawn with Pillow straight onto the picture's pixels: one per scene, so its cost adds up over a
batch job. matplotlib took 1.4 s a scene here (0.6 s to import, 0.8 s to lay out, rasterise
and encode a 1,200 px figure as PNG); Pillow draws it in about 0.1 s and writes a JPEG. Its wheel carries its own scalable font
(``ImageFont.load_default``), so nothing is downloaded and no display is needed. Tankers red,
other vessels cyan, bow end yellow, berths dashed white.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.atomic import atomic_path
from ..io.records import POLYGON_COLUMNS

TANKER = (255, 60, 40)
OTHER = (40, 200, 255)
BOW = (255, 240, 0)
BERTH = (255, 255, 255)
TITLE_PX = 50  # height of the white strip above the picture that carries the title
MIN_SIZE_PX = (480, 360)  # the legend and title need this much room
LABEL_BOX = (0, 0, 0, 128)  # half-transparent black behind labels, so they read on bright water and land
DASH_PX = (6, 4)  # berth outline: drawn, skipped


def _scale_bar_m(width_m: float) -> float:
    """A round length near a fifth of the picture's width, in metres."""
    target = width_m / 5
    base = 10 ** math.floor(math.log10(target))
    return max(m * base for m in (1, 2, 5) if m * base <= target)


def dashed_line(draw: ImageDraw.ImageDraw, xy: np.ndarray, colour, width: int) -> None:
    """A dashed polyline through ``xy`` (n, 2) picture pixels; the dash pattern runs on across vertices."""
    on, off = DASH_PX
    phase = 0.0
    for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:]):
        length = math.hypot(x1 - x0, y1 - y0)
        s = -phase
        while s < length:
            a, b = max(s, 0.0), min(s + on, length)
            if b > a:
                t0, t1 = a / length, b / length
                draw.line([(x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0), (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)],
                          fill=colour, width=width)
            s += on + off
        phase = (length + phase) % (on + off)


def _label(draw: ImageDraw.ImageDraw, boxes: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour,
           font: ImageFont.FreeTypeFont, anchor: str = "lm") -> None:
    """``text`` at ``xy`` in ``colour`` over a half-transparent box (drawn on the ``boxes`` layer)."""
    left, top, right, bottom = draw.textbbox(xy, text, font=font, anchor=anchor)
    boxes.rectangle((left - 2, top - 1, right + 1, bottom + 1), fill=LABEL_BOX)
    draw.text(xy, text, fill=colour, font=font, anchor=anchor)


def draw_quicklook(path: str | os.PathLike, rgb: np.ndarray, origin_px: tuple[float, float], scale: float,
                   gsd_m: float, vessels: list[dict], berths_px: list[tuple[str, object]], title: str) -> None:
    """Write a JPEG (or, for a ``.png`` path, a PNG) of ``rgb`` (3, H, W in [0, 1]) with ``vessels`` (detections.csv rows) drawn on it.

    ``origin_px`` is the scene pixel of the picture's top-left corner and ``scale`` picture
    pixels per scene pixel; ``berths_px`` are (name, shapely geometry in scene pixels). The
    picture is ``rgb`` pixel for pixel below a title strip (``TITLE_PX``), widened and
    heightened with black to at least ``MIN_SIZE_PX`` so the legend fits.
    """
    height, width = rgb.shape[1:]
    canvas_w, canvas_h = max(width, MIN_SIZE_PX[0]), max(height, MIN_SIZE_PX[1])
    picture = Image.new("RGB", (canvas_w, canvas_h + TITLE_PX), "white")
    picture.paste(Image.new("RGB", (canvas_w, canvas_h), "black"), (0, TITLE_PX))
    pixels = (np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    picture.paste(Image.fromarray(pixels, "RGB"), (0, TITLE_PX))
    # Labels' boxes go on their own layer, composited once: Pillow blends a half-transparent fill
    # only when it is drawn onto an RGBA layer.
    box_layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    boxes = ImageDraw.Draw(box_layer)
    text_layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(text_layer)
    lines = ImageDraw.Draw(picture)
    small, medium = ImageFont.load_default(size=10), ImageFont.load_default(size=12)

    def to_pic(xy):
        xy = np.asarray(xy, float)
        return np.column_stack([(xy[:, 0] - origin_px[0]) * scale, (xy[:, 1] - origin_px[1]) * scale + TITLE_PX])

    for name, outline in berths_px:
        for poly in getattr(outline, "geoms", [outline]):
            xy = to_pic(np.asarray(poly.exterior.coords))
            dashed_line(lines, xy, BERTH, 1)
            # Inside the outline's top-left corner, clamped into the picture, so it is never cut off.
            x = min(max(xy[:, 0].min(), 0) + 3, width - 60)
            y = min(max(xy[:, 1].min(), TITLE_PX) + 3, height + TITLE_PX - 12)
            draw.text((x, y), name, fill=BERTH, font=small)
    for v in vessels:
        corners = to_pic(np.array([float(v[c]) for c in POLYGON_COLUMNS]).reshape(4, 2))
        colour = TANKER if v["vessel_type"] == "tanker" else OTHER
        lines.polygon([tuple(p) for p in corners], outline=colour, width=2)
        lines.line([tuple(corners[0]), tuple(corners[1])], fill=BOW, width=2)
        label = f"{v['hull_class']} {float(v['length_m']):.0f} m" if v["vessel_type"] == "tanker" else f"{float(v['length_m']):.0f} m"
        _label(draw, boxes, (corners[:, 0].max() + 4, corners[:, 1].mean()), label, colour, small)

    bar_m = _scale_bar_m(width / scale * gsd_m)
    bar_px = bar_m / gsd_m * scale
    x0, y0 = 0.04 * width, 0.95 * height + TITLE_PX
    lines.line([(x0, y0), (x0 + bar_px, y0)], fill="white", width=3)
    draw.text((x0 + bar_px / 2, y0 - 4), f"{bar_m:g} m", fill="white", font=medium, anchor="mb")
    legend = [("tanker", TANKER, False), ("other vessel", OTHER, False), ("bow end", BOW, False), ("berth", BERTH, True)]
    row_px, key_px = 15, 22
    text_w = max(draw.textlength(name, font=small) for name, _, _ in legend)
    right, top = canvas_w - 6, TITLE_PX + 6
    left = right - (key_px + 14 + text_w)
    boxes.rectangle((left, top, right, top + row_px * len(legend) + 6), fill=(0, 0, 0, 153), outline=(200, 200, 200, 255))
    for k, (name, colour, dashed) in enumerate(legend):
        y = top + 3 + row_px * k + row_px / 2
        seg = np.array([(left + 5, y), (left + 5 + key_px, y)])
        if dashed:
            dashed_line(draw, seg, colour, 1)
        else:
            draw.line([tuple(p) for p in seg], fill=colour, width=2)
        draw.text((left + key_px + 10, y), name, fill="white", font=small, anchor="lm")
    ImageDraw.Draw(picture).text((10, TITLE_PX / 2), title, fill="black", font=medium, anchor="lm")
    picture = Image.alpha_composite(Image.alpha_composite(picture.convert("RGBA"), box_layer), text_layer).convert("RGB")
    with atomic_path(path) as tmp:
        if Path(path).suffix.lower() == ".png":
            picture.save(tmp, format="PNG", compress_level=1)
        else:
            # A 1,200 px picture: JPEG at quality 90 without chroma subsampling (thin coloured
            # outlines stay sharp) takes 15 ms and 0.8 MB; PNG took 0.25 s and 3.9 MB.
            picture.save(tmp, format="JPEG", quality=90, subsampling=0)


def save_picture(path: str | os.PathLike, rgb: np.ndarray, quality: int = 85) -> None:
    """Write ``rgb`` (3, H, W in [0, 1]) as a plain JPEG, nothing drawn on it (the report's map
    draws the outlines itself, so a reader can switch them off and see the water under them)."""
    pixels = (np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels, "RGB").save(tmp, format="JPEG", quality=quality)
