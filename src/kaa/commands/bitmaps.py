"""Bitmap commands (Valkey's bitops.c command side): SETBIT, GETBIT, BITCOUNT, BITPOS,
BITOP, BITFIELD, BITFIELD_RO.

They work on ordinary string values. A command that changes bits in place first
turns a ``bytes`` value into a ``bytearray`` (Valkey's ``dbUnshareStringValue``; the
value then reports the ``raw`` encoding) and grows it with zero bytes as needed.
The algorithms live in ``kaa.types.bitops``.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE, parse_int_or_none
from kaa.commands.registry import KeySpec, command
from kaa.commands.server_cmds import arg
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_STRING
from kaa.protocol.reply import ONE, ZERO, ReplyError
from kaa.types import bitops

ERR_BIT_OFFSET = ReplyError("ERR bit offset is not an integer or out of range")
ERR_BIT_VALUE = ReplyError("ERR bit is not an integer or out of range")
ERR_BITFIELD_TYPE = ReplyError(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)
ERR_OVERFLOW_TYPE = ReplyError("ERR Invalid OVERFLOW type specified")
ERR_BITFIELD_RO = ReplyError("ERR BITFIELD_RO only supports the GET subcommand")
ERR_BITPOS_BIT = ReplyError("ERR The bit argument must be 1 or 0.")
ERR_BITOP_NOT = ReplyError("ERR BITOP NOT must be called with a single source key.")

_U64 = (1 << 64) - 1

_OPS = {b"and": bitops.BITOP_AND, b"or": bitops.BITOP_OR, b"xor": bitops.BITOP_XOR,
        b"not": bitops.BITOP_NOT}
_OVERFLOWS = {b"wrap": bitops.OVERFLOW_WRAP, b"sat": bitops.OVERFLOW_SAT,
              b"fail": bitops.OVERFLOW_FAIL}

_GET, _SET, _INCRBY = 0, 1, 2
_SUBCMDS = {b"get": (_GET, 2), b"set": (_SET, 3), b"incrby": (_INCRBY, 3)}


def _key(name: str, spec: int, **kw: Any) -> dict[str, Any]:
    """A COMMAND DOCS key argument tied to its key spec."""
    return {**arg(name, "key", **kw), "key_spec_index": spec}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _ks(flags: str, pos: int = 1, last: int = 0) -> KeySpec:
    return KeySpec(flags=tuple(flags.split()), begin_index=pos, last=last)


def _must_obey(c: Any) -> bool:
    """mustObeyClient: the primary's link and the AOF loader bypass size limits."""
    return bool(c.is_master or c.server.loading)


def _bit_offset(c: Any, s: bytes, hash_bits: int = 0) -> int:
    """getBitOffsetFromArgument: a bit offset below 8 * proto-max-bulk-len; with
    ``hash_bits`` > 0 (BITFIELD), ``#N`` means N * hash_bits."""
    usehash = hash_bits > 0 and s[:1] == b"#"
    v = parse_int_or_none(s[1:] if usehash else s)
    if v is None:
        raise ERR_BIT_OFFSET
    if usehash:
        v *= hash_bits
        # C multiplies in 64 bits and may wrap around.
        v &= _U64
        if v >> 63:
            v -= 1 << 64
    if v < 0 or ((v >> 3) >= c.server.config.proto_max_bulk_len and not _must_obey(c)):
        raise ERR_BIT_OFFSET
    return v


def _bitfield_type(s: bytes) -> tuple[bool, int]:
    """getBitfieldTypeFromArgument: (signed, bits) for i1..i64 / u1..u63."""
    c0 = s[:1]
    if c0 == b"i":
        signed = True
    elif c0 == b"u":
        signed = False
    else:
        raise ERR_BITFIELD_TYPE
    bits = parse_int_or_none(s[1:])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise ERR_BITFIELD_TYPE
    return signed, bits


def _read_string(db: Any, key: bytes) -> bytes | bytearray | None:
    v = db.lookup_read(key)
    if v is None:
        return None
    t = type(v)
    if t is bytes or t is bytearray:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _string_for_write(db: Any, key: bytes, maxbit: int) -> tuple[bytearray, bool]:
    """lookupStringForBitCommand: the value at key as a bytearray long enough to hold
    bit ``maxbit`` (created, or grown with zero bytes). Returns (value, changed) where
    changed means the key was created or grew."""
    need = (maxbit >> 3) + 1
    v = db.lookup(key)
    if v is None:
        ba = bytearray(need)
        db.add(key, ba)
        return ba, True
    t = type(v)
    if t is bytearray:
        ba = v
    elif t is bytes:
        # Same logical value in a mutable form: no change is signalled for it.
        ba = bytearray(v)
        db.data[key] = ba
    else:
        raise ERR_WRONGTYPE
    old = len(ba)
    if old < need:
        ba.extend(bytes(need - old))
        return ba, True
    return ba, False


