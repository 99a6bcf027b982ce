"""Shared fixtures: tiny real GeoTIFFs made on the fly with a known CRS and Affine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from detector.scene import write_geotiff

SEN2SHIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sen2ships"

# Vostochny oil berths, the place every synthetic scene sits (DESIGN.md section 5).
VOSTOCHNY_LON, VOSTOCHNY_LAT = 133.07, 42.73


def utm53_transform(gsd_m: float, width: int, height: int) -> Affine:
    """North-up UTM 53N transform whose centre is at Vostochny."""
    from rasterio.warp import transform

    (x,), (y,) = transform(CRS.from_epsg(4326), CRS.from_epsg(32653), [VOSTOCHNY_LON], [VOSTOCHNY_LAT])
    return Affine(gsd_m, 0, x - gsd_m * width / 2, 0, -gsd_m, y + gsd_m * height / 2)


def crs_transform(epsg: int, pixel: float, width: int, height: int) -> Affine:
    """North-up transform in EPSG ``epsg`` centred on Vostochny, ``pixel`` CRS units a pixel."""
    from rasterio.warp import transform

    (x,), (y,) = transform(CRS.from_epsg(4326), CRS.from_epsg(epsg), [VOSTOCHNY_LON], [VOSTOCHNY_LAT])
    return Affine(pixel, 0, x - pixel * width / 2, 0, -pixel, y + pixel * height / 2)


@pytest.fixture
def make_geotiff(tmp_path):
    """Factory: write a seeded smooth-noise GeoTIFF and return its path."""

    def make(
        name: str = "scene.tif",
        *,
        epsg: int | None = 32653,
        pixel: float = 3.0,
        width: int = 96,
        height: int = 80,
        count: int = 3,
        dtype: str = "uint16",
        nodata=None,
        tags=None,
        colorinterp=None,
        descriptions=None,
        data: np.ndarray | None = None,
        seed: int = 0,
    ) -> Path:
        if data is None:
            rng = np.random.default_rng(seed)
            base = rng.normal(0, 1, (count, height, width)).cumsum(axis=2).cumsum(axis=1)
            base = (base - base.min()) / (np.ptp(base) + 1e-9)
            top = {"uint8": 250, "uint16": 4000, "int16": 4000, "float32": 0.4}.get(dtype, 200)
            data = (base * top + (5 if dtype != "float32" else 0.01)).astype(dtype)
        transform = crs_transform(epsg, pixel, width, height) if epsg else Affine.identity()
        return write_geotiff(
            tmp_path / name, data, f"EPSG:{epsg}" if epsg else None, transform,
            nodata=nodata, tags=tags, colorinterp=colorinterp, descriptions=descriptions,
        )

    return make


@pytest.fixture
def sen2ships() -> Path:
    """The real Sentinel-2 port scenes beside the project; skips when they are absent."""
    if not (SEN2SHIPS / "labels.json").is_file():
        pytest.skip("../shared/data/sen2ships is not present")
    return SEN2SHIPS
