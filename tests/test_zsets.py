"""Sorted-set commands against a running kaa-server, with Valkey 8's replies and error
texts, in RESP2 and RESP3.

Clients here have redis-py's response callbacks removed, so every assertion sees the
server's reply as sent (bytes, ints, None, floats for RESP3 doubles). Keyspace events,
``dirty`` and propagation are checked on an in-process server whose hooks we tap.
"""

from __future__ import annotations

import math
import socket
import threading
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
from kaa.types.zset import ZSet, parse_lex_range, parse_score_range, string2d, strtod

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
SYNTAX = "syntax error"
MINMAX = "min or max is not a float"
LEXERR = "min or max not valid string range item"




@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port, 2)
    client.execute_command("FLUSHALL")
    client.execute_command("CONFIG", "SET", "zset-max-listpack-entries", "128")
    client.execute_command("CONFIG", "SET", "zset-max-listpack-value", "64")
    yield client
    client.close()


@pytest.fixture()
def c3(kaa_proc: ServerProcess, c: redis.Redis) -> Iterator[redis.Redis]:
    """RESP3 client on the same (already flushed) keyspace as ``c``."""
    client = _client(kaa_proc.port, 3)
    yield client
    client.close()






def _read_reply(f: Any) -> bytes:
    """One complete RESP2/RESP3 reply, as raw bytes."""
    line = f.readline()
    t = line[:1]
    if t in (b"$", b"="):
        n = int(line[1:])
        return line if n < 0 else line + f.read(n + 2)
    if t in (b"*", b"%", b"~", b">"):
        n = int(line[1:])
        if n < 0:
            return line
        return line + b"".join(_read_reply(f) for _ in range(2 * n if t == b"%" else n))
    return line


