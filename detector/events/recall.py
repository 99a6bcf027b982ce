"""The detector's recall for tankers at loading berths: measured on scenes with truth
(``train.berth_recall``), carried in the checkpoint, and turned into an uncertain recall for the
missed-visit correction.

A clear look of a loading berth finds a tanker that is there only with the detector's recall,
and the correction's missed visits grow as that recall falls. The recall that matters there is
the events step's own: in a look the clear-look rule calls clear, a true tanker at the berth
counts as found when the run holds a detection typed tanker at that berth within
``match_distance_m`` of it (a sighting the tracker can use; no box overlap asked). The same
matches give the detector's length bias on those hulls by GSD band, which the events step takes
off each sighting's length before hull classes and barrels are read from it. It is kept as
counts (found of hulls) per GSD band (``train.evaluate.GSD_BINS_M``), so the estimate can draw it
from its Jeffreys posterior Beta(found + 1/2, missed + 1/2) instead of trusting a point value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

META_KEY = "loading_recall"  # where a checkpoint's metadata carries it


@dataclass(frozen=True)
class RecallBand:
    """Found of ``hulls`` loading tankers in clear looks at native GSDs in [``gsd_lo_m``, ``gsd_hi_m``)."""

    gsd_lo_m: float
    gsd_hi_m: float
    found: int
    hulls: int
    length_bias_m: float = 0.0  # mean measured minus true length of the found hulls
    length_sd_m: float | None = None  # spread of that error (None: not measured)

    @property
    def posterior(self) -> tuple[float, float]:
        """Beta parameters of the recall after these counts (Jeffreys prior)."""
        return self.found + 0.5, self.hulls - self.found + 0.5

    @property
    def mean(self) -> float:
        a, b = self.posterior
        return a / (a + b)

    def holds(self, gsd_m: float) -> bool:
        return self.gsd_lo_m <= gsd_m < self.gsd_hi_m


@dataclass(frozen=True)
class DetectorRecall:
    """What the correction assumes about the detector: measured bands, or one ``fixed`` value
    (a recall the user states, taken as exact). With neither, the detector misses nothing."""

    bands: tuple[RecallBand, ...] = ()
    fixed: float | None = None
    source: str = ""  # where the figures come from, for the summary

    @classmethod
    def exact(cls, recall: float, source: str = "given", bands: tuple[RecallBand, ...] = ()) -> "DetectorRecall":
        """A recall taken as exact; ``bands`` may still carry measured length biases."""
        if not 0.0 < recall <= 1.0:
            raise ValueError(f"a recall must lie within (0, 1], got {recall}")
        return cls(bands, float(recall), source)

    def band(self, gsd_m: float) -> RecallBand | None:
        """The band of ``gsd_m``, else the measured band nearest to it in log GSD (None without any)."""
        measured = [b for b in self.bands if b.hulls > 0]
        if not measured:
            return None
        for b in measured:
            if b.holds(gsd_m):
                return b

        def gap(b: RecallBand) -> float:
            lo, hi = max(b.gsd_lo_m, 1e-3), b.gsd_hi_m
            return min(abs(math.log(gsd_m / lo)), abs(math.log(gsd_m / hi)))

        return min(measured, key=gap)

    def length_bias_m(self, gsd_m: float) -> float:
        """How much longer than true the detector measures loading tankers at ``gsd_m`` (0 unmeasured)."""
        b = self.band(gsd_m)
        return 0.0 if b is None else b.length_bias_m

    def length_sd_m(self, gsd_m: float) -> float | None:
        """The spread of the detector's length error on loading tankers at ``gsd_m`` (None unmeasured)."""
        b = self.band(gsd_m)
        return None if b is None else b.length_sd_m

    def mean(self, gsd_m: float) -> float:
        """The recall expected at ``gsd_m`` (posterior mean)."""
        if self.fixed is not None:
            return self.fixed
        b = self.band(gsd_m)
        return 1.0 if b is None else b.mean

    def levels(self, gsd_m: np.ndarray, k: int) -> np.ndarray:
        """(k, looks) recall of each look at the quantiles (i + 1/2) / k of its band's posterior.

        The same quantile for every band in a row: one draw's detector is good or poor at every
        GSD together, the cautious choice when the bands' errors are not known to be independent."""
        gsd_m = np.asarray(gsd_m, float)
        out = np.ones((k, gsd_m.size))
        if self.fixed is not None:
            out[:] = self.fixed
            return out
        from scipy.stats import beta as beta_dist  # here, not at import: scipy.stats costs infer.py a second to start

        q = (np.arange(k) + 0.5) / k
        cache: dict[tuple[float, float], np.ndarray] = {}
        for j, g in enumerate(gsd_m):
            b = self.band(float(g))
            if b is None:
                continue
            key = (b.gsd_lo_m, b.gsd_hi_m)
            if key not in cache:
                cache[key] = beta_dist.ppf(q, *b.posterior)
            out[:, j] = cache[key]
        return out

    def to_dict(self) -> dict:
        return {"bands": [asdict(b) for b in self.bands], "fixed": self.fixed, "source": self.source}

    @classmethod
    def from_dict(cls, d: dict) -> "DetectorRecall":
        bands = tuple(RecallBand(float(b["gsd_lo_m"]), float(b["gsd_hi_m"]), int(b["found"]), int(b["hulls"]),
                                 float(b.get("length_bias_m", 0.0)), None if b.get("length_sd_m") is None else float(b["length_sd_m"]))
                      for b in d.get("bands", []))
        for b in bands:
            if not 0 <= b.found <= b.hulls:
                raise ValueError(f"recall band {b}: found must lie within 0..hulls")
        fixed = d.get("fixed")
        return cls(bands, None if fixed is None else float(fixed), str(d.get("source", "")))

    def describe(self) -> str:
        """One line for logs and summaries."""
        lengths = [f"{b.gsd_lo_m:g}-{b.gsd_hi_m:g} m: {b.length_bias_m:+.1f} m" for b in self.bands if b.found]
        bias = f"; length bias by GSD {', '.join(lengths)}, taken off" if lengths else ""
        if self.fixed is not None:
            return f"recall {self.fixed:g} ({self.source}){bias}"
        if not any(b.hulls for b in self.bands):
            return "recall 1 (no measurement: misses are not corrected for)"
        parts = [f"{b.gsd_lo_m:g}-{b.gsd_hi_m:g} m: {b.found}/{b.hulls}" for b in self.bands if b.hulls]
        return f"recall by GSD {', '.join(parts)}{bias} ({self.source})"


def measured_with_tta(meta: dict) -> bool:
    """Whether the recall a checkpoint's metadata carries was measured reading each tile mirrored
    too (``infer.py --tta``); False for a recall measured before that option existed."""
    return bool((meta.get(META_KEY) or {}).get("tta", False))


def recall_of(meta: dict) -> DetectorRecall | None:
    """The recall a checkpoint's metadata carries, or None."""
    d = meta.get(META_KEY)
    return DetectorRecall.from_dict(d) if d else None
