"""RDB snapshots: whole files (header, aux fields, databases, functions, EOF, CRC64)
and DUMP/RESTORE payloads, in Valkey 8's format (version 11; versions 1-11 load).

Reading is incremental (:class:`RdbParser` yields keys as it meets them, so a server can
apply them while it keeps serving) and checks everything Valkey's loader checks; the
CRC64 is verified when the EOF opcode is reached. ``load_all`` parses a whole image
before anything is applied, for callers that must not load partially.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from kaa.persistence.checksum import crc64
from kaa.persistence.rdb_format import (
    MOD_UINT,
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME,
    OP_EXPIRETIME_MS,
    OP_FREQ,
    OP_FUNCTION2,
    OP_FUNCTION_PRE_GA,
    OP_IDLE,
    OP_MODULE_AUX,
    OP_RESIZEDB,
    OP_SELECTDB,
    OP_SLOT_INFO,
    RDB_VERSION,
    T_STRING,
    LoadedKey,
    RdbError,
    Reader,
    enc_len,
    enc_string,
    module_type_name,
    read_value,
    skip_module_value,
    write_value,
)

MIN_VERSION = 1
_SLOT_INFO = re.compile(rb"\s*[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+),\s*[+-]?[0-9]+,\s*[+-]?[0-9]+")
_Q = struct.Struct("<Q")
_q = struct.Struct("<q")


@dataclass
class RdbContents:
    """What an image holds besides its keys."""

    aux: dict[bytes, bytes] = field(default_factory=dict)
    functions: list[bytes] = field(default_factory=list)
    version: int = RDB_VERSION
    modules_skipped: list[str] = field(default_factory=list)
    checksum_disabled: bool = False


class RdbFatal(RdbError):
    """An image Valkey refuses without treating it as corrupt (too many databases, a
    module it lacks, a pre-release format): it logs the reason and exits."""


def check_header(data: bytes) -> int:
    if len(data) < 9:
        raise RdbError("Unexpected EOF reading RDB file", short=True)
    if data[:5] != b"REDIS":
        raise RdbFatal("Wrong signature trying to load DB from file")
    digits = data[5:9]
    # atoi(): leading digits only, 0 when there are none.
    n = 0
    for ch in digits:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    if n < MIN_VERSION or n > RDB_VERSION:
        raise RdbFatal(f"Can't handle RDB format version {n}")
    return n


class RdbParser:
    """Walks an RDB image. ``keys()`` yields each key as it is read; ``reader.pos`` is
    the progress. ``check_mode`` (kaa-check-rdb) walks module data instead of refusing
    it. ``aux_hook(key, value)`` hears every AUX field as it is read."""

    def __init__(self, data: bytes, *, ndbs: int = 16, verify_crc: bool = True,
                 check_mode: bool = False,
                 aux_hook: Callable[[bytes, bytes], None] | None = None) -> None:
        self.data = data
        self.contents = RdbContents()
        self.ndbs = ndbs
        self.verify_crc = verify_crc
        self.check_mode = check_mode
        self.aux_hook = aux_hook
        self.reader = Reader(data, 0)
        self.done = False

    def keys(self) -> Iterator[LoadedKey]:
        data = self.data
        ver = check_header(data)
        contents = self.contents
        contents.version = ver
        r = self.reader
        r.pos = 9
        r.rdbver = ver
        db = 0
        expire: int | None = None
        idle: int | None = None
        freq: int | None = None
        while True:
            t = r.byte()
            if t == T_STRING:  # the common case first
                key = r.string()
                yield LoadedKey(db, key, "string", r.string(), expire, idle, freq)
                expire = idle = freq = None
                continue
            if t >= 244:
                if t == OP_EXPIRETIME_MS:
                    expire = r.millis()
                elif t == OP_EXPIRETIME:
                    expire = r.seconds() * 1000
                elif t == OP_SELECTDB:
                    db = r.len()
                    if db >= self.ndbs:
                        raise RdbFatal(
                            f"FATAL: Data file was created with a Valkey server configured to handle "
                            f"more than {self.ndbs} databases. Exiting\n")
                elif t == OP_RESIZEDB:
                    r.len()
                    r.len()
                elif t == OP_IDLE:
                    idle = r.len()
                elif t == OP_FREQ:
                    freq = r.byte()
                elif t == OP_AUX:
                    self._aux(r)
                elif t == OP_EOF:
                    break
                elif t == OP_FUNCTION2:
                    contents.functions.append(r.string())
                elif t == OP_MODULE_AUX:
                    self._module_aux(r)
                elif t == OP_FUNCTION_PRE_GA:
                    raise RdbFatal("Pre-release function format not supported.")
                elif t == OP_SLOT_INFO:  # Redis 7.4's per-slot size hint (newer format)
                    r.len()
                    r.len()
                    r.len()
                continue
            key = r.string()
            kind, value, enc = read_value(r, t)
            yield LoadedKey(db, key, kind, value, expire, idle, freq, enc)
            expire = idle = freq = None
        if ver >= 5:
            end = r.pos
            stored = _Q.unpack(r.read(8))[0]
            if stored == 0:
                contents.checksum_disabled = True
            elif self.verify_crc:
                got = crc64(0, memoryview(data)[:end])  # type: ignore[arg-type]
                if got != stored:
                    raise RdbError(
                        f"Wrong RDB checksum expected: ({got:x}) but got ({stored:x}). Aborting now.")
        self.done = True

    def _aux(self, r: Reader) -> None:
        k = r.string()
        v = r.string()
        if k.lower() == b"slot-info" and _SLOT_INFO.match(v) is None:
            # sscanf("%i,%lu,%lu") matching fewer than 3 fails the load, as in Valkey.
            raise RdbError("Unexpected EOF reading RDB file", short=True)
        self.contents.aux[k] = v
        if self.aux_hook is not None:
            self.aux_hook(k, v)

    def _module_aux(self, r: Reader) -> None:
        mid = r.len()
        when_op = r.len()
        r.len()
        name = module_type_name(mid)
        if when_op != MOD_UINT:
            raise RdbError("bad when_opcode")
        if not self.check_mode:
            raise RdbFatal(f"The RDB file contains AUX module data I can't load: no matching module '{name}'")
        # rdbLoadCheckModuleValue on the rest of the aux payload.
        from kaa.persistence.rdb_format import _check_module_value

        _check_module_value(r, name)
        self.contents.modules_skipped.append(name)


def iter_load(data: bytes, contents: RdbContents, ndbs: int = 16) -> Iterator[LoadedKey]:
    """Parse a whole RDB image, yielding keys as they come; fills contents."""
    p = RdbParser(data, ndbs=ndbs)
    p.contents = contents
    yield from p.keys()


def load_all(data: bytes, ndbs: int = 16, verify_crc: bool = True) -> tuple[RdbContents, list[LoadedKey]]:
    """Parse and verify a whole image before anything is applied (no partial loads)."""
    p = RdbParser(data, ndbs=ndbs, verify_crc=verify_crc)
    keys = list(p.keys())
    return p.contents, keys


class Writer:
    """Streams an RDB image to a binary file, keeping the running CRC64."""

    def __init__(self, out: BinaryIO, checksum: bool = True, compress: bool = True) -> None:
        self.out = out
        self.crc = 0
        self.checksum = checksum
        self.compress = compress
        self.written = 0
        self._buf: list[bytes] = []
        self._buflen = 0

    def w(self, b: bytes) -> None:
        self._buf.append(b)
        self._buflen += len(b)
        if self._buflen >= 1 << 16:
            self.flush_buf()

    def flush_buf(self) -> None:
        if not self._buf:
            return
        data = b"".join(self._buf)
        self._buf = []
        self._buflen = 0
        if self.checksum:
            self.crc = crc64(self.crc, data)
        self.out.write(data)
        self.written += len(data)

    def header(self, aux: Iterable[tuple[bytes, bytes]]) -> None:
        self.w(b"REDIS%04d" % RDB_VERSION)
        for k, v in aux:
            self.aux(k, v)

    def aux(self, k: bytes, v: bytes) -> None:
        self.w(bytes((OP_AUX,)) + enc_string(k, self.compress) + enc_string(v, self.compress))

    def function(self, code: bytes) -> None:
        self.w(bytes((OP_FUNCTION2,)) + enc_string(code, self.compress))

    def select_db(self, db: int, size: int, expires: int) -> None:
        self.w(bytes((OP_SELECTDB,)) + enc_len(db) + bytes((OP_RESIZEDB,)) + enc_len(size) + enc_len(expires))

    def prefix(self, expire_ms: int | None, idle: int | None = None, freq: int | None = None) -> None:
        """The opcodes that precede a key: expire time, LRU idle seconds, LFU counter."""
        if expire_ms is not None:
            self.w(b"\xfc" + _q.pack(expire_ms))
        if idle is not None:
            self.w(b"\xf8" + enc_len(idle))
        if freq is not None:
            self.w(bytes((OP_FREQ, freq)))

    def key(self, key: bytes, kind: str, value: Any, expire_ms: int | None = None,
            enc: Any = None, depth: int = 0) -> None:
        if expire_ms is not None:
            self.w(b"\xfc" + _q.pack(expire_ms))
        t, payload = write_value(kind, value, self.compress, enc, depth)
        self.w(bytes((t,)) + enc_string(key, self.compress) + payload)

    def finish(self) -> None:
        self.w(bytes((OP_EOF,)))
        self.flush_buf()
        crc = self.crc if self.checksum else 0
        self.out.write(_Q.pack(crc))
        self.written += 8


def default_aux(used_mem: int, aof_base: bool = False, extra: dict[bytes, bytes] | None = None) -> list[tuple[bytes, bytes]]:
    """rdbSaveInfoAuxFields: the fields every Valkey 8 dump starts with."""
    from kaa import VALKEY_VERSION

    aux = [
        (b"valkey-ver", VALKEY_VERSION.encode()),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % int(time.time())),
        (b"used-mem", b"%d" % used_mem),
    ]
    if extra:
        aux += list(extra.items())
    aux.append((b"aof-base", b"1" if aof_base else b"0"))
    return aux


# ---------------------------------------------------------------- DUMP / RESTORE


def dump_payload(kind: str, value: Any, compress: bool = True, enc: Any = None, depth: int = 0) -> bytes:
    """Serialized value as DUMP returns it: type, value, RDB version (2 bytes LE), CRC64 (LE)."""
    t, payload = write_value(kind, value, compress, enc, depth)
    body = bytes((t,)) + payload + struct.pack("<H", RDB_VERSION)
    return body + _Q.pack(crc64(0, body))


BAD_PAYLOAD = "DUMP payload version or checksum are wrong"


def verify_dump_payload(data: bytes, verify_crc: bool = True) -> int:
    """verifyDumpPayload: footer version <= ours and a matching CRC64 (unless DEBUG
    SET-SKIP-CHECKSUM-VALIDATION); returns the payload's RDB version. RdbError if bad."""
    if len(data) < 10:
        raise RdbError(BAD_PAYLOAD)
    ver = struct.unpack_from("<H", data, len(data) - 10)[0]
    if ver > RDB_VERSION:
        raise RdbError(BAD_PAYLOAD)
    if verify_crc:
        crc = _Q.unpack_from(data, len(data) - 8)[0]
        if crc64(0, memoryview(data)[:-8]) != crc:  # type: ignore[arg-type]
            raise RdbError(BAD_PAYLOAD)
    return int(ver)


def decode_payload(data: bytes, verify_crc: bool = True) -> tuple[str, Any, Any]:
    """Decode a DUMP payload into (kind, neutral value, encoding hint); RdbError with
    Valkey's reply text (BAD_PAYLOAD or "Bad data format", the reason as its __cause__)
    on any corruption."""
    ver = verify_dump_payload(data, verify_crc)
    r = Reader(data[:-10], 0, ver)
    try:
        t = r.byte()
        if not (t <= 7 or 9 <= t <= 21):  # rdbLoadObjectType
            raise RdbError("Bad data format")
        return read_value(r, t)
    except RdbError as e:
        raise RdbError("Bad data format") from e
    except (RecursionError, MemoryError, OverflowError, ValueError) as e:
        raise RdbError("Bad data format") from e


def restore_payload(data: bytes) -> tuple[str, Any]:
    """decode_payload without the encoding hint: (kind, neutral value)."""
    kind, value, _enc = decode_payload(data)
    return kind, value


__all__ = [
    "RdbContents", "RdbParser", "RdbFatal", "Writer", "load_all", "iter_load", "check_header",
    "default_aux", "dump_payload", "restore_payload", "decode_payload", "verify_dump_payload", "BAD_PAYLOAD",
    "skip_module_value",
]
