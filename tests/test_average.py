"""train.py --average: the mean weights of checkpoints of one model, and the inputs it refuses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from detector.model.network import ModelConfig, build, load_model, read_checkpoint, save_checkpoint
from detector.train.average import average_checkpoints

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

CFG = ModelConfig(fpn_channels=16)


def _checkpoint(path: Path, seed: int, cfg: ModelConfig = CFG, **meta) -> Path:
    torch.manual_seed(seed)
    model = build(cfg).train()
    with torch.no_grad():  # BatchNorm running statistics that differ between the two
        model(torch.rand(2, 3, 64, 64))
    save_checkpoint(path, model.eval(), cfg, {"seed": seed, **meta})
    return path


def test_average_is_the_mean_of_the_weights_and_statistics(tmp_path):
    a = _checkpoint(tmp_path / "a.pt", 1)
    b = _checkpoint(tmp_path / "b.pt", 2, loading_recall={"bands": []})
    model, cfg, meta = average_checkpoints([a, b])
    sa, sb, sm = (read_checkpoint(a)["model"], read_checkpoint(b)["model"], model.state_dict())
    floats = [k for k, v in sa.items() if v.is_floating_point()]
    differ = [k for k in floats if not torch.equal(sa[k], sb[k])]  # BatchNorm's initial 1s and 0s do not
    assert len(differ) > len(floats) / 2 and any("running_mean" in k for k in differ)
    for k in floats:
        torch.testing.assert_close(sm[k], (sa[k] + sb[k]) / 2)
    counters = [k for k, v in sa.items() if not v.is_floating_point()]
    assert counters and all(torch.equal(sm[k], sb[k]) for k in counters)
    assert cfg == CFG
    # The recall at the berth was measured on b's weights, not on the average's.
    assert "loading_recall" not in meta and meta["averaged_from"] == [str(a), str(b)] and meta["seed"] == 2


def test_cli_writes_a_loadable_average_and_never_over_an_input(tmp_path, capsys):
    a, b = _checkpoint(tmp_path / "a.pt", 1), _checkpoint(tmp_path / "b.pt", 2)
    before = a.read_bytes()
    out = tmp_path / "avg" / "model.pt"
    assert train.main(train.get_args_parser().parse_args(["--average", str(a), str(b), "--export", str(out)])) == 0
    model, cfg, meta = load_model(out)
    assert cfg == CFG and meta["averaged_from"] == [str(a), str(b)]
    x = torch.rand(1, 3, 64, 64)
    assert torch.isfinite(model(x)["heat"]).all()

    for argv, says in (
        (["--average", str(a), str(b), "--export", str(a)], "is one of the checkpoints"),
        (["--average", str(a), str(b)], "--export"),
        (["--average", str(a), "--export", str(out)], "two checkpoints or more"),
        (["--average", str(a), str(tmp_path / "missing.pt"), "--export", str(out)], "not found"),
    ):
        assert train.main(train.get_args_parser().parse_args(argv)) == 2, argv
        assert says in capsys.readouterr().err, argv
    assert a.read_bytes() == before


def test_checkpoints_of_different_models_do_not_average(tmp_path):
    a = _checkpoint(tmp_path / "a.pt", 1)
    c = _checkpoint(tmp_path / "c.pt", 1, ModelConfig(fpn_channels=16, work_gsd_max_m=10.0))
    with pytest.raises(ValueError, match="work_gsd_max_m"):
        average_checkpoints([a, c])
