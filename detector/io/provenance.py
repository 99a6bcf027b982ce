"""Provenance of an input file: its hash, size, what took it and under which id.

Investigators' protocols (the Berkeley Protocol on digital open source investigations) ask that
every source be identified by a hash, its capture time and origin. The hash here is of the file
as the run read it; its size and modification time let a resumed run notice a file that changed.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

from .acqtime import read_stac

# Tags that name the platform, in the order they are trusted: a STAC item's, then GDAL's IMAGERY
# metadata (DigitalGlobe, Airbus), then a plain TIFF tag such as the generator's SENSOR.
STAC_SENSOR_KEYS = ("constellation", "platform", "instruments")


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_stamp(path: str | os.PathLike) -> dict:
    """Size in bytes and modification time (ns since the epoch, and as ISO 8601 UTC) of a file."""
    st = os.stat(path)
    return {"size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
            "modified": datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="seconds")}


def sensor_and_id(path: Path, tags: dict[str, str], imagery_tags: dict[str, str]) -> tuple[str, str, str]:
    """(sensor, where it was found, scene id) of a scene file.

    The sensor comes from a STAC sidecar (``constellation``, ``platform``, ``instruments``), GDAL's
    IMAGERY ``SATELLITEID``, or a ``SENSOR`` tag; "" with source "none" when none names it. The scene
    id is the STAC item's ``id`` where there is one, else the file's stem.
    """
    item = read_stac(path)
    scene_id = str(item["id"]) if item and isinstance(item.get("id"), (str, int)) else path.stem
    props = (item or {}).get("properties") or {}
    for key in STAC_SENSOR_KEYS:
        value = props.get(key)
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            return value.strip(), f"stac:{key}", scene_id
    for source, value in (("IMAGERY:SATELLITEID", imagery_tags.get("SATELLITEID")), ("tag:SENSOR", tags.get("SENSOR"))):
        if value and value.strip():
            return value.strip(), source, scene_id
    return "", "none", scene_id
