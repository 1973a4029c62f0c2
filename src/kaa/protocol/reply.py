"""Reply values and their RESP2/RESP3 encoding.

Command handlers return plain Python values; this module is the only place that
turns them into bytes:

    bytes / bytearray  bulk string        int               integer
    str                simple string      None              null (RESP2: $-1)
    list / tuple       array              dict              map (RESP2: flat array)
    set / frozenset    set (RESP2: array) float             double (RESP2: bulk)
    bool               boolean (RESP2: 0/1)
    ReplyError         error              Raw               pre-encoded bytes
    NULL_ARRAY         null (RESP2: *-1)  BigNumber, Verbatim, Push, Attribute
    SetReply           set in list order (RESP2: array)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Collection
from itertools import chain
from typing import Any

from kaa.accel import optional


class ReplyError(Exception):
    """An error reply. ``message`` starts with its code (``ERR``, ``WRONGTYPE`` ...)."""

    __slots__ = ("message", "custom")

    def __init__(self, message: str, custom: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # An error text made up by a script (Valkey's ERR_REPLY_FLAG_CUSTOM): INFO
        # errorstats stops adding new codes of these past 128 and counts them under
        # ERRORSTATS_OVERFLOW instead.
        self.custom = custom

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


class Raw(bytes):
    """Bytes that are already a complete RESP reply, the same in both protocols."""


class _NoReply:
    """Returned by handlers that already queued their reply (or that block)."""

    __slots__ = ()


NO_REPLY: Any = _NoReply()


class BigNumber(int):
    """An integer sent as a RESP3 big number (RESP2: bulk string)."""


class Verbatim(bytes):
    """RESP3 verbatim string ``=len\\r\\ntxt:...`` (RESP2: bulk string)."""


class Push(list):  # type: ignore[type-arg]
    """An out-of-band RESP3 push (RESP2: array)."""


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY: Any = _NullArray()


class MapPairs(list):  # type: ignore[type-arg]
    """A map given as a list of (key, value) pairs, for keys that repeat or are unhashable."""


class SetReply(list):  # type: ignore[type-arg]
    """A RESP3 set whose members go out in list order (RESP2: array)."""


OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")
EMPTY_ARRAY = Raw(b"*0\r\n")
ZERO = Raw(b":0\r\n")
ONE = Raw(b":1\r\n")

SMALL_INTS = [b":%d\r\n" % i for i in range(10001)]
# Bulk headers of short strings: concatenation beats %-formatting by ~30 ns.
BULK_HEADERS = [b"$%d\r\n" % i for i in range(512)]


def format_double(d: float) -> bytes:
    """A double as Valkey 8 prints it (util.c d2string): integers in +-2^62 as
    integers, everything else through fpconv_dtoa (Grisu2 digits, its own layout:
    ``1e-7``, ``1.2345678901234e+4``, ``99999999999999990000000`` for 1e23)."""
    if d != d:
        return b"nan"
    if d == math.inf:
        return b"inf"
    if d == -math.inf:
        return b"-inf"
    if d == 0:
        return b"-0" if math.copysign(1.0, d) < 0 else b"0"
    if -_TWO62 <= d <= _TWO62 and d == int(d):
        return b"%d" % int(d)
    cached = _DOUBLE_CACHE.get(d)
    if cached is None:
        cached = _fpconv_dtoa(d)
        if len(_DOUBLE_CACHE) >= 4096:
            _DOUBLE_CACHE.clear()
        _DOUBLE_CACHE[d] = cached
    return cached


_TWO62 = float(2**62)
_DOUBLE_CACHE: dict[float, bytes] = {}

# ---- fpconv_dtoa: Grisu2 (Florian Loitsch) as in Valkey's deps/fpconv -------------
_M32 = (1 << 32) - 1
_FRACMASK = (1 << 52) - 1
_HIDDEN = 1 << 52


def _make_powers() -> list[tuple[int, int]]:
    """10^k for k = -348, -340, ..., 340 as (64-bit significand, binary exponent),
    rounded to nearest: the cache Grisu's digit generation scales by."""
    out = []
    for i in range(87):
        k = -348 + 8 * i
        num, den = (10**k, 1) if k >= 0 else (1, 10**-k)
        e = num.bit_length() - den.bit_length() - 64
        while True:  # find e with 2^63 <= 10^k / 2^e < 2^64
            n, dd = (num, den << e) if e >= 0 else (num << -e, den)
            q = n // dd
            if q >= 1 << 64:
                e += 1
            elif q < 1 << 63:
                e -= 1
            else:
                break
        frac = (2 * n + dd) // (2 * dd)  # round half up
        out.append((frac, e))
    return out


