"""List commands (LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM
LTRIM LPOS LMOVE RPOPLPUSH LMPOP, and the non-blocking paths of BLPOP BRPOP BLMOVE
BRPOPLPUSH BLMPOP) against a running kaa-server, with Valkey 8's replies and error texts,
in RESP2 and RESP3; OBJECT ENCODING transitions; COMMAND INFO declarations; propagation
and keyspace events on an in-process server; and the ListValue bookkeeping itself.

Clients have redis-py's response callbacks removed so assertions see replies as sent.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis
from tests.support.commands import err, x
from tests.support.commands import raw_client as _client
from tests.support.servers import ServerProcess
from tests.support.tap import Tap, tapped_server

from kaa.embedded import EmbeddedServer
from kaa.types.list import ListValue, entry_size

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"
POSITIVE = "value is out of range, must be positive"
RANGE_LONG = "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
RANK_ZERO = (
    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)




@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port, 2)
    client.execute_command("FLUSHALL")
    client.execute_command("CONFIG", "SET", "list-max-listpack-size", "-2")
    yield client
    client.execute_command("CONFIG", "SET", "list-max-listpack-size", "-2")
    client.close()


@pytest.fixture()
def c3(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port, 3)
    client.execute_command("FLUSHALL")
    yield client
    client.close()






def raw(port: int, payload: bytes, resp3: bool = False) -> bytes:
    """Send commands as RESP (after HELLO 3 if asked) and return the raw reply bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        if resp3:
            s.sendall(b"HELLO 3\r\n")
            _read_some(s)
        s.sendall(payload + b"PING\r\n")
        buf = b""
        while not buf.endswith(b"+PONG\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf[: -len(b"+PONG\r\n")]


def _read_some(s: socket.socket) -> bytes:
    s.settimeout(5)
    data = s.recv(65536)
    return data


# ---- pushes and pops ------------------------------------------------------------------------
def test_push_and_range(c: redis.Redis) -> None:
    assert x(c, "LPUSH", "l", "a", "b", "c") == 3
    assert x(c, "RPUSH", "l", "0", "1") == 5
    assert x(c, "LRANGE", "l", "0", "-1") == [b"c", b"b", b"a", b"0", b"1"]
    assert x(c, "LLEN", "l") == 5
    assert x(c, "TYPE", "l") == b"list"


def test_pushx(c: redis.Redis) -> None:
    assert x(c, "LPUSHX", "l", "a") == 0
    assert x(c, "RPUSHX", "l", "a", "b") == 0
    assert x(c, "EXISTS", "l") == 0
    x(c, "RPUSH", "l", "m")
    assert x(c, "LPUSHX", "l", "y3", "y2", "y1") == 4
    assert x(c, "RPUSHX", "l", "z1", "z2") == 6
    assert x(c, "LRANGE", "l", "0", "-1") == [b"y1", b"y2", b"y3", b"m", b"z1", b"z2"]


def test_push_wrongtype_and_arity(c: redis.Redis) -> None:
    x(c, "SET", "s", "v")
    for cmd in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        assert err(c, cmd, "s", "x") == WRONGTYPE
        assert err(c, cmd, "s") == f"wrong number of arguments for '{cmd.lower()}' command"


def test_pop_single_and_count(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a", "b", "c", "d", "e", "f", "g")
    assert x(c, "LPOP", "l") == b"a"
    assert x(c, "RPOP", "l") == b"g"
    assert x(c, "LPOP", "l", "2") == [b"b", b"c"]
    assert x(c, "RPOP", "l", "2") == [b"f", b"e"]
    assert x(c, "LPOP", "l", "0") == []
    assert x(c, "RPOP", "l", "100") == [b"d"]
    assert x(c, "EXISTS", "l") == 0


def test_pop_errors(c: redis.Redis) -> None:
    assert err(c, "LPOP", "l", "-1") == POSITIVE
    assert err(c, "RPOP", "l", "x") == POSITIVE
    assert err(c, "LPOP", "l", "1", "1") == "wrong number of arguments for 'lpop' command"
    assert err(c, "RPOP", "l", "1", "1") == "wrong number of arguments for 'rpop' command"
    x(c, "SET", "s", "v")
    assert err(c, "LPOP", "s") == WRONGTYPE
    assert err(c, "RPOP", "s", "1") == WRONGTYPE


def test_pop_nulls_resp2(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    out = raw(kaa_proc.port, b"LPOP nokey\r\nRPOP nokey\r\nLPOP nokey 0\r\nRPOP nokey 3\r\n"
              b"LPOP l 0\r\nRPOP l 0\r\n")
    assert out == b"$-1\r\n$-1\r\n*-1\r\n*-1\r\n*0\r\n*0\r\n"


def test_pop_nulls_resp3(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    out = raw(kaa_proc.port, b"LPOP nokey\r\nRPOP nokey 1\r\nLPOP l 0\r\nLINDEX l 5\r\n"
              b"LPOS l zz\r\nLMOVE nokey d left left\r\nLMPOP 1 nokey left\r\n", resp3=True)
    assert out == b"_\r\n_\r\n*0\r\n_\r\n_\r\n_\r\n_\r\n"


def test_other_nulls_resp2(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    out = raw(kaa_proc.port, b"LINDEX l 5\r\nLINDEX nokey 0\r\nLPOS l zz\r\nLPOS l zz COUNT 0\r\n"
              b"LMOVE nokey d left left\r\nRPOPLPUSH nokey d\r\nLMPOP 1 nokey left\r\n"
              b"LRANGE nokey 0 -1\r\n")
    assert out == b"$-1\r\n$-1\r\n$-1\r\n*0\r\n$-1\r\n$-1\r\n*-1\r\n*0\r\n"


def test_resp3_replies(c3: redis.Redis) -> None:
    x(c3, "RPUSH", "l", "a", "b", "c")
    assert x(c3, "LPOP", "l", "2") == [b"a", b"b"]
    assert x(c3, "LMPOP", "1", "l", "RIGHT") == [b"l", [b"c"]]
    assert x(c3, "LPOP", "l") is None


# ---- reads ------------------------------------------------------------------------------------
def test_llen_lindex(c: redis.Redis) -> None:
    assert x(c, "LLEN", "nokey") == 0
    x(c, "RPUSH", "l", "a", "b", "c")
    assert [x(c, "LINDEX", "l", str(i)) for i in (0, 1, 2, 3, -1, -3, -4)] == [
        b"a", b"b", b"c", None, b"c", b"a", None]
    assert err(c, "LINDEX", "l", "x") == NOT_INT
    # The key is looked up before the index is parsed.
    assert x(c, "LINDEX", "nokey", "x") is None
    x(c, "SET", "s", "v")
    assert err(c, "LLEN", "s") == WRONGTYPE
    assert err(c, "LINDEX", "s", "0") == WRONGTYPE


def test_lrange_indexes(c: redis.Redis) -> None:
    items = [str(i).encode() for i in range(10)]
    x(c, "RPUSH", "l", *items)
    cases = [(1, -2), (-3, -1), (4, 4), (6, 2), (-1000, 1000), (0, -11), (0, -10), (-1, -2),
             (9, 100), (10, 20), (-5, 7), (0, 0)]
    for start, end in cases:
        s = start if start >= 0 else max(0, 10 + start)
        e = end if end >= 0 else 10 + end
        assert x(c, "LRANGE", "l", str(start), str(end)) == items[s : e + 1], (start, end)
    assert err(c, "LRANGE", "l", "0", "x") == NOT_INT
    assert err(c, "LRANGE", "nokey", "a", "1") == NOT_INT
    x(c, "SET", "s", "v")
    assert err(c, "LRANGE", "s", "0", "1") == WRONGTYPE


def test_lrange_tail_half_of_a_long_list(c: redis.Redis) -> None:
    items = [str(i).encode() for i in range(2000)]
    x(c, "RPUSH", "l", *items)
    assert x(c, "LRANGE", "l", "1990", "1995") == items[1990:1996]
    assert x(c, "LRANGE", "l", "-3", "-1") == items[-3:]
    assert x(c, "LRANGE", "l", "5", "7") == items[5:8]


def test_lpos(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert x(c, "LPOS", "l", "a") == 0
    assert x(c, "LPOS", "l", "c") == 2
    assert x(c, "LPOS", "l", "c", "RANK", "2") == 6
    assert x(c, "LPOS", "l", "c", "RANK", "4") is None
    assert x(c, "LPOS", "l", "c", "RANK", "-1") == 7
    assert x(c, "LPOS", "l", "c", "RANK", "-2") == 6
    assert x(c, "LPOS", "l", "c", "COUNT", "0") == [2, 6, 7]
    assert x(c, "LPOS", "l", "c", "COUNT", "2") == [2, 6]
    assert x(c, "LPOS", "l", "c", "COUNT", "0", "RANK", "2") == [6, 7]
    assert x(c, "LPOS", "l", "c", "COUNT", "2", "RANK", "-1") == [7, 6]
    assert x(c, "LPOS", "l", "a", "COUNT", "0", "MAXLEN", "1") == [0]
    assert x(c, "LPOS", "l", "c", "COUNT", "0", "MAXLEN", "1") == []
    assert x(c, "LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3", "RANK", "-1") == [7, 6]
    assert x(c, "LPOS", "l", "c", "count", "0", "maxlen", "7", "rank", "2") == [6]
    assert x(c, "LPOS", "l", "x", "COUNT", "2", "RANK", "-1") == []
    assert x(c, "LPOS", "nokey", "c", "COUNT", "0") == []
    assert x(c, "LPOS", "nokey", "c") is None


def test_lpos_errors(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a")
    assert err(c, "LPOS", "l", "a", "RANK", "0") == RANK_ZERO
    assert err(c, "LPOS", "l", "a", "RANK", "-9223372036854775808") == RANGE_LONG
    assert err(c, "LPOS", "l", "a", "RANK", "x") == NOT_INT
    assert err(c, "LPOS", "l", "a", "COUNT", "-1") == "COUNT can't be negative"
    assert err(c, "LPOS", "l", "a", "COUNT", "x") == "COUNT can't be negative"
    assert err(c, "LPOS", "l", "a", "MAXLEN", "-1") == "MAXLEN can't be negative"
    assert err(c, "LPOS", "l", "a", "COUNT") == SYNTAX
    assert err(c, "LPOS", "l", "a", "FOO", "1") == SYNTAX
    # Options are parsed before the key is looked up.
    assert err(c, "LPOS", "nokey", "a", "RANK", "0") == RANK_ZERO
    x(c, "SET", "s", "v")
    assert err(c, "LPOS", "s", "a") == WRONGTYPE


# ---- in-place edits ------------------------------------------------------------------------------
def test_lset(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "99", "98", "97", "96", "95")
    assert x(c, "LSET", "l", "1", "foo") == b"OK"
    assert x(c, "LSET", "l", "-1", "bar") == b"OK"
    assert x(c, "LRANGE", "l", "0", "-1") == [b"99", b"foo", b"97", b"96", b"bar"]
    assert err(c, "LSET", "l", "10", "x") == "index out of range"
    assert err(c, "LSET", "l", "-6", "x") == "index out of range"
    assert err(c, "LSET", "l", "x", "x") == NOT_INT
    assert err(c, "LSET", "nokey", "0", "x") == "no such key"
    assert err(c, "LSET", "nokey", "x", "x") == "no such key"
    x(c, "SET", "s", "v")
    assert err(c, "LSET", "s", "0", "x") == WRONGTYPE


def test_linsert(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a", "b", "c", "d")
    assert x(c, "LINSERT", "l", "before", "c", "zz") == 5
    assert x(c, "LINSERT", "l", "AFTER", "c", "yy") == 6
    assert x(c, "LINSERT", "l", "after", "d", "dd") == 7
    assert x(c, "LINSERT", "l", "before", "a", "aa") == 8
    assert x(c, "LINSERT", "l", "after", "bad", "x") == -1
    assert x(c, "LRANGE", "l", "0", "-1") == [b"aa", b"a", b"b", b"zz", b"c", b"yy", b"d", b"dd"]
    x(c, "RPUSH", "dup", "p", "p")
    assert x(c, "LINSERT", "dup", "after", "p", "q") == 3
    assert x(c, "LRANGE", "dup", "0", "-1") == [b"p", b"q", b"p"]
    assert x(c, "LINSERT", "nokey", "before", "a", "b") == 0
    assert err(c, "LINSERT", "l", "aft3r", "a", "b") == SYNTAX
    assert err(c, "LINSERT", "nokey", "aft3r", "a", "b") == SYNTAX
    x(c, "SET", "s", "v")
    assert err(c, "LINSERT", "s", "after", "a", "b") == WRONGTYPE


def test_lrem(c: redis.Redis) -> None:
    items = ["x", "foo", "bar", "foobar", "foobared", "zap", "bar", "test", "foo"]
    x(c, "RPUSH", "l", *items)
    assert x(c, "LREM", "l", "0", "bar") == 2
    assert x(c, "LREM", "l", "1", "foo") == 1
    assert x(c, "LREM", "l", "1", "nosuch") == 0
    assert x(c, "LRANGE", "l", "0", "-1") == [b"x", b"foobar", b"foobared", b"zap", b"test", b"foo"]
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "foo", "bar", "foo", "bar", "foo")
    assert x(c, "LREM", "l", "-2", "foo") == 2
    assert x(c, "LRANGE", "l", "0", "-1") == [b"foo", b"bar", b"bar"]
    assert x(c, "LREM", "l", "0", "foo") == 1
    assert x(c, "LREM", "l", "-5", "bar") == 2
    assert x(c, "EXISTS", "l") == 0
    assert x(c, "LREM", "nokey", "0", "a") == 0
    assert err(c, "LREM", "l", "x", "a") == NOT_INT
    assert err(c, "LREM", "l", "-9223372036854775808", "a") == RANGE_LONG
    x(c, "SET", "s", "v")
    assert err(c, "LREM", "s", "0", "a") == WRONGTYPE


def test_ltrim(c: redis.Redis) -> None:
    items = [b"1", b"2", b"3", b"4", b"5"]
    cases = [(0, 0), (0, 1), (1, 2), (1, -1), (1, -2), (-2, -1), (-1, -1), (-5, -1), (-10, 10),
             (0, 5), (0, -5), (0, -6), (3, 1), (5, 10)]
    for start, end in cases:
        x(c, "DEL", "l")
        x(c, "RPUSH", "l", *items)
        assert x(c, "LTRIM", "l", str(start), str(end)) == b"OK"
        s = start if start >= 0 else max(0, 5 + start)
        e = end if end >= 0 else 5 + end
        assert x(c, "LRANGE", "l", "0", "-1") == items[s : e + 1], (start, end)
        assert x(c, "EXISTS", "l") == (1 if items[s : e + 1] else 0)
    assert x(c, "LTRIM", "nokey", "0", "1") == b"OK"
    assert err(c, "LTRIM", "l", "x", "1") == NOT_INT
    x(c, "SET", "s", "v")
    assert err(c, "LTRIM", "s", "0", "1") == WRONGTYPE


def test_ltrim_large(c: redis.Redis) -> None:
    items = [str(i).encode() for i in range(1000)]
    x(c, "RPUSH", "l", *items)
    x(c, "LTRIM", "l", "10", "-11")
    assert x(c, "LRANGE", "l", "0", "-1") == items[10:-10]
    x(c, "LTRIM", "l", "400", "402")
    assert x(c, "LRANGE", "l", "0", "-1") == items[410:413]


# ---- moves ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("src_side,dst_side", [("LEFT", "LEFT"), ("LEFT", "RIGHT"),
                                                ("RIGHT", "LEFT"), ("right", "right")])
def test_lmove(c: redis.Redis, src_side: str, dst_side: str) -> None:
    x(c, "RPUSH", "src", "a", "b", "c")
    x(c, "RPUSH", "dst", "z")
    moved = x(c, "LMOVE", "src", "dst", src_side, dst_side)
    assert moved == (b"a" if src_side.upper() == "LEFT" else b"c")
    expect = [moved, b"z"] if dst_side.upper() == "LEFT" else [b"z", moved]
    assert x(c, "LRANGE", "dst", "0", "-1") == expect


def test_lmove_same_key_and_creation(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "a", "b", "c")
    assert x(c, "RPOPLPUSH", "l", "l") == b"c"
    assert x(c, "LRANGE", "l", "0", "-1") == [b"c", b"a", b"b"]
    assert x(c, "LMOVE", "l", "l", "LEFT", "RIGHT") == b"c"
    assert x(c, "LRANGE", "l", "0", "-1") == [b"a", b"b", b"c"]
    x(c, "DEL", "l")
    x(c, "RPUSH", "one", "x")
    assert x(c, "LMOVE", "one", "one", "LEFT", "LEFT") == b"x"
    assert x(c, "LRANGE", "one", "0", "-1") == [b"x"]
    assert x(c, "RPOPLPUSH", "one", "new") == b"x"
    assert x(c, "EXISTS", "one") == 0
    assert x(c, "LRANGE", "new", "0", "-1") == [b"x"]


def test_lmove_errors(c: redis.Redis) -> None:
    assert x(c, "RPOPLPUSH", "nokey", "dst") is None
    assert x(c, "EXISTS", "dst") == 0
    x(c, "SET", "s", "v")
    x(c, "RPUSH", "l", "a", "b")
    assert err(c, "RPOPLPUSH", "s", "l") == WRONGTYPE
    assert err(c, "RPOPLPUSH", "l", "s") == WRONGTYPE
    assert err(c, "LMOVE", "l", "s", "LEFT", "LEFT") == WRONGTYPE
    assert x(c, "LRANGE", "l", "0", "-1") == [b"a", b"b"]  # nothing popped
    assert x(c, "GET", "s") == b"v"
    assert err(c, "LMOVE", "l", "d", "UP", "LEFT") == SYNTAX
    assert err(c, "LMOVE", "l", "d", "LEFT", "DOWN") == SYNTAX
    assert err(c, "LMOVE", "nokey", "d", "UP", "LEFT") == SYNTAX
    assert x(c, "RPOPLPUSH", "nokey", "s") is None


# ---- LMPOP -----------------------------------------------------------------------------------------
def test_lmpop(c: redis.Redis) -> None:
    x(c, "RPUSH", "a", "1", "2", "3", "4", "5")
    assert x(c, "LMPOP", "2", "nokey", "a", "LEFT") == [b"a", [b"1"]]
    assert x(c, "LMPOP", "2", "nokey", "a", "RIGHT", "COUNT", "2") == [b"a", [b"5", b"4"]]
    assert x(c, "LMPOP", "2", "a", "a", "left", "count", "10") == [b"a", [b"2", b"3"]]
    assert x(c, "EXISTS", "a") == 0
    assert x(c, "LMPOP", "2", "a", "b", "LEFT", "COUNT", "10") is None


def test_lmpop_errors(c: redis.Redis) -> None:
    arity = "wrong number of arguments for 'lmpop' command"
    assert err(c, "LMPOP") == arity
    assert err(c, "LMPOP", "1") == arity
    assert err(c, "LMPOP", "1", "l") == arity
    for bad in ("0", "a", "-1", "99999999999999999999"):
        assert err(c, "LMPOP", bad, "l", "LEFT") == "numkeys should be greater than 0"
    assert err(c, "LMPOP", "1", "l", "bad_where") == SYNTAX
    assert err(c, "LMPOP", "1", "l", "LEFT", "bar") == SYNTAX
    assert err(c, "LMPOP", "1", "l", "RIGHT", "LEFT") == SYNTAX
    assert err(c, "LMPOP", "1", "l", "COUNT") == SYNTAX
    assert err(c, "LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2") == SYNTAX
    assert err(c, "LMPOP", "2", "l", "l2", "bad") == SYNTAX
    assert err(c, "LMPOP", "5", "l", "LEFT") == SYNTAX
    for bad in ("0", "a", "-1"):
        assert err(c, "LMPOP", "1", "l", "LEFT", "COUNT", bad) == "count should be greater than 0"
    x(c, "SET", "s", "v")
    assert err(c, "LMPOP", "2", "nokey", "s", "LEFT") == WRONGTYPE
    assert err(c, "LMPOP", "2", "s", "nokey", "LEFT") == WRONGTYPE


# ---- blocking commands that can serve at once ----------------------------------------------------------
def test_blocking_commands_serve_immediately(c: redis.Redis) -> None:
    x(c, "RPUSH", "a", "1", "2", "3")
    x(c, "RPUSH", "b", "x", "y")
    assert x(c, "BLPOP", "nokey", "a", "0") == [b"a", b"1"]
    assert x(c, "BRPOP", "b", "a", "0") == [b"b", b"y"]
    assert x(c, "BLMPOP", "0", "2", "nokey", "a", "RIGHT", "COUNT", "5") == [b"a", [b"3", b"2"]]
    assert x(c, "BRPOPLPUSH", "b", "c", "0") == b"x"
    assert x(c, "BLMOVE", "c", "d", "LEFT", "RIGHT", "0") == b"x"
    assert x(c, "LRANGE", "d", "0", "-1") == [b"x"]
    assert x(c, "EXISTS", "a", "b", "c") == 0


def test_blocking_commands_argument_errors(c: redis.Redis) -> None:
    x(c, "SET", "s", "v")
    assert err(c, "BLPOP", "s", "0") == WRONGTYPE
    assert err(c, "BRPOP", "nokey", "s", "0") == WRONGTYPE
    assert err(c, "BLMPOP", "0", "2", "nokey", "s", "LEFT") == WRONGTYPE
    assert err(c, "BRPOPLPUSH", "s", "d", "0") == WRONGTYPE
    x(c, "RPUSH", "l", "a")
    assert err(c, "BLMOVE", "l", "s", "LEFT", "LEFT", "0") == WRONGTYPE
    assert x(c, "LRANGE", "l", "0", "-1") == [b"a"]
    assert err(c, "BLPOP", "l", "-1") == "timeout is negative"
    assert err(c, "BLPOP", "l", "x") == "timeout is not a float or out of range"
    assert err(c, "BLPOP", "l", "nan") == "timeout is not a float or out of range"
    assert err(c, "BLPOP", "l", " 1") == "timeout is not a float or out of range"
    assert err(c, "BLPOP", "l", "1e5000") == "timeout is not a float or out of range"
    assert err(c, "BLPOP", "l", "0x7FFFFFFFFFFFFF") == "timeout is out of range"
    assert err(c, "BLPOP", "l", "inf") == "timeout is out of range"
    assert err(c, "BLPOP", "l", "1e400") == "timeout is out of range"
    assert err(c, "BLPOP", "l", "-inf") == "timeout is negative"
    assert err(c, "BLMOVE", "l", "d", "UP", "LEFT", "x") == SYNTAX
    assert err(c, "BLMOVE", "l", "d", "LEFT", "LEFT", "x") == "timeout is not a float or out of range"
    assert err(c, "BRPOPLPUSH", "l", "d", "-1") == "timeout is negative"
    assert err(c, "BLMPOP", "x", "1", "l", "LEFT") == "timeout is not a float or out of range"
    assert err(c, "BLMPOP", "0", "0", "l", "LEFT") == "numkeys should be greater than 0"
    assert err(c, "BLMPOP", "x", "1", "l", "UP") == SYNTAX  # parsed before the timeout
    assert err(c, "BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0") == "count should be greater than 0"
    assert err(c, "BLMPOP", "0", "2", "l") == "wrong number of arguments for 'blmpop' command"
    assert err(c, "BLPOP", "l") == "wrong number of arguments for 'blpop' command"


# ---- encodings ------------------------------------------------------------------------------------------
def enc(c: redis.Redis, key: str) -> bytes:
    return x(c, "OBJECT", "ENCODING", key)  # type: ignore[no-any-return]


def test_encoding_by_count(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "list-max-listpack-size", "3")
    x(c, "RPUSH", "l", "a", "b", "c")
    assert enc(c, "l") == b"listpack"
    x(c, "RPUSH", "l", "d")
    assert enc(c, "l") == b"quicklist"
    x(c, "RPOP", "l")  # 3 left: above half the limit, stays a quicklist
    assert enc(c, "l") == b"quicklist"
    x(c, "RPOP", "l", "2")
    assert enc(c, "l") == b"listpack"
    # LSET and LINSERT count the new element before anything else (even a failed insert).
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "a", "b", "c")
    x(c, "LSET", "l", "0", "z")
    assert enc(c, "l") == b"quicklist"
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "a", "b", "c")
    assert x(c, "LINSERT", "l", "after", "nosuch", "z") == -1
    assert enc(c, "l") == b"quicklist"


def test_encoding_by_bytes(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "list-max-listpack-size", "-1")
    big = "x" * 8192
    for cmd in (["RPUSH", "l", big], ["LINSERT", "l", "after", "b", big], ["LSET", "l", "0", big]):
        x(c, "DEL", "l")
        x(c, "RPUSH", "l", "a", "b", "c")
        assert enc(c, "l") == b"listpack"
        x(c, *cmd)
        assert enc(c, "l") == b"quicklist", cmd
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "a", "b", "c", big)
    x(c, "RPOP", "l")
    assert enc(c, "l") == b"listpack"
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "a", big)
    x(c, "LREM", "l", "1", big)
    assert enc(c, "l") == b"listpack"
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", big, "a", "b")
    x(c, "RPOP", "l", "2")
    assert enc(c, "l") == b"quicklist"
    x(c, "LSET", "l", "-1", "c")
    assert enc(c, "l") == b"listpack"
    # LMOVE converts the destination as it grows.
    x(c, "DEL", "src", "dst")
    x(c, "RPUSH", "src", "a", big)
    x(c, "RPUSH", "dst", "d", "e")
    x(c, "LMOVE", "src", "dst", "RIGHT", "RIGHT")
    assert enc(c, "dst") == b"quicklist"
    assert enc(c, "src") == b"listpack"


def test_encoding_limits_clamp(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "list-max-listpack-size", "0")  # treated as 1
    x(c, "RPUSH", "l", "a")
    assert enc(c, "l") == b"listpack"
    x(c, "RPUSH", "l", "b")
    assert enc(c, "l") == b"quicklist"
    x(c, "CONFIG", "SET", "list-max-listpack-size", "-6")  # treated as -5 (64 KB)
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "x" * 60000)
    assert enc(c, "l") == b"listpack"
    x(c, "RPUSH", "l", "x" * 5536)
    assert enc(c, "l") == b"quicklist"


