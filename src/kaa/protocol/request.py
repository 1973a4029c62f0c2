"""Sans-I/O parser for client requests: RESP multibulk arrays and inline commands.

It follows Valkey's ``processMultibulkBuffer``/``processInlineBuffer`` (networking.c)
byte for byte: the same limits, the same error texts, and the same quirks, because
clients and test suites see them:

* a header line ends at the first ``\\r`` and the byte after it is skipped unread;
  the two bytes after a bulk payload are skipped unread too;
* the search for a line end stops at a NUL byte (Valkey uses ``strchr`` on the
  query buffer), so a NUL before the line end means "wait for more data" until the
  unparsed buffer passes 64 KiB, when it becomes a "too big" error;
* counts <= 0 and empty inline lines are skipped silently;
* clients that have not authenticated are parsed one command at a time (Valkey
  re-checks authentication before each command), with tighter limits.

A multibulk command keeps its progress between calls (arguments read so far,
the pending bulk length), so a huge command arriving in pieces costs linear time;
a large bulk payload is collected as a list of chunks and joined once.

The pure-Python parser here is the reference; ``kaa.protocol.fast_request`` wraps
hiredis's C reader for speed and falls back to this one for everything unusual.
"""

from __future__ import annotations

import os

# Valkey's PROTO_INLINE_MAX_SIZE: the longest inline line or header we wait for.
INLINE_MAX_SIZE = 64 * 1024
# Limits for clients that have not authenticated yet (networking.c).
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384
INT_MAX = 2**31 - 1
# A pending bulk payload at least this big is collected as unjoined chunks.
_BIG_PAYLOAD = 32 * 1024

# Valkey's PROTO_MBULK_BIG_ARG, and the usable size of its shared read buffer.
_BIG_ARG = 32 * 1024
_SHARED_QB = 20474


