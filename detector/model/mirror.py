"""Test-time mirroring: the head maps of a tile and of its left-right mirror image, averaged.

The mirror image goes through the network in the same batch; its maps are mirrored back, the
channels that change sign under a mirror are negated, and the two sets of maps are averaged
cell by cell (the flip test of CenterNet, Zhou et al. 2019). A mirror turns a hull's heading
``h`` into ``pi - h`` and a point ``x`` into ``width - x``, so the sub-cell offset along x, the
axis' ``sin 2a`` and the bow's ``cos h`` change sign; the heatmap, sizes and type do not.

Two readings of every tile: about twice the network's time. On the held-out real splits it
lifted the model shipped on 2026-12-03 on every one (model card, *Mirrored reading*).
"""

from __future__ import annotations

import torch
from torch import nn

# Map name -> channel that changes sign when the image is mirrored left-right (x -> width - x).
MIRROR_NEGATED = {"offset": 0, "axis": 1, "bow": 0}


def unmirror(maps: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Head maps of a left-right mirrored image, as the unmirrored image's maps would read."""
    out = {}
    for name, m in maps.items():
        m = m.flip(-1)
        if name in MIRROR_NEGATED:
            sign = torch.ones(m.shape[1], dtype=m.dtype, device=m.device)
            sign[MIRROR_NEGATED[name]] = -1
            m = m * sign.view(1, -1, 1, 1)
        out[name] = m
    return out


def mean_maps(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The cell-by-cell mean of two sets of head maps: centre probabilities averaged (returned as
    a logit, as the network gives them), every other map averaged as it is."""
    out = {}
    for name in a:
        x, y = a[name].float(), b[name].float()
        if name == "heat":
            p = 0.5 * (torch.sigmoid(x) + torch.sigmoid(y))
            out[name] = torch.logit(p, eps=1e-6)
        else:
            out[name] = 0.5 * (x + y)
    return out


class MirrorMean(nn.Module):
    """``net`` read on each tile and on its mirror image, the two sets of maps averaged; the
    same inputs and outputs as ``net`` (a detector of ``network.py``, fused or not)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        n = images.shape[0]
        both = self.net(torch.cat([images, images.flip(-1)]))
        return mean_maps({k: v[:n] for k, v in both.items()}, unmirror({k: v[n:] for k, v in both.items()}))


def mirrored(net: nn.Module, on: bool) -> nn.Module:
    """``net`` wrapped in :class:`MirrorMean` when ``on``, else ``net`` itself."""
    return MirrorMean(net) if on else net
