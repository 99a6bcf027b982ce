"""Real (tiny, seeded) training runs: overfit and find, exact resume, torchrun with gloo, fine-tuning,
and checkpoints that are damaged or not ours."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.infer.predict import PredictConfig
from detector.model.network import ModelConfig, ModelError, build, load_model, read_checkpoint, save_checkpoint
from detector.train.datasets import AugmentConfig, TileDataset, mixture_weights
from detector.train.engine import TrainConfig, evaluate_model, train
from detector.train.evaluate import AP_SCORE_FLOOR, average_precision, summarise
from detector.train.labels import read_truth_dir

ROOT = Path(__file__).resolve().parents[1]
TILE = 128


def _run(scenes, out, cfg: TrainConfig, **kw):
    ds = TileDataset(scenes, ModelConfig(), cfg.tile_px, kw.pop("augment", AugmentConfig()))
    return train(ModelConfig(), cfg, ds, mixture_weights([scenes], [1.0]), out, progress=False, **kw)


FOUND_IOU = 0.5  # a vessel is found when a detection covers it at the IoU of AP50, the field's match


def _best_iou_per_vessel(model, mcfg, scenes, score_threshold: float) -> list[float]:
    """For every labelled vessel, the best oriented IoU of a detection scoring at least ``score_threshold``."""
    _, results = evaluate_model(model, mcfg, scenes, PredictConfig(score_threshold=score_threshold), progress=False)
    best = []
    for r in results:
        keep = r.pred_score >= score_threshold
        best += list(r.iou[keep].max(axis=0)) if keep.any() else [0.0] * len(r.true_corners)
    return best


def test_tiny_run_overfits_and_then_finds_those_vessels(clear_port, tiny_model):
    scenes = read_truth_dir(clear_port["scenes"])
    n = sum(len(s) for s in scenes)
    assert n >= 4
    losses = tiny_model["losses"]
    assert len(losses) == tiny_model["config"].epochs
    # It learns: the loss falls fourfold at least, and the last epochs are the lowest.
    assert losses[-1] < losses[0] / 4, losses
    assert min(losses[-3:]) == min(losses), losses

    model, mcfg, _ = load_model(tiny_model["path"])
    # A short run is not calibrated, so the bar is a low score; every vessel it trained on is found.
    found = _best_iou_per_vessel(model, mcfg, scenes, 0.1)
    assert len(found) == n and min(found) >= FOUND_IOU, found
    # The same untrained network finds none of them: the finding is learned.
    untrained = build(ModelConfig()).eval()
    before = _best_iou_per_vessel(untrained, mcfg, scenes, 0.1)
    assert sum(i >= FOUND_IOU for i in before) == 0, before


def test_ap_ranks_detections_below_the_operating_point(clear_port, tiny_model):
    scenes = read_truth_dir(clear_port["scenes"])
    model, mcfg, _ = load_model(tiny_model["path"])
    op = 0.5
    report, results = evaluate_model(model, mcfg, scenes, PredictConfig(score_threshold=op), progress=False)
    scores = np.concatenate([r.pred_score for r in results])
    assert scores.min() >= AP_SCORE_FLOOR and (scores < op).any(), scores
    # AP is the area under the whole curve: cut at the operating point it could only be smaller.
    cut = [replace(r, pred_corners=r.pred_corners[r.pred_score >= op], pred_score=r.pred_score[r.pred_score >= op],
                   pred_p_tanker=r.pred_p_tanker[r.pred_score >= op]) for r in results]
    assert report["all"]["ap50"] == pytest.approx(average_precision(results, 0.5))
    assert report["all"]["ap50"] >= average_precision(cut, 0.5)
    # The operating point's figures see only the detections at or above it.
    at_op = summarise(cut, op)
    for key in ("recall", "precision", "count_mae", "length_mae_m"):
        assert report["all"][key] == pytest.approx(at_op[key]), key


def test_resume_gives_the_weights_of_an_uninterrupted_run(tiny_set, tmp_path):
    scenes = read_truth_dir(tiny_set)
    cfg = TrainConfig(epochs=2, draws_per_epoch=8, batch_size=4, tile_px=TILE, workers=0, seed=2)
    straight = read_checkpoint(_run(scenes, tmp_path / "straight", cfg))

    def crash_at_second_epoch(epoch, model):
        if epoch == 2:
            raise KeyboardInterrupt  # killed before epoch 2 was saved

    with pytest.raises(KeyboardInterrupt):
        _run(scenes, tmp_path / "crashed", cfg, on_epoch=crash_at_second_epoch)
    assert read_checkpoint(tmp_path / "crashed" / "last.pt")["epoch"] == 1
    resumed = read_checkpoint(_run(scenes, tmp_path / "crashed", cfg, resume=tmp_path / "crashed" / "last.pt"))
    assert resumed["epoch"] == 2
    for k, v in straight["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    rows = (tmp_path / "crashed" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per epoch, none twice


def test_train_cli_two_process_gloo_then_fine_tune(tiny_set, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(ROOT / "train.py"),
           "--data", f"truth:{tiny_set}", "--epochs", "1", "--draws-per-epoch", "8", "--batch-size", "4",
           "--tile-px", str(TILE), "--workers", "0", "--device", "cpu", "--out", str(tmp_path / "ddp"), "--quiet"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ckpt = read_checkpoint(tmp_path / "ddp" / "last.pt")
    assert ckpt["epoch"] == 1 and all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())

    cmd = [sys.executable, str(ROOT / "train.py"), "--init", str(tmp_path / "ddp" / "last.pt"), "--data", f"truth:{tiny_set}",
           "--epochs", "1", "--draws-per-epoch", "8", "--batch-size", "4", "--tile-px", str(TILE), "--workers", "0",
           "--device", "cpu", "--out", str(tmp_path / "ft"), "--export", str(tmp_path / "ft.pt"), "--quiet"]
    done = subprocess.run(cmd + ["--work-gsd-max", "8"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    tuned, cfg, meta = load_model(tmp_path / "ft.pt")
    assert meta["init"].endswith("last.pt")
    assert cfg.work_gsd_max_m == 8.0  # the ceiling travels with the fine-tuned model
    refused = subprocess.run(cmd + ["--work-gsd-max", str(cfg.work_gsd_min_m / 2)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--work-gsd-max" in refused.stderr
    changed = [not torch.equal(v, tuned.state_dict()[k]) for k, v in ckpt["model"].items() if v.is_floating_point()]
    assert any(changed)
    assert "optimizer" not in torch.load(tmp_path / "ft.pt", weights_only=True)  # exported weights only


def test_damaged_and_foreign_checkpoints_give_clear_errors(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, build(ModelConfig()), ModelConfig(), {"note": "test"})
    model, cfg, meta = load_model(good)
    assert meta == {"note": "test"} and cfg == ModelConfig()

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelError, match="damaged or truncated"):
        load_model(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(ModelError, match="not a vostochny-detector checkpoint"):
        load_model(foreign)
    other_arch = tmp_path / "other.pt"
    ckpt = torch.load(good, weights_only=True)
    ckpt["model"].pop(next(iter(ckpt["model"])))
    torch.save(ckpt, other_arch)
    with pytest.raises(ModelError, match="does not match"):
        load_model(other_arch)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.pt")


def test_train_cli_reports_bad_data_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", "coco:" + str(tmp_path / "none.json"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr
