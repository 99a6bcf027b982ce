"""Where a process runs: its device, and its place in a torchrun job.

Shared by training and inference, so inference needs nothing from the training engine to pick a
device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def torchrun_place() -> Distributed:
    """This process's place from torchrun's RANK / WORLD_SIZE / LOCAL_RANK (rank 0 of 1 when run alone)."""
    return Distributed(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
                       int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The device for ``name`` ("auto", "cpu", "cuda", "cuda:N"); a bare "cuda" means cuda:LOCAL_RANK.

    Raises ValueError when CUDA is asked for and there is none.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for but no CUDA device is available")
        dev = torch.device("cuda", local_rank if dev.index is None else dev.index)
        torch.cuda.set_device(dev)
    return dev
