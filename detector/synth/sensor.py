"""What a satellite adds: haze, clouds and their shadows, optics blur, noise, band layout, nodata.

Sensors follow DESIGN.md section 5: PlanetScope ~3 m near daily, Sentinel-2 10 m every 5 days,
SkySat 0.5 m tasked, WorldView-3 0.31 m. Reflectance becomes 8-bit visual RGB (as Planet and
SkySat "visual" products), 16-bit scaled reflectance (x 10,000, as Sentinel-2 L2A), or a
16-bit panchromatic band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .ground import Grid, Sun
from .noise import fbm

NODATA = 0


@dataclass(frozen=True)
class Sensor:
    """An imaging system: native GSD, band layout, and how often it sees the port."""

    name: str
    gsd_m: float
    layout: str  # "rgb8", "rgb16", "rgbn16", "pan16"
    revisit: str  # "daily:P" (each day with chance P), "every:N" (every N days), "tasked:P"
    hour_utc: float  # local late morning at 133 E is about 01-02 UTC
    default_size_px: int
    blur_px: float = 0.5  # optics and detector, as a Gaussian sigma in pixels
    noise: float = 0.003  # reflectance units


SENSORS = {
    s.name: s
    for s in (
        Sensor("planetscope", 3.0, "rgb8", "daily:0.92", 1.5, 1024),
        Sensor("sentinel2", 10.0, "rgb16", "every:5", 1.9, 512),
        Sensor("skysat", 0.5, "rgb8", "tasked:0.12", 2.3, 2048),
        Sensor("worldview3", 0.31, "rgbn16", "tasked:0.05", 2.0, 2048),
        Sensor("pan", 0.5, "pan16", "tasked:0.1", 2.0, 2048),
    )
}


def band_metadata(layout: str) -> tuple[list[str], list[str]]:
    """Colour interpretation and descriptions of the bands written for ``layout``."""
    return {
        "rgb8": (["red", "green", "blue"], ["red", "green", "blue"]),
        "rgb16": (["red", "green", "blue"], ["B04 red", "B03 green", "B02 blue"]),
        "rgbn16": (["red", "green", "blue", "undefined"], ["red", "green", "blue", "nir"]),
        "pan16": (["gray"], ["panchromatic"]),
    }[layout]


@dataclass(frozen=True)
class Weather:
    """Cloud cover fraction (0-1), haze strength (0-1), cloud seed and cloud-top height."""

    cloud: float
    haze: float
    seed: int
    cloud_height_m: float = 1500.0


def clouds(grid: Grid, weather: Weather, sun: Sun) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity and cloud-shadow opacity (H, W) in [0, 1] for ``weather.cloud`` cover.

    Clouds are anchored to the ground in this acquisition's frame, so the shadow is the same
    field shifted away from the sun by the cloud height.
    """
    if weather.cloud <= 0:
        z = np.zeros((grid.height, grid.width), np.float32)
        return z, z
    e, n = grid.east_m, grid.north_m
    field = fbm(e, n, 2500.0, weather.seed, 7, grid.gsd_m)
    # The threshold is the field's own quantile, so that ``cloud`` of the frame is covered.
    thr = float(np.quantile(field[::8, ::8], 1.0 - weather.cloud)) - 0.03
    opacity = np.clip((field - thr) / 0.06, 0, 1)
    sh = sun.shadow_m(weather.cloud_height_m)
    shifted = fbm(e - sh[0], n - sh[1], 2500.0, weather.seed, 7, grid.gsd_m)
    shadow = np.clip((shifted - thr) / 0.06, 0, 1) * (1 - opacity)
    return opacity.astype(np.float32), shadow.astype(np.float32)


def apply_atmosphere(img: np.ndarray, grid: Grid, weather: Weather, sun: Sun) -> np.ndarray:
    """Add haze, cloud shadows and clouds to ``img`` (4, H, W) in place; return cloud opacity."""
    e, n = grid.east_m, grid.north_m
    opacity, shadow = clouds(grid, weather, sun)
    img *= (1 - 0.55 * shadow)[None]
    if weather.haze > 0:
        t = weather.haze * (0.5 + fbm(e, n, 4000.0, weather.seed + 1, 3, grid.gsd_m))
        air = np.array([0.15, 0.16, 0.19, 0.11], np.float32)[:, None, None]
        img += (air - img) * np.clip(t, 0, 0.9)[None]
    if weather.cloud > 0:
        body = np.array([0.62, 0.63, 0.65, 0.60], np.float32)[:, None, None] * (0.8 + 0.35 * fbm(e, n, 400.0, weather.seed + 2, 5, grid.gsd_m))[None]
        img += (body - img) * opacity[None]
    return opacity


def apply_optics(img: np.ndarray, sensor: Sensor, rng: np.random.Generator) -> np.ndarray:
    """Blur by the point spread function, then add sensor noise (reflectance units)."""
    out = ndimage.gaussian_filter(img, sigma=(0, sensor.blur_px, sensor.blur_px), mode="nearest")
    noise = rng.standard_normal(out.shape, dtype=np.float32)
    out += noise * (sensor.noise + 0.01 * np.sqrt(np.clip(out, 0, None)))
    return out


def to_digital(img: np.ndarray, layout: str) -> np.ndarray:
    """Reflectance (4, H, W) to the stored bands and dtype of ``layout``; 0 is kept for nodata."""
    if layout == "rgb8":
        v = np.clip(img[:3] / 0.35, 0, 1) ** (1 / 1.6)
        return np.clip(np.round(v * 255), 1, 255).astype(np.uint8)
    if layout == "pan16":
        img = img[:3].mean(axis=0, keepdims=True)
    elif layout == "rgb16":
        img = img[:3]
    return np.clip(np.round(img * 10000), 1, 65535).astype(np.uint16)


def nodata_margin(grid: Grid, rng: np.random.Generator, chance: float) -> np.ndarray | None:
    """A straight swath edge cutting off one corner (True = no data), or None."""
    if rng.random() >= chance:
        return None
    angle = rng.uniform(0, 2 * math.pi)
    cut = rng.uniform(0.08, 0.3)
    x = (np.arange(grid.width) + 0.5) / grid.width - 0.5
    y = (np.arange(grid.height) + 0.5) / grid.height - 0.5
    return (x[None, :] * math.cos(angle) + y[:, None] * math.sin(angle)) > (0.5 - cut) * (abs(math.cos(angle)) + abs(math.sin(angle)))
