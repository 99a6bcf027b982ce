"""Keep freed tensor memory in the process for the next tile, instead of handing it back to the
kernel after every layer.

glibc's malloc serves each block larger than its mmap threshold (at most 32 MB) with a fresh
``mmap`` and unmaps it on ``free``. The feature maps of a large inference tile are bigger than
that (a 1,696 px tile's stem output is 92 MB in bfloat16), so every layer of every tile asked the
kernel for new zeroed pages and took one page fault per 4 KB on first touch. On 2 cores of an
AMX Xeon that was a third of the network's time: a ReLU over that map took 41 ms, 10 ms with its
pages reused; the whole network on the tile 290 against 195 ms (``bench/model_speed.py --tile-px
1696 --stages --no-cpu-fusion``, with and without ``--allocator system``). Turning mmap off for
the heap keeps freed blocks for reuse, as the jemalloc/tcmalloc preloads that CPU inference
guides recommend do, without a preload.

The resident size stays near its peak once reached instead of falling between tiles, and the
heap's holes raise that peak a little (0.02-0.05 GB on the bench scenes, BENCHMARKS.md).
"""

from __future__ import annotations

import ctypes
import sys

# mallopt parameters from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# Free memory at the top of the heap is returned to the kernel only above this (bytes): more
# than any one run's working set of tiles, within mallopt's int argument.
TRIM_THRESHOLD_BYTES = 1 << 30


def glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (it has ``mallopt``), else None (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def retain_freed_memory() -> bool:
    """Make this process's malloc keep large freed blocks for reuse (glibc only).

    Affects allocations from now on, in this process and in processes it forks afterwards
    (DataLoader workers). Returns whether it was applied; on other C libraries it does nothing
    and returns False, and their allocator is left as it is.
    """
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
