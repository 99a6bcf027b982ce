"""Labelled scenes from standard formats, as oriented boxes in scene pixels.

Readers for the generator's ``truth.csv`` (and any CSV in the detections.csv contract), COCO
(boxes, polygons or RLE masks; a mask or polygon becomes its minimum-area rectangle) and DOTA
oriented-box text files. Images may be GeoTIFFs or plain images with a given GSD.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.records import POLYGON_COLUMNS, read_csv
from ..model.geometry import corners_to_obb, long_axis_first, mask_to_corners, min_area_corners, obb_to_corners
from ..model.targets import TYPE_UNKNOWN

TYPE_CODES = {"tanker": 0, "other": 1}
# Category names that say "a vessel" without saying which kind.
GENERIC_VESSEL = {"ship", "ships", "vessel", "vessels", "boat", "boats"}
DOTA_VESSEL = {"ship", "vessel", "tanker", "boat"}


class LabelError(ValueError):
    """A label file that cannot be read, naming the file and the problem."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")


@dataclass
class LabelledScene:
    """One image and its vessels.

    ``corners``: (n, 4, 2) scene pixels, bow pair first where ``has_bow``; ``type_code``: 0
    tanker, 1 other vessel, -1 unknown; ``gsd_m`` overrides (or supplies) the image's GSD;
    ``group`` names the place (a port), for splits that hold places out.
    """

    path: Path
    corners: np.ndarray
    has_bow: np.ndarray
    type_code: np.ndarray
    gsd_m: float | None = None
    group: str = ""
    meta: dict = field(default_factory=dict)
    ignore: np.ndarray | None = None  # (n,) bool: truth nobody can see (under cloud)
    box_only: np.ndarray | None = None  # (n,) bool: an axis-aligned box, the hull's angle and size unknown
    beam_known: np.ndarray | None = None  # (n,) bool: False where the beam is an estimate (bow-stern labels)
    gsd_range_m: tuple[float, float] | None = None  # where the GSD is uncertain: training samples it in here

    def __post_init__(self):
        n = len(self.corners)
        if self.ignore is None:
            self.ignore = np.zeros(n, bool)
        if self.box_only is None:
            self.box_only = np.zeros(n, bool)
        if self.beam_known is None:
            self.beam_known = np.ones(n, bool)

    def __len__(self) -> int:
        return len(self.corners)


def _scene(path, corners, has_bow, types, gsd_m=None, group="", meta=None, **flags) -> LabelledScene:
    """A LabelledScene from lists; ``flags`` are per-vessel arrays (``box_only``, ``beam_known``) or
    ``gsd_range_m``."""
    flags = {k: np.asarray(v, bool) if k in ("box_only", "beam_known") else v for k, v in flags.items()}
    return LabelledScene(Path(path), np.asarray(corners, np.float64).reshape(-1, 4, 2), np.asarray(has_bow, bool),
                         np.asarray(types, np.int64), gsd_m, group, meta or {}, **flags)


def type_from_name(name: str) -> int:
    """Type code for a category or vessel_type name."""
    n = name.strip().lower()
    if "tanker" in n:
        return TYPE_CODES["tanker"]
    if n in GENERIC_VESSEL or not n:
        return TYPE_UNKNOWN
    return TYPE_CODES["other"]


def read_truth_dir(directory: str | Path, csv_name: str = "truth.csv") -> list[LabelledScene]:
    """Scenes ``<dir>/<scene>.tif`` with rows of ``<dir>/truth.csv`` (detections.csv columns).

    Every GeoTIFF in the directory is returned, with no vessels if it has no rows (an empty
    scene teaches the model what water looks like).
    """
    directory = Path(directory)
    table = directory / csv_name
    if not table.is_file():
        raise LabelError(table, "not found")
    rows = defaultdict(list)
    for r in read_csv(table):
        rows[r["scene"]].append(r)
    scenes = []
    for tif in sorted(directory.glob("*.tif")):
        rs = rows.get(tif.stem, [])
        corners = [[float(r[c]) for c in POLYGON_COLUMNS] for r in rs]
        types = [type_from_name(r.get("vessel_type", "")) for r in rs]
        scene = _scene(tif, corners, [True] * len(rs), types, group=tif.stem,
                       meta={"native_gsd_m": float(rs[0]["gsd_m"]) if rs and rs[0].get("gsd_m") else None})
        scene.ignore = np.array([r.get("cloud_hidden") in ("True", "true", "1") for r in rs], bool)
        scenes.append(scene)
    return scenes


