"""Which visits were the same hull: the run's load events clustered into distinct hulls.

Trackers for video (ByteTrack, BoT-SORT) join boxes seconds apart by where they are; looks days
apart can only be joined by what a hull *is*. Each visit carries a signature: its length (from
the hull's own pixels where they show its ends, else the detector's box), its beam, the colour
of its deck and where its accommodation block stands (``infer/signature.py``), each with the
error it is known to within. The visits are clustered by a Dirichlet-process mixture (a Chinese
restaurant process over hulls, each hull's true signature drawn from the fleet's spread),
sampled by collapsed Gibbs sampling (Neal 2000, algorithm 3) with the concentration sampled as
Escobar and West (1995) do:

* each feature of a visit is Normal around its hull's true value with the visit's own error;
  a share ``outlier_share`` of measurements is allowed to be wild (a split box, a glint), so
  one bad look does not make a new hull;
* the errors are measured on the run itself: sightings in one visit are one hull, so their
  spread per GSD band is the measurement error there (``feature_noise``); the fleet's spread
  is the visits' spread less that error;
* two visits that overlap in time are never one hull (one hull cannot lie at two berths);
* the number of distinct hulls is read from the samples, plus the hulls of visits no image
  caught (the missed-visit correction's draws, each a new hull with the process's chance);
  the partition reported is the sample nearest the samples' co-clustering (Dahl 2006).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .tracks import Sighting, Visit

FEATURES = ("length_m", "beam_m", "chroma_r", "chroma_g", "super_pos")
GSD_BANDS_M = (1.0, 4.0, 8.0)  # sightings are told apart by band: error grows with the GSD
# Errors (1 sd) used where the run holds too few repeated sightings to measure them: the spread
# of one hull's sightings at 3 m in the hulls bench (bench/hulls_e2e.py), scaled with the GSD.
DEFAULT_NOISE_AT_3M = {"length_m": 6.0, "beam_m": 2.5, "chroma_r": 0.06, "chroma_g": 0.03, "super_pos": 0.04}


@dataclass(frozen=True)
class ReidConfig:
    """How visits are clustered into hulls."""

    sweeps: int = 400
    burn_in: int = 100
    seed: int = 0
    interval: float = 0.9
    alpha_prior: tuple[float, float] = (1.0, 0.1)  # Gamma(shape, rate) of the concentration: vague
    outlier_share: float = 0.05  # chance one measurement is wild
    max_appearance_gsd_m: float = 4.0  # coarser looks give no colour or block position
    max_sizing_gsd_m: float = 6.0  # coarser looks do not size a hull
    min_noise_pairs: int = 4  # repeated sightings needed to measure a feature's error in a band


def _band(gsd_m: float) -> int:
    return int(np.searchsorted(GSD_BANDS_M, gsd_m, side="right"))


def sighting_features(s: Sighting, cfg: ReidConfig) -> dict[str, float]:
    """The features one sighting measures (a coarse look measures fewer)."""
    out = {}
    if s.gsd_m <= cfg.max_sizing_gsd_m:
        out["length_m"] = s.pixel_length_m if s.pixel_length_m is not None else s.length_m
        if s.beam_m > 0:
            out["beam_m"] = s.beam_m
    if s.gsd_m <= cfg.max_appearance_gsd_m and s.chroma is not None:
        out["chroma_r"], out["chroma_g"] = s.chroma
        if s.super_pos is not None:
            out["super_pos"] = s.super_pos
    return out


def feature_noise(visits: list[Visit], cfg: ReidConfig = ReidConfig()) -> dict[tuple[str, int], float]:
    """Measurement error (1 sd) of each feature in each GSD band: the robust spread of the
    sightings of one visit around their median, pooled over visits (a default scaled with the
    GSD where fewer than ``min_noise_pairs`` repeats were seen)."""
    devs: dict[tuple[str, int], list[float]] = {}
    for v in visits:
        groups: dict[tuple[str, int], list[float]] = {}
        for s in v.sightings:
            for f, x in sighting_features(s, cfg).items():
                groups.setdefault((f, _band(s.gsd_m)), []).append(x)
        for key, xs in groups.items():
            if len(xs) >= 2:
                xs = np.asarray(xs)
                # deviations from the others' median, corrected for the group's size
                devs.setdefault(key, []).extend((np.abs(xs - np.median(xs)) * math.sqrt(len(xs) / (len(xs) - 1))).tolist())
    out = {}
    mid_gsd = {0: 0.5, 1: 3.0, 2: 6.0, 3: 10.0}
    for f in FEATURES:
        for b in range(len(GSD_BANDS_M) + 1):
            scale = max(mid_gsd[b] / 3.0, 1.0 / 3.0) if f in ("length_m", "beam_m") else 1.0
            default = DEFAULT_NOISE_AT_3M[f] * scale
            d = devs.get((f, b), [])
            if len(d) >= cfg.min_noise_pairs:
                out[(f, b)] = max(1.4826 * float(np.median(d)), 0.25 * default)
            else:
                out[(f, b)] = default
    return out


def visit_signature(v: Visit, noise: dict[tuple[str, int], float], cfg: ReidConfig) -> dict[str, tuple[float, float]]:
    """Each feature of a visit as (value, variance): per GSD band the median of its sightings
    (variance pi/2 sigma^2 / n from three on), the bands joined by inverse variance."""
    per: dict[str, list[tuple[float, float]]] = {}
    groups: dict[tuple[str, int], list[float]] = {}
    for s in v.sightings:
        for f, x in sighting_features(s, cfg).items():
            groups.setdefault((f, _band(s.gsd_m)), []).append(x)
    for (f, b), xs in groups.items():
        n = len(xs)
        var = noise[(f, b)] ** 2 / n * (math.pi / 2 if n >= 3 else 1.0)
        per.setdefault(f, []).append((float(np.median(xs)), var))
    out = {}
    for f, vals in per.items():
        w = np.array([1.0 / var for _, var in vals])
        out[f] = (float(np.sum(w * np.array([x for x, _ in vals])) / w.sum()), float(1.0 / w.sum()))
    return out


@dataclass
class HullClusters:
    """The distinct hulls of a run's visits, with the samples they were read from."""

    labels: np.ndarray  # per visit: its hull (0..K-1, in order of first sighting)
    samples: np.ndarray  # (samples, visits): the Gibbs samples' labels
    alphas: np.ndarray  # the concentration in each sample
    co_clustering: np.ndarray  # (visits, visits): share of samples with both in one hull
    signatures: list[dict[str, tuple[float, float]]]
    fleet_prior: dict[str, tuple[float, float]]  # per feature: the fleet's mean and variance
    noise: dict[tuple[str, int], float]

    @property
    def count_samples(self) -> np.ndarray:
        """Distinct hulls among the seen visits in each sample."""
        return np.array([len(np.unique(s)) for s in self.samples])

    def hull_signature(self, members: list[int]) -> dict[str, tuple[float, float]]:
        """Each feature of the hull made of ``members``: mean and variance of its true value from
        their measurements alone (no pull towards the fleet's mean), so a fleet list can be held
        against it."""
        out = {}
        for f in FEATURES:
            obs = [self.signatures[i][f] for i in members if f in self.signatures[i]]
            if obs:
                w = np.array([1.0 / var for _, var in obs])
                out[f] = (float(np.sum(w * np.array([x for x, _ in obs])) / w.sum()), float(1.0 / w.sum()))
        return out


