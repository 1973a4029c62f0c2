"""Sans-I/O parser for RESP2/RESP3 *replies*, used on the client side (kaa-cli).

The server parses requests elsewhere; this module only turns reply bytes into small
typed values so a client can print them exactly the way redis-cli does (which needs
to know e.g. a simple string from a bulk string, or a map from an array).

Usage::

    reader = ReplyReader()
    reader.feed(data)
    while (reply := reader.get_reply()) is not None:
        ...

``get_reply()`` returns ``None`` when no complete reply is buffered yet; a RESP nil is
the :data:`NULL` value, never ``None``.  The parser is incremental: aggregates that
arrive in pieces are not re-parsed from the start, so large replies stay linear.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "NULL",
    "Array",
    "Attribute",
    "BigNumber",
    "Boolean",
    "Bulk",
    "Double",
    "Error",
    "Integer",
    "Map",
    "Null",
    "ProtocolError",
    "Push",
    "Reply",
    "ReplyReader",
    "Set",
    "SimpleString",
    "Verbatim",
]


class ProtocolError(Exception):
    """Raised when the byte stream is not valid RESP; the reader is unusable afterwards."""


@dataclass(frozen=True, slots=True)
class SimpleString:
    """``+OK`` style status reply; redis-cli prints it unquoted."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Error:
    """``-ERR ...`` or RESP3 blob error ``!``; ``value`` excludes the type byte."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Integer:
    value: int


@dataclass(frozen=True, slots=True)
class Bulk:
    """Binary-safe string (``$``)."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Null:
    """RESP2 ``$-1``/``*-1`` and RESP3 ``_``: all print as ``(nil)``."""


NULL: Final = Null()


@dataclass(frozen=True, slots=True)
class Double:
    """RESP3 double; ``text`` keeps the server's spelling because redis-cli prints it as-is."""

    value: float
    text: bytes


@dataclass(frozen=True, slots=True)
class Boolean:
    value: bool


@dataclass(frozen=True, slots=True)
class BigNumber:
    """RESP3 big number; ``text`` keeps the digits as sent."""

    value: int
    text: bytes


@dataclass(frozen=True, slots=True)
class Verbatim:
    """RESP3 verbatim string; ``format`` is the 3-byte hint such as ``b"txt"``."""

    format: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Reply, ...]


@dataclass(frozen=True, slots=True)
class Set:
    items: tuple[Reply, ...]


@dataclass(frozen=True, slots=True)
class Push:
    """Out-of-band RESP3 message (pub/sub, client tracking invalidation)."""

    items: tuple[Reply, ...]


@dataclass(frozen=True, slots=True)
class Map:
    """Ordered key/value pairs; kept as pairs because keys may be unhashable aggregates."""

    pairs: tuple[tuple[Reply, Reply], ...]


@dataclass(frozen=True, slots=True)
class Attribute:
    """RESP3 attribute (``|``) together with the reply it annotates."""

    pairs: tuple[tuple[Reply, Reply], ...]
    reply: Reply


Reply = (
    SimpleString
    | Error
    | Integer
    | Bulk
    | Null
    | Double
    | Boolean
    | BigNumber
    | Verbatim
    | Array
    | Set
    | Push
    | Map
    | Attribute
)

# Guards against a garbage length making us wait forever for bytes that never come.
MAX_BULK_LEN: Final = 512 * 1024 * 1024
MAX_AGGREGATE_LEN: Final = 1 << 32
# Compact the buffer once this many consumed bytes sit at its front.
_COMPACT_AT: Final = 64 * 1024

_AGGREGATE_TYPES: Final = frozenset(b"*~>%|")
_BLOB_TYPES: Final = frozenset(b"$!=")
_TYPE_BYTES: Final = _AGGREGATE_TYPES | _BLOB_TYPES | frozenset(b"+-:_#,(")


@dataclass(slots=True)
class _Frame:
    """An aggregate being filled in; ``wanted`` counts elements (2 per map entry)."""

    kind: int
    wanted: int
    items: list[Reply] = field(default_factory=list)
    attr: tuple[tuple[Reply, Reply], ...] | None = None


def _pairs(items: list[Reply]) -> tuple[tuple[Reply, Reply], ...]:
    return tuple(zip(items[0::2], items[1::2], strict=True))


