"""Tiles the model sees finer than the scene's pixels: read native, upsampled where the model runs.

The reference is what the reader did before (and still does for other tiles): GDAL's bilinear
``out_shape`` read, then the stretch clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from detector.infer.batch import PlanConfig, SceneJob, tile_loader
from detector.infer.predict import working_tile
from detector.model.network import ModelConfig
from detector.model.routed import Routing
from detector.io.scene import Scene
from detector.io.tiles import Tile


def _upsampled_tile(scene: Scene, factor: int) -> Tile:
    w, h = scene.info.width, scene.info.height
    return Tile(0, 0, w, h, w * factor, h * factor)


def _gdal(scene: Scene, tile: Tile, tile_px: int) -> np.ndarray:
    return scene.read_tile(tile, tile_px)[0]


def test_native_read_upsampled_by_torch_equals_gdal_inside_the_tile(make_geotiff):
    # Bright hulls that the stretch clips: clipping before resampling would thin them.
    scene = Scene(make_geotiff(pixel=10.0, width=90, height=70, seed=3))
    tile = _upsampled_tile(scene, 2)
    assert tile.upsamples
    ours = working_tile(scene, tile, 192).numpy()
    ref = _gdal(scene, tile, 192)
    assert ours.shape == ref.shape == (3, 192, 192)
    span = np.subtract(scene.info.stretch.hi, scene.info.stretch.lo).min()
    inner = (slice(None), slice(2, 138), slice(2, 178))
    # GDAL rounds its resampled uint16 values: at most half a file unit apart.
    assert np.abs(ours[inner] - ref[inner]).max() <= 0.51 / span
    assert (ours == 0).mean() > 0.005 and (ours == 1).mean() > 0.005  # the clip is exercised
    assert (ours[:, 140:] == 0).all() and (ours[:, :, 180:] == 0).all()  # padding
    # Only the outermost ring may differ: torch clamps to the window where GDAL reads on.
    assert np.abs(ours[:, :140, :180] - ref[:, :140, :180]).max() < 0.5


def test_nodata_is_left_out_of_the_interpolation_as_gdal_does(make_geotiff):
    data = np.full((3, 40, 40), 2000, np.uint16)
    data[:, :, :10] = 1000
    data[:, :, 30:] = 3000
    data[:, 24:, :] = 0  # a nodata swath across the bottom
    scene = Scene(make_geotiff(data=data, nodata=0, pixel=10.0, width=40, height=40))
    tile = _upsampled_tile(scene, 2)
    ours = working_tile(scene, tile, 80).numpy()
    ref = _gdal(scene, tile, 80)
    assert (ours[:, 49:] == 0).all() and (ref[:, 49:] == 0).all()
    # The last working rows before the swath keep the brightness of their valid sources
    # (2,000 of the 1,000-3,000 stretch) instead of fading towards the zeros beyond.
    assert np.allclose(ours[:, 44:48, 24:56], 0.5, atol=1e-3)
    assert np.abs(ours[:, 2:48, 2:78] - ref[:, 2:48, 2:78]).max() <= 0.51 / (3000 - 1000)


def test_the_reading_worker_passes_native_pixels_and_the_model_sees_the_working_tile(make_geotiff):
    data = np.random.default_rng(0).integers(500, 4000, (3, 120, 120)).astype(np.uint16)
    data[:, :, :10] = 0
    path = make_geotiff(data=data, nodata=0, pixel=10.0, width=120, height=120)
    plan = PlanConfig(tile_px=512, area_mode="whole", overlap_m=50.0)
    at_5m = Routing((float("inf"),), (ModelConfig(work_gsd_min_m=5.0, work_gsd_max_m=5.0),))
    batches = [b for b in tile_loader([SceneJob(0, str(path), "s")], plan, at_5m, 1, 0, False) if b.keys]
    assert batches
    scene = Scene(path)
    for b in batches:
        (_, tile), = b.keys
        assert b.work_hw == (tile.out_height, tile.out_width) and tile.upsamples
        # A quarter of the working pixels cross from the worker to the model's process.
        assert b.images.shape[-2:] == (tile.height, tile.width)
        x = b.model_input(torch.device("cpu"))
        assert x.shape[-2] % 16 == 0 and x.shape[-1] % 16 == 0
        expected = working_tile(scene, tile, max(x.shape[-2:]))[:, : x.shape[-2], : x.shape[-1]]
        assert torch.equal(x[0], expected)