_POWERS = _make_powers()


def _cached_power(uexp: int) -> tuple[int, int, int]:
    """fpconv's find_cachedpow10 for the upper boundary's exponent:
    (significand, decimal exponent K to add, shift that splits integer digits)."""
    approx = int(-(uexp + 87) * 0.30102999566398114)  # C truncates toward zero
    idx = (approx + 348) // 8
    while True:
        cur = uexp + _POWERS[idx][1] + 64
        if cur < -60:
            idx += 1
        elif cur > -32:
            idx -= 1
        else:
            return _POWERS[idx][0], 348 - idx * 8, -cur


# Normal doubles have uexp = binary exponent - 11; one entry per exponent.
_POWER_FOR = {e: _cached_power(e) for e in range(-1074 - 11, 972 - 11)}


def _grisu2(d: float) -> tuple[int, int]:
    """Digits (as an integer) and decimal exponent K (value = digits * 10^K) of a
    positive double."""
    m, e = math.frexp(d)
    if e >= -1021:  # normal: 53-bit significand with the hidden bit
        frac = int(m * 9007199254740992.0)
        exp = e - 53
        ufrac, uexp = ((frac << 1) + 1) << 10, exp - 11
        wfrac = frac << 11
    else:  # subnormal: as fpconv, from the raw bits
        bits = struct.unpack("<Q", struct.pack("<d", d))[0]
        frac = bits & _FRACMASK
        exp = -1074
        ufrac, uexp = (frac << 1) + 1, exp - 1
        while not ufrac & (_HIDDEN << 1):
            ufrac <<= 1
            uexp -= 1
        ufrac <<= 10
        uexp -= 10
        wfrac, wexp = frac, exp
        while not wfrac & _HIDDEN:
            wfrac <<= 1
            wexp -= 1
        wfrac <<= 11
    lshift = 2 if frac == _HIDDEN else 1
    lfrac = ((frac << lshift) - 1) << (exp - lshift - uexp)
    cfrac, K, shift = _POWER_FOR[uexp] if uexp in _POWER_FOR else _cached_power(uexp)
    # fpconv's multiply keeps the high 64 bits of the product, rounded at bit 31
    # of the dropped half: the same as this on exact integers.
    w = ((wfrac * cfrac >> 32) + 0x80000000) >> 32
    upper = (((ufrac * cfrac >> 32) + 0x80000000) >> 32) - 1
    lower = (((lfrac * cfrac >> 32) + 0x80000000) >> 32) + 1
    one = 1 << shift
    wdist = upper - w
    delta = upper - lower
    part1 = upper >> shift
    part2 = upper & (one - 1)
    # Grisu2 emits digits of ``upper`` until the rest is within ``delta``. The
    # test is monotone in the number of digits, so the stopping point is found
    # by search instead of a loop per digit; the result is the same.
    if part2 <= delta and (part1 % 10 << shift) + part2 <= delta:
        # stops in the integer part: largest j (<= 9) with part1 mod 10^j small enough
        lo, hi = 1, 9  # holds at lo; find the largest that holds
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if ((part1 % _POW10[mid]) << shift) + part2 <= delta:
                lo = mid
            else:
                hi = mid - 1
        j = lo
        n = part1 // _POW10[j]
        rem = ((part1 % _POW10[j]) << shift) + part2
        n = _round_last(n, delta, rem, _POW10[j] << shift, wdist)
        return n, K + j
    if part2 <= delta:  # j = 0: all integer digits, nothing after the point
        return _round_last(part1, delta, part2, one, wdist), K
    # fraction digits: smallest m >= 1 with (part2 * 10^m mod one) < delta * 10^m
    lo, hi = 1, 1
    mask = one - 1
    while not (part2 * _POW10[hi]) & mask < delta * _POW10[hi]:
        lo = hi + 1
        hi *= 2
    while lo < hi:
        mid = (lo + hi) >> 1
        if (part2 * _POW10[mid]) & mask < delta * _POW10[mid]:
            hi = mid
        else:
            lo = mid + 1
    m = lo
    p = _POW10[m]
    scaled = part2 * p
    n = part1 * p + (scaled >> shift)
    n = _round_last(n, delta * p, scaled & mask, one, wdist * p)
    return n, K - m


_POW10 = [10**i for i in range(40)]


