"""Synthetic vessels: kinds, real proportions per hull class, and where they lie.

A vessel is an oriented box in local ground metres (centre, length overall, beam, heading of the
bow clockwise from north) plus what the renderer needs to paint its deck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from ..events.hulls import by_name, class_for_length
from .layout import Berth, PortMap

KINDS = ("tanker", "bulk_carrier", "container_ship", "tug", "small_craft")


@dataclass
class Vessel:
    """One hull on the water. Heading is the bow direction in degrees clockwise from north."""

    kind: str
    length_m: float
    beam_m: float
    heading_deg: float
    east_m: float  # local metres from the port reference point
    north_m: float
    state: str = "anchored"  # "moored", "rafted", "anchored", "underway"
    berth: str = ""
    name: str = ""
    style: int = 0  # seeds the paint scheme
    laden: float = 0.5  # 0 empty (high freeboard) .. 1 full
    extra: dict = field(default_factory=dict)

    @property
    def vessel_type(self) -> str:
        """The detector's type: "tanker" or "other"."""
        return "tanker" if self.kind == "tanker" else "other"

    @property
    def hull_class(self) -> str:
        return class_for_length(self.length_m).name

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors (east, north) towards the bow and towards starboard."""
        h = math.radians(self.heading_deg)
        return np.array([math.sin(h), math.cos(h)]), np.array([math.cos(h), -math.sin(h)])

    def corners(self) -> np.ndarray:
        """(4, 2) local metres: bow-starboard, bow-port, stern-port, stern-starboard."""
        fwd, stb = self.axes
        c = np.array([self.east_m, self.north_m])
        hl, hb = self.length_m / 2, self.beam_m / 2
        return np.array([c + hl * fwd + hb * stb, c + hl * fwd - hb * stb, c - hl * fwd - hb * stb, c - hl * fwd + hb * stb])


def sample_dimensions(kind: str, rng: np.random.Generator, hull_class: str | None = None) -> tuple[float, float]:
    """Length overall and beam in metres with real proportions for ``kind`` (and class for tankers)."""
    if kind == "tanker":
        cls = by_name(hull_class or str(rng.choice(["small_coastal", "coastal", "handysize", "handymax", "panamax", "aframax", "suezmax", "vlcc"],
                                                   p=[0.34, 0.14, 0.14, 0.1, 0.08, 0.08, 0.07, 0.05])))
        length = float(rng.uniform(*cls.length_m))
        return length, length / (cls.beam_ratio * float(rng.uniform(0.92, 1.08)))
    lo, hi, ratio = {
        "bulk_carrier": (120.0, 230.0, 6.3),
        "container_ship": (130.0, 300.0, 7.0),
        "tug": (22.0, 38.0, 3.0),
        "small_craft": (9.0, 26.0, 3.4),
    }[kind]
    length = float(rng.uniform(lo, hi))
    return length, length / (ratio * float(rng.uniform(0.9, 1.1)))


def at_berth(berth: Berth, kind: str, length_m: float, beam_m: float, along_m: float, rng, tier: int = 0, **kw) -> Vessel:
    """A hull moored along ``berth``; bow either way along the quay."""
    centre, heading = berth.slot(along_m, length_m, beam_m, tier)
    if rng.random() < 0.5:
        heading = (heading + 180.0) % 360.0
    return Vessel(kind, length_m, beam_m, heading, float(centre[0]), float(centre[1]), "rafted" if tier else "moored", berth.name, **kw)


def berth_kinds(berth: Berth) -> list[str]:
    """Which kinds of hull use a berth."""
    return {"oil": ["tanker"], "crude": ["tanker"], "container": ["container_ship"], "general": ["bulk_carrier", "container_ship"]}[berth.kind]


def fill_berth(berth: Berth, rng: np.random.Generator, occupancy: float = 0.7) -> list[Vessel]:
    """Random hulls along a berth (each slot taken with ``occupancy``), rafted pairs at the oil berth."""
    vessels: list[Vessel] = []
    pos = 4.0
    while pos < berth.quay_length_m - 20.0:
        kind = str(rng.choice(berth_kinds(berth)))
        cls = None
        if berth.kind == "oil":
            cls = "small_coastal" if rng.random() < 0.8 else "small_craft"
            kind = "tanker" if cls != "small_craft" else "tug"
        elif berth.kind == "crude":
            cls = str(rng.choice(["handysize", "panamax", "aframax", "suezmax"]))
        length, beam = sample_dimensions(kind, rng, cls if kind == "tanker" else None)
        length = min(length, berth.max_length_m)
        if pos + length + 2.0 > berth.quay_length_m:
            break  # the quay is full: a shorter hull would break the class proportions
        if rng.random() < occupancy:
            v = at_berth(berth, kind, length, beam, pos + length / 2, rng, style=int(rng.integers(1 << 30)), laden=float(rng.random()))
            vessels.append(v)
            if berth.kind == "oil" and rng.random() < 0.35:
                l2, b2 = sample_dimensions("tanker", rng, "small_coastal")
                l2 = min(l2, length + 10.0)
                vessels.append(at_berth(berth, "tanker", l2, b2, pos + length / 2 + float(rng.uniform(-8, 8)), rng, tier=1,
                                        style=int(rng.integers(1 << 30)), laden=float(rng.random())))
        pos += length + float(rng.uniform(8.0, 40.0))
    return vessels


def in_water(pm: PortMap, vessel: Vessel, margin_m: float = 15.0) -> bool:
    """True when the hull (grown by ``margin_m``) does not touch land."""
    return not shapely.Polygon(vessel.corners()).buffer(margin_m).intersects(pm.land)


def free_vessel(pm: PortMap, rng: np.random.Generator, centre: tuple[float, float], spread_m: float, state: str) -> Vessel | None:
    """A hull at anchor or under way near ``centre``; None when no water spot was found."""
    kind = str(rng.choice(list(KINDS), p=[0.35, 0.2, 0.15, 0.15, 0.15]))
    length, beam = sample_dimensions(kind, rng)
    for _ in range(20):
        e, n = centre[0] + float(rng.normal(0, spread_m)), centre[1] + float(rng.normal(0, spread_m))
        v = Vessel(kind, length, beam, float(rng.uniform(0, 360)), e, n, state, style=int(rng.integers(1 << 30)),
                   laden=float(rng.random()), extra={"speed_kn": float(rng.uniform(4, 14)) if state == "underway" else 0.0})
        if in_water(pm, v, margin_m=30.0 if state == "underway" else 15.0):
            return v
    return None


def overlaps_any(v: Vessel, others: list[Vessel], gap_m: float = 3.0) -> bool:
    """True when ``v`` comes within ``gap_m`` of any of ``others``."""
    p = shapely.Polygon(v.corners()).buffer(gap_m)
    return any(p.intersects(shapely.Polygon(o.corners())) for o in others)
