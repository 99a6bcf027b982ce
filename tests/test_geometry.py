"""Oriented boxes: corner order, round trips near 0/90/180 degrees, IoU, NMS, minimum rectangles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.model.geometry import (
    corners_to_obb,
    iou_matrix,
    long_axis_first,
    mask_to_corners,
    min_area_corners,
    obb_to_corners,
    rotated_nms,
)

ANGLES_DEG = [0.0, 0.01, 89.99, 90.0, 90.01, 179.99, 180.0, -179.99, -90.0, 45.0, 271.0]


@pytest.mark.parametrize("angle_deg", ANGLES_DEG)
def test_obb_corners_round_trip_keeps_heading(angle_deg):
    obb = np.array([[50.0, 40.0, 30.0, 6.0, math.radians(angle_deg)]])
    back = corners_to_obb(obb_to_corners(obb))[0]
    assert back[:4] == pytest.approx(obb[0, :4], abs=1e-9)
    d = (back[4] - obb[0, 4] + math.pi) % (2 * math.pi) - math.pi
    assert abs(d) < 1e-9


def test_corner_order_bow_first_starboard_on_the_right():
    # Heading east in image coordinates (x right, y down): starboard is south, i.e. larger y.
    c = obb_to_corners(np.array([[0.0, 0.0, 10.0, 2.0, 0.0]]))[0]
    assert c[0].tolist() == pytest.approx([5.0, 1.0])   # bow-starboard
    assert c[1].tolist() == pytest.approx([5.0, -1.0])  # bow-port
    assert c[2].tolist() == pytest.approx([-5.0, -1.0])  # stern-port
    assert c[3].tolist() == pytest.approx([-5.0, 1.0])  # stern-starboard


def test_long_axis_first_makes_length_the_long_side():
    rect = np.array([[[0, 0], [20, 0], [20, 4], [0, 4]]], float)  # long side first
    obb = corners_to_obb(long_axis_first(rect))[0]
    assert obb[2] == pytest.approx(20) and obb[3] == pytest.approx(4)
    assert abs(math.sin(obb[4])) < 1e-9  # along x


def test_mask_and_points_give_minimum_rectangles():
    mask = np.zeros((40, 40), bool)
    mask[10:13, 5:30] = True  # 25 x 3 pixels
    obb = corners_to_obb(mask_to_corners(mask)[None])[0]
    assert obb[2] == pytest.approx(25) and obb[3] == pytest.approx(3)
    assert obb[:2] == pytest.approx([17.5, 11.5])
    assert mask_to_corners(np.zeros((4, 4), bool)) is None
    # A rotated polygon's vertices give back its own rectangle.
    corners = obb_to_corners(np.array([[30.0, 30.0, 40.0, 8.0, math.radians(33)]]))[0]
    again = corners_to_obb(min_area_corners(corners)[None])[0]
    assert again[2:4] == pytest.approx([40.0, 8.0], abs=1e-6)
    assert math.cos(2 * (again[4] - math.radians(33))) == pytest.approx(1.0, abs=1e-9)


def test_oriented_iou_known_values():
    a = obb_to_corners(np.array([[0.0, 0.0, 10.0, 2.0, 0.0]]))
    same_rotated = obb_to_corners(np.array([[0.0, 0.0, 10.0, 2.0, math.pi]]))
    half = obb_to_corners(np.array([[5.0, 0.0, 10.0, 2.0, 0.0]]))
    cross = obb_to_corners(np.array([[0.0, 0.0, 10.0, 2.0, math.pi / 2]]))
    far = obb_to_corners(np.array([[100.0, 0.0, 10.0, 2.0, 0.0]]))
    iou = iou_matrix(a, np.concatenate([same_rotated, half, cross, far]))[0]
    assert iou == pytest.approx([1.0, 1 / 3, 4 / 36, 0.0])


def test_nms_keeps_touching_hulls_and_drops_duplicates():
    # Two tankers rafted side by side (touching) and a near-copy of the first.
    boxes = np.array([[50, 50, 90, 15, 0.3], [50 - 15 * math.sin(0.3), 50 + 15 * math.cos(0.3), 90, 15, 0.3], [51, 50, 88, 15, 0.31]])
    keep = rotated_nms(obb_to_corners(boxes), np.array([0.9, 0.8, 0.85]), 0.4)
    assert sorted(keep.tolist()) == [0, 1]
