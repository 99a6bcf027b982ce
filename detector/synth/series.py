"""A dated time series at Vostochny: named hulls arriving, dwelling and leaving; satellites passing.

Defaults follow DESIGN.md section 5: about 43 North Korean tanker trips in 243 days
(7 Mar - 5 Nov 2024), a dwell of about 1-2 days at the berth, one hull back about every
20 days, loads of diesel at about 90 % of deadweight (7.46 barrels a tonne, BP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from ..io.sun import sun_position
from .compose import SceneSpec, random_weather
from .ground import Grid, Sun
from .layout import REF_LAT, REF_LON, PortMap, berth, port_map
from .paint import style_for_name
from .sensor import SENSORS
from .vessels import Vessel, free_vessel, overlaps_any, sample_dimensions

BARRELS_PER_TONNE_DIESEL = 7.46  # BP statistical review (DESIGN.md section 5)
NK_TRIPS_PER_DAY = 43 / 243  # Open Source Centre / BBC, 7 Mar - 5 Nov 2024
# Known hulls with their deadweight (DESIGN.md s5); the rest of the fleet is simulated.
NK_FLEET = [("Rye Song Gang 1", 3003.0), ("Kum Un San 3", 2070.0), ("Sam Ma 2", 1800.0)] + [
    (f"Simulated hull {k:02d}", dwt) for k, dwt in enumerate([1200.0, 1500.0, 2400.0, 2600.0, 3300.0, 3800.0, 4500.0, 5200.0, 5800.0], start=4)
]


def length_for_dwt(dwt_t: float) -> float:
    """Length overall (m) of a small tanker from its deadweight, fitted to 2,070 t ~ 77 m and 5,807 t = 99.9 m."""
    return 12.0 * dwt_t**0.243


@dataclass(frozen=True)
class Visit:
    """One stay of one hull at one berth, with the barrels it loaded (0 when not loading)."""

    visit_id: str
    hull: str
    kind: str
    length_m: float
    beam_m: float
    dwt_t: float
    berth: str
    along_m: float
    tier: int
    bow_flip: bool
    arrival: datetime
    departure: datetime
    barrels: float
    loading: bool
    style: int

    def vessel(self, at: datetime) -> Vessel:
        """The hull as it lies at time ``at`` (laden grows through the stay when loading)."""
        b = berth(self.berth)
        centre, heading = b.slot(self.along_m, self.length_m, self.beam_m, self.tier)
        if self.bow_flip:
            heading = (heading + 180.0) % 360.0
        frac = (at - self.arrival) / (self.departure - self.arrival)
        laden = min(1.0, max(0.0, frac)) if self.loading else 0.6
        return Vessel(self.kind, self.length_m, self.beam_m, heading, float(centre[0]), float(centre[1]),
                      "rafted" if self.tier else "moored", self.berth, self.hull, self.style, laden)


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400.0


def simulate_visits(start: datetime, end: datetime, seed: int, nk_visits: int | None = None,
                    nk_rate_per_day: float = NK_TRIPS_PER_DAY) -> list[Visit]:
    """Every visit between ``start`` and ``end``: North Korean tankers at the oil berth plus other traffic.

    ``nk_visits`` fixes the number of tanker trips (else Poisson at ``nk_rate_per_day``). Every
    visit arrives and leaves inside the range; a hull waits at least 12 days between trips.
    """
    rng = np.random.default_rng([seed, 2])
    days = _days(start, end)
    visits: list[Visit] = []
    n = int(nk_visits) if nk_visits is not None else int(rng.poisson(nk_rate_per_day * days))
    arrivals = np.sort(rng.uniform(0.0, max(days - 2.2, 0.1), n))
    last_departure = {name: start - timedelta(days=30) for name, _ in NK_FLEET}
    tiers_free_at = [start, start]  # quay-side and rafted slots at the oil berth
    for k, a in enumerate(arrivals):
        arrival = start + timedelta(days=float(a))
        ready = [name for name, _ in NK_FLEET if last_departure[name] + timedelta(days=12) <= arrival]
        name = str(rng.choice(ready or [min(last_departure, key=last_departure.get)]))
        dwt = dict(NK_FLEET)[name]
        tier = 0 if tiers_free_at[0] <= arrival else (1 if tiers_free_at[1] <= arrival else 0)
        arrival = max(arrival, tiers_free_at[tier])
        dwell = timedelta(days=float(rng.uniform(1.0, 2.0)))
        departure = arrival + dwell
        if departure > end:
            departure = end
            arrival = min(arrival, end - timedelta(days=1))
        tiers_free_at[tier] = departure + timedelta(hours=2)
        last_departure[name] = departure
        length = length_for_dwt(dwt)
        visits.append(Visit(f"nk{k + 1:03d}", name, "tanker", length, length / 6.2, dwt, "oil_berth", 66.0, tier,
                            bool(rng.random() < 0.5), _s(arrival), _s(departure),
                            round(dwt * BARRELS_PER_TONNE_DIESEL * float(rng.uniform(0.85, 0.95))), True, _named_style(rng, name)))
    # Other traffic: renewal processes per quay slot.
    slots = [("container_quay", 170.0, "container_ship"), ("container_quay", 500.0, "container_ship"),
             ("container_quay", 830.0, "container_ship"), ("general_quay", 180.0, "bulk_carrier"),
             ("general_quay", 560.0, "bulk_carrier"), ("crude_jetty", 185.0, "tanker")]
    for s_idx, (bname, along, kind) in enumerate(slots):
        t = float(rng.exponential(1.0))
        while True:
            dwell = float(rng.uniform(1.0, 2.0) if kind == "tanker" else rng.uniform(0.5, 2.5))
            if t + dwell > days:
                break
            cls = str(rng.choice(["handysize", "panamax", "aframax", "suezmax"])) if kind == "tanker" else None
            length, beam = sample_dimensions(kind, rng, cls)
            length = min(length, berth(bname).max_length_m, 2 * min(along, berth(bname).quay_length_m - along) - 10)
            arr = start + timedelta(days=t)
            visits.append(Visit(f"o{s_idx}{len(visits):04d}", "", kind, length, beam, 0.0, bname, along, 0,
                                bool(rng.random() < 0.5), _s(arr), _s(arr + timedelta(days=dwell)), 0.0, False,
                                int(rng.integers(1 << 30))))
            t += dwell + float(rng.exponential(1.5 if kind != "tanker" else 2.5))
    return visits


def _named_style(rng: np.random.Generator, name: str) -> int:
    """A named hull's paint style, fixed by its name as a real ship's paint is; the draw that
    once chose a style per visit is still taken, so a seed's other traffic stays as it was."""
    rng.integers(1 << 30)
    return style_for_name(name)


