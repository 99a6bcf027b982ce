"""Detector throughput in tiles per second at the working tile size (model + decode, no I/O).

CPU with a fixed thread count in float32 and, where the CPU has native bf16, bfloat16; on CUDA
with and without AMP when a GPU is present. The network is fused and channels-last, as infer.py
runs it. With ``--compile`` each setting is also timed through ``torch.compile`` (inductor,
dynamic sizes), the compile's own time printed apart; infer.py does not compile: on two CPU cores
the model alone ran 1.3-1.6x faster compiled, but whole runs were no faster (BENCHMARKS.md,
*torch.compile*). Settings take turns over ``--rounds`` rounds and the best round of each is
printed, so a busy neighbour slows them all alike. ``--allocator system`` leaves glibc's malloc
as it is, where infer.py (and this bench by default) keeps freed memory for the next tile
(``detector/model/allocator.py``); run both to compare.

    python bench/model_speed.py --threads 2
    python train.py --unroute models/vostochny_default.pt --export runs/nets   # the shipped model's networks, one a file
    python bench/model_speed.py --model runs/nets/route2.pt --batch-sizes 1 --tile-px 1696 --compile --rounds 3
    python bench/model_speed.py --backbone regnet_x_400mf --batch-sizes 1 --tile-px 1024 --rounds 3 --seconds 4
    python bench/model_speed.py --model runs/nets/route2.pt --batch-sizes 1 --tile-px 1696 --allocator system
    python bench/model_speed.py --model runs/nets/route2.pt --tile-px 1696 --stages   # where a tile's time goes
    python bench/model_speed.py --model runs/nets/route2.pt --tile-px 1696 --stages --no-cpu-fusion --allocator system

``--stages`` times each part of the network on one tile instead (bf16 where the CPU has it, else
float32): stem (with the folded normalisation), the three trunk stages, the FPN, the head and the
decode, best of ``--rounds`` x 5 calls each.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.model.allocator import retain_freed_memory  # noqa: E402
from detector.model.network import ModelConfig, build, decode, fuse_for_inference, load_model  # noqa: E402
from detector.model.precision import autocast, cpu_has_native_bf16, describe  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="checkpoint (default: an untrained default network)")
    p.add_argument("--backbone", default=ModelConfig.backbone, help="trunk of the untrained network timed without --model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[1, 4, 8])
    p.add_argument("--tile-px", type=int, default=None, help="default: the model's working tile")
    p.add_argument("--seconds", type=float, default=10.0, help="time per setting and round")
    p.add_argument("--rounds", type=int, default=1, help="rounds over all settings; the best of each is printed")
    p.add_argument("--compile", action="store_true", help="also time each setting through torch.compile")
    p.add_argument("--stages", action="store_true", help="time each part of the network on one tile instead")
    p.add_argument("--no-cpu-fusion", action="store_true",
                   help="keep each ReLU and residual addition apart from its convolution (before model/cpu_fusion.py)")
    p.add_argument("--allocator", choices=("retain", "system"), default="retain",
                   help="keep freed memory for the next tile as infer.py does (retain, default) or leave malloc as it is")
    return p


@torch.no_grad()
def tiles_per_second(model, cfg, device, batch, tile_px, amp, seconds) -> float:
    """Tiles a second through ``model`` and decode; ``amp`` is an autocast dtype or None (float32)."""
    x = torch.rand(batch, 3, tile_px, tile_px, device=device).contiguous(memory_format=torch.channels_last)
    with autocast(device, amp):
        for _ in range(2):
            decode(model(x), cfg.stride)
    if device.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        with autocast(device, amp):
            decode(model(x), cfg.stride)
        n += batch
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def compiled(model, device, amp, batch: int):
    """``model`` through ``torch.compile`` for any tile size, compiled now by a warm-up on small
    tiles (PyTorch specialises a batch of one, so one of one and one of ``batch``)."""
    fn = torch.compile(model.requires_grad_(False), dynamic=True)
    with torch.no_grad(), autocast(device, amp):
        for b in sorted({1, batch}):
            fn(torch.zeros(b, 3, 64, 64, device=device).contiguous(memory_format=torch.channels_last))
    return fn


@torch.no_grad()
def stage_times(model, cfg, tile_px: int, amp, rounds: int) -> list[tuple[str, float]]:
    """Milliseconds of each part of a fused network on one ``tile_px`` tile, best of ``rounds`` x 5
    calls; the parts run on the outputs of the ones before, as in ``forward``."""
    pyramid = model.pyramid

    def best_ms(fn):
        fn()
        times = []
        for _ in range(rounds * 5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * min(times)

    cpu = torch.device("cpu")
    x = torch.rand(1, 3, tile_px, tile_px).contiguous(memory_format=torch.channels_last)
    with autocast(cpu, amp):
        s = model.stem(model.normalise(x))
        c1 = model.layer1(s)
        c2 = model.layer2(c1)
        c3 = model.layer3(c2)
        maps = (c1, c2, c3, model.layer4(c3)) if cfg.levels == 4 else (c1, c2, c3)
        f = pyramid(*maps)
        out = model(x)
        top = [("layer4 (stride 32)", best_ms(lambda: model.layer4(c3)))] if cfg.levels == 4 else []
        return [("stem (normalisation folded)", best_ms(lambda: model.stem(model.normalise(x)))),
                ("layer1 (stride 4)", best_ms(lambda: model.layer1(s))), ("layer2 (stride 8)", best_ms(lambda: model.layer2(c1))),
                ("layer3 (stride 16)", best_ms(lambda: model.layer3(c2))), *top, ("FPN to stride 4", best_ms(lambda: pyramid(*maps))),
                ("head", best_ms(lambda: model.head(f))), ("decode", best_ms(lambda: decode(out, cfg.stride))),
                ("whole network and decode", best_ms(lambda: decode(model(x), cfg.stride)))]


def main(args) -> None:
    torch.set_num_threads(args.threads)
    retained = args.allocator == "retain" and retain_freed_memory()
    if args.model:
        model, cfg, _ = load_model(args.model)
    else:
        cfg = ModelConfig(backbone=args.backbone)
        model = build(cfg).eval()
    tile = args.tile_px or cfg.tile_px
    print(f"# {cfg.backbone} detector, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, tile {tile} px")
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} CPU threads, "
          f"freed memory {'kept for reuse' if retained else 'returned to the system (malloc as it is)'}")
    # As infer.py runs it: BatchNorm folded into the convolutions, channels-last.
    model = fuse_for_inference(model.eval(), cpu_fusion=not args.no_cpu_fusion).to(memory_format=torch.channels_last)
    if args.stages:
        amp = torch.bfloat16 if cpu_has_native_bf16() else None
        print(f"part of the network, one {tile} px tile, {describe(amp)} | ms")
        for name, ms in stage_times(model, cfg, tile, amp, args.rounds):
            print(f"{name} | {ms:.1f}")
        print(f"# reproduce: python bench/model_speed.py {' '.join(sys.argv[1:])}")
        return
    settings = [(torch.device("cpu"), None)]
    if cpu_has_native_bf16():
        settings.append((torch.device("cpu"), torch.bfloat16))
    if torch.cuda.is_available():
        settings += [(torch.device("cuda"), None), (torch.device("cuda"), torch.float16)]
    runs = []  # (device, amp, batch, name, callable)
    for device, amp in settings:
        on_device = copy.deepcopy(model).to(device)  # the rounds run every setting in turn, on its own device
        for b in args.batch_sizes:
            runs.append((device, amp, b, "eager", on_device))
            if args.compile:
                t0 = time.perf_counter()
                fn = compiled(on_device, device, amp, b)
                with torch.no_grad(), autocast(device, amp):
                    fn(torch.zeros(b, 3, tile, tile, device=device).contiguous(memory_format=torch.channels_last))
                print(f"# compile {device.type} {describe(amp)} batch {b}: {time.perf_counter() - t0:.1f} s (warm-up and first {tile} px call)")
                runs.append((device, amp, b, "compiled", fn))
    best = [0.0] * len(runs)
    for _ in range(args.rounds):
        for i, (device, amp, b, _name, fn) in enumerate(runs):
            best[i] = max(best[i], tiles_per_second(fn, cfg, device, b, tile, amp, args.seconds))
    print("device | precision | batch | mode | tiles/s | working Mpx/s")
    for (device, amp, b, name, _fn), tps in zip(runs, best):
        print(f"{device.type} | {describe(amp)} | {b} | {name} | {tps:.2f} | {tps * tile * tile / 1e6:.2f}")
    print(f"# reproduce: python bench/model_speed.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
