"""Bit-level algorithms over string values (Valkey's bitops.c data side).

Strings are ``bytes`` or ``bytearray``; bit 0 is the most significant bit of the
first byte, as SETBIT/GETBIT/BITFIELD number them. Everything here works on whole
buffers with C-speed primitives (``int.from_bytes`` + ``int.bit_count``, regular
expressions over bytes, big-integer logic for BITOP) instead of Python loops per
byte, so BITCOUNT/BITPOS/BITOP stay fast on large bitmaps.
"""

from __future__ import annotations

import re

Buf = bytes | bytearray

_U64 = (1 << 64) - 1
I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)

# Popcount in slices of this many bytes, so a 512MB bitmap never becomes one huge int.
_CHUNK = 1 << 24

# The first byte that is not 0x00 (looking for a 1) / not 0xff (looking for a 0).
_NOT_ZERO = re.compile(rb"[^\x00]")
_NOT_ONES = re.compile(rb"[^\xff]")

BITOP_AND = 0
BITOP_OR = 1
BITOP_XOR = 2
BITOP_NOT = 3

OVERFLOW_WRAP = 0
OVERFLOW_SAT = 1
OVERFLOW_FAIL = 2


def popcount(buf: Buf, start: int, end: int) -> int:
    """Set bits in bytes ``buf[start:end]``."""
    if end - start <= _CHUNK:
        if start == 0 and end == len(buf):  # the whole string (BITCOUNT key): no view
            return int.from_bytes(buf, "big").bit_count()
        with memoryview(buf) as mv:
            return int.from_bytes(mv[start:end], "big").bit_count()
    total = 0
    with memoryview(buf) as mv:
        for i in range(start, end, _CHUNK):
            total += int.from_bytes(mv[i : min(i + _CHUNK, end)], "big").bit_count()
    return total


def popcount_bits(buf: Buf, first: int, last: int) -> int:
    """Set bits among bit positions ``first..last`` (inclusive, first <= last)."""
    fb = first >> 3
    lb = last >> 3
    count = popcount(buf, fb, lb + 1)
    head = first & 7
    if head:
        # Bits of the first byte before ``first``.
        count -= (buf[fb] >> (8 - head)).bit_count()
    tail = 7 - (last & 7)
    if tail:
        # Bits of the last byte after ``last``.
        count -= (buf[lb] & ((1 << tail) - 1)).bit_count()
    return count


def _first_in_byte(byte: int, bit: int, lo: int, hi: int) -> int:
    """Index (0 = MSB) of the first bit equal to ``bit`` among positions lo..hi of a
    byte, or -1."""
    v = byte if bit else byte ^ 0xFF
    # Keep positions lo..hi only: position p is the bit of weight 1 << (7 - p).
    v &= (0xFF >> lo) & (0xFF << (7 - hi))
    if not v:
        return -1
    return 8 - v.bit_length()


def bitpos(buf: Buf, bit: int, first: int, last: int) -> int:
    """Position of the first bit equal to ``bit`` among bit positions first..last
    (inclusive, within ``buf``), or -1."""
    fb = first >> 3
    lb = last >> 3
    if fb == lb:
        p = _first_in_byte(buf[fb], bit, first & 7, last & 7)
        return -1 if p < 0 else (fb << 3) + p
    p = _first_in_byte(buf[fb], bit, first & 7, 7)
    if p >= 0:
        return (fb << 3) + p
    if lb > fb + 1:
        m = (_NOT_ZERO if bit else _NOT_ONES).search(buf, fb + 1, lb)
        if m is not None:
            i = m.start()
            return (i << 3) + _first_in_byte(buf[i], bit, 0, 7)
    p = _first_in_byte(buf[lb], bit, 0, last & 7)
    return -1 if p < 0 else (lb << 3) + p


