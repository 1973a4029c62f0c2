"""DEBUG subcommands and the enable-debug-command switch."""

from __future__ import annotations

import re
import socket
import time

import pytest
import redis
from tests.support.servers import ServerProcess, start_kaa

ZERO = "0" * 40


def raw_exchange(port: int, payload: bytes, wait: float = 0.15) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        time.sleep(wait)
        s.settimeout(0.3)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data


def test_digest_empty_and_changes(r: redis.Redis) -> None:
    assert r.execute_command("DEBUG", "DIGEST") == ZERO.encode()
    r.set("a", "1")
    d1 = r.execute_command("DEBUG", "DIGEST")
    assert re.fullmatch(rb"[0-9a-f]{40}", d1) and d1 != ZERO.encode()
    r.set("b", "2")
    d2 = r.execute_command("DEBUG", "DIGEST")
    r.delete("b")
    assert r.execute_command("DEBUG", "DIGEST") == d1 != d2
    r.expire("a", 1000)
    assert r.execute_command("DEBUG", "DIGEST") != d1  # a TTL is part of the digest
    r.persist("a")
    assert r.execute_command("DEBUG", "DIGEST") == d1


def test_digest_depends_on_db(r: redis.Redis) -> None:
    r.set("a", "1")
    d0 = r.execute_command("DEBUG", "DIGEST")
    r.move("a", 1)
    assert r.execute_command("DEBUG", "DIGEST") != d0


def test_digest_matches_oracle_for_strings(r: redis.Redis, oracle: redis.Redis) -> None:
    for c in (r, oracle):
        c.mset({"k1": "v1", "k2": "12345", "k3": "x" * 100})
        c.pexpire("k2", 100000)
    assert r.execute_command("DEBUG", "DIGEST") == oracle.execute_command("DEBUG", "DIGEST")
    assert (r.execute_command("DEBUG", "DIGEST-VALUE", "k1", "k2", "nokey")
            == oracle.execute_command("DEBUG", "DIGEST-VALUE", "k1", "k2", "nokey"))


def test_digest_value(r: redis.Redis) -> None:
    r.set("a", "x")
    r.set("b", "x")
    da, db_, missing = r.execute_command("DEBUG", "DIGEST-VALUE", "a", "b", "nokey")
    assert da == db_ and missing == ZERO.encode()
    r.set("b", "y")
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "b")[0] != da
    assert r.execute_command("DEBUG", "DIGEST-VALUE") == []


def test_populate(r: redis.Redis) -> None:
    assert r.execute_command("DEBUG", "POPULATE", "10") == b"OK"
    assert r.dbsize() == 10
    assert r.get("key:3") == b"value:3"
    r.set("key:0", "mine")
    r.execute_command("DEBUG", "POPULATE", "12")
    assert r.dbsize() == 12 and r.get("key:0") == b"mine"
    r.execute_command("DEBUG", "POPULATE", "2", "p", "12")
    assert r.get("p:1") == b"value:1\0\0\0\0\0"
    r.execute_command("DEBUG", "POPULATE", "1", "q", "3")
    assert r.get("q:0") == b"val"
    with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
        r.execute_command("DEBUG", "POPULATE", "-1")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("DEBUG", "POPULATE", "x")


def test_object(r: redis.Redis) -> None:
    r.set("s", "hello")
    line = r.execute_command("DEBUG", "OBJECT", "s").decode()
    assert re.fullmatch(
        r"Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:\d+ lru:\d+ "
        r"lru_seconds_idle:\d+ lfu_freq:\d+ lfu_access_time_minutes:\d+", line)
    r.set("n", "42")
    assert "encoding:int" in r.execute_command("DEBUG", "OBJECT", "n").decode()
    r.set("big", "x" * 100)
    assert "encoding:raw" in r.execute_command("DEBUG", "OBJECT", "big").decode()
    fast = r.execute_command("DEBUG", "OBJECT", "s", "fast").decode()
    assert "serializedlength" not in fast
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.execute_command("DEBUG", "OBJECT", "nokey")


