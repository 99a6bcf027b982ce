"""Visits, load events and the missed-visit correction on hand-made observation sequences."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from detector.events.estimate import EstimateConfig, detection_probability, estimate
from detector.events.tracks import Look, Sighting, load_events, track_visits
from detector.events.volumes import classes_for_range, dwt_for_length, volume

T0 = datetime(2024, 3, 7, 2, 0, tzinfo=timezone.utc)
KINDS = {"oil_berth": "oil", "crude_jetty": "crude"}


def day(k: float) -> datetime:
    return T0 + timedelta(days=k)


def look(k, berth="oil_berth", seen=True):
    return Look(f"s{k}", day(k), berth, seen)


def hull(k, berth="oil_berth", along=60.0, length=80.0, heading=30.0, gsd=3.0):
    return Sighting(f"s{k}", day(k), berth, along, length, heading, gsd)


def test_a_visit_split_by_a_cloudy_day_stays_one_visit():
    visits = track_visits([look(0), look(1, seen=False), look(2)], [hull(0), hull(2, along=63, length=84, heading=212)], KINDS)
    assert len(visits) == 1  # heading flipped by 180 degrees: the bow is uncertain, the axis is not
    assert visits[0].first_seen == day(0) and visits[0].last_seen == day(2) and len(visits[0].sightings) == 2


def test_an_empty_clear_image_splits_two_visits():
    visits = track_visits([look(0), look(1), look(2)], [hull(0), hull(2)], KINDS)
    assert [len(v.sightings) for v in visits] == [1, 1]
    assert [v.visit_id for v in visits] == ["v0001", "v0002"]


def test_a_hull_that_moves_berth_is_two_visits_and_only_the_oil_berth_loads():
    looks = [look(0), look(0, "crude_jetty"), look(1), look(1, "crude_jetty")]
    visits = track_visits(looks, [hull(0), hull(1, berth="crude_jetty")], KINDS)
    assert sorted(v.berth for v in visits) == ["crude_jetty", "oil_berth"]
    assert [v.berth for v in load_events(visits)] == ["oil_berth"]


def test_two_hulls_side_by_side_and_a_long_unseen_gap():
    looks = [look(0), look(1, seen=False), look(9)]
    sightings = [hull(0, along=30), hull(0, along=100, length=95), hull(1, along=31), hull(1, along=101, length=93), hull(9, along=30)]
    visits = track_visits(looks, sightings, KINDS)
    # Two hulls held through day 1 (an unclear look still extends); day 9 is past the 4-day gap: a new visit.
    assert sorted(len(v.sightings) for v in visits) == [1, 2, 2]


def test_lengths_on_a_class_border_carry_both_classes():
    assert classes_for_range(95.0, 105.0) == ("small_coastal", "coastal")
    v = volume(100.0, 10.0)
    assert v.hull_class == "small_coastal|coastal"
    assert v.barrels[0] < v.barrels[1] < v.barrels[2] and v.floor_barrels < v.barrels[0]
    assert abs(dwt_for_length(99.9) - 5807) / 5807 < 0.05  # onekoreanetwork.com: 5,807 dwt = 99.9 m


def test_detection_probability_matches_the_closed_form():
    looks = np.arange(0.0, 300.0, 3.0)  # a clear look every 3 days
    arrivals = np.random.default_rng(0).uniform(30.0, 270.0, 20000)
    p = detection_probability(looks, arrivals, (1.0, 2.0))
    assert abs(p.mean() - 0.5) < 0.01  # P(gap <= stay) = E[stay] / 3 for a uniform gap in [0, 3)
    daily = detection_probability(np.arange(0.0, 300.0, 1.0), arrivals, (1.0, 2.0))
    assert np.all(daily == 1.0)
    half = detection_probability(np.arange(0.0, 300.0, 1.0), arrivals, (1.0, 2.0), recall=0.5)
    assert np.all((half >= 0.5) & (half <= 0.75))  # one or two looks in a 1-2 day stay


def _scenario(cloudy_days: range):
    """30 days, a clear look a day except ``cloudy_days``; a 2-day visit every 5 days, seen when clear."""
    looks, sightings = [], []
    for k in range(30):
        seen = k not in cloudy_days
        looks.append(look(k, seen=seen))
        if seen and k % 5 in (0, 1) and not (10 <= k < 20):
            sightings.append(hull(k, length=80.0 + (k // 5)))
    return looks, sightings


def test_a_berth_never_seen_for_days_gives_no_event_but_a_wider_interval():
    results = {}
    for name, cloudy in (("clear_and_empty", range(0)), ("cloudy", range(10, 20))):
        looks, sightings = _scenario(cloudy)
        events = load_events(track_visits(looks, sightings, KINDS))
        clear = {"oil_berth": [lk.time for lk in looks if lk.seen]}
        total = estimate(events, clear, day(0), day(30), cfg=EstimateConfig(draws=3000, seed=1))[-1]
        results[name] = (len(events), total)
    (n_clear, clear), (n_cloudy, cloudy) = results["clear_and_empty"], results["cloudy"]
    assert n_clear == n_cloudy == 4  # the cloudy days add no event
    assert clear.visits_estimated["high"] - clear.visits_estimated["low"] < cloudy.visits_estimated["high"] - cloudy.visits_estimated["low"]
    width = lambda r: r.barrels_corrected["high"] - r.barrels_corrected["low"]  # noqa: E731
    assert width(cloudy) > width(clear) and cloudy.barrels_corrected["median"] > clear.barrels_corrected["median"]
    assert clear.barrels_observed == cloudy.barrels_observed > 0


def test_with_every_day_seen_the_corrected_total_is_the_observed_one():
    looks, sightings = _scenario(range(0))
    events = load_events(track_visits(looks, sightings, KINDS))
    # Up to day 28 every stay (1-2 days) holds a clear look (the last is on day 29).
    total = estimate(events, {"oil_berth": [lk.time for lk in looks]}, day(0), day(28), cfg=EstimateConfig(draws=2000))[-1]
    assert total.visits_estimated["low"] == total.visits_estimated["high"] == 4
    assert total.barrels_corrected["low"] <= total.barrels_observed <= total.barrels_corrected["high"]


def _berth():
    import shapely

    from detector.io.berths import Berth

    # A berth about 150 m long (east-west) and 40 m wide at Vostochny.
    return Berth("oil_berth", "oil", 130.0, shapely.box(133.0700, 42.7300, 133.0718, 42.73036))


def test_position_along_a_berth_is_in_ground_metres():
    from detector.io.berths import along_m

    b = _berth()
    ends = along_m(b, np.array([133.0700, 133.0718]), np.array([42.73018, 42.73018]))
    assert abs(abs(ends[1] - ends[0]) - 147.2) < 1.0  # 0.0018 deg of longitude at 42.73 N


def test_ais_marks_events_with_no_report_at_the_berth_as_dark(tmp_path):
    from detector.events.loads import AisError, dark_flags, read_ais

    b = _berth()
    visits = track_visits([look(0), look(1), look(5), look(6)], [hull(0), hull(5)], KINDS)
    ais = tmp_path / "ais.csv"
    ais.write_text("mmsi,time,lon,lat\n"
                   f"445000001,{day(0.2).isoformat()},133.0709,42.73018\n"  # at the berth during the first stay
                   f"445000002,{day(5.1).isoformat()},133.2000,42.80000\n")  # far away during the second
    assert dark_flags(visits, {"oil_berth": b}, read_ais(ais)) == [False, True]
    assert dark_flags(visits, {"oil_berth": b}, None) == [None, None]
    (tmp_path / "bad.csv").write_text("mmsi,when,x,y\n1,2,3,4\n")
    with pytest.raises(AisError, match="missing columns"):
        read_ais(tmp_path / "bad.csv")
