"""Doubles as C's ``strtod`` reads them and Valkey's ``string2d`` accepts them.

Shared by every command that parses a floating-point argument (sorted sets, SORT,
INCRBYFLOAT-style helpers via ``kaa.commands.args``), so all of them accept and
refuse exactly the same spellings as Valkey.
"""

from __future__ import annotations

import math
from fractions import Fraction

_DBL_MIN = 2.2250738585072014e-308  # smallest normal double
_C_SPACE = b" \t\n\v\f\r"



def strtod(s: bytes) -> tuple[float, int, bool]:
    """glibc ``strtod`` on ``s``: (value, bytes consumed, errno == ERANGE).

    Accepts leading white space, a sign, decimal and hex (``0x1.8p3``) numbers,
    ``inf``/``infinity`` and ``nan``/``nan(...)``, any case. Consumes nothing
    (and returns 0.0) when no number starts the string.
    """
    n = len(s)
    i = 0
    while i < n and s[i] in _C_SPACE:
        i += 1
    start = i
    if i < n and s[i] in b"+-":
        i += 1
    neg = start < n and s[start] == 45
    low = s[i : i + 8].lower()
    if low.startswith(b"inf"):
        end = i + (8 if low == b"infinity" else 3)
        return (-math.inf if neg else math.inf), end, False
    if low.startswith(b"nan"):
        end = i + 3
        if end < n and s[end] == 40:  # nan(n-char-sequence)
            j = end + 1
            while j < n and (chr(s[j]).isalnum() or s[j] == 95) and s[j] < 128:
                j += 1
            if j < n and s[j] == 41:
                end = j + 1
        return math.nan, end, False
    if low[:2] == b"0x":
        j = i + 2
        k = j
        while k < n and s[k] in b"0123456789abcdefABCDEF":
            k += 1
        digits = k - j
        if k < n and s[k] == 46:
            k += 1
            while k < n and s[k] in b"0123456789abcdefABCDEF":
                k += 1
                digits += 1
        if digits:
            if k < n and s[k] in b"pP":
                e = k + 1
                if e < n and s[e] in b"+-":
                    e += 1
                if e < n and 48 <= s[e] <= 57:
                    while e < n and 48 <= s[e] <= 57:
                        e += 1
                    k = e
            text = s[start:k].decode()
            if "p" not in text and "P" not in text:
                text += "p0"
            try:
                v = float.fromhex(text)
            except OverflowError:
                return (-math.inf if neg else math.inf), k, True
            return v, k, _inexact_tiny(v, Fraction(_hex_fraction(text)))
        # "0x" with no hex digit: the number is the "0".
    k = i
    while k < n and 48 <= s[k] <= 57:
        k += 1
    digits = k - i
    if k < n and s[k] == 46:
        k += 1
        while k < n and 48 <= s[k] <= 57:
            k += 1
            digits += 1
    if not digits:
        return 0.0, 0, False
    if k < n and s[k] in b"eE":
        e = k + 1
        if e < n and s[e] in b"+-":
            e += 1
        if e < n and 48 <= s[e] <= 57:
            while e < n and 48 <= s[e] <= 57:
                e += 1
            k = e
    dec = s[start:k]
    v = float(dec)
    if v == math.inf or v == -math.inf:
        return v, k, True
    if v == 0.0 or abs(v) < _DBL_MIN:
        return v, k, _inexact_tiny(v, Fraction(dec.decode()))
    return v, k, False


def _hex_fraction(text: str) -> Fraction:
    """The exact value of a C hex float literal."""
    t = text.lower()
    neg = t.startswith("-")
    t = t.lstrip("+-")[2:]
    mant, _, exp = t.partition("p")
    whole, _, frac = mant.partition(".")
    num = int((whole + frac) or "0", 16)
    val = Fraction(num) * Fraction(2) ** (int(exp or "0") - 4 * len(frac))
    return -val if neg else val


def _inexact_tiny(v: float, exact: Fraction) -> bool:
    """ERANGE for a zero or subnormal result: glibc reports underflow when inexact."""
    if v != 0.0 and abs(v) >= _DBL_MIN:
        return False
    return Fraction(v) != exact


def string2d(s: bytes) -> float | None:
    """Valkey's ``string2d``: the whole string is a double, no leading space, no NaN,
    no overflow to infinity and no underflow to zero."""
    # Fast path: Python's float() agrees with strtod on the usual decimal forms.
    if s and s[0] not in _C_SPACE and s[-1] not in _C_SPACE and b"_" not in s:
        try:
            v = float(s)
        except ValueError:
            v = math.nan
        if v == v and v != 0.0 and abs(v) >= _DBL_MIN and v != math.inf and v != -math.inf:
            return v
        if v == 0.0 and not s.partition(b"e")[0].partition(b"E")[0].translate(None, b"0+-."):
            return v  # a written zero ("0", "-0.0", "0e5"), not an underflow
    if not s or s[0] in _C_SPACE:
        return None
    v, used, erange = strtod(s)
    if used != len(s) or v != v:
        return None
    if erange and (v == 0.0 or v == math.inf or v == -math.inf):
        return None
    return v
