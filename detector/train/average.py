"""The weight average of several checkpoints of one model (``train.py --average``).

Consecutive fine-tuning stages at a low learning rate end in the same basin of the loss; their
mean often generalises better than any one of them, the observation behind stochastic weight
averaging (Izmailov et al., 2018) and model soups (Wortsman et al., 2022). Floating-point
tensors, BatchNorm running statistics included, are averaged; integer buffers (BatchNorm's batch
counters) are the last checkpoint's. SWA would re-estimate the BatchNorm statistics with a pass
over training data; for stages this close their mean is what the model card measures.

The average is a new model: the recall at the loading berth that a checkpoint carries
(``meta["loading_recall"]``) belongs to its own weights, so it is dropped and must be measured
again (``bench/eval_splits.py --store-recall``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..model.network import ModelConfig, OrientedDetector, build, load_model, load_weights

DROPPED_META = ("loading_recall",)


def average_checkpoints(paths: list[Path]) -> tuple[OrientedDetector, ModelConfig, dict]:
    """Load the checkpoints at ``paths`` (two or more, one architecture and config) and return
    a model holding their mean weights, its config, and the last checkpoint's metadata with
    ``averaged_from`` added and the per-weights measurements dropped. Raises ModelError for a
    file that is not a checkpoint, ValueError for fewer than two or for differing configs."""
    if len(paths) < 2:
        raise ValueError("--average needs two checkpoints or more")
    loaded = [load_model(p) for p in paths]
    first_cfg = asdict(loaded[0][1])
    for path, (_, cfg, _) in zip(paths[1:], loaded[1:]):
        differ = sorted(k for k, v in asdict(cfg).items() if first_cfg.get(k) != v)
        if differ:
            raise ValueError(f"{path}: its config differs from {paths[0]}'s in {', '.join(differ)}; only one model's checkpoints average")
    states = [m.state_dict() for m, _, _ in loaded]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else states[-1][k].clone()
            for k, v in states[0].items()}
    model = build(loaded[0][1])
    load_weights(model, mean)
    meta = {k: v for k, v in loaded[-1][2].items() if k not in DROPPED_META}
    meta["averaged_from"] = [str(p) for p in paths]
    return model.eval(), loaded[0][1], meta
