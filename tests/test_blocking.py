"""Blocking list commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) and the machinery behind
them (kaa.engine.blocking): FIFO service per key, wake-ups only after the writing command
(or whole transaction) has run, every kind of writer, timeouts in RESP2 and RESP3,
CLIENT UNBLOCK, disconnects, pipelined commands queued behind a blocked one, statistics,
and propagation of the served command in its non-blocking form.

Blocked clients are raw sockets ("deferred" clients, as in Valkey's Tcl suite): a test
sends a command, waits until INFO shows the client blocked, acts, then reads the reply.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
from tests.support.commands import x
from tests.support.servers import ServerProcess

from kaa.embedded import EmbeddedServer


def _enc(*args: Any) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Deferred:
    """A connection whose replies are read when the test wants them."""

    def __init__(self, port: int, resp3: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = hiredis.Reader()
        self.buf = b""
        if resp3:
            self.send("HELLO", "3")
            self.read()
        self.send("CLIENT", "ID")
        self.id = self.read()

    def send(self, *args: Any) -> None:
        self.sock.sendall(_enc(*args))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float = 5) -> Any:
        self.sock.settimeout(timeout)
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def read_raw(self, n: int, timeout: float = 5) -> bytes:
        """Exactly n bytes of reply (for null-type checks); the reader is bypassed."""
        self.sock.settimeout(timeout)
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def nothing_pending(self, wait: float = 0.15) -> bool:
        """True if no reply arrives within ``wait`` seconds."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        if data:
            self.reader.feed(data)  # keep it for read()
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=kaa_proc.port, socket_timeout=10)
    client.response_callbacks.clear()
    client.execute_command("FLUSHALL")
    yield client
    client.close()


@pytest.fixture()
def deferred(kaa_proc: ServerProcess) -> Iterator[Any]:
    opened: list[Deferred] = []

    def make(resp3: bool = False) -> Deferred:
        d = Deferred(kaa_proc.port, resp3)
        opened.append(d)
        return d

    yield make
    for d in opened:
        d.close()


def blocked(c: redis.Redis) -> int:
    info = c.execute_command("INFO", "clients").decode()
    for line in info.splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO")


