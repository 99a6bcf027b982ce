"""Speed and peak memory at 0.5, 3 and 10 m: ``infer.py`` against SAHI around torchvision's
Faster R-CNN MobileNetV3-FPN and SAHI around Ultralytics YOLO11n-OBB, on the same scenes,
interleaved; and model throughput in tiles per second for all three, interleaved in one process.

End to end: one synthetic Vostochny scene per GSD (SkySat-like 0.5 m, PlanetScope-like 3 m,
Sentinel-2-like 10 m), each the same number of pixels, with exact truth; rendered once into
--work. Every run is a fresh process timed from start to exit; the tools take turns within each
repeat so machine noise hits all alike. Peak memory is the peak RSS of the largest process (its
kernel high-water mark VmHWM, read every 0.1 s; not wait4's ru_maxrss, which counts the parent's
memory at fork), from the timed runs, and the peak PSS of the whole process tree (workers
included, shared pages once) from one more run of each tool: sampling PSS takes a quarter of a
core from the run it measures (``infer_memory.sampled_run``), so timed runs do not.

The peers read the whole scene with the same reader and stretch as ours, then slice it at its
native GSD, as a user of SAHI would: 512 px slices, SAHI's default 0.2 overlap, each model's
input set to the slice size. The Faster R-CNN is untrained (nothing may be downloaded): its time
is real, its accuracy is that of random weights, so it gets a 0.9 confidence threshold to keep
random boxes from flooding SAHI's merge. YOLO11n-OBB is the one trained for 20 minutes by
``bench/yolo_vs_ours.py`` (its weights in --yolo-weights), at a 0.05 threshold.

With ``--alt ARGS``, ours runs a second time per repeat with those ``infer.py`` arguments added,
as a tool of its own (``--alt="--work-gsd-max 7"``: the same model reading 10 m scenes at 7 m; the
``=`` keeps arguments that start with ``--`` from being read as this script's own).

Tiles per second: each model's own inference call on 512 x 512 tiles, batch 1, in rounds that
take turns: ours (forward and decode, BatchNorm folded, channels-last, in bf16 where the CPU has
it natively, as ``infer.py`` runs it),
Faster R-CNN (``model([tile])``, its transform, heads and NMS) and YOLO (``YOLO.predict``:
letterbox, forward, rotated NMS).

    python bench/speed_gsd.py --threads 2 --repeats 2
    python bench/speed_gsd.py --gsds 10 --alt="--work-gsd-max 7"
    python bench/speed_gsd.py --alt=--no-retain-memory       # ours with malloc as it is, beside
    python bench/speed_gsd.py --alt=--tta --peers            # ours reading tiles mirrored too, beside ours alone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from infer_memory import sampled_run  # noqa: E402
from infer_speed import read_detections, read_native, render_scene, sahi_frcnn, score  # noqa: E402

SENSOR_FOR_GSD = {0.5: "skysat", 3.0: "planetscope", 10.0: "sentinel2"}
SLICE_PX = 512
PEERS = ("sahi_frcnn", "sahi_yolo")
TOOL_NAMES = {"ours": "ours, `infer.py --aoi whole`", "sahi_frcnn": "SAHI + Faster R-CNN MobileNetV3-FPN (untrained)"}


def our_runs(args) -> dict[str, list[str]]:
    """Our tools and the ``infer.py`` arguments each adds: ours, and ours with ``--alt`` when given."""
    return {"ours": [], "ours_alt": args.alt.split()} if args.alt else {"ours": []}


def tool_names(args) -> dict[str, str]:
    """How the tables and the figure name each tool."""
    # YOLO is named by the weights it ran, which --yolo-weights may change (a fixed label misnamed them).
    weights = args.yolo_weights.resolve()
    shown = weights.relative_to(ROOT) if weights.is_relative_to(ROOT) else weights
    names = {**TOOL_NAMES, "sahi_yolo": f"SAHI + YOLO11n-OBB (`{shown}`)"}
    return {**names, "ours_alt": f"ours, `infer.py --aoi whole {args.alt}`"} if args.alt else names


def make_scene(work: Path, gsd_m: float, size_px: int) -> tuple[Path, Path]:
    """A square ``size_px`` scene at ``gsd_m`` and its truth, kept once made."""
    name = f"vostochny_{gsd_m:g}m_{size_px}px"
    return render_scene(work / f"{name}.tif", work / f"truth_{gsd_m:g}m_{size_px}px.csv", 11, gsd_m, size_px, size_px,
                        SENSOR_FOR_GSD[gsd_m])


def peer_once(tool: str, scene: Path, out_json: Path, threads: int, yolo_weights: Path) -> None:
    """One peer run in its own process: read, slice, predict, merge, write polygons and scores."""
    import torch
    from sahi.predict import get_sliced_prediction

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    image = read_native(scene)
    if tool == "sahi_frcnn":
        model = sahi_frcnn(SLICE_PX)
    else:
        from sahi.models.ultralytics import UltralyticsDetectionModel

        model = UltralyticsDetectionModel(model_path=str(yolo_weights), device="cpu", confidence_threshold=0.05,
                                          image_size=SLICE_PX, load_at_init=True)
    result = get_sliced_prediction(image, model, slice_height=SLICE_PX, slice_width=SLICE_PX, overlap_height_ratio=0.2,
                                   overlap_width_ratio=0.2, verbose=0)
    polys, scores = [], []
    for p in result.object_prediction_list:
        seg = p.mask.segmentation if p.mask is not None else None
        if seg and len(seg[0]) == 8:
            polys.append(seg[0])
        else:
            x0, y0, x1, y1 = p.bbox.to_xyxy()
            polys.append([x0, y0, x1, y0, x1, y1, x0, y1])
        scores.append(float(p.score.value))
    out_json.write_text(json.dumps({"polygons": polys, "scores": scores, "total_s": time.perf_counter() - t0}))


def scene_table(args) -> tuple[list[str], dict]:
    """End-to-end rows per GSD and tool, and the best wall time (s) per ``(gsd, tool)``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    lines = ["| GSD (m) | scene | tool | end to end (s), best | runs (s) | peak RSS (GB) | peak PSS, tree (GB) | AP50 | recall |",
             "|---|---|---|---|---|---|---|---|---|"]
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for gsd in args.gsds:
            tif, truth = make_scene(args.work, gsd, args.size)
            ours = our_runs(args)
            tools = [*ours, *args.peers]
            runs = {t: [] for t in tools}
            commands = {}
            for tool in tools:
                if tool in ours:
                    commands[tool] = [sys.executable, str(ROOT / "infer.py"), str(tif), "--aoi", "whole", "--berths", "none",
                                      "--threads", str(args.threads), "--workers", "1", "--model", str(args.model),
                                      "--out", str(tmp / tool), "--fresh", "--quiet", *ours[tool]]
                else:
                    commands[tool] = [sys.executable, __file__, "--threads", str(args.threads), "--yolo-weights", str(args.yolo_weights),
                                      "--peer-once", tool, str(tif), str(tmp / f"{tool}.json")]
            for rep in range(args.repeats):
                for tool in tools:
                    cmd = commands[tool]
                    runs[tool].append(sampled_run(cmd, env, pss=False))
                    print(f"{gsd:g} m, repeat {rep + 1}, {tool}: {runs[tool][-1].wall_s:.1f} s", flush=True)
            pss = {}
            for tool in tools:  # one more run each, for the PSS of its process tree (not timed)
                pss[tool] = sampled_run(commands[tool], env, pss=True).pss_tree
            found = {tool: read_detections(tmp / tool / "detections.csv") for tool in ours}
            for tool in args.peers:
                r = json.loads((tmp / f"{tool}.json").read_text())
                found[tool] = (np.array(r["polygons"], np.float64).reshape(-1, 8), np.array(r["scores"]))
            for tool in tools:
                acc = score(truth, found[tool][0], found[tool][1], gsd_m=gsd)
                walls = [r.wall_s for r in runs[tool]]
                best[gsd, tool] = min(walls)
                rss = max(r.rss_largest for r in runs[tool])
                lines.append(f"| {gsd:g} | {args.size} px, {acc['vessels']} vessels | {tool_names(args)[tool]} | {min(walls):.1f} | "
                             f"{', '.join(f'{w:.1f}' for w in walls)} | {rss / 1e9:.2f} | {pss[tool] / 1e9:.2f} | "
                             f"{acc['ap50']:.2f} | {acc['recall']:.2f} |")
            print("\n".join(lines[-len(tools):]), flush=True)
    return lines, best


