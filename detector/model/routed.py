"""A detector of one or more networks, each reading the scenes of a range of native GSD.

No network we have trained is best at every GSD: the ImageNet-started EfficientNet-Lite2 finds
more hulls in 0.3-2 m scenes than the ResNet-18 trained from scratch, which finds more at 10 m
and measures small tankers at 3 m better (``models/vostochny_default.md``). A routed checkpoint
holds both and sends each scene, by its native GSD, to the one that reads it best; one network
may serve several routes (read once in one, mirrored in another) and is stored once. A plain
checkpoint is a detector of one route.

A route's network sees nothing of the others: each keeps its own config (working GSD, tile,
normalisation), so a scene is tiled and read exactly as its network alone would read it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .mirror import mirrored
from .network import FORMAT, ROUTED_FORMAT, ModelConfig, network_from, read_checkpoint


@dataclass(frozen=True)
class Route:
    """A network and its config, reading scenes whose native GSD is below ``below_gsd_m`` metres
    (and at or above the previous route's bound); the last route's bound is infinite."""

    model: nn.Module
    cfg: ModelConfig
    below_gsd_m: float = math.inf
    mirror: bool = False  # always read tiles mirrored too (model/mirror.py), as ``infer.py --tta`` does for every route


@dataclass(frozen=True)
class Routing:
    """Which route reads a scene and at what working GSD: the routes' bounds and configs without
    their networks, light enough for the tile-reading worker processes."""

    bounds_m: tuple[float, ...]
    cfgs: tuple[ModelConfig, ...]

    def __post_init__(self):
        b = self.bounds_m
        if not b or len(b) != len(self.cfgs) or b[-1] != math.inf or b[0] <= 0 or any(x >= y for x, y in zip(b, b[1:])):
            raise ValueError(f"route bounds must rise and end unbounded, got {list(b)}")

    def route_index(self, scene_gsd_m: float) -> int:
        """The index of the route that reads a scene of native GSD ``scene_gsd_m`` metres."""
        return next(i for i, bound in enumerate(self.bounds_m) if scene_gsd_m < bound)

    def work_gsd_m(self, scene_gsd_m: float) -> float:
        """The working GSD (metres per pixel) at which a scene of ``scene_gsd_m`` is read."""
        return self.cfgs[self.route_index(scene_gsd_m)].work_gsd_m(scene_gsd_m)


@dataclass(frozen=True)
class Detector:
    """Routes ordered by ``below_gsd_m``, the last one unbounded; ``meta``: the checkpoint's metadata."""

    routes: tuple[Route, ...]
    meta: dict

    def __post_init__(self):
        _ = self.routing  # Routing checks the bounds

    @property
    def routing(self) -> Routing:
        """The routes' bounds and configs (:class:`Routing`)."""
        return Routing(tuple(r.below_gsd_m for r in self.routes), tuple(r.cfg for r in self.routes))

    def route(self, scene_gsd_m: float) -> Route:
        """The route that reads a scene of native GSD ``scene_gsd_m`` metres."""
        return self.routes[self.routing.route_index(scene_gsd_m)]

    def map_models(self, fn: Callable[[nn.Module], nn.Module]) -> "Detector":
        """The same detector with ``fn`` applied to each network (fusing, moving), once to a
        network that several routes share, so they still share the result."""
        done: dict[int, nn.Module] = {}
        for r in self.routes:
            if id(r.model) not in done:
                done[id(r.model)] = fn(r.model)
        return replace(self, routes=tuple(replace(r, model=done[id(r.model)]) for r in self.routes))

    def reading_mirrored(self, tta: bool) -> "Detector":
        """Each network wrapped to read tiles mirrored too where its route says so, or every one
        with ``tta`` (``infer.py --tta``; ``model/mirror.py``)."""
        return replace(self, routes=tuple(replace(r, model=mirrored(r.model, tta or r.mirror)) for r in self.routes))

    def map_configs(self, fn: Callable[[ModelConfig], ModelConfig]) -> "Detector":
        """The same detector with ``fn`` applied to each route's config."""
        return replace(self, routes=tuple(replace(r, cfg=fn(r.cfg)) for r in self.routes))

    def describe(self) -> list[dict]:
        """Each route's GSD range and config, for run records."""
        lows = [0.0] + [r.below_gsd_m for r in self.routes[:-1]]
        return [{"scene_gsd_from_m": lo, "scene_gsd_below_m": None if math.isinf(r.below_gsd_m) else r.below_gsd_m,
                 "mirror": r.mirror, "config": asdict(r.cfg)} for lo, r in zip(lows, self.routes)]


def single(model: nn.Module, cfg: ModelConfig, meta: dict | None = None) -> Detector:
    """A detector of one network that reads every scene."""
    return Detector((Route(model, cfg),), dict(meta or {}))


def read_any_checkpoint(path: str | Path) -> dict:
    """A checkpoint dict, plain or routed (its ``meta`` is where either keeps its metadata)."""
    return read_checkpoint(path, formats=(FORMAT, ROUTED_FORMAT))


def load_detector(path: str | Path, device: str | torch.device = "cpu") -> Detector:
    """Every network of a checkpoint, plain or routed, in eval mode on ``device``, as float32."""
    ckpt = read_any_checkpoint(path)
    entries = ckpt["routes"] if ckpt["format"] == ROUTED_FORMAT else [{"config": ckpt["config"], "model": ckpt["model"]}]
    routes = []
    for entry in entries:
        if SHARED_KEY in entry:  # the network of an earlier route, read another way (mirrored or not)
            shared = routes[int(entry[SHARED_KEY])]
            model, cfg = shared.model, shared.cfg
        else:
            model, cfg = network_from(path, entry["config"], entry["model"])
        bound = entry.get("below_gsd_m")
        routes.append(Route(model.to(device).eval(), cfg, math.inf if bound is None else float(bound), bool(entry.get("mirror", False))))
    return Detector(tuple(routes), ckpt.get("meta", {}))


def split_routed(path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write each network of the routed checkpoint at ``path`` to ``out_dir`` as a plain checkpoint
    (``route0.pt`` for the finest GSD, ...), weights widened to float32; returns the paths."""
    from ..io.atomic import atomic_path

    ckpt = read_checkpoint(path, formats=(ROUTED_FORMAT,))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, entry in enumerate(ckpt["routes"]):
        weights = ckpt["routes"][int(entry[SHARED_KEY])]["model"] if SHARED_KEY in entry else entry["model"]
        state = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
        meta = {**entry.get("meta", {}), "unrouted_from": f"{path} route {i} (scenes below {entry['below_gsd_m']} m)"}
        out = out_dir / f"route{i}.pt"
        with atomic_path(out) as tmp:
            torch.save({"format": FORMAT, "config": entry["config"], "model": state, "meta": meta}, tmp)
        written.append(out)
    return written


# A route entry with this key holds no weights: it reads with those of the route it names (an index).
SHARED_KEY = "network_of_route"

# BatchNorm statistics stay float32: a variance can pass float16's largest number (65,504; the
# head's reached 9.9e6) and would turn into infinity, and a zero for the channel.
FLOAT32_KEPT = ("running_mean", "running_var")


def half_storage(state: dict) -> dict:
    """``state`` with its weights as float16 and its BatchNorm statistics as they were."""
    return {k: v.half() if v.is_floating_point() and not k.endswith(FLOAT32_KEPT) else v for k, v in state.items()}


def save_routed(path: str | Path, sources: list[tuple[str | Path, float, bool]], meta: dict) -> None:
    """Write a routed checkpoint at ``path`` from plain checkpoints: ``sources`` gives each with
    the native GSD (metres) below which it reads scenes, finest first, and whether it always reads
    tiles mirrored too; the last one's bound is ignored (it reads every coarser scene). Weights are stored as float16 (:func:`half_storage`):
    finer than the bfloat16 the networks run in on CPUs (``bench/eval_splits.py`` scores the file)."""
    from ..io.atomic import atomic_path

    if Path(path).resolve() in {Path(p).resolve() for p, _, _ in sources}:
        raise ValueError(f"{path}: the routed checkpoint must not overwrite one of its sources")
    routes, first_of, read = [], {}, {}
    for i, (src, below_gsd_m, mirror) in enumerate(sources):
        key = Path(src).resolve()
        if key not in read:
            read[key] = read_checkpoint(src)
        ckpt = read[key]
        last = i == len(sources) - 1
        entry = {"below_gsd_m": None if last else float(below_gsd_m), "mirror": bool(mirror), "config": ckpt["config"],
                 # A source's recall at the berth was measured on its own: the routed model's is measured anew.
                 "meta": {k: v for k, v in ckpt.get("meta", {}).items() if k != "loading_recall"}, "source": str(src)}
        if key in first_of:  # one network read two ways (e.g. once below 6 m, mirrored above): its weights are stored once
            entry[SHARED_KEY] = first_of[key]
        else:
            first_of[key] = i
            entry["model"] = half_storage(ckpt["model"])
        routes.append(entry)
    Routing(tuple(b for _, b, _ in sources[:-1]) + (math.inf,), tuple(ModelConfig.from_dict(r["config"]) for r in routes))  # checks the bounds
    with atomic_path(path) as tmp:
        torch.save({"format": ROUTED_FORMAT, "routes": routes, "meta": dict(meta)}, tmp)