class ReplyReader:
    """Incremental RESP2/RESP3 reply parser: ``feed()`` bytes, ``get_reply()`` values."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._stack: list[_Frame] = []
        # Header of a blob whose payload has not fully arrived: (type byte, length).
        self._blob: tuple[int, int] | None = None
        self._error: ProtocolError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the peer."""
        self._buf += data

    def buffered(self) -> int:
        """Bytes received but not yet consumed (useful to detect trailing garbage)."""
        return len(self._buf) - self._pos

    def get_reply(self) -> Reply | None:
        """Return the next complete reply, or ``None`` if more bytes are needed."""
        if self._error is not None:
            raise self._error
        try:
            return self._parse()
        except ProtocolError as exc:
            self._error = exc
            raise
        finally:
            if self._pos >= _COMPACT_AT or (self._pos and self._pos == len(self._buf)):
                del self._buf[: self._pos]
                self._pos = 0

    def __iter__(self) -> Iterator[Reply]:
        """Yield every complete reply currently buffered."""
        while (reply := self.get_reply()) is not None:
            yield reply

    # -- internals -------------------------------------------------------------

    def _line(self) -> bytes | None:
        if self._pos < len(self._buf) and self._buf[self._pos] not in _TYPE_BYTES:
            # Fail fast on garbage instead of waiting for a line end that may never come.
            kind = self._buf[self._pos]
            shown = chr(kind) if 32 <= kind < 127 else f"\\x{kind:02x}"
            raise ProtocolError(f'Protocol error, got "{shown}" as reply type byte')
        end = self._buf.find(b"\r\n", self._pos)
        if end < 0:
            if self._buf.find(b"\n", self._pos) >= 0:
                raise ProtocolError("Protocol error, line not terminated by CRLF")
            return None
        line = bytes(self._buf[self._pos : end])
        self._pos = end + 2
        return line

    def _parse(self) -> Reply | None:
        while True:
            value = self._parse_one()
            if value is None:
                return None
            # Bubble the finished value up through every frame it completes.
            while True:
                if not self._stack:
                    return value
                top = self._stack[-1]
                top.items.append(value)
                if len(top.items) < top.wanted:
                    break
                self._stack.pop()
                finished = self._close(top)
                if finished is None:  # an attribute header: wait for the reply it annotates
                    break
                value = finished

    def _close(self, frame: _Frame) -> Reply | None:
        kind = frame.kind
        result: Reply
        if kind == ord("|"):
            # The annotated reply comes next; a 1-slot frame will wrap it.
            self._stack.append(_Frame(kind=0, wanted=1, attr=_pairs(frame.items)))
            return None
        if kind == 0:
            assert frame.attr is not None
            return Attribute(frame.attr, frame.items[0])
        if kind == ord("*"):
            result = Array(tuple(frame.items))
        elif kind == ord("~"):
            result = Set(tuple(frame.items))
        elif kind == ord(">"):
            result = Push(tuple(frame.items))
        else:
            result = Map(_pairs(frame.items))
        return result

    def _parse_one(self) -> Reply | None:
        """Parse one scalar, or open aggregate frames until a scalar completes."""
        while True:
            if self._blob is not None:
                return self._finish_blob()
            line = self._line()
            if line is None:
                return None
            if not line:
                raise ProtocolError("Protocol error, empty line where a reply was expected")
            kind = line[0]
            rest = line[1:]
            if kind in _BLOB_TYPES:
                length = self._length(rest)
                if length < 0:
                    if kind == ord("$") and length == -1:
                        return NULL
                    raise ProtocolError(f"Protocol error, bad length {rest!r}")
                if length > MAX_BULK_LEN:
                    raise ProtocolError(f"Protocol error, bulk length {length} too large")
                self._blob = (kind, length)
                continue
            if kind in _AGGREGATE_TYPES:
                count = self._length(rest)
                if count < 0:
                    if kind == ord("*") and count == -1:
                        return NULL
                    raise ProtocolError(f"Protocol error, bad aggregate length {rest!r}")
                if count > MAX_AGGREGATE_LEN:
                    raise ProtocolError(f"Protocol error, aggregate length {count} too large")
                wanted = count * 2 if kind in (ord("%"), ord("|")) else count
                frame = _Frame(kind=kind, wanted=wanted)
                if wanted == 0:
                    empty = self._close(frame)
                    if empty is None:  # empty attribute: still wraps the next reply
                        continue
                    return empty
                self._stack.append(frame)
                continue
            return self._scalar(kind, rest)

    def _finish_blob(self) -> Reply | None:
        assert self._blob is not None
        kind, length = self._blob
        end = self._pos + length
        if len(self._buf) < end + 2:
            return None
        if self._buf[end : end + 2] != b"\r\n":
            raise ProtocolError("Protocol error, bulk payload not terminated by CRLF")
        data = bytes(self._buf[self._pos : end])
        self._pos = end + 2
        self._blob = None
        if kind == ord("$"):
            return Bulk(data)
        if kind == ord("!"):
            return Error(data)
        if len(data) < 4 or data[3:4] != b":":
            raise ProtocolError("Protocol error, verbatim string without format prefix")
        return Verbatim(data[:3], data[4:])

    @staticmethod
    def _length(text: bytes) -> int:
        try:
            if not text or text.strip() != text:
                raise ValueError
            return int(text)
        except ValueError:
            raise ProtocolError(f"Protocol error, bad length {text!r}") from None

    @staticmethod
    def _scalar(kind: int, rest: bytes) -> Reply:
        if kind == ord("+"):
            return SimpleString(rest)
        if kind == ord("-"):
            return Error(rest)
        if kind == ord(":"):
            try:
                if rest.strip() != rest:
                    raise ValueError
                return Integer(int(rest))
            except ValueError:
                raise ProtocolError(f"Protocol error, bad integer {rest!r}") from None
        if kind == ord("_"):
            if rest:
                raise ProtocolError("Protocol error, null with payload")
            return NULL
        if kind == ord("#"):
            if rest == b"t":
                return Boolean(True)
            if rest == b"f":
                return Boolean(False)
            raise ProtocolError(f"Protocol error, bad boolean {rest!r}")
        if kind == ord(","):
            try:
                if not rest or rest.strip() != rest:
                    raise ValueError
                return Double(float(rest), rest)
            except ValueError:
                raise ProtocolError(f"Protocol error, bad double {rest!r}") from None
        if kind == ord("("):
            digits = rest[1:] if rest[:1] in (b"-", b"+") else rest
            if not digits.isdigit():
                raise ProtocolError(f"Protocol error, bad big number {rest!r}")
            return BigNumber(int(rest), rest)
        shown = chr(kind) if 32 <= kind < 127 else f"\\x{kind:02x}"
        raise ProtocolError(f'Protocol error, got "{shown}" as reply type byte')
