"""Stream commands without consumer groups (XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID
XREAD XINFO STREAM) against a running kaa-server: replies and error texts as Valkey 8
sends them, in RESP2 and RESP3; the node layout that approximate trimming, LIMIT and
XINFO expose; blocking XREAD; and the StreamValue / ID helpers themselves.

Clients have redis-py's response callbacks removed so assertions see replies as sent.
The helpers at the top are shared with the other stream test files.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
from tests.support.commands import err, x
from tests.support.servers import ServerProcess

from kaa.types.stream import (
    MAX_ID,
    StreamValue,
    id_bytes,
    lp_str_size,
    make_id,
    rax_node_count,
)

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
INVALID_ID = "Invalid stream ID specified as stream command argument"
NOT_INT = "value is not an integer or out of range"
SMALLER = "The ID specified in XADD is equal or smaller than the target stream top item"
U64 = 18446744073709551615


# ---- helpers (shared with the other stream test files) -----------------------------------------
def client(port: int, protocol: int = 2) -> redis.Redis:
    c = redis.Redis(port=port, protocol=protocol, socket_timeout=10)
    c.response_callbacks.clear()
    return c






def enc(*args: Any) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def raw(port: int, *cmd: Any, resp3: bool = False) -> bytes:
    """The exact bytes of one reply (for null encodings), after HELLO 3 if asked."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        if resp3:
            s.sendall(enc("HELLO", "3"))
            _read_reply(s, hiredis.Reader())
        s.sendall(enc(*cmd) + enc("PING"))
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data[: -len(b"+PONG\r\n")]


def _read_reply(s: socket.socket, reader: Any) -> Any:
    while True:
        r = reader.gets()
        if r is not False:
            return r
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed")
        reader.feed(data)


