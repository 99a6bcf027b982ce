"""Training and evaluation: labelled scenes in (COCO, the generator's truth, synthetic on the fly),
checkpoints, metrics and held-out scores out. ``labels``: label formats into scenes with
oriented boxes; ``sources``: ``--data`` specs, mixtures and group splits; ``datasets``: tiles
drawn at the working GSD with augmentation; ``engine``: the training loop (resumable, torchrun);
``evaluate``: oriented AP50, length error and bow by GSD band; ``berth_recall``: the detector's
recall at loading berths measured against truth, stored in a copy of the checkpoint.
"""
