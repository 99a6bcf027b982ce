"""Inference: scenes and a checkpoint in; vessels, berth counts, pictures and run records out.
``pipeline``: the whole run (scenes found, sharded over torchrun ranks, resumed from finished
parts, the events step at the end); ``batch``: scenes planned into tiles and streamed to the
model, and how clear each berth is in each look; ``predict``: tiles through the network and
merged into one scene's detections; ``measure``: detections into vessel rows in ground units;
``outputs``: the run's tables and files; ``quicklook``: a picture per scene; ``report``: the
run's summary; ``info``: what the detector reads from a scene (``python -m detector.info``).
"""