class Deferred:
    """A connection whose replies are read when the test wants them (blocking tests)."""

    def __init__(self, port: int, resp3: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = hiredis.Reader()
        if resp3:
            self.send("HELLO", "3")
            self.read()

    def send(self, *args: Any) -> None:
        self.sock.sendall(enc(*args))

    def read(self, timeout: float = 5) -> Any:
        self.sock.settimeout(timeout)
        return _read_reply(self.sock, self.reader)

    def nothing_pending(self, wait: float = 0.1) -> bool:
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        self.reader.feed(data)
        return not data

    def close(self) -> None:
        self.sock.close()


def blocked_clients(c: redis.Redis) -> int:
    for line in x(c, "INFO", "clients").decode().splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients")


def wait_blocked(c: redis.Redis, n: int, timeout: float = 3) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked_clients(c) == n:
            return
        time.sleep(0.005)
    raise AssertionError(f"expected {n} blocked clients, have {blocked_clients(c)}")


def info_map(reply: Any) -> dict[bytes, Any]:
    """An XINFO reply as a dict, whatever the protocol."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[0::2], reply[1::2], strict=True))


@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    cl = client(kaa_proc.port)
    x(cl, "FLUSHALL")
    x(cl, "CONFIG", "SET", "stream-node-max-entries", "100")
    x(cl, "CONFIG", "SET", "stream-node-max-bytes", "4096")
    yield cl
    x(cl, "CONFIG", "SET", "stream-node-max-entries", "100")
    x(cl, "CONFIG", "SET", "stream-node-max-bytes", "4096")
    cl.close()


@pytest.fixture()
def c3(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    cl = client(kaa_proc.port, 3)
    x(cl, "FLUSHALL")
    yield cl
    cl.close()


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


# ---- XADD -------------------------------------------------------------------------------------
def test_xadd_explicit_ids_and_errors(c: redis.Redis) -> None:
    assert x(c, "XADD", "s", "1-1", "a", "1") == b"1-1"
    assert x(c, "XADD", "s", "5", "a", "2") == b"5-0"
    assert x(c, "XADD", "s", "5-*", "a", "3") == b"5-1"
    assert x(c, "XADD", "s", "7-*", "a", "4") == b"7-0"
    assert err(c, "XADD", "s", "7-0", "a", "5") == SMALLER
    assert err(c, "XADD", "s", "6-*", "a", "5") == SMALLER
    assert err(c, "XADD", "s", "0-0", "a", "5") == "The ID specified in XADD must be greater than 0-0"
    assert err(c, "XADD", "new", "0-0", "a", "5") == "The ID specified in XADD must be greater than 0-0"
    assert x(c, "EXISTS", "new") == 0
    assert x(c, "XADD", "new", "0-*", "a", "5") == b"0-1"
    for bad in ("foo", "1-x", "+", "-", "1-2-3", "(1", "1-" + "9" * 30):
        assert err(c, "XADD", "s", bad, "a", "b") == INVALID_ID, bad
    assert x(c, "XLEN", "s") == 4


def test_xadd_arity_and_option_errors(c: redis.Redis) -> None:
    arity = "wrong number of arguments for 'xadd' command"
    assert err(c, "XADD", "s") == arity
    assert err(c, "XADD", "s", "*") == arity
    assert err(c, "XADD", "s", "*", "f") == arity
    assert err(c, "XADD", "s", "*", "f", "v", "g") == arity
    assert err(c, "XADD", "s", "MAXLEN", "5", "*", "f") == arity
    assert err(c, "XADD", "s", "MAXLEN", "x", "*", "a", "b") == NOT_INT
    assert err(c, "XADD", "s", "MAXLEN", "-1", "*", "a", "b") == "The MAXLEN argument must be >= 0."
    assert err(c, "XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b") == (
        "syntax error, MAXLEN and MINID options at the same time are not compatible")
    assert err(c, "XADD", "s", "MINID", "x", "*", "a", "b") == INVALID_ID
    assert err(c, "XADD", "s", "LIMIT", "1", "*", "a", "b") == (
        "syntax error, LIMIT cannot be used without specifying a trimming strategy")
    assert err(c, "XADD", "s", "MAXLEN", "1", "LIMIT", "1", "*", "a", "b") == (
        "syntax error, LIMIT cannot be used without the special ~ option")
    assert err(c, "XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a", "b") == (
        "The LIMIT argument must be >= 0.")
    assert err(c, "XADD", "s", "MAXLEN", "~", "1", "LIMIT", "x", "*", "a", "b") == NOT_INT
    x(c, "SET", "str", "v")
    assert err(c, "XADD", "str", "*", "a", "b") == WRONGTYPE
    assert x(c, "EXISTS", "s") == 0


def test_xadd_auto_ids_are_increasing_and_time_based(c: redis.Redis) -> None:
    before = int(time.time() * 1000)
    ids = [x(c, "XADD", "s", "*", "f", str(i)) for i in range(50)]
    after = int(time.time() * 1000)
    parsed = [tuple(int(p) for p in i.split(b"-")) for i in ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == 50
    assert before <= parsed[0][0] <= after
    # A future explicit ID pins auto IDs to it (sequence incremented).
    x(c, "XADD", "f", f"{after + 10**9}-{U64}", "a", "b")
    assert x(c, "XADD", "f", "*", "c", "d") == b"%d-0" % (after + 10**9 + 1)


def test_xadd_id_space_edges(c: redis.Redis) -> None:
    x(c, "XADD", "s", f"{U64}-{U64}", "a", "b")
    assert err(c, "XADD", "s", "*", "c", "d") == (
        "The stream has exhausted the last possible ID, unable to add more items")
    x(c, "XADD", "t", f"1-{U64}", "a", "b")
    assert err(c, "XADD", "t", "1-*", "c", "d") == SMALLER
    assert x(c, "XADD", "t", "2-*", "c", "d") == b"2-0"


def test_xadd_nomkstream(c: redis.Redis, c3: redis.Redis, kaa_proc: ServerProcess) -> None:
    assert x(c, "XADD", "s", "NOMKSTREAM", "*", "a", "b") is None
    assert x(c, "EXISTS", "s") == 0
    assert raw(kaa_proc.port, "XADD", "s", "NOMKSTREAM", "*", "a", "b") == b"$-1\r\n"
    assert raw(kaa_proc.port, "XADD", "s", "NOMKSTREAM", "*", "a", "b", resp3=True) == b"_\r\n"
    x(c, "XADD", "s", "1-0", "a", "b")
    assert x(c, "XADD", "s", "NOMKSTREAM", "2-0", "c", "d") == b"2-0"
    assert x(c, "XLEN", "s") == 2


def test_xadd_id_parsing_follows_string2ull(c: redis.Redis) -> None:
    # Leading zeros, spaces and '+' go through strtoull; a leading '-' wraps around.
    assert x(c, "XADD", "s", "01-+2", "a", "b") == b"1-2"
    assert x(c, "XADD", "s", " 3-0", "a", "b") == b"3-0"
    assert x(c, "XADD", "s", "4--05", "a", "b") == b"4-%d" % (2**64 - 5)
    assert err(c, "XADD", "s", "5--5", "a", "b") == INVALID_ID
    assert err(c, "XADD", "s", "18446744073709551616-0", "a", "b") == INVALID_ID


def test_xadd_maxlen_exact_and_approx(c: redis.Redis) -> None:
    for j in range(1000):
        x(c, "XADD", "s", "MAXLEN", "5", "*", "xitem" if j % 10 else "yitem", str(j))
    assert x(c, "XLEN", "s") == 5
    assert [e[1][1] for e in x(c, "XRANGE", "s", "-", "+")] == [b"995", b"996", b"997", b"998", b"999"]
    x(c, "DEL", "s")
    for j in range(1000):
        x(c, "XADD", "s", "MAXLEN", "~", "555", "*", "xitem", str(j))
    assert x(c, "XLEN", "s") == 600  # only whole nodes of 100 entries go
    x(c, "DEL", "s")
    assert x(c, "XADD", "s", "MAXLEN", "0", "*", "a", "b")
    info = info_map(x(c, "XINFO", "STREAM", "s"))
    assert info[b"length"] == 0 and info[b"entries-added"] == 1


def test_xadd_minid_and_limit(c: redis.Redis) -> None:
    for j in range(1, 1001):
        x(c, "XADD", "s", "MINID", str(max(j - 5, 0) if j >= 5 else 1000), str(j), "f", str(j))
    assert x(c, "XLEN", "s") == 6
    x(c, "DEL", "s")
    x(c, "CONFIG", "SET", "stream-node-max-entries", "10")
    for _ in range(100):
        x(c, "XADD", "s", "*", "xitem", "v")
    x(c, "XADD", "s", "MAXLEN", "~", "55", "LIMIT", "30", "*", "xitem", "v")
    assert x(c, "XLEN", "s") == 71
    x(c, "XADD", "s", "MAXLEN", "~", "55", "LIMIT", "30", "*", "xitem", "v")
    assert x(c, "XLEN", "s") == 62
    x(c, "DEL", "t")
    for _ in range(3):
        x(c, "XADD", "t", "*", "xitem", "v")
    x(c, "XADD", "t", "MAXLEN", "~", "0", "LIMIT", "1", "*", "xitem", "v")
    assert x(c, "XLEN", "t") == 4


# ---- XRANGE / XREVRANGE / XLEN --------------------------------------------------------------------
def test_xrange_and_xrevrange(c: redis.Redis) -> None:
    for i in range(1, 6):
        x(c, "XADD", "s", f"{i}-0", "f", str(i))
    x(c, "XADD", "s", "5-1", "g", "x", "h", "y")
    full = x(c, "XRANGE", "s", "-", "+")
    assert full[0] == [b"1-0", [b"f", b"1"]]
    assert full[-1] == [b"5-1", [b"g", b"x", b"h", b"y"]]
    assert x(c, "XREVRANGE", "s", "+", "-") == full[::-1]
    assert x(c, "XRANGE", "s", "2", "3") == full[1:3]
    assert x(c, "XRANGE", "s", "5", "5") == full[4:6]  # 5 -> 5-0 .. 5-max
    assert x(c, "XRANGE", "s", "(2-0", "(4-0") == full[2:3]
    assert x(c, "XREVRANGE", "s", "(5-1", "(1-0") == full[1:5][::-1]
    assert x(c, "XRANGE", "s", "-", "+", "COUNT", "2") == full[:2]
    assert x(c, "XRANGE", "s", "-", "+", "COUNT", "-5") is None  # negative count is 0: nil
    assert x(c, "XREVRANGE", "s", "+", "-", "COUNT", "1", "COUNT", "2") == full[::-1][:2]
    assert x(c, "XRANGE", "s", "4", "2") == []
    assert x(c, "XRANGE", "nokey", "-", "+") == []
    assert x(c, "XRANGE", "nokey", "-", "+", "COUNT", "0") == []


def test_xrange_errors(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    x(c, "XADD", "s", "1-0", "f", "v")
    assert err(c, "XRANGE", "s", "(-", "+") == INVALID_ID
    assert err(c, "XRANGE", "s", "-", "(+") == INVALID_ID
    assert err(c, "XRANGE", "s", f"({U64}-{U64}", "+") == "invalid start ID for the interval"
    assert err(c, "XRANGE", "s", "-", "(0-0") == "invalid end ID for the interval"
    assert err(c, "XRANGE", "s", "x", "+") == INVALID_ID
    assert err(c, "XRANGE", "s", "-", "+", "COUNT") == "syntax error"
    assert err(c, "XRANGE", "s", "-", "+", "LIMIT", "1") == "syntax error"
    assert err(c, "XRANGE", "s", "-", "+", "COUNT", "x") == NOT_INT
    assert err(c, "XRANGE", "s", "-") == "wrong number of arguments for 'xrange' command"
    x(c, "SET", "str", "v")
    assert err(c, "XRANGE", "str", "-", "+") == WRONGTYPE
    assert err(c, "XRANGE", "str", "x", "+") == INVALID_ID  # IDs are checked first
    assert err(c, "XREVRANGE", "str", "+", "-") == WRONGTYPE
    assert err(c, "XLEN", "str") == WRONGTYPE
    assert raw(kaa_proc.port, "XRANGE", "s", "-", "+", "COUNT", "0") == b"*-1\r\n"
    assert raw(kaa_proc.port, "XRANGE", "s", "-", "+", "COUNT", "0", resp3=True) == b"_\r\n"


def test_exclusive_ranges_at_the_id_space_edges(c: redis.Redis) -> None:
    ids = ["0-1", f"0-{U64}", "1-0", "42-0", "42-42", f"{U64}-{U64 - 1}", f"{U64}-{U64}"]
    for i in ids:
        x(c, "XADD", "s", i, "foo", "bar")
    assert len(x(c, "XRANGE", "s", "-", "+")) == 7
    assert len(x(c, "XRANGE", "s", "(0-1", "+")) == 6
    assert len(x(c, "XRANGE", "s", "-", f"({U64}-{U64}")) == 6
    assert len(x(c, "XRANGE", "s", "(0-1", "(1-0")) == 1
    assert len(x(c, "XRANGE", "s", "(1-0", "(42-42")) == 1


def test_replies_in_resp3(c3: redis.Redis) -> None:
    x(c3, "XADD", "s", "1-0", "a", "1")
    assert x(c3, "XRANGE", "s", "-", "+") == [[b"1-0", [b"a", b"1"]]]
    assert x(c3, "XREAD", "STREAMS", "s", "0") == {b"s": [[b"1-0", [b"a", b"1"]]]}
    info = x(c3, "XINFO", "STREAM", "s")
    assert isinstance(info, dict) and info[b"first-entry"] == [b"1-0", [b"a", b"1"]]


# ---- XDEL / XTRIM / XSETID ----------------------------------------------------------------------------
def test_xdel(c: redis.Redis) -> None:
    for i in range(1, 6):
        x(c, "XADD", "s", f"1-{i}", "k", str(i))
    assert x(c, "XDEL", "s", "1-1", "1-4", "1-5", "2-1") == 3
    assert x(c, "XLEN", "s") == 2
    assert [e[0] for e in x(c, "XRANGE", "s", "-", "+")] == [b"1-2", b"1-3"]
    assert x(c, "XDEL", "s", "1-1") == 0
    assert err(c, "XDEL", "s", "1-2", "bad") == INVALID_ID
    assert x(c, "XLEN", "s") == 2  # all or nothing
    assert x(c, "XDEL", "nokey", "bad") == 0  # no key: IDs are not even parsed
    x(c, "SET", "str", "v")
    assert err(c, "XDEL", "str", "1") == WRONGTYPE
    info = info_map(x(c, "XINFO", "STREAM", "s"))
    assert info[b"max-deleted-entry-id"] == b"1-5"
    assert info[b"recorded-first-entry-id"] == b"1-2"
    assert x(c, "XDEL", "s", "1-2", "1-3") == 2
    info = info_map(x(c, "XINFO", "STREAM", "s"))
    assert info[b"length"] == 0 and info[b"recorded-first-entry-id"] == b"0-0"
    assert info[b"last-generated-id"] == b"1-5"
    assert x(c, "EXISTS", "s") == 1  # empty streams stay


def test_xdel_fuzz_keeps_the_structure_sane(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "stream-node-max-entries", "5")
    ids = [x(c, "XADD", "s", f"{i}-0", "item", str(i)) for i in range(1, 121)]
    assert info_map(x(c, "XINFO", "STREAM", "s"))[b"radix-tree-keys"] == 24
    order = ids[::7] + [i for i in ids if i not in ids[::7]]
    left = len(ids)
    for i in order:
        assert x(c, "XDEL", "s", i) == 1
        left -= 1
        if left % 20 == 0:
            assert len(x(c, "XRANGE", "s", "-", "+")) == left == x(c, "XLEN", "s")
    assert info_map(x(c, "XINFO", "STREAM", "s"))[b"radix-tree-keys"] == 0


def test_xtrim(c: redis.Redis) -> None:
    for j in range(1000):
        x(c, "XADD", "s", "*", "xitem", str(j))
    assert x(c, "XTRIM", "s", "MAXLEN", "666") == 334
    assert x(c, "XTRIM", "s", "MAXLEN", "=", "555") == 111
    assert x(c, "XTRIM", "s", "MAXLEN", "~", "444") == 55  # down to a node boundary
    assert x(c, "XLEN", "s") == 500
    assert x(c, "XTRIM", "s", "MAXLEN", "~", "400") == 100
    x(c, "DEL", "m")
    for i in range(1, 6):
        x(c, "XADD", "m", f"{i}-0", "f", "v")
    assert x(c, "XTRIM", "m", "MINID", "=", "3-0") == 2
    assert [e[0] for e in x(c, "XRANGE", "m", "-", "+")] == [b"3-0", b"4-0", b"5-0"]
    assert x(c, "XTRIM", "m", "MINID", "1") == 0
    assert x(c, "XTRIM", "nokey", "MAXLEN", "1") == 0


def test_xtrim_errors_and_limits(c: redis.Redis) -> None:
    x(c, "XADD", "s", "1-0", "f", "v")
    assert err(c, "XTRIM", "s", "FOO", "1") == "syntax error"
    assert err(c, "XTRIM", "s", "MAXLEN") == "wrong number of arguments for 'xtrim' command"
    assert err(c, "XTRIM", "s", "LIMIT", "5") == (
        "syntax error, LIMIT cannot be used without specifying a trimming strategy")
    assert err(c, "XTRIM", "s", "MAXLEN", "1", "LIMIT", "30") == (
        "syntax error, LIMIT cannot be used without the special ~ option")
    assert err(c, "XTRIM", "s", "NOMKSTREAM", "MAXLEN", "1") == "syntax error"
    x(c, "SET", "str", "v")
    assert err(c, "XTRIM", "str", "MAXLEN", "1") == WRONGTYPE
    x(c, "DEL", "s")
    x(c, "CONFIG", "SET", "stream-node-max-entries", "1")
    for _ in range(102):
        x(c, "XADD", "s", "*", "xitem", "v")
    assert x(c, "XTRIM", "s", "MAXLEN", "~", "1") == 100  # default LIMIT: 100 nodes
    assert x(c, "XLEN", "s") == 2
    x(c, "DEL", "s")
    x(c, "CONFIG", "SET", "stream-node-max-entries", "2")
    for _ in range(3):
        x(c, "XADD", "s", "*", "xitem", "v")
    assert x(c, "XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "1") == 0
    assert x(c, "XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "2") == 2


def test_xsetid(c: redis.Redis) -> None:
    assert err(c, "XSETID", "s", "1-1") == "no such key"
    assert err(c, "XSETID", "s", "1-1", "0") == "syntax error"
    assert err(c, "XSETID", "s", "1-1", "ENTRIESADDED", "-1", "MAXDELETEDID", "0-0") == (
        "entries_added must be positive")
    assert err(c, "XSETID", "s", "1-1", "ENTRIESADDED", "5", "MAXDELETEDID", "2-0") == (
        "The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    assert err(c, "XSETID", "s", "+") == INVALID_ID
    x(c, "XADD", "s", "MAXLEN", "0", "*", "a", "b")
    assert x(c, "XSETID", "s", "200-0") == b"OK"
    info = info_map(x(c, "XINFO", "STREAM", "s"))
    assert info[b"last-generated-id"] == b"200-0" and info[b"entries-added"] == 1
    x(c, "XADD", "x", "1-1", "a", "1")
    x(c, "XADD", "x", "1-2", "b", "2")
    x(c, "XADD", "x", "1-3", "c", "3")
    assert err(c, "XSETID", "x", "1-2") == (
        "The ID specified in XSETID is smaller than the target stream top item")
    assert err(c, "XSETID", "x", "1-3", "ENTRIESADDED", "2") == (
        "The entries_added specified in XSETID is smaller than the target stream length")
    x(c, "XDEL", "x", "1-3")
    assert x(c, "XSETID", "x", "1-3") == b"OK"  # the top live item is 1-2 now
    assert err(c, "XSETID", "x", "1-2") == (  # but never below a deleted ID
        "The ID specified in XSETID is smaller than current max_deleted_entry_id")
    assert x(c, "XSETID", "x", "5-0", "ENTRIESADDED", "9", "MAXDELETEDID", "4-0") == b"OK"
    info = info_map(x(c, "XINFO", "STREAM", "x"))
    assert (info[b"last-generated-id"], info[b"entries-added"], info[b"max-deleted-entry-id"]) == (
        b"5-0", 9, b"4-0")
    x(c, "SET", "str", "v")
    assert err(c, "XSETID", "str", "1") == WRONGTYPE


# ---- XREAD ------------------------------------------------------------------------------------------
def test_xread_non_blocking(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    for i in range(1, 4):
        x(c, "XADD", "a", f"{i}-0", "k", str(i))
    x(c, "XADD", "b", "5-0", "k", "b")
    assert x(c, "XREAD", "COUNT", "1", "STREAMS", "a", "0") == [[b"a", [[b"1-0", [b"k", b"1"]]]]]
    assert x(c, "XREAD", "STREAMS", "nokey", "a", "b", "0", "2", "0") == [
        [b"a", [[b"3-0", [b"k", b"3"]]]], [b"b", [[b"5-0", [b"k", b"b"]]]]]
    assert x(c, "XREAD", "STREAMS", "a", "$") is None
    assert raw(kaa_proc.port, "XREAD", "STREAMS", "a", "$") == b"*-1\r\n"
    assert raw(kaa_proc.port, "XREAD", "STREAMS", "a", "$", resp3=True) == b"_\r\n"
    assert x(c, "XREAD", "COUNT", "-3", "STREAMS", "a", "2") == [[b"a", [[b"3-0", [b"k", b"3"]]]]]
    # The same key twice is served twice.
    assert x(c, "XREAD", "STREAMS", "a", "a", "2", "1") == [
        [b"a", [[b"3-0", [b"k", b"3"]]]], [b"a", [[b"2-0", [b"k", b"2"]], [b"3-0", [b"k", b"3"]]]]]


def test_xread_last_entry_with_plus(c: redis.Redis) -> None:
    for i in range(1, 4):
        x(c, "XADD", "s", f"{i}-0", f"k{i}", f"v{i}")
    assert x(c, "XREAD", "COUNT", "3", "STREAMS", "s", "+") == [[b"s", [[b"3-0", [b"k3", b"v3"]]]]]
    x(c, "XADD", "s", f"3-{U64}", "k5", "v5")
    assert x(c, "XREAD", "STREAMS", "s", "nokey", "+", "+") == [
        [b"s", [[f"3-{U64}".encode(), [b"k5", b"v5"]]]]]
    x(c, "XADD", "e", "1-0", "a", "b")
    x(c, "XDEL", "e", "1-0")
    assert x(c, "XREAD", "STREAMS", "e", "+") is None
    x(c, "XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
    assert err(c, "XREAD", "STREAMS", "empty", "+") == "the stream last element ID is 0-0"


def test_xread_errors(c: redis.Redis) -> None:
    x(c, "XADD", "s", "1-0", "f", "v")
    assert err(c, "XREAD", "COUNT", "1", "STREAMS", "s") == (
        "Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.")
    assert err(c, "XREAD", "STREAMS", "s", ">") == (
        "The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
        "<consumer> option.")
    assert err(c, "XREAD", "GROUP", "g", "c", "STREAMS", "s", "0") == (
        "The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    assert err(c, "XREAD", "NOACK", "STREAMS", "s", "0") == (
        "The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    assert err(c, "XREAD", "FOO", "STREAMS", "s", "0") == "syntax error"
    assert err(c, "XREAD", "COUNT", "1", "BLOCK", "1") == "syntax error"
    assert err(c, "XREAD", "COUNT", "x", "STREAMS", "s", "0") == NOT_INT
    assert err(c, "XREAD", "BLOCK", "x", "STREAMS", "s", "0") == "timeout is not an integer or out of range"
    assert err(c, "XREAD", "BLOCK", "-1", "STREAMS", "s", "0") == "timeout is negative"
    assert err(c, "XREAD", "STREAMS", "s", "bad") == INVALID_ID
    x(c, "SET", "str", "v")
    assert err(c, "XREAD", "STREAMS", "s", "str", "0", "0") == WRONGTYPE


def test_blocking_xread(c: redis.Redis, deferred: Any) -> None:
    x(c, "XADD", "s2", "*", "old", "abcd1234")
    d = deferred()
    d.send("XREAD", "BLOCK", "20000", "STREAMS", "s1", "s2", "s3", "$", "$", "$")
    wait_blocked(c, 1)
    x(c, "XADD", "s2", "*", "new", "abcd1234")
    res = d.read()
    assert res[0][0] == b"s2" and res[0][1][0][1] == [b"new", b"abcd1234"]
    # Data already there: no blocking at all.
    d.send("XREAD", "BLOCK", "20000", "STREAMS", "s1", "s2", "$", "0-0")
    assert d.read()[0][1][0][1] == [b"old", b"abcd1234"]


def test_blocking_xread_timeout_and_nulls(c: redis.Redis, deferred: Any) -> None:
    x(c, "XADD", "s", "666", "f", "v")
    x(c, "XADD", "s", "667", "f2", "v2")
    x(c, "XDEL", "s", "667")
    d = deferred()
    d.send("XREAD", "BLOCK", "10", "STREAMS", "s", "666")
    assert d.read() is None  # served only by entries above 666: a tombstone does not count
    d3 = deferred(resp3=True)
    t0 = time.time()
    d3.sock.sendall(enc("XREAD", "BLOCK", "50", "STREAMS", "s", "$"))
    d3.sock.settimeout(3)
    assert d3.sock.recv(100) == b"_\r\n"
    assert time.time() - t0 >= 0.04


def test_blocking_xread_is_not_woken_by_other_writes(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("XREAD", "BLOCK", "20000", "STREAMS", "s1", "$")
    wait_blocked(c, 1)
    x(c, "MULTI")
    x(c, "XADD", "s1", "*", "old", "abcd1234")
    x(c, "DEL", "s1")
    x(c, "LPUSH", "s1", "foo")
    x(c, "EXEC")
    x(c, "SET", "s1", "string")
    assert d.nothing_pending()
    x(c, "DEL", "s1")
    x(c, "XADD", "s1", "*", "new", "abcd1234")
    assert d.read()[0][1][0][1] == [b"new", b"abcd1234"]


def test_blocking_xread_wakes_after_the_whole_transaction(c: redis.Redis, deferred: Any) -> None:
    x(c, "XADD", "s", "*", "old", "abcd1234")
    d = deferred()
    d.send("XREAD", "BLOCK", "20000", "STREAMS", "s", "s", "s", "$", "$", "$")
    wait_blocked(c, 1)
    x(c, "MULTI")
    for v in ("one", "two", "three"):
        x(c, "XADD", "s", "*", "field", v)
    x(c, "EXEC")
    res = d.read()
    assert [e[1][1] for e in res[0][1]] == [b"one", b"two", b"three"]


def test_blocking_xread_edge_ids_and_several_clients(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("XREAD", "BLOCK", "0", "STREAMS", "x", f"1-{U64}")
    wait_blocked(c, 1)
    x(c, "XADD", "x", "1-1", "f", "v")
    x(c, "XADD", "x", f"1-{U64}", "f", "v")
    assert d.nothing_pending()
    x(c, "XADD", "x", "2-1", "f", "v")
    assert d.read()[0][1][0][0] == b"2-1"
    # Several readers on several streams: each is served once, with what it waited for.
    readers = []
    for i in range(4):
        r = deferred(resp3=bool(i % 2))
        r.send("XREAD", "BLOCK", "5000", "STREAMS", "x", "y", "$", "$")
        readers.append(r)
    wait_blocked(c, 4)
    x(c, "XADD", "y", "9-0", "from", "y")
    for i, r in enumerate(readers):
        got = r.read()
        if i % 2:
            assert got == {b"y": [[b"9-0", [b"from", b"y"]]]}
        else:
            assert got == [[b"y", [[b"9-0", [b"from", b"y"]]]]]
    assert blocked_clients(c) == 0


def test_blocking_xread_plus_waits_for_the_first_entry(c: redis.Redis, deferred: Any) -> None:
    d = deferred()
    d.send("XREAD", "BLOCK", "20000", "STREAMS", "le", "+")
    wait_blocked(c, 1)
    x(c, "XADD", "le", "1-0", "k1", "v1")
    assert d.read() == [[b"le", [[b"1-0", [b"k1", b"v1"]]]]]


def test_xread_block_inside_multi_does_not_block(c: redis.Redis) -> None:
    x(c, "MULTI")
    x(c, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert x(c, "EXEC") == [None]


# ---- XINFO STREAM and the node layout ------------------------------------------------------------
def test_xinfo_stream(c: redis.Redis) -> None:
    x(c, "XADD", "s", "1-0", "a", "1")
    x(c, "XADD", "s", "2-0", "b", "2")
    info = x(c, "XINFO", "STREAM", "s")
    assert info == [
        b"length", 2, b"radix-tree-keys", 1, b"radix-tree-nodes", 2,
        b"last-generated-id", b"2-0", b"max-deleted-entry-id", b"0-0", b"entries-added", 2,
        b"recorded-first-entry-id", b"1-0", b"groups", 0,
        b"first-entry", [b"1-0", [b"a", b"1"]], b"last-entry", [b"2-0", [b"b", b"2"]]]
    full = info_map(x(c, "XINFO", "STREAM", "s", "FULL"))
    assert list(full) == [b"length", b"radix-tree-keys", b"radix-tree-nodes", b"last-generated-id",
                          b"max-deleted-entry-id", b"entries-added", b"recorded-first-entry-id",
                          b"entries", b"groups"]
    assert full[b"entries"] == [[b"1-0", [b"a", b"1"]], [b"2-0", [b"b", b"2"]]]
    assert full[b"groups"] == []
    assert info_map(x(c, "XINFO", "STREAM", "s", "FULL", "COUNT", "1"))[b"entries"] == [[b"1-0", [b"a", b"1"]]]
    assert len(info_map(x(c, "XINFO", "STREAM", "s", "FULL", "COUNT", "0"))[b"entries"]) == 2
    x(c, "XADD", "e", "MAXLEN", "0", "*", "a", "b")
    e = info_map(x(c, "XINFO", "STREAM", "e"))
    assert (e[b"first-entry"], e[b"last-entry"], e[b"radix-tree-nodes"]) == (None, None, 1)


def test_xinfo_errors_and_help(c: redis.Redis) -> None:
    x(c, "XADD", "s", "1-0", "a", "1")
    sub = "unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP."
    assert err(c, "XINFO", "STREAM", "s", "FOO") == sub.format("STREAM")
    assert err(c, "XINFO", "stream", "s", "FULL", "COUNT") == sub.format("stream")
    assert err(c, "XINFO", "STREAM", "s", "FULL", "LIMIT", "1") == sub.format("STREAM")
    assert err(c, "XINFO", "STREAM", "s", "FULL", "COUNT", "x") == NOT_INT
    assert err(c, "XINFO", "STREAM", "nokey") == "no such key"
    x(c, "SET", "str", "v")
    assert err(c, "XINFO", "STREAM", "str") == WRONGTYPE
    assert err(c, "XINFO", "FOO", "s") == "unknown subcommand 'FOO'. Try XINFO HELP."
    assert err(c, "XINFO", "HELP", "xxx") == "wrong number of arguments for 'xinfo|help' command"
    assert err(c, "XINFO") == "wrong number of arguments for 'xinfo' command"
    help_ = x(c, "XINFO", "HELP")
    assert help_[0] == b"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_[-2:] == [b"HELP", b"    Print this help."] and len(help_) == 9


def test_node_layout_follows_the_size_limits(c: redis.Redis) -> None:
    x(c, "CONFIG", "SET", "stream-node-max-entries", "3")
    for i in range(1, 11):
        x(c, "XADD", "s", f"{i}-0", "f", "v")
    assert info_map(x(c, "XINFO", "STREAM", "s"))[b"radix-tree-keys"] == 4
    x(c, "CONFIG", "SET", "stream-node-max-entries", "0")
    x(c, "CONFIG", "SET", "stream-node-max-bytes", "100")
    for i in range(1, 11):
        x(c, "XADD", "b", f"{i}-0", "field", "x" * 30)
    # 40-odd bytes of listpack per entry: a new node every second entry.
    assert info_map(x(c, "XINFO", "STREAM", "b"))[b"radix-tree-keys"] == 5
    # Deleting every entry of a node drops the node; tombstones keep theirs.
    x(c, "XDEL", "s", "1-0", "2-0", "3-0", "5-0")
    info = info_map(x(c, "XINFO", "STREAM", "s"))
    assert (info[b"radix-tree-keys"], info[b"length"]) == (3, 6)


def test_object_encoding_type_and_copy(c: redis.Redis) -> None:
    x(c, "XADD", "s", "1-0", "a", "1")
    assert x(c, "TYPE", "s") == b"stream"
    assert x(c, "OBJECT", "ENCODING", "s") == b"stream"
    assert x(c, "COPY", "s", "t") == 1
    x(c, "XADD", "t", "2-0", "b", "2")
    assert x(c, "XLEN", "s") == 1 and x(c, "XLEN", "t") == 2
    assert x(c, "SCAN", "0", "TYPE", "stream")[1] in ([b"s", b"t"], [b"t", b"s"])


def test_keys_of_xread_for_command_getkeys(c: redis.Redis) -> None:
    assert x(c, "COMMAND", "GETKEYS", "XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "XREADGROUP", "GROUP", "streams", "c", "STREAMS", "k", ">") == [b"k"]
    info = x(c, "COMMAND", "INFO", "xread")[0]
    assert info[:6] == [b"xread", -4, [b"readonly", b"blocking", b"movablekeys"], 0, 0, 0]


# ---- the value and helpers in-process -------------------------------------------------------------
def test_id_helpers() -> None:
    assert id_bytes(make_id(5, 7)) == b"5-7"
    assert id_bytes(MAX_ID) == b"%d-%d" % (U64, U64)
    assert lp_str_size(b"127") == 2 and lp_str_size(b"128") == 3 and lp_str_size(b"abc") == 5
    assert lp_str_size(b"007") == 5 and lp_str_size(b"-0") == 4 and lp_str_size(b"x" * 64) == 67


def test_rax_node_count() -> None:
    k = [i.to_bytes(16, "big") for i in (1, 2, 3, 258)]
    assert rax_node_count([]) == 1
    assert rax_node_count(k[:1]) == 2
    assert rax_node_count(k[:2]) == 4  # compressed prefix, branch, two leaves
    assert rax_node_count(k[:3]) == 5
    assert rax_node_count(k) == 8


def test_stream_value_trim_and_delete_bookkeeping() -> None:
    s = StreamValue()
    for i in range(1, 11):
        s.append(make_id(i, 0), [b"f", b"%d" % i], 2, 4096, 4)
    assert len(s.nodes) == 3 and s.length == 10
    assert s.trim(None, make_id(3, 0), False, 0) == 2  # MINID exact: tombstones in node 1
    assert (s.length, len(s.nodes), s.first_id) == (8, 3, make_id(3, 0))
    assert s.trim(6, 0, True, 0) == 2  # approx: the whole first node (2 live entries) goes
    assert (len(s.nodes), s.first_id) == (2, make_id(5, 0))
    assert s.trim(5, 0, True, 0) == 0  # approx: removing node 2 would leave too few
    assert s.trim(5, 0, False, 0) == 1  # exact: one tombstone in node 2
    assert (s.length, s.first_id, s.nodes[0].ndead) == (5, make_id(6, 0), 1)
    assert s.delete(make_id(6, 0)) and not s.delete(make_id(6, 0))
    assert s.last_valid_id() == make_id(10, 0)
    dup = s.copy()
    dup.delete(make_id(10, 0))
    assert s.length == 4 and dup.length == 3
    assert s.estimate_distance(make_id(10, 0)) == 10
    assert s.memory_usage() > sum(n.lp_bytes() for n in s.nodes)
    assert [i for i, _ in s.iter_range(0, MAX_ID, True)][:2] == [make_id(10, 0), make_id(9, 0)]
