"""A routed model (``model/routed.py``, ``train.py --route``): each scene is read by the network its
native GSD routes it to, exactly as that network alone reads it; what cannot use it says so."""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import rasterio
import torch

import infer
from detector.model.network import ModelError, load_model, read_checkpoint
from detector.model.routed import FLOAT32_KEPT, ROUTED_FORMAT, half_storage, load_detector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402


def _plain(src: Path, out: Path, heat_bias: float = 0.0) -> Path:
    """A plain copy of ``src`` with its weights rounded as a routed checkpoint keeps them;
    ``heat_bias`` raises every vessel score (another network, which finds other boxes)."""
    ckpt = read_checkpoint(src)
    ckpt["model"]["head.2.bias"][0] += heat_bias
    # Rounded once here, so that routing them rounds nothing more: the networks are then the same.
    ckpt["model"] = {k: v.float() if v.is_floating_point() else v for k, v in half_storage(ckpt["model"]).items()}
    torch.save(ckpt, out)
    return out


def _coarse_copy(src: Path, out: Path, factor: float) -> Path:
    """The same pixels as ``src`` with pixels ``factor`` times as large (a coarser sensor)."""
    with rasterio.open(src) as ds:
        profile, data = ds.profile, ds.read()
        t = ds.transform
    profile.update(transform=rasterio.Affine(t.a * factor, t.b, t.c, t.d, t.e * factor, t.f))
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out


