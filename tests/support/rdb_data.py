"""Datasets and dataset snapshots for the RDB tests: build every type in every
encoding (with TTLs, across databases) through any server, and read a server's whole
keyspace back through the protocol so that two servers (or one before and after a
reload) can be compared."""

from __future__ import annotations

import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.support.servers import free_port, kaa_server_cmd, wait_ping

DBS = (0, 1, 7, 15)


def conn(port: int) -> redis.Redis:
    """A RESP2 client on one connection (SELECT sticks), without redis-py's retries (which
    would hide -LOADING, a ConnectionError subclass, behind seconds of backoff)."""
    return redis.Redis(port=port, protocol=2, single_connection_client=True, socket_timeout=20,
                       retry=Retry(NoBackoff(), 0))


def build_dataset(c: redis.Redis, seed: int = 1, streams: bool = True, big: bool = True) -> None:
    """Every type in each of its encodings, some keys with TTLs, in several databases."""
    rnd = random.Random(seed)
    for db in DBS:
        c.execute_command("SELECT", db)
        p = f"d{db}:"
        # strings: integers of every width, non-canonical numbers, compressible, binary
        for i, v in enumerate([b"0", b"-1", b"127", b"-128", b"32767", b"-32769", b"2147483647",
                               b"-2147483649", b"9223372036854775807", b"-9223372036854775808",
                               b"9223372036854775808", b"007", b"-0", b"+1", b" 1", b"", b"x" * 20,
                               b"y" * 21, b"ab" * 700, os.urandom(300), b"12345678901"]):
            c.set(f"{p}str:{i}", v)
        c.set(f"{p}str:ttl", b"expiring", px=500_000)
        # lists: listpack, quicklist, a plain node, integers
        c.rpush(f"{p}list:small", b"a", b"1", b"-5", b"300", b"70000", b"-9000000", b"hello world")
        if big:
            c.rpush(f"{p}list:big", *[f"element-{i}".encode() for i in range(2500)])
            c.rpush(f"{p}list:plain", b"head", b"z" * 20000, b"tail")
        c.rpush(f"{p}list:ttl", b"x", b"y")
        c.pexpire(f"{p}list:ttl", 400_000)
        # hashes: listpack (int values), hashtable by count, hashtable by value length
        c.hset(f"{p}hash:small", mapping={b"f1": b"v1", b"f2": b"2", b"f3": b"x" * 30, b"n": b"-77"})
        if big:
            c.hset(f"{p}hash:big", mapping={f"field{i}".encode(): f"{i * 7}".encode() for i in range(300)})
        c.hset(f"{p}hash:long", mapping={b"a": b"b", b"long": b"L" * 100})
        # sets: intset (narrow and wide), listpack, hashtable by count and by length
        c.sadd(f"{p}set:int16", 3, 1, 2, -100)
        c.sadd(f"{p}set:int64", 1, -(2**63), 2**63 - 1, 70000)
        c.sadd(f"{p}set:lp", b"b", b"a", b"c", b"42")
        if big:
            c.sadd(f"{p}set:bigint", *range(600))
            c.sadd(f"{p}set:big", *[f"member-{i}".encode() for i in range(200)])
        c.sadd(f"{p}set:long", b"short", b"S" * 100)
        # sorted sets: listpack with odd scores, skiplist
        c.zadd(f"{p}zset:small", {b"a": 1, b"b": 2.5, b"c": -3, b"d": 1e20, b"e": float("inf"),
                                   b"f": float("-inf"), b"g": 1e-300, b"h": 0.1, b"i": -0.0})
        if big:
            c.zadd(f"{p}zset:big", {f"m{i}".encode(): rnd.uniform(-1e6, 1e6) for i in range(300)})
        c.zadd(f"{p}zset:long", {b"L" * 100: 1.5})
        c.zadd(f"{p}zset:ttl", {b"m": 1})
        c.expire(f"{p}zset:ttl", 300_000)
        if streams:
            build_stream(c, f"{p}stream")
    c.execute_command("SELECT", 0)


def build_stream(c: redis.Redis, key: str) -> None:
    """A stream with several nodes, deletions, two groups, consumers and pending entries."""
    for i in range(250):
        if i % 7 == 0:
            c.xadd(key, {b"other": b"%d" % i, b"f2": b"v"})
        else:
            c.xadd(key, {b"field": b"%d" % i})
    entries: Any = c.xrange(key, count=20)
    ids = [e[0] for e in entries]
    c.xdel(key, ids[3], ids[5])
    c.xgroup_create(key, b"g1", id=b"0")
    c.xgroup_create(key, b"g2", id=b"$")
    c.xreadgroup("g1", "alice", {key: b">"}, count=5)
    c.xreadgroup("g1", "bob", {key: b">"}, count=3)
    c.xack(key, b"g1", ids[0])
    c.execute_command("XGROUP", "CREATECONSUMER", key, "g2", "carol")


