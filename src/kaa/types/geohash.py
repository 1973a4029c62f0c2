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
from array import array
from collections.abc import Callable, Iterable, Sequence
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


def _spread8(v: int) -> int:
    """The 8 bits of v moved to the even positions of 16 bits."""
    out = 0
    for i in range(8):
        out |= ((v >> i) & 1) << (2 * i)
    return out


_SPREAD8 = [_spread8(v) for v in range(256)]


def interleave64(xlo: int, ylo: int) -> int:
    """Bits of xlo in the even positions, bits of ylo in the odd ones (32 bits each),
    a byte at a time through a table."""
    s = _SPREAD8
    x = s[xlo & 0xFF] | s[(xlo >> 8) & 0xFF] << 16 | s[(xlo >> 16) & 0xFF] << 32 | s[xlo >> 24] << 48
    y = s[ylo & 0xFF] | s[(ylo >> 8) & 0xFF] << 16 | s[(ylo >> 16) & 0xFF] << 32 | s[ylo >> 24] << 48
    return x | y << 1


def _deinterleave_bits(interleaved: int) -> int:
    """Inverse of interleave64 by bit twiddling (builds the lookup table below)."""
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


# _deinterleave_bits of every 16-bit value (8 even bits low, 8 odd bits from bit 32):
# four lookups deinterleave 64 bits. Built on first use (512 KB).
_DEINT16: array[int] | None = None


def _deint16() -> array[int]:
    global _DEINT16
    t = _DEINT16
    if t is None:
        low = [_deinterleave_bits(v) for v in range(256)]
        high = [v << 4 for v in low]
        t = _DEINT16 = array("Q", [h | lo for h in high for lo in low])
    return t


def deinterleave64(interleaved: int) -> int:
    """Inverse of interleave64 (``interleaved`` < 2**64): even bits in the low 32
    bits, odd bits in the high 32."""
    t = _DEINT16 or _deint16()
    b = interleaved
    return (t[b & 0xFFFF] | t[(b >> 16) & 0xFFFF] << 8
            | t[(b >> 32) & 0xFFFF] << 16 | t[b >> 48] << 24)


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
    if steps > 1:
        # Step down once when the neighbours do not cover the bounding box.
        if (decode(_move_y(bits, steps, 1), steps)[3] < max_lat
                or decode(_move_y(bits, steps, -1), steps)[2] > min_lat
                or decode(_move_x(bits, steps, 1), steps)[1] < max_lon
                or decode(_move_x(bits, steps, -1), steps)[0] > min_lon):
            steps -= 1
            bits = encode(lon, lat, steps) or 0
    east = _move_x(bits, steps, 1)
    west = _move_x(bits, steps, -1)
    cells: list[Cell | None] = [
        (bits, steps),
        (_move_y(bits, steps, 1), steps), (_move_y(bits, steps, -1), steps),
        (east, steps), (west, steps),
        (_move_y(east, steps, 1), steps), (_move_y(west, steps, 1), steps),
        (_move_y(east, steps, -1), steps), (_move_y(west, steps, -1), steps),
    ]
    if steps >= 2:
        area = decode(bits, steps)
        # Drop the neighbours on a side the bounding box does not reach.
        if area[2] < min_lat:
            cells[2] = cells[8] = cells[7] = None  # south, south-west, south-east
        if area[3] > max_lat:
            cells[1] = cells[5] = cells[6] = None  # north, north-east, north-west
        if area[0] < min_lon:
            cells[4] = cells[8] = cells[6] = None  # west, south-west, north-west
        if area[1] > max_lon:
            cells[3] = cells[7] = cells[5] = None  # east, south-east, north-east
    return cells


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


# --------------------------------------------------------------------------
# Scanning a cell (the hot loop of GEOSEARCH / GEORADIUS)
# --------------------------------------------------------------------------

_LAT_SCALE = GEO_LAT_MAX - GEO_LAT_MIN
_LONG_SCALE = GEO_LONG_MAX - GEO_LONG_MIN
_DIV26 = float(1 << GEO_STEP_MAX)
_TWO_R = 2.0 * EARTH_RADIUS_IN_METERS

