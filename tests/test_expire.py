"""Key expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT) TTL PTTL EXPIRETIME
PEXPIRETIME PERSIST against a running kaa-server, lazy and active expiry, and, on an
in-process server with tapped hooks, what is propagated (absolute PEXPIREAT, DEL/UNLINK
for expirations) and which keyspace events fire. The active cycle is also checked on the
engine directly: it must find due keys without walking the keyspace.
"""

from __future__ import annotations

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
from kaa.engine.keyspace import Keyspace, now_ms

NOT_INT = "value is not an integer or out of range"
NX_COMBO = "NX and XX, GT or LT options at the same time are not compatible"
GT_LT = "GT and LT options at the same time are not compatible"




@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = _client(kaa_proc.port)
    client.execute_command("FLUSHALL")
    yield client
    client.close()






def info_int(c: redis.Redis, field: str) -> int:
    text = x(c, "INFO", "stats").decode()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"{field} not in INFO")


# ---------------------------------------------------------------------------
# Setting and reading TTLs
# ---------------------------------------------------------------------------


def test_expire_set_multiple_times_and_ttl(c: redis.Redis) -> None:
    x(c, "SET", "x", "foobar")
    assert x(c, "EXPIRE", "x", "5") == 1
    assert x(c, "TTL", "x") in (4, 5)
    assert x(c, "EXPIRE", "x", "10") == 1
    assert x(c, "TTL", "x") == 10
    assert 9900 < x(c, "PTTL", "x") <= 10000
    assert x(c, "GET", "x") == b"foobar"
    assert x(c, "EXPIRE", "nokey", "10") == 0


def test_ttl_rounds_to_nearest_second(c: redis.Redis) -> None:
    x(c, "SET", "k", "v")
    x(c, "PEXPIRE", "k", "2900")  # 2.5 s or more left: rounds to 3
    assert x(c, "TTL", "k") == 3
    x(c, "PEXPIRE", "k", "2300")  # between 1.5 and 2.5 s left: rounds to 2
    assert x(c, "TTL", "k") == 2


