"""Copy-paste: hulls cut from a donor scene land wholly inside the receiving tile, clear of its
own hulls, with the bow label on the hull's bow end, and become training targets."""

from __future__ import annotations

import numpy as np
import shapely
import torch

from detector.model.network import ModelConfig
from detector.train.datasets import AugmentConfig, TileDataset
from detector.train.labels import LabelledScene
from detector.train.paste import TileLabels

TILE = 128


def _scenes(tmp_path, make_geotiff):
    """A donor with one hull (stern grey, bow bright, bow at the right) and a receiver with one hull."""
    rng = np.random.default_rng(3)
    water = rng.integers(15, 30, (3, 200, 200)).astype(np.uint8)
    donor = water.copy()
    donor[:, 94:106, 60:100] = 120  # stern half
    donor[:, 94:106, 100:140] = 250  # bow half
    donor[:, :40, :40] = 250  # a bright quay: the 2-98 % stretch leaves the stern grey
    receiver = rng.integers(15, 30, (3, 200, 200)).astype(np.uint8)
    receiver[:, 40:50, 20:70] = 200
    d = make_geotiff("donor.tif", data=donor, dtype="uint8", width=200, height=200, pixel=3.0)
    r = make_geotiff("receiver.tif", data=receiver, dtype="uint8", width=200, height=200, pixel=3.0)
    bow_first = np.array([[[140, 106], [140, 94], [60, 94], [60, 106]]], float)
    own = np.array([[[70, 50], [70, 40], [20, 40], [20, 50]]], float)
    return [LabelledScene(d, bow_first, np.array([True]), np.array([0])),
            LabelledScene(r, own, np.array([False]), np.array([1]), box_only=np.array([True]))]


def test_pasted_hulls_fit_the_tile_clear_of_its_hulls_bow_on_the_bow(tmp_path, make_geotiff):
    scenes = _scenes(tmp_path, make_geotiff)
    ds = TileDataset(scenes, ModelConfig(work_gsd_min_m=3.0), TILE, AugmentConfig(copy_paste=1.0, gsd_jitter=0.0, positive_share=0.0))
    assert [k for k, _ in ds.donors] == [0]  # a box-only label has no outline to cut
    pasted_total = 0
    for seed in range(12):
        rng = np.random.default_rng([seed, 1])
        tile, work = ds.window(1, rng)
        rgb, valid = ds.scene(1).read_tile(tile, TILE)
        own = scenes[1].corners.copy()
        own[..., 0] = (own[..., 0] - tile.col_off) / tile.scale_x
        own[..., 1] = (own[..., 1] - tile.row_off) / tile.scale_y
        labels = TileLabels(own, np.array([False]), np.array([1]), np.array([True]), np.array([True]), np.array([False]))
        image = torch.from_numpy(rgb.copy())
        n = ds.paste_hulls(image, valid, labels, work, rng)
        pasted_total += n
        assert len(labels.corners) == 1 + n
        for k in range(1, 1 + n):
            c = labels.corners[k]
            assert (c >= 0).all() and (c <= TILE).all(), c  # wholly inside the tile
            # 80 px at 3 m stays 80 px at a 3 m working GSD: the hull keeps its size in metres.
            assert abs(np.linalg.norm(c[:2].mean(0) - c[2:].mean(0)) - 80.0) < 1.0
            hull = shapely.Polygon(c)
            assert not hull.intersects(shapely.Polygon(labels.corners[0]))  # the tile's own hull stays visible
            for j in range(1, k):
                assert not hull.intersects(shapely.Polygon(labels.corners[j]))
            bow, stern = c[:2].mean(0), c[2:].mean(0)

            def grey(p):
                x, y = np.clip(np.round(p).astype(int), 0, TILE - 1)
                return float(image[:, y, x].mean())

            assert grey(bow * 0.8 + stern * 0.2) > grey(stern * 0.8 + bow * 0.2) + 0.2, seed  # the bright end is the bow
            assert labels.has_bow[k] and labels.type_code[k] == 0 and not labels.box_only[k]
    assert pasted_total >= 12  # most tiles find room for at least one


def test_pasted_hulls_become_targets(tmp_path, make_geotiff):
    scenes = _scenes(tmp_path, make_geotiff)
    plain = TileDataset(scenes, ModelConfig(work_gsd_min_m=3.0), TILE, AugmentConfig(copy_paste=0.0, positive_share=0.0))
    pasting = TileDataset(scenes, ModelConfig(work_gsd_min_m=3.0), TILE, AugmentConfig(copy_paste=1.0, positive_share=0.0))
    peaks_plain = sum(int((plain[(1, 0, 0, d)][1]["heat"] >= 1).sum()) for d in range(8))
    peaks_pasted = sum(int((pasting[(1, 0, 0, d)][1]["heat"] >= 1).sum()) for d in range(8))
    assert peaks_pasted >= peaks_plain + 8, (peaks_plain, peaks_pasted)
    a, b = pasting[(1, 0, 0, 3)], pasting[(1, 0, 0, 3)]
    assert torch.equal(a[0], b[0])  # a draw stays a function of its key


def test_scenes_coarser_than_the_paste_ceiling_receive_no_hulls(tmp_path, make_geotiff):
    scenes = _scenes(tmp_path, make_geotiff)  # both at 3 m
    cfg = ModelConfig(work_gsd_min_m=3.0)
    plain = TileDataset(scenes, cfg, TILE, AugmentConfig(positive_share=0.0))
    kept_clear = TileDataset(scenes, cfg, TILE, AugmentConfig(copy_paste=1.0, positive_share=0.0, paste_gsd_max_m=2.0))
    pasting = TileDataset(scenes, cfg, TILE, AugmentConfig(copy_paste=1.0, positive_share=0.0, paste_gsd_max_m=4.0))
    for d in range(8):
        a, b = plain[(1, 0, 0, d)], kept_clear[(1, 0, 0, d)]
        assert torch.equal(a[0], b[0]) and torch.equal(a[1]["heat"], b[1]["heat"])  # over the 2 m ceiling: as without pasting
    peaks_plain = sum(int((plain[(1, 0, 0, d)][1]["heat"] >= 1).sum()) for d in range(8))
    peaks_pasted = sum(int((pasting[(1, 0, 0, d)][1]["heat"] >= 1).sum()) for d in range(8))
    assert peaks_pasted >= peaks_plain + 8  # under a 4 m ceiling the scene receives
