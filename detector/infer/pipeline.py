"""The inference run behind ``infer.py``: scenes in, vessels, counts, pictures and a run record out.

Scenes are sharded over torchrun ranks (rank r takes scenes r, r+W, ...); within a rank,
DataLoader workers read tiles while the model runs (``batch.py``). Each finished scene is
committed as one part file (``outputs.py``); rank 0 waits for every rank, then writes the
combined files. A scene that fails is recorded with its error and the run goes on.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import shapely
import torch
from tqdm import tqdm

from .. import __version__
from ..events.estimate import EstimateConfig
from ..events.fleet import read_fleet
from ..events.loads import LoadsConfig, quote_table, read_ais, run_loads
from ..events.recall import DetectorRecall, measured_with_tta, recall_of
from ..events.tracks import TrackConfig
from ..io.atomic import fit_name, sweep_temporaries
from ..io.berths import DEFAULT_BERTHS, BerthError, assign, load_area, load_berths
from ..io.lock import FolderBusy, FolderLock, hold, job_id
from ..io.provenance import file_record, same_file, sha256_file
from ..model.allocator import retain_freed_memory
from ..model.device import pick_device, torchrun_place
from ..model.network import ModelConfig, decode, fuse_for_inference
from ..model.precision import amp_dtype, autocast, describe
from ..model.routed import Detector, load_detector
from .batch import PlanConfig, SceneHeader, SceneJob, tile_loader
from .measure import geojson_feature, vessel_rows
from .signature import scene_signatures
from .evidence import write_chip
from .outputs import aggregate, count_rows, is_output_path, part_path, read_part, table, write_part
from .predict import EDGE_MARGIN_PX, SceneDetections, merge, tile_to_scene

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCENES = REPO / "scenes"
DEFAULT_MODEL = REPO / "models" / "vostochny_default.pt"
SCENE_SUFFIXES = (".tif", ".tiff", ".jp2", ".png", ".jpg", ".jpeg", ".vrt", ".img")
QUICKLOOK_PX = 1200  # longest side of a quicklook picture, in picture pixels
LARGE_SCENE_TILES = 100  # a scene of this many tiles is announced, with an estimate of its time
ESTIMATE_AFTER_TILES = 5


class InputError(ValueError):
    """Inputs or options that cannot make a run (nothing is started)."""


@dataclass(frozen=True)
class InferConfig:
    """Everything a run depends on; built by ``infer.py`` from its command line."""

    inputs: tuple[str, ...] = (str(DEFAULT_SCENES),)
    out_dir: str = "outputs"
    model: str = str(DEFAULT_MODEL)
    gsd_m: float | None = None
    bands: tuple[int, ...] | None = None
    berths: str | None = str(DEFAULT_BERTHS)
    aoi: str = "berths"  # "berths" (near the berths), "whole", or a GeoJSON path
    aoi_buffer_m: float = 400.0
    score_threshold: float = 0.3
    nms_iou: float = 0.4
    device: str = "auto"
    # Model tile side at the working GSD; a smaller scene is one tile of its own size. 1280 rather
    # than 2048: within 0.1-0.3 s on 2 CPU cores, 0.15-0.3 GB less peak memory at 3 and 10 m (BENCHMARKS.md).
    tile_px: int = 1280
    work_gsd_max_m: float | None = None  # coarsest working GSD; None: the model's own (its config)
    batch_size: int | None = None  # tiles per batch; None: 1 on CPU (bounded memory), 16 on CUDA
    workers: int = 1
    amp: bool = True
    tta: bool = False  # each tile also read mirrored, the maps averaged (model/mirror.py): about 2x the network's time
    quicklooks: bool = True
    report: bool = True  # report.html, its scene pictures and the evidence chips (report_page.py, evidence.py)
    fresh: bool = False
    threads: int | None = None
    retain_memory: bool = True  # keep freed tensor memory for the next tile (model/allocator.py)
    gdal_cache_mb: int = 128  # GDAL's block cache per process (its default is 5 % of RAM)
    quiet: bool = False
    events: bool = True  # visits, load events and barrels across the dated scenes (events/loads.py)
    product: str | None = None  # cargo for barrels per tonne (default: the data file's, diesel)
    dwell_days: tuple[float, float] = (1.0, 2.0)
    detector_recall: float | None = None  # None: the recall the model's checkpoint carries
    length_tolerance_px: float = 3.0
    min_clear_share: float = 0.7
    loading_kinds: tuple[str, ...] = ("oil",)
    ais: str | None = None
    fleet: str | None = None  # the user's fleet list (name,imo,length_m,beam_m,dwt,source) for --events


def find_scenes(inputs: tuple[str, ...]) -> list[SceneJob]:
    """Scene files from paths, directories (their image files) and glob patterns, in a stable order."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in SCENE_SUFFIXES and q.is_file())
            if not found:
                raise InputError(f"{item}: directory holds no scene files ({', '.join(SCENE_SUFFIXES)})")
        elif p.exists():
            found = [p]
        else:
            found = sorted(Path(q) for q in glob.glob(item) if Path(q).is_file())
            if not found:
                raise InputError(f"{item}: no such file, and no file matches it as a pattern")
        paths.extend(q for q in found if q.resolve() not in {r.resolve() for r in paths})
    names: dict[str, Path] = {}
    for p in paths:
        if p.stem in names:
            raise InputError(f"two scenes share the name {p.stem!r} ({names[p.stem]} and {p}); outputs are named by file stem")
        names[p.stem] = p
    return [SceneJob(i, str(p), p.stem) for i, p in enumerate(paths)]


