"""Generic keyspace commands (DEL UNLINK EXISTS TYPE RENAME RENAMENX KEYS SCAN RANDOMKEY
DBSIZE SWAPDB MOVE COPY FLUSHDB FLUSHALL TOUCH OBJECT) against a running kaa-server, with
Valkey 8's replies and error texts; the SCAN cursor and the lazy-free queue are also
checked directly on the engine, and keyspace events on an in-process server whose
notification hook we tap.

Clients have redis-py's response callbacks removed, so assertions see the replies as sent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.commands import raw_client as _client
from tests.support.commands import x
from tests.support.servers import ServerProcess

from kaa.embedded import EmbeddedServer
from kaa.engine.keyspace import Keyspace
from kaa.engine.notify import NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, NOTIFY_NEW
from kaa.engine.scan import HashRangeIndex, parse_cursor

NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"
SAME = "source and destination objects are the same"
DB_RANGE = "DB index is out of range"
INT_RANGE = "value is out of range, value must between -2147483648 and 2147483647"
NOT_LFU = (
    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
    "when switching between policies at runtime LRU and LFU data will take some time to adjust."
)
IS_LFU = (
    "An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)




@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    """RESP2 client without response callbacks, on an empty keyspace."""
    client = _client(kaa_proc.port, 2)
    client.execute_command("FLUSHALL")
    yield client
    client.execute_command("SELECT", "0")
    client.close()


@pytest.fixture()
def c3(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port, 3)
    client.execute_command("FLUSHALL")
    yield client
    client.close()




def err(c: redis.Redis, *args: Any) -> str:
    """The error text of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def scan_all(c: redis.Redis, *opts: Any, between: Any = None) -> list[bytes]:
    """Every key a full SCAN iteration returns (with repeats), calling between() after
    each step; fails if the iteration does not end."""
    cur = b"0"
    out: list[bytes] = []
    for _ in range(100000):
        cur, keys = x(c, "SCAN", cur, *opts)
        out += keys
        if cur == b"0":
            return out
        if between is not None:
            between()
    raise AssertionError("SCAN did not terminate")


# ---------------------------------------------------------------------------
# DEL UNLINK EXISTS TYPE TOUCH DBSIZE
# ---------------------------------------------------------------------------


def test_del_unlink_count_existing_keys_once(c: redis.Redis) -> None:
    x(c, "MSET", "a", "1", "b", "2", "c", "3")
    assert x(c, "DEL", "a", "a", "nokey") == 1
    assert x(c, "UNLINK", "b", "c", "b") == 2
    assert x(c, "DBSIZE") == 0
    assert x(c, "DEL", "a") == 0
    assert err(c, "DEL") == "wrong number of arguments for 'del' command"
    assert err(c, "UNLINK") == "wrong number of arguments for 'unlink' command"


def test_del_of_logically_expired_key_counts_zero(c: redis.Redis) -> None:
    x(c, "SET", "k", "v", "PX", "30")
    time.sleep(0.06)
    assert x(c, "DEL", "k") == 0


def test_exists_counts_repeats_and_type(c: redis.Redis) -> None:
    x(c, "SET", "k", "")
    assert x(c, "EXISTS", "k", "k", "nokey", "k") == 3
    assert x(c, "TYPE", "k") == b"string"
    assert x(c, "TYPE", "nokey") == b"none"
    x(c, "APPEND", "k", "x")  # a bytearray value is still a string
    assert x(c, "TYPE", "k") == b"string"
    assert err(c, "TYPE") == "wrong number of arguments for 'type' command"
    assert err(c, "TYPE", "a", "b") == "wrong number of arguments for 'type' command"


def test_type_is_a_simple_string_in_resp3(c3: redis.Redis, kaa_proc: ServerProcess) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", kaa_proc.port), timeout=5) as s:
        s.sendall(b"HELLO 3\r\nSET k v\r\nTYPE k\r\nTYPE nokey\r\nPING\r\n")
        buf = b""
        while not buf.endswith(b"+PONG\r\n"):
            buf += s.recv(65536)
    assert buf.endswith(b"+OK\r\n+string\r\n+none\r\n+PONG\r\n")


def test_touch_and_dbsize(c: redis.Redis) -> None:
    x(c, "MSET", "key1", "1", "key2", "2")
    assert x(c, "TOUCH", "key0", "key1", "key2", "key3") == 2
    assert x(c, "TOUCH", "key1", "key1") == 2
    assert x(c, "DBSIZE") == 2
    assert err(c, "DBSIZE", "x") == "wrong number of arguments for 'dbsize' command"


