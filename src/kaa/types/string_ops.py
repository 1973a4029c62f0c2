"""String algorithms that need more than slicing: x87 ``long double`` arithmetic for
INCRBYFLOAT (and HINCRBYFLOAT), and the longest common subsequence for LCS.

Valkey does INCRBYFLOAT in C's ``long double``, which on x86-64 is the 80-bit x87
format: a 64-bit significand and a 15-bit exponent. Python floats have only 53 bits,
so sums such as ``10.5 + 0.1`` would print differently. We keep a long double exactly
as ``mant * 2**exp`` in Python integers and round every result the way the hardware
does (to nearest, ties to even), which reproduces Valkey's replies bit for bit.
"""

from __future__ import annotations

import re
from decimal import Decimal

# ---------------------------------------------------------------------------
# long double (x87 80-bit extended precision)
# ---------------------------------------------------------------------------

_MANT_BITS = 64
# The least significant bit of the smallest subnormal is 2**-16445; a finite value
# must stay below 2**16384.
_EXP_MIN = -16445
_MAX_BITS = 16384
# MAX_LONG_DOUBLE_CHARS in Valkey: string2ld refuses inputs this long or longer.
MAX_LONG_DOUBLE_CHARS = 5 * 1024
_HUMAN_DIGITS = 17
_TEN_17 = 10**_HUMAN_DIGITS

_DEC_RE = re.compile(rb"([+-]?)(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?")
_HEX_RE = re.compile(rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?")
_INF_RE = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)


class LongDouble:
    """A finite long double ``mant * 2**exp`` (mant signed), or an infinity (``inf`` = +-1)."""

    __slots__ = ("mant", "exp", "inf")

    def __init__(self, mant: int, exp: int, inf: int = 0) -> None:
        self.mant = mant
        self.exp = exp
        self.inf = inf

    def is_finite(self) -> bool:
        return self.inf == 0

    def __repr__(self) -> str:
        if self.inf:
            return "LongDouble(-inf)" if self.inf < 0 else "LongDouble(inf)"
        return f"LongDouble({self.mant}*2**{self.exp})"


def _round_ratio(neg: bool, num: int, den: int) -> LongDouble | None:
    """num/den (num, den > 0) rounded to a long double; None if it rounds to zero."""
    k = num.bit_length() - den.bit_length()
    # floor(log2(num/den)) is k or k-1.
    if (num << -k if k < 0 else num) < (den << k if k > 0 else den):
        k -= 1
    exp = k - (_MANT_BITS - 1)
    if exp < _EXP_MIN:
        exp = _EXP_MIN
    if exp < 0:
        q, r = divmod(num << -exp, den)
    else:
        q, r = divmod(num, den << exp)
    r2 = r * 2
    if r2 > den or (r2 == den and q & 1):
        q += 1
    if q == 0:
        return None
    if q.bit_length() > _MANT_BITS:
        q >>= 1
        exp += 1
    if exp + q.bit_length() > _MAX_BITS:
        return LongDouble(0, 0, -1 if neg else 1)
    return LongDouble(-q if neg else q, exp)


def _round_scaled(neg: bool, mant: int, exp: int) -> LongDouble:
    """Round the exact value mant * 2**exp (mant >= 0) to a long double."""
    if mant == 0:
        return LongDouble(0, 0)
    extra = mant.bit_length() - _MANT_BITS
    target = exp + extra
    if target < _EXP_MIN:
        target = _EXP_MIN
    shift = target - exp
    if shift > 0:
        q = mant >> shift
        rem = mant & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
        mant, exp = q, target
        if mant.bit_length() > _MANT_BITS:
            mant >>= 1
            exp += 1
    if mant == 0:
        return LongDouble(0, 0)
    if exp + mant.bit_length() > _MAX_BITS:
        return LongDouble(0, 0, -1 if neg else 1)
    return LongDouble(-mant if neg else mant, exp)


