"""Training tiles from labelled scenes: windowed reads at the working GSD, augmentation, targets.

Every draw is a pure function of ``(seed, epoch, draw index)``: the sampler decides which scene,
the dataset decides where and how to augment from a generator seeded by the draw, so a resumed
run or any number of DataLoader workers sees the same tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from ..io.scene import Scene
from ..io.tiles import Tile
from ..model.geometry import corners_to_obb
from ..model.network import ModelConfig
from ..model.targets import encode
from .labels import LabelledScene
from .paste import DonorHull, TileLabels, paste, place, read_donor

MAX_OPEN_FILES = 64


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to vary tiles. ``gsd_jitter``: working GSD times exp(U(-j, j))."""

    enabled: bool = True
    gsd_jitter: float = 0.25
    free_rotation: float = 0.5
    colour: float = 0.8
    haze: float = 0.3
    noise: float = 0.3
    blur: float = 0.2
    grayscale: float = 0.1
    positive_share: float = 0.75  # share of tiles centred near a labelled vessel
    copy_paste: float = 0.0  # share of tiles that receive hulls cut from other scenes (detector/train/paste.py)
    paste_max: int = 3  # at most this many pasted hulls a tile
    paste_gsd_max_m: float = math.inf  # scenes coarser than this (native GSD, m) receive no pasted hulls