def _s(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def acquisition_times(start: datetime, end: datetime, sensor: str, seed: int) -> list[datetime]:
    """When ``sensor`` images the port between ``start`` and ``end`` (UTC)."""
    sens = SENSORS[sensor]
    rng = np.random.default_rng([seed, 3, list(SENSORS).index(sensor)])
    kind, value = sens.revisit.split(":")
    times = []
    day0 = start.replace(hour=0, minute=0, second=0)
    for d in range(int(math.ceil(_days(day0, end))) + 1):
        if kind == "every":
            take = d % int(value) == 0
        else:
            take = rng.random() < float(value)
        t = day0 + timedelta(days=d, hours=sens.hour_utc + float(rng.normal(0, 0.2)))
        if take and start <= t <= end:
            times.append(_s(t))
    return times


def sun_at(t: datetime) -> Sun:
    """The sun over the port at time ``t``, where it really stands (``detector.io.sun``), so that
    shadows fall where the inference side's cloud-shadow test looks for them. Kept at least 15
    degrees up: a satellite pass at a lower sun is not simulated."""
    elevation, azimuth = sun_position(t, REF_LON, REF_LAT)
    return Sun(max(15.0, elevation), azimuth)


def berth_centre_m(name: str) -> tuple[float, float]:
    """The middle of a berth's quay line in local metres (east, north)."""
    b = berth(name)
    return (b.start[0] + b.end[0]) / 2.0, (b.start[1] + b.end[1]) / 2.0


def series_specs(start: datetime, end: datetime, sensor: str, seed: int, visits: list[Visit], *,
                 size_px: int | None = None, gsd_m: float | None = None, pm: PortMap | None = None,
                 centre_m: tuple[float, float] | None = None) -> list[SceneSpec]:
    """One scene spec per acquisition of ``sensor``, with the visits present at that moment;
    ``centre_m`` (local metres) centres every scene there (a clip ordered around a berth)."""
    pm = pm or port_map()
    sens = SENSORS[sensor]
    gsd = gsd_m or sens.gsd_m
    size = size_px or sens.default_size_px
    centre = centre_m or ((300.0, -700.0) if gsd < 1.5 else (-650.0, -200.0))
    half = size * gsd / 2
    grid = Grid(centre[0] - half, centre[1] + half, gsd, size, size)
    specs = []
    for i, t in enumerate(acquisition_times(start, end, sensor, seed)):
        rng = np.random.default_rng([seed, 4, list(SENSORS).index(sensor), i])
        vessels = [v.vessel(t) for v in visits if v.arrival <= t < v.departure]
        for _ in range(int(rng.poisson(4))):
            v = free_vessel(pm, rng, (-1500.0, -1500.0), 900.0, "underway" if rng.random() < 0.3 else "anchored")
            if v is not None and not overlaps_any(v, vessels, 20.0):
                vessels.append(v)
        specs.append(SceneSpec(f"vostochny_{t:%Y%m%dT%H%M%S}_{sensor}", grid, sens, sens.layout, sun_at(t),
                               random_weather(rng), t, vessels, seed=int(rng.integers(1 << 30)), nodata_chance=0.1))
    return specs


VISIT_COLUMNS = ["visit_id", "hull", "kind", "hull_class", "length_m", "beam_m", "dwt_t", "berth", "tier",
                 "arrival", "departure", "barrels", "loading"]


def visit_rows(visits: list[Visit]) -> list[dict]:
    """visits.csv rows, sorted by arrival."""
    from ..events.hulls import class_for_length

    return [
        {"visit_id": v.visit_id, "hull": v.hull, "kind": v.kind, "hull_class": class_for_length(v.length_m).name,
         "length_m": round(v.length_m, 2), "beam_m": round(v.beam_m, 2), "dwt_t": v.dwt_t, "berth": v.berth, "tier": v.tier,
         "arrival": v.arrival.isoformat(), "departure": v.departure.isoformat(), "barrels": v.barrels, "loading": v.loading}
        for v in sorted(visits, key=lambda v: (v.arrival, v.visit_id))
    ]


def parse_date(text: str) -> datetime:
    """An ISO date or date-time as UTC."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
