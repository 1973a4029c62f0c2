"""Set commands (SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER
SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN) against a running
kaa-server, with Valkey 8's replies and error texts in RESP2 and RESP3 (raw bytes where
the reply type matters); OBJECT ENCODING transitions (intset -> listpack -> hashtable,
one way); SSCAN under modification; keyspace events, propagation and dirty counts on an
in-process server; and the SetValue bookkeeping itself.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.commands import err, x
from tests.support.commands import raw_client as _client
from tests.support.servers import ServerProcess
from tests.support.tap import Tap, tapped_server

from kaa.embedded import EmbeddedServer
from kaa.types.set import HASHTABLE, INTSET, LISTPACK, SetValue, int64_value

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"
POSITIVE = "value is out of range, must be positive"
RANGE_LONG = "value is out of range, value must between -9223372036854775807 and 9223372036854775807"




def _reset_config(c: redis.Redis) -> None:
    c.execute_command("CONFIG", "SET", "set-max-intset-entries", "512",
                      "set-max-listpack-entries", "128", "set-max-listpack-value", "64",
                      "lazyfree-lazy-server-del", "yes")


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


# ---- basics per encoding ----------------------------------------------------------------------------
@pytest.mark.parametrize("first,expected", [("17", b"intset"), ("foo", b"listpack"),
                                            ("x" * 65, b"hashtable")])
def test_basics_each_encoding(c: redis.Redis, first: str, expected: bytes) -> None:
    assert x(c, "SADD", "s", first) == 1
    assert enc(c, "s") == expected
    assert x(c, "SADD", "s", first) == 0
    assert x(c, "SADD", "s", "16", "16") == 1
    assert x(c, "SCARD", "s") == 2
    assert x(c, "SISMEMBER", "s", "16") == 1
    assert x(c, "SISMEMBER", "s", "18") == 0
    assert x(c, "SMISMEMBER", "s", "18", first, "16") == [0, 1, 1]
    assert sorted(x(c, "SMEMBERS", "s")) == sorted([first.encode(), b"16"])


def test_missing_key_replies(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    assert x(c, "SCARD", "nokey") == 0
    assert x(c, "SISMEMBER", "nokey", "a") == 0
    assert x(c, "SMISMEMBER", "nokey", "a", "b") == [0, 0]
    assert x(c, "SMEMBERS", "nokey") == []
    assert x(c, "SREM", "nokey", "a") == 0
    for proto, empty_set, null in ((2, b"*0\r\n", b"$-1\r\n"), (3, b"~0\r\n", b"_\r\n")):
        replies = raw(kaa_proc.port, ["SMEMBERS", "nokey"], ["SPOP", "nokey"], ["SPOP", "nokey", "3"],
                      ["SRANDMEMBER", "nokey"], ["SRANDMEMBER", "nokey", "3"], ["SINTER", "nokey"],
                      ["SUNION", "nokey"], ["SDIFF", "nokey"], ["SSCAN", "nokey", "0"], proto=proto)
        assert replies == [empty_set, null, empty_set, null, b"*0\r\n", empty_set, empty_set,
                           empty_set, b"*2\r\n$1\r\n0\r\n*0\r\n"]


def test_resp3_set_replies(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    x(c, "SADD", "i", "3", "1", "2")
    x(c, "SADD", "j", "2", "3", "4")
    replies = raw(kaa_proc.port, ["SMEMBERS", "i"], ["SINTER", "i", "j"], ["SUNION", "i", "j"],
                  ["SDIFF", "i", "j"], ["SRANDMEMBER", "i", "-2"], ["SPOP", "i", "1"])
    # An intset is listed in ascending numeric order, as Valkey's iterator does.
    assert replies[0] == b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    assert replies[1] == b"~2\r\n$1\r\n2\r\n$1\r\n3\r\n"
    assert replies[2] == b"~4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    assert replies[3] == b"~1\r\n$1\r\n1\r\n"
    assert replies[4].startswith(b"*2\r\n")  # SRANDMEMBER replies with an array
    assert replies[5].startswith(b"~1\r\n")
    r2 = raw(kaa_proc.port, ["SMEMBERS", "j"], proto=2)
    assert r2 == [b"*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"]


def test_wrongtype(c: redis.Redis) -> None:
    x(c, "SET", "str", "x")
    x(c, "SADD", "s", "a")
    for args in (["SADD", "str", "a"], ["SREM", "str", "a"], ["SMEMBERS", "str"],
                 ["SISMEMBER", "str", "a"], ["SMISMEMBER", "str", "a"], ["SCARD", "str"],
                 ["SPOP", "str"], ["SPOP", "str", "2"], ["SRANDMEMBER", "str"],
                 ["SRANDMEMBER", "str", "2"], ["SMOVE", "str", "s", "a"], ["SMOVE", "s", "str", "a"],
                 ["SINTER", "s", "str"], ["SINTER", "nokey", "str"], ["SUNION", "str", "s"],
                 ["SDIFF", "s", "str"], ["SINTERSTORE", "d", "str"], ["SUNIONSTORE", "d", "str"],
                 ["SDIFFSTORE", "d", "nokey", "str"], ["SINTERCARD", "1", "str"], ["SSCAN", "str", "0"]):
        assert err(c, *args) == WRONGTYPE, args
    # SMOVE from a missing source is 0 whatever the destination holds.
    assert x(c, "SMOVE", "nokey", "str", "a") == 0
    assert x(c, "SMEMBERS", "s") == [b"a"]


def test_arity_errors(c: redis.Redis) -> None:
    for args, name in ((["SADD", "s"], "sadd"), (["SREM", "s"], "srem"), (["SCARD"], "scard"),
                       (["SMISMEMBER", "s"], "smismember"), (["SMOVE", "a", "b"], "smove"),
                       (["SINTER"], "sinter"), (["SINTERSTORE", "d"], "sinterstore"),
                       (["SINTERCARD", "1"], "sintercard"), (["SSCAN", "s"], "sscan"),
                       (["SPOP"], "spop"), (["SISMEMBER", "s", "a", "b"], "sismember")):
        assert err(c, *args) == f"wrong number of arguments for '{name}' command"


# ---- encodings ---------------------------------------------------------------------------------------------
def test_intset_conversions(c: redis.Redis) -> None:
    x(c, "SADD", "small", "1", "2", "3")
    assert enc(c, "small") == b"intset"
    x(c, "SADD", "small", "a")
    assert enc(c, "small") == b"listpack"
    x(c, "SREM", "small", "a")
    assert enc(c, "small") == b"listpack"  # never converts back
    x(c, "SADD", "big", *[str(i) for i in range(130)])
    assert enc(c, "big") == b"intset"
    x(c, "SADD", "big", "a")
    assert enc(c, "big") == b"hashtable"
    # An integer that does not fit 64 bits is a string.
    x(c, "SADD", "huge", "213244124402402314402033402")
    assert enc(c, "huge") == b"listpack"
    for s in ("-0", "01", "+1", " 1", "1 "):
        x(c, "DEL", "k")
        x(c, "SADD", "k", s)
        assert enc(c, "k") == b"listpack", s
    x(c, "SADD", "k2", "-9223372036854775808", "9223372036854775807")
    assert enc(c, "k2") == b"intset"


def test_intset_overflow_and_hint(c: redis.Redis) -> None:
    x(c, "SADD", "s", *[str(i) for i in range(512)])
    assert enc(c, "s") == b"intset"
    x(c, "SADD", "s", "512")
    assert enc(c, "s") == b"hashtable"
    # SADD converts on the number of arguments alone (setTypeMaybeConvert).
    x(c, "SADD", "t", "1")
    x(c, "SADD", "t", *(["1"] * 513))
    assert enc(c, "t") == b"hashtable"
    assert x(c, "SCARD", "t") == 1
    x(c, "SADD", "u", *[str(i) for i in range(513)])
    assert enc(c, "u") == b"hashtable"


def test_listpack_limits(c: redis.Redis) -> None:
    x(c, "SADD", "s", "a", *[str(i) for i in range(127)])
    assert enc(c, "s") == b"listpack"
    assert x(c, "SCARD", "s") == 128
    x(c, "SADD", "s", "b")
    assert enc(c, "s") == b"hashtable"
    x(c, "CONFIG", "SET", "set-max-listpack-value", "4")
    x(c, "SADD", "v", "abcd")
    assert enc(c, "v") == b"listpack"
    x(c, "SADD", "v", "abcde")
    assert enc(c, "v") == b"hashtable"
    # An intset whose widest number does not fit a listpack value goes to a hash table.
    x(c, "SADD", "w", "123456")
    x(c, "SADD", "w", "a")
    assert enc(c, "w") == b"hashtable"
    x(c, "CONFIG", "SET", "set-max-listpack-entries", "0")
    x(c, "SADD", "z", "a")
    assert enc(c, "z") == b"hashtable"


def test_config_intset_entries(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "set-max-intset-entries", "2")
    x(c, "SADD", "s", "1", "2")
    assert enc(c, "s") == b"intset"
    x(c, "SADD", "s", "3")
    assert enc(c, "s") == b"hashtable"


# ---- SREM, SPOP, SRANDMEMBER, SMOVE -------------------------------------------------------------------
def test_srem(c: redis.Redis) -> None:
    x(c, "SADD", "s", "a", "b", "c", "d")
    assert x(c, "SREM", "s", "k", "k") == 0
    assert x(c, "SREM", "s", "b", "d", "x", "b") == 2
    assert sorted(x(c, "SMEMBERS", "s")) == [b"a", b"c"]
    assert x(c, "SREM", "s", "a", "c", "e") == 2
    assert x(c, "EXISTS", "s") == 0


def test_spop_single(c: redis.Redis) -> None:
    x(c, "SADD", "s", "a", "b", "c")
    got = {x(c, "SPOP", "s") for _ in range(3)}
    assert got == {b"a", b"b", b"c"}
    assert x(c, "EXISTS", "s") == 0
    assert x(c, "SPOP", "s") is None


def test_spop_count(c: redis.Redis) -> None:
    members = {str(i).encode() for i in range(1, 21)}
    x(c, "SADD", "s", *members)
    popped: set[bytes] = set()
    for n in (1, 2, 3, 0, 10):
        res = x(c, "SPOP", "s", str(n))
        assert len(res) == n and len(set(res)) == n
        popped |= set(res)
    assert x(c, "SCARD", "s") == 4
    res = x(c, "SPOP", "s", "10")
    popped |= set(res)
    assert popped == members and x(c, "EXISTS", "s") == 0
    assert x(c, "SPOP", "s", "1") == []
    x(c, "SADD", "s", "a")
    assert err(c, "SPOP", "s", "-1") == POSITIVE
    assert err(c, "SPOP", "s", "x") == POSITIVE
    assert err(c, "SPOP", "s", "1", "2") == SYNTAX


def test_spop_count_keeps_remaining_in_new_set(c: redis.Redis) -> None:
    # Popping almost everything rebuilds the rest as a new set: a listpack for a hash table.
    members = [f"m{i}" for i in range(300)]
    x(c, "SADD", "s", *members)
    assert enc(c, "s") == b"hashtable"
    res = x(c, "SPOP", "s", "290")
    assert len(set(res)) == 290
    rest = x(c, "SMEMBERS", "s")
    assert len(rest) == 10 and not set(rest) & set(res)
    assert set(rest) | set(res) == {m.encode() for m in members}
    assert enc(c, "s") == b"listpack"
    x(c, "SADD", "i", *[str(i) for i in range(100)])
    x(c, "SPOP", "i", "95")
    assert enc(c, "i") == b"intset" and x(c, "SCARD", "i") == 5


def test_srandmember(c: redis.Redis) -> None:
    members = {str(i).encode() for i in range(10)} | {b"a"}
    x(c, "SADD", "s", *members)
    assert x(c, "SRANDMEMBER", "s") in members
    assert x(c, "SRANDMEMBER", "s", "0") == []
    res = x(c, "SRANDMEMBER", "s", "-100")
    assert len(res) == 100 and set(res) <= members
    for n in (5, 10, 11, 50):
        res = x(c, "SRANDMEMBER", "s", str(n))
        assert len(res) == min(n, 11) and len(set(res)) == len(res) and set(res) <= members
    assert x(c, "SCARD", "s") == 11
    assert err(c, "SRANDMEMBER", "s", "-9223372036854775808") == RANGE_LONG
    assert err(c, "SRANDMEMBER", "s", "x") == NOT_INT
    assert err(c, "SRANDMEMBER", "s", "1", "2") == SYNTAX


def test_random_on_big_sets(c: redis.Redis) -> None:
    members = {f"m{i}".encode() for i in range(3000)}
    x(c, "SADD", "s", *members)
    seen = {x(c, "SRANDMEMBER", "s") for _ in range(50)}
    assert seen <= members and len(seen) > 10
    res = x(c, "SRANDMEMBER", "s", "20")
    assert len(set(res)) == 20 and set(res) <= members
    res = x(c, "SRANDMEMBER", "s", "-20")
    assert len(res) == 20 and set(res) <= members
    popped = [x(c, "SPOP", "s") for _ in range(100)]
    assert len(set(popped)) == 100
    assert x(c, "SCARD", "s") == 2900
    assert not set(popped) & set(x(c, "SMEMBERS", "s"))
    res = x(c, "SPOP", "s", "50")
    assert len(set(res)) == 50 and x(c, "SCARD", "s") == 2850


def test_smove(c: redis.Redis) -> None:
    x(c, "SADD", "a", "1", "x", "y")
    x(c, "SADD", "b", "2", "3")
    assert enc(c, "b") == b"intset"
    assert x(c, "SMOVE", "a", "b", "x") == 1
    assert sorted(x(c, "SMEMBERS", "b")) == [b"2", b"3", b"x"]
    assert enc(c, "b") == b"listpack"
    assert x(c, "SMOVE", "a", "b", "nosuch") == 0
    assert x(c, "SMOVE", "nokey", "b", "2") == 0
    assert x(c, "SMOVE", "a", "a", "1") == 1
    assert x(c, "SMOVE", "a", "a", "nosuch") == 0
    assert x(c, "SMOVE", "a", "new", "1") == 1
    assert enc(c, "new") == b"intset"
    assert x(c, "SMOVE", "a", "new2", "y") == 1
    assert enc(c, "new2") == b"listpack"
    assert x(c, "EXISTS", "a") == 0
    # Moving a member the destination already has still removes it from the source.
    x(c, "SADD", "p", "m")
    x(c, "SADD", "q", "m")
    assert x(c, "SMOVE", "p", "q", "m") == 1
    assert x(c, "EXISTS", "p") == 0 and x(c, "SMEMBERS", "q") == [b"m"]


# ---- multi-set commands ------------------------------------------------------------------------------------
def test_algebra(c: redis.Redis) -> None:
    x(c, "SADD", "s1", *[str(i) for i in range(200)], "foo")
    x(c, "SADD", "s2", *[str(i + 195) for i in range(200)], "foo")
    x(c, "SADD", "s3", "199", "195", "1000", "2000", "foo")
    x(c, "SADD", "s4", *[str(i) for i in range(5, 200)], "foo")
    x(c, "SADD", "s5", "0", "foo")
    assert sorted(x(c, "SINTER", "s1", "s2")) == sorted([b"195", b"196", b"197", b"198", b"199", b"foo"])
    assert sorted(x(c, "SINTER", "s1", "s2", "s3")) == [b"195", b"199", b"foo"]
    assert x(c, "SINTER", "s1", "nokey") == []
    assert len(x(c, "SUNION", "s1", "s2")) == 396
    assert len(x(c, "SUNION", "nokey", "s1", "s2", "nokey2")) == 396
    assert sorted(x(c, "SDIFF", "s1", "s4")) == [b"0", b"1", b"2", b"3", b"4"]
    assert sorted(x(c, "SDIFF", "s1", "s4", "s5")) == [b"1", b"2", b"3", b"4"]
    assert x(c, "SDIFF", "s1", "s1") == []
    assert x(c, "SDIFF", "nokey", "s1") == []
    assert len(x(c, "SDIFF", "s1", "nokey")) == 201
    assert sorted(x(c, "SINTER", "s3", "s3", "s3")) == sorted(x(c, "SMEMBERS", "s3"))


def test_stores(c: redis.Redis) -> None:
    x(c, "SADD", "a", "x", "1", "2", "3")
    x(c, "SADD", "b", "1", "2", "y")
    x(c, "SET", "dst", "string")
    x(c, "EXPIRE", "dst", "100")
    assert x(c, "SINTERSTORE", "dst", "a", "b") == 2
    assert x(c, "TTL", "dst") == -1
    assert sorted(x(c, "SMEMBERS", "dst")) == [b"1", b"2"]
    assert enc(c, "dst") == b"intset"  # listpack inputs, all-integer result
    assert x(c, "SUNIONSTORE", "dst", "a", "b") == 5
    assert enc(c, "dst") == b"listpack"
    assert x(c, "SDIFFSTORE", "dst", "a", "b") == 2
    assert sorted(x(c, "SMEMBERS", "dst")) == [b"3", b"x"]
    # Empty results delete the destination.
    assert x(c, "SINTERSTORE", "dst", "a", "nokey") == 0
    assert x(c, "EXISTS", "dst") == 0
    x(c, "SET", "dst", "v")
    assert x(c, "SUNIONSTORE", "dst", "nokey", "nokey2") == 0
    assert x(c, "EXISTS", "dst") == 0
    x(c, "SET", "dst", "v")
    assert x(c, "SDIFFSTORE", "dst", "a", "a") == 0
    assert x(c, "EXISTS", "dst") == 0
    # A failed store leaves the destination alone.
    x(c, "SADD", "dst", "e")
    x(c, "SET", "str", "v")
    assert err(c, "SINTERSTORE", "dst", "str", "a") == WRONGTYPE
    assert x(c, "SMEMBERS", "dst") == [b"e"]


def test_store_encodings(c: redis.Redis) -> None:
    x(c, "SADD", "i1", *[str(i) for i in range(200)])
    x(c, "SADD", "i2", *[str(i + 195) for i in range(200)])
    x(c, "SINTERSTORE", "r", "i1", "i2")
    assert enc(c, "r") == b"intset"
    x(c, "SUNIONSTORE", "r", "i1", "i2")
    assert enc(c, "r") == b"intset"
    x(c, "SDIFFSTORE", "r", "i1", "i2")
    assert enc(c, "r") == b"intset"
    # Hash-table inputs whose intersection is all integers make an intset.
    h = [f"s{i}" for i in range(130)]
    x(c, "SADD", "h1", *h, *[str(i) for i in range(1, 130)])
    x(c, "SADD", "h2", *[str(i) for i in range(1, 130)], "zz")
    x(c, "SINTERSTORE", "r", "h1", "h2")
    assert enc(c, "r") == b"intset" and x(c, "SCARD", "r") == 129
    x(c, "SUNIONSTORE", "r", "h1", "h2")
    assert enc(c, "r") == b"hashtable"
    # A union of small sets with a string stays a listpack.
    x(c, "SADD", "l1", "1", "2", "a")
    x(c, "SADD", "l2", "3")
    x(c, "SUNIONSTORE", "r", "l1", "l2")
    assert enc(c, "r") == b"listpack"
    x(c, "SDIFFSTORE", "r", "l1", "l2")
    assert enc(c, "r") == b"listpack"


def test_sintercard(c: redis.Redis) -> None:
    x(c, "SADD", "a", "1", "2", "3", "4", "x")
    x(c, "SADD", "b", "2", "3", "4", "x", "y")
    assert x(c, "SINTERCARD", "2", "a", "b") == 4
    assert x(c, "SINTERCARD", "2", "a", "b", "LIMIT", "0") == 4
    assert x(c, "SINTERCARD", "2", "a", "b", "limit", "2") == 2
    assert x(c, "SINTERCARD", "2", "a", "b", "LIMIT", "10") == 4
    assert x(c, "SINTERCARD", "1", "a") == 5
    assert x(c, "SINTERCARD", "2", "a", "nokey") == 0
    assert x(c, "SINTERCARD", "1", "nokey", "LIMIT", "3") == 0
    assert err(c, "SINTERCARD", "0", "a") == "numkeys should be greater than 0"
    assert err(c, "SINTERCARD", "x", "a") == "numkeys should be greater than 0"
    assert err(c, "SINTERCARD", "2", "a") == "Number of keys can't be greater than number of args"
    assert err(c, "SINTERCARD", "1", "a", "b") == SYNTAX
    assert err(c, "SINTERCARD", "1", "a", "LIMIT") == SYNTAX
    assert err(c, "SINTERCARD", "1", "a", "LIMIT", "-1") == "LIMIT can't be negative"
    assert err(c, "SINTERCARD", "1", "a", "LIMIT", "x") == "LIMIT can't be negative"


# ---- SSCAN -----------------------------------------------------------------------------------------
def _sscan_all(c: redis.Redis, key: str, *opts: str) -> list[bytes]:
    cursor = b"0"
    out: list[bytes] = []
    while True:
        cursor, items = x(c, "SSCAN", key, cursor, *opts)
        out += items
        if cursor == b"0":
            return out


def test_sscan_compact_and_errors(c: redis.Redis) -> None:
    x(c, "SADD", "i", "3", "1", "2")
    # Compact encodings come back whole with cursor 0 (an intset in numeric order).
    assert x(c, "SSCAN", "i", "0") == [b"0", [b"1", b"2", b"3"]]
    assert x(c, "SSCAN", "i", "12345", "COUNT", "1") == [b"0", [b"1", b"2", b"3"]]
    x(c, "SADD", "l", "ab", "ac", "b")
    assert sorted(x(c, "SSCAN", "l", "0", "MATCH", "a*")[1]) == [b"ab", b"ac"]
    assert x(c, "SSCAN", "l", "0", "MATCH", "*", "COUNT", "100")[0] == b"0"
    assert err(c, "SSCAN", "l", "x") == "invalid cursor"
    assert err(c, "SSCAN", "l", "-1") == "invalid cursor"
    assert err(c, "SSCAN", "l", "0", "COUNT", "0") == SYNTAX
    assert err(c, "SSCAN", "l", "0", "COUNT", "x") == NOT_INT
    assert err(c, "SSCAN", "l", "0", "NOVALUES") == "NOVALUES option can only be used in HSCAN"
    assert err(c, "SSCAN", "l", "0", "NOSCORES") == "NOSCORES option can only be used in ZSCAN"
    assert err(c, "SSCAN", "l", "0", "TYPE", "set") == SYNTAX
    assert err(c, "SSCAN", "l", "0", "MATCH") == SYNTAX
    # The key is looked up before the options are parsed.
    assert x(c, "SSCAN", "nokey", "0", "BAD") == [b"0", []]
    assert err(c, "SSCAN", "nokey", "bad") == "invalid cursor"


def test_sscan_hashtable_iteration(c: redis.Redis) -> None:
    members = {f"m{i}".encode() for i in range(1000)}
    x(c, "SADD", "s", *members)
    got = _sscan_all(c, "s")
    assert set(got) == members and len(got) < 1100
    cursor, first = x(c, "SSCAN", "s", "0", "COUNT", "5")
    assert cursor != b"0" and 1 <= len(first) < 100
    assert set(_sscan_all(c, "s", "MATCH", "m1*")) == {m for m in members if m.startswith(b"m1")}


def test_sscan_under_modification(c: redis.Redis) -> None:
    """Members present for the whole scan are returned at least once, whatever is added
    or removed (or however much the set grows or shrinks) between calls."""
    stable = {f"s{i}".encode() for i in range(400)}
    x(c, "SADD", "s", *stable, *[f"t{i}" for i in range(400)])
    seen: set[bytes] = set()
    cursor = b"0"
    step = 0
    while True:
        cursor, items = x(c, "SSCAN", "s", cursor, "COUNT", "20")
        seen |= set(items)
        step += 1
        if step % 2:
            x(c, "SADD", "s", *[f"n{step}_{i}" for i in range(60)])
        else:
            x(c, "SREM", "s", *[f"t{i}" for i in range(step * 20, step * 20 + 40)])
        if cursor == b"0":
            break
    assert stable <= seen


# ---- declarations ------------------------------------------------------------------------------------------
def test_command_info(c: redis.Redis) -> None:
    info = {e[0]: e for e in x(c, "COMMAND", "INFO", "sadd", "sintercard", "smove", "sinterstore",
                                 "spop", "smembers")}
    assert info[b"sadd"][1:6] == [-3, [b"write", b"denyoom", b"fast"], 1, 1, 1]
    assert info[b"sintercard"][1:6] == [-3, [b"readonly", b"movablekeys"], 0, 0, 0]
    assert info[b"smove"][1:6] == [4, [b"write", b"fast"], 1, 2, 1]
    assert info[b"sinterstore"][1:6] == [-3, [b"write", b"denyoom"], 1, -1, 1]
    assert info[b"spop"][1:6] == [-2, [b"write", b"fast"], 1, 1, 1]
    assert set(info[b"smembers"][6]) == {b"@read", b"@set", b"@slow"}
    assert x(c, "COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "SINTERSTORE", "d", "a", "b") == [b"d", b"a", b"b"]


# ---- propagation, keyspace events, dirty ---------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, Tap]]:
    with tapped_server(enable_debug_command="yes") as et:
        yield et


@pytest.fixture()
def ec(embedded: tuple[EmbeddedServer, Tap]) -> Iterator[tuple[redis.Redis, Tap]]:
    e, tap = embedded
    client = _client(e.port, 2)
    x(client, "FLUSHALL")
    x(client, "CONFIG", "SET", "lazyfree-lazy-server-del", "yes")
    tap.clear()
    yield client, tap
    client.close()


def test_events(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SADD", "s", "a", "b", "c")
    x(c, "SADD", "s", "a")  # nothing added: no event
    x(c, "SREM", "s", "a", "zz")
    x(c, "SREM", "s", "zz")
    x(c, "SPOP", "s")
    x(c, "SPOP", "s", "5")
    assert tap.events == [("sadd", b"s"), ("srem", b"s"), ("spop", b"s"), ("spop", b"s"),
                          ("del", b"s")]
    tap.clear()
    x(c, "SADD", "a", "m")
    x(c, "SADD", "b", "m", "n")
    tap.clear()
    x(c, "SMOVE", "b", "a", "m")  # already in a: only the source changes
    x(c, "SMOVE", "a", "c", "m")
    assert tap.events == [("srem", b"b"), ("srem", b"a"), ("del", b"a"), ("sadd", b"c")]
    tap.clear()
    x(c, "SINTERSTORE", "d", "b", "b")
    x(c, "SUNIONSTORE", "d", "b", "c")
    x(c, "SDIFFSTORE", "d", "b", "c")
    x(c, "SINTERSTORE", "d", "b", "c")
    x(c, "SINTERSTORE", "d", "b", "c")  # nothing to delete: no event
    assert tap.events == [("sinterstore", b"d"), ("sunionstore", b"d"), ("sdiffstore", b"d"),
                          ("del", b"d")]


def test_propagation(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SADD", "s", "a")
    popped = x(c, "SPOP", "s")
    x(c, "SPOP", "s")  # nothing: nothing propagated
    x(c, "SADD", "t", "1", "2", "3", "4", "5", "6")
    res = x(c, "SPOP", "t", "2")
    x(c, "SPOP", "t", "10")
    x(c, "CONFIG", "SET", "lazyfree-lazy-server-del", "no")
    x(c, "SADD", "u", "1")
    x(c, "SPOP", "u", "1")
    assert tap.props == [
        [b"SADD", b"s", b"a"],
        [b"SREM", b"s", popped],
        [b"SADD", b"t", b"1", b"2", b"3", b"4", b"5", b"6"],
        [b"SREM", b"t", *res],
        [b"UNLINK", b"t"],
        [b"SADD", b"u", b"1"],
        [b"DEL", b"u"],
    ]


def test_spop_propagates_in_batches(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SADD", "s", *[f"m{i}" for i in range(3000)])
    tap.clear()
    res = x(c, "SPOP", "s", "2500")
    assert [p[:2] for p in tap.props] == [[b"SREM", b"s"]] * 3
    assert [len(p) - 2 for p in tap.props] == [1024, 1024, 452]
    assert sorted(m for p in tap.props for m in p[2:]) == sorted(res)


def test_dirty_counts(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    ks = tap.srv.keyspace
    d0 = ks.dirty
    x(c, "SADD", "s", "a", "b", "c", "a")
    assert ks.dirty - d0 == 3
    x(c, "SREM", "s", "a", "zz")
    assert ks.dirty - d0 == 4
    x(c, "SPOP", "s", "5")
    assert ks.dirty - d0 == 6
    x(c, "SADD", "a", "m")
    x(c, "SADD", "b", "m")
    d1 = ks.dirty
    x(c, "SMOVE", "a", "b", "m")
    assert ks.dirty - d1 == 1
    x(c, "SADD", "a", "n")
    d2 = ks.dirty
    x(c, "SMOVE", "a", "b", "n")
    assert ks.dirty - d2 == 2
    x(c, "SUNIONSTORE", "d", "b")
    assert ks.dirty - d2 == 3


# ---- the value object --------------------------------------------------------------------------------------
class Cfg:
    set_max_intset_entries = 512
    set_max_listpack_entries = 128
    set_max_listpack_value = 64


def test_int64_value() -> None:
    assert int64_value(b"0") == 0
    assert int64_value(b"-9223372036854775808") == -(1 << 63)
    for bad in (b"", b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"9223372036854775808", b"1e3", b"\xd9\xa1"):
        assert int64_value(bad) is None, bad


def test_from_rdb_encoding() -> None:
    assert SetValue.from_rdb([b"1", b"2"], Cfg()).enc == INTSET
    assert SetValue.from_rdb([b"1", b"a"], Cfg()).enc == LISTPACK
    assert SetValue.from_rdb([str(i).encode() for i in range(513)], Cfg()).enc == HASHTABLE
    assert SetValue.from_rdb([f"i{i}".encode() for i in range(129)], Cfg()).enc == HASHTABLE
    assert SetValue.from_rdb([b"x" * 65], Cfg()).enc == HASHTABLE
    s = SetValue.from_rdb([b"a", b"b"], Cfg())
    assert sorted(s.rdb_items()) == [b"a", b"b"]


def test_copy_keeps_encoding() -> None:
    s = SetValue.create(b"1", 1, Cfg())
    s.add(b"1", Cfg())
    s.add(b"a", Cfg())
    s.remove(b"a")
    t = s.copy()
    assert t.encoding() == "listpack" and t.m == {b"1"} and t.m is not s.m