# A decoded stored position: (longitude, latitude, half the longitude and half the
# latitude in radians, cosine of the latitude, latitude in radians), all pure
# functions of the score. The halves serve distance()'s sin((a - b) / 2): halving
# both operands first gives the same double as halving their difference (scaling by
# 2 commutes with rounding; decoded angles are never tiny enough to underflow).
Position = tuple[float, float, float, float, float, float]

# Positions of scores seen by recent searches: a search decodes every member of up to
# nine cells, and repeated searches over the same area decode the same scores again.
# Bounded: emptied when full.
_POSITIONS: dict[float, Position] = {}
_POSITIONS_MAX = 1 << 14


def position(score: float) -> Position:
    """decode_score of a score inside a cell's range ([0, 2**52], where ``int(score)``
    is score_bits(score)), memoized, with the radians and cosine distance() needs.
    The same double operations in the same order as decode and area_center."""
    t = _DEINT16 or _deint16()
    b = int(score)
    sep = (t[b & 0xFFFF] | t[(b >> 16) & 0xFFFF] << 8
           | t[(b >> 32) & 0xFFFF] << 16 | t[b >> 48] << 24)
    ilato = sep & 0xFFFFFFFF
    ilono = sep >> 32
    lon = ((GEO_LONG_MIN + (ilono / _DIV26) * _LONG_SCALE)
           + (GEO_LONG_MIN + ((ilono + 1) / _DIV26) * _LONG_SCALE)) / 2
    if lon > GEO_LONG_MAX:
        lon = GEO_LONG_MAX
    elif lon < GEO_LONG_MIN:
        lon = GEO_LONG_MIN
    lat = ((GEO_LAT_MIN + (ilato / _DIV26) * _LAT_SCALE)
           + (GEO_LAT_MIN + ((ilato + 1) / _DIV26) * _LAT_SCALE)) / 2
    if lat > GEO_LAT_MAX:
        lat = GEO_LAT_MAX
    elif lat < GEO_LAT_MIN:
        lat = GEO_LAT_MIN
    lat_r = lat * D_R
    p = (lon, lat, lon * D_R / 2, lat_r / 2, math.cos(lat_r), lat_r)
    cache = _POSITIONS
    if len(cache) >= _POSITIONS_MAX:
        cache.clear()
    cache[score] = p
    return p


# A point found by a search: (distance in meters, longitude, latitude, score, member).
Point = tuple[float, float, float, float, bytes]


def scan_points(pairs: Iterable[tuple[float, bytes]], shape: Shape, out: list[Point],
                limit: int) -> None:
    """geoGetPointsInRange's loop over the (score, member) pairs of one cell: keep the
    members inside the shape, appending Points to ``out`` and stopping once it holds
    ``limit`` (0: no limit). For a circle geoWithinShape's distance() is inlined with
    the centre's terms hoisted: the same double operations in the same order."""
    cache = _POSITIONS
    append = out.append
    if shape.kind != CIRCULAR:
        for score, member in pairs:
            try:
                lon, lat, _, _, _, _ = cache[score]
            except KeyError:
                lon, lat, _, _, _, _ = position(score)
            d = within(shape, lon, lat)
            if d is not None:
                append((d, lon, lat, score, member))
                if limit and len(out) >= limit:
                    return
        return
    sin = math.sin
    sqrt = math.sqrt
    asin = math.asin
    nan = math.nan
    earth = EARTH_RADIUS_IN_METERS
    two_r = _TWO_R
    lon1h = shape.lon * D_R / 2
    lat1r = shape.lat * D_R
    lat1h = lat1r / 2
    cos1 = math.cos(lat1r)
    radius = shape.radius * shape.conversion
    for score, member in pairs:
        try:
            lon, lat, lon2h, lat2h, cos2, lat2r = cache[score]
        except KeyError:
            lon, lat, lon2h, lat2h, cos2, lat2r = position(score)
        v = sin(lon2h - lon1h)
        if v == 0.0:
            d = earth * abs(lat2r - lat1r)
        else:
            u = sin(lat2h - lat1h)
            s = sqrt(u * u + cos1 * cos2 * v * v)
            d = two_r * asin(s) if s <= 1.0 else nan
        if d > radius:
            continue
        append((d, lon, lat, score, member))
        if limit and len(out) >= limit:
            return


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