def ld_from_int(n: int) -> LongDouble:
    return _round_scaled(n < 0, abs(n), 0)


def ld_parse(s: bytes | bytearray) -> LongDouble | None:
    """Valkey's string2ld (strtold, whole string, no spaces, no NaN, no over/underflow)."""
    n = len(s)
    if n == 0 or n >= MAX_LONG_DOUBLE_CHARS:
        return None
    s = bytes(s)
    m = _DEC_RE.fullmatch(s)
    if m is not None:
        sign, ip, fp, fp_only, e = m.groups()
        digits = (ip + fp) if fp_only is None else fp_only
        frac_len = len(fp) if fp_only is None else len(fp_only)
        dexp = (int(e) if e else 0) - frac_len
        return _decimal_ld(sign == b"-", digits, dexp)
    m = _HEX_RE.fullmatch(s)
    if m is not None:
        sign, ip, fp, fp_only, e = m.groups()
        digits = (ip + fp) if fp_only is None else fp_only
        frac_len = len(fp) if fp_only is None else len(fp_only)
        bexp = (int(e) if e else 0) - 4 * frac_len
        mant = int(digits, 16)
        if mant == 0:
            return LongDouble(0, 0)
        # Beyond these bounds the value over- or underflows whatever the digits.
        top = bexp + mant.bit_length()
        if top > _MAX_BITS + 1:
            return None
        if top < _EXP_MIN - 2:
            return None
        r = _round_scaled(sign == b"-", mant, bexp)
        if r.inf or r.mant == 0:
            return None
        return r
    m = _INF_RE.fullmatch(s)
    if m is not None:
        return LongDouble(0, 0, -1 if m.group(1) == b"-" else 1)
    return None


def _digits_to_int(digits: bytes) -> int:
    # int() refuses more than sys.get_int_max_str_digits() digits; go in chunks.
    if len(digits) <= 1000:
        return int(digits)
    v = 0
    for i in range(0, len(digits), 1000):
        chunk = digits[i : i + 1000]
        v = v * 10 ** len(chunk) + int(chunk)
    return v


def _decimal_ld(neg: bool, digits: bytes, dexp: int) -> LongDouble | None:
    digits = digits.lstrip(b"0")
    if not digits:
        return LongDouble(0, 0)
    stripped = digits.rstrip(b"0")
    dexp += len(digits) - len(stripped)
    # Order of magnitude: 10**(mag-1) <= value < 10**mag. Long doubles span about
    # 3.6e-4951 .. 1.19e4932; outside a margin the result is 0 or inf (both refused).
    mag = len(stripped) + dexp
    if mag > 4940 or mag < -4960:
        return None
    d = _digits_to_int(stripped)
    if dexp >= 0:
        r = _round_scaled(neg, d * 10**dexp, 0)
    else:
        r2 = _round_ratio(neg, d, 10**-dexp)
        if r2 is None:
            return None
        r = r2
    if r.inf:
        return None
    return r


def ld_add(a: LongDouble, b: LongDouble) -> LongDouble | None:
    """a + b rounded to a long double; None when the result is NaN or infinite."""
    if a.inf or b.inf:
        return None
    e = min(a.exp, b.exp)
    total = (a.mant << (a.exp - e)) + (b.mant << (b.exp - e))
    r = _round_scaled(total < 0, abs(total), e)
    if r.inf:
        return None
    return r


def _int_text(n: int) -> bytes:
    # str(int) refuses more than 4300 digits by default; Decimal has no such limit.
    if n < 10**4000:
        return b"%d" % n
    return str(Decimal(n)).encode()


