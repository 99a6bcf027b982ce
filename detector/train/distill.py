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

from ..model.network import OrientedDetector, fuse_for_inference, load_model

# Regression maps matched to the teacher's, in the order of the network's head.
MATCHED_MAPS = ("offset", "size", "axis", "bow")


def load_teacher(path, device: torch.device, memory_format: torch.memory_format = torch.channels_last) -> OrientedDetector:
    """The frozen teacher of ``path`` (a checkpoint of ours), fused for inference on ``device``
    in the student's ``memory_format``."""
    teacher = fuse_for_inference(load_model(path)[0]).requires_grad_(False)
    return teacher.to(device, memory_format=memory_format)


def distillation_loss(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> torch.Tensor:
    """How far the student's head maps are from the teacher's, one unit-free number per batch.

    Zero when the student's maps equal the teacher's. Gradients flow into ``student`` only.
    """
    taught = {k: v.detach().float() for k, v in teacher.items()}
    t_heat = torch.sigmoid(taught["heat"])
    s_logit = student["heat"].float()
    gap = (torch.sigmoid(s_logit) - t_heat).abs()
    # Zero gap makes the heat term exactly 0; the cross-entropy's own floor (the teacher's entropy) is scaled away.
    loss = (F.binary_cross_entropy_with_logits(s_logit, t_heat, reduction="none") * gap.pow(2)).sum()
    for name in MATCHED_MAPS:
        loss = loss + (F.smooth_l1_loss(student[name].float(), taught[name], reduction="none", beta=0.1) * t_heat).sum()
    type_gap = (torch.sigmoid(student["type"].float()) - torch.sigmoid(taught["type"])).abs()
    return (loss + (type_gap * t_heat).sum()) / t_heat.sum().clamp(min=1.0)