def weights_sha256(model: torch.nn.Module) -> str:
    """A hash of the network's weights and config-bearing buffers, not of its checkpoint file: a
    checkpoint whose metadata alone changed (a re-measured recall) detects exactly the same."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def with_work_gsd_max(mcfg: ModelConfig, work_gsd_max_m: float | None) -> ModelConfig:
    """``mcfg`` reading coarse scenes at ``work_gsd_max_m`` metres per pixel (None: unchanged).

    A coarser working GSD costs the model fewer pixels on coarse scenes (a 10 m scene read at 7 m
    has half the pixels it has at 5 m) and finds fewer thin hulls; the model card gives both.
    """
    if work_gsd_max_m is None:
        return mcfg
    if not work_gsd_max_m >= mcfg.work_gsd_min_m:
        raise InputError(f"--work-gsd-max {work_gsd_max_m:g} is finer than the model's finest working GSD, "
                         f"{mcfg.work_gsd_min_m:g} m")
    return replace(mcfg, work_gsd_max_m=float(work_gsd_max_m))


def _as_run(detector: Detector) -> tuple[str, dict | list]:
    """The weights hash and config that :func:`run_key` takes: a plain checkpoint's as they always
    were (its finished parts stay reusable), a routed one's over every route and its bounds."""
    if len(detector.routes) == 1:
        return weights_sha256(detector.routes[0].model), asdict(detector.routes[0].cfg)
    h = hashlib.sha256("".join(weights_sha256(r.model) for r in detector.routes).encode())
    return h.hexdigest(), detector.describe()


def _model_record(detector: Detector) -> dict:
    """run.json's model config: a plain checkpoint's ``config``, or the ``routes`` of a routed one."""
    if len(detector.routes) == 1:
        return {"config": asdict(detector.routes[0].cfg)}
    return {"routes": detector.describe()}


