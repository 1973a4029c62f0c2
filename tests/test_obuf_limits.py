"""Output buffer limits (client-output-buffer-limit): slow readers are disconnected and
the memory their pending output held is given back.

These tests use a server of their own: they change the limits, and they measure the
server process's RSS, which other tests' traffic would disturb.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import ServerProcess, start_kaa
from tests.test_pubsub import RawConn, encode


@pytest.fixture(scope="module")
def srv() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    p.stop()


@pytest.fixture()
def r(srv: ServerProcess) -> Iterator[redis.Redis]:
    c = redis.Redis(port=srv.port, socket_timeout=10)
    c.flushall()
    yield c
    c.config_set("client-output-buffer-limit", "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60")
    c.close()


def rss_mb(p: ServerProcess) -> float:
    with open(f"/proc/{p.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def slow_subscriber(port: int, channel: bytes = b"c") -> socket.socket:
    """A subscriber that never reads (small receive buffer, so output piles up server side)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(encode("CLIENT", "SETNAME", "slow") + encode("SUBSCRIBE", channel))
    return s


def client_names(r: redis.Redis) -> list[str]:
    return [c["name"] for c in r.client_list()]


def disconnections(r: redis.Redis) -> int:
    return int(r.info("stats")["client_output_buffer_limit_disconnections"])


def test_slow_subscriber_hits_hard_limit_and_memory_returns(srv: ServerProcess, r: redis.Redis) -> None:
    r.config_set("client-output-buffer-limit", "pubsub 48mb 0 0")
    before = disconnections(r)
    s = slow_subscriber(srv.port)
    try:
        deadline = time.time() + 5
        while r.pubsub_numsub("c")[0][1] != 1 and time.time() < deadline:
            time.sleep(0.01)
        base = rss_mb(srv)
        msg = b"x" * (256 * 1024)
        peak = base
        sent = 0
        while r.publish("c", msg) == 1:
            sent += 1
            if sent % 16 == 0:
                peak = max(peak, rss_mb(srv))
            assert sent < 2000, "the slow subscriber was never disconnected"
        # It was cut off near the limit (48 MB of 256 KB messages, plus what the kernel held).
        assert 150 <= sent <= 400
        assert peak - base > 30  # its pending output really was held in the server
        assert disconnections(r) == before + 1
        assert "slow" not in client_names(r)
        time.sleep(0.3)
        after = rss_mb(srv)
        assert after - base < (peak - base) / 3, (base, peak, after)
    finally:
        s.close()


def test_under_the_limit_nobody_is_disconnected(srv: ServerProcess, r: redis.Redis) -> None:
    r.config_set("client-output-buffer-limit", "pubsub 48mb 0 0")
    before = disconnections(r)
    s = slow_subscriber(srv.port)
    try:
        time.sleep(0.1)
        for _ in range(20):
            assert r.publish("c", b"x" * 100_000) == 1  # about 2 MB: well under 48 MB
        time.sleep(0.2)
        assert "slow" in client_names(r)
        assert disconnections(r) == before
    finally:
        s.close()


def test_soft_limit_enforced_after_its_seconds_even_without_traffic(srv: ServerProcess,
                                                                    r: redis.Redis) -> None:
    r.config_set("client-output-buffer-limit", "pubsub 0 2mb 1")
    s = slow_subscriber(srv.port)
    try:
        time.sleep(0.1)
        t0 = time.time()
        while True:
            r.publish("c", b"y" * 100_000)
            time.sleep(0.001)
            if time.time() - t0 > 0.6:
                break
        assert "slow" in client_names(r)  # over the soft limit, but not for a second yet
        # Traffic stops; the cron still closes it once the second is over.
        deadline = time.time() + 5
        while "slow" in client_names(r) and time.time() < deadline:
            time.sleep(0.05)
        gone = time.time() - t0
        assert "slow" not in client_names(r)
        assert 1.0 <= gone < 4.0
    finally:
        s.close()


