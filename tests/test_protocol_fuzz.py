"""Fuzzing the request parsers (hypothesis) and the server's protocol handling.

* the pure parser and the hiredis-based one agree on everything (commands, error,
  unparsed bytes), for random bytes, mutated valid requests and any split;
* a valid stream split anywhere gives the same commands as parsing it at once;
* random garbage over a socket never kills the server, and another client keeps
  working; the replies to garbage match the oracle server's protocol errors.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.support.servers import ServerProcess

from kaa.protocol.request import RequestParser, split_args

hiredis = pytest.importorskip("hiredis")
from kaa.protocol.fast_request import FastRequestParser  # noqa: E402


class HiredisParser(FastRequestParser):
    """The fast parser without the compiled splitter: the hiredis path it takes
    where the extension was not built."""

    splitter = None


# With the compiled splitter when it was built, and without it.
FAST = (FastRequestParser, HiredisParser) if FastRequestParser.splitter else (FastRequestParser,)
PARSERS = (RequestParser, *FAST)

# ---------------------------------------------------------------------------- helpers


def enc(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def client_feed(p: RequestParser, chunk: bytes) -> list[list[bytes]]:
    """One read as Client.data_received hands it over: straight to the compiled
    splitter while ``split_limit`` allows, the rest through ``split_rest``."""
    limit = p.split_limit
    if limit < 0:
        return p.feed(chunk)
    cmds, end = FastRequestParser.splitter(chunk, limit)
    return cmds if end == len(chunk) else p.split_rest(chunk, cmds, end)


def run(cls: type, chunks: list[bytes], *, auth: bool = True, max_bulk: int = 512 * 1024 * 1024) -> tuple:
    """Feed chunks; returns (commands, error, pending bytes) as a client would see them."""
    p = cls(max_bulk)
    p.authenticated = auth
    cmds: list[list[bytes]] = []
    for chunk in chunks:
        cmds += client_feed(p, chunk)
        while p.held and p.error is None:  # unauthenticated: one command per call
            cmds += p.feed(b"")
        if p.error is not None:
            break
    return cmds, p.error, (None if p.error else p.pending_bytes())


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    cuts = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for c in cuts:
        out.append(data[prev:c])
        prev = c
    out.append(data[prev:])
    return out


# Bytes that matter to the grammar, so that random data hits the interesting paths.
_ALPHABET = b"*$+-:=(~>|%_,#!\r\n\x00 \t\x0b\"'\\x0123456789abcPINGECHO"
grammar_bytes = st.lists(st.sampled_from(list(_ALPHABET)), max_size=80).map(bytes)
any_bytes = st.binary(max_size=200)
arg = st.one_of(st.binary(max_size=12), st.sampled_from([b"", b"PING", b"*1\r\n", b"$3", b"\r\n", b"\x00"]))
command = st.lists(arg, min_size=0, max_size=5)
simple_token = st.text(alphabet="abcXYZ019:_-", min_size=1, max_size=8).map(str.encode)


@st.composite
def valid_stream(draw: st.DrawFn) -> tuple[bytes, list[list[bytes]]]:
    """A stream of well-formed requests and the commands it means."""
    parts: list[bytes] = []
    cmds: list[list[bytes]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["mbulk", "mbulk", "inline", "empty", "neg"]))
        if kind == "mbulk":
            c = draw(st.lists(arg, min_size=1, max_size=5))
            parts.append(enc(c))
            cmds.append(c)
        elif kind == "inline":
            toks = draw(st.lists(simple_token, min_size=1, max_size=4))
            sep = draw(st.sampled_from([b" ", b"  ", b"\t"]))
            end = draw(st.sampled_from([b"\r\n", b"\n"]))
            parts.append(sep.join(toks) + end)
            cmds.append(toks)
        elif kind == "empty":
            parts.append(draw(st.sampled_from([b"\r\n", b"\n", b"   \r\n"])))
        else:
            parts.append(draw(st.sampled_from([b"*0\r\n", b"*-1\r\n", b"*-7\r\n"])))
    return b"".join(parts), cmds


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_stream())[0])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.sampled_from(list(_ALPHABET)))
        elif op == "insert":
            data[pos:pos] = draw(grammar_bytes)
        elif data:
            del data[pos : pos + draw(st.integers(1, 6))]
    return bytes(data)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------- parser properties


@FUZZ
@given(valid_stream(), st.lists(st.integers(0, 10_000), max_size=6))
def test_valid_stream_any_split_gives_the_same_commands(vs: tuple, cuts: list[int]) -> None:
    data, cmds = vs
    for cls in PARSERS:
        assert run(cls, [data]) == (cmds, None, 0)
        assert run(cls, split_at(data, cuts)) == (cmds, None, 0)


@FUZZ
@given(valid_stream())
def test_valid_stream_byte_by_byte(vs: tuple) -> None:
    data, cmds = vs
    chunks = [data[i : i + 1] for i in range(len(data))]
    for cls in PARSERS:
        assert run(cls, chunks) == (cmds, None, 0)


@FUZZ
@given(st.one_of(any_bytes, grammar_bytes, mutated()), st.lists(st.integers(0, 10_000), max_size=5))
def test_parsers_agree_on_anything(data: bytes, cuts: list[int]) -> None:
    one = run(RequestParser, [data])
    chunks = split_at(data, cuts)
    parts = run(RequestParser, chunks)
    for cls in FAST:
        assert run(cls, [data]) == one
        assert run(cls, chunks) == parts


@FUZZ
@given(st.one_of(grammar_bytes, mutated()), st.lists(st.integers(0, 10_000), max_size=3))
def test_split_never_changes_commands_before_an_error(data: bytes, cuts: list[int]) -> None:
    # Splitting may only change *when* an error shows up (an incomplete line
    # becomes "too big" only once it is long), never the commands or the text.
    whole = run(RequestParser, [data])
    parts = run(RequestParser, split_at(data, cuts))
    assert parts[:2] == whole[:2]


@FUZZ
@given(st.one_of(grammar_bytes, mutated(), valid_stream().map(lambda v: v[0])), st.lists(st.integers(0, 10_000), max_size=3))
def test_parsers_agree_when_unauthenticated(data: bytes, cuts: list[int]) -> None:
    chunks = split_at(data, cuts)
    want = run(RequestParser, chunks, auth=False)
    for cls in FAST:
        assert run(cls, chunks, auth=False) == want


@FUZZ
@given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=6), st.integers(4, 64))
def test_small_max_bulk(args: list[bytes], limit: int) -> None:
    data = enc(args) + enc([b"PING"])
    for cls in PARSERS:
        cmds, err, _ = run(cls, [data], max_bulk=limit)
        if max(map(len, args)) > limit:
            assert err == "Protocol error: invalid bulk length" and cmds == []
        else:
            assert err is None and cmds == [args, [b"PING"]]


@FUZZ
@given(st.lists(st.one_of(simple_token, st.binary(max_size=6)), min_size=1, max_size=5))
def test_split_args_roundtrip_of_quoted_tokens(tokens: list[bytes]) -> None:
    def quote(t: bytes) -> bytes:
        return b'"' + b"".join(b"\\x%02x" % c for c in t) + b'"'

    assert split_args(b" ".join(map(quote, tokens))) == tokens


def test_large_pipeline_in_random_chunks() -> None:
    import random

    rng = random.Random(7)
    cmds = [[b"SET", b"key:%06d" % i, bytes(rng.randrange(256) for _ in range(rng.randrange(40)))] for i in range(3000)]
    data = b"".join(enc(c) if i % 5 else b" ".join(c[:2]) + b"\r\n" for i, c in enumerate(cmds))
    want = [c if i % 5 else c[:2] for i, c in enumerate(cmds)]
    for cls in PARSERS:
        for _ in range(5):
            cuts = sorted(rng.sample(range(len(data)), 40))
            assert run(cls, split_at(data, cuts)) == (want, None, 0)


def test_hiredis_never_sees_a_huge_aggregate_header() -> None:
    # hiredis allocates the list for "*N" up front; the fast parser must refuse
    # those without it (this would take seconds and gigabytes otherwise).
    t = time.monotonic()
    for cls in FAST:
        p = cls()
        assert p.feed(enc([b"PING"]) + enc([b"PING"]) + b"*2000000000\r\n") == [[b"PING"]] * 2
        assert p.error is None and p.pending_bytes() == 0  # a valid header: Valkey waits too
        for head in (b"*1\r\n*4000000000\r\n", b"*1\r\n%4000000000\r\n", b"*1\r\n~3000000000\r\n", b"*5000000000\r\n"):
            p = cls()
            assert p.feed(enc([b"PING"]) + enc([b"PING"]) + head) == [[b"PING"]] * 2
            assert p.error is not None
    assert time.monotonic() - t < 1.0


# ---------------------------------------------------------------------------- server level


def _exchange(port: int, data: bytes, wait: float = 0.25) -> tuple[bytes, bool]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    out = b""
    closed = False
    try:
        try:
            s.sendall(data)
        except OSError:
            return out, True
        # read until the server has been quiet for ``wait`` seconds
        hard = time.monotonic() + 5
        while time.monotonic() < hard:
            s.settimeout(wait)
            try:
                d = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not d:
                closed = True
                break
            out += d
    finally:
        s.close()
    return out, closed


@pytest.fixture()
def port(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[int]:
    yield kaa_proc.port


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.one_of(any_bytes, grammar_bytes, mutated()))
def test_garbage_never_kills_the_server(port: int, data: bytes) -> None:
    # only harmless commands may run, whatever the mutation made of them
    assume(not any(w in data.upper() for w in (b"SHUTDOWN", b"DEBUG", b"CONFIG", b"FLUSH", b"CLIENT", b"SAVE", b"MONITOR", b"SUBSCRIBE", b"BL", b"PAUSE", b"QUIT", b"MULTI", b"AUTH", b"HELLO", b"SYNC", b"REPLICAOF", b"SLAVEOF", b"FAILOVER", b"WAIT", b"RESET", b"EXEC")))
    _exchange(port, data, wait=0.05)
    other = redis.Redis(port=port, socket_timeout=5)
    try:
        assert other.ping()
    finally:
        other.close()


def _protocol_view(data: bytes, closed: bool) -> tuple:
    """Number of replies, the protocol error (if any) and whether the server closed."""
    rd = hiredis.Reader()
    rd.feed(data)
    n = 0
    err = None
    while True:
        try:
            x = rd.gets()
        except hiredis.ProtocolError:
            break
        if x is False:
            break
        n += 1
        if isinstance(x, hiredis.ReplyError) and str(x).startswith("Protocol error"):
            err = str(x)
    return n, err, closed


_SAFE = st.lists(
    st.one_of(
        st.builds(lambda a: enc([b"ECHO", a]), st.binary(max_size=8)),
        st.just(enc([b"PING"])),
        st.just(b"PING\r\n"),
        st.builds(lambda t: b"ECHO " + t + b"\r\n", simple_token),
    ),
    min_size=1,
    max_size=6,
).map(b"".join)


@st.composite
def mutated_safe(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(_SAFE))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if draw(st.booleans()) and data:
            data[pos] = draw(st.sampled_from(list(b"*$\r\n\x00 \"'-01289x")))
        else:
            data[pos:pos] = draw(st.sampled_from([b"*", b"$", b"\r\n", b"\x00", b"'", b'"', b"*-1\r\n", b"$-1\r\n", b"*3000000000\r\n"]))
    return bytes(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutated_safe())
def test_replies_to_garbage_match_the_oracle(port: int, oracle: redis.Redis, data: bytes) -> None:
    # Same number of replies, same protocol error, same close, as the oracle
    # (Valkey's parser is unchanged from Redis 7.0 for all of this).
    oport = oracle.connection_pool.connection_kwargs["port"]
    ours = _protocol_view(*_exchange(port, data))
    theirs = _protocol_view(*_exchange(oport, data))
    assert ours == theirs, data
