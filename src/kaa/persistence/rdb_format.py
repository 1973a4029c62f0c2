"""The RDB file format as Valkey 8 reads and writes it (rdb.h, rdb.c, listpack.c,
ziplist.c, intset.c, zipmap.c): length and string encodings, the compact encodings of
collections, and the value codec shared by snapshots and DUMP/RESTORE.

Values cross this module in a neutral form, independent of Kaa's in-memory types:

    string  bytes                     list  list[bytes]
    set     list[bytes]               zset  list[tuple[bytes, float]]
    hash    list[tuple[bytes, bytes]] stream  kaa.persistence.rdb_stream.StreamData

plus an *encoding hint* saying how the value is (to be) laid out, so that Kaa writes
the same compact encodings Valkey does (listpack, intset, quicklist nodes) and a loaded
value gets the encoding Valkey's loader would give it:

    list  None (plain list: built by pushes), "ziplist" (old RDB_TYPE_LIST_ZIPLIST),
          "listpack" (one node), or a list of quicklist nodes ``[count, bytes, plain]``
    set   None (plain), "intset", "listpack", "hashtable"
    zset  None (plain), "listpack", "skiplist"
    hash  None (plain), "zipmap", "listpack", "hashtable"

When writing, a hint of None lets the writer choose as Valkey would with its default
thresholds.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from kaa.persistence.checksum import lzf_compress, lzf_decompress
from kaa.protocol.reply import format_double  # Valkey's d2string (a pure function)

RDB_VERSION = 11

# Value types.
T_STRING = 0
T_LIST = 1
T_SET = 2
T_ZSET = 3
T_HASH = 4
T_ZSET_2 = 5
T_MODULE_PRE_GA = 6
T_MODULE_2 = 7
T_HASH_ZIPMAP = 9
T_LIST_ZIPLIST = 10
T_SET_INTSET = 11
T_ZSET_ZIPLIST = 12
T_HASH_ZIPLIST = 13
T_LIST_QUICKLIST = 14
T_STREAM_LISTPACKS = 15
T_HASH_LISTPACK = 16
T_ZSET_LISTPACK = 17
T_LIST_QUICKLIST_2 = 18
T_STREAM_LISTPACKS_2 = 19
T_SET_LISTPACK = 20
T_STREAM_LISTPACKS_3 = 21

# Opcodes.
OP_SLOT_INFO = 244
OP_FUNCTION2 = 245
OP_FUNCTION_PRE_GA = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# Module value sub-opcodes (RDB_MODULE_OPCODE_*).
MOD_EOF = 0
MOD_SINT = 1
MOD_UINT = 2
MOD_FLOAT = 3
MOD_DOUBLE = 4
MOD_STRING = 5

# Quicklist node containers.
QL_PLAIN = 1
QL_PACKED = 2

KIND_OF_TYPE = {
    T_STRING: "string",
    T_LIST: "list", T_LIST_ZIPLIST: "list", T_LIST_QUICKLIST: "list", T_LIST_QUICKLIST_2: "list",
    T_SET: "set", T_SET_INTSET: "set", T_SET_LISTPACK: "set",
    T_ZSET: "zset", T_ZSET_2: "zset", T_ZSET_ZIPLIST: "zset", T_ZSET_LISTPACK: "zset",
    T_HASH: "hash", T_HASH_ZIPMAP: "hash", T_HASH_ZIPLIST: "hash", T_HASH_LISTPACK: "hash",
    T_STREAM_LISTPACKS: "stream", T_STREAM_LISTPACKS_2: "stream", T_STREAM_LISTPACKS_3: "stream",
    T_MODULE_PRE_GA: "module", T_MODULE_2: "module",
}

# Valkey's defaults for the compact encodings (used when a writer gets no hint).
DEFAULT_LIST_NODE_BYTES = 8192  # list-max-listpack-size -2
DEFAULT_MAX_ENTRIES = 128  # hash/zset/set-max-listpack-entries
DEFAULT_MAX_VALUE = 64  # hash/zset/set-max-listpack-value
DEFAULT_INTSET_ENTRIES = 512  # set-max-intset-entries

SHORT_READ = "Unexpected EOF reading RDB file"
_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

_U16 = struct.Struct("<H")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")
_DBL = struct.Struct("<d")
_FLT = struct.Struct("<f")

LLONG_MIN = -(1 << 63)
LLONG_MAX = (1 << 63) - 1


class RdbError(Exception):
    """A corrupt or unsupported RDB stream; the text is what Valkey would log.

    ``short`` marks a read past the end of the data (Valkey's read error, as opposed
    to a corruption it recognised)."""

    def __init__(self, msg: str, short: bool = False) -> None:
        super().__init__(msg)
        self.short = short


def string2ll(s: bytes) -> int | None:
    """Valkey's string2ll (and listpack's lpStringToInt64): the value of a canonical
    signed 64-bit decimal ("-0", "+1", "01", " 1" are not), else None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 45:  # '-'
        if n == 1 or not 49 <= s[1] <= 57 or not s[1:].isdigit():
            return None
    elif c == 48:  # '0'
        return 0 if n == 1 else None
    elif not 49 <= c <= 57 or not s.isdigit():
        return None
    v = int(s)
    if v < LLONG_MIN or v > LLONG_MAX:
        return None
    return v


