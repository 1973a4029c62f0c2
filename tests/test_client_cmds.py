"""CLIENT subcommands, including CLIENT PAUSE's postponing of writes."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest
import redis
from tests.support.servers import ServerProcess

LIST_FIELDS = (
    "id addr laddr fd name age idle flags db sub psub ssub multi watch qbuf qbuf-free argv-mem "
    "multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp lib-name lib-ver "
    "tot-net-in tot-net-out tot-cmds"
).split()


def parse_line(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.strip().split(" "))


class Raw:
    """A raw RESP connection for deferred reads (the Tcl suite's deferring client)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.buf = b""

    def send(self, *args: str | bytes) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a.encode() if isinstance(a, str) else a
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))

    def read_line(self, timeout: float = 3.0) -> bytes:
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def nothing_pending(self, wait: float = 0.2) -> bool:
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return not self.buf
        self.buf += data
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def raw(kaa_proc: ServerProcess) -> Iterator[Raw]:
    c = Raw(kaa_proc.port)
    yield c
    c.close()


def blocked_clients(r: redis.Redis) -> int:
    return int(r.info("clients")["blocked_clients"])


# ---- LIST / INFO ----------------------------------------------------------------------------

def test_client_list_fields_in_order(r: redis.Redis) -> None:
    text = r.execute_command("CLIENT", "LIST").decode()
    assert text.endswith("\n")
    me = r.client_id()
    mine = [ln for ln in text.splitlines() if ln.startswith(f"id={me} ")]
    assert len(mine) == 1
    keys = [item.split("=", 1)[0] for item in mine[0].split(" ")]
    assert keys == LIST_FIELDS
    f = parse_line(mine[0])
    assert f["cmd"] == "client|list" and f["flags"] == "N" and f["multi"] == "-1"
    assert f["events"] == "r" and f["user"] == "default" and f["redir"] == "-1"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", f["addr"])


def test_client_info_and_counters(r: redis.Redis) -> None:
    first = parse_line(r.execute_command("CLIENT", "INFO").decode())
    second = parse_line(r.execute_command("CLIENT", "INFO").decode())
    assert second["cmd"] == "client|info"
    # "*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n" is 26 bytes.
    assert int(second["tot-net-in"]) == int(first["tot-net-in"]) + 26
    assert int(second["tot-cmds"]) == int(first["tot-cmds"]) + 1
    assert int(second["tot-net-out"]) > int(first["tot-net-out"]) + 300


