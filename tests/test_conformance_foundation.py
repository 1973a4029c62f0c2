"""Foundation conformance: behaviours Valkey 8's own suite checks in unit/info,
unit/introspection(-2), unit/other, unit/querybuf and unit/latency-monitor, pinned here
with the values a real Valkey 8.0 gives (MEMORY USAGE figures, error texts, reply shapes).

Runs against a private Kaa server (module scope) because it changes server-wide state:
the latency monitor, save points, error statistics."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import ServerProcess, start_kaa


@pytest.fixture(scope="module")
def srv() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    alive = p.alive()
    p.stop()
    assert alive, "kaa-server died"


@pytest.fixture()
def r(srv: ServerProcess) -> Iterator[redis.Redis]:
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    c.flushall()
    c.config_set("latency-monitor-threshold", "0")
    c.execute_command("LATENCY", "RESET")
    yield c
    c.close()


def raw(port: int, payload: bytes, wait: float = 0.3) -> bytes:
    """Send bytes on a fresh connection; everything received until close or ``wait``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.settimeout(wait)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def cmd(r: redis.Redis, *args: object) -> Any:
    """A command's raw reply, without redis-py's reply parsing (INFO, COMMAND INFO...)."""
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def info_field(r: redis.Redis, section: str, name: str) -> str:
    text = cmd(r, "INFO", section).decode()
    m = re.search(rf"^{re.escape(name)}:(.*)\r$", text, re.M)
    assert m is not None, f"{name} not in INFO {section}"
    return m.group(1)


def client_field(line: bytes | str, field: str) -> str:
    text = line.decode() if isinstance(line, bytes) else line
    m = re.search(rf"(?:^| ){re.escape(field)}=(\S*)", text)
    assert m is not None, field
    return m.group(1)


# ---- unknown command / subcommand errors ----------------------------------------------------

def test_unknown_command_error_cuts_args_at_nul_and_keeps_raw_bytes(srv: ServerProcess) -> None:
    # '%.*s' of a C string: each argument stops at its first NUL; bytes stay as sent.
    cmd = b"*3\r\n$4\r\nfoo\x00\r\n$5\r\nab\x00cd\r\n$2\r\n\xe9x\r\n"
    assert raw(srv.port, cmd) == (
        b"-ERR unknown command 'foo', with args beginning with: 'ab' '\xe9x' \r\n")