# ---------------------------------------------------------------------------
# RENAME RENAMENX
# ---------------------------------------------------------------------------


def test_rename_basic_overwrite_and_errors(c: redis.Redis) -> None:
    x(c, "SET", "a", "hello")
    assert x(c, "RENAME", "a", "b") == b"OK"
    assert x(c, "GET", "b") == b"hello"
    assert x(c, "EXISTS", "a") == 0
    x(c, "SET", "c", "other")
    assert x(c, "RENAME", "b", "c") == b"OK"
    assert x(c, "GET", "c") == b"hello"
    assert x(c, "DBSIZE") == 1
    assert err(c, "RENAME", "nokey", "x") == "no such key"
    assert err(c, "RENAMENX", "nokey", "x") == "no such key"
    # Same name: OK / 0 when the key exists, the error otherwise.
    assert x(c, "RENAME", "c", "c") == b"OK"
    assert x(c, "RENAMENX", "c", "c") == 0
    assert err(c, "RENAME", "nokey", "nokey") == "no such key"
    assert err(c, "RENAME", "c") == "wrong number of arguments for 'rename' command"


def test_renamenx(c: redis.Redis) -> None:
    x(c, "SET", "a", "foo")
    x(c, "SET", "b", "bar")
    assert x(c, "RENAMENX", "a", "b") == 0
    assert x(c, "MGET", "a", "b") == [b"foo", b"bar"]
    assert x(c, "RENAMENX", "a", "c") == 1
    assert x(c, "MGET", "a", "c") == [None, b"foo"]


def test_rename_moves_ttl_and_drops_the_target_ttl(c: redis.Redis) -> None:
    x(c, "SET", "a", "v", "EX", "100")
    x(c, "RENAME", "a", "b")
    assert 95 < x(c, "TTL", "b") <= 100
    x(c, "SET", "c", "v")
    x(c, "SET", "d", "w", "EX", "100")
    x(c, "RENAME", "c", "d")
    assert x(c, "TTL", "d") == -1
    assert x(c, "GET", "d") == b"v"


def test_rename_of_expired_key_is_no_such_key(c: redis.Redis) -> None:
    x(c, "SET", "a", "v", "PX", "20")
    time.sleep(0.05)
    assert err(c, "RENAME", "a", "b") == "no such key"
    assert x(c, "EXISTS", "a", "b") == 0


# ---------------------------------------------------------------------------
# MOVE COPY SWAPDB
# ---------------------------------------------------------------------------


def test_move(c: redis.Redis) -> None:
    x(c, "SET", "k", "foobar", "EX", "100")
    assert x(c, "MOVE", "k", "1") == 1
    assert x(c, "EXISTS", "k") == 0
    assert x(c, "TTL", "k") == -2
    x(c, "SELECT", "1")
    assert x(c, "GET", "k") == b"foobar"
    assert 95 < x(c, "TTL", "k") <= 100
    x(c, "SET", "p", "v")
    assert x(c, "MOVE", "p", "0") == 1
    x(c, "SELECT", "0")
    assert x(c, "TTL", "p") == -1
    # Existing target, missing source.
    x(c, "SET", "k", "here")
    x(c, "SELECT", "1")
    assert x(c, "MOVE", "k", "0") == 0
    assert x(c, "GET", "k") == b"foobar"
    assert x(c, "MOVE", "nokey", "0") == 0


