"""From sightings to barrels: per-scene counts of tankers at the berths in, visits, load events,
volumes and a total with its interval out. ``hulls``: size classes by length
(``data/hull_classes.toml``); ``volumes``: barrels a hull of a class loads; ``tracks``: looks at
a berth followed into visits; ``recall``: the detector's recall that the correction for missed
visits assumes; ``estimate``: the total with its interval, corrected for visits no clear look
saw; ``loads``: the step that ties them together and writes events.csv and summary.json;
``timeline``: the berth occupancy picture.
"""
