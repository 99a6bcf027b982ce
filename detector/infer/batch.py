"""Stream tiles of many scenes to the model: reading overlaps compute, batches span scenes.

Each DataLoader worker takes every k-th scene, plans it (open, berths, search area, tiles)
and yields batches of tiles at the working GSD. A batch carries the headers of the scenes its
worker opened since its last batch, so the main process learns how many tiles each scene has
before the scene's tiles arrive (one worker's batches arrive in order). GDAL releases the GIL
but rasterio handles are per process, hence processes, not threads.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..io.berths import Berth, PlacedBerth, place, search_area_px
from ..io.errors import SceneError
from ..io.georef import metres_per_degree
from ..io.provenance import file_record
from ..io.scene import Scene, ShadowReach
from ..io.sun import shadow_direction, sun_position
from ..io.tiles import DEFAULT_OVERLAP_M, Tile
from ..model.routed import Routing
from .resample import read_for_model, to_working

# Cloud bases from which shadows are looked for on a berth: low and middle clouds (Fmask sweeps
# 0.2-12 km; higher clouds are thin cirrus that rarely hide a hull), and the farthest a shadow is
# followed (a low sun throws a 4 km cloud's shadow 11 km at 20 degrees).
CLOUD_HEIGHTS_M = (200.0, 4000.0)
MAX_SHADOW_REACH_M = 8000.0
# Below this solar elevation an optical scene shows nothing useful: no berth in it counts as seen.
MIN_SUN_ELEVATION_DEG = 5.0

# The network's coarsest feature map is 1/16 of its input: inputs are padded to a multiple of it.
PAD_MULTIPLE_PX = 16


@dataclass(frozen=True)
class SceneJob:
    """One input scene of a run: its position in the run's list, file and output name."""

    index: int
    path: str
    name: str


@dataclass(frozen=True)
class PlanConfig:
    """How scenes are opened and searched."""

    tile_px: int
    gsd_m: float | None = None  # for images without a CRS (or to override it)
    bands: tuple[int, ...] | None = None
    berths: tuple[Berth, ...] = ()
    area_mode: str = "berths"  # "berths": near the berths a scene shows; "whole"; "aoi": area_lonlat
    area_lonlat: object = None  # shapely geometry in WGS84 lon/lat for "aoi"
    area_buffer_m: float = 400.0  # around the berths
    overlap_m: float = DEFAULT_OVERLAP_M


@dataclass
class SceneHeader:
    """A planned scene (or why it could not be): what the main process needs to finish it."""

    job: SceneJob
    error: str | None = None
    scene: Scene | None = None  # pickled without its file handle
    work_gsd_m: float = 0.0
    route: int = 0  # which network reads it (model/routed.py)
    tiles: list[Tile] = field(default_factory=list)
    placed: list[PlacedBerth] = field(default_factory=list)
    area_px: object = None  # shapely geometry in scene pixels, None = the whole scene
    shares: dict[str, tuple[float, float]] = field(default_factory=dict)  # berth -> (valid, clear) share
    # The file's hash, size and times (io/provenance.py): hashed here, in the reading worker, so a
    # large file's read for its SHA-256 overlaps the model's work instead of stopping it.
    provenance: dict = field(default_factory=dict)


