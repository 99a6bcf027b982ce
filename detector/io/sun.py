"""Where the sun stands at a place and time: for where cloud shadows can fall on a berth.

NOAA's low-precision solar position (the "General Solar Position Calculations" note of the
NOAA Global Monitoring Division): good to about half a degree, far finer than the cloud
heights it is used with are known.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone


def sun_position(when: datetime, lon_deg: float, lat_deg: float) -> tuple[float, float]:
    """Solar elevation and azimuth in degrees (azimuth clockwise from north, towards the sun)
    at UTC time ``when`` (a naive time is taken as UTC) over ``lon_deg``, ``lat_deg``."""
    t = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    hour = t.hour + t.minute / 60.0 + t.second / 3600.0
    g = 2.0 * math.pi / 365.0 * (t.timetuple().tm_yday - 1 + (hour - 12.0) / 24.0)
    eqtime_min = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                           - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    solar_min = hour * 60.0 + eqtime_min + 4.0 * lon_deg  # true solar time
    ha = math.radians(solar_min / 4.0 - 180.0)
    lat = math.radians(lat_deg)
    cos_zen = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(ha)
    elevation = 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zen))))
    # Azimuth from south, westward positive, turned to clockwise from north.
    azimuth = math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(lat) - math.tan(decl) * math.cos(lat))) + 180.0
    return elevation, azimuth % 360.0


def shadow_direction(azimuth_deg: float) -> tuple[float, float]:
    """Unit (east, north) vector along which shadows fall: away from the sun."""
    a = math.radians(azimuth_deg)
    return -math.sin(a), -math.cos(a)
