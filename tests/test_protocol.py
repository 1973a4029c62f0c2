"""The request protocol over raw sockets: Valkey's error texts and quirks, inline
commands, pipelines, split writes, big payloads, limits, RESP3 reply shapes.

Every test runs against three servers (tests.support.servers.BUILDS): with the
compiled splitter, with the hiredis-based parser, and with KAA_PURE_PARSER=1, so all
parsers must behave identically. The expected bytes
were checked against a real Valkey 8.0 server.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from tests.support.servers import BUILDS, ServerProcess, kaa_of_build

# ---------------------------------------------------------------------------- helpers


@contextmanager
def _env(**kv: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in kv}
    os.environ.update(kv)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module", params=list(BUILDS))
def srv(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A private server per parser kind (tests here change its config)."""
    yield from kaa_of_build(request.param)


@pytest.fixture()
def r(srv: ServerProcess) -> Iterator[redis.Redis]:
    c = redis.Redis(port=srv.port, socket_timeout=10)
    c.flushall()
    yield c
    c.close()


def enc(*args: bytes) -> bytes:
    """A canonical RESP multibulk command."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class Raw:
    """A raw socket to the server: send bytes, read what comes back."""

    def __init__(self, port: int) -> None:
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def read_until(self, want: bytes, timeout: float = 5.0) -> bytes:
        """Read until ``want`` has arrived (or EOF/timeout); return everything so far."""
        deadline = time.monotonic() + timeout
        while want not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.s.settimeout(left)
            try:
                d = self.s.recv(1 << 20)
            except TimeoutError:
                break
            except ConnectionResetError:
                self.eof = True
                break
            if not d:
                self.eof = True
            self.buf += d
        return self.buf

    def read_n(self, n: int, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n and not self.eof and time.monotonic() < deadline:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = self.s.recv(1 << 20)
            except TimeoutError:
                break
            if not d:
                self.eof = True
            self.buf += d
        return self.buf

    def quiet(self, wait: float = 0.3) -> bytes:
        """Everything that arrives within ``wait`` seconds."""
        end = time.monotonic() + wait
        while not self.eof:
            left = end - time.monotonic()
            if left <= 0:
                break
            self.s.settimeout(left)
            try:
                d = self.s.recv(1 << 20)
            except TimeoutError:
                break
            except ConnectionResetError:
                self.eof = True
                break
            if not d:
                self.eof = True
            self.buf += d
        return self.buf

    def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection."""
        self.read_until(b"\x00never\x00", timeout)
        return self.eof

    def close(self) -> None:
        self.s.close()


@pytest.fixture()
def raw(srv: ServerProcess) -> Iterator[Raw]:
    c = Raw(srv.port)
    yield c
    c.close()


def exchange(port: int, data: bytes, wait: float = 0.3) -> bytes:
    c = Raw(port)
    try:
        c.send(data)
        return c.quiet(wait)
    finally:
        c.close()


def error_and_close(port: int, data: bytes, error: bytes) -> None:
    c = Raw(port)
    try:
        c.send(data)
        got = c.read_until(error + b"\r\n")
        assert got.endswith(b"-ERR Protocol error: " + error + b"\r\n"), got
        assert c.closed(), "connection must close after a protocol error"
    finally:
        c.close()


# ------------------------------------------------------------------- Valkey's errors


def test_empty_query_then_ping(raw: Raw) -> None:
    raw.send(b"\r\n")
    raw.send(b"PING\r\n")
    assert raw.read_until(b"\r\n") == b"+PONG\r\n"


def test_negative_and_zero_multibulk_are_skipped(raw: Raw) -> None:
    raw.send(b"*-10\r\n*0\r\n*-1\r\n")
    raw.send(enc(b"PING"))
    assert raw.read_until(b"\r\n") == b"+PONG\r\n"


