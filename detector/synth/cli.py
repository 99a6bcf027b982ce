"""`python -m detector.synth`: write synthetic scenes (or a dated series) with their exact truth.

Independent scenes:  python -m detector.synth --out DIR --seed 1 --scenes 20 [--gsd 3] [--size 1024] [--sensor planetscope]
A dated series:      python -m detector.synth --out DIR --seed 1 --series 2024-03-07 2024-03-22 --sensor planetscope,skysat

Writes GeoTIFFs (UTM 53N, acquisition time in TIFFTAG_DATETIME), truth.csv (the columns of
infer.py's detections.csv plus the generator's own), vostochny_berths.geojson, and for a series
visits.csv and acquisitions.csv. The same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..io.records import TRUTH_COLUMNS, write_csv
from ..io.scene import write_geotiff, write_png
from .compose import SynthScene, random_spec, render
from .layout import write_berths
from .sensor import SENSORS
from .series import VISIT_COLUMNS, berth_centre_m, parse_date, series_specs, simulate_visits, visit_rows

CLIP_M = 1500.0  # side of a clip around a berth: the berth, its approaches and room for cloud shadows
MAX_CLIP_PX = 1024  # SkySat's 0.5 m would need 3,000 px: its clips stay 512 m across


def clip_size_px(gsd_m: float) -> int:
    """Side in pixels of a clip around a berth at ``gsd_m``."""
    return int(min(MAX_CLIP_PX, round(CLIP_M / gsd_m)))


def get_args_parser() -> argparse.ArgumentParser:
    """The command-line parser, returned so other tools can extend it."""
    p = argparse.ArgumentParser(prog="python -m detector.synth", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same bytes")
    p.add_argument("--scenes", type=int, default=None, help="number of independent scenes (mixed GSD, vessels, berths)")
    p.add_argument("--series", nargs=2, metavar=("START", "END"), default=None, help="ISO dates of a time series at Vostochny")
    p.add_argument("--sensor", default=None, help=f"sensor name(s), comma-separated for a series: {', '.join(SENSORS)}")
    p.add_argument("--gsd", type=float, default=None, help="ground sample distance in metres (default: the sensor's)")
    p.add_argument("--size", type=int, default=None, help="scene side in pixels (default: 1024, or the sensor's for a series)")
    p.add_argument("--nk-visits", type=int, default=None, help="series: exact number of North Korean tanker visits")
    p.add_argument("--quicklooks", action="store_true", help="also write an 8-bit PNG of each scene under OUT/quicklooks")
    p.add_argument("--around-berth", default=None, metavar="NAME",
                   help=f"series: clips of about {CLIP_M:.0f} m centred on this berth (e.g. oil_berth), as users order them, "
                        f"at most {MAX_CLIP_PX} px a side (--size overrides)")
    return p


def quicklook(scene: SynthScene) -> np.ndarray:
    """8-bit RGB picture of a scene, stretched 2-98 % for 16-bit data."""
    rgb = scene.data[:3] if scene.data.shape[0] >= 3 else np.repeat(scene.data, 3, axis=0)
    if rgb.dtype == np.uint8:
        return rgb
    valid = rgb[0] > 0
    lo, hi = np.percentile(rgb[:, valid], [2, 98]) if valid.any() else (0, 1)
    return (np.clip((rgb.astype(np.float32) - lo) / max(hi - lo, 1), 0, 1) * 255).astype(np.uint8)


def write_scene(scene: SynthScene, out: Path, quicklooks: bool) -> Path:
    """Write one scene as a GeoTIFF (and optionally its quicklook) under ``out``."""
    path = out / f"{scene.name}.tif"
    write_geotiff(path, scene.data, scene.crs, scene.transform, nodata=scene.nodata,
                  tags={"TIFFTAG_DATETIME": scene.when.strftime("%Y:%m:%d %H:%M:%S"), "SENSOR": scene.sensor,
                        "SOURCE": "synthetic (python -m detector.synth)"},
                  colorinterp=scene.colorinterp, descriptions=scene.descriptions)
    if quicklooks:
        write_png(out / "quicklooks" / f"{scene.name}.png", quicklook(scene))
    return path


def season_specs(start, end, seed: int, visits, sensors: list[str], size_px: int | None = None, gsd_m: float | None = None,
                 around_berth: str | None = None) -> list:
    """Every acquisition of ``sensors`` over the season, in time order; with ``around_berth``,
    clips centred on that berth (``clip_size_px`` unless ``size_px``)."""
    centre = berth_centre_m(around_berth) if around_berth else None
    specs = []
    for sensor in sensors:
        size = size_px or (clip_size_px(gsd_m or SENSORS[sensor].gsd_m) if around_berth else None)
        specs += series_specs(start, end, sensor, seed, visits, size_px=size, gsd_m=gsd_m, centre_m=centre)
    return sorted(specs, key=lambda s: (s.when, s.name))


def write_series(out: Path, seed: int, start, end, sensors: list[str], *, around_berth: str | None = None,
                 nk_visits: int | None = None, progress: bool = False) -> Path:
    """Render a season (``python -m detector.synth --series``) into ``out`` once: a folder whose
    manifest matches the request is reused, a half-written one is redone."""
    import json

    from ..io.atomic import write_text_atomic

    request = {"seed": seed, "start": start.isoformat(), "end": end.isoformat(), "sensors": list(sensors),
               "around_berth": around_berth, "nk_visits": nk_visits, "version": 3}
    manifest = out / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()) == request:
        return out
    argv = ["--out", str(out), "--seed", str(seed), "--series", start.isoformat(), end.isoformat(), "--sensor", ",".join(sensors)]
    argv += ["--around-berth", around_berth] if around_berth else []
    argv += ["--nk-visits", str(nk_visits)] if nk_visits is not None else []
    args = get_args_parser().parse_args(argv)
    args.quiet = not progress
    if main(args) != 0:
        raise RuntimeError(f"rendering the series into {out} failed")
    write_text_atomic(manifest, json.dumps(request, indent=1))
    return out


def main(args: argparse.Namespace) -> int:
    """Generate what ``args`` asks for; return the exit code."""
    if (args.scenes is None) == (args.series is None):
        print("error: give either --scenes K or --series START END", file=sys.stderr)
        return 2
    sensors = args.sensor.split(",") if args.sensor else None
    for s in sensors or []:
        if s not in SENSORS:
            print(f"error: unknown sensor {s!r}; known: {', '.join(SENSORS)}", file=sys.stderr)
            return 2
    if args.around_berth is not None:
        from .layout import BERTHS

        names = [b.name for b in BERTHS]
        if args.around_berth not in names or not args.series:
            print(f"error: --around-berth takes a series and one of {', '.join(names)}", file=sys.stderr)
            return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_berths(out / "vostochny_berths.geojson")
    if args.series:
        start, end = parse_date(args.series[0]), parse_date(args.series[1])
        if end <= start:
            print("error: the series END must come after START", file=sys.stderr)
            return 2
        visits = simulate_visits(start, end, args.seed, nk_visits=args.nk_visits)
        specs = season_specs(start, end, args.seed, visits, sensors or ["planetscope"], args.size, args.gsd, args.around_berth)
        write_csv(out / "visits.csv", visit_rows(visits), VISIT_COLUMNS)
    else:
        if len(sensors or []) > 1:
            print("error: independent scenes take one --sensor (or none for a mix)", file=sys.stderr)
            return 2
        sensor = sensors[0] if sensors else None
        specs = [random_spec(args.seed, i, gsd_m=args.gsd, size_px=args.size, sensor=sensor) for i in range(args.scenes)]
    truth, acquisitions = [], []
    t0 = time.perf_counter()
    for i, spec in enumerate(specs, start=1):
        scene = render(spec)
        write_scene(scene, out, args.quicklooks)
        truth += scene.labels
        acquisitions.append({"scene": scene.name, "datetime": scene.when.isoformat(), "sensor": scene.sensor,
                             "gsd_m": scene.gsd_m, "cloud_fraction": round(scene.cloud_fraction, 4), "vessels": len(scene.labels)})
        if not getattr(args, "quiet", False):
            print(f"[{i}/{len(specs)}] {scene.name}: {len(scene.labels)} vessels, cloud {scene.cloud_fraction:.0%}, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    write_csv(out / "truth.csv", truth, TRUTH_COLUMNS)
    if args.series:
        write_csv(out / "acquisitions.csv", acquisitions, list(acquisitions[0]) if acquisitions else ["scene"])
    print(f"wrote {len(specs)} scenes and {len(truth)} vessels to {out}", file=sys.stderr)
    return 0
