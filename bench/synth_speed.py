"""How long one synthetic scene takes to render on one CPU core, by size and GSD.

Reproduce:  python bench/synth_speed.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    from detector.synth import random_spec, render

    print(f"{'size_px':>8} {'gsd_m':>6} {'sensor':>12} {'vessels':>8} {'seconds':>8} {'Mpx/s':>6}")
    for size, gsd, sensor in [(2048, 3.0, "planetscope"), (2048, 0.5, "skysat"), (2048, 10.0, "sentinel2"), (1024, 3.0, "planetscope")]:
        times = []
        for i in range(3):
            spec = random_spec(100, i, gsd_m=gsd, size_px=size, sensor=sensor)
            t0 = time.perf_counter()
            scene = render(spec)
            times.append(time.perf_counter() - t0)
        best = min(times)
        print(f"{size:>8} {gsd:>6} {sensor:>12} {len(scene.labels):>8} {best:>8.2f} {size * size / best / 1e6:>6.2f}")
    print("command: python bench/synth_speed.py  (best of 3 seeds, one core)")


if __name__ == "__main__":
    main()
