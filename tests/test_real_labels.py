"""The real labelled sets' formats: bow-stern keypoints, axis-aligned boxes only, uncertain GSDs,
splits by whole source; the envelope loss for box-only labels; and a tiny seeded run on real images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.model.geometry import corners_to_obb, obb_to_corners
from detector.model.network import ModelConfig
from detector.model.targets import detection_loss, encode, envelope_px
from detector.train.datasets import AugmentConfig, TileDataset, mixture_weights
from detector.train.evaluate import SceneResult, summarise
from detector.train.labels import LabelError, read_coco
from detector.train.sources import in_holdout, select_holdout

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KEYPOINT_CATEGORY = {"id": 1, "name": "vessel", "keypoints": ["bow", "stern"], "skeleton": [[1, 2]]}


def _write(tmp_path, images, anns, categories=(KEYPOINT_CATEGORY,)) -> Path:
    doc = {"images": images, "categories": list(categories),
           "annotations": [dict(a, id=i + 1, category_id=1) for i, a in enumerate(anns)]}
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    return path


def test_bow_and_stern_keypoints_give_axis_length_and_bow(tmp_path, make_geotiff):
    image = make_geotiff("harbour.tif", epsg=None)
    # Bow up-right of the stern: 40 px long; the beam is the label's estimate.
    ann = {"image_id": 1, "keypoints": [60, 20, 2, 28, 44, 2], "bbox": [28, 20, 32, 24], "beam_px_estimated": 6.0,
           "segmentation": [[62, 25, 58, 15, 26, 39, 30, 49]]}
    no_beam = {"image_id": 1, "keypoints": [10, 70, 2, 10, 40, 2], "bbox": [8, 40, 4, 30],
               "segmentation": [[12, 70, 8, 70, 8, 40, 12, 40]]}
    unlabelled = {"image_id": 1, "keypoints": [0, 0, 0, 0, 0, 0], "bbox": [70, 60, 10, 4]}
    path = _write(tmp_path, [{"id": 1, "file_name": image.name, "width": 96, "height": 80, "group": "test",
                              "gsd_m": 1.67, "gsd_m_range": [0.9, 2.0]}], [ann, no_beam, unlabelled])
    (scene,) = read_coco(path)
    obb = corners_to_obb(scene.corners)
    assert obb[0, 2] == pytest.approx(40.0) and obb[0, 3] == pytest.approx(6.0)
    assert obb[0, :2] == pytest.approx([44, 32])
    assert math.degrees(obb[0, 4]) == pytest.approx(math.degrees(math.atan2(20 - 44, 60 - 28)))  # stern -> bow
    assert obb[1, 3] == pytest.approx(4.0)  # no estimate: the polygon's short side, a measurement
    assert scene.has_bow.tolist() == [True, True, False]
    assert scene.beam_known.tolist() == [False, True, True]
    assert scene.box_only.tolist() == [False, False, True]  # no bow, no polygon: a box
    assert scene.group == "test" and scene.gsd_m == 1.67 and scene.gsd_range_m == (0.9, 2.0)


def test_box_only_images_take_their_gsd_from_the_range_and_bad_ranges_are_errors(tmp_path, make_geotiff):
    image = make_geotiff("chip.tif", epsg=None)
    img = {"id": 1, "file_name": image.name, "width": 96, "height": 80, "group": "chips", "source_name": "a_jpg",
           "gsd_m_range": [0.3, 3.0]}
    (scene,) = read_coco(_write(tmp_path, [img], [{"image_id": 1, "bbox": [10, 10, 20, 8]}], [{"id": 1, "name": "vessel"}]))
    assert scene.box_only.tolist() == [True] and scene.gsd_m == pytest.approx(math.sqrt(0.9))
    assert scene.meta["source_name"] == "a_jpg"
    # A GSD the user gives is taken as known.
    (given,) = read_coco(tmp_path / "labels.json", gsd_m=2.0)
    assert given.gsd_m == 2.0 and given.gsd_range_m is None
    with pytest.raises(LabelError, match="gsd_m_range"):
        read_coco(_write(tmp_path, [dict(img, gsd_m_range=[3.0, 0.3])], [{"image_id": 1, "bbox": [10, 10, 20, 8]}],
                         [{"id": 1, "name": "vessel"}]))


def test_holdout_splits_whole_sources_stably_in_about_the_share(tmp_path):
    from detector.train.labels import LabelledScene

    def scene(name, source):
        return LabelledScene(Path(f"{name}.jpg"), np.zeros((0, 4, 2)), np.zeros(0, bool), np.zeros(0, int),
                             meta={"source_name": source})

    scenes = [scene(f"img{k}", f"src{k // 2}") for k in range(4000)]  # two copies of every source
    held = select_holdout(scenes, 0.15, held_out=True)
    rest = select_holdout(scenes, 0.15, held_out=False)
    assert len(held) + len(rest) == len(scenes) and not {id(s) for s in held} & {id(s) for s in rest}
    assert 0.12 < len(held) / len(scenes) < 0.18
    held_sources = {s.meta["source_name"] for s in held}
    assert not held_sources & {s.meta["source_name"] for s in rest}  # copies of a source stay together
    assert [in_holdout(s, 0.15) for s in scenes[:50]] == [in_holdout(s, 0.15) for s in scenes[:50]]
    assert select_holdout(scenes, 0.0, held_out=True) == scenes
    unnamed = LabelledScene(Path("port.tif"), np.zeros((0, 4, 2)), np.zeros(0, bool), np.zeros(0, int))
    assert unnamed in select_holdout([unnamed], 0.15, True) and unnamed in select_holdout([unnamed], 0.15, False)


def _one_vessel_targets(length, beam, heading, box_only):
    obb = np.array([[32.0, 32.0, length, beam, heading]])
    if box_only:  # the label is the hull's axis-aligned envelope, as ships-aerial gives it
        ex, ey = envelope_px(length, beam, heading)
        obb = np.array([[32.0, 32.0, max(ex, ey), min(ex, ey), 0.0 if ex >= ey else math.pi / 2]])
    t = encode(obb, np.array([False]), np.array([-1]), (64, 64), 4, box_only=np.array([box_only]))
    return {k: v[None] for k, v in t.items()}


def _prediction(length, beam, heading, stride=4, shape=(16, 16)):
    """Head outputs that say exactly this hull at every cell (the envelope loss reads them where labelled)."""
    def full(*values):
        return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1).expand(1, len(values), *shape).clone()

    return {"heat": full(0.0), "type": full(0.0), "offset": full(0.5, 0.5), "bow": full(0.0, 0.0),
            "size": full(math.log(length / stride), math.log(beam / stride)),
            "axis": full(math.cos(2 * heading), math.sin(2 * heading))}


def test_envelope_loss_is_zero_for_the_right_rotated_box_and_grows_with_the_angle_error():
    length, beam, heading = 40.0, 8.0, math.radians(30)
    target = _one_vessel_targets(length, beam, heading, box_only=True)
    assert float(target["env_w"].sum()) > 0 and float(target["obb_w"].sum()) == 0  # no angle or size is claimed
    losses = [float(detection_loss(_prediction(length, beam, heading + math.radians(d)), target)["envelope"])
              for d in (0, 10, 25, 45)]
    assert losses[0] < 1e-3
    assert losses[0] < losses[1] < losses[2] < losses[3], losses
    # The mirror angle has the same envelope: a box cannot tell them apart, and the loss does not pretend to.
    mirror = float(detection_loss(_prediction(length, beam, -heading), target)["envelope"])
    assert mirror < 1e-3
    # Oriented labels are not touched by it.
    oriented = _one_vessel_targets(length, beam, heading, box_only=False)
    assert float(detection_loss(_prediction(length, beam, heading + 0.5), oriented)["envelope"]) == 0.0


def test_estimated_beams_weigh_less_in_the_size_loss():
    obb = np.array([[32.0, 32.0, 40.0, 8.0, 0.3]])
    known = encode(obb, np.array([True]), np.array([-1]), (64, 64), 4, beam_known=np.array([True]))
    guessed = encode(obb, np.array([True]), np.array([-1]), (64, 64), 4, beam_known=np.array([False]))
    wrong_beam = {k: v for k, v in _prediction(40.0, 16.0, 0.3).items()}
    a = float(detection_loss(wrong_beam, {k: v[None] for k, v in known.items()})["size"])
    b = float(detection_loss(wrong_beam, {k: v[None] for k, v in guessed.items()})["size"])
    assert 0 < b < a / 2


def test_box_only_truth_is_scored_against_the_envelope_of_the_detection():
    hull = obb_to_corners(np.array([[50.0, 50.0, 40.0, 8.0, math.radians(35)]]))
    box = np.array([[hull[0, :, 0].min(), hull[0, :, 1].min()], [hull[0, :, 0].max(), hull[0, :, 1].min()],
                    [hull[0, :, 0].max(), hull[0, :, 1].max()], [hull[0, :, 0].min(), hull[0, :, 1].max()]])[None]
    common = dict(name="s", gsd_m=3.0, pred_corners=hull, pred_score=np.array([0.9]), pred_p_tanker=np.array([0.5]),
                  true_corners=box, true_has_bow=np.array([False]), true_type=np.array([-1]))
    as_box = summarise([SceneResult(**common, true_box_only=np.array([True]))], 0.3)
    as_oriented = summarise([SceneResult(**common)], 0.3)
    assert as_box["ap50"] == pytest.approx(1.0) and as_box["recall"] == 1.0
    assert as_oriented["recall"] == 0.0  # the rotated hull covers under half of its own envelope
    assert math.isnan(as_box["length_mae_m"])  # a box's side is not a length


def test_tiles_of_an_uncertain_gsd_vary_in_scale(tmp_path, make_geotiff):
    image = make_geotiff("chip.tif", epsg=None, width=160, height=160)
    img = {"id": 1, "file_name": image.name, "width": 160, "height": 160, "gsd_m_range": [1.0, 4.0]}
    scenes = read_coco(_write(tmp_path, [img], [{"image_id": 1, "bbox": [70, 75, 20, 8]}], [{"id": 1, "name": "vessel"}]))
    ds = TileDataset(scenes, ModelConfig(), 64, AugmentConfig(gsd_jitter=0.0))
    feet = {round(ds.window(0, np.random.default_rng(k))[0].width) for k in range(20)}
    assert len(feet) > 5  # the same image is read at many scales


def _harbours(count: int):
    labels = SHARED / "harbours-ge" / "labels.json"
    if not labels.is_file():
        pytest.skip("../shared/data/harbours-ge is not present")
    scenes = [s for s in read_coco(labels) if s.group == "validate"]
    return sorted(scenes, key=lambda s: -len(s))[:count]


def test_tiny_seeded_run_on_real_harbour_images_learns_them(tmp_path):
    from detector.infer.predict import PredictConfig
    from detector.model.network import build, load_model
    from detector.train.engine import TrainConfig, evaluate_model, train

    scenes = _harbours(3)
    cfg = TrainConfig(epochs=6, draws_per_epoch=240, batch_size=8, lr=3e-3, tile_px=128, workers=0, seed=3)
    ds = TileDataset(scenes, ModelConfig(), cfg.tile_px, AugmentConfig(enabled=False, positive_share=0.9))
    last = train(ModelConfig(), cfg, ds, mixture_weights([scenes], [1.0]), tmp_path, progress=False)
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    losses = [float(r.split(",")[3]) for r in rows[1:]]
    # Margins measured on an AMX Xeon over three seeds, 1 and 2 threads, float32 and bf16: the loss
    # fell 3.4-3.5x and recall was 0.61-0.65 (31 hulls); the bars below leave room for other CPUs.
    assert losses[-1] < losses[0] / 2, losses
    model, mcfg, _ = load_model(last)
    low = PredictConfig(score_threshold=0.1)
    report, _ = evaluate_model(model, mcfg, scenes, low, progress=False)
    before, _ = evaluate_model(build(ModelConfig()).eval(), mcfg, scenes, low, progress=False)
    # Real hulls abreast at piers are harder than clean synthetic ones: most, not all, are found.
    assert report["all"]["recall"] >= 0.4 and before["all"]["recall"] == 0.0, report["all"]
