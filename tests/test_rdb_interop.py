"""RDB files and DUMP payloads between Kaa and real servers: Debian's redis-server 7.0
(RDB version 10) writes dumps and payloads of every type that Kaa loads, and the real
Valkey 8 build (when present: /work/oracle/valkey/src/valkey-server or KAA_VALKEY_SERVER)
loads Kaa's files and payloads, gives Kaa its own, and produces byte-identical DUMPs."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.known_differences import KNOWN_DIFFERENCES
from tests.support.rdb_data import (
    DBS,
    Proc,
    assert_same,
    build_dataset,
    conn,
    kaa,
    snapshot,
    wait_for,
)
from tests.support.servers import ServerProcess, redis_server_path

VALKEY = os.environ.get("KAA_VALKEY_SERVER") or "/work/oracle/valkey/src/valkey-server"
HAVE_VALKEY = os.path.isfile(VALKEY) and os.access(VALKEY, os.X_OK)
needs_redis = pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")
needs_valkey = pytest.mark.skipif(not HAVE_VALKEY, reason=f"no Valkey binary at {VALKEY}")

LIBRARY = b"#!lua name=rdblib\nredis.register_function('rdbfn', function(keys, args) return 42 end)"


def _redis(dirpath: str, *args: str) -> Proc:
    path = redis_server_path()
    assert path is not None
    return Proc([path], dirpath, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes", *args,
                log_name="redis.log")


def _valkey(dirpath: str, *args: str) -> Proc:
    return Proc([VALKEY], dirpath, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes", *args,
                log_name="valkey.log")


def _functions(c: redis.Redis) -> list[bytes]:
    try:
        libs = c.execute_command("FUNCTION", "LIST")
    except redis.ResponseError:
        return []
    return sorted(dict(zip(lib[0::2], lib[1::2], strict=True))[b"library_name"] for lib in libs)


def _redis_dataset(c: redis.Redis) -> None:
    build_dataset(c)
    c.execute_command("SELECT", 3)
    c.execute_command("DEBUG", "POPULATE", 2000, "pop", 20)
    c.execute_command("SELECT", 0)
    c.execute_command("FUNCTION", "LOAD", LIBRARY)


@needs_redis
def test_redis_7_dump_file_loads_into_kaa(tmp_path: Path) -> None:
    d = str(tmp_path)
    rs = _redis(d)
    try:
        c = rs.client()
        _redis_dataset(c)
        expected = snapshot(c, (*DBS, 3), encodings=False)
        assert c.save()
    finally:
        rs.stop()
    assert (tmp_path / "dump.rdb").read_bytes()[:9] == b"REDIS0010"
    sp = kaa(d, "--save", "")
    try:
        k = sp.client()
        got = snapshot(k, (*DBS, 3))
        assert_same(expected, got, encodings=False)
        if _has_scripting(k):
            assert _functions(k) == [b"rdblib"]
            assert k.execute_command("FCALL", "rdbfn", 0) == 42
        assert "Loading RDB produced by Redis version 7.0" in sp.output()
    finally:
        sp.stop()
    if HAVE_VALKEY:  # the encodings each value gets are the ones Valkey 8 gives it
        vs = _valkey(d)
        try:
            assert_same(snapshot(vs.client(), (*DBS, 3)), got)
        finally:
            vs.stop()


@needs_redis
def test_redis_7_dump_payloads_restore_into_kaa(tmp_path: Path, kaa_proc: ServerProcess) -> None:
    r = conn(kaa_proc.port)
    r.flushall()
    rs = _redis(str(tmp_path))
    try:
        c = rs.client()
        build_dataset(c, seed=5)
        src = snapshot(c, DBS, encodings=False)
        for (db, key), _state in src.items():
            c.execute_command("SELECT", db)
            payload = c.dump(key)
            assert payload is not None and payload[-10:-8] == b"\x0a\x00"  # RDB version 10
            r.execute_command("SELECT", db)
            r.restore(key, max(0, c.pttl(key)), payload)
        c.execute_command("SELECT", 0)
    finally:
        rs.stop()
    got = snapshot(r, DBS, encodings=False)
    assert_same(src, got)
    r.flushall()


def _deterministic(c: redis.Redis) -> None:
    """Commands whose result has the same memory layout in any Valkey 8 (no random
    hash-table order, no time-based IDs): DUMP must then be byte-identical."""
    c.set("s:int", 12345)
    c.set("s:big", 2**62)
    c.set("s:lzf", "abc" * 100)
    c.set("s:raw", os.urandom(10).hex() * 3)
    c.set("s:marginal", "aedlmfpabcidkmmciddobmgaofipdabcabc")  # LZF saves < 4 bytes: verbatim
    c.rpush("l:lp", "a", "1", "-77", "hello", "x" * 100)
    c.rpush("l:ql", *[f"item-{i}" for i in range(3000)])
    c.rpush("l:plain", "a", "z" * 10000, "b")
    c.lpush("l:left", *range(500))
    c.rpop("l:left", 3)
    c.hset("h:lp", mapping={"a": 1, "b": "two", "c": "x" * 50})
    c.hset("h:lp", "a", "changed")
    c.hdel("h:lp", "b")
    c.sadd("set:int", *range(0, 400, 3), -(2**40))
    c.zadd("z:lp", {"a": 1, "b": 1.5, "c": -0.0, "d": 1e-5, "e": 3e300, "f": float("inf")})
    c.zadd("z:sl", {f"m{i:04d}": i * 0.25 for i in range(200)})
    for i in range(1, 300):
        c.xadd("x:stream", {"f": i, "g": "v" * (i % 5)} if i % 3 else {"other": i}, id=f"{i}-{i % 4}")
    c.xdel("x:stream", "5-1", "10-2")
    c.xtrim("x:stream", maxlen=250)


@needs_valkey
def test_dump_is_byte_identical_to_valkey(tmp_path: Path, kaa_proc: ServerProcess) -> None:
    r = conn(kaa_proc.port)
    r.flushall()
    vs = _valkey(str(tmp_path))
    try:
        v = vs.client()
        _deterministic(v)
        _deterministic(r)
        keys: list[Any] = sorted(v.keys("*"))  # type: ignore[arg-type]
        assert keys == sorted(r.keys("*"))
        for k in keys:
            if k == b"s:raw":
                continue  # random content
            assert r.object("encoding", k) == v.object("encoding", k), k
            assert r.dump(k) == v.dump(k), k
        # Valkey takes Kaa's payloads and Kaa takes Valkey's.
        for k in keys:
            v.restore(b"from-kaa:" + k, 0, _dump(r, k))
            r.restore(b"from-valkey:" + k, 0, _dump(v, k))
        for k in keys:
            t: Any = v.type(k)
            assert _value(v, b"from-kaa:" + k, t) == _value(r, k, t), k
            assert _value(r, b"from-valkey:" + k, t) == _value(v, k, t), k
    finally:
        vs.stop()
        r.flushall()


def _dump(c: redis.Redis, k: Any) -> bytes:
    payload: Any = c.dump(k)
    assert isinstance(payload, bytes)
    return payload


def _value(c: redis.Redis, k: bytes, t: bytes) -> object:
    from tests.support.rdb_data import read_value

    return read_value(c, k, t)


@needs_valkey
def test_kaa_and_valkey_load_each_others_files(tmp_path: Path) -> None:
    kdir, vdir = tmp_path / "kaa", tmp_path / "valkey"
    kdir.mkdir()
    vdir.mkdir()
    # Kaa writes, Valkey reads (with the encodings Kaa had).
    sp = kaa(str(kdir), "--save", "")
    try:
        c = sp.client()
        build_dataset(c, seed=9)
        c.execute_command("DEBUG", "POPULATE", 500, "pop", 30)
        if _functions(c) == [] and _has_scripting(c):
            c.execute_command("FUNCTION", "LOAD", LIBRARY)
        kaa_state = snapshot(c, (*DBS,))
        kaa_funcs = _functions(c)
        assert c.save()
    finally:
        sp.stop()
    shutil.copy(kdir / "dump.rdb", vdir / "dump.rdb")
    vs = _valkey(str(vdir))
    try:
        v = vs.client()
        assert_same(kaa_state, snapshot(v, (*DBS,)))
        assert _functions(v) == kaa_funcs
        # Valkey writes, Kaa reads.
        v.execute_command("SELECT", 9)
        _deterministic(v)
        v.execute_command("SELECT", 0)
        valkey_state = snapshot(v, (*DBS, 9))
        assert v.save()
    finally:
        vs.stop()
    shutil.copy(vdir / "dump.rdb", kdir / "dump.rdb")
    sp = kaa(str(kdir), "--save", "")
    try:
        assert_same(valkey_state, snapshot(sp.client(), (*DBS, 9)))
        assert "Loading RDB produced by Valkey version 8." in sp.output()
    finally:
        sp.stop()


def _has_scripting(c: redis.Redis) -> bool:
    try:
        c.execute_command("FUNCTION", "LIST")
        return True
    except redis.ResponseError:
        return False


@needs_valkey
def test_valkey_bgsave_file_with_lru_idle_loads_into_kaa(tmp_path: Path) -> None:
    """IDLE opcodes (maxmemory-policy *-lru) written by Valkey set Kaa's OBJECT IDLETIME."""
    vs = _valkey(str(tmp_path), "--maxmemory-policy", "allkeys-lru")
    try:
        v = vs.client()
        v.set("k", "v")
        v.restore("idle", 0, _dump(v, "k"), idletime=3000)
        v.bgsave()
        assert wait_for(lambda: v.info("persistence")["rdb_bgsave_in_progress"] == 0)
        time.sleep(0.1)
    finally:
        vs.stop()
    sp = kaa(str(tmp_path), "--save", "", "--maxmemory-policy", "allkeys-lru")
    try:
        assert 3000 <= sp.client().object("idletime", "idle") <= 3005
    finally:
        sp.stop()


@needs_redis
def test_dump_bodies_match_redis_7(r: redis.Redis, oracle: redis.Redis) -> None:
    """Redis 7.0 uses the same encodings as Valkey 8 for these values: the payloads differ
    only in their footer (RDB version 10 and the CRC; known_differences 'dump-rdb-version')."""
    assert "dump-rdb-version" in KNOWN_DIFFERENCES
    for c in (r, oracle):
        c.set("s", "hello" * 10)
        c.set("n", -123456)
        c.rpush("l", "a", "2", "x" * 70)
        c.hset("h", mapping={"f": "v", "n": 5})
        c.sadd("i", 1, 2, 300000)
        c.zadd("z", {"a": 1, "b": 0.5})
        c.zadd("zs", {f"m{i}": i for i in range(200)})
    for k in ("s", "n", "l", "h", "i", "z", "zs"):
        mine, theirs = r.dump(k), oracle.dump(k)
        assert mine is not None and theirs is not None
        assert mine[:-10] == theirs[:-10], k
        assert mine[-10:-8] == b"\x0b\x00" and theirs[-10:-8] == b"\x0a\x00"