def _detections(model: Path, scenes: list[Path], out: Path, *extra: str) -> dict[str, list[dict]]:
    argv = [*map(str, scenes), "--out", str(out), "--model", str(model), "--berths", "none", "--aoi", "whole",
            "--workers", "0", "--quiet", "--no-events", "--no-report", *extra]
    assert infer.main(infer.get_args_parser().parse_args(argv)) == 0
    by_scene = defaultdict(list)
    with open(out / "detections.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_scene[row["scene"]].append(row)
    return dict(by_scene)


def _eager_once_and_mirrored(two_networks, scenes: list[Path], out: Path) -> tuple[dict, dict]:
    """The eager network's detections on ``scenes`` read once and read mirrored too, checked to
    differ on every scene so that a comparison with either can fail."""
    once = _detections(two_networks["eager"], scenes, out / "once")
    twice = _detections(two_networks["eager"], scenes, out / "twice", "--tta")
    assert all(once[s.stem] != twice[s.stem] for s in scenes)
    return once, twice


@pytest.fixture(scope="module")
def two_networks(port, tmp_path_factory):
    d = tmp_path_factory.mktemp("routed")
    fine = _plain(port["model"], d / "fine.pt")
    eager = _plain(port["model"], d / "eager.pt", heat_bias=3.0)
    routed = d / "routed.pt"
    assert train.main(train.get_args_parser().parse_args(["--route", f"{fine}@5", str(eager), "--export", str(routed)])) == 0
    scenes = sorted(Path(port["scenes"]).glob("*.tif"))
    coarse = _coarse_copy(scenes[0], d / "coarse_9m.tif", 3.0)
    return {"dir": d, "fine": fine, "eager": eager, "routed": routed, "scenes": [*scenes, coarse], "coarse": coarse.stem}


def test_each_scene_is_read_by_the_network_its_gsd_routes_it_to(two_networks):
    d, scenes = two_networks["dir"], two_networks["scenes"]
    fine = _detections(two_networks["fine"], scenes, d / "out-fine")
    eager = _detections(two_networks["eager"], scenes, d / "out-eager")
    # Batches of several tiles: tiles of a 3 m and a 9 m scene must not share one network's call.
    routed = _detections(two_networks["routed"], scenes, d / "out-routed", "--batch-size", "8")
    coarse = two_networks["coarse"]
    fine_scenes = [s.stem for s in scenes if s.stem != coarse]
    assert any(fine[s] for s in fine_scenes) and eager[coarse]
    # The two networks differ, so the comparison below can fail.
    assert any(len(eager[s]) > len(fine.get(s, [])) for s in fine_scenes)
    for s in fine_scenes:
        assert routed.get(s, []) == fine.get(s, []), s
    assert routed[coarse] == eager[coarse]


def test_a_route_marked_tta_reads_its_scenes_mirrored_too(two_networks, tmp_path):
    coarse = two_networks["scenes"][-1:]
    routed = tmp_path / "routed-tta.pt"
    argv = ["--route", f"{two_networks['fine']}@5", f"{two_networks['eager']}+tta", "--export", str(routed)]
    assert train.main(train.get_args_parser().parse_args(argv)) == 0
    once = _detections(two_networks["eager"], coarse, tmp_path / "once")
    twice = _detections(two_networks["eager"], coarse, tmp_path / "twice", "--tta")
    assert once != twice  # mirroring changes what is found, so the comparison can fail
    assert _detections(routed, coarse, tmp_path / "routed") == twice


def test_one_network_read_two_ways_is_stored_once_and_reads_as_each_route_says(two_networks, tmp_path):
    # The eager network reads 5-8 m scenes once and coarser ones mirrored too: the same weights.
    routed = tmp_path / "shared.pt"
    eager = two_networks["eager"]
    argv = ["--route", f"{two_networks['fine']}@5", f"{eager}@8", f"{eager}+tta", "--export", str(routed)]
    assert train.main(train.get_args_parser().parse_args(argv)) == 0
    ckpt = read_checkpoint(routed, formats=(ROUTED_FORMAT,))
    assert ["model" in r for r in ckpt["routes"]] == [True, True, False]
    assert routed.stat().st_size < 1.05 * two_networks["routed"].stat().st_size  # not a third network's bytes
    detector = load_detector(routed)
    assert detector.routes[2].model is detector.routes[1].model
    scene = two_networks["scenes"][0]
    at_6m, at_9m = _coarse_copy(scene, tmp_path / "at_6m.tif", 2.0), _coarse_copy(scene, tmp_path / "at_9m.tif", 3.0)
    got = _detections(routed, [at_6m, at_9m], tmp_path / "routed")
    once, twice = _eager_once_and_mirrored(two_networks, [at_6m, at_9m], tmp_path)
    assert got["at_6m"] == once["at_6m"] and got["at_9m"] == twice["at_9m"]
    nets = tmp_path / "nets"
    assert train.main(train.get_args_parser().parse_args(["--unroute", str(routed), "--export", str(nets)])) == 0
    want = read_checkpoint(eager)["model"]
    for i in (1, 2):
        model, _, _ = load_model(nets / f"route{i}.pt")
        assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())


def test_the_finer_route_of_a_shared_network_can_be_the_mirrored_one(two_networks, tmp_path):
    # As the shipped model reads harbour-fine scenes: mirrored below 5 m, once from 5 to 8 m.
    routed = tmp_path / "mirrored-first.pt"
    eager = two_networks["eager"]
    argv = ["--route", f"{eager}+tta@5", f"{eager}@8", str(two_networks["fine"]), "--export", str(routed)]
    assert train.main(train.get_args_parser().parse_args(argv)) == 0
    ckpt = read_checkpoint(routed, formats=(ROUTED_FORMAT,))
    assert ["model" in r for r in ckpt["routes"]] == [True, False, True]
    assert [r["mirror"] for r in ckpt["routes"]] == [True, False, False]
    scene = two_networks["scenes"][0]
    at_6m = _coarse_copy(scene, tmp_path / "at_6m.tif", 2.0)
    scenes = [scene, at_6m]
    got = _detections(routed, scenes, tmp_path / "routed")
    once, twice = _eager_once_and_mirrored(two_networks, scenes, tmp_path)
    assert got[scene.stem] == twice[scene.stem] and got["at_6m"] == once["at_6m"]