def _round_last(n: int, delta: int, rem: int, kappa: int, frac: int) -> int:
    # fpconv's round_digit: move the last digit toward w while inside the interval
    while rem < frac and delta - rem >= kappa and (rem + kappa < frac or frac - rem > rem + kappa - frac):
        n -= 1
        rem += kappa
    return n


def _fpconv_dtoa(d: float) -> bytes:
    neg = d < 0
    n, K = _grisu2(-d if neg else d)
    digits = str(n)
    nd = len(digits)
    exp = abs(K + nd - 1)
    if K >= 0 and exp < nd + 7:  # plain integer
        s = digits + "0" * K
    elif K < 0 and (K > -7 or exp < 4):  # decimal without exponent
        offset = nd + K
        if offset <= 0:
            s = "0." + "0" * -offset + digits
        else:
            s = digits[:offset] + "." + digits[offset:]
    else:  # scientific, the exponent without padding
        nd = min(nd, 18 - neg)
        s = digits[0] + ("." + digits[1:nd] if nd > 1 else "")
        s += ("e-" if K + nd - 1 < 0 else "e+") + str(exp)
    return ("-" + s if neg else s).encode()


def encode_error(msg: str) -> bytes:
    # Error text must stay on one line, as Valkey enforces.
    if "\r" in msg or "\n" in msg:
        msg = msg.replace("\r", " ").replace("\n", " ")
    return b"-" + msg.encode("utf-8", "surrogateescape") + b"\r\n"


def _bulk(v: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(v), v)


class _BulkHeaders(dict[int, bytes]):
    """``n -> b"\\r\\n$n\\r\\n"``: the CRLF ending the previous part plus a bulk header,
    built on first use and kept for short lengths (a dict so that C code can index it)."""

    def __missing__(self, n: int) -> bytes:
        h = b"\r\n$%d\r\n" % n
        if n < 1024:
            self[n] = h
        return h


_bulk_header = _BulkHeaders().__getitem__


def _bulk_array(items: Collection[bytes]) -> Raw:
    """An array of bulk strings, encoded at once (identical in RESP2 and RESP3).

    Every item must be bytes or bytearray. Headers and items are interleaved by C-level
    iterators, which is about twice as fast as encoding element by element; when all
    items have the same length (common: fixed-size values) one header joins them all."""
    n = len(items)
    if not n:
        return EMPTY_ARRAY
    lens = list(map(len, items))
    if lens.count(lens[0]) == n:
        h = _bulk_header(lens[0])
        return Raw(b"*%d%s%s\r\n" % (n, h, h.join(items)))
    body = b"".join(chain.from_iterable(zip(map(_bulk_header, lens), items, strict=True)))
    return Raw(b"*%d%s\r\n" % (n, body))


# The compiled version where it was built (three times faster for 100 short items; it
# hands lists with other items to the one above).
_multibulk = optional("kaa.protocol._multibulk")
bulk_array: Callable[[Collection[bytes]], Raw] = _bulk_array
if _multibulk is not None:
    _multibulk.use_reply_types(Raw, EMPTY_ARRAY, _bulk_array)
    bulk_array = _multibulk.bulk_array


def encode2(v: Any) -> bytes:
    """Encode one reply value for a RESP2 client."""
    t = type(v)
    if t is bytes or t is bytearray:
        n = len(v)
        if n < 512:
            return BULK_HEADERS[n] + v + b"\r\n"
        return b"$%d\r\n%s\r\n" % (n, v)
    if t is Raw:
        return v  # type: ignore[no-any-return]
    if t is int:
        if 0 <= v <= 10000:
            return SMALL_INTS[v]
        return b":%d\r\n" % v
    if v is None:
        return b"$-1\r\n"
    f = _ENC2.get(t)
    if f is not None:
        return f(v)
    return _encode_other(v, False)


def encode3(v: Any) -> bytes:
    """Encode one reply value for a RESP3 client."""
    t = type(v)
    if t is bytes or t is bytearray:
        n = len(v)
        if n < 512:
            return BULK_HEADERS[n] + v + b"\r\n"
        return b"$%d\r\n%s\r\n" % (n, v)
    if t is Raw:
        return v  # type: ignore[no-any-return]
    if t is int:
        if 0 <= v <= 10000:
            return SMALL_INTS[v]
        return b":%d\r\n" % v
    if v is None:
        return b"_\r\n"
    f = _ENC3.get(t)
    if f is not None:
        return f(v)
    return _encode_other(v, True)


