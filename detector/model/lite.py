"""EfficientNet-Lite0/1/2 (Tan & Le 2019; Google's Lite variants: no squeeze-excite, ReLU6,
TensorFlow "same" padding, BatchNorm eps 1e-3), built here with the module and parameter names
of timm's ``tf_efficientnet_lite*``, so checkpoints and the packaged ImageNet weights load into it
unchanged and timm is not needed to run a model.

Why not timm itself: importing it takes about half a second (it registers a thousand models),
which every ``infer.py`` run paid before its first tile. ``tests/test_pretrained.py`` checks that
this network computes what timm's does, weight for weight.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Per variant, each stage: (block, repeats, kernel, stride, expansion, output channels); stem 32
# channels, head 1280, as timm's tf_efficientnet_lite0..2 (EfficientNet's depth and width scaling,
# with the stem and head fixed and the first and last stages not repeated).
ARCH = {
    "efficientnet_lite0": (("ds", 1, 3, 1, 1, 16), ("ir", 2, 3, 2, 6, 24), ("ir", 2, 5, 2, 6, 40), ("ir", 3, 3, 2, 6, 80),
                           ("ir", 3, 5, 1, 6, 112), ("ir", 4, 5, 2, 6, 192), ("ir", 1, 3, 1, 6, 320)),
    "efficientnet_lite1": (("ds", 1, 3, 1, 1, 16), ("ir", 3, 3, 2, 6, 24), ("ir", 3, 5, 2, 6, 40), ("ir", 4, 3, 2, 6, 80),
                           ("ir", 4, 5, 1, 6, 112), ("ir", 5, 5, 2, 6, 192), ("ir", 1, 3, 1, 6, 320)),
    "efficientnet_lite2": (("ds", 1, 3, 1, 1, 16), ("ir", 3, 3, 2, 6, 24), ("ir", 3, 5, 2, 6, 48), ("ir", 4, 3, 2, 6, 88),
                           ("ir", 4, 5, 1, 6, 120), ("ir", 5, 5, 2, 6, 208), ("ir", 1, 3, 1, 6, 352)),
}
STEM_CHANNELS, HEAD_CHANNELS, BN_EPS = 32, 1280, 1e-3


class SameConv2d(nn.Conv2d):
    """A convolution padded as TensorFlow's "same" (the extra pixel on the bottom and right), for
    strided layers, where it is not symmetric; it depends on the input size, so it is done here."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1]):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm, then ``drop`` (none here) and ``act``: timm's layer of that name, the same state."""

    def __init__(self, channels: int, act: bool = True):
        super().__init__(channels, eps=BN_EPS)
        self.drop = nn.Identity()
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution with "same" padding: symmetric where it can be, else :class:`SameConv2d`."""
    if stride == 1:
        return nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False)
    return SameConv2d(in_ch, out_ch, kernel, stride, 0, groups=groups, bias=False)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise convolution, ReLU6, pointwise projection (no activation), a skip where shapes allow."""

    FOLD_PAIRS = (("conv_dw", "bn1"), ("conv_pw", "bn2"))  # each convolution and its BatchNorm (network.fuse_for_inference)

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int):
        super().__init__()
        self.has_skip = stride == 1 and in_ch == out_ch
        self.conv_dw = conv(in_ch, in_ch, kernel, stride, groups=in_ch)
        self.bn1 = BatchNormAct2d(in_ch)
        self.conv_pw = conv(in_ch, out_ch, 1)
        self.bn2 = BatchNormAct2d(out_ch, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))
        return y + x if self.has_skip else y


class InvertedResidual(nn.Module):
    """MobileNetV2's block: pointwise expansion, depthwise convolution, pointwise projection."""

    FOLD_PAIRS = (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3"))

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = in_ch * expansion
        self.has_skip = stride == 1 and in_ch == out_ch
        self.conv_pw = conv(in_ch, mid, 1)
        self.bn1 = BatchNormAct2d(mid)
        self.conv_dw = conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = BatchNormAct2d(mid)
        self.conv_pwl = conv(mid, out_ch, 1)
        self.bn3 = BatchNormAct2d(out_ch, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn3(self.conv_pwl(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))))
        return y + x if self.has_skip else y


class EfficientNetLite(nn.Module):
    """The whole ImageNet classifier (its head loads the packaged weights and classes photographs
    in the tests); the detector uses the stem and ``blocks`` (``pretrained.lite_stages``)."""

    def __init__(self, backbone: str, num_classes: int = 1000):
        super().__init__()
        if backbone not in ARCH:
            raise ValueError(f"no EfficientNet-Lite called {backbone!r} (known: {', '.join(ARCH)})")
        self.conv_stem = conv(3, STEM_CHANNELS, 3, 2)
        self.bn1 = BatchNormAct2d(STEM_CHANNELS)
        stages, in_ch = [], STEM_CHANNELS
        for kind, repeats, kernel, stride, expansion, out_ch in ARCH[backbone]:
            blocks = []
            for i in range(repeats):
                s = stride if i == 0 else 1
                blocks.append(DepthwiseSeparableConv(in_ch, out_ch, kernel, s) if kind == "ds"
                              else InvertedResidual(in_ch, out_ch, kernel, s, expansion))
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = conv(in_ch, HEAD_CHANNELS, 1)
        self.bn2 = BatchNormAct2d(HEAD_CHANNELS)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)
        if self.conv_head.weight.is_meta:  # built to load weights into (network.build_to_load): nothing to draw
            return
        for m in self.modules():  # EfficientNet's own initialisation (TensorFlow's), as timm's _init_weight_goog
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.weight.size(0))
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits for images normalised to [-1, 1]."""
        x = self.bn2(self.conv_head(self.blocks(self.bn1(self.conv_stem(x)))))
        return self.classifier(x.mean((2, 3)))
