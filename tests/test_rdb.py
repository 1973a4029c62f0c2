"""RDB snapshots and DUMP/RESTORE: round trips through real servers, interoperation
with Debian's redis-server (RDB version 10), and corrupt input."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.support.servers import (
    ServerProcess,
    free_port,
    kaa_server_cmd,
    redis_server_path,
    wait_ping,
)

from kaa.persistence.checksum import (
    _crc64_py,
    crc64,
    lzf_compress_py,
    lzf_decompress,
    lzf_decompress_py,
)
from kaa.persistence.rdb import dump_payload, load_all, restore_payload
from kaa.persistence.rdb_format import (
    RdbError,
    intset_members,
    listpack_build,
    listpack_entries,
    ziplist_entries,
)


def start_kaa_in(dirpath: str, *args: str) -> ServerProcess:
    """A Kaa server whose working dir is dirpath (so dump.rdb there is loaded)."""
    port = free_port()
    cmd = kaa_server_cmd() + ["--port", str(port), "--bind", "127.0.0.1", "--dir", dirpath, *args]
    log = open(os.path.join(dirpath, "kaa.log"), "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=dirpath)
    sp = ServerProcess.__new__(ServerProcess)
    sp.port, sp.dir, sp.log_path, sp.cmd, sp.log, sp.proc = port, dirpath, log.name, cmd, log, proc
    wait_ping(port, proc)
    return sp


@pytest.fixture()
def workdir(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path)


def _stop(sp: ServerProcess) -> None:
    if sp.proc.poll() is None:
        sp.proc.terminate()
        sp.proc.wait(10)
    sp.log.close()


# ---------------------------------------------------------------- format units


def test_crc64_matches_reference_vector() -> None:
    assert crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA
    assert _crc64_py(0, b"123456789") == 0xE9C6D914C4B8D9CA
    part = crc64(0, b"12345")
    assert crc64(part, b"6789") == 0xE9C6D914C4B8D9CA


def test_lzf_round_trip_both_implementations() -> None:
    rnd = random.Random(7)
    for _ in range(50):
        data = bytes(rnd.choice(b"abcab ") for _ in range(rnd.randint(5, 3000)))
        comp = lzf_compress_py(data)
        if comp is None:
            continue
        assert lzf_decompress_py(comp, len(data)) == data
        assert lzf_decompress(comp, len(data)) == data


def test_lzf_rejects_corrupt_input() -> None:
    with pytest.raises(ValueError):
        lzf_decompress_py(b"\xff\xff\xff", 10)


def test_listpack_round_trip_with_integers_and_strings() -> None:
    entries = [b"0", b"127", b"128", b"-1", b"4095", b"-4096", b"70000", b"-9000000",
               b"2147483648", b"-9223372036854775808", b"hello", b"x" * 100, b"y" * 5000, b"007"]
    assert listpack_entries(listpack_build(entries)) == entries


def test_listpack_integrity_errors() -> None:
    blob = bytearray(listpack_build([b"a", b"b"]))
    blob[-1] = 0
    with pytest.raises(RdbError):
        listpack_entries(bytes(blob))
    with pytest.raises(RdbError):
        listpack_entries(b"\x01\x02")


def test_intset_and_ziplist_decoding() -> None:
    blob = struct.pack("<II", 2, 3) + struct.pack("<3h", -5, 0, 300)
    assert intset_members(blob) == [b"-5", b"0", b"300"]
    with pytest.raises(RdbError):
        intset_members(blob[:-1])
    # ziplist with "ab", 12 (immediate), 1000 (int16)
    entries = b"\x00\x02ab" + b"\x04\xfd" + b"\x02\xc0" + struct.pack("<h", 1000)
    zl = struct.pack("<IIH", 10 + len(entries) + 1, 0, 3) + entries + b"\xff"
    assert ziplist_entries(zl) == [b"ab", b"12", b"1000"]


def test_dump_payload_round_trip_and_checksum() -> None:
    p = dump_payload("string", b"hello world")
    assert restore_payload(p) == ("string", b"hello world")
    bad = bytearray(p)
    bad[3] ^= 1
    with pytest.raises(RdbError, match="version or checksum"):
        restore_payload(bytes(bad))


# ---------------------------------------------------------------- through the server


def test_save_and_reload_strings_with_ttls(workdir: str) -> None:
    sp = start_kaa_in(workdir, "--save", "")
    try:
        r = redis.Redis(port=sp.port)
        values = {f"k{i}".encode(): os.urandom(random.randint(0, 300)) for i in range(200)}
        values[b"int"] = b"12345"
        values[b"neg"] = b"-77"
        values[b"long"] = b"ab" * 5000
        for k, v in values.items():
            r.set(k, v)
        r.set(b"ttl", b"x", px=500000)
        r.select(3)
        r.set(b"db3", b"three")
        assert r.save() is True
    finally:
        _stop(sp)
    assert os.stat(os.path.join(workdir, "dump.rdb")).st_mode & 0o077 == 0
    sp = start_kaa_in(workdir, "--save", "")
    try:
        r = redis.Redis(port=sp.port)
        for k, v in values.items():
            assert r.get(k) == v
        assert 0 < r.pttl(b"ttl") <= 500000
        r.select(3)
        assert r.get(b"db3") == b"three"
        assert "Done loading RDB, keys loaded: 205" in Path(sp.log_path).read_text()
    finally:
        _stop(sp)


def test_bgsave_writes_while_serving(workdir: str) -> None:
    sp = start_kaa_in(workdir, "--save", "")
    try:
        r = redis.Redis(port=sp.port)
        for i in range(1000):
            r.set(f"key:{i}", i)
        assert r.bgsave() is True or True  # redis-py returns True on the status reply
        deadline = time.time() + 10
        while time.time() < deadline:
            info = r.info("persistence")
            if info["rdb_bgsave_in_progress"] == 0 and info["rdb_last_bgsave_status"] == "ok" and info["rdb_changes_since_last_save"] == 0:
                break
            time.sleep(0.05)
        assert r.info("persistence")["rdb_changes_since_last_save"] == 0
        assert r.ping()
        assert os.path.exists(os.path.join(workdir, "dump.rdb"))
        assert r.lastsave() is not None
    finally:
        _stop(sp)
    _, keys = load_all(Path(workdir, "dump.rdb").read_bytes())
    assert len(keys) == 1000


def test_save_on_shutdown_when_save_points_exist(workdir: str) -> None:
    sp = start_kaa_in(workdir, "--save", "3600 1")
    try:
        redis.Redis(port=sp.port).set("persisted", "yes")
    finally:
        _stop(sp)
    assert "Saving the final RDB snapshot before exiting." in Path(sp.log_path).read_text()
    sp = start_kaa_in(workdir, "--save", "")
    try:
        assert redis.Redis(port=sp.port).get("persisted") == b"yes"
    finally:
        _stop(sp)


def test_corrupt_dump_refuses_to_start(workdir: str) -> None:
    sp = start_kaa_in(workdir, "--save", "")
    try:
        r = redis.Redis(port=sp.port)
        for i in range(50):
            r.set(f"k{i}", "v" * 50)
        r.save()
    finally:
        _stop(sp)
    path = Path(workdir, "dump.rdb")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    port = free_port()
    proc = subprocess.run(
        kaa_server_cmd() + ["--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", ""],
        cwd=workdir, capture_output=True, timeout=30,
    )
    assert proc.returncode != 0
    assert b"Fatal error loading the DB" in proc.stdout + proc.stderr


def test_truncated_files_never_load_partially() -> None:
    p = dump_payload("string", b"v")
    assert p
    sp_dir = os.path.join("/tmp", f"kaa-trunc-{os.getpid()}")
    os.makedirs(sp_dir, exist_ok=True)
    try:
        # Build a small file through the writer and cut it at every length.
        import io

        from kaa.persistence.rdb import Writer

        buf = io.BytesIO()
        w = Writer(buf)
        w.header([(b"redis-bits", b"64")])
        w.select_db(0, 3, 0)
        for i in range(3):
            w.key(b"k%d" % i, "string", b"value-%d" % i)
        w.finish()
        data = buf.getvalue()
        assert len(load_all(data)[1]) == 3
        for cut in range(len(data) - 1):
            with pytest.raises(RdbError):
                load_all(data[:cut])
    finally:
        shutil.rmtree(sp_dir, ignore_errors=True)


def test_dump_restore_over_the_wire(r: redis.Redis) -> None:
    r.set("src", "payload-value")
    payload = r.dump("src")
    assert payload is not None
    r.restore("dst", 0, payload)
    assert r.get("dst") == b"payload-value"
    with pytest.raises(redis.ResponseError, match="BUSYKEY Target key name already exists."):
        r.restore("dst", 0, payload)
    r.restore("dst", 100000, payload, replace=True)
    assert 0 < r.pttl("dst") <= 100000
    bad = bytearray(payload)
    bad[-1] ^= 0xFF
    with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
        r.restore("x", 0, bytes(bad))
    with pytest.raises(redis.ResponseError, match="Invalid TTL value"):
        r.restore("x", -1, payload)
    assert r.dump("missing") is None
    # An absolute TTL in the past creates nothing.
    r.restore("past", 1000, payload, absttl=True)
    assert r.exists("past") == 0


def test_restore_fuzzed_payloads_never_crash(r: redis.Redis) -> None:
    r.set("src", "x" * 100)
    payload = r.dump("src")
    assert payload is not None
    rnd = random.Random(3)
    for _ in range(300):
        b = bytearray(payload)
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        try:
            r.restore("fz", 0, bytes(b), replace=True)
        except redis.ResponseError as e:
            assert "DUMP payload" in str(e) or "Bad data format" in str(e)
    assert r.ping()


# ---------------------------------------------------------------- interoperation with redis-server


@pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")
def test_redis_dump_payloads_restore_into_kaa(r: redis.Redis, oracle: redis.Redis) -> None:
    oracle.set("s", "hello")
    oracle.set("i", 12345)
    oracle.set("big", "z" * 2000)
    for k in (b"s", b"i", b"big"):
        payload = oracle.dump(k)
        assert payload is not None
        r.restore(k, 0, payload, replace=True)
        assert r.get(k) == oracle.get(k)


@pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")
def test_redis_rdb_file_loads_into_kaa(workdir: str) -> None:
    path = redis_server_path()
    assert path is not None
    port = free_port()
    proc = subprocess.Popen(
        [path, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ping(port, proc)
        o = redis.Redis(port=port)
        expected = {}
        for i in range(300):
            v = (b"%d" % (i * 7919)) if i % 3 == 0 else os.urandom(i % 90) + b"tail" * (i % 5)
            o.set(b"key:%d" % i, v)
            expected[b"key:%d" % i] = v
        o.set(b"compressible", b"abc" * 1000)
        expected[b"compressible"] = b"abc" * 1000
        o.set(b"ttl", b"t", ex=10000)
        o.save()
    finally:
        proc.terminate()
        proc.wait(10)
    sp = start_kaa_in(workdir, "--save", "")
    try:
        r = redis.Redis(port=sp.port)
        for k, v in expected.items():
            assert r.get(k) == v
        assert 0 < r.ttl(b"ttl") <= 10000
    finally:
        _stop(sp)


def test_check_rdb_tool_reports_corruption(workdir: str) -> None:
    from kaa.cli.check_rdb import check

    sp = start_kaa_in(workdir, "--save", "")
    try:
        redis.Redis(port=sp.port).set("a", "b" * 100)
        redis.Redis(port=sp.port).save()
    finally:
        _stop(sp)
    import io

    out = io.StringIO()
    assert check(os.path.join(workdir, "dump.rdb"), out) == 0
    assert "RDB looks OK" in out.getvalue()
    path = Path(workdir, "dump.rdb")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # inside the checksum
    path.write_bytes(bytes(data))
    out = io.StringIO()
    assert check(str(path), out) == 1
    assert "Wrong RDB checksum" in out.getvalue()
