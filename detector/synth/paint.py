"""Draw vessels, their shadows and wakes into a reflectance image, anti-aliased by supersampling.

A hull is an implicit shape in its own frame (u metres towards the bow from midships, v metres
to starboard): straight sides, a pointed bow, a rounded stern. Deck detail is painted as a
function of (u, v) by kind, so it stays put at any ground sample distance.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from .ground import Grid, Sun
from .noise import hash01
from .vessels import Vessel

WHITE = np.array([0.55, 0.55, 0.53, 0.55], np.float32)
HULL_SIDES = np.array([[0.035, 0.035, 0.04, 0.05], [0.20, 0.05, 0.04, 0.25], [0.04, 0.07, 0.16, 0.12], [0.20, 0.20, 0.21, 0.22]], np.float32)
TANKER_DECKS = np.array([[0.22, 0.075, 0.055, 0.28], [0.08, 0.17, 0.09, 0.22], [0.19, 0.19, 0.19, 0.22], [0.16, 0.06, 0.05, 0.24]], np.float32)
HATCHES = np.array([[0.20, 0.06, 0.05, 0.26], [0.20, 0.20, 0.21, 0.23], [0.06, 0.13, 0.25, 0.2], [0.30, 0.26, 0.08, 0.32]], np.float32)
# Container paints, muted towards grey as they weather: maroon, blue, green, white, grey, orange.
BOXES = (0.5 * np.array([[0.24, 0.07, 0.05, 0.32], [0.06, 0.11, 0.22, 0.2], [0.07, 0.16, 0.09, 0.25], [0.40, 0.40, 0.39, 0.42],
                         [0.20, 0.20, 0.21, 0.22], [0.36, 0.18, 0.06, 0.38], [0.16, 0.06, 0.05, 0.24]], np.float32)
         + 0.5 * np.array([0.18, 0.18, 0.18, 0.22], np.float32))
FOAM = np.array([0.30, 0.32, 0.33, 0.12], np.float32)


@dataclass(frozen=True)
class HullLook:
    """What a hull looks like from above, fixed by its ``style``: the paint of its sides, deck and
    funnel (indices into the palettes above) and where its accommodation block stands (fractions
    of the length from the stern). A named hull keeps one style, so it looks the same on every visit."""

    side: int
    deck: int
    hatch: int  # a bulk carrier's hatch covers
    funnel: int  # 0 black, 1 red
    super_start: float  # stern end of the superstructure, share of the length from the stern
    super_length: float  # its length, share of the hull's length


def hull_look(style: int, length_m: float) -> HullLook:
    """The look of a hull of ``style`` and ``length_m`` metres (the block is at least 10 m long)."""
    h = [float(hash01(np.array(style), np.array(k), 77)) for k in range(6)]
    return HullLook(int(h[0] * len(HULL_SIDES)), int(h[1] * len(TANKER_DECKS)), int(h[2] * len(HATCHES)), int(h[3] < 0.5),
                    0.02 + 0.05 * h[4], max(0.08, 10.0 / length_m) + 0.08 * h[5])


def style_for_name(name: str) -> int:
    """The paint style of a named hull: the same on every visit and in every run (not Python's salted hash)."""
    return zlib.crc32(name.encode("utf-8")) & ((1 << 30) - 1)


def half_width(v: Vessel, u: np.ndarray) -> np.ndarray:
    """Half beam (m) at ``u`` metres from midships: parallel body, pointed bow, rounded stern."""
    hl, hb = v.length_m / 2, v.beam_m / 2
    bow = min(1.4 * v.beam_m, 0.3 * v.length_m)
    stern = min(0.35 * v.beam_m, 0.1 * v.length_m)
    w = np.full_like(u, hb)
    t = np.clip((u - (hl - bow)) / bow, 0, 1)
    w = np.where(u > hl - bow, hb * np.sqrt(np.clip(1 - t**1.6, 0, 1)), w)
    t = np.clip(((-hl + stern) - u) / stern, 0, 1)
    w = np.where(u < -hl + stern, hb * np.sqrt(np.clip(1 - t**2, 0, 1)), w)
    return np.where(np.abs(u) <= hl, w, -1.0)


def _superstructure(v: Vessel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where the accommodation block stands (x from stern 0 to bow 1, y from -1 port to +1 starboard)."""
    if v.kind == "tug":
        return (x > 0.38) & (x < 0.72) & (np.abs(y) < 0.62)
    if v.kind == "small_craft":
        return (x > 0.3) & (x < 0.6) & (np.abs(y) < 0.55)
    look = hull_look(v.style, v.length_m)
    return (x > look.super_start) & (x < look.super_start + look.super_length) & (np.abs(y) < 0.86)


def _deck(v: Vessel, u: np.ndarray, vv: np.ndarray) -> np.ndarray:
    """(N, 4) deck reflectance at hull points (u, v) in metres."""
    L, B = v.length_m, v.beam_m
    x, y = (u + L / 2) / L, vv / (B / 2)
    look = hull_look(v.style, L)
    side = HULL_SIDES[look.side]
    out = np.empty((u.size, 4), np.float32)
    if v.kind == "tanker":
        deck = TANKER_DECKS[look.deck]
        out[:] = deck
        rack = (np.abs(vv) < 0.9) & (x > 0.17) & (x < 0.9)
        manifold = (np.abs(x - 0.5) < 1.5 / L) & (np.abs(y) < 0.92)
        hatches = (np.abs(np.mod(u, 9.0) - 4.5) < 0.9) & (np.abs(vv) < 0.45 * B) & (np.abs(vv) > 1.4) & (x > 0.2) & (x < 0.88)
        out[hatches] = deck * 1.35
        out[rack] = [0.34, 0.34, 0.33, 0.36]
        out[manifold] = [0.42, 0.42, 0.40, 0.44]
        out[x > 0.9] = deck * 0.8 + 0.03
    elif v.kind == "bulk_carrier":
        out[:] = [0.16, 0.10, 0.07, 0.25]
        n_hatch = max(4, min(9, int(L / 25)))
        pitch = 0.72 / n_hatch
        k = np.floor((x - 0.18) / pitch)
        inside = (x > 0.18) & (x < 0.9) & (np.mod(x - 0.18, pitch) < pitch * 0.72) & (np.abs(y) < 0.72)
        out[inside] = HATCHES[look.hatch] * (0.9 + 0.2 * hash01(k[inside], np.zeros_like(k[inside]), v.style))[:, None]
    elif v.kind == "container_ship":
        out[:] = [0.15, 0.15, 0.16, 0.2]
        bay, row = np.floor(u / 6.4), np.floor(vv / 2.5)
        loaded = hash01(bay, row, v.style + 1) > 0.15
        stack = (x > 0.14) & (x < 0.92) & (np.abs(y) < 0.9) & loaded & (np.mod(u, 6.4) < 6.0)
        idx = np.floor(hash01(bay, row, v.style + 2) * len(BOXES)).astype(int)
        out[stack] = BOXES[idx[stack]]
    elif v.kind == "tug":
        out[:] = side
    else:
        out[:] = WHITE * 0.9
    sup = _superstructure(v, x, y)
    out[sup] = WHITE
    if v.kind not in ("tug", "small_craft"):
        funnel = sup & (np.abs(x - (look.super_start + 4.0 / L)) < 2.5 / L) & (np.abs(y) < 0.25)
        out[funnel] = [0.30, 0.07, 0.05, 0.3] if look.funnel else [0.08, 0.08, 0.08, 0.1]
    rim = np.abs(vv) > (B / 2 - 0.7) * (half_width(v, u) / (B / 2))
    out[rim] = side
    return out


def _heights(v: Vessel) -> tuple[float, float]:
    """Freeboard and superstructure height above the water in metres."""
    empty = 1.0 - v.laden
    scale = min(1.0, v.length_m / 120.0)
    freeboard = (2.0 + 6.0 * scale) * (0.6 + 0.8 * empty)
    return freeboard, freeboard + (6.0 if v.kind in ("tug", "small_craft") else 8.0 + 14.0 * scale)


def _local(v: Vessel, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fwd, stb = v.axes
    de, dn = e - v.east_m, n - v.north_m
    return de * fwd[0] + dn * fwd[1], de * stb[0] + dn * stb[1]


def draw_vessel(img: np.ndarray, grid: Grid, v: Vessel, sun: Sun) -> None:
    """Composite one vessel (wake, shadow, hull) into ``img`` (4, H, W) in place."""
    free_m, top_m = _heights(v)
    sh_top = sun.shadow_m(top_m)
    speed = v.extra.get("speed_kn", 0.0) if v.state == "underway" else 0.0
    wake_m = 1.5 * v.length_m * min(1.0, speed / 10.0) if speed else 0.0
    fwd, _ = v.axes
    pts = np.vstack([v.corners(), v.corners() + sh_top, v.corners() - fwd * wake_m])
    spread = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]]) * (math.tan(math.radians(20)) * wake_m + v.beam_m)
    pts = np.vstack([pts, (np.array([v.east_m, v.north_m]) - fwd * (v.length_m / 2 + wake_m)) + spread]) if wake_m else pts
    x_px, y_px = grid.to_px(pts[:, 0], pts[:, 1])
    c0, c1 = max(0, int(np.floor(x_px.min())) - 1), min(grid.width, int(np.ceil(x_px.max())) + 1)
    r0, r1 = max(0, int(np.floor(y_px.min())) - 1), min(grid.height, int(np.ceil(y_px.max())) + 1)
    if c0 >= c1 or r0 >= r1:
        return
    s = int(np.clip(round(grid.gsd_m / 0.5), 1, 8))
    offs = (np.arange(s) + 0.5) / s
    cols = (np.arange(c0, c1)[:, None] + offs[None, :]).ravel()
    rows = (np.arange(r0, r1)[:, None] + offs[None, :]).ravel()
    e = grid.east0_m + cols * grid.gsd_m
    n = grid.north0_m - rows * grid.gsd_m
    E, N = np.meshgrid(e, n)
    u, w = _local(v, E, N)
    hull = np.abs(w) <= half_width(v, u)
    # Shadow: a point is shaded when the hull (or its superstructure) stands between it and the sun.
    # Shadows are swept from the deck up to the top, so they stay attached to what casts them.
    L, B = v.length_m, v.beam_m
    shade = np.zeros_like(hull)
    for frac in (0.5, 1.0):
        off = sun.shadow_m(free_m * frac)
        uf, wf = _local(v, E - off[0], N - off[1])
        shade |= np.abs(wf) <= half_width(v, uf)
    for frac in (0.2, 0.4, 0.6, 0.8, 1.0):
        off = sun.shadow_m(free_m + (top_m - free_m) * frac)
        ut, wt = _local(v, E - off[0], N - off[1])
        shade |= _superstructure(v, (ut + L / 2) / L, wt / (B / 2))
    shade &= ~hull
    colour = np.zeros(E.shape + (4,), np.float32)
    colour[hull] = _deck(v, u[hull], w[hull])
    hb = (r1 - r0, s, c1 - c0, s)
    a_hull = hull.reshape(hb).mean(axis=(1, 3))
    a_shade = shade.reshape(hb).mean(axis=(1, 3))
    paint = colour.reshape(hb + (4,)).sum(axis=(1, 3)) / (s * s)
    region = img[:, r0:r1, c0:c1]
    if wake_m:
        behind = -(u + L / 2)
        k = np.clip(speed / 12.0, 0.2, 1.0)
        turb = (behind > 0) & (np.abs(w) < B * (0.5 + behind / (3 * L))) & (behind < wake_m)
        arms = (behind > 0) & (np.abs(np.abs(w) - behind * math.tan(math.radians(19.5))) < 1.5 + behind * 0.02) & (behind < wake_m)
        foam = (turb * np.exp(-behind / (0.5 * wake_m + 1)) * 0.45 + arms * np.exp(-behind / (0.4 * wake_m + 1)) * 0.12) * k * ~hull
        a_foam = foam.reshape(hb).mean(axis=(1, 3))
        region += (FOAM[:, None, None] - region) * a_foam[None]
    region *= (1.0 - 0.45 * a_shade)[None]
    region *= (1.0 - a_hull)[None]
    region += np.moveaxis(paint, -1, 0)
