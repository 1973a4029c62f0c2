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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class ReplyError(Exception):
    """An error reply. ``message`` starts with its code (``ERR``, ``WRONGTYPE`` ...)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


class Raw(bytes):
    """Bytes that are already a complete RESP reply, the same in both protocols."""


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


OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")
EMPTY_ARRAY = Raw(b"*0\r\n")
ZERO = Raw(b":0\r\n")
ONE = Raw(b":1\r\n")

_SMALL_INTS = [b":%d\r\n" % i for i in range(10001)]


def format_double(d: float) -> bytes:
    """Shortest representation that round-trips, laid out as C's %.17g (Valkey's fpconv_dtoa)."""
    if d != d:
        return b"nan"
    if d == math.inf:
        return b"inf"
    if d == -math.inf:
        return b"-inf"
    if d == 0:
        return b"-0" if math.copysign(1.0, d) < 0 else b"0"
    r = repr(d)
    if "e" in r:
        mant, _, exp_s = r.partition("e")
        exp = int(exp_s)
    else:
        mant, exp = r, 0
    neg = mant.startswith("-")
    if neg:
        mant = mant[1:]
    intpart, _, frac = mant.partition(".")
    if frac == "0":
        frac = ""
    digits = (intpart + frac).lstrip("0")
    # decimal exponent of the first significant digit
    if intpart.strip("0"):
        point = len(intpart.lstrip("0")) + exp
    else:
        point = exp - (len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    x = point - 1
    if x < -4 or x >= 17:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        s = "%se%s%02d" % (m, "-" if x < 0 else "+", abs(x))
    elif point <= 0:
        s = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        s = digits + "0" * (point - len(digits))
    else:
        s = digits[:point] + "." + digits[point:]
    return ("-" + s if neg else s).encode()


def encode_error(msg: str) -> bytes:
    # Error text must stay on one line, as Valkey enforces.
    if "\r" in msg or "\n" in msg:
        msg = msg.replace("\r", " ").replace("\n", " ")
    return b"-" + msg.encode("utf-8", "surrogateescape") + b"\r\n"


def _bulk(v: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(v), v)


def encode2(v: Any) -> bytes:
    """Encode one reply value for a RESP2 client."""
    t = type(v)
    if t is bytes or t is bytearray:
        return b"$%d\r\n%s\r\n" % (len(v), v)
    if t is Raw:
        return v  # type: ignore[no-any-return]
    if t is int:
        if 0 <= v <= 10000:
            return _SMALL_INTS[v]
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
        return b"$%d\r\n%s\r\n" % (len(v), v)
    if t is Raw:
        return v  # type: ignore[no-any-return]
    if t is int:
        if 0 <= v <= 10000:
            return _SMALL_INTS[v]
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
            f = (_ENC3 if resp3 else _ENC2).get(base)
            if f is not None:
                return f(base(v))
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
