"""Scenes and files in, arrays and records out: the bottom layer, importing nothing else of ours.
Takes GeoTIFFs and plain images (``scene``: bands, GSD, acquisition time, windowed reads at a
working GSD; ``tiles``: the windows), the site's berth outlines (``berths``) and the sun's place
at a scene's time (``sun``). Gives out pixel arrays, the one pixel-to-ground boundary
(``georef``), CSV and GeoJSON records (``records``), aligned text tables (``tables``) and files
written atomically (``atomic``); ``errors`` names what can go wrong with an input.
"""
