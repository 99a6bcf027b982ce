"""One run at a time in an output folder: an advisory lock on ``FOLDER/.lock``.

The lock is ``flock`` on an open file, so the kernel lets go of it when its holder ends, however
it ends: a run killed with ``kill -9`` leaves a lock file that the next run simply takes over.
The file names its holder (pid, host, start time, job) so a second run can say who has the folder.
The ranks of one torchrun job share the lock: a rank that finds it held by its own job goes on.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = ".lock"


class FolderBusy(RuntimeError):
    """The folder is held by another run."""


def job_id(world_size: int) -> str:
    """What the processes of one job share: torchrun's run id and rendezvous port for a
    multi-process job, else this process alone."""
    host = socket.gethostname()
    if world_size > 1:
        return f"torchrun:{os.environ.get('TORCHELASTIC_RUN_ID', '')}:{os.environ.get('MASTER_ADDR', '')}:{os.environ.get('MASTER_PORT', '')}"
    return f"{host}:{os.getpid()}"


@dataclass
class FolderLock:
    """A held folder; :meth:`release` (or the process ending) lets go of it."""

    path: Path
    job: str
    fd: int | None  # None: shared with another process of the same job, which holds the flock

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def holder(path: Path) -> dict:
    """Who the lock file says holds it ({} when it says nothing readable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def hold(folder: str | os.PathLike, job: str) -> FolderLock:
    """Take ``folder`` for this run (creating it), or raise FolderBusy naming the run that has it.

    OSError (a read-only file system, no permission) passes to the caller.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        who = holder(path)
        for _ in range(20):  # the holder may have the flock but not yet have written its name
            if who:
                break
            time.sleep(0.1)
            who = holder(path)
        if who.get("job") == job:
            return FolderLock(path, job, None)
        since = f" since {who['started']}" if who.get("started") else ""
        raise FolderBusy(f"{folder} is in use by another run (pid {who.get('pid', '?')} on {who.get('host', '?')}{since}); "
                         "wait for it to end or choose another --out") from None
    me = {"pid": os.getpid(), "host": socket.gethostname(), "job": job,
          "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode(), 0)
    return FolderLock(path, job, fd)