def raw(port: int, *commands: bytes) -> list[bytes]:
    """Send commands on a fresh connection; the raw bytes of each reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        s.sendall(b"".join(commands))
        return [_read_reply(f) for _ in commands]


def cmd(*args: str | bytes) -> bytes:
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


# ---------------------------------------------------------------------------
# Pure helpers: strtod / string2d / ranges
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,value,used,erange",
    [
        (b"1e-310", 1e-310, 6, True),  # subnormal and inexact: ERANGE but a value
        (b"1e-400", 0.0, 6, True),
        (b"0e-400", 0.0, 6, False),
        (b"1e400", math.inf, 5, True),
        (b"0x1p-1074", 5e-324, 9, False),
        (b"  12", 12.0, 4, False),
        (b"1e", 1.0, 1, False),
        (b"0x", 0.0, 1, False),
        (b"0x1.8p1", 3.0, 7, False),
        (b"infinity", math.inf, 8, False),
        (b"infx", math.inf, 3, False),
        (b"-inf", -math.inf, 4, False),
        (b".5", 0.5, 2, False),
        (b"5.", 5.0, 2, False),
        (b".", 0.0, 0, False),
        (b"1_0", 1.0, 1, False),
        (b"abc", 0.0, 0, False),
    ],
)
def test_strtod_matches_glibc(text: bytes, value: float, used: int, erange: bool) -> None:
    assert strtod(text) == (value, used, erange)


def test_strtod_nan_forms() -> None:
    for t, n in ((b"nan", 3), (b"nan(12ab)", 9), (b"-NaN", 4), (b"nan(", 3)):
        v, used, _ = strtod(t)
        assert v != v and used == n


@pytest.mark.parametrize(
    "text,ok",
    [(b"1", 1.0), (b"-1.5", -1.5), (b"inf", math.inf), (b"-Infinity", -math.inf), (b"0x10", 16.0),
     (b"1e-310", 1e-310), (b"1e400", None), (b"1e-400", None), (b" 1", None), (b"1 ", None),
     (b"", None), (b"nan", None), (b"1_0", None), (b"abc", None), (b"1\x00", None), (b"+.5", 0.5)],
)
def test_string2d(text: bytes, ok: float | None) -> None:
    assert string2d(text) == ok


def test_range_parsing() -> None:
    assert parse_score_range(b"(1", b"+inf") == (1.0, True, math.inf, False)
    assert parse_score_range(b" 1", b"") == (1.0, False, 0.0, False)  # strtod skips blanks; "" is 0
    assert parse_score_range(b"1 ", b"2") is None
    assert parse_score_range(b"nan", b"2") is None
    assert parse_score_range(b"1e400", b"2") == (math.inf, False, 2.0, False)
    assert parse_lex_range(b"[a", b"(b") == (b"a", False, b"b", True)
    assert parse_lex_range(b"a", b"+") is None
    assert parse_lex_range(b"-x", b"+") is None
    assert parse_lex_range(b"-", b"+") is not None


def test_zset_value_encoding_and_copy() -> None:
    z = ZSet.create(1, 1, 128, 64)
    assert z.encoding() == "listpack"
    z.zadd(b"a", -0.0, 0, 128, 64)
    assert math.copysign(1.0, z.scores[b"a"]) == 1.0  # a listpack stores -0 as the integer 0
    z2 = ZSet.create(1, 65, 128, 64)
    assert z2.encoding() == "skiplist"
    z2.zadd(b"a", -0.0, 0, 128, 64)
    assert math.copysign(1.0, z2.scores[b"a"]) == -1.0
    cp = z.copy()
    cp.zadd(b"b", 1, 0, 128, 64)
    assert len(z) == 1 and len(cp) == 2 and cp.encoding() == "listpack"
    big = ZSet.from_pairs([(b"m%d" % i, float(i)) for i in range(200)], 128, 64)
    assert big.encoding() == "skiplist" and len(big) == 200
    assert big.rdb_items()[:2] == [(b"m0", 0.0), (b"m1", 1.0)]
    assert ZSet.from_rdb(big.rdb_items()[:3], type("Cfg", (), {})()).encoding() == "listpack"


# ---------------------------------------------------------------------------
# ZADD / ZINCRBY
# ---------------------------------------------------------------------------


def test_zadd_basic_and_flags(c: redis.Redis) -> None:
    assert x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c") == 3
    assert x(c, "ZADD", "z", "1", "a") == 0
    assert x(c, "ZADD", "z", "CH", "10", "a", "4", "d") == 2
    assert x(c, "ZADD", "z", "NX", "100", "a", "5", "e") == 1
    assert x(c, "ZSCORE", "z", "a") == b"10"
    assert x(c, "ZADD", "z", "XX", "CH", "11", "a", "6", "f") == 1
    assert x(c, "ZSCORE", "z", "f") is None
    assert x(c, "ZADD", "z", "GT", "CH", "5", "a", "20", "b") == 1
    assert x(c, "ZSCORE", "z", "a") == b"11"
    assert x(c, "ZADD", "z", "LT", "CH", "5", "a", "30", "c") == 1
    assert x(c, "ZSCORE", "z", "a") == b"5"
    assert x(c, "ZADD", "z", "XX", "GT", "CH", "100", "a", "1", "new") == 1
    assert x(c, "ZSCORE", "z", "new") is None
    # Lower-case options and a new member under GT/LT are fine.
    assert x(c, "ZADD", "z", "gt", "ch", "7", "g") == 1


def test_zadd_incr(c: redis.Redis, c3: redis.Redis) -> None:
    assert x(c, "ZADD", "z", "INCR", "1.5", "a") == b"1.5"
    assert x(c, "ZADD", "z", "INCR", "1", "a") == b"2.5"
    assert x(c, "ZADD", "z", "NX", "INCR", "1", "a") is None
    assert x(c, "ZADD", "z", "XX", "INCR", "1", "nope") is None
    assert x(c, "ZADD", "z", "GT", "INCR", "-1", "a") is None
    assert x(c, "ZADD", "missing", "XX", "INCR", "1", "a") is None
    assert x(c, "ZADD", "missing", "XX", "1", "a") == 0
    assert x(c, "EXISTS", "missing") == 0
    assert x(c3, "ZADD", "z3", "INCR", "2.5", "a") == 2.5
    assert x(c3, "ZINCRBY", "z3", "1", "a") == 3.5


def test_zadd_errors(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a")
    assert SYNTAX in err(c, "ZADD", "z", "NX", "1")
    assert SYNTAX in err(c, "ZADD", "z", "NX", "XX")
    assert SYNTAX in err(c, "ZADD", "z", "1", "a", "2")
    assert "XX and NX options at the same time are not compatible" in err(c, "ZADD", "z", "NX", "XX", "1", "a")
    for opts in (("GT", "LT"), ("GT", "NX"), ("LT", "NX")):
        assert "GT, LT, and/or NX options at the same time are not compatible" in err(c, "ZADD", "z", *opts, "1", "a")
    assert "INCR option supports a single increment-element pair" in err(c, "ZADD", "z", "INCR", "1", "a", "2", "b")
    for bad in ("abc", "", " 1", "1 ", "1e400", "1e-400", "nan", "1_0", "--1"):
        assert err(c, "ZADD", "z", bad, "a") == NOT_FLOAT, bad
    # A bad score anywhere means nothing is added.
    assert err(c, "ZADD", "z", "5", "q", "x", "r") == NOT_FLOAT
    assert x(c, "ZCARD", "z") == 1
    x(c, "ZADD", "inf", "+inf", "a")
    assert "resulting score is not a number (NaN)" in err(c, "ZADD", "inf", "INCR", "-inf", "a")
    assert "resulting score is not a number (NaN)" in err(c, "ZINCRBY", "inf", "-inf", "a")
    assert x(c, "ZSCORE", "inf", "a") == b"inf"
    x(c, "SET", "str", "v")
    assert err(c, "ZADD", "str", "1", "a") == WRONGTYPE
    # Score errors come before the type check, as in Valkey.
    assert err(c, "ZADD", "str", "x", "a") == NOT_FLOAT
    assert "wrong number of arguments for 'zadd' command" in err(c, "ZADD", "z", "1")


def test_zadd_accepts_strtod_forms(c: redis.Redis) -> None:
    assert x(c, "ZADD", "z", "0x10", "hex", "inf", "i", "-inf", "j", "1e-310", "tiny", "+.5", "h") == 5
    assert x(c, "ZSCORE", "z", "hex") == b"16"
    assert x(c, "ZSCORE", "z", "i") == b"inf"
    assert x(c, "ZSCORE", "z", "j") == b"-inf"
    assert x(c, "ZSCORE", "z", "h") == b"0.5"


def test_zincrby(c: redis.Redis) -> None:
    assert x(c, "ZINCRBY", "z", "2", "a") == b"2"
    assert x(c, "ZINCRBY", "z", "-0.5", "a") == b"1.5"
    assert err(c, "ZINCRBY", "z", "abc", "a") == NOT_FLOAT
    assert SYNTAX in err(c, "ZINCRBY", "z", "nx", "a")
    assert "wrong number of arguments for 'zincrby' command" in err(c, "ZINCRBY", "z", "1")
    x(c, "SET", "s", "v")
    assert err(c, "ZINCRBY", "s", "1", "a") == WRONGTYPE


# ---------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------


def test_zcard_zscore_zmscore(c: redis.Redis, c3: redis.Redis) -> None:
    x(c, "ZADD", "z", "1.1", "a", "2", "b")
    assert x(c, "ZCARD", "z") == 2
    assert x(c, "ZCARD", "nokey") == 0
    assert x(c, "ZSCORE", "z", "a") == b"1.1"
    assert x(c, "ZSCORE", "z", "zz") is None
    assert x(c, "ZSCORE", "nokey", "a") is None
    assert x(c, "ZMSCORE", "z", "a", "zz", "b") == [b"1.1", None, b"2"]
    assert x(c, "ZMSCORE", "nokey", "a", "b") == [None, None]
    assert "wrong number of arguments for 'zmscore' command" in err(c, "ZMSCORE", "z")
    assert x(c3, "ZSCORE", "z", "a") == 1.1
    assert x(c3, "ZMSCORE", "z", "a", "q") == [1.1, None]
    x(c, "SET", "s", "v")
    for args in (("ZCARD", "s"), ("ZSCORE", "s", "a"), ("ZMSCORE", "s", "a")):
        assert err(c, *args) == WRONGTYPE


def test_double_replies_raw(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1.5", "a", "inf", "b", "-inf", "c")
    assert raw(kaa_proc.port, cmd("ZSCORE", "z", "a"), cmd("ZSCORE", "z", "b")) == [
        b"$3\r\n1.5\r\n", b"$3\r\ninf\r\n"]
    r3 = raw(kaa_proc.port, cmd("HELLO", "3"), cmd("ZSCORE", "z", "c"), cmd("ZSCORE", "z", "a"))
    assert r3[1:] == [b",-inf\r\n", b",1.5\r\n"]
    assert raw(kaa_proc.port, cmd("ZRANGE", "z", "0", "0", "WITHSCORES")) == [
        b"*2\r\n$1\r\nc\r\n$4\r\n-inf\r\n"]
    r3 = raw(kaa_proc.port, cmd("HELLO", "3"), cmd("ZRANGE", "z", "0", "0", "WITHSCORES"))
    assert r3[1] == b"*1\r\n*2\r\n$1\r\nc\r\n,-inf\r\n"


def test_double_reply_layout_matches_valkey8(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1e-7", "a", "0.000015", "b", "9223372036854775808", "c", "100000000000000000", "d")
    assert x(c, "ZSCORE", "z", "a") == b"1e-7"
    assert x(c, "ZSCORE", "z", "b") == b"0.000015"
    assert x(c, "ZSCORE", "z", "c") == b"9223372036854776000"
    assert x(c, "ZSCORE", "z", "d") == b"100000000000000000"


def test_zrank_zrevrank(c: redis.Redis, c3: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert x(c, "ZRANK", "z", "a") == 0
    assert x(c, "ZRANK", "z", "c") == 2
    assert x(c, "ZREVRANK", "z", "c") == 0
    assert x(c, "ZRANK", "z", "b", "WITHSCORE") == [1, b"2"]
    assert x(c, "ZREVRANK", "z", "a", "withscore") == [2, b"1"]
    assert x(c, "ZRANK", "z", "nope") is None
    assert x(c, "ZRANK", "z", "nope", "WITHSCORE") is None
    assert x(c, "ZRANK", "nokey", "a", "WITHSCORE") is None
    assert x(c3, "ZRANK", "z", "b", "WITHSCORE") == [1, 2.0]
    assert err(c, "ZRANK", "z", "a", "WITHSCORES") == SYNTAX
    assert "wrong number of arguments for 'zrank' command" in err(c, "ZRANK", "z", "a", "WITHSCORE", "x")
    assert "wrong number of arguments for 'zrevrank' command" in err(c, "ZREVRANK", "z", "a", "WITHSCORE", "x")
    x(c, "SET", "s", "v")
    assert err(c, "ZRANK", "s", "a") == WRONGTYPE


def test_zrank_withscore_null_array_raw(kaa_proc: ServerProcess) -> None:
    assert raw(kaa_proc.port, cmd("ZRANK", "nokey", "a", "WITHSCORE"), cmd("ZRANK", "nokey", "a")) == [
        b"*-1\r\n", b"$-1\r\n"]
    assert raw(kaa_proc.port, cmd("HELLO", "3"), cmd("ZRANK", "nokey", "a", "WITHSCORE"))[1] == b"_\r\n"


def test_zcount_zlexcount(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert x(c, "ZCOUNT", "z", "-inf", "+inf") == 4
    assert x(c, "ZCOUNT", "z", "(1", "3") == 2
    assert x(c, "ZCOUNT", "z", "(1", "(3") == 1
    assert x(c, "ZCOUNT", "z", "3", "1") == 0
    assert x(c, "ZCOUNT", "z", "(2", "(2") == 0
    assert x(c, "ZCOUNT", "nokey", "0", "1") == 0
    assert err(c, "ZCOUNT", "z", "a", "1") == MINMAX
    assert err(c, "ZCOUNT", "z", "1", "nan") == MINMAX
    x(c, "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d")
    assert x(c, "ZLEXCOUNT", "l", "-", "+") == 4
    assert x(c, "ZLEXCOUNT", "l", "[b", "(d") == 2
    assert x(c, "ZLEXCOUNT", "l", "(b", "[d") == 2
    assert x(c, "ZLEXCOUNT", "l", "+", "-") == 0
    assert x(c, "ZLEXCOUNT", "nokey", "-", "+") == 0
    for a, b in (("a", "+"), ("-", "b"), ("-x", "+"), ("[a", "+x")):
        assert err(c, "ZLEXCOUNT", "l", a, b) == LEXERR
    x(c, "SET", "s", "v")
    assert err(c, "ZCOUNT", "s", "0", "1") == WRONGTYPE
    assert err(c, "ZCOUNT", "s", "x", "1") == MINMAX  # range errors come first


# ---------------------------------------------------------------------------
# ZRANGE family
# ---------------------------------------------------------------------------


@pytest.fixture()
def abcd(c: redis.Redis) -> redis.Redis:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    return c


def test_zrange_by_rank(abcd: redis.Redis, c3: redis.Redis) -> None:
    c = abcd
    assert x(c, "ZRANGE", "z", "0", "-1") == [b"a", b"b", b"c", b"d"]
    assert x(c, "ZRANGE", "z", "1", "2", "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert x(c, "ZRANGE", "z", "-2", "100") == [b"c", b"d"]
    assert x(c, "ZRANGE", "z", "-100", "0") == [b"a"]
    assert x(c, "ZRANGE", "z", "3", "1") == []
    assert x(c, "ZRANGE", "z", "5", "10") == []
    assert x(c, "ZRANGE", "z", "0", "1", "REV") == [b"d", b"c"]
    assert x(c, "ZREVRANGE", "z", "0", "-1") == [b"d", b"c", b"b", b"a"]
    assert x(c, "ZREVRANGE", "z", "1", "1", "WITHSCORES") == [b"c", b"3"]
    assert x(c, "ZRANGE", "nokey", "0", "-1") == []
    assert x(c3, "ZRANGE", "z", "0", "1", "WITHSCORES") == [[b"a", 1.0], [b"b", 2.0]]
    assert x(c3, "ZREVRANGE", "z", "0", "0", "WITHSCORES") == [[b"d", 4.0]]


def test_zrange_by_score(abcd: redis.Redis, c3: redis.Redis) -> None:
    c = abcd
    assert x(c, "ZRANGE", "z", "(1", "3", "BYSCORE") == [b"b", b"c"]
    assert x(c, "ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "WITHSCORES") == [b"c", b"3", b"b", b"2"]
    assert x(c, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2") == [b"b", b"c"]
    assert x(c, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1") == [b"b", b"c", b"d"]
    assert x(c, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "0") == []
    assert x(c, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "10", "1") == []
    assert x(c, "ZRANGEBYSCORE", "z", "2", "+inf", "WITHSCORES", "LIMIT", "0", "2") == [b"b", b"2", b"c", b"3"]
    assert x(c, "ZREVRANGEBYSCORE", "z", "+inf", "(2") == [b"d", b"c"]
    assert x(c, "ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "2") == [b"c", b"b"]
    assert x(c, "ZRANGEBYSCORE", "z", "(4", "+inf") == []
    assert x(c, "ZRANGEBYSCORE", "z", " 2", "3") == [b"b", b"c"]  # strtod skips leading blanks
    assert x(c3, "ZRANGEBYSCORE", "z", "4", "4", "WITHSCORES") == [[b"d", 4.0]]
    assert err(c, "ZRANGEBYSCORE", "z", "a", "1") == MINMAX
    assert err(c, "ZRANGEBYSCORE", "z", "1", "2 ") == MINMAX
    assert err(c, "ZRANGEBYSCORE", "z", "((1", "2") == MINMAX


def test_zrangebyscore_negative_offset_follows_encoding(c: redis.Redis) -> None:
    """Valkey 8: a listpack walk finds nothing for a negative offset; zslNthInRange counts it
    from the other end of the range."""
    x(c, "ZADD", "lp", "1", "a", "2", "b", "3", "c")
    assert x(c, "ZRANGEBYSCORE", "lp", "-inf", "+inf", "LIMIT", "-1", "1") == []
    x(c, "CONFIG", "SET", "zset-max-listpack-entries", "0")
    x(c, "ZADD", "sl", "1", "a", "2", "b", "3", "c")
    assert x(c, "OBJECT", "ENCODING", "sl") == b"skiplist"
    assert x(c, "ZRANGEBYSCORE", "sl", "-inf", "+inf", "LIMIT", "-1", "1") == [b"c"]
    assert x(c, "ZREVRANGEBYSCORE", "sl", "+inf", "-inf", "LIMIT", "-1", "1") == [b"a"]
    assert x(c, "ZRANGEBYSCORE", "sl", "-inf", "+inf", "LIMIT", "-2", "5") == [b"b", b"c"]


def test_zrange_by_lex(c: redis.Redis) -> None:
    x(c, "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")
    assert x(c, "ZRANGE", "l", "[b", "(d", "BYLEX") == [b"b", b"c"]
    assert x(c, "ZRANGE", "l", "(d", "[b", "BYLEX", "REV") == [b"c", b"b"]
    assert x(c, "ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1", "2") == [b"b", b"c"]
    assert x(c, "ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "0", "2") == [b"e", b"d"]
    assert x(c, "ZRANGEBYLEX", "l", "+", "-") == []
    assert x(c, "ZRANGEBYLEX", "l", "[c", "[c") == [b"c"]
    assert x(c, "ZRANGEBYLEX", "l", "(c", "(c") == []
    assert x(c, "ZRANGEBYLEX", "nokey", "-", "+") == []
    assert err(c, "ZRANGEBYLEX", "l", "a", "+") == LEXERR
    assert "WITHSCORES not supported in combination with BYLEX" in err(c, "ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES")
    assert "WITHSCORES not supported in combination with BYLEX" in err(c, "ZRANGEBYLEX", "l", "-", "+", "WITHSCORES")


def test_zrange_option_errors(abcd: redis.Redis) -> None:
    c = abcd
    assert "LIMIT is only supported in combination with either BYSCORE or BYLEX" in err(
        c, "ZRANGE", "z", "0", "-1", "LIMIT", "0", "1")
    assert err(c, "ZRANGE", "z", "0", "-1", "LIMIT", "0") == SYNTAX
    assert err(c, "ZRANGE", "z", "0", "-1", "LIMIT", "x", "1") == NOT_INT
    assert err(c, "ZRANGE", "z", "0", "-1", "REV", "REV") == SYNTAX
    assert err(c, "ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX") == SYNTAX
    assert err(c, "ZRANGE", "z", "0", "-1", "FOO") == SYNTAX
    assert err(c, "ZRANGE", "z", "x", "1") == NOT_INT
    assert err(c, "ZREVRANGE", "z", "0", "1", "REV") == SYNTAX
    assert err(c, "ZRANGEBYSCORE", "z", "0", "1", "BYLEX") == SYNTAX
    x(c, "SET", "s", "v")
    assert err(c, "ZRANGE", "s", "0", "-1") == WRONGTYPE
    assert err(c, "ZRANGE", "s", "x", "-1") == NOT_INT  # argument errors first


def test_zrangestore(abcd: redis.Redis) -> None:
    c = abcd
    assert x(c, "ZRANGESTORE", "dst", "z", "1", "2") == 2
    assert x(c, "ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert x(c, "ZRANGESTORE", "dst", "z", "4", "(2", "BYSCORE", "REV", "LIMIT", "0", "1") == 1
    assert x(c, "ZRANGE", "dst", "0", "-1") == [b"d"]
    assert x(c, "ZRANGESTORE", "dst", "z", "[a", "[b", "BYLEX") == 2
    x(c, "EXPIRE", "dst", "100")
    assert x(c, "ZRANGESTORE", "dst", "z", "0", "0") == 1
    assert x(c, "TTL", "dst") == -1  # a new value: the TTL goes
    assert x(c, "ZRANGESTORE", "dst", "z", "10", "20") == 0
    assert x(c, "EXISTS", "dst") == 0
    x(c, "SET", "dst", "v")
    assert x(c, "ZRANGESTORE", "dst", "nokey", "0", "-1") == 0
    assert x(c, "EXISTS", "dst") == 0
    assert err(c, "ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES") == SYNTAX
    x(c, "SET", "s", "v")
    assert err(c, "ZRANGESTORE", "dst", "s", "0", "-1") == WRONGTYPE
    assert "wrong number of arguments for 'zrangestore' command" in err(c, "ZRANGESTORE", "dst", "z", "0")


def test_zrangestore_encoding_follows_result(c: redis.Redis) -> None:
    x(c, "ZADD", "z", *[a for i in range(200) for a in (str(i), "m%d" % i)])
    assert x(c, "OBJECT", "ENCODING", "z") == b"skiplist"
    x(c, "ZRANGESTORE", "small", "z", "0", "9")
    assert x(c, "OBJECT", "ENCODING", "small") == b"listpack"
    x(c, "ZRANGESTORE", "big", "z", "0", "150")
    assert x(c, "OBJECT", "ENCODING", "big") == b"skiplist"


# ---------------------------------------------------------------------------
# Removal
# ---------------------------------------------------------------------------


def test_zrem(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert x(c, "ZREM", "z", "a", "nope", "a") == 1
    assert x(c, "ZREM", "nokey", "a") == 0
    assert x(c, "ZREM", "z", "b", "c", "d") == 2
    assert x(c, "EXISTS", "z") == 0
    x(c, "SET", "s", "v")
    assert err(c, "ZREM", "s", "a") == WRONGTYPE
    assert "wrong number of arguments for 'zrem' command" in err(c, "ZREM", "z")


def test_zremrangebyrank_score_lex(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    assert x(c, "ZREMRANGEBYRANK", "z", "0", "0") == 1
    assert x(c, "ZREMRANGEBYRANK", "z", "-1", "-1") == 1
    assert x(c, "ZREMRANGEBYRANK", "z", "5", "10") == 0
    assert x(c, "ZRANGE", "z", "0", "-1") == [b"b", b"c", b"d"]
    assert x(c, "ZREMRANGEBYSCORE", "z", "(2", "3") == 1
    assert x(c, "ZREMRANGEBYSCORE", "z", "-inf", "+inf") == 2
    assert x(c, "EXISTS", "z") == 0
    x(c, "ZADD", "l", "0", "a", "0", "b", "0", "c")
    assert x(c, "ZREMRANGEBYLEX", "l", "(a", "+") == 2
    assert x(c, "ZRANGE", "l", "0", "-1") == [b"a"]
    assert x(c, "ZREMRANGEBYLEX", "nokey", "-", "+") == 0
    assert err(c, "ZREMRANGEBYRANK", "l", "a", "1") == NOT_INT
    assert err(c, "ZREMRANGEBYSCORE", "l", "a", "1") == MINMAX
    assert err(c, "ZREMRANGEBYLEX", "l", "a", "+") == LEXERR
    x(c, "SET", "s", "v")
    assert err(c, "ZREMRANGEBYSCORE", "s", "0", "1") == WRONGTYPE
    assert err(c, "ZREMRANGEBYSCORE", "s", "x", "1") == MINMAX


# ---------------------------------------------------------------------------
# Set operations
# ---------------------------------------------------------------------------


def test_zunion_zinter_zdiff(c: redis.Redis, c3: redis.Redis) -> None:
    x(c, "ZADD", "z1", "1", "a", "2", "b", "3", "c")
    x(c, "ZADD", "z2", "10", "b", "20", "c", "30", "d")
    assert x(c, "ZUNION", "2", "z1", "z2", "WITHSCORES") == [
        b"a", b"1", b"b", b"12", b"c", b"23", b"d", b"30"]
    assert x(c, "ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "3") == [b"a", b"b", b"c", b"d"]
    assert x(c, "ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "3", "WITHSCORES")[:4] == [b"a", b"2", b"b", b"34"]
    assert x(c, "ZUNION", "2", "z1", "z2", "AGGREGATE", "MAX", "WITHSCORES")[2:4] == [b"b", b"10"]
    assert x(c, "ZINTER", "2", "z1", "z2", "AGGREGATE", "min", "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert x(c, "ZINTER", "2", "z1", "z1", "WEIGHTS", "1", "2", "WITHSCORES") == [
        b"a", b"3", b"b", b"6", b"c", b"9"]
    assert x(c, "ZDIFF", "2", "z1", "z2", "WITHSCORES") == [b"a", b"1"]
    assert x(c, "ZDIFF", "2", "z1", "z1") == []
    assert x(c, "ZDIFF", "2", "nokey", "z1") == []
    assert x(c, "ZINTER", "2", "z1", "nokey") == []
    assert x(c, "ZUNION", "1", "nokey") == []
    assert x(c3, "ZUNION", "2", "z1", "z2", "WITHSCORES")[0] == [b"a", 1.0]
    assert x(c, "ZINTERCARD", "2", "z1", "z2") == 2
    assert x(c, "ZINTERCARD", "2", "z1", "z2", "LIMIT", "1") == 1
    assert x(c, "ZINTERCARD", "2", "z1", "z2", "LIMIT", "0") == 2
    assert x(c, "ZINTERCARD", "2", "z1", "nokey") == 0


def test_set_operations_with_plain_sets(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "5", "a", "6", "b")
    x(c, "SADD", "s", "a", "c")
    assert x(c, "ZUNION", "2", "z", "s", "WITHSCORES") == [b"c", b"1", b"a", b"6", b"b", b"6"]
    assert x(c, "ZINTER", "2", "z", "s", "WEIGHTS", "1", "10", "WITHSCORES") == [b"a", b"15"]
    assert x(c, "ZDIFF", "2", "s", "z", "WITHSCORES") == [b"c", b"1"]
    assert x(c, "ZINTERSTORE", "dst", "2", "s", "s") == 2
    assert x(c, "ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"a", b"2", b"c", b"2"]


def test_set_operation_inf_and_nan_rules(c: redis.Redis) -> None:
    x(c, "ZADD", "pinf", "inf", "a")
    x(c, "ZADD", "ninf", "-inf", "a")
    assert x(c, "ZUNION", "2", "pinf", "ninf", "WITHSCORES") == [b"a", b"0"]
    assert x(c, "ZINTER", "2", "pinf", "ninf", "WITHSCORES") == [b"a", b"0"]
    assert x(c, "ZINTER", "2", "pinf", "ninf", "AGGREGATE", "MIN", "WITHSCORES") == [b"a", b"-inf"]
    assert x(c, "ZUNION", "1", "pinf", "WEIGHTS", "0", "WITHSCORES") == [b"a", b"0"]


def test_set_operation_errors(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a")
    for name in ("ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"):
        assert f"at least 1 input key is needed for '{name.lower()}' command" in err(c, name, "0", "z")
        assert err(c, name, "x", "z") == NOT_INT
        assert err(c, name, "2", "z") == SYNTAX
    for name in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"):
        assert f"at least 1 input key is needed for '{name.lower()}' command" in err(c, name, "d", "0", "z")
        assert err(c, name, "d", "1", "z", "WITHSCORES") == SYNTAX
    assert err(c, "ZUNION", "1", "z", "WEIGHTS", "x") == "weight value is not a float"
    assert err(c, "ZUNION", "2", "z", "z", "WEIGHTS", "1") == SYNTAX
    assert err(c, "ZUNION", "1", "z", "AGGREGATE", "AVG") == SYNTAX
    assert err(c, "ZUNION", "1", "z", "AGGREGATE") == SYNTAX
    assert err(c, "ZDIFF", "1", "z", "WEIGHTS", "1") == SYNTAX
    assert err(c, "ZDIFF", "1", "z", "AGGREGATE", "SUM") == SYNTAX
    assert err(c, "ZINTERCARD", "1", "z", "WITHSCORES") == SYNTAX
    assert err(c, "ZINTERCARD", "1", "z", "LIMIT", "-1") == "LIMIT can't be negative"
    assert err(c, "ZINTERCARD", "1", "z", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(c, "ZINTERCARD", "1", "z", "LIMIT") == SYNTAX
    x(c, "SET", "str", "v")
    assert err(c, "ZUNION", "2", "z", "str") == WRONGTYPE
    # Key types are checked before the options.
    assert err(c, "ZUNION", "2", "z", "str", "WEIGHTS", "x", "y") == WRONGTYPE


def test_store_variants(c: redis.Redis) -> None:
    x(c, "ZADD", "z1", "1", "a", "2", "b")
    x(c, "ZADD", "z2", "3", "b")
    assert x(c, "ZUNIONSTORE", "d", "2", "z1", "z2") == 2
    assert x(c, "ZRANGE", "d", "0", "-1", "WITHSCORES") == [b"a", b"1", b"b", b"5"]
    assert x(c, "ZINTERSTORE", "d", "2", "z1", "z2", "WEIGHTS", "1", "-1") == 1
    assert x(c, "ZRANGE", "d", "0", "-1", "WITHSCORES") == [b"b", b"-1"]
    assert x(c, "ZDIFFSTORE", "d", "2", "z1", "z2") == 1
    assert x(c, "ZRANGE", "d", "0", "-1") == [b"a"]
    assert x(c, "ZDIFFSTORE", "d", "2", "z1", "z1") == 0
    assert x(c, "EXISTS", "d") == 0
    # The destination may be one of the inputs.
    assert x(c, "ZUNIONSTORE", "z1", "2", "z1", "z2") == 2
    assert x(c, "ZSCORE", "z1", "b") == b"5"
    x(c, "SET", "str", "v")
    assert x(c, "ZUNIONSTORE", "str", "1", "z2") == 1
    assert x(c, "TYPE", "str") == b"zset"


def test_store_result_encoding(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "zset-max-listpack-entries", "0")
    x(c, "ZADD", "z", "1", "a")
    assert x(c, "OBJECT", "ENCODING", "z") == b"skiplist"
    x(c, "CONFIG", "SET", "zset-max-listpack-entries", "128")
    x(c, "ZUNIONSTORE", "d", "1", "z")
    assert x(c, "OBJECT", "ENCODING", "d") == b"listpack"
    x(c, "ZADD", "long", "1", "x" * 65)
    x(c, "ZUNIONSTORE", "d", "2", "z", "long")
    assert x(c, "OBJECT", "ENCODING", "d") == b"skiplist"


# ---------------------------------------------------------------------------
# Pops and random members
# ---------------------------------------------------------------------------


def test_zpopmin_zpopmax(c: redis.Redis, c3: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert x(c, "ZPOPMIN", "z") == [b"a", b"1"]
    assert x(c, "ZPOPMAX", "z", "5") == [b"c", b"3", b"b", b"2"]
    assert x(c, "EXISTS", "z") == 0
    assert x(c, "ZPOPMIN", "z") == []
    assert x(c, "ZPOPMIN", "z", "0") == []
    x(c, "ZADD", "z", "1", "a")
    assert x(c, "ZPOPMIN", "z", "0") == []
    assert err(c, "ZPOPMIN", "z", "-1") == "value is out of range, must be positive"
    assert err(c, "ZPOPMIN", "z", "x") == "value is out of range, must be positive"
    assert err(c, "ZPOPMIN", "z", "1", "2") == SYNTAX
    x(c3, "ZADD", "r", "1", "a", "2", "b")
    assert x(c3, "ZPOPMIN", "r") == [b"a", 1.0]
    assert x(c3, "ZPOPMAX", "r", "1") == [[b"b", 2.0]]
    x(c, "SET", "s", "v")
    assert err(c, "ZPOPMIN", "s") == WRONGTYPE
    assert err(c, "ZPOPMAX", "s", "0") == WRONGTYPE


def test_zmpop(c: redis.Redis, c3: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert x(c, "ZMPOP", "2", "nokey", "z", "MIN") == [b"z", [[b"a", b"1"]]]
    assert x(c, "ZMPOP", "1", "z", "max", "COUNT", "10") == [b"z", [[b"c", b"3"], [b"b", b"2"]]]
    assert x(c, "ZMPOP", "1", "z", "MIN") is None
    assert x(c3, "ZMPOP", "1", "z", "MIN") is None
    x(c3, "ZADD", "z", "1", "a")
    assert x(c3, "ZMPOP", "1", "z", "MIN") == [b"z", [[b"a", 1.0]]]
    assert err(c, "ZMPOP", "0", "z", "MIN") == "numkeys should be greater than 0"
    assert err(c, "ZMPOP", "x", "z", "MIN") == "numkeys should be greater than 0"
    assert err(c, "ZMPOP", "1", "z", "MIN", "COUNT", "0") == "count should be greater than 0"
    assert err(c, "ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2") == SYNTAX
    assert err(c, "ZMPOP", "1", "z", "MIN", "COUNT") == SYNTAX
    assert err(c, "ZMPOP", "1", "z", "LEFT") == SYNTAX
    assert err(c, "ZMPOP", "2", "z", "MIN") == SYNTAX
    x(c, "SET", "s", "v")
    assert err(c, "ZMPOP", "1", "s", "MIN") == WRONGTYPE


def test_zmpop_null_raw(kaa_proc: ServerProcess) -> None:
    assert raw(kaa_proc.port, cmd("ZMPOP", "1", "nokey", "MIN")) == [b"*-1\r\n"]
    assert raw(kaa_proc.port, cmd("HELLO", "3"), cmd("ZMPOP", "1", "nokey", "MIN"))[1] == b"_\r\n"


def test_zrandmember(c: redis.Redis, c3: redis.Redis) -> None:
    assert x(c, "ZRANDMEMBER", "nokey") is None
    assert x(c, "ZRANDMEMBER", "nokey", "5") == []
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert x(c, "ZRANDMEMBER", "z") in (b"a", b"b", b"c")
    assert x(c, "ZRANDMEMBER", "z", "0") == []
    # The whole set, highest score first (Valkey's set iterator order).
    assert x(c, "ZRANDMEMBER", "z", "10", "WITHSCORES") == [b"c", b"3", b"b", b"2", b"a", b"1"]
    two = x(c, "ZRANDMEMBER", "z", "2")
    assert len(two) == 2 and len(set(two)) == 2
    many = x(c, "ZRANDMEMBER", "z", "-20", "WITHSCORES")
    assert len(many) == 40
    assert all({b"a": b"1", b"b": b"2", b"c": b"3"}[m] == s for m, s in zip(many[::2], many[1::2], strict=True))
    r3 = x(c3, "ZRANDMEMBER", "z", "-3", "WITHSCORES")
    assert len(r3) == 3 and all(isinstance(p, list) and isinstance(p[1], float) for p in r3)
    assert err(c, "ZRANDMEMBER", "z", "x") == NOT_INT
    assert err(c, "ZRANDMEMBER", "z", "1", "WITHSCORE") == SYNTAX
    assert err(c, "ZRANDMEMBER", "z", "1", "WITHSCORES", "x") == SYNTAX
    assert "value is out of range" in err(c, "ZRANDMEMBER", "z", "-9223372036854775808")
    assert "value is out of range" in err(c, "ZRANDMEMBER", "z", "-9223372036854770000", "WITHSCORES")
    assert err(c, "ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES") == "value is out of range"
    x(c, "SET", "s", "v")
    assert err(c, "ZRANDMEMBER", "s") == WRONGTYPE


def test_zrandmember_distribution_unique(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "zset-max-listpack-entries", "0")
    x(c, "ZADD", "z", *[a for i in range(50) for a in (str(i), "m%d" % i)])
    seen: set[bytes] = set()
    for _ in range(40):
        got = x(c, "ZRANDMEMBER", "z", "10")
        assert len(set(got)) == 10
        seen.update(got)
    assert len(seen) > 40


# ---------------------------------------------------------------------------
# ZSCAN
# ---------------------------------------------------------------------------


def test_zscan_listpack(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2.5", "b", "3", "ab")
    assert x(c, "ZSCAN", "z", "0") == [b"0", [b"a", b"1", b"b", b"2.5", b"ab", b"3"]]
    assert x(c, "ZSCAN", "z", "0", "NOSCORES") == [b"0", [b"a", b"b", b"ab"]]
    assert x(c, "ZSCAN", "z", "0", "MATCH", "a*") == [b"0", [b"a", b"1", b"ab", b"3"]]
    assert x(c, "ZSCAN", "z", "0", "COUNT", "1") == [b"0", [b"a", b"1", b"b", b"2.5", b"ab", b"3"]]
    assert x(c, "ZSCAN", "nokey", "0") == [b"0", []]
    x(c, "ZADD", "f", "1e-7", "x", "0.1", "y", "4611686018427387904", "z")
    assert x(c, "ZSCAN", "f", "0") == [b"0", [b"x", b"1e-7", b"y", b"0.1", b"z", b"4611686018427387904"]]


def test_zscan_skiplist_iterates_everything(c: redis.Redis) -> None:
    x(c, "ZADD", "z", *[a for i in range(300) for a in (str(i) + ".5", "m%d" % i)])
    cursor = b"0"
    got: dict[bytes, bytes] = {}
    calls = 0
    while True:
        cursor, items = x(c, "ZSCAN", "z", cursor, "COUNT", "20")
        calls += 1
        got.update(zip(items[::2], items[1::2], strict=True))
        if cursor == b"0":
            break
    assert calls > 5
    assert len(got) == 300
    assert got[b"m7"] == b"7.5"
    x(c, "ZADD", "w", "1.1", "x", *[a for i in range(200) for a in (str(i), "n%d" % i)])
    cursor = b"0"
    while True:
        cursor, items = x(c, "ZSCAN", "w", cursor, "MATCH", "x")
        if items:
            assert items == [b"x", b"1.1000000000000001"]  # %.17g on a skiplist set
        if cursor == b"0":
            break


def test_zscan_errors(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a")
    assert err(c, "ZSCAN", "z", "x") == "invalid cursor"
    assert err(c, "ZSCAN", "z", "-1") == "invalid cursor"
    assert err(c, "ZSCAN", "z", "0", "COUNT", "0") == SYNTAX
    assert err(c, "ZSCAN", "z", "0", "COUNT", "x") == NOT_INT
    assert err(c, "ZSCAN", "z", "0", "COUNT") == SYNTAX
    assert err(c, "ZSCAN", "z", "0", "TYPE", "zset") == SYNTAX
    assert err(c, "ZSCAN", "z", "0", "NOVALUES") == "NOVALUES option can only be used in HSCAN"
    x(c, "SET", "s", "v")
    assert err(c, "ZSCAN", "s", "0") == WRONGTYPE
    assert err(c, "ZSCAN", "s", "x") == "invalid cursor"


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


def test_encoding_conversion_is_one_way(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "zset-max-listpack-entries", "4")
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert x(c, "OBJECT", "ENCODING", "z") == b"listpack"
    x(c, "ZADD", "z", "5", "e")
    assert x(c, "OBJECT", "ENCODING", "z") == b"skiplist"
    x(c, "ZREM", "z", "a", "b", "c")
    assert x(c, "OBJECT", "ENCODING", "z") == b"skiplist"
    x(c, "ZADD", "v", "1", "x" * 64)
    assert x(c, "OBJECT", "ENCODING", "v") == b"listpack"
    x(c, "ZADD", "v", "1", "y" * 65)
    assert x(c, "OBJECT", "ENCODING", "v") == b"skiplist"
    # The number of pairs in one ZADD counts, even when they repeat a member.
    x(c, "ZADD", "w", "1", "a", "2", "a", "3", "a", "4", "a", "5", "a")
    assert x(c, "OBJECT", "ENCODING", "w") == b"skiplist"
    assert x(c, "ZCARD", "w") == 1


def test_negative_zero_depends_on_encoding(c: redis.Redis) -> None:
    x(c, "ZADD", "lp", "-0", "a")
    assert x(c, "ZSCORE", "lp", "a") == b"0"
    x(c, "CONFIG", "SET", "zset-max-listpack-entries", "0")
    x(c, "ZADD", "sl", "-0", "a")
    assert x(c, "ZSCORE", "sl", "a") == b"-0"


def test_sort_converts_listpack_to_skiplist(c: redis.Redis) -> None:
    x(c, "ZADD", "z", "3", "c", "1", "a")
    assert x(c, "SORT", "z", "ALPHA") == [b"a", b"c"]
    assert x(c, "OBJECT", "ENCODING", "z") == b"skiplist"


# ---------------------------------------------------------------------------
# Blocking pops
# ---------------------------------------------------------------------------


def test_bzpop_serves_at_once(c: redis.Redis, c3: redis.Redis) -> None:
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert x(c, "BZPOPMIN", "nokey", "z", "0") == [b"z", b"a", b"1"]
    assert x(c, "BZPOPMAX", "z", "0") == [b"z", b"c", b"3"]
    assert x(c, "BZMPOP", "0", "2", "nokey", "z", "MIN", "COUNT", "5") == [b"z", [[b"b", b"2"]]]
    x(c3, "ZADD", "z", "1", "a")
    assert x(c3, "BZPOPMIN", "z", "0") == [b"z", b"a", 1.0]


def test_bzpop_timeout_replies(c: redis.Redis, c3: redis.Redis, kaa_proc: ServerProcess) -> None:
    assert x(c, "BZPOPMIN", "nokey", "0.01") is None
    assert x(c, "BZMPOP", "0.01", "1", "nokey", "MAX") is None
    assert raw(kaa_proc.port, cmd("BZPOPMIN", "nokey", "0.01")) == [b"*-1\r\n"]
    assert raw(kaa_proc.port, cmd("HELLO", "3"), cmd("BZPOPMAX", "nokey", "0.01"))[1] == b"_\r\n"


def test_bzpop_errors(c: redis.Redis) -> None:
    x(c, "SET", "s", "v")
    assert err(c, "BZPOPMIN", "s", "0") == WRONGTYPE
    assert err(c, "BZPOPMIN", "z", "x") == "timeout is not a float or out of range"
    assert err(c, "BZPOPMIN", "z", "-1") == "timeout is negative"
    assert err(c, "BZMPOP", "0", "0", "z", "MIN") == "numkeys should be greater than 0"
    assert err(c, "BZMPOP", "0", "1", "z", "FOO") == SYNTAX
    assert err(c, "BZMPOP", "x", "1", "z", "MIN") == "timeout is not a float or out of range"
    assert err(c, "BZMPOP", "0", "1", "s", "MIN") == WRONGTYPE


def test_bzpopmin_wakes_on_zadd(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    t, result = _blocked_call(kaa_proc, c, "BZPOPMIN", "zw", "5")
    x(c, "ZADD", "zw", "2", "b", "1", "a")
    t.join(5)
    assert result == [[b"zw", b"a", b"1"]]
    assert x(c, "ZRANGE", "zw", "0", "-1") == [b"b"]


def _blocked_call(kaa_proc: ServerProcess, c: redis.Redis, *args: Any) -> tuple[threading.Thread, list[Any]]:
    """Run a blocking command on its own connection; return once the server counts it blocked."""
    waiter = _client(kaa_proc.port, 2)
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(x(waiter, *args))
        except redis.ResponseError as e:
            result.append(e)
        finally:
            waiter.close()

    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 5
    while time.time() < deadline and b"blocked_clients:1" not in x(c, "INFO", "clients"):
        time.sleep(0.01)
    return t, result


def test_bzmpop_wakes_with_count(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    t, result = _blocked_call(kaa_proc, c, "BZMPOP", "5", "2", "k1", "k2", "MAX", "COUNT", "2")
    x(c, "ZADD", "k2", "1", "a", "2", "b", "3", "c")
    t.join(5)
    assert result == [[b"k2", [[b"c", b"3"], [b"b", b"2"]]]]


def test_bzmpop_rerun_sees_wrong_type(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    """A write of another type does not wake the client; when another key wakes it, the
    command runs again and meets the wrong type first, as in Valkey 8."""
    t, result = _blocked_call(kaa_proc, c, "BZMPOP", "5", "2", "k1", "k2", "MAX")
    x(c, "SET", "k1", "not a zset")
    time.sleep(0.05)
    assert b"blocked_clients:1" in x(c, "INFO", "clients")
    x(c, "ZADD", "k2", "1", "a")
    t.join(5)
    assert len(result) == 1 and str(result[0]) == WRONGTYPE
    assert x(c, "ZCARD", "k2") == 1


@pytest.mark.parametrize("args,message", [
    (("ZADD", "z", "NX", "XX", "1", "a"), "XX and NX options at the same time are not compatible"),
    (("ZADD", "z", "x", "a"), NOT_FLOAT),
    (("ZRANGEBYSCORE", "z", "x", "1"), MINMAX),
    (("ZRANGEBYLEX", "z", "x", "+"), LEXERR),
    (("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"),
     "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
    (("ZUNION", "0", "z"), "at least 1 input key is needed for 'zunion' command"),
    (("ZPOPMIN", "z", "-1"), "value is out of range, must be positive"),
    (("ZMPOP", "0", "z", "MIN"), "numkeys should be greater than 0"),
    (("ZSCAN", "z", "x"), "invalid cursor"),
    (("ZRANDMEMBER", "z", "-9223372036854775808"),
     "value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    (("BZPOPMIN", "z", "x"), "timeout is not a float or out of range"),
])
def test_errors_are_the_same_in_resp3(c: redis.Redis, c3: redis.Redis, args: tuple[str, ...],
                                      message: str) -> None:
    assert err(c, *args) == message
    assert err(c3, *args) == message


# ---------------------------------------------------------------------------
# Command table facts
# ---------------------------------------------------------------------------


def test_command_getkeys(c: redis.Redis) -> None:
    assert x(c, "COMMAND", "GETKEYS", "ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2") == [
        b"dst", b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "ZINTER", "2", "a", "b") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "BZMPOP", "0", "2", "a", "b", "MIN") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "BZPOPMIN", "a", "b", "0") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "ZRANGESTORE", "d", "s", "0", "1") == [b"d", b"s"]
    assert x(c, "COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "1", "STORE", "d") == [b"k", b"d"]


def test_command_info_flags(c: redis.Redis) -> None:
    info = x(c, "COMMAND", "INFO", "zadd", "zunionstore", "zunion", "bzpopmin", "sort_ro")
    zadd_, zus, zu, bzp, sro = info
    assert zadd_[1] == -4 and set(zadd_[2]) >= {b"write", b"denyoom", b"fast"}
    assert zadd_[3:6] == [1, 1, 1]
    assert b"movablekeys" in zus[2] and zus[3:6] == [1, 1, 1]
    assert b"movablekeys" in zu[2] and zu[3:6] == [0, 0, 0]
    assert set(bzp[2]) >= {b"write", b"fast", b"blocking"} and bzp[3:6] == [1, -2, 1]
    assert b"readonly" in sro[2]


# ---------------------------------------------------------------------------
# Keyspace events, dirty and propagation (in-process server with tapped hooks)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, Tap]]:
    with tapped_server(enable_debug_command="yes") as et:
        yield et


@pytest.fixture()
def ec(embedded: tuple[EmbeddedServer, Tap]) -> Iterator[tuple[redis.Redis, Tap]]:
    e, tap = embedded
    client = _client(e.port, 2)
    for db in tap.srv.keyspace.dbs:
        db.flush()
    tap.clear()
    yield client, tap
    client.close()


def _dirty(tap: Tap) -> int:
    return int(tap.srv.keyspace.dirty)


def test_events_for_writes(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    x(c, "ZADD", "z", "1", "a")  # no change: no event
    x(c, "ZINCRBY", "z", "1", "a")
    x(c, "ZREM", "z", "a", "zz")
    x(c, "ZREMRANGEBYSCORE", "z", "100", "200")  # nothing removed: no event
    x(c, "ZREMRANGEBYSCORE", "z", "2", "2")
    x(c, "ZREMRANGEBYRANK", "z", "0", "0")
    x(c, "ZADD", "z", "4", "x")
    x(c, "ZREMRANGEBYLEX", "z", "[x", "[x")
    x(c, "ZPOPMAX", "z")
    assert tap.events == [
        ("zadd", b"z"), ("zincr", b"z"), ("zrem", b"z"), ("zremrangebyscore", b"z"),
        ("zremrangebyrank", b"z"), ("zadd", b"z"), ("zremrangebylex", b"z"),
        ("zpopmax", b"z"), ("del", b"z"),
    ]


def test_events_for_stores_and_pops(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "ZADD", "a", "1", "x", "2", "y")
    tap.clear()
    x(c, "ZUNIONSTORE", "u", "1", "a")
    x(c, "ZINTERSTORE", "i", "1", "a")
    x(c, "ZDIFFSTORE", "d", "1", "a")
    x(c, "ZRANGESTORE", "r", "a", "0", "0")
    x(c, "ZRANGESTORE", "r", "a", "5", "6")  # empty: deletes
    x(c, "ZDIFFSTORE", "d", "2", "a", "a")
    x(c, "ZMPOP", "1", "a", "MIN", "COUNT", "5")
    assert tap.events == [
        ("zunionstore", b"u"), ("zinterstore", b"i"), ("zdiffstore", b"d"), ("zrangestore", b"r"),
        ("del", b"r"), ("del", b"d"), ("zpopmin", b"a"), ("del", b"a"),
    ]


def test_dirty_counts(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    d0 = _dirty(tap)
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert _dirty(tap) - d0 == 3
    d0 = _dirty(tap)
    x(c, "ZADD", "z", "CH", "1", "a", "5", "b", "6", "new")
    assert _dirty(tap) - d0 == 2
    d0 = _dirty(tap)
    x(c, "ZREM", "z", "a", "b", "nope")
    assert _dirty(tap) - d0 == 2
    d0 = _dirty(tap)
    x(c, "ZPOPMIN", "z", "5")
    assert _dirty(tap) - d0 == 2
    d0 = _dirty(tap)
    x(c, "ZUNIONSTORE", "d", "1", "nokey")
    assert _dirty(tap) - d0 == 0


def test_propagation_of_pops(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    tap.clear()
    x(c, "ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2")
    x(c, "BZPOPMIN", "z", "0")
    x(c, "BZMPOP", "0", "1", "z", "MIN", "COUNT", "10")
    x(c, "ZMPOP", "1", "z", "MIN")  # nothing left: nothing propagated
    assert tap.props == [
        [b"ZPOPMAX", b"z", b"2"], [b"ZPOPMIN", b"z"], [b"ZPOPMIN", b"z", b"2"],
    ]