def _changed(db: Any, key: bytes, n: int = 1) -> None:
    """signalModifiedKey + the "setbit" event + dirty, after an in-place change."""
    db.touch(key)
    ks = db.ks
    ks.dirty += n
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "setbit", key, db.id)


def _parse_long(s: bytes) -> int:
    v = parse_int_or_none(s)
    if v is None:
        raise ERR_NOT_INT
    return v


def _unit(s: bytes) -> bool:
    """The optional BYTE|BIT argument: True for BIT."""
    u = s.lower()
    if u == b"bit":
        return True
    if u == b"byte":
        return False
    raise ERR_SYNTAX


# --------------------------------------------------------------------------
# SETBIT / GETBIT
# --------------------------------------------------------------------------


@command("setbit", 4, "write denyoom", "bitmap", keys=(1, 1, 1), group="bitmap", since="2.2.0",
         summary="Sets or clears the bit at offset of the string value. Creates the key if it "
                 "doesn't exist.",
         complexity="O(1)", key_specs=(_ks("RW access update"),),
         arguments=(_key("key", 0), arg("offset", "integer"), arg("value", "integer")))
def setbit(c: Any, argv: list[bytes]) -> Any:
    offset = _bit_offset(c, argv[2])
    on = parse_int_or_none(argv[3])
    if on is None or on & ~1:
        raise ERR_BIT_VALUE
    db = c.db
    key = argv[1]
    ba, grown = _string_for_write(db, key, offset)
    byte = offset >> 3
    mask = 0x80 >> (offset & 7)
    cur = ba[byte]
    old = 1 if cur & mask else 0
    if grown or old != on:
        ba[byte] = (cur | mask) if on else (cur & ~mask)
        _changed(db, key)
    return ONE if old else ZERO


@command("getbit", 3, "readonly fast", "bitmap", keys=(1, 1, 1), group="bitmap", since="2.2.0",
         summary="Returns a bit value by offset.", complexity="O(1)",
         key_specs=(_ks("RO access"),), arguments=(_key("key", 0), arg("offset", "integer")))
def getbit(c: Any, argv: list[bytes]) -> Any:
    offset = _bit_offset(c, argv[2])
    v = _read_string(c.db, argv[1])
    if v is None:
        return ZERO
    byte = offset >> 3
    if byte < len(v) and v[byte] & (0x80 >> (offset & 7)):
        return ONE
    return ZERO


# --------------------------------------------------------------------------
# BITCOUNT / BITPOS
# --------------------------------------------------------------------------


def _clamp_range(start: int, end: int, total: int) -> tuple[int, int]:
    """Negative indexes count from the end; both ends are clamped into the string."""
    if start < 0:
        start += total
    if end < 0:
        end += total
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= total:
        end = total - 1
    return start, end


@command("bitcount", -2, "readonly", "bitmap", keys=(1, 1, 1), group="bitmap", since="2.6.0",
         summary="Counts the number of set bits (population counting) in a string.",
         complexity="O(N)",
         history=(("7.0.0", "Added the `BYTE|BIT` option."),
                  ("8.0.0", "`end` made optional; when called without argument the command "
                            "reports the last BYTE.")),
         key_specs=(_ks("RO access"),),
         arguments=(_key("key", 0),
                    arg("range", "block", optional=True, args=(
                        arg("start", "integer"),
                        arg("end-unit-block", "block", optional=True, args=(
                            arg("end", "integer"),
                            arg("unit", "oneof", optional=True, since="7.0.0", args=(
                                arg("byte", "pure-token", token="BYTE"),
                                arg("bit", "pure-token", token="BIT")))))))))
def bitcount(c: Any, argv: list[bytes]) -> Any:
    argc = len(argv)
    if argc > 5:
        raise ERR_SYNTAX
    isbit = False
    start = end = 0
    if argc >= 3:
        start = _parse_long(argv[2])
        if argc == 5:
            isbit = _unit(argv[4])
        if argc >= 4:
            end = _parse_long(argv[3])
    v = _read_string(c.db, argv[1])
    n = len(v) if v is not None else 0
    if argc >= 3:
        if argc == 3:
            end = n - 1
        if start < 0 and end < 0 and start > end:
            return ZERO
        total = n << 3 if isbit else n
        start, end = _clamp_range(start, end, total)
    else:
        end = n - 1
    if v is None or start > end:
        return ZERO
    if isbit:
        return bitops.popcount_bits(v, start, end)
    return bitops.popcount(v, start, end + 1)