def run_key(cfg: InferConfig, weights_sha: str, model_config: dict | list, precision: str) -> str:
    """What a scene result depends on; parts made under another key are redone, not reused.

    ``weights_sha`` is :func:`weights_sha256` of the network as it runs (fused: the folds and the
    CPU fusion applied show in its weights and names) and ``model_config`` its config (the
    working GSD, bands and normalisation decide detections too). ``precision`` is the arithmetic the
    model runs in (bfloat16 and float32 give slightly different scores, so a run resumed on
    another kind of CPU redoes its scenes)."""
    parts = {
        "weights": weights_sha, "model_config": model_config, "precision": precision, "gsd_m": cfg.gsd_m, "bands": cfg.bands, "aoi": cfg.aoi, "aoi_buffer_m": cfg.aoi_buffer_m,
        "score_threshold": cfg.score_threshold, "nms_iou": cfg.nms_iou, "tta": cfg.tta, "version": __version__,
        "berths": sha256_file(cfg.berths) if cfg.berths else None,
        "aoi_file": sha256_file(cfg.aoi) if cfg.aoi not in ("berths", "whole") else None,
        "clear_rule": 2,  # how berth looks are called clear (batch.berth_shares): edge, cloud, cloud shadow
        "tile_px": cfg.tile_px,  # tile edges fall elsewhere: hulls near them are found by other tiles
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class _Pending:
    header: SceneHeader
    parts: list[SceneDetections]
    started: float


class _Barriers:
    """A gloo group among torchrun's ranks, only for barriers (it works beside NCCL too)."""

    def __init__(self, world_size: int):
        self.world = world_size
        if self.world > 1 and not torch.distributed.is_initialized():
            # Ranks may finish hours apart on big jobs: the default 30 min would time out.
            torch.distributed.init_process_group("gloo", timeout=timedelta(hours=72))

    def wait(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _plan_config(cfg: InferConfig, tile_px: int) -> PlanConfig:
    try:
        berths = load_berths(cfg.berths) if cfg.berths else ()
        area = load_area(cfg.aoi) if cfg.aoi not in ("berths", "whole") else None
    except BerthError as exc:
        raise InputError(str(exc)) from None
    if tile_px % 16:
        raise InputError(f"--tile-px must be a multiple of 16, got {tile_px}")
    return PlanConfig(tile_px=tile_px, gsd_m=cfg.gsd_m, bands=cfg.bands, berths=berths,
                      area_mode=cfg.aoi if area is None else "aoi", area_lonlat=area, area_buffer_m=cfg.aoi_buffer_m)


def run(cfg: InferConfig, log=print) -> int:
    """Run the detector on ``cfg.inputs``; returns 0 when every scene succeeded, else 1."""
    t_start = time.perf_counter()
    os.environ.setdefault("GDAL_CACHEMAX", str(cfg.gdal_cache_mb))  # before GDAL sizes its block cache
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.retain_memory:
        retain_freed_memory()  # before the reading workers fork: they inherit it
    jobs = find_scenes(cfg.inputs)
    out_dir = Path(cfg.out_dir)
    clash = [j.path for j in jobs if is_output_path(out_dir, j.path)]
    if clash:
        raise InputError(f"{clash[0]} is an input inside the output folder it would be overwritten in; choose another --out")
    if not Path(cfg.model).is_file():
        raise InputError(f"{cfg.model}: model file not found")
    # Read now, so a bad AIS file is named before hours of scenes (AisError), and once.
    ais = read_ais(cfg.ais) if cfg.events and cfg.ais else None
    fleet = read_fleet(cfg.fleet) if cfg.events and cfg.fleet else None
    place = torchrun_place()
    barriers = _Barriers(place.world_size)
    lock = None
    try:
        try:
            device = pick_device(cfg.device, place.local_rank)
        except ValueError as exc:
            raise InputError(f"--device: {exc}") from None
        detector = load_detector(cfg.model, device)
        detector = detector.map_configs(lambda mcfg: with_work_gsd_max(mcfg, cfg.work_gsd_max_m))
        meta = detector.meta
        model_sha = sha256_file(cfg.model)
        amp = amp_dtype(device, cfg.amp)
        precision = describe(amp)
        plan = _plan_config(cfg, cfg.tile_px)
        # NHWC is what oneDNN (CPU) and tensor cores (CUDA) run fastest: 1.46x on two CPU cores here.
        detector = detector.map_models(lambda m: fuse_for_inference(m).to(memory_format=torch.channels_last))
        # Hashed as it runs: what was folded and fused, and how, rounds differently.
        key = run_key(cfg, *_as_run(detector), precision)
        detector = detector.reading_mirrored(cfg.tta)
        # Every input and option is checked by now: only a run that can start takes the folder.
        lock = _hold(out_dir, place.world_size)
        if place.rank == 0 and lock.fd is not None:
            for folder in (out_dir, out_dir / "parts", out_dir / "quicklooks", out_dir / "report", *_chip_folders(out_dir)):
                sweep_temporaries(folder)  # what a killed run was writing; the folder is ours now
        mine = jobs[place.rank::place.world_size]
        # A failed scene is tried again on a rerun (its file may have been fixed); a finished one is kept.
        # So is one whose file changed since (its size or modification time): the part is of other pixels.
        todo = [j for j in mine if cfg.fresh or not _reusable(read_part(out_dir, j.name, key), j.path)]
        if cfg.fresh:
            for j in todo:
                part_path(out_dir, j.name).unlink(missing_ok=True)
        barriers.wait()  # no rank may see a part another is about to delete
        show = not cfg.quiet and place.rank == 0
        if show and len(todo) < len(mine):
            log(f"resuming: {len(mine) - len(todo)} of {len(mine)} scenes already finished in {out_dir}")
        timing = _process(todo, cfg, plan, detector, device, amp, out_dir, key, show)
        barriers.wait()
        if place.rank != 0:
            return 0
        parts = [read_part(out_dir, j.name, key) or _missing(j) for j in jobs]
        record = {
            "tool": "vostochny-detector", "version": __version__,
            "model": {"path": str(cfg.model), "sha256": model_sha, **_model_record(detector), "meta": meta},
            "config": asdict(cfg), "run_key": key, "world_size": place.world_size, "device": str(device), "precision": precision,
            "rank0_timing_s": {**timing, "total": round(time.perf_counter() - t_start, 3)},
            "scenes": [{k: p.get(k) for k in ("scene", "path", "status", "error", "datetime", "crs", "gsd_m", "work_gsd_m",
                                              "tiles", "vessels_found", "tankers", "seconds", "notes", "provenance")} for p in parts],
            "inputs": _input_files(cfg),
        }
        aggregate(out_dir, parts, record)
        if not cfg.quiet:
            log(table(parts))
        loads, lcfg = None, None
        if cfg.events:
            log_events, loads, lcfg = _events(parts, plan.berths, cfg, out_dir, meta, ais, fleet)
            if not cfg.quiet:
                log("")
                log(log_events)
        else:
            _remove_events(out_dir)
        report = None
        if cfg.report:
            from .report_page import write_report

            report = write_report(out_dir, parts, record, plan.berths, loads, lcfg)
        else:
            (out_dir / "report.html").unlink(missing_ok=True)
        if not cfg.quiet:
            log(_summary(parts, out_dir, time.perf_counter() - t_start))
            if report is not None:
                log(f"report: {report} (opens offline in a browser)")
        else:  # --quiet hides progress, not failures
            for p in parts:
                if p["status"] != "ok":
                    print(f"FAILED {p['scene']}: {p['error']}", file=sys.stderr)
        return 0 if all(p["status"] == "ok" for p in parts) else 1
    finally:
        barriers.close()
        if lock is not None:
            lock.release()


def _reusable(part: dict | None, path: str) -> bool:
    return part is not None and part.get("status") == "ok" and same_file(part.get("provenance"), path)


def _input_files(cfg: InferConfig) -> dict:
    """Provenance of the run's inputs other than its scenes (those are in each scene's record)."""
    files = {"berths": cfg.berths, "aoi": cfg.aoi if cfg.aoi not in ("berths", "whole") else None, "ais": cfg.ais, "fleet": cfg.fleet}
    return {k: file_record(v) for k, v in files.items() if v}


def _chip_folders(out_dir: Path) -> list[Path]:
    evidence = out_dir / "evidence"
    return [evidence, *(p for p in evidence.iterdir() if p.is_dir())] if evidence.is_dir() else []


def _hold(out_dir: Path, world_size: int) -> FolderLock:
    """Take the output folder for this run (``io/lock.py``); InputError when it is a file, cannot
    be written, or another run has it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: is a file, not a folder; choose a folder for the outputs")
    try:
        return hold(out_dir, job_id(world_size))
    except FolderBusy as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"--out {out_dir}: cannot write there ({exc.strerror or exc})") from None


def loads_config(cfg: InferConfig, model_meta: dict | None = None) -> LoadsConfig:
    """The events step's settings from the run's: the detector's recall is the user's
    ``detector_recall`` when given, else what the model's checkpoint carries (``events/recall.py``),
    else none is assumed lost (recall 1)."""
    carried = recall_of(model_meta or {}) or DetectorRecall()
    measured_tta = measured_with_tta(model_meta or {})
    if carried.bands and measured_tta != cfg.tta:
        # Mirrored reading finds more hulls than a single one: a recall measured the other way misjudges the misses.
        carried = replace(carried, source=f"{carried.source}; measured {'with' if measured_tta else 'without'} --tta, "
                          f"this run {'with' if cfg.tta else 'without'} it, so the correction for missed visits is "
                          f"{'too small' if measured_tta else 'too large'}")
    if cfg.detector_recall is not None:  # the user's recall; the measured length biases still apply
        recall = DetectorRecall.exact(cfg.detector_recall, "--detector-recall", carried.bands)
    else:
        recall = carried
    track = TrackConfig(min_clear_share=cfg.min_clear_share, loading_kinds=cfg.loading_kinds, product=cfg.product,
                        detector_recall=recall.fixed or 1.0, length_pixels=cfg.length_tolerance_px,
                        max_stay_days=1.5 * cfg.dwell_days[1], max_gap_days=2.0 * cfg.dwell_days[1])
    return LoadsConfig(track, EstimateConfig(dwell_days=cfg.dwell_days, recall=recall), cfg.ais, cfg.fleet)


def _events(parts: list[dict], berths, cfg: InferConfig, out_dir: Path, model_meta: dict, ais=None, fleet=None):
    """Run the events step; returns the text to print (the quotable table, or why there is none),
    the result (``LoadsResult``, or the reason string) and the settings used."""
    lcfg = loads_config(cfg, model_meta)
    result = run_loads(parts, berths, lcfg, out_dir, ais, fleet)
    if isinstance(result, str):
        _remove_events(out_dir)
        return f"events: {result}", result, lcfg
    # Only when there is a timeline to draw: importing matplotlib took 0.44 s of every run.
    from ..events.timeline import draw_timeline

    draw_timeline(out_dir / "timeline.png", result, lcfg.estimate.cap_barrels)
    return quote_table(result, lcfg), result, lcfg


def _remove_events(out_dir: Path) -> None:
    """Drop an earlier run's events files from ``out_dir``: the outputs describe this run only."""
    for name in ("events.csv", "hulls.csv", "summary.json", "timeline.png"):
        (out_dir / name).unlink(missing_ok=True)


def _missing(job: SceneJob) -> dict:
    return {"scene": job.name, "path": job.path, "status": "error", "error": "no result (a rank stopped early?)",
            "vessels": [], "counts": [], "features": [], "provenance": file_record(job.path)}


def _summary(parts: list[dict], out_dir: Path, seconds: float) -> str:
    ok = [p for p in parts if p["status"] == "ok"]
    failed = [p for p in parts if p["status"] != "ok"]
    vessels = sum(len(p["vessels"]) for p in ok)
    tankers = sum(p.get("tankers", 0) for p in ok)
    lines = [f"{len(parts)} scenes: {len(ok)} done, {len(failed)} failed; {vessels} vessels, {tankers} tankers; "
             f"{seconds:.1f} s; outputs in {out_dir}/"]
    lines += [f"  FAILED {p['scene']}: {p['error']}" for p in failed]
    lines += [f"  note {p['scene']}: {n}" for p in ok for n in p.get("notes") or []]
    no_crs = [p["scene"] for p in ok if not p.get("crs")]
    if no_crs:
        lines.append(f"  no CRS, so not in detections.geojson (pixel polygons are in detections.csv): {', '.join(no_crs)}")
    return "\n".join(lines)


@torch.no_grad()
def _process(todo: list[SceneJob], cfg: InferConfig, plan: PlanConfig, detector: Detector, device: torch.device,
             amp: torch.dtype | None, out_dir: Path, key: str, show: bool) -> dict:
    """Detect vessels in ``todo``, committing each scene's part as soon as its last tile is done;
    the model runs under autocast to ``amp`` (None: float32)."""
    timing = {"model": 0.0, "finish": 0.0, "read_in_workers": 0.0}
    if not todo:
        return timing
    pending: dict[int, _Pending] = {}
    jobs = {j.index: j for j in todo}
    # Into a log file (not a terminal), a line every 30 s is plenty.
    every_s = 0.1 if sys.stderr.isatty() else 30.0
    scenes_bar = tqdm(total=len(todo), desc="scenes", unit="scene", disable=not show, position=0, mininterval=every_s)
    tiles_bar = tqdm(total=0, desc="tiles", unit="tile", disable=not show, position=1, mininterval=every_s)

    def finish(index: int, error: str | None = None, source: dict | None = None) -> None:
        t0 = time.perf_counter()
        p = pending.pop(index, None)
        source = source or (p.header.provenance if p is not None else None)
        if error is None and p is not None:
            try:
                result = _scene_result(p, cfg, out_dir)
            except Exception as exc:  # noqa: BLE001 - recorded in run.json; the other scenes go on
                error = f"{p.header.job.path}: {type(exc).__name__}: {exc}"
        if error is not None or p is None:
            job = jobs[index]
            result = {"scene": job.name, "path": job.path, "status": "error", "error": error, "vessels": [], "counts": [],
                      "features": [], "provenance": source or file_record(job.path)}
        write_part(out_dir, {"key": key, **result})
        scenes_bar.update(1)
        timing["finish"] += time.perf_counter() - t0

    batch_size = cfg.batch_size or (16 if device.type == "cuda" else 1)
    loader = tile_loader(todo, plan, detector.routing, batch_size, cfg.workers, pin_memory=device.type == "cuda")
    for batch in loader:
        timing["read_in_workers"] += batch.read_s
        for h in batch.headers:
            if h.error is not None:
                finish(h.job.index, h.error, h.provenance)
                continue
            pending[h.job.index] = _Pending(h, [], time.perf_counter())
            tiles_bar.total += len(h.tiles)
            tiles_bar.refresh()
            if show and len(h.tiles) >= LARGE_SCENE_TILES:
                tqdm.write(f"{h.job.name}: {len(h.tiles):,} tiles of {cfg.tile_px} px at {h.work_gsd_m:g} m "
                           "(an estimate of its time follows its first tiles)")
            if not h.tiles:
                finish(h.job.index)
        if batch.keys:
            t0 = time.perf_counter()
            x = batch.model_input(device)
            route = detector.routes[batch.route]
            with autocast(device, amp):
                out = route.model(x)
            dets = decode(out, route.cfg.stride, cfg.score_threshold)
            timing["model"] += time.perf_counter() - t0
            for (index, tile), d in zip(batch.keys, dets):
                p = pending.get(index)
                if p is None:
                    continue
                if not p.parts:
                    p.started = t0  # planned long before: its time starts with its first tile
                info = p.header.scene.info
                p.parts.append(tile_to_scene(d, tile, info.width, info.height, EDGE_MARGIN_PX))
                n_tiles = len(p.header.tiles)
                if show and n_tiles >= LARGE_SCENE_TILES and len(p.parts) == ESTIMATE_AFTER_TILES:
                    per_tile = (time.perf_counter() - p.started) / ESTIMATE_AFTER_TILES
                    left_min = per_tile * (n_tiles - ESTIMATE_AFTER_TILES) / 60
                    tqdm.write(f"{p.header.job.name}: about {left_min:.0f} min more ({per_tile:.1f} s a tile over its first "
                               f"{ESTIMATE_AFTER_TILES}, {n_tiles - ESTIMATE_AFTER_TILES:,} to go)")
                if len(p.parts) == len(p.header.tiles):
                    finish(index)
            tiles_bar.update(len(batch.keys))
        for index, error in batch.failed:
            if index in pending:
                finish(index, error)
    for index in list(pending):  # a reader stopped short of a scene's last tile: say so, lose nothing silently
        finish(index, f"{jobs[index].path}: only {len(pending[index].parts)} of {len(pending[index].header.tiles)} tiles were read")
    scenes_bar.close()
    tiles_bar.close()
    return {k: round(v, 3) for k, v in timing.items()}


def _scene_result(p: _Pending, cfg: InferConfig, out_dir: Path) -> dict:
    """Merge, measure, assign berths, count, draw: one scene's committed result."""
    h = p.header
    scene, info = h.scene, h.scene.info
    dets = merge(p.parts, cfg.nms_iou, h.work_gsd_m)
    centres = dets.corners.mean(axis=1) if len(dets) else np.zeros((0, 2))
    if h.area_px is not None and len(dets):
        # Tiles reach past the area; what lies outside it was not searched whole, so it is dropped.
        dets = dets.subset(shapely.contains_xy(h.area_px, centres[:, 0], centres[:, 1]))
        centres = centres[shapely.contains_xy(h.area_px, centres[:, 0], centres[:, 1])]
    when = info.datetime.isoformat() if info.datetime else ""
    rows = vessel_rows(h.job.name, dets, info.gsd_x_m, info.gsd_y_m, scene.georef, assign(centres, h.placed), when)
    features = [geojson_feature(r, scene.georef) for r in rows] if scene.georef is not None else []
    counts = count_rows(h.job.name, when, rows, [(pb.berth.name, pb.berth.kind) for pb in h.placed], h.shares)
    source = h.provenance
    pictures = _pictures(out_dir, h, rows, when, cfg)
    chips = [write_chip(out_dir, scene, h.job.name, pb, rows, h.shares.get(pb.berth.name), source)
             for pb in h.placed] if cfg.report else []
    signatures = scene_signatures(scene, rows)
    scene.close()
    return {
        "scene": h.job.name, "path": h.job.path, "status": "ok", "error": None, "datetime": when, "crs": info.crs,
        "gsd_m": round(info.gsd_m, 4), "work_gsd_m": h.work_gsd_m, "tiles": len(h.tiles),
        "vessels_found": len(rows), "tankers": sum(r["vessel_type"] == "tanker" for r in rows),
        "seconds": round(time.perf_counter() - p.started, 3), "vessels": rows, "counts": counts, "features": features,
        "notes": _notes(info), "provenance": source, "map_picture": pictures,
        "chips": [{k: c[k] for k in ("berth", "chip", "sidecar")} for c in chips], "signatures": signatures,
    }


def _notes(info) -> list[str]:
    """What a reader of this scene's results should know about how it was read."""
    notes = []
    if info.exif_orientation != 1:
        notes.append(f"EXIF orientation {info.exif_orientation} is not applied: pixel coordinates and pictures are "
                     "the pixels as the file stores them")
    return notes


def _pictures(out_dir: Path, h: SceneHeader, rows: list[dict], when: str, cfg: InferConfig) -> dict | None:
    """Draw the scene's quicklook and save its plain picture for the report's map, from one read
    of the searched area. Returns where the map picture lies on the ground (None when there is none)."""
    if not (cfg.quicklooks or cfg.report):
        return None
    info = h.scene.info
    c0, r0, c1, r1 = h.area_px.bounds if h.area_px is not None else (0, 0, info.width, info.height)
    c0, r0 = max(0, int(c0)), max(0, int(r0))
    c1, r1 = min(info.width, int(np.ceil(c1))), min(info.height, int(np.ceil(r1)))
    scale = min(3.0, QUICKLOOK_PX / max(c1 - c0, r1 - r0))  # small areas are enlarged to stay readable
    shape = (max(1, round((r1 - r0) * scale)), max(1, round((c1 - c0) * scale)))
    rgb, _ = h.scene.read_box((c0, r0, c1, r1), shape)
    if cfg.quicklooks:
        from .quicklook import draw_quicklook

        tankers = sum(r["vessel_type"] == "tanker" for r in rows)
        others = len(rows) - tankers
        title = (f"{h.job.name}   {when[:16].replace('T', ' ')} UTC   {info.gsd_m:.2f} m/px   "
                 f"{tankers} tanker{'s' * (tankers != 1)}, {others} other vessel{'s' * (others != 1)}")
        draw_quicklook(out_dir / "quicklooks" / f"{fit_name(h.job.name)}.jpg", rgb, (c0, r0), shape[1] / (c1 - c0),
                       info.gsd_m, rows, [(pb.berth.name, pb.outline_px) for pb in h.placed], title)
    if not cfg.report or h.scene.georef is None:
        return None
    from .quicklook import save_picture

    path = out_dir / "report" / f"{fit_name(h.job.name)}.jpg"
    save_picture(path, rgb)
    # Top-left, top-right and bottom-left corners of the picture on the ground: the page places it
    # by the affine map these three points define.
    lon, lat = h.scene.georef.pixel_to_lonlat(np.array([c0, c1, c0], float), np.array([r0, r0, r1], float))
    return {"file": str(path.relative_to(out_dir)), "width_px": shape[1], "height_px": shape[0],
            "corners_lonlat": [[float(a), float(b)] for a, b in zip(lon, lat)]}