def ld_format_human(x: LongDouble) -> bytes:
    """ld2string in LD_STR_HUMAN mode: "%.17Lf", trailing zeros (and '.') trimmed, no "-0"."""
    if x.inf:
        return b"-inf" if x.inf < 0 else b"inf"
    mant = x.mant
    neg = mant < 0
    if neg:
        mant = -mant
    exp = x.exp
    if exp >= 0:
        text = _int_text(mant << exp)
    else:
        shift = -exp
        num = mant * _TEN_17
        q = num >> shift
        rem = num & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
        ip, fp = divmod(q, _TEN_17)
        text = _int_text(ip)
        if fp:
            text += (b".%017d" % fp).rstrip(b"0")
    if neg:
        if text == b"0":
            return text
        return b"-" + text
    return text


def incrbyfloat(current: bytes | bytearray | None, incr: bytes | bytearray) -> bytes | int:
    """The new value of INCRBYFLOAT, or an error code: 1 = not a valid float, 2 = NaN/inf."""
    cur = ld_parse(current) if current is not None else LongDouble(0, 0)
    if cur is None:
        return 1
    inc = ld_parse(incr)
    if inc is None:
        return 1
    total = ld_add(cur, inc)
    if total is None:
        return 2
    return ld_format_human(total)


# ---------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------


def _char_masks(b: bytes | bytearray) -> dict[int, int]:
    """For every byte value in b, an int with bit j set where b[j] is that byte."""
    masks: dict[int, int] = {}
    rev = bytes(b)[::-1]
    zeros = bytearray(b"0" * 256)
    for ch in set(rev):
        table = bytearray(zeros)
        table[ch] = 49  # '1'
        masks[ch] = int(rev.translate(table), 2)
    return masks


def _lcs_rows(a: bytes | bytearray, b: bytes | bytearray, keep: bool) -> list[int]:
    """Bit-parallel LCS (Allison-Dix / Hyyro): one m-bit vector per row of the DP table.

    In row i, bit j-1 is 0 exactly when LCS(a[:i], b[:j]) > LCS(a[:i], b[:j-1]), so
    LCS(i, j) = j - popcount(V_i & (2**j - 1)). With keep=False only the last row is kept.
    """
    m = len(b)
    full = (1 << m) - 1
    v = full
    rows = [v]
    masks = _char_masks(b)
    get = masks.get
    for ch in a:
        mk = get(ch)
        if mk is not None:
            u = v & mk
            v = ((v + u) | (v - u)) & full
        if keep:
            rows.append(v)
    if not keep:
        rows.append(v)
    return rows


def lcs_length(a: bytes | bytearray, b: bytes | bytearray) -> int:
    if not a or not b:
        return 0
    v = _lcs_rows(a, b, False)[-1]
    return len(b) - v.bit_count()


LcsRange = tuple[int, int, int, int]  # a_start, a_end, b_start, b_end


def lcs_walk(
    a: bytes | bytearray, b: bytes | bytearray, minmatchlen: int
) -> tuple[int, bytes, list[LcsRange]]:
    """The LCS length, the LCS string and its matching ranges, found by walking the DP
    table back from the end as Valkey does (ranges come last-to-first, and ranges
    shorter than minmatchlen are left out)."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 0, b"", []
    rows = _lcs_rows(a, b, True)
    total = m - rows[n].bit_count()
    out = bytearray(total)
    ranges: list[LcsRange] = []
    i, j = n, m
    cur = total
    k = total
    a_start = -1  # -1: no range in progress
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            k -= 1
            out[k] = a[i - 1]
            if a_start < 0:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            i -= 1
            j -= 1
            cur -= 1
        else:
            # LCS(i-1, j) from the previous row; LCS(i, j-1) from this row's bit j-1.
            up = j - (rows[i - 1] & ((1 << j) - 1)).bit_count()
            left = cur - (0 if (rows[i] >> (j - 1)) & 1 else 1)
            if up > left:
                i -= 1
                cur = up
            else:
                j -= 1
                cur = left
            if a_start >= 0:
                emit = True
        if emit:
            if minmatchlen == 0 or a_end - a_start + 1 >= minmatchlen:
                ranges.append((a_start, a_end, b_start, b_end))
            a_start = -1
    return total, bytes(out), ranges
