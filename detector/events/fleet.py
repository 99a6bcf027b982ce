"""A user's fleet list held against the hulls a run found: which listed vessels each hull is
consistent with, and how likely each is, never a certain identity.

The list is the user's own CSV (``--fleet``): ``name,imo,length_m,beam_m,dwt,source``; a
registry's length overall and beam are taken as known to ``LISTED_SD_M`` (lengths overall and
beams differ between registries and from what a satellite sees by about that). For one hull,
with its length and beam known to their sd from its sightings, each listed vessel's likelihood
is Normal in the difference; beside the listed vessels stands "none of the list", a vessel
drawn from the fleet's spread (``unlisted_share`` of visitors, a prior the user may change).
The candidates are the posterior shares; a candidate is *consistent with* the hull when its
length and beam lie within ``consistent_z`` sd of the hull's. A hull consistent with no listed
vessel says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.records import user_csv

FLEET_COLUMNS = ("name", "imo", "length_m", "beam_m", "dwt", "source")
LISTED_SD_M = {"length_m": 1.0, "beam_m": 0.5}


class FleetError(ValueError):
    """A fleet file that cannot be read; the message names the file, line and problem."""


@dataclass(frozen=True)
class ListedVessel:
    """One vessel of the user's fleet list."""

    name: str
    imo: str
    length_m: float
    beam_m: float | None
    dwt: float | None
    source: str


@dataclass(frozen=True)
class FleetConfig:
    """How a hull is held against the list."""

    unlisted_share: float = 0.2  # prior share of visitors not on the list
    consistent_z: float = 2.0  # within this many sd in length and beam: consistent with
    report_share: float = 0.05  # candidates below this posterior share are not listed


def _number(text: str, path, line: int, column: str, required: bool) -> float | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise FleetError(f"{path}, line {line}: {column} is empty (every vessel needs a length overall in metres)")
        return None
    try:
        value = float(text)
    except ValueError:
        raise FleetError(f"{path}, line {line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise FleetError(f"{path}, line {line}: {column} {text!r} must be a positive number")
    return value


def read_fleet(path: str | Path) -> tuple[ListedVessel, ...]:
    """The vessels of a UTF-8 fleet CSV (``FLEET_COLUMNS``; imo, beam_m, dwt and source may be
    empty). Raises FleetError naming the line of anything that cannot be a vessel."""
    out = []
    with user_csv(path, FleetError, "fleet") as reader:
        missing = {"name", "length_m"} - set(reader.fieldnames or [])
        if missing:
            raise FleetError(f"{path}: missing columns {', '.join(sorted(missing))} "
                             f"(need {','.join(FLEET_COLUMNS)}; imo, beam_m, dwt and source may be empty)")
        for line, row in enumerate(reader, start=2):
            name = (row.get("name") or "").strip()
            if not name:
                raise FleetError(f"{path}, line {line}: the vessel has no name")
            length = _number(row.get("length_m", ""), path, line, "length_m", True)
            beam = _number(row.get("beam_m", ""), path, line, "beam_m", False)
            dwt = _number(row.get("dwt", ""), path, line, "dwt", False)
            out.append(ListedVessel(name, (row.get("imo") or "").strip(), length, beam, dwt, (row.get("source") or "").strip()))
    if not out:
        raise FleetError(f"{path}: no vessels listed")
    names = [v.name for v in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise FleetError(f"{path}: listed more than once: {', '.join(dup)}")
    return tuple(out)


@dataclass(frozen=True)
class Candidate:
    """A listed vessel (or "none of the list", ``name`` empty) and its posterior share for one hull."""

    name: str
    imo: str
    share: float
    z_length: float | None  # the listed length's distance from the hull's, in sd
    z_beam: float | None
    consistent: bool


def match_hull(hull: dict[str, tuple[float, float]], fleet: tuple[ListedVessel, ...], fleet_prior: dict[str, tuple[float, float]],
               cfg: FleetConfig = FleetConfig()) -> list[Candidate]:
    """Candidates for one hull, best first: ``hull`` maps length_m and beam_m to the (mean,
    variance) of its true value; ``fleet_prior`` the run's fleet mean and variance per feature
    (for "none of the list")."""
    logs, zs = [], []
    for v in fleet:
        ll, z = 0.0, {}
        for f, listed in (("length_m", v.length_m), ("beam_m", v.beam_m)):
            if listed is None or f not in hull:
                continue
            mean, var = hull[f]
            var = var + LISTED_SD_M[f] ** 2
            z[f] = (listed - mean) / math.sqrt(var)
            ll += -0.5 * (math.log(2 * math.pi * var) + z[f] ** 2)
        logs.append(ll + math.log((1 - cfg.unlisted_share) / len(fleet)))
        zs.append(z)
    ll = 0.0
    for f in ("length_m", "beam_m"):
        if f in hull and f in fleet_prior:
            mean, var = hull[f]
            m0, v0 = fleet_prior[f]
            ll += -0.5 * (math.log(2 * math.pi * (var + v0)) + (mean - m0) ** 2 / (var + v0))
    logs.append(ll + math.log(cfg.unlisted_share))
    logs = np.array(logs)
    share = np.exp(logs - logs.max())
    share /= share.sum()
    out = [Candidate(v.name, v.imo, float(share[k]), zs[k].get("length_m"), zs[k].get("beam_m"),
                     all(abs(x) <= cfg.consistent_z for x in zs[k].values()) and bool(zs[k]))
           for k, v in enumerate(fleet)]
    out.append(Candidate("", "", float(share[-1]), None, None, False))
    return sorted(out, key=lambda c: -c.share)


def describe(candidates: list[Candidate], cfg: FleetConfig = FleetConfig()) -> str:
    """The hull's line for hulls.csv: "consistent with A (41 %), B (22 %); not on the list 9 %",
    or that no listed vessel fits."""
    listed = [c for c in candidates if c.name and c.consistent and c.share >= cfg.report_share]
    unlisted = next(c.share for c in candidates if not c.name)
    if not listed:
        return f"consistent with no listed vessel (not on the list {unlisted:.0%})"
    names = ", ".join(f"{c.name} ({c.share:.0%})" for c in listed)
    return f"consistent with {names}; not on the list {unlisted:.0%}"
