"""Transactions: MULTI/EXEC/DISCARD, WATCH/UNWATCH and how a transaction propagates.

Covers the queueing rules (queue-time errors doom the EXEC, runtime errors are
returned in place), every way a watched key can be touched (another client's write,
expiry, FLUSHDB/FLUSHALL, SWAPDB, RENAME, MOVE, EXPIRE), both protocols' null reply,
optimistic locking with several concurrent clients, and differential runs against
the oracle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.known_differences import KNOWN_DIFFERENCES
from tests.support.servers import ServerProcess
from tests.test_pubsub import RawConn, encode, err, raw_conns

from kaa.embedded import EmbeddedServer
from kaa.protocol import reply_reader as rr


@pytest.fixture(name="raw")
def raw_fixture(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[Callable[..., RawConn]]:
    yield from raw_conns(kaa_proc.port)


def run(c: RawConn, *cmds: tuple[Any, ...]) -> list[Any]:
    """Pipeline cmds on a raw connection and read one reply each."""
    for cmd in cmds:
        c.send(*cmd)
    return [c.read() for _ in cmds]


# ---- basics --------------------------------------------------------------------------

def test_multi_exec_basics(raw: Any) -> None:
    c = raw()
    out = run(c, ("RPUSH", "l", "a", "b", "c"), ("MULTI",), ("LRANGE", "l", "0", "-1"), ("PING",),
              ("SET", "k", "v"), ("EXEC",))
    assert out == [3, "OK", "QUEUED", "QUEUED", "QUEUED", [[b"a", b"b", b"c"], "PONG", "OK"]]


def test_runtime_errors_are_returned_in_place(raw: Any) -> None:
    c = raw()
    out = run(c, ("MULTI",), ("SET", "a", "b"), ("INCR", "a"), ("LPUSH", "a", "x"), ("GET", "a"),
              ("EXEC",))
    assert out[-1] == [
        "OK", err("ERR value is not an integer or out of range"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value"), b"b"]


def test_queue_errors_abort_exec(raw: Any) -> None:
    c = raw()
    out = run(c, ("MULTI",), ("SET", "foo1", "bar1"), ("NOSUCHCMD",), ("GET",), ("SET", "foo2", "x"),
              ("EXEC",), ("EXISTS", "foo1", "foo2"), ("PING",))
    assert out[2] == err("ERR unknown command 'NOSUCHCMD', with args beginning with: ")
    assert out[3] == err("ERR wrong number of arguments for 'get' command")
    assert out[4] == "QUEUED"
    assert out[5] == err("EXECABORT Transaction discarded because of previous errors.")
    assert out[6:] == [0, "PONG"]  # nothing ran, and the MULTI state is gone


def test_transaction_command_errors(raw: Any) -> None:
    c = raw()
    assert c.call("EXEC") == err("ERR EXEC without MULTI")
    assert c.call("DISCARD") == err("ERR DISCARD without MULTI")
    assert c.call("WATCH") == err("ERR wrong number of arguments for 'watch' command")
    # Valkey 8 refuses MULTI and WATCH inside MULTI as NO_MULTI commands, dooming the EXEC.
    out = run(c, ("MULTI",), ("MULTI",), ("WATCH", "x"), ("EXEC",))
    assert out == ["OK", err("ERR Command not allowed inside a transaction"),
                   err("ERR Command not allowed inside a transaction"),
                   err("EXECABORT Transaction discarded because of previous errors.")]
    assert "nested-multi-error" in KNOWN_DIFFERENCES
    out = run(c, ("MULTI",), ("SAVE",), ("EXEC",))
    assert out[1] == err("ERR Command not allowed inside a transaction")


def test_discard(raw: Any) -> None:
    c = raw()
    out = run(c, ("RPUSH", "l", "a"), ("MULTI",), ("DEL", "l"), ("DISCARD",), ("LRANGE", "l", "0", "-1"),
              ("DISCARD",))
    assert out == [1, "OK", "QUEUED", "OK", [b"a"], err("ERR DISCARD without MULTI")]


def raw_exchange(c: RawConn, cmds: list[tuple[Any, ...]], want: bytes) -> bytes:
    """Send cmds in one write and collect the raw reply bytes until len(want) arrived."""
    c.send_raw(b"".join(encode(*cmd) for cmd in cmds))
    c.sock.settimeout(5)
    data = b""
    while len(data) < len(want):
        chunk = c.sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_empty_transaction_and_null_replies(raw: Any, r: redis.Redis) -> None:
    c2 = raw()
    assert run(c2, ("MULTI",), ("EXEC",)) == ["OK", []]
    r.set("x", 1)
    c2.call("WATCH", "x")
    r.set("x", 2)
    want = b"+OK\r\n+QUEUED\r\n*-1\r\n"
    assert raw_exchange(c2, [("MULTI",), ("PING",), ("EXEC",)], want) == want
    c3 = raw(3)
    c3.call("WATCH", "x")
    r.set("x", 3)
    want = b"+OK\r\n+QUEUED\r\n_\r\n"  # the RESP3 null, not *-1
    assert raw_exchange(c3, [("MULTI",), ("PING",), ("EXEC",)], want) == want


def test_blocking_commands_do_not_block_in_exec(raw: Any) -> None:
    c = raw()
    out = run(c, ("MULTI",), ("BLPOP", "empty", "0"), ("BRPOP", "empty", "0"),
              ("BLMOVE", "e1", "e2", "LEFT", "LEFT", "0"), ("BZPOPMIN", "ez", "0"), ("EXEC",))
    assert out[-1] == [None, None, None, None]


def test_client_reply_inside_exec_as_valkey(raw: Any) -> None:
    """CLIENT REPLY OFF/SKIP queued in a transaction act from inside the EXEC, after its
    array header: the bytes below are what Valkey 8 sends."""
    c = raw()
    cmds: list[tuple[Any, ...]] = [("MULTI",), ("SET", "a", "1"), ("CLIENT", "REPLY", "OFF"),
                                   ("GET", "a"), ("EXEC",), ("GET", "a"), ("CLIENT", "REPLY", "ON"),
                                   ("PING",)]
    want = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n+OK\r\n+PONG\r\n"
    assert raw_exchange(c, cmds, want) == want
    cmds = [("MULTI",), ("SET", "a", "1"), ("CLIENT", "REPLY", "SKIP"), ("GET", "a"), ("EXEC",),
            ("GET", "a"), ("PING",)]
    want = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n$1\r\n1\r\n+PONG\r\n"
    assert raw_exchange(c, cmds, want) == want
    assert c.nothing_pending()


# ---- WATCH -----------------------------------------------------------------------------

def watched_exec(c: RawConn, *cmds: tuple[Any, ...]) -> Any:
    c.call("MULTI")
    for cmd in cmds or (("PING",),):
        assert c.call(*cmd) == "QUEUED"
    return c.call("EXEC")


def test_watch_unmodified_key_succeeds(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("x", 30)
    assert c.call("WATCH", "x", "y", "z") == "OK"
    assert c.call("WATCH", "k") == "OK"
    assert watched_exec(c) == ["PONG"]


def test_watch_modified_by_another_client(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("x", 30)
    c.call("WATCH", "a", "b", "x", "k", "z")
    r.set("x", 40)
    assert watched_exec(c, ("SET", "x", "mine")) is None
    assert r.get("x") == b"40"
    # After a failed EXEC nothing is watched any more.
    r.set("x", 41)
    assert watched_exec(c) == ["PONG"]


def test_own_writes_before_multi_also_touch(raw: Any) -> None:
    c = raw()
    c.call("WATCH", "x")
    c.call("SET", "x", "1")
    assert watched_exec(c) is None


def test_watch_missing_key_created(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.call("WATCH", "newkey")
    r.lpush("newkey", "a")
    assert watched_exec(c) is None


def test_unwatch_and_discard_clear_dirty_state(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("x", 30)
    c.call("WATCH", "x")
    r.set("x", 40)
    assert c.call("UNWATCH") == "OK"
    assert watched_exec(c) == ["PONG"]
    assert c.call("UNWATCH") == "OK"
    c.call("WATCH", "x")
    r.set("x", 10)
    assert run(c, ("MULTI",), ("DISCARD",)) == ["OK", "OK"]
    assert watched_exec(c, ("INCR", "x")) == [11]


@pytest.mark.parametrize("toucher", [
    ("EXPIRE", "x", "100"), ("PERSIST", "x"), ("DEL", "x"), ("RENAME", "x", "y"), ("MOVE", "x", "3"),
    ("APPEND", "x", "z"), ("GETDEL", "x"), ("SETRANGE", "x", "0", "q"), ("UNLINK", "x"),
])
def test_watch_touched_by_keyspace_commands(raw: Any, r: redis.Redis, toucher: tuple[str, ...]) -> None:
    c = raw()
    r.set("x", "v")
    if toucher[0] == "PERSIST":
        r.expire("x", 100)
    c.call("WATCH", "x")
    r.execute_command(*toucher)
    assert watched_exec(c) is None


def test_watch_rename_target_is_touched(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("src", "v")
    c.call("WATCH", "dst")
    r.rename("src", "dst")
    assert watched_exec(c) is None


def test_watch_remembers_the_db(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.call("SELECT", "5")
    c.call("SET", "x", "30")
    c.call("WATCH", "x")
    c.call("SELECT", "1")
    c.call("SET", "x", "10")
    c.call("SELECT", "5")
    assert watched_exec(c) == ["PONG"]


@pytest.mark.parametrize("flush", ["FLUSHALL", "FLUSHDB"])
def test_flush_touches_only_existing_watched_keys(raw: Any, r: redis.Redis, flush: str) -> None:
    c = raw()
    r.set("x", 30)
    c.call("WATCH", "x")
    r.execute_command(flush)
    assert watched_exec(c) is None
    c.call("WATCH", "x")  # x no longer exists
    r.execute_command(flush)
    assert watched_exec(c) == ["PONG"]


def test_flushdb_of_another_db_does_not_touch(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("x", 1)
    c.call("WATCH", "x")
    other = raw()
    other.call("SELECT", "2")
    other.call("SET", "x", "1")
    other.call("FLUSHDB")
    assert watched_exec(c) == ["PONG"]


def test_swapdb_touches_watched_keys(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("x", 30)
    c.call("WATCH", "x")  # x exists in db 0; SWAPDB replaces it with nothing
    r.swapdb(0, 1)
    assert watched_exec(c) is None
    r.flushall()
    c.call("SELECT", "1")
    c.call("SET", "x", "30")
    c.call("SELECT", "0")
    c.call("WATCH", "x")  # missing in db 0; SWAPDB brings one
    r.swapdb(0, 1)
    assert watched_exec(c) is None
    r.flushall()
    c.call("WATCH", "x")  # missing on both sides: no change
    r.swapdb(0, 1)
    assert watched_exec(c) == ["PONG"]


def test_watched_key_expired_by_active_cycle(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.set("x", "foo", px=50)
    c.call("WATCH", "x")
    deadline = time.time() + 5
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.02)
    assert r.dbsize() == 0
    assert watched_exec(c) is None


def test_watched_key_lazily_expired_at_exec(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("x", "1", px=60)
        c.call("WATCH", "x")
        time.sleep(0.1)  # expired but still in the keyspace
        assert watched_exec(c, ("INCR", "x")) is None
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watching_stale_keys_does_not_fail(raw: Any, r: redis.Redis) -> None:
    c = raw()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for touch in (None, ("EXISTS", "x"), ("FLUSHDB",)):
            r.set("x", "foo", px=1)
            time.sleep(0.01)
            c.call("WATCH", "x")  # already expired when watched
            if touch is not None:
                r.execute_command(*touch)  # deleting an expired key is no logical change
            assert watched_exec(c) == ["PONG"], touch
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watch_inside_exec_is_dirty_noop(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.call("WATCH", "x")
    r.set("x", 1)
    assert c.call("WATCH", "y") == "OK"  # already doomed: OK without watching
    assert watched_exec(c) is None


# ---- many clients ------------------------------------------------------------------------

def test_optimistic_locking_with_concurrent_clients(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    r.set("counter", 0)
    n_clients, per_client = 6, 40
    retries = [0] * n_clients

    def worker(i: int) -> None:
        c = redis.Redis(port=kaa_proc.port, protocol=3 if i % 2 else 2)
        done = 0
        while done < per_client:
            with c.pipeline() as p:
                try:
                    p.watch("counter")
                    v = int(p.get("counter") or 0)
                    p.multi()
                    p.set("counter", v + 1)
                    p.rpush("log", f"{i}:{v + 1}")
                    p.execute()
                    done += 1
                except redis.WatchError:
                    retries[i] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = n_clients * per_client
    assert int(r.get("counter") or 0) == total
    log: list[bytes] = r.lrange("log", 0, -1)  # type: ignore[assignment]
    values = [int(x.split(b":")[1]) for x in log]
    assert values == list(range(1, total + 1))  # no lost update, no duplicate
    assert sum(retries) > 0  # the clients really raced


# ---- differential ---------------------------------------------------------------------

SCENARIOS: list[list[tuple[str, ...]]] = [
    [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("INCRBY", "a", "x"), ("GET", "a"), ("EXEC",)],
    [("MULTI",), ("SET", "a", "1"), ("FOO",), ("EXEC",), ("GET", "a")],
    [("MULTI",), ("LPUSH", "l", "1"), ("GET", "l"), ("LPOP", "l"), ("EXEC",), ("EXISTS", "l")],
    [("SET", "w", "1"), ("WATCH", "w"), ("MULTI",), ("INCR", "w"), ("EXEC",), ("GET", "w")],
    [("WATCH", "w"), ("SET", "w", "2"), ("MULTI",), ("INCR", "w"), ("EXEC",), ("GET", "w")],
    [("WATCH", "w"), ("UNWATCH",), ("SET", "w", "2"), ("MULTI",), ("INCR", "w"), ("EXEC",)],
    [("MULTI",), ("DISCARD",), ("DISCARD",), ("EXEC",)],
    [("MULTI",), ("EXEC",), ("MULTI",), ("PING",), ("ECHO", "x"), ("EXEC",)],
    [("SET", "s", "x"), ("MULTI",), ("SELECT", "2"), ("SET", "s", "y"), ("EXEC",), ("GET", "s")],
    [("MULTI",), ("GET",), ("SET", "a", "b", "c"), ("EXEC",)],
    [("MULTI",), ("SET", "k", "v", "EX", "-1"), ("SET", "k", "v"), ("EXEC",), ("GET", "k")],
    [("MULTI",), ("SWAPDB", "0", "1"), ("SWAPDB", "0", "1"), ("DBSIZE",), ("EXEC",)],
    [("SET", "x", "1"), ("WATCH", "x"), ("FLUSHDB",), ("MULTI",), ("PING",), ("EXEC",)],
    [("WATCH", "gone"), ("FLUSHALL",), ("MULTI",), ("PING",), ("EXEC",)],
    [("MULTI",), ("WATCH",), ("EXEC",)],
    [("UNWATCH",), ("EXEC",), ("MULTI",), ("UNWATCH",), ("EXEC",)],
]


def _run_scenario(port: int, cmds: list[tuple[str, ...]]) -> list[Any]:
    c = RawConn(port)
    try:
        out = []
        for cmd in cmds:
            v = c.call(*cmd)
            out.append(v.value if isinstance(v, rr.Error) else v)
        return out
    finally:
        c.close()


@pytest.mark.parametrize("cmds", SCENARIOS, ids=[str(i) for i in range(len(SCENARIOS))])
def test_transactions_match_oracle(r: redis.Redis, oracle: redis.Redis, kaa_proc: ServerProcess,
                                   oracle_proc: ServerProcess, cmds: list[tuple[str, ...]]) -> None:
    assert _run_scenario(kaa_proc.port, cmds) == _run_scenario(oracle_proc.port, cmds)


def test_concurrent_watch_differential(r: redis.Redis, oracle: redis.Redis, kaa_proc: ServerProcess,
                                       oracle_proc: ServerProcess) -> None:
    """Two connections interleaved the same way on both servers."""

    def play(port: int) -> list[Any]:
        a, b = RawConn(port), RawConn(port)
        steps = [(a, ("SET", "k", "1")), (a, ("WATCH", "k", "j")), (b, ("WATCH", "k")),
                 (b, ("MULTI",)), (b, ("INCR", "k")), (b, ("EXEC",)), (a, ("MULTI",)),
                 (a, ("INCR", "k")), (a, ("EXEC",)), (a, ("WATCH", "k")), (b, ("SET", "j", "x")),
                 (a, ("MULTI",)), (a, ("GET", "k")), (a, ("EXEC",)), (b, ("GET", "k"))]
        out = [c.call(*cmd) for c, cmd in steps]
        a.close()
        b.close()
        return [v.value if isinstance(v, rr.Error) else v for v in out]

    assert play(kaa_proc.port) == play(oracle_proc.port)


# ---- propagation --------------------------------------------------------------------------

def test_transaction_propagates_as_one_unit() -> None:
    with EmbeddedServer() as srv:
        seen: list[tuple[int, list[bytes]]] = []
        server = srv.server
        server.sinks.append(lambda dbid, argv: seen.append((dbid, list(argv))))
        server.propagating = True
        c = RawConn(srv.port)
        run(c, ("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("SELECT", "1"), ("SET", "b", "2"),
            ("EXEC",))
        assert seen == [(0, [b"MULTI"]), (0, [b"SET", b"a", b"1"]), (1, [b"SET", b"b", b"2"]),
                        (1, [b"EXEC"])]
        seen.clear()
        # One write: no MULTI/EXEC around it. Read-only or empty: nothing at all.
        run(c, ("MULTI",), ("SET", "c", "3"), ("EXEC",), ("MULTI",), ("GET", "c"), ("EXEC",),
            ("MULTI",), ("EXEC",), ("MULTI",), ("DEL", "nokey"), ("EXEC",))
        assert seen == [(1, [b"SET", b"c", b"3"])]
        seen.clear()
        run(c, ("SET", "d", "4"))
        assert seen == [(1, [b"SET", b"d", b"4"])]
        c.close()
