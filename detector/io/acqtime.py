"""Acquisition time of a scene: from a STAC sidecar, TIFF tags, or a date in the file name."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

# 2024-03-07, 2024_03_07, 20240307, optionally followed by a time: T052311 or T05:23:11.
_NAME_DATE = re.compile(
    r"(?<!\d)(?P<y>(19|20)\d\d)[-_]?(?P<m>[01]\d)[-_]?(?P<d>[0-3]\d)"
    r"(?:[T_](?P<H>[0-2]\d):?(?P<M>[0-5]\d):?(?P<S>[0-5]\d))?(?!\d)"
)


def sidecar_paths(path: Path) -> list[Path]:
    """Where a STAC item JSON for ``path`` may lie: ``scene.json`` or ``scene.tif.json``."""
    return [path.with_suffix(".json"), path.with_name(path.name + ".json")]


def read_stac(path: Path) -> dict | None:
    """The STAC item beside ``path`` (``sidecar_paths``), or None when there is none that reads."""
    for sidecar in sidecar_paths(Path(path)):
        if sidecar.is_file():
            try:
                item = json.loads(sidecar.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                continue
            if isinstance(item, dict):
                item.setdefault("_sidecar", sidecar.name)
                return item
    return None


def parse_datetime(text: str) -> datetime | None:
    """Parse an ISO 8601 or TIFF ("YYYY:MM:DD HH:MM:SS") date-time; naive times are taken as UTC."""
    text = text.strip()
    if re.fullmatch(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d", text):
        text = text.replace(":", "-", 2)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def acquisition_time(path: Path, item: dict | None, tags: dict[str, str], imagery_tags: dict[str, str]) -> tuple[datetime | None, str]:
    """The scene's acquisition time in UTC and where it was found.

    Looked for in this order: a STAC item sidecar (``properties.datetime`` or
    ``start_datetime``), GDAL's IMAGERY ``ACQUISITIONDATETIME``, the ``TIFFTAG_DATETIME`` tag,
    then a date in the file name. Returns ``(None, "none")`` when there is none. ``item`` is the
    scene's STAC item (:func:`read_stac`), None when it has none.
    """
    props = (item or {}).get("properties")
    if isinstance(props, dict):
        for key in ("datetime", "start_datetime"):
            if isinstance(props.get(key), str) and (value := parse_datetime(props[key])):
                return value, f"stac:{item['_sidecar']}"
    for source, text in (
        ("ACQUISITIONDATETIME", imagery_tags.get("ACQUISITIONDATETIME")),
        ("TIFFTAG_DATETIME", tags.get("TIFFTAG_DATETIME")),
    ):
        if text and (value := parse_datetime(text)):
            return value, source
    match = _NAME_DATE.search(path.stem)
    if match:
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        try:
            value = datetime(
                parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0),
                parts.get("S", 0), tzinfo=timezone.utc,
            )
        except ValueError:
            return None, "none"
        return value, "filename"
    return None, "none"