def test_unknown_command_error_limits_args_to_128_bytes(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("nosuchcmd", "a" * 100, "b" * 100, "c")
    assert str(e.value) == ("unknown command 'nosuchcmd', with args beginning with: "
                            f"'{'a' * 100}' '{'b' * 25}' ")


def test_unknown_subcommand_error_is_a_c_string(srv: ServerProcess) -> None:
    cmd = b"*2\r\n$6\r\nconfig\r\n$4\r\nx\x00yz\r\n"
    assert raw(srv.port, cmd) == b"-ERR unknown subcommand 'x'. Try CONFIG HELP.\r\n"


# ---- protocol errors, QUIT -------------------------------------------------------------------

def test_protocol_error_counts_one_error_reply(r: redis.Redis, srv: ServerProcess) -> None:
    r.config_resetstat()
    assert raw(srv.port, b"*1\r\n$x\r\n").startswith(b"-ERR Protocol error: invalid bulk length")
    assert info_field(r, "stats", "total_error_replies") == "1"
    assert info_field(r, "errorstats", "errorstat_ERR") == "count=1"


def test_quit_in_queued_commands_stops_the_rest(r: redis.Redis, srv: ServerProcess) -> None:
    # While paused, the writes wait in the client's queue; when they run, QUIT ends it.
    r.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    out = raw(srv.port, b"SET a 1\r\nQUIT\r\nSET b 2\r\n", wait=1.0)
    assert out == b"+OK\r\n+OK\r\n"
    assert r.get("a") == b"1"
    assert r.exists("b") == 0


# ---- tot-cmds ---------------------------------------------------------------------------------

def test_tot_cmds_counts_commands_after_they_ran(r: redis.Redis) -> None:
    def tot() -> int:
        return int(client_field(cmd(r, "CLIENT", "INFO"), "tot-cmds"))

    a = tot()
    assert tot() == a + 1  # the CLIENT INFO that reported a
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")  # refused (arity): not counted
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    b = tot()
    assert b == a + 2
    r.execute_command("MULTI")
    r.execute_command("SET", "k", "v")  # queued: not counted now
    r.execute_command("EXEC")  # EXEC and the SET it runs
    assert tot() == b + 1 + 3


def test_tot_cmds_not_counted_while_blocked(r: redis.Redis, srv: ServerProcess) -> None:
    blocked = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    try:
        cid = blocked.client_id()
        before = client_field(_client_line(r, cid), "tot-cmds")
        conn = blocked.connection_pool.get_connection()
        conn.send_command("BLPOP", "nolist", "0")
        _wait_for(lambda: "blpop" in client_field(_client_line(r, cid), "cmd"))
        assert client_field(_client_line(r, cid), "tot-cmds") == before
        r.execute_command("CLIENT", "UNBLOCK", cid)
        assert conn.read_response() is None
    finally:
        blocked.close()


def _client_line(r: redis.Redis, cid: int) -> str:
    for line in cmd(r, "CLIENT", "LIST").decode().splitlines():
        if f"id={cid} " in line:
            return line
    raise AssertionError(f"client {cid} not listed")


def _wait_for(cond: object, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_total_commands_processed_after_resetstat_counts_the_resetstat(r: redis.Redis) -> None:
    r.config_resetstat()
    # Valkey counts RESETSTAT itself once it ran, but not yet the INFO being served.
    assert info_field(r, "stats", "total_commands_processed") == "1"


# ---- query buffer ---------------------------------------------------------------------------

def test_client_list_qbuf_free_reports_the_private_buffer(r: redis.Redis, srv: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"CLIENT SETNAME qb\r\n")
        assert s.recv(100) == b"+OK\r\n"
        line = next(x for x in cmd(r, "CLIENT", "LIST").decode().splitlines()
                    if " name=qb " in x)
        assert (client_field(line, "qbuf"), client_field(line, "qbuf-free")) == ("0", "0")
        s.sendall(b"*3\r\n$3\r\nset\r\n$2\r\na")  # half a command keeps a private buffer
        time.sleep(0.1)
        line = next(x for x in cmd(r, "CLIENT", "LIST").decode().splitlines()
                    if " name=qb " in x)
        qbuf, free = int(client_field(line, "qbuf")), int(client_field(line, "qbuf-free"))
        # Valkey 8.0.1 shows qbuf=1 qbuf-free=20473: the client kept the shared buffer
        assert (qbuf, qbuf + free) == (1, 20474)


# ---- INFO counters and CONFIG RESETSTAT -----------------------------------------------------

def test_lazyfree_counters_come_from_the_keyspace_and_reset(r: redis.Redis) -> None:
    r.sadd("big", *[f"m{i}" for i in range(200)])  # a hashtable of more than 64 elements
    r.unlink("big")
    _wait_for(lambda: info_field(r, "memory", "lazyfree_pending_objects") == "0")
    assert int(info_field(r, "memory", "lazyfreed_objects")) >= 1
    r.config_resetstat()
    assert info_field(r, "memory", "lazyfreed_objects") == "0"
    assert info_field(r, "stats", "expire_cycle_cpu_milliseconds") == "0"


def test_flushall_saves_when_save_points_are_set(r: redis.Redis, srv: ServerProcess) -> None:
    path = os.path.join(srv.dir, "dump.rdb")
    r.set("k", "v")
    r.flushall()
    assert int(info_field(r, "persistence", "rdb_changes_since_last_save")) > 0
    assert not os.path.exists(path)
    try:
        r.config_set("save", "3600 1 300 100")
        r.set("k", "v")
        r.flushall()
        assert info_field(r, "persistence", "rdb_changes_since_last_save") == "0"
        assert os.path.exists(path)
    finally:
        r.config_set("save", "")


# ---- HELLO ----------------------------------------------------------------------------------

def test_hello_follows_extended_redis_compatibility(r: redis.Redis) -> None:
    hello = r.execute_command("HELLO", "2")
    fields = dict(zip(hello[::2], hello[1::2], strict=True))
    assert fields[b"server"] == b"valkey"
    try:
        r.config_set("extended-redis-compatibility", "yes")
        hello = r.execute_command("HELLO", "2")
        fields = dict(zip(hello[::2], hello[1::2], strict=True))
        assert fields[b"server"] == b"redis"
        assert fields[b"version"].startswith(b"7.2.")
        server_info = cmd(r, "INFO", "server").decode()
        assert "redis_mode:" in server_info and "server_mode:" not in server_info
    finally:
        r.config_set("extended-redis-compatibility", "no")


# ---- MEMORY ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "expected"), [
    # figures given by Valkey 8.0.1 (jemalloc) for the same commands
    ("foo", "bar", 48),                  # embstr
    ("foo", "12345", 40),                # int: 16-byte object + dict entry with "foo"
    ("k", "1", 40),
    ("k", "a" * 44, 88),                 # the longest embstr
    ("k", "a" * 45, 96),                 # raw
    ("k", "a" * 100, 152),
    ("bigv", "v" * 300, 368),
    ("k" * 32, "1", 72),
    ("k" * 300, "1", 400),               # the key needs an sdshdr16
])
def test_memory_usage_of_strings_matches_valkey(r: redis.Redis, key: str, value: str,
                                                expected: int) -> None:
    r.set(key, value)
    assert r.execute_command("MEMORY", "USAGE", key) == expected