def test_the_run_records_each_route(two_networks, tmp_path):
    import json

    _detections(two_networks["routed"], two_networks["scenes"][-1:], tmp_path / "o")
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    routes = record["model"]["routes"]
    assert [r["scene_gsd_below_m"] for r in routes] == [5.0, None] and routes[1]["scene_gsd_from_m"] == 5.0
    assert [r["mirror"] for r in routes] == [False, False]
    assert record["scenes"][0]["work_gsd_m"] == routes[1]["config"]["work_gsd_max_m"]


def test_a_routed_checkpoint_keeps_weights_in_half_the_bytes_and_loads_as_float32(two_networks):
    ckpt = read_checkpoint(two_networks["routed"], formats=(ROUTED_FORMAT,))
    floats = [(k, v.dtype) for r in ckpt["routes"] for k, v in r["model"].items() if v.is_floating_point()]
    assert {d for k, d in floats if k.endswith(".weight")} == {torch.float16}
    # A BatchNorm variance past float16's range would become infinite: statistics stay float32.
    assert {d for k, d in floats if k.endswith(FLOAT32_KEPT)} == {torch.float32}
    detector = load_detector(two_networks["routed"])
    assert [r.below_gsd_m for r in detector.routes] == [5.0, math.inf]
    assert all(p.dtype == torch.float32 for r in detector.routes for p in r.model.parameters())
    assert detector.route(4.99).model is detector.routes[0].model and detector.route(5.0).model is detector.routes[1].model


def test_what_needs_one_network_refuses_a_routed_checkpoint_and_says_why(port, two_networks, tmp_path, capsys):
    with pytest.raises(ModelError, match="holds several networks"):
        load_model(two_networks["routed"])
    argv = ["--init", str(two_networks["routed"]), "--data", f"truth:{port['scenes']}", "--out", str(tmp_path / "ft")]
    assert train.main(train.get_args_parser().parse_args(argv)) == 2
    assert "holds several networks" in capsys.readouterr().err


def test_unroute_gives_back_each_network_to_train_from(two_networks, tmp_path):
    argv = ["--unroute", str(two_networks["routed"]), "--export", str(tmp_path / "nets")]
    assert train.main(train.get_args_parser().parse_args(argv)) == 0
    for i, source in enumerate((two_networks["fine"], two_networks["eager"])):
        model, cfg, _ = load_model(tmp_path / "nets" / f"route{i}.pt")
        want = read_checkpoint(source)["model"]
        assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("specs, message", [
    (["a.pt@5"], "two checkpoints or more"),
    (["{fine}", "{eager}"], "every checkpoint but the last takes @M"),
    (["{fine}@5", "{eager}@9"], "every checkpoint but the last takes @M"),
    (["{fine}@fine", "{eager}"], "is not a GSD in metres"),
    (["{fine}@5", "{eager}@3", "{fine}"], "route bounds must rise"),
])
def test_route_refuses_what_cannot_be_routed(two_networks, tmp_path, capsys, specs, message):
    specs = [s.format(fine=two_networks["fine"], eager=two_networks["eager"]) for s in specs]
    argv = ["--route", *specs, "--export", str(tmp_path / "r.pt")]
    assert train.main(train.get_args_parser().parse_args(argv)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.pt").exists()


def test_the_recall_at_the_berth_is_stored_in_a_routed_checkpoint(two_networks, tmp_path):
    from detector.events.recall import DetectorRecall, RecallBand, recall_of
    from detector.train.berth_recall import store_recall

    assert recall_of(load_detector(two_networks["routed"]).meta) is None  # its sources' recalls are not its own
    out = tmp_path / "with_recall.pt"
    store_recall(two_networks["routed"], out, DetectorRecall((RecallBand(1.0, 3.05, 7, 10),), None, "test"))
    assert recall_of(load_detector(out).meta) is not None
