"""The RDB file format as Valkey 8 reads and writes it (rdb.h, rdb.c, listpack.c,
ziplist.c, intset.c, zipmap.c): length and string encodings, the compact encodings of
collections, and the value codec shared by snapshots and DUMP/RESTORE.

Values cross this module in a neutral form, independent of Kaa's in-memory types:

    string  bytes                     list  list[bytes]
    set     list[bytes]               zset  list[tuple[bytes, float]]
    hash    list[tuple[bytes, bytes]] stream  kaa.persistence.rdb_stream.StreamData
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

from kaa.persistence.checksum import lzf_compress, lzf_decompress

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

KIND_OF_TYPE = {
    T_STRING: "string",
    T_LIST: "list", T_LIST_ZIPLIST: "list", T_LIST_QUICKLIST: "list", T_LIST_QUICKLIST_2: "list",
    T_SET: "set", T_SET_INTSET: "set", T_SET_LISTPACK: "set",
    T_ZSET: "zset", T_ZSET_2: "zset", T_ZSET_ZIPLIST: "zset", T_ZSET_LISTPACK: "zset",
    T_HASH: "hash", T_HASH_ZIPMAP: "hash", T_HASH_ZIPLIST: "hash", T_HASH_LISTPACK: "hash",
    T_STREAM_LISTPACKS: "stream", T_STREAM_LISTPACKS_2: "stream", T_STREAM_LISTPACKS_3: "stream",
    T_MODULE_PRE_GA: "module", T_MODULE_2: "module",
}


class RdbError(Exception):
    """A corrupt or unsupported RDB stream; the text is what Valkey would log."""


# ---------------------------------------------------------------- reading


class Reader:
    """Cursor over an in-memory RDB image."""

    __slots__ = ("data", "pos", "rdbver")

    def __init__(self, data: bytes, pos: int = 0, rdbver: int = RDB_VERSION) -> None:
        self.data = data
        self.pos = pos
        self.rdbver = rdbver

    def read(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > len(self.data):
            raise RdbError("Short read or OOM loading DB. Unrecoverable error, aborting now.")
        self.pos = p + n
        return self.data[p : p + n]

    def byte(self) -> int:
        p = self.pos
        if p >= len(self.data):
            raise RdbError("Short read or OOM loading DB. Unrecoverable error, aborting now.")
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
            return struct.unpack(">I", self.read(4))[0], False
        if b == 0x81:
            return struct.unpack(">Q", self.read(8))[0], False
        raise RdbError(f"Unknown length encoding {b} in rdbLoadLen()")

    def len(self) -> int:
        n, enc = self.length()
        if enc:
            raise RdbError("Unexpected encoded length")
        return n

    def string(self) -> bytes:
        n, enc = self.length()
        if not enc:
            return self.read(n)
        if n == ENC_INT8:
            return b"%d" % struct.unpack("<b", self.read(1))[0]
        if n == ENC_INT16:
            return b"%d" % struct.unpack("<h", self.read(2))[0]
        if n == ENC_INT32:
            return b"%d" % struct.unpack("<i", self.read(4))[0]
        if n == ENC_LZF:
            clen = self.len()
            ulen = self.len()
            comp = self.read(clen)
            try:
                return lzf_decompress(comp, ulen)
            except ValueError as e:
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
            return float(self.read(n).decode())
        except ValueError as e:
            raise RdbError("Invalid double value") from e

    def double_bin(self) -> float:
        return float(struct.unpack("<d", self.read(8))[0])

    def millis(self) -> int:
        return int(struct.unpack("<q", self.read(8))[0])

    def seconds(self) -> int:
        return int(struct.unpack("<i", self.read(4))[0])


def _int_or_bytes(v: bytes) -> bytes:
    return v


# ---- compact encodings


def listpack_entries(blob: bytes) -> list[bytes]:
    """Decode a listpack into its entries (integers as their decimal bytes)."""
    n = len(blob)
    if n < 7:
        raise RdbError("Listpack integrity check failed.")
    total, _count = struct.unpack_from("<IH", blob, 0)
    if total != n or blob[-1] != 0xFF:
        raise RdbError("Listpack integrity check failed.")
    out: list[bytes] = []
    p = 6
    end = n - 1
    try:
        while p < end:
            b = blob[p]
            if b < 0x80:  # 7-bit uint
                out.append(b"%d" % b)
                elen = 1
            elif b & 0xC0 == 0x80:  # 6-bit string
                ln = b & 0x3F
                out.append(blob[p + 1 : p + 1 + ln])
                elen = 1 + ln
            elif b & 0xE0 == 0xC0:  # 13-bit int
                v = ((b & 0x1F) << 8) | blob[p + 1]
                if v >= 1 << 12:
                    v -= 1 << 13
                out.append(b"%d" % v)
                elen = 2
            elif b & 0xF0 == 0xE0:  # 12-bit string
                ln = ((b & 0x0F) << 8) | blob[p + 1]
                out.append(blob[p + 2 : p + 2 + ln])
                elen = 2 + ln
            elif b == 0xF0:  # 32-bit string
                ln = struct.unpack_from("<I", blob, p + 1)[0]
                out.append(blob[p + 5 : p + 5 + ln])
                elen = 5 + ln
            elif b == 0xF1:
                out.append(b"%d" % struct.unpack_from("<h", blob, p + 1)[0])
                elen = 3
            elif b == 0xF2:
                v = int.from_bytes(blob[p + 1 : p + 4], "little", signed=True)
                out.append(b"%d" % v)
                elen = 4
            elif b == 0xF3:
                out.append(b"%d" % struct.unpack_from("<i", blob, p + 1)[0])
                elen = 5
            elif b == 0xF4:
                out.append(b"%d" % struct.unpack_from("<q", blob, p + 1)[0])
                elen = 9
            else:
                raise RdbError("Listpack integrity check failed.")
            if p + elen > end:
                raise RdbError("Listpack integrity check failed.")
            p += elen + _backlen_size(elen)
    except (struct.error, IndexError) as e:
        raise RdbError("Listpack integrity check failed.") from e
    if p != end:
        raise RdbError("Listpack integrity check failed.")
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


def _as_int(v: bytes) -> int | None:
    from kaa.commands.args import parse_int_or_none

    return parse_int_or_none(v)


def listpack_build(entries: list[bytes]) -> bytes:
    """Encode entries as a listpack, using integer encodings where Valkey would."""
    parts: list[bytes] = []
    for e in entries:
        iv = _as_int(e) if len(e) <= 20 else None
        if iv is not None:
            if 0 <= iv <= 127:
                enc = bytes([iv])
            elif -4096 <= iv <= 4095:
                u = iv & 0x1FFF
                enc = bytes([0xC0 | (u >> 8), u & 0xFF])
            elif -32768 <= iv <= 32767:
                enc = b"\xf1" + struct.pack("<h", iv)
            elif -8388608 <= iv <= 8388607:
                enc = b"\xf2" + (iv & 0xFFFFFF).to_bytes(3, "little")
            elif -(2**31) <= iv < 2**31:
                enc = b"\xf3" + struct.pack("<i", iv)
            else:
                enc = b"\xf4" + struct.pack("<q", iv)
        else:
            ln = len(e)
            if ln < 64:
                enc = bytes([0x80 | ln]) + e
            elif ln < 4096:
                enc = bytes([0xE0 | (ln >> 8), ln & 0xFF]) + e
            else:
                enc = b"\xf0" + struct.pack("<I", ln) + e
        parts.append(enc)
        parts.append(_encode_backlen(len(enc)))
    body = b"".join(parts)
    total = 6 + len(body) + 1
    count = len(entries) if len(entries) < 65535 else 65535
    return struct.pack("<IH", total, count) + body + b"\xff"


def ziplist_entries(blob: bytes) -> list[bytes]:
    n = len(blob)
    if n < 11:
        raise RdbError("Ziplist integrity check failed.")
    total, _tail, _count = struct.unpack_from("<IIH", blob, 0)
    if total != n or blob[-1] != 0xFF:
        raise RdbError("Ziplist integrity check failed.")
    out: list[bytes] = []
    p = 10
    end = n - 1
    try:
        while p < end:
            p += 5 if blob[p] == 0xFE else 1  # prevlen
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
                ln = struct.unpack_from(">I", blob, p + 1)[0]
                out.append(blob[p + 5 : p + 5 + ln])
                p += 5 + ln
            elif b == 0xC0:
                out.append(b"%d" % struct.unpack_from("<h", blob, p + 1)[0])
                p += 3
            elif b == 0xD0:
                out.append(b"%d" % struct.unpack_from("<i", blob, p + 1)[0])
                p += 5
            elif b == 0xE0:
                out.append(b"%d" % struct.unpack_from("<q", blob, p + 1)[0])
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
                raise RdbError("Ziplist integrity check failed.")
    except (struct.error, IndexError) as e:
        raise RdbError("Ziplist integrity check failed.") from e
    if p != end:
        raise RdbError("Ziplist integrity check failed.")
    return out


def intset_members(blob: bytes) -> list[bytes]:
    if len(blob) < 8:
        raise RdbError("Intset integrity check failed.")
    enc, count = struct.unpack_from("<II", blob, 0)
    fmt = {2: "h", 4: "i", 8: "q"}.get(enc)
    if fmt is None or len(blob) != 8 + enc * count:
        raise RdbError("Intset integrity check failed.")
    vals = struct.unpack_from("<%d%s" % (count, fmt), blob, 8)
    return [b"%d" % v for v in vals]


def zipmap_pairs(blob: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    p = 1
    n = len(blob)

    def zlen(p: int) -> tuple[int, int]:
        b = blob[p]
        if b < 254:
            return b, p + 1
        if b == 254:
            return struct.unpack_from("<I", blob, p + 1)[0], p + 5
        return -1, p + 1

    try:
        while p < n:
            if blob[p] == 0xFF:
                return out
            kl, p = zlen(p)
            key = blob[p : p + kl]
            p += kl
            vl, p = zlen(p)
            free = blob[p]
            p += 1
            val = blob[p : p + vl]
            p += vl + free
            out.append((key, val))
    except (IndexError, struct.error) as e:
        raise RdbError("Zipmap integrity check failed.") from e
    raise RdbError("Zipmap integrity check failed.")


def _pairs(items: list[bytes]) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise RdbError("Listpack integrity check failed.")
    return list(zip(items[0::2], items[1::2], strict=True))


def read_value(r: Reader, t: int) -> tuple[str, Any]:
    """Read one value of RDB type t; returns (kind, neutral value)."""
    if t == T_STRING:
        return "string", r.string()
    if t == T_LIST:
        return "list", [r.string() for _ in range(r.len())]
    if t == T_SET:
        return "set", [r.string() for _ in range(r.len())]
    if t == T_ZSET or t == T_ZSET_2:
        n = r.len()
        zs: list[tuple[bytes, float]] = []
        for _ in range(n):
            m = r.string()
            sc = r.double_bin() if t == T_ZSET_2 else r.double_str()
            if sc != sc:
                raise RdbError("Zset with NAN score detected")
            zs.append((m, sc))
        return "zset", zs
    if t == T_HASH:
        n = r.len()
        return "hash", [(r.string(), r.string()) for _ in range(n)]
    if t == T_LIST_QUICKLIST:
        items: list[bytes] = []
        for _ in range(r.len()):
            items += ziplist_entries(r.string())
        return "list", items
    if t == T_LIST_QUICKLIST_2:
        items = []
        for _ in range(r.len()):
            container = r.len()
            blob = r.string()
            if container == 1:  # PLAIN node: one big element
                items.append(blob)
            elif container == 2:
                ents = listpack_entries(blob)
                if not ents:
                    raise RdbError("Empty listpack in quicklist")
                items += ents
            else:
                raise RdbError(f"Quicklist integrity check failed: unknown container {container}")
        return "list", items
    if t == T_LIST_ZIPLIST:
        return "list", ziplist_entries(r.string())
    if t == T_SET_INTSET:
        return "set", intset_members(r.string())
    if t == T_SET_LISTPACK:
        return "set", listpack_entries(r.string())
    if t == T_ZSET_ZIPLIST or t == T_ZSET_LISTPACK:
        ents = ziplist_entries(r.string()) if t == T_ZSET_ZIPLIST else listpack_entries(r.string())
        pairs = _pairs(ents)
        out: list[tuple[bytes, float]] = []
        for m, s in pairs:
            try:
                out.append((m, float(s)))
            except ValueError as e:
                raise RdbError("Zset listpack integrity check failed.") from e
        return "zset", out
    if t == T_HASH_ZIPLIST:
        return "hash", _pairs(ziplist_entries(r.string()))
    if t == T_HASH_LISTPACK:
        return "hash", _pairs(listpack_entries(r.string()))
    if t == T_HASH_ZIPMAP:
        return "hash", zipmap_pairs(r.string())
    if t in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2, T_STREAM_LISTPACKS_3):
        from kaa.persistence.rdb_stream import read_stream

        return "stream", read_stream(r, t)
    if t in (T_MODULE_2, T_MODULE_PRE_GA):
        raise RdbError("The RDB file contains module data I can't load: no matching module")
    raise RdbError(f"Unknown RDB encoding type {t}")


# ---------------------------------------------------------------- writing


def enc_len(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def enc_string(s: bytes, compress: bool = True) -> bytes:
    n = len(s)
    if n <= 11:
        iv = _as_int(s)
        if iv is not None:
            if -128 <= iv <= 127:
                return bytes([0xC0]) + struct.pack("<b", iv)
            if -32768 <= iv <= 32767:
                return bytes([0xC1]) + struct.pack("<h", iv)
            if -(2**31) <= iv < 2**31:
                return bytes([0xC2]) + struct.pack("<i", iv)
    if compress and n > 20:
        c = lzf_compress(bytes(s))
        if c is not None:
            return b"\xc3" + enc_len(len(c)) + enc_len(n) + c
    return enc_len(n) + bytes(s)


def write_value(kind: str, value: Any, compress: bool = True) -> tuple[int, bytes]:
    """Encode a neutral value; returns (rdb type, payload)."""
    if kind == "string":
        return T_STRING, enc_string(value, compress)
    if kind == "list":
        # One listpack node per 128 elements (packed), like a quicklist of small nodes.
        nodes: list[bytes] = []
        chunk = 128
        items = list(value)
        for i in range(0, len(items), chunk):
            part = items[i : i + chunk]
            nodes.append(enc_len(2) + enc_string(listpack_build(part), compress))
        return T_LIST_QUICKLIST_2, enc_len(len(nodes)) + b"".join(nodes)
    if kind == "set":
        items = list(value)
        return T_SET, enc_len(len(items)) + b"".join(enc_string(m, compress) for m in items)
    if kind == "zset":
        items = list(value)
        parts = [enc_len(len(items))]
        # Valkey writes the skiplist from the highest score down; order does not matter for loading.
        for m, sc in items:
            parts.append(enc_string(m, compress))
            parts.append(struct.pack("<d", sc))
        return T_ZSET_2, b"".join(parts)
    if kind == "hash":
        items = list(value)
        parts = [enc_len(len(items))]
        for f, v in items:
            parts.append(enc_string(f, compress))
            parts.append(enc_string(v, compress))
        return T_HASH, b"".join(parts)
    if kind == "stream":
        from kaa.persistence.rdb_stream import write_stream

        return T_STREAM_LISTPACKS_3, write_stream(value)
    raise RdbError(f"cannot serialize values of kind {kind}")


@dataclass(slots=True)
class LoadedKey:
    db: int
    key: bytes
    kind: str
    value: Any
    expire_ms: int | None
    idle: int | None = None
    freq: int | None = None
