"""Keyspace notifications: the exact stream of __keyspace@/__keyevent@ messages.

A listener PSUBSCRIBEs to everything, a scripted sequence of commands runs on another
connection, and the messages up to a sentinel publish are compared with the oracle's
for the same sequence, per event-class mask. Expiry (lazy and active), key-miss and
new-key events, masking, CONFIG GET/SET of the flags and delivery to RESP3
subscribers are checked on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.known_differences import KNOWN_DIFFERENCES
from tests.support.servers import ServerProcess
from tests.test_pubsub import RawConn, raw_conns


@pytest.fixture(name="raw")
def raw_fixture(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[Callable[..., RawConn]]:
    yield from raw_conns(kaa_proc.port)


Cmd = tuple[str, ...]


def notification_stream(port: int, flags: str, cmds: list[Cmd], db: int = 0) -> list[Any]:
    """Run cmds with notify-keyspace-events=flags; return [replies, messages seen]."""
    ctl = RawConn(port)
    listener = RawConn(port)
    try:
        ctl.call("FLUSHALL")
        ctl.call("CONFIG", "SET", "notify-keyspace-events", flags)
        if db:
            ctl.call("SELECT", str(db))
        listener.send("PSUBSCRIBE", "*")
        listener.read()
        replies = []
        for cmd in cmds:
            v = ctl.call(*cmd)
            replies.append(v.value if hasattr(v, "value") else v)
        ctl.call("PUBLISH", "zz-end", "")
        msgs = []
        while True:
            m = listener.read()
            if m[2] == b"zz-end":
                break
            msgs.append((m[2].decode(), m[3].decode()))
        return [replies, msgs]
    finally:
        ctl.call("CONFIG", "SET", "notify-keyspace-events", "")
        ctl.close()
        listener.close()


STRING_SEQ: list[Cmd] = [
    ("SET", "s", "1"), ("SET", "s", "2", "XX"), ("SET", "s", "3", "NX"), ("SET", "n", "v", "NX"),
    ("SET", "s", "4", "GET"), ("SET", "s", "5", "EX", "100"), ("SET", "s", "6", "KEEPTTL"),
    ("SETNX", "s", "x"), ("SETNX", "t", "x"), ("SETEX", "e", "100", "v"), ("PSETEX", "p", "100000", "v"),
    ("GETSET", "s", "7"), ("GETSET", "gs", "1"), ("GETDEL", "gs"), ("GETDEL", "gs"),
    ("GETEX", "s", "EX", "50"), ("GETEX", "s", "PERSIST"), ("GETEX", "s"), ("GETEX", "missing", "EX", "5"),
    ("APPEND", "s", "x"), ("APPEND", "ap", "y"), ("SETRANGE", "s", "1", "zz"), ("SETRANGE", "sr", "2", "q"),
    ("SETRANGE", "sr0", "0", ""), ("INCR", "i"), ("INCRBY", "i", "5"), ("DECR", "i"), ("DECRBY", "i", "2"),
    ("INCRBYFLOAT", "f", "1.5"), ("INCR", "s"), ("SET", "m1", "a"), ("SET", "m2", "b"),
    ("MSETNX", "m1", "x", "m3", "y"), ("GET", "nope"),
    ("MGET", "m1", "nope", "m2"), ("STRLEN", "nope"), ("GETRANGE", "nope", "0", "1"),
    ("LCS", "m1", "m2"), ("SET", "s", "8", "PX", "0"), ("SET", "s", "8", "EX", "x"),
]

KEYSPACE_SEQ: list[Cmd] = [
    ("SET", "a", "1"), ("SET", "b", "2"), ("EXPIRE", "a", "100"), ("PEXPIRE", "a", "100000"),
    ("EXPIREAT", "b", "99999999999"), ("PEXPIREAT", "b", "99999999999000"), ("PERSIST", "a"),
    ("PERSIST", "a"), ("EXPIRE", "a", "100", "NX"), ("EXPIRE", "a", "50", "GT"), ("TTL", "nope"),
    ("EXPIRE", "nope", "10"), ("RENAME", "a", "c"), ("RENAME", "c", "c"), ("RENAMENX", "b", "c"),
    ("RENAMENX", "b", "d"), ("COPY", "d", "e"), ("COPY", "d", "e"), ("COPY", "d", "e", "REPLACE"),
    ("COPY", "d", "e", "DB", "3"), ("MOVE", "e", "4"), ("MOVE", "nope", "4"), ("DEL", "c", "nope", "d"),
    ("UNLINK", "e"), ("EXISTS", "nope"), ("TYPE", "nope"), ("TOUCH", "nope"), ("SET", "x", "1"),
    ("EXPIRE", "x", "-1"), ("SET", "y", "1"), ("PEXPIREAT", "y", "1"), ("SET", "z", "1"),
    ("OBJECT", "ENCODING", "nope"), ("DUMP", "nope"),
    ("RANDOMKEY",), ("DBSIZE",), ("SWAPDB", "0", "5"), ("SWAPDB", "0", "5"), ("FLUSHDB",),
]

LIST_SEQ: list[Cmd] = [
    ("LPUSH", "l", "a", "b"), ("RPUSH", "l", "c"), ("LPUSHX", "nope", "a"), ("RPUSHX", "l", "d"),
    ("LINSERT", "l", "BEFORE", "a", "x"), ("LSET", "l", "0", "y"), ("LREM", "l", "0", "y"),
    ("LTRIM", "l", "0", "1"), ("LPOP", "l"), ("RPOP", "l"), ("RPUSH", "l", "1", "2", "3"),
    ("RPOPLPUSH", "l", "l2"), ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("LMPOP", "1", "l", "LEFT"),
    ("LRANGE", "nope", "0", "-1"), ("LPOP", "nope"), ("BLPOP", "l2", "0"), ("BRPOP", "l2", "0"),
    ("LINDEX", "nope", "0"), ("LLEN", "nope"),
]

HASH_SEQ: list[Cmd] = [
    ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "a", "1"), ("HMSET", "h", "c", "3"),
    ("HSETNX", "h", "a", "9"), ("HSETNX", "h", "d", "4"), ("HINCRBY", "h", "n", "5"),
    ("HINCRBYFLOAT", "h", "f", "1.5"), ("HDEL", "h", "a", "zz"), ("HDEL", "h", "zz"),
    ("HGET", "nope", "a"), ("HGETALL", "nope"), ("HDEL", "h", "b", "c", "d", "n", "f"),
]

SET_SEQ: list[Cmd] = [
    ("SADD", "s", "a", "b", "c"), ("SADD", "s", "a"), ("SREM", "s", "x"), ("SREM", "s", "a"),
    ("SMOVE", "s", "s2", "b"), ("SPOP", "s"), ("SADD", "s3", "1", "2"), ("SADD", "s4", "2", "3"),
    ("SINTERSTORE", "d1", "s3", "s4"), ("SUNIONSTORE", "d2", "s3", "s4"), ("SDIFFSTORE", "d3", "s3", "s4"),
    ("SINTERSTORE", "d1", "s3", "nope"), ("SMEMBERS", "nope"), ("SRANDMEMBER", "nope"),
]

ZSET_SEQ: list[Cmd] = [
    ("ZADD", "z", "1", "a", "2", "b"), ("ZADD", "z", "1", "a"), ("ZINCRBY", "z", "5", "a"),
    ("ZREM", "z", "x"), ("ZREM", "z", "a"), ("ZADD", "z2", "1", "x", "2", "y", "3", "w"),
    ("ZREMRANGEBYSCORE", "z2", "1", "1"), ("ZREMRANGEBYRANK", "z2", "0", "0"),
    ("ZREMRANGEBYLEX", "z2", "-", "+"), ("ZADD", "z3", "1", "a"), ("ZUNIONSTORE", "zu", "2", "z", "z3"),
    ("ZINTERSTORE", "zi", "2", "z", "z3"), ("ZDIFFSTORE", "zd", "2", "z", "z3"), ("ZPOPMIN", "z"),
    ("ZPOPMAX", "z3"), ("ZRANGESTORE", "zr", "zu", "0", "-1"), ("ZSCORE", "nope", "a"),
    ("ZMPOP", "1", "zu", "MIN"), ("BZPOPMIN", "zr", "0"),
]

FAMILIES = {"string": STRING_SEQ, "keyspace": KEYSPACE_SEQ, "list": LIST_SEQ, "hash": HASH_SEQ,
            "set": SET_SEQ, "zset": ZSET_SEQ}
# Event masks: everything (with key-miss and new-key), single classes, keyevent only.
MASKS = ["KEAmn", "Kgx", "E$", "KEl", "Kh", "Es", "Kz", "Em", "En"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_notification_stream_matches_oracle(r: redis.Redis, oracle: redis.Redis,
                                            kaa_proc: ServerProcess, oracle_proc: ServerProcess,
                                            family: str) -> None:
    seq = FAMILIES[family]
    for mask in ("KEAmn",) if family not in ("string", "keyspace") else MASKS:
        kaa = notification_stream(kaa_proc.port, mask, seq)
        ora = notification_stream(oracle_proc.port, mask, seq)
        assert kaa[0] == ora[0], f"replies differ under {mask}"
        assert kaa[1] == ora[1], f"notifications differ under {mask}"


def test_set_with_past_deadline_deletes(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    """Valkey 8 turns SET/GETEX with a deadline in the past into a deletion (see
    KNOWN_DIFFERENCES["set-past-deadline"]): the events below are Valkey's."""
    assert "set-past-deadline" in KNOWN_DIFFERENCES
    _, msgs = notification_stream(kaa_proc.port, "KEA", [
        ("SET", "z", "1"), ("SET", "z", "2", "PXAT", "1"), ("SET", "n", "1", "EXAT", "1"),
        ("SET", "g", "1"), ("GETEX", "g", "PXAT", "1")])
    assert msgs == [
        ("__keyspace@0__:z", "set"), ("__keyevent@0__:set", "z"),
        ("__keyspace@0__:z", "del"), ("__keyevent@0__:del", "z"),
        ("__keyspace@0__:g", "set"), ("__keyevent@0__:set", "g"),
        ("__keyspace@0__:g", "del"), ("__keyevent@0__:del", "g"),
    ]


