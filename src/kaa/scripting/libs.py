"""The ``bit`` (Lua BitOp 1.0.2) and ``struct`` libraries Valkey's Lua ships, in Python,
plus the float helpers the Lua-side cmsgpack uses. cjson and cmsgpack themselves are
Lua code in ``lua_src`` (they walk Lua tables, which Lua does best).

A function returns its results or raises :class:`LuaLibError`; the sandbox turns that
into a Lua error at the caller's line, as luaL_error would.
"""

from __future__ import annotations

import math
import struct as _struct
from collections.abc import Callable
from typing import Any

_D = _struct.Struct("<d")
_Q = _struct.Struct("<Q")


class LuaLibError(Exception):
    """Raised by a library function: a Lua error at the caller's line (luaL_error)."""


_LuaErr = LuaLibError


def _typename(v: Any) -> str:
    if v is None:
        return "no value"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, bytes):
        return "string"
    t = type(v).__name__
    if "Table" in t:
        return "table"
    if "Function" in t:
        return "function"
    return "userdata"


def _tonumber(v: Any) -> float | None:
    """lua_tonumber: numbers and numeric strings."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, bytes):
        s = v.strip()
        try:
            if s[:2].lower() in (b"0x", b"-0x", b"+0x"):
                return float(int(s, 16))
            return float(s)
        except ValueError:
            return None
    return None


# ---- bit ----------------------------------------------------------------------------------

def _barg(v: Any, idx: int, fname: str) -> int:
    n = _tonumber(v)
    if n is None:
        raise _LuaErr(f"bad argument #{idx} to '{fname}' (number expected, got {_typename(v)})")
    # BitOp's conversion: add 2^52+2^51 and keep the low 32 bits of the double
    return _Q.unpack(_D.pack(n + 6755399441055744.0))[0] & 0xFFFFFFFF


def _sbits(b: int) -> int:
    b &= 0xFFFFFFFF
    return b - 0x100000000 if b & 0x80000000 else b


def _tobit(x: Any = None, *_: Any) -> int:
    return _sbits(_barg(x, 1, "tobit"))


def _bnot(x: Any = None, *_: Any) -> int:
    return _sbits(~_barg(x, 1, "bnot"))


def _fold(fname: str, op: Callable[[int, int], int]) -> Callable[..., int]:
    def f(*args: Any) -> int:
        b = _barg(args[0] if args else None, 1, fname)
        for i in range(len(args) - 1, 0, -1):
            b = op(b, _barg(args[i], i + 1, fname))
        return _sbits(b)

    return f


def _shift(fname: str, op: Callable[[int, int], int]) -> Callable[..., int]:
    def f(x: Any = None, n: Any = None, *_: Any) -> int:
        b = _barg(x, 1, fname)
        s = _barg(n, 2, fname) & 31
        return _sbits(op(b, s))

    return f


def _arshift(b: int, n: int) -> int:
    return (_sbits(b) >> n) & 0xFFFFFFFF


def _rol(b: int, n: int) -> int:
    return ((b << n) | (b >> (32 - n))) & 0xFFFFFFFF


def _ror(b: int, n: int) -> int:
    return ((b << (32 - n)) | (b >> n)) & 0xFFFFFFFF


def _bswap(x: Any = None, *_: Any) -> int:
    b = _barg(x, 1, "bswap")
    return _sbits(int.from_bytes(b.to_bytes(4, "little"), "big"))


def _tohex(x: Any = None, *rest: Any) -> bytes:
    b = _barg(x, 1, "tohex")
    n = 8 if not rest else _sbits(_barg(rest[0], 2, "tohex"))
    digits = "0123456789abcdef"
    if n == -0x80000000:
        n = -0x7FFFFFFF
    if n < 0:
        n = -n
        digits = "0123456789ABCDEF"
    if n > 8:
        n = 8
    out = []
    for _ in range(n):
        out.append(digits[b & 15])
        b >>= 4
    return "".join(reversed(out)).encode()


# ---- struct -------------------------------------------------------------------------------

_MAXALIGN = 8
_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}


class _Fmt:
    __slots__ = ("s", "i")

    def __init__(self, s: bytes) -> None:
        self.s = s
        self.i = 0

    def getnum(self, default: int) -> int:
        s, i = self.s, self.i
        if i >= len(s) or not 48 <= s[i] <= 57:
            return default
        a = 0
        while i < len(s) and 48 <= s[i] <= 57:
            if a > (2**31 - 1) // 10 or a * 10 > (2**31 - 1) - (s[i] - 48):
                raise _LuaErr("integral size overflow")
            a = a * 10 + s[i] - 48
            i += 1
        self.i = i
        return a


def _optsize(opt: str, f: _Fmt) -> int:
    if opt in _SIZES:
        return _SIZES[opt]
    if opt == "c":
        return f.getnum(1)
    if opt in "iI":
        sz = f.getnum(4)
        if sz > 32:
            raise _LuaErr(f"integral size {sz} is larger than limit of 32")
        return sz
    return 0


def _toalign(length: int, align: int, opt: str, size: int) -> int:
    if size == 0 or opt == "c":
        return 0
    if size > align:
        size = align
    return (size - (length & (size - 1))) & (size - 1)


def _control(opt: str, f: _Fmt, h: list[int], fname: str) -> None:
    if opt == " ":
        return
    if opt == ">":
        h[0] = 0
    elif opt == "<":
        h[0] = 1
    elif opt == "!":
        a = f.getnum(_MAXALIGN)
        if a <= 0 or a & (a - 1):
            raise _LuaErr(f"alignment {a} is not a power of 2")
        h[1] = a
    else:
        raise _LuaErr(f"bad argument #1 to '{fname}' (invalid format option '{opt}')")


def _checkfmt(v: Any, fname: str) -> bytes:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        from kaa.protocol.reply import format_double

        return format_double(float(v))
    if not isinstance(v, bytes):
        raise _LuaErr(f"bad argument #1 to '{fname}' (string expected, got {_typename(v)})")
    return v


def _checknum(args: tuple[Any, ...], i: int, fname: str) -> float:
    v = args[i] if i < len(args) else None
    n = _tonumber(v)
    if n is None:
        raise _LuaErr(f"bad argument #{i + 1} to '{fname}' (number expected, got {_typename(v)})")
    return n


def _c_long(n: float) -> int:
    """(unsigned long)(long)n for negatives, (unsigned long)n otherwise, as C on x86-64."""
    if math.isnan(n) or math.isinf(n) or abs(n) >= 2**64:
        return 0x8000000000000000
    v = int(n)
    if n < 0:
        if v < -(2**63):
            return 0x8000000000000000
        return v & 0xFFFFFFFFFFFFFFFF
    return v & 0xFFFFFFFFFFFFFFFF if v < 2**64 else 0


def _pack(*args: Any) -> bytes:
    fmt = _Fmt(_checkfmt(args[0] if args else None, "pack"))
    h = [1, 1]  # endian (1 = little, the native one here), align
    out = bytearray()
    arg = 1
    total = 0
    s = fmt.s
    while fmt.i < len(s):
        opt = chr(s[fmt.i])
        fmt.i += 1
        size = _optsize(opt, fmt)
        pad = _toalign(total, h[1], opt, size)
        total += pad
        out += b"\0" * pad
        if opt in "bBhHlLTiI":
            n = _checknum(args, arg, "pack")
            arg += 1
            value = _c_long(n)
            raw = bytes((value >> (8 * k)) & 0xFF if k < 8 else 0 for k in range(size))
            out += raw if h[0] == 1 else raw[::-1]
        elif opt == "x":
            out += b"\0"
        elif opt == "f":
            n = _checknum(args, arg, "pack")
            arg += 1
            try:
                raw = _struct.pack("<f", n)
            except OverflowError:
                raw = _struct.pack("<f", math.copysign(math.inf, n))
            out += raw if h[0] == 1 else raw[::-1]
        elif opt == "d":
            n = _checknum(args, arg, "pack")
            arg += 1
            raw = _struct.pack("<d", n)
            out += raw if h[0] == 1 else raw[::-1]
        elif opt in "cs":
            v = args[arg] if arg < len(args) else None
            arg += 1
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                from kaa.protocol.reply import format_double

                v = format_double(float(v))
            if not isinstance(v, bytes):
                raise _LuaErr(f"bad argument #{arg} to 'pack' (string expected, got {_typename(v)})")
            if size == 0:
                size = len(v)
            if len(v) < size:
                raise _LuaErr(f"bad argument #{arg + 1} to 'pack' (string too short)")
            out += v[:size]
            if opt == "s":
                out += b"\0"
                size += 1
        else:
            _control(opt, fmt, h, "pack")
        total += size
    return bytes(out)


def _unpack(*args: Any) -> Any:
    fmt = _Fmt(_checkfmt(args[0] if args else None, "unpack"))
    data = args[1] if len(args) > 1 else None
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        from kaa.protocol.reply import format_double

        data = format_double(float(data))
    if not isinstance(data, bytes):
        raise _LuaErr(f"bad argument #2 to 'unpack' (string expected, got {_typename(data)})")
    pos = 1
    if len(args) > 2 and args[2] is not None:
        p = _tonumber(args[2])
        if p is None:
            raise _LuaErr(f"bad argument #3 to 'unpack' (number expected, got {_typename(args[2])})")
        pos = int(p)
    if pos <= 0:
        raise _LuaErr("bad argument #3 to 'unpack' (offset must be 1 or greater)")
    pos -= 1
    ld = len(data)
    h = [1, 1]
    res: list[Any] = []
    s = fmt.s
    while fmt.i < len(s):
        opt = chr(s[fmt.i])
        fmt.i += 1
        size = _optsize(opt, fmt)
        pos += _toalign(pos, h[1], opt, size)
        if not (size <= ld and pos <= ld - size):
            raise _LuaErr("bad argument #2 to 'unpack' (data string too short)")
        if opt in "bBhHlLTiI":
            chunk = data[pos:pos + size]
            raw = chunk if h[0] == 1 else chunk[::-1]
            v = int.from_bytes(raw, "little")
            if size > 8:  # the C code keeps 64 bits
                v &= 0xFFFFFFFFFFFFFFFF
            if opt.islower():
                bits = min(size, 8) * 8
                if size <= 8 and v & (1 << (bits - 1)):
                    v -= 1 << bits
                elif size > 8 and v & (1 << 63):
                    v -= 1 << 64
            res.append(float(v) if abs(v) > 2**53 else v)
        elif opt == "x":
            pass
        elif opt == "f":
            chunk = data[pos:pos + 4]
            res.append(_struct.unpack("<f", chunk if h[0] == 1 else chunk[::-1])[0])
        elif opt == "d":
            chunk = data[pos:pos + 8]
            res.append(_struct.unpack("<d", chunk if h[0] == 1 else chunk[::-1])[0])
        elif opt == "c":
            if size == 0:
                if not res or not isinstance(res[-1], (int, float)):
                    raise _LuaErr("format 'c0' needs a previous size")
                size = int(res.pop())
                if not (size <= ld and pos <= ld - size):
                    raise _LuaErr("bad argument #2 to 'unpack' (data string too short)")
            res.append(data[pos:pos + size])
        elif opt == "s":
            e = data.find(b"\0", pos)
            if e < 0:
                raise _LuaErr("unfinished string in data")
            size = e - pos + 1
            res.append(data[pos:e])
        else:
            _control(opt, fmt, h, "unpack")
        pos += size
    res.append(pos + 1)
    return tuple(res)


def _size(*args: Any) -> int:
    fmt = _Fmt(_checkfmt(args[0] if args else None, "size"))
    h = [1, 1]
    pos = 0
    s = fmt.s
    while fmt.i < len(s):
        opt = chr(s[fmt.i])
        fmt.i += 1
        size = _optsize(opt, fmt)
        pos += _toalign(pos, h[1], opt, size)
        if opt == "s":
            raise _LuaErr("bad argument #1 to 'size' (option 's' has no fixed size)")
        if opt == "c" and size == 0:
            raise _LuaErr("bad argument #1 to 'size' (option 'c0' has no fixed size)")
        if not opt.isalnum():
            _control(opt, fmt, h, "size")
        pos += size
    return pos


# ---- float helpers for cmsgpack -------------------------------------------------------------

def _f32(d: float) -> bytes | None:
    """0xca + big-endian float32 when the value survives the float round trip."""
    try:
        raw = _struct.pack(">f", d)
    except OverflowError:
        return None
    if _struct.unpack(">f", raw)[0] == d:
        return b"\xca" + raw
    return None


def _f64(d: float) -> bytes:
    return b"\xcb" + _struct.pack(">d", d)


def _unf32(b: bytes) -> float:
    return float(_struct.unpack(">f", b)[0])


def _unf64(b: bytes) -> float:
    return float(_struct.unpack(">d", b)[0])


def functions(lua: Any) -> dict[bytes, Any]:
    """The Python side of the libraries, by the names the Lua boot code looks up."""
    table: dict[str, Callable[..., Any]] = {
        "bit.tobit": _tobit,
        "bit.bnot": _bnot,
        "bit.band": _fold("band", lambda a, b: a & b),
        "bit.bor": _fold("bor", lambda a, b: a | b),
        "bit.bxor": _fold("bxor", lambda a, b: a ^ b),
        "bit.lshift": _shift("lshift", lambda b, n: (b << n) & 0xFFFFFFFF),
        "bit.rshift": _shift("rshift", lambda b, n: b >> n),
        "bit.arshift": _shift("arshift", _arshift),
        "bit.rol": _shift("rol", _rol),
        "bit.ror": _shift("ror", _ror),
        "bit.bswap": _bswap,
        "bit.tohex": _tohex,
        "struct.pack": _pack,
        "struct.unpack": _unpack,
        "struct.size": _size,
    }
    out: dict[bytes, Any] = {k.encode(): v for k, v in table.items()}
    out[b"f32"] = _f32
    out[b"f64"] = _f64
    out[b"unf32"] = _unf32
    out[b"unf64"] = _unf64
    return out