@command("bitpos", -3, "readonly", "bitmap", keys=(1, 1, 1), group="bitmap", since="2.8.7",
         summary="Finds the first set (1) or clear (0) bit in a string.", complexity="O(N)",
         history=(("7.0.0", "Added the `BYTE|BIT` option."),),
         key_specs=(_ks("RO access"),),
         arguments=(_key("key", 0), arg("bit", "integer"),
                    arg("range", "block", optional=True, args=(
                        arg("start", "integer"),
                        arg("end-unit-block", "block", optional=True, args=(
                            arg("end", "integer"),
                            arg("unit", "oneof", optional=True, since="7.0.0", args=(
                                arg("byte", "pure-token", token="BYTE"),
                                arg("bit", "pure-token", token="BIT")))))))))
def bitpos(c: Any, argv: list[bytes]) -> Any:
    bit = _parse_long(argv[2])
    if bit != 0 and bit != 1:
        raise ERR_BITPOS_BIT
    argc = len(argv)
    if argc > 6:
        raise ERR_SYNTAX
    isbit = end_given = False
    start = end = 0
    if argc >= 4:
        start = _parse_long(argv[3])
        if argc == 6:
            isbit = _unit(argv[5])
        if argc >= 5:
            end = _parse_long(argv[4])
            end_given = True
    v = _read_string(c.db, argv[1])
    if v is None:
        return -1 if bit else 0
    n = len(v)
    if argc >= 4:
        if argc == 4:
            end = n - 1
        total = n << 3 if isbit else n
        start, end = _clamp_range(start, end, total)
    else:
        end = n - 1
    if start > end:
        return -1
    if isbit:
        first, last = start, end
    else:
        first, last = start << 3, (end << 3) + 7
    pos = bitops.bitpos(v, bit, first, last)
    if pos < 0 and not bit and not end_given:
        # Without an explicit end, the string counts as padded with zeros on the right.
        return last + 1
    return pos


# --------------------------------------------------------------------------
# BITOP
# --------------------------------------------------------------------------


@command("bitop", -4, "write denyoom", "bitmap", keys=(2, -1, 1), group="bitmap", since="2.6.0",
         summary="Performs bitwise operations on multiple strings, and stores the result.",
         complexity="O(N)",
         key_specs=(_ks("OW update", 2), _ks("RO access", 3, -1)),
         arguments=(arg("operation", "oneof", args=(
                        arg("and", "pure-token", token="AND"), arg("or", "pure-token", token="OR"),
                        arg("xor", "pure-token", token="XOR"), arg("not", "pure-token", token="NOT"))),
                    _key("destkey", 0), _key("key", 1, multiple=True)))
def bitop(c: Any, argv: list[bytes]) -> Any:
    op = _OPS.get(argv[1].lower())
    if op is None:
        raise ERR_SYNTAX
    if op == bitops.BITOP_NOT and len(argv) != 4:
        raise ERR_BITOP_NOT
    db = c.db
    sources: list[bytes | bytearray] = []
    for key in argv[3:]:
        v = _read_string(db, key)
        sources.append(v if v is not None else b"")
    result = bitops.bitop(op, sources)
    dest = argv[2]
    ks = db.ks
    if result:
        # A new object, as Valkey's createObject: the raw encoding whatever its size.
        db.set(dest, bytearray(result))
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_STRING, "set", dest, db.id)
    elif db.delete(dest):
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", dest, db.id)
    return len(result)


# --------------------------------------------------------------------------
# BITFIELD / BITFIELD_RO
# --------------------------------------------------------------------------