def _overlaps(visits: list[Visit]) -> np.ndarray:
    """(n, n) True where two visits overlap in time: not one hull."""
    t0 = np.array([v.first_seen.timestamp() for v in visits])
    t1 = np.array([v.last_seen.timestamp() for v in visits])
    out = (t0[:, None] <= t1[None, :]) & (t0[None, :] <= t1[:, None])
    np.fill_diagonal(out, False)
    return out


def _fleet_prior(sigs: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """The fleet's mean and spread (variance) per feature: the visits' spread less their error."""
    out = {}
    for f in FEATURES:
        obs = [s[f] for s in sigs if f in s]
        if not obs:
            continue
        x = np.array([o[0] for o in obs])
        noise_var = float(np.mean([o[1] for o in obs]))
        spread = float(x.var(ddof=1)) - noise_var if len(x) >= 3 else 0.0
        out[f] = (float(x.mean()), max(spread, noise_var, 1e-6))
    return out


def _log_normal(x, mean, var):
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def cluster_visits(visits: list[Visit], cfg: ReidConfig = ReidConfig()) -> HullClusters:
    """Distinct hulls of ``visits`` (a run's load events) by collapsed Gibbs sampling."""
    n = len(visits)
    noise = feature_noise(visits, cfg)
    sigs = [visit_signature(v, noise, cfg) for v in visits]
    prior = _fleet_prior(sigs)
    feats = [f for f in FEATURES if f in prior]
    rng = np.random.default_rng(cfg.seed)
    if n == 0:
        return HullClusters(np.zeros(0, int), np.zeros((0, 0), int), np.zeros(0), np.zeros((0, 0)), sigs, prior, noise)
    x = np.array([[s[f][0] if f in s else np.nan for f in feats] for s in sigs])  # (n, F)
    var = np.array([[s[f][1] if f in s else np.nan for f in feats] for s in sigs])
    has = np.isfinite(x)
    mu0 = np.array([prior[f][0] for f in feats])
    tau2 = np.array([prior[f][1] for f in feats])
    apart = _overlaps(visits)
    z = np.arange(n)  # every visit its own hull to start: no overlap is broken
    alpha = cfg.alpha_prior[0] / cfg.alpha_prior[1]
    eps = cfg.outlier_share
    samples, alphas = [], []
    for sweep in range(cfg.sweeps):
        for i in rng.permutation(n):
            z[i] = -1
            labels = np.unique(z[z >= 0])
            logp = np.full(labels.size + 1, -np.inf)
            wide = _log_normal(x[i], mu0, tau2 + var[i])  # a new hull, or a wild measurement
            for k, c in enumerate(labels):
                members = np.flatnonzero(z == c)
                if apart[i, members].any():
                    continue
                prec = np.where(has[members], 1.0 / np.where(has[members], var[members], 1.0), 0.0).sum(axis=0) + 1.0 / tau2
                wsum = np.where(has[members], x[members] / np.where(has[members], var[members], 1.0), 0.0).sum(axis=0) + mu0 / tau2
                near = _log_normal(x[i], wsum / prec, 1.0 / prec + var[i])
                ll = np.logaddexp(np.log1p(-eps) + near, math.log(eps) + wide)
                logp[k] = math.log(members.size) + float(np.sum(ll[has[i]]))
            logp[-1] = math.log(alpha) + float(np.sum(wide[has[i]]))
            p = np.exp(logp - logp.max())
            pick = rng.choice(labels.size + 1, p=p / p.sum())
            z[i] = labels[pick] if pick < labels.size else (z.max() + 1)
        z = np.unique(z, return_inverse=True)[1]
        k_now = int(z.max()) + 1
        # Escobar & West (1995): the concentration given the number of hulls.
        a, b = cfg.alpha_prior
        eta = rng.beta(alpha + 1.0, n)
        odds = (a + k_now - 1) / (n * (b - math.log(eta)))
        shape = a + k_now if rng.random() < odds / (1 + odds) else a + k_now - 1
        alpha = float(rng.gamma(shape, 1.0 / (b - math.log(eta))))
        if sweep >= cfg.burn_in:
            samples.append(z.copy())
            alphas.append(alpha)
    samples = np.array(samples)
    co = np.mean(samples[:, :, None] == samples[:, None, :], axis=0)
    best = samples[int(np.argmin([np.sum(((s[:, None] == s[None, :]) - co) ** 2) for s in samples]))]
    order = {}
    for i in np.argsort([v.first_seen for v in visits], kind="stable"):
        order.setdefault(int(best[i]), len(order))
    labels = np.array([order[int(c)] for c in best])
    return HullClusters(labels, samples, np.array(alphas), co, sigs, prior, noise)


def distinct_hulls(clusters: HullClusters, missed_visits: np.ndarray | None, n_visits: int, cfg: ReidConfig = ReidConfig(),
                   seed: int = 0) -> dict:
    """Distinct hulls: among the seen visits (the reported partition, and the samples' interval),
    and with the hulls of missed visits added (``missed_visits``: one count per Monte Carlo draw
    of the missed-visit correction; each is a new hull with the process's chance alpha/(n + alpha)
    as the visits before it are counted)."""
    q = ((1 - cfg.interval) / 2, 0.5, (1 + cfg.interval) / 2)
    counts = clusters.count_samples
    seen = {"reported": int(clusters.labels.max()) + 1 if clusters.labels.size else 0}
    if counts.size:
        lo, med, hi = np.quantile(counts, q)
        seen.update(median=float(med), low=float(lo), high=float(hi))
    out = {"seen_visits": n_visits, "among_seen_visits": seen, "interval": cfg.interval}
    if missed_visits is None or not counts.size:
        return out
    rng = np.random.default_rng(seed)
    m = np.asarray(missed_visits, int)
    pick = rng.integers(0, counts.size, m.size)
    k, alpha = counts[pick].astype(float), clusters.alphas[pick]
    new = np.zeros(m.size)
    for t in range(int(m.max()) if m.size else 0):
        live = t < m
        new += live * (rng.random(m.size) < alpha / (n_visits + t + alpha))
    total = k + new
    lo, med, hi = np.quantile(total, q)
    out["with_missed_visits"] = {"median": float(med), "low": float(lo), "high": float(hi), "mean": round(float(total.mean()), 2)}
    return out
