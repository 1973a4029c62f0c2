"""Sans-I/O parser for client requests: RESP multibulk arrays and inline commands.

It follows Valkey's ``processMultibulkBuffer``/``processInlineBuffer``: the same limits,
the same error texts, and the same rule that a protocol error ends the connection
after its reply. The pure-Python parser here is the reference; ``hiredis_request``
wraps hiredis's C reader for speed and falls back to this one for every error.
"""

from __future__ import annotations

# Valkey's PROTO_INLINE_MAX_SIZE: the longest inline line or header we wait for.
INLINE_MAX_SIZE = 64 * 1024
# Limits for clients that have not authenticated yet (networking.c).
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384
INT_MAX = 2**31 - 1


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


def split_args(line: bytes) -> list[bytes] | None:
    """Split a line as Valkey's sdssplitargs: quotes, escapes; None on unbalanced quotes."""
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                ch = line[i]
                if (
                    ch == 92  # backslash
                    and i + 3 < n
                    and line[i + 1] == 120  # 'x'
                    and _ishex(line[i + 2])
                    and _ishex(line[i + 3])
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    c2 = line[i]
                    cur.append(_ESCAPES.get(c2, c2))
                elif ch == 34:  # closing quote must be followed by a space or end
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    inq = False
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
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    insq = False
                    i += 1
                    break
                else:
                    cur.append(ch)
            else:
                if i >= n:
                    break
                ch = line[i]
                if ch in b" \n\r\t\v\f":
                    break
                if ch == 34:
                    inq = True
                elif ch == 39:
                    insq = True
                else:
                    cur.append(ch)
            i += 1
        args.append(bytes(cur))


def _ishex(c: int) -> bool:
    return 48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70


_ESCAPES = {110: 10, 114: 13, 116: 9, 98: 8, 97: 7}


class RequestParser:
    """Feed bytes, get complete commands (lists of bytes arguments).

    ``feed`` returns the commands completed by the data; on a protocol error it
    raises ProtocolError after the commands that precede the bad one have been
    returned by earlier calls: callers process ``pending`` first (see ``feed``).
    """

    __slots__ = ("buf", "parts", "have", "need", "max_bulk", "authenticated", "error", "inline_seen")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self.buf = b""
        # While a large bulk payload arrives, chunks wait here unjoined until
        # ``need`` bytes are buffered, so a big value costs O(n), not O(n^2).
        self.parts: list[bytes] = []
        self.have = 0
        self.need = 0
        self.max_bulk = max_bulk
        # When False the stricter limits for unauthenticated clients apply.
        self.authenticated = True
        self.error: str | None = None
        self.inline_seen = False

    def pending_bytes(self) -> int:
        return self.have if self.parts else len(self.buf)

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Parse as many commands as possible.

        On a protocol error the commands before it are returned and ``error`` is
        set; the caller replies with it and closes the connection.
        """
        if self.need:
            if not self.parts:
                self.parts.append(self.buf)
            self.parts.append(data)
            self.have += len(data)
            if self.have < self.need:
                return []
            buf = b"".join(self.parts)
            self.parts = []
            self.need = 0
        else:
            buf = self.buf + data if self.buf else data
        out: list[list[bytes]] = []
        need = 0
        pos = 0
        n = len(buf)
        find = buf.find
        try:
            while pos < n:
                if buf[pos] == 42:  # '*'
                    nl = find(b"\r\n", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX_SIZE:
                            raise ProtocolError("Protocol error: too big mbulk count string")
                        break
                    count = parse_strict_int(buf[pos + 1 : nl])
                    if count is None or count > INT_MAX:
                        raise ProtocolError("Protocol error: invalid multibulk length")
                    if not self.authenticated and count > UNAUTH_MAX_MULTIBULK:
                        raise ProtocolError("Protocol error: unauthenticated multibulk length")
                    p = nl + 2
                    if count <= 0:
                        pos = p
                        continue
                    args: list[bytes] = []
                    complete = True
                    for _ in range(count):
                        if p >= n:
                            complete = False
                            break
                        nl = find(b"\r\n", p)
                        if nl < 0:
                            if n - p > INLINE_MAX_SIZE:
                                raise ProtocolError("Protocol error: too big bulk count string")
                            complete = False
                            break
                        if buf[p] != 36:  # '$'
                            raise ProtocolError(
                                "Protocol error: expected '$', got '%s'" % chr(buf[p])
                            )
                        ln = parse_strict_int(buf[p + 1 : nl])
                        if ln is None or ln < 0 or ln > self.max_bulk:
                            raise ProtocolError("Protocol error: invalid bulk length")
                        if not self.authenticated and ln > UNAUTH_MAX_BULK:
                            raise ProtocolError("Protocol error: unauthenticated bulk length")
                        start = nl + 2
                        end = start + ln
                        if end + 2 > n:
                            complete = False
                            need = end + 2 - pos
                            break
                        args.append(buf[start:end])
                        p = end + 2
                    if not complete:
                        break
                    out.append(args)
                    pos = p
                else:
                    nl = find(b"\n", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX_SIZE:
                            raise ProtocolError("Protocol error: too big inline request")
                        break
                    line = buf[pos:nl]
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    pos = nl + 1
                    self.inline_seen = True
                    argv = split_args(line)
                    if argv is None:
                        raise ProtocolError("Protocol error: unbalanced quotes in request")
                    if argv:
                        out.append(argv)
        except ProtocolError as e:
            self.error = str(e)
            self.buf = b""
            return out
        self.buf = buf[pos:] if pos < n else b""
        if need > INLINE_MAX_SIZE:
            self.need = need
            self.have = len(self.buf)
        return out
