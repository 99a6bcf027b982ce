"""Tile windows over a scene: pure integer arithmetic, no I/O.

A tile is a window in scene pixels that is read and resampled to ``tile_px`` x ``tile_px``
model pixels at the working ground sample distance. Neighbouring tiles overlap by at least
``overlap_m`` on the ground, so any object whose axis-aligned extent is at most ``overlap_m``
lies whole inside at least one tile: along one axis, tiles start every ``stride`` pixels and are
``stride + overlap`` long, so an interval of length <= overlap starting at ``p`` fits in the tile
that starts at the last offset <= ``p`` (or in the last tile, shifted inward to end at the edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely

# The longest hull we detect is a VLCC, 345 m (DESIGN.md section 5). Turned by an angle t, a
# 345 x 58 m hull spans 345|cos t| + 58|sin t| <= hypot(345, 58) = 350 m along an axis, so
# 352 m of overlap keeps every hull whole in some tile at any heading.
MAX_HULL_LENGTH_M = 345.0
DEFAULT_OVERLAP_M = 352.0


@dataclass(frozen=True)
class Tile:
    """A window in scene pixels and the size it is resampled to at the working GSD.

    ``out_width`` x ``out_height`` is at most ``tile_px`` on each side; a scene smaller than one
    tile gives a smaller output that the reader pads (with invalid pixels) to ``tile_px``.
    """

    col_off: int
    row_off: int
    width: int
    height: int
    out_width: int
    out_height: int

    @property
    def scale_x(self) -> float:
        """Scene pixels per working pixel along columns."""
        return self.width / self.out_width

    @property
    def scale_y(self) -> float:
        """Scene pixels per working pixel along rows."""
        return self.height / self.out_height

    @property
    def upsamples(self) -> bool:
        """Whether the working pixels are finer than the scene's along an axis (and coarser along
        none): the model sees an interpolated window, which ``Scene.read_native`` leaves to the
        model's side (4x fewer pixels to read and pass on for a 10 m scene read at 5 m)."""
        return self.out_width >= self.width and self.out_height >= self.height and (
            self.out_width > self.width or self.out_height > self.height)

    def to_scene_px(self, x_work, y_work):
        """Working-pixel coordinates inside this tile to scene-pixel coordinates."""
        return self.col_off + x_work * self.scale_x, self.row_off + y_work * self.scale_y

    @property
    def bounds_px(self) -> tuple[int, int, int, int]:
        """(col_min, row_min, col_max, row_max) in scene pixels, max exclusive."""
        return self.col_off, self.row_off, self.col_off + self.width, self.row_off + self.height


def axis_windows(size: int, start: int, stop: int, foot: int, overlap: int, fit: bool = False) -> list[tuple[int, int]]:
    """Windows ``(offset, length)`` along one axis of ``size`` pixels covering ``[start, stop)``.

    ``foot`` is the tile length and ``overlap`` the minimum overlap, both in pixels. Windows lie
    inside ``[0, size)``: the last one is shifted inward to end at ``stop`` (with ``fit``, the
    windows are first shrunk to share the range evenly, the same count); when the range is
    shorter than a tile the window is centred on it and grows into the rest of the scene, and
    when the whole scene is shorter than a tile the window is the scene.
    """
    if not 0 <= start < stop <= size:
        raise ValueError(f"range [{start}, {stop}) is not inside [0, {size})")
    if foot >= size:
        return [(0, size)]
    if stop - start <= foot:
        centre = (start + stop) // 2
        return [(min(max(centre - foot // 2, 0), size - foot), foot)]
    stride = foot - overlap
    if stride < 1:
        raise ValueError(f"tile of {foot} px cannot overlap by {overlap} px")
    if fit:
        # As many windows as the full foot needs, each shrunk so they share the range evenly
        # (still overlapping by at least ``overlap``): less model work than a last window
        # shifted inward over its neighbour (a 4,000 px range: 4,368 px of windows, not 6,144).
        n = math.ceil((stop - start - overlap) / stride)
        foot = min(foot, math.ceil((stop - start + (n - 1) * overlap) / n))
        stride = foot - overlap
    offsets = list(range(start, stop - foot, stride)) + [stop - foot]
    return [(o, foot) for o in offsets]


def tile_grid(
    width: int,
    height: int,
    gsd_x_m: float,
    gsd_y_m: float,
    work_gsd_m: float,
    tile_px: int,
    overlap_m: float = DEFAULT_OVERLAP_M,
    region: tuple[int, int, int, int] | None = None,
    fit: bool = False,
) -> list[Tile]:
    """Tiles over a ``width`` x ``height`` scene, or over ``region`` = (col0, row0, col1, row1).

    ``gsd_x_m``/``gsd_y_m`` are the scene's ground metres per pixel along columns and rows,
    ``work_gsd_m`` the model's, ``tile_px`` the model tile side (with ``fit``, the most it may
    be: tiles shrink to share the area evenly, all of one size). Raises ``ValueError`` when a
    tile is not longer on the ground than the overlap (make ``tile_px`` larger or the working
    GSD coarser).
    """
    if min(width, height, tile_px) < 1 or min(gsd_x_m, gsd_y_m, work_gsd_m) <= 0:
        raise ValueError("sizes and ground sample distances must be positive")
    tile_m = tile_px * work_gsd_m
    if tile_m <= overlap_m:
        raise ValueError(
            f"a {tile_px} px tile at {work_gsd_m:g} m is {tile_m:g} m, not longer than the "
            f"{overlap_m:g} m overlap; use a larger tile or a coarser working GSD"
        )
    col0, row0, col1, row1 = region if region is not None else (0, 0, width, height)
    col0, row0 = max(0, int(col0)), max(0, int(row0))
    col1, row1 = min(width, int(math.ceil(col1))), min(height, int(math.ceil(row1)))
    if col0 >= col1 or row0 >= row1:
        raise ValueError(f"region {region} does not overlap the {width} x {height} scene")
    foot_x = max(1, round(tile_m / gsd_x_m))
    foot_y = max(1, round(tile_m / gsd_y_m))
    cols = axis_windows(width, col0, col1, foot_x, math.ceil(overlap_m / gsd_x_m), fit)
    rows = axis_windows(height, row0, row1, foot_y, math.ceil(overlap_m / gsd_y_m), fit)
    tiles = []
    for row_off, h in rows:
        for col_off, w in cols:
            # A window shorter than the tile (small scene, or fitted) keeps the working scale.
            out_w = tile_px if w == foot_x else min(tile_px, max(1, round(w * gsd_x_m / work_gsd_m)))
            out_h = tile_px if h == foot_y else min(tile_px, max(1, round(h * gsd_y_m / work_gsd_m)))
            tiles.append(Tile(col_off, row_off, w, h, out_w, out_h))
    return tiles


def tiles_touching(tiles: list[Tile], area_px) -> list[Tile]:
    """The tiles whose window intersects ``area_px``, a shapely geometry in scene pixels."""
    boxes = [shapely.box(*t.bounds_px) for t in tiles]
    keep = shapely.intersects(boxes, area_px)
    return [t for t, k in zip(tiles, keep) if k]