def test_normal_client_reply_over_hard_limit_gets_nothing(srv: ServerProcess, r: redis.Redis) -> None:
    item = b"x" * 1000
    r.rpush("biglist", *([item] * 150))
    r.config_set("client-output-buffer-limit", "normal 100000 0 0")
    c = RawConn(srv.port)
    try:
        c.send("CLIENT", "SETNAME", "big")
        assert c.read() == "OK"
        c.send("LRANGE", "biglist", "0", "-1")
        with pytest.raises(ConnectionError):
            c.read(timeout=5)
        assert "big" not in client_names(r)
        assert not c.reader.buffered()  # no part of the reply was sent
    finally:
        c.close()
    # A reply under the limit is fine.
    assert len(r.lrange("biglist", 0, 49)) == 50


def test_transaction_completes_although_client_is_closed(srv: ServerProcess, r: redis.Redis) -> None:
    r.rpush("l2", *([b"x" * 1000] * 150))
    r.set("k1", "v1")
    r.config_set("client-output-buffer-limit", "normal 100000 0 0")
    c = RawConn(srv.port)
    try:
        for cmd in (("MULTI",), ("SET", "k2", "v2"), ("LRANGE", "l2", "0", "-1"), ("SET", "k3", "v3"),
                    ("DEL", "k1")):
            c.send(*cmd)
        for _ in range(5):
            c.read()
        c.send("EXEC")
        with pytest.raises(ConnectionError):
            c.read(timeout=5)
    finally:
        c.close()
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    assert (r.get("k1"), r.get("k2"), r.get("k3")) == (None, b"v2", b"v3")


def test_limits_follow_the_client_class(srv: ServerProcess, r: redis.Redis) -> None:
    """A normal-class limit does not apply to a subscriber, and the other way round."""
    r.config_set("client-output-buffer-limit", "normal 100000 0 0 pubsub 0 0 0")
    sub = RawConn(srv.port, resp=3)
    try:
        sub.send("SUBSCRIBE", "c")
        sub.read()
        assert r.publish("c", b"z" * 300_000) == 1
        m: Any = sub.read()
        assert m[:3] == ("push", b"message", b"c") and len(m[3]) == 300_000
        # Unsubscribed, it is a normal client again: a big reply now closes it.
        sub.send("UNSUBSCRIBE")
        sub.read()
        r.set("big", b"q" * 300_000)
        sub.send("GET", "big")
        with pytest.raises(ConnectionError):
            sub.read(timeout=5)
    finally:
        sub.close()


def test_config_errors(r: redis.Redis) -> None:
    for bad, msg in (("wrong number", "Wrong number of arguments"),
                     ("invalid_class 10mb 10mb 60", "Invalid client class"),
                     ("master 10mb 10mb 60", "Invalid client class"),
                     ("normal 10mbs 10mb 60", "Error in hard, soft or soft_seconds"),
                     ("pubsub 10mb 10mb 60s", "Error in hard, soft or soft_seconds")):
        with pytest.raises(redis.ResponseError, match=msg):
            r.config_set("client-output-buffer-limit", bad)
    r.config_set("client-output-buffer-limit", "normal 1mb 2mb 60 replica 3mb 4mb 70 pubsub 5mb 6mb 80")
    assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == (
        "normal 1048576 2097152 60 slave 3145728 4194304 70 pubsub 5242880 6291456 80")


@pytest.mark.parametrize("setup,cmd", [
    (("HSET", "h", "a", "1"), ("HRANDFIELD", "h", "-999999999")),
    (("SADD", "s", "a"), ("SRANDMEMBER", "s", "-999999999")),
    (("ZADD", "z", "1", "a"), ("ZRANDMEMBER", "z", "-999999999", "WITHSCORES")),
])
def test_huge_random_count_hits_the_hard_limit_not_memory(kaa_proc: Any, setup: tuple[str, ...], cmd: tuple[str, ...]) -> None:
    """Valkey stops such a reply once the client is over its hard limit; Kaa closes the
    client before building it, and the server stays up with its memory intact."""
    admin = redis.Redis(port=kaa_proc.port, protocol=2)
    admin.config_set("client-output-buffer-limit", "normal 1000000 0 0")
    try:
        admin.execute_command(*setup)
        victim = redis.Redis(port=kaa_proc.port, protocol=2, retry=None)
        with pytest.raises(redis.ConnectionError):
            victim.execute_command(*cmd)
        assert admin.ping()
        assert admin.info("stats")["client_output_buffer_limit_disconnections"] >= 1
    finally:
        admin.config_set("client-output-buffer-limit", "normal 0 0 0")
        admin.delete("h", "s", "z")
        admin.close()
