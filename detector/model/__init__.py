"""The network and what it needs around it: a tile of pixels at the working GSD in, oriented vessel
boxes out. ``network``: the model's config, the network, decoding its maps into boxes, and
checkpoints (loaded with ``weights_only=True``); ``targets``: the training targets and the loss;
``geometry``: oriented boxes (corners, IoU); ``precision``: float32 or bfloat16/float16 autocast
by what the device offers; ``device``: the device and a process's place in a torchrun job.
"""
