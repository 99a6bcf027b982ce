"""``timeline.png``: berth occupancy by day, the days imaged and clouded, load events, and
cumulative barrels (seen and corrected with its interval) against the 500,000-barrel cap."""

from __future__ import annotations

import os
from datetime import timedelta

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..io.atomic import atomic_path  # noqa: E402
from .loads import LoadsResult  # noqa: E402


def draw_timeline(path: str | os.PathLike, result: LoadsResult, cap_barrels: float) -> None:
    """Write the timeline picture of ``result`` to ``path`` (PNG, atomic)."""
    berths = sorted({lk.berth for lk in result.looks})
    fig = Figure(figsize=(11, 2.2 + 0.55 * len(berths) + 3.0), dpi=110)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [0.55 * len(berths) + 0.8, 3.0]})
    for row, b in enumerate(berths):
        looks = [lk for lk in result.looks if lk.berth == b]
        clear = [lk.time for lk in looks if lk.seen]
        hidden = [lk.time for lk in looks if not lk.seen]
        top.plot(clear, [row] * len(clear), "|", color="#1f77b4", ms=14, label="imaged, clear" if row == 0 else None)
        top.plot(hidden, [row] * len(hidden), "|", color="#bbbbbb", ms=14, label="imaged, cloud or nodata" if row == 0 else None)
        for e in result.events:
            if e.berth == b:
                end = max(e.last_seen, e.first_seen + timedelta(hours=6))
                top.plot([e.first_seen, end], [row + 0.25, row + 0.25], color="#d62728", lw=5, solid_capstyle="butt")
    top.plot([], [], color="#d62728", lw=5, label="load event (first to last seen)")
    top.set_yticks(range(len(berths)), berths)
    top.set_ylim(-0.6, len(berths) - 0.3)
    top.legend(loc="upper left", fontsize=8, ncol=3, frameon=False, bbox_to_anchor=(0, 1.25))
    top.set_title("Berth occupancy and imaging", fontsize=10, loc="left", pad=22)

    seen = sorted(result.events, key=lambda e: e.last_seen)
    if seen:
        t = [result.start] + [e.last_seen for e in seen]
        mids = np.cumsum([0.0] + [float(r["barrels_mid"]) for r in sorted(result.rows, key=lambda r: r["last_seen"])])
        bottom.step(t, mids, where="post", color="#d62728", label="seen events (mid barrels)")
    months = [e for e in result.estimates if e.period != "total" and e.draws is not None]
    if months:
        cum = np.cumsum(np.stack([m.draws for m in months], axis=1), axis=1)
        ends = [m.end for m in months]
        lo, med, hi = (np.quantile(cum, q, axis=0) for q in (0.05, 0.5, 0.95))
        bottom.fill_between([result.start] + ends, [0, *lo], [0, *hi], color="#1f77b4", alpha=0.2, label="corrected, 90 % interval")
        bottom.plot([result.start] + ends, [0, *med], "o-", color="#1f77b4", ms=3, label="corrected, median (month ends)")
    days = np.array([(result.start + timedelta(days=k)) for k in range(int((result.end - result.start).days) + 2)])
    bottom.plot(days, cap_barrels * np.arange(len(days)) / 365.0, "--", color="black", lw=1, label="UN cap, pro rata (500,000 a year)")
    bottom.axhline(cap_barrels, color="black", lw=1.5, label="UN cap for the year")
    bottom.set_ylabel("cumulative barrels")
    bottom.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:,.0f}"))
    bottom.legend(loc="upper left", fontsize=8, frameon=False)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%Y"))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": 6})