def _keypoint_corners(ann: dict, names: list[str], shape: np.ndarray | None) -> np.ndarray | None:
    """Corners (bow pair first) from ``bow`` and ``stern`` keypoints: the axis and length are
    measured; the beam is the label's ``beam_px_estimated``, else the short side of ``shape`` (the
    annotation's polygon or mask rectangle, when it has one), else a sixth of the length (the
    middle of the 1/12-1/4 range of hull shapes)."""
    kp = np.asarray(ann.get("keypoints") or [], np.float64).reshape(-1, 3)
    if "bow" not in names or "stern" not in names or len(kp) < len(names):
        return None
    bow, stern = kp[names.index("bow")], kp[names.index("stern")]
    if bow[2] <= 0 or stern[2] <= 0:  # COCO visibility 0: not labelled
        return None
    length = float(np.hypot(*(bow[:2] - stern[:2])))
    if length <= 0:
        return None
    beam = ann.get("beam_px_estimated")
    if not beam and shape is not None and ann.get("segmentation"):  # a bbox's short side is not a beam
        beam = corners_to_obb(shape[None])[0, 3]
    beam = float(beam) if beam else length / 6
    centre = (bow[:2] + stern[:2]) / 2
    heading = float(np.arctan2(bow[1] - stern[1], bow[0] - stern[0]))
    return obb_to_corners(np.array([[centre[0], centre[1], length, beam, heading]]))[0]


def _coco_corners(ann: dict, height: int, width: int) -> np.ndarray | None:
    seg = ann.get("segmentation")
    if isinstance(seg, dict):  # RLE, compressed or not
        from pycocotools import mask as mask_utils

        rle = mask_utils.frPyObjects(seg, height, width) if isinstance(seg.get("counts"), list) else seg
        return mask_to_corners(mask_utils.decode(rle))
    if isinstance(seg, list) and seg and len(seg[0]) >= 6:
        pts = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in seg])
        return min_area_corners(pts)
    if "bbox" in ann:
        x, y, w, h = ann["bbox"]
        return long_axis_first(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)[None])[0]
    return None


