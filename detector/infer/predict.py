"""Run the detector over one scene: tiles at the working GSD, batched, merged in scene pixels.

A hull that reaches a tile edge inside the scene is dropped from that tile: the overlap (at
least the longest hull's diagonal, see ``io/tiles.py``) guarantees it lies whole in a neighbour.
What remains is merged across tiles with oriented-IoU NMS. ``batch.py`` runs the same two
steps (:func:`tile_to_scene`, :func:`merge`) over many scenes at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..io.scene import Scene
from ..io.tiles import DEFAULT_OVERLAP_M, Tile
from ..model.geometry import obb_to_corners, rotated_nms, touches_border
from ..model.mirror import mirrored
from ..model.network import ModelConfig, TileDetections, decode
from ..model.precision import amp_dtype, autocast
from .resample import read_for_model, to_working

EDGE_MARGIN_PX = 1.0  # a hull within this many working pixels of an inner tile edge is cut by it


@dataclass(frozen=True)
class PredictConfig:
    """Inference settings: ``score_threshold`` on vessel confidence, ``nms_iou`` for merging."""

    score_threshold: float = 0.3
    nms_iou: float = 0.4
    batch_size: int = 8
    overlap_m: float = DEFAULT_OVERLAP_M
    edge_margin_px: float = EDGE_MARGIN_PX
    amp: bool = True  # mixed precision: float16 on CUDA, bfloat16 on CPUs with native bf16 (detector.model.precision)
    tta: bool = False  # also read each tile mirrored and average the maps (detector.model.mirror): about 2x the network's time


@dataclass
class SceneDetections:
    """Vessels of one scene. ``corners`` (n, 4, 2) scene pixels, bow pair first."""

    corners: np.ndarray
    score: np.ndarray
    p_tanker: np.ndarray
    bow_confidence: np.ndarray
    work_gsd_m: float

    def __len__(self) -> int:
        return len(self.score)

    def subset(self, keep) -> "SceneDetections":
        """The detections selected by a boolean mask or index array."""
        return SceneDetections(self.corners[keep], self.score[keep], self.p_tanker[keep],
                               self.bow_confidence[keep], self.work_gsd_m)


def empty_detections(work_gsd_m: float) -> SceneDetections:
    """A scene with no vessels."""
    return SceneDetections(np.zeros((0, 4, 2)), np.zeros(0), np.zeros(0), np.zeros(0), work_gsd_m)


def tile_to_scene(dets: TileDetections, tile: Tile, scene_w: int, scene_h: int, margin_px: float) -> SceneDetections:
    """One tile's detections in scene pixels, without hulls cut by an inner tile edge."""
    obb = dets.obb.float().cpu().numpy().astype(np.float64)
    corners = obb_to_corners(obb)
    nan = float("nan")
    # Edges of the tile that are inside the scene: a hull touching them is whole elsewhere.
    bounds = (0.0 if tile.col_off > 0 else nan, 0.0 if tile.row_off > 0 else nan,
              float(tile.out_width) if tile.col_off + tile.width < scene_w else nan,
              float(tile.out_height) if tile.row_off + tile.height < scene_h else nan)
    keep = ~touches_border(corners, bounds, margin_px)
    corners = corners[keep]
    corners[..., 0] = tile.col_off + corners[..., 0] * tile.scale_x
    corners[..., 1] = tile.row_off + corners[..., 1] * tile.scale_y
    as_np = lambda t: t.float().cpu().numpy().astype(np.float64)[keep]  # noqa: E731
    return SceneDetections(corners, as_np(dets.score), as_np(dets.p_tanker), as_np(dets.bow_confidence), 0.0)


def merge(parts: list[SceneDetections], nms_iou: float, work_gsd_m: float) -> SceneDetections:
    """Merge per-tile detections of one scene with oriented-IoU NMS, highest score first."""
    if not parts:
        return empty_detections(work_gsd_m)
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    corners = np.concatenate([p.corners.reshape(-1, 4, 2) for p in parts])
    merged = SceneDetections(corners, cat("score"), cat("p_tanker"), cat("bow_confidence"), work_gsd_m)
    return merged.subset(rotated_nms(merged.corners, merged.score, nms_iou))


def working_tile(scene: Scene, tile: Tile, tile_px: int) -> torch.Tensor:
    """``tile`` as the model sees it, float32 (3, tile_px, tile_px), read as ``infer.py``'s
    workers read it: a tile finer than the scene's pixels is read native and upsampled by
    ``resample.to_working``, any other resampled by GDAL."""
    image, valid, work_hw = read_for_model(scene, tile, tile_px, None)
    x = torch.from_numpy(image)
    if work_hw is None:
        return x
    mask = None if valid is None else torch.from_numpy(valid)[None]
    return to_working(x[None], mask, work_hw, (tile_px, tile_px))[0]


@torch.no_grad()
def predict_scene(model: torch.nn.Module, cfg: ModelConfig, scene: Scene, pcfg: PredictConfig = PredictConfig(),
                  area_px=None, device: str | torch.device = "cpu", progress=None) -> SceneDetections:
    """Detect vessels in ``scene`` (or only in ``area_px``, scene-pixel geometry).

    ``progress``, if given, is called with the number of tiles finished after each batch.
    """
    device = torch.device(device)
    info = scene.info
    work = cfg.work_gsd_m(info.gsd_m)
    tiles = scene.tiles(work, cfg.tile_px, pcfg.overlap_m, area_px)
    parts = []
    amp = amp_dtype(device, pcfg.amp)
    net = mirrored(model, pcfg.tta)
    for start in range(0, len(tiles), pcfg.batch_size):
        batch = tiles[start:start + pcfg.batch_size]
        images = torch.stack([working_tile(scene, t, cfg.tile_px) for t in batch])
        x = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            out = net(x)
        for tile, dets in zip(batch, decode(out, cfg.stride, pcfg.score_threshold)):
            parts.append(tile_to_scene(dets, tile, info.width, info.height, pcfg.edge_margin_px))
        if progress is not None:
            progress(len(batch))
    return merge(parts, pcfg.nms_iou, work)
