"""Copy-paste: labelled hulls cut from one scene and pasted, turned, into another training tile.

Ghiasi et al. (2021, "Simple Copy-Paste is a Strong Data Augmentation Method for Instance
Segmentation") paste whole objects between images and report up to twice the data efficiency.
Here a donor hull is read from its own scene at the receiving tile's working GSD (so it keeps
its size in metres), cut along its oriented box grown a little (a hull's outline is a rectangle
in every label we hold; the margin keeps its hard edge inside the cut), turned to a random
heading and blended into the tile with a feathered edge. Its corners travel with it, bow pair
first, so the bow label stays on the bow. A hull is placed only where it lies wholly inside the
tile, on valid pixels, and clear of every hull already there: pasting never hides a label.

Everything is a function of the generator it is given, so a draw stays reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
import torch

from ..io.scene import Scene
from ..io.tiles import Tile

LENGTH_MARGIN = 1.12  # the cut is this much longer than the labelled hull ...
BEAM_MARGIN = 1.5  # ... and this much wider: a quay or the water either side is kept
FEATHER_PX = 1.5  # the blend fades over this many working pixels at the cut's edge
PLACEMENT_TRIES = 6


@dataclass
class TileLabels:
    """The vessels of one training tile in tile pixels, with their per-vessel flags."""

    corners: np.ndarray  # (n, 4, 2), bow pair first where has_bow
    has_bow: np.ndarray
    type_code: np.ndarray
    box_only: np.ndarray
    beam_known: np.ndarray
    ignore: np.ndarray

    def append(self, corners: np.ndarray, has_bow: bool, type_code: int, beam_known: bool) -> None:
        """Add one oriented hull (not box-only, not ignored)."""
        self.corners = np.concatenate([self.corners, corners[None]])
        self.has_bow = np.append(self.has_bow, has_bow)
        self.type_code = np.append(self.type_code, type_code)
        self.box_only = np.append(self.box_only, False)
        self.beam_known = np.append(self.beam_known, beam_known)
        self.ignore = np.append(self.ignore, False)


@dataclass
class DonorHull:
    """One hull cut out of its scene at a working GSD: pixels, validity and corners in the cut."""

    rgb: np.ndarray  # (3, h, w) float32 in [0, 1]
    valid: np.ndarray  # (h, w) bool
    corners: np.ndarray  # (4, 2) in the cut's pixels
    has_bow: bool
    type_code: int
    beam_known: bool


def read_donor(scene: Scene, corners_px: np.ndarray, work_gsd_m: float, scene_gsd_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Read the window around one hull (``corners_px``, scene pixels) resampled to ``work_gsd_m``.

    ``scene_gsd_m`` is the scene's metres per pixel (the sampled one, where it is uncertain).
    Returns (rgb, valid, corners in the window's output pixels), or None when the hull lies off
    the image or would be under two working pixels long.
    """
    info = scene.info
    centre = corners_px.mean(axis=0)
    half = np.abs(corners_px - centre).max(axis=0) * BEAM_MARGIN + 2  # the envelope, grown
    x0, y0 = np.floor(centre - half).astype(int)
    x1, y1 = np.ceil(centre + half).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, info.width), min(y1, info.height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    scale = work_gsd_m / scene_gsd_m  # scene pixels per working pixel
    out_w, out_h = max(1, round((x1 - x0) / scale)), max(1, round((y1 - y0) / scale))
    if max(out_w, out_h) < 3:
        return None
    tile = Tile(int(x0), int(y0), int(x1 - x0), int(y1 - y0), out_w, out_h)
    rgb, valid = scene.read_tile(tile, max(out_w, out_h), pad_multiple=1)
    c = corners_px.astype(np.float64).copy()
    c[:, 0] = (c[:, 0] - tile.col_off) / tile.scale_x
    c[:, 1] = (c[:, 1] - tile.row_off) / tile.scale_y
    return rgb, valid, c


def _rotation(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def place(donor_corners: np.ndarray, occupied: np.ndarray, valid: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float] | None:
    """A centre (tile pixels) and turn (radians) for a donor hull, or None when none fits.

    The pasted cut must lie wholly inside the tile, its centre and corners on valid pixels, and
    it must not touch any hull in ``occupied`` ((n, 4, 2) tile pixels).
    """
    size_px = valid.shape[0]
    local = donor_corners - donor_corners.mean(axis=0)
    grown = _grown(local)
    taken = shapely.union_all(shapely.polygons(occupied)) if len(occupied) else None
    for _ in range(PLACEMENT_TRIES):
        turn = float(rng.uniform(-math.pi, math.pi))
        cut = grown @ _rotation(turn).T
        lo, hi = -cut.min(axis=0), size_px - cut.max(axis=0)
        if (hi <= lo).any():
            return None  # longer than the tile at any heading tried
        centre = rng.uniform(lo, hi)
        hull = local @ _rotation(turn).T + centre
        points = np.vstack([hull, centre[None]])
        ix = np.clip(points[:, 0].astype(int), 0, size_px - 1)
        iy = np.clip(points[:, 1].astype(int), 0, size_px - 1)
        if not valid[iy, ix].all():
            continue
        if taken is not None and shapely.intersects(shapely.Polygon(cut + centre), taken):
            continue
        return centre, turn
    return None


def _grown(local: np.ndarray) -> np.ndarray:
    """Corners of a hull (centred at 0) grown to the cut: ``LENGTH_MARGIN`` along, ``BEAM_MARGIN`` across."""
    bow, stern = local[:2].mean(axis=0), local[2:].mean(axis=0)
    u = bow - stern
    u = u / max(np.linalg.norm(u), 1e-9)
    n = np.array([-u[1], u[0]])
    a, b = local @ u, local @ n
    return np.outer(a * LENGTH_MARGIN, u) + np.outer(b * BEAM_MARGIN, n)


def paste(image: torch.Tensor, donor: DonorHull, centre: np.ndarray, turn: float) -> np.ndarray:
    """Blend ``donor`` into ``image`` ((3, t, t), in place) at ``centre`` turned by ``turn``.

    Returns the pasted hull's corners in tile pixels, in the donor's order (bow pair first).
    """
    h, w = donor.valid.shape
    t = image.shape[-1]
    mid = donor.corners.mean(axis=0)
    local = donor.corners - mid
    # For each tile pixel centre p: q = R(-turn) (p - centre) + mid, the cut's pixel it shows.
    ys, xs = torch.meshgrid(torch.arange(t, dtype=torch.float32) + 0.5, torch.arange(t, dtype=torch.float32) + 0.5, indexing="ij")
    back = torch.as_tensor(_rotation(-turn), dtype=torch.float32)
    dx, dy = xs - float(centre[0]), ys - float(centre[1])
    qx = back[0, 0] * dx + back[0, 1] * dy
    qy = back[1, 0] * dx + back[1, 1] * dy
    # Within the cut: distances along and across the hull, against the grown half-extents.
    bow, stern = local[:2].mean(axis=0), local[2:].mean(axis=0)
    u = (bow - stern) / max(np.linalg.norm(bow - stern), 1e-9)
    n = np.array([-u[1], u[0]])
    half_len = np.abs(local @ u).max() * LENGTH_MARGIN
    half_beam = np.abs(local @ n).max() * BEAM_MARGIN
    along = (qx * float(u[0]) + qy * float(u[1])).abs()
    across = (qx * float(n[0]) + qy * float(n[1])).abs()
    alpha = ((half_len - along) / FEATHER_PX).clamp(0, 1) * ((half_beam - across) / FEATHER_PX).clamp(0, 1)
    grid = torch.stack([(qx + float(mid[0])) / w * 2 - 1, (qy + float(mid[1])) / h * 2 - 1], dim=-1)[None]
    source = torch.cat([torch.from_numpy(donor.rgb).float(), torch.from_numpy(donor.valid).float()[None]])[None]
    sampled = torch.nn.functional.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    # The donor's invalid pixels are zeros, so the sampled colour is premultiplied by the sampled
    # validity: nothing of its nodata or beyond its window darkens the blend.
    image.mul_(1 - alpha * sampled[3]).add_(sampled[:3] * alpha)
    return local @ _rotation(turn).T + centre