@dataclass
class TileBatch:
    """Images (n, 3, rows, cols) with (scene index, tile) keys, new headers, and failures.

    Tiles of one batch share their padded size: full tiles are ``tile_px`` square, a scene
    smaller than a tile is one tile of its own size (padded to a multiple of 16 px). Tiles that
    the model sees finer than the scene's pixels come at native size instead (``work_hw`` set):
    :meth:`model_input` upsamples them where the model runs.
    """

    images: torch.Tensor
    keys: list[tuple[int, Tile]]
    headers: list[SceneHeader]
    failed: list[tuple[int, str]]
    read_s: float
    work_hw: tuple[int, int] | None = None  # working size (rows, cols) of native images; None: already working
    valid: torch.Tensor | None = None  # (n, rows, cols) bool for native images with invalid pixels
    route: int = 0  # the network that reads every tile of the batch (model/routed.py)

    def pin_memory(self) -> "TileBatch":
        """Called by the DataLoader when ``pin_memory`` is on (CUDA), for faster copies."""
        self.images = self.images.pin_memory()
        self.valid = None if self.valid is None else self.valid.pin_memory()
        return self

    def model_input(self, device: torch.device) -> torch.Tensor:
        """The batch on ``device`` at the working GSD, padded to a multiple of 16 px. Laid out as
        it comes: the fused network's first layer (``fold.MeanPad``) copies it channels-last
        anyway, so a copy here would only add a tile's worth of memory."""
        x = self.images.to(device, non_blocking=True)
        if self.work_hw is not None:
            valid = None if self.valid is None else self.valid.to(device, non_blocking=True)
            x = to_working(x, valid, self.work_hw, padded_hw(self.work_hw))
        return x


