"""Training loop: distributed (torchrun), mixed precision (float16 on CUDA, bfloat16 on CPUs with
native bf16), a checkpoint each epoch, exact resume.

Checkpoints hold model, optimizer, scheduler and scaler state, the next epoch and both
configs; the data a step sees depends only on (seed, epoch, draw), so resuming from the
checkpoint of epoch k gives the same weights as a run that never stopped.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..io.atomic import atomic_path
from ..model.device import Distributed, pick_device, torchrun_place
from ..model.mirror import mirrored
from ..model.network import ModelConfig, build, fuse_for_inference, load_weights, read_checkpoint, save_checkpoint
from ..model.precision import amp_dtype, autocast, describe
from ..model.pretrained import LITE
from ..model.targets import detection_loss
from .datasets import DrawSampler, TileDataset
from .distill import distillation_loss, load_teacher

LOG_TERMS = ("total", "heat", "offset", "size", "axis", "bow", "type", "envelope", "distill")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; ``draws_per_epoch`` tiles per epoch over all ranks."""

    epochs: int = 10
    draws_per_epoch: int = 4000
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_share: float = 0.05
    tile_px: int = 256
    workers: int = 1
    seed: int = 0
    amp: bool = True  # mixed precision: float16 on CUDA, bfloat16 on CPUs with native bf16 (detector.model.precision)
    channels_last: bool = True  # NHWC tensors: oneDNN's fast layout (bench/train_speed.py: 1.7x with bf16 on AMX)
    grad_clip: float = 10.0
    loss_weights: dict = field(default_factory=dict)  # overrides of targets.LOSS_WEIGHTS, e.g. {"type": 2.0}
    teacher: str = ""  # a trained checkpoint whose head maps the model also learns (detector.train.distill); "" none
    distill_weight: float = 1.0  # weight of the distillation term against the labels' loss
    teacher_tta: bool = False  # the teacher reads each tile and its mirror image and teaches their mean maps (model/mirror.py)
    copy_paste: float = 0.0  # share of tiles that receive hulls cut from other scenes (detector/train/paste.py)
    gsd_jitter: float = 0.25  # scale jitter: the working GSD times exp(U(-j, j))
    paste_gsd_max_m: float = math.inf  # scenes of a coarser native GSD (m) receive no pasted hulls

    def augment(self):
        """The augmentation these settings ask for."""
        from .datasets import AugmentConfig

        return AugmentConfig(gsd_jitter=self.gsd_jitter, copy_paste=self.copy_paste, paste_gsd_max_m=self.paste_gsd_max_m)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def init_distributed(device: str) -> tuple[Distributed, torch.device]:
    """Read torchrun's place; start a process group when there are several.

    NCCL on CUDA, gloo on CPU. Returns the process's place and its device.
    """
    dist = torchrun_place()
    dev = pick_device(device, dist.local_rank)
    if dist.world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dist, dev


def _collate(batch):
    images = torch.stack([b[0] for b in batch])
    targets = {k: torch.stack([b[1][k] for b in batch]) for k in batch[0][1]}
    return images, targets


def _scheduler(optimizer, cfg: TrainConfig, steps_per_epoch: int):
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = max(1, int(cfg.warmup_share * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _append_metrics(path: Path, row: dict) -> None:
    """Append one epoch's row to the metrics CSV (rewritten whole, atomically)."""
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < row["epoch"]]
    rows.append(row)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerows(rows)


def train(model_cfg: ModelConfig, cfg: TrainConfig, dataset: TileDataset, weights: list[float], out_dir: str | Path, *,
          device: str = "cpu", init: str | Path | None = None, resume: str | Path | None = None, meta: dict | None = None,
          progress: bool = True, on_epoch=None) -> Path:
    """Train and return the path of the last checkpoint (``out_dir/last.pt``).

    ``init`` starts from a checkpoint's weights (fine-tuning); ``resume`` continues a run from its
    checkpoint exactly (its configs win). ``on_epoch(epoch, model)`` may return extra metrics.
    """
    out_dir = Path(out_dir)
    dist, dev = init_distributed(device)
    start_epoch, state = 0, None
    if resume is not None:
        state = read_checkpoint(resume)
        model_cfg = ModelConfig.from_dict(state["config"])
        cfg = TrainConfig.from_dict(state["train_config"])
        start_epoch = int(state["epoch"])
    torch.manual_seed(cfg.seed)
    # From scratch, a trunk with packaged weights starts from them; --init and --resume bring their own.
    model = build(model_cfg, pretrained=init is None and state is None and model_cfg.backbone in LITE)
    if init is not None and state is None:
        start = read_checkpoint(init)
        # A levels-3 checkpoint grows a stride-32 stage here (train.py --levels 4): the same
        # predictions to start with, as the new lateral starts at zero.
        extend = model_cfg.levels > start["config"].get("levels", 3)
        load_weights(model, start["model"], extend=extend)
    if state is not None:
        load_weights(model, state["model"])
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(dev, memory_format=layout)
    ddp = model
    if dist.world_size > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sampler = DrawSampler(weights, cfg.draws_per_epoch, cfg.seed, dist.rank, dist.world_size)
    per_rank_batch = max(1, cfg.batch_size // dist.world_size)
    loader = DataLoader(dataset, batch_size=per_rank_batch, sampler=sampler, num_workers=cfg.workers, collate_fn=_collate,
                        drop_last=True, persistent_workers=cfg.workers > 0, pin_memory=dev.type == "cuda")
    scheduler = _scheduler(optimizer, cfg, len(loader))
    amp = amp_dtype(dev, cfg.amp)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None  # bf16 keeps float32's range: no scaling
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    teacher = mirrored(load_teacher(cfg.teacher, dev, layout), cfg.teacher_tta) if cfg.teacher else None
    meta = dict(meta or {})
    meta.setdefault("precision", describe(amp))
    last = out_dir / "last.pt"
    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        ddp.train()
        sums = {k: 0.0 for k in LOG_TERMS}
        t0, steps = time.time(), 0
        bar = _bar(len(loader), f"epoch {epoch + 1}/{cfg.epochs}", progress and dist.main)
        for images, targets in loader:
            images = images.to(dev, non_blocking=True).contiguous(memory_format=layout)
            targets = {k: v.to(dev, non_blocking=True) for k, v in targets.items()}
            terms = train_step(ddp, optimizer, images, targets, amp, scaler, cfg.loss_weights, cfg.grad_clip,
                               teacher, cfg.distill_weight)
            scheduler.step()
            steps += 1
            for k in LOG_TERMS:
                sums[k] += float(terms[k].detach())
            bar.set_postfix(loss=f"{sums['total'] / steps:.3f}")
            bar.update()
        bar.close()
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - t0, 1)}
        row.update({f"loss_{k}": round(v / max(steps, 1), 5) for k, v in sums.items()})
        if dist.main:
            if on_epoch is not None:
                row.update(on_epoch(epoch + 1, model) or {})
            meta.update(epochs_done=epoch + 1, train_config=asdict(cfg))
            save_checkpoint(last, model, model_cfg, meta, train_config=asdict(cfg), epoch=epoch + 1,
                            optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                            scaler=scaler.state_dict() if scaler is not None else {})
            _append_metrics(out_dir / "metrics.csv", row)
        if dist.world_size > 1:
            torch.distributed.barrier()
    return last


