"""Point-in-area checks on the city boundary from the seed file."""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]  # (lat, lon)


def point_in_polygon(lat: float, lon: float, polygon: Sequence[Sequence[float]]) -> bool:
    """Ray casting; ``polygon`` is a ring of [lat, lon] pairs (closed or not)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        lat1, lon1 = polygon[i]
        lat2, lon2 = polygon[(i + 1) % n]
        if (lon1 > lon) != (lon2 > lon):
            cross_lat = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < cross_lat:
                inside = not inside
    return inside


def inside_boundary(lat: float, lon: float, boundary: dict) -> bool:
    return any(point_in_polygon(lat, lon, poly) for poly in boundary.get("polygons", []))


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
