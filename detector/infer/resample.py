"""Upsample native-resolution tiles to the working GSD where the model runs.

A 10 m scene is read at 5 m: GDAL's bilinear ``out_shape`` reads in the reading worker cost
about 0.1 s a 1,696 px tile on one core and passed 4x the pixels to the model's process. The
worker now reads the window at its own pixels (``Scene.read_native``) and this module
interpolates it with the model's threads (or on its GPU), as GDAL would: bilinear with pixel
centres at half-pixel offsets, invalid pixels left out of the weights, the stretch clipped
after resampling. Inside a tile the result equals GDAL's to its rounding of integer file
values; on the outermost working pixels it clamps to the window's own edge where GDAL reads a
neighbour (those pixels lie in the tiles' overlap, where hulls at the edge are left to the
neighbouring tile).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_working(native: torch.Tensor, valid: torch.Tensor | None, work_hw: tuple[int, int], pad_to_hw: tuple[int, int]) -> torch.Tensor:
    """Working-GSD model input from native tiles.

    ``native`` is (n, 3, rows, cols) from ``Scene.read_native`` (stretched, not clipped, 0 where
    invalid); ``valid`` (n, rows, cols) bool, or None when every pixel is valid. Returns float32
    (n, 3, H, W) in [0, 1]: bilinear to ``work_hw`` = (rows, cols) working pixels, invalid
    pixels 0, zero-padded at the bottom and right to ``pad_to_hw`` (the padding is invalid).
    """
    x = native.float()
    if valid is None:
        x = F.interpolate(x, size=work_hw, mode="bilinear", align_corners=False)
    else:
        # Normalised convolution: a working pixel averages its valid sources only, and is
        # invalid (0) where it has none, as GDAL's resampling treats nodata.
        weight = F.interpolate(valid[:, None].float(), size=work_hw, mode="bilinear", align_corners=False)
        x = F.interpolate(x, size=work_hw, mode="bilinear", align_corners=False)
        x = torch.where(weight > 1e-6, x / weight.clamp_min(1e-6), torch.zeros((), dtype=x.dtype, device=x.device))
    x = x.clamp_(0.0, 1.0)
    rows, cols = pad_to_hw
    if (rows, cols) != tuple(x.shape[-2:]):
        x = F.pad(x, (0, cols - x.shape[-1], 0, rows - x.shape[-2]))
    return x
