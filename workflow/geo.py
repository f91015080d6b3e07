"""Points: reading them as people type or paste them, and distances. (Which area a point is in:
workflow.areas.)"""

from __future__ import annotations

import math
import re

Point = tuple[float, float]  # (lat, lon)


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# -- reading a point as people type or paste it ---------------------------------------------------

_URL_POINTS = (
    re.compile(r"[?&](?:q|query|ll|center|destination)=(?:loc:)?([-+\d.]+),\s*([-+\d.]+)"),  # Google ?q=lat,lon
    re.compile(r"@([-+\d.]+),([-+\d.]+)(?:,[\d.]+z)?"),  # Google /maps/place/...@lat,lon,17z
    re.compile(r"[?&]mlat=([-+\d.]+)&mlon=([-+\d.]+)"),  # OpenStreetMap marker
    re.compile(r"#map=\d+(?:\.\d+)?/([-+\d.]+)/([-+\d.]+)"),  # OpenStreetMap view
)


def number(text: str) -> float:
    """``-5,1477`` or ``-5.1477`` (a decimal comma is what Indonesian keyboards type); a
    ValueError for anything else."""
    text = text.strip().replace("−", "-")
    if not re.fullmatch(r"[-+]?[0-9]+(?:[.,][0-9]+)?", text):
        raise ValueError(text)
    return float(text.replace(",", "."))


def parse_point(lat: object, lon: object) -> Point:
    """The point a reporter gave: two numbers (a decimal comma or point), a "lat, lon" pair
    pasted into the first field (the second then empty), or a pasted Google Maps or
    OpenStreetMap link. Raises ValueError for anything else, for numbers that are not finite
    and for points off the globe."""
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and not isinstance(lat, bool) \
            and not isinstance(lon, bool):
        point = float(lat), float(lon)
    else:
        first = "" if lat is None else str(lat).strip()
        second = "" if lon is None else str(lon).strip()
        if not second:
            point = _pasted(first)
        else:
            point = number(first), number(second)
    if not all(math.isfinite(v) for v in point) or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        raise ValueError(point)
    return point


def _pasted(text: str) -> Point:
    if re.match(r"(?i)https?://|www\.|maps\.|goo\.gl", text):
        for pattern in _URL_POINTS:
            found = pattern.search(text)
            if found:
                return number(found.group(1)), number(found.group(2))
        raise ValueError("no point in the link")
    # "-5.1477, 119.4327", "-5,1477; 119,4327", "-5,1477 119,4327", "-5.1477,119.4327"
    parts = [p for p in re.split(r"\s*;\s*|,\s+|\s+", text) if p]
    if len(parts) == 2:
        return number(parts[0]), number(parts[1])
    if len(parts) == 1 and parts[0].count(",") == 1 and parts[0].count(".") == 2:
        a, b = parts[0].split(",")
        return number(a), number(b)
    if len(parts) == 1 and parts[0].count(",") == 3:  # "-5,1477,119,4327": decimal commas, no space
        a, b, c, d = parts[0].split(",")
        return number(f"{a},{b}"), number(f"{c},{d}")
    raise ValueError(text)
