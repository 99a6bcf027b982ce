"""Knowledge distillation: a lighter student learns the dense maps of a trained teacher.

Every cell of every tile then teaches the student, not only the cells near a labelled vessel,
and unlabelled ships the teacher sees are not punished as background. The heatmap term is the
quality focal loss of Generalized Focal Loss (Li et al., 2020), cross-entropy against the
teacher's probability scaled by the squared gap, over the teacher's probability mass; the
box, bow and type maps are matched where the teacher sees a vessel, each cell weighed by the
teacher's centre probability. Both sets of maps are in the network's own units (cells, log
cells, unit vectors, logits), so the terms are unit-free like those of ``targets.detection_loss``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..model.network import ModelConfig, OrientedDetector, fuse_for_inference, load_model

# Regression maps matched to the teacher's, in the order of the network's head.
MATCHED_MAPS = ("offset", "size", "axis", "bow")


def load_teacher(path, device: torch.device, channels_last: bool = True) -> tuple[OrientedDetector, ModelConfig]:
    """The frozen teacher of ``path`` (a checkpoint of ours), fused for inference on ``device``."""
    teacher, cfg, _ = load_model(path)
    teacher = fuse_for_inference(teacher)
    for p in teacher.parameters():
        p.requires_grad_(False)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return teacher.to(device, memory_format=layout), cfg


def distillation_loss(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> torch.Tensor:
    """How far the student's head maps are from the teacher's, one unit-free number per batch.

    Zero when the student's maps equal the teacher's. Gradients flow into ``student`` only.
    """
    t_heat = torch.sigmoid(teacher["heat"].float()).detach()
    s_logit = student["heat"].float()
    gap = (torch.sigmoid(s_logit) - t_heat).abs()
    heat = (F.binary_cross_entropy_with_logits(s_logit, t_heat, reduction="none") * gap.pow(2)).sum()
    # Zero gap makes the heat term exactly 0; the cross-entropy's own floor (the teacher's entropy) is scaled away.
    mass = t_heat.sum().clamp(min=1.0)
    loss = heat / mass
    for name in MATCHED_MAPS:
        diff = F.smooth_l1_loss(student[name].float(), teacher[name].float().detach(), reduction="none", beta=0.1)
        loss = loss + (diff * t_heat).sum() / mass
    t_type = torch.sigmoid(teacher["type"].float()).detach()
    type_gap = (torch.sigmoid(student["type"].float()) - t_type).abs()
    return loss + (type_gap * t_heat).sum() / mass
