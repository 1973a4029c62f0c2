"""Function libraries (functions.c): the registry FUNCTION LOAD fills and FCALL reads.

A library is the code given to FUNCTION LOAD (``#!lua name=<lib>`` header and all) and
the functions its top-level code registered with ``server.register_function``. Library
names are case-sensitive; function names are unique across libraries ignoring case
(FCALL looks them up that way), while inside one library they are compared exactly.

The registry is independent of Lua: a function carries an opaque ``callable`` the
engine knows how to call. Loading code (compiling, running the top level) is the
engine's job (``kaa.scripting.engine``); this module keeps the bookkeeping, the
library-join rules FUNCTION RESTORE needs and the DUMP payload format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from kaa.persistence.checksum import crc64
from kaa.persistence.rdb_format import (
    OP_FUNCTION2,
    OP_FUNCTION_PRE_GA,
    RDB_VERSION,
    RdbError,
    Reader,
    enc_string,
)
from kaa.protocol.request import split_args

# Script flags, in Valkey's order (scripts_flags_def): FUNCTION LIST prints them so.
FLAG_NO_WRITES = 1
FLAG_ALLOW_OOM = 2
FLAG_ALLOW_STALE = 4
FLAG_NO_CLUSTER = 8
FLAG_EVAL_COMPAT_MODE = 16  # an EVAL script without a shebang line
FLAG_ALLOW_CROSS_SLOT = 32
FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (FLAG_NO_WRITES, "no-writes"),
    (FLAG_ALLOW_OOM, "allow-oom"),
    (FLAG_ALLOW_STALE, "allow-stale"),
    (FLAG_NO_CLUSTER, "no-cluster"),
    (FLAG_ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
)
FLAG_BY_NAME = {name: bit for bit, name in FLAG_NAMES}

ERR_BAD_NAME = ("Library names can only contain letters, numbers, or underscores(_) and must be "
                "at least one character long")


class LibraryError(Exception):
    """A library that cannot be loaded or joined; the text is Valkey's (no ``ERR``)."""


@dataclass(slots=True, eq=False)
class FunctionInfo:
    name: bytes
    callable: Any  # the engine's compiled function
    library: Library
    desc: bytes | None = None
    flags: int = 0


@dataclass(slots=True, eq=False)
class Library:
    name: bytes
    code: bytes
    engine: str = "LUA"
    functions: dict[bytes, FunctionInfo] = field(default_factory=dict)


def valid_name(name: bytes) -> bool:
    """[a-zA-Z0-9_]+ (functionsVerifyName)."""
    if not name:
        return False
    for ch in name:
        if not (48 <= ch <= 57 or 65 <= ch <= 90 or 97 <= ch <= 122 or ch == 95):
            return False
    return True


def parse_library_header(code: bytes) -> tuple[bytes, bytes, bytes]:
    """(engine, library name, body) from ``#!<engine> name=<name>``; the body keeps the
    header's newline so line numbers stay those of the code as written."""
    if not code.startswith(b"#!"):
        raise LibraryError("Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise LibraryError("Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise LibraryError("Invalid library metadata")
    engine = parts[0][2:]
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise LibraryError("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise LibraryError("Invalid metadata value given: " + part.decode("utf-8", "replace"))
    if name is None:
        raise LibraryError("Library name was not given")
    return engine, name, code[end:]


class Registry:
    """Libraries by name and functions by lower-cased name (functionsLibCtx)."""

    __slots__ = ("libraries", "functions")

    def __init__(self) -> None:
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, FunctionInfo] = {}

    def clear(self) -> None:
        self.libraries.clear()
        self.functions.clear()

    def link(self, lib: Library) -> None:
        for fi in lib.functions.values():
            self.functions[fi.name.lower()] = fi
        self.libraries[lib.name] = lib

    def unlink(self, lib: Library) -> None:
        for fi in lib.functions.values():
            self.functions.pop(fi.name.lower(), None)
        self.libraries.pop(lib.name, None)

    def add(self, lib: Library, replace: bool) -> None:
        """Link a freshly loaded library (functionsCreateWithLibraryCtx's checks)."""
        old = self.libraries.get(lib.name)
        if old is not None and not replace:
            raise LibraryError(f"Library '{lib.name.decode('utf-8', 'replace')}' already exists")
        if not lib.functions:
            raise LibraryError("No functions registered")
        if old is not None:
            self.unlink(old)
        for fi in lib.functions.values():
            if fi.name.lower() in self.functions:
                if old is not None:
                    self.link(old)
                raise LibraryError(f"Function {fi.name.decode('utf-8', 'replace')} already exists")
        self.link(lib)

    def join(self, other: Registry, replace: bool) -> None:
        """Move every library of ``other`` in (libraryJoin); all or nothing."""
        replaced: list[Library] = []
        for name in other.libraries:
            old = self.libraries.get(name)
            if old is None:
                continue
            if not replace:
                self._relink(replaced)
                raise LibraryError(f"Library {name.decode('utf-8', 'replace')} already exists")
            self.unlink(old)
            replaced.append(old)
        for key, fi in other.functions.items():
            if key in self.functions:
                self._relink(replaced)
                raise LibraryError(f"Function {fi.name.decode('utf-8', 'replace')} already exists")
        for lib in other.libraries.values():
            self.link(lib)
        other.clear()

    def _relink(self, libs: list[Library]) -> None:
        for lib in libs:
            self.link(lib)

    def functions_count(self) -> int:
        return len(self.functions)


# ---- FUNCTION DUMP / RESTORE payloads -------------------------------------------------


def dump_payload(registry: Registry) -> bytes:
    """Each library as an RDB FUNCTION2 record, then the RDB version and a CRC64 (LE)."""
    body = b"".join(bytes([OP_FUNCTION2]) + enc_string(lib.code) for lib in registry.libraries.values())
    body += struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(0, body))


def payload_codes(data: bytes) -> list[bytes]:
    """The library codes of a FUNCTION DUMP payload; LibraryError with Valkey's text."""
    if len(data) < 10:
        raise LibraryError("DUMP payload version or checksum are wrong")
    ver = struct.unpack_from("<H", data, len(data) - 10)[0]
    crc = struct.unpack_from("<Q", data, len(data) - 8)[0]
    if ver > RDB_VERSION or (crc != 0 and crc64(0, data[:-8]) != crc):
        raise LibraryError("DUMP payload version or checksum are wrong")
    r = Reader(data[:-10], 0, ver)
    codes: list[bytes] = []
    while r.pos < len(r.data):
        try:
            t = r.byte()
        except RdbError as e:
            raise LibraryError("can not read data type") from e
        if t == OP_FUNCTION_PRE_GA:
            raise LibraryError("Pre-GA function format not supported")
        if t != OP_FUNCTION2:
            raise LibraryError("given type is not a function")
        try:
            codes.append(r.string())
        except RdbError as e:
            raise LibraryError("failed loading the given functions payload") from e
    return codes
