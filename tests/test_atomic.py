"""Atomic writes: a failed write leaves the old file whole; a finished file is readable by others."""

from __future__ import annotations

import os

import pytest

from detector.io.atomic import atomic_path, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_debris(tmp_path):
    target = tmp_path / "counts.csv"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["counts.csv"]


def test_finished_files_get_umask_permissions_not_private_ones(tmp_path):
    target = tmp_path / "detections.csv"
    write_text_atomic(target, "x\n")
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
