"""RDB snapshots: whole files (header, aux fields, databases, functions, EOF, CRC64)
and DUMP/RESTORE payloads, in Valkey 8's format (version 11; versions 1-11 load).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from kaa.persistence.checksum import crc64
from kaa.persistence.rdb_format import (
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
    LoadedKey,
    RdbError,
    Reader,
    enc_len,
    enc_string,
    read_value,
    write_value,
)

MIN_VERSION = 1


@dataclass
class RdbContents:
    aux: dict[bytes, bytes] = field(default_factory=dict)
    functions: list[bytes] = field(default_factory=list)
    version: int = RDB_VERSION


def check_header(data: bytes) -> int:
    if len(data) < 9 or data[:5] != b"REDIS":
        raise RdbError("Wrong signature trying to load DB from file")
    try:
        ver = int(data[5:9])
    except ValueError as e:
        raise RdbError("Wrong signature trying to load DB from file") from e
    if ver < MIN_VERSION or ver > RDB_VERSION:
        raise RdbError(f"Can't handle RDB format version {ver}")
    return ver


def iter_load(data: bytes, contents: RdbContents) -> Iterator[LoadedKey]:
    """Parse a whole RDB image, yielding keys as they come; fills contents' aux/functions.

    The checksum is verified at the end (before the final key is trusted, the caller
    should load into a staging area: see ``load_all``)."""
    ver = check_header(data)
    contents.version = ver
    r = Reader(data, 9, ver)
    db = 0
    expire: int | None = None
    idle: int | None = None
    freq: int | None = None
    while True:
        t = r.byte()
        if t == OP_EXPIRETIME_MS:
            expire = r.millis()
            continue
        if t == OP_EXPIRETIME:
            expire = r.seconds() * 1000
            continue
        if t == OP_IDLE:
            idle = r.len()
            continue
        if t == OP_FREQ:
            freq = r.byte()
            continue
        if t == OP_SELECTDB:
            db = r.len()
            continue
        if t == OP_RESIZEDB:
            r.len()
            r.len()
            continue
        if t == OP_SLOT_INFO:
            r.len()
            r.len()
            r.len()
            continue
        if t == OP_AUX:
            k = r.string()
            v = r.string()
            contents.aux[k] = v
            continue
        if t == OP_MODULE_AUX:
            raise RdbError("The RDB file contains AUX module data I can't load: no matching module")
        if t == OP_FUNCTION_PRE_GA:
            raise RdbError("Pre-release function format not supported.")
        if t == OP_FUNCTION2:
            contents.functions.append(r.string())
            continue
        if t == OP_EOF:
            break
        key = r.string()
        kind, value = read_value(r, t)
        yield LoadedKey(db, key, kind, value, expire, idle, freq)
        expire = idle = freq = None
    if ver >= 5:
        end = r.pos
        if end + 8 > len(data):
            raise RdbError("Short read or OOM loading DB. Unrecoverable error, aborting now.")
        expected = struct.unpack_from("<Q", data, end)[0]
        if expected != 0:
            got = crc64(0, data[:end])
            if got != expected:
                raise RdbError(
                    f"Wrong RDB checksum expected: ({expected:016x}) got ({got:016x}). Aborting now."
                )


def load_all(data: bytes) -> tuple[RdbContents, list[LoadedKey]]:
    """Parse and verify a whole image before anything is applied (no partial loads)."""
    contents = RdbContents()
    keys = list(iter_load(data, contents))
    return contents, keys


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
            self.w(bytes([OP_AUX]) + enc_string(k, False) + enc_string(v, False))

    def function(self, code: bytes) -> None:
        self.w(bytes([OP_FUNCTION2]) + enc_string(code, self.compress))

    def select_db(self, db: int, size: int, expires: int) -> None:
        self.w(bytes([OP_SELECTDB]) + enc_len(db))
        self.w(bytes([OP_RESIZEDB]) + enc_len(size) + enc_len(expires))

    def key(self, key: bytes, kind: str, value: Any, expire_ms: int | None = None) -> None:
        if expire_ms is not None:
            self.w(bytes([OP_EXPIRETIME_MS]) + struct.pack("<q", expire_ms))
        t, payload = write_value(kind, value, self.compress)
        self.w(bytes([t]) + enc_string(key, self.compress) + payload)

    def finish(self) -> None:
        self.w(bytes([OP_EOF]))
        self.flush_buf()
        crc = self.crc if self.checksum else 0
        self.out.write(struct.pack("<Q", crc))
        self.written += 8


def default_aux(used_mem: int, aof_base: bool = False, extra: dict[bytes, bytes] | None = None) -> list[tuple[bytes, bytes]]:
    from kaa import VALKEY_VERSION

    aux = [
        (b"valkey-ver", VALKEY_VERSION.encode()),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % int(time.time())),
        (b"used-mem", b"%d" % used_mem),
        (b"aof-base", b"1" if aof_base else b"0"),
    ]
    if extra:
        aux += list(extra.items())
    return aux


# ---------------------------------------------------------------- DUMP / RESTORE


def dump_payload(kind: str, value: Any) -> bytes:
    """Serialized value as DUMP returns it: type, value, RDB version (2 bytes LE), CRC64 (LE)."""
    t, payload = write_value(kind, value)
    body = bytes([t]) + payload + struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(0, body))


def verify_dump_payload(data: bytes) -> int:
    """Check footer version and CRC; returns the payload's RDB version. RdbError if bad."""
    if len(data) < 10:
        raise RdbError("DUMP payload version or checksum are wrong")
    ver = struct.unpack_from("<H", data, len(data) - 10)[0]
    if ver > RDB_VERSION:
        raise RdbError("DUMP payload version or checksum are wrong")
    crc = struct.unpack_from("<Q", data, len(data) - 8)[0]
    if crc != 0 and crc64(0, data[:-8]) != crc:
        raise RdbError("DUMP payload version or checksum are wrong")
    return int(ver)


def restore_payload(data: bytes) -> tuple[str, Any]:
    """Decode a DUMP payload into (kind, neutral value); RdbError on any corruption."""
    ver = verify_dump_payload(data)
    r = Reader(data[:-10], 0, ver)
    try:
        t = r.byte()
        kind, value = read_value(r, t)
    except RdbError as e:
        raise RdbError("Bad data format") from e
    if r.pos != len(r.data):
        raise RdbError("Bad data format")
    return kind, value


ToNeutral = Callable[[Any], tuple[str, Any]]
