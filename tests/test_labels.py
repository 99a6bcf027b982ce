"""Label readers: COCO (RLE, polygons, boxes), DOTA, truth.csv; training tiles from them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from detector.model.geometry import corners_to_obb
from detector.model.network import ModelConfig
from detector.train.datasets import AugmentConfig, DrawSampler, TileDataset, mixture_weights
from detector.train.labels import LabelError, read_coco, read_dota, read_truth_dir
from detector.train.sources import parse, select_groups

from .conftest import SEN2SHIPS


def _coco(tmp_path, image_path, anns, categories=({"id": 1, "name": "vessel"},)):
    doc = {"images": [{"id": 1, "file_name": image_path.name, "width": 96, "height": 80}],
           "annotations": [dict(a, id=i + 1, image_id=1, category_id=a.get("category_id", 1)) for i, a in enumerate(anns)],
           "categories": list(categories)}
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    return path


def test_coco_rle_polygon_and_box_become_oriented_boxes(tmp_path, make_geotiff):
    from pycocotools import mask as mask_utils

    image = make_geotiff("port.tif")
    mask = np.zeros((80, 96), np.uint8, order="F")
    mask[20:24, 10:40] = 1  # 30 x 4 px hull
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode()
    poly = [[60, 10, 80, 30, 77, 33, 57, 13]]  # a rotated rectangle
    labels = _coco(tmp_path, image, [{"segmentation": rle, "bbox": [10, 20, 30, 4]},
                                     {"segmentation": poly, "bbox": [57, 10, 23, 23]},
                                     {"bbox": [5, 50, 6, 20], "category_id": 2}],
                   categories=({"id": 1, "name": "vessel"}, {"id": 2, "name": "oil tanker"}))
    (scene,) = read_coco(labels)
    obb = corners_to_obb(scene.corners)
    assert obb[0, 2:4] == pytest.approx([30, 4])
    assert obb[0, :2] == pytest.approx([25, 22])
    assert obb[1, 2] == pytest.approx(math.hypot(20, 20)) and obb[1, 3] == pytest.approx(math.hypot(3, 3))
    assert obb[2, 2:4] == pytest.approx([20, 6]) and abs(math.cos(obb[2, 4])) < 1e-9  # tall box: length along y
    assert scene.type_code.tolist() == [-1, -1, 0]
    assert not scene.has_bow.any()


def test_coco_garbage_is_a_clear_error(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text("{not json")
    with pytest.raises(LabelError, match="labels.json"):
        read_coco(bad)


def test_dota_reader_keeps_vessels_and_reads_gsd(tmp_path, make_geotiff):
    image = make_geotiff("P0001.tif", epsg=None)
    labels = tmp_path / "labelTxt"
    labels.mkdir()
    (labels / "P0001.txt").write_text("imagesource:GoogleEarth\ngsd:0.5\n"
                                      "10 10 50 10 50 18 10 18 ship 0\n"
                                      "60 60 70 60 70 70 60 70 harbor 0\n")
    (scene,) = read_dota(labels, image.parent)
    assert len(scene) == 1 and scene.gsd_m == 0.5
    assert corners_to_obb(scene.corners)[0, 2:4] == pytest.approx([40, 8])
    (labels / "P0002.txt").write_text("1 2 3\n")
    with pytest.raises(LabelError, match="P0002"):
        read_dota(labels, image.parent)


def test_source_specs_and_group_selection(tmp_path):
    with pytest.raises(ValueError, match="unknown source kind"):
        parse("nonsense:1", tmp_path)
    with pytest.raises(ValueError, match="weight"):
        parse("truth:scenes@heavy", tmp_path)


@pytest.mark.skipif(not SEN2SHIPS.exists(), reason="sen2ships data not present")
def test_sen2ships_labels_read_as_oriented_boxes_inside_their_masks():
    scenes = read_coco(SEN2SHIPS / "labels.json")
    assert len(scenes) == 9 and sum(len(s) for s in scenes) == 169
    obb = np.concatenate([corners_to_obb(s.corners) for s in scenes])
    assert (obb[:, 2] >= obb[:, 3]).all() and (obb[:, 3] > 0).all()
    held = select_groups(scenes, drop=["valencia", "klang", "cartagena"])
    assert {s.group for s in held} == {"algiers", "casablanca", "gdynia", "genoa", "honolulu", "marseille"}


def test_training_tiles_are_deterministic_and_carry_vessels():
    scenes = read_truth_dir("scenes")
    cfg = ModelConfig()
    ds = TileDataset(scenes, cfg, 128, AugmentConfig(positive_share=1.0))
    sampler = DrawSampler(mixture_weights([scenes], [1.0]), 8, seed=3)
    keys = list(sampler)
    a = [ds[k] for k in keys]
    b = [TileDataset(scenes, cfg, 128, AugmentConfig(positive_share=1.0))[k] for k in keys]
    for (ia, ta), (ib, tb) in zip(a, b):
        assert torch.equal(ia, ib) and torch.equal(ta["heat"], tb["heat"])
    sampler.set_epoch(1)
    assert list(sampler) != keys
    assert sum(int((t["heat"] >= 1).sum()) for _, t in a) > 0


def test_augmentation_moves_the_bow_with_the_image():
    # One bright hull on dark water: after flips and rotations the bow end stays the bright end.
    scenes = read_truth_dir("scenes")
    ds = TileDataset(scenes, ModelConfig(), 128)
    image = torch.zeros(3, 128, 128)
    image[:, 60:68, 40:90] = 0.5
    image[:, 60:68, 80:90] = 1.0  # bow end bright
    corners = np.array([[[90, 68], [90, 60], [40, 60], [40, 68]]], float)
    for seed in range(12):
        img, c, _ = ds.augment(image.clone(), corners.copy(), torch.ones(128, 128, dtype=torch.bool), seed)
        bow, stern = c[0, :2].mean(axis=0), c[0, 2:].mean(axis=0)

        def grey_at(p):
            x, y = np.clip(np.round(p).astype(int), 0, 127)
            return float(img[:, y, x].mean())

        assert grey_at(bow * 0.9 + stern * 0.1) > grey_at(stern * 0.9 + bow * 0.1), seed


def test_many_scenes_keep_few_files_open(monkeypatch):
    import detector.train.datasets as datasets

    monkeypatch.setattr(datasets, "MAX_OPEN_FILES", 3)
    scenes = read_truth_dir("scenes")
    ds = TileDataset(scenes, ModelConfig(), 128)
    for k in range(len(scenes)):
        ds[(k, 0, 0, k)]
    open_now = [k for k, s in ds._known.items() if s._ds is not None]
    assert len(open_now) == 3 and len(ds._known) == len(scenes)
    image, _ = ds[(0, 0, 0, 99)]  # a closed scene reopens on demand
    assert image.shape == (3, 128, 128)
