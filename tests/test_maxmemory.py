"""maxmemory: the out-of-memory refusal of denyoom commands, the eviction policies, the
eviction statistics and notification, and the OOM paths of MULTI/EXEC and scripts.

These tests run against their own kaa-server (module scope): they change maxmemory,
which must never leak into the shared session server. Differential tests compare the
deterministic parts (error texts, EXECABORT, the ``evicted`` event) with the oracle.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.known_differences import KNOWN_DIFFERENCES
from tests.support.commands import raw_client, x
from tests.support.servers import ServerProcess, start_kaa

OOM = "OOM command not allowed when used memory > 'maxmemory'."
OOM_SCRIPT_FLAGS = ("OOM allow-oom flag is not set on the script, can not run it when used "
                    "memory > 'maxmemory'")


@pytest.fixture(scope="module")
def mm_proc() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    alive = p.alive()
    p.stop()
    assert alive, "kaa-server died during the maxmemory tests"


def _reset(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction",
      "maxmemory-samples", "5", "maxmemory-eviction-tenacity", "10",
      "notify-keyspace-events", "", "lfu-log-factor", "10", "lazyfree-lazy-eviction", "yes")
    x(c, "FLUSHALL")
    x(c, "FUNCTION", "FLUSH")
    x(c, "SCRIPT", "FLUSH")
    x(c, "CONFIG", "RESETSTAT")


@pytest.fixture()
def m(mm_proc: ServerProcess) -> Iterator[redis.Redis]:
    c = raw_client(mm_proc.port)
    _reset(c)
    yield c
    _reset(c)
    c.close()


@pytest.fixture()
def o(oracle: redis.Redis) -> Iterator[redis.Redis]:
    """The oracle with raw replies, put back to no limit afterwards."""
    c = raw_client(oracle.connection_pool.connection_kwargs["port"])
    yield c
    x(c, "CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction",
      "notify-keyspace-events", "")
    x(c, "FLUSHALL")
    x(c, "FUNCTION", "FLUSH")
    c.close()


def e_text(e: redis.ResponseError) -> str:
    """The whole error text: redis-py strips the OOM / EXECABORT codes it maps to classes."""
    if isinstance(e, redis.exceptions.OutOfMemoryError):
        return "OOM " + str(e)
    if isinstance(e, redis.exceptions.ExecAbortError):
        return "EXECABORT " + str(e)
    return str(e)


def err(c: redis.Redis, *args: Any) -> str:
    """Send one command that must fail; its whole error text."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return e_text(e.value)


def info(c: redis.Redis, section: str) -> dict[str, str]:
    text = x(c, "INFO", section).decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def used(c: redis.Redis) -> int:
    return int(info(c, "memory")["used_memory"])


def evicted(c: redis.Redis) -> int:
    return int(info(c, "stats")["evicted_keys"])


def fill(c: redis.Redis, prefix: str, n: int, ttl: int | None = None, value: bytes = b"v" * 50) -> list[bytes]:
    pipe = c.pipeline(transaction=False)
    keys = [f"{prefix}{i}".encode() for i in range(n)]
    for k in keys:
        if ttl is None:
            pipe.execute_command("SET", k, value)
        else:
            pipe.execute_command("SET", k, value, "EX", ttl)
    pipe.execute()
    return keys


def present(c: redis.Redis, keys: list[bytes]) -> set[bytes]:
    pipe = c.pipeline(transaction=False)
    for k in keys:
        pipe.execute_command("EXISTS", k)
    return {k for k, e in zip(keys, pipe.execute(), strict=True) if e}


def squeeze(c: redis.Redis, nbytes: int, policy: str, samples: int = 5) -> int:
    """Set the policy and a limit nbytes below the current usage; returns the limit.

    Tenacity 100 lifts the time limit: a loaded test machine must not leave the eviction
    half done (EVICT_RUNNING) when the assertions look."""
    x(c, "CONFIG", "SET", "maxmemory-policy", policy, "maxmemory-samples", str(samples),
      "maxmemory-eviction-tenacity", "100")
    limit = used(c) - nbytes
    x(c, "CONFIG", "SET", "maxmemory", str(limit))
    x(c, "PING")  # the gate of the next command evicts whatever the timer left
    return limit


def wait_clock_tick() -> None:
    """Access times use the cron's coarse clock (hz 10): let it move on."""
    time.sleep(0.25)


