"""The weight average of several checkpoints of one model (``train.py --average``).

Consecutive fine-tuning stages at a low learning rate end in the same basin of the loss; their
mean often generalises better than any one of them, the observation behind stochastic weight
averaging (Izmailov et al., 2018) and model soups (Wortsman et al., 2022). Floating-point
tensors, BatchNorm running statistics included, are averaged; integer buffers (BatchNorm's batch
counters) are the last checkpoint's. SWA would re-estimate the BatchNorm statistics with a pass
over training data; for stages this close their mean is what the model card measures.

The average is a new model: the recall at the loading berth that a checkpoint carries
(``meta[events.recall.META_KEY]``) belongs to its own weights, so it is dropped and must be measured
again (``bench/eval_splits.py --store-recall``).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from ..events.recall import META_KEY
from ..model.network import ModelConfig, OrientedDetector, load_model, load_weights


def average_checkpoints(paths: list[Path]) -> tuple[OrientedDetector, ModelConfig, dict]:
    """Load the checkpoints at ``paths`` (two or more, one architecture and config) and return
    a model holding their mean weights, its config, and the last checkpoint's metadata with
    ``averaged_from`` added and the per-weights measurements dropped. Raises ModelError for a
    file that is not a checkpoint, ValueError for fewer than two or for differing configs."""
    if len(paths) < 2:
        raise ValueError("--average needs two checkpoints or more")
    loaded = [load_model(p) for p in paths]
    model, cfg, last_meta = loaded[-1]
    for path, (_, other, _) in zip(paths[:-1], loaded[:-1]):
        differ = [f.name for f in fields(cfg) if getattr(cfg, f.name) != getattr(other, f.name)]
        if differ:
            raise ValueError(f"{path}: its config differs from {paths[-1]}'s in {', '.join(differ)}; only one model's checkpoints average")
    states = [m.state_dict() for m, _, _ in loaded]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[-1].items()}
    load_weights(model, mean)  # the last checkpoint's model, its counters kept
    meta = {k: v for k, v in last_meta.items() if k != META_KEY}
    meta["averaged_from"] = [str(p) for p in paths]
    return model.eval(), cfg, meta
