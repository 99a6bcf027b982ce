"""Band choice and contrast: which bands are red, green and blue, and a robust per-scene stretch.

Pure numpy; the scene reader feeds it band metadata and a decimated sample of the pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Band descriptions that name a colour. Sentinel-2 and Landsat 8/9 agree on B4/B3/B2 = R/G/B;
# other sensors' numbered bands differ, so only those two naming schemes are trusted.
_DESCRIPTION_PATTERNS = {
    "red": re.compile(r"\b(red|b0?4|sr_b4)\b", re.I),
    "green": re.compile(r"\b(green|b0?3|sr_b3)\b", re.I),
    "blue": re.compile(r"\b(blue|b0?2|sr_b2)\b", re.I),
}


@dataclass(frozen=True)
class BandChoice:
    """1-based band indexes to read as red, green, blue (one index for panchromatic)."""

    indexes: tuple[int, ...]
    source: str  # "user", "colorinterp", "description", "panchromatic" or "assumed"

    @property
    def panchromatic(self) -> bool:
        return len(self.indexes) == 1


def pick_bands(
    count: int,
    colorinterp: list[str],
    descriptions: list[str | None],
    bands: tuple[int, ...] | None = None,
) -> BandChoice:
    """Choose the red, green and blue bands of a raster with ``count`` bands.

    ``colorinterp`` holds GDAL colour interpretation names per band ("red", "gray", ...);
    ``descriptions`` the band descriptions. ``bands`` (1-based, three for RGB or one for a
    panchromatic read) overrides both. Raises ``ValueError`` with the reason when no choice
    can be made.
    """
    if bands is not None:
        bands = tuple(int(b) for b in bands)
        if len(bands) not in (1, 3):
            raise ValueError(f"bands={bands} must name 3 bands (red, green, blue) or 1 (panchromatic)")
        bad = [b for b in bands if not 1 <= b <= count]
        if bad:
            raise ValueError(f"bands={bands} names band(s) {bad} but the file has bands 1..{count}")
        return BandChoice(bands, "user")
    interp = [str(c).lower() for c in colorinterp]
    if all(c in interp for c in ("red", "green", "blue")):
        return BandChoice(tuple(interp.index(c) + 1 for c in ("red", "green", "blue")), "colorinterp")
    found = {}
    for colour, pattern in _DESCRIPTION_PATTERNS.items():
        hits = [i + 1 for i, d in enumerate(descriptions) if d and pattern.search(d)]
        if len(hits) == 1:
            found[colour] = hits[0]
    if len(found) == 3:
        return BandChoice((found["red"], found["green"], found["blue"]), "description")
    if count == 1:
        return BandChoice((1,), "panchromatic")
    if count >= 3:
        # Most unlabelled RGB exports are in R, G, B order; report it so a user can override.
        return BandChoice((1, 2, 3), "assumed")
    raise ValueError(
        f"cannot tell red, green and blue apart among {count} bands; name them with bands=(R, G, B)"
    )


@dataclass(frozen=True)
class Stretch:
    """Per-band linear stretch: value ``lo`` maps to 0 and ``hi`` to 1, in the file's units."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]

    def apply(self, data: np.ndarray) -> np.ndarray:
        """Map ``data`` (bands, rows, cols) in file units to float32 in [0, 1]."""
        out = self.linear(data)
        return np.clip(out, 0.0, 1.0, out=out)

    def linear(self, data: np.ndarray) -> np.ndarray:
        """The stretch without its clip to [0, 1], float32: a linear map, so it commutes with
        bilinear resampling (resample, then clip, as :meth:`apply` after GDAL's resampling)."""
        lo = np.asarray(self.lo, np.float32)[:, None, None]
        span = np.asarray(self.hi, np.float32)[:, None, None] - lo
        return (data.astype(np.float32, copy=False) - lo) / span


def robust_stretch(sample: np.ndarray, valid: np.ndarray, percentiles=(2.0, 98.0)) -> Stretch:
    """A stretch from the ``percentiles`` of each band over the ``valid`` pixels of ``sample``.

    ``sample`` is (bands, rows, cols), a decimated read of the scene; ``valid`` is (rows, cols)
    bool. Raises ``ValueError`` when no pixel is valid. A flat band gets a span of one unit so
    it maps to a constant instead of dividing by zero.
    """
    valid = valid & np.all(np.isfinite(sample), axis=0)
    if not valid.any():
        raise ValueError("every pixel is nodata or masked")
    lo, hi = [], []
    for band in sample:
        p_lo, p_hi = np.percentile(band[valid].astype(np.float64), percentiles)
        lo.append(float(p_lo))
        hi.append(float(p_hi) if p_hi > p_lo else float(p_lo) + 1.0)
    return Stretch(tuple(lo), tuple(hi))