def padded_hw(hw: tuple[int, int], multiple: int = PAD_MULTIPLE_PX) -> tuple[int, int]:
    """``hw`` rounded up to a multiple of ``multiple`` on each side."""
    return tuple(-(-n // multiple) * multiple for n in hw)


def plan_scene(job: SceneJob, cfg: PlanConfig, routing: Routing) -> SceneHeader:
    """Open a scene, route it to a network by its GSD and choose its tiles; a SceneError becomes
    the header's ``error``."""
    try:
        scene = Scene(job.path, gsd_m=cfg.gsd_m, bands=cfg.bands)
        info = scene.info
        route = routing.route_index(info.gsd_m)
        work = routing.work_gsd_m(info.gsd_m)
        placed = place(cfg.berths, scene.georef, info.width, info.height)
        area = None
        if cfg.area_mode == "berths":
            area = search_area_px(placed, cfg.area_buffer_m / info.gsd_m, info.width, info.height)
        elif cfg.area_mode == "aoi" and scene.georef is not None:  # no CRS: cannot place it, search whole
            area = scene.aoi_to_pixels(cfg.area_lonlat)
        # Tiles of nodata alone are not read (a sparse scene, a swath's edge).
        tiles = scene.tiles_with_data(scene.tiles(work, cfg.tile_px, cfg.overlap_m, area, fit=True))
        shares = {pb.berth.name: berth_shares(scene, pb) for pb in placed}
        scene.close()
        return SceneHeader(job, None, scene, work, route, tiles, placed, area, shares, file_record(job.path, info))
    except SceneError as exc:
        return SceneHeader(job, str(exc), provenance=file_record(job.path))
    except Exception as exc:  # noqa: BLE001 - one scene's surprise must not stop a batch job
        return SceneHeader(job, _unexpected(job, exc), provenance=file_record(job.path))


def berth_shares(scene: Scene, pb: PlacedBerth) -> tuple[float, float]:
    """(valid, clear) shares of a berth's whole outline in ``scene`` (``Scene.area_shares``), with
    cloud shadows looked for when the scene's time and place give the sun; none at night."""
    reach = None
    info = scene.info
    if info.datetime is not None and scene.georef is not None:
        c = pb.berth.outline_lonlat.centroid
        elevation, azimuth = sun_position(info.datetime, c.x, c.y)
        if elevation < MIN_SUN_ELEVATION_DEG:
            return 0.0, 0.0
        reach = shadow_reach_px(scene, c.x, c.y, elevation, azimuth)
    valid, clear = scene.area_shares(pb.whole_px, shadow=reach)
    return round(valid, 4), round(clear, 4)


def shadow_reach_px(scene: Scene, lon: float, lat: float, elevation_deg: float, azimuth_deg: float) -> ShadowReach:
    """Where a cloud's shadow falls in ``scene`` near (``lon``, ``lat``): the ground direction away
    from the sun, turned into scene pixels, and the distances for ``CLOUD_HEIGHTS_M``."""
    east, north = shadow_direction(azimuth_deg)
    m_lon, m_lat = metres_per_degree(lat)
    x0, y0 = scene.georef.lonlat_to_pixel(np.array([lon]), np.array([lat]))
    x1, y1 = scene.georef.lonlat_to_pixel(np.array([lon + 100.0 * east / m_lon]), np.array([lat + 100.0 * north / m_lat]))
    dx, dy = float(x1[0] - x0[0]), float(y1[0] - y0[0])
    px_per_m = math.hypot(dx, dy) / 100.0
    tan_e = math.tan(math.radians(elevation_deg))
    near_m, far_m = (min(h / tan_e, MAX_SHADOW_REACH_M) for h in CLOUD_HEIGHTS_M)
    norm = max(math.hypot(dx, dy), 1e-12)
    return ShadowReach(dx / norm, dy / norm, near_m * px_per_m, far_m * px_per_m)


def _unexpected(job: SceneJob, exc: Exception) -> str:
    return f"{job.path}: {type(exc).__name__}: {exc}"


class TileStream(IterableDataset):
    """Batches of tiles over ``jobs``; worker k of K plans and reads jobs k, k+K, ..."""

    def __init__(self, jobs: list[SceneJob], cfg: PlanConfig, routing: Routing, batch_size: int):
        self.jobs, self.cfg, self.routing, self.batch_size = jobs, cfg, routing, batch_size

    def __iter__(self):
        info = get_worker_info()
        mine = self.jobs if info is None else self.jobs[info.id::info.num_workers]
        tile_px = self.cfg.tile_px
        images, valids, keys, headers, failed, read_s = [], [], [], [], [], 0.0
        kind = None  # (image shape, working size, has a validity mask, route): what one batch shares

        def flush():
            nonlocal images, valids, keys, headers, failed, read_s
            x = torch.from_numpy(np.stack(images)) if images else torch.zeros((0, 3, tile_px, tile_px))
            work_hw = kind[1] if images else None
            valid = torch.from_numpy(np.stack(valids)) if images and kind[2] else None
            out = TileBatch(x, keys, headers, failed, read_s, work_hw, valid, kind[3] if images else 0)
            images, valids, keys, headers, failed, read_s = [], [], [], [], [], 0.0
            return out

        # Every scene is planned before the first tile is read, and the plans go out in one
        # batch: the main process knows every scene's tile count (the progress bar's total, the
        # large scenes' estimates) before the first tile arrives.
        planned = []
        for job in mine:
            t0 = time.perf_counter()
            planned.append(plan_scene(job, self.cfg, self.routing))
            read_s += time.perf_counter() - t0
        headers = list(planned)
        if headers:
            yield flush()
        for header in planned:
            job = header.job
            if header.error is not None:
                continue
            scene = header.scene
            try:
                for tile in header.tiles:
                    t0 = time.perf_counter()
                    image, valid, work_hw = read_for_model(scene, tile, tile_px, PAD_MULTIPLE_PX)
                    read_s += time.perf_counter() - t0
                    this = (image.shape, work_hw, valid is not None, header.route)
                    if images and this != kind:
                        yield flush()  # tensors of one batch must share a size, a treatment and a network
                    kind = this
                    images.append(image)
                    if valid is not None:
                        valids.append(valid)
                    keys.append((job.index, tile))
                    if len(images) == self.batch_size:
                        yield flush()
            except SceneError as exc:
                failed.append((job.index, str(exc)))
            except Exception as exc:  # noqa: BLE001 - recorded in run.json, the run goes on
                failed.append((job.index, _unexpected(job, exc)))
            finally:
                scene.close()
        if images or headers or failed:
            yield flush()


def tile_loader(jobs: list[SceneJob], cfg: PlanConfig, routing: Routing, batch_size: int, workers: int, pin_memory: bool) -> DataLoader:
    """A DataLoader over :class:`TileStream`; ``workers`` processes read while the model runs."""
    stream = TileStream(jobs, cfg, routing, batch_size)
    workers = max(0, min(workers, len(jobs)))
    return DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                      prefetch_factor=2 if workers else None, persistent_workers=False)
