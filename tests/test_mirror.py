"""Test-time mirroring (``--tta``): the maps of a mirrored tile, read back, describe the tile's own
hulls; a run with it finds the port's vessels and does not reuse scenes read without it; a
teacher that mirrors trains a student."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import torch

import infer
from detector.io.records import read_csv
from detector.model.mirror import MirrorMean, unmirror
from detector.model.network import decode
from detector.model.targets import encode

STRIDE = 4
TILE_PX = 128


def _perfect_maps(obb: np.ndarray) -> dict[str, torch.Tensor]:
    """The head maps a perfect network gives for hulls ``obb`` (cx, cy, length, beam, heading_rad
    in tile pixels): the training targets, with the heatmap as logits."""
    t = encode(obb, np.ones(len(obb), bool), np.zeros(len(obb), int), (TILE_PX, TILE_PX), STRIDE)
    logit = lambda p: torch.logit(p.clamp(1e-4, 1 - 1e-4))  # noqa: E731
    reg = t["reg"]
    maps = {"heat": logit(t["heat"]), "type": logit(t["type"]), "offset": reg[0:2], "size": reg[2:4],
            "axis": reg[4:6], "bow": reg[6:8]}
    return {k: v[None] for k, v in maps.items()}


def _mirror_obb(obb: np.ndarray) -> np.ndarray:
    """The same hulls in the left-right mirror image of the tile: x -> width - x, heading -> pi - heading."""
    out = obb.copy()
    out[:, 0] = TILE_PX - obb[:, 0]
    out[:, 4] = math.pi - obb[:, 4]
    return out


def _heading_gap_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.abs((a - b + math.pi) % (2 * math.pi) - math.pi))


def test_maps_of_the_mirror_image_read_back_as_the_tile_s_own_hulls():
    # Bows pointing every way, centres off the cell grid, so each sign that a mirror flips is exercised.
    hulls = np.array([[30.3, 40.7, 60.0, 12.0, 0.3], [90.6, 30.2, 40.0, 9.0, 2.4],
                      [70.2, 100.9, 50.0, 10.0, -1.2], [25.8, 95.1, 36.0, 8.0, -2.9]])
    want = decode(_perfect_maps(hulls), STRIDE, 0.5)[0].obb.numpy()
    got = decode(unmirror(_perfect_maps(_mirror_obb(hulls))), STRIDE, 0.5)[0].obb.numpy()
    assert len(got) == len(want) == len(hulls)
    order_w, order_g = np.argsort(want[:, 0]), np.argsort(got[:, 0])
    want, got = want[order_w], got[order_g]
    assert np.allclose(got[:, :4], want[:, :4], atol=1e-3)  # centre, length and beam in pixels
    assert np.all(_heading_gap_deg(got[:, 4], want[:, 4]) < 0.1)  # the bow at the same end


def test_mirror_mean_of_a_perfect_network_is_that_network():
    hulls = np.array([[50.2, 60.8, 70.0, 14.0, 0.9], [100.1, 20.3, 30.0, 7.0, -2.0]])

    class Perfect(torch.nn.Module):
        """Gives the hulls' maps for the tile and the mirrored hulls' maps for its mirror image."""

        def forward(self, images):
            return {k: torch.cat([a, b]) for (k, a), b in zip(_perfect_maps(hulls).items(),
                                                             _perfect_maps(_mirror_obb(hulls)).values())}

    tile = torch.zeros(1, 3, TILE_PX, TILE_PX)
    mean = decode(MirrorMean(Perfect())(tile), STRIDE, 0.5)[0]
    alone = decode(_perfect_maps(hulls), STRIDE, 0.5)[0]
    assert len(mean.score) == len(hulls)
    assert torch.allclose(mean.obb[alone.obb[:, 0].argsort()], alone.obb[alone.obb[:, 0].argsort()], atol=1e-3)
    assert torch.allclose(mean.score, alone.score, atol=1e-4)


def _run(port, out, *extra) -> int:
    argv = [str(port["scenes"]), "--out", str(out), "--model", str(port["model"]), "--berths", str(port["berths"]),
            "--workers", "0", "--quiet", "--no-events", "--no-report", "--no-quicklooks", *extra]
    return infer.main(infer.get_args_parser().parse_args(argv))


def test_a_run_with_tta_counts_the_port_and_redoes_scenes_read_without_it(port, tmp_path):
    out = tmp_path / "o"
    assert _run(port, out) == 0
    plain = {p.name: json.loads(p.read_text())["key"] for p in (out / "parts").glob("*.json")}
    assert _run(port, out, "--tta") == 0
    mirrored = {p.name: json.loads(p.read_text())["key"] for p in (out / "parts").glob("*.json")}
    assert set(mirrored) == set(plain) and all(mirrored[n] != k for n, k in plain.items())
    truth = Counter((r["scene"], r["berth"]) for r in port["truth"] if r["berth"])
    counts = {(c["scene"], c["berth"]): int(c["tankers"]) + int(c["other_vessels"])
              for c in read_csv(out / "counts.csv") if c["berth"]}
    assert all(counts.get(k, 0) == n for k, n in truth.items()), (counts, truth)
    assert json.loads((out / "run.json").read_text())["config"]["tta"] is True


def test_a_student_learns_from_a_mirroring_teacher(port, tmp_path):
    import train

    out = tmp_path / "student"
    argv = ["--init", str(port["model"]), "--data", f"truth:{port['scenes']}", "--epochs", "1", "--draws-per-epoch", "16",
            "--batch-size", "8", "--tile-px", "128", "--workers", "0", "--seed", "3", "--out", str(out), "--teacher-tta"]
    # Without a teacher there is nothing to mirror: refused before anything runs.
    assert train.main(train.get_args_parser().parse_args(argv)) == 2
    assert train.main(train.get_args_parser().parse_args(argv + ["--teacher", str(port["model"])])) == 0
    rows = read_csv(out / "metrics.csv")
    assert len(rows) == 1 and float(rows[0]["loss_distill"]) > 0
    ckpt = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["train_config"]["teacher_tta"] is True


def test_a_recall_measured_without_tta_is_flagged_in_a_tta_run(port, tmp_path):
    from detector.events.recall import DetectorRecall, RecallBand
    from detector.infer.pipeline import InferConfig, loads_config
    from detector.model.network import read_checkpoint
    from detector.train.berth_recall import store_recall

    measured = tmp_path / "recall.pt"
    store_recall(port["model"], measured, DetectorRecall((RecallBand(1.0, 3.05, 7, 10),), None, "seasons"), tta=False)
    meta = read_checkpoint(measured)["meta"]
    same = loads_config(InferConfig(tta=False), meta).estimate.recall
    other = loads_config(InferConfig(tta=True), meta).estimate.recall
    assert same.source == "seasons" and same.bands == other.bands
    assert "measured without --tta" in other.source and "too large" in other.source