def test_memory_usage_of_setrange_string(r: redis.Redis) -> None:
    r.setrange("sr", 0, "abc")
    assert r.execute_command("MEMORY", "USAGE", "sr") == 48


def test_memory_usage_arguments(r: redis.Redis) -> None:
    r.set("foo", "bar")
    assert r.execute_command("MEMORY", "USAGE", "nokey") is None
    assert r.execute_command("MEMORY", "USAGE", "foo", "SAMPLES", "0") == 48
    for args, err in ((("SAMPLES", "-1"), "syntax error"), (("SAMPLES", "x"),
                      "value is not an integer or out of range"), (("bar",), "syntax error"),
                      (("SAMPLES",), "syntax error")):
        with pytest.raises(redis.ResponseError, match=f"^{err}$"):
            r.execute_command("MEMORY", "USAGE", "foo", *args)
    with pytest.raises(redis.ResponseError,
                       match=r"^wrong number of arguments for 'memory\|usage' command$"):
        r.execute_command("MEMORY", "USAGE")
    assert cmd(r, "COMMAND", "GETKEYS", "MEMORY", "USAGE", "key") == [b"key"]


def test_memory_usage_of_collections_is_an_estimate(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "c")
    r.hset("h", "a", "b")
    r.sadd("s", 1, 2, 3)
    for k in ("l", "h", "s"):
        assert 40 <= r.execute_command("MEMORY", "USAGE", k) <= 80  # Valkey: 56 each
    r.sadd("bigset", *range(1000))
    assert r.execute_command("MEMORY", "USAGE", "bigset") > 1000 * 8


def test_memory_stats_shape(r: redis.Redis) -> None:
    r.select(9)
    try:
        r.set("a", "b")
        r.expire("a", 100)
        stats = cmd(r, "MEMORY", "STATS")
        d = dict(zip(stats[::2], stats[1::2], strict=True))
        assert list(d)[:10] == [b"peak.allocated", b"total.allocated", b"startup.allocated",
                                b"replication.backlog", b"clients.slaves", b"clients.normal",
                                b"cluster.links", b"aof.buffer", b"lua.caches",
                                b"functions.caches"]
        db9 = d[b"db.9"]
        assert db9[0] == b"overhead.hashtable.main" and db9[2] == b"overhead.hashtable.expires"
        # one key: 176 + 24 (entry) + 16 (object) + 4 buckets * 8, as Valkey 8.0 reports
        assert db9[1] == 248 and db9[3] == 232
        assert d[b"overhead.db.hashtable.lut"] == 64
        assert d[b"overhead.db.hashtable.rehashing"] == 0
        assert d[b"db.dict.rehashing.count"] == 0
        assert d[b"keys.count"] == 1
        assert d[b"total.allocated"] == d[b"overhead.total"] + d[b"dataset.bytes"]
        assert int(info_field(r, "memory", "used_memory_overhead")) > 0
        # after every key is deleted the table stays allocated, shrunk to 4 buckets
        r.delete("a")
        stats = cmd(r, "MEMORY", "STATS")
        d = dict(zip(stats[::2], stats[1::2], strict=True))
        assert d[b"db.9"][1] == 208 < 400
    finally:
        r.flushall()
        r.select(0)


def test_memory_doctor_malloc_stats_purge_help(r: redis.Redis) -> None:
    assert len(r.execute_command("MEMORY", "DOCTOR")) > 0
    # INFO says mem_allocator:libc, and Valkey built without jemalloc answers this
    assert info_field(r, "memory", "mem_allocator") == "libc"
    assert r.execute_command("MEMORY", "MALLOC-STATS") == (
        b"Stats not supported for the current allocator")
    assert r.execute_command("MEMORY", "PURGE") == b"OK"
    help_ = r.execute_command("MEMORY", "HELP")
    assert help_[0].startswith(b"MEMORY <subcommand> ")
    assert b"USAGE <key> [SAMPLES <count>]" in help_
    with pytest.raises(redis.ResponseError, match="^unknown subcommand 'NOPE'. Try MEMORY HELP.$"):
        r.execute_command("MEMORY", "NOPE")


