"""Hull size classes by length overall, read from ``data/hull_classes.toml`` (with sources)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CLASSES_FILE = Path(__file__).with_name("data") / "hull_classes.toml"


@dataclass(frozen=True)
class HullClass:
    """One size class: length overall range in metres, deadweight range in tonnes."""

    name: str
    label: str
    length_m: tuple[float, float]
    dwt_t: tuple[float, float]
    beam_ratio: float
    source: str = ""


@lru_cache(maxsize=4)
def load_classes(path: Path = CLASSES_FILE) -> tuple[HullClass, ...]:
    """The hull classes in ascending length order."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)["class"]
    classes = tuple(
        HullClass(c["name"], c["label"], tuple(c["length_m"]), tuple(c["dwt_t"]), float(c["beam_ratio"]), c.get("source", ""))
        for c in raw
    )
    return tuple(sorted(classes, key=lambda c: c.length_m[0]))


def class_for_length(length_m: float, classes: tuple[HullClass, ...] | None = None) -> HullClass:
    """The class whose length range holds ``length_m`` (lower bound inclusive); the nearest at the ends."""
    classes = classes or load_classes()
    for c in classes:
        if c.length_m[0] <= length_m < c.length_m[1]:
            return c
    return classes[0] if length_m < classes[0].length_m[0] else classes[-1]


def by_name(name: str) -> HullClass:
    """The class called ``name``; KeyError lists the known names."""
    for c in load_classes():
        if c.name == name:
            return c
    raise KeyError(f"unknown hull class {name!r}; known: {[c.name for c in load_classes()]}")
