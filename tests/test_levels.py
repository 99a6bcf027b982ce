"""The stride-32 level (``levels=4``): a trained stride-16 model grows it without changing a
prediction, a tiny seeded run trains it, and inference runs it fused as it runs the others."""

from __future__ import annotations

import copy
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from detector.model.network import ModelConfig, build, fuse_for_inference, load_model, load_weights, read_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TILE = 128


def _trained_like(cfg: ModelConfig, seed: int = 0):
    """A network with random (non-initial) weights everywhere, BatchNorm statistics included."""
    torch.manual_seed(seed)
    model = build(cfg)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point() or name.startswith("fpn.inner_blocks.3."):
                continue  # the stride-32 lateral keeps its zeros, as build() leaves it
            if name.endswith("running_var"):
                t.copy_(torch.rand_like(t) * 0.5 + 0.75)
            else:
                t.add_(torch.randn_like(t) * 0.05)
    return model.eval()


def test_a_grown_level_starts_with_the_same_predictions(tmp_path):
    three = _trained_like(ModelConfig())
    four = build(replace(ModelConfig(), levels=4)).eval()
    load_weights(four, three.state_dict(), extend=True)
    x = torch.rand(2, 3, 160, 192)  # 160 / 32 is not whole: the stride-32 map rounds up and is cut back
    with torch.no_grad():
        a, b = three(x), four(x)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert four.layer4 is not None and sum(p.numel() for p in four.layer4.parameters()) < 3_000_000
    with pytest.raises(RuntimeError, match="cannot extend"):  # only the new level's keys may be missing
        state = three.state_dict()
        state.pop("layer1.0.conv1.weight")
        load_weights(build(replace(ModelConfig(), levels=4)), state, extend=True)
    with pytest.raises(ValueError, match="levels"):
        build(replace(ModelConfig(), levels=5))


def test_the_fused_four_level_network_matches_the_plain_one():
    cfg = replace(ModelConfig(), levels=4)
    model = _trained_like(cfg, seed=1)
    with torch.no_grad():  # a non-zero stride-32 lateral, so the new level counts
        model.fpn.inner_blocks[3][0].weight.normal_(0, 0.05)
        x = torch.rand(1, 3, 128, 128)
        want = model(x)
        got = fuse_for_inference(copy.deepcopy(model))(x)
    for k in want:
        scale = float(want[k].abs().max())  # random weights make large maps: float rounding scales with them
        assert float((want[k] - got[k]).abs().max()) <= 1e-4 * scale + 1e-5, k


def test_tiny_run_grows_and_trains_the_stride32_level(tiny_set, tmp_path):
    start = tmp_path / "three.pt"
    save_checkpoint(start, _trained_like(ModelConfig()), ModelConfig(), {})
    cmd = [sys.executable, str(ROOT / "train.py"), "--init", str(start), "--data", f"truth:{tiny_set}", "--epochs", "1",
           "--draws-per-epoch", "8", "--batch-size", "4", "--tile-px", str(TILE), "--workers", "0", "--device", "cpu",
           "--seed", "3", "--copy-paste", "0.5", "--quiet"]
    done = subprocess.run(cmd + ["--levels", "4", "--out", str(tmp_path / "four"), "--export", str(tmp_path / "four.pt")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    model, cfg, _ = load_model(tmp_path / "four.pt")
    assert cfg.levels == 4
    lateral = model.fpn.inner_blocks[3][0].weight
    assert lateral.abs().sum() > 0  # it started at zero: the level learned
    grown = build(cfg).state_dict()
    assert any(not torch.equal(v, grown[k]) for k, v in model.state_dict().items() if k.startswith("layer4.") and v.is_floating_point())
    ckpt = read_checkpoint(tmp_path / "four" / "last.pt")
    assert ckpt["train_config"]["copy_paste"] == 0.5  # a resume pastes as the run did
    refused = subprocess.run(cmd + ["--init", str(tmp_path / "four.pt"), "--levels", "3", "--out", str(tmp_path / "back")],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "cannot be taken away" in refused.stderr


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50", "resnet18_gn", "mobilenet_v3_small", "regnet_x_400mf",
                                      "efficientnet_lite0", "efficientnet_lite2"])
@pytest.mark.parametrize("levels", [3, 4])
def test_a_network_built_to_load_weights_has_the_widths_of_one_built_for_real(backbone, levels):
    # Stage widths are read from the layers, not from running an image through them (which costs
    # a third of a second on the meta device): a wrong width would only show when weights fail to load.
    from detector.model.network import _probe, build_to_load

    cfg = replace(ModelConfig(), backbone=backbone, levels=levels)
    real = build(cfg)
    stages = [real.stem, real.layer1, real.layer2, real.layer3] + ([real.layer4] if levels == 4 else [])
    ran = [shape[1] for shape in _probe(stages)][1:]  # the widths a blank image actually comes out with
    widths = [[b[0].in_channels for b in net.fpn.inner_blocks] for net in (real, build_to_load(cfg))]
    assert widths[0] == widths[1] == ran and len(ran) == levels