def tiles_table(args) -> tuple[list[str], dict]:
    """Tiles per second for each model's inference call, rounds taking turns, median of rounds;
    the table and the medians by model label."""
    import torch
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    from detector.model.network import decode, fuse_for_inference
    from detector.model.routed import load_detector
    from detector.model.precision import amp_dtype, autocast, describe

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tile = torch.rand(1, 3, SLICE_PX, SLICE_PX)
    tile_u8 = (tile[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    # Each network of a routed model is timed on its own: a scene is read by one of them.
    detector = load_detector(args.model).map_models(lambda m: fuse_for_inference(m).to(memory_format=torch.channels_last))
    routes = detector.reading_mirrored(False).routes
    ours = {("ours" if len(routes) == 1 else f"ours{i}"): r for i, r in enumerate(routes)}
    cpu = torch.device("cpu")
    amp = amp_dtype(cpu, True)  # as infer.py runs it: bf16 where the CPU has it natively
    frcnn = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=2, min_size=SLICE_PX,
                                              max_size=SLICE_PX).eval() if "sahi_frcnn" in args.peers else None
    if "sahi_yolo" in args.peers:
        from ultralytics import YOLO

        yolo = YOLO(str(args.yolo_weights))

    def call(name):
        if name in ours:
            with torch.no_grad(), autocast(cpu, amp):
                decode(ours[name].model(tile.contiguous(memory_format=torch.channels_last)), ours[name].cfg.stride)
            return
        with torch.inference_mode():
            if name == "frcnn":
                frcnn([tile[0]])
            else:
                yolo.predict(tile_u8, imgsz=SLICE_PX, conf=0.05, device="cpu", verbose=False)

    def millions(module):
        return sum(q.numel() for q in module.parameters()) / 1e6

    short = {"frcnn": "Faster R-CNN MobileNetV3-FPN", "yolo": "YOLO11n-OBB"}
    lows = [0.0] + [r.below_gsd_m for r in routes[:-1]]
    names = {}
    for (n, r), lo in zip(ours.items(), lows):
        short[n] = n if len(routes) == 1 else f"ours, {r.cfg.backbone}"
        reads = "" if len(routes) == 1 else (f"scenes below {r.below_gsd_m:g} m, " if r.below_gsd_m < float("inf")
                                             else f"scenes of {lo:g} m and coarser, ")
        twice = ", tiles read mirrored too" if r.mirror else ""
        names[n] = f"ours ({reads}{r.cfg.backbone} trunk, FPN, dense head{twice}), {millions(r.model):.1f} M parameters, {describe(amp)}"

    if frcnn is not None:
        names["frcnn"] = f"{short['frcnn']}, {millions(frcnn):.1f} M parameters"
    if "sahi_yolo" in args.peers:
        names["yolo"] = f"{short['yolo']}, {millions(yolo.model):.1f} M parameters"
    rates = {n: [] for n in names}
    for n in names:
        for _ in range(2):  # warm-up: first calls allocate and pick kernels
            call(n)
    for _ in range(args.rounds):
        for n in names:
            count, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < args.seconds:
                call(n)
                count += 1
            rates[n].append(count / (time.perf_counter() - t0))
    lines = [f"| model, {SLICE_PX} x {SLICE_PX} tile, batch 1 | tiles/s, median of {args.rounds} rounds | rounds |", "|---|---|---|"]
    for n, label in names.items():
        lines.append(f"| {label} | {statistics.median(rates[n]):.2f} | {', '.join(f'{r:.2f}' for r in rates[n])} |")
    return lines, {short[n]: statistics.median(rates[n]) for n in names}


def draw(path: Path, best: dict, tiles: dict, gsds: list[float], threads: int, names: dict[str, str]) -> None:
    """End-to-end seconds per GSD and tool (grouped bars) beside tiles per second per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from detector.io.atomic import atomic_path

    colours = {"ours": "#c0392b", "ours_alt": "#e67e22", "sahi_yolo": "#2980b9", "sahi_frcnn": "#7f8c8d"}
    tools = [t for t in names if any((g, t) in best for g in gsds)]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / max(1, len(tools))
    for k, tool in enumerate(tools):
        xs = [i + (k - (len(tools) - 1) / 2) * width for i in range(len(gsds))]
        ys = [best.get((g, tool), float("nan")) for g in gsds]
        bars = ax.bar(xs, ys, width, color=colours[tool], label=names[tool].replace("`", ""))
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(gsds)), [f"{g:g} m" for g in gsds])
    ax.set_ylabel("seconds per scene, lower is better")
    ax.set_title("One scene per GSD, fresh process each run")
    top = max([v for v in best.values()] or [1.0])
    ax.set_ylim(0, top * 1.15)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    names = list(tiles)
    model_colour = {"ours": colours["ours"], "Faster R-CNN MobileNetV3-FPN": colours["sahi_frcnn"], "YOLO11n-OBB": colours["sahi_yolo"]}
    bx.barh(names, [tiles[n] for n in names], color=[model_colour.get(n, colours["ours"]) for n in names])
    for i, n in enumerate(names):
        bx.text(tiles[n], i, f" {tiles[n]:.1f}", va="center", fontsize=8)
    bx.set_xlim(0, max(tiles.values()) * 1.2)
    bx.set_xlabel("tiles of 512 px per second, higher is better")
    bx.set_title("Model call alone, batch 1")
    fig.suptitle(f"CPU, {threads} threads (bench/speed_gsd.py)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")  # keeps the legend under the axes
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--size", type=int, default=4096, help="scene side in pixels at every GSD")
    p.add_argument("--gsds", type=float, nargs="*", default=[0.5, 3.0, 10.0], choices=sorted(SENSOR_FOR_GSD))
    p.add_argument("--rounds", type=int, default=3, help="tiles-per-second rounds")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per model per round")
    p.add_argument("--skip-scenes", action="store_true", help="only the tiles-per-second table")
    p.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench")
    p.add_argument("--model", type=Path, default=ROOT / "models" / "vostochny_default.pt", help="our checkpoint to time")
    p.add_argument("--alt", default=None, metavar="ARGS",
                   help="also time ours with these infer.py arguments added, as a tool of its own")
    p.add_argument("--figure", type=Path, default=None, help="also draw the two tables into this PNG")
    p.add_argument("--yolo-weights", type=Path, default=ROOT / "outputs" / "bench" / "yolo" / "runs" / "budget" / "weights" / "last.pt")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS,
                   help="the peers to time beside ours (none: ours, and ours with --alt, alone)")
    p.add_argument("--peer-once", nargs=3, metavar=("TOOL", "SCENE", "OUT_JSON"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if "sahi_yolo" in args.peers and not args.yolo_weights.is_file():
        p.error(f"{args.yolo_weights} not found: train it with `python bench/yolo_vs_ours.py train` first")
    if args.peer_once:
        peer_once(args.peer_once[0], Path(args.peer_once[1]), Path(args.peer_once[2]), args.threads, args.yolo_weights)
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    out, best = [], {}
    if not args.skip_scenes:
        lines, best = scene_table(args)
        out += lines + [""]
    lines, tiles = tiles_table(args)
    out += lines
    if args.figure is not None:
        draw(args.figure, best, tiles, args.gsds, args.threads, tool_names(args))
        out += ["", f"figure: {args.figure}"]
    print(f"\n{platform.processor() or platform.machine()}, {args.threads} threads, {os.cpu_count()} cores visible, no GPU used")
    print("\n".join(out))
    gsds = " ".join(f"{g:g}" for g in args.gsds)
    model = "" if args.model == p.get_default("model") else f" --model {args.model}"
    if args.alt:
        model += f' --alt="{args.alt}"'
    if args.peers != list(PEERS):
        model += " --peers" + "".join(f" {peer}" for peer in args.peers)
    print(f"\nreproduce: python bench/speed_gsd.py{model} --threads {args.threads} --repeats {args.repeats} --size {args.size} "
          f"--gsds {gsds} --rounds {args.rounds} --seconds {args.seconds:g}{' --skip-scenes' if args.skip_scenes else ''}"
          f"{f' --figure {args.figure}' if args.figure else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
