"""Which mixed precision a device runs fastest with, and the autocast context for it.

float16 with a gradient scaler on CUDA; bfloat16 on CPUs with native bf16 units (Intel AMX or
AVX512-BF16), where oneDNN runs bf16 convolutions several times faster than float32; float32
everywhere else (AMD EPYC Zen 3 and older, ARM), where emulated bf16 is slower than float32.
Weights and the loss stay float32 in every case: autocast only lowers the convolutions.
"""

from __future__ import annotations

import contextlib
import functools

import torch


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AMX tiles or AVX512-BF16); probed once."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    for name in probes:  # private but stable since torch 2.1; a missing probe means "not known"
        fn = getattr(torch.cpu, name, None)
        if fn is not None:
            try:
                if fn():
                    return True
            except RuntimeError:
                continue
    return False


def amp_dtype(device: torch.device | str, amp: bool) -> torch.dtype | None:
    """The autocast dtype for ``device`` when mixed precision is wanted (``amp``), else None.

    CUDA: float16. CPU: bfloat16 only where the CPU has native bf16, else None (float32).
    """
    device = torch.device(device)
    if not amp:
        return None
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype an autocast-eligible op on ``x`` runs in here: the autocast dtype of ``x``'s
    device when autocast is on there, else ``x``'s own (for layers that cast by hand)."""
    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else x.dtype


def describe(dtype: torch.dtype | None) -> str:
    """A short name for logs and records: "bfloat16", "float16" or "float32"."""
    return "float32" if dtype is None else str(dtype).removeprefix("torch.")