def read_value(c: redis.Redis, k: bytes, t: bytes) -> Any:
    if t == b"string":
        return c.get(k)
    if t == b"list":
        return c.lrange(k, 0, -1)
    if t == b"set":
        return sorted(c.smembers(k))
    if t == b"zset":
        return c.zrange(k, 0, -1, withscores=True)
    if t == b"hash":
        return sorted(c.hgetall(k).items())
    if t == b"stream":
        return stream_state(c, k)
    raise AssertionError(f"unexpected type {t!r}")


def stream_state(c: redis.Redis, k: bytes) -> Any:
    """What a stream holds, in fields Redis 7.0 and Valkey 8 both report."""
    info = c.execute_command("XINFO", "STREAM", k)
    d = dict(zip(info[0::2], info[1::2], strict=True))
    top = {f: d.get(f) for f in (b"length", b"last-generated-id", b"max-deleted-entry-id",
                                 b"entries-added", b"recorded-first-entry-id")}
    groups = []
    for g in c.execute_command("XINFO", "GROUPS", k):
        gd = dict(zip(g[0::2], g[1::2], strict=True))
        name = gd[b"name"]
        cons = []
        for cr in c.execute_command("XINFO", "CONSUMERS", k, name):
            cd = dict(zip(cr[0::2], cr[1::2], strict=True))
            cons.append((cd[b"name"], cd[b"pending"]))
        pel = [(e["message_id"], e["consumer"], e["times_delivered"])
               for e in c.xpending_range(k, name, "-", "+", 1000)]
        groups.append((name, gd[b"last-delivered-id"], gd.get(b"entries-read"), gd.get(b"lag"),
                       gd[b"pending"], sorted(cons), pel))
    return c.xrange(k), top, groups


@dataclass
class KeyState:
    type: bytes
    value: Any
    ttl: int  # ms, -1 without
    encoding: bytes


def snapshot(c: redis.Redis, dbs: tuple[int, ...] = tuple(range(16)), encodings: bool = True) -> dict[tuple[int, bytes], KeyState]:
    """Every key of the given databases with its type, value, TTL and encoding."""
    out: dict[tuple[int, bytes], KeyState] = {}
    for db in dbs:
        c.execute_command("SELECT", db)
        keys: Any = c.keys(b"*")
        for k in keys:
            t: Any = c.type(k)
            enc = c.object("encoding", k) if encodings else b""
            out[(db, k)] = KeyState(t, read_value(c, k, t), c.pttl(k), enc)
    c.execute_command("SELECT", 0)
    return out


def assert_same(a: dict[tuple[int, bytes], KeyState], b: dict[tuple[int, bytes], KeyState],
                encodings: bool = True, ttl_slack_ms: int = 60_000) -> None:
    assert sorted(a) == sorted(b), (set(a) ^ set(b))
    for key, sa in a.items():
        sb = b[key]
        assert sa.type == sb.type, key
        assert sa.value == sb.value, key
        if sa.ttl < 0:
            assert sb.ttl == sa.ttl, key
        else:
            assert sb.ttl > 0 and abs(sa.ttl - sb.ttl) < ttl_slack_ms, (key, sa.ttl, sb.ttl)
        if encodings:
            assert sa.encoding == sb.encoding, (key, sa.encoding, sb.encoding)


class Proc:
    """A server process (Kaa, redis-server or valkey-server) in a given directory."""

    def __init__(self, cmd: list[str], dirpath: str, *args: str, wait: bool = True, log_name: str = "server.log") -> None:
        self.port = free_port()
        self.dir = dirpath
        self.log_path = os.path.join(dirpath, log_name)
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        full = cmd + ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", dirpath, *args]
        self.proc = subprocess.Popen(full, stdout=self.log, stderr=subprocess.STDOUT, cwd=dirpath)
        if wait:
            wait_ping(self.port, self.proc, timeout=60)

    def client(self) -> redis.Redis:
        return conn(self.port)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)


def kaa(dirpath: str, *args: str, wait: bool = True) -> Proc:
    return Proc(kaa_server_cmd(), dirpath, "--enable-debug-command", "yes", *args, wait=wait)


def run_kaa_expect_exit(dirpath: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Start Kaa expecting it to refuse to start: (exit code, its output)."""
    port = free_port()
    proc = subprocess.run(
        kaa_server_cmd() + ["--port", str(port), "--bind", "127.0.0.1", "--dir", dirpath, "--save", "", *args],
        cwd=dirpath, capture_output=True, timeout=timeout)
    return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")


def wait_for(cond: Any, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())
