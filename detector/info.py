"""``python -m detector.info SCENE ...``: what the detector reads from each scene (size, CRS, GSD,
bands, time); the code is ``detector.infer.info``."""

import sys

from .infer.info import get_args_parser, main

if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
