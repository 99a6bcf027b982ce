"""Mixed precision: which arithmetic each device gets, and bfloat16 inference against float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.infer.predict import PredictConfig, predict_scene
from detector.io.scene import Scene
from detector.model import precision
from detector.model.geometry import iou_matrix
from detector.model.network import load_model
from detector.train.labels import read_truth_dir


def test_float32_is_the_fallback_and_bf16_needs_native_support(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.amp_dtype("cpu", True) is None
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.amp_dtype("cpu", True) == torch.bfloat16
    assert precision.amp_dtype("cpu", False) is None  # --no-amp
    assert precision.amp_dtype("cuda", True) == torch.float16
    assert precision.describe(None) == "float32" and precision.describe(torch.bfloat16) == "bfloat16"
    with precision.autocast("cpu", None):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.skipif(not precision.cpu_has_native_bf16(), reason="this CPU has no native bf16: inference is float32 only")
def test_bf16_inference_finds_the_same_vessels_as_float32(clear_port, tiny_model):
    model, cfg, _ = load_model(tiny_model["path"])
    for ls in read_truth_dir(clear_port["scenes"]):
        with Scene(ls.path) as scene:
            full = predict_scene(model, cfg, scene, PredictConfig(amp=False))
            half = predict_scene(model, cfg, scene, PredictConfig(amp=True))
        assert len(half.score) == len(full.score) > 0
        iou = iou_matrix(full.corners, half.corners)
        assert np.all(iou.max(axis=1) > 0.9), iou  # each float32 box has its bf16 twin
        assert np.abs(np.sort(full.score) - np.sort(half.score)).max() < 0.05
