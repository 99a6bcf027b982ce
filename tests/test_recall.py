"""The detector's recall in the missed-visit correction: the formula, the Beta posterior, the
counts measured from a run, and their round trip through a checkpoint into ``infer.py``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from detector.events.estimate import EstimateConfig, detection_probability, estimate
from detector.events.recall import DetectorRecall, RecallBand, recall_of
from detector.events.tracks import Sighting, TrackConfig, Visit
from detector.infer.pipeline import InferConfig, loads_config
from detector.model.network import ModelConfig, build, load_model, save_checkpoint
from detector.train.berth_recall import berth_recall, store_recall

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
DAYS = 120


def _visit(day: float, k: int) -> Visit:
    t = T0 + timedelta(days=day)
    return Visit(f"v{k}", "oil_berth", "oil", [Sighting(f"s{k}", t, "oil_berth", 60.0, 85.0, 90.0, 3.0)])


def test_half_the_recall_doubles_the_misses_the_formula_predicts():
    # A clear look every 1.5 days and stays of exactly one day: a perfect detector sees a visit
    # with chance 2/3, so it misses a third; one that finds half the hulls misses two thirds.
    looks = np.arange(0.0, 300.0, 1.5)
    arrivals = np.random.default_rng(0).uniform(10.0, 280.0, 40000)
    miss_perfect = 1 - detection_probability(looks, arrivals, (1.0, 1.0), recall=1.0).mean()
    miss_half = 1 - detection_probability(looks, arrivals, (1.0, 1.0), recall=0.5).mean()
    assert miss_perfect == pytest.approx(1 / 3, abs=0.01)
    assert miss_half == pytest.approx(2 * miss_perfect, abs=0.01)


def test_recall_per_look_multiplies_the_chances_of_missing():
    looks = np.array([1.0, 1.5])  # both inside a 1-2 day stay arriving at day 0.9
    p = detection_probability(looks, np.array([0.9]), (1.0, 2.0), recall=np.array([0.5, 0.8]))
    assert p[0] == pytest.approx(1 - 0.5 * 0.2)


def _season(recall, n_seen=20):
    """``n_seen`` visits seen by daily clear looks over ``DAYS`` days, estimated with ``recall``."""
    events = [_visit(5.0 + 5 * k, k) for k in range(n_seen)]  # each seen by a clear look
    clear = {"oil_berth": [T0 + timedelta(days=d) for d in range(DAYS)]}
    return estimate(events, clear, T0, T0 + timedelta(days=DAYS), TrackConfig(), EstimateConfig(recall=recall, seed=3))[-1]


def test_a_lower_recall_adds_the_visits_it_would_miss():
    # Daily looks and 1-2 day stays: one or two looks a visit. With p the mean chance of seeing
    # a visit, the rate is about (seen + 1/2) / p a season, and the misses that rate times 1 - p.
    for r, p_expected in ((1.0, 1.0), (0.6, 0.6 * 0.5 + (1 - 0.4**2) * 0.5)):  # one look or two, as likely
        total = _season(r)
        p = total.mean_detection_probability
        assert p == pytest.approx(p_expected, abs=0.02)
        assert total.visits_estimated["mean"] == pytest.approx(20 + 20.5 * (1 / p - 1), rel=0.05)
    assert _season(0.6).visits_estimated["mean"] > 1.3 * _season(1.0).visits_estimated["mean"]


def test_a_visit_only_an_unclear_look_saw_is_one_of_the_misses():
    clear_only = _season(0.6)
    events = [_visit(5.0 + 5 * k, k) for k in range(20)] + [_visit(7.3, 99)]  # at 07:12, between clear looks
    clear = {"oil_berth": [T0 + timedelta(days=d) for d in range(DAYS)]}
    with_glimpse = estimate(events, clear, T0, T0 + timedelta(days=DAYS), TrackConfig(), EstimateConfig(recall=0.6, seed=3))[-1]
    assert with_glimpse.visits_observed == 21
    # It is counted, and taken out of the visits the clear looks missed: not one more visit on top.
    assert with_glimpse.visits_estimated["mean"] == pytest.approx(clear_only.visits_estimated["mean"], abs=0.5)


def test_counts_widen_the_interval_a_point_value_would_give():
    exact = _season(0.6).barrels_corrected
    few = _season(DetectorRecall((RecallBand(1.0, 3.05, 6, 10),))).barrels_corrected
    many = _season(DetectorRecall((RecallBand(1.0, 3.05, 600, 1000),))).barrels_corrected
    width = lambda c: c["high"] - c["low"]  # noqa: E731
    assert width(few) > 1.3 * width(exact)  # 6 of 10 says little about the recall
    assert width(many) == pytest.approx(width(exact), rel=0.15)  # 600 of 1000 says it is 0.6
    assert many["median"] == pytest.approx(exact["median"], rel=0.05)


def test_each_look_uses_the_recall_of_its_gsd():
    r = DetectorRecall((RecallBand(0.0, 1.0, 99, 100), RecallBand(1.0, 3.05, 30, 100)))
    assert r.mean(0.5) == pytest.approx(99.5 / 101) and r.mean(3.0) == pytest.approx(30.5 / 101)
    assert r.mean(10.0) == r.mean(3.0)  # an unmeasured GSD takes the nearest measured band
    levels = r.levels(np.array([0.5, 3.0]), 8)
    assert levels.shape == (8, 2) and np.all(np.diff(levels, axis=0) > 0)  # quantiles, rising
    assert np.all(levels[:, 0] > levels[:, 1])
    assert DetectorRecall().mean(3.0) == 1.0  # nothing measured: nothing assumed missed


def test_recall_is_counted_from_a_run_against_truth():
    truth = [
        {"scene": "a", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.0", "lat": "42.7", "gsd_m": "3.0", "length_m": "85.0"},
        {"scene": "b", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.0", "lat": "42.7", "gsd_m": "3.0", "length_m": "85.0"},
        {"scene": "c", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.0", "lat": "42.7", "gsd_m": "3.0", "length_m": "85.0"},
        {"scene": "d", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.0", "lat": "42.7", "gsd_m": "0.5", "length_m": "85.0"},
        {"scene": "a", "berth": "crude_jetty", "vessel_type": "tanker", "lon": "133.1", "lat": "42.7", "gsd_m": "3.0", "length_m": "85.0"},
    ]
    dets = [
        {"scene": "a", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.0002", "lat": "42.7", "length_m": "91.0"},  # ~16 m off: found
        {"scene": "b", "berth": "oil_berth", "vessel_type": "other", "lon": "133.0", "lat": "42.7", "length_m": "85.0"},  # not typed tanker
        {"scene": "c", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.002", "lat": "42.7", "length_m": "85.0"},  # ~160 m off
        {"scene": "d", "berth": "oil_berth", "vessel_type": "tanker", "lon": "133.0", "lat": "42.7", "length_m": "85.0"},
    ]
    looks = [{"scene": s, "berth": "oil_berth", "clear_share": "1.0"} for s in "abc"] + [
        {"scene": "d", "berth": "oil_berth", "clear_share": "0.2"}]  # under cloud: not counted
    got = berth_recall(truth, dets, looks, {"oil_berth"}, 0.7)
    assert [(b.gsd_lo_m, b.found, b.hulls) for b in got.bands] == [(1.0, 1, 3)]
    assert got.length_bias_m(3.0) == pytest.approx(6.0)  # the found hull was measured 6 m long


def test_the_recall_travels_in_the_checkpoint_and_infer_uses_it(tmp_path):
    cfg = ModelConfig(backbone="resnet18", fpn_channels=32)
    path = tmp_path / "model.pt"
    save_checkpoint(path, build(cfg), cfg, {"note": "tiny"})
    measured = DetectorRecall((RecallBand(1.0, 3.05, 67, 100, 4.5, 6.0), RecallBand(6.0, 100.0, 7, 20, 30.0, 12.0)), None, "test")
    with pytest.raises(ValueError):
        store_recall(path, path, measured)  # never over the source
    store_recall(path, tmp_path / "with_recall.pt", measured, score_threshold=0.3)
    _, _, meta = load_model(tmp_path / "with_recall.pt")
    assert recall_of(meta) == measured and meta["note"] == "tiny" and meta["loading_recall"]["score_threshold"] == 0.3
    assert recall_of(load_model(path)[2]) is None
    by_default = loads_config(InferConfig(), meta)
    assert by_default.estimate.recall == measured
    overridden = loads_config(InferConfig(detector_recall=0.9), meta)
    assert overridden.estimate.recall.fixed == 0.9 and overridden.track.detector_recall == 0.9
    assert overridden.estimate.recall.length_bias_m(3.0) == measured.length_bias_m(3.0)  # still measured


def test_a_visit_takes_its_length_from_its_sharpest_looks():
    t = T0
    v = Visit("v1", "oil_berth", "oil", [Sighting("a", t, "oil_berth", 60.0, 121.0, 90.0, 10.0),
                                         Sighting("b", t + timedelta(hours=5), "oil_berth", 60.0, 86.0, 90.0, 3.0),
                                         Sighting("c", t + timedelta(hours=9), "oil_berth", 60.0, 133.0, 90.0, 10.0)])
    assert v.length_m == 86.0 and v.gsd_m == 3.0  # the two blurred 10 m lengths do not outvote it


def test_a_hull_seen_only_at_10_m_loads_like_those_seen_sharper():
    sharp = [_visit(5.0 + 5 * k, k) for k in range(10)]  # 85 m hulls at 3 m

    def with_last(gsd_m):
        t = T0 + timedelta(days=70)
        last = Visit("v99", "oil_berth", "oil", [Sighting("z", t, "oil_berth", 60.0, 125.0, 90.0, gsd_m)])
        clear = {"oil_berth": [T0 + timedelta(days=d) for d in range(DAYS)]}
        return estimate(sharp + [last], clear, T0, T0 + timedelta(days=DAYS), TrackConfig(), EstimateConfig(seed=3))[-1]

    alone = estimate(sharp, {"oil_berth": [T0 + timedelta(days=d) for d in range(DAYS)]}, T0, T0 + timedelta(days=DAYS),
                     TrackConfig(), EstimateConfig(seed=3))[-1].barrels_corrected["median"]
    coarse, fine = with_last(10.0).barrels_corrected["median"], with_last(3.0).barrels_corrected["median"]
    assert coarse == pytest.approx(alone * 11 / 10, rel=0.03)  # one more hull like the others
    assert fine > coarse + 20_000  # sized at 3 m, a 125 m hull is a much bigger load


def test_true_lengths_undo_what_noise_does_to_barrels_through_the_fourth_power():
    from detector.events.estimate import true_lengths
    from detector.events.volumes import dwt_for_length

    rng = np.random.default_rng(5)
    raw_err, shrunk_err = [], []
    for _ in range(200):  # seasons of 30 hulls from one fleet, measured with a 12 m error
        true = rng.normal(85.0, 8.0, 30)
        measured = true + rng.normal(0.0, 12.0, 30)
        mean, sd = true_lengths(measured, np.full(30, 12.0))
        assert np.all(sd < 12.0)
        truth = dwt_for_length(true).sum()
        raw_err.append(dwt_for_length(measured).sum() / truth - 1)
        shrunk_err.append(dwt_for_length(mean).sum() / truth - 1)
    assert np.mean(raw_err) > 0.08  # noise alone inflates the deadweight of a season
    assert abs(np.mean(shrunk_err)) < 0.5 * np.mean(raw_err)
    exact, _ = true_lengths(np.array([70.0, 85.0, 99.0]), np.zeros(3))
    assert np.allclose(exact, [70.0, 85.0, 99.0])  # no noise: lengths stand
    assert np.allclose(true_lengths(np.array([70.0, 99.0]), np.full(2, 12.0))[0], [70.0, 99.0])  # too few to pool


def test_a_noisy_detector_s_lengths_of_one_hull_stay_one_visit():
    from detector.events.tracks import Look, track_visits

    t = T0
    looks = [Look("a", t, "oil_berth", True, 3.0), Look("b", t + timedelta(days=1), "oil_berth", True, 3.0)]
    sightings = [Sighting("a", t, "oil_berth", 60.0, 80.0, 90.0, 3.0),
                 Sighting("b", t + timedelta(days=1), "oil_berth", 62.0, 99.0, 90.0, 3.0)]
    strict = track_visits(looks, sightings, {"oil_berth": "oil"}, TrackConfig())
    tolerant = track_visits(looks, sightings, {"oil_berth": "oil"}, TrackConfig(length_noise_m=8.0))
    assert len(strict) == 2 and len(tolerant) == 1  # 19 m apart: two hulls to a 3 m ruler, one to an 8 m-noisy one
