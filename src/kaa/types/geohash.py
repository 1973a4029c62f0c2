"""Geohash arithmetic as Valkey does it (geohash.c, geohash_helper.c and the
algorithmic parts of geo.c).

A position is stored as a sorted-set score: the 26-bit latitude and longitude cell
numbers interleaved into 52 bits (latitude in the even bits), with latitudes limited
to the Web Mercator range +-85.05112878. Every computation below follows the C code
operation for operation in IEEE doubles (Python floats are the same doubles and
``math`` calls the same libm), so scores, coordinates and distances match Valkey's
to the last printed digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

GEO_STEP_MAX = 26
GEO_LAT_MIN = -85.05112878
GEO_LAT_MAX = 85.05112878
GEO_LONG_MIN = -180.0
GEO_LONG_MAX = 180.0

D_R = math.pi / 180.0
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37

CIRCULAR = 1
RECTANGLE = 2

_U64 = (1 << 64) - 1
_U32 = (1 << 32) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_TWO63 = 9223372036854775808.0

# A cell: (bits, step); None stands for a neighbour excluded from the search (GZERO).
Cell = tuple[int, int]
# An area: (long_min, long_max, lat_min, lat_max).
Area = tuple[float, float, float, float]


def deg_rad(ang: float) -> float:
    return ang * D_R


def rad_deg(ang: float) -> float:
    return ang / D_R


# --------------------------------------------------------------------------
# Bit interleaving
# --------------------------------------------------------------------------


def interleave64(xlo: int, ylo: int) -> int:
    """Bits of xlo in the even positions, bits of ylo in the odd ones (32 bits each)."""
    x = xlo
    y = ylo
    x = (x | (x << 16)) & 0x0000FFFF0000FFFF
    y = (y | (y << 16)) & 0x0000FFFF0000FFFF
    x = (x | (x << 8)) & 0x00FF00FF00FF00FF
    y = (y | (y << 8)) & 0x00FF00FF00FF00FF
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0F
    y = (y | (y << 4)) & 0x0F0F0F0F0F0F0F0F
    x = (x | (x << 2)) & 0x3333333333333333
    y = (y | (y << 2)) & 0x3333333333333333
    x = (x | (x << 1)) & 0x5555555555555555
    y = (y | (y << 1)) & 0x5555555555555555
    return (x | (y << 1)) & _U64


def deinterleave64(interleaved: int) -> int:
    """Inverse of interleave64: even bits in the low 32 bits, odd bits in the high 32."""
    x = interleaved
    y = interleaved >> 1
    x &= 0x5555555555555555
    y &= 0x5555555555555555
    x = (x | (x >> 1)) & 0x3333333333333333
    y = (y | (y >> 1)) & 0x3333333333333333
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0F
    y = (y | (y >> 2)) & 0x0F0F0F0F0F0F0F0F
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FF
    y = (y | (y >> 4)) & 0x00FF00FF00FF00FF
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFF
    y = (y | (y >> 8)) & 0x0000FFFF0000FFFF
    x = (x | (x >> 16)) & 0x00000000FFFFFFFF
    y = (y | (y >> 16)) & 0x00000000FFFFFFFF
    return x | (y << 32)


# --------------------------------------------------------------------------
# Encoding and decoding
# --------------------------------------------------------------------------


def encode(longitude: float, latitude: float, step: int,
           long_min: float = GEO_LONG_MIN, long_max: float = GEO_LONG_MAX,
           lat_min: float = GEO_LAT_MIN, lat_max: float = GEO_LAT_MAX) -> int | None:
    """geohashEncode: the interleaved cell bits of a position, or None when it is
    outside the supported area (or the given ranges)."""
    if step > 32 or step == 0:
        return None
    if (longitude > GEO_LONG_MAX or longitude < GEO_LONG_MIN or latitude > GEO_LAT_MAX
            or latitude < GEO_LAT_MIN):
        return None
    if latitude < lat_min or latitude > lat_max or longitude < long_min or longitude > long_max:
        return None
    lat_offset = (latitude - lat_min) / (lat_max - lat_min)
    long_offset = (longitude - long_min) / (long_max - long_min)
    scale = float(1 << step)
    lat_offset *= scale
    long_offset *= scale
    return interleave64(int(lat_offset) & _U32, int(long_offset) & _U32)


def score_of(longitude: float, latitude: float) -> int:
    """The 52-bit sorted-set score of a valid position (GEOADD)."""
    bits = encode(longitude, latitude, GEO_STEP_MAX)
    assert bits is not None
    return bits


def score_bits(score: float) -> int:
    """C's ``(uint64_t)score`` on x86-64 as GCC compiles it: values up to 2**63 are
    truncated through a signed conversion (negatives wrap), larger ones are reduced
    by 2**63 first, and what the CPU cannot convert becomes 0x8000000000000000."""
    if score != score:
        return 1 << 63
    if score < _TWO63:
        if score <= -_TWO63 or math.isinf(score):
            return 1 << 63
        return int(score) & _U64
    rest = score - _TWO63
    if rest >= _TWO63:
        return 0
    return (int(rest) ^ (1 << 63)) & _U64


def decode(bits: int, step: int,
           long_min: float = GEO_LONG_MIN, long_max: float = GEO_LONG_MAX,
           lat_min: float = GEO_LAT_MIN, lat_max: float = GEO_LAT_MAX) -> Area:
    """geohashDecode: the area (long_min, long_max, lat_min, lat_max) of a cell."""
    sep = deinterleave64(bits)
    lat_scale = lat_max - lat_min
    long_scale = long_max - long_min
    ilato = sep & _U32
    ilono = sep >> 32
    div = float(1 << step)
    return (
        long_min + (ilono * 1.0 / div) * long_scale,
        long_min + (((ilono + 1) & _U32) * 1.0 / div) * long_scale,
        lat_min + (ilato * 1.0 / div) * lat_scale,
        lat_min + (((ilato + 1) & _U32) * 1.0 / div) * lat_scale,
    )


def area_center(area: Area) -> tuple[float, float]:
    """geohashDecodeAreaToLongLat: the centre of a cell, clamped to the valid range."""
    x = (area[0] + area[1]) / 2
    if x > GEO_LONG_MAX:
        x = GEO_LONG_MAX
    if x < GEO_LONG_MIN:
        x = GEO_LONG_MIN
    y = (area[2] + area[3]) / 2
    if y > GEO_LAT_MAX:
        y = GEO_LAT_MAX
    if y < GEO_LAT_MIN:
        y = GEO_LAT_MIN
    return x, y


def decode_score(score: float) -> tuple[float, float]:
    """decodeGeohash: (longitude, latitude) of a sorted-set score."""
    return area_center(decode(score_bits(score), GEO_STEP_MAX))


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """The standard 11-character geohash of a stored position (GEOHASH): decoded,
    then encoded again with the usual latitude range +-90."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, 26, -180.0, 180.0, -90.0, 90.0) or 0
    out = bytearray(11)
    for i in range(10):
        out[i] = _ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F]
    out[10] = _ALPHABET[0]
    return bytes(out)


