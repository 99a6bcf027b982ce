"""Synthetic Vostochny scenes and time series with exact ground truth: a seed and a scene spec
(sensor, GSD, date, vessels, clouds) in; rendered scenes with every hull's true box, type and
length out. ``render(random_spec(seed, index))`` gives one independent scene in memory (for
training on the fly); ``python -m detector.synth`` writes GeoTIFF scenes, truth.csv and, for a
series or clips around a berth, visits.csv.
"""

from .compose import SceneSpec, SynthScene, random_spec, render

__all__ = ["SceneSpec", "SynthScene", "random_spec", "render"]