def module_type_name(module_id: int) -> str:
    """moduleTypeNameByID: the 9-character type name packed in a module type id."""
    mid = module_id >> 10
    chars = []
    for _ in range(9):
        chars.append(_MODULE_CHARSET[mid & 63])
        mid >>= 6
    return "".join(reversed(chars))


# ---------------------------------------------------------------- reading


class Reader:
    """Cursor over an in-memory RDB image."""

    __slots__ = ("data", "pos", "rdbver", "end")

    def __init__(self, data: bytes, pos: int = 0, rdbver: int = RDB_VERSION) -> None:
        self.data = data
        self.pos = pos
        self.rdbver = rdbver
        self.end = len(data)

    def read(self, n: int) -> bytes:
        p = self.pos
        q = p + n
        if n < 0 or q > self.end:
            raise RdbError(SHORT_READ, short=True)
        self.pos = q
        return self.data[p:q]

    def byte(self) -> int:
        p = self.pos
        if p >= self.end:
            raise RdbError(SHORT_READ, short=True)
        self.pos = p + 1
        return self.data[p]

    def length(self) -> tuple[int, bool]:
        """(length, is_encoded): the RDB length encoding."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int(_BE32.unpack(self.read(4))[0]), False
        if b == 0x81:
            return int(_BE64.unpack(self.read(8))[0]), False
        raise RdbError(f"Unknown length encoding {kind} in rdbLoadLen()")

    def len(self) -> int:
        n, enc = self.length()
        if enc:
            # rdbLoadLen(rdb, NULL) hands back the encoding type as a length.
            return n
        return n

    def string(self) -> bytes:
        data = self.data
        p = self.pos
        if p >= self.end:
            raise RdbError(SHORT_READ, short=True)
        b = data[p]
        if b < 0x40:  # 6-bit length: the common case, inline
            q = p + 1 + b
            if q > self.end:
                raise RdbError(SHORT_READ, short=True)
            self.pos = q
            return data[p + 1 : q]
        n, enc = self.length()
        if not enc:
            return self.read(n)
        if n == ENC_INT8:
            return b"%d" % struct.unpack("<b", self.read(1))[0]
        if n == ENC_INT16:
            return b"%d" % _I16.unpack(self.read(2))[0]
        if n == ENC_INT32:
            return b"%d" % _I32.unpack(self.read(4))[0]
        if n == ENC_LZF:
            clen = self.len()
            ulen = self.len()
            comp = self.read(clen)
            # LZF expands at most ~90 times (a 3-byte reference for 264 bytes): refuse
            # absurd lengths before allocating for them.
            if ulen > 96 * clen + 64:
                raise RdbError("Invalid LZF compressed string")
            try:
                return lzf_decompress(comp, ulen)
            except (ValueError, MemoryError, OverflowError) as e:
                raise RdbError("Invalid LZF compressed string") from e
        raise RdbError(f"Unknown RDB string encoding type {n}")

    def double_str(self) -> float:
        """The old string-encoded double of RDB_TYPE_ZSET."""
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        try:
            return float(self.read(n).split(b"\0", 1)[0].decode())
        except (ValueError, UnicodeDecodeError) as e:
            raise RdbError(SHORT_READ, short=True) from e

    def double_bin(self) -> float:
        return float(_DBL.unpack(self.read(8))[0])

    def millis(self) -> int:
        return int(_I64.unpack(self.read(8))[0])

    def seconds(self) -> int:
        return int(_I32.unpack(self.read(4))[0])


# ---- compact encodings: decoding (with Valkey's deep integrity checks)

_BAD_LP = "Listpack integrity check failed."
_DEC = [b"%d" % i for i in range(128)]


def listpack_entries(blob: bytes, what: str = _BAD_LP) -> list[bytes]:
    """Decode a listpack into its entries (integers as their decimal bytes), checking
    header, every entry's back-length, the end marker and the element count."""
    n = len(blob)
    if n < 7:
        raise RdbError(what)
    total, count = struct.unpack_from("<IH", blob, 0)
    if total != n or blob[-1] != 0xFF:
        raise RdbError(what)
    out: list[bytes] = []
    append = out.append
    dec = _DEC
    p = 6
    end = n - 1
    try:
        while p < end:
            b = blob[p]
            if b < 0x80:  # 7-bit uint, back-length 1: the common cases are inline
                if blob[p + 1] != 1:
                    raise RdbError(what)
                append(dec[b])
                p += 2
                continue
            if b < 0xC0:  # 6-bit string
                q = p + 1 + (b & 0x3F)
                if q >= end or blob[q] != q - p:
                    raise RdbError(what)
                append(blob[p + 1 : q])
                p = q + 1
                continue
            if b < 0xE0:  # 13-bit int
                v = ((b & 0x1F) << 8) | blob[p + 1]
                if v >= 1 << 12:
                    v -= 1 << 13
                append(b"%d" % v)
                elen = 2
            elif b < 0xF0:  # 12-bit string
                elen = 2 + (((b & 0x0F) << 8) | blob[p + 1])
                append(blob[p + 2 : p + elen])
            elif b == 0xF0:  # 32-bit string
                elen = 5 + _U32.unpack_from(blob, p + 1)[0]
                append(blob[p + 5 : p + elen])
            elif b == 0xF1:
                append(b"%d" % _I16.unpack_from(blob, p + 1)[0])
                elen = 3
            elif b == 0xF2:
                append(b"%d" % int.from_bytes(blob[p + 1 : p + 4], "little", signed=True))
                elen = 4
            elif b == 0xF3:
                append(b"%d" % _I32.unpack_from(blob, p + 1)[0])
                elen = 5
            elif b == 0xF4:
                append(b"%d" % _I64.unpack_from(blob, p + 1)[0])
                elen = 9
            else:
                raise RdbError(what)
            q = p + elen
            if elen <= 127:
                if q >= end or blob[q] != elen:
                    raise RdbError(what)
                p = q + 1
            else:
                bl = _encode_backlen(elen)
                p = q + len(bl)
                if p > end or blob[q:p] != bl:
                    raise RdbError(what)
    except (struct.error, IndexError) as e:
        raise RdbError(what) from e
    if p != end or (count != 65535 and count != len(out)):
        raise RdbError(what)
    return out