def test_encoding_count_limit_also_caps_bytes(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "list-max-listpack-size", "100")
    x(c, "RPUSH", "l", "x" * 9000)
    assert enc(c, "l") == b"quicklist"  # a count-limited listpack stays under 8 KB


def test_encoding_byte_accounting_matches_valkey_boundary(c: redis.Redis) -> None:
    # -1 = 4096 bytes. Valkey compares listpack bytes + raw lengths of new elements.
    x(c, "CONFIG", "SET", "list-max-listpack-size", "-1")
    # 7 header bytes; a 4000-byte string takes 4000 + 2 + 2; 4011 + 85 = 4096 fits exactly.
    x(c, "RPUSH", "l", "y" * 4000)
    x(c, "RPUSH", "l", "z" * 85)
    assert enc(c, "l") == b"listpack"
    x(c, "DEL", "l")
    x(c, "RPUSH", "l", "y" * 4000)
    x(c, "RPUSH", "l", "z" * 86)
    assert enc(c, "l") == b"quicklist"


# ---- the value type ---------------------------------------------------------------------------------------
def test_entry_sizes_match_the_listpack_format() -> None:
    rdb_format = pytest.importorskip("kaa.persistence.rdb_format")
    samples = [b"", b"a", b"0", b"127", b"128", b"-1", b"4095", b"-4096", b"4096", b"32767",
               b"-32768", b"32768", b"8388607", b"-8388608", b"8388608", b"2147483647",
               b"-2147483649", b"9223372036854775807", b"-9223372036854775808",
               b"9223372036854775808", b"007", b"-0", b"1 ", b"x" * 63, b"x" * 64, b"x" * 4095,
               b"x" * 4096, b"x" * 16380, b"x" * 70000]
    for s in samples:
        blob = rdb_format.listpack_build([s])
        assert entry_size(s) == len(blob) - 7, s
    lv = ListValue(samples)
    assert lv.lp_bytes == len(rdb_format.listpack_build(samples))


