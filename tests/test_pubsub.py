"""Pub/Sub: SUBSCRIBE family, PUBLISH fan-out, PUBSUB introspection, shard channels.

Raw sockets check the exact wire format (RESP2 arrays vs RESP3 pushes, reply/push
ordering); redis-py clients check behaviour with several concurrent subscribers and
publishers; differential tests compare with the oracle.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.known_differences import KNOWN_DIFFERENCES
from tests.support.servers import ServerProcess

from kaa.protocol import reply_reader as rr


def encode(*args: Any) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def plain(v: rr.Reply) -> Any:
    """A reply as plain Python: pushes become ("push", ...) tuples, sets ("set", ...)."""
    if isinstance(v, rr.Push):
        return ("push", *[plain(x) for x in v.items])
    if isinstance(v, rr.Set):
        return ("set", *[plain(x) for x in v.items])
    if isinstance(v, rr.Array):
        return [plain(x) for x in v.items]
    if isinstance(v, rr.Map):
        return {plain(k): plain(x) for k, x in v.pairs}
    if isinstance(v, rr.Null):
        return None
    if isinstance(v, rr.SimpleString):
        return v.value.decode()
    if isinstance(v, rr.Error):
        return rr.Error(v.value)
    return v.value  # type: ignore[union-attr]


class RawConn:
    """A raw RESP connection: send commands, read replies one at a time."""

    def __init__(self, port: int, resp: int = 2) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = rr.ReplyReader()
        if resp == 3:
            assert isinstance(self.call("HELLO", 3), dict)

    def send(self, *args: Any) -> None:
        self.sock.sendall(encode(*args))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self, timeout: float = 5.0) -> rr.Reply:
        self.sock.settimeout(timeout)
        while True:
            r = self.reader.get_reply()
            if r is not None:
                return r
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.reader.feed(data)

    def read(self, timeout: float = 5.0) -> Any:
        return plain(self.read_reply(timeout))

    def call(self, *args: Any) -> Any:
        self.send(*args)
        return self.read()

    def nothing_pending(self, wait: float = 0.1) -> bool:
        if self.reader.buffered():
            return False
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        self.reader.feed(data)
        return False

    def close(self) -> None:
        self.sock.close()


def raw_conns(port: int) -> Iterator[Callable[..., RawConn]]:
    """Body of the ``raw`` fixture: a RawConn factory whose connections are closed after."""
    conns: list[RawConn] = []

    def make(resp: int = 2) -> RawConn:
        c = RawConn(port, resp)
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()


@pytest.fixture(name="raw")
def raw_fixture(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[Callable[..., RawConn]]:
    yield from raw_conns(kaa_proc.port)


def err(msg: str) -> rr.Error:
    return rr.Error(msg.encode())


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


# ---- wire format ----------------------------------------------------------------------

def test_subscribe_publish_resp2_exact_bytes(raw: Any, r: redis.Redis) -> None:
    sub = raw()
    sub.send("SUBSCRIBE", "chan1", "chan2")
    assert sub.read() == [b"subscribe", b"chan1", 1]
    assert sub.read() == [b"subscribe", b"chan2", 2]
    assert r.publish("chan1", "hello") == 1
    assert r.publish("nobody", "x") == 0
    data = b""
    sub.sock.settimeout(5)
    want = b"*3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$5\r\nhello\r\n"
    while len(data) < len(want):
        data += sub.sock.recv(1024)
    assert data == want


def test_subscribe_publish_resp3_pushes(raw: Any, r: redis.Redis) -> None:
    sub = raw(3)
    sub.send("SUBSCRIBE", "c")
    assert sub.read() == ("push", b"subscribe", b"c", 1)
    sub.send("PSUBSCRIBE", "c*")
    assert sub.read() == ("push", b"psubscribe", b"c*", 2)
    assert r.publish("c", "m") == 2
    assert sub.read() == ("push", b"message", b"c", b"m")
    assert sub.read() == ("push", b"pmessage", b"c*", b"c", b"m")
    # RESP3 clients may run any command while subscribed.
    assert sub.call("SET", "k", "v") == "OK"
    assert sub.call("GET", "k") == b"v"
    sub.send("UNSUBSCRIBE")
    assert sub.read() == ("push", b"unsubscribe", b"c", 1)
    sub.send("PUNSUBSCRIBE")
    assert sub.read() == ("push", b"punsubscribe", b"c*", 0)


def test_resp2_subscribed_context_restrictions(raw: Any) -> None:
    sub = raw()
    sub.send("SUBSCRIBE", "a")
    sub.read()
    assert sub.call("GET", "x") == err(
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    assert sub.call("CLIENT", "ID") == err(
        "ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    assert sub.call("MULTI") == err(
        "ERR Can't execute 'multi': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    # An unknown command or a bad arity is reported as such first.
    assert sub.call("NOSUCH") == err("ERR unknown command 'NOSUCH', with args beginning with: ")
    assert sub.call("PING") == [b"pong", b""]
    assert sub.call("PING", "hi") == [b"pong", b"hi"]
    sub.send("PSUBSCRIBE", "p*")
    assert sub.read() == [b"psubscribe", b"p*", 2]
    sub.send("UNSUBSCRIBE", "a")
    assert sub.read() == [b"unsubscribe", b"a", 1]
    # Still in Pub/Sub mode thanks to the pattern.
    assert isinstance(sub.call("GET", "x"), rr.Error)
    sub.send("PUNSUBSCRIBE", "p*")
    assert sub.read() == [b"punsubscribe", b"p*", 0]
    assert sub.call("GET", "x") is None
    assert sub.call("PING") == "PONG"


def test_hello_switches_pubsub_context(raw: Any) -> None:
    sub = raw(3)
    sub.send("SUBSCRIBE", "a")
    sub.read()
    assert sub.call("GET", "x") is None
    assert isinstance(sub.call("HELLO", "2"), list)
    assert isinstance(sub.call("GET", "x"), rr.Error)
    assert sub.call("RESET") == "RESET"
    assert sub.call("GET", "x") is None


def test_unsubscribe_not_subscribed_nosub(raw: Any) -> None:
    c = raw()
    assert "unsubscribe-nosub" in KNOWN_DIFFERENCES
    assert c.call("UNSUBSCRIBE") == err("NOSUB 'unsubscribe' command executed not in subscribed mode")
    assert c.call("PUNSUBSCRIBE", "a") == err(
        "NOSUB 'punsubscribe' command executed not in subscribed mode")
    assert c.call("SUNSUBSCRIBE") == err(
        "NOSUB 'sunsubscribe' command executed not in subscribed mode")
    c3 = raw(3)
    assert c3.call("UNSUBSCRIBE", "x") == err(
        "NOSUB 'unsubscribe' command executed not in subscribed mode")


def test_unsubscribe_all_and_from_unknown_channels(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.send("SUBSCRIBE", "a", "a", "a")
    assert [c.read() for _ in range(3)] == [[b"subscribe", b"a", 1]] * 3
    c.send("PSUBSCRIBE", "x*")
    c.read()
    c.send("UNSUBSCRIBE", "zz")
    assert c.read() == [b"unsubscribe", b"zz", 2]
    c.send("UNSUBSCRIBE")
    assert c.read() == [b"unsubscribe", b"a", 1]
    # No channel left: UNSUBSCRIBE without arguments answers with a null channel.
    c.send("UNSUBSCRIBE")
    assert c.read() == [b"unsubscribe", None, 1]
    c.send("PUNSUBSCRIBE")
    assert c.read() == [b"punsubscribe", b"x*", 0]
    assert r.publish("a", "m") == 0


def test_publish_to_self_comes_after_reply(raw: Any) -> None:
    c = raw(3)
    c.send("SUBSCRIBE", "foo")
    c.read()
    assert c.call("PUBLISH", "foo", "bar") == 1
    assert c.read() == ("push", b"message", b"foo", b"bar")
    c.send("MULTI")
    c.read()
    for args in (("PING", "abc"), ("PUBLISH", "foo", "bar"), ("PUBLISH", "foo", "vaz"), ("PING", "def")):
        c.send(*args)
        assert c.read() == "QUEUED"
    assert c.call("EXEC") == [b"abc", 1, 1, b"def"]
    assert c.read() == ("push", b"message", b"foo", b"bar")
    assert c.read() == ("push", b"message", b"foo", b"vaz")


def test_unsubscribe_inside_multi(raw: Any) -> None:
    c = raw(3)
    c.send("SUBSCRIBE", "foo", "bar", "baz")
    assert [c.read() for _ in range(3)][-1] == ("push", b"subscribe", b"baz", 3)
    c.call("MULTI")
    for args in (("PING", "abc"), ("UNSUBSCRIBE", "bar"), ("UNSUBSCRIBE", "baz"), ("PING", "def")):
        assert c.call(*args) == "QUEUED"
    assert c.call("EXEC") == [
        b"abc", ("push", b"unsubscribe", b"bar", 2), ("push", b"unsubscribe", b"baz", 1), b"def"]
    assert c.call("PUBLISH", "foo", "vaz") == 1
    assert c.read() == ("push", b"message", b"foo", b"vaz")


def test_pushes_ignore_client_reply_off(raw: Any, r: redis.Redis) -> None:
    c = raw(3)
    c.send("CLIENT", "REPLY", "OFF")
    c.send("SUBSCRIBE", "channel")
    assert c.read() == ("push", b"subscribe", b"channel", 1)
    c.send("PSUBSCRIBE", "ch*")
    assert c.read() == ("push", b"psubscribe", b"ch*", 2)
    assert r.publish("channel", "hello") == 2
    assert c.read() == ("push", b"message", b"channel", b"hello")
    assert c.read() == ("push", b"pmessage", b"ch*", b"channel", b"hello")
    c.send("PING")  # silenced
    c.send("UNSUBSCRIBE", "channel")
    assert c.read() == ("push", b"unsubscribe", b"channel", 1)


# ---- patterns ---------------------------------------------------------------------------

PATTERNS = ["foo.*", "f?o", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "*", "a\\*b", "pre*fix*", "x"]
CHANNELS = ["foo.1", "foo", "fao", "hello", "hallo", "hbllo", "a*b", "aXb", "prefix", "preXfixY",
            "x", "xx", "foo.", ""]


def _pattern_receivers(client: redis.Redis) -> list[tuple[str, int, list[Any]]]:
    ps = client.pubsub()
    ps.psubscribe(*PATTERNS)
    for _ in PATTERNS:
        ps.get_message(timeout=2)
    other = redis.Redis(port=client.connection_pool.connection_kwargs["port"])
    out = []
    for ch in CHANNELS:
        n = other.publish(ch, "m")
        got = []
        for _ in range(n):
            m = ps.get_message(timeout=2)
            assert m is not None
            got.append(m["pattern"])
        out.append((ch, n, sorted(got)))
    ps.close()
    other.close()
    return out


def test_pattern_matching_matches_oracle(r: redis.Redis, oracle: redis.Redis) -> None:
    assert _pattern_receivers(r) == _pattern_receivers(oracle)


def test_numpat_counts_unique_patterns(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    a = redis.Redis(port=kaa_proc.port).pubsub()
    b = redis.Redis(port=kaa_proc.port).pubsub()
    a.psubscribe("foo*", "bar*")
    b.psubscribe("foo*", "baz*")
    wait_for(lambda: r.pubsub_numpat() == 3)
    a.close()
    wait_for(lambda: r.pubsub_numpat() == 2)
    b.close()
    wait_for(lambda: r.pubsub_numpat() == 0)


# ---- PUBSUB introspection -----------------------------------------------------------------

def _introspect(client: redis.Redis) -> list[Any]:
    port = client.connection_pool.connection_kwargs["port"]
    subs = [RawConn(port) for _ in range(3)]
    subs[0].send("SUBSCRIBE", "news.a", "news.b", "misc")
    subs[1].send("SUBSCRIBE", "news.a")
    subs[1].send("PSUBSCRIBE", "news.*", "x?")
    subs[2].send("SSUBSCRIBE", "shard1", "shard2")
    for s, n in zip(subs, (3, 3, 2), strict=True):
        for _ in range(n):
            s.read()
    out: list[Any] = []
    for cmd in (["PUBSUB", "CHANNELS"], ["PUBSUB", "CHANNELS", "news.*"], ["PUBSUB", "CHANNELS", "z*"],
                ["PUBSUB", "NUMSUB"], ["PUBSUB", "NUMSUB", "news.a", "misc", "nope"],
                ["PUBSUB", "NUMPAT"], ["PUBSUB", "SHARDCHANNELS"], ["PUBSUB", "SHARDCHANNELS", "*2"],
                ["PUBSUB", "SHARDNUMSUB", "shard1", "nope"], ["PUBSUB", "SHARDNUMSUB"],
                ["PUBLISH", "news.a", "m"], ["PUBLISH", "shard1", "m"], ["SPUBLISH", "shard1", "m"],
                ["SPUBLISH", "news.a", "m"], ["PUBSUB", "CHANNELS", "a", "b"], ["PUBSUB", "NUMPAT", "x"],
                ["PUBSUB", "FOO"], ["PUBSUB"], ["PUBLISH", "x"]):
        try:
            v = client.execute_command(*cmd)
        except redis.ResponseError as e:
            v = ("error", str(e))
        if isinstance(v, list) and cmd[1:2] in (["CHANNELS"], ["SHARDCHANNELS"]):
            v = sorted(v)
        out.append(v)
    for s in subs:
        s.close()
    return out


def test_pubsub_introspection_matches_oracle(r: redis.Redis, oracle: redis.Redis) -> None:
    assert _introspect(r) == _introspect(oracle)


def test_pubsub_help_and_errors(r: redis.Redis) -> None:
    lines = r.execute_command("PUBSUB", "HELP")
    assert lines[0] == b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"SHARDNUMSUB [<shardchannel> ...]" in lines
    assert lines[-2:] == [b"HELP", b"    Print this help."]
    with pytest.raises(redis.ResponseError, match="unknown subcommand or wrong number of arguments "
                                                   "for 'channels'. Try PUBSUB HELP."):
        r.execute_command("PUBSUB", "channels", "a", "b")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'pubsub|numpat'"):
        r.execute_command("PUBSUB", "NUMPAT", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'subscribe'"):
        r.execute_command("SUBSCRIBE")


def test_disconnect_cleans_up_subscriptions(r: redis.Redis, raw: Any) -> None:
    c = raw()
    c.send("SUBSCRIBE", "gone")
    c.read()
    c.send("PSUBSCRIBE", "gone*")
    c.read()
    assert r.pubsub_numsub("gone") == [(b"gone", 1)]
    c.close()
    wait_for(lambda: r.pubsub_numsub("gone") == [(b"gone", 0)] and r.pubsub_numpat() == 0)
    assert r.publish("gone", "x") == 0
    assert r.pubsub_channels() == []


def test_reset_unsubscribes_silently(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.send("SUBSCRIBE", "a")
    c.read()
    assert c.call("RESET") == "RESET"
    assert r.publish("a", "x") == 0
    assert c.call("GET", "nokey") is None


# ---- shard channels -----------------------------------------------------------------------

def test_ssubscribe_spublish(raw: Any, r: redis.Redis) -> None:
    c = raw()
    c.send("SSUBSCRIBE", "s1", "s2")
    assert c.read() == [b"ssubscribe", b"s1", 1]
    assert c.read() == [b"ssubscribe", b"s2", 2]
    # Shard channels and plain channels are separate namespaces; patterns never match.
    p = raw()
    p.send("PSUBSCRIBE", "*")
    p.read()
    assert r.execute_command("SPUBLISH", "s1", "hi") == 1
    assert c.read() == [b"smessage", b"s1", b"hi"]
    assert r.publish("s1", "plain") == 1  # only the pattern subscriber
    assert p.read() == [b"pmessage", b"*", b"s1", b"plain"]
    assert c.nothing_pending()
    assert isinstance(c.call("GET", "x"), rr.Error)  # a RESP2 shard subscriber is restricted too
    c.send("SUNSUBSCRIBE", "s1")
    assert c.read() == [b"sunsubscribe", b"s1", 1]
    c.send("SUNSUBSCRIBE")
    assert c.read() == [b"sunsubscribe", b"s2", 0]
    assert c.call("GET", "x") is None


def test_ssubscribe_inside_multi_is_refused(raw: Any) -> None:
    c = raw(3)
    c.call("MULTI")
    assert c.call("SSUBSCRIBE", "s") == "QUEUED"
    assert c.call("EXEC") == [err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")]


def test_shard_commands_key_specs(raw: Any) -> None:
    c = raw()
    entry = c.call("COMMAND", "INFO", "spublish")[0]
    assert entry[:2] == [b"spublish", 3]
    assert entry[3:6] == [1, 1, 1]
    assert entry[8][0][:2] == [b"flags", ["not_key"]]
    entry = c.call("COMMAND", "INFO", "publish")[0]
    assert entry[3:6] == [0, 0, 0]


# ---- many clients --------------------------------------------------------------------------

def test_many_concurrent_subscribers_and_publishers(kaa_proc: ServerProcess, r: redis.Redis) -> None:
    n_subs, n_pubs, per_pub = 6, 4, 50
    subs = []
    for i in range(n_subs):
        client = redis.Redis(port=kaa_proc.port, protocol=3 if i % 2 else 2)
        ps = client.pubsub()
        ps.subscribe("fan")
        if i % 3 == 0:
            ps.psubscribe("f*")
        subs.append((client, ps))
    wait_for(lambda: r.pubsub_numsub("fan") == [(b"fan", n_subs)])
    for _, ps in subs:
        while ps.get_message(timeout=0.05):
            pass
    counts: list[int] = []

    def publisher(k: int) -> None:
        c = redis.Redis(port=kaa_proc.port)
        for j in range(per_pub):
            counts.append(c.publish("fan", f"{k}:{j}"))
        c.close()

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(n_pubs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n_pattern = sum(1 for i in range(n_subs) if i % 3 == 0)
    assert counts == [n_subs + n_pattern] * (n_pubs * per_pub)
    for i, (client, ps) in enumerate(subs):
        got: dict[str, list[int]] = {}
        want = n_pubs * per_pub * (2 if i % 3 == 0 else 1)
        for _ in range(want):
            m = ps.get_message(timeout=5)
            assert m is not None and m["type"] in ("message", "pmessage")
            k, j = m["data"].decode().split(":")
            got.setdefault(f"{m['type']}{k}", []).append(int(j))
        # Each publisher's messages arrive complete and in order.
        assert all(v == list(range(per_pub)) for v in got.values())
        assert len(got) == n_pubs * (2 if i % 3 == 0 else 1)
        ps.close()
        client.close()


def test_redis_py_pubsub_resp3_with_handler(kaa_proc: ServerProcess, r3: redis.Redis) -> None:
    seen: list[Any] = []
    ps = r3.pubsub()
    ps.subscribe(**{"evt": lambda m: seen.append(m["data"])})
    ps.get_message(timeout=1)
    assert r3.publish("evt", "one") == 1
    wait_for(lambda: (ps.get_message(timeout=0.1), bool(seen))[1])
    assert seen == [b"one"]
    ps.close()
