"""SORT and SORT_RO against a running kaa-server: numeric and ALPHA sorting of lists, sets
and sorted sets, BY/GET patterns (strings and hash fields), LIMIT, STORE, and Valkey 8's
errors. Events and ``dirty`` of SORT ... STORE are checked on an in-process server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tests.support.commands import err, x
from tests.support.servers import ServerProcess

from kaa.embedded import EmbeddedServer
from kaa.engine.notify import NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE
from kaa.types.zset import sort_double

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "syntax error"
BAD_DOUBLE = "One or more scores can't be converted into double"


@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=kaa_proc.port, socket_timeout=10)
    client.response_callbacks.clear()
    client.execute_command("FLUSHALL")
    yield client
    client.close()






def test_numeric_sort_of_each_type(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "3", "1", "2", "10", "-1.5")
    assert x(c, "SORT", "l") == [b"-1.5", b"1", b"2", b"3", b"10"]
    assert x(c, "SORT", "l", "DESC") == [b"10", b"3", b"2", b"1", b"-1.5"]
    x(c, "SADD", "s", "5", "3", "4")
    assert x(c, "SORT", "s") == [b"3", b"4", b"5"]
    x(c, "ZADD", "z", "1", "30", "2", "10", "3", "20")
    assert x(c, "SORT", "z") == [b"10", b"20", b"30"]
    assert x(c, "SORT", "nokey") == []
    assert x(c, "SORT_RO", "l", "DESC", "LIMIT", "0", "2") == [b"10", b"3"]


def test_alpha_sort_and_ties(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "b", "a", "c", "10", "9")
    assert x(c, "SORT", "l", "ALPHA") == [b"10", b"9", b"a", b"b", b"c"]
    assert x(c, "SORT", "l", "ALPHA", "DESC") == [b"c", b"b", b"a", b"9", b"10"]
    # Equal scores are ordered by the element bytes (and reversed by DESC).
    x(c, "RPUSH", "t", "01", "1", "1.0", "2")
    assert x(c, "SORT", "t") == [b"01", b"1", b"1.0", b"2"]
    assert x(c, "SORT", "t", "DESC") == [b"2", b"1.0", b"1", b"01"]


def test_limit(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "5", "4", "3", "2", "1")
    assert x(c, "SORT", "l", "LIMIT", "1", "2") == [b"2", b"3"]
    assert x(c, "SORT", "l", "LIMIT", "-5", "2") == [b"1", b"2"]
    assert x(c, "SORT", "l", "LIMIT", "3", "-1") == [b"4", b"5"]
    assert x(c, "SORT", "l", "LIMIT", "3", "100") == [b"4", b"5"]
    assert x(c, "SORT", "l", "LIMIT", "10", "2") == []
    assert x(c, "SORT", "l", "LIMIT", "0", "0") == []
    assert x(c, "SORT", "l", "LIMIT", "2", "9223372036854775807") == [b"3", b"4", b"5"]
    assert err(c, "SORT", "l", "LIMIT", "x", "1") == "value is not an integer or out of range"
    assert err(c, "SORT", "l", "LIMIT", "1") == SYNTAX


def test_by_and_get_patterns(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "1", "2", "3")
    x(c, "MSET", "w_1", "30", "w_2", "10", "w_3", "20", "v_1", "one", "v_2", "two")
    assert x(c, "SORT", "l", "BY", "w_*") == [b"2", b"3", b"1"]
    assert x(c, "SORT", "l", "BY", "w_*", "DESC", "LIMIT", "0", "1") == [b"1"]
    assert x(c, "SORT", "l", "BY", "w_*", "GET", "#", "GET", "v_*") == [
        b"2", b"two", b"3", None, b"1", b"one"]
    assert x(c, "SORT", "l", "GET", "nostar") == [None, None, None]
    x(c, "HSET", "h_1", "f", "c", "n", "3")
    x(c, "HSET", "h_2", "f", "a", "n", "1")
    x(c, "HSET", "h_3", "f", "b")
    assert x(c, "SORT", "l", "BY", "h_*->n") == [b"3", b"2", b"1"]  # missing field scores 0
    assert x(c, "SORT", "l", "BY", "h_*->f", "ALPHA", "GET", "h_*->f") == [b"a", b"b", b"c"]
    # "->" with nothing after it is part of the key name, not a field.
    x(c, "SET", "x_1->", "v")
    assert x(c, "SORT", "l", "GET", "x_*->") == [b"v", None, None]
    # BY a missing key: ALPHA puts it first.
    assert x(c, "SORT", "l", "BY", "m_*", "ALPHA") == [b"1", b"2", b"3"]
    x(c, "SET", "m_2", "z")
    assert x(c, "SORT", "l", "BY", "m_*", "ALPHA") == [b"1", b"3", b"2"]
    assert x(c, "SORT", "l", "BY", "m_*", "ALPHA", "DESC")[0] == b"2"
    # A BY/GET key of another type counts as missing.
    x(c, "RPUSH", "w_9", "x")
    x(c, "RPUSH", "l9", "9")
    assert x(c, "SORT", "l9", "BY", "w_*", "GET", "w_*") == [None]


def test_by_nosort_keeps_native_order(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "3", "1", "2")
    assert x(c, "SORT", "l", "BY", "nosort") == [b"3", b"1", b"2"]
    assert x(c, "SORT", "l", "BY", "nosort", "DESC") == [b"2", b"1", b"3"]
    assert x(c, "SORT", "l", "BY", "nosort", "LIMIT", "1", "1") == [b"1"]
    assert x(c, "SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "5") == [b"1", b"3"]
    x(c, "ZADD", "z", "1", "c", "2", "a", "3", "b")
    assert x(c, "SORT", "z", "BY", "nosort") == [b"c", b"a", b"b"]
    assert x(c, "SORT", "z", "BY", "nosort", "DESC", "LIMIT", "0", "2") == [b"b", b"a"]
    assert x(c, "SORT", "z", "BY", "nosort", "LIMIT", "1", "-1") == [b"a", b"b"]
    # A set with BY <constant> and STORE is sorted (ALPHA) so replicas agree.
    x(c, "SADD", "s", "b", "c", "a")
    assert x(c, "SORT", "s", "BY", "nosort", "STORE", "dst") == 3
    assert x(c, "LRANGE", "dst", "0", "-1") == [b"a", b"b", b"c"]


def test_bad_doubles(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "1", "a", "2")
    assert err(c, "SORT", "l") == BAD_DOUBLE
    assert x(c, "SORT", "l", "ALPHA") == [b"1", b"2", b"a"]
    for bad in ("1e400", "nan", "1 ", "1e-400"):
        x(c, "DEL", "n")
        x(c, "RPUSH", "n", "1", bad)
        assert err(c, "SORT", "n") == BAD_DOUBLE, bad
    x(c, "DEL", "n")
    x(c, "RPUSH", "n", " 5", "", "inf", "-inf", "0x10")
    assert x(c, "SORT", "n") == [b"-inf", b"", b" 5", b"0x10", b"inf"]
    x(c, "RPUSH", "w", "1", "2")
    x(c, "SET", "wx_1", "abc")
    assert err(c, "SORT", "w", "BY", "wx_*") == BAD_DOUBLE
    assert err(c, "SORT", "w", "BY", "wx_*", "STORE", "dst") == BAD_DOUBLE
    assert x(c, "EXISTS", "dst") == 0


def test_sort_double_rules() -> None:
    assert sort_double(b"") == 0.0 and sort_double(b" 7") == 7.0 and sort_double(b"0x10") == 16.0
    assert sort_double(b"1\x00junk") == 1.0  # the C string ends at NUL
    assert sort_double(b"0e-400") == 0.0
    for bad in (b"1 ", b"1e400", b"1e-400", b"1e-310", b"nan", b"1_0", b"0." + b"0" * 400 + b"1"):
        assert sort_double(bad) is None, bad


def test_nosort_limit_on_a_long_list(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", *[str(i) for i in range(5000)])
    assert x(c, "SORT", "l", "BY", "nosort", "LIMIT", "4000", "3") == [b"4000", b"4001", b"4002"]
    assert x(c, "SORT", "l", "BY", "nosort", "DESC", "LIMIT", "4000", "3") == [b"999", b"998", b"997"]


def test_store(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", "3", "1", "2")
    x(c, "SET", "g_1", "x")
    assert x(c, "SORT", "l", "STORE", "dst") == 3
    assert x(c, "LRANGE", "dst", "0", "-1") == [b"1", b"2", b"3"]
    assert x(c, "TYPE", "dst") == b"list"
    assert x(c, "OBJECT", "ENCODING", "dst") == b"listpack"
    # Missing GET values are stored as empty strings.
    assert x(c, "SORT", "l", "GET", "#", "GET", "g_*", "STORE", "dst") == 6
    assert x(c, "LRANGE", "dst", "0", "-1") == [b"1", b"x", b"2", b"", b"3", b""]
    x(c, "EXPIRE", "dst", "100")
    assert x(c, "SORT", "l", "LIMIT", "0", "1", "STORE", "dst") == 1
    assert x(c, "TTL", "dst") == -1
    # An empty result deletes the destination and creates nothing.
    assert x(c, "SORT", "nokey", "STORE", "dst") == 0
    assert x(c, "EXISTS", "dst") == 0
    assert x(c, "SORT", "l", "LIMIT", "5", "5", "STORE", "dst2") == 0
    assert x(c, "EXISTS", "dst2") == 0
    # The last STORE wins.
    assert x(c, "SORT", "l", "STORE", "a", "STORE", "b") == 3
    assert x(c, "EXISTS", "a") == 0 and x(c, "LLEN", "b") == 3


def test_store_big_result_is_quicklist(c: redis.Redis) -> None:
    x(c, "RPUSH", "l", *["value-%04d" % i for i in range(1000)])
    x(c, "SORT", "l", "ALPHA", "STORE", "dst")
    assert x(c, "OBJECT", "ENCODING", "dst") == b"quicklist"
    assert x(c, "LINDEX", "dst", "0") == b"value-0000"


def test_errors(c: redis.Redis) -> None:
    x(c, "SET", "str", "v")
    assert err(c, "SORT", "str") == WRONGTYPE
    x(c, "HSET", "h", "f", "v")
    assert err(c, "SORT", "h") == WRONGTYPE
    x(c, "RPUSH", "l", "1")
    assert err(c, "SORT", "l", "FOO") == SYNTAX
    assert err(c, "SORT", "l", "BY") == SYNTAX
    assert err(c, "SORT", "l", "GET") == SYNTAX
    assert err(c, "SORT", "l", "STORE") == SYNTAX
    assert err(c, "SORT_RO", "l", "STORE", "dst") == SYNTAX
    assert err(c, "SORT", "str", "FOO") == SYNTAX  # options are parsed before the type check
    assert "wrong number of arguments for 'sort' command" in err(c, "SORT")
    assert "wrong number of arguments for 'sort_ro' command" in err(c, "SORT_RO")


def test_getkeys(c: redis.Redis) -> None:
    assert x(c, "COMMAND", "GETKEYS", "SORT", "abc", "STORE", "def") == [b"abc", b"def"]
    assert x(c, "COMMAND", "GETKEYS", "SORT", "abc", "STORE", "def", "STORE", "xyz") == [b"abc", b"xyz"]
    assert x(c, "COMMAND", "GETKEYS", "SORT", "abc", "BY", "store", "LIMIT", "1", "2") == [b"abc"]
    assert x(c, "COMMAND", "GETKEYS", "SORT_RO", "abc", "BY", "x") == [b"abc"]


# ---------------------------------------------------------------------------
# Events and dirty (in-process server)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, list[tuple[str, bytes]]]]:
    with EmbeddedServer() as e:
        events: list[tuple[str, bytes]] = []
        ks = e.server.keyspace
        ks.notifier = lambda flag, event, key, dbid: events.append((event, key))
        ks.notify_flags = NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT
        yield e, events


def test_store_events_and_dirty(embedded: tuple[EmbeddedServer, list[tuple[str, bytes]]]) -> None:
    e, events = embedded
    c = redis.Redis(port=e.port, socket_timeout=10)
    c.response_callbacks.clear()
    ks = e.server.keyspace
    x(c, "RPUSH", "l", "2", "1")
    events.clear()
    d0 = ks.dirty
    x(c, "SORT", "l", "STORE", "dst")
    assert ks.dirty - d0 == 2
    x(c, "SORT", "l")  # a plain read changes nothing
    assert ks.dirty - d0 == 2
    x(c, "SORT", "nokey", "STORE", "dst")
    assert ks.dirty - d0 == 3
    x(c, "SORT", "nokey", "STORE", "dst")  # nothing to delete
    assert ks.dirty - d0 == 3
    assert events == [("sortstore", b"dst"), ("del", b"dst")]
    c.close()


def test_sort_by_get_patterns_need_full_key_access(r: redis.Redis) -> None:
    """A user restricted to some keys may SORT, but not through BY/GET patterns."""
    r.execute_command("ACL", "SETUSER", "sorter", "on", ">pw", "~list*", "+@all")
    try:
        r.rpush("list1", 3, 1, 2)
        u = redis.Redis(port=r.connection_pool.connection_kwargs["port"], username="sorter", password="pw")
        assert u.sort("list1") == [b"1", b"2", b"3"]
        with pytest.raises(redis.ResponseError, match="BY option of SORT denied due to insufficient ACL permissions."):
            u.execute_command("SORT", "list1", "BY", "w_*")
        with pytest.raises(redis.ResponseError, match="GET option of SORT denied due to insufficient ACL permissions."):
            u.execute_command("SORT_RO", "list1", "GET", "x_*")
        assert u.execute_command("SORT", "list1", "BY", "nosort") == [b"3", b"1", b"2"]
        assert r.execute_command("SORT", "list1", "BY", "w_*") == [b"1", b"2", b"3"]
        u.close()
    finally:
        r.execute_command("ACL", "DELUSER", "sorter")
