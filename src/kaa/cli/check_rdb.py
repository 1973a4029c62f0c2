"""``kaa-check-rdb FILE``: validate an RDB file and say where and why it is corrupt,
in the manner (and with the messages) of valkey-check-rdb. Module data, which no
module is here to load, is walked through its annotations instead of refused."""

from __future__ import annotations

import struct
import sys
import time
from typing import TextIO

from kaa.persistence.checksum import crc64
from kaa.persistence.rdb import check_header
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
    T_MODULE_2,
    RdbError,
    Reader,
    module_type_name,
    read_value,
    skip_module_value,
)

TYPE_NAMES = (
    "string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2",
    "module-pre-release", "module-value", "", "hash-zipmap", "list-ziplist", "set-intset",
    "zset-ziplist", "hash-ziplist", "quicklist", "stream", "hash-listpack", "zset-listpack",
    "quicklist-v2", "stream-v2", "set-listpack", "stream-v3",
)


class _State:
    def __init__(self) -> None:
        self.keys = 0
        self.expires = 0
        self.already_expired = 0
        self.doing = "start"
        self.key: bytes | None = None
        self.key_type = -1


def check(path: str, out: TextIO | None = None, ndbs: int = 16) -> int:
    """Check the RDB file at path, writing valkey-check-rdb's report to out; 0 if sane."""
    stream = out if out is not None else sys.stdout
    st = _State()
    r: Reader | None = None

    def info(msg: str) -> None:
        print(f"[offset {r.pos if r is not None else 0}] {msg}", file=stream)

    def generic() -> None:
        print(f"[info] {st.keys} keys read", file=stream)
        print(f"[info] {st.expires} expires", file=stream)
        print(f"[info] {st.already_expired} already expired", file=stream)

    def error(msg: str) -> int:
        print("--- RDB ERROR DETECTED ---", file=stream)
        info(msg)
        print(f"[additional info] While doing: {st.doing}", file=stream)
        if st.key is not None:
            print(f"[additional info] Reading key '{st.key.decode('utf-8', 'replace')}'", file=stream)
        if st.key_type != -1:
            name = TYPE_NAMES[st.key_type] if 0 <= st.key_type < len(TYPE_NAMES) else "unknown"
            print(f"[additional info] Reading type {st.key_type} ({name})", file=stream)
        generic()
        return 1

    info(f"Checking RDB file {path}")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"Cannot open file {path}: {e.strerror}", file=stream)
        return 1
    r = Reader(data, 0)
    try:
        try:
            ver = check_header(data)
        except RdbError as e:
            return error(str(e))
        r.pos = 9
        r.rdbver = ver
        now = int(time.time() * 1000)
        expire = -1
        while True:
            st.doing = "read-type"
            t = r.byte()
            if t == OP_EXPIRETIME:
                st.doing = "read-expire"
                expire = r.seconds() * 1000
                continue
            if t == OP_EXPIRETIME_MS:
                st.doing = "read-expire"
                expire = r.millis()
                continue
            if t == OP_FREQ:
                r.byte()
                continue
            if t == OP_IDLE:
                r.len()
                continue
            if t == OP_EOF:
                break
            if t == OP_SELECTDB:
                st.doing = "read-len"
                info(f"Selecting DB ID {r.len()}")
                continue
            if t == OP_RESIZEDB:
                st.doing = "read-len"
                r.len()
                r.len()
                continue
            if t == OP_SLOT_INFO:
                st.doing = "read-len"
                r.len()
                r.len()
                r.len()
                continue
            if t == OP_AUX:
                st.doing = "read-aux"
                k = r.string()
                v = r.string()
                info(f"AUX FIELD {_c(k)} = '{_c(v)}'")
                continue
            if t == OP_MODULE_AUX:
                st.doing = "read-module-aux"
                mid = r.len()
                when_op = r.len()
                r.len()
                if when_op != MOD_UINT:
                    return error("bad when_opcode")
                name = module_type_name(mid)
                info(f"MODULE AUX for: {name}")
                from kaa.persistence.rdb_format import _check_module_value

                _check_module_value(r, name)
                continue
            if t == OP_FUNCTION_PRE_GA:
                return error(f"Pre-release function format not supported {ver}")
            if t == OP_FUNCTION2:
                st.doing = "read-functions"
                r.string()
                continue
            if not (t <= 7 or 9 <= t <= 21):
                return error(f"Invalid object type: {t}")
            st.key_type = t
            st.doing = "read-key"
            st.key = r.string()
            st.keys += 1
            st.doing = "read-object-value"
            if t == T_MODULE_2:
                skip_module_value(r)
            else:
                read_value(r, t)
            if expire != -1:
                st.expires += 1
                if expire < now:
                    st.already_expired += 1
            st.key = None
            st.key_type = -1
            expire = -1
        if ver >= 5:
            st.doing = "check-sum"
            end = r.pos
            stored = struct.unpack("<Q", r.read(8))[0]
            if stored == 0:
                info("RDB file was saved with checksum disabled: no check performed.")
            elif stored != crc64(0, memoryview(data)[:end]):  # type: ignore[arg-type]
                return error("RDB CRC error")
            else:
                info("Checksum OK")
    except RdbError as e:
        return error(str(e) if not e.short else "Unexpected EOF reading RDB file")
    except (RecursionError, MemoryError, OverflowError, ValueError) as e:
        return error(f"{type(e).__name__}: {e}")
    info("\\o/ RDB looks OK! \\o/")
    generic()
    return 0


def _c(b: bytes) -> str:
    """A C string as %s prints it: up to the first NUL."""
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        from kaa import VALKEY_VERSION, __version__

        print(f"kaa-check-rdb {__version__} (valkey-check-rdb {VALKEY_VERSION} compatible)")
        return 0
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("Usage: kaa-check-rdb <rdb-file-name>", file=sys.stderr)
        return 1
    return check(args[0])


if __name__ == "__main__":
    sys.exit(main())