def _backlen_size(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _encode_backlen(n: int) -> bytes:
    if n <= 127:
        return bytes([n])
    if n < 16383:
        return bytes([n >> 7, (n & 127) | 128])
    if n < 2097151:
        return bytes([n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128])
    if n < 268435455:
        return bytes([n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128])
    return bytes(
        [n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128]
    )


def ziplist_entries(blob: bytes, what: str = "Ziplist integrity check failed.") -> list[bytes]:
    """Decode a ziplist (RDB versions before 10), checking header, prevlens, the tail
    offset and the element count as ziplistValidateIntegrity does in deep mode."""
    n = len(blob)
    if n < 11:
        raise RdbError(what)
    total, tail, count = struct.unpack_from("<IIH", blob, 0)
    if total != n or blob[-1] != 0xFF:
        raise RdbError(what)
    out: list[bytes] = []
    p = 10
    end = n - 1
    prev_len = 0
    last = -1
    try:
        while p < end:
            start = p
            if blob[p] == 0xFE:
                plen = _U32.unpack_from(blob, p + 1)[0]
                p += 5
            else:
                plen = blob[p]
                p += 1
            if plen != prev_len:
                raise RdbError(what)
            b = blob[p]
            kind = b >> 6
            if kind == 0:
                ln = b & 0x3F
                out.append(blob[p + 1 : p + 1 + ln])
                p += 1 + ln
            elif kind == 1:
                ln = ((b & 0x3F) << 8) | blob[p + 1]
                out.append(blob[p + 2 : p + 2 + ln])
                p += 2 + ln
            elif b == 0x80:
                ln = _BE32.unpack_from(blob, p + 1)[0]
                out.append(blob[p + 5 : p + 5 + ln])
                p += 5 + ln
            elif b == 0xC0:
                out.append(b"%d" % _I16.unpack_from(blob, p + 1)[0])
                p += 3
            elif b == 0xD0:
                out.append(b"%d" % _I32.unpack_from(blob, p + 1)[0])
                p += 5
            elif b == 0xE0:
                out.append(b"%d" % _I64.unpack_from(blob, p + 1)[0])
                p += 9
            elif b == 0xF0:
                out.append(b"%d" % int.from_bytes(blob[p + 1 : p + 4], "little", signed=True))
                p += 4
            elif b == 0xFE:
                out.append(b"%d" % struct.unpack_from("<b", blob, p + 1)[0])
                p += 2
            elif 0xF1 <= b <= 0xFD:
                out.append(b"%d" % ((b & 0x0F) - 1))
                p += 1
            else:
                raise RdbError(what)
            if p > end:
                raise RdbError(what)
            prev_len = p - start
            last = start
    except (struct.error, IndexError) as e:
        raise RdbError(what) from e
    if p != end or (out and tail != last) or (not out and tail != 10):
        raise RdbError(what)
    if count != 65535 and count != len(out):
        raise RdbError(what)
    return out


def intset_members(blob: bytes) -> list[bytes]:
    """Decode an intset, requiring ascending unique members (intsetValidateIntegrity)."""
    if len(blob) < 8:
        raise RdbError("Intset integrity check failed.")
    enc, count = struct.unpack_from("<II", blob, 0)
    fmt = {2: "h", 4: "i", 8: "q"}.get(enc)
    if fmt is None or len(blob) != 8 + enc * count:
        raise RdbError("Intset integrity check failed.")
    vals = struct.unpack_from("<%d%s" % (count, fmt), blob, 8)
    prev = None
    for v in vals:
        if prev is not None and v <= prev:
            raise RdbError("Intset integrity check failed.")
        prev = v
    return [b"%d" % v for v in vals]


def zipmap_pairs(blob: bytes) -> list[tuple[bytes, bytes]]:
    """Decode a zipmap (RDB_TYPE_HASH_ZIPMAP, Redis 2.x), as zipmapValidateIntegrity."""
    what = "Zipmap integrity check failed."
    n = len(blob)
    if n < 2 or blob[-1] != 0xFF:
        raise RdbError(what)
    out: list[tuple[bytes, bytes]] = []
    p = 1

    def zlen(p: int) -> tuple[int, int]:
        b = blob[p]
        if b < 254:
            return b, p + 1
        if b == 254:
            return int(_U32.unpack_from(blob, p + 1)[0]), p + 5
        raise RdbError(what)

    try:
        while blob[p] != 0xFF:
            kl, p = zlen(p)
            key = blob[p : p + kl]
            p += kl
            if p > n - 1:
                raise RdbError(what)
            vl, p = zlen(p)
            free = blob[p]
            p += 1
            val = blob[p : p + vl]
            p += vl + free
            if p > n - 1:
                raise RdbError(what)
            out.append((key, val))
    except (IndexError, struct.error) as e:
        raise RdbError(what) from e
    if not out or (blob[0] != 254 and blob[0] != len(out)):
        raise RdbError(what)
    return out


def _pairs(items: list[bytes], what: str) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise RdbError(what)
    return list(zip(items[0::2], items[1::2], strict=True))


def _score(s: bytes, what: str) -> float:
    """A score stored as a listpack/ziplist string (zzlStrtod)."""
    try:
        v = float(s)
    except ValueError as e:
        raise RdbError(what) from e
    if v != v:
        raise RdbError(what)
    return v


def _zset_pairs(items: list[bytes], what: str) -> list[tuple[bytes, float]]:
    if len(items) % 2:
        raise RdbError(what)
    return [(m, _score(s, what)) for m, s in zip(items[0::2], items[1::2], strict=True)]


def _check_module_value(r: Reader, name: str) -> None:
    """rdbLoadCheckModuleValue: walk a module value's annotated opcodes up to its EOF."""
    while True:
        op = r.len()
        if op == MOD_EOF:
            return
        if op in (MOD_SINT, MOD_UINT):
            r.len()
        elif op == MOD_STRING:
            r.string()
        elif op == MOD_FLOAT:
            r.read(4)
        elif op == MOD_DOUBLE:
            r.read(8)
        else:
            raise RdbError(f"Unknown module opcode {op} in module {name} value")


def skip_module_value(r: Reader) -> str:
    """Parse (and discard) a module value or module aux payload after its id; returns
    the module type name (kaa-check-rdb, which has no modules, can still walk them)."""
    name = module_type_name(r.len())
    _check_module_value(r, name)
    return name


Neutral = tuple[str, Any, Any]  # (kind, value, encoding hint)


def read_value(r: Reader, t: int) -> Neutral:
    """Read one value of RDB type t; returns (kind, neutral value, encoding hint)."""
    if t == T_STRING:
        return "string", r.string(), None
    if t == T_LIST_QUICKLIST_2 or t == T_LIST_QUICKLIST:
        return _read_quicklist(r, t)
    if t == T_HASH_LISTPACK:
        return "hash", _pairs(listpack_entries(r.string(), "Hash listpack integrity check failed."),
                              "Hash listpack integrity check failed."), "listpack"
    if t == T_ZSET_LISTPACK:
        what = "Zset listpack integrity check failed."
        return "zset", _zset_pairs(listpack_entries(r.string(), what), what), "listpack"
    if t == T_SET_LISTPACK:
        return "set", listpack_entries(r.string(), "Set listpack integrity check failed."), "listpack"
    if t == T_SET_INTSET:
        return "set", intset_members(r.string()), "intset"
    if t == T_LIST:
        return "list", [r.string() for _ in range(r.len())], None
    if t == T_SET:
        return "set", [r.string() for _ in range(r.len())], None
    if t == T_ZSET or t == T_ZSET_2:
        n = r.len()
        zs: list[tuple[bytes, float]] = []
        for _ in range(n):
            m = r.string()
            sc = r.double_bin() if t == T_ZSET_2 else r.double_str()
            if sc != sc:
                raise RdbError("Zset with NAN score detected")
            zs.append((m, sc))
        return "zset", zs, None
    if t == T_HASH:
        n = r.len()
        return "hash", [(r.string(), r.string()) for _ in range(n)], None
    if t == T_LIST_ZIPLIST:
        return "list", ziplist_entries(r.string(), "List ziplist integrity check failed."), "ziplist"
    if t == T_ZSET_ZIPLIST:
        what = "Zset ziplist integrity check failed."
        return "zset", _zset_pairs(ziplist_entries(r.string(), what), what), "listpack"
    if t == T_HASH_ZIPLIST:
        what = "Hash ziplist integrity check failed."
        return "hash", _pairs(ziplist_entries(r.string(), what), what), "listpack"
    if t == T_HASH_ZIPMAP:
        return "hash", zipmap_pairs(r.string()), "zipmap"
    if t in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2, T_STREAM_LISTPACKS_3):
        from kaa.persistence.rdb_stream import read_stream

        return "stream", read_stream(r, t), None
    if t == T_MODULE_PRE_GA:
        raise RdbError("Pre-release module format not supported")
    if t == T_MODULE_2:
        name = module_type_name(r.len())
        raise RdbError(f"The RDB file contains module data I can't load: no matching module type '{name}'")
    raise RdbError(f"Unknown RDB encoding type {t}")


