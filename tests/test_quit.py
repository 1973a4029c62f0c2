"""QUIT: +OK, then the server closes the connection; nothing pipelined after it runs
and no protocol error is reported for bytes after it (Valkey stops parsing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tests.support.servers import ServerProcess
from tests.test_protocol import Raw, enc


@pytest.fixture()
def port(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[int]:
    yield kaa_proc.port


def test_quit_replies_ok_then_closes(port: int) -> None:
    c = Raw(port)
    try:
        c.send(enc(b"QUIT"))
        assert c.read_until(b"\r\n") == b"+OK\r\n"
        assert c.closed()
    finally:
        c.close()


def test_quit_inline_and_with_arguments(port: int) -> None:
    for data in (b"QUIT\r\n", b"quit now please\r\n", enc(b"quit", b"x")):
        c = Raw(port)
        try:
            c.send(data)
            assert c.read_until(b"\r\n") == b"+OK\r\n"
            assert c.closed()
        finally:
            c.close()


def test_pipelined_commands_after_quit_are_not_executed(port: int, r: redis.Redis) -> None:
    c = Raw(port)
    try:
        c.send(enc(b"QUIT") + enc(b"SET", b"foo", b"bar") + b"SET foo2 bar\r\n")
        assert c.read_until(b"\r\n") == b"+OK\r\n"
        assert c.closed()
        assert c.buf == b"+OK\r\n"
    finally:
        c.close()
    assert r.get("foo") is None
    assert r.get("foo2") is None


def test_pipelined_commands_after_quit_exceeding_read_buffer(port: int, r: redis.Redis) -> None:
    c = Raw(port)
    try:
        c.send(enc(b"QUIT") + enc(b"SET", b"foo", b"x" * 1024) + enc(b"SET", b"bar", b"y" * 300_000))
        assert c.read_until(b"\r\n") == b"+OK\r\n"
        assert c.closed()
    finally:
        c.close()
    assert r.exists("foo", "bar") == 0


def test_commands_before_quit_run(port: int, r: redis.Redis) -> None:
    c = Raw(port)
    try:
        c.send(enc(b"SET", b"a", b"1") + b"INCR a\r\n" + enc(b"QUIT") + enc(b"INCR", b"a"))
        assert c.read_until(b"+OK\r\n:2\r\n+OK\r\n") == b"+OK\r\n:2\r\n+OK\r\n"
        assert c.closed()
    finally:
        c.close()
    assert r.get("a") == b"2"


def test_no_protocol_error_after_quit(port: int) -> None:
    c = Raw(port)
    try:
        c.send(b"QUIT\r\n*1\r\n$x\r\n")
        assert c.read_until(b"\r\n") == b"+OK\r\n"
        assert c.closed()
        assert c.buf == b"+OK\r\n"
    finally:
        c.close()


def test_quit_in_resp3(port: int) -> None:
    c = Raw(port)
    try:
        c.send(b"HELLO 3\r\n")
        c.read_until(b"modules")
        c.quiet(0.1)
        c.buf = b""
        c.send(b"QUIT\r\n")
        assert c.read_until(b"\r\n") == b"+OK\r\n"
        assert c.closed()
    finally:
        c.close()


def test_redis_py_quit_then_error(kaa_proc: ServerProcess) -> None:
    c = redis.Redis(port=kaa_proc.port, socket_timeout=5)
    conn = c.connection_pool.get_connection()
    try:
        conn.send_command("QUIT")
        assert conn.read_response() == b"OK"
        conn.send_command("PING")
        with pytest.raises(redis.ConnectionError):
            conn.read_response()
    finally:
        conn.disconnect()
        c.close()