def _bitfield(c: Any, argv: list[bytes], readonly_cmd: bool) -> Any:
    ops: list[tuple[int, int, int, int, bool, int]] = []  # opcode, offset, value, owtype, signed, bits
    owtype = bitops.OVERFLOW_WRAP
    readonly = True
    highest = 0
    argc = len(argv)
    j = 2
    while j < argc:
        remargs = argc - j - 1
        name = argv[j].lower()
        spec = _SUBCMDS.get(name)
        if spec is None or remargs < spec[1]:
            if name == b"overflow" and remargs >= 1:
                ow = _OVERFLOWS.get(argv[j + 1].lower())
                if ow is None:
                    raise ERR_OVERFLOW_TYPE
                owtype = ow
                j += 2
                continue
            raise ERR_SYNTAX
        opcode = spec[0]
        signed, bits = _bitfield_type(argv[j + 1])
        offset = _bit_offset(c, argv[j + 2], bits)
        value = 0
        if opcode != _GET:
            readonly = False
            if highest < offset + bits - 1:
                highest = offset + bits - 1
            value = _parse_long(argv[j + 3])
        ops.append((opcode, offset, value, owtype, signed, bits))
        j += 3 if opcode == _GET else 4
    db = c.db
    key = argv[1]
    if readonly:
        src = _read_string(db, key)
        out: list[Any] = []
        for _, offset, _, _, signed, bits in ops:
            if src is None:
                out.append(0)
            elif signed:
                out.append(bitops.get_signed(src, offset, bits))
            else:
                out.append(bitops.get_unsigned(src, offset, bits))
        return out
    if readonly_cmd:
        raise ERR_BITFIELD_RO
    ba, grown = _string_for_write(db, key, highest)
    changes = 0
    out = []
    for opcode, offset, value, ow, signed, bits in ops:
        if opcode == _GET:
            if signed:
                out.append(bitops.get_signed(ba, offset, bits))
            else:
                out.append(bitops.get_unsigned(ba, offset, bits))
            continue
        if signed:
            old = bitops.get_signed(ba, offset, bits)
            if opcode == _INCRBY:
                overflow, new = bitops.signed_overflow(old, value, bits, ow)
                ret = new
            else:
                overflow, new = bitops.signed_overflow(value, 0, bits, ow)
                ret = old
        else:
            old = bitops.get_unsigned(ba, offset, bits)
            if opcode == _INCRBY:
                overflow, new = bitops.unsigned_overflow(old, value, bits, ow)
                ret = new
            else:
                # The SET value is C's int64 converted to uint64.
                overflow, new = bitops.unsigned_overflow(value & _U64, 0, bits, ow)
                ret = old
        if overflow and ow == bitops.OVERFLOW_FAIL:
            out.append(None)
            continue
        out.append(ret)
        bitops.set_bits(ba, offset, bits, new)
        if grown or old != new:
            changes += 1
    if changes:
        _changed(db, key, changes)
    return out


_BITFIELD_OPS = arg("operation", "oneof", optional=True, multiple=True, args=(
    arg("get-block", "block", token="GET", args=(arg("encoding", "string"), arg("offset", "integer"))),
    arg("write", "block", args=(
        arg("overflow-block", "oneof", token="OVERFLOW", optional=True, args=(
            arg("wrap", "pure-token", token="WRAP"), arg("sat", "pure-token", token="SAT"),
            arg("fail", "pure-token", token="FAIL"))),
        arg("write-operation", "oneof", args=(
            arg("set-block", "block", token="SET", args=(
                arg("encoding", "string"), arg("offset", "integer"), arg("value", "integer"))),
            arg("incrby-block", "block", token="INCRBY", args=(
                arg("encoding", "string"), arg("offset", "integer"),
                arg("increment", "integer")))))))))


def _bitfield_keys(argv: list[bytes]) -> list[int]:
    """bitfieldGetKeys: always the key at argv[1] (its key spec has variable flags, so
    COMMAND GETKEYS needs this function)."""
    return [1]


@command("bitfield", -2, "write denyoom", "bitmap", keys=(1, 1, 1), group="bitmap", since="3.2.0",
         summary="Performs arbitrary bitfield integer operations on strings.",
         complexity="O(1) for each subcommand specified",
         key_specs=(KeySpec(flags=("RW", "update", "access", "variable_flags"), begin_index=1,
                            notes="This command allows both access and modification of the key"),),
         keys_fn=_bitfield_keys, arguments=(_key("key", 0), _BITFIELD_OPS))
def bitfield(c: Any, argv: list[bytes]) -> Any:
    return _bitfield(c, argv, False)


@command("bitfield_ro", -2, "readonly fast", "bitmap", keys=(1, 1, 1), group="bitmap",
         since="6.0.0", summary="Performs arbitrary read-only bitfield integer operations on strings.",
         complexity="O(1) for each subcommand specified", key_specs=(_ks("RO access"),),
         arguments=(_key("key", 0),
                    arg("get-block", "block", token="GET", optional=True, multiple=True,
                        multiple_token=True, args=(arg("encoding", "string"),
                                                   arg("offset", "integer")))))
def bitfield_ro(c: Any, argv: list[bytes]) -> Any:
    return _bitfield(c, argv, True)
