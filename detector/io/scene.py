"""Scenes on disk: open, describe, and read windows resampled to a working GSD; write rasters.

The only module that opens raster files. A scene is never read whole: the contrast stretch
comes from a decimated read (GDAL uses overviews when the file has them) and the model reads
tiles through windows resampled on the fly with rasterio's ``out_shape``.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from .acqtime import acquisition_time, read_stac
from .atomic import atomic_path
from .bands import BandChoice, Stretch, pick_bands, robust_stretch
from .errors import SceneError
from .georef import GeoRef
from .provenance import sensor_and_id
from .tiles import DEFAULT_OVERLAP_M, Tile, tile_grid, tiles_touching

SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32", "float32", "float64")
PREVIEW_PX = 1024  # longest side of the decimated read the stretch is computed from
# Large windows are read in horizontal strips of at most this many raw bytes: a whole window
# read band by band through a GDAL cache smaller than the window decompresses each block once
# per band (a 12,000 px square read to 1,200 px took 3.4 s whole, 1.4 s in strips).
STRIP_BYTES = 24 << 20
# File values at or above which a pixel in every band counts as cloud-white (see area_shares):
# 8-bit visual products saturate under cloud; 16-bit integers are taken as reflectance x 10,000.
CLOUD_LEVEL = {"uint8": 200, "uint16": 3000, "int16": 3000, "uint32": 3000, "int32": 3000, "float32": 0.3, "float64": 0.3}
# Clouds that hide a berth are hundreds of metres across; bright patches narrower than this are not taken for cloud.
CLOUD_MIN_WIDTH_M = 100.0


@dataclass(frozen=True)
class ShadowReach:
    """Where cloud shadows fall in a scene, in its pixels: the unit direction (``dx``, ``dy``)
    a shadow falls along from its cloud, and the nearest and farthest distances (pixels) between
    a cloud and its shadow for the cloud heights considered."""

    dx: float
    dy: float
    near_px: float
    far_px: float


@dataclass(frozen=True)
class SceneInfo:
    """What a scene is: size, georeferencing, ground sample distance, bands, time, stretch."""

    path: str
    driver: str
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    crs: str | None  # "EPSG:32653" or WKT; None for a plain image
    transform: tuple[float, ...]  # affine (a, b, c, d, e, f), pixels -> CRS
    gsd_x_m: float  # ground metres per pixel along columns
    gsd_y_m: float  # ground metres per pixel along rows
    gsd_source: str  # "crs" or "user"
    bands: BandChoice
    datetime: datetime | None
    datetime_source: str
    stretch: Stretch
    # A JPEG's EXIF orientation (1-8; 1 upright). It is not applied: pixel coordinates, outlines
    # and pictures are the pixels as the file stores them, as GDAL and every GIS read them.
    exif_orientation: int = 1
    sensor: str = ""  # what took it, from a STAC sidecar or tags (io/provenance.py); "" unknown
    sensor_source: str = "none"
    scene_id: str = ""  # the STAC item's id, else the file's stem

    @property
    def gsd_m(self) -> float:
        """Ground sample distance in metres (geometric mean of the two pixel sides)."""
        return math.sqrt(self.gsd_x_m * self.gsd_y_m)

    def to_dict(self) -> dict:
        """A JSON-ready description (for run records and `python -m detector.info --json`)."""
        d = asdict(self)
        d["gsd_m"] = self.gsd_m
        d["datetime"] = self.datetime.isoformat() if self.datetime else None
        return d


class Scene:
    """An open scene file. Cheap to pickle: a DataLoader worker reopens the file on first read.

    ``gsd_m`` is required for images without a CRS and overrides the CRS-derived value when
    given. ``bands`` are 1-based indexes (red, green, blue) or one panchromatic band. Every
    problem the user can fix raises :class:`SceneError` naming the file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        gsd_m: float | None = None,
        bands: tuple[int, ...] | None = None,
        stretch_percentiles: tuple[float, float] = (2.0, 98.0),
    ):
        self.path = Path(path)
        self._ds = None
        self._pid = None
        if gsd_m is not None and not (gsd_m > 0 and math.isfinite(gsd_m)):
            raise SceneError(self.path, f"ground sample distance must be a positive number of metres, got {gsd_m}")
        if not self.path.exists():
            raise SceneError(self.path, "file not found")
        if self.path.is_dir():
            raise SceneError(self.path, "is a directory, not an image file")
        ds = self._dataset()
        dtype = ds.dtypes[0]
        if dtype not in SUPPORTED_DTYPES:
            self.close()
            raise SceneError(self.path, f"data type {dtype} is not supported (use one of {', '.join(SUPPORTED_DTYPES)})")
        self.georef = GeoRef(ds.crs, ds.transform) if ds.crs is not None else None
        if gsd_m is not None:
            gsd_xy, gsd_source = (float(gsd_m), float(gsd_m)), "user"
        elif self.georef is not None:
            gsd_xy, gsd_source = self.georef.ground_gsd_m(ds.width, ds.height), "crs"
        else:
            self.close()
            raise SceneError(self.path, "has no CRS, so its ground sample distance is unknown; give it with --gsd (gsd_m=)")
        try:
            choice = pick_bands(ds.count, [c.name for c in ds.colorinterp], list(ds.descriptions), bands)
        except ValueError as exc:
            self.close()
            raise SceneError(self.path, str(exc)) from None
        tags, imagery, item = ds.tags(), ds.tags(ns="IMAGERY"), read_stac(self.path)
        when, when_source = acquisition_time(self.path, item, tags, imagery)
        sensor, sensor_source, scene_id = sensor_and_id(self.path, item, tags, imagery)
        self._bands = choice
        sample, valid = self._read_raw(Window(0, 0, ds.width, ds.height), _preview_shape(ds.width, ds.height))
        # Kept for the cloud-shadow test (area_shares): where the scene is cloud-white, from the
        # read the stretch needs anyway, so no berth reads the scene again to find its clouds.
        self._preview_white = _white(sample, dtype) & valid
        self._preview_cloud = None
        self._preview_valid = valid  # and where it holds data at all (tiles_with_data)
        try:
            stretch = robust_stretch(sample, valid, stretch_percentiles)
        except ValueError:
            self.close()
            raise SceneError(self.path, "every pixel is nodata or masked: nothing to look at") from None
        self.info = SceneInfo(
            path=str(self.path), driver=ds.driver, width=ds.width, height=ds.height, count=ds.count,
            dtype=dtype, nodata=ds.nodata, crs=_crs_name(ds.crs), transform=tuple(ds.transform)[:6],
            gsd_x_m=gsd_xy[0], gsd_y_m=gsd_xy[1], gsd_source=gsd_source, bands=choice,
            datetime=when, datetime_source=when_source, stretch=stretch,
            exif_orientation=_exif_orientation(tags),
            sensor=sensor, sensor_source=sensor_source, scene_id=scene_id,
        )

    # --- file handle ----------------------------------------------------------------------
    def _dataset(self):
        if self._ds is None or self._pid != os.getpid():
            try:
                with warnings.catch_warnings():
                    # A plain image has no georeferencing by design; we report that ourselves.
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)
                    self._ds = rasterio.open(self.path)
            except RasterioError as exc:
                raise SceneError(self.path, f"not a readable image ({_gdal_reason(exc)})") from None
            self._pid = os.getpid()
        return self._ds

    def close(self) -> None:
        """Close the file handle; a later read reopens it."""
        if self._ds is not None and self._pid == os.getpid():
            self._ds.close()
        self._ds = None

    def __enter__(self) -> "Scene":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_ds"] = None  # rasterio datasets must be opened inside each worker
        return state

    # --- reads ----------------------------------------------------------------------------
    def _read_raw(self, window: Window, out_shape: tuple[int, int], resampling=Resampling.nearest):
        """Selected bands of ``window`` resampled to ``out_shape``, in file units, and validity."""
        ds = self._dataset()
        idx = list(self._bands.indexes)
        raw_bytes = window.width * window.height * len(idx) * np.dtype(ds.dtypes[0]).itemsize
        strips = min(out_shape[0], max(1, math.ceil(raw_bytes / STRIP_BYTES)))
        # Output row k of a strip read lies exactly where it lies in one read (fractional
        # windows), so strips give the same pixels; their blocks stay in GDAL's cache across bands.
        bounds = np.linspace(0, out_shape[0], strips + 1).round().astype(int)
        rows_per_out = window.height / out_shape[0]
        datas, valids = [], []
        try:
            for r0, r1 in zip(bounds[:-1], bounds[1:]):
                sub = Window(window.col_off, window.row_off + r0 * rows_per_out, window.width, (r1 - r0) * rows_per_out)
                part = ds.read(idx, window=sub, out_shape=(len(idx), r1 - r0, out_shape[1]), resampling=resampling)
                valids.append(self._validity(ds, idx, part, sub, (r1 - r0, out_shape[1])))
                datas.append(part)
        except RasterioError as exc:
            raise SceneError(self.path, f"cannot read pixels, the file may be truncated or corrupt ({_gdal_reason(exc)})") from None
        data = datas[0] if strips == 1 else np.concatenate(datas, axis=1)
        valid = valids[0] if strips == 1 else np.concatenate(valids, axis=0)
        if data.dtype.kind == "f":
            valid &= np.all(np.isfinite(data), axis=0)
        return data, valid

    @staticmethod
    def _validity(ds, idx: list[int], data: np.ndarray, window: Window, out_shape: tuple[int, int]) -> np.ndarray:
        """Valid pixels of a read: from the data itself when the only mask is a nodata value.

        Reading GDAL's masks instead would read every band's pixels a second time (a nodata mask
        is computed from them). GDAL's resampling skips nodata pixels, so a resampled pixel
        equals nodata only where all its sources were nodata.
        """
        flags = [ds.mask_flag_enums[i - 1] for i in idx]
        if all(f == [MaskFlags.all_valid] for f in flags):
            return np.ones(out_shape, bool)
        nodata = [ds.nodatavals[i - 1] for i in idx]
        if all(f == [MaskFlags.nodata] for f in flags) and all(v is not None for v in nodata):
            valid = np.ones(out_shape, bool)
            for band, value in zip(data, nodata):
                valid &= ~np.isnan(band) if np.isnan(value) else band != value
            return valid
        if all(MaskFlags.per_dataset in f for f in flags):  # one mask for all bands: read it once
            return ds.read_masks(idx[0], window=window, out_shape=out_shape, resampling=Resampling.nearest) > 0
        masks = ds.read_masks(idx, window=window, out_shape=(len(idx), *out_shape), resampling=Resampling.nearest)
        return np.all(masks > 0, axis=0)

    def read(self, window: Window, out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Read ``window`` (scene pixels) resampled to ``out_shape`` = (rows, cols).

        Returns a float32 (3, rows, cols) RGB array stretched to [0, 1] (a panchromatic band is
        repeated three times) and a bool (rows, cols) array that is False on nodata or masked
        pixels, which are set to 0. Downsampling averages (anti-aliasing small hulls);
        upsampling is bilinear.
        """
        shrink = window.width / out_shape[1] > 1.0 or window.height / out_shape[0] > 1.0
        data, valid = self._read_raw(window, out_shape, Resampling.average if shrink else Resampling.bilinear)
        return _as_rgb(self.info.stretch.apply(data), valid), valid

    def read_values(self, bounds_px: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The selected bands of the scene-pixel box (col0, row0, col1, row1) at the scene's own
        pixels, in the file's units (no stretch: a measurement, not a picture), and validity."""
        col0, row0, col1, row1 = bounds_px
        return self._read_raw(Window(col0, row0, col1 - col0, row1 - row0), (row1 - row0, col1 - col0))

    def read_native(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """Read ``tile``'s window at the scene's own pixels for resampling by the caller.

        For tiles the model sees at a finer GSD than the scene's (``Tile.upsamples``): reading
        at native size is cheap, and the bilinear upsampling to the working size can then run
        where the model runs (``detector.infer.resample``), on a quarter of the bytes for a 10 m
        scene read at 5 m. Returns the stretch *without* its clip (:meth:`Stretch.linear`, so
        that resampling and clipping happen in GDAL's order), float32 (3, rows, cols), 0 where
        invalid, and the bool validity (rows, cols).
        """
        data, valid = self._read_raw(Window(tile.col_off, tile.row_off, tile.width, tile.height), (tile.height, tile.width))
        return _as_rgb(self.info.stretch.linear(data), valid), valid

    def read_box(self, bounds_px: tuple[int, int, int, int], out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`read` for the scene-pixel box (col0, row0, col1, row1), max exclusive."""
        col0, row0, col1, row1 = bounds_px
        return self.read(Window(col0, row0, col1 - col0, row1 - row0), out_shape)

    def read_tile(self, tile: Tile, tile_px: int, pad_multiple: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Read a tile at the working GSD, padded with invalid pixels.

        Padded to ``tile_px`` square by default (training batches), or, with ``pad_multiple``,
        only up to the next multiple of it on each side (inference: a scene smaller than a tile
        costs the model its own size, not a whole tile).
        """
        rgb, valid = self.read(Window(tile.col_off, tile.row_off, tile.width, tile.height), (tile.out_height, tile.out_width))
        if pad_multiple:
            rows, cols = (-(-n // pad_multiple) * pad_multiple for n in rgb.shape[1:])
        else:
            rows = cols = tile_px
        if rgb.shape[1:] == (rows, cols):
            return rgb, valid
        out = np.zeros((3, rows, cols), np.float32)
        out_valid = np.zeros((rows, cols), bool)
        out[:, : tile.out_height, : tile.out_width] = rgb
        out_valid[: tile.out_height, : tile.out_width] = valid
        return out, out_valid

    def area_shares(self, area_px, max_px: int = 256, shadow: ShadowReach | None = None) -> tuple[float, float]:
        """Shares (0-1) of ``area_px`` that are valid, and valid and clear: what a look sees.

        A berth in a nodata swath, beyond the scene's edge, under cloud or in a cloud's shadow is
        unobserved, not empty. The shares are of the whole outline: the part of it beyond the
        scene's edge counts as not valid. Cloud-white means every selected band at or above
        ``CLOUD_LEVEL`` of the data's full scale: clouds saturate 8-bit visual products and pass
        0.3 reflectance; berths are water, far darker; patches narrower than ``CLOUD_MIN_WIDTH_M``
        (white decks, roofs) are not cloud. A crude test, not a cloud mask: thin haze passes as
        clear. ``shadow`` is a :class:`ShadowReach` (where the sun stood): a
        pixel is shadowed when a cloud-white pixel of the scene lies towards the sun from it at
        a distance a cloud between the reach's heights would cast (as Fmask sweeps cloud
        heights); clouds beyond the scene's edge cannot be seen, so their shadows are not found.
        Read at most ``max_px`` on a side.
        """
        from rasterio.features import geometry_mask

        col0, row0, col1, row1 = area_px.bounds
        col0, row0, col1, row1 = math.floor(col0), math.floor(row0), math.ceil(col1), math.ceil(row1)
        step = max(1, math.ceil(max(col1 - col0, row1 - row0) / max_px))
        cols, rows = max(1, math.ceil((col1 - col0) / step)), max(1, math.ceil((row1 - row0) / step))
        # Read a margin around the outline, so that a cloud's width is judged on more than the berth.
        pad = math.ceil(CLOUD_MIN_WIDTH_M / (self.info.gsd_m * step))
        data, valid = self._read_cells(col0 - pad * step, row0 - pad * step, cols + 2 * pad, rows + 2 * pad, step)
        cloud = _cloud_patches(_white(data, self.info.dtype), self.info.gsd_m * step)[pad: pad + rows, pad: pad + cols]
        valid = valid[pad: pad + rows, pad: pad + cols]
        transform = Affine(step, 0, col0, 0, step, row0)
        inside = geometry_mask([area_px], (rows, cols), transform, invert=True, all_touched=True)
        if not inside.any():
            return 0.0, 0.0
        clear = valid & ~cloud
        if shadow is not None:
            ys, xs = np.nonzero(inside & clear)
            shaded = self._cloud_towards_sun(col0 + (xs + 0.5) * step, row0 + (ys + 0.5) * step, shadow)
            clear[ys[shaded], xs[shaded]] = False
        n = inside.sum()
        return float((valid & inside).sum() / n), float((clear & inside).sum() / n)


    def _read_cells(self, col0: int, row0: int, cols: int, rows: int, step: int) -> tuple[np.ndarray, np.ndarray]:
        """File values (bands, rows, cols) and validity of a grid of ``step``-pixel cells whose
        first cell starts at scene pixel (``col0``, ``row0``); cells reaching beyond the raster
        are invalid (and 0)."""
        def inside_range(start: int, n: int, size: int) -> tuple[int, int]:
            lo = max(0, math.ceil(-start / step))
            hi = min(n, (size - start) // step)
            return lo, max(lo, hi)

        k0, k1 = inside_range(col0, cols, self.info.width)
        j0, j1 = inside_range(row0, rows, self.info.height)
        data = np.zeros((len(self._bands.indexes), rows, cols), self.info.dtype)
        valid = np.zeros((rows, cols), bool)
        if k1 > k0 and j1 > j0:
            window = Window(col0 + k0 * step, row0 + j0 * step, (k1 - k0) * step, (j1 - j0) * step)
            data[:, j0:j1, k0:k1], valid[j0:j1, k0:k1] = self._read_raw(window, (j1 - j0, k1 - k0))
        return data, valid

    def _cloud_towards_sun(self, x_px: np.ndarray, y_px: np.ndarray, shadow: ShadowReach) -> np.ndarray:
        """For scene pixels (``x_px``, ``y_px``): is a cloud-white patch of the scene within
        ``shadow``'s reach towards the sun? Looked up in the scene's decimated read made at open."""
        if not len(x_px):
            return np.zeros(0, bool)
        if self._preview_cloud is None:
            cell_m = self.info.gsd_m * self.info.width / self._preview_white.shape[1]
            self._preview_cloud = _cloud_patches(self._preview_white, cell_m)
        cloud = self._preview_cloud
        rows, cols = cloud.shape
        if not cloud.any():
            return np.zeros(len(x_px), bool)
        sx, sy = self.info.width / cols, self.info.height / rows  # scene pixels per cell
        out = np.zeros(len(x_px), bool)
        n_steps = int(min(256, max(2, math.ceil((shadow.far_px - shadow.near_px) / max(sx, sy)) + 1)))
        for d in np.linspace(shadow.near_px, shadow.far_px, n_steps):
            cx = np.floor((x_px - d * shadow.dx) / sx).astype(int)
            cy = np.floor((y_px - d * shadow.dy) / sy).astype(int)
            ok = (cx >= 0) & (cx < cols) & (cy >= 0) & (cy < rows)
            out[ok] |= cloud[cy[ok], cx[ok]]
        return out

    def preview(self, max_px: int = PREVIEW_PX) -> tuple[np.ndarray, np.ndarray]:
        """The whole scene decimated so its longest side is at most ``max_px``, stretched."""
        ds = self._dataset()
        return self.read(Window(0, 0, ds.width, ds.height), _preview_shape(ds.width, ds.height, max_px))

    def tiles_with_data(self, tiles: list[Tile]) -> list[Tile]:
        """The ``tiles`` that may hold valid pixels, judged from the decimated read made when
        the scene was opened (for its stretch; no read of its own): a tile none of whose preview
        cells (grown by one cell, so a thin strip is not lost between samples) is valid holds
        only nodata and is left out."""
        from scipy.ndimage import binary_dilation

        if not tiles:
            return tiles
        valid = binary_dilation(self._preview_valid, iterations=1)
        sy, sx = valid.shape[0] / self.info.height, valid.shape[1] / self.info.width
        # A summed-area table: whether a tile's cells hold any valid one is four lookups.
        table = np.pad(valid.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        keep = []
        for t in tiles:
            r0, c0 = int(t.row_off * sy), int(t.col_off * sx)
            r1 = min(valid.shape[0], max(r0 + 1, int(np.ceil((t.row_off + t.height) * sy))))
            c1 = min(valid.shape[1], max(c0 + 1, int(np.ceil((t.col_off + t.width) * sx))))
            if table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0] > 0:
                keep.append(t)
        return keep

    # --- areas of interest and tiles ------------------------------------------------------
    def aoi_to_pixels(self, geom, crs: CRS | str | None = None, buffer_m: float = 0.0):
        """An area of interest (shapely geometry in ``crs``, default WGS84 lon/lat) in scene pixels.

        Grown by ``buffer_m`` ground metres and clipped to the scene. Raises SceneError when
        the scene has no CRS or the area does not overlap the scene.
        """
        if self.georef is None:
            raise SceneError(self.path, "has no CRS, so an area of interest in map coordinates cannot be placed on it")
        area = self.georef.geometry_to_pixels(geom, crs)
        if buffer_m:
            area = area.buffer(buffer_m / self.info.gsd_m)
        area = area.intersection(shapely.box(0, 0, self.info.width, self.info.height))
        if area.is_empty or area.area == 0:
            raise SceneError(self.path, "the area of interest does not overlap the scene")
        return area

    def tiles(
        self,
        work_gsd_m: float,
        tile_px: int,
        overlap_m: float = DEFAULT_OVERLAP_M,
        area_px=None,
        fit: bool = False,
    ) -> list[Tile]:
        """Tiles covering the scene, or only ``area_px`` (from :meth:`aoi_to_pixels`); ``fit``: see ``tile_grid``."""
        info = self.info
        region = None if area_px is None else tuple(math.floor(v) if i < 2 else math.ceil(v) for i, v in enumerate(area_px.bounds))
        tiles = tile_grid(info.width, info.height, info.gsd_x_m, info.gsd_y_m, work_gsd_m, tile_px, overlap_m, region, fit)
        return tiles if area_px is None else tiles_touching(tiles, area_px)


def _as_rgb(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Stretched band values (bands, rows, cols) as the model's three channels: 0 where not
    ``valid``, a panchromatic band repeated three times."""
    values[:, ~valid] = 0.0
    return np.repeat(values, 3, axis=0) if values.shape[0] == 1 else values


def _white(data: np.ndarray, dtype: str) -> np.ndarray:
    """Cells of a (bands, rows, cols) read of file values whose every band is at or above ``CLOUD_LEVEL``."""
    return np.all(data >= CLOUD_LEVEL.get(dtype, CLOUD_LEVEL["float32"]), axis=0)


def _cloud_patches(white: np.ndarray, cell_m: float) -> np.ndarray:
    """The cells of ``white`` (cells of ``cell_m`` ground metres) in patches at least
    ``CLOUD_MIN_WIDTH_M`` across: cloud, where white decks, tank roofs and quays are narrower."""
    from scipy.ndimage import maximum_filter, minimum_filter

    k = int(CLOUD_MIN_WIDTH_M // cell_m)
    if k < 2 or not white.any():
        return white
    # A morphological opening by a k x k square, as separable min and max filters: a dense
    # k x k structure costs k^2 a pixel (minutes at 0.5 m, where k is 200).
    return maximum_filter(minimum_filter(white.view(np.uint8), size=k, mode="constant", cval=0), size=k).astype(bool)


def _exif_orientation(tags: dict) -> int:
    """The EXIF orientation GDAL reports (``EXIF_Orientation``), 1 when absent or unreadable."""
    try:
        value = int(str(tags.get("EXIF_Orientation", "1")).strip() or 1)
    except ValueError:
        return 1
    return value if 1 <= value <= 8 else 1


def _preview_shape(width: int, height: int, max_px: int = PREVIEW_PX) -> tuple[int, int]:
    scale = min(1.0, max_px / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _crs_name(crs: CRS | None) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _gdal_reason(exc: Exception) -> str:
    """GDAL's own message (rasterio chains it as the cause), on one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return " ".join(str(exc).split())[:300]


# --- writing ------------------------------------------------------------------------------
def write_geotiff(
    path: str | os.PathLike,
    data: np.ndarray,
    crs: CRS | str | None,
    transform: Affine,
    *,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    colorinterp: list[str] | None = None,
    descriptions: list[str] | None = None,
) -> Path:
    """Write (bands, rows, cols) ``data`` as a tiled, deflate-compressed GeoTIFF, atomically.

    ``tags`` go into the default metadata domain (e.g. ``TIFFTAG_DATETIME``); ``colorinterp``
    names per band ("red", "green", "blue", "gray", "undefined").
    """
    from rasterio.enums import ColorInterp

    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    count, height, width = data.shape
    profile = dict(
        driver="GTiff", width=width, height=height, count=count, dtype=data.dtype.name,
        crs=CRS.from_user_input(crs) if crs is not None else None, transform=transform, nodata=nodata,
        compress="deflate", tiled=True, blockxsize=256, blockysize=256,
    )
    if width < 256 or height < 256:
        profile.update(tiled=False, blockxsize=None, blockysize=None)
        profile = {k: v for k, v in profile.items() if v is not None or k in ("crs", "nodata")}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data)
            if tags:
                dst.update_tags(**tags)
            if colorinterp:
                dst.colorinterp = [ColorInterp[c] for c in colorinterp]
            if descriptions:
                for i, d in enumerate(descriptions, start=1):
                    dst.set_band_description(i, d)
    return Path(path)


def write_png(path: str | os.PathLike, rgb_u8: np.ndarray) -> Path:
    """Write a (3, rows, cols) or (rows, cols) uint8 array as a PNG picture, atomically."""
    rgb_u8 = np.asarray(rgb_u8, np.uint8)
    if rgb_u8.ndim == 2:
        rgb_u8 = rgb_u8[None]
    count, height, width = rgb_u8.shape
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", driver="PNG", width=width, height=height, count=count, dtype="uint8") as dst:
            dst.write(rgb_u8)
        aux = Path(str(tmp) + ".aux.xml")
        if aux.exists():
            aux.unlink()
    return Path(path)
