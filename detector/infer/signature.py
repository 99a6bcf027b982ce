"""What a hull looks like in one scene: the appearance half of its signature, from its own pixels.

Two measurements per tanker at a berth, both chosen to survive what changes between two dates
(sun, haze, the sensor's calibration, the scene's stretch), and both read in the file's own
units, not the display stretch:

* ``chroma_r``, ``chroma_g``: the colour of the deck, as the red and green shares of the deck's
  excess over the water beside it (hull minus water, per band). Haze adds to hull and water alike
  and so cancels in the difference; a brighter sun scales every band alike and so cancels in
  the shares. A red deck, a green one and a grey one stay apart on every date.
* ``super_pos``: where the accommodation block stands, as the share of the hull's length from
  the nearer end to the centre of its brightest stretch along the axis (the block is the
  whitest, tallest thing on a tanker's deck). Measured from the nearer end, so a bow read the
  wrong way round does not move it.

A hull of fewer than ``MIN_LENGTH_PX`` pixels, or with too few valid deck or water pixels, gets
no signature (its size still counts): at 10 m a 80 m tanker is 8 pixels of mixed deck and water.
"""

from __future__ import annotations

import math

import numpy as np

from ..io.records import POLYGON_COLUMNS

MIN_LENGTH_PX = 12.0  # shorter hulls: too few pixels for colour or a block position
MIN_BEAM_PX = 3.0  # narrower: every pixel mixes deck and water (a 13 m beam at 10 m)
REACH = 0.3  # the hull's ends are looked for this share of its box length beyond the box


def hull_frame(corners_px: np.ndarray):
    """Stern centre, unit axis towards the bow, unit axis to starboard, length and beam (pixels)
    of a (4, 2) corner array (bow-starboard, bow-port, stern-port, stern-starboard)."""
    c = np.asarray(corners_px, float).reshape(4, 2)
    bow, stern = c[:2].mean(axis=0), c[2:].mean(axis=0)
    axis = bow - stern
    length = float(np.hypot(*axis))
    across = c[0] - c[1]
    beam = float(np.hypot(*across))
    u = axis / max(length, 1e-9)
    return stern, u, np.array([-u[1], u[0]]), length, beam


def measure(values: np.ndarray, valid: np.ndarray, origin_px: tuple[int, int], corners_px: np.ndarray) -> dict | None:
    """The appearance of one hull from ``values`` (bands, rows, cols; file units) read at the
    scene's own pixels from ``origin_px`` = (col0, row0); None when the hull is too small or hidden."""
    stern, u, w, length, beam = hull_frame(corners_px)
    if length < MIN_LENGTH_PX or beam < MIN_BEAM_PX or values.shape[0] < 3:
        return None
    rows, cols = np.mgrid[0: values.shape[1], 0: values.shape[2]]
    d = np.stack([cols + origin_px[0] + 0.5 - stern[0], rows + origin_px[1] + 0.5 - stern[1]], axis=-1)
    along = (d @ u) / length  # 0 at the stern, 1 at the bow
    across = (d @ w) / max(beam / 2.0, 0.5)  # -1 .. 1 over the beam
    inside = (along > 0.04) & (along < 0.96) & (np.abs(across) < 0.7) & valid
    if inside.sum() < 8:
        return None
    data = values.astype(np.float64)
    # Water beside the hull, one side at a time: the quay or a rafted hull fills the other side,
    # and both are brighter than water, so the darker side is the water.
    band = (along > 0.1) & (along < 0.9) & valid
    sides = [band & (across > 1.6) & (across < 1.6 + max(3.0, 6.0 / max(beam / 2.0, 0.5))),
             band & (across < -1.6) & (across > -1.6 - max(3.0, 6.0 / max(beam / 2.0, 0.5)))]
    water = [np.median(data[:, s], axis=1) for s in sides if s.sum() >= 4]
    if not water:
        return None
    water = min(water, key=lambda m: float(m.sum()))
    excess = data[:3, inside] - water[:3, None]
    # The block position: the brightest stretch of the along-axis profile.
    bins = max(8, min(40, int(length / 2.0)))
    k = np.clip((along[inside] * bins).astype(int), 0, bins - 1)
    bright = excess.sum(axis=0)
    counts = np.bincount(k, minlength=bins)
    profile = np.bincount(k, weights=bright, minlength=bins) / np.maximum(counts, 1)
    profile[counts == 0] = np.nan
    width = max(1, int(round(bins * 0.12)))
    smooth = np.convolve(np.nan_to_num(profile, nan=np.nanmin(profile)), np.ones(width) / width, mode="same")
    peak = (int(np.argmax(smooth)) + 0.5) / bins
    # The deck: the hull less its brightest fifth along the axis (the block and its glare).
    deck = np.abs(along[inside] - peak) > 0.1
    deck_excess = np.median(excess[:, deck], axis=1) if deck.sum() >= 4 else np.median(excess, axis=1)
    pos = np.clip(deck_excess, 1e-6, None)
    total = float(pos.sum())
    if not math.isfinite(total) or total <= 0:
        return None
    ends = _hull_ends_px(along * length, across * beam / 2.0, data[:3].sum(axis=0) - float(water[:3].sum()), valid,
                         length, beam, float(np.median(bright)))
    return {"chroma_r": round(float(pos[0] / total), 4), "chroma_g": round(float(pos[1] / total), 4),
            "super_pos": round(float(min(peak, 1.0 - peak)), 4),
            "length_px": None if ends is None else round(ends, 2)}


