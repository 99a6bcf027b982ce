"""The row contract shared by `infer.py`'s detections.csv and the generator's truth.csv."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import contextmanager

from .atomic import atomic_path

POLYGON_COLUMNS = [f"{a}{k}_px" for k in range(1, 5) for a in ("x", "y")]
# Corners go bow-starboard, bow-port, stern-port, stern-starboard, so the polygon carries the heading.
DETECTION_COLUMNS = [
    "scene", "vessel_id", "score", *POLYGON_COLUMNS, "lon", "lat", "length_m", "beam_m", "heading_deg",
    "vessel_type", "hull_class", "berth", "datetime",
]
TRUTH_EXTRA_COLUMNS = ["kind", "state", "name", "cloud_hidden", "truncated", "gsd_m", "sensor"]
TRUTH_COLUMNS = DETECTION_COLUMNS + TRUTH_EXTRA_COLUMNS


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str]) -> None:
    """Write ``rows`` with exactly ``columns`` (missing values empty) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a CSV file as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@contextmanager
def user_csv(path: str | os.PathLike, error: type[Exception], what: str) -> Iterator[csv.DictReader]:
    """A user's UTF-8 CSV (a byte-order mark allowed) as a DictReader; a missing, unreadable or
    non-UTF-8 file raises ``error`` saying what to do, naming the file as ``what``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            yield csv.DictReader(f)
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the CSV as UTF-8") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