def test_move_errors(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    assert err(c, "MOVE", "k", "0") == SAME
    assert err(c, "MOVE", "k", "notanumber") == NOT_INT
    assert err(c, "MOVE", "k", "16") == DB_RANGE
    assert err(c, "MOVE", "k", "-1") == DB_RANGE
    assert err(c, "MOVE", "k", "3000000000") == INT_RANGE
    # The DB index is checked before the key.
    assert err(c, "MOVE", "nokey", "x") == NOT_INT


def test_copy_basic_db_replace_and_ttl(c: redis.Redis) -> None:
    x(c, "SET", "src", "foobar")
    assert x(c, "COPY", "src", "dst") == 1
    assert x(c, "MGET", "src", "dst") == [b"foobar", b"foobar"]
    assert x(c, "TTL", "dst") == -1
    x(c, "SET", "other", "hello")
    assert x(c, "COPY", "other", "dst") == 0
    assert x(c, "COPY", "other", "dst", "REPLACE") == 1
    assert x(c, "GET", "dst") == b"hello"
    assert x(c, "COPY", "src", "dst", "DB", "1") == 1
    assert x(c, "COPY", "other", "dst", "db", "1") == 0
    assert x(c, "COPY", "other", "dst", "db", "1", "replace") == 1
    x(c, "SET", "t", "v", "EX", "100")
    assert x(c, "COPY", "t", "t2") == 1
    assert 95 < x(c, "TTL", "t2") <= 100
    assert x(c, "COPY", "nokey", "z") == 0
    x(c, "SELECT", "1")
    assert x(c, "GET", "dst") == b"hello"
    assert x(c, "DBSIZE") == 1


def test_copy_errors(c: redis.Redis) -> None:
    x(c, "SET", "s", "v")
    assert err(c, "COPY", "s", "s") == SAME
    assert err(c, "COPY", "s", "s", "DB", "0") == SAME
    assert x(c, "COPY", "s", "s", "DB", "1") == 1
    assert err(c, "COPY", "s", "t", "DB", "notanumber") == NOT_INT
    assert err(c, "COPY", "s", "t", "DB", "99") == DB_RANGE
    assert err(c, "COPY", "s", "t", "DB") == SYNTAX
    assert err(c, "COPY", "s", "t", "FOO") == SYNTAX
    assert err(c, "COPY", "s") == "wrong number of arguments for 'copy' command"


def test_copy_is_independent_of_in_place_changes(c: redis.Redis) -> None:
    x(c, "SET", "a", "foo")
    x(c, "APPEND", "a", "bar")  # now an in-place (raw) string
    x(c, "COPY", "a", "b")
    x(c, "APPEND", "a", "!")
    x(c, "SETRANGE", "b", "0", "X")
    assert x(c, "MGET", "a", "b") == [b"foobar!", b"Xoobar"]


TYPED = {
    "list": (["RPUSH", "{k}", "a", "b", "c"], ["RPUSH", "{k}", "d"], ["LRANGE", "{k}", "0", "-1"]),
    "set": (["SADD", "{k}", "a", "b", "c"], ["SADD", "{k}", "d"], ["SMEMBERS", "{k}"]),
    "hash": (["HSET", "{k}", "f", "1", "g", "2"], ["HSET", "{k}", "h", "3"], ["HGETALL", "{k}"]),
    "zset": (["ZADD", "{k}", "1", "a", "2", "b"], ["ZADD", "{k}", "3", "c"],
             ["ZRANGE", "{k}", "0", "-1", "WITHSCORES"]),
}


def _typed(c: redis.Redis, cmd: list[str], key: str) -> Any:
    return x(c, *[key if a == "{k}" else a for a in cmd])


@pytest.mark.parametrize("typ", sorted(TYPED))
def test_copy_move_rename_every_type(c: redis.Redis, typ: str) -> None:
    create, mutate, read = TYPED[typ]
    try:
        _typed(c, create, "src")
    except redis.ResponseError as e:
        if "unknown command" in str(e):
            pytest.skip(f"{typ} commands not implemented yet")
        raise
    snapshot = _typed(c, read, "src")
    enc = x(c, "OBJECT", "ENCODING", "src")
    assert x(c, "COPY", "src", "dup") == 1
    assert x(c, "TYPE", "dup") == typ.encode()
    assert x(c, "OBJECT", "ENCODING", "dup") == enc
    _typed(c, mutate, "src")  # the copy is independent of the original
    assert _typed(c, read, "dup") == snapshot
    _typed(c, mutate, "dup")
    assert sorted(map(repr, _typed(c, read, "dup"))) == sorted(map(repr, _typed(c, read, "src")))
    assert x(c, "RENAME", "dup", "ren") == b"OK"
    assert x(c, "TYPE", "ren") == typ.encode()
    assert x(c, "MOVE", "ren", "1") == 1
    assert x(c, "COPY", "src", "other", "DB", "1") == 1
    x(c, "SELECT", "1")
    assert x(c, "TYPE", "ren") == typ.encode()
    assert sorted(map(repr, _typed(c, read, "ren"))) == sorted(map(repr, _typed(c, read, "other")))
    assert set(scan_all(c, "TYPE", typ)) == {b"ren", b"other"}
    assert scan_all(c, "TYPE", "string") == []
    assert x(c, "UNLINK", "ren", "other") == 2


def test_swapdb(c: redis.Redis) -> None:
    x(c, "SET", "k0", "v0")
    x(c, "SELECT", "1")
    x(c, "SET", "k1", "v1", "EX", "100")
    assert x(c, "SWAPDB", "0", "1") == b"OK"
    # The client stays on db 1, which now holds the old db 0.
    assert x(c, "KEYS", "*") == [b"k0"]
    x(c, "SELECT", "0")
    assert x(c, "KEYS", "*") == [b"k1"]
    assert 95 < x(c, "TTL", "k1") <= 100
    assert x(c, "SWAPDB", "0", "0") == b"OK"
    assert err(c, "SWAPDB", "44", "55") == DB_RANGE
    assert err(c, "SWAPDB", "0", "a") == "invalid second DB index"
    assert err(c, "SWAPDB", "a", "55") == "invalid first DB index"
    assert err(c, "SWAPDB", "a", "b") == "invalid first DB index"
    assert err(c, "SWAPDB", "0", "3000000000") == "invalid second DB index"
    assert err(c, "SWAPDB", "0") == "wrong number of arguments for 'swapdb' command"


# ---------------------------------------------------------------------------
# FLUSHDB FLUSHALL
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["ASYNC"], ["SYNC"], ["async"]])
def test_flushdb_only_current_db(c: redis.Redis, mode: list[str]) -> None:
    x(c, "SET", "a", "1", "EX", "100")
    x(c, "SELECT", "1")
    x(c, "SET", "b", "2")
    assert x(c, "FLUSHDB", *mode) == b"OK"
    assert x(c, "DBSIZE") == 0
    x(c, "SELECT", "0")
    assert x(c, "DBSIZE") == 1
    assert x(c, "FLUSHALL", *mode) == b"OK"
    assert x(c, "DBSIZE") == 0
    x(c, "SET", "a", "again")  # databases are usable after a lazy flush
    assert x(c, "GET", "a") == b"again"
    assert x(c, "TTL", "a") == -1


