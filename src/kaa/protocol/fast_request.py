"""Request parser on hiredis's C reader, exact to Valkey through the pure parser.

hiredis parses any RESP, not just Valkey's request grammar: it accepts simple
strings, RESP3 types and attributes where Valkey wants ``$``, and it would wait
for a 2 GB bulk that Valkey refuses at once. So the fast path trusts hiredis's
result only after one cheap, exact check: the canonical encoding of the commands
it returned (``hiredis.pack_command``, C code) must be a prefix of the bytes fed.
Canonical bytes parse the same way in Valkey, so the commands are right.

Where the optional compiled splitter (``kaa.protocol._multibulk``) was built, it
replaces hiredis here: it accepts only complete canonical commands and stops at
anything else, so no check is needed after it.

Everything else goes to the pure parser (``kaa.protocol.request``), which owns
every error text:

* a chunk that fails the check (or makes hiredis raise) is re-parsed whole by
  the pure parser; the hiredis reader was at a command boundary when the chunk
  arrived, and nothing from the chunk had been returned yet;
* the unfinished command at the end of a chunk is handed to the pure parser,
  which validates its headers as they arrive (early ``invalid bulk length``,
  ``too big ...`` errors, the query-buffer accounting) and gives control back at
  the next multibulk command boundary;
* inline commands and clients that have not authenticated always use it.

The hiredis reader is thus always empty between calls, and its bytes never need
to be recovered.
"""

from __future__ import annotations

import re

from hiredis import HiredisError, Reader, pack_command

from kaa.accel import optional
from kaa.protocol.request import RequestParser

_multibulk = optional("kaa.protocol._multibulk")  # None: not compiled, the hiredis path