def _hull_ends_px(along_px: np.ndarray, across_px: np.ndarray, excess: np.ndarray, valid: np.ndarray,
                  box_length_px: float, beam_px: float, deck_excess: float) -> float | None:
    """The hull's length in pixels from its own pixels: along its centre line, where the excess
    over water falls below half the deck's, found to a fraction of a pixel on a half-pixel
    profile that reaches ``REACH`` beyond the detector's box at both ends. None when the profile
    does not fall at an end (a hull touching another end to end, or the scene's edge)."""
    if deck_excess <= 0:
        return None
    line = (np.abs(across_px) < max(0.5, beam_px / 4.0)) & valid
    lo, hi = -REACH * box_length_px, (1.0 + REACH) * box_length_px
    line &= (along_px > lo) & (along_px < hi)
    step = 0.5
    edges = np.arange(lo, hi + step, step)
    k = np.digitize(along_px[line], edges) - 1
    n = np.bincount(k, minlength=edges.size)[: edges.size - 1]
    prof = np.bincount(k, weights=excess[line], minlength=edges.size)[: edges.size - 1] / np.maximum(n, 1)
    centres = (edges[:-1] + edges[1:]) / 2
    known = n > 0
    if known.sum() < 8:
        return None
    prof = np.interp(centres, centres[known], prof[known])
    above = prof >= deck_excess / 2.0
    mid = int(np.argmin(np.abs(centres - box_length_px / 2)))
    if not above[mid]:
        return None
    a = mid
    while a > 0 and above[a - 1]:
        a -= 1
    b = mid
    while b < above.size - 1 and above[b + 1]:
        b += 1
    if a == 0 or b == above.size - 1:
        return None

    def cross(i: int, j: int) -> float:  # where the profile meets half the deck's excess between bins i and j
        t = (deck_excess / 2.0 - prof[i]) / (prof[j] - prof[i]) if prof[j] != prof[i] else 0.5
        return float(centres[i] + t * (centres[j] - centres[i]))

    return cross(b, b + 1) - cross(a - 1, a)


def scene_signatures(scene, rows: list[dict]) -> dict[str, dict]:
    """Appearance of every tanker at a berth in an open ``scene`` (``io.scene.Scene``), by vessel id."""
    out = {}
    for r in rows:
        if r["vessel_type"] != "tanker" or not r["berth"]:
            continue
        corners = np.array([float(r[c]) for c in POLYGON_COLUMNS]).reshape(4, 2)
        _, _, _, length, beam = hull_frame(corners)
        if length < MIN_LENGTH_PX:
            continue
        margin = int(math.ceil(beam * 1.6 + 8))
        c0 = max(0, int(math.floor(corners[:, 0].min())) - margin)
        r0 = max(0, int(math.floor(corners[:, 1].min())) - margin)
        c1 = min(scene.info.width, int(math.ceil(corners[:, 0].max())) + margin)
        r1 = min(scene.info.height, int(math.ceil(corners[:, 1].max())) + margin)
        if c1 - c0 < 4 or r1 - r0 < 4:
            continue
        values, valid = scene.read_values((c0, r0, c1, r1))
        sig = measure(values, valid, (c0, r0), corners)
        if sig is not None:
            out[r["vessel_id"]] = sig
    return out