# ---- LATENCY --------------------------------------------------------------------------------

def _histogram(r: redis.Redis, *names: str) -> dict[bytes, dict[bytes, object]]:
    flat = r.execute_command("LATENCY", "HISTOGRAM", *names)
    out = {}
    for name, body in zip(flat[::2], flat[1::2], strict=True):
        out[name] = dict(zip(body[::2], body[1::2], strict=True))
    return out


def test_latency_histogram(r: redis.Redis) -> None:
    r.config_resetstat()
    assert list(_histogram(r)) == [b"config|resetstat"]
    for _ in range(3):
        r.set("a", "b")
    r.client_id()
    h = _histogram(r, "set", "client", "blabla")
    assert set(h) == {b"set", b"client|id"}
    assert h[b"set"][b"calls"] == 3
    buckets = h[b"set"][b"histogram_usec"]
    assert isinstance(buckets, list) and buckets[-1] == 3  # cumulative counts end at calls
    edges = buckets[::2]
    assert edges == sorted(edges) and all(e in (1, 2, 4, 8, 16, 32, 64, 129, 258, 516, 1032,
                                                2064, 4128, 8257, 16515) for e in edges)
    assert list(_histogram(r, "client|id")) == [b"client|id"]
    r.execute_command("DEBUG", "SLEEP", "0.01")
    assert _histogram(r, "debug")[b"debug"][b"histogram_usec"] == [16908, 1]


def test_latency_events(r: redis.Redis) -> None:
    assert r.execute_command("LATENCY", "LATEST") == []
    assert b"disabled" in r.execute_command("LATENCY", "DOCTOR")
    r.config_set("latency-monitor-threshold", "5")
    r.execute_command("DEBUG", "SLEEP", "0.02")
    r.execute_command("DEBUG", "SLEEP", "0.03")  # same second: the worst one is kept
    latest = r.execute_command("LATENCY", "LATEST")
    assert len(latest) == 1
    name, t, last, worst = latest[0]
    assert name == b"command" and abs(t - time.time()) < 5
    assert 30 <= last < 200 and worst == last
    history = r.execute_command("LATENCY", "HISTORY", "command")
    assert len(history) in (1, 2) and history[-1] == [t, last]
    graph = r.execute_command("LATENCY", "GRAPH", "command").decode()
    assert re.match(r"command - high \d+ ms, low \d+ ms \(all time high \d+ ms\)\n-{80}\n", graph)
    assert "1. command: " in r.execute_command("LATENCY", "DOCTOR").decode()
    assert r.execute_command("LATENCY", "HISTORY", "blabla") == []
    with pytest.raises(redis.ResponseError, match="^No samples available for event 'blabla'$"):
        r.execute_command("LATENCY", "GRAPH", "blabla")
    assert r.execute_command("LATENCY", "RESET", "blabla") == 0
    assert r.execute_command("LATENCY", "RESET", "COMMAND") == 1  # names match without case
    assert r.execute_command("LATENCY", "LATEST") == []


def test_latency_fast_commands_and_threshold_off(r: redis.Redis) -> None:
    r.execute_command("DEBUG", "SLEEP", "0.02")
    assert r.execute_command("LATENCY", "LATEST") == []  # threshold 0: nothing recorded


def test_latency_expire_events(r: redis.Redis) -> None:
    r.config_set("lazyfree-lazy-expire", "no")
    try:
        r.config_set("latency-monitor-threshold", "1")
        for i in range(0, 300_000, 50_000):
            r.sadd("bigset", *range(i, i + 50_000))
        r.pexpire("bigset", 1)
        _wait_for(lambda: r.dbsize() == 0)
        events = {e[0] for e in r.execute_command("LATENCY", "LATEST")}
        assert b"expire-cycle" in events
        assert r.execute_command("LATENCY", "GRAPH", "expire-cycle").startswith(b"expire-cycle - high")
    finally:
        r.config_set("lazyfree-lazy-expire", "yes")