def test_client_list_filters(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    other = redis.Redis(port=kaa_proc.port)
    oid = other.client_id()
    me = r.client_id()
    text = r.execute_command("CLIENT", "LIST", "ID", str(oid), "999999", str(me)).decode()
    ids = [parse_line(ln)["id"] for ln in text.splitlines()]
    assert ids == [str(oid), str(me)]
    normal = r.execute_command("CLIENT", "LIST", "TYPE", "normal").decode()
    assert f"id={me} " in normal
    assert r.execute_command("CLIENT", "LIST", "TYPE", "pubsub") == b""
    assert r.execute_command("CLIENT", "LIST", "TYPE", "master") == b""
    with pytest.raises(redis.ResponseError, match="Unknown client type 'bogus'"):
        r.execute_command("CLIENT", "LIST", "TYPE", "bogus")
    with pytest.raises(redis.ResponseError, match="Invalid client ID"):
        r.execute_command("CLIENT", "LIST", "ID", "x")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CLIENT", "LIST", "foo")
    other.close()


def test_client_list_resp3_verbatim(kaa_proc: ServerProcess) -> None:
    c = Raw(kaa_proc.port)
    c.send("HELLO", "3")
    c.sock.settimeout(1)
    time.sleep(0.1)
    c.buf = b""
    c.sock.recv(65536)
    c.send("CLIENT", "INFO")
    head = c.read_line()
    assert head.startswith(b"=")
    assert c.read_line().startswith(b"txt:id=")
    c.close()


# ---- names ----------------------------------------------------------------------------------

def test_client_setname_getname(r: redis.Redis) -> None:
    assert r.client_getname() is None
    assert r.client_setname("myname")
    assert r.client_getname() == "myname"
    assert "name=myname " in r.execute_command("CLIENT", "LIST").decode()
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces"):
        r.client_setname("foo bar")
    r.client_setname("")
    assert r.client_getname() is None
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'client|setname' command"):
        r.execute_command("CLIENT", "SETNAME")


def test_client_setinfo(r: redis.Redis) -> None:
    r.execute_command("CLIENT", "SETINFO", "lib-name", "kaa.py")
    r.execute_command("CLIENT", "SETINFO", "LIB-VER", "1.2.3")
    assert "lib-name=kaa.py lib-ver=1.2.3 " in r.execute_command("CLIENT", "INFO").decode()
    with pytest.raises(redis.ResponseError, match="lib-name cannot contain spaces"):
        r.execute_command("CLIENT", "SETINFO", "lib-name", "a b")
    with pytest.raises(redis.ResponseError, match="newlines"):
        r.execute_command("CLIENT", "SETINFO", "lib-name", "a\n")
    with pytest.raises(redis.ResponseError, match="Unrecognized option 'badger'"):
        r.execute_command("CLIENT", "SETINFO", "badger", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("CLIENT", "SETINFO", "lib-name")
    r.execute_command("CLIENT", "SETINFO", "lib-name", "")
    assert "lib-name= " in r.execute_command("CLIENT", "INFO").decode()


def test_client_id_and_help(r: redis.Redis) -> None:
    assert isinstance(r.client_id(), int)
    help_lines = r.execute_command("CLIENT", "HELP")
    assert help_lines[0].startswith(b"CLIENT <subcommand>")
    assert b"PAUSE <timeout> [WRITE|ALL]" in help_lines
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'nope'. Try CLIENT HELP."):
        r.execute_command("CLIENT", "nope")
    assert r.execute_command("CLIENT", "CAPA", "redirect") == b"OK"


# ---- KILL -----------------------------------------------------------------------------------

def test_client_kill_errors(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'client|kill' command"):
        r.execute_command("CLIENT", "KILL")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CLIENT", "KILL", "ID", "10", "wrong_arg")
    for bad in ("str", "-1", "0"):
        with pytest.raises(redis.ResponseError, match="client-id should be greater than 0"):
            r.execute_command("CLIENT", "KILL", "ID", bad)
    with pytest.raises(redis.ResponseError, match="Unknown client type 'wrong_type'"):
        r.execute_command("CLIENT", "KILL", "TYPE", "wrong_type")
    with pytest.raises(redis.ResponseError, match="No such user 'wrong_user'"):
        r.execute_command("CLIENT", "KILL", "USER", "wrong_user")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CLIENT", "KILL", "SKIPME", "yes_or_no")
    with pytest.raises(redis.ResponseError, match="maxage is not an integer or out of range"):
        r.execute_command("CLIENT", "KILL", "MAXAGE", "str")
    with pytest.raises(redis.ResponseError, match="maxage is not an integer or out of range"):
        r.execute_command("CLIENT", "KILL", "MAXAGE", "9999999999999999999")
    with pytest.raises(redis.ResponseError, match="maxage should be greater than 0"):
        r.execute_command("CLIENT", "KILL", "MAXAGE", "-1")
    with pytest.raises(redis.ResponseError, match="No such client"):
        r.execute_command("CLIENT", "KILL", "000.123.321.567:0000")


def test_client_kill_by_addr_and_id(r: redis.Redis, raw: Raw, kaa_proc: ServerProcess) -> None:
    raw.send("CLIENT", "ID")
    rid = int(raw.read_line()[1:])
    line = r.execute_command("CLIENT", "LIST", "ID", str(rid)).decode()
    addr = parse_line(line)["addr"]
    assert r.execute_command("CLIENT", "KILL", addr) == b"OK"
    with pytest.raises((ConnectionError, OSError)):
        raw.send("PING")
        raw.read_line()
    assert r.execute_command("CLIENT", "LIST", "ID", str(rid)) == b""
    other = Raw(kaa_proc.port)
    other.send("CLIENT", "ID")
    oid = int(other.read_line()[1:])
    assert r.execute_command("CLIENT", "KILL", "ID", str(oid), "SKIPME", "yes") == 1
    assert r.execute_command("CLIENT", "KILL", "ID", str(oid)) == 0
    other.close()


def test_client_kill_skipme_and_self(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    others = [Raw(kaa_proc.port) for _ in range(2)]
    for o in others:
        o.send("PING")
        assert o.read_line() == b"+PONG"
    connected = int(r.info("clients")["connected_clients"])
    assert r.execute_command("CLIENT", "KILL", "SKIPME", "yes") == connected - 1
    assert r.ping()  # still connected
    for o in others:
        o.close()
    me = Raw(kaa_proc.port)
    me.send("CLIENT", "ID")
    my_id = me.read_line()[1:].decode()
    me.send("CLIENT", "KILL", "ID", my_id, "SKIPME", "no")
    assert me.read_line() == b":1"  # the reply comes first, then the connection closes
    with pytest.raises((ConnectionError, OSError)):
        me.send("PING")
        me.read_line()
    me.close()


def test_client_kill_laddr_and_maxage(r: redis.Redis, raw: Raw, kaa_proc: ServerProcess) -> None:
    raw.send("CLIENT", "INFO")
    raw.read_line()
    info = parse_line(raw.read_line().decode())
    assert r.execute_command("CLIENT", "KILL", "LADDR", "1.2.3.4:5", "SKIPME", "yes") == 0
    assert r.execute_command("CLIENT", "KILL", "MAXAGE", "1000", "SKIPME", "yes") == 0
    assert r.execute_command("CLIENT", "KILL", "LADDR", info["laddr"], "ID", info["id"]) == 1


# ---- REPLY ----------------------------------------------------------------------------------

def test_client_reply_off_on_skip(raw: Raw) -> None:
    raw.send("CLIENT", "REPLY", "OFF")
    raw.send("PING", "a")
    raw.send("PING", "b")
    raw.send("CLIENT", "REPLY", "ON")
    assert raw.read_line() == b"+OK"
    raw.send("PING", "c")
    assert raw.read_line() == b"$1"
    assert raw.read_line() == b"c"
    raw.send("CLIENT", "REPLY", "SKIP")
    raw.send("PING", "d")
    raw.send("PING", "e")
    assert raw.read_line() == b"$1"
    assert raw.read_line() == b"e"
    raw.send("CLIENT", "REPLY", "SKIP")
    raw.send("CLIENT", "REPLY", "ON")
    assert raw.read_line() == b"+OK"
    raw.send("CLIENT", "REPLY", "maybe")
    assert raw.read_line() == b"-ERR syntax error"


def test_client_no_evict_no_touch(r: redis.Redis) -> None:
    assert r.execute_command("CLIENT", "NO-EVICT", "on") == b"OK"
    assert "flags=e " in r.execute_command("CLIENT", "INFO").decode()
    assert r.execute_command("CLIENT", "NO-EVICT", "off") == b"OK"
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CLIENT", "NO-EVICT", "wrongInput")
    assert r.execute_command("CLIENT", "NO-TOUCH", "on") == b"OK"
    assert "flags=T " in r.execute_command("CLIENT", "INFO").decode()
    r.execute_command("CLIENT", "NO-TOUCH", "off")
    assert "flags=N " in r.execute_command("CLIENT", "INFO").decode()


def test_client_no_touch_keeps_idle_time(r: redis.Redis) -> None:
    r.set("foo", "bar")
    r.execute_command("CLIENT", "NO-TOUCH", "on")
    try:
        before = r.execute_command("DEBUG", "OBJECT", "foo").decode()
        lru_before = int(re.search(r" lru:(\d+)", before).group(1))  # type: ignore[union-attr]
        time.sleep(1.1)
        r.get("foo")
        after = r.execute_command("DEBUG", "OBJECT", "foo").decode()
        assert int(re.search(r" lru:(\d+)", after).group(1)) == lru_before  # type: ignore[union-attr]
        r.execute_command("CLIENT", "NO-TOUCH", "off")
        r.get("foo")
        touched = r.execute_command("DEBUG", "OBJECT", "foo").decode()
        assert int(re.search(r" lru:(\d+)", touched).group(1)) > lru_before  # type: ignore[union-attr]
    finally:
        r.execute_command("CLIENT", "NO-TOUCH", "off")


# ---- PAUSE ----------------------------------------------------------------------------------

def test_pause_errors(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="timeout is not an integer or out of range"):
        r.execute_command("CLIENT", "PAUSE", "abc")
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.execute_command("CLIENT", "PAUSE", "-1")
    with pytest.raises(redis.ResponseError, match="CLIENT PAUSE mode must be WRITE or ALL"):
        r.execute_command("CLIENT", "PAUSE", "10", "SOME")


def test_pause_write_lets_reads_through(r: redis.Redis, raw: Raw) -> None:
    try:
        assert r.execute_command("CLIENT", "PAUSE", "100000", "WRITE") == b"OK"
        raw.send("GET", "foo")
        assert raw.read_line() == b"$-1"
        raw.send("PING")
        assert raw.read_line() == b"+PONG"
        assert blocked_clients(r) == 0
        raw.send("SET", "foo", "bar")
        assert raw.nothing_pending()
        assert blocked_clients(r) == 1
        assert "flags=b " in r.execute_command("CLIENT", "LIST", "TYPE", "normal").decode()
        # Arity errors are answered at once.
        with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'set' command"):
            r.execute_command("SET", "x")
        assert r.get("foo") is None
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    assert raw.read_line() == b"+OK"
    assert r.get("foo") == b"bar"
    assert blocked_clients(r) == 0


def test_pause_keeps_pipeline_order(r: redis.Redis, raw: Raw) -> None:
    try:
        r.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        raw.sock.sendall(b"INCR n\r\nGET n\r\nINCR n\r\n")
        assert raw.nothing_pending()
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    assert [raw.read_line() for _ in range(4)] == [b":1", b"$1", b"1", b":2"]


def test_pause_all_blocks_reads_and_times_out(r: redis.Redis, raw: Raw) -> None:
    start = time.monotonic()
    r.execute_command("CLIENT", "PAUSE", "300", "ALL")
    r.execute_command("CLIENT", "PAUSE", "20", "WRITE")  # ALL and the longer timeout win
    raw.send("GET", "foo")
    assert raw.read_line(timeout=3) == b"$-1"
    assert time.monotonic() - start >= 0.28


def test_pause_skips_expiry(r: redis.Redis) -> None:
    expired = int(r.info("stats")["expired_keys"])
    r.set("k", "v", px=50)
    try:
        r.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        time.sleep(0.3)
        assert r.get("k") is None  # logically expired
        assert int(r.info("stats")["expired_keys"]) == expired  # but not deleted
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    r.get("k")
    assert int(r.info("stats")["expired_keys"]) == expired + 1


def test_paused_client_disconnect(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    c = Raw(kaa_proc.port)
    try:
        r.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        c.send("SET", "gone", "1")
        assert c.nothing_pending()
        c.close()
        deadline = time.time() + 3
        while blocked_clients(r) and time.time() < deadline:
            time.sleep(0.05)
        assert blocked_clients(r) == 0
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    assert r.get("gone") is None
