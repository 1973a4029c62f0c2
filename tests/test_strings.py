"""String commands (GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND
STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE SUBSTR LCS) against a running
kaa-server, with Valkey 8's replies and error texts.

Clients here have redis-py's response callbacks removed, so every assertion sees the
server's reply as sent (bytes, ints, None) rather than redis-py's interpretation of it.
Propagation (what replicas and the AOF receive) and keyspace events are checked on an
in-process server whose propagation sink and notification hook we tap.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.commands import raw_client as _client
from tests.support.commands import x
from tests.support.servers import ServerProcess
from tests.support.tap import Tap, tapped_server

from kaa.embedded import EmbeddedServer
from kaa.types.string_ops import incrbyfloat as ld_incrbyfloat
from kaa.types.string_ops import lcs_length, lcs_walk

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
SYNTAX = "syntax error"




@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    """RESP2 client without response callbacks, on an empty keyspace."""
    client = _client(kaa_proc.port, 2)
    client.execute_command("FLUSHALL")
    yield client
    client.close()


@pytest.fixture()
def c3(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    """RESP3 client without response callbacks, on an empty keyspace."""
    client = _client(kaa_proc.port, 3)
    client.execute_command("FLUSHALL")
    yield client
    client.close()




def err(c: redis.Redis, *args: Any) -> str:
    """The error text of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def raw(port: int, payload: bytes, until: bytes) -> bytes:
    """Send raw RESP and read until the data ends with `until` (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        buf = b""
        while not buf.endswith(until):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf


# ---------------------------------------------------------------------------
# GET / SET
# ---------------------------------------------------------------------------


def test_set_get_basic_and_binary(c: redis.Redis) -> None:
    assert x(c, "SET", "k", "v") == b"OK"
    assert x(c, "GET", "k") == b"v"
    assert x(c, "SET", "k", "") == b"OK"
    assert x(c, "GET", "k") == b""
    blob = bytes(range(256)) * 3 + b"\r\n\x00"
    x(c, "SET", b"bin\x00key", blob)
    assert x(c, "GET", b"bin\x00key") == blob
    assert x(c, "GET", "missing") is None


def test_get_null_is_resp_specific(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    assert raw(kaa_proc.port, b"GET nokey\r\n", b"\r\n") == b"$-1\r\n"
    out = raw(kaa_proc.port, b"HELLO 3\r\nGET nokey\r\nSET k v GET\r\n", b"_\r\n_\r\n")
    assert out.startswith(b"%") and out.endswith(b"\r\n_\r\n_\r\n")
    out = raw(kaa_proc.port, b"SET k v XX GET\r\nGETDEL k\r\nGETDEL k\r\n", b"$-1\r\n")
    assert out == b"$1\r\nv\r\n$1\r\nv\r\n$-1\r\n"


def test_get_wrongtype_and_arity(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    assert err(c, "GET", "l") == WRONGTYPE
    assert err(c, "GET") == "wrong number of arguments for 'get' command"
    assert err(c, "GET", "a", "b") == "wrong number of arguments for 'get' command"
    assert err(c, "SET", "a") == "wrong number of arguments for 'set' command"


def test_set_overwrites_other_types_and_clears_ttl(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    assert x(c, "SET", "l", "v") == b"OK"
    assert x(c, "GET", "l") == b"v"
    x(c, "SET", "t", "v", "EX", "100")
    assert x(c, "TTL", "t") > 0
    x(c, "SET", "t", "w")
    assert x(c, "TTL", "t") == -1


def test_set_nx_xx(c: redis.Redis) -> None:
    assert x(c, "SET", "k", "1", "XX") is None
    assert x(c, "EXISTS", "k") == 0
    assert x(c, "SET", "k", "1", "NX") == b"OK"
    assert x(c, "SET", "k", "2", "NX") is None
    assert x(c, "GET", "k") == b"1"
    assert x(c, "SET", "k", "3", "XX") == b"OK"
    assert x(c, "GET", "k") == b"3"
    # Repeating an option is allowed, as in Valkey.
    assert x(c, "SET", "k", "4", "xx", "XX") == b"OK"
    assert x(c, "SET", "k2", "4", "nx", "NX") == b"OK"


def test_set_get_option(c: redis.Redis) -> None:
    assert x(c, "SET", "k", "a", "GET") is None
    assert x(c, "SET", "k", "b", "GET") == b"a"
    assert x(c, "SET", "k", "c", "GET", "GET") == b"b"
    assert x(c, "GET", "k") == b"c"
    # GET with NX: replies the old value, does not set.
    assert x(c, "SET", "k", "d", "NX", "GET") == b"c"
    assert x(c, "GET", "k") == b"c"
    assert x(c, "SET", "new", "d", "NX", "GET") is None
    assert x(c, "GET", "new") == b"d"
    # GET with XX on a missing key: nil, nothing set.
    assert x(c, "SET", "nokey", "v", "XX", "GET") is None
    assert x(c, "EXISTS", "nokey") == 0
    assert x(c, "SET", "k", "e", "XX", "GET") == b"c"
    assert x(c, "GET", "k") == b"e"


def test_set_get_wrongtype_leaves_key(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    assert err(c, "SET", "l", "v", "GET") == WRONGTYPE
    assert x(c, "TYPE", "l") == b"list"
    # Without GET the other type is simply overwritten.
    assert x(c, "SET", "l", "v", "NX") is None
    assert x(c, "SET", "l", "v", "XX") == b"OK"


def test_set_expire_options(c: redis.Redis) -> None:
    now = int(time.time())
    x(c, "SET", "ex", "v", "EX", "100")
    x(c, "SET", "px", "v", "PX", "100000")
    x(c, "SET", "exat", "v", "EXAT", str(now + 100))
    x(c, "SET", "pxat", "v", "PXAT", str((now + 100) * 1000))
    for k in ("ex", "px", "exat", "pxat"):
        assert 95 <= x(c, "TTL", k) <= 100, k
    # The last of repeated EX wins.
    x(c, "SET", "twice", "v", "EX", "10", "EX", "1000")
    assert x(c, "TTL", "twice") > 900
    x(c, "SET", "k", "v")
    x(c, "SET", "k", "v", "XX", "PX", "10000")
    assert 0 < x(c, "PTTL", "k") <= 10000


def test_set_keepttl(c: redis.Redis) -> None:
    x(c, "SET", "k", "v", "EX", "100")
    x(c, "SET", "k", "w", "KEEPTTL")
    assert x(c, "GET", "k") == b"w"
    assert 95 <= x(c, "TTL", "k") <= 100
    x(c, "SET", "k", "z", "KEEPTTL", "KEEPTTL", "GET")
    assert x(c, "TTL", "k") > 0


def test_set_px_expires(c: redis.Redis) -> None:
    x(c, "SET", "k", "v", "PX", "50")
    time.sleep(0.12)
    assert x(c, "GET", "k") is None


@pytest.mark.parametrize(
    "opts",
    [
        ["NX", "XX"], ["XX", "NX"], ["EX", "10", "PX", "10"], ["PX", "10", "EX", "10"],
        ["EX", "10", "EXAT", "10"], ["PXAT", "10", "EXAT", "10"], ["KEEPTTL", "EX", "10"],
        ["PX", "10", "KEEPTTL"], ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["PERSIST"], ["FOO"],
        ["GET", "EX"], ["NXX"],
    ],
)
def test_set_syntax_errors(c: redis.Redis, opts: list[str]) -> None:
    assert err(c, "SET", "k", "v", *opts) == SYNTAX
    assert x(c, "EXISTS", "k") == 0


def test_set_invalid_expire(c: redis.Redis) -> None:
    for opt in ("EX", "PX", "EXAT", "PXAT"):
        for bad in ("0", "-1", "-100"):
            assert err(c, "SET", "k", "v", opt, bad) == "invalid expire time in 'set' command"
        assert err(c, "SET", "k", "v", opt, "abc") == NOT_INT
        assert err(c, "SET", "k", "v", opt, "1.5") == NOT_INT
        assert err(c, "SET", "k", "v", opt, "99999999999999999999") == NOT_INT
    # Seconds that overflow when turned into ms, and relative times that overflow.
    assert err(c, "SET", "k", "v", "EX", str(LLONG_MAX // 1000 + 1)) == "invalid expire time in 'set' command"
    assert err(c, "SET", "k", "v", "EXAT", str(LLONG_MAX // 1000 + 1)) == "invalid expire time in 'set' command"
    assert err(c, "SET", "k", "v", "PX", str(LLONG_MAX)) == "invalid expire time in 'set' command"
    assert err(c, "SET", "k", "v", "EX", str(LLONG_MAX // 1000)) == "invalid expire time in 'set' command"
    assert x(c, "EXISTS", "k") == 0
    # An absolute time far in the future is fine.
    assert x(c, "SET", "k", "v", "PXAT", str(LLONG_MAX)) == b"OK"


def test_set_error_precedence(c: redis.Redis) -> None:
    # Options are all parsed before the expire value is looked at.
    assert err(c, "SET", "k", "v", "EX", "abc", "FOO") == SYNTAX
    # A bad expire is reported before WRONGTYPE from GET.
    x(c, "RPUSH", "l", "a")
    assert err(c, "SET", "l", "v", "GET", "EX", "0") == "invalid expire time in 'set' command"
    assert err(c, "SET", "l", "v", "GET", "EX", "10") == WRONGTYPE


def test_set_in_the_past_deletes(c: redis.Redis) -> None:
    x(c, "SET", "k", "old", "EX", "100")
    assert x(c, "SET", "k", "v", "EXAT", str(int(time.time()) - 100)) == b"OK"
    assert x(c, "EXISTS", "k") == 0
    x(c, "SET", "k", "old")
    assert x(c, "SET", "k", "v", "PXAT", "1", "GET") == b"old"
    assert x(c, "EXISTS", "k") == 0
    assert x(c, "SET", "missing", "v", "PXAT", "1") == b"OK"
    assert x(c, "EXISTS", "missing") == 0
    # Even over another type.
    x(c, "RPUSH", "l", "a")
    assert x(c, "SET", "l", "v", "PXAT", "1") == b"OK"
    assert x(c, "EXISTS", "l") == 0


def test_set_options_case_insensitive(c: redis.Redis) -> None:
    assert x(c, "SET", "k", "v", "nx", "ex", "100", "get") is None
    assert x(c, "TTL", "k") > 0
    assert x(c, "SET", "k", "w", "xX", "kEePtTl", "gEt") == b"v"


# ---------------------------------------------------------------------------
# SETNX SETEX PSETEX GETSET GETDEL GETEX
# ---------------------------------------------------------------------------


def test_setnx(c: redis.Redis) -> None:
    assert x(c, "SETNX", "k", "a") == 1
    assert x(c, "SETNX", "k", "b") == 0
    assert x(c, "GET", "k") == b"a"
    x(c, "RPUSH", "l", "a")
    assert x(c, "SETNX", "l", "b") == 0
    assert err(c, "SETNX", "k") == "wrong number of arguments for 'setnx' command"


def test_setnx_against_expired_key(c: redis.Redis) -> None:
    x(c, "SET", "k", "a", "PX", "30")
    time.sleep(0.08)
    assert x(c, "SETNX", "k", "b") == 1
    assert x(c, "GET", "k") == b"b"


def test_setex_psetex(c: redis.Redis) -> None:
    assert x(c, "SETEX", "k", "100", "v") == b"OK"
    assert x(c, "GET", "k") == b"v"
    assert 95 <= x(c, "TTL", "k") <= 100
    assert x(c, "PSETEX", "p", "100000", "w") == b"OK"
    assert 95000 <= x(c, "PTTL", "p") <= 100000
    for bad in ("0", "-5"):
        assert err(c, "SETEX", "k", bad, "v") == "invalid expire time in 'setex' command"
        assert err(c, "PSETEX", "k", bad, "v") == "invalid expire time in 'psetex' command"
    assert err(c, "SETEX", "k", "x", "v") == NOT_INT
    assert err(c, "SETEX", "k", str(LLONG_MAX // 1000 + 1), "v") == "invalid expire time in 'setex' command"
    assert err(c, "SETEX", "k", "10") == "wrong number of arguments for 'setex' command"
    # SETEX replaces any type.
    x(c, "RPUSH", "l", "a")
    assert x(c, "SETEX", "l", "10", "v") == b"OK"
    assert x(c, "GET", "l") == b"v"


def test_getset(c: redis.Redis) -> None:
    assert x(c, "GETSET", "k", "a") is None
    assert x(c, "GETSET", "k", "b") == b"a"
    assert x(c, "GET", "k") == b"b"
    x(c, "SET", "t", "v", "EX", "100")
    assert x(c, "GETSET", "t", "w") == b"v"
    assert x(c, "TTL", "t") == -1
    x(c, "RPUSH", "l", "a")
    assert err(c, "GETSET", "l", "v") == WRONGTYPE
    assert x(c, "TYPE", "l") == b"list"


def test_getdel(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    assert x(c, "GETDEL", "k") == b"v"
    assert x(c, "EXISTS", "k") == 0
    assert x(c, "GETDEL", "k") is None
    x(c, "RPUSH", "l", "a")
    assert err(c, "GETDEL", "l") == WRONGTYPE
    assert x(c, "EXISTS", "l") == 1


def test_getex_options(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    assert x(c, "GETEX", "k") == b"v"
    assert x(c, "TTL", "k") == -1
    assert x(c, "GETEX", "k", "EX", "100") == b"v"
    assert 95 <= x(c, "TTL", "k") <= 100
    assert x(c, "GETEX", "k", "PX", "200000") == b"v"
    assert 195 <= x(c, "TTL", "k") <= 200
    assert x(c, "GETEX", "k", "EXAT", str(int(time.time()) + 300)) == b"v"
    assert 295 <= x(c, "TTL", "k") <= 300
    assert x(c, "GETEX", "k", "PXAT", str(int(time.time() * 1000) + 400000)) == b"v"
    assert 395 <= x(c, "TTL", "k") <= 400
    assert x(c, "GETEX", "k", "PERSIST") == b"v"
    assert x(c, "TTL", "k") == -1
    assert x(c, "GETEX", "k", "persist", "PERSIST") == b"v"
    assert x(c, "GETEX", "k", "ex", "10", "EX", "500") == b"v"
    assert x(c, "TTL", "k") > 400


def test_getex_in_the_past_deletes(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    assert x(c, "GETEX", "k", "PXAT", "1") == b"v"
    assert x(c, "EXISTS", "k") == 0
    x(c, "SET", "k", "v")
    assert x(c, "GETEX", "k", "EXAT", str(int(time.time()) - 10)) == b"v"
    assert x(c, "EXISTS", "k") == 0


def test_getex_missing_and_wrongtype(c: redis.Redis) -> None:
    assert x(c, "GETEX", "nokey") is None
    assert x(c, "GETEX", "nokey", "EX", "10") is None
    # Valkey 8.0 looks the key up before checking the expire value.
    assert x(c, "GETEX", "nokey", "EX", "-1") is None
    x(c, "RPUSH", "l", "a")
    assert err(c, "GETEX", "l") == WRONGTYPE
    assert err(c, "GETEX", "l", "EX", "-1") == WRONGTYPE


def test_getex_errors(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    for opts in (["EX", "10", "PX", "10"], ["PERSIST", "EX", "10"], ["EX", "10", "PERSIST"],
                 ["KEEPTTL"], ["NX"], ["XX"], ["GET"], ["EX"], ["FOO"], ["PXAT", "1", "EXAT", "1"]):
        assert err(c, "GETEX", "k", *opts) == SYNTAX, opts
    for opt in ("EX", "PX", "EXAT", "PXAT"):
        assert err(c, "GETEX", "k", opt, "0") == "invalid expire time in 'getex' command"
        assert err(c, "GETEX", "k", opt, "x") == NOT_INT
    assert err(c, "GETEX", "k", "EX", str(LLONG_MAX // 1000 + 1)) == "invalid expire time in 'getex' command"
    assert err(c, "GETEX") == "wrong number of arguments for 'getex' command"
    assert x(c, "TTL", "k") == -1


# ---------------------------------------------------------------------------
# MGET MSET MSETNX
# ---------------------------------------------------------------------------


def test_mget(c: redis.Redis) -> None:
    x(c, "SET", "a", "1")
    x(c, "SET", "b", "2")
    x(c, "RPUSH", "l", "x")
    x(c, "APPEND", "raw", "xyz")
    assert x(c, "MGET", "a", "nokey", "b", "l", "raw", "a") == [b"1", None, b"2", None, b"xyz", b"1"]
    assert err(c, "MGET") == "wrong number of arguments for 'mget' command"


def test_mset(c: redis.Redis) -> None:
    x(c, "SET", "t", "v", "EX", "100")
    x(c, "RPUSH", "l", "x")
    assert x(c, "MSET", "a", "1", "b", "2", "t", "3", "l", "4", "a", "5") == b"OK"
    assert x(c, "MGET", "a", "b", "t", "l") == [b"5", b"2", b"3", b"4"]
    assert x(c, "TTL", "t") == -1
    assert err(c, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"
    assert err(c, "MSET", "a") == "wrong number of arguments for 'mset' command"


def test_msetnx(c: redis.Redis) -> None:
    assert x(c, "MSETNX", "a", "1", "b", "2") == 1
    assert x(c, "MSETNX", "c", "3", "a", "9") == 0
    assert x(c, "EXISTS", "c") == 0
    assert x(c, "GET", "a") == b"1"
    # The same new key twice: the last value wins.
    assert x(c, "MSETNX", "d", "1", "d", "2") == 1
    assert x(c, "GET", "d") == b"2"
    x(c, "RPUSH", "l", "x")
    assert x(c, "MSETNX", "l", "1", "e", "2") == 0
    assert err(c, "MSETNX", "a", "1", "b") == "wrong number of arguments for 'msetnx' command"


# ---------------------------------------------------------------------------
# APPEND STRLEN SETRANGE GETRANGE SUBSTR
# ---------------------------------------------------------------------------


def test_append(c: redis.Redis) -> None:
    assert x(c, "APPEND", "k", "Hello") == 5
    assert x(c, "APPEND", "k", " World") == 11
    assert x(c, "GET", "k") == b"Hello World"
    assert x(c, "APPEND", "k", "") == 11
    assert x(c, "APPEND", "new", "") == 0
    assert x(c, "EXISTS", "new") == 1
    x(c, "SET", "n", "1")
    assert x(c, "APPEND", "n", "2") == 2
    assert x(c, "INCR", "n") == 13
    x(c, "RPUSH", "l", "x")
    assert err(c, "APPEND", "l", "x") == WRONGTYPE


def test_append_keeps_ttl(c: redis.Redis) -> None:
    x(c, "SET", "k", "a", "EX", "100")
    x(c, "APPEND", "k", "b")
    x(c, "APPEND", "k", "c")
    assert x(c, "GET", "k") == b"abc"
    assert x(c, "TTL", "k") > 0


def test_append_reply_is_not_aliased(c: redis.Redis) -> None:
    """A queued reply must not change when the value is later modified in place."""
    x(c, "SET", "k", "a")
    x(c, "APPEND", "k", "b")
    pipe = c.pipeline(transaction=True)
    pipe.execute_command("GET", "k")
    pipe.execute_command("APPEND", "k", "c")
    pipe.execute_command("GETRANGE", "k", "0", "-1")
    pipe.execute_command("SETRANGE", "k", "0", "Z")
    pipe.execute_command("MGET", "k")
    assert pipe.execute() == [b"ab", 3, b"abc", 3, [b"Zbc"]]


def test_strlen(c: redis.Redis) -> None:
    assert x(c, "STRLEN", "nokey") == 0
    x(c, "SET", "k", "hello")
    assert x(c, "STRLEN", "k") == 5
    x(c, "SET", "n", "-12345")
    assert x(c, "STRLEN", "n") == 6
    x(c, "SETRANGE", "k", "10", "x")
    assert x(c, "STRLEN", "k") == 11
    x(c, "RPUSH", "l", "x")
    assert err(c, "STRLEN", "l") == WRONGTYPE


def test_setrange(c: redis.Redis) -> None:
    assert x(c, "SETRANGE", "k", "0", "") == 0
    assert x(c, "EXISTS", "k") == 0
    assert x(c, "SETRANGE", "k", "3", "abc") == 6
    assert x(c, "GET", "k") == b"\x00\x00\x00abc"
    assert x(c, "SETRANGE", "k", "1", "XY") == 6
    assert x(c, "GET", "k") == b"\x00XYabc"
    assert x(c, "SETRANGE", "k", "8", "Z") == 9
    assert x(c, "GET", "k") == b"\x00XYabc\x00\x00Z"
    assert x(c, "SETRANGE", "k", "100", "") == 9
    x(c, "SET", "n", "1234")
    assert x(c, "SETRANGE", "n", "1", "-") == 4
    assert x(c, "GET", "n") == b"1-34"
    x(c, "SET", "t", "hello", "EX", "100")
    x(c, "SETRANGE", "t", "0", "J")
    assert x(c, "GET", "t") == b"Jello"
    assert x(c, "TTL", "t") > 0


def test_setrange_errors(c: redis.Redis) -> None:
    assert err(c, "SETRANGE", "k", "-1", "x") == "offset is out of range"
    assert err(c, "SETRANGE", "k", "x", "x") == NOT_INT
    too_big = "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert err(c, "SETRANGE", "k", str(512 * 1024 * 1024), "x") == too_big
    assert err(c, "SETRANGE", "k", str(LLONG_MAX), "x") == too_big
    assert x(c, "SETRANGE", "k", str(512 * 1024 * 1024), "") == 0
    x(c, "RPUSH", "l", "x")
    assert err(c, "SETRANGE", "l", "0", "x") == WRONGTYPE
    # Type is checked before the size, and an empty value still needs a string.
    assert err(c, "SETRANGE", "l", "0", "") == WRONGTYPE
    assert err(c, "SETRANGE", "l", str(LLONG_MAX), "x") == WRONGTYPE


def test_proto_max_bulk_len_limits_growth(c: redis.Redis) -> None:
    old = x(c, "CONFIG", "GET", "proto-max-bulk-len")
    x(c, "CONFIG", "SET", "proto-max-bulk-len", "1mb")
    try:
        too_big = "string exceeds maximum allowed size (proto-max-bulk-len)"
        assert err(c, "SETRANGE", "k", str(1024 * 1024), "x") == too_big
        assert x(c, "SETRANGE", "k", str(1024 * 1024 - 1), "x") == 1024 * 1024
        assert err(c, "APPEND", "k", "y") == too_big
        assert x(c, "STRLEN", "k") == 1024 * 1024
    finally:
        value = old[b"proto-max-bulk-len"] if isinstance(old, dict) else old[1]
        x(c, "CONFIG", "SET", "proto-max-bulk-len", value)


def test_getrange(c: redis.Redis) -> None:
    x(c, "SET", "k", "Hello World")
    cases = {
        (0, 3): b"Hell", (0, -1): b"Hello World", (-3, -1): b"rld", (5, 3): b"",
        (-1, -5): b"", (0, 100): b"Hello World", (-100, 2): b"Hel", (20, 30): b"",
        (0, 0): b"H", (-1, -1): b"d", (0, -100): b"H", (-100, -100): b"H",
        (10, 10): b"d", (11, 11): b"", (3, -3): b"lo Wor", (0, 4294967297): b"Hello World",
        (LLONG_MIN, LLONG_MAX): b"Hello World",
        (-20, -30): b"", (-30, -20): b"H",
    }
    for (s, e), want in cases.items():
        assert x(c, "GETRANGE", "k", s, e) == want, (s, e)
        assert x(c, "SUBSTR", "k", s, e) == want, (s, e)
    x(c, "SET", "n", "1234")
    assert x(c, "GETRANGE", "n", "1", "2") == b"23"
    assert x(c, "GETRANGE", "nokey", "0", "-1") == b""
    x(c, "SET", "e", "")
    assert x(c, "GETRANGE", "e", "0", "-1") == b""
    assert x(c, "GETRANGE", "e", "-1", "0") == b""


def test_getrange_errors(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "x")
    assert err(c, "GETRANGE", "l", "0", "-1") == WRONGTYPE
    assert err(c, "GETRANGE", "l", "a", "-1") == NOT_INT
    assert err(c, "GETRANGE", "nokey", "0", "b") == NOT_INT
    assert err(c, "SUBSTR", "l", "0", "1") == WRONGTYPE
    assert err(c, "GETRANGE", "k", "0") == "wrong number of arguments for 'getrange' command"


# ---------------------------------------------------------------------------
# INCR DECR INCRBY DECRBY
# ---------------------------------------------------------------------------


def test_incr_decr(c: redis.Redis) -> None:
    assert x(c, "INCR", "n") == 1
    assert x(c, "INCR", "n") == 2
    assert x(c, "DECR", "n") == 1
    assert x(c, "DECR", "m") == -1
    assert x(c, "INCRBY", "n", "10") == 11
    assert x(c, "INCRBY", "n", "-20") == -9
    assert x(c, "DECRBY", "n", "-9") == 0
    assert x(c, "DECRBY", "z", "5") == -5
    x(c, "SET", "big", "17179869184")
    assert x(c, "INCR", "big") == 17179869185
    assert x(c, "INCRBY", "big", "17179869184") == 34359738369
    assert x(c, "GET", "big") == b"34359738369"


def test_incr_bounds(c: redis.Redis) -> None:
    x(c, "SET", "n", str(LLONG_MAX - 1))
    assert x(c, "INCR", "n") == LLONG_MAX
    assert err(c, "INCR", "n") == "increment or decrement would overflow"
    assert x(c, "GET", "n") == str(LLONG_MAX).encode()
    x(c, "SET", "n", str(LLONG_MIN + 1))
    assert x(c, "DECR", "n") == LLONG_MIN
    assert err(c, "DECR", "n") == "increment or decrement would overflow"
    assert err(c, "INCRBY", "n", "-1") == "increment or decrement would overflow"
    assert x(c, "INCRBY", "n", str(LLONG_MAX)) == -1
    assert err(c, "DECRBY", "n", str(LLONG_MIN)) == "decrement would overflow"
    assert x(c, "DECRBY", "x", str(LLONG_MAX)) == -LLONG_MAX
    assert err(c, "INCRBY", "x", str(LLONG_MAX + 1)) == NOT_INT


@pytest.mark.parametrize("bad", [" 11", "11 ", " 11 ", "1.5", "abc", "", "+1", "01", "-0",
                                 "1e3", "0x10", str(LLONG_MAX + 1), "1\x002"])
def test_incr_not_an_integer(c: redis.Redis, bad: str) -> None:
    x(c, "SET", "n", bad)
    for args in (["INCR", "n"], ["DECR", "n"], ["INCRBY", "n", "1"], ["DECRBY", "n", "1"]):
        assert err(c, *args) == NOT_INT
    assert x(c, "GET", "n") == bad.encode()
    assert err(c, "INCRBY", "k", bad) == NOT_INT
    assert err(c, "DECRBY", "k", bad) == NOT_INT
    assert x(c, "EXISTS", "k") == 0


def test_incr_wrongtype_and_arity(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "x")
    assert err(c, "INCR", "l") == WRONGTYPE
    assert err(c, "INCRBY", "l", "1") == WRONGTYPE
    # The increment is parsed before the key is looked at.
    assert err(c, "INCRBY", "l", "x") == NOT_INT
    assert err(c, "INCR", "n", "v") == "wrong number of arguments for 'incr' command"
    assert err(c, "DECR", "n", "v") == "wrong number of arguments for 'decr' command"


def test_incr_keeps_ttl(c: redis.Redis) -> None:
    x(c, "SET", "n", "1", "EX", "100")
    x(c, "INCR", "n")
    x(c, "DECRBY", "n", "5")
    assert x(c, "GET", "n") == b"-3"
    assert x(c, "TTL", "n") > 0


def test_incr_after_append(c: redis.Redis) -> None:
    x(c, "SET", "n", "1")
    x(c, "APPEND", "n", "2")
    assert x(c, "INCRBY", "n", "1") == 13
    x(c, "SETRANGE", "n", "0", "9")
    assert x(c, "DECR", "n") == 92


# ---------------------------------------------------------------------------
# INCRBYFLOAT
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "incr", "want"),
    [
        (None, "10.5", b"10.5"), ("10.5", "0.1", b"10.6"), ("3.0e3", "1", b"3001"),
        ("5.0e3", "0", b"5000"), ("1.1", "2.2", b"3.3"), ("1", "-1.1", b"-0.1"),
        ("17179869184", "1.5", b"17179869185.5"), ("17179869184", "17179869184", b"34359738368"),
        (None, "1e-20", b"0"), (None, "-1e-20", b"0"), (None, "0x10", b"16"), (None, "1e20", b"100000000000000000000"),
        ("0", "5.0e-3", b"0.005"), ("1", "1.", b"2"), ("1", ".5", b"1.5"), ("1", "+.5e1", b"6"),
        (None, "0.1", b"0.1"), ("0.1", "0.2", b"0.3"), ("1e25", "1", b"1" + b"0" * 25), ("1e30", "1", b"1000000000000000000024696061952"),
        (None, "-0", b"0"), ("10", "-10", b"0"), (None, "3.14159265358979323846", b"3.14159265358979324"),
        (None, "123456789012345678901234567890", b"123456789012345678899921813504"),
    ],
)
def test_incrbyfloat_values(c: redis.Redis, start: str | None, incr: str, want: bytes) -> None:
    if start is not None:
        x(c, "SET", "f", start)
    assert x(c, "INCRBYFLOAT", "f", incr) == want
    assert x(c, "GET", "f") == want


def test_incrbyfloat_no_negative_zero(c: redis.Redis) -> None:
    x(c, "INCRBYFLOAT", "f", repr(1 / 41))
    assert x(c, "INCRBYFLOAT", "f", repr(-1 / 41)) == b"0"


@pytest.mark.parametrize("bad", [" 1", "1 ", " 1 ", "abc", "", "1e", "nan", "1_0", "1\x002",
                                 "1e5000", "1e-5000", "0x", "1" * 5120])
def test_incrbyfloat_not_a_float(c: redis.Redis, bad: str) -> None:
    x(c, "SET", "f", bad)
    assert err(c, "INCRBYFLOAT", "f", "1") == NOT_FLOAT
    assert x(c, "GET", "f") == bad.encode()
    assert err(c, "INCRBYFLOAT", "g", bad) == NOT_FLOAT
    assert x(c, "EXISTS", "g") == 0


def test_incrbyfloat_nan_or_infinity(c: redis.Redis) -> None:
    x(c, "SET", "f", "0")
    for inc in ("+inf", "-inf", "inf", "Infinity", "-INFINITY"):
        assert err(c, "INCRBYFLOAT", "f", inc) == "increment would produce NaN or Infinity"
    x(c, "SET", "f", "inf")
    assert err(c, "INCRBYFLOAT", "f", "1") == "increment would produce NaN or Infinity"
    assert err(c, "INCRBYFLOAT", "f", "-inf") == "increment would produce NaN or Infinity"
    # Overflow of the long double range is infinity too.
    x(c, "SET", "f", "1.1e4932")
    assert err(c, "INCRBYFLOAT", "f", "1.1e4932") == "increment would produce NaN or Infinity"
    assert x(c, "GET", "f") == b"1.1e4932"


def test_incrbyfloat_wrongtype_keeps_ttl_and_arity(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "x")
    assert err(c, "INCRBYFLOAT", "l", "1") == WRONGTYPE
    # The type is checked before either number.
    assert err(c, "INCRBYFLOAT", "l", "x") == WRONGTYPE
    x(c, "SET", "f", "1.5", "EX", "100")
    assert x(c, "INCRBYFLOAT", "f", "1") == b"2.5"
    assert x(c, "TTL", "f") > 0
    assert err(c, "INCRBYFLOAT", "f") == "wrong number of arguments for 'incrbyfloat' command"


def test_long_double_emulation_unit() -> None:
    """Known x87 long double results (checked against C's strtold + printf %.17Lf)."""
    cases = {
        ("10.5", "0.1"): b"10.6", ("0.1", "0.7"): b"0.8", ("1", "1e-17"): b"1.00000000000000001",
        ("1", "4e-18"): b"1", ("0x1p-18", "0"): b"0.00000381469726562", ("0x3p-18", "0"): b"0.00001144409179688",
        ("9223372036854775807", "1"): b"9223372036854775808", ("18446744073709551615", "0"): b"18446744073709551615",
        ("18446744073709551617", "0"): b"18446744073709551616", ("0x1.fffffffffffffffep16383", "0x1p16319"): 2,
        ("1e-4950", "0"): b"0", ("1e-4952", "0"): 1,
    }
    for (a, b), want in cases.items():
        assert ld_incrbyfloat(a.encode(), b.encode()) == want, (a, b)


# ---------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------

RNA1 = ("CACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACT"
        "CGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTG"
        "CAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTTCGTCCGGGTGTG")
RNA2 = ("ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTG"
        "TGTGGCTGTCACTCGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAAC"
        "TCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTT")


def test_lcs_string_and_len(c: redis.Redis) -> None:
    x(c, "SET", "a", RNA1)
    x(c, "SET", "b", RNA2)
    # The LCS is the concatenation of the matched ranges of a (see test_lcs_idx).
    want = b"".join(RNA1.encode()[s : e + 1] for s, e in ((1, 222), (224, 224), (229, 230), (236, 236), (238, 238)))
    assert x(c, "LCS", "a", "b") == want
    assert x(c, "LCS", "a", "b", "LEN") == 227
    assert x(c, "LCS", "a", "b", "len", "LEN", "WITHMATCHLEN", "MINMATCHLEN", "3") == 227
    x(c, "SET", "x", "ohmytext")
    x(c, "SET", "y", "mynewtext")
    assert x(c, "LCS", "x", "y") == b"mytext"
    assert x(c, "LCS", "x", "nokey") == b""
    assert x(c, "LCS", "nokey", "nokey2", "LEN") == 0
    assert x(c, "LCS", "x", "x") == b"ohmytext"


def test_lcs_idx(c: redis.Redis) -> None:
    x(c, "SET", "a", RNA1)
    x(c, "SET", "b", RNA2)
    reply = x(c, "LCS", "a", "b", "IDX")
    assert reply == [b"matches", [
        [[238, 238], [239, 239]], [[236, 236], [238, 238]], [[229, 230], [236, 237]],
        [[224, 224], [235, 235]], [[1, 222], [13, 234]]], b"len", 227]
    reply = x(c, "LCS", "a", "b", "IDX", "WITHMATCHLEN")
    assert reply[1][2] == [[229, 230], [236, 237], 2]
    assert reply[1][4] == [[1, 222], [13, 234], 222]
    reply = x(c, "LCS", "a", "b", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "5")
    assert reply == [b"matches", [[[1, 222], [13, 234], 222]], b"len", 227]
    # A negative minimum counts as 0.
    assert x(c, "LCS", "a", "b", "IDX", "MINMATCHLEN", "-3")[1][0] == [[238, 238], [239, 239]]
    x(c, "SET", "x", "ohmytext")
    x(c, "SET", "y", "mynewtext")
    assert x(c, "LCS", "x", "y", "IDX") == [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert x(c, "LCS", "x", "nokey", "IDX") == [b"matches", [], b"len", 0]


def test_lcs_idx_resp3_is_a_map(c3: redis.Redis) -> None:
    x(c3, "SET", "x", "ohmytext")
    x(c3, "SET", "y", "mynewtext")
    assert x(c3, "LCS", "x", "y", "IDX", "WITHMATCHLEN") == {
        b"matches": [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len": 6}


def test_lcs_errors(c: redis.Redis) -> None:
    x(c, "SET", "a", "abc")
    x(c, "RPUSH", "l", "x")
    assert err(c, "LCS", "a", "l") == "The specified keys must contain string values"
    assert err(c, "LCS", "l", "nokey", "LEN") == "The specified keys must contain string values"
    assert err(c, "LCS", "a", "a", "LEN", "IDX") == "If you want both the length and indexes, please just use IDX."
    assert err(c, "LCS", "a", "a", "FOO") == SYNTAX
    assert err(c, "LCS", "a", "a", "MINMATCHLEN") == SYNTAX
    assert err(c, "LCS", "a", "a", "MINMATCHLEN", "x") == NOT_INT
    # Type errors come before option errors.
    assert err(c, "LCS", "a", "l", "FOO") == "The specified keys must contain string values"
    assert err(c, "LCS", "a") == "wrong number of arguments for 'lcs' command"


def test_lcs_memory_limit(c: redis.Redis) -> None:
    old = x(c, "CONFIG", "GET", "proto-max-bulk-len")
    x(c, "CONFIG", "SET", "proto-max-bulk-len", "1mb")
    try:
        x(c, "SET", "a", "x" * 600)
        x(c, "SET", "b", "y" * 600)
        assert err(c, "LCS", "a", "b") == (
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        x(c, "SET", "b", "y" * 400)
        assert x(c, "LCS", "a", "b", "LEN") == 0
    finally:
        value = old[b"proto-max-bulk-len"] if isinstance(old, dict) else old[1]
        x(c, "CONFIG", "SET", "proto-max-bulk-len", value)


def _naive_lcs(a: bytes, b: bytes, minmatchlen: int) -> tuple[int, bytes, list[tuple[int, int, int, int]]]:
    """Textbook DP table walked back the way Valkey does, to check the bit-parallel version."""
    n, m = len(a), len(b)
    t = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            t[i][j] = t[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(t[i - 1][j], t[i][j - 1])
    i, j = n, m
    out = bytearray()
    ranges: list[tuple[int, int, int, int]] = []
    cur: list[int] | None = None
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            if cur is None:
                cur = [i - 1, i - 1, j - 1, j - 1]
            elif cur[0] == i and cur[2] == j:
                cur[0] -= 1
                cur[2] -= 1
            else:
                emit = True
            if cur[0] == 0 or cur[2] == 0:
                emit = True
            i -= 1
            j -= 1
        else:
            if t[i - 1][j] > t[i][j - 1]:
                i -= 1
            else:
                j -= 1
            emit = cur is not None
        if emit and cur is not None:
            if minmatchlen == 0 or cur[1] - cur[0] + 1 >= minmatchlen:
                ranges.append((cur[0], cur[1], cur[2], cur[3]))
            cur = None
    return t[n][m], bytes(reversed(out)), ranges


def test_lcs_bit_parallel_matches_dp() -> None:
    import random

    rnd = random.Random(7)
    for _ in range(400):
        alphabet = rnd.choice([b"ab", b"abc", b"ACGT", bytes(range(256))])
        a = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))
        b = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))
        mm = rnd.choice([0, 0, 2, 3])
        want = _naive_lcs(a, b, mm)
        assert lcs_walk(a, b, mm) == want, (a, b, mm)
        assert lcs_length(a, b) == want[0]


# ---------------------------------------------------------------------------
# Propagation and keyspace events (in-process server with tapped hooks)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, Tap]]:
    with tapped_server(enable_debug_command="yes") as et:
        yield et


@pytest.fixture()
def ec(embedded: tuple[EmbeddedServer, Tap]) -> Iterator[tuple[redis.Redis, Tap]]:
    e, tap = embedded
    client = _client(e.port, 2)
    x(client, "SELECT", "0")
    for db in tap.srv.keyspace.dbs:
        db.flush()
    tap.clear()
    yield client, tap
    client.close()


def test_propagate_set_with_relative_expire_as_pxat(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    before = int(time.time() * 1000)
    x(c, "SET", "k", "v", "EX", "100")
    x(c, "SET", "k2", "v", "PX", "5000", "NX", "GET")
    x(c, "SETEX", "k3", "10", "v")
    x(c, "PSETEX", "k4", "10", "v")
    after = int(time.time() * 1000)
    assert [p[:4] for p in tap.props] == [[b"SET", b"k", b"v", b"PXAT"], [b"SET", b"k2", b"v", b"PXAT"],
                                          [b"SET", b"k3", b"v", b"PXAT"], [b"SET", b"k4", b"v", b"PXAT"]]
    assert all(len(p) == 5 for p in tap.props)
    assert before + 100000 <= int(tap.props[0][4]) <= after + 100000
    assert before + 5000 <= int(tap.props[1][4]) <= after + 5000
    assert before + 10000 <= int(tap.props[2][4]) <= after + 10000
    assert before + 10 <= int(tap.props[3][4]) <= after + 10


def test_propagate_set_variants(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "k", "v", "PXAT", "99999999999999")
    x(c, "SET", "k", "w", "GET", "XX", "get")
    x(c, "SET", "k", "z", "PXAT", "99999999999999", "GET")
    x(c, "SET", "k", "v", "NX")  # not done: nothing propagated
    x(c, "SET", "k", "v", "KEEPTTL")
    assert tap.props == [
        [b"SET", b"k", b"v", b"PXAT", b"99999999999999"],
        [b"SET", b"k", b"w", b"XX"],
        [b"SET", b"k", b"z", b"PXAT", b"99999999999999", b"GET"],
        [b"SET", b"k", b"v", b"KEEPTTL"],
    ]


def test_propagate_expired_set_and_getex_as_unlink(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "k", "v")
    x(c, "SET", "k", "v", "PXAT", "1")
    x(c, "SET", "missing", "v", "EXAT", "1")
    x(c, "SET", "g", "v")
    x(c, "GETEX", "g", "EXAT", "1")
    assert tap.props == [[b"SET", b"k", b"v"], [b"UNLINK", b"k"], [b"SET", b"g", b"v"], [b"UNLINK", b"g"]]
    assert tap.events == [("set", b"k"), ("del", b"k"), ("set", b"g"), ("del", b"g")]
    tap.clear()
    tap.srv.config.lazyfree_lazy_expire = False
    try:
        x(c, "SET", "k", "v")
        x(c, "SET", "k", "v", "PXAT", "1")
    finally:
        tap.srv.config.lazyfree_lazy_expire = True
    assert tap.props == [[b"SET", b"k", b"v"], [b"DEL", b"k"]]


def test_propagate_get_family(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "k", "v")
    tap.clear()
    x(c, "GETEX", "k")
    x(c, "GETEX", "k", "PERSIST")  # no TTL: nothing changes, nothing propagated
    x(c, "GETEX", "k", "EX", "100")
    x(c, "GETEX", "k", "PXAT", "99999999999999")
    x(c, "GETEX", "k", "PERSIST")
    x(c, "GETSET", "k", "w")
    x(c, "GETDEL", "k")
    x(c, "GETDEL", "k")
    assert [p[:2] for p in tap.props] == [
        [b"PEXPIREAT", b"k"], [b"PEXPIREAT", b"k"], [b"PERSIST", b"k"], [b"SET", b"k"], [b"DEL", b"k"]]
    assert tap.props[1] == [b"PEXPIREAT", b"k", b"99999999999999"]
    assert tap.props[3] == [b"SET", b"k", b"w"]
    assert tap.events == [("expire", b"k"), ("expire", b"k"), ("persist", b"k"), ("set", b"k"), ("del", b"k")]


def test_propagate_incrbyfloat_as_set_keepttl(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "INCRBYFLOAT", "f", "10.5")
    x(c, "INCRBYFLOAT", "f", "0.1")
    assert err(c, "INCRBYFLOAT", "f", "x") == NOT_FLOAT
    assert tap.props == [[b"SET", b"f", b"10.5", b"KEEPTTL"], [b"SET", b"f", b"10.6", b"KEEPTTL"]]
    assert tap.events == [("incrbyfloat", b"f"), ("incrbyfloat", b"f")]


def test_keyspace_events(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "a", "1")
    x(c, "SET", "b", "1", "EX", "100")
    x(c, "SETNX", "c", "1")
    x(c, "SETNX", "c", "1")
    x(c, "INCR", "a")
    x(c, "DECR", "a")
    x(c, "INCRBY", "a", "2")
    x(c, "DECRBY", "a", "2")
    x(c, "APPEND", "a", "x")
    x(c, "SETRANGE", "a", "0", "y")
    x(c, "SETRANGE", "a", "0", "")
    x(c, "MSET", "m1", "1", "m2", "2")
    x(c, "MSETNX", "m3", "1", "m4", "2")
    x(c, "MSETNX", "m3", "1", "m5", "2")
    x(c, "GET", "a")
    x(c, "STRLEN", "a")
    x(c, "LCS", "a", "b")
    assert tap.events == [
        ("set", b"a"), ("set", b"b"), ("expire", b"b"), ("set", b"c"), ("incrby", b"a"),
        ("incrby", b"a"), ("incrby", b"a"), ("incrby", b"a"), ("append", b"a"), ("setrange", b"a"),
        ("set", b"m1"), ("set", b"m2"), ("set", b"m3"), ("set", b"m4"),
    ]


def test_reads_and_failed_writes_do_not_propagate(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "a", "1")
    tap.clear()
    for args in (["GET", "a"], ["MGET", "a", "b"], ["STRLEN", "a"], ["GETRANGE", "a", "0", "-1"],
                 ["LCS", "a", "a"], ["SETNX", "a", "2"], ["SET", "a", "2", "NX"], ["GETDEL", "nokey"],
                 ["SETRANGE", "a", "0", ""], ["MSETNX", "a", "1"], ["GETEX", "nokey", "EX", "10"]):
        x(c, *args)
    assert tap.props == []
    assert tap.events == []


def test_keyspace_events_over_pubsub(c: redis.Redis) -> None:
    """End to end: CONFIG SET notify-keyspace-events, then the events string commands publish."""
    old = x(c, "CONFIG", "GET", "notify-keyspace-events")
    x(c, "CONFIG", "SET", "notify-keyspace-events", "KEA")
    sub = c.pubsub()
    try:
        sub.psubscribe("__keyevent@0__:*")
        assert sub.get_message(timeout=5)["type"] == "psubscribe"  # type: ignore[index]
        x(c, "SET", "k", "1", "PX", "100000")
        x(c, "INCRBYFLOAT", "k", "1.5")
        x(c, "GETEX", "k", "PERSIST")
        x(c, "APPEND", "k", "0")
        x(c, "SETRANGE", "k", "0", "3")
        x(c, "GETDEL", "k")
        x(c, "INCR", "n")
        events: list[tuple[bytes, bytes]] = []
        while len(events) < 8:
            m = sub.get_message(timeout=5)
            assert m is not None, events
            if m["type"] == "pmessage":
                events.append((m["channel"], m["data"]))
        assert events == [
            (b"__keyevent@0__:set", b"k"), (b"__keyevent@0__:expire", b"k"),
            (b"__keyevent@0__:incrbyfloat", b"k"), (b"__keyevent@0__:persist", b"k"),
            (b"__keyevent@0__:append", b"k"), (b"__keyevent@0__:setrange", b"k"),
            (b"__keyevent@0__:del", b"k"), (b"__keyevent@0__:incrby", b"n"),
        ]
    finally:
        sub.close()
        value = old[b"notify-keyspace-events"] if isinstance(old, dict) else old[1]
        x(c, "CONFIG", "SET", "notify-keyspace-events", value)


def test_command_docs(c: redis.Redis) -> None:
    docs = x(c, "COMMAND", "DOCS", "setnx", "lcs")
    d = dict(zip(docs[::2], docs[1::2], strict=True))
    setnx = dict(zip(d[b"setnx"][::2], d[b"setnx"][1::2], strict=True))
    assert setnx[b"summary"] == b"Set the string value of a key only when the key doesn't exist."
    assert setnx[b"since"] == b"1.0.0"
    assert setnx[b"group"] == b"string"
    assert setnx[b"doc_flags"] == [b"deprecated"]
    assert setnx[b"deprecated_since"] == b"2.6.12"
    assert setnx[b"replaced_by"] == b"`SET` with the `NX` argument"
    lcs = dict(zip(d[b"lcs"][::2], d[b"lcs"][1::2], strict=True))
    names = [dict(zip(a[::2], a[1::2], strict=True))[b"name"] for a in lcs[b"arguments"]]
    assert names == [b"key1", b"key2", b"len", b"idx", b"min-match-len", b"withmatchlen"]
    assert x(c, "COMMAND", "GETKEYS", "LCS", "a", "b", "IDX") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