def test_out_of_range_multibulk_length(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*3000000000\r\n", b"invalid multibulk length")


@pytest.mark.parametrize("count", [b"01", b"+1", b" 1", b"1 ", b"x", b"", b"-", b"99999999999999999999999"])
def test_non_canonical_multibulk_length(srv: ServerProcess, count: bytes) -> None:
    error_and_close(srv.port, b"*" + count + b"\r\n$4\r\nPING\r\n", b"invalid multibulk length")


def test_wrong_multibulk_payload_header(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", b"expected '$', got 'f'")


def test_negative_multibulk_payload_length(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", b"invalid bulk length")


def test_out_of_range_payload_length_is_refused_before_the_payload(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", b"invalid bulk length")


@pytest.mark.parametrize("ln", [b"blabla", b"04", b"-0", b"+4", b"4 ", b"-1", b""])
def test_bad_payload_lengths(srv: ServerProcess, ln: bytes) -> None:
    error_and_close(srv.port, b"*1\r\n$" + ln + b"\r\nPING\r\n", b"invalid bulk length")


def test_multibulk_not_followed_by_bulk(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*1\r\nfoo\r\n", b"expected '$', got 'f'")


@pytest.mark.parametrize("elem", [b"+PING", b":1", b"-ERR", b"*1", b"=8\r\ntxt:PING", b"(12", b"_", b"#t", b",1.5", b"%1", b"~1", b">1", b"|1"])
def test_resp3_types_are_not_request_elements(srv: ServerProcess, elem: bytes) -> None:
    error_and_close(srv.port, b"*1\r\n" + elem + b"\r\n", b"expected '$', got '%s'" % elem[:1])


def test_generic_wrong_number_of_args(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'ping' command"):
        r.execute_command("PING", "x", "y", "z")


def test_unbalanced_quotes(srv: ServerProcess) -> None:
    error_and_close(srv.port, b'set """test-key""" test-value\r\nping\r\n', b"unbalanced quotes in request")


@pytest.mark.parametrize("line", [b'ECHO "a"b', b"ECHO 'a'b", b'ECHO "abc', b"ECHO 'abc", b'ECHO "a" "b"x'])
def test_unbalanced_quote_variants(srv: ServerProcess, line: bytes) -> None:
    error_and_close(srv.port, line + b"\r\n", b"unbalanced quotes in request")


def test_commands_before_an_error_run_and_reply(srv: ServerProcess, r: redis.Redis) -> None:
    got = exchange(srv.port, enc(b"SET", b"k", b"v") + b"PING\r\n*1\r\n$x\r\n" + enc(b"SET", b"k", b"w"))
    assert got == b"+OK\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    assert r.get("k") == b"v"


@pytest.mark.parametrize("start", [b"\x00", b"*\x00", b"$\x00"])
def test_protocol_desync_ends_with_an_error(srv: ServerProcess, start: bytes) -> None:
    c = Raw(srv.port)
    try:
        c.send(start)
        sent = 0
        while not c.eof and sent < 200_000:
            try:
                c.send(b"A" * 1024)
            except OSError:
                break
            sent += 1024
            c.quiet(0.0)
        got = c.read_until(b"\r\n")
        assert b"-ERR Protocol error: too big" in got, got
        assert c.closed()
    finally:
        c.close()


def test_too_big_inline_request(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"PING " + b"x" * (64 * 1024 + 10), b"too big inline request")


def test_too_big_mbulk_count_string(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*1" + b"1" * (64 * 1024 + 10), b"too big mbulk count string")


def test_too_big_bulk_count_string(srv: ServerProcess) -> None:
    error_and_close(srv.port, b"*1\r\n$1" + b"1" * (64 * 1024 + 10), b"too big bulk count string")


def test_long_inline_line_below_the_limit_is_fine(raw: Raw) -> None:
    raw.send(b"ECHO " + b"x" * 60000 + b"\r\n")
    assert raw.read_until(b"x\r\n") == b"$60000\r\n" + b"x" * 60000 + b"\r\n"


# ------------------------------------------------------------------- Valkey's quirks


def test_header_line_ends_at_cr_and_skips_one_byte(raw: Raw) -> None:
    # Valkey stops a header at the first '\r' and skips the next byte unread.
    raw.send(b"*1\rX$4\rYPING\r\n")
    assert raw.read_until(b"\r\n") == b"+PONG\r\n"


def test_bytes_after_a_payload_are_skipped_unread(raw: Raw) -> None:
    raw.send(b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n")
    assert raw.read_until(b"+PONG\r\n+PONG\r\n") == b"+PONG\r\n+PONG\r\n"


def test_nul_before_line_end_means_wait(raw: Raw) -> None:
    # Valkey searches line ends with strchr, which stops at a NUL byte.
    raw.send(b"PING\x00\r\nPING\r\n")
    assert raw.quiet(0.3) == b""
    assert not raw.eof


def test_nul_in_bulk_header_means_wait(raw: Raw) -> None:
    raw.send(b"*1\r\n$4\x00\r\nPING\r\n")
    assert raw.quiet(0.3) == b""
    assert not raw.eof


def test_nul_inside_payload_is_data(raw: Raw) -> None:
    raw.send(enc(b"ECHO", b"a\x00\r\nb"))
    assert raw.read_until(b"b\r\n") == b"$5\r\na\x00\r\nb\r\n"


def test_top_level_non_star_is_inline(raw: Raw) -> None:
    raw.send(b"~1\r\n$4\r\nPING\r\n")
    want = (
        b"-ERR unknown command '~1', with args beginning with: \r\n"
        b"-ERR unknown command '$4', with args beginning with: \r\n+PONG\r\n"
    )
    assert raw.read_until(b"+PONG\r\n") == want


def test_empty_bulk_argument(raw: Raw) -> None:
    raw.send(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")
    assert raw.read_until(b"\r\n\r\n") == b"$0\r\n\r\n"


# ------------------------------------------------------------------- inline commands


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"ECHO a\x0bb", b"$3\r\na\x0bb\r\n"),  # \v ends no unquoted token
        (b'ECHO "a"\x0b', b"$1\r\na\r\n"),  # but is a blank after a quote
        (b"ECHO 'a\\'b'", b"$3\r\na'b\r\n"),
        (b'ECHO "\\x41\\x4g\\n"', b"$5\r\nAx4g\n\r\n"),
        (b'ECHO "a\\tb\\rc\\\\d\\"e"', b'$9\r\na\tb\rc\\d"e\r\n'),
        (b'ECHO ab"c d"', b"$5\r\nabc d\r\n"),
        (b"ECHO ''", b"$0\r\n\r\n"),
        (b"ECHO 'a b'", b"$3\r\na b\r\n"),
        (b"   PING   x   ", b"$1\r\nx\r\n"),
        (b"\tPING\t", b"+PONG\r\n"),
    ],
)
def test_inline_quoting(raw: Raw, line: bytes, reply: bytes) -> None:
    raw.send(line + b"\r\n")
    assert raw.read_until(b"\r\n" if reply.startswith((b"+", b"-")) else reply) == reply


def test_inline_line_endings_and_blank_lines(raw: Raw) -> None:
    raw.send(b"\n\n\r\n   \r\nPING\nPING\r\n")
    assert raw.read_until(b"+PONG\r\n+PONG\r\n") == b"+PONG\r\n+PONG\r\n"


def test_inline_set_get_roundtrip(raw: Raw, r: redis.Redis) -> None:
    raw.send(b'SET "key with space" "v\\x00\\n"\r\nGET "key with space"\r\n')
    assert raw.read_until(b"\n\r\n") == b"+OK\r\n$3\r\nv\x00\n\r\n"
    assert r.get("key with space") == b"v\x00\n"


# ------------------------------------------------------------------- pipelines, splits


def test_pipeline_of_10000_multibulk_commands_in_one_write(raw: Raw, r: redis.Redis) -> None:
    cmds = b"".join(enc(b"SET", b"key:%06d" % i, b"v%d" % i) for i in range(10000))
    raw.send(cmds + enc(b"DBSIZE"))
    want = b"+OK\r\n" * 10000 + b":10000\r\n"
    assert raw.read_n(len(want)) == want
    assert r.get("key:009999") == b"v9999"


def test_pipeline_of_10000_inline_commands_in_one_write(raw: Raw) -> None:
    raw.send(b"PING\r\n" * 10000)
    want = b"+PONG\r\n" * 10000
    assert raw.read_n(len(want)) == want


def test_mixed_inline_and_multibulk_pipeline(raw: Raw) -> None:
    one = enc(b"ECHO", b"m") + b"ECHO i\r\n" + b"\r\n" + enc(b"PING")
    raw.send(one * 3000)
    want = b"$1\r\nm\r\n$1\r\ni\r\n+PONG\r\n" * 3000
    assert raw.read_n(len(want)) == want


def test_commands_split_byte_by_byte(raw: Raw) -> None:
    stream = enc(b"SET", b"k", b"hello\r\nworld") + b"GET k\r\n" + enc(b"STRLEN", b"k") + b"ECHO 'a b'\n"
    for i in range(len(stream)):
        raw.send(stream[i : i + 1])
        if i % 7 == 0:
            time.sleep(0.001)
    want = b"+OK\r\n$12\r\nhello\r\nworld\r\n:12\r\n$3\r\na b\r\n"
    assert raw.read_until(b"a b\r\n") == want


def test_huge_bulk_announced_then_sent_slowly(raw: Raw, r: redis.Redis) -> None:
    size = 3 * 1024 * 1024
    raw.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
    chunk = b"0123456789abcdef" * 4096  # 64 KiB
    for i in range(size // len(chunk)):
        raw.send(chunk)
        if i % 8 == 0:
            time.sleep(0.01)
            assert raw.quiet(0.0) == b""  # nothing replied before the payload ends
    raw.send(b"\r\n" + enc(b"STRLEN", b"big"))
    assert raw.read_until(b":%d\r\n" % size) == b"+OK\r\n:%d\r\n" % size
    assert r.getrange("big", size - 16, -1) == b"0123456789abcdef"


def test_many_arguments(r: redis.Redis) -> None:
    args: list[str] = []
    for i in range(10000):
        args += [f"k{i}", "v"]
    args += ["{k}2", "v2"]
    assert r.execute_command("MSET", *args)
    assert r.get("{k}2") == b"v2"


# ------------------------------------------------------------------- limits


def test_proto_max_bulk_len_applies_to_existing_clients(srv: ServerProcess, r: redis.Redis) -> None:
    c = Raw(srv.port)  # connected before the change
    try:
        assert r.config_set("proto-max-bulk-len", "1mb")
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (1024 * 1024 + 1))
        assert c.read_until(b"\r\n").startswith(b"-ERR Protocol error: invalid bulk length")
        assert c.closed()
        # exactly the limit is allowed
        ok = Raw(srv.port)
        try:
            ok.send(enc(b"SET", b"k", b"x" * 1024 * 1024) + enc(b"STRLEN", b"k"))
            assert ok.read_until(b":1048576\r\n") == b"+OK\r\n:1048576\r\n"
        finally:
            ok.close()
    finally:
        c.close()
        r.config_set("proto-max-bulk-len", str(512 * 1024 * 1024))


@pytest.fixture()
def with_password(r: redis.Redis) -> Iterator[redis.Redis]:
    """requirepass set; ``r`` stays authenticated (it connected before)."""
    r.ping()
    r.config_set("requirepass", "pw")
    yield r
    r.config_set("requirepass", "")


def test_unauthenticated_multibulk_limit(srv: ServerProcess, with_password: redis.Redis) -> None:
    error_and_close(srv.port, b"*11\r\n", b"unauthenticated multibulk length")


def test_unauthenticated_bulk_limit(srv: ServerProcess, with_password: redis.Redis) -> None:
    error_and_close(srv.port, b"*10\r\n$16385\r\n", b"unauthenticated bulk length")


def test_unauthenticated_limits_allow_the_maximum(srv: ServerProcess, with_password: redis.Redis) -> None:
    got = exchange(srv.port, enc(b"ECHO", b"x" * 16384) + enc(b"PING", *[b"a"] * 9))
    assert got == b"-NOAUTH Authentication required.\r\n" * 2


def test_unauthenticated_limits_are_checked_per_command(srv: ServerProcess, with_password: redis.Redis) -> None:
    # AUTH and a big SET in one write: the SET is parsed after AUTH ran.
    got = exchange(srv.port, enc(b"AUTH", b"pw") + enc(b"SET", b"k", b"x" * 20000) + enc(b"STRLEN", b"k"))
    assert got == b"+OK\r\n+OK\r\n:20000\r\n"
    got = exchange(srv.port, enc(b"AUTH", b"pw") + enc(b"MSET", *[b"a"] * 20))
    assert got == b"+OK\r\n+OK\r\n"


def test_unauthenticated_error_after_a_command(srv: ServerProcess, with_password: redis.Redis) -> None:
    got = exchange(srv.port, enc(b"PING") + enc(b"SET", b"k", b"x" * 20000))
    assert got == b"-NOAUTH Authentication required.\r\n-ERR Protocol error: unauthenticated bulk length\r\n"


def test_unauthenticated_pipeline_of_inline_commands(srv: ServerProcess, with_password: redis.Redis) -> None:
    got = exchange(srv.port, b"PING\r\n" * 50 + b"AUTH pw\r\n" + b"PING\r\n" * 50, wait=0.5)
    assert got == b"-NOAUTH Authentication required.\r\n" * 50 + b"+OK\r\n" + b"+PONG\r\n" * 50


# ------------------------------------------------------------------- RESP3 shapes

# (type, RESP2 bytes, RESP3 bytes) as Valkey 8 sends them for DEBUG PROTOCOL <type>.
_SHAPES = [
    ("string", b"$11\r\nHello World\r\n", b"$11\r\nHello World\r\n"),
    ("integer", b":12345\r\n", b":12345\r\n"),
    ("double", b"$5\r\n3.141\r\n", b",3.141\r\n"),
    ("bignum", b"$37\r\n1234567999999999999999999999999999999\r\n", b"(1234567999999999999999999999999999999\r\n"),
    ("null", b"$-1\r\n", b"_\r\n"),
    ("array", b"*3\r\n:0\r\n:1\r\n:2\r\n", b"*3\r\n:0\r\n:1\r\n:2\r\n"),
    ("set", b"*3\r\n:0\r\n:1\r\n:2\r\n", b"~3\r\n:0\r\n:1\r\n:2\r\n"),
    ("map", b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n", b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"),
    (
        "attrib",
        b"$39\r\nSome real reply following the attribute\r\n",
        b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
    ),
    (
        "push",
        b"-ERR RESP2 is not supported by this command\r\n",
        b"$40\r\nSome real reply following the push reply\r\n>2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n",
    ),
    ("verbatim", b"$25\r\nThis is a verbatim\nstring\r\n", b"=29\r\ntxt:This is a verbatim\nstring\r\n"),
    ("true", b":1\r\n", b"#t\r\n"),
    ("false", b":0\r\n", b"#f\r\n"),
]


@pytest.mark.parametrize(("name", "resp2", "resp3"), _SHAPES, ids=[s[0] for s in _SHAPES])
def test_debug_protocol_reply_shapes(srv: ServerProcess, name: str, resp2: bytes, resp3: bytes) -> None:
    for proto, want in ((2, resp2), (3, resp3)):
        c = Raw(srv.port)
        try:
            c.send(b"HELLO %d\r\n" % proto)
            c.read_until(b"modules")
            c.quiet(0.1)
            c.buf = b""
            c.send(b"DEBUG PROTOCOL %s\r\n" % name.encode())
            got = c.read_n(len(want), timeout=3)
            assert got == want, (proto, got)
        finally:
            c.close()


def test_resp3_reply_shapes_of_plain_commands(srv: ServerProcess, r: redis.Redis) -> None:
    r.set("s", "v")
    c = Raw(srv.port)
    try:
        c.send(b"HELLO 3\r\n")
        c.read_until(b"modules")
        c.quiet(0.1)
        c.buf = b""
        c.send(b"GET nosuch\r\nGET s\r\nPING\r\nECHO x\r\nSTRLEN s\r\nINCRBYFLOAT f 1.5\r\nHELLO 2\r\nGET nosuch\r\n")
        got = c.read_until(b"$-1\r\n")
        assert got.startswith(b"_\r\n$1\r\nv\r\n+PONG\r\n$1\r\nx\r\n:1\r\n$3\r\n1.5\r\n*14\r\n")
        assert got.endswith(b"$-1\r\n")
    finally:
        c.close()