# ---- the OOM error ------------------------------------------------------------------------

def test_noeviction_refuses_denyoom_commands_exact_text(m: redis.Redis) -> None:
    x(m, "SET", "foo", "bar")
    x(m, "CONFIG", "SET", "maxmemory", "1")
    assert err(m, "SET", "x", "1") == OOM
    assert err(m, "LPUSH", "l", "a") == OOM
    assert err(m, "APPEND", "foo", "z") == OOM
    # Reads and deletions still work: they do not add memory.
    assert x(m, "GET", "foo") == b"bar"
    assert x(m, "EXISTS", "foo") == 1
    assert x(m, "EXPIRE", "foo", "100") == 1  # a write, but not flagged denyoom
    assert x(m, "DEL", "foo") == 1
    assert err(m, "INCR", "counter") == OOM
    stats = info(m, "errorstats")
    assert stats["errorstat_OOM"] == "count=4"
    assert "rejected_calls=1" in info(m, "commandstats")["cmdstat_set"]
    x(m, "CONFIG", "SET", "maxmemory", "0")
    assert x(m, "SET", "x", "1") == b"OK"


def test_oom_error_matches_oracle(m: redis.Redis, o: redis.Redis) -> None:
    def run(c: redis.Redis) -> list[Any]:
        out: list[Any] = [x(c, "SET", "foo", "bar"), x(c, "CONFIG", "SET", "maxmemory", "1")]
        for cmd in (("SET", "x", "1"), ("GET", "foo"), ("SADD", "s", "m"), ("DEL", "foo"),
                    ("SETRANGE", "k", "10", "x"), ("GET", "nokey")):
            try:
                out.append(x(c, *cmd))
            except redis.ResponseError as e:
                out.append(("err", e_text(e)))
        x(c, "CONFIG", "SET", "maxmemory", "0")
        return out

    assert run(m) == run(o)


def test_info_memory_fields(m: redis.Redis) -> None:
    x(m, "CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", "allkeys-lru")
    mem = info(m, "memory")
    assert mem["maxmemory"] == str(10 * 1024 * 1024)
    assert mem["maxmemory_human"] == "10.00M"
    assert mem["maxmemory_policy"] == "allkeys-lru"
    assert mem["mem_not_counted_for_evict"] == "0"


def test_eviction_exceeded_time_counts_while_over_the_limit(m: redis.Redis) -> None:
    x(m, "CONFIG", "SET", "maxmemory", "1")
    x(m, "GET", "x")  # the check before this command finds memory over the limit
    time.sleep(0.05)
    st = info(m, "stats")
    assert int(st["current_eviction_exceeded_time"]) >= 40
    assert int(st["total_eviction_exceeded_time"]) >= int(st["current_eviction_exceeded_time"])
    x(m, "CONFIG", "SET", "maxmemory", "0")
    st = info(m, "stats")
    assert st["current_eviction_exceeded_time"] == "0"
    assert int(st["total_eviction_exceeded_time"]) >= 40
    x(m, "CONFIG", "RESETSTAT")
    assert info(m, "stats")["total_eviction_exceeded_time"] == "0"


# ---- MULTI / EXEC ----------------------------------------------------------------------------

def test_multi_queueing_rejects_denyoom_and_exec_aborts(m: redis.Redis, o: redis.Redis) -> None:
    def run(c: redis.Redis, cmds: list[tuple[str, ...]]) -> list[Any]:
        x(c, "SET", "x", "v")
        x(c, "CONFIG", "SET", "maxmemory", "1")
        out: list[Any] = [x(c, "MULTI")]
        for cmd in cmds:
            try:
                out.append(x(c, *cmd))
            except redis.ResponseError as e:
                out.append(("err", e_text(e)))
        try:
            out.append(x(c, "EXEC"))
        except redis.ResponseError as e:
            out.append(("err", e_text(e)))
        x(c, "CONFIG", "SET", "maxmemory", "0")
        out.append(x(c, "EXISTS", "y"))
        return out

    aborted = ("err", "EXECABORT Transaction discarded because of previous errors.")
    got = run(m, [("SET", "y", "1")])
    assert got == [b"OK", ("err", OOM), aborted, 0]
    assert got == run(o, [("SET", "y", "1")])
    # Valkey 8 still queues commands that are not denyoom; Redis 7.0 does not.
    assert "multi-oom-queueing" in KNOWN_DIFFERENCES
    assert run(m, [("SET", "y", "1"), ("GET", "x"), ("EVAL", "#!lua\nreturn 1", "0")]) == [
        b"OK", ("err", OOM), b"QUEUED", ("err", OOM), aborted, 0]