# --------------------------------------------------------------------------
# Neighbours and the search area
# --------------------------------------------------------------------------


def _move_x(bits: int, step: int, d: int) -> int:
    if d == 0:
        return bits
    x = bits & _ODD
    y = bits & _EVEN
    zz = _EVEN >> (64 - step * 2)
    if d > 0:
        x = x + (zz + 1)
    else:
        x = x | zz
        x = x - (zz + 1)
    x &= _ODD >> (64 - step * 2)
    return (x | y) & _U64


def _move_y(bits: int, step: int, d: int) -> int:
    if d == 0:
        return bits
    x = bits & _ODD
    y = bits & _EVEN
    zz = _ODD >> (64 - step * 2)
    if d > 0:
        y = y + (zz + 1)
    else:
        y = y | zz
        y = y - (zz + 1)
    y &= _EVEN >> (64 - step * 2)
    return (x | y) & _U64


def neighbors(bits: int, step: int) -> dict[str, int]:
    """geohashNeighbors: the eight cells around a cell, same step."""

    def mv(dx: int, dy: int) -> int:
        return _move_y(_move_x(bits, step, dx), step, dy)

    return {
        "north": mv(0, 1), "south": mv(0, -1), "east": mv(1, 0), "west": mv(-1, 0),
        "north_east": mv(1, 1), "north_west": mv(-1, 1),
        "south_east": mv(1, -1), "south_west": mv(-1, -1),
    }