def _encode_other(v: Any, resp3: bool) -> bytes:
    # Subclasses of the base types (e.g. a str enum) fall back to their base.
    if isinstance(v, ReplyError):
        return encode_error(v.message)
    if isinstance(v, bool):
        return (b"#t\r\n" if v else b"#f\r\n") if resp3 else (b":1\r\n" if v else b":0\r\n")
    for base in (bytes, str, int, float, list, dict, set, frozenset, tuple):
        if isinstance(v, base):
            # str.__str__ keeps the data even where __str__ is overridden (Enum)
            plain = str.__str__(v) if base is str else base(v)  # type: ignore[arg-type]
            return (encode3 if resp3 else encode2)(plain)
    raise TypeError(f"cannot encode reply of type {type(v).__name__}")


def _arr2(v: list[Any] | tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(v)]
    parts.extend(map(encode2, v))
    return b"".join(parts)


def _arr3(v: list[Any] | tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(v)]
    parts.extend(map(encode3, v))
    return b"".join(parts)


def _map2(v: dict[Any, Any]) -> bytes:
    parts = [b"*%d\r\n" % (2 * len(v))]
    for k, x in v.items():
        parts.append(encode2(k))
        parts.append(encode2(x))
    return b"".join(parts)


def _map3(v: dict[Any, Any]) -> bytes:
    parts = [b"%%%d\r\n" % len(v)]
    for k, x in v.items():
        parts.append(encode3(k))
        parts.append(encode3(x))
    return b"".join(parts)


def _pairs2(v: MapPairs) -> bytes:
    parts = [b"*%d\r\n" % (2 * len(v))]
    for k, x in v:
        parts.append(encode2(k))
        parts.append(encode2(x))
    return b"".join(parts)


def _pairs3(v: MapPairs) -> bytes:
    parts = [b"%%%d\r\n" % len(v)]
    for k, x in v:
        parts.append(encode3(k))
        parts.append(encode3(x))
    return b"".join(parts)


def _set3(v: set[Any] | frozenset[Any]) -> bytes:
    parts = [b"~%d\r\n" % len(v)]
    parts.extend(map(encode3, v))
    return b"".join(parts)


def _push3(v: Push) -> bytes:
    parts = [b">%d\r\n" % len(v)]
    parts.extend(map(encode3, v))
    return b"".join(parts)


def _double2(v: float) -> bytes:
    return _bulk(format_double(v))


def _double3(v: float) -> bytes:
    return b",%s\r\n" % format_double(v)


def _status(v: str) -> bytes:
    return b"+" + v.encode("utf-8", "surrogateescape") + b"\r\n"


def _bool2(v: bool) -> bytes:
    return b":1\r\n" if v else b":0\r\n"


def _bool3(v: bool) -> bytes:
    return b"#t\r\n" if v else b"#f\r\n"


def _error(v: ReplyError) -> bytes:
    return encode_error(v.message)


def _null_array2(v: Any) -> bytes:
    return b"*-1\r\n"


def _null3(v: Any) -> bytes:
    return b"_\r\n"


def _big2(v: BigNumber) -> bytes:
    return _bulk(b"%d" % v)


def _big3(v: BigNumber) -> bytes:
    return b"(%d\r\n" % v


def _verb2(v: Verbatim) -> bytes:
    return _bulk(bytes(v))


def _verb3(v: Verbatim) -> bytes:
    return b"=%d\r\ntxt:%s\r\n" % (len(v) + 4, bytes(v))


_ENC2: dict[type, Callable[[Any], bytes]] = {
    list: _arr2,
    tuple: _arr2,
    dict: _map2,
    MapPairs: _pairs2,
    set: _arr2,  # type: ignore[dict-item]
    frozenset: _arr2,  # type: ignore[dict-item]
    Push: _arr2,
    float: _double2,
    str: _status,
    bool: _bool2,
    ReplyError: _error,
    _NullArray: _null_array2,
    BigNumber: _big2,
    Verbatim: _verb2,
}


def _setlike2(v: set[Any] | frozenset[Any]) -> bytes:
    return _arr2(list(v))


_ENC2[set] = _setlike2
_ENC2[frozenset] = _setlike2

_ENC3: dict[type, Callable[[Any], bytes]] = {
    list: _arr3,
    tuple: _arr3,
    dict: _map3,
    MapPairs: _pairs3,
    set: _set3,
    frozenset: _set3,
    Push: _push3,
    float: _double3,
    str: _status,
    bool: _bool3,
    ReplyError: _error,
    _NullArray: _null3,
    BigNumber: _big3,
    Verbatim: _verb3,
}
_ENC2[SetReply] = _arr2
_ENC3[SetReply] = _set3
