"""Distillation: the loss measures a student's distance from its teacher's maps where it matters,
a student trained on that loss alone comes closer to the teacher, and train.py --teacher builds a
lighter student that reads scenes as its teacher does."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from detector.model.network import HEAD_CHANNELS, ModelConfig, build, load_model, read_checkpoint, save_checkpoint
from detector.model.targets import LOSS_WEIGHTS
from detector.train.datasets import AugmentConfig, TileDataset, mixture_weights
from detector.train.distill import distillation_loss, load_teacher
from detector.train.engine import TrainConfig, train
from detector.train.labels import read_truth_dir

ROOT = Path(__file__).resolve().parents[1]


def _maps(seed: int) -> dict[str, torch.Tensor]:
    """Head maps of two 32 x 32-cell tiles with one confident vessel centre at cell (10, 12) of each."""
    g = torch.Generator().manual_seed(seed)
    out = {k: torch.randn(2, c, 32, 32, generator=g) for k, c in HEAD_CHANNELS.items()}
    out["heat"] = torch.full((2, 1, 32, 32), -8.0)
    out["heat"][:, :, 10, 12] = 4.0
    return out


def test_loss_is_zero_for_the_teachers_own_maps_and_grows_where_the_teacher_sees_a_vessel():
    teacher = _maps(0)
    same = {k: v.clone() for k, v in teacher.items()}
    assert float(distillation_loss(same, teacher)) == pytest.approx(0.0, abs=1e-6)

    missed = {k: v.clone() for k, v in teacher.items()}
    missed["heat"][:, :, 10, 12] = -4.0  # the student misses the vessel
    turned = {k: v.clone() for k, v in teacher.items()}
    turned["axis"][:, :, 10, 12] = -turned["axis"][:, :, 10, 12]  # right place, wrong heading
    far = {k: v.clone() for k, v in teacher.items()}
    far["axis"][:, :, 25, 3] = -far["axis"][:, :, 25, 3]  # a wrong heading on open water
    assert float(distillation_loss(missed, teacher)) > 0.5
    assert float(distillation_loss(turned, teacher)) > 0.1
    # Regressions away from any vessel the teacher sees do not count.
    assert float(distillation_loss(far, teacher)) < 1e-3

    grads = {k: v.clone().requires_grad_(True) for k, v in missed.items()}
    distillation_loss(grads, teacher).backward()
    assert float(grads["heat"].grad[0, 0, 10, 12]) < 0  # the gradient raises the missed centre


def _distance(student, teacher, images) -> float:
    with torch.no_grad():
        return float(distillation_loss(student(images), teacher(images)))


def test_a_student_trained_on_the_teacher_alone_comes_closer_to_it(clear_port, tiny_model, tmp_path):
    labelled = read_truth_dir(clear_port["scenes"])
    student_cfg = replace(ModelConfig(), backbone="regnet_x_400mf", fpn_channels=32)
    cfg = TrainConfig(epochs=3, draws_per_epoch=96, batch_size=8, lr=3e-3, tile_px=128, workers=0, seed=3,
                      loss_weights={k: 0.0 for k in LOSS_WEIGHTS}, teacher=str(tiny_model["path"]))
    dataset = TileDataset(labelled, student_cfg, cfg.tile_px, AugmentConfig(enabled=False, positive_share=0.9))
    last = train(student_cfg, cfg, dataset, mixture_weights([labelled], [1.0]), tmp_path, progress=False)

    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # With the labels weighed at zero, the whole loss is the distance from the teacher.
    assert all(float(r["loss_total"]) == pytest.approx(float(r["loss_distill"]) * cfg.distill_weight, rel=1e-4)
               for r in rows)
    assert float(rows[-1]["loss_distill"]) < float(rows[0]["loss_distill"])

    teacher = load_teacher(tiny_model["path"], torch.device("cpu"), torch.contiguous_format)
    student, scfg, _ = load_model(last)
    assert scfg.backbone == "regnet_x_400mf"
    images = torch.stack([dataset[(i % len(labelled), 99, 0, i)][0] for i in range(8)])  # tiles of a seed it never drew
    untrained = build(student_cfg).eval()
    assert _distance(student, teacher, images) < _distance(untrained, teacher, images)
    assert read_checkpoint(last)["train_config"]["teacher"] == str(tiny_model["path"])


def test_train_cli_student_takes_the_teachers_config_but_its_trunk(clear_port, tiny_model, tmp_path):
    model, cfg, meta = load_model(tiny_model["path"])
    teacher_path = tmp_path / "teacher.pt"
    save_checkpoint(teacher_path, model, replace(cfg, work_gsd_max_m=8.0), meta)
    cmd = [sys.executable, str(ROOT / "train.py"), "--teacher", str(teacher_path), "--backbone", "regnet_x_400mf",
           "--fpn-channels", "32", "--data", f"truth:{clear_port['scenes']}", "--epochs", "1", "--draws-per-epoch", "8",
           "--batch-size", "4", "--tile-px", "128", "--workers", "0", "--threads", "1", "--out", str(tmp_path / "student"),
           "--export", str(tmp_path / "student.pt"), "--quiet"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _, scfg, _ = load_model(tmp_path / "student.pt")
    assert (scfg.backbone, scfg.fpn_channels, scfg.work_gsd_max_m) == ("regnet_x_400mf", 32, 8.0)

    cmd[cmd.index("--teacher") + 1] = str(tmp_path / "no-such-teacher.pt")
    refused = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "no-such-teacher.pt" in refused.stderr and "Traceback" not in refused.stderr

    # A resumed run keeps its teacher; when that file is gone it says so before any training.
    teacher_path.unlink()
    resumed = subprocess.run([sys.executable, str(ROOT / "train.py"), "--resume", str(tmp_path / "student" / "last.pt"),
                              "--data", f"truth:{clear_port['scenes']}",
                              "--out", str(tmp_path / "student"), "--quiet"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 2 and "teacher.pt" in resumed.stderr and "Traceback" not in resumed.stderr