def estimate_steps(range_meters: float, lat: float) -> int:
    """geohashEstimateStepsByRadius."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    if step < 1:
        step = 1
    if step > 26:
        step = 26
    return step


class Shape:
    """GeoShape: the search centre, its kind, size (in the request's unit) and the
    unit's conversion factor to meters."""

    __slots__ = ("kind", "lon", "lat", "radius", "width", "height", "conversion", "bounds")

    def __init__(self) -> None:
        self.kind = 0
        self.lon = 0.0
        self.lat = 0.0
        self.radius = 0.0
        self.width = 0.0
        self.height = 0.0
        self.conversion = 0.0
        self.bounds = (0.0, 0.0, 0.0, 0.0)


def bounding_box(shape: Shape) -> tuple[float, float, float, float]:
    """geohashBoundingBox: (min_lon, min_lat, max_lon, max_lat) around the shape."""
    lon = shape.lon
    lat = shape.lat
    circ = shape.kind == CIRCULAR
    height = shape.conversion * (shape.radius if circ else shape.height / 2)
    width = shape.conversion * (shape.radius if circ else shape.width / 2)
    lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS)
    long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / math.cos(deg_rad(lat + lat_delta)))
    long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / math.cos(deg_rad(lat - lat_delta)))
    southern = lat < 0
    return (
        lon - long_delta_bottom if southern else lon - long_delta_top,
        lat - lat_delta,
        lon + long_delta_bottom if southern else lon + long_delta_top,
        lat + lat_delta,
    )


def search_cells(shape: Shape) -> list[Cell | None]:
    """geohashCalculateAreasByShapeWGS84: the centre cell and its eight neighbours in
    Valkey's search order (centre, N, S, E, W, NE, NW, SE, SW); excluded ones are None."""
    min_lon, min_lat, max_lon, max_lat = bounding_box(shape)
    shape.bounds = (min_lon, min_lat, max_lon, max_lat)
    lon = shape.lon
    lat = shape.lat
    if shape.kind == CIRCULAR:
        radius_meters = shape.radius
    else:
        w2 = shape.width / 2
        h2 = shape.height / 2
        radius_meters = math.sqrt(w2 * w2 + h2 * h2)
    radius_meters *= shape.conversion
    steps = estimate_steps(radius_meters, lat)
    bits = encode(lon, lat, steps) or 0
    nb = neighbors(bits, steps)
    area = decode(bits, steps)
    north = decode(nb["north"], steps)
    south = decode(nb["south"], steps)
    east = decode(nb["east"], steps)
    west = decode(nb["west"], steps)
    decrease = (north[3] < max_lat or south[2] > min_lat or east[1] < max_lon
                or west[0] > min_lon)
    if steps > 1 and decrease:
        steps -= 1
        bits = encode(lon, lat, steps) or 0
        nb = neighbors(bits, steps)
        area = decode(bits, steps)
    cells: dict[str, Cell | None] = {k: (v, steps) for k, v in nb.items()}
    if steps >= 2:
        if area[2] < min_lat:
            cells["south"] = cells["south_west"] = cells["south_east"] = None
        if area[3] > max_lat:
            cells["north"] = cells["north_east"] = cells["north_west"] = None
        if area[0] < min_lon:
            cells["west"] = cells["south_west"] = cells["north_west"] = None
        if area[1] > max_lon:
            cells["east"] = cells["south_east"] = cells["north_east"] = None
    return [(bits, steps), cells["north"], cells["south"], cells["east"], cells["west"],
            cells["north_east"], cells["north_west"], cells["south_east"], cells["south_west"]]


def cell_score_range(cell: Cell) -> tuple[int, int]:
    """scoresOfGeoHashBox: scores [min, max) of the positions inside a cell."""
    bits, step = cell
    shift = 52 - step * 2
    return (bits << shift) & _U64, ((bits + 1) << shift) & _U64


# --------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------


def lat_distance(lat1d: float, lat2d: float) -> float:
    return EARTH_RADIUS_IN_METERS * abs(deg_rad(lat2d) - deg_rad(lat1d))


def distance(lon1d: float, lat1d: float, lon2d: float, lat2d: float) -> float:
    """geohashGetDistance: haversine distance in meters."""
    lon1r = deg_rad(lon1d)
    lon2r = deg_rad(lon2d)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1d, lat2d)
    lat1r = deg_rad(lat1d)
    lat2r = deg_rad(lat2d)
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    s = math.sqrt(a)
    return 2.0 * EARTH_RADIUS_IN_METERS * (math.asin(s) if s <= 1.0 else math.nan)


