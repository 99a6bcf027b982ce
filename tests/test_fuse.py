"""The network as inference runs it (``fuse_for_inference``) computes what the trained one does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from detector.model.cpu_fusion import ConvReLU, FusedBasicBlock, fusion_works
from detector.model.network import ModelConfig, build, fuse_for_inference


@pytest.mark.parametrize("backbone", ["resnet18", "regnet_x_400mf"])
def test_fused_network_gives_the_same_maps_with_fewer_layers(backbone):
    torch.manual_seed(0)
    # Band statistics that differ per band: each band is padded with its own mean once folded.
    model = build(ModelConfig(backbone=backbone, mean=(0.35, 0.4, 0.45), std=(0.2, 0.25, 0.3)))
    # BatchNorms with statistics of their own, as after training, so that folding them matters.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.rand(2, 3, 128, 96)
    with torch.no_grad():
        before = model(x)
        fused = fuse_for_inference(model)
        after = fused(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    # The normalisation is folded into the first convolution, borders included (the maps above match).
    assert isinstance(fused.normalise, nn.Identity)
    for name, value in before.items():
        assert torch.allclose(value, after[name], atol=1e-4, rtol=1e-4), name
    if backbone == "resnet18":  # the stem pools before its ReLU: the ReLU runs on a quarter of the pixels
        kinds = [type(m) for m in fused.stem]
        assert kinds.index(nn.MaxPool2d) < kinds.index(nn.ReLU)
    if fusion_works():  # convolutions run with their ReLU (and residual addition) as one oneDNN call
        assert any(isinstance(m, ConvReLU) for m in fused.modules())
        assert (backbone == "resnet18") == any(isinstance(m, FusedBasicBlock) for m in fused.modules())


@pytest.mark.skipif(not fusion_works(), reason="this PyTorch build has no fused oneDNN convolutions")
def test_fused_blocks_leave_their_input_alone_and_match_in_bfloat16():
    torch.manual_seed(3)
    model = build(ModelConfig()).eval()
    x = torch.rand(1, 3, 160, 128).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        before = model(x)
        fused = fuse_for_inference(model).to(memory_format=torch.channels_last)
        block = fused.layer1[0]
        assert isinstance(block, FusedBasicBlock) and block.downsample is None
        s = fused.stem(x)
        kept = s.clone()
        block(s)
        assert torch.equal(s, kept)  # the residual is added into a copy, not into the block's input
        after = fused(x)
    for name, value in before.items():  # bfloat16 rounds the fused addition once, the plain one twice
        assert torch.allclose(value.float(), after[name].float(), atol=0.1), name


def test_only_a_model_in_eval_mode_is_fused():
    with pytest.raises(ValueError, match="eval mode"):
        fuse_for_inference(build(ModelConfig()).train())