class TileDataset(Dataset):
    """Tiles of ``tile_px`` at the model's working GSD, with target maps.

    Keys are ``(scene_index, seed, epoch, draw)`` tuples from :class:`DrawSampler`. Returns
    ``(image, targets)``: image (3, tile_px, tile_px) float in [0, 1], targets from
    :func:`detector.model.targets.encode`.
    """

    def __init__(self, scenes: list[LabelledScene], cfg: ModelConfig, tile_px: int = 256, augment: AugmentConfig = AugmentConfig()):
        if tile_px % 16:
            raise ValueError("tile_px must be a multiple of 16")
        self.scenes, self.cfg, self.tile_px, self.aug = scenes, cfg, tile_px, augment
        self._known: dict[int, Scene] = {}  # opened once (the stretch is measured then), kept for reuse
        self._handles: list[int] = []  # scenes whose file is open now, oldest first
        # Donors for copy-paste: scenes and their oriented hulls (a box-only label has no outline to cut).
        cuttable = [(k, np.flatnonzero(~ls.box_only & ~ls.ignore)) for k, ls in enumerate(scenes)]
        self.donors = [(k, hulls) for k, hulls in cuttable if len(hulls)]

    def __len__(self) -> int:
        return len(self.scenes)

    def scene(self, k: int) -> Scene:
        """Scene ``k``, with at most ``MAX_OPEN_FILES`` files open per process (thousands of
        scenes would otherwise exhaust a 1024 file-descriptor limit)."""
        if k not in self._known:
            ls = self.scenes[k]
            self._known[k] = Scene(ls.path, gsd_m=ls.gsd_m)
        if k in self._handles:
            self._handles.remove(k)
        self._handles.append(k)
        while len(self._handles) > MAX_OPEN_FILES:
            self._known[self._handles.pop(0)].close()
        return self._known[k]

    def _true_scale(self, k: int, rng: np.random.Generator) -> float:
        """The scene's true GSD over its file's: an uncertain GSD is drawn anew each time
        (log-uniform in its range), so the doubt about scale becomes augmentation rather than
        one wrong label; 1 where the GSD is known."""
        ls = self.scenes[k]
        if ls.gsd_range_m is None:
            return 1.0
        lo, hi = ls.gsd_range_m
        return math.exp(rng.uniform(math.log(lo), math.log(hi))) / self.scene(k).info.gsd_m

    def window(self, k: int, rng: np.random.Generator) -> tuple[Tile, float]:
        """A random tile of scene ``k`` (centred near a vessel for most draws) and its working GSD."""
        ls, info = self.scenes[k], self.scene(k).info
        true_scale = self._true_scale(k, rng)
        work = self.cfg.work_gsd_m(info.gsd_m * true_scale)
        if self.aug.enabled:
            work *= math.exp(rng.uniform(-self.aug.gsd_jitter, self.aug.gsd_jitter))
        t = self.tile_px
        foot_x, foot_y = t * work / (info.gsd_x_m * true_scale), t * work / (info.gsd_y_m * true_scale)
        if len(ls) and rng.random() < self.aug.positive_share:
            c = ls.corners[rng.integers(len(ls))].mean(axis=0)
            cx, cy = c[0] + rng.uniform(-0.4, 0.4) * foot_x, c[1] + rng.uniform(-0.4, 0.4) * foot_y
        else:
            cx, cy = rng.uniform(0, info.width), rng.uniform(0, info.height)

        def axis(centre, foot, size):
            length = min(max(1, round(foot)), size)
            off = int(min(max(round(centre - foot / 2), 0), size - length))
            return off, length, min(t, max(1, round(length * t / foot)))

        col, w, out_w = axis(cx, foot_x, info.width)
        row, h, out_h = axis(cy, foot_y, info.height)
        return Tile(col, row, w, h, out_w, out_h), work

    def __getitem__(self, key):
        k, seed, epoch, draw = key
        rng = np.random.default_rng([seed, epoch, draw, k])
        ls = self.scenes[k]
        tile, work_gsd_m = self.window(k, rng)
        rgb, valid = self.scene(k).read_tile(tile, self.tile_px)
        corners = ls.corners.copy()
        corners[..., 0] = (corners[..., 0] - tile.col_off) / tile.scale_x
        corners[..., 1] = (corners[..., 1] - tile.row_off) / tile.scale_y
        labels = TileLabels(corners, ls.has_bow.copy(), ls.type_code.copy(), ls.box_only.copy(), ls.beam_known.copy(), ls.ignore.copy())
        image = torch.from_numpy(rgb)
        valid_t = torch.from_numpy(valid)
        # A hull cut from 1.7 m imagery stays sharper than any hull of a 10 m scene however it is
        # resampled, so coarse scenes can be kept free of pasted hulls.
        receives = self.scene(k).info.gsd_m <= self.aug.paste_gsd_max_m
        if self.aug.enabled and self.donors and rng.random() < self.aug.copy_paste and receives:
            self.paste_hulls(image, valid, labels, work_gsd_m, rng)
        if self.aug.enabled:
            # A free rotation would turn an axis-aligned box into a looser one than the hull's own
            # envelope: scenes with box-only labels turn by right angles only.
            image, labels.corners, valid_t = self.augment(image, labels.corners, valid_t, int(rng.integers(1 << 62)),
                                                          free_rotation=not labels.box_only.any())
        obb = corners_to_obb(labels.corners) if len(labels.corners) else np.zeros((0, 5))
        t = self.tile_px
        inside = (obb[:, 0] >= 0) & (obb[:, 0] < t) & (obb[:, 1] >= 0) & (obb[:, 1] < t)
        ix, iy = np.clip(obb[:, 0].astype(int), 0, t - 1), np.clip(obb[:, 1].astype(int), 0, t - 1)
        inside &= valid_t.numpy()[iy, ix] if len(obb) else inside
        inside &= ~labels.ignore  # a hull under cloud is not something to learn to see
        targets = encode(obb[inside], labels.has_bow[inside], labels.type_code[inside], (t, t), self.cfg.stride,
                         box_only=labels.box_only[inside], beam_known=labels.beam_known[inside])
        return image.float(), targets

    def paste_hulls(self, image: torch.Tensor, valid: np.ndarray, labels: TileLabels, work_gsd_m: float, rng: np.random.Generator) -> int:
        """Paste 1 to ``paste_max`` hulls from donor scenes into ``image`` at ``work_gsd_m``
        (``detector/train/paste.py``), adding them to ``labels``. Returns how many were pasted."""
        pasted = 0
        for _ in range(int(rng.integers(1, self.aug.paste_max + 1))):
            d, hulls = self.donors[int(rng.integers(len(self.donors)))]
            ls = self.scenes[d]
            i = int(hulls[rng.integers(len(hulls))])
            scene = self.scene(d)
            cut = read_donor(scene, ls.corners[i], work_gsd_m, scene.info.gsd_m * self._true_scale(d, rng))
            if cut is None:
                continue
            donor = DonorHull(*cut, bool(ls.has_bow[i]), int(ls.type_code[i]), bool(ls.beam_known[i]))
            spot = place(donor.corners, labels.corners, valid, rng)
            if spot is None:
                continue
            labels.append(paste(image, donor, *spot), donor.has_bow, donor.type_code, donor.beam_known)
            pasted += 1
        return pasted

    def augment(self, image: torch.Tensor, corners: np.ndarray, valid: torch.Tensor, seed: int, free_rotation: bool = True):
        """Flips, rotations (right angles only unless ``free_rotation``), colour, haze, noise, blur
        with torchvision transforms v2, seeded."""
        a = self.aug
        t = self.tile_px
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            img = tv_tensors.Image(image)
            mask = tv_tensors.Mask(valid.to(torch.uint8))
            boxes = tv_tensors.BoundingBoxes(torch.as_tensor(corners.reshape(-1, 8), dtype=torch.float32),
                                             format="XYXYXYXY", canvas_size=(t, t), clamping_mode=None)
            geo = [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
            if torch.rand(()) < a.free_rotation and free_rotation:
                geo.append(v2.RandomRotation(180.0))
            else:
                geo.append(v2.RandomRotation((90.0 * int(torch.randint(4, ())),) * 2))
            img, boxes, mask = v2.Compose(geo)(img, boxes, mask)
            photo = [
                v2.RandomApply([v2.ColorJitter(0.35, 0.35, 0.4, 0.03)], p=a.colour),
                v2.RandomGrayscale(a.grayscale),
                v2.RandomApply([v2.GaussianBlur(5, sigma=(0.2, 1.2))], p=a.blur),
            ]
            img = v2.Compose(photo)(img)
            if torch.rand(()) < a.haze:
                level = torch.empty(()).uniform_(0.05, 0.4)
                tint = torch.empty(3, 1, 1).uniform_(0.6, 0.95)
                img = img * (1 - level) + level * tint
            if torch.rand(()) < a.noise:
                img = img + torch.randn_like(img) * torch.empty(()).uniform_(0.005, 0.03)
            valid_out = mask.bool()
            img = torch.where(valid_out[None], img.clamp(0, 1), torch.zeros(()))
        return img.as_subclass(torch.Tensor), boxes.as_subclass(torch.Tensor).numpy().reshape(-1, 4, 2).astype(np.float64), valid_out.as_subclass(torch.Tensor)


class DrawSampler(Sampler):
    """Draws ``draws_per_epoch`` scene indices with replacement, weighted, split across ranks.

    Yields keys ``(scene_index, seed, epoch, draw)``. Call :meth:`set_epoch` before each epoch.
    """

    def __init__(self, weights: list[float], draws_per_epoch: int, seed: int, rank: int = 0, world_size: int = 1):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        if self.weights.numel() == 0 or not (self.weights > 0).any():
            raise ValueError("no scenes to draw from")
        self.draws, self.seed, self.rank, self.world = draws_per_epoch - draws_per_epoch % world_size, seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.draws // self.world

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        picks = torch.multinomial(self.weights, self.draws, replacement=True, generator=g).tolist()
        for d in range(self.rank, self.draws, self.world):
            yield (picks[d], self.seed, self.epoch, d)


def mixture_weights(sources: list[list[LabelledScene]], source_weights: list[float]) -> list[float]:
    """Per-scene draw weights so each source gets its share, vessels or not."""
    out = []
    for scenes, w in zip(sources, source_weights):
        out += [w / len(scenes)] * len(scenes) if scenes else []
    return out