def test_ttl_family_without_expire_and_missing(c: redis.Redis) -> None:
    x(c, "SET", "x", "hello")
    assert [x(c, cmd, "x") for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")] == [-1] * 4
    assert [x(c, cmd, "no") for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")] == [-2] * 4
    assert err(c, "TTL") == "wrong number of arguments for 'ttl' command"
    assert err(c, "PTTL", "a", "b") == "wrong number of arguments for 'pttl' command"


def test_absolute_forms(c: redis.Redis) -> None:
    at = int(time.time()) + 100
    x(c, "SET", "a", "v")
    assert x(c, "EXPIREAT", "a", at) == 1
    assert x(c, "EXPIRETIME", "a") == at
    assert x(c, "PEXPIRETIME", "a") == at * 1000
    pat = now_ms() + 100000
    assert x(c, "PEXPIREAT", "a", pat) == 1
    assert x(c, "PEXPIRETIME", "a") == pat
    assert x(c, "EXPIRETIME", "a") == (pat + 500) // 1000
    assert x(c, "PEXPIREAT", "a", "9223372036854770000") == 1
    assert x(c, "PEXPIRETIME", "a") == 9223372036854770000


def test_sub_second_expiry(c: redis.Redis) -> None:
    x(c, "SET", "x", "v")
    x(c, "PEXPIRE", "x", "300")
    assert x(c, "GET", "x") == b"v"
    time.sleep(0.4)
    assert x(c, "GET", "x") is None
    assert x(c, "EXISTS", "x") == 0


def test_persist(c: redis.Redis) -> None:
    x(c, "SET", "x", "foo")
    x(c, "EXPIRE", "x", "50")
    assert x(c, "PERSIST", "x") == 1
    assert x(c, "TTL", "x") == -1
    assert x(c, "PERSIST", "x") == 0
    assert x(c, "PERSIST", "nokey") == 0
    assert x(c, "GET", "x") == b"foo"


# ---------------------------------------------------------------------------
# NX XX GT LT
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initial", "new", "opts", "reply", "ttl_range"),
    [
        (100, 200, ["NX"], 0, (50, 100)),
        (None, 200, ["NX"], 1, (100, 200)),
        (100, 200, ["XX"], 1, (100, 200)),
        (None, 200, ["XX"], 0, (-1, -1)),
        (100, 200, ["GT"], 1, (100, 200)),
        (200, 100, ["GT"], 0, (100, 200)),
        (None, 200, ["GT"], 0, (-1, -1)),
        (100, 200, ["LT"], 0, (50, 100)),
        (200, 100, ["LT"], 1, (50, 100)),
        (None, 100, ["LT"], 1, (50, 100)),
        (200, 100, ["LT", "XX"], 1, (50, 100)),
        (None, 200, ["lt", "xx"], 0, (-1, -1)),
        (100, 200, ["gt", "GT"], 1, (100, 200)),
    ],
)
def test_expire_conditions(c: redis.Redis, initial: int | None, new: int, opts: list[str],
                           reply: int, ttl_range: tuple[int, int]) -> None:
    if initial is None:
        x(c, "SET", "foo", "bar")
    else:
        x(c, "SET", "foo", "bar", "EX", initial)
    assert x(c, "EXPIRE", "foo", new, *opts) == reply
    assert ttl_range[0] <= x(c, "TTL", "foo") <= ttl_range[1]


def test_gt_lt_need_a_strictly_later_or_earlier_deadline(c: redis.Redis) -> None:
    at = now_ms() + 100000
    x(c, "SET", "foo", "bar", "PXAT", at)
    assert x(c, "PEXPIREAT", "foo", at, "GT") == 0
    assert x(c, "PEXPIREAT", "foo", at, "LT") == 0
    assert x(c, "PEXPIREAT", "foo", at + 1, "GT") == 1
    assert x(c, "PEXPIREAT", "foo", at, "LT") == 1
    assert x(c, "PEXPIRETIME", "foo") == at


def test_expire_option_errors(c: redis.Redis) -> None:
    x(c, "SET", "foo", "bar")
    assert err(c, "EXPIRE", "foo", "200", "LT", "GT") == GT_LT
    for combo in (["NX", "GT"], ["NX", "LT"], ["NX", "XX"], ["XX", "NX"]):
        assert err(c, "EXPIRE", "foo", "200", *combo) == NX_COMBO
    assert err(c, "EXPIRE", "foo", "200", "AB") == "Unsupported option AB"
    assert err(c, "PEXPIRE", "foo", "200", "XX", "AB") == "Unsupported option AB"
    # Options are checked before the time and before the key.
    assert err(c, "EXPIRE", "nokey", "abc", "FOO") == "Unsupported option FOO"
    assert err(c, "EXPIREAT", "foo", "x", "NX", "XX") == NX_COMBO
    assert err(c, "EXPIRE", "foo", "") == NOT_INT
    assert err(c, "EXPIRE", "foo", "1.5") == NOT_INT
    assert err(c, "EXPIRE", "foo") == "wrong number of arguments for 'expire' command"
    for opt in ("NX", "XX", "GT", "LT"):
        assert x(c, "EXPIRE", "none", "100", opt) == 0
    assert x(c, "TTL", "foo") == -1


def test_expire_overflow_errors(c: redis.Redis) -> None:
    x(c, "SET", "foo", "bar")
    for secs in ("9223370399119966", "9223372036854776", "10000000000000000", "18446744073709561",
                 "-9223372036854776", "-9999999999999999"):
        assert err(c, "EXPIRE", "foo", secs) == "invalid expire time in 'expire' command"
    assert err(c, "EXPIREAT", "foo", "9223372036854776") == "invalid expire time in 'expireat' command"
    assert err(c, "PEXPIRE", "foo", "9223372036854770000") == "invalid expire time in 'pexpire' command"
    assert x(c, "TTL", "foo") == -1


def test_past_deadlines_delete_the_key(c: redis.Redis) -> None:
    x(c, "SET", "foo", "bar", "EX", "100")
    assert x(c, "EXPIRE", "foo", "-10", "LT") == 1
    assert x(c, "TTL", "foo") == -2
    x(c, "SET", "foo", "bar")
    assert x(c, "EXPIRE", "foo", "0") == 1
    assert x(c, "EXISTS", "foo") == 0
    x(c, "SET", "foo", "bar")
    assert x(c, "PEXPIREAT", "foo", "-9223372036854770000") == 1
    assert x(c, "TTL", "foo") == -2
    x(c, "SET", "foo", "bar")
    assert x(c, "EXPIREAT", "foo", int(time.time()) - 100) == 1
    assert x(c, "DBSIZE") == 0


# ---------------------------------------------------------------------------
# Lazy and active expiry
# ---------------------------------------------------------------------------


def test_active_expiry_removes_untouched_keys_and_counts_them(c: redis.Redis) -> None:
    before = info_int(c, "expired_keys")
    x(c, "MSET", *[a for i in range(500) for a in (f"keep:{i}", "v")])
    pipe = c.pipeline(transaction=False)
    for i in range(200):
        pipe.execute_command("SET", f"tmp:{i}", "v", "PX", "200")
    pipe.execute()
    deadline = time.time() + 3
    while time.time() < deadline and x(c, "DBSIZE") != 500:
        time.sleep(0.05)
    assert x(c, "DBSIZE") == 500
    assert info_int(c, "expired_keys") - before == 200


@pytest.fixture()
def no_active_expire(c: redis.Redis) -> Iterator[redis.Redis]:
    assert x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    try:
        yield c
    finally:
        x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_lazy_expiry_on_access(no_active_expire: redis.Redis) -> None:
    c = no_active_expire
    before = info_int(c, "expired_keys")
    for k in ("key1", "key2", "key3"):
        x(c, "PSETEX", k, "50", "a")
    time.sleep(0.3)
    assert x(c, "DBSIZE") == 3  # nothing touched them, and active expiry is off
    assert x(c, "MGET", "key1", "key2", "key3") == [None, None, None]
    assert x(c, "DBSIZE") == 0
    assert info_int(c, "expired_keys") - before == 3


def test_expire_does_not_resurrect_keys(no_active_expire: redis.Redis) -> None:
    c = no_active_expire
    x(c, "SET", "foo", "bar")
    x(c, "PEXPIRE", "foo", "50")
    time.sleep(0.1)
    assert x(c, "EXPIRE", "foo", "10") == 0
    assert x(c, "EXISTS", "foo") == 0


def test_del_and_scan_of_lazily_expired_keys(no_active_expire: redis.Redis) -> None:
    c = no_active_expire
    x(c, "SET", "a", "v", "PX", "20")
    x(c, "SET", "b", "v", "PX", "20")
    x(c, "SET", "live", "v")
    time.sleep(0.06)
    assert x(c, "DEL", "a") == 0
    assert x(c, "DBSIZE") == 2  # a is gone, b still waits for an access
    assert x(c, "SCAN", "0") == [b"0", [b"live"]]
    assert x(c, "DBSIZE") == 1


# ---------------------------------------------------------------------------
# Propagation and events (in-process server with tapped hooks)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, Tap]]:
    with tapped_server(enable_debug_command="yes") as et:
        yield et


@pytest.fixture()
def ec(embedded: tuple[EmbeddedServer, Tap]) -> Iterator[tuple[redis.Redis, Tap]]:
    e, tap = embedded
    client = _client(e.port)
    x(client, "FLUSHALL")
    x(client, "CONFIG", "SET", "lazyfree-lazy-expire", "yes")
    tap.clear()
    yield client, tap
    x(client, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
    client.close()


def test_relative_expires_propagate_as_absolute_pexpireat(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "k", "v")
    tap.clear()
    t0 = now_ms()
    x(c, "EXPIRE", "k", "100")
    x(c, "PEXPIRE", "k", "200000", "GT")
    at = int(time.time()) + 300
    x(c, "EXPIREAT", "k", at)
    x(c, "pexpireat", "k", str(at * 1000 + 1), "gt")
    x(c, "EXPIRE", "k", "5", "GT")  # refused: nothing propagated
    t1 = now_ms()
    assert [p[0] for p in tap.props] == [b"PEXPIREAT", b"PEXPIREAT", b"PEXPIREAT", b"pexpireat"]
    assert t0 + 100000 <= int(tap.props[0][2]) <= t1 + 100000
    assert tap.props[1][3:] == [b"GT"]
    assert t0 + 200000 <= int(tap.props[1][2]) <= t1 + 200000
    assert tap.props[2] == [b"PEXPIREAT", b"k", str(at * 1000).encode()]
    assert tap.props[3] == [b"pexpireat", b"k", str(at * 1000 + 1).encode(), b"gt"]
    assert tap.events == [("expire", b"k")] * 4


def test_past_expire_propagates_unlink_or_del(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "a", "v")
    x(c, "SET", "b", "v")
    tap.clear()
    assert x(c, "EXPIREAT", "a", int(time.time()) - 100) == 1
    x(c, "CONFIG", "SET", "lazyfree-lazy-expire", "no")
    assert x(c, "PEXPIRE", "b", "-1") == 1
    assert tap.props == [[b"UNLINK", b"a"], [b"DEL", b"b"]]
    # Deleted by the command, not expired: a `del` event, and not counted as expired.
    assert tap.events == [("del", b"a"), ("del", b"b")]


def test_persist_propagation_and_event(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "SET", "k", "v", "EX", "100")
    tap.clear()
    assert x(c, "PERSIST", "k") == 1
    assert x(c, "PERSIST", "k") == 0
    assert tap.props == [[b"PERSIST", b"k"]]
    assert tap.events == [("persist", b"k")]


def test_lazy_expire_propagates_deletion_not_the_read(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    x(c, "SET", "foo", "bar", "PX", "1")
    time.sleep(0.01)
    tap.clear()
    ks = tap.srv.keyspace
    before = ks.expired_keys
    assert x(c, "GET", "foo") is None
    x(c, "SET", "x", "1")
    assert tap.props == [[b"UNLINK", b"foo"], [b"SET", b"x", b"1"]]
    assert ("expired", b"foo") in tap.events
    assert ks.expired_keys - before == 1


def test_scan_and_randomkey_lazy_expire_propagate_each_key(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    x(c, "SET", "foo1", "bar", "PX", "1")
    x(c, "SET", "foo2", "bar", "PX", "1")
    time.sleep(0.01)
    tap.clear()
    assert x(c, "SCAN", "0") == [b"0", []]
    assert sorted(tap.props) == [[b"UNLINK", b"foo1"], [b"UNLINK", b"foo2"]]
    x(c, "SET", "foo3", "bar", "PX", "1")
    x(c, "SET", "foo4", "bar", "PX", "1")
    time.sleep(0.01)
    tap.clear()
    assert x(c, "RANDOMKEY") is None
    assert sorted(tap.props) == [[b"UNLINK", b"foo3"], [b"UNLINK", b"foo4"]]


def test_active_expire_propagates_and_notifies(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "CONFIG", "SET", "lazyfree-lazy-expire", "no")
    x(c, "SET", "a", "v", "PX", "50")
    x(c, "SET", "b", "v", "PX", "50")
    tap.clear()
    deadline = time.time() + 3
    while time.time() < deadline and len(tap.props) < 2:
        time.sleep(0.02)
    assert sorted(tap.props) == [[b"DEL", b"a"], [b"DEL", b"b"]]
    assert sorted(tap.events) == [("expired", b"a"), ("expired", b"b")]


# ---------------------------------------------------------------------------
# The engine's active cycle
# ---------------------------------------------------------------------------


class CountingDict(dict):  # type: ignore[type-arg]
    """A dict that counts walks over it (an active cycle must not do any)."""

    walks = 0

    def __iter__(self) -> Any:
        CountingDict.walks += 1
        return super().__iter__()

    def keys(self) -> Any:
        CountingDict.walks += 1
        return super().keys()

    def items(self) -> Any:
        CountingDict.walks += 1
        return super().items()


def test_active_cycle_touches_only_due_keys() -> None:
    ks = Keyspace(2)
    db = ks.dbs[1]
    db.data = CountingDict()
    db.expires = CountingDict()
    now = now_ms()
    for i in range(20000):
        db.add(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, now + 3_600_000)
    for i in range(10):
        db.add(b"due%d" % i, b"v")
        db.set_expire(b"due%d" % i, now - 1)
    expired: list[bytes] = []
    ks.propagate_expire = lambda d, k: expired.append(k)
    CountingDict.walks = 0
    assert ks.active_expire_cycle() == 10
    assert CountingDict.walks == 0
    assert sorted(expired) == sorted(b"due%d" % i for i in range(10))
    assert len(db) == 20000 and ks.expired_keys == 10
    assert db.avg_ttl > 3_500_000  # the sampled average TTL of the remaining keys


def test_active_cycle_respects_its_time_budget_and_switch() -> None:
    ks = Keyspace(1)
    db = ks.dbs[0]
    past = now_ms() - 10
    for i in range(50000):
        db.add(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, past)
    ks.active_expire_enabled = False
    assert ks.active_expire_cycle() == 0
    ks.active_expire_enabled = True
    n = ks.active_expire_cycle(budget_s=0.001)
    assert 0 < n < 50000
    assert ks.expired_time_cap_reached_count == 1
    while ks.active_expire_cycle():
        pass
    assert len(db) == 0 and ks.expired_keys == 50000


def test_rewriting_a_ttl_keeps_the_heap_bounded() -> None:
    ks = Keyspace(1)
    db = ks.dbs[0]
    db.add(b"k", b"v")
    far = now_ms() + 10_000_000
    for i in range(20000):
        db.set_expire(b"k", far + i)
    assert len(db.heap) <= 2 * len(db.expires) + 1025
    db.set_expire(b"k", now_ms() - 1)
    assert ks.active_expire_cycle() == 1
    assert len(db) == 0


def test_replica_style_expiry_reports_missing_without_deleting() -> None:
    ks = Keyspace(1)
    db = ks.dbs[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", now_ms() - 1)
    ks.lazy_expire_enabled = False
    assert db.lookup(b"k") is None
    assert db.lookup_read(b"k") is None
    assert b"k" in db.data and ks.expired_keys == 0
    ks.lazy_expire_enabled = True
    assert db.lookup(b"k") is None
    assert b"k" not in db.data and ks.expired_keys == 1


def test_relative_deadline_is_never_already_expired(ec: tuple[redis.Redis, Tap],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Valkey reads the clock once per command, so SET PX 1 and PEXPIRE k 1 always
    store a deadline. A clock that ticks between Kaa's reads must not turn them into
    deletions (this raced on loaded machines before)."""
    import kaa.commands.expire as expire_mod
    import kaa.commands.strings as strings_mod

    c, tap = ec
    base = now_ms() + 10_000  # a clock that moves one millisecond at every reading
    ticks = iter(range(base, base + 1_000_000))
    monkeypatch.setattr(strings_mod, "now_ms", lambda: next(ticks))
    monkeypatch.setattr(expire_mod, "now_ms", lambda: next(ticks))
    assert x(c, "SET", "px1", "v", "PX", "1") == b"OK"
    assert x(c, "SET", "k", "v") == b"OK"
    assert x(c, "PEXPIRE", "k", "1") == 1
    assert [p[0] for p in tap.props] == [b"SET", b"SET", b"PEXPIREAT"]
    assert [e for e, _ in tap.events if e == "del"] == []
