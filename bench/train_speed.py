"""Training throughput in tiles per second: float32 against bfloat16 autocast, channels_last or
not, for one or more backbones, on random tiles: the training loop's own step (``engine.train_step``:
forward, loss, backward, gradient clipping, AdamW), no I/O.

The settings take turns (round-robin over ``--repeats`` rounds) so a busy neighbour on a shared
machine slows them all alike; the best round of each is printed.

    python bench/train_speed.py --threads 2
    python bench/train_speed.py --threads 2 --backbones resnet18 resnet18_gn mobilenet_v3_large --tile-px 256 --batch-size 16
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.model.network import ModelConfig, build  # noqa: E402
from detector.model.precision import cpu_has_native_bf16  # noqa: E402
from detector.model.targets import encode  # noqa: E402
from detector.train.engine import train_step  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backbones", nargs="*", default=[ModelConfig.backbone])
    p.add_argument("--tile-px", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=4, help="timed steps per round and setting")
    p.add_argument("--repeats", type=int, default=3, help="rounds; the best is kept")
    return p


def _batch(batch: int, tile: int, stride: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = torch.rand(batch, 3, tile, tile, generator=torch.Generator().manual_seed(seed))
    targets = []
    for _ in range(batch):
        n = 4
        obb = np.column_stack([rng.uniform(20, tile - 20, (n, 2)), rng.uniform(20, 60, n), rng.uniform(4, 10, n),
                               rng.uniform(-np.pi, np.pi, n)])
        targets.append(encode(obb, np.ones(n, bool), np.zeros(n, np.int64), (tile, tile), stride))
    return images, {k: torch.stack([t[k] for t in targets]) for k in targets[0]}


def main(args) -> None:
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} CPU threads, "
          f"native bf16: {cpu_has_native_bf16()}; batch {args.batch_size} x {args.tile_px} px")
    settings = []
    for bb in args.backbones:
        for dtype in (None, torch.bfloat16):
            for cl in (False, True):
                cfg = ModelConfig(backbone=bb)
                torch.manual_seed(0)
                model = build(cfg).train()
                if cl:
                    model = model.to(memory_format=torch.channels_last)
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
                images, targets = _batch(args.batch_size, args.tile_px, cfg.stride)
                if cl:
                    images = images.contiguous(memory_format=torch.channels_last)
                train_step(model, opt, images, targets, dtype)  # warm-up: oneDNN picks its kernels
                params = sum(p.numel() for p in model.parameters()) / 1e6
                settings.append({"name": f"{bb} | {'bfloat16' if dtype else 'float32'} | {'yes' if cl else 'no'} | {params:.2f}",
                                 "run": (model, opt, images, targets, dtype), "best": float("inf")})
    for _ in range(args.repeats):
        for s in settings:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                train_step(*s["run"])
            s["best"] = min(s["best"], (time.perf_counter() - t0) / args.steps)
    print("backbone | precision | channels_last | M params | s/step | tiles/s")
    for s in settings:
        print(f"{s['name']} | {s['best']:.3f} | {args.batch_size / s['best']:.1f}")
    print(f"# reproduce: python bench/train_speed.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