def info_field(c: redis.Redis, section: str, name: str) -> str:
    for line in c.execute_command("INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError(f"no {name} in INFO {section}")


def wait_blocked(c: redis.Redis, n: int, timeout: float = 3) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked(c) == n:
            return
        time.sleep(0.005)
    raise AssertionError(f"expected {n} blocked clients, have {blocked(c)}")


def has_command(c: redis.Redis, name: str) -> bool:
    return bool(c.execute_command("COMMAND", "INFO", name)[0])




# ---- order and basic wake-ups ------------------------------------------------------------------
def test_fifo_per_key(c: redis.Redis, deferred: Any) -> None:
    clients = [deferred() for _ in range(3)]
    for i, d in enumerate(clients):
        d.send("BLPOP", "q", "0")
        wait_blocked(c, i + 1)
    assert x(c, "RPUSH", "q", "a", "b") == 2
    assert clients[0].read() == [b"q", b"a"]
    assert clients[1].read() == [b"q", b"b"]
    assert clients[2].nothing_pending()
    assert blocked(c) == 1
    x(c, "LPUSH", "q", "c")
    assert clients[2].read() == [b"q", b"c"]
    assert blocked(c) == 0
    assert x(c, "EXISTS", "q") == 0


def test_wake_after_whole_variadic_push(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    assert x(c, "LPUSH", "l", "foo", "bar") == 2
    assert d.read() == [b"l", b"bar"]
    assert x(c, "LRANGE", "l", "0", "-1") == [b"foo"]


@pytest.mark.parametrize("cmd", [
    ["BLPOP", "a", "b", "0"],
    ["BRPOP", "a", "b", "0"],
    ["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "5"],
])
def test_first_key_written_serves(c: redis.Redis, deferred: Any, cmd: list[str]) -> None:
    d = deferred()
    d.send(*cmd)
    wait_blocked(c, 1)
    x(c, "RPUSH", "b", "1", "2")
    got = d.read()
    if cmd[0] == "BLPOP":
        assert got == [b"b", b"1"]
    elif cmd[0] == "BRPOP":
        assert got == [b"b", b"2"]
    else:
        assert got == [b"b", [b"1", b"2"]]


def test_same_key_listed_twice(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("BLPOP", "l1", "l2", "l2", "l1", "0")
    wait_blocked(c, 1)
    assert info_field(c, "clients", "total_blocking_keys") == "2"
    x(c, "LPUSH", "l2", "b")
    assert d.read() == [b"l2", b"b"]
    assert info_field(c, "clients", "total_blocking_keys") == "0"


def test_blmpop_several_clients_one_transaction(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    ds = [deferred() for _ in range(4)]
    specs = [("left", "1"), ("right", "10"), ("left", "10"), ("right", "1")]
    for i, (side, n) in enumerate(specs):
        ds[i].send("BLMPOP", "0", "2", "bl", "bl2", side, "COUNT", n)
        wait_blocked(c, i + 1)
    p = c.pipeline(transaction=True)
    p.execute_command("LPUSH", "bl", "a", "b", "c", "d", "e")
    p.execute_command("LPUSH", "bl2", "1", "2", "3", "4", "5")
    p.execute()
    assert ds[0].read() == [b"bl", [b"e"]]
    assert ds[1].read() == [b"bl", [b"a", b"b", b"c", b"d"]]
    assert ds[2].read() == [b"bl2", [b"5", b"4", b"3", b"2", b"1"]]
    assert ds[3].nothing_pending()
    x(c, "LPUSH", "bl2", "1", "2", "3")
    assert ds[3].read() == [b"bl2", [b"1"]]


def test_keys_are_per_database(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("SELECT", "1")
    assert d.read() == b"OK"
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "RPUSH", "k", "db0")  # c is in db 0
    assert d.nothing_pending()
    x(c, "SELECT", "1")
    x(c, "RPUSH", "k", "db1")
    assert d.read() == [b"k", b"db1"]
    x(c, "SELECT", "0")
    assert x(c, "LRANGE", "k", "0", "-1") == [b"db0"]


def test_value_of_another_type_does_not_wake(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "SET", "k", "string")
    x(c, "APPEND", "k", "more")
    assert d.nothing_pending()
    assert blocked(c) == 1
    x(c, "DEL", "k")
    x(c, "RPUSH", "k", "v")
    assert d.read() == [b"k", b"v"]


# ---- writers of every kind -------------------------------------------------------------------------
def test_woken_by_lmove_into_key(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("BLPOP", "target", "0")
    wait_blocked(c, 1)
    x(c, "RPUSH", "src", "v")
    assert x(c, "LMOVE", "src", "target", "LEFT", "LEFT") == b"v"
    assert d.read() == [b"target", b"v"]
    assert x(c, "EXISTS", "target") == 0


def test_woken_by_rename(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "rename"):
        pytest.skip("RENAME is not available in this build")
    d = deferred()
    d.send("BLPOP", "foo", "0")
    wait_blocked(c, 1)
    x(c, "LPUSH", "bob", "abc", "def", "hij")
    x(c, "RENAME", "bob", "foo")
    assert d.read() == [b"foo", b"hij"]


def test_woken_by_swapdb(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "swapdb"):
        pytest.skip("SWAPDB is not available in this build")
    x(c, "SELECT", "1")
    x(c, "RPUSH", "k", "hello")
    x(c, "SELECT", "0")
    d = deferred()
    d.send("BRPOP", "k", "5")
    wait_blocked(c, 1)
    x(c, "SWAPDB", "1", "0")
    assert d.read() == [b"k", b"hello"]
    x(c, "SELECT", "0")


def test_woken_by_copy_and_restore(c: redis.Redis, deferred: Any) -> None:
    if not (has_command(c, "copy") and has_command(c, "restore")):
        pytest.skip("COPY/RESTORE are not available in this build")
    d = deferred()
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "RPUSH", "orig", "1", "2")
    x(c, "COPY", "orig", "k")
    assert d.read() == [b"k", b"1"]
    dump = x(c, "DUMP", "orig")
    d.send("BLPOP", "k2", "0")
    wait_blocked(c, 1)
    x(c, "RESTORE", "k2", "0", dump)
    assert d.read() == [b"k2", b"1"]


def test_transaction_is_isolated(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    d = deferred()
    d.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    p = c.pipeline(transaction=True)
    for v in ("a", "b", "c"):
        p.execute_command("LPUSH", "l", v)
    p.execute()
    # Served after EXEC, from the list as the whole transaction left it.
    assert d.read() == [b"l", b"c"]


def test_script_wakes_only_after_it_ends(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "eval"):
        pytest.skip("EVAL is not available in this build")
    d = deferred()
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    script = ("redis.call('rpush', KEYS[1], 'first'); redis.call('del', KEYS[1]); "
              "redis.call('rpush', KEYS[1], 'second'); return 1")
    assert x(c, "EVAL", script, "1", "k") == 1
    assert d.read() == [b"k", b"second"]


def test_blocking_inside_script_does_not_block(c: redis.Redis) -> None:
    if not has_command(c, "eval"):
        pytest.skip("EVAL is not available in this build")
    assert x(c, "EVAL", "return redis.call('blpop', KEYS[1], 0)", "1", "nokey") is None
    x(c, "RPUSH", "k", "v")
    assert x(c, "EVAL", "return redis.call('blpop', KEYS[1], 0)", "1", "k") == [b"k", b"v"]
    assert blocked(c) == 0


@pytest.mark.parametrize("overwrite", [False, True])
def test_push_then_delete_in_transaction_does_not_wake(c: redis.Redis, deferred: Any,
                                                       overwrite: bool) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    d = deferred()
    d.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    p = c.pipeline(transaction=True)
    p.execute_command("LPUSH", "l", "a")
    p.execute_command("DEL", "l")
    if overwrite:
        p.execute_command("SET", "l", "foo")
    p.execute()
    assert d.nothing_pending()
    assert blocked(c) == 1
    x(c, "DEL", "l")
    x(c, "LPUSH", "l", "b")
    assert d.read() == [b"l", b"b"]


def test_expired_key_keeps_client_blocked_with_its_deadline(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        d = deferred()
        t0 = time.time()
        d.send("BLPOP", "l", "1")
        wait_blocked(c, 1)
        p = c.pipeline(transaction=True)
        p.execute_command("RPUSH", "l", "a")
        p.execute_command("PEXPIRE", "l", "50")
        p.execute_command("DEBUG", "SLEEP", "0.1")
        p.execute()
        assert blocked(c) == 1  # woken, found the key expired, blocked again
        assert d.read() is None
        elapsed = time.time() - t0
        assert 0.95 <= elapsed < 1.4, elapsed  # the original deadline, not a fresh one
    finally:
        x(c, "DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---- chains ---------------------------------------------------------------------------------------
def test_linked_blmoves(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    d1.send("BLMOVE", "list1", "list2", "RIGHT", "LEFT", "0")
    wait_blocked(c, 1)
    d2.send("BLMOVE", "list2", "list3", "LEFT", "RIGHT", "0")
    wait_blocked(c, 2)
    x(c, "RPUSH", "list1", "foo")
    assert d1.read() == b"foo"
    assert d2.read() == b"foo"
    assert x(c, "LRANGE", "list3", "0", "-1") == [b"foo"]
    assert x(c, "EXISTS", "list1", "list2") == 0


def test_circular_and_self_referential(c: redis.Redis, deferred: Any) -> None:
    d1, d2, d3 = deferred(), deferred(), deferred()
    d1.send("BRPOPLPUSH", "c1", "c2", "0")
    wait_blocked(c, 1)
    d2.send("BRPOPLPUSH", "c2", "c1", "0")
    wait_blocked(c, 2)
    x(c, "RPUSH", "c1", "foo")
    assert d1.read() == b"foo" and d2.read() == b"foo"
    assert x(c, "LRANGE", "c1", "0", "-1") == [b"foo"]
    assert x(c, "EXISTS", "c2") == 0
    d3.send("BRPOPLPUSH", "self", "self", "0")
    wait_blocked(c, 1)
    x(c, "RPUSH", "self", "bar")
    assert d3.read() == b"bar"
    assert x(c, "LRANGE", "self", "0", "-1") == [b"bar"]


def test_blmove_feeds_a_blpop_on_its_target(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    d2.send("BLPOP", "target", "0")
    wait_blocked(c, 1)
    d1.send("BLMOVE", "src", "target", "LEFT", "RIGHT", "0")
    wait_blocked(c, 2)
    x(c, "RPUSH", "src", "foo")
    assert d1.read() == b"foo"
    assert d2.read() == [b"target", b"foo"]
    assert x(c, "EXISTS", "target") == 0


def test_nested_unblock_fairness(c: redis.Redis, deferred: Any) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    d1, d2, d3 = deferred(), deferred(), deferred()
    d1.send("BRPOPLPUSH", "l1", "l3", "0")
    wait_blocked(c, 1)
    d2.send("BLPOP", "l2", "0")
    wait_blocked(c, 2)
    d3.send("BLMPOP", "0", "2", "l2", "l3", "LEFT", "COUNT", "1")
    wait_blocked(c, 3)
    p = c.pipeline(transaction=True)
    p.execute_command("LPUSH", "l1", "1")
    p.execute_command("LPUSH", "l2", "2")
    p.execute()
    assert d1.read() == b"1"
    assert d2.read() == [b"l2", b"2"]
    assert d3.read() == [b"l3", [b"1"]]


def test_wrong_destination_type_on_wake(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    x(c, "SET", "target1", "nolist")
    d1.send("BRPOPLPUSH", "blist", "target1", "0")
    wait_blocked(c, 1)
    d2.send("BRPOPLPUSH", "blist", "target2", "0")
    wait_blocked(c, 2)
    x(c, "LPUSH", "blist", "foo")
    assert isinstance(d1.read(), hiredis.ReplyError)
    assert d2.read() == b"foo"
    assert x(c, "LRANGE", "target2", "0", "-1") == [b"foo"]


def test_wrong_destination_keeps_source(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    x(c, "SET", "target", "nolist")
    d.send("BRPOPLPUSH", "blist", "target", "0")
    wait_blocked(c, 1)
    x(c, "RPUSH", "blist", "a", "b", "c")
    err = d.read()
    assert isinstance(err, hiredis.ReplyError) and str(err).startswith("WRONGTYPE")
    assert x(c, "LRANGE", "blist", "0", "-1") == [b"a", b"b", b"c"]


def test_woken_client_that_finds_nothing_blocks_again(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    d1.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    d2.send("BLPOP", "k", "0")
    wait_blocked(c, 2)
    x(c, "RPUSH", "k", "only")
    assert d1.read() == [b"k", b"only"]
    assert d2.nothing_pending()
    assert blocked(c) == 1
    x(c, "RPUSH", "k", "next")
    assert d2.read() == [b"k", b"next"]


# ---- timeouts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd,nbytes", [
    (["BLPOP", "k", "0.1"], 5),
    (["BRPOP", "k", "k2", "0.1"], 5),
    (["BLMPOP", "0.1", "1", "k", "LEFT"], 5),
    (["BLMOVE", "k", "d", "LEFT", "LEFT", "0.1"], 5),
    (["BRPOPLPUSH", "k", "d", "0.1"], 5),
])
def test_timeout_reply_resp2(c: redis.Redis, deferred: Any, cmd: list[str], nbytes: int) -> None:
    d = deferred()
    t0 = time.time()
    d.send(*cmd)
    assert d.read_raw(nbytes) == b"*-1\r\n"
    assert 0.09 <= time.time() - t0 < 0.6
    assert blocked(c) == 0


@pytest.mark.parametrize("cmd", [["BLPOP", "k", "0.05"], ["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"],
                                 ["BLMPOP", "0.05", "1", "k", "RIGHT", "COUNT", "3"]])
def test_timeout_reply_resp3(deferred: Any, cmd: list[str]) -> None:
    d = deferred(resp3=True)
    d.send(*cmd)
    assert d.read_raw(3) == b"_\r\n"


def test_small_timeouts_and_zero(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("BLPOP", "k", "0.001")
    assert d.read() is None
    d.send("BLPOP", "k", "1e-400")  # underflows a double, not a long double: 1 ms
    assert d.read() is None
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    time.sleep(0.3)
    assert blocked(c) == 1
    x(c, "RPUSH", "k", "v")
    assert d.read() == [b"k", b"v"]


def test_timeout_counts_in_timeout_table(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    d1.send("BLPOP", "k", "0")
    d2.send("BLPOP", "k", "10")
    wait_blocked(c, 2)
    assert info_field(c, "clients", "clients_in_timeout_table") == "1"
    x(c, "CLIENT", "UNBLOCK", d2.id)
    assert d2.read() is None
    assert info_field(c, "clients", "clients_in_timeout_table") == "0"


# ---- CLIENT UNBLOCK, disconnects, pipelining ----------------------------------------------------------
def test_client_unblock(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("BLMPOP", "0", "1", "l", "RIGHT")
    wait_blocked(c, 1)
    assert x(c, "CLIENT", "UNBLOCK", d.id) == 1
    assert d.read_raw(5) == b"*-1\r\n"
    d.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    assert x(c, "CLIENT", "UNBLOCK", d.id, "timeout") == 1
    assert d.read() is None
    d.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    assert x(c, "CLIENT", "UNBLOCK", d.id, "ERROR") == 1
    e = d.read()
    assert isinstance(e, hiredis.ReplyError)
    assert str(e) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert blocked(c) == 0
    assert x(c, "CLIENT", "UNBLOCK", d.id) == 0  # not blocked
    assert x(c, "CLIENT", "UNBLOCK", "999999") == 0
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        x(c, "CLIENT", "UNBLOCK", "asd")
    with pytest.raises(redis.ResponseError, match="^CLIENT UNBLOCK reason should be TIMEOUT or ERROR$"):
        x(c, "CLIENT", "UNBLOCK", "asd", "foo")
    with pytest.raises(redis.ResponseError) as exc:
        x(c, "CLIENT", "UnBlock", "1", "timeout", "x")
    assert str(exc.value) == (
        "unknown subcommand or wrong number of arguments for 'UnBlock'. Try CLIENT HELP.")
    # Still usable afterwards.
    d.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    x(c, "LPUSH", "l", "foo")
    assert d.read() == [b"l", b"foo"]


def test_disconnect_leaves_no_trace(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    d1.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    d2.send("BLPOP", "k", "0")
    wait_blocked(c, 2)
    d1.close()
    wait_blocked(c, 1)
    x(c, "RPUSH", "k", "v")
    assert d2.read() == [b"k", b"v"]
    d3 = deferred()
    d3.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    d3.close()
    wait_blocked(c, 0)
    assert info_field(c, "clients", "total_blocking_keys") == "0"
    x(c, "RPUSH", "k", "kept")
    assert x(c, "LRANGE", "k", "0", "-1") == [b"kept"]


def test_pipelined_commands_wait_for_the_blocked_one(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send_raw(_enc("BLPOP", "k", "0") + _enc("SET", "after", "1") + _enc("GET", "after"))
    wait_blocked(c, 1)
    assert x(c, "EXISTS", "after") == 0  # SET has not run
    d.send("PING")  # arrives while blocked: queued too
    assert d.nothing_pending()
    x(c, "RPUSH", "k", "v")
    assert d.read() == [b"k", b"v"]
    assert d.read() == b"OK"
    assert d.read() == b"1"
    assert d.read() == b"PONG"


def test_pipelined_push_then_block_keeps_fairness(c: redis.Redis, deferred: Any) -> None:
    d1, d2 = deferred(), deferred()
    d1.send("BLPOP", "l", "0")
    wait_blocked(c, 1)
    d2.send_raw(_enc("LPUSH", "l", "1") + _enc("BLPOP", "l", "0"))
    assert d1.read() == [b"l", b"1"]
    assert d2.read() == 1
    wait_blocked(c, 1)
    x(c, "LPUSH", "l", "2")
    assert d2.read() == [b"l", b"2"]


def test_blocking_inside_multi_does_not_block(c: redis.Redis) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    x(c, "LPUSH", "xl", "foo", "bar")
    p = c.pipeline(transaction=True)
    for _ in range(3):
        p.execute_command("BLPOP", "xl", "0")
    p.execute_command("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0")
    p.execute_command("BLMPOP", "0", "1", "nokey", "LEFT")
    assert p.execute() == [[b"xl", b"bar"], [b"xl", b"foo"], None, None, None]
    assert blocked(c) == 0


def test_blocking_inside_multi_raw_nulls(kaa_proc: ServerProcess, c: redis.Redis) -> None:
    if not has_command(c, "multi"):
        pytest.skip("MULTI is not available in this build")
    with socket.create_connection(("127.0.0.1", kaa_proc.port), timeout=5) as s:
        s.sendall(b"MULTI\r\nBLPOP a 0\r\nBLMOVE a b left left 0\r\nEXEC\r\n")
        want = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*-1\r\n$-1\r\n"
        buf = b""
        while len(buf) < len(want):
            buf += s.recv(4096)
        assert buf == want


def test_monitor_shows_a_blocked_command_once(c: redis.Redis, deferred: Any) -> None:
    mon, bc = deferred(), deferred()
    mon.send("MONITOR")
    assert mon.read() == b"OK"
    bc.send("BLPOP", "mylist", "0")
    wait_blocked(c, 1)
    x(c, "LPUSH", "mylist", "1")
    assert bc.read() == [b"mylist", b"1"]
    x(c, "LPUSH", "mylist", "2")
    lines: list[bytes] = []
    while not lines or b'"2"' not in lines[-1]:
        lines.append(mon.read())
    assert sum(1 for ln in lines if b'"BLPOP"' in ln.upper()) == 1


# ---- statistics -------------------------------------------------------------------------------------
def test_commandstats_count_a_blocking_command_once(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    x(c, "CONFIG", "RESETSTAT")
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "LPUSH", "k", "1")
    assert d.read() == [b"k", b"1"]
    stat = info_field(c, "commandstats", "cmdstat_blpop")
    assert stat.startswith("calls=1,") and stat.endswith("rejected_calls=0,failed_calls=0")
    x(c, "CONFIG", "RESETSTAT")
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "CLIENT", "UNBLOCK", d.id, "TIMEOUT")
    assert d.read() is None
    stat = info_field(c, "commandstats", "cmdstat_blpop")
    assert stat.startswith("calls=1,") and stat.endswith("failed_calls=0")
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "CLIENT", "UNBLOCK", d.id, "ERROR")
    d.read()
    stat = info_field(c, "commandstats", "cmdstat_blpop")
    assert stat.startswith("calls=2,") and stat.endswith("failed_calls=1")
    assert "errorstat_UNBLOCKED:count=1" in x(c, "INFO", "errorstats").decode()


def test_client_counts_a_blocking_command_once(c: redis.Redis, deferred: Any) -> None:
    d = deferred()  # has run CLIENT ID: 1 command
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "RPUSH", "k", "v")
    assert d.read() == [b"k", b"v"]
    d.send("BLPOP", "k", "0")
    wait_blocked(c, 1)
    x(c, "CLIENT", "UNBLOCK", d.id)
    assert d.read() is None
    d.send("CLIENT", "INFO")
    fields = dict(f.split("=", 1) for f in d.read().decode().split())
    assert fields["tot-cmds"] == "3"  # CLIENT ID and two BLPOPs; CLIENT INFO is still running


def test_dirty_after_wake(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    before = int(info_field(c, "persistence", "rdb_changes_since_last_save"))
    d.send("BLPOP", "lst", "0")
    wait_blocked(c, 1)
    x(c, "LPUSH", "lst", "a")
    assert d.read() == [b"lst", b"a"]
    after = int(info_field(c, "persistence", "rdb_changes_since_last_save"))
    assert after - before == 2


# ---- propagation of woken commands -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, list[list[bytes]]]]:
    with EmbeddedServer() as e:
        props: list[list[bytes]] = []
        srv = e.server
        srv.sinks.append(lambda dbid, argv: props.append(list(argv)))
        srv.propagating = True
        yield e, props


def test_woken_commands_propagate_non_blocking_forms(
    embedded: tuple[EmbeddedServer, list[list[bytes]]],
) -> None:
    e, props = embedded
    c = redis.Redis(port=e.port)
    c.response_callbacks.clear()
    c.execute_command("FLUSHALL")
    props.clear()
    d1, d2, d3 = Deferred(e.port), Deferred(e.port), Deferred(e.port)
    try:
        d1.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
        wait_blocked(c, 1)
        d2.send("BLMOVE", "dst", "src", "RIGHT", "LEFT", "0")
        wait_blocked(c, 2)
        d3.send_raw(_enc("SET", "key1", "v") + _enc("LPUSH", "src", "dummy") + _enc("SET", "key2", "v"))
        assert d3.read() == b"OK" and d3.read() == 1 and d3.read() == b"OK"
        assert d1.read() == b"dummy" and d2.read() == b"dummy"
        d1.send("BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "10")
        wait_blocked(c, 1)
        c.execute_command("RPUSH", "b", "1", "2", "3")
        assert d1.read() == [b"b", [b"3", b"2", b"1"]]
        d1.send("BRPOP", "a", "0")
        wait_blocked(c, 1)
        c.execute_command("RPUSH", "a", "x")
        assert d1.read() == [b"a", b"x"]
        d1.send("BLPOP", "a", "0.01")  # a timeout propagates nothing
        assert d1.read() is None
        assert props == [
            [b"SET", b"key1", b"v"],
            [b"LPUSH", b"src", b"dummy"],
            [b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"],
            [b"LMOVE", b"dst", b"src", b"RIGHT", b"LEFT"],
            [b"SET", b"key2", b"v"],
            [b"RPUSH", b"b", b"1", b"2", b"3"],
            [b"RPOP", b"b", b"3"],
            [b"RPUSH", b"a", b"x"],
            [b"RPOP", b"a"],
        ]
    finally:
        for d in (d1, d2, d3):
            d.close()
        c.close()


def test_no_blocking_state_when_nobody_waits(embedded: tuple[EmbeddedServer, list[list[bytes]]]) -> None:
    e, _ = embedded
    c = redis.Redis(port=e.port)
    c.response_callbacks.clear()
    d = Deferred(e.port)
    try:
        d.send("BLPOP", "k", "0")
        wait_blocked(c, 1)
        ks = e.server.keyspace
        assert ks.blocked_keys is not None
        d.close()
        wait_blocked(c, 0)
        assert ks.blocked_keys is None  # writes cost nothing again
        c.execute_command("RPUSH", "k", "v")
        assert not ks.ready_keys
    finally:
        c.close()


# ---- a randomized storm: nothing lost, nothing left behind ----------------------------------------
def _poll(d: Deferred) -> Any:
    """A reply if one is already available, else False (never waits)."""
    reply = d.reader.gets()
    if reply is not False:
        return reply
    d.sock.setblocking(False)
    try:
        data = d.sock.recv(65536)
    except BlockingIOError:
        return False
    finally:
        d.sock.setblocking(True)
    if data:
        d.reader.feed(data)
    return d.reader.gets()


def test_random_storm_conserves_elements(c: redis.Redis, deferred: Any) -> None:
    import random

    rnd = random.Random(1234)
    keys = ["s0", "s1", "s2"]
    clients = [deferred() for _ in range(12)]
    waiting: dict[int, str] = {}  # index -> kind of the command in flight
    pushed: list[bytes] = []
    consumed: list[bytes] = []

    def collect(i: int, reply: Any) -> None:
        kind = waiting.pop(i)
        if reply is None or isinstance(reply, hiredis.ReplyError):
            return
        if kind == "pop":
            consumed.append(reply[1])
        elif kind == "mpop":
            consumed.extend(reply[1])

    serial = 0
    for _ in range(250):
        for i, d in enumerate(clients):
            if i in waiting:
                continue
            k1, k2 = rnd.choice(keys), rnd.choice(keys)
            t = rnd.choice(["0", "0.02", "0.1"])
            kind = rnd.choice(["pop", "pop", "mpop", "move"])
            if kind == "pop":
                d.send(rnd.choice(["BLPOP", "BRPOP"]), k1, k2, t)
            elif kind == "mpop":
                d.send("BLMPOP", t, "2", k1, k2, rnd.choice(["LEFT", "RIGHT"]), "COUNT", rnd.randint(1, 3))
            else:
                d.send("BLMOVE", k1, k2, rnd.choice(["LEFT", "RIGHT"]), rnd.choice(["LEFT", "RIGHT"]), t)
            waiting[i] = kind
        action = rnd.random()
        if action < 0.5:
            vals = [b"e%d" % (serial + j) for j in range(rnd.randint(1, 3))]
            serial += len(vals)
            pushed.extend(vals)
            x(c, rnd.choice(["LPUSH", "RPUSH"]), rnd.choice(keys), *vals)
        elif action < 0.6 and waiting:
            i = rnd.choice(list(waiting))
            x(c, "CLIENT", "UNBLOCK", clients[i].id, rnd.choice(["TIMEOUT", "ERROR"]))
        for i in list(waiting):
            reply = _poll(clients[i])
            if reply is not False:
                collect(i, reply)
    # Drain: end every wait, then read every outstanding reply.
    deadline = time.time() + 5
    while waiting and time.time() < deadline:
        for i in list(waiting):
            x(c, "CLIENT", "UNBLOCK", clients[i].id)
            reply = _poll(clients[i])
            if reply is not False:
                collect(i, reply)
        time.sleep(0.01)
    assert not waiting
    remaining = [v for k in keys for v in x(c, "LRANGE", k, "0", "-1")]
    assert sorted(consumed + remaining) == sorted(pushed)
    assert blocked(c) == 0
    assert info_field(c, "clients", "total_blocking_keys") == "0"
