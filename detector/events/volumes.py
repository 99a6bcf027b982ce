"""From a measured hull length to deadweight and barrels, with the length's own uncertainty.

Deadweight is interpolated log-linearly in length inside each class of
``data/hull_classes.toml`` (class ranges chain, so it is continuous across borders): a 77 m
hull gives about 2,400 t, the 84.6 m Rye Song Gang 1 about 3,250 t (listed: 3,003 t). A length
known to within ``tolerance_m`` gives every class it may belong to and a barrels range, so a
hull on a class border carries both classes, not a false precision.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .hulls import CLASSES_FILE, HullClass, load_classes


@dataclass(frozen=True)
class LoadFactors:
    """Share of deadweight loaded: central, interval bounds, and the floor (US lower bound)."""

    factor: float = 0.9
    low: float = 0.85
    high: float = 0.95
    floor: float = 0.333


@dataclass(frozen=True)
class Volume:
    """Barrels a hull of a measured length carries: the classes it may be and low / mid / high."""

    classes: tuple[str, ...]
    dwt_t: tuple[float, float, float]  # low, mid, high
    barrels: tuple[float, float, float]  # low, mid, high
    floor_barrels: float  # at the load floor and the low deadweight

    @property
    def hull_class(self) -> str:
        """One name, or the names of every class the length may fall in joined by ``|``."""
        return "|".join(self.classes)


@lru_cache(maxsize=4)
def _volume_data(path: Path = CLASSES_FILE) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_factors(path: Path = CLASSES_FILE) -> LoadFactors:
    """The load factors of the data file."""
    d = _volume_data(path).get("load", {})
    return LoadFactors(d.get("factor", 0.9), d.get("factor_low", 0.85), d.get("factor_high", 0.95), d.get("floor", 0.333))


def barrels_per_tonne(product: str | None = None, path: Path = CLASSES_FILE) -> float:
    """Barrels per tonne of ``product`` (default: the file's default, diesel)."""
    products = _volume_data(path)["products"]
    name = product or products["default"]
    if name == "default" or name not in products:
        known = sorted(k for k in products if k != "default")
        raise KeyError(f"unknown product {name!r}; known: {', '.join(known)}")
    return float(products[name]["barrels_per_tonne"])


def dwt_for_length(length_m, classes: tuple[HullClass, ...] | None = None):
    """Deadweight in tonnes for lengths overall in metres (a float or an array).

    Log-linear inside each cargo class, continuous across borders (the classes chain), clamped
    to the shortest and longest cargo classes.
    """
    classes = classes or load_classes()
    cargo = [c for c in classes if c.dwt_t[0] > 0]  # small craft carry no cargo to speak of
    borders = [cargo[0].length_m[0]] + [c.length_m[1] for c in cargo]
    log_dwt = [math.log(cargo[0].dwt_t[0])] + [math.log(c.dwt_t[1]) for c in cargo]
    out = np.exp(np.interp(length_m, borders, log_dwt))
    return float(out) if np.ndim(out) == 0 else out


def classes_for_range(low_m: float, high_m: float, classes: tuple[HullClass, ...] | None = None) -> tuple[str, ...]:
    """Names of the classes whose length range meets [low_m, high_m], in length order."""
    classes = classes or load_classes()
    hit = tuple(c.name for c in classes if c.length_m[0] <= high_m and low_m < c.length_m[1])
    if hit:
        return hit
    return (classes[0].name,) if high_m < classes[0].length_m[0] else (classes[-1].name,)


def volume(length_m: float, tolerance_m: float, product: str | None = None, load: LoadFactors | None = None) -> Volume:
    """Classes and barrels (low, mid, high) of a hull measured at ``length_m`` +- ``tolerance_m``."""
    load = load or load_factors()
    bpt = barrels_per_tonne(product)
    lo_m, hi_m = max(0.0, length_m - tolerance_m), length_m + tolerance_m
    dwt = (dwt_for_length(lo_m), dwt_for_length(length_m), dwt_for_length(hi_m))
    barrels = (dwt[0] * load.low * bpt, dwt[1] * load.factor * bpt, dwt[2] * load.high * bpt)
    return Volume(classes_for_range(lo_m, hi_m), dwt, barrels, dwt[0] * load.floor * bpt)


def length_tolerance_m(gsd_m: float, floor_m: float = 10.0, pixels: float = 3.0) -> float:
    """How far a measured length may be from the truth: ``pixels`` ground pixels, at least ``floor_m``."""
    return max(floor_m, pixels * gsd_m)
