"""The query buffer: what CLIENT LIST reports as unparsed (qbuf), and
client-query-buffer-limit, which closes a client silently (no reply, a log line,
a counter in INFO stats) as Valkey's handleQbLimitReached does."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import BUILDS, ServerProcess, kaa_of_build
from tests.test_protocol import Raw, _env, enc


@pytest.fixture(scope="module", params=list(BUILDS))
def srv(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from kaa_of_build(request.param)


@pytest.fixture()
def r(srv: ServerProcess) -> Iterator[redis.Redis]:
    c = redis.Redis(port=srv.port, socket_timeout=10)
    c.flushall()
    yield c
    c.config_set("client-query-buffer-limit", str(1024 * 1024 * 1024))
    c.close()


def client_field(r: redis.Redis, name: str, field: str) -> str:
    for line in r.execute_command("CLIENT", "LIST").decode().splitlines():
        if f" name={name} " in line:
            m = re.search(rf" {field}=(\S*)", line)
            assert m, line
            return m.group(1)
    raise AssertionError(f"no client named {name}")


def named(srv: ServerProcess, name: bytes) -> Raw:
    c = Raw(srv.port)
    c.send(b"CLIENT SETNAME " + name + b"\r\n")
    assert c.read_until(b"\r\n") == b"+OK\r\n"
    c.buf = b""
    return c


def wait_for(cond: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_qbuf_counts_unparsed_bytes_like_valkey(srv: ServerProcess, r: redis.Redis) -> None:
    c = named(srv, b"qb1")
    try:
        # Valkey has consumed "$2\r\n" already: only the payload byte is pending.
        c.send(b"*3\r\n$3\r\nset\r\n$2\r\na")
        assert wait_for(lambda: client_field(r, "qb1", "qbuf") == "1")
        c.send(b"a\r\n$1\r\nb\r\n")
        assert c.read_until(b"\r\n") == b"+OK\r\n"
        assert client_field(r, "qb1", "qbuf") == "0"
        c.send(b"*3\r\n$3\r\nset\r\n$1\r\nb\r\n$100000\r\nxxx")
        assert wait_for(lambda: client_field(r, "qb1", "qbuf") == "3")
    finally:
        c.close()


def test_big_partial_bulk_closes_the_client_silently(srv: ServerProcess, r: redis.Redis) -> None:
    before = r.info("stats")["client_query_buffer_limit_disconnections"]
    r.config_set("client-query-buffer-limit", "1mb")
    c = named(srv, b"qbfat")
    try:
        c.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000000\r\n")
        chunk = b"x" * 65536
        for _ in range(40):  # 2.5 MB, well past the limit
            try:
                c.send(chunk)
            except OSError:
                break
            if c.quiet(0.0) or c.eof:
                break
        assert c.closed()
        assert c.buf == b"", "Valkey closes without a reply"
    finally:
        c.close()
    assert r.exists("big") == 0
    assert r.ping()  # other clients are fine
    assert r.info("stats")["client_query_buffer_limit_disconnections"] == before + 1
    assert wait_for(lambda: "Closing client that reached max query buffer length" in srv.output())
    line = [x for x in srv.output().splitlines() if "max query buffer length" in x][-1]
    assert "name=qbfat" in line
    assert '(qbuf initial bytes: "' in line


def test_limit_counts_the_pending_buffer_not_the_traffic(srv: ServerProcess, r: redis.Redis) -> None:
    r.config_set("client-query-buffer-limit", "1mb")
    c = Raw(srv.port)
    try:
        # 3 MB of complete commands: each is parsed as it arrives.
        cmds = b"".join(enc(b"SET", b"k%d" % i, b"v" * 100) for i in range(25000))
        c.send(cmds + enc(b"DBSIZE"))
        want = b"+OK\r\n" * 25000 + b":25000\r\n"
        assert c.read_n(len(want), timeout=30) == want
        # a value just below the limit, sent slowly, is accepted
        c.buf = b""
        size = 1000 * 1000
        c.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
        for _ in range(10):
            c.send(b"y" * (size // 10))
            time.sleep(0.005)
        c.send(b"\r\n")
        assert c.read_until(b"\r\n") == b"+OK\r\n"
    finally:
        c.close()
    assert r.strlen("big") == 1000 * 1000


def test_inline_garbage_hits_the_protocol_limit_first(srv: ServerProcess, r: redis.Redis) -> None:
    r.config_set("client-query-buffer-limit", "1mb")
    c = Raw(srv.port)
    try:
        c.send(b"x" * 70000)
        assert c.read_until(b"\r\n") == b"-ERR Protocol error: too big inline request\r\n"
        assert c.closed()
    finally:
        c.close()


@pytest.mark.skipif(os.environ.get("KAA_PURE_PARSER") == "1", reason="both parsers are pure")
def test_parsers_are_different_in_the_two_servers(srv: ServerProcess, request: pytest.FixtureRequest) -> None:
    # Guards the fixture: the "fast" server must really load the hiredis parser.
    pytest.importorskip("hiredis")
    from kaa.protocol.request import parser_class

    with _env(KAA_PURE_PARSER="0"):
        assert parser_class().__name__ == "FastRequestParser"
    with _env(KAA_PURE_PARSER="1"):
        assert parser_class().__name__ == "RequestParser"


# ---------------------------------------------------------------------------- the model
# What the parsers report for CLIENT LIST's qbuf + qbuf-free and how the cron shrinks
# it, after Valkey's readToQueryBuf / processMultibulkBuffer /
# clientsCronResizeQueryBuffer (the shapes unit/querybuf checks).

PARSER_CLASSES = ["RequestParser", "FastRequestParser"]


def _parser(name: str) -> Any:
    if name == "FastRequestParser":
        pytest.importorskip("hiredis")
        from kaa.protocol.fast_request import FastRequestParser

        return FastRequestParser()
    from kaa.protocol.request import RequestParser

    return RequestParser()


@pytest.mark.parametrize("name", PARSER_CLASSES)
def test_model_shared_buffer_then_private(name: str) -> None:
    p = _parser(name)
    assert p.feed(b"CLIENT SETNAME x\r\n") == [[b"CLIENT", b"SETNAME", b"x"]]
    assert p.query_buffer_size() == 0
    p.feed(b"*3\r\n$3\r\nset\r\n$2\r\na")
    size = p.query_buffer_size()
    assert 16384 <= size <= 32770
    assert p.feed(b"a\r\n$1\r\nb\r\n") == [[b"set", b"aa", b"b"]]
    assert p.query_buffer_size() == size
    p.resize_query_buffer(1)
    assert p.query_buffer_size() == size
    p.resize_query_buffer(3)  # idle > 2 s and nothing pending: back to the shared buffer
    assert p.query_buffer_size() == 0


@pytest.mark.parametrize("name", PARSER_CLASSES)
def test_model_shrinks_to_the_peak_when_not_idle(name: str) -> None:
    p = _parser(name)
    value = b"A" * 400000
    data = enc(b"set", b"x", value)
    for i in range(0, len(data), 65536):
        p.feed(data[i : i + 65536])
    big = p.query_buffer_size()
    assert big > 32768
    p.resize_query_buffer(0)
    p.feed(enc(b"set", b"x", b"A" * 100))
    p.resize_query_buffer(0)
    assert 0 < p.query_buffer_size() < big


@pytest.mark.parametrize("name", PARSER_CLASSES)
def test_model_fat_argument(name: str) -> None:
    p = _parser(name)
    p.feed(b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1000000\r\n")
    p.feed(b"a")
    assert p.query_buffer_size() >= 1000000
    p.resize_query_buffer(1)
    assert p.query_buffer_size() >= 1000000
    p.resize_query_buffer(3)
    assert 0 < p.query_buffer_size() < 1000000