def train_step(model: torch.nn.Module, optimizer, images: torch.Tensor, targets: dict, amp: torch.dtype | None,
               scaler=None, loss_weights: dict | None = None, grad_clip: float = TrainConfig.grad_clip,
               teacher: torch.nn.Module | None = None, distill_weight: float = TrainConfig.distill_weight) -> dict:
    """One optimisation step: forward under autocast to ``amp`` (None: float32), loss, backward
    (scaled when ``scaler`` is given), gradient clipping, optimizer step. Returns the loss terms.

    With a ``teacher``, the loss also holds ``distill_weight`` times the distance of the head's
    maps from the teacher's on the same images (``detector.train.distill``).
    """
    with autocast(images.device, amp):
        out = model(images)
        if teacher is not None:
            with torch.no_grad():
                taught = teacher(images)
    terms = detection_loss(out, targets, loss_weights)
    terms["distill"] = distillation_loss(out, taught) if teacher is not None else torch.zeros((), device=images.device)
    terms["total"] = terms["total"] + distill_weight * terms["distill"]
    optimizer.zero_grad(set_to_none=True)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if scaler is not None:
        scaler.scale(terms["total"]).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
    return terms


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True)


def evaluate_model(model: torch.nn.Module, model_cfg: ModelConfig, scenes, pcfg=None, device: str = "cpu",
                   progress: bool = True, min_length_m: float = 0.0) -> tuple[dict, list]:
    """:func:`evaluate_detector` of one network (the model in training, or a plain checkpoint's)."""
    from ..model.routed import single

    return evaluate_detector(single(getattr(model, "module", model), model_cfg), scenes, pcfg, device, progress, min_length_m)


@torch.no_grad()
def evaluate_detector(detector, scenes, pcfg=None, device: str = "cpu", progress: bool = True,
                      min_length_m: float = 0.0) -> tuple[dict, list]:
    """Predict every labelled scene whole and score it (``detector.train.evaluate``); each scene is
    read by the network of ``detector`` (``model/routed.py``) that its GSD routes it to.

    Returns the report (all scenes and by native GSD) and the per-scene results. A scene's GSD
    for the breakdown is its native GSD when the labels say it, else the file's. AP ranks every
    detection scoring ``evaluate.AP_SCORE_FLOOR`` or more; recall, precision, lengths and counts
    are taken at ``pcfg.score_threshold``, the operating point. The results keep all detections.
    """
    from ..infer.predict import PredictConfig, predict_scene
    from ..io.scene import Scene
    from .evaluate import AP_SCORE_FLOOR, SceneResult, evaluate

    pcfg = pcfg or PredictConfig()
    # AP ranks every detection down to the floor, not only those above the operating point.
    ranked = replace(pcfg, score_threshold=min(pcfg.score_threshold, AP_SCORE_FLOOR))
    for route in detector.routes:
        route.model.eval()
    # Scored as infer.py runs it: a fused copy (BatchNorm and the input normalisation folded, channels-last).
    fused = detector.map_models(lambda m: fuse_for_inference(copy.deepcopy(m).eval()).to(memory_format=torch.channels_last))
    fused = fused.reading_mirrored(ranked.tta)  # as infer.py reads: each route mirrored where it says so, all with --tta
    ranked = replace(ranked, tta=False)
    results = []
    bar = _bar(len(scenes), "evaluating", progress)
    for ls in scenes:
        scene = Scene(ls.path, gsd_m=ls.gsd_m)
        route = fused.route(scene.info.gsd_m)
        det = predict_scene(route.model, route.cfg, scene, ranked, device=device)
        # Lengths are compared in metres: one GSD for both axes is exact for north-up square pixels.
        results.append(SceneResult(ls.path.stem, float(ls.meta.get("native_gsd_m") or scene.info.gsd_m), det.corners,
                                   det.score, det.p_tanker, ls.corners, ls.has_bow, ls.type_code, ls.ignore,
                                   scene_gsd_m=scene.info.gsd_m, true_box_only=ls.box_only))
        scene.close()
        bar.update()
    bar.close()
    return evaluate(results, pcfg.score_threshold, min_length_m), results
