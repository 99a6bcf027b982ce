"""Synthetic Vostochny scenes and time series with exact ground truth.

``render(random_spec(seed, index))`` gives one independent scene in memory (for training on the
fly); ``python -m detector.synth`` writes scenes, truth.csv and, for a series, visits.csv.
"""

from .compose import SceneSpec, SynthScene, random_spec, render

__all__ = ["SceneSpec", "SynthScene", "random_spec", "render"]