def test_flush_syntax_errors(c: redis.Redis) -> None:
    assert err(c, "FLUSHDB", "foo") == SYNTAX
    assert err(c, "FLUSHALL", "SYNC", "ASYNC") == SYNTAX
    assert err(c, "FLUSHALL", "foo") == SYNTAX


# ---------------------------------------------------------------------------
# KEYS SCAN RANDOMKEY
# ---------------------------------------------------------------------------


def test_keys_patterns(c: redis.Redis) -> None:
    for k in ["key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c", "{a}x", "{a}y", "{b}c"]:
        x(c, "SET", k, "hello")
    assert sorted(x(c, "KEYS", "foo*")) == [b"foo_a", b"foo_b", b"foo_c"]
    assert sorted(x(c, "KEYS", "{a}*")) == [b"{a}x", b"{a}y"]
    assert sorted(x(c, "KEYS", "*{b}*")) == [b"{b}c"]
    assert sorted(x(c, "KEYS", "key_[xy]")) == [b"key_x", b"key_y"]
    assert len(x(c, "KEYS", "*")) == 9
    assert x(c, "KEYS", "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b") == []


def test_keys_skips_expired_keys(c: redis.Redis) -> None:
    x(c, "SET", "live", "v")
    x(c, "SET", "gone", "v", "PX", "20")
    time.sleep(0.05)
    assert x(c, "KEYS", "*") == [b"live"]


def test_scan_full_iteration_count_match(c: redis.Redis) -> None:
    x(c, "MSET", *[a for i in range(1000) for a in (f"key:{i}", "v")])
    assert sorted(set(scan_all(c))) == sorted(f"key:{i}".encode() for i in range(1000))
    assert len(set(scan_all(c, "COUNT", "5"))) == 1000
    assert len(set(scan_all(c, "COUNT", "5000"))) == 1000
    got = set(scan_all(c, "MATCH", "key:1??"))
    assert got == {f"key:{i}".encode() for i in range(100, 200)}
    assert len(set(scan_all(c, "type", "STRING", "match", "key:*", "count", "10"))) == 1000
    assert scan_all(c, "TYPE", "list") == []


def test_scan_returns_about_count_per_call(c: redis.Redis) -> None:
    x(c, "MSET", *[a for i in range(2000) for a in (f"k{i}", "v")])
    sizes = []
    cur = b"0"
    while True:
        cur, keys = x(c, "SCAN", cur, "COUNT", "20")
        sizes.append(len(keys))
        if cur == b"0":
            break
    # Whole buckets of ~4 keys: never the whole keyspace at once, never stuck at zero.
    assert 40 < len(sizes) < 400
    assert max(sizes) < 200