def within(shape: Shape, lon: float, lat: float) -> float | None:
    """geoWithinShape for a decoded position: its distance from the centre in meters,
    or None when it lies outside the circle or box."""
    if shape.kind == CIRCULAR:
        d = distance(shape.lon, shape.lat, lon, lat)
        if d > shape.radius * shape.conversion:
            return None
        return d
    width_m = shape.width * shape.conversion
    height_m = shape.height * shape.conversion
    if lat_distance(lat, shape.lat) > height_m / 2:
        return None
    if distance(lon, lat, shape.lon, lat) > width_m / 2:
        return None
    return distance(shape.lon, shape.lat, lon, lat)


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def format_distance(d: float) -> bytes:
    """fixedpoint_d2string(d, 4): llrint(d * 10000) printed with four decimals."""
    if d == 0:
        return b"0.0000"
    scaled = d * 10000.0
    # llrint: ties to even; what does not fit in 64 bits becomes LLONG_MIN.
    v = round(scaled) if abs(scaled) < 9223372036854775808.0 else -(1 << 63)
    neg = v < 0
    if neg:
        v = -v
    ip, fp = divmod(v, 10000)
    return b"%s%d.%04d" % (b"-" if neg else b"", ip, fp)


def format_coord(d: float) -> bytes:
    """ld2string(LD_STR_HUMAN) of a double: "%.17Lf" with trailing zeros removed."""
    s = b"%.17f" % d
    if b"." in s:
        s = s.rstrip(b"0").rstrip(b".")
    if s == b"-0":
        return b"0"
    return s


# --------------------------------------------------------------------------
# Partial sort (pqsort.c)
# --------------------------------------------------------------------------


def partial_sort(a: list[Any], cmp: Callable[[Any, Any], int], lrange: int, rrange: int) -> None:
    """Valkey's pqsort: a quicksort (Bentley-McIlroy, as in BSD qsort) that only
    recurses into partitions overlapping positions lrange..rrange. Its exact order of
    comparisons and swaps decides where equal elements land, so it is ported as is."""
    _pqsort(a, 0, len(a), cmp, lrange, rrange)


def _med3(a: Sequence[Any], i: int, j: int, k: int, cmp: Callable[[Any, Any], int]) -> int:
    if cmp(a[i], a[j]) < 0:
        if cmp(a[j], a[k]) < 0:
            return j
        return k if cmp(a[i], a[k]) < 0 else i
    if cmp(a[j], a[k]) > 0:
        return j
    return i if cmp(a[i], a[k]) < 0 else k


def _vecswap(a: list[Any], i: int, j: int, n: int) -> None:
    for t in range(n):
        a[i + t], a[j + t] = a[j + t], a[i + t]


def _pqsort(a: list[Any], lo: int, n: int, cmp: Callable[[Any, Any], int],
            lrange: int, rrange: int) -> None:
    while True:
        if n < 7:
            for pm in range(lo + 1, lo + n):
                pl = pm
                while pl > lo and cmp(a[pl - 1], a[pl]) > 0:
                    a[pl], a[pl - 1] = a[pl - 1], a[pl]
                    pl -= 1
            return
        pm = lo + n // 2
        if n > 7:
            pl = lo
            pn = lo + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(a, pm - d, pm, pm + d, cmp)
                pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(a, pl, pm, pn, cmp)
        a[lo], a[pm] = a[pm], a[lo]
        pa = pb = lo + 1
        pc = pd = lo + n - 1
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[lo])
                if r > 0:
                    break
                if r == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[lo])
                if r < 0:
                    break
                if r == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        pn = lo + n
        r = min(pa - lo, pb - pa)
        _vecswap(a, lo, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(a, pb, pn - r, r)
        r = pb - pa
        if r > 1:
            s = lo
            if not ((lrange < s and rrange < s) or (lrange >= s + r and rrange >= s + r)):
                _pqsort(a, s, r, cmp, lrange, rrange)
        r = pd - pc
        if r > 1:
            s = pn - r
            if not ((lrange < s and rrange < s) or (lrange >= s + r and rrange >= s + r)):
                lo = s
                n = r
                continue
        return
