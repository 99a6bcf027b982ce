"""Convolutions with their ReLU and residual addition in one oneDNN call, for CPU inference.

In eager PyTorch every ReLU and every residual ``out += identity`` is a pass of its own over a
feature map. On the 1,696 px tiles of a 10 m scene those maps are 424 x 424 x 64 at stride 4, and
on 2 cores of an AMX Xeon fusing the ReLUs and additions took the network from 195 to 154 ms a
tile (``bench/model_speed.py --tile-px 1696 --stages``, with and without ``--no-cpu-fusion``). oneDNN applies them as post-ops of the convolution while its
output is still in cache. PyTorch exposes that fusion as the ops that ``torch.compile``'s CPU
backend emits (``torch.ops.mkldnn._convolution_pointwise``); calling them directly gives the
fusion without compiling (a compiled process spent 3.5 s before its first tile, BENCHMARKS.md).

The ops are internal to PyTorch, so :func:`fusion_works` checks them against the plain modules on
a small input before anything is replaced, and every fused module falls back to the plain
computation off the CPU. The maps equal the plain ones to bfloat16 rounding.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from .precision import compute_dtype


def _conv_args(conv: nn.Conv2d) -> tuple:
    return list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups


class ConvReLU(nn.Module):
    """``relu(conv(x))`` with the ReLU as the convolution's post-op on the CPU."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return F.relu(self.conv(x))
        dtype = compute_dtype(x)
        w, b = self.conv.weight.to(dtype), self.conv.bias.to(dtype)
        return torch.ops.mkldnn._convolution_pointwise(x.to(dtype), w, b, *_conv_args(self.conv), "relu", [], "")


class FusedBasicBlock(nn.Module):
    """A torchvision ResNet ``BasicBlock`` whose BatchNorms are folded: ``conv1`` with its ReLU, and
    ``conv2`` adding the identity and applying the last ReLU in the same call (into a copy of the
    block's input, or into the downsampled identity, which no one else holds)."""

    def __init__(self, block: BasicBlock):
        super().__init__()
        self.conv1 = ConvReLU(block.conv1)
        self.conv2 = block.conv2
        self.downsample = block.downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            identity = x if self.downsample is None else self.downsample(x)
            return F.relu(self.conv2(self.conv1(x)) + identity)
        out = self.conv1(x)
        dtype = out.dtype
        # The identity is written over with the result: the block's own input must not be.
        if self.downsample is None:
            identity = x.to(dtype).clone(memory_format=torch.channels_last)
        else:
            identity = self.downsample(x).to(dtype).contiguous(memory_format=torch.channels_last)
        w, b = self.conv2.weight.to(dtype), self.conv2.bias.to(dtype)
        return torch.ops.mkldnn._convolution_pointwise_.binary(identity, out, w, b, *_conv_args(self.conv2), "add", 1.0, "relu", [], "")


def _is_plain_basic_block(m: nn.Module) -> bool:
    """A BasicBlock whose BatchNorms were folded into its convolutions (they carry a bias now)."""
    return (isinstance(m, BasicBlock) and isinstance(m.bn1, nn.Identity) and isinstance(m.bn2, nn.Identity)
            and m.conv1.bias is not None and m.conv2.bias is not None)


def fuse_activations(model: nn.Module) -> int:
    """Replace, in place, each folded BasicBlock by :class:`FusedBasicBlock` and each convolution
    that a ReLU follows (with only folded-away BatchNorms between) in an ``nn.Sequential`` by
    :class:`ConvReLU`; returns how many modules were replaced."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if _is_plain_basic_block(child):
                setattr(parent, name, FusedBasicBlock(child))
                count += 1
        if isinstance(parent, nn.Sequential):
            items = list(parent)
            for i, item in enumerate(items):
                if not (isinstance(item, nn.Conv2d) and item.bias is not None):
                    continue
                j = i + 1
                while j < len(items) and isinstance(items[j], nn.Identity):
                    j += 1
                if j < len(items) and type(items[j]) is nn.ReLU:
                    parent[i] = ConvReLU(item)
                    parent[j] = nn.Identity()
                    count += 1
    return count


@functools.cache
def fusion_works() -> bool:
    """Whether this PyTorch build has the fused oneDNN ops and they compute what the plain
    modules do (a folded BasicBlock, float32 and bfloat16); a property of the build, probed once."""
    if not torch.backends.mkldnn.is_available():
        return False
    # fork_rng: the probe's random weights leave the caller's random stream where it was.
    with torch.no_grad(), torch.autocast("cpu", enabled=False), torch.random.fork_rng(devices=[]):
        return _probe()


def _probe() -> bool:
    try:
        torch.manual_seed(0)
        block = BasicBlock(8, 8)
        block.bn1, block.bn2 = nn.Identity(), nn.Identity()
        block.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        block.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        block = block.eval().to(memory_format=torch.channels_last)
        x = torch.randn(1, 8, 12, 10).contiguous(memory_format=torch.channels_last)
        before = x.clone()
        fused = FusedBasicBlock(block)
        if not torch.allclose(fused(x), block(before.clone()), atol=1e-4, rtol=1e-4) or not torch.equal(x, before):
            return False
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got, want = fused(x.bfloat16()), block(x.bfloat16())
        return bool(torch.allclose(got.float(), want.float(), atol=0.1, rtol=0.05))
    except (RuntimeError, AttributeError, TypeError):
        return False