def test_exec_with_a_queued_write_is_refused_when_oom_arrives(mm_proc: ServerProcess, m: redis.Redis,
                                                             o: redis.Redis) -> None:
    def run(c: redis.Redis) -> list[Any]:
        other = raw_client(c.connection_pool.connection_kwargs["port"])
        try:
            out: list[Any] = [x(c, "MULTI"), x(c, "SET", "x", "1"), x(c, "GET", "x")]
            x(other, "CONFIG", "SET", "maxmemory", "1")
            try:
                out.append(x(c, "EXEC"))
            except redis.ResponseError as e:
                out.append(("err", e_text(e)))
            x(other, "CONFIG", "SET", "maxmemory", "0")
            out.append(x(c, "EXISTS", "x"))
            return out
        finally:
            other.close()

    got = run(m)
    assert got[3] == ("err", "EXECABORT Transaction discarded because of: " + OOM)
    assert got == run(o)


def test_exec_with_only_reads_and_discard_work_when_oom(m: redis.Redis) -> None:
    x(m, "SET", "x", "value")
    x(m, "CONFIG", "SET", "maxmemory", "1")
    x(m, "MULTI")
    x(m, "GET", "x")
    x(m, "PING")
    assert x(m, "EXEC") == [b"value", b"PONG"]
    x(m, "MULTI")
    assert err(m, "SET", "y", "1") == OOM
    assert x(m, "DISCARD") == b"OK"
    assert x(m, "PING") == b"PONG"


# ---- scripts -------------------------------------------------------------------------------

def test_script_without_shebang_cannot_write_when_oom(m: redis.Redis, o: redis.Redis) -> None:
    def run(c: redis.Redis) -> list[Any]:
        x(c, "SET", "x", "123")
        x(c, "CONFIG", "SET", "maxmemory", "1")
        out: list[Any] = []
        for script in ("return redis.call('set', KEYS[1], 1)",
                       "return redis.call('get', KEYS[1])",
                       "local t = redis.pcall('set', KEYS[1], 1) return t['err']"):
            try:
                out.append(x(c, "EVAL", script, "1", "x"))
            except redis.ResponseError as e:
                out.append(("err", e_text(e).split(" script:")[0]))
        x(c, "CONFIG", "SET", "maxmemory", "0")
        return out

    got = run(m)
    assert got == [("err", OOM), b"123", OOM.encode()]
    assert got == run(o)


