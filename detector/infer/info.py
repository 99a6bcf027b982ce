"""`python -m detector.info SCENE ...`: describe scenes (CRS, GSD, bands, date) and save quicklooks.

One line per scene, or JSON with ``--json``. A scene that cannot be used prints its one-line
error and the others go on; the exit code is 0 when every scene opened, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..io.errors import SceneError
from ..io.scene import Scene, write_png


def get_args_parser() -> argparse.ArgumentParser:
    """The command-line parser, returned so other tools can extend it."""
    p = argparse.ArgumentParser(prog="python -m detector.info", description=__doc__.split("\n")[0])
    p.add_argument("scenes", nargs="+", type=Path, help="GeoTIFF, COG, PNG or JPEG files")
    p.add_argument("--gsd", type=float, default=None, help="ground sample distance in metres, for images without a CRS")
    p.add_argument("--bands", type=lambda s: tuple(int(b) for b in s.split(",")), default=None,
                   help="1-based bands to read as R,G,B (e.g. 3,2,1) or one panchromatic band")
    p.add_argument("--quicklook-dir", type=Path, default=None, help="write a stretched PNG of each scene here")
    p.add_argument("--json", action="store_true", help="print one JSON object per scene instead of a table")
    return p


def describe(scene: Scene) -> str:
    """A one-line human summary of an open scene."""
    i = scene.info
    when = i.datetime.strftime("%Y-%m-%d %H:%M") if i.datetime else "no date"
    return (
        f"{Path(i.path).name}: {i.width}x{i.height} px, {i.count} band(s) {i.dtype}, "
        f"{i.crs if i.crs and len(i.crs) < 20 else ('custom CRS' if i.crs else 'no CRS')}, "
        f"GSD {i.gsd_x_m:.2f} x {i.gsd_y_m:.2f} m ({i.gsd_source}), bands {i.bands.indexes} ({i.bands.source}), "
        f"{when} ({i.datetime_source})"
    )


def main(args: argparse.Namespace) -> int:
    """Describe each scene; return the process exit code."""
    failed = 0
    for path in args.scenes:
        try:
            with Scene(path, gsd_m=args.gsd, bands=args.bands) as scene:
                print(json.dumps(scene.info.to_dict(), default=str) if args.json else describe(scene))
                if args.quicklook_dir is not None:
                    rgb, _ = scene.preview()
                    out = args.quicklook_dir / f"{path.stem}.png"
                    if out.resolve() == path.resolve():
                        raise SceneError(out, "refusing to overwrite the input scene")
                    write_png(out, np.round(rgb * 255).astype(np.uint8))
        except SceneError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