def _usable(n: int) -> int:
    """Usable bytes of an sds string asking for ``n`` (jemalloc-like size classes)."""
    if n <= 0:
        return 0
    need = n + 4  # sds header and terminator
    if need <= 16:
        return 16 - 4
    step = 1 << max(need.bit_length() - 3, 2)  # four size classes per doubling
    return ((need + step - 1) // step) * step - 4


# Canonical spellings of small lengths: one dict lookup instead of a parse.
_SMALL_INTS = {str(i).encode(): i for i in range(10000)}

ERR_TOO_BIG_INLINE = "Protocol error: too big inline request"
ERR_TOO_BIG_MBULK = "Protocol error: too big mbulk count string"
ERR_INVALID_MBULK = "Protocol error: invalid multibulk length"
ERR_UNAUTH_MBULK = "Protocol error: unauthenticated multibulk length"
ERR_UNAUTH_BULK = "Protocol error: unauthenticated bulk length"
ERR_TOO_BIG_BULK = "Protocol error: too big bulk count string"
ERR_INVALID_BULK = "Protocol error: invalid bulk length"
ERR_QUOTES = "Protocol error: unbalanced quotes in request"

# The short reason Valkey writes to its log for each error (setProtocolError).
LOG_REASONS = {
    ERR_TOO_BIG_INLINE: "too big inline request",
    ERR_TOO_BIG_MBULK: "too big mbulk count string",
    ERR_INVALID_MBULK: "invalid mbulk count",
    ERR_UNAUTH_MBULK: "unauth mbulk count",
    ERR_UNAUTH_BULK: "unauth bulk length",
    ERR_TOO_BIG_BULK: "too big bulk count string",
    ERR_INVALID_BULK: "invalid bulk length",
    ERR_QUOTES: "unbalanced quotes in inline request",
}


def log_reason(error: str) -> str:
    """The short text Valkey logs for a protocol error reply."""
    return LOG_REASONS.get(error, "expected $ but got something else")


def parser_class() -> type[RequestParser]:
    """The request parser the server uses: the hiredis-based one when hiredis imports,
    unless the environment sets ``KAA_PURE_PARSER=1`` (tests run both)."""
    if os.environ.get("KAA_PURE_PARSER", "") not in ("", "0"):
        return RequestParser
    try:
        from kaa.protocol.fast_request import FastRequestParser
    except ImportError:
        return RequestParser
    return FastRequestParser  # type: ignore[return-value]


class ProtocolError(Exception):
    """A request that breaks the protocol; str() is the text after ``-ERR ``."""


def parse_strict_int(s: bytes) -> int | None:
    """Parse an integer as Valkey's string2ll does: no spaces, no '+', no leading zeros."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    if s == b"0":
        return 0
    i = 1 if s[0] == 45 else 0  # '-'
    if i == n or not (49 <= s[i] <= 57):
        return None
    for ch in s[i + 1 :]:
        if not (48 <= ch <= 57):
            return None
    v = int(s)
    if v < -(2**63) or v > 2**63 - 1:
        return None
    return v


# sdssplitargs: blanks skipped before a token are isspace() (C locale), but an
# unquoted token ends only at space, \n, \r, \t (or NUL): \v and \f stay inside it.
_BLANKS = frozenset(b" \t\n\r\v\f")
_TOKEN_END = frozenset(b" \n\r\t\0")
_ESCAPES = {110: 10, 114: 13, 116: 9, 98: 8, 97: 7}  # \n \r \t \b \a
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split_args(line: bytes) -> list[bytes] | None:
    """Split a line as Valkey's sdssplitargs: quotes, escapes; None on unbalanced quotes.

    The line is read as a C string: it ends at the first NUL byte.
    """
    z = line.find(b"\0")
    if z >= 0:
        line = line[:z]
    if 34 not in line and 39 not in line:  # no quotes: a plain split
        return _plain_split(line)
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _BLANKS:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None  # unterminated quotes
                ch = line[i]
                if ch == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    c2 = line[i]
                    cur.append(_ESCAPES.get(c2, c2))
                elif ch == 34:
                    # a closing quote must be followed by a blank or the end
                    if i + 1 < n and line[i + 1] not in _BLANKS:
                        return None
                    i += 1
                    break
                else:
                    cur.append(ch)
            elif insq:
                if i >= n:
                    return None
                ch = line[i]
                if ch == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif ch == 39:
                    if i + 1 < n and line[i + 1] not in _BLANKS:
                        return None
                    i += 1
                    break
                else:
                    cur.append(ch)
            else:
                if i >= n:
                    break
                ch = line[i]
                if ch in _TOKEN_END:
                    break
                if ch == 34:
                    inq = True
                elif ch == 39:
                    insq = True
                else:
                    cur.append(ch)
            i += 1
        args.append(bytes(cur))


def _plain_split(line: bytes) -> list[bytes]:
    # Without quotes the rules reduce to: tokens are runs of bytes other than
    # space/\t/\n/\r; a \v or \f is a separator only where a token would start.
    if b"\v" not in line and b"\f" not in line:
        return line.split()  # bytes.split() splits on exactly these four then
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _BLANKS:
            i += 1
        if i >= n:
            return args
        j = i
        while j < n and line[j] not in _TOKEN_END:
            j += 1
        args.append(line[i:j])
        i = j


class RequestParser:
    """Feed bytes, get complete commands (lists of bytes arguments).

    ``feed`` returns the commands completed by the data. On a protocol error it
    returns the commands before the bad one and sets ``error`` (the text after
    ``-ERR``); the caller runs those commands, replies with the error and closes.
    While ``authenticated`` is False at most one command is returned per call and
    ``held`` tells the caller to call ``feed(b"")`` again after running it.
    """

    __slots__ = (
        "buf", "args", "mbulk", "bulklen", "parts", "have", "need",
        "max_bulk", "authenticated", "error", "held", "stopped", "qb_alloc", "qb_peak",
    )

    # May hold unparsed bytes (FastRequestParser clears it while it holds none):
    # Client.data_received asks pending_bytes() only while this is set.
    in_pure = True
    # When >= 0, Client.data_received may split a read with the compiled splitter
    # itself (bulk limit ``split_limit``) and call ``split_rest`` for what it leaves;
    # never for this parser.
    split_limit = -1

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        # Unparsed bytes; inside a multibulk command they start at the next header
        # (or at the pending payload when ``bulklen`` >= 0).
        self.buf = b""
        self.args: list[bytes] = []  # arguments of the command in progress
        self.mbulk = 0  # arguments still to read (0: between commands)
        self.bulklen = -1  # length of the payload at buf[0], once its header is read
        # A large payload in progress: chunks wait here unjoined until ``need``
        # bytes are buffered, so a big value costs O(n), not O(n^2).
        self.parts: list[bytes] = []
        self.have = 0
        self.need = 0
        self.max_bulk = max_bulk
        # When False the stricter limits for unauthenticated clients apply.
        self.authenticated = True
        self.error: str | None = None
        self.held = False
        # Set when ``feed(..., stop_at_multibulk=True)`` stopped before a multibulk.
        self.stopped = False
        # A model of Valkey's private query buffer, for CLIENT LIST's qbuf-free and
        # the cron that shrinks it: its allocation (0: the client reads into the
        # shared buffer) and the peak use since the last cron run.
        self.qb_alloc = 0
        self.qb_peak = 0

    def split_rest(self, data: bytes, cmds: list[list[bytes]], end: int) -> list[list[bytes]]:
        """``cmds`` came from splitting ``data`` up to ``end`` elsewhere: parse the rest."""
        cmds.extend(self.feed(data[end:]))
        return cmds

    def pending_bytes(self) -> int:
        """Bytes received but not yet parsed (what Valkey's query buffer holds)."""
        return self.have if self.need else len(self.buf)

    def peek(self, n: int) -> bytes:
        """The first ``n`` unparsed bytes (for log lines)."""
        if self.need:
            return b"".join(self.parts)[:n] if len(self.parts[0]) < n else self.parts[0][:n]
        return self.buf[:n]

    def at_boundary(self) -> bool:
        """True between commands (no multibulk command partly read)."""
        return self.mbulk == 0 and not self.need

    def take_rest(self) -> bytes:
        """Hand over the unparsed bytes; only valid at a command boundary."""
        rest = self.buf
        self.buf = b""
        return rest

    def feed(self, data: bytes, stop_at_multibulk: bool = False) -> list[list[bytes]]:
        """Parse as many commands as possible.

        With ``stop_at_multibulk`` parsing stops before a multibulk command that
        starts after the first parsed byte (the fast parser takes over there).
        """
        out: list[list[bytes]] = []
        self.held = self.stopped = False
        if self.error is not None:
            return out
        if self.need:
            self.parts.append(data)
            self.have += len(data)
            if self.have < self.need:
                if self.have > self.qb_peak:
                    self.qb_peak = self.have
                return out
            buf = b"".join(self.parts)
            self.parts = []
            self.need = self.have = 0
        elif self.buf:
            buf = self.buf + data if data else self.buf
        else:
            buf = data
        n = len(buf)
        pos = 0
        mbulk = self.mbulk
        bulklen = self.bulklen
        args = self.args
        find = buf.find
        max_bulk = self.max_bulk
        ints = _SMALL_INTS if max_bulk >= 10000 else {}
        unauth = not self.authenticated
        err: str | None = None
        while pos < n:
            if not mbulk:
                # ---- a new command: multibulk or inline --------------------
                if unauth and out:
                    self.held = True
                    break
                if buf[pos] == 42:  # '*'
                    if stop_at_multibulk and pos:
                        self.stopped = True
                        break
                    nl = find(b"\r", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX_SIZE:
                            err = ERR_TOO_BIG_MBULK
                        break
                    if nl + 1 >= n:  # the byte after '\r' is needed too
                        break
                    count = ints.get(buf[pos + 1 : nl])
                    if count is None:
                        count = parse_strict_int(buf[pos + 1 : nl])
                        if count is None or count > INT_MAX:
                            if buf.find(b"\0", pos, nl) >= 0:  # strchr stopped there
                                if n - pos > INLINE_MAX_SIZE:
                                    err = ERR_TOO_BIG_MBULK
                                break
                            err = ERR_INVALID_MBULK
                            break
                    if unauth and count > UNAUTH_MAX_MULTIBULK:
                        err = ERR_UNAUTH_MBULK
                        break
                    pos = nl + 2
                    if count <= 0:
                        continue
                    mbulk = count
                    args = []
                else:
                    nl = find(b"\n", pos)
                    if nl >= 0 and buf.find(b"\0", pos, nl) >= 0:
                        nl = -1  # strchr stops at the NUL: no line end yet
                    if nl < 0:
                        if n - pos > INLINE_MAX_SIZE:
                            err = ERR_TOO_BIG_INLINE
                        break
                    end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                    argv = split_args(buf[pos:end])
                    if argv is None:
                        err = ERR_QUOTES
                        break
                    pos = nl + 1
                    if argv:
                        out.append(argv)
                    continue
            # ---- the arguments of a multibulk command -----------------------
            while mbulk:
                if bulklen < 0:
                    if pos >= n:
                        break
                    nl = find(b"\r", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX_SIZE:
                            err = ERR_TOO_BIG_BULK
                        break
                    if nl + 1 >= n:
                        break
                    if buf[pos] != 36:  # '$'
                        if buf.find(b"\0", pos, nl) >= 0:
                            if n - pos > INLINE_MAX_SIZE:
                                err = ERR_TOO_BIG_BULK
                            break
                        # the raw byte, as Valkey's %c (surrogateescape keeps it raw)
                        got = buf[pos : pos + 1].decode("utf-8", "surrogateescape")
                        err = f"Protocol error: expected '$', got '{got}'"
                        break
                    ln = ints.get(buf[pos + 1 : nl])
                    if ln is None:
                        ln = parse_strict_int(buf[pos + 1 : nl])
                        if ln is None or ln < 0 or ln > max_bulk:
                            if buf.find(b"\0", pos, nl) >= 0:
                                if n - pos > INLINE_MAX_SIZE:
                                    err = ERR_TOO_BIG_BULK
                                break
                            err = ERR_INVALID_BULK
                            break
                    if unauth and ln > UNAUTH_MAX_BULK:
                        err = ERR_UNAUTH_BULK
                        break
                    pos = nl + 2
                    bulklen = ln
                end = pos + bulklen
                if end + 2 > n:
                    break
                args.append(buf[pos:end])
                pos = end + 2
                if bulklen >= _BIG_ARG and pos >= n:
                    # Valkey hands its buffer to a fat argument and allocates a new
                    # one of the same size ("we'll likely see another one")
                    self.qb_alloc = _usable(bulklen + 2)
                bulklen = -1
                mbulk -= 1
            if mbulk:
                break  # the command is incomplete (or an error was found)
            out.append(args)
        if err is not None:
            self.error = err
            self.buf = b""
            self.args = []
            self.mbulk = 0
            return out
        self.mbulk = mbulk
        self.bulklen = bulklen
        self.args = args if mbulk else []
        rest = buf[pos:] if pos else buf
        if bulklen >= 0 and bulklen + 2 - len(rest) >= _BIG_PAYLOAD:
            self.parts = [rest]
            self.have = len(rest)
            self.need = bulklen + 2
            self.buf = b""
        else:
            self.buf = rest if pos < n else b""
        if self.qb_alloc or pos < n or mbulk:
            self._account(n)
        return out

    # ---- Valkey's query buffer, as a model -----------------------------------
    def _account(self, seen: int) -> None:
        """After a read of ``seen`` buffered bytes: grow or take a private buffer."""
        if seen > self.qb_peak:
            self.qb_peak = seen
        left = self.pending_bytes()
        if self.qb_alloc == 0:
            if left:  # the client keeps the shared buffer it read into
                self.qb_alloc = max(_SHARED_QB, _usable(seen))
        elif seen > self.qb_alloc:
            self.qb_alloc = _usable(seen * 2 if seen < 1024 * 1024 else seen + 1024 * 1024)
        if self.bulklen >= _BIG_ARG:  # room made for the whole fat argument
            want = self.bulklen + 2
            if want > self.qb_alloc:
                self.qb_alloc = _usable(want)
            if want > self.qb_peak:
                self.qb_peak = want

    def query_buffer_size(self) -> int:
        """qbuf + qbuf-free as CLIENT LIST shows them (0 while on the shared buffer)."""
        return max(self.qb_alloc, self.pending_bytes())

    def resize_query_buffer(self, idle: float) -> None:
        """Valkey's clientsCronResizeQueryBuffer, run by the server cron."""
        used = self.pending_bytes()
        if self.qb_alloc and self.qb_alloc - used > 4096:
            if idle > 2:
                self.qb_alloc = _usable(used) if used else 0
            elif self.qb_alloc > 32 * 1024 and self.qb_alloc // 2 > self.qb_peak:
                size = max(used, self.qb_peak)
                if self.bulklen >= 0:
                    size = max(size, self.bulklen + 2)
                self.qb_alloc = _usable(size)
        self.qb_peak = used
        if self.bulklen >= 0 and self.bulklen + 2 > used:
            self.qb_peak = self.bulklen + 2
