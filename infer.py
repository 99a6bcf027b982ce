"""Detect and measure vessels in satellite scenes; count tankers per berth; write maps and tables.

    python infer.py                                   # the shipped model on the shipped demo scenes
    python infer.py scenes/ more/*.tif --out runs/march
    python infer.py image.png --gsd 0.5 --berths none # a plain image: give its ground sample distance
    torchrun --nproc_per_node=4 infer.py /data/scenes --out /data/run   # scenes sharded over ranks

Outputs under --out: report.html (one page to open in a browser, offline: figures, map, events
with image chips, provenance), detections.csv, detections.geojson, counts.csv, quicklooks/<scene>.jpg,
evidence/<scene>/<berth>.png with a JSON sidecar each, run.json and parts/<scene>.json (one per
finished scene; a rerun skips those and goes on); across dated scenes also events.csv,
summary.json and timeline.png (load events and barrels).
Exit code 0 when every scene succeeded, 1 when some failed (see run.json), 2 for bad options.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys

from detector.events.fleet import FleetError
from detector.events.loads import AisError
from detector.infer.pipeline import DEFAULT_MODEL, DEFAULT_SCENES, InferConfig, InputError, run
from detector.io.berths import DEFAULT_BERTHS
from detector.model.network import ModelError


def _bands(text: str) -> tuple[int, ...]:
    try:
        bands = tuple(int(b) for b in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 1-based band numbers like 3,2,1, got {text!r}") from None
    if len(bands) not in (1, 3) or min(bands) < 1:
        raise argparse.ArgumentTypeError("give three bands (red,green,blue) or one panchromatic band, 1-based")
    return bands


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
        return value
    return parse


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenes", nargs="*", default=[str(DEFAULT_SCENES)], metavar="SCENE_OR_DIR_OR_GLOB",
                   help="scene files, folders of them, or quoted glob patterns (default: the shipped demo scenes)")
    p.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint to run (default: the shipped model)")
    p.add_argument("--gsd", type=_positive(float), default=None, metavar="M",
                   help="ground metres per pixel, needed for images without a CRS (overrides the CRS when given)")
    p.add_argument("--bands", type=_bands, default=None, metavar="R,G,B",
                   help="1-based red,green,blue band numbers (or one panchromatic band) when the file does not say")
    p.add_argument("--berths", default=str(DEFAULT_BERTHS), metavar="GEOJSON",
                   help="berth outlines (WGS84 polygons with name, kind); 'none' for no berths. Vessels get the berth "
                        "holding their centre; scenes the outlines do not touch, and images without a CRS, are searched whole")
    p.add_argument("--aoi", default="berths", metavar="berths|whole|GEOJSON",
                   help="where to search: near the berths (default), the whole scene, or the polygons of a GeoJSON file")
    p.add_argument("--aoi-buffer-m", type=float, default=400.0, metavar="M",
                   help="with --aoi berths: search this far around the berth outlines, in ground metres (default 400)")
    p.add_argument("--score-threshold", type=float, default=0.3, help="keep vessels scored at least this (0-1, default 0.3)")
    p.add_argument("--nms-iou", type=float, default=0.4, help="oriented IoU above which overlapping detections merge (default 0.4)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N; torchrun uses cuda:LOCAL_RANK")
    p.add_argument("--tile-px", type=_positive(int), default=1280,
                   help="model tile side in working pixels, a multiple of 16 (default 1280; a smaller scene is one tile; "
                        "memory grows with its square)")
    p.add_argument("--work-gsd-max", type=float, default=None, metavar="M",
                   help="read scenes coarser than M metres per pixel at M (default: the model's own, 5 for the "
                        "shipped model); 7 reads a 10 m scene with half the pixels of 5, faster, finding fewer thin hulls")
    p.add_argument("--batch-size", type=_positive(int), default=None,
                   help="tiles per model batch (default 1 on CPU, 16 on CUDA; memory grows with batch x tile^2)")
    p.add_argument("--workers", type=int, default=1, help="processes reading tiles while the model runs (default 1; 0 = none)")
    p.add_argument("--threads", type=_positive(int), default=None, help="CPU threads for the model (default: torch's choice)")
    p.add_argument("--retain-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="keep freed tensor memory for the next tile instead of returning it to the system after "
                        "every layer (glibc; default on: the network 1.5x faster on large CPU tiles)")
    p.add_argument("--no-amp", action="store_true",
                   help="float32 throughout (default: float16 on CUDA, bfloat16 on CPUs with native bf16, else float32)")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: also read each tile mirrored left-right and average the two; more vessels "
                        "found, about twice the network's time (docs/inference.md)")
    p.add_argument("--no-quicklooks", action="store_true", help="skip the JPEG pictures of each scene (quicklooks/)")
    p.add_argument("--no-report", action="store_true",
                   help="skip report.html, its scene pictures (report/) and the evidence chips (evidence/)")
    p.add_argument("--fresh", action="store_true", help="redo every scene instead of reusing finished ones in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars or table")
    ev = p.add_argument_group("events: visits, load events and barrels across dated scenes (on by default)")
    ev.add_argument("--events", action=argparse.BooleanOptionalAction, default=True,
                    help="write events.csv, summary.json and timeline.png from the dated scenes (default: on)")
    ev.add_argument("--product", default=None, help="cargo for barrels per tonne: diesel (default), gasoline, jet, fuel_oil, crude")
    ev.add_argument("--dwell-days", type=float, nargs=2, default=(1.0, 2.0), metavar=("MIN", "MAX"),
                    help="a stay at the berth lasts between these many days, uniformly (default 1 2, DESIGN.md)")
    ev.add_argument("--detector-recall", type=float, default=None,
                    help="chance a clear look finds a tanker that is there, for the missed-visit correction, taken as "
                         "exact (default: the recall measured for the model and stored in its checkpoint, by GSD, "
                         "with its uncertainty; 1 when the checkpoint has none)")
    ev.add_argument("--length-tolerance-px", type=float, default=3.0,
                    help="a hull's measured length is right to within this many ground pixels (at least 10 m; about 2 sd); "
                         "sets hull matching across scenes and the barrels' spread (default 3)")
    ev.add_argument("--min-clear-share", type=float, default=0.7,
                    help="a berth counts as seen (empty or not) when this share of it is valid and cloud-free (default 0.7)")
    ev.add_argument("--loading-kinds", nargs="+", default=["oil"], help="berth kinds whose visits are load events (default: oil)")
    ev.add_argument("--ais", default=None, metavar="CSV",
                    help="AIS reports (a UTF-8 CSV: mmsi,time,lon,lat; ISO 8601 times, UTC where they name no timezone): each "
                         "event is marked dark when none lies at its berth during the stay")
    ev.add_argument("--fleet", default=None, metavar="CSV",
                    help="your fleet list (a UTF-8 CSV: name,imo,length_m,beam_m,dwt,source; imo, beam, dwt, source may be "
                         "empty): each distinct hull in hulls.csv gets the listed vessels it is consistent with and their "
                         "likelihood, never a certain identity")
    return p


def config_from_args(args: argparse.Namespace) -> InferConfig:
    """The run's configuration from parsed arguments (the arguments are not changed)."""
    if not 0.0 <= args.score_threshold <= 1.0:
        raise InputError(f"--score-threshold must be within 0-1, got {args.score_threshold}")
    if not 0.0 < args.nms_iou <= 1.0:
        raise InputError(f"--nms-iou must be within (0, 1], got {args.nms_iou}")
    if args.detector_recall is not None and not 0.0 < args.detector_recall <= 1.0:
        raise InputError(f"--detector-recall must be within (0, 1], got {args.detector_recall}")
    if not 0.0 < args.dwell_days[0] <= args.dwell_days[1]:
        raise InputError(f"--dwell-days must be 0 < MIN <= MAX, got {args.dwell_days}")
    if args.product is not None:
        from detector.events.volumes import barrels_per_tonne

        try:
            barrels_per_tonne(args.product)
        except KeyError as exc:
            raise InputError(str(exc).strip('"')) from None
    if args.workers < 0:
        raise InputError(f"--workers must be 0 or more, got {args.workers}")
    return InferConfig(
        inputs=tuple(args.scenes), out_dir=args.out, model=args.model, gsd_m=args.gsd, bands=args.bands,
        berths=None if args.berths.lower() == "none" else args.berths, aoi=args.aoi, aoi_buffer_m=args.aoi_buffer_m,
        score_threshold=args.score_threshold, nms_iou=args.nms_iou, device=args.device, tile_px=args.tile_px, work_gsd_max_m=args.work_gsd_max, batch_size=args.batch_size,
        workers=args.workers, amp=not args.no_amp, tta=args.tta, quicklooks=not args.no_quicklooks, report=not args.no_report, fresh=args.fresh,
        threads=args.threads, retain_memory=args.retain_memory, quiet=args.quiet, events=args.events, product=args.product,
        dwell_days=tuple(args.dwell_days), detector_recall=args.detector_recall,
        length_tolerance_px=args.length_tolerance_px, min_clear_share=args.min_clear_share,
        loading_kinds=tuple(args.loading_kinds), ais=args.ais, fleet=args.fleet,
    )


def main(args: argparse.Namespace) -> int:
    try:
        return run(config_from_args(args))
    except (InputError, ModelError, AisError, FleetError) as exc:
        print(f"infer.py: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # Every output is written to a temporary name and renamed whole, so nothing half-written
        # is left to trust: a rerun keeps the finished scenes and redoes the rest.
        print(f"infer.py: error: no space left on the device writing {exc.filename or args.out} ({exc.strerror}); "
              "free some space and run again: finished scenes are kept", file=sys.stderr)
        return 2


if __name__ == "__main__":
    code = main(get_args_parser().parse_args())
    # Every output is written, closed and renamed into place by now. The interpreter's own
    # teardown (freeing torch's and torchvision's objects one by one) added 0.6-1.2 s to every
    # run here, a tenth of a 10 m scene's, so the process ends at once; an exception escaping
    # main() still ends it the usual way, with its traceback.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
