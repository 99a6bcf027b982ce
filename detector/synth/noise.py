"""Deterministic value noise anchored to the ground: the same place looks the same in every scene.

Lattice values come from an integer hash of (cell column, cell row, seed), so a texture is a
function of ground coordinates in metres, not of the scene grid: a pier rendered on two dates or
at two resolutions carries the same pattern.
"""

from __future__ import annotations

import numpy as np

_M32 = np.uint64(0xFFFFFFFF)


def hash01(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) value per integer lattice point (i, j); broadcasts like numpy."""
    with np.errstate(over="ignore"):
        h = (np.asarray(i).astype(np.int64).astype(np.uint64) * np.uint64(374761393)
             + np.asarray(j).astype(np.int64).astype(np.uint64) * np.uint64(668265263)
             + np.uint64((seed * 2654435761) & 0xFFFFFFFF)) & _M32
        h = ((h ^ (h >> np.uint64(13))) * np.uint64(1274126177)) & _M32
        h = ((h ^ (h >> np.uint64(16))) * np.uint64(2246822519)) & _M32
        h = h ^ (h >> np.uint64(15))
    return (h & _M32).astype(np.float64) / 4294967296.0


def value_noise(east_m: np.ndarray, north_m: np.ndarray, cell_m: float, seed: int) -> np.ndarray:
    """Smooth noise in [0, 1] on a north-up grid given by its 1-D axes (east per column, north per row).

    Returns a (len(north_m), len(east_m)) float32 array.
    """
    fx, fy = east_m / cell_m, north_m / cell_m
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    tx, ty = fx - ix, fy - iy
    tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
    x0, y0 = ix.min(), iy.min()
    lat = hash01(np.arange(x0, ix.max() + 2)[None, :], np.arange(y0, iy.max() + 2)[:, None], seed).astype(np.float32)
    cx, cy = ix - x0, iy - y0
    rows0, rows1 = lat[cy], lat[cy + 1]
    top = rows0[:, cx] * (1 - tx)[None, :].astype(np.float32) + rows0[:, cx + 1] * tx[None, :].astype(np.float32)
    bot = rows1[:, cx] * (1 - tx)[None, :].astype(np.float32) + rows1[:, cx + 1] * tx[None, :].astype(np.float32)
    ty32 = ty[:, None].astype(np.float32)
    return top * (1 - ty32) + bot * ty32


def fbm(east_m: np.ndarray, north_m: np.ndarray, cell_m: float, seed: int, octaves: int = 5, min_cell_m: float = 0.0) -> np.ndarray:
    """Fractal noise (sum of octaves, each half the cell and amplitude), roughly in [0, 1].

    Octaves finer than ``min_cell_m`` (about a pixel) are left out: they would average away.
    """
    total = np.zeros((len(north_m), len(east_m)), np.float32)
    norm, amp, cell = 0.0, 1.0, cell_m
    for k in range(octaves):
        if cell < min_cell_m and k > 0:
            break
        total += amp * value_noise(east_m, north_m, cell, seed + 7919 * k)
        norm += amp
        amp *= 0.5
        cell *= 0.5
    return total / norm
