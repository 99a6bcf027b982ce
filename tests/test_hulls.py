"""Distinct hulls: visits clustered by their signature, held against a fleet list, and a generator
whose named hulls keep their look."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from detector.events.fleet import FleetError, ListedVessel, describe, match_hull, read_fleet
from detector.events.reid import ReidConfig, cluster_visits, distinct_hulls
from detector.events.tracks import Sighting, Visit
from detector.infer.signature import measure
from detector.io.records import POLYGON_COLUMNS
from detector.synth.compose import render
from detector.synth.paint import hull_look, style_for_name
from detector.synth.series import berth_centre_m, series_specs, simulate_visits

T0 = datetime(2024, 3, 7, 2, 0, tzinfo=timezone.utc)
FAST = ReidConfig(sweeps=150, burn_in=50)


def visit(k: int, start_day: float, lengths_m: list[float], gsd_m: float = 3.0, beam_m: float = 13.0) -> Visit:
    """A stay of one hull seen once a day from ``start_day``, one sighting per measured length."""
    sightings = [Sighting(f"s{k}-{j}", T0 + timedelta(days=start_day + j), "oil_berth", 60.0, x, 30.0, gsd_m, beam_m=beam_m)
                 for j, x in enumerate(lengths_m)]
    return Visit(f"v{k:04d}", "oil_berth", "oil", sightings)


def two_hulls(gsd_m: float, seed: int = 0) -> tuple[list[Visit], list[int]]:
    """Hulls of 80 and 90 m, taking turns at the berth for 12 visits of 3 looks at ``gsd_m``,
    each length off by two ground pixels (1 sd), the error of a box at that GSD."""
    rng = np.random.default_rng(seed)
    visits, truth = [], []
    for k in range(12):
        h = k % 2
        visits.append(visit(k, 5.0 * k, list(80.0 + 10.0 * h + rng.normal(0, 2 * gsd_m, 3)), gsd_m=gsd_m))
        truth.append(h)
    return visits, truth


def test_two_hulls_ten_metres_apart_separate_at_half_a_metre():
    visits, truth = two_hulls(0.5)
    clusters = cluster_visits(visits, FAST)
    assert clusters.labels.max() + 1 == 2
    assert all((clusters.labels[i] == clusters.labels[j]) == (truth[i] == truth[j]) for i in range(12) for j in range(12))
    counts = distinct_hulls(clusters, None, len(visits), FAST)
    assert counts["among_seen_visits"]["low"] <= 2 <= counts["among_seen_visits"]["high"]
    # the measured error is the spread within a visit, not the 10 m between the hulls
    assert clusters.noise[("length_m", 0)] < 2.0


def test_the_same_two_hulls_are_not_told_apart_at_ten_metres():
    visits, truth = two_hulls(10.0)
    clusters = cluster_visits(visits, FAST)
    cross = [clusters.co_clustering[i, j] for i in range(12) for j in range(12) if truth[i] != truth[j]]
    same = [clusters.co_clustering[i, j] for i in range(12) for j in range(12) if truth[i] == truth[j] and i != j]
    # visits of different hulls are put together as often as visits of one hull: identity is lost
    assert abs(np.mean(same) - np.mean(cross)) < 0.1
    fine, _ = two_hulls(0.5)
    sharp = cluster_visits(fine, FAST).co_clustering
    sharp_same = np.mean([sharp[i, j] for i in range(12) for j in range(12) if truth[i] == truth[j] and i != j])
    sharp_cross = np.mean([sharp[i, j] for i in range(12) for j in range(12) if truth[i] != truth[j]])
    assert sharp_same - sharp_cross > 0.5


FLEET = (ListedVessel("Short One", "1", 70.0, 11.0, 1300.0, "test"), ListedVessel("Middle One", "2", 85.0, 13.5, 3200.0, "test"),
         ListedVessel("Long One", "3", 98.0, 16.0, 5800.0, "test"))
PRIOR = {"length_m": (84.0, 120.0), "beam_m": (13.5, 5.0)}


def test_a_well_measured_hull_is_consistent_with_the_listed_vessel_of_its_size():
    cands = match_hull({"length_m": (85.5, 1.0), "beam_m": (13.4, 0.25)}, FLEET, PRIOR)
    assert cands[0].name == "Middle One" and cands[0].share > 0.8 and cands[0].consistent
    assert describe(cands).startswith("consistent with Middle One")


def test_a_hull_between_two_listed_sizes_names_both_and_one_far_from_all_fits_none():
    between = {c.name: c.share for c in match_hull({"length_m": (77.5, 16.0)}, FLEET, PRIOR)}
    assert abs(between["Short One"] - between["Middle One"]) < 0.1 and between["Long One"] < 0.1 * between["Short One"]
    far = match_hull({"length_m": (140.0, 1.0), "beam_m": (22.0, 0.5)}, FLEET, PRIOR)
    assert far[0].name == "" and not any(c.consistent for c in far)
    assert describe(far).startswith("consistent with no listed vessel")


@pytest.mark.parametrize("text, message", [
    ("name,imo,beam_m\nA,1,12\n", "missing columns length_m"),
    ("name,imo,length_m,beam_m,dwt,source\nA,1,eighty,12,,x\n", "line 2"),
    ("name,imo,length_m,beam_m,dwt,source\nA,1,80,12,,x\nA,2,81,12,,x\n", "listed more than once: A"),
    ("name,imo,length_m,beam_m,dwt,source\n", "no vessels listed"),
])
def test_a_bad_fleet_file_says_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "fleet.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FleetError, match=message):
        read_fleet(path)


def test_a_fleet_file_reads_with_optional_columns_empty(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text("name,imo,length_m,beam_m,dwt,source\nKum Un San 3,8700000,76.7,,2070,UN panel\n", encoding="utf-8")
    (v,) = read_fleet(path)
    assert v.name == "Kum Un San 3" and v.length_m == 76.7 and v.beam_m is None and v.dwt == 2070.0


def test_a_named_hull_keeps_its_look_on_every_visit_and_in_its_pixels():
    start, end = datetime(2024, 3, 7, tzinfo=timezone.utc), datetime(2024, 6, 7, tzinfo=timezone.utc)
    nk = [v for v in simulate_visits(start, end, seed=11) if v.loading]
    by_name = {}
    for v in nk:
        by_name.setdefault(v.hull, []).append(v)
    name, stays = max(by_name.items(), key=lambda kv: len(kv[1]))
    assert len(stays) >= 2 and len({v.style for v in stays}) == 1 and stays[0].style == style_for_name(name)
    assert len({hull_look(style_for_name(n), 80.0) for n in by_name}) == len(by_name)  # each name its own look
    # Rendered at 1 m on two dates (other sun, other haze): the same deck colour and block place.
    specs = [s for s in series_specs(start, end, "planetscope", 11, nk, size_px=320, gsd_m=1.0, centre_m=berth_centre_m("oil_berth"))
             if any(v.name == name and v.berth == "oil_berth" for v in s.vessels)]
    picked = sorted(specs, key=lambda sp: sp.weather.cloud)[:2]  # the two clearest passes that show it
    assert picked[0].when.date() != picked[1].when.date()
    sigs = []
    for spec in picked:
        scene = render(spec)
        label = next(lb for lb in scene.labels if lb.get("name") == name)
        corners = np.array([float(label[c]) for c in POLYGON_COLUMNS]).reshape(4, 2)
        sigs.append(measure(scene.data.astype(np.float64), scene.data[0] > 0, (0, 0), corners))
    assert all(s is not None for s in sigs)
    # within the spread of one hull's deck colour between dates that bench/hulls_e2e.py measures
    # (0.09 red, 0.05 green); decks of other colours lie 0.1-0.4 away
    assert abs(sigs[0]["chroma_r"] - sigs[1]["chroma_r"]) < 0.1 and abs(sigs[0]["chroma_g"] - sigs[1]["chroma_g"]) < 0.06
    assert abs(sigs[0]["super_pos"] - sigs[1]["super_pos"]) < 0.06
