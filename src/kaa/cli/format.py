"""Render replies byte-for-byte the way redis-cli does.

Scripts and humans both depend on redis-cli's exact output, so the two modes here
mirror its "standard" (tty) and "raw" (pipe / --raw) renderings, including quirks such
as the error line in raw mode being followed by an empty line.
"""

from __future__ import annotations

from typing import Final

from kaa.protocol.reply_reader import (
    Array,
    Attribute,
    BigNumber,
    Boolean,
    Bulk,
    Double,
    Error,
    Integer,
    Map,
    Null,
    Push,
    Reply,
    Set,
    SimpleString,
    Verbatim,
)

_ESCAPES: Final = {
    ord("\\"): b"\\\\",
    ord('"'): b'\\"',
    ord("\n"): b"\\n",
    ord("\r"): b"\\r",
    ord("\t"): b"\\t",
    ord("\a"): b"\\a",
    ord("\b"): b"\\b",
}

# One precomputed escape per byte value: printable ASCII as itself, the rest as \xNN.
_REPR_TABLE: Final = [
    _ESCAPES.get(b, bytes([b]) if 0x20 <= b < 0x7F else b"\\x%02x" % b) for b in range(256)
]


def quote_bytes(data: bytes) -> bytes:
    """Quote a bulk string the way redis-cli shows it on a terminal (C-locale isprint)."""
    return b'"' + b"".join(_REPR_TABLE[b] for b in data) + b'"'


def _unwrap(reply: Reply) -> Reply:
    # redis-cli has no attribute rendering; show the annotated reply only.
    while isinstance(reply, Attribute):
        reply = reply.reply
    return reply


def _is_nonempty_aggregate(reply: Reply) -> bool:
    reply = _unwrap(reply)
    if isinstance(reply, Array | Set | Push):
        return bool(reply.items)
    if isinstance(reply, Map):
        return bool(reply.pairs)
    return False


def format_tty(reply: Reply, prefix: bytes = b"") -> bytes:
    """Human-readable rendering used when stdout is a terminal (or with --no-raw).

    ``prefix`` is the indentation of the enclosing aggregate; the first line of a nested
    aggregate is not indented because the parent already printed its index there.
    """
    reply = _unwrap(reply)
    if isinstance(reply, Error):
        return b"(error) " + reply.value + b"\n"
    if isinstance(reply, SimpleString):
        return reply.value + b"\n"
    if isinstance(reply, Integer):
        return b"(integer) %d\n" % reply.value
    if isinstance(reply, Double):
        return b"(double) " + reply.text + b"\n"
    if isinstance(reply, Bulk):
        return quote_bytes(reply.value) + b"\n"
    if isinstance(reply, Verbatim):
        return reply.value + b"\n"
    if isinstance(reply, Null):
        return b"(nil)\n"
    if isinstance(reply, Boolean):
        return b"(true)\n" if reply.value else b"(false)\n"
    if isinstance(reply, BigNumber):
        return b"(big number) " + reply.text + b"\n"
    if isinstance(reply, Map):
        return _format_map(reply, prefix)
    if isinstance(reply, Array | Set | Push):
        return _format_sequence(reply, prefix)
    raise TypeError(f"cannot format {reply!r}")


def _format_sequence(reply: Array | Set | Push, prefix: bytes) -> bytes:
    items = reply.items
    if not items:
        if isinstance(reply, Set):
            return b"(empty set)\n"
        if isinstance(reply, Push):
            return b"(empty push)\n"
        return b"(empty array)\n"
    width = len(str(len(items)))
    child_prefix = prefix + b" " * (width + 2)
    sep = b"~" if isinstance(reply, Set) else b")"
    out = bytearray()
    for i, item in enumerate(items):
        out += (prefix if i else b"") + str(i + 1).rjust(width).encode() + sep + b" "
        out += format_tty(item, child_prefix)
    return bytes(out)


def _format_map(reply: Map, prefix: bytes) -> bytes:
    pairs = reply.pairs
    if not pairs:
        return b"(empty hash)\n"
    width = len(str(len(pairs)))
    child_prefix = prefix + b" " * (width + 2)
    out = bytearray()
    for i, (key, value) in enumerate(pairs):
        out += (prefix if i else b"") + str(i + 1).rjust(width).encode() + b"# "
        out += format_tty(key, child_prefix)[:-1] + b" => "
        if _is_nonempty_aggregate(value):
            # Nested aggregates as map values start on their own, fully indented line.
            out += b"\n" + child_prefix
        out += format_tty(value, child_prefix)
    return bytes(out)


def format_raw(reply: Reply) -> bytes:
    """Raw rendering used when stdout is not a terminal (or with --raw), sans final newline."""
    reply = _unwrap(reply)
    if isinstance(reply, Null):
        return b""
    if isinstance(reply, Error):
        return reply.value + b"\n"
    if isinstance(reply, SimpleString | Bulk | Verbatim):
        return reply.value
    if isinstance(reply, Boolean):
        return b"(true)" if reply.value else b"(false)"
    if isinstance(reply, Integer):
        return b"%d" % reply.value
    if isinstance(reply, Double | BigNumber):
        return reply.text
    if isinstance(reply, Map):
        return b"\n".join(format_raw(k) + b" " + format_raw(v) for k, v in reply.pairs)
    if isinstance(reply, Array | Set | Push):
        return b"\n".join(format_raw(item) for item in reply.items)
    raise TypeError(f"cannot format {reply!r}")


def format_invalidate_tty(reply: Push) -> bytes | None:
    """Client-tracking invalidation pushes get a one-line summary on terminals."""
    items = reply.items
    if len(items) != 2 or not isinstance(items[0], Bulk | SimpleString):
        return None
    if items[0].value != b"invalidate" or not isinstance(items[1], Array):
        return None
    keys = items[1].items
    if not all(isinstance(k, Bulk) for k in keys):
        return None
    names = [b"'" + k.value + b"'" for k in keys if isinstance(k, Bulk)]
    return b"-> invalidate: " + b", ".join(names) + b"\n"


def format_reply(reply: Reply, *, raw: bool, raw_strings: bool = False) -> bytes:
    """Full output for one command's reply, including the trailing delimiter.

    ``raw_strings`` is redis-cli's special case for INFO-like commands whose text is
    meant to be read as-is even on a terminal; it gets no extra newline.
    """
    if raw_strings:
        return format_raw(reply)
    if raw:
        return format_raw(reply) + b"\n"
    return format_tty(reply)
