"""Which visits were the same hull: the run's load events clustered into distinct hulls.

Trackers for video (ByteTrack, BoT-SORT) join boxes seconds apart by where they are; looks days
apart can only be joined by what a hull *is*. Each visit carries a signature: its length (from
the hull's own pixels where they show its ends, else the detector's box), its beam, the colour
of its deck and where its accommodation block stands (``infer/signature.py``), each with the
error it is known to within. The visits are clustered by a mixture over a fleet of unknown
size N: each visit is made by one of N hulls, each as likely as the others (tankers on one run
make their round trips alike), each hull's true signature drawn from the fleet's spread. The
partition and N are sampled by collapsed Gibbs sampling (a mixture of finite mixtures, Miller and
Harrison 2018, with equal weights and N summed out: a visit joins a seen hull, or a new one with
the weight V(K + 1) / V(K)); N given K hulls among n visits, drawn after each sweep for the
missed visits, is the capture-recapture posterior, p(N) ~ 1/N times N! / ((N - K)! N^n).
Where a Dirichlet process would let a hull seen often draw more visits, here the count of unseen
hulls follows from how often seen ones came back:
* each feature of a visit is Normal around its hull's true value with the visit's own error;
  a share ``OUTLIER_SHARE`` of measurements is allowed to be wild (a split box, a deck read
  through haze), so one bad look does not make a new hull;
* the errors are measured on the run itself: sightings in one visit are one hull, so their
  spread per GSD band is the measurement error there (``feature_noise``); the fleet's spread
  is the visits' spread less that error;
* two visits that overlap in time are never one hull (one hull cannot lie at two berths);
* the number of distinct hulls is read from the samples, plus the hulls of visits no image
  caught (the missed-visit correction's draws, each made by one of the sample's N hulls);
  the partition reported (``hulls.csv``) is, of the samples with the median count, the one
  nearest the samples' co-clustering (Dahl 2006).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from .tracks import Sighting, Visit

FEATURES = ("length_m", "beam_m", "chroma_r", "chroma_g", "super_pos")
GSD_BANDS_M = (1.0, 4.0, 8.0)  # sightings are told apart by band: error grows with the GSD
GSD_BAND_NAMES = ("below_1m", "1_to_4m", "4_to_8m", "8m_and_over")
# Errors (1 sd) used where the run holds too few repeated sightings to measure them: the spread
# of one hull's sightings at 3 m in the hulls bench (bench/hulls_e2e.py), scaled with the GSD.
DEFAULT_NOISE_AT_3M = {"length_m": 6.0, "beam_m": 2.5, "chroma_r": 0.06, "chroma_g": 0.03, "super_pos": 0.04}
# What repeated sightings in one stay cannot average away (1 sd of a visit's mean): the same hull
# on another date lies otherwise moored, laden and lit. Measured at 3 m in the hulls bench
# (bench/hulls_e2e.py, seeds 1-8) as the robust spread of one hull's sightings over all its
# visits: the pixel length 5.0 m (the box's 9.1 m), deck colour 0.010 and 0.009, the block's
# place 0.018; sizes scale with the GSD.
BETWEEN_VISIT_SD_AT_3M = {"length_m": 4.0, "beam_m": 2.3, "chroma_r": 0.01, "chroma_g": 0.009, "super_pos": 0.018}
# The share of a feature's measurements that are wild (the same bench: readings more than 3
# robust sd from their hull's median): a grey deck read through haze, the block found at the
# wrong end. A wild measurement is drawn from the fleet's spread, so it neither makes a hull
# nor joins one.
OUTLIER_SHARE = {"length_m": 0.05, "beam_m": 0.05, "chroma_r": 0.2, "chroma_g": 0.2, "super_pos": 0.35}


@dataclass(frozen=True)
class ReidConfig:
    """How visits are clustered into hulls."""

    sweeps: int = 400  # per chain
    burn_in: int = 100
    chains: int = 4
    seed: int = 0
    interval: float = 0.9
    max_fleet: int = 500  # the prior's largest fleet
    # p(N) ~ 1/N, scale-free: where the signatures cannot tell hulls apart the count's interval
    # stays wide and holds the truth (N^-2 pulled it to a few hulls: bench/hulls_e2e.py)
    fleet_prior_power: float = 1.0
    max_appearance_gsd_m: float = 4.0  # coarser looks give no colour or block position
    max_sizing_gsd_m: float = 6.0  # coarser looks do not size a hull
    between_visit_share: float = 1.0  # scales BETWEEN_VISIT_SD_AT_3M (0: visits as exact as their sightings)
    pixel_length_agreement: float = 0.25  # a pixel length this far (share) from the box's is not used
    default_noise_share: float = 1.0  # scales DEFAULT_NOISE_AT_3M (a sensor known to size better)
    min_noise_share: float = 0.05  # a measured error is held to at least this share of the default
    min_noise_pairs: int = 4  # repeated sightings needed to measure a feature's error in a band


def _band(gsd_m: float) -> int:
    return int(np.searchsorted(GSD_BANDS_M, gsd_m, side="right"))


def sighting_features(s: Sighting, cfg: ReidConfig) -> dict[str, float]:
    """The features one sighting measures (a coarse look measures fewer)."""
    out = {}
    if s.gsd_m <= cfg.max_sizing_gsd_m:
        # the hull's own pixels where they agree with its box: a fit that found half a hull
        # (a dark stern in shadow, a rafted neighbour) is worse than the box
        agree = s.pixel_length_m is not None and abs(s.pixel_length_m - s.length_m) <= cfg.pixel_length_agreement * s.length_m
        out["length_m"] = s.pixel_length_m if agree else s.length_m
        if s.beam_m > 0:
            out["beam_m"] = s.beam_m
    if s.gsd_m <= cfg.max_appearance_gsd_m and s.chroma is not None:
        out["chroma_r"], out["chroma_g"] = s.chroma
        if s.super_pos is not None:
            out["super_pos"] = s.super_pos
    return out


def feature_noise(visits: list[Visit], cfg: ReidConfig = ReidConfig()) -> dict[tuple[str, int], float]:
    """Measurement error (1 sd) of each feature in each GSD band, from the sightings of one visit
    (one hull): the robust spread of the differences between two sightings of one visit, pooled
    over visits (a default scaled with the GSD where fewer than ``min_noise_pairs`` pairs were seen)."""
    diffs: dict[tuple[str, int], list[float]] = {}
    for v in visits:
        for key, xs in _band_groups(v, cfg).items():
            xs = np.asarray(xs)
            i, j = np.triu_indices(len(xs), k=1)
            # a difference of two sightings has sd sqrt(2) sigma; deviations from a median fitted
            # to the same few sightings would shrink it (a third of it for three sightings)
            diffs.setdefault(key, []).extend((np.abs(xs[i] - xs[j]) / math.sqrt(2.0)).tolist())
    out = {}
    for f in FEATURES:
        for b in range(len(GSD_BANDS_M) + 1):
            scale = _size_scale(b) if f in ("length_m", "beam_m") else 1.0
            default = DEFAULT_NOISE_AT_3M[f] * scale * cfg.default_noise_share
            d = diffs.get((f, b), [])
            if len(d) >= cfg.min_noise_pairs:
                out[(f, b)] = max(1.4826 * float(np.median(d)), cfg.min_noise_share * default)
            else:
                out[(f, b)] = default
    return out


def between_visit_sd(feature: str, band: int) -> float:
    """``BETWEEN_VISIT_SD_AT_3M`` in GSD band ``band`` (sizes scale with the band's GSD)."""
    return BETWEEN_VISIT_SD_AT_3M[feature] * (_size_scale(band) if feature in ("length_m", "beam_m") else 1.0)


def _size_scale(band: int) -> float:
    """Size errors grow with the GSD: a band's typical GSD over 3 m (at 0.5 m the bench's few
    SkySat looks measured hulls to 1.5-2.4 m, where 3 m looks are off by about 10 m)."""
    return {0: 0.5, 1: 3.0, 2: 6.0, 3: 10.0}[band] / 3.0


def visit_signature(v: Visit, noise: dict[tuple[str, int], float], cfg: ReidConfig) -> dict[str, tuple[float, float]]:
    """Each feature of a visit as (value, variance): per GSD band the median of its sightings
    (variance pi/2 sigma^2 / n from three on), the bands joined by inverse variance."""
    per: dict[str, list[tuple[float, float]]] = {}
    for (f, b), xs in _band_groups(v, cfg).items():
        n = len(xs)
        var = noise[(f, b)] ** 2 / n * (math.pi / 2 if n >= 3 else 1.0) + (cfg.between_visit_share * between_visit_sd(f, b)) ** 2
        per.setdefault(f, []).append((float(np.median(xs)), var))
    return {f: _inverse_variance(vals) for f, vals in per.items()}


def _band_groups(v: Visit, cfg: ReidConfig) -> dict[tuple[str, int], list[float]]:
    """A visit's measurements grouped by (feature, GSD band)."""
    groups: dict[tuple[str, int], list[float]] = {}
    for s in v.sightings:
        for f, x in sighting_features(s, cfg).items():
            groups.setdefault((f, _band(s.gsd_m)), []).append(x)
    return groups


def _inverse_variance(obs: list[tuple[float, float]]) -> tuple[float, float]:
    """(value, variance) measurements of one quantity joined: the inverse-variance mean and its variance."""
    w = np.array([1.0 / var for _, var in obs])
    return float(np.sum(w * np.array([x for x, _ in obs])) / w.sum()), float(1.0 / w.sum())


@dataclass
class HullClusters:
    """The distinct hulls of a run's visits, with the samples they were read from."""

    labels: np.ndarray  # per visit: its hull (0..K-1, in order of first sighting)
    samples: np.ndarray  # (samples, visits): the Gibbs samples' labels
    fleet_sizes: np.ndarray  # N, the hulls that use the berths, in each sample
    co_clustering: np.ndarray  # (visits, visits): share of samples with both in one hull
    signatures: list[dict[str, tuple[float, float]]]
    fleet_prior: dict[str, tuple[float, float]]  # per feature: the fleet's mean and variance
    noise: dict[tuple[str, int], float]

    @property
    def count_samples(self) -> np.ndarray:
        """Distinct hulls among the seen visits in each sample."""
        return self.samples.max(axis=1) + 1 if self.samples.size else np.zeros(0, int)  # labels run 0..K-1

    def hull_signature(self, members: list[int]) -> dict[str, tuple[float, float]]:
        """Each feature of the hull made of ``members``: mean and variance of its true value from
        their measurements alone (no pull towards the fleet's mean), so a fleet list can be held
        against it."""
        out = {}
        for f in FEATURES:
            obs = [self.signatures[i][f] for i in members if f in self.signatures[i]]
            if obs:
                out[f] = _inverse_variance(obs)
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


def _log_falling(sizes: np.ndarray, k: int) -> np.ndarray:
    """log N! / (N - k)! for each N of ``sizes`` (all >= k)."""
    return gammaln(sizes + 1) - gammaln(sizes - k + 1)


def fleet_size_posterior(k_hulls: int, n_visits: int, max_fleet: int, prior_power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(N, probability) of a fleet of N equally likely hulls given ``k_hulls`` distinct among
    ``n_visits``: p(N) ~ N^-prior_power, likelihood N! / ((N - K)! N^n), for K <= N <= max_fleet."""
    sizes = np.arange(max(k_hulls, 1), max(max_fleet, k_hulls) + 1, dtype=float)
    logp = -prior_power * np.log(sizes) + _log_falling(sizes, k_hulls) - n_visits * np.log(sizes)
    p = np.exp(logp - logp.max())
    return sizes.astype(int), p / p.sum()


def partition_weights(n_visits: int, cfg: ReidConfig) -> np.ndarray:
    """log V(t) for t = 0..n+1: the prior weight of a partition of the visits into t hulls with N
    summed out, V(t) = sum over N >= t of p(N) N! / ((N - t)! N^n) (Miller and Harrison 2018).
    Summing N out, rather than drawing it, lets a chain at K = N still open a new hull."""
    sizes = np.arange(1, max(cfg.max_fleet, n_visits + 1) + 1, dtype=float)
    base = -cfg.fleet_prior_power * np.log(sizes) - n_visits * np.log(sizes)
    out = np.full(n_visits + 2, -np.inf)
    for t in range(n_visits + 2):
        m = sizes >= max(t, 1)
        out[t] = float(np.logaddexp.reduce(base[m] + _log_falling(sizes[m], t)))
    return out


class FleetSizes:
    """Draws of N given K hulls among the run's n visits, each K's posterior worked out once
    (a chain asks after every sweep, mostly for the same few K)."""

    def __init__(self, n_visits: int, cfg: ReidConfig):
        self.n, self.cfg, self._table = n_visits, cfg, {}

    def draw(self, k_hulls: int, rng: np.random.Generator) -> int:
        if k_hulls not in self._table:
            self._table[k_hulls] = fleet_size_posterior(k_hulls, self.n, self.cfg.max_fleet, self.cfg.fleet_prior_power)
        sizes, p = self._table[k_hulls]
        return int(rng.choice(sizes, p=p))


def _gibbs_chain(x, var, has, mu0, tau2, apart, log_v, fleet_sizes: FleetSizes, feats, cfg: ReidConfig,
                 rng: np.random.Generator):
    """One collapsed Gibbs chain over the hull labels: its samples after burn-in, and N drawn per sample."""
    n = x.shape[0]
    z = np.arange(n)  # every visit its own hull to start: no overlap is broken
    eps = np.array([OUTLIER_SHARE[f] for f in feats])
    # Each hull's sufficient statistics (labels 0..n-1, empty ones unused): the precision and the
    # precision-weighted sum of its visits, per feature; a missing feature adds nothing.
    px = np.where(has, 1.0 / np.where(has, var, 1.0), 0.0)
    pxx = np.where(has, np.where(has, x, 0.0) * px, 0.0)
    prec_sum, w_sum, count = px.copy(), pxx.copy(), np.ones(n, int)
    wide_all = _log_normal(np.where(has, x, mu0), mu0, tau2 + np.where(has, var, 1.0))  # a new hull, or a wild measurement
    samples, sizes = [], []
    for sweep in range(cfg.sweeps):
        for i in rng.permutation(n):
            c_old = z[i]
            prec_sum[c_old] -= px[i]
            w_sum[c_old] -= pxx[i]
            count[c_old] -= 1
            z[i] = -1
            live = np.flatnonzero(count > 0)
            blocked = np.zeros(n, bool)
            blocked[z[apart[i] & (z >= 0)]] = True  # one hull cannot lie at two berths at once
            prec = prec_sum[live] + 1.0 / tau2
            mean = (w_sum[live] + mu0 / tau2) / prec
            wide = wide_all[i]
            with np.errstate(invalid="ignore"):
                near = _log_normal(x[i], mean, 1.0 / prec + var[i])
                ll = np.logaddexp(np.log1p(-eps) + near, np.log(eps) + wide)
            logp = np.empty(live.size + 1)
            logp[:-1] = np.where(blocked[live], -np.inf, ll[:, has[i]].sum(axis=1))  # each seen hull as likely to come back
            logp[-1] = log_v[live.size + 1] - log_v[live.size] + float(np.sum(wide[has[i]]))
            p = np.exp(logp - logp.max())
            pick = rng.choice(live.size + 1, p=p / p.sum())
            c_new = live[pick] if pick < live.size else int(np.flatnonzero(count == 0)[0])
            z[i] = c_new
            prec_sum[c_new] += px[i]
            w_sum[c_new] += pxx[i]
            count[c_new] += 1
        labels = np.unique(z, return_inverse=True)[1]
        fleet_n = fleet_sizes.draw(int(labels.max()) + 1, rng)
        if sweep >= cfg.burn_in:
            samples.append(labels.copy())
            sizes.append(fleet_n)
    return samples, sizes


def cluster_visits(visits: list[Visit], cfg: ReidConfig = ReidConfig()) -> HullClusters:
    """Distinct hulls of ``visits`` (a run's load events) by collapsed Gibbs sampling."""
    n = len(visits)
    noise = feature_noise(visits, cfg)
    sigs = [visit_signature(v, noise, cfg) for v in visits]
    prior = _fleet_prior(sigs)
    feats = [f for f in FEATURES if f in prior]
    if n == 0:
        return HullClusters(np.zeros(0, int), np.zeros((0, 0), int), np.zeros(0, int), np.zeros((0, 0)), sigs, prior, noise)
    x = np.array([[s[f][0] if f in s else np.nan for f in feats] for s in sigs])  # (n, F)
    var = np.array([[s[f][1] if f in s else np.nan for f in feats] for s in sigs])
    has = np.isfinite(x)
    mu0 = np.array([prior[f][0] for f in feats])
    tau2 = np.array([prior[f][1] for f in feats])
    apart = _overlaps(visits)
    log_v, fleet_sizes = partition_weights(n, cfg), FleetSizes(n, cfg)
    samples, sizes = [], []
    for chain in range(cfg.chains):  # chains from other seeds: one chain can sit in one mode
        chain_samples, chain_sizes = _gibbs_chain(x, var, has, mu0, tau2, apart, log_v, fleet_sizes, feats, cfg,
                                                  np.random.default_rng([cfg.seed, chain]))
        samples += chain_samples
        sizes += chain_sizes
    samples = np.array(samples)
    co = np.zeros((n, n))
    for smp in samples:  # summed one sample at a time: (samples, n, n) would be 1 GB for 300 visits
        co += smp[:, None] == smp[None, :]
    co /= len(samples)
    # The partition reported: of the samples with the median number of hulls, the one nearest
    # the co-clustering (Dahl 2006); nearest over all samples, a diffuse posterior would report
    # every visit as its own hull while the samples say far fewer.
    k = samples.max(axis=1) + 1
    typical = np.flatnonzero(k == int(np.round(np.median(k))))
    typical = typical if typical.size else np.arange(len(samples))
    best = samples[typical[int(np.argmin([np.sum(((samples[j][:, None] == samples[j][None, :]) - co) ** 2) for j in typical]))]]
    order = {}
    for i in np.argsort([v.first_seen for v in visits], kind="stable"):
        order.setdefault(int(best[i]), len(order))
    labels = np.array([order[int(c)] for c in best])
    return HullClusters(labels, samples, np.array(sizes), co, sigs, prior, noise)


def distinct_hulls(clusters: HullClusters, missed_visits: np.ndarray | None, n_visits: int, cfg: ReidConfig = ReidConfig(),
                   seed: int = 0) -> dict:
    """Distinct hulls: among the seen visits (the reported partition, and the samples' interval),
    and with the hulls of missed visits added (``missed_visits``: one count per Monte Carlo draw
    of the missed-visit correction; each missed visit is made by one of a sample's N hulls, so it
    adds a hull when it falls on one of the N - K not seen)."""
    q = ((1 - cfg.interval) / 2, 0.5, (1 + cfg.interval) / 2)
    counts = clusters.count_samples
    seen = {"reported": int(clusters.labels.max()) + 1 if clusters.labels.size else 0}
    if counts.size:
        lo, med, hi = np.quantile(counts, q, method="nearest")  # counts: whole hulls
        seen.update(median=float(med), low=float(lo), high=float(hi))
    out = {"seen_visits": n_visits, "among_seen_visits": seen, "interval": cfg.interval}
    if missed_visits is None or not counts.size:
        return out
    rng = np.random.default_rng(seed)
    m = np.asarray(missed_visits, int)
    pick = rng.integers(0, counts.size, m.size)
    k, fleet_n = counts[pick], clusters.fleet_sizes[pick]
    total = np.array([kk + np.unique(h[h >= kk]).size if mm > 0 else kk
                      for kk, nn, mm in zip(k, fleet_n, m) for h in [rng.integers(0, nn, max(mm, 0))]], float)
    lo, med, hi = np.quantile(total, q, method="nearest")
    out["with_missed_visits"] = {"median": float(med), "low": float(lo), "high": float(hi), "mean": round(float(total.mean()), 2)}
    return out
