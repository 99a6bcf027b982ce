"""Every benchmark script still starts: its options parse and its help prints.

The benchmarks themselves run for minutes and need the peers of ``bench/requirements.txt``,
so they are run on purpose; this only keeps them from rotting between runs.
"""

import subprocess
import sys
from pathlib import Path

import pytest

# Scripts, not the helpers they share (bench/seasons.py).
BENCH = sorted(p for p in (Path(__file__).resolve().parents[1] / "bench").glob("*.py") if "__main__" in p.read_text())


@pytest.mark.parametrize("script", BENCH, ids=[p.name for p in BENCH])
def test_bench_script_prints_its_help(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    # The docstring carries the command that reproduces the figures.
    assert f"bench/{script.name}" in done.stdout
