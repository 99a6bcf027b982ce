"""Pictures: oriented outlines drawn on a stretched scene, for checking by eye.

No fonts and no plotting library: outlines are rasterised straight into the RGB array, so a
picture can be written anywhere the reader can write a PNG.
"""

from __future__ import annotations

import numpy as np

TRUTH_RGB = (60, 230, 60)
TANKER_RGB = (255, 60, 40)
OTHER_RGB = (40, 200, 255)
BOW_RGB = (255, 240, 0)


def to_u8(rgb: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 1] to (3, H, W) uint8."""
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def draw_segment(img: np.ndarray, p0, p1, rgb, width: int = 1) -> None:
    """Draw a line from ``p0`` to ``p1`` (x, y pixels) into ``img`` (3, H, W) uint8, in place."""
    n = int(np.ceil(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1])))) + 1
    xs = np.linspace(p0[0], p1[0], n)
    ys = np.linspace(p0[1], p1[1], n)
    h, w = img.shape[1:]
    r = width // 2
    for dx in range(-r, width - r):
        for dy in range(-r, width - r):
            x = np.round(xs).astype(int) + dx
            y = np.round(ys).astype(int) + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            img[:, y[ok], x[ok]] = np.asarray(rgb, np.uint8)[:, None]


def draw_boxes(img: np.ndarray, corners: np.ndarray, rgb, width: int = 1, bow: bool = True) -> None:
    """Outline each (4, 2) box of ``corners`` (image pixels) and mark its bow side, in place."""
    for c in np.asarray(corners, float).reshape(-1, 4, 2):
        for k in range(4):
            draw_segment(img, c[k], c[(k + 1) % 4], rgb, width)
        if bow:
            draw_segment(img, c[0], c[1], BOW_RGB, width)


def detections_picture(rgb: np.ndarray, scale: float, pred_corners: np.ndarray, p_tanker: np.ndarray,
                       true_corners: np.ndarray | None = None) -> np.ndarray:
    """A (3, H, W) uint8 picture: truth in green (if given), tankers red, other vessels blue.

    ``rgb`` is a stretched preview of the scene and ``scale`` its pixels per scene pixel.
    """
    img = to_u8(rgb)
    width = max(1, round(min(img.shape[1:]) / 500))
    if true_corners is not None and len(true_corners):
        draw_boxes(img, true_corners * scale, TRUTH_RGB, width + 1, bow=False)
    for c, p in zip(np.asarray(pred_corners).reshape(-1, 4, 2), p_tanker):
        draw_boxes(img, c[None] * scale, TANKER_RGB if p >= 0.5 else OTHER_RGB, width)
    return img
