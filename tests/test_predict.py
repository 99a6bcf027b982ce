"""Cross-tile merge: a hull cut by an inner tile edge is left to the tile that holds it whole."""

from __future__ import annotations

import numpy as np
import torch

from detector.infer.predict import tile_to_scene
from detector.io.tiles import Tile
from detector.model.network import TileDetections


def _dets(obb):
    obb = torch.tensor(obb, dtype=torch.float32)
    n = len(obb)
    return TileDetections(obb, torch.full((n,), 0.9), torch.full((n,), 0.8), torch.full((n,), 0.7))


def test_hull_at_an_inner_edge_is_dropped_at_a_scene_edge_kept():
    # A 100 x 100 working-pixel tile at scene offset (200, 0), half scale (2 scene px per working px).
    tile = Tile(col_off=200, row_off=0, width=200, height=200, out_width=100, out_height=100)
    obb = [[50, 50, 20, 4, 0.0],   # well inside
           [2, 50, 20, 4, 0.0],    # cut by the left edge, which is inside a 1000 px scene
           [50, 1, 20, 4, 0.0]]    # cut by the top edge, which is the scene's own edge
    dets = tile_to_scene(_dets(obb), tile, scene_w=1000, scene_h=1000, margin_px=1.0)
    corners = dets.corners
    assert len(corners) == 2
    centres = corners.mean(axis=1)
    assert np.allclose(centres[0], [300, 100]) and np.allclose(centres[1], [300, 2])
    # Lengths double in scene pixels at this scale.
    assert np.linalg.norm(corners[0, 0] - corners[0, 3]) == np.float64(40.0)