def test_script_shebang_flags_decide_before_running(m: redis.Redis) -> None:
    x(m, "SET", "x", "123")
    x(m, "CONFIG", "SET", "maxmemory", "1")
    # A script with flags and without allow-oom is denyoom as a whole.
    assert err(m, "EVAL", "#!lua\nreturn 1", "0") == OOM
    assert err(m, "EVAL", "#!lua flags=\nreturn 1", "0") == OOM
    assert x(m, "EVAL", "#!lua flags=allow-oom\nredis.call('set', KEYS[1], 1) return 1", "1", "x") == 1
    assert x(m, "GET", "x") == b"1"
    assert x(m, "EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "x") == b"1"
    assert x(m, "EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "x") == b"1"
    sha = x(m, "SCRIPT", "LOAD", "#!lua\nreturn 2")
    assert err(m, "EVALSHA", sha, "0") == OOM
    x(m, "CONFIG", "SET", "maxmemory", "0")
    assert x(m, "EVALSHA", sha, "0") == 2


def test_functions_oom(m: redis.Redis) -> None:
    lib = ("#!lua name=lib\n"
           "server.register_function('w', function(k) return server.call('set', k[1], 'v') end)\n"
           "server.register_function{function_name='ok', callback=function(k) "
           "return server.call('set', k[1], 'o') end, flags={'allow-oom'}}\n"
           "server.register_function{function_name='ro', callback=function() return 'hi' end, "
           "flags={'no-writes'}}")
    assert x(m, "FUNCTION", "LOAD", lib) == b"lib"
    payload = x(m, "FUNCTION", "DUMP")
    x(m, "CONFIG", "SET", "maxmemory", "1")
    assert err(m, "FCALL", "w", "1", "k") == OOM
    assert x(m, "FCALL", "ok", "1", "k") == b"OK"
    assert x(m, "FCALL", "ro", "0") == b"hi"
    assert x(m, "FCALL_RO", "ro", "0") == b"hi"
    assert err(m, "FUNCTION", "LOAD", "REPLACE", lib) == OOM
    assert err(m, "FUNCTION", "RESTORE", payload, "REPLACE") == OOM
    x(m, "CONFIG", "SET", "maxmemory", "0")
    assert x(m, "FCALL", "w", "1", "k") == b"OK"


def test_script_flags_oom_checked_by_exec(m: redis.Redis, mm_proc: ServerProcess) -> None:
    x(m, "MULTI")
    # Queued before the OOM: a script with flags and without allow-oom makes EXEC denyoom.
    assert x(m, "EVAL", "#!lua\nreturn 1", "0") == b"QUEUED"
    other = raw_client(mm_proc.port)
    try:
        x(other, "CONFIG", "SET", "maxmemory", "1")
        assert err(m, "EXEC") == "EXECABORT Transaction discarded because of: " + OOM
        x(m, "MULTI")
        assert x(m, "EVAL", "#!lua flags=allow-oom\nreturn 1", "0") == b"QUEUED"
        assert x(m, "EVAL", "return 2", "0") == b"QUEUED"
        assert x(m, "EXEC") == [1, 2]
    finally:
        other.close()


# ---- eviction policies ------------------------------------------------------------------

def test_allkeys_random_evicts_until_under_the_limit(m: redis.Redis) -> None:
    keys = fill(m, "k", 300)
    limit = squeeze(m, 8000, "allkeys-random")
    left = present(m, keys)
    assert 0 < len(left) < 300
    assert used(m) <= limit
    assert evicted(m) == 300 - len(left)
    assert int(x(m, "DBSIZE")) == len(left)
    # Writes keep working: each makes room for itself.
    for i in range(100):
        x(m, "SET", f"new{i}", "v" * 50)
    assert used(m) <= limit + 200


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_never_evict_keys_without_ttl(m: redis.Redis, policy: str) -> None:
    persistent = fill(m, "p", 100)
    volatile = fill(m, "v", 100, ttl=1000)
    squeeze(m, 5000, policy)
    assert present(m, persistent) == set(persistent)
    left = present(m, volatile)
    assert len(left) < 100
    # Squeeze past everything volatile: the rest cannot go, so writes are refused.
    x(m, "CONFIG", "SET", "maxmemory", "1")
    assert err(m, "SET", "another", "x") == OOM
    assert present(m, persistent) == set(persistent)
    assert present(m, volatile) == set()
    assert evicted(m) == 100


def test_volatile_ttl_evicts_soonest_expiry_first(m: redis.Redis) -> None:
    # With maxmemory-samples >= the number of keys every key is sampled each time,
    # so the choice is exact: deadlines in increasing order.
    pipe = m.pipeline(transaction=False)
    keys = [f"t{i}".encode() for i in range(40)]
    for i, k in enumerate(keys):
        pipe.execute_command("SET", k, "v" * 50, "EX", 1000 + 10 * ((i * 7) % 40))
    pipe.execute()
    fill(m, "p", 20)  # no TTL: never a candidate
    squeeze(m, 2000, "volatile-ttl", samples=64)
    gone = [k for k in keys if k not in present(m, keys)]
    assert gone
    ttl_of = {k: 1000 + 10 * ((i * 7) % 40) for i, k in enumerate(keys)}
    order = sorted(keys, key=ttl_of.__getitem__)
    assert sorted(gone, key=ttl_of.__getitem__) == order[: len(gone)]


def test_volatile_ttl_with_sampling_prefers_sooner_deadlines(m: redis.Redis) -> None:
    soon = fill(m, "soon", 60, ttl=100)
    late = fill(m, "late", 240, ttl=100000)
    squeeze(m, 4000, "volatile-ttl", samples=10)
    gone_soon = 60 - len(present(m, soon))
    gone_late = 240 - len(present(m, late))
    assert gone_soon > 0
    # Sampling 10 of 300 keys and keeping a pool of the best 16: a late key can only be
    # chosen once no sampled soon key is left in the pool.
    assert gone_late <= gone_soon


def test_lru_exact_with_full_sampling(m: redis.Redis) -> None:
    keys = fill(m, "k", 50)
    wait_clock_tick()
    hot = keys[::2]
    for k in hot:
        x(m, "GET", k)
    squeeze(m, 2500, "allkeys-lru", samples=64)
    left = present(m, keys)
    assert len(left) < 50
    assert set(hot) <= left  # every evicted key is an idle one


def test_lru_evicts_idle_keys_before_recently_touched(m: redis.Redis) -> None:
    cold = fill(m, "cold", 80)
    wait_clock_tick()
    hot = fill(m, "hot", 20)
    wait_clock_tick()
    for k in hot:
        x(m, "GET", k)
    # About 20 keys must go. Each pick samples 10 of the 100 keys into a pool of 16:
    # only a pool without any cold key could give up a hot one (odds ~1e-8).
    squeeze(m, 2500, "allkeys-lru", samples=10)
    assert present(m, hot) == set(hot)
    assert len(present(m, cold)) < 80


def test_volatile_lru_respects_access_times(m: redis.Redis) -> None:
    idle = fill(m, "idle", 30, ttl=1000)
    wait_clock_tick()
    busy = fill(m, "busy", 10, ttl=1000)
    keep = fill(m, "keep", 10)
    squeeze(m, 1500, "volatile-lru", samples=64)
    assert present(m, busy) == set(busy)
    assert present(m, keep) == set(keep)
    assert len(present(m, idle)) < 30


def test_lfu_evicts_rarely_used_keys(m: redis.Redis) -> None:
    # lfu-log-factor 0: every access increments the counter, so ranks are exact.
    x(m, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu", "lfu-log-factor", "0")
    rare = fill(m, "rare", 40)
    freq = fill(m, "freq", 20)
    for _ in range(5):
        for k in freq:
            x(m, "GET", k)
    assert int(x(m, "OBJECT", "FREQ", freq[0])) == 10
    assert int(x(m, "OBJECT", "FREQ", rare[0])) == 5
    squeeze(m, 2000, "allkeys-lfu", samples=10)
    assert present(m, freq) == set(freq)
    assert len(present(m, rare)) < 40


def test_memory_limit_honoured_while_writing(m: redis.Redis) -> None:
    for policy in ("allkeys-lru", "volatile-ttl"):
        x(m, "FLUSHALL")
        limit = used(m) + 60 * 1024
        x(m, "CONFIG", "SET", "maxmemory", str(limit), "maxmemory-policy", policy)
        for i in range(2000):
            x(m, "SET", f"key:{i}", "x" * 20, "EX", 10000)
        assert used(m) < limit + 1024
        assert evicted(m) > 0
        assert int(x(m, "DBSIZE")) < 2000


def test_used_memory_follows_writes_flushes_and_swaps(m: redis.Redis) -> None:
    x(m, "CONFIG", "SET", "maxmemory", "1gb", "maxmemory-policy", "allkeys-lru")
    base = used(m)
    x(m, "SET", "big", "x" * 100_000)
    grown = used(m)
    assert 100_000 <= grown - base < 101_000
    x(m, "SETRANGE", "big", "200000", "y")  # in place: the meter hears of it
    assert used(m) - grown >= 100_000
    x(m, "SELECT", "1")
    x(m, "RPUSH", "list", *(["e" * 100] * 1000))
    with_list = used(m)
    assert with_list - grown > 100_000
    x(m, "SWAPDB", "0", "1")
    assert abs(used(m) - with_list) < 200
    x(m, "FLUSHALL")
    x(m, "SELECT", "0")
    assert abs(used(m) - base) < 200


def test_evicted_keys_and_notification(m: redis.Redis, mm_proc: ServerProcess) -> None:
    x(m, "CONFIG", "SET", "notify-keyspace-events", "Ee", "maxmemory-policy", "allkeys-random")
    x(m, "SET", "foo", "bar")
    sub = redis.Redis(port=mm_proc.port, socket_timeout=5).pubsub()
    sub.psubscribe("__keyevent@*__:evicted")
    assert sub.get_message(timeout=2)["type"] == "psubscribe"
    try:
        # CONFIG SET itself starts the eviction: no further command is needed.
        x(m, "CONFIG", "SET", "maxmemory", "1")
        msg = sub.get_message(timeout=2)
        assert msg is not None
        assert (msg["channel"], msg["data"]) == (b"__keyevent@0__:evicted", b"foo")
    finally:
        sub.close()
    x(m, "CONFIG", "SET", "maxmemory", "0")
    assert evicted(m) == 1
    assert x(m, "EXISTS", "foo") == 0


def test_evicted_notification_matches_oracle(m: redis.Redis, o: redis.Redis) -> None:
    def run(c: redis.Redis) -> Any:
        port = c.connection_pool.connection_kwargs["port"]
        x(c, "CONFIG", "SET", "notify-keyspace-events", "Ee", "maxmemory-policy", "allkeys-lru")
        x(c, "SET", "foo", "bar")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            s.sendall(b"PSUBSCRIBE *\r\n")
            first = s.recv(1000)
            x(c, "CONFIG", "SET", "maxmemory", "1")
            data = b""
            deadline = time.time() + 3
            while data.count(b"\r\n") < 7 and time.time() < deadline:
                data += s.recv(1000)
        finally:
            s.close()
        x(c, "CONFIG", "SET", "maxmemory", "0")
        return first, data

    got = run(m)
    assert got[1] == b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$22\r\n__keyevent@0__:evicted\r\n$3\r\nfoo\r\n"
    assert got == run(o)


def test_tenacity_limits_one_round_and_the_rest_follows(m: redis.Redis, mm_proc: ServerProcess) -> None:
    fill(m, "k", 600)
    x(m, "CONFIG", "SET", "maxmemory-policy", "allkeys-random", "maxmemory-eviction-tenacity", "0")
    limit = used(m) - 40_000
    # One packet: the command after CONFIG SET runs before the eviction timer does, and
    # its own check stops after one batch of 16 keys (a 0 us time limit).
    s = socket.create_connection(("127.0.0.1", mm_proc.port), timeout=5)
    try:
        s.sendall(b"CONFIG SET maxmemory %d\r\nDBSIZE\r\n" % limit)
        data = b""
        while data.count(b"\r\n") < 2:
            data += s.recv(1000)
    finally:
        s.close()
    assert data == b"+OK\r\n:584\r\n"
    # The timer keeps evicting in the following loop iterations until under the limit.
    deadline = time.time() + 5
    while used(m) > limit and time.time() < deadline:
        time.sleep(0.01)
    assert used(m) <= limit
    assert int(x(m, "DBSIZE")) < 584


def test_lazyfree_lazy_eviction_off_still_evicts(m: redis.Redis) -> None:
    x(m, "CONFIG", "SET", "lazyfree-lazy-eviction", "no")
    keys = fill(m, "k", 100)
    squeeze(m, 2000, "allkeys-lru")
    assert len(present(m, keys)) < 100


def test_policy_change_and_maxmemory_zero_stop_everything(m: redis.Redis) -> None:
    fill(m, "k", 50)
    x(m, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "maxmemory-eviction-tenacity", "100",
      "maxmemory", "1")
    x(m, "PING")
    assert int(x(m, "DBSIZE")) == 0
    x(m, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert err(m, "SET", "a", "b") == OOM
    x(m, "CONFIG", "SET", "maxmemory", "0")
    assert x(m, "SET", "a", "b") == b"OK"
    assert x(m, "CONFIG", "GET", "maxmemory") == [b"maxmemory", b"0"]


# ---- client eviction (maxmemory-clients) ------------------------------------------------

def test_client_eviction_disconnects_the_biggest_client(m: redis.Redis, mm_proc: ServerProcess) -> None:
    x(m, "CLIENT", "NO-EVICT", "on")
    x(m, "CONFIG", "SET", "maxmemory-clients", "300kb")
    small = socket.create_connection(("127.0.0.1", mm_proc.port), timeout=5)
    big = socket.create_connection(("127.0.0.1", mm_proc.port), timeout=5)
    try:
        small.sendall(b"PING\r\n")
        assert small.recv(100) == b"+PONG\r\n"
        # A command still arriving: 400 KB of its last argument sit in the query buffer.
        big.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n" + b"x" * 400_000)
        deadline = time.time() + 5
        while int(info(m, "stats")["evicted_clients"]) == 0 and time.time() < deadline:
            time.sleep(0.02)
        assert info(m, "stats")["evicted_clients"] == "1"
        try:  # closed without a reply (a reset when our unread bytes were dropped)
            assert big.recv(100) == b""
        except ConnectionResetError:
            pass
        small.sendall(b"PING\r\n")
        assert small.recv(100) == b"+PONG\r\n"
        assert x(m, "PING") == b"PONG"
    finally:
        small.close()
        big.close()
        x(m, "CONFIG", "SET", "maxmemory-clients", "0")
        x(m, "CLIENT", "NO-EVICT", "off")


def test_client_eviction_spares_no_evict_clients(m: redis.Redis, mm_proc: ServerProcess) -> None:
    x(m, "CLIENT", "NO-EVICT", "on")
    x(m, "CONFIG", "SET", "maxmemory-clients", "200kb")
    big = socket.create_connection(("127.0.0.1", mm_proc.port), timeout=5)
    try:
        big.sendall(b"CLIENT NO-EVICT on\r\n")
        assert big.recv(100) == b"+OK\r\n"
        big.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n" + b"x" * 400_000)
        time.sleep(0.3)  # a few cron ticks
        assert x(m, "PING") == b"PONG"
        assert info(m, "stats")["evicted_clients"] == "0"
        big.sendall(b"x" * 600_000 + b"\r\n")
        assert big.recv(100) == b"+OK\r\n"
    finally:
        big.close()
        x(m, "CONFIG", "SET", "maxmemory-clients", "0")
        x(m, "CLIENT", "NO-EVICT", "off")


def test_main_table_does_not_grow_past_maxmemory(m: redis.Redis) -> None:
    # 4096 keys fill 4096 buckets; the 4097th would double the bucket array (+32 KB),
    # which Valkey refuses while that would cross maxmemory (the table stays 1:1+ full).
    x(m, "CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    x(m, "DEBUG", "POPULATE", "4095")
    limit = used(m) + 10 * 1024
    x(m, "CONFIG", "SET", "maxmemory", str(limit))
    for k in ("k0", "k1", "k2"):
        x(m, "SET", k, "v")
    assert int(x(m, "DBSIZE")) == 4098
    assert evicted(m) == 0
    assert used(m) <= limit
    # With room for it, the bucket array doubles: 4096 more 8-byte buckets.
    before = used(m)
    x(m, "CONFIG", "SET", "maxmemory", "1gb")
    assert used(m) - before >= 4096 * 8


# ---- the meter shares the write hook with WATCH and client-side caching -------------------

def test_watch_still_works_while_metering(m: redis.Redis, mm_proc: ServerProcess) -> None:
    x(m, "CONFIG", "SET", "maxmemory", "1gb", "maxmemory-policy", "allkeys-lru")
    before = used(m)
    x(m, "WATCH", "k")
    other = raw_client(mm_proc.port)
    try:
        x(other, "SET", "k", "v" * 10_000)
    finally:
        other.close()
    x(m, "MULTI")
    x(m, "GET", "k")
    assert x(m, "EXEC") is None  # the watched key was written
    assert used(m) - before >= 10_000  # and the meter saw the write too
    x(m, "UNWATCH")
    x(m, "SET", "k2", "v" * 10_000)
    assert used(m) - before >= 20_000


def test_eviction_invalidation_arrives_before_the_reply(m: redis.Redis, mm_proc: ServerProcess) -> None:
    # RESP3 client-side caching: the tracked key evicted by the check before GETBIT is
    # invalidated ahead of GETBIT's own reply, as in Valkey.
    s = socket.create_connection(("127.0.0.1", mm_proc.port), timeout=5)

    def send(*args: bytes) -> None:
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))

    def read_until(n_crlf: int) -> bytes:
        data = b""
        while data.count(b"\r\n") < n_crlf:
            data += s.recv(65536)
        return data

    try:
        send(b"HELLO", b"3")
        time.sleep(0.1)
        s.recv(65536)
        send(b"CLIENT", b"TRACKING", b"on")
        assert read_until(1) == b"+OK\r\n"
        x(m, "SET", "volatile-key", "x", "EX", "10000")
        send(b"GET", b"volatile-key")
        assert read_until(2) == b"$1\r\nx\r\n"
        limit = used(m) + 100 * 1024
        x(m, "CONFIG", "SET", "maxmemory", str(limit), "maxmemory-policy", "volatile-random")
        x(m, "SETBIT", "big-key", "1600000", "0")  # ~200 KB: over the limit
        send(b"GETBIT", b"big-key", b"0")
        assert read_until(5) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nvolatile-key\r\n:0\r\n"
    finally:
        s.close()
    assert x(m, "EXISTS", "big-key") == 1
    assert evicted(m) == 1


# ---- the engine pieces on their own (no server) ------------------------------------------

def test_pool_keeps_the_best_candidates_across_picks() -> None:
    from kaa.engine.eviction import ALLKEYS, TTL, Evictor
    from kaa.engine.keyspace import Keyspace

    ks = Keyspace(2)
    for dbid in (0, 1):
        db = ks.dbs[dbid]
        for i in range(30):
            key = b"k%d" % i
            db.set(key, b"v")
            db.set_expire(key, 10_000_000 + 1000 * i + dbid)
    ev = Evictor(ks)
    order = []
    for _ in range(10):
        got = ev.pick(TTL, 64)
        assert got is not None
        db, key = got
        order.append((db.id, key))
        ev.evict(db, key, lazy=False)
    # Soonest deadlines first, across both databases.
    assert order == [(i % 2, b"k%d" % (i // 2)) for i in range(10)]
    assert ks.evicted_keys == 10
    assert ev.pick(ALLKEYS | TTL, 64) is not None  # TTL ranks keys of the expires dict


def test_meter_follows_writes_and_scales_big_containers() -> None:
    from kaa.engine.eviction import DatasetMeter
    from kaa.engine.keyspace import Keyspace

    measured: list[bytes] = []

    def size_of(key: bytes, value: Any) -> int:
        measured.append(key)
        return len(key) + (len(value) * 10 if isinstance(value, list) else len(value))

    ks = Keyspace(1)
    meter = DatasetMeter(ks, size_of)
    ks.watchers = meter.mark
    db = ks.dbs[0]
    db.set(b"a", b"12345")
    assert meter.settle() == 6
    db.set(b"big", [b"x"] * 1000)
    assert meter.settle() == 6 + 3 + 10_000
    measured.clear()
    db.data[b"big"].append(b"y")  # an in-place change, then the touch every command makes
    db.touch(b"big")
    assert meter.settle() == 6 + 10_013  # scaled from the last measure, not re-measured
    assert measured == []
    db.delete(b"a")
    assert meter.settle() == 10_013
    ks.flush_all(False)
    meter.recheck()
    assert meter.settle() == 0


def test_oom_inside_one_pipelined_batch(m: redis.Redis, mm_proc: ServerProcess) -> None:
    """Pipelined writes in one read are checked one by one, as Valkey checks each
    command: the SETs pass until the limit, then each gets the OOM error (counted as
    rejected), while reads and deletes in the same batch still run."""
    used = int(x(m, "INFO", "memory").split(b"used_memory:")[1].split(b"\r\n")[0])
    x(m, "CONFIG", "SET", "maxmemory", str(used + 60_000))
    value = b"v" * 10_000
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$3\r\nk%02d\r\n$10000\r\n%s\r\n" % (i, value)
                    for i in range(20))
    data += b"*2\r\n$3\r\nGET\r\n$3\r\nk00\r\n*2\r\n$3\r\nDEL\r\n$3\r\nk00\r\n"
    with socket.create_connection(("127.0.0.1", mm_proc.port), timeout=10) as s:
        s.sendall(data)
        buf = b""
        while buf.count(b"\r\n") < 22 + 1:  # 20 SET replies, a 10 KB bulk (2 lines), DEL
            chunk = s.recv(1 << 20)
            assert chunk
            buf += chunk
    lines = buf.split(b"\r\n")
    sets = lines[:20]
    ok = sets.count(b"+OK")
    oom = sets.count(b"-OOM command not allowed when used memory > 'maxmemory'.")
    assert ok + oom == 20 and ok >= 1 and oom >= 1
    assert sets == [b"+OK"] * ok + [sets[-1]] * oom  # once refused, every later SET too
    assert lines[20] == b"$10000" and lines[21] == value and lines[22] == b":1"
    stats = x(m, "INFO", "commandstats").decode()
    assert f"cmdstat_set:calls={ok}," in stats and f"rejected_calls={oom}," in stats
