"""The quicklook picture shows each vessel where it is, in its class's colour, bow marked."""

import numpy as np
import shapely
from PIL import Image

from detector.infer.quicklook import BERTH, BOW, OTHER, TANKER, TITLE_PX, draw_quicklook
from detector.io.records import POLYGON_COLUMNS

GREY = 0.3


def _vessel(corners_px, vessel_type: str) -> dict:
    row = {c: str(v) for c, v in zip(POLYGON_COLUMNS, np.asarray(corners_px, float).ravel())}
    return {**row, "vessel_type": vessel_type, "hull_class": "aframax" if vessel_type == "tanker" else "", "length_m": "245"}


def _near(pixel, colour, tol=60) -> bool:
    return all(abs(int(p) - int(c)) <= tol for p, c in zip(pixel, colour))


def _draw(tmp_path, suffix: str):
    # Scene pixels from (1000, 1000) drawn at half size: a tanker heading east with its bow at x 1300,
    # another vessel further south, a berth around the tanker.
    rgb = np.full((3, 400, 600), GREY, np.float32)
    tanker = [(1300, 1040), (1300, 1060), (1100, 1060), (1100, 1040)]  # bow-starboard, bow-port, stern-port, stern-starboard
    other = [(1200, 1300), (1200, 1320), (1120, 1320), (1120, 1300)]
    berth = shapely.box(1050, 1010, 1350, 1090)
    path = tmp_path / f"q{suffix}"
    draw_quicklook(path, rgb, (1000, 1000), 0.5, 3.0, [_vessel(tanker, "tanker"), _vessel(other, "other")],
                   [("berth 1", berth)], "scene  2024-03-13  3.00 m/px")
    return path, np.asarray(Image.open(path).convert("RGB"))


def to_pic(x_px, y_px):
    """Scene pixel to (row, col) of the picture drawn by ``_draw``."""
    return round((y_px - 1000) * 0.5) + TITLE_PX, round((x_px - 1000) * 0.5)


def test_vessels_are_drawn_where_they_are_in_their_class_colour(tmp_path):
    path, pic = _draw(tmp_path, ".jpg")
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"
    assert pic.shape == (400 + TITLE_PX, 600, 3)  # the scene pixel for pixel, a title strip above
    assert _near(pic[to_pic(1200, 1040)], TANKER)  # the tanker's starboard side
    assert _near(pic[to_pic(1300, 1050)], BOW)  # its bow end, not its stern
    assert not _near(pic[to_pic(1100, 1050)], BOW) and _near(pic[to_pic(1100, 1050)], TANKER)
    assert _near(pic[to_pic(1160, 1300)], OTHER)
    assert _near(pic[to_pic(1050, 1030)], BERTH) or _near(pic[to_pic(1053, 1030)], BERTH)  # dashed: one of two nearby
    grey = round(GREY * 255)
    assert _near(pic[to_pic(1200, 1200)], (grey,) * 3, tol=8)  # open water is left as it is
    assert _near(pic[5, 300], (255, 255, 255), tol=8)  # the title strip


def test_a_png_path_gives_the_same_picture_losslessly(tmp_path):
    png, pic_png = _draw(tmp_path, ".png")
    _, pic_jpg = _draw(tmp_path, ".jpg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.abs(pic_png.astype(int) - pic_jpg).mean() < 3  # JPEG at quality 90 stays close
    assert tuple(pic_png[to_pic(1200, 1040)]) == TANKER