def test_scan_guarantee_under_inserts_and_deletes(c: redis.Redis) -> None:
    x(c, "MSET", *[a for i in range(300) for a in (f"stay:{i}", "v")])
    x(c, "MSET", *[a for i in range(300) for a in (f"churn:{i}", "v")])
    rnd = random.Random(7)
    added = [0]

    def churn() -> None:
        # Grow the keyspace a lot (the index resizes) and delete other keys.
        x(c, "MSET", *[a for _ in range(40) for a in (f"new:{added[0] + _}", "v")])
        added[0] += 40
        x(c, "DEL", *[f"churn:{rnd.randrange(300)}" for _ in range(10)])

    got = set(scan_all(c, "COUNT", "10", between=churn))
    assert {f"stay:{i}".encode() for i in range(300)} <= got


def test_scan_errors(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    for bad in ["-1", "abc", "", "18446744073709551616", "1.5", "0x10"]:
        assert err(c, "SCAN", bad) == "invalid cursor"
    assert err(c, "SCAN", "0", "COUNT", "0") == SYNTAX
    assert err(c, "SCAN", "0", "COUNT", "-1") == SYNTAX
    assert err(c, "SCAN", "0", "COUNT", "x") == NOT_INT
    assert err(c, "SCAN", "0", "COUNT") == SYNTAX
    assert err(c, "SCAN", "0", "MATCH") == SYNTAX
    assert err(c, "SCAN", "0", "TYPE", "string1") == "unknown type name 'string1'"
    assert err(c, "SCAN", "0", "NOVALUES") == "NOVALUES option can only be used in HSCAN"
    assert err(c, "SCAN", "0", "NOSCORES") == "NOSCORES option can only be used in ZSCAN"
    assert err(c, "SCAN", "0", "FOO", "bar") == SYNTAX
    assert err(c, "SCAN") == "wrong number of arguments for 'scan' command"


def test_scan_accepts_strtoull_cursors(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    for ok in ["0", " 0", "+0", "-0", "18446744073709551615", "00"]:
        cur, keys = x(c, "SCAN", ok)
        assert cur == b"0" and keys == [b"k"]


def test_scan_expires_only_filtered_keys(c: redis.Redis) -> None:
    x(c, "MSET", *[a for i in range(50) for a in (f"k{i}", "v")])
    x(c, "SET", "gone", "v", "PX", "1")
    time.sleep(0.01)
    keys = scan_all(c, "COUNT", "10")
    assert b"gone" not in keys
    assert len(set(keys)) == 50


def test_scan_resp3_shape(c3: redis.Redis) -> None:
    x(c3, "SET", "k", "v")
    assert x(c3, "SCAN", "0") == [b"0", [b"k"]]


def test_randomkey(c: redis.Redis) -> None:
    assert x(c, "RANDOMKEY") is None
    x(c, "SET", "foo", "x")
    x(c, "SET", "bar", "y")
    seen = {x(c, "RANDOMKEY") for _ in range(100)}
    assert seen == {b"foo", b"bar"}
    x(c, "DEL", "foo", "bar")
    assert x(c, "RANDOMKEY") is None


def test_randomkey_large_db_and_expired(c: redis.Redis) -> None:
    x(c, "MSET", *[a for i in range(5000) for a in (f"k{i}", "v")])
    seen = {x(c, "RANDOMKEY") for _ in range(200)}
    assert len(seen) > 150 and all(k.startswith(b"k") for k in seen)
    x(c, "FLUSHALL")
    x(c, "SET", "exp", "v", "PX", "10")
    time.sleep(0.03)
    assert x(c, "RANDOMKEY") is None


# ---------------------------------------------------------------------------
# OBJECT
# ---------------------------------------------------------------------------


def test_object_encoding_of_strings(c: redis.Redis) -> None:
    cases = {"i": "12345", "neg": "-7", "big": "9223372036854775807", "over": "9223372036854775808",
             "lead0": "007", "space": " 1", "short": "hello", "e44": "x" * 44, "r45": "y" * 45}
    for k, v in cases.items():
        x(c, "SET", k, v)
    got = {k: x(c, "OBJECT", "ENCODING", k) for k in cases}
    assert got == {"i": b"int", "neg": b"int", "big": b"int", "over": b"embstr", "lead0": b"embstr",
                   "space": b"embstr", "short": b"embstr", "e44": b"embstr", "r45": b"raw"}
    x(c, "APPEND", "i", "6")
    assert x(c, "OBJECT", "ENCODING", "i") == b"raw"
    assert x(c, "INCR", "i") == 123457
    assert x(c, "OBJECT", "encoding", "i") == b"int"
    assert x(c, "OBJECT", "ENCODING", "nokey") is None


def test_object_refcount(c: redis.Redis) -> None:
    x(c, "MSET", "small", "100", "large", "123456", "s", "hello", "zero", "0", "neg", "-1")
    assert x(c, "OBJECT", "REFCOUNT", "small") == 2147483647
    assert x(c, "OBJECT", "REFCOUNT", "zero") == 2147483647
    assert x(c, "OBJECT", "REFCOUNT", "large") == 1
    assert x(c, "OBJECT", "REFCOUNT", "neg") == 1
    assert x(c, "OBJECT", "REFCOUNT", "s") == 1
    assert x(c, "OBJECT", "REFCOUNT", "nokey") is None


def test_object_help_and_errors(c: redis.Redis) -> None:
    lines = x(c, "OBJECT", "HELP")
    assert lines[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[-2:] == [b"HELP", b"    Print this help."]
    assert b"FREQ <key>" in lines and len(lines) == 15
    assert err(c, "OBJECT", "foo", "k") == "unknown subcommand 'foo'. Try OBJECT HELP."
    assert err(c, "OBJECT", "ENCODING") == "wrong number of arguments for 'object|encoding' command"
    assert err(c, "OBJECT") == "wrong number of arguments for 'object' command"


def test_object_freq_and_idletime_follow_the_policy(c: redis.Redis) -> None:
    x(c, "SET", "foo", "a")
    assert err(c, "OBJECT", "FREQ", "foo") == NOT_LFU
    assert x(c, "OBJECT", "IDLETIME", "foo") <= 1
    assert x(c, "OBJECT", "FREQ", "nokey") is None
    try:
        x(c, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        x(c, "DEL", "foo")
        x(c, "SET", "foo", "a")
        assert x(c, "OBJECT", "FREQ", "foo") == 5
        assert err(c, "OBJECT", "IDLETIME", "foo") == IS_LFU
        for _ in range(200):
            x(c, "GET", "foo")
        # Logarithmic: 200 hits with lfu-log-factor 10 add a few counts, never 200.
        assert 5 < x(c, "OBJECT", "FREQ", "foo") < 30
        x(c, "SET", "foo", "b")  # an overwrite keeps the counter
        assert x(c, "OBJECT", "FREQ", "foo") > 5
        x(c, "CONFIG", "SET", "maxmemory-policy", "volatile-lfu")
        assert x(c, "OBJECT", "FREQ", "foo") > 5
    finally:
        x(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert err(c, "OBJECT", "FREQ", "foo") == NOT_LFU


def test_idletime_reads_do_not_touch_but_get_and_touch_do(c: redis.Redis) -> None:
    x(c, "SET", "foo", "bar")
    x(c, "SET", "baz", "bar")
    time.sleep(2.1)
    x(c, "TTL", "foo")
    x(c, "TYPE", "foo")
    x(c, "EXISTS", "foo")
    x(c, "OBJECT", "ENCODING", "foo")
    assert x(c, "OBJECT", "IDLETIME", "foo") >= 2
    x(c, "TOUCH", "foo")
    assert x(c, "OBJECT", "IDLETIME", "foo") <= 1
    assert x(c, "OBJECT", "IDLETIME", "baz") >= 2
    x(c, "GET", "baz")
    assert x(c, "OBJECT", "IDLETIME", "baz") <= 1


def test_command_getkeys_for_key_specs(c: redis.Redis) -> None:
    assert x(c, "COMMAND", "GETKEYS", "RENAME", "a", "b") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "COPY", "a", "b", "DB", "1") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "DEL", "a", "b", "c") == [b"a", b"b", b"c"]
    assert x(c, "COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k") == [b"k"]


# ---------------------------------------------------------------------------
# Keyspace events (in-process server with a tapped notification hook)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tapped() -> Iterator[tuple[EmbeddedServer, list[tuple[str, bytes, int]]]]:
    with EmbeddedServer() as e:
        events: list[tuple[str, bytes, int]] = []
        ks = e.server.keyspace
        ks.notifier = lambda flag, event, key, dbid: events.append((event, key, dbid))
        ks.notify_flags = NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT
        yield e, events


@pytest.fixture()
def ev(tapped: tuple[EmbeddedServer, list[tuple[str, bytes, int]]]) -> Iterator[tuple[redis.Redis, list[Any]]]:
    e, events = tapped
    client = _client(e.port, 2)
    x(client, "FLUSHALL")
    events.clear()
    yield client, events
    client.close()


def test_events_del_rename_move_copy(ev: tuple[redis.Redis, list[Any]]) -> None:
    c, events = ev
    x(c, "MSET", "a", "1", "b", "2")
    events.clear()
    x(c, "DEL", "a", "nokey")
    x(c, "UNLINK", "b")
    assert events == [("del", b"a", 0), ("del", b"b", 0)]
    events.clear()
    x(c, "SET", "s", "v")
    x(c, "RENAME", "s", "t")
    x(c, "RENAMENX", "t", "u")
    x(c, "RENAME", "u", "u")  # same key: no event
    x(c, "MOVE", "u", "3")
    x(c, "SELECT", "3")
    x(c, "COPY", "u", "w", "DB", "5")
    x(c, "COPY", "u", "w", "DB", "5")  # refused: no event
    assert events[1:] == [("rename_from", b"s", 0), ("rename_to", b"t", 0),
                          ("rename_from", b"t", 0), ("rename_to", b"u", 0),
                          ("move_from", b"u", 0), ("move_to", b"u", 3), ("copy_to", b"w", 5)]


def test_events_new_keys_only_with_n_flag(tapped: Any, ev: tuple[redis.Redis, list[Any]]) -> None:
    c, events = ev
    ks = tapped[0].server.keyspace
    ks.notify_flags |= NOTIFY_NEW
    try:
        x(c, "SET", "k", "1")
        x(c, "SET", "k", "2")
        x(c, "COPY", "k", "k2")
        assert [e for e in events if e[0] == "new"] == [("new", b"k", 0), ("new", b"k2", 0)]
    finally:
        ks.notify_flags &= ~NOTIFY_NEW


def test_flush_and_swap_hooks_run(tapped: Any, ev: tuple[redis.Redis, list[Any]]) -> None:
    c, _ = ev
    ks = tapped[0].server.keyspace
    seen: list[Any] = []
    ks.flush_hooks.append(lambda dbid: seen.append(("flush", dbid)))
    ks.swap_hooks.append(lambda a, b: seen.append(("swap", a, b)))
    try:
        x(c, "SELECT", "2")
        x(c, "FLUSHDB")
        x(c, "FLUSHALL", "ASYNC")
        x(c, "SWAPDB", "1", "4")
        assert seen == [("flush", 2), ("flush", -1), ("swap", 1, 4)]
    finally:
        ks.flush_hooks.pop()
        ks.swap_hooks.pop()


def test_no_touch_client(tapped: Any, ev: tuple[redis.Redis, list[Any]]) -> None:
    c, _ = ev
    srv = tapped[0].server
    db = srv.keyspace.dbs[0]
    x(c, "SET", "k", "v")
    db.atime[b"k"] -= 5000
    x(c, "CLIENT", "NO-TOUCH", "ON")
    x(c, "GET", "k")
    assert x(c, "OBJECT", "IDLETIME", "k") >= 4
    x(c, "TOUCH", "k")  # TOUCH touches even for a no-touch client
    assert x(c, "OBJECT", "IDLETIME", "k") <= 1
    db.atime[b"k"] -= 5000
    x(c, "CLIENT", "NO-TOUCH", "OFF")
    x(c, "GET", "k")
    assert x(c, "OBJECT", "IDLETIME", "k") <= 1


# ---------------------------------------------------------------------------
# The engine: SCAN cursor, lazy free
# ---------------------------------------------------------------------------


def test_parse_cursor() -> None:
    assert parse_cursor(b"0") == 0
    assert parse_cursor(b"18446744073709551615") == 2**64 - 1
    assert parse_cursor(b"18446744073709551616") is None
    assert parse_cursor(b"-1") is None
    assert parse_cursor(b"-9223372036854775808") is None
    assert parse_cursor(b"-9223372036854775809") == 2**64 - 9223372036854775809
    assert parse_cursor(b"-01") == 2**64 - 1  # not canonical: strtoull wraps it
    assert parse_cursor(b" \t+7") == 7
    assert parse_cursor(b"7 ") is None
    assert parse_cursor(b"") is None
    assert parse_cursor(b"5\x00junk") == 5


OPS = st.lists(
    st.tuples(st.sampled_from(["add", "del", "scan", "bulk"]), st.integers(0, 400)),
    min_size=1, max_size=150,
)


@settings(max_examples=60, deadline=None)
@given(initial=st.integers(0, 300), ops=OPS, count=st.integers(1, 25))
def test_scan_cursor_property(initial: int, ops: list[tuple[str, int]], count: int) -> None:
    """Every key present from the first SCAN call to the last is returned, whatever
    inserts, deletes and index resizes happen between calls."""
    ks = Keyspace(1)
    db = ks.dbs[0]
    for i in range(initial):
        db.add(b"k%d" % i, b"v")
    present_throughout = set(db.data)
    seen: set[bytes] = set()
    cursor = 0
    started = False
    it = iter(ops)
    calls = 0
    while True:
        cursor, keys = db.scan(cursor, count)
        calls += 1
        seen.update(keys)
        assert set(keys) <= set(db.data)
        if cursor == 0 and started:
            break
        started = True
        if cursor == 0:
            break
        for op, n in it:
            key = b"k%d" % n
            if op == "add" and key not in db.data:
                db.add(key, b"v")
            elif op == "bulk":
                for j in range(n):
                    k2 = b"b%d" % j
                    if k2 not in db.data:
                        db.set(k2, b"v")
            elif op == "del":
                db.delete(key)
                present_throughout.discard(key)
            else:
                break
        assert calls < 100000
    assert present_throughout <= seen


def test_scan_index_survives_direct_writes_and_drops_when_idle() -> None:
    ks = Keyspace(1)
    db = ks.dbs[0]
    for i in range(100):
        db.add(b"k%d" % i, b"v")
    cur, first = db.scan(0, 10)
    assert db.scan_index is not None and cur != 0
    db.data[b"direct"] = b"v"  # bypassing Database (as a loader might)
    seen = set(first)
    while cur:
        cur, keys = db.scan(cur, 10)
        seen |= set(keys)
    assert set(db.data) - {b"direct"} <= seen
    assert db.scan_index is not None and db.scan_index.size == len(db.data)


def test_hash_range_index_resizes_keep_cursors_valid() -> None:
    keys = [b"key:%d" % i for i in range(5000)]
    idx = HashRangeIndex(keys[:100], 100)
    cur, got = idx.scan(0, 10)
    seen = set(got)
    # Grow 50x, then shrink back, in the middle of the iteration.
    for k in keys[100:]:
        idx.add(k)
    idx.rebuild(keys, len(keys))
    cur, got = idx.scan(cur, 10)
    seen |= set(got)
    for k in keys[100:]:
        idx.discard(k)
    idx.rebuild(keys[:100], 100)
    while cur:
        cur, got = idx.scan(cur, 10)
        seen |= set(got)
    assert set(keys[:100]) <= seen


def test_hash_range_index_buckets_are_ranges_of_unsigned_hashes() -> None:
    keys = [b"k%d" % i for i in range(3000)]
    idx = HashRangeIndex(keys, len(keys))
    for k in keys[:50]:
        idx.discard(k)
        idx.add(k)
    assert idx.size == 3000
    for i, bucket in enumerate(idx.buckets):
        for k in bucket:
            assert (hash(k) & (2**64 - 1)) >> idx.shift == i
    # A cursor is the first position of the next bucket; the walk visits buckets in order.
    first = next(i for i, b in enumerate(idx.buckets) if b)
    cur, got = idx.scan(0, 1)
    assert cur == (first + 1) << idx.shift and got == idx.buckets[first]
    cur, got = idx.scan(cur, 1000)
    assert got == [k for b in idx.buckets[first + 1:] for k in b][:len(got)]


def test_lazyfree_queue_counts_and_drains() -> None:
    ks = Keyspace(2)
    db = ks.dbs[0]
    scheduled: list[int] = []
    ks.lazyfree_scheduler = lambda: scheduled.append(1)
    ks.free_async(b"x" * 1000)  # strings are freed at once
    ks.free_async(set(range(10)))  # small: at once
    assert ks.lazyfree_pending_objects == 0 and not scheduled
    big = set(range(10000))
    ks.free_async(big)
    for i in range(20000):
        db.add(b"k%d" % i, b"v")
    assert ks.flush_db(db, lazy=True) == 20000
    assert len(db) == 0
    assert scheduled == [1]  # scheduled once for a non-empty queue
    assert ks.lazyfree_pending_objects == 20001
    while ks.drain_lazyfree(0.001):
        pass
    assert ks.lazyfree_pending_objects == 0
    assert ks.lazyfreed_objects == 20001
    assert not big  # dismantled in place