def test_latency_help_and_errors(r: redis.Redis) -> None:
    assert r.execute_command("LATENCY", "HELP")[0].startswith(b"LATENCY <subcommand> ")
    with pytest.raises(redis.ResponseError,
                       match=r"^wrong number of arguments for 'latency\|help' command$"):
        r.execute_command("LATENCY", "HELP", "xxx")
    with pytest.raises(redis.ResponseError, match=r"^wrong number of arguments for 'latency' command$"):
        r.execute_command("LATENCY")


# ---- COMMAND metadata ---------------------------------------------------------------------

def test_getkeysandflags(r: redis.Redis) -> None:
    def gkf(*args: str) -> list[object]:
        return cmd(r, "COMMAND", "GETKEYSANDFLAGS", *args)

    assert gkf("set", "k1", "v1") == [[b"k1", [b"OW", b"update"]]]
    assert gkf("set", "k1", "v1", "get") == [[b"k1", [b"RW", b"access", b"update"]]]
    assert gkf("mset", "k1", "v1", "k2", "v2") == [[b"k1", [b"OW", b"update"]],
                                                   [b"k2", [b"OW", b"update"]]]
    assert gkf("sort", "k1", "store", "k2") == [[b"k1", [b"RO", b"access"]],
                                                [b"k2", [b"OW", b"update"]]]
    assert gkf("migrate", "h", "1", "", "0", "5", "KEYS", "a", "b") == [
        [b"a", [b"RW", b"access", b"delete"]], [b"b", [b"RW", b"access", b"delete"]]]


@pytest.mark.parametrize(("name", "movable"), [
    ("set", False), ("get", False), ("mset", False), ("migrate", True), ("georadius", True),
    ("sort", True), ("eval", True), ("zunionstore", True), ("lmove", False),
])
def test_movablekeys_follows_the_key_specs(r: redis.Redis, name: str, movable: bool) -> None:
    info = cmd(r, "COMMAND", "INFO", name)[0]
    assert (b"movablekeys" in info[2]) is movable


def test_command_flags_and_tips(r: redis.Redis) -> None:
    echo = cmd(r, "COMMAND", "INFO", "echo")[0]
    assert set(echo[2]) == {b"fast", b"loading", b"stale"}
    ping = cmd(r, "COMMAND", "INFO", "ping")[0]
    assert ping[7] == [b"request_policy:all_shards", b"response_policy:all_succeeded"]
    dump = cmd(r, "COMMAND", "INFO", "dump")[0]
    assert dump[7] == [b"nondeterministic_output"]


# ---- MODULE -------------------------------------------------------------------------------

def test_module_command(r: redis.Redis) -> None:
    assert r.execute_command("MODULE", "LIST") == []
    assert r.execute_command("MODULE", "HELP")[0].startswith(b"MODULE <subcommand> ")
    # enable-module-command defaults to "no"
    with pytest.raises(redis.ResponseError, match="^MODULE command not allowed"):
        r.execute_command("MODULE", "LOAD", "/nonexistent.so")
    with pytest.raises(redis.ResponseError, match="^MODULE command not allowed"):
        r.execute_command("MODULE", "UNLOAD", "x")


# ---- MIGRATE ------------------------------------------------------------------------------

@pytest.fixture()
def target() -> Iterator[redis.Redis]:
    p = start_kaa()
    c = redis.Redis(port=p.port, protocol=2, socket_timeout=10)
    yield c
    c.close()
    p.stop()


def test_migrate_moves_keys_with_their_ttl(r: redis.Redis, target: redis.Redis) -> None:
    port = target.connection_pool.connection_kwargs["port"]
    r.set("k1", "v1")
    r.rpush("l", "a", "b", "c")
    r.pexpire("l", 100_000)
    assert r.execute_command("MIGRATE", "127.0.0.1", port, "k1", "0", "1000") == b"OK"
    assert target.get("k1") == b"v1" and r.exists("k1") == 0
    assert r.execute_command("MIGRATE", "127.0.0.1", port, "", "3", "1000",
                             "KEYS", "l", "nokey") == b"OK"
    target.select(3)
    assert target.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert 90_000 < target.pttl("l") <= 100_000
    assert r.execute_command("MIGRATE", "127.0.0.1", port, "nokey", "0", "1000") == b"NOKEY"
    assert int(info_field(r, "stats", "migrate_cached_sockets")) == 1


