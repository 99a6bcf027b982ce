"""Vostochny tanker detector: satellite scenes of oil berths in, vessels, counts and barrels out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vostochny-detector")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
