"""Atomic file writes: a reader sees the old file or the whole new one, never a half-written one."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator


TEMP_MARK = ".partial"  # in every temporary name: what sweep_temporaries removes
MAX_NAME_BYTES = 160  # output names longer than this are shortened (file systems allow 255 bytes)


def fit_name(stem: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``stem`` as a file name that fits any file system with room for a suffix: unchanged when
    short, else its first characters and a hash of the whole (so two long names stay apart)."""
    if len(stem.encode()) <= max_bytes:
        return stem
    digest = hashlib.sha256(stem.encode()).hexdigest()[:16]
    head = stem.encode()[: max_bytes - 17].decode("utf-8", "ignore")
    return f"{head}~{digest}"


def sweep_temporaries(folder: str | os.PathLike) -> int:
    """Remove the temporaries that a killed writer left in ``folder`` (ours only: hidden names
    carrying ``TEMP_MARK``, or the ``.NAME.XXXX.SUFFIX`` of earlier versions). Call only while
    holding the folder (``io/lock.py``): another run's temporaries are live. Returns how many."""
    removed = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    for p in folder.iterdir():
        n = p.name
        ours = n.startswith(".") and (TEMP_MARK in n or _OLD_TEMP.fullmatch(n))
        if ours and p.is_file() and n != ".lock":
            p.unlink(missing_ok=True)
            removed += 1
    return removed


_OLD_TEMP = re.compile(r"\..+\.[A-Za-z0-9_]{8}(\.[A-Za-z0-9]+)?")  # mkstemp's 8 random characters


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask (read once: setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary file lives in the same directory so that ``os.replace`` is atomic (same file
    system). On an exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name is short whatever the final one (a 250-byte name plus a prefix and a
    # suffix passes the file system's 255), and marked so a later run can sweep what a kill left.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem[:40]}.", suffix=f"{TEMP_MARK}{final.suffix[:16]}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); a finished output gets the usual umask permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
