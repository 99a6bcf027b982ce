"""How a tile reaches the model at the working GSD: the one place that decides it, for
``infer.py``'s reading workers (``batch.py``) and for evaluation (``predict.py``) alike.

Tiles the model sees finer than the scene's pixels are upsampled where the model runs.

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

import numpy as np
import torch
import torch.nn.functional as F

from ..io.scene import Scene
from ..io.tiles import Tile


def read_for_model(scene: Scene, tile: Tile, tile_px: int, pad_multiple: int | None) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int] | None]:
    """``tile`` as a reader passes it on: (image, valid, work_hw).

    A tile the model sees finer than the scene's pixels (``Tile.upsamples``) comes at native
    size with its validity (None when all valid) and its working size (rows, cols), for
    :func:`to_working`; any other is read at the working GSD by GDAL, padded as
    ``Scene.read_tile`` pads (to a multiple of ``pad_multiple``, or to ``tile_px`` square when
    None), with valid and work_hw None.
    """
    if tile.upsamples:
        image, valid = scene.read_native(tile)
        return image, (None if valid.all() else valid), (tile.out_height, tile.out_width)
    return scene.read_tile(tile, tile_px, pad_multiple)[0], None, None


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