def read_coco(json_path: str | Path, image_dir: str | Path | None = None, gsd_m: float | None = None,
              group_of=None) -> list[LabelledScene]:
    """COCO detection, segmentation or keypoint labels; each image's file is ``image_dir/file_name``.

    Per vessel, in order of preference: ``bow``/``stern`` keypoints (oriented box with its bow;
    the beam is an estimate unless only a polygon gives it), a mask or polygon (its minimum-area
    rectangle), or an axis-aligned ``bbox`` alone (kept as a box: ``box_only``). Per image, the
    optional keys ``gsd_m`` and ``gsd_m_range`` [min, max] give the ground sample distance and its
    uncertainty, ``group`` the split or place, ``source_name`` the original image (for splits by
    source). ``group_of(file_name)`` overrides the group (default: ``group``, else the file stem).
    """
    json_path = Path(json_path)
    try:
        coco = json.loads(json_path.read_text())
        images, anns, cats = coco["images"], coco.get("annotations", []), coco.get("categories", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabelError(json_path, f"not a COCO label file ({exc})") from None
    image_dir = Path(image_dir) if image_dir is not None else json_path.parent
    if not anns:
        raise LabelError(json_path, "holds no annotations: there is no vessel to learn from")
    missing = [img.get("file_name") for img in images if not (image_dir / str(img.get("file_name"))).is_file()]
    if missing:
        raise LabelError(json_path, f"{len(missing)} of {len(images)} images are not in {image_dir} "
                                    f"(first: {', '.join(map(str, missing[:3]))})")
    cat_type = {c["id"]: type_from_name(c.get("name", "")) for c in cats}
    cat_points = {c["id"]: list(c.get("keypoints") or []) for c in cats}
    by_image = defaultdict(list)
    for a in anns:
        by_image[a["image_id"]].append(a)
    scenes = []
    for img in images:
        corners, types, bows, boxes, beams, clipped, dropped = [], [], [], [], [], 0, 0
        for a in by_image.get(img["id"], []):
            if "bbox" in a and not a.get("segmentation") and not a.get("keypoints"):
                a, was_clipped = _checked_box(a, img, json_path)
                clipped += was_clipped
                if a is None:
                    dropped += 1
                    continue
            shape = _coco_corners(a, int(img["height"]), int(img["width"]))
            c = _keypoint_corners(a, cat_points.get(a.get("category_id"), []), shape)
            bow = c is not None
            c = shape if c is None else c
            if c is None:
                continue
            seg = a.get("segmentation")
            corners.append(c)
            types.append(cat_type.get(a.get("category_id"), TYPE_UNKNOWN))
            bows.append(bow)
            boxes.append(not bow and not seg)
            beams.append(not (bow and a.get("beam_px_estimated")))
        name = img["file_name"]
        group = group_of(name) if group_of else str(img.get("group") or Path(name).stem)
        gsd_range = _gsd_range(img.get("gsd_m_range"), json_path, name)
        image_gsd = gsd_m or img.get("gsd_m") or (float(np.sqrt(gsd_range[0] * gsd_range[1])) if gsd_range else None)
        meta = {k: img[k] for k in ("date", "source_name") if k in img}
        if clipped or dropped:
            meta.update(clipped_boxes=clipped, dropped_boxes=dropped)
        scenes.append(_scene(image_dir / name, corners, bows, types, image_gsd, group, meta, box_only=boxes,
                             beam_known=beams, gsd_range_m=None if gsd_m else gsd_range))  # a GSD the user gives is known
    return scenes


def _checked_box(ann: dict, img: dict, path: Path) -> tuple[dict | None, bool]:
    """A box-only annotation checked against its image: refused (LabelError naming the file,
    image and annotation) when it cannot be a vessel (not four finite numbers, a negative size,
    or wholly outside the image); clipped to the image when it only overhangs; None (dropped)
    when its width or height is zero, a slip some public sets hold (ships-aerial: a 3 x 0 px
    box). Returns the annotation to use, or None, and whether it was clipped."""
    where = f"image {img.get('file_name')!r} (id {img.get('id')}), annotation {ann.get('id')}"
    try:
        x, y, w, h = (float(v) for v in ann["bbox"])
    except (TypeError, ValueError):
        raise LabelError(path, f"{where}: bbox {ann['bbox']!r} is not [x, y, width, height]") from None
    if not all(np.isfinite([x, y, w, h])) or w < 0 or h < 0:
        raise LabelError(path, f"{where}: bbox {ann['bbox']!r} has a negative or non-finite size; a vessel cannot")
    if w == 0 or h == 0:
        return None, False  # a line, not an area: dropped, and counted by the caller
    width, height = float(img["width"]), float(img["height"])
    x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        raise LabelError(path, f"{where}: bbox {ann['bbox']!r} lies wholly outside the {width:g} x {height:g} px image")
    if (x0, y0, x1, y1) == (x, y, x + w, y + h):
        return ann, False
    return {**ann, "bbox": [x0, y0, x1 - x0, y1 - y0]}, True


def _gsd_range(value, path, name) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise LabelError(path, f"{name}: gsd_m_range must be [min, max] in metres, got {value!r}") from None
    if not (0 < lo <= hi):
        raise LabelError(path, f"{name}: gsd_m_range must satisfy 0 < min <= max, got {value!r}")
    return lo, hi


def read_dota(label_dir: str | Path, image_dir: str | Path, categories=DOTA_VESSEL,
              suffixes=(".tif", ".png", ".jpg")) -> list[LabelledScene]:
    """DOTA text labels (``x1 y1 ... x4 y4 category difficult`` per line) of the vessel ``categories``.

    A ``gsd:`` header line supplies the GSD of images without a CRS. The bow is not known.
    """
    label_dir, image_dir = Path(label_dir), Path(image_dir)
    scenes = []
    for txt in sorted(label_dir.glob("*.txt")):
        image = next((image_dir / (txt.stem + s) for s in suffixes if (image_dir / (txt.stem + s)).exists()), None)
        if image is None:
            raise LabelError(txt, f"no image named {txt.stem} with one of {suffixes} in {image_dir}")
        corners, types, gsd = [], [], None
        for k, line in enumerate(txt.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if parts[0].startswith("gsd:"):
                value = parts[0][4:] or (parts[1] if len(parts) > 1 else "")
                gsd = float(value) if value not in ("", "null", "None") else None
                continue
            if parts[0].startswith("imagesource:"):
                continue
            if len(parts) < 9:
                raise LabelError(txt, f"line {k} has {len(parts)} fields, expected 8 coordinates and a category")
            if parts[8].lower() not in categories:
                continue
            pts = np.asarray([float(v) for v in parts[:8]]).reshape(1, 4, 2)
            corners.append(long_axis_first(pts)[0])
            types.append(type_from_name(parts[8]))
        scenes.append(_scene(image, corners, [False] * len(corners), types, gsd, txt.stem))
    return scenes
