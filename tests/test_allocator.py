"""The allocator setting that keeps freed tile memory: large blocks are reused, not faulted in anew.

Page faults are counted, not seconds: each block the kernel hands out anew costs one minor fault
per 4 KB page on first touch, which is what made every layer of a large tile slow.
"""

import subprocess
import sys
import textwrap

import pytest

from detector.model.allocator import glibc

PROBE = textwrap.dedent("""
    import resource, sys, torch
    from detector.model.allocator import retain_freed_memory
    applied = retain_freed_memory() if sys.argv[1] == "retain" else False
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    def tile_map():  # a feature map larger than glibc's largest mmap threshold (32 MB)
        x = torch.empty(64 << 20, dtype=torch.uint8)
        x.fill_(1)
        del x
    for _ in range(12):  # warm-up: the heap grows until freed blocks fit the next request
        tile_map()
    f0 = faults()
    for _ in range(5):
        tile_map()
    print(applied, (faults() - f0) / 5)
""")


def _faults_per_map(mode: str) -> tuple[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout.split()
    return out[0], float(out[1])


@pytest.mark.skipif(glibc() is None, reason="the setting exists for glibc's malloc only")
def test_freed_tile_memory_is_reused_instead_of_faulted_in_again():
    pages = (64 << 20) // 4096
    applied, retained = _faults_per_map("retain")
    _, released = _faults_per_map("system")
    assert applied == "True"
    assert released > 0.5 * pages  # glibc's default: every 64 MB block is mapped and faulted in anew
    assert retained < 0.01 * pages  # kept: the next block reuses pages already resident


def test_other_c_libraries_are_left_alone(monkeypatch):
    import detector.model.allocator as allocator

    monkeypatch.setattr(allocator, "glibc", lambda: None)
    assert allocator.retain_freed_memory() is False
