"""Streams in RDB files and DUMP payloads (kaa.persistence.rdb_stream): round trips through
Kaa (DUMP/RESTORE, DEBUG RELOAD, SAVE + restart) with groups, PELs and consumers intact;
files and DUMP payloads written by redis-server 7.0 (RDB version 10, stream type 19)
loading into Kaa; listpacks byte-identical to the ones Redis writes; type-15 (Redis 5/6)
payloads; and corrupt payloads refused without harm.
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.support.servers import (
    ServerProcess,
    free_port,
    kaa_server_cmd,
    redis_server_path,
    wait_ping,
)
from tests.test_streams import client, err, info_map, x

from kaa.persistence.checksum import crc64
from kaa.persistence.rdb import dump_payload, restore_payload
from kaa.persistence.rdb_format import (
    T_STREAM_LISTPACKS,
    RdbError,
    Reader,
    enc_len,
    enc_string,
    listpack_build,
)
from kaa.persistence.rdb_stream import (
    ConsumerData,
    GroupData,
    build_node,
    parse_node,
    read_stream,
    write_stream,
)
from kaa.types.stream import MAX_ID, StreamValue, make_id


@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    cl = client(kaa_proc.port)
    x(cl, "FLUSHALL")
    yield cl
    x(cl, "CONFIG", "SET", "stream-node-max-entries", "100")
    cl.close()


@pytest.fixture()
def workdir(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path)


def start_kaa_in(dirpath: str) -> subprocess.Popen[bytes]:
    """A kaa-server working in dirpath (so it loads and saves dirpath/dump.rdb)."""
    port = free_port()
    cmd = kaa_server_cmd() + ["--port", str(port), "--bind", "127.0.0.1", "--dir", dirpath, "--save", ""]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=dirpath)
    wait_ping(port, proc)
    proc.port = port  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def build_streams(cl: redis.Redis) -> None:
    """Streams with several nodes, tombstones, odd fields, groups, PELs and consumers."""
    cl.execute_command("CONFIG", "SET", "stream-node-max-entries", "4")
    for i in range(1, 30):
        fields = ["f", str(i)] if i % 5 else ["f", str(i), "big", "x" * (50 * i), "n", "-12345"]
        cl.execute_command("XADD", "s", f"{1000 + i}-{i % 3}", *fields)
    cl.execute_command("XDEL", "s", "1003-0", "1010-1", "1011-2", "1012-0")
    cl.execute_command("XTRIM", "s", "MINID", "=", "1002-0")
    cl.execute_command("XGROUP", "CREATE", "s", "g1", "0")
    cl.execute_command("XGROUP", "CREATE", "s", "g2", "1020", "ENTRIESREAD", "7")
    cl.execute_command("XGROUP", "CREATE", "s", "long-group-name-" + "z" * 30, "$")
    cl.execute_command("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "s", ">")
    cl.execute_command("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "s", ">")
    cl.execute_command("XREADGROUP", "GROUP", "g1", "carol", "NOACK", "COUNT", "2", "STREAMS", "s", ">")
    cl.execute_command("XREADGROUP", "GROUP", "g2", "123", "STREAMS", "s", ">")
    cl.execute_command("XACK", "s", "g1", "1004-1")
    cl.execute_command("XCLAIM", "s", "g1", "dave", "0", "1005-2", "RETRYCOUNT", "9")
    cl.execute_command("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
    cl.execute_command("XADD", "gone", "5-5", "a", "b")
    cl.execute_command("XDEL", "gone", "5-5")
    cl.execute_command("XSETID", "gone", "7-0", "ENTRIESADDED", "3", "MAXDELETEDID", "6-0")
    cl.execute_command("CONFIG", "SET", "stream-node-max-entries", "100")


def snapshot(cl: redis.Redis, active_time: bool = True) -> dict[bytes, Any]:
    """Everything observable about the streams (XINFO STREAM FULL and XRANGE)."""
    out: dict[bytes, Any] = {}
    for key in (b"s", b"empty", b"gone"):
        full = info_map(cl.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0"))
        groups = []
        for g in full.pop(b"groups"):
            g = info_map(g)
            cons = [info_map(i) for i in g.pop(b"consumers")]
            if not active_time:
                for i in cons:
                    i.pop(b"active-time", None)
            groups.append((g, cons))
        out[key] = (full, groups, cl.execute_command("XRANGE", key, "-", "+"),
                    cl.execute_command("XINFO", "STREAM", key))
    return out


def node_blobs(payload: bytes) -> list[tuple[bytes, bytes]]:
    """The (master key, listpack) pairs of a stream DUMP payload, as stored."""
    r = Reader(payload[:-10], 1, 11)
    return [(r.string(), r.string()) for _ in range(r.len())]


# ---- round trips through Kaa ----------------------------------------------------------------------
def test_dump_restore_round_trip(c: redis.Redis) -> None:
    build_streams(c)
    before = snapshot(c)
    for key in (b"s", b"empty", b"gone"):
        payload = x(c, "DUMP", key)
        assert payload[0] == 21  # RDB_TYPE_STREAM_LISTPACKS_3
        assert struct.unpack("<H", payload[-10:-8])[0] == 11
        x(c, "RESTORE", key + b"-copy", "0", payload)
        x(c, "RENAME", key + b"-copy", key)
    assert snapshot(c) == before
    # Restoring Kaa's own payload gives byte-identical payloads.
    assert x(c, "DUMP", "s") == x(c, "DUMP", "s")
    p = x(c, "DUMP", "s")
    x(c, "RESTORE", "t", "0", p)
    assert x(c, "DUMP", "t") == p


def test_debug_reload_keeps_everything(c: redis.Redis) -> None:
    build_streams(c)
    before = snapshot(c)
    digest = x(c, "DEBUG", "DIGEST")
    assert x(c, "DEBUG", "RELOAD") == b"OK"
    assert snapshot(c) == before
    assert x(c, "DEBUG", "DIGEST") == digest


def test_save_and_restart(workdir: str) -> None:
    sp = start_kaa_in(workdir)
    try:
        cl = client(sp.port)  # type: ignore[attr-defined]
        build_streams(cl)
        before = snapshot(cl)
        assert x(cl, "SAVE") == b"OK"
    finally:
        stop(sp)
    sp = start_kaa_in(workdir)
    try:
        cl = client(sp.port)  # type: ignore[attr-defined]
        assert snapshot(cl) == before
        # The loaded stream keeps working: groups resume where they were.
        last = info_map(x(cl, "XINFO", "GROUPS", "s")[0])[b"last-delivered-id"]
        nxt = x(cl, "XRANGE", "s", b"(" + last, "+", "COUNT", "1")[0]
        x(cl, "XADD", "s", "2000-0", "new", "1")
        rep = x(cl, "XREADGROUP", "GROUP", "g1", "erin", "COUNT", "1", "STREAMS", "s", ">")
        assert rep[0][1] == [nxt]
    finally:
        stop(sp)


def test_restore_keeps_seen_and_active_times(c: redis.Redis) -> None:
    x(c, "XGROUP", "CREATE", "m", "g", "$", "MKSTREAM")
    x(c, "XREADGROUP", "GROUP", "g", "Alice", "COUNT", "1", "STREAMS", "m", ">")
    x(c, "XADD", "m", "*", "f", "v")
    x(c, "XREADGROUP", "GROUP", "g", "Alice", "COUNT", "1", "STREAMS", "m", ">")
    cons = info_map(info_map(info_map(x(c, "XINFO", "STREAM", "m", "FULL"))[b"groups"][0])[b"consumers"][0])
    dump = x(c, "DUMP", "m")
    x(c, "DEL", "m")
    x(c, "RESTORE", "m", "0", dump)
    again = info_map(info_map(info_map(x(c, "XINFO", "STREAM", "m", "FULL"))[b"groups"][0])[b"consumers"][0])
    assert (again[b"seen-time"], again[b"active-time"]) == (cons[b"seen-time"], cons[b"active-time"])


# ---- interoperation with redis-server 7.0 ------------------------------------------------------------
def test_redis_dump_payloads_restore_into_kaa(c: redis.Redis, oracle: redis.Redis) -> None:
    o = client(oracle.connection_pool.connection_kwargs["port"])
    build_streams(o)
    for key in (b"s", b"empty", b"gone"):
        payload = o.execute_command("DUMP", key)
        assert payload[0] == 19 and struct.unpack("<H", payload[-10:-8])[0] == 10
        x(c, "RESTORE", key, "0", payload)
    for key in (b"s", b"empty", b"gone"):
        assert x(c, "XRANGE", key, "-", "+") == o.execute_command("XRANGE", key, "-", "+")
        assert x(c, "XINFO", "STREAM", key) == o.execute_command("XINFO", "STREAM", key)
        assert x(c, "XINFO", "GROUPS", key) == o.execute_command("XINFO", "GROUPS", key)
    for g in (b"g1", b"g2"):
        mine = [e[:2] + e[3:] for e in x(c, "XPENDING", "s", g, "-", "+", "100")]
        theirs = [e[:2] + e[3:] for e in o.execute_command("XPENDING", "s", g, "-", "+", "100")]
        assert mine == theirs
        assert x(c, "XPENDING", "s", g) == o.execute_command("XPENDING", "s", g)
    # Type 19 has no active-time: it is taken to be the seen-time.
    full = info_map(x(c, "XINFO", "STREAM", "s", "FULL"))
    for g in full[b"groups"]:
        for cons in info_map(g)[b"consumers"]:
            cons = info_map(cons)
            assert cons[b"active-time"] == cons[b"seen-time"]
    o.close()


def test_listpacks_are_byte_identical_to_redis(c: redis.Redis, oracle: redis.Redis) -> None:
    o = client(oracle.connection_pool.connection_kwargs["port"])
    build_streams(o)
    build_streams(c)
    mine = node_blobs(x(c, "DUMP", "s"))
    theirs = node_blobs(o.execute_command("DUMP", "s"))
    assert len(mine) == len(theirs) > 3
    assert mine == theirs
    o.close()


@pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")
def test_redis_rdb_file_with_streams_loads_into_kaa(workdir: str) -> None:
    path = redis_server_path()
    assert path is not None
    port = free_port()
    proc = subprocess.Popen(
        [path, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ping(port, proc)
        o = client(port)
        build_streams(o)
        expected = snapshot(o, active_time=False)
        assert o.execute_command("SAVE") == b"OK"
        o.close()
    finally:
        proc.terminate()
        proc.wait(10)
    with open(os.path.join(workdir, "dump.rdb"), "rb") as f:
        assert f.read(9) == b"REDIS0010"
    sp = start_kaa_in(workdir)
    try:
        cl = client(sp.port)  # type: ignore[attr-defined]
        assert snapshot(cl, active_time=False) == expected
    finally:
        stop(sp)


# ---- older and corrupt payloads ---------------------------------------------------------------------
def _payload(rdb_type: int, body: bytes, version: int = 9) -> bytes:
    data = bytes([rdb_type]) + body + struct.pack("<H", version)
    return data + struct.pack("<Q", crc64(0, data))


def _type15_body() -> bytes:
    """A Redis 5/6 stream: entries 5-0 and 6-0 left, 3-0 deleted, group g1 at 5-0 with
    consumer c11 owning 5-0, group g2 at 0-0 (no counters are stored in this type)."""
    node = build_node((make_id(5, 0), [b"data"], [(make_id(5, 0), [b"data", b"e"], False),
                                                   (make_id(6, 0), [b"data", b"f"], False)]))
    out = [enc_len(1), enc_string(make_id(5, 0).to_bytes(16, "big")), enc_string(node)]
    out += [enc_len(2), enc_len(6), enc_len(0)]  # length, last ID
    out.append(enc_len(2))
    out += [enc_string(b"g1"), enc_len(5), enc_len(0), enc_len(1),
            make_id(5, 0).to_bytes(16, "big"), struct.pack("<q", 1600000000000), enc_len(1),
            enc_len(1), enc_string(b"c11"), struct.pack("<q", 1600000000001), enc_len(1),
            make_id(5, 0).to_bytes(16, "big")]
    out += [enc_string(b"g2"), enc_len(0), enc_len(0), enc_len(0), enc_len(0)]
    return b"".join(out)


def test_type15_payload_from_redis_5_or_6(c: redis.Redis) -> None:
    x(c, "RESTORE", "x", "0", _payload(T_STREAM_LISTPACKS, _type15_body()))
    info = info_map(x(c, "XINFO", "STREAM", "x", "FULL"))
    assert (info[b"entries-added"], info[b"max-deleted-entry-id"], info[b"recorded-first-entry-id"]) == (
        2, b"0-0", b"5-0")
    g1, g2 = (info_map(g) for g in info[b"groups"])
    assert (g1[b"entries-read"], g1[b"lag"], g2[b"entries-read"], g2[b"lag"]) == (1, 1, 0, 2)
    cons = info_map(g1[b"consumers"][0])
    assert (cons[b"name"], cons[b"seen-time"], cons[b"active-time"]) == (
        b"c11", 1600000000001, 1600000000001)
    assert g1[b"pending"] == [[b"5-0", b"c11", 1600000000000, 1]]


def test_corrupt_payloads_are_refused(c: redis.Redis) -> None:
    x(c, "XADD", "s", "1-0", "a", "1")
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    x(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    good = x(c, "DUMP", "s")
    body = good[1:-10]
    bad_node = build_node((make_id(1, 0), [b"a"], [(make_id(1, 0), [b"a", b"1"], False)]))
    bad_node = bad_node.replace(b"\x04\x01\xff", b"\x05\x01\xff")  # wrong lp-count
    cases = [
        _payload(21, body[:-1], 11),  # truncated
        _payload(21, enc_len(1) + enc_string(b"short") + enc_string(bad_node), 11),
        _payload(21, enc_len(1) + enc_string(make_id(1, 0).to_bytes(16, "big")) + enc_string(bad_node), 11),
        _payload(21, body[:-17] + b"\x01" + (9).to_bytes(16, "big"), 11),  # consumer PEL ID unknown
    ]
    for p in cases:
        assert err(c, "RESTORE", "k", "0", p) == "Bad data format"
    assert x(c, "EXISTS", "k") == 0
    # Random damage never takes the server down.
    for i in range(1, len(body), 3):
        damaged = body[:i] + bytes([body[i] ^ 0x5A]) + body[i + 1:]
        try:
            x(c, "RESTORE", "k", "0", _payload(21, damaged, 11), "REPLACE")
        except redis.ResponseError as e:
            assert str(e) == "Bad data format"
    assert x(c, "PING") == b"PONG"


# ---- the codec in-process ---------------------------------------------------------------------------
def test_codec_round_trip_in_process() -> None:
    s = StreamValue()
    for i in range(1, 12):
        s.append(make_id(i, i % 2), [b"f", b"%d" % i] if i % 4 else [b"g", b"x", b"h", b"y"], 4, 4096, 3)
    s.delete(make_id(2, 0))
    s.max_deleted = make_id(2, 0)
    data = s.rdb_items()
    data.groups = [GroupData(b"g", make_id(5, 1), -1, [(make_id(3, 1), 123, 4)],
                             [ConsumerData(b"c", 7, -1, [make_id(3, 1)])])]
    payload = write_stream(data)
    back = read_stream(Reader(payload), 21)
    assert back == data
    again = StreamValue.from_rdb(back, None)
    assert [i for i, _ in again.iter_range(0, MAX_ID)] == [i for i, _ in s.iter_range(0, MAX_ID)]
    assert [n.lp_bytes() for n in again.nodes] == [n.lp_bytes() for n in s.nodes]
    g = again.groups[b"g"]  # type: ignore[index]
    assert g.entries_read == -1 and g.pel[make_id(3, 1)].consumer is g.consumers[b"c"]
    assert dump_payload("stream", data)[0] == 21
    assert restore_payload(dump_payload("stream", data)) == ("stream", data)


def test_node_sizes_match_the_listpacks_written() -> None:
    s = StreamValue()
    values = [b"", b"1", b"-4097", b"9999999999", b"x" * 70, b"y" * 5000, b"007"]
    for i, v in enumerate(values * 3, start=1):
        s.append(make_id(i * 1000, 2**63 + i if i % 2 else 0), [b"f", v] if i % 3 else [b"k", v, b"123", v],
                 len(v), 0, 0)
    s.trim(None, make_id(4000, 0), False, 0)
    for node in s.rdb_items().nodes:
        assert len(build_node(node)) == s.nodes[0].lp_bytes()


def test_parse_node_rejects_inconsistent_listpacks() -> None:
    ok = (make_id(1, 0), [b"a"], [(make_id(1, 0), [b"a", b"1"], False), (make_id(2, 0), [b"b", b"2"], True)])
    assert parse_node(ok[0], build_node(ok)) == ok
    with pytest.raises(RdbError):
        parse_node(ok[0], listpack_build([b"1", b"0", b"1", b"a"]))  # no terminator
    with pytest.raises(RdbError):
        parse_node(ok[0], listpack_build([b"2", b"0", b"1", b"a", b"0", b"2", b"0", b"0", b"1", b"4"]))
    with pytest.raises(RdbError):
        parse_node(ok[0], listpack_build([]))