def test_list_value_bookkeeping_stays_exact() -> None:
    lv = ListValue([b"a", b"12", b"x" * 100], fill=-2)
    lv.push([b"1", b"2"], True, -2)
    lv.push_one(b"tail", False, -2)
    lv.pop(True)
    lv.pop_many(2, False)
    lv.set_at(0, b"yy" * 50, -2)
    lv.insert(b"yy" * 50, b"ins", True, -2)
    lv.remove(b"ins", 0)
    lv.trim(0, 1)
    expect = 7 + sum(entry_size(v) for v in lv.items)
    assert lv.lp_bytes == expect
    cp = lv.copy()
    cp.push_one(b"more", False, -2)
    assert list(lv.items) != list(cp.items)
    assert cp.encoding() == lv.encoding() == "listpack"


def test_from_rdb_picks_encoding() -> None:
    class Cfg:
        list_max_listpack_size = 3

    assert ListValue.from_rdb([b"a", b"b", b"c"], Cfg()).encoding() == "listpack"
    assert ListValue.from_rdb([b"a", b"b", b"c", b"d"], Cfg()).encoding() == "quicklist"
    assert ListValue.from_rdb([b"a"], Cfg()).rdb_items() == [b"a"]


# ---- declarations ---------------------------------------------------------------------------------------
def test_command_info(c: redis.Redis) -> None:
    info = x(c, "COMMAND", "INFO", "blmpop", "lpush", "rpoplpush", "blpop", "lpos")
    by_name = {e[0]: e for e in info}
    assert by_name[b"blmpop"][1:6] == [-5, [b"write", b"blocking", b"movablekeys"], 0, 0, 0]
    assert by_name[b"lpush"][1:6] == [-3, [b"write", b"denyoom", b"fast"], 1, 1, 1]
    assert by_name[b"rpoplpush"][1:6] == [3, [b"write", b"denyoom"], 1, 2, 1]
    assert by_name[b"blpop"][1:6] == [-3, [b"write", b"blocking"], 1, -2, 1]
    assert by_name[b"lpos"][1:6] == [-3, [b"readonly"], 1, 1, 1]
    assert set(by_name[b"blpop"][6]) == {b"@write", b"@list", b"@slow", b"@blocking"}
    assert x(c, "COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "BLMPOP", "0", "2", "a", "b", "LEFT") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "BLMOVE", "a", "b", "LEFT", "LEFT", "0") == [b"a", b"b"]


# ---- propagation and keyspace events ------------------------------------------------------------------------
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


def test_events_push_pop_and_delete(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "RPUSH", "l", "a", "b")
    x(c, "LPUSH", "l", "z")
    x(c, "LPUSHX", "nokey", "z")
    x(c, "LPOP", "l")
    x(c, "RPOP", "l", "5")
    assert tap.events == [("rpush", b"l"), ("lpush", b"l"), ("lpop", b"l"), ("rpop", b"l"),
                          ("del", b"l")]


def test_events_edits(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "RPUSH", "l", "a", "b", "c", "d")
    tap.clear()
    x(c, "LSET", "l", "0", "A")
    x(c, "LINSERT", "l", "before", "b", "x")
    x(c, "LINSERT", "l", "before", "nosuch", "x")
    x(c, "LREM", "l", "0", "x")
    x(c, "LREM", "l", "0", "nosuch")
    x(c, "LTRIM", "l", "0", "1")
    x(c, "LTRIM", "l", "5", "10")
    assert tap.events == [("lset", b"l"), ("linsert", b"l"), ("lrem", b"l"), ("ltrim", b"l"),
                          ("ltrim", b"l"), ("del", b"l")]


def test_events_lmove(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "RPUSH", "src", "a")
    tap.clear()
    x(c, "LMOVE", "src", "dst", "LEFT", "RIGHT")
    assert tap.events == [("rpush", b"dst"), ("lpop", b"src"), ("del", b"src")]
    tap.clear()
    x(c, "RPOPLPUSH", "dst", "dst")
    assert tap.events == [("lpush", b"dst"), ("rpop", b"dst")]


def test_propagation_forms(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "RPUSH", "a", "1", "2", "3", "4")
    x(c, "LMPOP", "2", "nokey", "a", "LEFT", "COUNT", "2")
    x(c, "LMPOP", "1", "nokey", "RIGHT")  # nothing popped: nothing propagated
    x(c, "BLPOP", "a", "0")
    x(c, "BLMPOP", "0", "1", "a", "RIGHT", "COUNT", "9")
    x(c, "RPUSH", "b", "x", "y")
    x(c, "BRPOPLPUSH", "b", "c", "0")
    x(c, "BLMOVE", "b", "c", "LEFT", "RIGHT", "0")
    assert tap.props == [
        [b"RPUSH", b"a", b"1", b"2", b"3", b"4"],
        [b"LPOP", b"a", b"2"],
        [b"LPOP", b"a"],
        [b"RPOP", b"a", b"1"],
        [b"RPUSH", b"b", b"x", b"y"],
        [b"RPOPLPUSH", b"b", b"c"],
        [b"LMOVE", b"b", b"c", b"LEFT", b"RIGHT"],
    ]


def test_dirty_counts(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    ks = tap.srv.keyspace
    d0 = ks.dirty
    x(c, "RPUSH", "l", "a", "b", "c")
    assert ks.dirty - d0 == 3
    x(c, "LPOP", "l", "2")
    assert ks.dirty - d0 == 5
    x(c, "LMOVE", "l", "m", "LEFT", "LEFT")
    assert ks.dirty - d0 == 6
    x(c, "LINSERT", "m", "before", "nosuch", "x")
    x(c, "LREM", "m", "0", "nosuch")
    assert ks.dirty - d0 == 6