class FastRequestParser:
    """Same interface as :class:`RequestParser` (feed, error, authenticated, max_bulk,
    held, pending_bytes)."""

    __slots__ = ("reader", "pure", "in_pure", "error", "held", "split_limit")

    # The compiled splitter, when built (tests also run the class without it).
    splitter = None if _multibulk is None else staticmethod(_multibulk.split_commands)

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self.reader = _new_reader()
        self.pure = RequestParser(max_bulk)
        self.in_pure = False  # the pure parser holds unfinished input
        self.error: str | None = None
        self.held = False
        # See RequestParser.split_limit; kept by _follow() after each change of state.
        self.split_limit = -1
        self._follow()

    def _follow(self) -> None:
        """Recompute ``split_limit``: the next read may go straight to the compiled
        splitter while nothing is held, nothing failed, the client authenticated and
        no private query buffer is being modelled."""
        pure = self.pure
        quick = (self.splitter is not None and not self.in_pure and self.error is None
                 and pure.authenticated and not pure.qb_alloc)
        self.split_limit = pure.max_bulk if quick else -1

    # The limits live on the pure parser, which applies them.
    @property
    def authenticated(self) -> bool:
        return self.pure.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self.pure.authenticated = value
        self._follow()

    @property
    def max_bulk(self) -> int:
        return self.pure.max_bulk

    @max_bulk.setter
    def max_bulk(self, value: int) -> None:
        self.pure.max_bulk = value
        self._follow()

    def pending_bytes(self) -> int:
        return self.pure.pending_bytes() if self.in_pure else 0

    def query_buffer_size(self) -> int:
        return self.pure.query_buffer_size()

    def resize_query_buffer(self, idle: float) -> None:
        self.pure.resize_query_buffer(idle)
        self._follow()

    def peek(self, n: int) -> bytes:
        return self.pure.peek(n) if self.in_pure else b""

    def feed(self, data: bytes) -> list[list[bytes]]:
        cmds = self._feed(data)
        self._follow()
        return cmds

    def split_rest(self, data: bytes, cmds: list[list[bytes]], end: int) -> list[list[bytes]]:
        """``data`` was split up to ``end`` (into ``cmds``) by the compiled splitter,
        here or by the caller (``split_limit``). The rest starts with an unfinished or
        unusual command: the pure parser takes it from its start and gives control back
        at the next multibulk command."""
        cmds.extend(self._pure_feed(data[end:] if end else data, True))
        self._follow()
        return cmds

    def _feed(self, data: bytes) -> list[list[bytes]]:
        pure = self.pure
        if self.in_pure or not pure.authenticated or self.error is not None:
            # Unauthenticated clients go one command at a time (``held``), never
            # stopping early for hiredis.
            return self._pure_feed(data, pure.authenticated)
        if self.splitter is not None:
            cmds, end = self.splitter(data, pure.max_bulk)
            if end == len(data):
                if pure.qb_alloc:  # a private query buffer's model sees the read
                    pure._account(end)
                return cmds
            return self.split_rest(data, cmds, end)
        if data.count(b"*") < 2:
            # At most one multibulk command (no pipeline): when the chunk is exactly
            # one command in canonical form, hiredis + pack_command prove it in a
            # third of the pure parser's time; anything else goes to the pure parser.
            if data[:1] == b"*" and 0 < data.find(b"\r") < 9 and len(data) <= pure.max_bulk:
                one = self._one_command(data)
                if one is not None:
                    return one
            cmds = pure.feed(data)
            if pure.buf or pure.mbulk or pure.need or pure.error is not None:
                return self._after_pure(cmds)
            return cmds
        # hiredis must not see a huge aggregate header, since it allocates the
        # list up front ("*2000000000" would cost gigabytes); the pure parser
        # refuses those without allocating. bytes.find is memchr, far cheaper
        # than one pass of translate() over the chunk.
        if _HUGE_ARRAY(data) is not None:
            return self._pure_feed(data, False)
        suspect = _suspect(data)
        if suspect and _HUGE_OTHER(data) is not None:
            return self._pure_feed(data, False)
        reader = self.reader
        reader.feed(data)
        try:
            out: list[list[bytes]] = list(iter(reader.gets, _NEED))
            if not out:  # only the start of a command: the pure parser follows it
                self.reader = _new_reader()
                return self._pure_feed(data, False)
            if not reader.has_data():
                # All bytes consumed, but maybe into a half-built command: a
                # probe "*0" comes back as [] only from a reader between commands.
                reader.feed(_PROBE)
                if reader.gets() == [] and not suspect:
                    # Only '*' and '$' headers can have made lists of bytes
                    # here; the join raises TypeError for any other element
                    # (nested array, integer, nil, error ...) or top-level
                    # reply, except an empty top-level bulk string.
                    _join(map(_join, out))
                    if len(data) > pure.max_bulk and _has_longer_arg(out, pure.max_bulk):
                        return self._fallback(data)
                    if not all(out):
                        if b"" in out:
                            return self._fallback(data)
                        out = [c for c in out if c]  # "*0": nothing to run, as in Valkey
                    return out
            # An unfinished command at the end, or bytes that may be other RESP
            # types: compare with the canonical encoding, which also tells where
            # the returned commands end.
            enc = _join(map(pack_command, map(tuple, out)))  # type: ignore[arg-type]
        except (HiredisError, TypeError):
            return self._fallback(data)
        n = len(enc)
        if n == len(data):
            if enc != data:
                return self._fallback(data)
            rest = b""
        elif data.startswith(enc):
            rest = data[n:]
        else:
            return self._fallback(data)
        self.reader = _new_reader()  # it holds part of a command, or the probe's leftovers
        if n > pure.max_bulk and _has_longer_arg(out, pure.max_bulk):
            return self._fallback(data)
        if [] in out:
            out = [c for c in out if c]
        if rest:
            out.extend(self._pure_feed(rest, False))
        return out

    def _one_command(self, data: bytes) -> list[list[bytes]] | None:
        """[argv] if data is one whole command in canonical encoding, else None (the
        reader is left empty either way). The count has at most 7 digits (checked by
        the caller), so hiredis allocates nothing large."""
        reader = self.reader
        reader.feed(data)
        try:
            cmd = reader.gets()
            if type(cmd) is list and cmd and not reader.has_data():
                # The canonical encoding decides for short commands. For longer ones
                # (pack_command costs ~0.09 us an argument), as for pipelines: with no
                # other RESP type byte, the headers were one '*' and '$', and the join
                # proves every argument is a bulk string.
                if len(cmd) < 5 or _suspect(data):
                    ok = pack_command(tuple(cmd)) == data
                else:
                    _join(cmd)
                    ok = True
                if ok:
                    pure = self.pure
                    if pure.qb_alloc:  # a private query buffer's model sees the read
                        pure._account(len(data))
                    return [cmd]
                self.reader = _new_reader()
                return None
        except (HiredisError, TypeError):
            pass
        self.reader = _new_reader()
        return None

    def _fallback(self, data: bytes) -> list[list[bytes]]:
        """hiredis saw something unusual: the pure parser decides, from the chunk start."""
        self.reader = _new_reader()
        return self._pure_feed(data, False)

    def _pure_feed(self, data: bytes, stop: bool) -> list[list[bytes]]:
        return self._after_pure(self.pure.feed(data, stop))

    def _after_pure(self, cmds: list[list[bytes]]) -> list[list[bytes]]:
        """Follow the pure parser's state: keep it in charge or give hiredis the rest."""
        pure = self.pure
        self.held = pure.held
        if pure.error is not None:
            self.error = pure.error
            self.in_pure = False
            return cmds
        if not pure.authenticated or pure.mbulk or pure.need:
            self.in_pure = True
        elif pure.stopped:
            # Stopped before a multibulk command: hiredis takes over from there.
            self.in_pure = False
            cmds.extend(self._feed(pure.take_rest()))
        else:
            self.in_pure = bool(pure.buf)  # an unfinished inline line or header
        return cmds


# What gets() returns when no complete reply is buffered (a unique object, so
# that iter() does not stop at a reply equal to False, such as 0).
_NEED = object()


def _new_reader() -> Reader:
    return Reader(notEnoughData=_NEED)


# "*0\r\n": an empty command, which a reader between commands returns as [].
_PROBE = b"*0\r\n"
# Type bytes that hiredis turns into bytes or lists like a bulk string or an
# array would be: simple string, verbatim, big number, set, push, attribute, map.

# A count of 7 digits or more after '*' or a suspect type byte.
_HUGE_ARRAY = re.compile(rb"\*[0-9]{7}").search
_HUGE_OTHER = re.compile(rb"[+=(~>|%][0-9]{7}").search
_join = b"".join


def _suspect(data: bytes) -> bool:
    """Whether data holds a RESP type byte other than '*', '$' (or a digit-led header)."""
    find = data.find
    return (find(b"+") >= 0 or find(b"%") >= 0 or find(b"~") >= 0 or find(b"=") >= 0
            or find(b">") >= 0 or find(b"|") >= 0 or find(b"(") >= 0)


def _has_longer_arg(cmds: list[list[bytes]], limit: int) -> bool:
    return any(len(a) > limit for c in cmds for a in c)
