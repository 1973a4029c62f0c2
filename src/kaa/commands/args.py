"""Argument parsing shared by every command family, with Valkey's exact error texts."""

from __future__ import annotations

import math

from kaa.protocol.reply import ReplyError
from kaa.types.doubles import string2d

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1

ERR_NOT_INT = ReplyError("ERR value is not an integer or out of range")
ERR_NOT_FLOAT = ReplyError("ERR value is not a valid float")
ERR_SYNTAX = ReplyError("ERR syntax error")
ERR_WRONGTYPE = ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")
ERR_NO_SUCH_KEY = ReplyError("ERR no such key")
ERR_OVERFLOW = ReplyError("ERR increment or decrement would overflow")
ERR_DB_INDEX = ReplyError("ERR DB index is out of range")
ERR_TIMEOUT = ReplyError("ERR timeout is not a float or out of range")
ERR_TIMEOUT_NEG = ReplyError("ERR timeout is negative")


def is_strict_int(s: bytes) -> bool:
    """True if s is a canonical 64-bit integer (Valkey's string2ll accepts it)."""
    return parse_int_or_none(s) is not None


def parse_int_or_none(s: bytes | bytearray) -> int | None:
    """string2ll: optional '-', no leading zeros or spaces or '+', fits in 64 bits."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c0 = s[0]
    if n == 1:
        return c0 - 48 if 48 <= c0 <= 57 else None
    if c0 == 45:
        if s[1] == 48:
            return None
    elif c0 == 48 or not (49 <= c0 <= 57):
        return None
    try:
        v = int(s)
    except ValueError:
        return None
    if not (LLONG_MIN <= v <= LLONG_MAX):
        return None
    # int() accepts '_' separators and surrounding whitespace; string2ll does not.
    if b"_" in s or s[-1] < 48 or s[-1] > 57:
        return None
    return v


def parse_int(s: bytes | bytearray, err: ReplyError = ERR_NOT_INT) -> int:
    v = parse_int_or_none(s)
    if v is None:
        raise err
    return v


def parse_positive(s: bytes, name: str) -> int:
    v = parse_int(s)
    if v < 0:
        raise ReplyError(f"ERR {name} must be positive")
    return v


def parse_float_or_none(s: bytes | bytearray) -> float | None:
    """Valkey's string2d: the whole argument is a C double; no spaces, NaN, overflow or underflow."""
    return string2d(bytes(s))


def parse_float(s: bytes | bytearray, err: ReplyError = ERR_NOT_FLOAT) -> float:
    v = parse_float_or_none(s)
    if v is None:
        raise err
    return v


def parse_db_index(s: bytes, ndbs: int) -> int:
    v = parse_int_or_none(s)
    if v is None:
        raise ERR_NOT_INT
    if v < 0 or v >= ndbs:
        raise ERR_DB_INDEX
    return v


def parse_timeout(s: bytes) -> float:
    """Blocking-command timeout in seconds (float, >= 0); 0 means forever."""
    v = parse_float_or_none(s)
    if v is None or math.isinf(v):
        raise ERR_TIMEOUT
    if v < 0:
        raise ERR_TIMEOUT_NEG
    return v


def upper(s: bytes) -> bytes:
    return s.upper()


def arg_str(s: bytes) -> str:
    return s.decode("utf-8", "surrogateescape")


# What SLOWLOG and MONITOR show in place of a password or other secret argument.
REDACTED = b"(redacted)"
