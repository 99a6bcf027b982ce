"""Peak memory of ``infer.py`` on one very large scene (default 30,000 x 30,000 px RGB at 0.5 m).

The scene is a clear synthetic 0.5 m Vostochny scene repeated over the canvas (written block
by block, so making it needs little memory either), searched whole. Peak memory is the largest
sum of the proportional resident memory (PSS) of ``infer.py`` and its reader workers, sampled every 0.1 s from
/proc (Linux), so worker memory is counted too.

    python bench/infer_memory.py --size 30000 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GSD_M = 0.5


def make_big_scene(path: Path, size_px: int, motif_px: int = 2048) -> Path:
    """A ``size_px`` square GeoTIFF made of one rendered ``motif_px`` scene repeated (kept once made)."""
    if path.exists():
        return path
    import rasterio  # a benchmark fixture writing block by block; the package reads through scene.py
    from rasterio.windows import Window

    from detector.synth.compose import random_spec, render
    from detector.synth.sensor import Weather

    spec = random_spec(5, 0, gsd_m=GSD_M, size_px=motif_px, sensor="skysat")
    motif = render(dataclasses.replace(spec, weather=Weather(0.0, 0.05, 1)))
    t = motif.transform
    profile = dict(driver="GTiff", width=size_px, height=size_px, count=3, dtype="uint8", crs=motif.crs,
                   transform=t, nodata=0, tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                   zlevel=1, bigtiff="YES")
    tmp = path.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        for row in range(0, size_px, motif_px):
            for col in range(0, size_px, motif_px):
                h, w = min(motif_px, size_px - row), min(motif_px, size_px - col)
                dst.write(motif.data[:, :h, :w], window=Window(col, row, w, h))
    os.replace(tmp, path)
    return path


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc), those still running."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
            pids.append(p)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def tree_rss_bytes(pid: int) -> dict[int, int]:
    """Proportional resident memory (PSS) in bytes of ``pid`` and each descendant (Linux /proc).

    PSS, not RSS: forked workers share the parent's pages (torch's libraries), and RSS would
    count those once per process.
    """
    rss = {}
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        rss[p] = int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return rss


def high_water_bytes(pid: int) -> int:
    """Peak resident memory of one process since it started its program (VmHWM, Linux), 0 if gone.

    Not wait4's or getrusage's ru_maxrss: a child's counts the memory of the parent it was forked
    from, so a benchmark that rendered a scene first would see its own size in every run.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@dataclass
class RunPeaks:
    """Wall time and memory peaks (bytes) of one command and the processes it started."""

    wall_s: float
    pss_tree: int  # largest sum of PSS over the process tree (shared pages once)
    pss_main: int  # the command's own process
    pss_others: int  # its descendants (reader workers)
    rss_largest: int  # largest VmHWM of any process in the tree


def sampled_run(cmd: list[str], env: dict, pss: bool = True) -> RunPeaks:
    """Run ``cmd`` to its end, sampling the memory of its process tree every 0.1 s; a failed
    command ends the benchmark.

    ``pss=False`` reads only each process's VmHWM (``/proc/PID/status``, microseconds) and leaves
    the PSS fields 0: reading ``smaps_rollup`` walks a process's page tables under its memory
    lock, 38 ms a sample for ``infer.py`` at 10 m, about a quarter of a core taken from the run
    it measures on a 2-core machine. Time runs with ``pss=False``; measure PSS in runs of its own.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    peaks = RunPeaks(0.0, 0, 0, 0, 0)
    done = threading.Event()

    def sample():
        while not done.is_set():
            if pss:
                sizes = tree_rss_bytes(proc.pid)
                peaks.pss_tree = max(peaks.pss_tree, sum(sizes.values()))
                peaks.pss_main = max(peaks.pss_main, sizes.get(proc.pid, 0))
                peaks.pss_others = max(peaks.pss_others, sum(v for k, v in sizes.items() if k != proc.pid))
            pids = list(sizes) if pss else tree_pids(proc.pid)
            peaks.rss_largest = max([peaks.rss_largest] + [high_water_bytes(q) for q in pids])
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    peaks.wall_s = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return peaks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=30000, help="scene side in pixels")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more infer.py options")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scene = make_big_scene(args.work / f"big_{args.size}px_0.5m.tif", args.size)
    print(f"scene {scene} ({scene.stat().st_size / 1e9:.2f} GB on disk), ready in {time.perf_counter() - t0:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(ROOT / "infer.py"), str(scene), "--aoi", "whole", "--berths", "none",
               "--threads", str(args.threads), "--out", tmp, "--quiet", *args.extra]
        run = sampled_run(cmd, dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
        record = json.loads((Path(tmp) / "run.json").read_text())
    s = record["scenes"][0]
    mpx = args.size * args.size / 1e6
    print("\n| scene | tiles | vessels | wall (s) | native Mpx/s | peak PSS, infer.py + workers (GB) |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.size} x {args.size} px at {GSD_M} m ({mpx:.0f} Mpx) | {s['tiles']} | {s['vessels_found']} | {run.wall_s:.0f} | "
          f"{mpx / run.wall_s:.1f} | {run.pss_tree / 1e9:.2f} |")
    print(f"peaks apart (GB): infer.py {run.pss_main / 1e9:.2f}, its reader workers {run.pss_others / 1e9:.2f} (PSS); "
          f"peak RSS of the largest process {run.rss_largest / 1e9:.2f} (VmHWM)")
    print(f"rank-0 split (s): {record['rank0_timing_s']}")
    extra = " --extra " + " ".join(args.extra) if args.extra else ""
    print(f"\nreproduce: python bench/infer_memory.py --size {args.size} --threads {args.threads}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