def bitop(op: int, sources: list[Buf]) -> bytes:
    """AND/OR/XOR of the sources (shorter ones zero-padded on the right) or NOT of
    the single source; the result is as long as the longest source."""
    maxlen = max(map(len, sources), default=0)
    if maxlen == 0:
        return b""
    nbits = maxlen << 3

    def value(s: Buf) -> int:
        return int.from_bytes(s, "big") << ((maxlen - len(s)) << 3)

    if op == BITOP_NOT:
        acc = value(sources[0]) ^ ((1 << nbits) - 1)
    else:
        it = iter(sources)
        acc = value(next(it))
        if op == BITOP_AND:
            for s in it:
                acc &= value(s)
        elif op == BITOP_OR:
            for s in it:
                acc |= value(s)
        else:
            for s in it:
                acc ^= value(s)
    return acc.to_bytes(maxlen, "big")


# ---------------------------------------------------------------------------
# BITFIELD integers
# ---------------------------------------------------------------------------


def get_unsigned(buf: Buf, offset: int, bits: int) -> int:
    """The ``bits``-wide unsigned integer at bit ``offset``; bits past the end read as 0."""
    fb = offset >> 3
    lb = (offset + bits - 1) >> 3
    chunk = bytes(buf[fb : lb + 1])
    nbytes = lb - fb + 1
    if len(chunk) < nbytes:
        chunk += bytes(nbytes - len(chunk))
    v = int.from_bytes(chunk, "big")
    v >>= (nbytes << 3) - (offset & 7) - bits
    return v & ((1 << bits) - 1)


def get_signed(buf: Buf, offset: int, bits: int) -> int:
    v = get_unsigned(buf, offset, bits)
    if v >> (bits - 1):
        v -= 1 << bits
    return v


def set_bits(ba: bytearray, offset: int, bits: int, value: int) -> None:
    """Store the low ``bits`` bits of ``value`` (two's complement for negatives) at
    bit ``offset``; ``ba`` must already be long enough."""
    fb = offset >> 3
    lb = (offset + bits - 1) >> 3
    nbytes = lb - fb + 1
    shift = (nbytes << 3) - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    cur = int.from_bytes(ba[fb : lb + 1], "big")
    cur = (cur & ~mask) | (((value & ((1 << bits) - 1)) << shift) & mask)
    ba[fb : lb + 1] = cur.to_bytes(nbytes, "big")


def unsigned_overflow(value: int, incr: int, bits: int, owtype: int) -> tuple[int, int]:
    """checkUnsignedBitfieldOverflow: (direction, result) where direction is 0 (fits),
    1 (overflow) or -1 (underflow) and result is the value to store under ``owtype``
    (meaningless for FAIL). ``value`` is the current (or SET) value, ``incr`` the
    signed 64-bit increment."""
    maxv = (1 << bits) - 1
    total = value + incr
    if value > maxv or (incr > 0 and total > maxv):
        direction = 1
    elif incr < 0 and total < 0:
        direction = -1
    else:
        return 0, total
    if owtype == OVERFLOW_SAT:
        return direction, maxv if direction > 0 else 0
    # WRAP: the sum modulo 2**64, then modulo 2**bits.
    return direction, (total & _U64) & maxv


def _s64(x: int) -> int:
    """x as C's int64_t after unsigned wrap-around."""
    x &= _U64
    return x - (1 << 64) if x >> 63 else x


def signed_overflow(value: int, incr: int, bits: int, owtype: int) -> tuple[int, int]:
    """checkSignedBitfieldOverflow, as unsigned_overflow for i<bits> types. The bounds
    are computed with C's 64-bit wrap-around, which for SET values near INT64_MIN
    reports an overflow (not an underflow) exactly as Valkey does."""
    maxv = (1 << (bits - 1)) - 1
    minv = -maxv - 1
    maxincr = _s64(maxv - value)
    minincr = _s64(minv - value)
    narrow = bits != 64
    if value > maxv or (narrow and incr > maxincr) or (value >= 0 and incr > 0 and incr > maxincr):
        direction = 1
    elif value < minv or (narrow and incr < minincr) or (value < 0 and incr < 0 and incr < minincr):
        direction = -1
    else:
        return 0, value + incr
    if owtype == OVERFLOW_SAT:
        return direction, maxv if direction > 0 else minv
    # WRAP: two's complement addition in 64 bits, then sign-extend from ``bits``.
    w = ((value + incr) & _U64) & ((1 << bits) - 1)
    if w >> (bits - 1):
        w -= 1 << bits
    return direction, w