def test_object_quicklist_fields(r: redis.Redis) -> None:
    try:
        r.rpush("l", *[b"x" * 100] * 200)
    except redis.ResponseError:
        pytest.skip("lists not available yet")
    line = r.execute_command("DEBUG", "OBJECT", "l").decode()
    assert "encoding:quicklist" in line
    assert re.search(r" ql_nodes:\d+ ql_avg_node:\d+\.\d\d ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:\d+$", line)


def test_protocol_resp2(kaa_proc: ServerProcess) -> None:
    def ask(t: str) -> bytes:
        return raw_exchange(kaa_proc.port, f"DEBUG PROTOCOL {t}\r\n".encode())

    assert ask("string") == b"$11\r\nHello World\r\n"
    assert ask("integer") == b":12345\r\n"
    assert ask("double") == b"$5\r\n3.141\r\n"
    assert ask("bignum") == b"$37\r\n1234567999999999999999999999999999999\r\n"
    assert ask("null") == b"$-1\r\n"
    assert ask("array") == b"*3\r\n:0\r\n:1\r\n:2\r\n"
    assert ask("set") == b"*3\r\n:0\r\n:1\r\n:2\r\n"
    assert ask("map") == b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"
    assert ask("attrib") == b"$39\r\nSome real reply following the attribute\r\n"
    assert ask("push") == b"-ERR RESP2 is not supported by this command\r\n"
    assert ask("true") == b":1\r\n"
    assert ask("verbatim") == b"$25\r\nThis is a verbatim\nstring\r\n"
    assert ask("nope").startswith(b"-ERR Wrong protocol type name.")


