"""Oriented boxes in pixel space: corners, parameters, oriented IoU, rotated NMS.

An oriented box is ``(cx, cy, length, beam, heading_rad)`` in pixels of one image (x right,
y down). ``heading_rad`` points from stern to bow in image coordinates. Corners go
bow-starboard, bow-port, stern-port, stern-starboard, the order of ``detections.csv``, so four
corners carry the heading too. When the bow is not known (a mask or a DOTA box) the heading is
one of the two along the long axis and a flag says it is unknown.
"""

from __future__ import annotations

import numpy as np
import shapely


def obb_to_corners(obb: np.ndarray) -> np.ndarray:
    """(n, 5) boxes ``cx, cy, length, beam, heading_rad`` to (n, 4, 2) corners, pixels."""
    obb = np.asarray(obb, np.float64).reshape(-1, 5)
    cx, cy, length, beam, th = obb.T
    u = np.stack([np.cos(th), np.sin(th)], axis=1) * (length / 2)[:, None]
    # Starboard is the right of the direction of travel; with y pointing down that is (-sin, cos).
    r = np.stack([-np.sin(th), np.cos(th)], axis=1) * (beam / 2)[:, None]
    c = np.stack([cx, cy], axis=1)
    return np.stack([c + u + r, c + u - r, c - u - r, c - u + r], axis=1)


def corners_to_obb(corners: np.ndarray) -> np.ndarray:
    """(n, 4, 2) corners (bow pair first) to (n, 5) ``cx, cy, length, beam, heading_rad``."""
    p = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    bow, stern = p[:, :2].mean(axis=1), p[:, 2:].mean(axis=1)
    axis = bow - stern
    length = np.hypot(axis[:, 0], axis[:, 1])
    beam = (np.linalg.norm(p[:, 0] - p[:, 1], axis=1) + np.linalg.norm(p[:, 3] - p[:, 2], axis=1)) / 2
    centre = p.mean(axis=1)
    return np.column_stack([centre, length, beam, np.arctan2(axis[:, 1], axis[:, 0])])


def long_axis_first(corners: np.ndarray) -> np.ndarray:
    """Reorder (n, 4, 2) rectangle corners so the first two span the beam (a short side).

    For boxes whose bow is unknown (masks, DOTA): after this, ``corners_to_obb`` gives the
    long side as the length, with one of the two headings along it.
    """
    p = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    side01 = np.linalg.norm(p[:, 0] - p[:, 1], axis=1)
    side12 = np.linalg.norm(p[:, 1] - p[:, 2], axis=1)
    rolled = np.roll(p, -1, axis=1)
    return np.where((side01 <= side12)[:, None, None], p, rolled)


def min_area_corners(points: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle around (m, 2) points as (4, 2) corners, short side first.

    Points are pixel centres of a mask or a polygon's vertices. A degenerate set (a line or a
    point) is grown by half a pixel so the rectangle keeps a positive area.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    rect = shapely.MultiPoint(pts).minimum_rotated_rectangle
    if rect.geom_type != "Polygon" or rect.area < 1e-6:
        rect = shapely.MultiPoint(pts).buffer(0.5, quad_segs=1).minimum_rotated_rectangle
    xy = np.asarray(rect.exterior.coords)[:4]
    return long_axis_first(xy[None])[0]


def mask_to_corners(mask: np.ndarray) -> np.ndarray | None:
    """The minimum-area rectangle of a binary mask's pixels (pixel edges included), (4, 2).

    Each set pixel contributes its four corners, so a one-pixel mask gives a 1 x 1 box.
    Returns None for an empty mask.
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    offsets = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    pts = (np.column_stack([cols, rows])[:, None, :] + offsets[None]).reshape(-1, 2)
    return min_area_corners(pts)


def polygons(corners: np.ndarray) -> np.ndarray:
    """(n, 4, 2) corners to an array of shapely polygons."""
    p = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    return shapely.polygons(np.concatenate([p, p[:, :1]], axis=1))


def iou_matrix(corners_a: np.ndarray, corners_b: np.ndarray) -> np.ndarray:
    """Exact oriented IoU between every box of ``a`` (n, 4, 2) and ``b`` (m, 4, 2): (n, m).

    Only pairs whose axis-aligned bounds overlap are intersected as polygons.
    """
    a = np.asarray(corners_a, np.float64).reshape(-1, 4, 2)
    b = np.asarray(corners_b, np.float64).reshape(-1, 4, 2)
    out = np.zeros((len(a), len(b)))
    if len(a) == 0 or len(b) == 0:
        return out
    lo_a, hi_a = a.min(axis=1), a.max(axis=1)
    lo_b, hi_b = b.min(axis=1), b.max(axis=1)
    touch = np.all((lo_a[:, None] < hi_b[None]) & (lo_b[None] < hi_a[:, None]), axis=2)
    ia, ib = np.nonzero(touch)
    if ia.size == 0:
        return out
    out[ia, ib] = paired_iou(a[ia], b[ib])
    return out


def paired_iou(corners_a: np.ndarray, corners_b: np.ndarray) -> np.ndarray:
    """Exact oriented IoU of box ``i`` of ``a`` with box ``i`` of ``b``, both (n, 4, 2): (n,)."""
    pa, pb = polygons(corners_a), polygons(corners_b)
    inter = shapely.area(shapely.intersection(pa, pb))
    union = shapely.area(pa) + shapely.area(pb) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def rotated_nms(corners: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of boxes kept by greedy non-maximum suppression with oriented IoU, best first."""
    scores = np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="stable")
    if order.size == 0:
        return order
    iou = iou_matrix(corners[order], corners[order])
    suppressed = np.zeros(order.size, bool)
    keep = []
    for i in range(order.size):
        if suppressed[i]:
            continue
        keep.append(order[i])
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, np.int64)


def touches_border(corners: np.ndarray, bounds: tuple[float, float, float, float], margin: float) -> np.ndarray:
    """Whether each (n, 4, 2) box comes within ``margin`` of the given sides of ``bounds``.

    ``bounds`` = (x0, y0, x1, y1); a side given as ``None``-like ``nan`` is not tested (used for
    tile edges that are also scene edges, where a hull may legitimately be cut).
    """
    p = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    x0, y0, x1, y1 = bounds
    near = np.zeros(len(p), bool)
    if not np.isnan(x0):
        near |= p[:, :, 0].min(axis=1) < x0 + margin
    if not np.isnan(y0):
        near |= p[:, :, 1].min(axis=1) < y0 + margin
    if not np.isnan(x1):
        near |= p[:, :, 0].max(axis=1) > x1 - margin
    if not np.isnan(y1):
        near |= p[:, :, 1].max(axis=1) > y1 - margin
    return near