def _read_quicklist(r: Reader, t: int) -> Neutral:
    """RDB_TYPE_LIST_QUICKLIST(_2): the list and its nodes as loaded (Valkey appends each
    stored node as it is; empty packed nodes are skipped)."""
    items: list[bytes] = []
    nodes: list[list[int]] = []
    v2 = t == T_LIST_QUICKLIST_2
    for _ in range(r.len()):
        container = QL_PACKED
        if v2:
            container = r.len()
            if container != QL_PACKED and container != QL_PLAIN:
                raise RdbError("Quicklist integrity check failed.")
        blob = r.string()
        if not blob:
            raise RdbError("Quicklist integrity check failed.")
        if container == QL_PLAIN:
            items.append(blob)
            nodes.append([1, len(blob), 1])
            continue
        if v2:
            ents = listpack_entries(blob)
            size = len(blob)
        else:
            ents = ziplist_entries(blob)
            size = listpack_size(ents)
        if ents:
            items += ents
            nodes.append([len(ents), size, 0])
    return "list", items, nodes


# ---------------------------------------------------------------- writing


def enc_len(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _BE32.pack(n)
    return b"\x81" + _BE64.pack(n)


_INT_START = frozenset(b"-123456789")  # a canonical integer other than "0" starts so
_NUM_START = frozenset(b"-0123456789")


def enc_string(s: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString: small canonical integers as such, LZF above 20 bytes when it
    saves more than 4 bytes, verbatim otherwise."""
    n = len(s)
    if n < 64 and (n > 11 or not n or s[0] not in _NUM_START) and (not compress or n <= 20):
        return bytes((n,)) + s  # the common case: short, not an integer
    if n <= 11:
        iv = string2ll(s) if s else None
        if iv is not None:
            if -128 <= iv <= 127:
                return bytes((0xC0, iv & 0xFF))
            if -32768 <= iv <= 32767:
                return b"\xc1" + _I16.pack(iv)
            if -(2**31) <= iv < 2**31:
                return b"\xc2" + _I32.pack(iv)
    if compress and n > 20:
        c = lzf_compress(bytes(s), n - 4)  # rdbSaveLzfStringObject: worth it if 4+ bytes saved
        if c is not None:
            return b"\xc3" + enc_len(len(c)) + enc_len(n) + c
    return enc_len(n) + bytes(s)


def _lp_entry(e: bytes) -> bytes:
    """One listpack entry (encoding + data), integers where lpStringToInt64 says so."""
    n = len(e)
    if n <= 20 and n and e[0] in _INT_START or e == b"0":
        iv = string2ll(e)
        if iv is not None:
            if 0 <= iv <= 127:
                return bytes((iv,))
            if -4096 <= iv <= 4095:
                u = iv & 0x1FFF
                return bytes((0xC0 | (u >> 8), u & 0xFF))
            if -32768 <= iv <= 32767:
                return b"\xf1" + _I16.pack(iv)
            if -8388608 <= iv <= 8388607:
                return b"\xf2" + (iv & 0xFFFFFF).to_bytes(3, "little")
            if -(2**31) <= iv < 2**31:
                return b"\xf3" + _I32.pack(iv)
            return b"\xf4" + _I64.pack(iv)
    if n < 64:
        return bytes((0x80 | n,)) + e
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + e
    return b"\xf0" + _U32.pack(n) + e


_HDR6 = [bytes((0x80 | n,)) for n in range(64)]
_BL1 = [bytes((n,)) for n in range(128)]
# "0".."127" as their whole listpack entry: the 7-bit encoding and a back-length of 1.
_SMALL_INTS = {b"%d" % i: bytes((i, 1)) for i in range(128)}


def listpack_build(entries: Iterable[bytes]) -> bytes:
    """Encode entries as a listpack, byte for byte as lpAppend builds it."""
    parts: list[bytes] = []
    append = parts.append
    count = 0
    small = _SMALL_INTS
    num = _NUM_START
    for e in entries:
        count += 1
        n = len(e)
        if n < 63 and (n == 0 or e[0] not in num):  # a short string: the common case
            append(_HDR6[n])
            append(e)
            append(_BL1[n + 1])
            continue
        if n <= 3 and type(e) is bytes:
            hit = small.get(e)
            if hit is not None:
                append(hit)
                continue
        enc = _lp_entry(e)
        ln = len(enc)
        append(enc)
        append(_BL1[ln] if ln <= 127 else _encode_backlen(ln))
    body = b"".join(parts)
    return _U32.pack(7 + len(body)) + _U16.pack(count if count < 65535 else 65535) + body + b"\xff"


def listpack_size(entries: Iterable[bytes]) -> int:
    """lpBytes of the listpack holding entries (without building it)."""
    total = 7
    for e in entries:
        ln = len(_lp_entry(e))
        total += ln + _backlen_size(ln)
    return total


def intset_build(values: Iterable[int]) -> bytes:
    """An intset blob: the narrowest width holding every value, ascending, little endian."""
    vals = sorted(values)
    enc = 2
    if vals and (vals[0] < -32768 or vals[-1] > 32767):
        enc = 4 if vals[0] >= -(2**31) and vals[-1] < 2**31 else 8
    fmt = {2: "h", 4: "i", 8: "q"}[enc]
    return struct.pack("<II%d%s" % (len(vals), fmt), enc, len(vals), *vals)


def _d2string(d: float) -> bytes:
    """A listpack score as zzlInsertAt stores it: an integer when double2ll says so
    (-0.0 included), else Valkey's d2string."""
    if d == 0:
        return b"0"
    return format_double(d)


def _auto_list_nodes(items: Sequence[bytes]) -> list[list[int]] | str:
    """Without a hint: one listpack if it fits in 8 KB, else nodes filled up to 8 KB."""
    if listpack_size(items) <= DEFAULT_LIST_NODE_BYTES:
        return "listpack"
    nodes: list[list[int]] = []
    cur: list[int] | None = None
    for e in items:
        sz = len(e)
        if sz > DEFAULT_LIST_NODE_BYTES:
            nodes.append([1, sz, 1])
            cur = None
            continue
        es = len(_lp_entry(e))
        es += _backlen_size(es)
        if cur is not None and cur[1] + sz + 8 <= DEFAULT_LIST_NODE_BYTES:
            cur[0] += 1
            cur[1] += es
        else:
            cur = [1, 7 + es, 0]
            nodes.append(cur)
    return nodes


def write_list(items: Sequence[bytes], compress: bool = True, nodes: Any = None, depth: int = 0) -> bytes:
    """A RDB_TYPE_LIST_QUICKLIST_2 payload: a listpack list as a one-node quicklist,
    a quicklist node by node (nodes = ``[count, bytes, plain]`` records; plain nodes
    hold one raw element), nodes past ``depth`` from both ends LZF-compressed as
    list-compress-depth keeps them in memory."""
    if nodes is None:
        nodes = _auto_list_nodes(items)
    if nodes == "listpack":
        return b"\x01\x02" + enc_string(listpack_build(items), compress)
    if sum(n[0] for n in nodes) != len(items):  # inconsistent bookkeeping: re-plan
        nodes = _auto_list_nodes(items)
        if nodes == "listpack":
            return b"\x01\x02" + enc_string(listpack_build(items), compress)
    out = [enc_len(len(nodes))]
    it = iter(items)
    total = len(nodes)
    squeeze = depth > 0 and total >= 2 * depth
    for i, (count, _size, plain) in enumerate(nodes):
        blob = next(it) if plain else listpack_build(islice(it, count))
        out.append(b"\x01" if plain else b"\x02")
        if squeeze and depth <= i < total - depth and len(blob) >= 48:
            # __quicklistCompressNode: kept compressed if it saves more than 8 bytes.
            c = lzf_compress(blob, len(blob))
            if c is not None and len(c) + 8 < len(blob):
                out.append(b"\xc3" + enc_len(len(c)) + enc_len(len(blob)) + c)
                continue
        out.append(enc_string(blob, compress))
    return b"".join(out)


def _small(values: Iterable[bytes], max_entries: int, max_value: int, count: int) -> bool:
    return count <= max_entries and all(len(v) <= max_value for v in values)


def write_value(kind: str, value: Any, compress: bool = True, enc: Any = None, depth: int = 0) -> tuple[int, bytes]:
    """Encode a neutral value as Valkey 8 does for the given encoding; returns
    (rdb type, payload)."""
    if kind == "string":
        return T_STRING, enc_string(value, compress)
    if kind == "list":
        return T_LIST_QUICKLIST_2, write_list(value, compress, enc, depth)
    if kind == "hash":
        if enc is None:
            enc = "listpack" if _small((x for p in value for x in p), DEFAULT_MAX_ENTRIES,
                                       DEFAULT_MAX_VALUE, len(value)) else "hashtable"
        if enc == "listpack":
            return T_HASH_LISTPACK, enc_string(listpack_build(x for p in value for x in p), compress)
        parts = [enc_len(len(value))]
        for f, v in value:
            parts.append(enc_string(f, compress))
            parts.append(enc_string(v, compress))
        return T_HASH, b"".join(parts)
    if kind == "set":
        if enc is None:
            enc = _auto_set_encoding(value)
        if enc == "intset":
            return T_SET_INTSET, enc_string(intset_build(int(m) for m in value), compress)
        if enc == "listpack":
            return T_SET_LISTPACK, enc_string(listpack_build(value), compress)
        return T_SET, enc_len(len(value)) + b"".join(enc_string(m, compress) for m in value)
    if kind == "zset":
        if enc is None:
            enc = "listpack" if _small((m for m, _ in value), DEFAULT_MAX_ENTRIES, DEFAULT_MAX_VALUE,
                                       len(value)) else "skiplist"
        if enc == "listpack":
            flat: list[bytes] = []
            for m, sc in value:
                flat.append(m)
                flat.append(_d2string(sc))
            return T_ZSET_LISTPACK, enc_string(listpack_build(flat), compress)
        # The skiplist from its tail (greatest first): loading then inserts at the head.
        parts = [enc_len(len(value))]
        pack = _DBL.pack
        for m, sc in reversed(value):
            parts.append(enc_string(m, compress))
            parts.append(pack(sc))
        return T_ZSET_2, b"".join(parts)
    if kind == "stream":
        from kaa.persistence.rdb_stream import write_stream

        return T_STREAM_LISTPACKS_3, write_stream(value, compress)
    raise RdbError(f"cannot serialize values of kind {kind}")


def _auto_set_encoding(members: Sequence[bytes]) -> str:
    n = len(members)
    if n <= DEFAULT_INTSET_ENTRIES and all(string2ll(m) is not None for m in members):
        return "intset"
    if _small(members, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_VALUE, n):
        return "listpack"
    return "hashtable"


@dataclass(slots=True)
class LoadedKey:
    db: int
    key: bytes
    kind: str
    value: Any
    expire_ms: int | None
    idle: int | None = None
    freq: int | None = None
    enc: Any = None


__all__ = [
    "RDB_VERSION", "RdbError", "Reader", "LoadedKey", "read_value", "write_value", "write_list",
    "enc_len", "enc_string", "listpack_build", "listpack_entries", "listpack_size",
    "ziplist_entries", "intset_build", "intset_members", "zipmap_pairs", "string2ll",
    "module_type_name", "skip_module_value", "KIND_OF_TYPE",
]