def test_mset_event_order(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    _, msgs = notification_stream(kaa_proc.port, "EAn", [("MSET", "a", "1", "b", "2"),
                                                         ("MSETNX", "c", "1", "d", "2")])
    assert msgs == [
        ("__keyevent@0__:new", "a"), ("__keyevent@0__:set", "a"),
        ("__keyevent@0__:new", "b"), ("__keyevent@0__:set", "b"),
        ("__keyevent@0__:new", "c"), ("__keyevent@0__:set", "c"),
        ("__keyevent@0__:new", "d"), ("__keyevent@0__:set", "d"),
    ]


def test_notifications_carry_the_db_number(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    _, msgs = notification_stream(kaa_proc.port, "KEA", [("SET", "k", "v"), ("DEL", "k")], db=9)
    assert msgs == [("__keyspace@9__:k", "set"), ("__keyevent@9__:set", "k"),
                    ("__keyspace@9__:k", "del"), ("__keyevent@9__:del", "k")]


def test_new_key_event_only_for_new_keys(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    _, msgs = notification_stream(kaa_proc.port, "En",
                                  [("SET", "foo", "bar"), ("SET", "foo", "baz"), ("SET", "bar", "x"),
                                   ("LPUSH", "l", "a"), ("LPUSH", "l", "b")])
    assert msgs == [("__keyevent@0__:new", "foo"), ("__keyevent@0__:new", "bar"),
                    ("__keyevent@0__:new", "l")]


def test_new_key_event_precedes_the_command_event(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    _, msgs = notification_stream(kaa_proc.port, "KEAn", [("SET", "foo", "bar")])
    assert msgs[:2] == [("__keyspace@0__:foo", "new"), ("__keyevent@0__:new", "foo")]
    assert msgs[2:] == [("__keyspace@0__:foo", "set"), ("__keyevent@0__:set", "foo")]


def test_keymiss_events(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    _, msgs = notification_stream(kaa_proc.port, "Em",
                                  [("GET", "nope"), ("SET", "k", "v"), ("GET", "k"), ("MGET", "k", "x")])
    assert msgs == [("__keyevent@0__:keymiss", "nope"), ("__keyevent@0__:keymiss", "x")]


def test_flags_off_means_no_messages(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    _, msgs = notification_stream(kaa_proc.port, "", [("SET", "k", "v"), ("GET", "nope")])
    assert msgs == []
    # K or E alone select no event class.
    _, msgs = notification_stream(kaa_proc.port, "KE", [("SET", "k", "v"), ("DEL", "k")])
    assert msgs == []


def _expired_event(port: int, lazy: bool) -> list[Any]:
    ctl = RawConn(port)
    listener = RawConn(port)
    try:
        ctl.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
        listener.send("PSUBSCRIBE", "*")
        listener.read()
        if lazy:
            ctl.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        ctl.call("SET", "foo", "1", "PX", "50")
        time.sleep(0.1)
        if lazy:
            assert listener.nothing_pending(0.2)  # nobody deleted it yet
            assert ctl.call("GET", "foo") is None  # the lazy expiry
        m = listener.read(timeout=5)
        return [m[2], m[3]]
    finally:
        ctl.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        ctl.call("CONFIG", "SET", "notify-keyspace-events", "")
        ctl.close()
        listener.close()


@pytest.mark.parametrize("lazy", [False, True])
def test_expired_event_active_and_lazy(kaa_proc: ServerProcess, r: redis.Redis, lazy: bool) -> None:
    assert _expired_event(kaa_proc.port, lazy) == [b"__keyevent@0__:expired", b"foo"]


def test_notify_flags_config_roundtrip(r: redis.Redis) -> None:
    for given, shown in (("gKE", "gKE"), ("$lshzxeKE", "$lshzxeKE"), ("KA", "AK"), ("EA", "AE"),
                         ("Kn", "nK"), ("AnK", "AK"), ("", "")):
        r.config_set("notify-keyspace-events", given)
        assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == shown
    with pytest.raises(redis.ResponseError, match="Invalid event class character"):
        r.config_set("notify-keyspace-events", "KQ")


def test_resp3_subscriber_gets_its_own_events_after_the_reply(raw: Any) -> None:
    c = raw(3)
    try:
        c.call("CONFIG", "SET", "notify-keyspace-events", "KA")
        c.send("SUBSCRIBE", "__keyspace@0__:mine")
        c.read()
        assert c.call("SET", "mine", "v") == "OK"
        assert c.read() == ("push", b"message", b"__keyspace@0__:mine", b"set")
        c.call("MULTI")
        c.call("INCR", "other")
        c.call("DEL", "mine")
        assert c.call("EXEC") == [1, 1]
        assert c.read() == ("push", b"message", b"__keyspace@0__:mine", b"del")
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_many_listeners_receive_every_event(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    r.config_set("notify-keyspace-events", "KEA")
    try:
        listeners = [redis.Redis(port=kaa_proc.port, protocol=2 + i % 2).pubsub() for i in range(4)]
        for i, ps in enumerate(listeners):
            if i % 2:
                ps.psubscribe("__keyevent@0__:*")
            else:
                ps.subscribe("__keyspace@0__:k")
            ps.get_message(timeout=1)
        for j in range(20):
            r.set("k", j)
        for i, ps in enumerate(listeners):
            got = []
            for _ in range(20):
                m = ps.get_message(timeout=2)
                assert m is not None
                got.append(m["data"])
            assert got == ([b"k"] if i % 2 else [b"set"]) * 20
            ps.close()
    finally:
        r.config_set("notify-keyspace-events", "")