def test_protocol_resp3(kaa_proc: ServerProcess) -> None:
    def ask(t: str) -> bytes:
        data = raw_exchange(kaa_proc.port, f"HELLO 3\r\nDEBUG PROTOCOL {t}\r\n".encode())
        return data.split(b"modules\r\n*0\r\n", 1)[1]

    assert ask("double") == b",3.141\r\n"
    assert ask("bignum") == b"(1234567999999999999999999999999999999\r\n"
    assert ask("null") == b"_\r\n"
    assert ask("set") == b"~3\r\n:0\r\n:1\r\n:2\r\n"
    assert ask("map") == b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"
    assert ask("true") == b"#t\r\n" and ask("false") == b"#f\r\n"
    assert ask("verbatim") == b"=29\r\ntxt:This is a verbatim\nstring\r\n"
    assert ask("attrib") == (b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
                             b"$39\r\nSome real reply following the attribute\r\n")
    assert ask("push") == (b"$40\r\nSome real reply following the push reply\r\n"
                           b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n")


def test_sleep_blocks_and_log(r: redis.Redis) -> None:
    t0 = time.monotonic()
    assert r.execute_command("DEBUG", "SLEEP", "0.2") == b"OK"
    assert time.monotonic() - t0 >= 0.19
    assert r.execute_command("DEBUG", "SLEEP", "abc") == b"OK"
    assert r.execute_command("DEBUG", "LOG", "hello from the tests") == b"OK"


def test_log_reaches_server_log(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    r.execute_command("DEBUG", "LOG", "marker-7f3a")
    time.sleep(0.1)
    assert "DEBUG LOG: marker-7f3a" in kaa_proc.output()


def test_set_active_expire(r: redis.Redis) -> None:
    try:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        r.set("k", "v", px=20)
        time.sleep(0.35)
        assert r.dbsize() == 1  # still there: nobody touched it
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        deadline = time.time() + 3
        while r.dbsize() and time.time() < deadline:
            time.sleep(0.05)
        assert r.dbsize() == 0
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_idletime_reads_the_cached_lru_clock(r: redis.Redis) -> None:
    """OBJECT IDLETIME compares the key's access stamp with the same cached clock the
    stamp came from (Valkey's LRU_CLOCK(), moved by the cron): with the cron paused
    it stays 0 however long the wait, and a write then a read never straddle a
    second boundary."""
    try:
        r.execute_command("DEBUG", "PAUSE-CRON", "1")
        r.set("idle", "v")
        time.sleep(1.1)
        assert r.object("idletime", "idle") == 0
    finally:
        r.execute_command("DEBUG", "PAUSE-CRON", "0")
    time.sleep(1.2)  # the cron moves the clock again
    assert r.object("idletime", "idle") >= 1


def test_pause_cron(r: redis.Redis) -> None:
    try:
        r.execute_command("DEBUG", "PAUSE-CRON", "1")
        r.set("k", "v", px=20)
        time.sleep(0.35)
        assert r.dbsize() == 1
    finally:
        r.execute_command("DEBUG", "PAUSE-CRON", "0")
    deadline = time.time() + 3
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0


def test_misc_switches(r: redis.Redis) -> None:
    for args in (("QUICKLIST-PACKED-THRESHOLD", "100"), ("QUICKLIST-PACKED-THRESHOLD", "0"),
                 ("REPLYBUFFER", "PEAK-RESET-TIME", "never"), ("REPLYBUFFER", "PEAK-RESET-TIME", "reset"),
                 ("REPLYBUFFER", "PEAK-RESET-TIME", "100"), ("REPLYBUFFER", "RESIZING", "0"),
                 ("SET-DISABLE-DENY-SCRIPTS", "1"), ("SET-DISABLE-DENY-SCRIPTS", "0"),
                 ("SET-SKIP-CHECKSUM-VALIDATION", "0"), ("CHANGE-REPL-ID",), ("JMAP",)):
        assert r.execute_command("DEBUG", *args) == b"OK", args
    with pytest.raises(redis.ResponseError, match="bigger than 1 and smaller than 4gb"):
        r.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb")
    with pytest.raises(redis.ResponseError, match="unknown subcommand or wrong number of arguments for 'REPLYBUFFER'"):
        r.execute_command("DEBUG", "REPLYBUFFER", "bogus", "1")
    assert r.execute_command("DEBUG", "STRINGMATCH-TEST").startswith(b"Apparently")


def test_change_repl_id(r: redis.Redis) -> None:
    before = r.info("replication")["master_replid"]
    r.execute_command("DEBUG", "CHANGE-REPL-ID")
    assert r.info("replication")["master_replid"] != before


def test_listpack_and_quicklist(r: redis.Redis) -> None:
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="not represented using an listpack"):
        r.execute_command("DEBUG", "LISTPACK", "s")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.execute_command("DEBUG", "LISTPACK", "nokey")


def test_help_and_errors(r: redis.Redis) -> None:
    lines = r.execute_command("DEBUG", "HELP")
    assert lines[0] == b"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert any(x.startswith(b"POPULATE <count>") for x in lines)
    with pytest.raises(redis.ResponseError,
                       match="unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP."):
        r.execute_command("DEBUG", "nosuch")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'debug' command"):
        r.execute_command("DEBUG")
    with pytest.raises(redis.ResponseError, match="unknown subcommand or wrong number"):
        r.execute_command("DEBUG", "SLEEP")


def test_reload_keeps_dataset(r: redis.Redis) -> None:
    r.mset({"a": "1", "b": "two"})
    r.pexpire("b", 100000)
    digest = r.execute_command("DEBUG", "DIGEST")
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert r.execute_command("DEBUG", "DIGEST") == digest
    with pytest.raises(redis.ResponseError, match="only supports the MERGE, NOFLUSH and NOSAVE options"):
        r.execute_command("DEBUG", "RELOAD", "BAD")


def test_enable_debug_command_no() -> None:
    p = start_kaa("--enable-debug-command", "no")
    try:
        c = redis.Redis(port=p.port)
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("DEBUG", "HELP")
        assert str(e.value) == (
            'DEBUG command not allowed. If the enable-debug-command option is set to "local", '
            "you can run it from a local connection, otherwise you need to set this option in the "
            "configuration file, and then restart the server.")
        c.close()
    finally:
        p.stop()


def test_enable_debug_command_local_allows_loopback() -> None:
    p = start_kaa("--enable-debug-command", "local")
    try:
        c = redis.Redis(port=p.port)
        assert c.execute_command("DEBUG", "LOG", "local ok") == b"OK"
        c.close()
    finally:
        p.stop()
