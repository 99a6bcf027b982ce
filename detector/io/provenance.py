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


def file_record(path: str | os.PathLike, info=None) -> dict:
    """Where a scene's figures come from: the file's SHA-256, size and modification time, and,
    once it is open (``info``, an ``io.scene.SceneInfo``), its CRS, GSD, time and sensor with their sources."""
    record: dict = {"file": str(path)}
    try:
        record |= file_stamp(path) | {"sha256": sha256_file(path)}
    except OSError as exc:
        record["unreadable"] = exc.strerror or str(exc)
    if info is not None:
        record |= {"scene_id": info.scene_id, "crs": info.crs, "gsd_m": round(info.gsd_m, 4), "gsd_source": info.gsd_source,
                   "datetime": info.datetime.isoformat() if info.datetime else "", "datetime_source": info.datetime_source,
                   "sensor": info.sensor, "sensor_source": info.sensor_source, "width_px": info.width, "height_px": info.height}
    return record


def same_file(record: dict | None, path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` has the size and modification time ``record`` (``file_record``) saw."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    record = record or {}
    return record.get("size_bytes") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns


def sensor_and_id(path: Path, item: dict | None, tags: dict[str, str], imagery_tags: dict[str, str]) -> tuple[str, str, str]:
    """(sensor, where it was found, scene id) of a scene file whose STAC item (``acqtime.read_stac``) is ``item``.

    The sensor comes from the STAC item (``constellation``, ``platform``, ``instruments``), GDAL's
    IMAGERY ``SATELLITEID``, or a ``SENSOR`` tag; "" with source "none" when none names it. The scene
    id is the STAC item's ``id`` where there is one, else the file's stem.
    """
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