def test_migrate_errors(r: redis.Redis, target: redis.Redis) -> None:
    port = target.connection_pool.connection_kwargs["port"]
    r.set("k1", "v")
    target.set("k1", "x")
    with pytest.raises(redis.ResponseError,
                       match="^Target instance replied with error: BUSYKEY Target key name "
                             "already exists.$"):
        r.execute_command("MIGRATE", "127.0.0.1", port, "k1", "0", "1000")
    assert r.execute_command("MIGRATE", "127.0.0.1", port, "k1", "0", "1000",
                             "COPY", "REPLACE") == b"OK"
    assert target.get("k1") == b"v" and r.get("k1") == b"v"  # COPY keeps the source
    with pytest.raises(redis.ResponseError, match="^When using MIGRATE KEYS option, the key "
                                                  "argument must be set to the empty string$"):
        r.execute_command("MIGRATE", "127.0.0.1", port, "k1", "0", "1000", "KEYS", "k1")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("MIGRATE", "127.0.0.1", port, "k1", "0", "1000", "AUTH")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("MIGRATE", "127.0.0.1", port, "k1", "x", "1000")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    with pytest.raises(redis.ResponseError,
                       match="^IOERR error or timeout connecting to the client$"):
        r.execute_command("MIGRATE", "127.0.0.1", closed_port, "k1", "0", "200")


def test_migrate_auth_is_redacted_in_monitor(r: redis.Redis, srv: ServerProcess) -> None:
    mon = redis.Redis(port=srv.port, protocol=2, socket_timeout=5)
    conn = mon.connection_pool.get_connection()
    try:
        conn.send_command("MONITOR")
        assert conn.read_response() == b"OK"
        r.execute_command("MIGRATE", "127.0.0.1", srv.port, "nokey", "9", "5000", "AUTH2",
                          "user", "secret")
        line = conn.read_response()
        assert line.endswith(b'"nokey" "9" "5000" "AUTH2" "(redacted)" "(redacted)"')
    finally:
        conn.disconnect()


# ---- event loop metrics ----------------------------------------------------------------------

def test_eventloop_metrics(r: redis.Redis) -> None:
    c1 = int(info_field(r, "stats", "eventloop_cycles"))
    s1 = int(info_field(r, "stats", "eventloop_duration_sum"))
    assert c1 > 0 and s1 > 0
    assert int(info_field(r, "stats", "eventloop_duration_cmd_sum")) > 0
    time.sleep(0.25)  # two cron ticks at hz 10
    c2 = int(info_field(r, "stats", "eventloop_cycles"))
    assert c1 < c2 < c1 + 20
    assert int(info_field(r, "debug", "eventloop_duration_cron_sum")) > 0
    assert int(info_field(r, "debug", "eventloop_duration_max")) > 0
    assert int(info_field(r, "debug", "eventloop_cmd_per_cycle_max")) > 0
    assert "eventloop_duration_cron_sum" not in cmd(r, "INFO", "all").decode()


def test_errorstats_overflow_for_custom_errors() -> None:
    from kaa.server.server import Server

    s = Server()
    for i in range(130):
        s.count_error(f"CUSTOM{i}", custom=True)
    assert len(s.stats.errors) == 129  # 128 codes, then ERRORSTATS_OVERFLOW
    assert s.stats.errors["ERRORSTATS_OVERFLOW"] == 2
    s.count_error("CUSTOM0", custom=True)  # a code already tracked keeps counting
    s.count_error("NEWCODE")  # errors the server makes are always tracked
    assert s.stats.errors["CUSTOM0"] == 2 and s.stats.errors["NEWCODE"] == 1
    assert s.stats.total_error_replies == 132


def test_command_docs_match_valkey_json(r: redis.Redis) -> None:
    def docs(name: str) -> dict[bytes, Any]:
        flat = cmd(r, "COMMAND", "DOCS", name)[1]
        return dict(zip(flat[::2], flat[1::2], strict=True))

    echo = docs("echo")
    assert echo[b"complexity"] == b"O(1)"
    assert echo[b"arguments"] == [[b"name", b"message", b"type", b"string",
                                   b"display_text", b"message"]]
    quit_ = docs("quit")
    assert quit_[b"replaced_by"] == b"just closing the connection"
    # MIGRATE's empty-string key selector has the token "" (shown as an empty string)
    selector = docs("migrate")[b"arguments"][2]
    empty = dict(zip(selector[-1][1][::2], selector[-1][1][1::2], strict=True))
    assert empty[b"token"] == b""
    hist = docs("latency")[b"subcommands"]
    sub = dict(zip(hist[::2], hist[1::2], strict=True))[b"latency|histogram"]
    arg0 = dict(zip(sub[-1][0][::2], sub[-1][0][1::2], strict=True))
    assert arg0[b"name"] == b"command"
