"""Pipelines through ClientCore.run_plain, the batch loop for plain data commands: runs of
them mixed with commands that take the full pipeline, errors, statistics and the
features that must drop a pipeline back to Client.process. Every pipeline goes out
in one write, so the server reads it as one batch; the same sequences go to the
oracle where the replies are comparable."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import hiredis
import pytest
import redis
from tests.support.commands import raw_client, x
from tests.support.servers import ServerProcess, kaa_of_build


@pytest.fixture(scope="module", params=["compiled", "python"])
def kaa_proc(request: pytest.FixtureRequest) -> Any:
    """The batch loop compiled by Cython (where built) and its Python source."""
    yield from kaa_of_build(request.param)


@pytest.fixture()
def r(kaa_proc: ServerProcess) -> Any:
    client = redis.Redis(port=kaa_proc.port, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


def _enc(*args: bytes | str) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def pipeline(port: int, cmds: list[tuple[str, ...]], resp3: bool = False,
             expect: int | None = None) -> list[Any]:
    """Send all commands in one write; the replies (errors as ReplyError objects)."""
    data = b"".join(_enc(*c) for c in cmds)
    if expect is None:
        expect = len(cmds)
    if resp3:
        data = _enc("HELLO", "3") + data
        expect += 1
    reader = hiredis.Reader()
    out: list[Any] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        while len(out) < expect:
            chunk = s.recv(65536)
            assert chunk, f"connection closed after {len(out)} replies"
            reader.feed(chunk)
            while (reply := reader.gets()) is not False:
                out.append(reply)
    return out[1:] if resp3 else out


def _norm(replies: list[Any]) -> list[Any]:
    return [("ERR", str(r)) if isinstance(r, hiredis.ReplyError) else r for r in replies]


SEQUENCE = [
    ("SET", "k", "v"), ("GET", "k"), ("INCR", "n"), ("INCR", "n"), ("INCRBY", "n", "10"),
    ("GET", "nokey"), ("LPUSH", "l", "a", "b"), ("GET", "l"), ("INCR", "k"), ("SET", "k"),
    ("MSET", "a", "1", "b", "2", "a", "3"), ("MGET", "a", "b"), ("APPEND", "k", "x"),
    ("GET", "k"), ("EXPIRE", "k", "100"), ("INCR", "c"), ("DEL", "n"), ("EXISTS", "n", "k"),
    ("STRLEN", "k"), ("TYPE", "l"), ("NOSUCHCMD", "x"), ("GET", "a"),
]


def test_mixed_pipeline_matches_the_oracle(r: redis.Redis, oracle: redis.Redis,
                                           kaa_proc: Any, oracle_proc: Any) -> None:
    """Plain commands, wrong types, arity errors and unknown commands in one batch."""
    got = _norm(pipeline(kaa_proc.port, SEQUENCE))
    want = _norm(pipeline(oracle_proc.port, SEQUENCE))
    # Redis 7.0 lists arguments after an unknown command's name the same way.
    assert got == want
    assert x(raw_client(kaa_proc.port), "GET", "a") == b"3"


def test_transaction_inside_a_pipeline(kaa_proc: Any, r: redis.Redis) -> None:
    """MULTI in the middle of a batch: what follows is queued, not run by the fast loop."""
    got = _norm(pipeline(kaa_proc.port, [
        ("SET", "t", "1"), ("MULTI",), ("INCR", "t"), ("GET", "t"), ("EXEC",), ("GET", "t"),
    ]))
    assert got == [b"OK", b"OK", b"QUEUED", b"QUEUED", [2, b"2"], b"2"]


def test_client_reply_off_inside_a_pipeline(kaa_proc: Any, r: redis.Redis) -> None:
    got = pipeline(kaa_proc.port, [
        ("SET", "a", "1"), ("CLIENT", "REPLY", "SKIP"), ("SET", "b", "2"), ("GET", "b"),
        ("PING",),
    ], expect=3)
    # OK for SET a; none for CLIENT REPLY SKIP or the SET it skips; then "2" and PONG.
    assert got == [b"OK", b"2", b"PONG"]


def test_statistics_count_every_pipelined_command(kaa_proc: Any, r: redis.Redis) -> None:
    c = raw_client(kaa_proc.port)
    x(c, "CONFIG", "RESETSTAT")
    pipeline(kaa_proc.port, [("SET", f"s{i}", "x") for i in range(40)]
             + [("GET", "s1")] * 7 + [("INCR", "s1")] * 3)
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] == 40
    assert stats["cmdstat_get"]["calls"] == 7
    assert stats["cmdstat_incr"]["calls"] == 3
    assert stats["cmdstat_incr"]["failed_calls"] == 3
    assert r.info("errorstats")["errorstat_ERR"]["count"] == 3
    lat = r.info("latencystats")
    assert "latency_percentiles_usec_set" in lat


def test_latency_histogram_counts_pipelined_calls(kaa_proc: Any) -> None:
    c = raw_client(kaa_proc.port, protocol=2)
    x(c, "CONFIG", "RESETSTAT")
    pipeline(kaa_proc.port, [("SET", "h", "1")] * 25)
    reply = x(c, "LATENCY", "HISTOGRAM", "set")
    # RESP2: [b"set", [b"calls", 25, b"histogram_usec", [...]]]
    assert reply[0] == b"set"
    fields = dict(zip(reply[1][::2], reply[1][1::2], strict=True))
    assert fields[b"calls"] == 25


def test_settings_changed_at_run_time_reach_the_batch_loop(kaa_proc: Any, r: redis.Redis) -> None:
    """The loop reads the settings from Server.plain_ctx: each CONFIG SET (and ACL
    change) must be seen by the next pipeline."""
    port = kaa_proc.port
    # latency-tracking: calls made while it is off are not in the histogram
    r.config_resetstat()
    r.config_set("latency-tracking", "no")
    pipeline(port, [("SET", "lt", "1")] * 5)
    r.config_set("latency-tracking", "yes")
    c = raw_client(port, protocol=2)
    assert x(c, "LATENCY", "HISTOGRAM", "set") == []
    pipeline(port, [("SET", "lt", "1")] * 5)
    hist = x(c, "LATENCY", "HISTOGRAM", "set")
    fields = dict(zip(hist[1][::2], hist[1][1::2], strict=True))
    assert fields[b"calls"] == 5
    # slowlog-log-slower-than (Server.slow_watch)
    old = r.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    try:
        r.config_set("slowlog-log-slower-than", "0")
        r.slowlog_reset()
        pipeline(port, [("SET", "sl", "1"), ("GET", "sl")])
        logged = [e["command"] for e in r.slowlog_get(10)]
        assert b"SET sl 1" in logged and b"GET sl" in logged
        r.config_set("slowlog-log-slower-than", "-1")
        r.slowlog_reset()
        pipeline(port, [("SET", "sl", "1"), ("GET", "sl")])
        assert r.slowlog_len() == 0
    finally:
        r.config_set("slowlog-log-slower-than", old)
    # the gates: maxmemory's OOM refusal, then ACL's
    try:
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("maxmemory", "1")
        got = _norm(pipeline(port, [("SET", "oom", "1"), ("GET", "oom")]))
        assert got[0][0] == "ERR" and got[0][1].startswith("OOM ")
        assert got[1] is None
    finally:
        r.config_set("maxmemory", "0")
    assert _norm(pipeline(port, [("SET", "oom", "1"), ("GET", "oom")])) == [b"OK", b"1"]
    r.execute_command("ACL", "SETUSER", "reader", "on", "nopass", "~*", "+get", "+auth")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(_enc("AUTH", "reader", "x") + _enc("SET", "acl", "1") + _enc("GET", "oom"))
            reader = hiredis.Reader()
            got = []
            while len(got) < 3:
                reader.feed(s.recv(65536))
                while (rep := reader.gets()) is not False:
                    got.append(rep)
        assert got[0] == b"OK"
        assert isinstance(got[1], hiredis.ReplyError) and str(got[1]).startswith("NOPERM")
        assert got[2] == b"1"
    finally:
        r.execute_command("ACL", "DELUSER", "reader")
    assert r.get("acl") is None


def test_the_read_path_clocks_agree_with_the_clients(kaa_proc: Any, r: redis.Redis) -> None:
    """The read path's clocks (clock_gettime calls where compiled): a plain command's
    duration is microseconds of the monotonic clock, and the time a read is stamped with
    (CLIENT LIST's idle) is the wall clock."""
    port = kaa_proc.port
    r.rpush("big", *([b"0123456789"] * 50_000))
    old = r.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    try:
        r.config_set("slowlog-log-slower-than", "0")
        r.slowlog_reset()
        t0 = time.perf_counter()
        assert len(pipeline(port, [("LRANGE", "big", "0", "-1")])[0]) == 50_000
        wall_us = (time.perf_counter() - t0) * 1e6
        durations = [e["duration"] for e in r.slowlog_get(10)
                     if e["command"] == b"LRANGE big 0 -1"]
        assert len(durations) == 1 and 0 < durations[0] <= wall_us
    finally:
        r.config_set("slowlog-log-slower-than", old)
    other = redis.Redis(port=port, socket_timeout=10)
    try:
        other_id = other.client_id()
        entry = next(e for e in r.client_list() if int(e["id"]) == other_id)
        assert int(entry["idle"]) <= 1 and int(entry["age"]) <= 1
    finally:
        other.close()


def test_client_list_shows_the_last_command_of_a_batch(kaa_proc: Any) -> None:
    with socket.create_connection(("127.0.0.1", kaa_proc.port), timeout=10) as s:
        s.sendall(_enc("CLIENT", "SETNAME", "batcher") + _enc("SET", "q", "1") + _enc("GET", "q"))
        reader = hiredis.Reader()
        got: list[Any] = []
        while len(got) < 3:
            reader.feed(s.recv(65536))
            while (rep := reader.gets()) is not False:
                got.append(rep)
        listing = raw_client(kaa_proc.port).execute_command("CLIENT", "LIST").decode()
        line = next(ln for ln in listing.splitlines() if "name=batcher" in ln)
        assert " cmd=get " in line + " "


def test_pipelined_push_wakes_a_blocked_client(kaa_proc: Any, r: redis.Redis) -> None:
    """A plain LPUSH in a batch must serve the client blocked on its key at once,
    before the rest of the batch runs (the LLEN after it sees the list emptied)."""
    result: list[Any] = []
    blocker = raw_client(kaa_proc.port)

    def wait() -> None:
        result.append(blocker.execute_command("BLPOP", "bq", "5"))

    t = threading.Thread(target=wait)
    t.start()
    deadline = time.time() + 5
    while time.time() < deadline and r.info("clients")["blocked_clients"] < 1:
        time.sleep(0.01)
    got = pipeline(kaa_proc.port, [("LPUSH", "bq", "job"), ("LLEN", "bq"), ("SET", "z", "1")])
    t.join(5)
    assert result == [[b"bq", b"job"]]
    assert got == [1, 0, b"OK"]


def test_resp3_keyspace_push_to_self_follows_its_reply(kaa_proc: Any, r: redis.Redis) -> None:
    """A RESP3 client subscribed to its own keyspace events gets each push right
    after the reply of the command that caused it, inside one batch."""
    x(raw_client(kaa_proc.port), "CONFIG", "SET", "notify-keyspace-events", "KA")
    try:
        data = (_enc("HELLO", "3") + _enc("SUBSCRIBE", "__keyspace@0__:pk")
                + _enc("SET", "pk", "1") + _enc("GET", "pk"))
        with socket.create_connection(("127.0.0.1", kaa_proc.port), timeout=10) as s:
            s.sendall(data)
            reader = hiredis.Reader()
            got: list[Any] = []
            deadline = time.time() + 5
            while len(got) < 5 and time.time() < deadline:
                reader.feed(s.recv(65536))
                while (rep := reader.gets()) is not False:
                    got.append(rep)
        assert got[2] == b"OK"
        assert got[3] == [b"message", b"__keyspace@0__:pk", b"set"]
        assert got[4] == b"1"
    finally:
        x(raw_client(kaa_proc.port), "CONFIG", "SET", "notify-keyspace-events", "")


@pytest.mark.parametrize("setup", [
    [], [("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")],
])
def test_incr_fast_and_general_paths_agree(kaa_proc: Any, r: redis.Redis, setup: list[tuple[str, ...]]) -> None:
    """INCR's inlined path (plain counter, no TTL, no watchers) and its general path
    give the same values, keep TTLs and refuse what is not an integer."""
    c = raw_client(kaa_proc.port)
    for cmd in setup:
        x(c, *cmd)
    try:
        got = _norm(pipeline(kaa_proc.port, [
            ("SET", "i", "41"), ("INCR", "i"), ("INCR", "i"), ("SET", "j", "9223372036854775806"),
            ("INCR", "j"), ("INCR", "j"), ("SET", "k", "007"), ("INCR", "k"), ("SET", "m", "1"),
            ("EXPIRE", "m", "1000"), ("INCR", "m"), ("TTL", "m"), ("SET", "f", "1.5"),
            ("INCR", "f"), ("INCR", "new"), ("SET", "neg", "-5"), ("INCR", "neg"),
        ]))
    finally:
        x(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert got[1:3] == [42, 43]
    assert got[4] == 9223372036854775807
    assert got[5] == ("ERR", "ERR increment or decrement would overflow")
    assert got[7] == ("ERR", "ERR value is not an integer or out of range")  # leading zero
    assert got[10] == 2 and 990 <= got[11] <= 1000
    assert got[13] == ("ERR", "ERR value is not an integer or out of range")
    assert got[14] == 1 and got[16] == -4


def test_watch_sees_a_fast_path_incr(kaa_proc: Any, r: redis.Redis) -> None:
    """INCR must still touch WATCHed keys (the inlined path steps aside for watchers)."""
    r.set("w", "1")
    w = raw_client(kaa_proc.port)
    x(w, "WATCH", "w")
    pipeline(kaa_proc.port, [("INCR", "w"), ("INCR", "w")])
    x(w, "MULTI")
    x(w, "SET", "w", "100")
    assert x(w, "EXEC") is None
    assert r.get("w") == b"3"


def test_mset_with_repeated_keys_and_ttls(kaa_proc: Any, r: redis.Redis) -> None:
    r.set("e", "old", ex=100)
    got = pipeline(kaa_proc.port, [("MSET", "e", "1", "f", "2", "e", "3"), ("TTL", "e"),
                                   ("MGET", "e", "f")])
    assert got == [b"OK", -1, [b"3", b"2"]]


def test_push_fast_and_general_paths_agree(kaa_proc: Any, oracle_proc: Any, r: redis.Redis,
                                           oracle: redis.Redis) -> None:
    """LPUSH/RPUSH of one element onto an existing list (the inlined path) and the
    general path give the same replies, TTLs and wrong-type errors as the oracle."""
    seq = [("RPUSH", "pl", "a"), ("LPUSH", "pl", "b"), ("RPUSH", "pl", "c"),
           ("LRANGE", "pl", "0", "-1"), ("SET", "ps", "x"), ("LPUSH", "ps", "y"),
           ("RPUSH", "pt", "1"), ("EXPIRE", "pt", "100"), ("LPUSH", "pt", "0"), ("TTL", "pt"),
           ("LPUSHX", "pl", "d"), ("RPUSHX", "none", "d"), ("LLEN", "pl")]
    assert _norm(pipeline(kaa_proc.port, seq)) == _norm(pipeline(oracle_proc.port, seq))


@pytest.mark.parametrize("setup", [
    [], [("SET", "other", "1", "EX", "100")], [("CONFIG", "SET", "notify-keyspace-events", "KA")],
    [("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")],
])
def test_inlined_writes_agree_with_general_paths(kaa_proc: Any, oracle_proc: Any, r: redis.Redis,
                                                    oracle: redis.Redis,
                                                    setup: list[tuple[str, ...]]) -> None:
    """SET, HSET, LPOP and RPOP inline their lookups while the db has no TTLs and no
    hook listens (ZADD has its own one-pair path); with a TTL in the db,
    notifications or an LFU policy the general paths run. Either way the replies,
    TTLs, types and encodings are the oracle's."""
    seq = [("SET", "s", "v1"), ("SET", "s", "v2"), ("GET", "s"), ("SET", "t", "x", "EX", "100"),
           ("SET", "t", "y"), ("TTL", "t"), ("LPUSH", "l", "a"), ("SET", "l", "now-a-string"),
           ("TYPE", "l"), ("HSET", "h", "f", "1"), ("HSET", "h", "f", "2"), ("HSET", "h", "g", "3"),
           ("HGETALL", "h"), ("OBJECT", "ENCODING", "h"), ("HSET", "s", "f", "1"),
           ("ZADD", "z", "1", "m"), ("ZADD", "z", "1", "m"), ("ZADD", "z", "2", "m"),
           ("ZADD", "z", "3", "n"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
           ("OBJECT", "ENCODING", "z"), ("ZADD", "s", "1", "m"), ("RPUSH", "q", "a", "b", "c"),
           ("LPOP", "q"), ("RPOP", "q"), ("LLEN", "q"), ("RPOP", "q"), ("EXISTS", "q"),
           ("LPOP", "q"), ("LPOP", "s"), ("RPUSH", "qt", "1", "2"), ("EXPIRE", "qt", "100"),
           ("LPOP", "qt"), ("TTL", "qt"), ("DBSIZE",)]
    clients = (raw_client(kaa_proc.port), raw_client(oracle_proc.port))
    try:
        for c in clients:
            for cmd in setup:
                x(c, *cmd)
        got = _norm(pipeline(kaa_proc.port, seq))
        want = _norm(pipeline(oracle_proc.port, seq))
    finally:
        for c in clients:
            x(c, "CONFIG", "SET", "notify-keyspace-events", "")
            x(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert got == want


@pytest.mark.parametrize("first,second", [
    (("SET", "wk", "1"), ("SET", "wk", "2")),
    (("RPUSH", "wk", "1", "2"), ("LPOP", "wk")),
    (("HSET", "wk", "f", "1"), ("HSET", "wk", "f", "2")),
    (("ZADD", "wk", "1", "m"), ("ZADD", "wk", "2", "m")),
])
def test_watch_sees_fast_path_writes(kaa_proc: Any, r: redis.Redis, first: tuple[str, ...],
                                     second: tuple[str, ...]) -> None:
    """The inlined SET/HSET/LPOP and ZADD's one-pair path step aside for WATCH: the
    EXEC after them fails."""
    pipeline(kaa_proc.port, [first])
    w = raw_client(kaa_proc.port)
    x(w, "WATCH", "wk")
    pipeline(kaa_proc.port, [second])
    x(w, "MULTI")
    x(w, "DEL", "wk")
    assert x(w, "EXEC") is None
    assert r.exists("wk") == 1


def test_watch_sees_a_fast_path_push(kaa_proc: Any, r: redis.Redis) -> None:
    r.rpush("wl", "a")
    w = raw_client(kaa_proc.port)
    x(w, "WATCH", "wl")
    pipeline(kaa_proc.port, [("LPUSH", "wl", "b")])
    x(w, "MULTI")
    x(w, "DEL", "wl")
    assert x(w, "EXEC") is None
    assert r.lrange("wl", 0, -1) == [b"b", b"a"]


@pytest.mark.parametrize("bad,kind", [(b":5", ":"), (b"+ok", "+"), (b"_", "_"), (b"-e", "-")])
def test_long_single_command_with_a_non_bulk_argument(kaa_proc: Any, bad: bytes, kind: str) -> None:
    """A one-command read of five or more arguments is accepted without re-encoding it
    only when every argument is a bulk string; anything else gets Valkey's error."""
    data = b"*6\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n" + bad + b"\r\n$1\r\nc\r\n"
    with socket.create_connection(("127.0.0.1", kaa_proc.port), timeout=10) as s:
        s.sendall(data)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got == b"-ERR Protocol error: expected '$', got '%s'\r\n" % kind.encode()
    assert x(raw_client(kaa_proc.port), "EXISTS", "a") == 0


def test_long_single_command_with_type_bytes_in_values(kaa_proc: Any, r: redis.Redis) -> None:
    values = ["+1", "%x", "a=b", "(2)", "<~|>"]
    args: list[str] = []
    for i, v in enumerate(values):
        args += [f"tv{i}", v]
    assert pipeline(kaa_proc.port, [("MSET", *args)]) == [b"OK"]
    assert r.mget([f"tv{i}" for i in range(5)]) == [v.encode() for v in values]
