"""Tile windows: full coverage, every hull whole in some tile, expected counts, AOIs."""

import math

import numpy as np
import pytest
import shapely

from detector.io.errors import SceneError
from detector.io.scene import Scene
from detector.io.tiles import DEFAULT_OVERLAP_M, MAX_HULL_LENGTH_M, axis_windows, tile_grid


def coverage(tiles, width, height):
    mask = np.zeros((height, width), bool)
    for t in tiles:
        mask[t.row_off : t.row_off + t.height, t.col_off : t.col_off + t.width] = True
    return mask


@pytest.mark.parametrize(
    "width,height,gsd_m,work_m,tile_px",
    [(3000, 2000, 0.5, 0.5, 1024), (2500, 1900, 0.5, 3.0, 512), (1200, 900, 3.0, 3.0, 512), (700, 650, 10.0, 10.0, 256), (333, 2000, 3.0, 10.0, 64)],
)
@pytest.mark.parametrize("fit", [False, True])
def test_tiles_cover_every_pixel_and_stay_inside(width, height, gsd_m, work_m, tile_px, fit):
    tiles = tile_grid(width, height, gsd_m, gsd_m, work_m, tile_px, fit=fit)
    assert coverage(tiles, width, height).all()
    for t in tiles:
        assert t.col_off >= 0 and t.row_off >= 0 and t.col_off + t.width <= width and t.row_off + t.height <= height
        assert t.out_width <= tile_px and t.out_height <= tile_px


@pytest.mark.parametrize("fit", [False, True])
@pytest.mark.parametrize("work_m,tile_px", [(0.5, 1024), (3.0, 256), (10.0, 64)])
def test_every_longest_hull_lies_whole_in_some_tile(work_m, tile_px, fit):
    rng = np.random.default_rng(7)
    gsd_m = work_m
    width = height = int(2.3 * tile_px)
    tiles = tile_grid(width, height, gsd_m, gsd_m, work_m, tile_px, fit=fit)
    bounds = np.array([t.bounds_px for t in tiles], float)
    length_px, beam_px = MAX_HULL_LENGTH_M / gsd_m, 58.0 / gsd_m
    for _ in range(2000):
        theta = rng.uniform(0, math.pi)
        half_w = 0.5 * (length_px * abs(math.cos(theta)) + beam_px * abs(math.sin(theta)))
        half_h = 0.5 * (length_px * abs(math.sin(theta)) + beam_px * abs(math.cos(theta)))
        cx, cy = rng.uniform(half_w, width - half_w), rng.uniform(half_h, height - half_h)
        inside = (
            (bounds[:, 0] <= cx - half_w) & (bounds[:, 2] >= cx + half_w)
            & (bounds[:, 1] <= cy - half_h) & (bounds[:, 3] >= cy + half_h)
        )
        assert inside.any(), (cx, cy, math.degrees(theta))


def test_tile_count_follows_stride():
    # 2000 px at 3 m, 512 px tiles: overlap ceil(352 / 3) = 118 px, stride 394 px.
    tiles = tile_grid(2000, 1000, 3.0, 3.0, 3.0, 512)
    stride = 512 - math.ceil(DEFAULT_OVERLAP_M / 3.0)
    n_cols = math.ceil((2000 - 512) / stride) + 1
    n_rows = math.ceil((1000 - 512) / stride) + 1
    assert (n_cols, n_rows) == (5, 3) and len(tiles) == n_cols * n_rows


def test_fine_scene_costs_fewer_model_pixels():
    # A 0.5 m scene read at 3 m: each tile covers 6 x 6 times more scene pixels.
    fine = tile_grid(6000, 6000, 0.5, 0.5, 3.0, 512)
    assert all(t.width == 3072 and t.out_width == 512 for t in fine)
    assert len(fine) == 9


def test_edge_tiles_are_shifted_inward():
    assert axis_windows(1000, 0, 1000, 400, 100) == [(0, 400), (300, 400), (600, 400)]


def test_fitted_tiles_share_the_range_evenly_with_the_same_count_and_overlap():
    # 4,000 px with 2,048 px windows and 176 px of overlap: three windows either way.
    plain = axis_windows(4000, 0, 4000, 2048, 176)
    fitted = axis_windows(4000, 0, 4000, 2048, 176, fit=True)
    assert len(plain) == len(fitted) == 3
    assert sum(n for _, n in fitted) < 0.75 * sum(n for _, n in plain)
    ends = [(o, o + n) for o, n in fitted]
    assert ends[0][0] == 0 and ends[-1][1] == 4000
    assert all(a[1] - b[0] >= 176 for a, b in zip(ends, ends[1:]))


def test_small_scene_is_one_padded_tile(make_geotiff):
    scene = Scene(make_geotiff(width=90, height=60, pixel=3.0))
    (tile,) = scene.tiles(work_gsd_m=3.0, tile_px=256)
    assert (tile.width, tile.height) == (90, 60) and (tile.out_width, tile.out_height) == (90, 60)
    rgb, valid = scene.read_tile(tile, 256)
    assert rgb.shape == (3, 256, 256) and valid[:60, :90].all() and not valid[60:].any() and not valid[:, 90:].any()


def test_tile_shorter_than_the_overlap_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        tile_grid(5000, 5000, 0.5, 0.5, 0.5, 512)


def test_area_of_interest_in_lonlat_limits_the_tiles(make_geotiff):
    scene = Scene(make_geotiff(width=2000, height=2000, pixel=3.0))
    lon, lat = scene.georef.pixel_to_lonlat([100, 300, 300, 100], [100, 100, 250, 250])
    area = scene.aoi_to_pixels(shapely.Polygon(zip(lon, lat)), buffer_m=30.0)
    assert area.bounds == pytest.approx((90, 90, 310, 260), abs=0.5)
    tiles = scene.tiles(work_gsd_m=3.0, tile_px=256, area_px=area)
    everything = scene.tiles(work_gsd_m=3.0, tile_px=256)
    assert 0 < len(tiles) < len(everything) / 10
    assert coverage(tiles, 2000, 2000)[90:260, 90:310].all()


def test_area_of_interest_outside_the_scene_is_an_error(make_geotiff):
    path = make_geotiff(width=200, height=200, pixel=3.0)
    far_away = shapely.box(129.7, 41.7, 129.9, 41.9)  # Chongjin, not Vostochny
    with pytest.raises(SceneError, match="does not overlap") as err:
        Scene(path).aoi_to_pixels(far_away)
    assert err.value.path == str(path)
