"""Hash commands (HSET HSETNX HGET HMSET HMGET HGETALL HDEL HLEN HEXISTS HKEYS HVALS HINCRBY
HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN) and Valkey 9's per-field expiry (HEXPIRE HPEXPIRE
HEXPIREAT HPEXPIREAT HTTL HPTTL HEXPIRETIME HPEXPIRETIME HPERSIST HGETEX HSETEX) against a
running kaa-server: replies and error texts in RESP2 and RESP3 (raw bytes where the type
matters), OBJECT ENCODING transitions, HSCAN under modification, lazy and active field
expiry; keyspace events, propagation and dirty counts on an in-process server; and the
HashValue bookkeeping itself.

Field expiry replies are checked against Valkey's t_hash.c as of its unstable branch
(Valkey 9): the Valkey 8 and Redis 7.0 oracles do not have these commands.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.commands import err, x
from tests.support.commands import raw_client as _client
from tests.support.servers import ServerProcess
from tests.support.tap import Tap, tapped_server

from kaa.embedded import EmbeddedServer
from kaa.types.hash import HashValue

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
SYNTAX = "syntax error"
RANGE_LONG = "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
NUMFIELDS = "numfields should be greater than 0 and match the provided number of fields"




def _reset_config(c: redis.Redis) -> None:
    c.execute_command("CONFIG", "SET", "hash-max-listpack-entries", "512",
                      "hash-max-listpack-value", "64")
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port, 2)
    client.execute_command("FLUSHALL")
    _reset_config(client)
    yield client
    _reset_config(client)
    client.close()


@pytest.fixture()
def c3(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port, 3)
    client.execute_command("FLUSHALL")
    yield client
    client.close()






def enc(c: redis.Redis, key: str) -> bytes:
    return x(c, "OBJECT", "ENCODING", key)  # type: ignore[no-any-return]


def now_ms() -> int:
    return int(time.time() * 1000)


def raw(port: int, *cmds: list[str], proto: int = 3) -> list[bytes]:
    """Send commands on a fresh connection and return each reply's raw bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        if proto == 3:
            s.sendall(b"HELLO 3\r\n")
            _read_reply(f)
        out = []
        for cmd in cmds:
            parts = [a.encode() for a in cmd]
            s.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
            out.append(_read_reply(f))
        return out


def _read_reply(f: Any) -> bytes:
    line = f.readline()
    t = line[:1]
    if t in b"$=!" and line[1:3] != b"-1":
        n = int(line[1:-2])
        return line + f.read(n + 2)  # type: ignore[no-any-return]
    if t in b"*~%>|" and line[1:3] != b"-1":
        n = int(line[1:-2]) * (2 if t in b"%|" else 1)
        return line + b"".join(_read_reply(f) for _ in range(n))
    return line  # type: ignore[no-any-return]


