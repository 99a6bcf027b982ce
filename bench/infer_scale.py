"""How ``infer.py`` scales: time and peak memory against scene size, and against the number of scenes.

Scene size: one 0.5 m RGB scene of each side in ``--sizes`` (a clear synthetic motif repeated,
see ``infer_memory.py``), searched whole. Number of scenes: ``--counts`` copies of a 2,048 px
0.5 m scene in one run. Each run is a fresh ``infer.py`` process; peak memory is the largest
sum of PSS over ``infer.py`` and its reader workers. Time should grow linearly with pixels and
scenes, memory should stay flat.

    python bench/infer_scale.py --sizes 1000 2000 4000 8000 16000 30000 --counts 1 10 40 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from infer_memory import make_big_scene, sampled_run  # noqa: E402


def run_infer(inputs: list[str], threads: int) -> tuple[float, int, dict]:
    """Wall seconds, peak PSS bytes and run.json of one ``infer.py`` run over ``inputs``."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(ROOT / "infer.py"), *inputs, "--aoi", "whole", "--berths", "none", "--no-events",
               "--threads", str(threads), "--out", out, "--quiet"]
        run = sampled_run(cmd, dict(os.environ, OMP_NUM_THREADS=str(threads)))
        return run.wall_s, run.pss_tree, json.loads((Path(out) / "run.json").read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="*", default=[1000, 2000, 4000, 8000, 16000, 30000])
    p.add_argument("--counts", type=int, nargs="*", default=[1, 10, 40])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    print("| scene side (px, 0.5 m) | Mpx | tiles | wall (s) | s per 100 Mpx | peak PSS (GB) |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        scene = make_big_scene(args.work / f"big_{size}px_0.5m.tif", size)
        wall, peak, record = run_infer([str(scene)], args.threads)
        mpx = size * size / 1e6
        print(f"| {size:,} | {mpx:,.0f} | {record['scenes'][0]['tiles']} | {wall:.1f} | {100 * wall / mpx:.1f} | {peak / 1e9:.2f} |", flush=True)

    print("\n| scenes of 2,048 px at 0.5 m | wall (s) | s per scene | peak PSS (GB) |")
    print("|---|---|---|---|")
    one = make_big_scene(args.work / "big_2048px_0.5m.tif", 2048)
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.counts:
            files = []
            for k in range(count):
                f = Path(tmp) / f"scene_{count}_{k:03d}.tif"
                if not f.exists():
                    os.link(one, f) if hasattr(os, "link") else shutil.copy(one, f)
                files.append(str(f))
            wall, peak, _ = run_infer(files, args.threads)
            print(f"| {count} | {wall:.1f} | {wall / count:.2f} | {peak / 1e9:.2f} |", flush=True)
    sizes = " ".join(str(s) for s in args.sizes)
    counts = " ".join(str(c) for c in args.counts)
    print(f"\nreproduce: python bench/infer_scale.py --sizes {sizes} --counts {counts} --threads {args.threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
