"""The detector through ``torch.compile`` for inference, with eager PyTorch as the fallback.

Inductor fuses the network's convolutions, activations and additions into fewer kernels, so
the activation maps are read and written fewer times: on two cores of an AMX Xeon, in bf16, the
shipped network runs 1.3-1.6x more megapixels a second than eager (``bench/model_speed.py
--compile``). Compiling costs about 25 s the first time on a machine and about 2 s later (inductor
keeps what it built in its on-disk cache), so it pays on batch jobs and repeated runs, not on one
small scene: ``infer.py --compile`` asks for it. It needs a C++ compiler on a CPU (Triton on
CUDA); where compiling fails, the run says why and goes on eagerly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .precision import autocast

# Warm-up tiles: the smallest side the trunk's stride-16 level takes, so the warm-up is cheap.
WARMUP_PX = 64


def compile_for_inference(model: nn.Module, device: torch.device, amp: torch.dtype | None, batch_size: int,
                          log: Callable[[str], None] = print) -> tuple[Callable, bool]:
    """``model`` (in eval mode, fused, channels-last) compiled for tiles of any size, and whether it is.

    The graph is built for dynamic sizes so that the fitted tiles of each scene do not recompile;
    PyTorch still specialises a batch of one, so the warm-up runs a batch of one and, when
    ``batch_size`` allows, of two (``amp``: the autocast dtype the run will use, None for float32).
    Compiling happens in the warm-up, so any failure shows here: it is logged and the eager model
    returned.
    """
    if model.training:
        raise ValueError("compile a model in eval mode")
    model.requires_grad_(False)
    compiled = torch.compile(model, dynamic=True)
    try:
        with torch.no_grad(), autocast(device, amp):
            for b in sorted({1, min(batch_size, 2)}):
                x = torch.zeros(b, 3, WARMUP_PX, WARMUP_PX, device=device).contiguous(memory_format=torch.channels_last)
                compiled(x)
    except Exception as exc:  # noqa: BLE001 - inductor raises many types (no compiler, no Triton, ...)
        log(f"warning: --compile: compiling the model failed, running it eagerly ({type(exc).__name__}: {str(exc)[:300]})")
        return model, False
    return compiled, True