def wait_until(pred: Any, timeout: float = 3.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


# ---- basics ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("big", [False, True])
def test_basics(c: redis.Redis, big: bool) -> None:
    if big:
        x(c, "HSET", "h", "big", "x" * 100)
        assert enc(c, "h") == b"hashtable"
    assert x(c, "HSET", "h", "a", "1", "b", "2") == 2
    assert x(c, "HSET", "h", "a", "10", "c", "3") == 1
    assert x(c, "HMSET", "h", "d", "4") == b"OK"
    assert x(c, "HSETNX", "h", "a", "x") == 0
    assert x(c, "HSETNX", "h", "e", "5") == 1
    assert x(c, "HGET", "h", "a") == b"10"
    assert x(c, "HGET", "h", "zz") is None
    assert x(c, "HMGET", "h", "a", "zz", "e") == [b"10", None, b"5"]
    assert x(c, "HLEN", "h") == 5 + big
    assert x(c, "HEXISTS", "h", "c") == 1 and x(c, "HEXISTS", "h", "zz") == 0
    assert x(c, "HSTRLEN", "h", "a") == 2 and x(c, "HSTRLEN", "h", "zz") == 0
    pairs = x(c, "HGETALL", "h")
    d = dict(zip(pairs[::2], pairs[1::2], strict=True))
    assert {k: v for k, v in d.items() if k != b"big"} == {b"a": b"10", b"b": b"2", b"c": b"3",
                                                             b"d": b"4", b"e": b"5"}
    assert sorted(x(c, "HKEYS", "h")) == sorted(d)
    assert sorted(x(c, "HVALS", "h")) == sorted(d.values())
    assert x(c, "HDEL", "h", "a", "zz", "a") == 1
    if not big:
        # A listpack keeps insertion order.
        assert x(c, "HKEYS", "h") == [b"b", b"c", b"d", b"e"]
    assert x(c, "HDEL", "h", "b", "c", "d", "e", "big", "more") == 4 + big
    assert x(c, "EXISTS", "h") == 0


def test_missing_key_replies(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    assert x(c, "HGET", "nokey", "f") is None
    assert x(c, "HMGET", "nokey", "a", "b") == [None, None]
    assert x(c, "HLEN", "nokey") == 0
    assert x(c, "HEXISTS", "nokey", "f") == 0
    assert x(c, "HSTRLEN", "nokey", "f") == 0
    assert x(c, "HDEL", "nokey", "f") == 0
    for proto, empty_map, null in ((2, b"*0\r\n", b"$-1\r\n"), (3, b"%0\r\n", b"_\r\n")):
        replies = raw(kaa_proc.port, ["HGETALL", "nokey"], ["HKEYS", "nokey"], ["HVALS", "nokey"],
                      ["HRANDFIELD", "nokey"], ["HRANDFIELD", "nokey", "3"],
                      ["HRANDFIELD", "nokey", "3", "WITHVALUES"], ["HSCAN", "nokey", "0"],
                      ["HGET", "nokey", "f"], proto=proto)
        assert replies == [empty_map, b"*0\r\n", b"*0\r\n", null, b"*0\r\n", b"*0\r\n",
                           b"*2\r\n$1\r\n0\r\n*0\r\n", null]


def test_resp3_shapes(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    x(c, "HSET", "h", "a", "1", "b", "2")
    r3 = raw(kaa_proc.port, ["HGETALL", "h"], ["HRANDFIELD", "h", "2", "WITHVALUES"],
             ["HRANDFIELD", "h", "-1", "WITHVALUES"], ["HRANDFIELD", "h", "1"])
    assert r3[0] == b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert r3[1] in (b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
                     b"*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
    assert r3[2] in (b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n", b"*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n")
    assert r3[3] in (b"*1\r\n$1\r\na\r\n", b"*1\r\n$1\r\nb\r\n")
    r2 = raw(kaa_proc.port, ["HGETALL", "h"], ["HRANDFIELD", "h", "-1", "WITHVALUES"], proto=2)
    assert r2[0] == b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert r2[1] in (b"*2\r\n$1\r\na\r\n$1\r\n1\r\n", b"*2\r\n$1\r\nb\r\n$1\r\n2\r\n")


def test_wrongtype(c: redis.Redis) -> None:
    x(c, "SET", "str", "x")
    for args in (["HSET", "str", "f", "v"], ["HMSET", "str", "f", "v"], ["HSETNX", "str", "f", "v"],
                 ["HGET", "str", "f"], ["HMGET", "str", "f"], ["HGETALL", "str"], ["HDEL", "str", "f"],
                 ["HLEN", "str"], ["HEXISTS", "str", "f"], ["HKEYS", "str"], ["HVALS", "str"],
                 ["HINCRBY", "str", "f", "1"], ["HINCRBYFLOAT", "str", "f", "1"], ["HSTRLEN", "str", "f"],
                 ["HRANDFIELD", "str"], ["HRANDFIELD", "str", "2"], ["HSCAN", "str", "0"],
                 ["HEXPIRE", "str", "10", "FIELDS", "1", "f"], ["HTTL", "str", "FIELDS", "1", "f"],
                 ["HPERSIST", "str", "FIELDS", "1", "f"], ["HGETEX", "str", "FIELDS", "1", "f"],
                 ["HSETEX", "str", "FIELDS", "1", "f", "v"]):
        assert err(c, *args) == WRONGTYPE, args
    assert x(c, "GET", "str") == b"x"


def test_arity_errors(c: redis.Redis) -> None:
    assert err(c, "HSET", "h", "a", "1", "b") == "wrong number of arguments for 'hset' command"
    assert err(c, "HMSET", "h", "a", "1", "b") == "wrong number of arguments for 'hmset' command"
    assert err(c, "HSET", "h", "a") == "wrong number of arguments for 'hset' command"
    assert err(c, "HEXPIRE", "h", "10") == "wrong number of arguments for 'hexpire' command"
    assert err(c, "HEXPIRE", "h", "10", "FIELDS", "0") == "wrong number of arguments for 'hexpire' command"
    assert err(c, "HEXPIRETIME", "h", "FIELDS", "1") == \
        "wrong number of arguments for 'hexpiretime' command"
    assert x(c, "EXISTS", "h") == 0


# ---- encodings ----------------------------------------------------------------------------------------------
def test_encoding_transitions(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a", "1")
    assert enc(c, "h") == b"listpack"
    x(c, "HSET", "h", "b", "x" * 65)
    assert enc(c, "h") == b"hashtable"
    x(c, "HDEL", "h", "b")
    assert enc(c, "h") == b"hashtable"  # never converts back
    x(c, "CONFIG", "SET", "hash-max-listpack-entries", "4")
    x(c, "HSET", "e", "1", "1", "2", "2", "3", "3", "4", "4")
    assert enc(c, "e") == b"listpack"
    x(c, "HSET", "e", "5", "5")
    assert enc(c, "e") == b"hashtable"
    # HSET converts on the number of pairs it is given, even if they are updates.
    x(c, "HSET", "u", "a", "1")
    x(c, "HSET", "u", *(["a", "1"] * 5))
    assert enc(c, "u") == b"hashtable" and x(c, "HLEN", "u") == 1
    x(c, "CONFIG", "SET", "hash-max-listpack-value", "8")
    x(c, "HSET", "f", "abcdefghi", "1")
    assert enc(c, "f") == b"hashtable"
    # HINCRBYFLOAT's result and field obey the value limit too.
    x(c, "HSET", "small", "tmp", "0")
    x(c, "HSET", "bigv", "tmp", "0")
    x(c, "HINCRBYFLOAT", "small", "tmp", "0.000005")
    x(c, "HINCRBYFLOAT", "bigv", "tmp", "0.0000005")
    assert enc(c, "small") == b"listpack" and enc(c, "bigv") == b"hashtable"
    x(c, "HINCRBYFLOAT", "sf", "abcdefgh", "1")
    x(c, "HINCRBYFLOAT", "bf", "abcdefghi", "1")
    assert enc(c, "sf") == b"listpack" and enc(c, "bf") == b"hashtable"
    x(c, "HINCRBY", "hi", "abcdefghi", "1")
    assert enc(c, "hi") == b"hashtable"


# ---- HINCRBY / HINCRBYFLOAT -------------------------------------------------------------------------------
def test_hincrby(c: redis.Redis) -> None:
    assert x(c, "HINCRBY", "h", "n", "2") == 2
    assert x(c, "HINCRBY", "h", "n", "-5") == -3
    x(c, "HSET", "h", "big", "17179869184", "s", " 11", "t", "11 ", "u", "abc")
    assert x(c, "HINCRBY", "h", "big", "17179869184") == 34359738368
    for f in ("s", "t", "u"):
        assert err(c, "HINCRBY", "h", f, "1") == "hash value is not an integer"
    assert err(c, "HINCRBY", "h", "n", "x") == NOT_INT
    assert err(c, "HINCRBY", "h", "n", "1.5") == NOT_INT
    x(c, "HSET", "h", "m", "-9223372036854775484")
    assert x(c, "HINCRBY", "h", "m", "-1") == -9223372036854775485
    assert err(c, "HINCRBY", "h", "m", "-10000") == "increment or decrement would overflow"
    x(c, "HSET", "h", "p", "9223372036854775807")
    assert err(c, "HINCRBY", "h", "p", "1") == "increment or decrement would overflow"
    assert x(c, "HINCRBY", "h", "p", "0") == 9223372036854775807
    assert err(c, "HINCRBY", "nokey", "f", "x") == NOT_INT
    assert x(c, "EXISTS", "nokey") == 0


def test_hincrbyfloat(c: redis.Redis) -> None:
    assert x(c, "HINCRBYFLOAT", "h", "f", "1.23") == b"1.23"
    assert x(c, "HINCRBYFLOAT", "h", "f", "0.77") == b"2"
    assert x(c, "HINCRBYFLOAT", "h", "f", "-0.1") == b"1.9"
    assert x(c, "HINCRBYFLOAT", "h", "g", "10.5") == b"10.5"
    assert x(c, "HINCRBYFLOAT", "h", "g", "0.1") == b"10.6"
    assert x(c, "HINCRBYFLOAT", "h", "g", "5.0e3") == b"5010.60000000000000009"
    assert x(c, "HINCRBYFLOAT", "h", "n", "17179869184") == b"17179869184"
    assert x(c, "HGET", "h", "g") == b"5010.60000000000000009"
    x(c, "HSET", "h", "s", " 11", "t", "1\x002", "u", "abc", "big", "1.7976931348623157e308")
    for f in ("s", "t", "u"):
        assert err(c, "HINCRBYFLOAT", "h", f, "1") == "hash value is not a float"
    assert err(c, "HINCRBYFLOAT", "h", "f", "x") == NOT_FLOAT
    assert err(c, "HINCRBYFLOAT", "h", "f", "nan") == NOT_FLOAT
    assert err(c, "HINCRBYFLOAT", "h", "f", "+inf") == "value is NaN or Infinity"
    assert err(c, "HINCRBYFLOAT", "h", "f", "-inf") == "value is NaN or Infinity"
    assert err(c, "HINCRBYFLOAT", "hfoo", "f", "inf") == "value is NaN or Infinity"
    assert x(c, "EXISTS", "hfoo") == 0
    # 2 * DBL_MAX still fits a long double; a long double overflow does not.
    assert len(x(c, "HINCRBYFLOAT", "h", "big", "1.7976931348623157e308")) == 309
    x(c, "HSET", "h", "huge", "1e4932")
    assert err(c, "HINCRBYFLOAT", "h", "huge", "1e4932") == "increment would produce NaN or Infinity"


# ---- HRANDFIELD -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("big", [False, True])
def test_hrandfield(c: redis.Redis, big: bool) -> None:
    n = 2000 if big else 10
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(n)}
    x(c, "HSET", "h", *[a for kv in fields.items() for a in kv])
    assert x(c, "HRANDFIELD", "h") in fields
    assert x(c, "HRANDFIELD", "h", "0") == []
    res = x(c, "HRANDFIELD", "h", "-30")
    assert len(res) == 30 and set(res) <= set(fields)
    res = x(c, "HRANDFIELD", "h", "-5", "WITHVALUES")
    assert len(res) == 10 and all(fields[f] == v for f, v in zip(res[::2], res[1::2], strict=True))
    for k in (3, 8, n, n + 5):
        res = x(c, "HRANDFIELD", "h", str(k), "withvalues")
        got = dict(zip(res[::2], res[1::2], strict=True))
        assert len(got) == min(k, n) and all(fields[f] == v for f, v in got.items())
    assert err(c, "HRANDFIELD", "h", "x") == NOT_INT
    assert err(c, "HRANDFIELD", "h", "-9223372036854775808") == RANGE_LONG
    assert err(c, "HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES") == "value is out of range"
    assert err(c, "HRANDFIELD", "h", "4611686018427387904", "WITHVALUES") == "value is out of range"
    assert err(c, "HRANDFIELD", "h", "1", "x") == SYNTAX
    assert err(c, "HRANDFIELD", "h", "1", "WITHVALUES", "x") == SYNTAX


# ---- HSCAN ------------------------------------------------------------------------------------------------------
def test_hscan_listpack_and_errors(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a1", "1", "a2", "2", "b", "3")
    assert x(c, "HSCAN", "h", "0") == [b"0", [b"a1", b"1", b"a2", b"2", b"b", b"3"]]
    assert x(c, "HSCAN", "h", "99", "COUNT", "1") == [b"0", [b"a1", b"1", b"a2", b"2", b"b", b"3"]]
    assert x(c, "HSCAN", "h", "0", "NOVALUES") == [b"0", [b"a1", b"a2", b"b"]]
    assert x(c, "HSCAN", "h", "0", "MATCH", "a*", "NOVALUES") == [b"0", [b"a1", b"a2"]]
    assert err(c, "HSCAN", "h", "x") == "invalid cursor"
    assert err(c, "HSCAN", "h", "0", "COUNT", "0") == SYNTAX
    assert err(c, "HSCAN", "h", "0", "NOSCORES") == "NOSCORES option can only be used in ZSCAN"
    assert err(c, "HSCAN", "h", "0", "TYPE", "hash") == SYNTAX


def test_hscan_hashtable_under_modification(c: redis.Redis) -> None:
    stable = {f"s{i}".encode(): b"v" for i in range(400)}
    x(c, "HSET", "h", *[a for kv in stable.items() for a in kv], *[f"t{i}" for i in range(800)])
    assert enc(c, "h") == b"hashtable"
    seen: dict[bytes, bytes] = {}
    cursor = b"0"
    step = 0
    while True:
        cursor, items = x(c, "HSCAN", "h", cursor, "COUNT", "25")
        seen.update(zip(items[::2], items[1::2], strict=True))
        step += 1
        if step % 2:
            x(c, "HSET", "h", *[f"n{step}_{i}" for i in range(100)])
        else:
            x(c, "HDEL", "h", *[f"t{i}" for i in range(step * 20, step * 20 + 40)])
        if cursor == b"0":
            break
    assert all(seen.get(f) == v for f, v in stable.items())
    cursor, keys = x(c, "HSCAN", "h", "0", "COUNT", "10", "NOVALUES")
    assert cursor != b"0" and all(k.startswith((b"s", b"t", b"n")) for k in keys)


# ---- field expiry: replies -----------------------------------------------------------------------------------
def test_hexpire_codes(c: redis.Redis) -> None:
    assert x(c, "HEXPIRE", "nokey", "100", "FIELDS", "2", "a", "b") == [-2, -2]
    x(c, "HSET", "h", "a", "1", "b", "2", "c", "3")
    assert enc(c, "h") == b"listpack"
    # XX / GT cannot hold on a field without TTL, and leave the listpack alone.
    assert x(c, "HEXPIRE", "h", "100", "XX", "FIELDS", "1", "a") == [0]
    assert x(c, "HEXPIRE", "h", "100", "GT", "FIELDS", "1", "a") == [0]
    assert enc(c, "h") == b"listpack"
    assert x(c, "HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz") == [1, -2]
    assert enc(c, "h") == b"hashtable"
    assert x(c, "HEXPIRE", "h", "200", "NX", "FIELDS", "2", "a", "b") == [0, 1]
    assert x(c, "HEXPIRE", "h", "300", "XX", "fields", "2", "a", "c") == [1, 0]
    assert x(c, "HEXPIRE", "h", "100", "GT", "FIELDS", "2", "a", "c") == [0, 0]
    assert x(c, "HEXPIRE", "h", "400", "GT", "FIELDS", "1", "a") == [1]
    assert x(c, "HEXPIRE", "h", "500", "LT", "FIELDS", "2", "a", "c") == [0, 1]
    assert x(c, "HEXPIRE", "h", "50", "LT", "FIELDS", "1", "a") == [1]
    assert x(c, "HTTL", "h", "FIELDS", "4", "a", "b", "c", "zz") == [50, 200, 500, -2]
    # A time not in the future deletes the field (code 2); conditions are checked first.
    assert x(c, "HEXPIRE", "h", "0", "GT", "FIELDS", "2", "a", "zz") == [0, -2]
    assert x(c, "HEXPIRE", "h", "0", "FIELDS", "2", "a", "zz") == [2, -2]
    assert x(c, "HPEXPIREAT", "h", str(now_ms() - 1000), "FIELDS", "1", "b") == [2]
    assert x(c, "HKEYS", "h") == [b"c"]
    assert x(c, "HEXPIREAT", "h", "1", "FIELDS", "1", "c") == [2]
    assert x(c, "EXISTS", "h") == 0


def test_hexpire_errors(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a", "1")
    assert err(c, "HEXPIRE", "h", "10", "NX", "XX", "FIELDS", "1", "a") == \
        "NX and XX, GT or LT options at the same time are not compatible"
    assert err(c, "HEXPIRE", "h", "10", "GT", "LT", "FIELDS", "1", "a") == \
        "GT and LT options at the same time are not compatible"
    assert err(c, "HEXPIRE", "h", "10", "bad", "FIELDS", "1", "a") == "Unsupported option bad"
    assert err(c, "HEXPIRE", "h", "10", "FIELDS", "2", "a") == NUMFIELDS
    assert err(c, "HEXPIRE", "h", "10", "FIELDS", "0", "a") == NUMFIELDS
    assert err(c, "HEXPIRE", "h", "10", "FIELDS", "-1", "a") == NUMFIELDS
    assert err(c, "HEXPIRE", "h", "10", "FIELDS", "x", "a") == NOT_INT
    assert err(c, "HEXPIRE", "h", "10", "NX", "NX", "FIELDS") == NUMFIELDS
    assert err(c, "HEXPIRE", "h", "10", "a", "b", "c") == NUMFIELDS
    assert err(c, "HEXPIRE", "h", "x", "FIELDS", "1", "a") == NOT_INT
    assert err(c, "HEXPIRE", "h", "-5", "FIELDS", "1", "a") == "invalid expire time in 'hexpire' command"
    assert err(c, "HPEXPIRE", "h", "-5", "FIELDS", "1", "a") == "invalid expire time in 'hpexpire' command"
    assert err(c, "HEXPIREAT", "h", "9223372036854776", "FIELDS", "1", "a") == \
        "invalid expire time in 'hexpireat' command"
    assert err(c, "HPEXPIRE", "h", "9223372036854775807", "FIELDS", "1", "a") == \
        "invalid expire time in 'hpexpire' command"
    assert x(c, "HPEXPIREAT", "h", "9223372036854775807", "FIELDS", "1", "a") == [1]
    assert x(c, "HPEXPIRETIME", "h", "FIELDS", "1", "a") == [9223372036854775807]


def test_ttl_queries(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a", "1", "b", "2")
    at = now_ms() + 100_000
    assert x(c, "HPEXPIREAT", "h", str(at), "FIELDS", "1", "a") == [1]
    assert x(c, "HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "zz") == [at, -1, -2]
    assert x(c, "HEXPIRETIME", "h", "FIELDS", "1", "a") == [(at + 500) // 1000]
    pttl = x(c, "HPTTL", "h", "FIELDS", "1", "a")[0]
    assert 99_000 < pttl <= 100_000
    assert x(c, "HTTL", "h", "FIELDS", "2", "a", "b") == [100, -1]
    assert x(c, "HTTL", "nokey", "FIELDS", "2", "a", "b") == [-2, -2]
    assert x(c, "HEXPIREAT", "h", "4000000000", "FIELDS", "1", "b") == [1]
    assert x(c, "HEXPIRETIME", "h", "FIELDS", "1", "b") == [4000000000]
    # The count must match; the FIELDS keyword itself is not checked.
    assert err(c, "HTTL", "h", "FIELDS", "2", "a") == SYNTAX
    assert err(c, "HTTL", "h", "FIELDS", "0", "a") == SYNTAX
    assert err(c, "HPTTL", "h", "FIELDS", "x", "a") == NOT_INT
    assert x(c, "HTTL", "h", "WHATEVER", "1", "b") == [x(c, "HTTL", "h", "FIELDS", "1", "b")[0]]


def test_hpersist(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a", "1", "b", "2", "c", "3")
    assert x(c, "HPERSIST", "h", "FIELDS", "2", "a", "zz") == [-1, -2]
    x(c, "HEXPIRE", "h", "600", "FIELDS", "1", "a")
    assert x(c, "HPERSIST", "h", "FIELDS", "3", "a", "b", "zz") == [1, -1, -2]
    assert x(c, "HTTL", "h", "FIELDS", "1", "a") == [-1]
    assert x(c, "HPERSIST", "nokey", "FIELDS", "1", "a") == [-2]
    assert err(c, "HPERSIST", "h", "FIELDS", "2", "a") == NUMFIELDS
    assert err(c, "HPERSIST", "h", "FIELDS", "x", "a") == NOT_INT


def test_hgetex(c: redis.Redis) -> None:
    x(c, "HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3")
    assert x(c, "HGETEX", "h", "FIELDS", "2", "f1", "zz") == [b"v1", None]
    assert x(c, "HTTL", "h", "FIELDS", "1", "f1") == [-1]
    assert x(c, "HGETEX", "h", "EX", "100", "FIELDS", "2", "f1", "zz") == [b"v1", None]
    assert x(c, "HTTL", "h", "FIELDS", "2", "f1", "zz") == [100, -2]
    at = now_ms() + 50_000
    assert x(c, "HGETEX", "h", "PXAT", str(at), "FIELDS", "2", "f2", "f2") == [b"v2", b"v2"]
    assert x(c, "HPEXPIRETIME", "h", "FIELDS", "1", "f2") == [at]
    assert x(c, "HGETEX", "h", "EXAT", "4000000000", "FIELDS", "1", "f3") == [b"v3"]
    assert x(c, "HEXPIRETIME", "h", "FIELDS", "1", "f3") == [4000000000]
    assert x(c, "HGETEX", "h", "PX", "100000", "FIELDS", "1", "f3") == [b"v3"]
    assert x(c, "HGETEX", "h", "PERSIST", "FIELDS", "2", "f1", "f3") == [b"v1", b"v3"]
    assert x(c, "HTTL", "h", "FIELDS", "2", "f1", "f3") == [-1, -1]
    assert x(c, "HGETEX", "h", "EX", "0", "FIELDS", "1", "f1") == [b"v1"]
    assert x(c, "HGET", "h", "f1") is None and x(c, "HLEN", "h") == 2
    assert x(c, "HGETEX", "nokey", "EX", "10", "FIELDS", "2", "a", "b") == [None, None]
    assert x(c, "EXISTS", "nokey") == 0
    assert x(c, "HGETEX", "h", "PXAT", "1", "FIELDS", "2", "f2", "f3") == [b"v2", b"v3"]
    assert x(c, "EXISTS", "h") == 0


def test_hgetex_errors(c: redis.Redis) -> None:
    x(c, "HSET", "h", "f", "v")
    for args in (["EX", "60", "PX", "1000"], ["EX", "10", "PERSIST"], ["PERSIST", "EX", "10"],
                 ["KEEPTTL"], ["FXX"], ["NX"], ["EX"], ["BAD"]):
        assert err(c, "HGETEX", "h", *args, "FIELDS", "1", "f") == SYNTAX, args
    assert err(c, "HGETEX", "h", "EX", "-10", "FIELDS", "1", "f") == "invalid expire time in 'hgetex' command"
    assert err(c, "HGETEX", "h", "EX", "abc", "FIELDS", "1", "f") == NOT_INT
    assert err(c, "HGETEX", "h", "EX", "10", "1", "f") == NUMFIELDS
    assert err(c, "HGETEX", "h", "EX", "10", "FIELDS", "2", "f") == NUMFIELDS
    assert err(c, "HGETEX", "h", "EX", "10", "FIELDS", "0") == NUMFIELDS
    assert err(c, "HGETEX", "h", "PERSIST", "PERSIST", "FIELDS") == NUMFIELDS
    assert x(c, "HGETEX", "h", "EX", "5", "EX", "10", "FIELDS", "1", "f") == [b"v"]
    assert x(c, "HTTL", "h", "FIELDS", "1", "f") == [10]


def test_hsetex(c: redis.Redis) -> None:
    assert x(c, "HSETEX", "h", "FIELDS", "2", "a", "1", "b", "2") == 1
    assert x(c, "HTTL", "h", "FIELDS", "1", "a") == [-1]
    assert enc(c, "h") == b"listpack"
    assert x(c, "HSETEX", "h", "EX", "100", "FIELDS", "1", "a", "10") == 1
    assert enc(c, "h") == b"hashtable"
    assert x(c, "HGET", "h", "a") == b"10" and x(c, "HTTL", "h", "FIELDS", "1", "a") == [100]
    at = now_ms() + 30_000
    assert x(c, "HSETEX", "h", "PXAT", str(at), "FIELDS", "1", "a", "11") == 1
    assert x(c, "HSETEX", "h", "KEEPTTL", "FIELDS", "2", "a", "12", "b", "20") == 1
    assert x(c, "HPEXPIRETIME", "h", "FIELDS", "2", "a", "b") == [at, -1]
    assert x(c, "HMGET", "h", "a", "b") == [b"12", b"20"]
    # A plain write drops the field's TTL.
    x(c, "HSETEX", "h", "FIELDS", "1", "a", "13")
    assert x(c, "HTTL", "h", "FIELDS", "1", "a") == [-1]
    # Field conditions: all or nothing.
    assert x(c, "HSETEX", "h", "FNX", "EX", "10", "FIELDS", "2", "c", "3", "a", "x") == 0
    assert x(c, "HEXISTS", "h", "c") == 0
    assert x(c, "HSETEX", "h", "FNX", "FIELDS", "2", "c", "3", "d", "4") == 1
    assert x(c, "HSETEX", "h", "FXX", "FIELDS", "2", "c", "30", "zz", "x") == 0
    assert x(c, "HSETEX", "h", "FXX", "PX", "100000", "FIELDS", "2", "c", "30", "d", "40") == 1
    assert x(c, "HMGET", "h", "c", "d", "zz") == [b"30", b"40", None]
    assert x(c, "HSETEX", "nokey", "FXX", "FIELDS", "1", "a", "1") == 0
    assert x(c, "EXISTS", "nokey") == 0
    # Key conditions.
    assert x(c, "HSETEX", "h", "NX", "FIELDS", "1", "n", "1") == 0
    assert x(c, "HSETEX", "nokey", "XX", "FIELDS", "1", "n", "1") == 0
    assert x(c, "HSETEX", "new", "NX", "FIELDS", "1", "n", "1") == 1
    assert x(c, "HSETEX", "new", "XX", "FIELDS", "1", "n", "2") == 1
    assert x(c, "HGET", "new", "n") == b"2"
    # A past time deletes the fields named (the hash goes when it empties).
    assert x(c, "HSETEX", "h", "PX", "0", "FIELDS", "2", "c", "x", "zz", "y") == 1
    assert x(c, "HEXISTS", "h", "c") == 0 and x(c, "HEXISTS", "h", "zz") == 0
    assert x(c, "HSETEX", "gone", "EXAT", "1", "FIELDS", "1", "a", "1") == 1
    assert x(c, "EXISTS", "gone") == 0


def test_hsetex_errors(c: redis.Redis) -> None:
    for args in (["EX", "10", "PX", "10"], ["EX", "10", "KEEPTTL"], ["KEEPTTL", "PXAT", "1"],
                 ["NX", "XX"], ["FNX", "FXX"], ["PERSIST"], ["EX"], ["BAD"]):
        assert err(c, "HSETEX", "h", *args, "FIELDS", "1", "f", "v") == SYNTAX, args
    assert err(c, "HSETEX", "h", "EX", "-10", "FIELDS", "1", "f", "v") == \
        "invalid expire time in 'hsetex' command"
    assert err(c, "HSETEX", "h", "PX", "xyz", "FIELDS", "1", "f", "v") == NOT_INT
    assert err(c, "HSETEX", "h", "EX", "10", "FIELDS", "2", "f", "v") == NUMFIELDS
    assert err(c, "HSETEX", "h", "PX", "100", "FIELDS", "1", "f", "v", "extra") == NUMFIELDS
    assert err(c, "HSETEX", "h", "EX", "10", "FIELDS", "0", "f") == NUMFIELDS
    assert err(c, "HSETEX", "h", "KEEPTTL", "KEEPTTL", "KEEPTTL", "FIELDS") == NUMFIELDS
    assert err(c, "HSETEX", "h", "FIELDS", "x", "f", "v") == NOT_INT
    assert x(c, "EXISTS", "h") == 0


# ---- field expiry: lazy and active ------------------------------------------------------------------------------
def test_expired_fields_hidden_then_reclaimed(c: redis.Redis) -> None:
    x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    x(c, "HSET", "h", "keep", "1", "a", "2", "b", "3")
    x(c, "HPEXPIRE", "h", "30", "FIELDS", "2", "a", "b")
    time.sleep(0.08)
    assert x(c, "HGET", "h", "a") is None
    assert x(c, "HMGET", "h", "a", "keep") == [None, b"1"]
    assert x(c, "HEXISTS", "h", "a") == 0 and x(c, "HSTRLEN", "h", "a") == 0
    assert x(c, "HGETALL", "h") == [b"keep", b"1"]
    assert x(c, "HKEYS", "h") == [b"keep"] and x(c, "HVALS", "h") == [b"1"]
    assert x(c, "HSCAN", "h", "0") == [b"0", [b"keep", b"1"]]
    assert x(c, "HRANDFIELD", "h", "-5") == [b"keep"] * 5
    assert x(c, "HTTL", "h", "FIELDS", "2", "a", "keep") == [-2, -1]
    assert x(c, "HPERSIST", "h", "FIELDS", "1", "a") == [-2]
    assert x(c, "HEXPIRE", "h", "100", "FIELDS", "1", "a") == [-2]
    # Like Valkey, HLEN counts expired fields until they are reclaimed; HDEL ignores them.
    assert x(c, "HLEN", "h") == 3
    assert x(c, "HDEL", "h", "a") == 0
    # A write over an expired field treats it as new (no TTL, counted as created).
    assert x(c, "HSET", "h", "a", "new") == 1
    assert x(c, "HTTL", "h", "FIELDS", "1", "a") == [-1]
    assert x(c, "HINCRBY", "h", "b", "5") == 5
    x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
    assert x(c, "HGETALL", "h") == [b"keep", b"1", b"a", b"new", b"b", b"5"]


def test_active_expiry(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a", "1", "b", "2", "c", "3")
    x(c, "HSET", "solo", "f", "v")
    x(c, "HPEXPIRE", "h", "50", "FIELDS", "2", "a", "c")
    x(c, "HSETEX", "solo", "PX", "50", "FIELDS", "1", "f", "v")
    assert wait_until(lambda: x(c, "HLEN", "h") == 1 and x(c, "EXISTS", "solo") == 0)
    assert x(c, "HGETALL", "h") == [b"b", b"2"]
    # After RENAME the hash is found again by the active cycle.
    x(c, "HSET", "r", "x", "1", "y", "2")
    x(c, "HPEXPIRE", "r", "300", "FIELDS", "1", "x")
    x(c, "RENAME", "r", "r2")
    assert wait_until(lambda: x(c, "HLEN", "r2") == 1)
    x(c, "HSET", "m", "x", "1")
    x(c, "HPEXPIRE", "m", "100", "FIELDS", "1", "x")
    x(c, "COPY", "m", "m2")
    assert x(c, "HPTTL", "m2", "FIELDS", "1", "x")[0] > 0
    assert wait_until(lambda: x(c, "EXISTS", "m", "m2") == 0)
    # ... and after MOVE and SWAPDB.
    x(c, "HSET", "mv", "x", "1", "y", "2")
    x(c, "HSET", "sw", "x", "1", "y", "2")
    x(c, "HPEXPIRE", "mv", "150", "FIELDS", "1", "x")
    x(c, "HPEXPIRE", "sw", "150", "FIELDS", "1", "x")
    x(c, "MOVE", "mv", "1")
    x(c, "SWAPDB", "0", "2")
    c2 = _client(c.connection_pool.connection_kwargs["port"], 2)
    try:
        x(c2, "SELECT", "1")
        assert wait_until(lambda: x(c2, "HLEN", "mv") == 1)
        x(c2, "SELECT", "2")
        assert wait_until(lambda: x(c2, "HLEN", "sw") == 1)
        x(c2, "FLUSHALL")
    finally:
        c2.close()


def test_field_ttl_survives_key_ttl_commands(c: redis.Redis) -> None:
    x(c, "HSET", "h", "a", "1", "b", "2")
    x(c, "HEXPIRE", "h", "1000", "FIELDS", "1", "a")
    x(c, "EXPIRE", "h", "100")
    x(c, "PERSIST", "h")
    assert x(c, "TTL", "h") == -1
    assert x(c, "HTTL", "h", "FIELDS", "1", "a") == [1000]
    x(c, "HDEL", "h", "a")
    x(c, "HSET", "h", "a", "2")
    assert x(c, "HTTL", "h", "FIELDS", "1", "a") == [-1]


# ---- declarations ------------------------------------------------------------------------------------------------
def test_command_info(c: redis.Redis) -> None:
    info = {e[0]: e for e in x(c, "COMMAND", "INFO", "hset", "hgetall", "hexpire", "httl",
                                 "hsetex", "hgetex", "hpersist", "hincrbyfloat")}
    assert info[b"hset"][1:6] == [-4, [b"write", b"denyoom", b"fast"], 1, 1, 1]
    assert info[b"hgetall"][1:6] == [2, [b"readonly"], 1, 1, 1]
    assert info[b"hexpire"][1:6] == [-6, [b"write", b"fast"], 1, 1, 1]
    assert info[b"httl"][1:6] == [-5, [b"readonly", b"fast"], 1, 1, 1]
    assert info[b"hsetex"][1:6] == [-6, [b"write", b"denyoom", b"fast"], 1, 1, 1]
    assert info[b"hgetex"][1:6] == [-5, [b"write", b"fast"], 1, 1, 1]
    assert info[b"hpersist"][1:6] == [-5, [b"write", b"fast"], 1, 1, 1]
    assert set(info[b"hincrbyfloat"][6]) == {b"@write", b"@hash", b"@fast"}
    docs = x(c, "COMMAND", "DOCS", "hexpire")
    assert docs[0] == b"hexpire" and b"9.0.0" in docs[1]


# ---- propagation, keyspace events, dirty ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, Tap]]:
    with tapped_server(enable_debug_command="yes") as et:
        yield et


@pytest.fixture()
def ec(embedded: tuple[EmbeddedServer, Tap]) -> Iterator[tuple[redis.Redis, Tap]]:
    e, tap = embedded
    client = _client(e.port, 2)
    x(client, "FLUSHALL")
    tap.clear()
    yield client, tap
    client.close()


def test_events_basic(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "HSET", "h", "a", "1")
    x(c, "HSETNX", "h", "a", "2")  # nothing set: no event
    x(c, "HSETNX", "h", "b", "2")
    x(c, "HINCRBY", "h", "n", "1")
    x(c, "HINCRBYFLOAT", "h", "n", "1.5")
    x(c, "HDEL", "h", "zz")
    x(c, "HDEL", "h", "a", "b", "n")
    assert tap.events == [("hset", b"h"), ("hset", b"h"), ("hincrby", b"h"), ("hincrbyfloat", b"h"),
                          ("hdel", b"h"), ("del", b"h")]


def test_events_field_expiry(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "HSET", "h", "a", "1", "b", "2")
    x(c, "HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz")
    x(c, "HEXPIRE", "h", "100", "FIELDS", "1", "zz")  # nothing changed: no event
    x(c, "HPERSIST", "h", "FIELDS", "1", "a")
    x(c, "HGETEX", "h", "PX", "100000", "FIELDS", "1", "a")
    x(c, "HGETEX", "h", "PERSIST", "FIELDS", "1", "a")
    x(c, "HEXPIRE", "h", "0", "FIELDS", "1", "a")
    x(c, "HGETEX", "h", "EX", "0", "FIELDS", "1", "b")
    assert tap.events == [("hset", b"h"), ("hexpire", b"h"), ("hpersist", b"h"), ("hexpire", b"h"),
                          ("hpersist", b"h"), ("hexpired", b"h"), ("hexpired", b"h"), ("del", b"h")]
    tap.clear()
    x(c, "HSETEX", "s", "PX", "100000", "FIELDS", "1", "f", "v")
    x(c, "HSETEX", "s", "FIELDS", "1", "g", "v")
    x(c, "HSETEX", "s", "EX", "0", "FIELDS", "2", "f", "x", "g", "y")
    assert tap.events == [("hset", b"s"), ("hexpire", b"s"), ("hset", b"s"), ("hset", b"s"),
                          ("hexpire", b"s"), ("hexpired", b"s"), ("del", b"s")]


def test_events_active_expiry(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "HSET", "h", "a", "1", "b", "2")
    x(c, "HSET", "k", "a", "1")
    x(c, "HPEXPIRE", "h", "20", "FIELDS", "1", "a")
    x(c, "HPEXPIRE", "k", "20", "FIELDS", "1", "a")
    tap.clear()
    assert wait_until(lambda: ("del", b"k") in tap.events and ("hexpired", b"h") in tap.events)
    assert sorted(tap.events) == [("del", b"k"), ("hexpired", b"h"), ("hexpired", b"k")]
    assert sorted(tap.props) == [[b"HDEL", b"h", b"a"], [b"HDEL", b"k", b"a"]]
    ks = tap.srv.keyspace
    assert getattr(ks, "expired_fields", 0) >= 2


def test_propagation(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "HSET", "h", "a", "1", "b", "2", "n", "1")
    x(c, "HINCRBYFLOAT", "h", "a", "1.5")
    x(c, "HINCRBY", "h", "b", "1")  # no field TTL yet: as is
    t0 = now_ms()
    x(c, "HEXPIRE", "h", "100", "NX", "FIELDS", "1", "n")
    x(c, "HINCRBY", "h", "n", "1")  # the hash has field TTLs: as HSETEX ... PXAT
    x(c, "HINCRBY", "h", "b", "1")  # ... or as HSET for a field without one
    x(c, "HSETNX", "h", "c", "3")
    x(c, "HPEXPIREAT", "h", "4000000000000", "FIELDS", "1", "c")
    x(c, "HEXPIRE", "h", "0", "FIELDS", "2", "c", "zz")
    x(c, "HPERSIST", "h", "FIELDS", "1", "n")
    props = tap.props
    assert props[0] == [b"HSET", b"h", b"a", b"1", b"b", b"2", b"n", b"1"]
    assert props[1] == [b"HSET", b"h", b"a", b"2.5"]
    assert props[2] == [b"HINCRBY", b"h", b"b", b"1"]
    assert props[3][:2] == [b"HPEXPIREAT", b"h"] and props[3][3:] == [b"NX", b"FIELDS", b"1", b"n"]
    deadline = int(props[3][2])
    assert t0 + 100_000 <= deadline <= now_ms() + 100_000
    assert props[4] == [b"HSETEX", b"h", b"PXAT", b"%d" % deadline, b"FIELDS", b"1", b"n", b"2"]
    assert props[5] == [b"HSET", b"h", b"b", b"4"]
    assert props[6] == [b"HSET", b"h", b"c", b"3"]
    assert props[7] == [b"HPEXPIREAT", b"h", b"4000000000000", b"FIELDS", b"1", b"c"]
    assert props[8] == [b"HDEL", b"h", b"c"]
    assert props[9] == [b"HPERSIST", b"h", b"FIELDS", b"1", b"n"]
    assert len(props) == 10


def test_propagation_hgetex_hsetex(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "HSET", "h", "a", "1", "b", "2")
    tap.clear()
    x(c, "HGETEX", "h", "FIELDS", "1", "a")  # no option: nothing to propagate
    x(c, "HGETEX", "h", "EXAT", "4000000000", "FIELDS", "3", "a", "zz", "b")
    x(c, "HGETEX", "h", "PERSIST", "FIELDS", "2", "a", "zz")
    x(c, "HGETEX", "h", "PXAT", "1", "FIELDS", "2", "b", "zz")
    x(c, "HSETEX", "s", "fnx", "PXAT", "4000000000000", "FIELDS", "1", "f2", "v2")
    x(c, "HSETEX", "s", "EX", "100", "FXX", "FIELDS", "1", "f2", "v3")
    x(c, "HSETEX", "s", "KEEPTTL", "FIELDS", "1", "f2", "v4")
    x(c, "HSETEX", "s", "PX", "0", "FIELDS", "2", "f2", "x", "zz", "y")
    props = tap.props
    assert props[0] == [b"HPEXPIREAT", b"h", b"4000000000000", b"FIELDS", b"2", b"a", b"b"]
    assert props[1] == [b"HPERSIST", b"h", b"FIELDS", b"1", b"a"]
    assert props[2] == [b"HDEL", b"h", b"b"]
    assert props[3] == [b"HSETEX", b"s", b"PXAT", b"4000000000000", b"FIELDS", b"1", b"f2", b"v2"]
    assert props[4][:3] == [b"HSETEX", b"s", b"PXAT"]
    assert props[4][4:] == [b"FIELDS", b"1", b"f2", b"v3"]
    assert props[5] == [b"HSETEX", b"s", b"KEEPTTL", b"FIELDS", b"1", b"f2", b"v4"]
    assert props[6] == [b"HDEL", b"s", b"f2"]
    assert len(props) == 7


def test_dirty_counts(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    ks = tap.srv.keyspace
    d0 = ks.dirty
    x(c, "HSET", "h", "a", "1", "b", "2", "a", "3")
    assert ks.dirty - d0 == 3
    x(c, "HDEL", "h", "a", "zz")
    assert ks.dirty - d0 == 4
    x(c, "HEXPIRE", "h", "100", "FIELDS", "2", "b", "zz")
    assert ks.dirty - d0 == 5
    x(c, "HEXPIRE", "h", "100", "NX", "FIELDS", "1", "b")
    assert ks.dirty - d0 == 5
    x(c, "HPERSIST", "h", "FIELDS", "1", "b")
    x(c, "HGETEX", "h", "FIELDS", "1", "b")
    assert ks.dirty - d0 == 6
    x(c, "HSETEX", "h", "FIELDS", "2", "x", "1", "y", "2")
    assert ks.dirty - d0 == 8


# ---- the value object ---------------------------------------------------------------------------------------------
class Cfg:
    hash_max_listpack_entries = 2
    hash_max_listpack_value = 4


def test_from_rdb_encoding() -> None:
    assert HashValue.from_rdb([(b"a", b"1"), (b"b", b"2")], Cfg()).encoding() == "listpack"
    assert HashValue.from_rdb([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], Cfg()).encoding() == "hashtable"
    assert HashValue.from_rdb([(b"a", b"12345")], Cfg()).encoding() == "hashtable"


def test_copy_and_rdb_items_with_ttls() -> None:
    h = HashValue.from_rdb([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], Cfg())
    now = now_ms()
    assert h.set_expire(b"a", now - 10, 0, False, now + 1000) == 1  # due before "now"
    assert h.set_expire(b"b", now + 100_000, 0, False, now) == 1
    assert h.rdb_items(now + 1000) == [(b"b", b"2"), (b"c", b"3")]
    g = h.copy()
    assert g.ttl == h.ttl and g.ttl is not h.ttl and g.encoding() == "hashtable"
    assert g.pop_expired(now + 1000, 10) == [b"a"]
    assert len(g) == 2 and len(h) == 3
    assert g.next_deadline() == now + 100_000
    assert g.persist(b"b", now) == 1 and g.ttl is None and g.next_deadline() is None
