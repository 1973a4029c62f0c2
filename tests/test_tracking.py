"""Client-side caching: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO and invalidation.

Default mode (keys read by the client), BCAST with prefixes, NOLOOP, OPTIN/OPTOUT,
RESP3 push invalidations and RESP2 redirection to a __redis__:invalidate subscriber,
null invalidation on FLUSHALL/FLUSHDB, tracking-table-max-keys, reply/push ordering,
and redis-py's own client-side cache kept coherent by the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection
from tests.support.servers import ServerProcess
from tests.test_pubsub import RawConn, err, raw_conns, wait_for


@pytest.fixture(name="raw")
def raw_fixture(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[Callable[..., RawConn]]:
    yield from raw_conns(kaa_proc.port)


INVALIDATE = b"__redis__:invalidate"


def redirect_target(raw: Any) -> tuple[RawConn, int]:
    """A RESP2 connection subscribed to __redis__:invalidate, and its id."""
    t = raw()
    cid = t.call("CLIENT", "ID")
    t.send("SUBSCRIBE", INVALIDATE)
    assert t.read() == [b"subscribe", INVALIDATE, 1]
    return t, cid


def invalidated(t: RawConn) -> Any:
    m = t.read()
    if isinstance(m, tuple):
        assert m[:2] == ("push", b"invalidate"), m
        return m[2]
    assert m[:2] == [b"message", INVALIDATE], m
    return m[2]


# ---- default mode -------------------------------------------------------------------------

def test_resp3_basic_invalidation(raw: Any, r: redis.Redis) -> None:
    c = raw(3)
    assert c.call("CLIENT", "TRACKING", "on") == "OK"
    r.set("key1", 1)
    assert c.call("GET", "key1") == b"1"
    r.set("key1", 2)
    assert c.read() == ("push", b"invalidate", [b"key1"])
    # Once invalidated the key is forgotten: a second write says nothing.
    r.set("key1", 3)
    assert c.call("PING") == "PONG"


def test_only_keys_read_are_invalidated(raw: Any, r: redis.Redis) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    assert c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid) == "OK"
    r.set("a", 1)
    r.set("b", 1)
    c.call("GET", "a")
    r.incr("b")  # never read: no message
    r.incr("a")
    assert invalidated(t) == [b"a"]
    assert t.nothing_pending()
    # Multi-key reads remember every key; writes of any type invalidate.
    c.call("MGET", "x", "y", "z")
    r.lpush("y", 1)
    assert invalidated(t) == [b"y"]


def test_write_commands_do_not_track(raw: Any, r: redis.Redis) -> None:
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on")
    c.call("SET", "w", "1")  # a write: nothing remembered
    r.set("w", 2)
    assert c.nothing_pending(0.2)


def test_invalidation_after_own_reply_and_after_exec(raw: Any) -> None:
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on")
    c.call("HSET", "myhash", "f", "1")
    c.call("HGET", "myhash", "f")
    assert c.call("HDEL", "myhash", "f") == 1
    assert c.read() == ("push", b"invalidate", [b"myhash"])
    c.call("MSET", "a", "1", "b", "2")
    c.call("GET", "a")
    c.call("MULTI")
    c.call("INCR", "a")
    c.call("GET", "b")
    assert c.call("EXEC") == [2, b"2"]
    assert c.read() == ("push", b"invalidate", [b"a"])


def test_noloop(raw: Any, r: redis.Redis) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid, "NOLOOP")
    c.call("MGET", "other1", "loop", "other2")
    r.set("other1", 1)
    c.call("SET", "loop", 1)  # our own write: no message
    r.set("other2", 1)
    assert invalidated(t) == [b"other1"]
    assert invalidated(t) == [b"other2"]
    assert t.nothing_pending()


def test_optin_and_optout(raw: Any, r: redis.Redis) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    c.call("CLIENT", "TRACKING", "on", "OPTIN", "REDIRECT", tid)
    c.call("GET", "k1")  # not tracked without CLIENT CACHING yes
    r.set("k1", 1)
    assert c.call("CLIENT", "CACHING", "yes") == "OK"
    c.call("GET", "k2")
    c.call("GET", "k3")  # CACHING yes covered only the previous command
    r.set("k2", 1)
    r.set("k3", 1)
    assert invalidated(t) == [b"k2"]
    assert t.nothing_pending()
    c.call("CLIENT", "TRACKING", "off")
    c.call("CLIENT", "TRACKING", "on", "OPTOUT", "REDIRECT", tid)
    c.call("GET", "k4")
    assert c.call("CLIENT", "CACHING", "no") == "OK"
    c.call("GET", "k5")  # not tracked
    r.set("k5", 1)
    r.set("k4", 1)
    assert invalidated(t) == [b"k4"]
    assert t.nothing_pending()


def test_caching_yes_covers_a_whole_transaction(raw: Any, r: redis.Redis) -> None:
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on", "OPTIN")
    c.call("CLIENT", "CACHING", "yes")
    c.call("MULTI")
    c.call("GET", "t1")
    c.call("GET", "t2")
    c.call("EXEC")
    r.set("t2", 1)
    assert c.read() == ("push", b"invalidate", [b"t2"])


def test_expired_keys_are_invalidated(raw: Any, r: redis.Redis) -> None:
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on")
    r.set("ex", 1, px=50)
    c.call("GET", "ex")
    assert c.read(timeout=5) == ("push", b"invalidate", [b"ex"])


def test_redirect_broken_and_redirect_to_resp3(raw: Any, r: redis.Redis) -> None:
    target = raw(3)
    tid = target.call("CLIENT", "ID")
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid)
    c.call("GET", "rk")
    r.set("rk", 1)
    # A RESP3 redirect target gets a push even without subscribing.
    assert target.read() == ("push", b"invalidate", [b"rk"])
    c.call("GET", "rk")
    target.close()
    wait_for(lambda: tid not in [int(x.split(b"=")[1]) for x in
                                 r.execute_command("CLIENT", "LIST").split() if x.startswith(b"id=")])
    r.set("rk", 2)
    assert c.read() == ("push", b"tracking-redir-broken", tid)
    info = c.call("CLIENT", "TRACKINGINFO")
    assert info == {b"flags": ("set", b"on", b"broken_redirect"), b"redirect": tid, b"prefixes": []}


def test_resp2_client_without_redirect_gets_nothing(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.call("CLIENT", "TRACKING", "on")
    c.call("GET", "k")
    r.set("k", 1)
    assert c.nothing_pending(0.2)
    assert c.call("PING") == "PONG"


def test_invalidations_follow_a_protocol_switch(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.call("CLIENT", "TRACKING", "on")
    c.call("GET", "k")
    assert isinstance(c.call("HELLO", "3"), dict)
    r.set("k", 1)
    assert c.read() == ("push", b"invalidate", [b"k"])


# ---- BCAST ------------------------------------------------------------------------------

def test_bcast_all_keys_and_prefixes(raw: Any, r: redis.Redis) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", tid) == "OK"
    r.mset({"a": 1, "b": 2, "c": 3})
    assert sorted(invalidated(t)) == [b"a", b"b", b"c"]
    c.call("CLIENT", "TRACKING", "off")
    c.call("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", tid, "PREFIX", "a:", "PREFIX", "b:")
    c.call("MULTI")
    for k in ("a:1", "a:2", "b:1", "b:2", "c:1"):
        c.call("INCR", k)
    c.call("EXEC")
    keys = sorted(invalidated(t) + invalidated(t))  # one message per prefix
    assert keys == [b"a:1", b"a:2", b"b:1", b"b:2"]
    assert c.call("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", tid, "PREFIX", "c:") == "OK"
    r.incr("c:1234")
    assert invalidated(t) == [b"c:1234"]
    info = c.call("CLIENT", "TRACKINGINFO")  # RESP2: a flat array
    assert info[info.index(b"prefixes") + 1] == [b"a:", b"b:", b"c:"]


def test_bcast_noloop_and_expiry(raw: Any, r: redis.Redis) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    c.call("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", tid, "NOLOOP")
    r.set("other1", 1)
    assert invalidated(t) == [b"other1"]
    c.call("SET", "loopkey", 1)
    r.set("other2", 1)
    assert invalidated(t) == [b"other2"]
    # A key we wrote that then expires is the server's doing: NOLOOP does not hide it.
    c.call("SET", "mykey", "v", "PX", "30")
    assert invalidated(t) == [b"mykey"]


def test_bcast_client_ignores_keys_read_before(raw: Any, r: redis.Redis) -> None:
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on")
    c.call("GET", "key1")
    c.call("CLIENT", "TRACKING", "off")
    c.call("CLIENT", "TRACKING", "on", "BCAST")
    r.incr("key1")
    assert c.read() == ("push", b"invalidate", [b"key1"])  # one, from BCAST
    assert c.nothing_pending()


# ---- flushes, table limit ------------------------------------------------------------------

@pytest.mark.parametrize("flush", [("FLUSHALL",), ("FLUSHDB",), ("FLUSHALL", "ASYNC")])
def test_flush_sends_null_invalidation(raw: Any, r: redis.Redis, flush: tuple[str, ...]) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid)
    c.call("GET", "key1")
    c.call("GET", "key2")
    assert r.info("stats")["tracking_total_keys"] == 2
    r.execute_command(*flush)
    assert t.read() == [b"message", INVALIDATE, None]
    assert r.info("stats")["tracking_total_keys"] == 0


def test_flushdb_in_transaction_null_after_reply(raw: Any) -> None:
    c = raw(3)
    c.call("CLIENT", "TRACKING", "on")
    c.call("SET", "a", "1")
    c.call("GET", "a")
    c.call("MULTI")
    c.call("FLUSHDB")
    assert c.call("EXEC") == ["OK"]
    assert c.read() == ("push", b"invalidate", None)


def test_tracking_table_max_keys(raw: Any, r: redis.Redis) -> None:
    t, tid = redirect_target(raw)
    c = raw()
    c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid)
    n = 250
    for i in range(n):
        c.send("GET", f"key{i}")
    for _ in range(n):
        c.read()
    assert r.info("stats")["tracking_total_keys"] == n
    try:
        r.config_set("tracking-table-max-keys", 1)
        got = [invalidated(t) for _ in range(n - 1)]  # evicted keys are invalidated
        assert len({k[0] for k in got}) == n - 1
        assert t.call("PING") == [b"pong", b""]
        assert r.info("stats")["tracking_total_keys"] == 1
    finally:
        r.config_set("tracking-table-max-keys", 1000000)


# ---- commands and errors ---------------------------------------------------------------------

def test_tracking_info_and_getredir(raw: Any) -> None:
    t, tid = redirect_target(raw)
    for resp in (2, 3):
        c = raw(resp)
        flags = (lambda *f: ("set", *f)) if resp == 3 else (lambda *f: list(f))
        info = c.call("CLIENT", "TRACKINGINFO")
        as_map = info if resp == 3 else dict(zip(info[::2], info[1::2], strict=True))
        assert as_map == {b"flags": flags(b"off"), b"redirect": -1, b"prefixes": []}
        assert c.call("CLIENT", "GETREDIR") == -1
        c.call("CLIENT", "TRACKING", "on")
        assert c.call("CLIENT", "GETREDIR") == 0
        c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid, "NOLOOP")
        assert c.call("CLIENT", "GETREDIR") == tid
        info = c.call("CLIENT", "TRACKINGINFO")
        as_map = info if resp == 3 else dict(zip(info[::2], info[1::2], strict=True))
        assert as_map == {b"flags": flags(b"on", b"noloop"), b"redirect": tid, b"prefixes": []}
        c.call("CLIENT", "TRACKING", "off")
        c.call("CLIENT", "TRACKING", "on", "optin")
        c.call("CLIENT", "CACHING", "yes")
        info = c.call("CLIENT", "TRACKINGINFO")
        as_map = info if resp == 3 else dict(zip(info[::2], info[1::2], strict=True))
        assert as_map[b"flags"] == flags(b"on", b"optin", b"caching-yes")
        c.call("CLIENT", "TRACKING", "off")
        c.call("CLIENT", "TRACKING", "on", "optout")
        c.call("CLIENT", "CACHING", "no")
        info = c.call("CLIENT", "TRACKINGINFO")
        as_map = info if resp == 3 else dict(zip(info[::2], info[1::2], strict=True))
        assert as_map[b"flags"] == flags(b"on", b"optout", b"caching-no")
        c.call("CLIENT", "TRACKING", "off")
        c.call("CLIENT", "TRACKING", "on", "BCAST")
        info = c.call("CLIENT", "TRACKINGINFO")
        as_map = info if resp == 3 else dict(zip(info[::2], info[1::2], strict=True))
        assert as_map == {b"flags": flags(b"on", b"bcast"), b"redirect": 0, b"prefixes": [b""]}


TRACKING_ERRORS: list[tuple[tuple[str, ...], str]] = [
    (("CLIENT", "TRACKING", "on", "REDIRECT", "abc"), "ERR value is not an integer or out of range"),
    (("CLIENT", "TRACKING", "on", "REDIRECT", "999999"),
     "ERR The client ID you want redirect to does not exist"),
    (("CLIENT", "TRACKING", "maybe"), "ERR syntax error"),
    (("CLIENT", "TRACKING", "on", "FOO"), "ERR syntax error"),
    (("CLIENT", "TRACKING", "on", "PREFIX"), "ERR syntax error"),
    (("CLIENT", "TRACKING", "on", "PREFIX", "a"), "ERR PREFIX option requires BCAST mode to be enabled"),
    (("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"), "ERR OPTIN and OPTOUT are not compatible with BCAST"),
    (("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
     "ERR You can't specify both OPTIN mode and OPTOUT mode"),
    (("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"),
     "ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single "
     "client must not overlap."),
    (("CLIENT", "TRACKING"), "ERR wrong number of arguments for 'client|tracking' command"),
    (("CLIENT", "CACHING", "yes"), "ERR CLIENT CACHING can be called only when the client is in "
                                   "tracking mode with OPTIN or OPTOUT mode enabled"),
    (("CLIENT", "GETREDIR", "x"), "ERR wrong number of arguments for 'client|getredir' command"),
    (("CLIENT", "TRACKINGINFO", "x"), "ERR wrong number of arguments for 'client|trackinginfo' command"),
]


@pytest.mark.parametrize("cmd,msg", TRACKING_ERRORS)
def test_tracking_errors(raw: Any, cmd: tuple[str, ...], msg: str) -> None:
    c = raw()
    assert c.call(*cmd) == err(msg)


def test_tracking_errors_match_oracle(r: redis.Redis, oracle: redis.Redis, kaa_proc: ServerProcess,
                                      oracle_proc: ServerProcess) -> None:
    def play(port: int) -> list[Any]:
        c, other = RawConn(port), RawConn(port)
        oid = other.call("CLIENT", "ID")
        out = [c.call(*cmd) for cmd, _ in TRACKING_ERRORS if "999999" not in cmd]
        for cmd in (("CLIENT", "TRACKING", "on", "REDIRECT", str(oid), "REDIRECT", str(oid)),
                    ("CLIENT", "TRACKING", "on", "OPTIN"), ("CLIENT", "CACHING", "no"),
                    ("CLIENT", "CACHING", "maybe"), ("CLIENT", "TRACKING", "on", "OPTOUT"),
                    ("CLIENT", "TRACKING", "on", "BCAST"), ("CLIENT", "TRACKING", "off"),
                    ("CLIENT", "TRACKING", "on", "OPTOUT"), ("CLIENT", "CACHING", "yes"),
                    ("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOO",
                                                   "PREFIX", "BAR"),
                    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FO"),
                    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "BARB"),
                    ("CLIENT", "TRACKING", "on"), ("CLIENT", "GETREDIR"), ("CLIENT", "TRACKING", "off"),
                    ("CLIENT", "GETREDIR")):
            out.append(c.call(*cmd))
        c.close()
        other.close()
        return out

    assert play(kaa_proc.port) == play(oracle_proc.port)


# ---- many clients, redis-py cache -----------------------------------------------------------

def test_many_tracking_clients_both_protocols(kaa_proc: ServerProcess, r: redis.Redis, raw: Any) -> None:
    t, tid = redirect_target(raw)
    readers = []
    for i in range(6):
        c = raw(3) if i % 2 else raw()
        if i % 2:
            c.call("CLIENT", "TRACKING", "on")
        else:
            c.call("CLIENT", "TRACKING", "on", "REDIRECT", tid)
        c.call("MGET", "shared", f"own{i}")
        readers.append(c)

    def writer() -> None:
        w = redis.Redis(port=kaa_proc.port)
        w.set("shared", 1)
        for i in range(6):
            w.set(f"own{i}", 1)
        w.close()

    th = threading.Thread(target=writer)
    th.start()
    th.join()
    for i, c in enumerate(readers):
        if i % 2:
            assert c.read() == ("push", b"invalidate", [b"shared"])
            assert c.read() == ("push", b"invalidate", [f"own{i}".encode()])
    redirected = [invalidated(t)[0] for _ in range(6)]
    assert sorted(redirected) == sorted([b"shared"] * 3 + [f"own{i}".encode() for i in (0, 2, 4)])


@pytest.fixture()
def valkey_cache_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py only enables its cache for servers that call themselves 'redis' >= 7.4;
    the protocol it needs (HELLO 3, CLIENT TRACKING, invalidate pushes) is what Kaa speaks."""
    monkeypatch.setattr(CacheProxyConnection, "DEFAULT_SERVER_NAME", "valkey")


def test_redis_py_client_side_cache_sees_invalidations(kaa_proc: ServerProcess, r: redis.Redis,
                                                         valkey_cache_ok: None) -> None:
    cached = redis.Redis(port=kaa_proc.port, protocol=3, cache_config=CacheConfig())
    cache = cached.get_cache()
    assert cache is not None
    r.set("ck", "v1")
    assert cached.get("ck") == b"v1"
    assert cache.size == 1
    calls = r.info("commandstats")["cmdstat_get"]["calls"]
    assert cached.get("ck") == b"v1"  # served from the local cache
    assert r.info("commandstats")["cmdstat_get"]["calls"] == calls
    r.set("ck", "v2")  # another client writes: the server invalidates
    deadline = time.time() + 5
    while cache.size and time.time() < deadline:
        cached.ping()  # lets redis-py read the pending invalidation push
        time.sleep(0.01)
    assert cached.get("ck") == b"v2"
    r.flushall()  # null invalidation: the whole cache goes
    cached.ping()
    assert cached.get("ck") is None
    cached.close()
