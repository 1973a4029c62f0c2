"""Stream consumer groups (XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO GROUPS /
CONSUMERS / STREAM FULL) against a running kaa-server, in RESP2 and RESP3: replies,
errors, the group counters (entries-read, lag), what DELCONSUMER and SETID leave behind,
blocking XREADGROUP with several clients and groups, and, on an in-process server, what
is propagated to replicas/AOF and which keyspace events fire.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import ServerProcess
from tests.support.tap import Tap, tapped_server
from tests.test_streams import (
    NOT_INT,
    WRONGTYPE,
    Deferred,
    blocked_clients,
    client,
    err,
    info_map,
    raw,
    wait_blocked,
    x,
)

from kaa.embedded import EmbeddedServer

NOGROUP_READ = "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option"


@pytest.fixture()
def c(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    cl = client(kaa_proc.port)
    x(cl, "FLUSHALL")
    yield cl
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


def groups_of(c: redis.Redis, key: str) -> dict[bytes, dict[bytes, Any]]:
    return {g[b"name"]: g for g in map(info_map, x(c, "XINFO", "GROUPS", key))}


def fill(c: redis.Redis, key: str, n: int) -> None:
    for i in range(1, n + 1):
        x(c, "XADD", key, f"{i}-0", "f", str(i))


# ---- XGROUP -------------------------------------------------------------------------------------
def test_xgroup_create(c: redis.Redis) -> None:
    assert err(c, "XGROUP", "CREATE", "s", "g", "$") == (
        "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "
        "use the MKSTREAM option to create an empty stream automatically.")
    assert x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == b"OK"
    assert x(c, "TYPE", "s") == b"stream"
    assert err(c, "XGROUP", "CREATE", "s", "g", "$") == "BUSYGROUP Consumer Group name already exists"
    assert err(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == (
        "BUSYGROUP Consumer Group name already exists")
    assert err(c, "XGROUP", "CREATE", "s", "g2", "-") == (
        "Invalid stream ID specified as stream command argument")
    assert err(c, "XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-3") == (
        "value for ENTRIESREAD must be positive or -1")
    assert err(c, "XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "x") == NOT_INT
    sub = "unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP."
    assert err(c, "XGROUP", "CREATE", "s", "g2", "0", "FOO") == sub.format("CREATE")
    assert err(c, "XGROUP", "create", "s", "g2", "0", "ENTRIESREAD") == sub.format("create")
    assert err(c, "XGROUP", "CREATE", "s", "g2", "0", *["MKSTREAM"] * 4) == sub.format("CREATE")
    assert err(c, "XGROUP", "CREATE", "s", "g2") == "wrong number of arguments for 'xgroup|create' command"
    x(c, "SET", "str", "v")
    assert err(c, "XGROUP", "CREATE", "str", "g", "$", "MKSTREAM") == WRONGTYPE
    fill(c, "t", 4)
    x(c, "XGROUP", "CREATE", "t", "g1", "$", "ENTRIESREAD", "0")
    x(c, "XGROUP", "CREATE", "t", "g2", "2-0", "ENTRIESREAD", "3")
    x(c, "XGROUP", "CREATE", "t", "g3", "1")
    gs = groups_of(c, "t")
    assert [gs[g][b"entries-read"] for g in (b"g1", b"g2", b"g3")] == [0, 3, None]
    assert [gs[g][b"last-delivered-id"] for g in (b"g1", b"g2", b"g3")] == [b"4-0", b"2-0", b"1-0"]


def test_xgroup_other_subcommands(c: redis.Redis) -> None:
    fill(c, "s", 3)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    nog = "NOGROUP No such consumer group 'nog' for key name 's'"
    assert err(c, "XGROUP", "SETID", "s", "nog", "0") == nog
    assert err(c, "XGROUP", "CREATECONSUMER", "s", "nog", "c") == nog
    assert err(c, "XGROUP", "DELCONSUMER", "s", "nog", "c") == nog
    assert x(c, "XGROUP", "DESTROY", "s", "nog") == 0
    assert err(c, "XGROUP", "DESTROY", "nokey", "g").startswith("The XGROUP subcommand requires")
    assert x(c, "XGROUP", "CREATECONSUMER", "s", "g", "alice") == 1
    assert x(c, "XGROUP", "CREATECONSUMER", "s", "g", "alice") == 0
    assert x(c, "XGROUP", "DELCONSUMER", "s", "g", "bob") == 0
    assert x(c, "XGROUP", "SETID", "s", "g", "$") == b"OK"
    assert groups_of(c, "s")[b"g"][b"last-delivered-id"] == b"3-0"
    assert x(c, "XGROUP", "SETID", "s", "g", "-", "ENTRIESREAD", "0") == b"OK"
    assert (groups_of(c, "s")[b"g"][b"last-delivered-id"], groups_of(c, "s")[b"g"][b"entries-read"]) == (
        b"0-0", 0)
    sub = "unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP."
    assert err(c, "XGROUP", "SETID", "s", "g", "0", "MKSTREAM") == sub
    assert err(c, "XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "1", "ENTRIESREAD", "2") == sub
    assert x(c, "XGROUP", "DESTROY", "s", "g") == 1
    assert x(c, "XINFO", "GROUPS", "s") == []
    assert err(c, "XGROUP", "FOO") == "unknown subcommand 'FOO'. Try XGROUP HELP."
    assert err(c, "XGROUP", "HELP", "xxx") == "wrong number of arguments for 'xgroup|help' command"
    help_ = x(c, "XGROUP", "HELP")
    assert help_[0].startswith(b"XGROUP <subcommand>") and help_[-1] == b"    Print this help."
    assert len(help_) == 17


# ---- XREADGROUP / XACK / XPENDING ------------------------------------------------------------------
def test_xreadgroup_delivers_new_entries_and_history(c: redis.Redis) -> None:
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    x(c, "XADD", "s", "1-0", "a", "1")
    x(c, "XADD", "s", "2-0", "b", "2")
    assert x(c, "XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">") == [
        [b"s", [[b"1-0", [b"a", b"1"]], [b"2-0", [b"b", b"2"]]]]]
    x(c, "XADD", "s", "3-0", "c", "3")
    x(c, "XADD", "s", "4-0", "d", "4")
    assert x(c, "XREADGROUP", "GROUP", "g", "c2", "COUNT", "1", "STREAMS", "s", ">")[0][1] == [
        [b"3-0", [b"c", b"3"]]]
    # History: each consumer sees only its own pending entries.
    assert [e[0] for e in x(c, "XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0")[0][1]] == [b"1-0", b"2-0"]
    assert [e[0] for e in x(c, "XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", "1-0")[0][1]] == [
        b"2-0"]
    assert x(c, "XREADGROUP", "GROUP", "g", "c3", "STREAMS", "s", "0") == [[b"s", []]]
    assert x(c, "XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">")[0][1] == [[b"4-0", [b"d", b"4"]]]
    assert x(c, "XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">") is None
    # Delivery counts grow with each history read.
    pend = {p[0]: p for p in x(c, "XPENDING", "s", "g", "-", "+", "10")}
    assert pend[b"1-0"][1] == b"c1" and pend[b"1-0"][3] == 2 and pend[b"2-0"][3] == 3
    assert pend[b"3-0"][3] == 1


def test_xreadgroup_history_of_deleted_entries(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    x(c, "XADD", "s", "1", "field1", "A")
    x(c, "XREADGROUP", "GROUP", "g", "me", "STREAMS", "s", ">")
    x(c, "XADD", "s", "MAXLEN", "1", "2", "field1", "B")
    x(c, "XREADGROUP", "GROUP", "g", "me", "STREAMS", "s", ">")
    assert x(c, "XREADGROUP", "GROUP", "g", "me", "STREAMS", "s", "0-1")[0][1] == [
        [b"1-0", None], [b"2-0", [b"field1", b"B"]]]
    rep = raw(kaa_proc.port, "XREADGROUP", "GROUP", "g", "me", "COUNT", "1", "STREAMS", "s", "0",
              resp3=True)
    assert rep == b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n_\r\n"


def test_xreadgroup_errors(c: redis.Redis) -> None:
    fill(c, "s", 1)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    assert err(c, "XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">") == NOGROUP_READ.format("s", "nog")
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "nokey", ">", ">") == (
        NOGROUP_READ.format("nokey", "g"))
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$").startswith(
        "The $ ID is meaningless in the context of XREADGROUP")
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "+").startswith(
        "The + ID is meaningless in the context of XREADGROUP")
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s") == (
        "Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.")
    assert err(c, "XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">") == (
        "Missing GROUP option for XREADGROUP")
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s", ">") == "syntax error"
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "x") == (
        "Invalid stream ID specified as stream command argument")
    x(c, "SET", "str", "v")
    assert err(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">") == WRONGTYPE


def test_xreadgroup_noack_and_setid_reassignment(c: redis.Redis) -> None:
    for _ in range(4):
        x(c, "XADD", "ev", "*", "f1", "v1")
    x(c, "XGROUP", "CREATE", "ev", "g1", "$")
    x(c, "XADD", "ev", "*", "f1", "v1")
    assert len(x(c, "XREADGROUP", "GROUP", "g1", "c1", "STREAMS", "ev", ">")[0][1]) == 1
    x(c, "XGROUP", "SETID", "ev", "g1", "-")
    assert len(x(c, "XREADGROUP", "GROUP", "g1", "c2", "STREAMS", "ev", ">")[0][1]) == 5
    # The entry c1 had is now c2's: PELs follow the last delivery.
    assert [p[1] for p in x(c, "XPENDING", "ev", "g1", "-", "+", "10")] == [b"c2"] * 5
    assert x(c, "XREADGROUP", "GROUP", "g1", "c1", "STREAMS", "ev", "0") == [[b"ev", []]]
    x(c, "XADD", "ev", "*", "f", "v")
    assert len(x(c, "XREADGROUP", "GROUP", "g1", "c3", "NOACK", "STREAMS", "ev", ">")[0][1]) == 1
    assert len(x(c, "XPENDING", "ev", "g1", "-", "+", "10")) == 5
    assert x(c, "XINFO", "CONSUMERS", "ev", "g1")[2][1] == b"c3"


def test_xack(c: redis.Redis) -> None:
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    fill(c, "s", 3)
    x(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert err(c, "XACK", "s", "g", "1-0", "invalid-id") == (
        "Invalid stream ID specified as stream command argument")
    assert x(c, "XACK", "s", "g", "1-0") == 1
    assert x(c, "XACK", "s", "g", "1-0", "2-0", "9-0") == 1
    assert x(c, "XACK", "s", "nog", "bad") == 0  # no group: IDs are not parsed
    assert x(c, "XACK", "nokey", "g", "1") == 0
    x(c, "SET", "str", "v")
    assert err(c, "XACK", "str", "g", "1") == WRONGTYPE
    assert x(c, "XPENDING", "s", "g") == [1, b"3-0", b"3-0", [[b"c", b"1"]]]


def test_xpending(c: redis.Redis, kaa_proc: ServerProcess) -> None:
    fill(c, "s", 4)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    assert x(c, "XPENDING", "s", "g") == [0, None, None, None]
    assert raw(kaa_proc.port, "XPENDING", "s", "g") == b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    assert raw(kaa_proc.port, "XPENDING", "s", "g", resp3=True) == b"*4\r\n:0\r\n_\r\n_\r\n_\r\n"
    x(c, "XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">")
    x(c, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    assert x(c, "XPENDING", "s", "g") == [4, b"1-0", b"4-0", [[b"alice", b"2"], [b"bob", b"2"]]]
    ext = x(c, "XPENDING", "s", "g", "-", "+", "10")
    assert [(p[0], p[1], p[3]) for p in ext] == [
        (b"1-0", b"bob", 1), (b"2-0", b"bob", 1), (b"3-0", b"alice", 1), (b"4-0", b"alice", 1)]
    assert all(isinstance(p[2], int) and 0 <= p[2] < 5000 for p in ext)
    assert len(x(c, "XPENDING", "s", "g", "-", "+", "10", "alice")) == 2
    assert x(c, "XPENDING", "s", "g", "-", "+", "10", "nobody") == []
    assert [p[0] for p in x(c, "XPENDING", "s", "g", "(1-0", "(4-0", "10")] == [b"2-0", b"3-0"]
    assert len(x(c, "XPENDING", "s", "g", "-", "+", "1")) == 1
    assert x(c, "XPENDING", "s", "g", "-", "+", "-5") == []
    time.sleep(0.02)
    assert x(c, "XPENDING", "s", "g", "IDLE", "99999999", "-", "+", "10") == []
    assert len(x(c, "XPENDING", "s", "g", "IDLE", "1", "-", "+", "10", "bob")) == 2
    assert len(x(c, "XPENDING", "s", "g", "-", "+", "10", "bob", "ignored", "too")) == 2


def test_xpending_errors(c: redis.Redis) -> None:
    fill(c, "s", 1)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    assert err(c, "XPENDING", "s", "g", "-", "+") == "syntax error"
    assert err(c, "XPENDING", "s", "g", "IDLE", "10", "-", "+") == "syntax error"
    assert err(c, "XPENDING", "s", "g", "IDLE", "x", "-", "+", "10") == NOT_INT
    assert err(c, "XPENDING", "s", "g", "-", "+", "x") == NOT_INT
    assert err(c, "XPENDING", "s", "g", "x", "+", "10") == (
        "Invalid stream ID specified as stream command argument")
    assert err(c, "XPENDING", "s", "g", "(18446744073709551615-18446744073709551615", "+", "1") == (
        "invalid start ID for the interval")
    assert err(c, "XPENDING", "s", "nog") == "NOGROUP No such key 's' or consumer group 'nog'"
    assert err(c, "XPENDING", "nokey", "g") == "NOGROUP No such key 'nokey' or consumer group 'g'"
    x(c, "SET", "str", "v")
    assert err(c, "XPENDING", "str", "g") == WRONGTYPE


# ---- XCLAIM / XAUTOCLAIM -----------------------------------------------------------------------------
def test_xclaim(c: redis.Redis) -> None:
    fill(c, "s", 3)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    x(c, "XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", ">")
    time.sleep(0.05)
    assert x(c, "XCLAIM", "s", "g", "c2", "30", "1-0") == [[b"1-0", [b"f", b"1"]]]
    assert [(p[1], p[3]) for p in x(c, "XPENDING", "s", "g", "-", "+", "10")] == [(b"c2", 2)]
    # Too recently delivered for a 1 s minimum idle time.
    assert x(c, "XCLAIM", "s", "g", "c3", "1000", "1-0") == []
    assert x(c, "XCLAIM", "s", "g", "c3", "0", "1-0", "JUSTID") == [b"1-0"]
    assert x(c, "XPENDING", "s", "g", "-", "+", "10")[0][3] == 2  # JUSTID: count unchanged
    assert x(c, "XCLAIM", "s", "g", "c3", "0", "1-0", "RETRYCOUNT", "7", "IDLE", "5000", "JUSTID") == [b"1-0"]
    p = x(c, "XPENDING", "s", "g", "-", "+", "10")[0]
    assert p[3] == 7 and 5000 <= p[2] < 6000
    # Not pending: ignored unless FORCE (and only for existing entries).
    assert x(c, "XCLAIM", "s", "g", "c3", "0", "2-0") == []
    assert x(c, "XCLAIM", "s", "g", "c3", "0", "2-0", "9-0", "FORCE", "JUSTID") == [b"2-0"]
    # Deleted entries are dropped from the PEL.
    x(c, "XDEL", "s", "2-0")
    assert x(c, "XCLAIM", "s", "g", "c4", "0", "1-0", "2-0") == [[b"1-0", [b"f", b"1"]]]
    assert [q[0] for q in x(c, "XPENDING", "s", "g", "-", "+", "10")] == [b"1-0"]
    assert x(c, "XCLAIM", "s", "g", "c4", "0", "3-0", "LASTID", "3-0") == []
    assert groups_of(c, "s")[b"g"][b"last-delivered-id"] == b"3-0"
    assert x(c, "XINFO", "CONSUMERS", "s", "g")[-1][1] == b"c4"


def test_xclaim_time_and_errors(c: redis.Redis) -> None:
    fill(c, "s", 2)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    x(c, "XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">")
    past = int(time.time() * 1000) - 60000
    x(c, "XCLAIM", "s", "g", "c2", "0", "1-0", "TIME", str(past))
    assert x(c, "XPENDING", "s", "g", "-", "+", "1")[0][2] >= 60000
    x(c, "XCLAIM", "s", "g", "c2", "0", "1-0", "TIME", str(past + 10**9))  # future: now
    assert x(c, "XPENDING", "s", "g", "-", "+", "1")[0][2] < 1000
    assert err(c, "XCLAIM", "s", "g", "c", "x", "1-0") == "Invalid min-idle-time argument for XCLAIM"
    assert err(c, "XCLAIM", "s", "g", "c", "0", "1-0", "IDLE", "x") == "Invalid IDLE option argument for XCLAIM"
    assert err(c, "XCLAIM", "s", "g", "c", "0", "1-0", "TIME", "x") == "Invalid TIME option argument for XCLAIM"
    assert err(c, "XCLAIM", "s", "g", "c", "0", "1-0", "RETRYCOUNT", "x") == (
        "Invalid RETRYCOUNT option argument for XCLAIM")
    assert err(c, "XCLAIM", "s", "g", "c", "0", "1-0", "LASTID", "x") == (
        "Invalid stream ID specified as stream command argument")
    assert err(c, "XCLAIM", "s", "g", "c", "0", "1-0", "FOO") == "Unrecognized XCLAIM option 'FOO'"
    assert err(c, "XCLAIM", "s", "g", "c", "0", "-") == "Unrecognized XCLAIM option '-'"
    assert err(c, "XCLAIM", "s", "nog", "c", "0", "1-0") == "NOGROUP No such key 's' or consumer group 'nog'"
    assert err(c, "XCLAIM", "nokey", "g", "c", "x", "1") == "NOGROUP No such key 'nokey' or consumer group 'g'"
    x(c, "SET", "str", "v")
    assert err(c, "XCLAIM", "str", "g", "c", "0", "1") == WRONGTYPE
    # A failed option leaves no consumer behind.
    assert [cons[1] for cons in x(c, "XINFO", "CONSUMERS", "s", "g")] == [b"c1", b"c2"]


def test_xautoclaim(c: redis.Redis) -> None:
    fill(c, "s", 5)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    x(c, "XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">")
    rep = x(c, "XAUTOCLAIM", "s", "g", "c2", "0", "-", "COUNT", "2")
    assert rep == [b"3-0", [[b"1-0", [b"f", b"1"]], [b"2-0", [b"f", b"2"]]], []]
    rep = x(c, "XAUTOCLAIM", "s", "g", "c2", "0", rep[0], "COUNT", "2", "JUSTID")
    assert rep == [b"5-0", [b"3-0", b"4-0"], []]
    assert x(c, "XAUTOCLAIM", "s", "g", "c2", "0", "(4-0") == [b"0-0", [[b"5-0", [b"f", b"5"]]], []]
    assert x(c, "XAUTOCLAIM", "s", "g", "c3", "60000", "0") == [b"0-0", [], []]
    x(c, "XDEL", "s", "1-0", "2-0")
    assert x(c, "XAUTOCLAIM", "s", "g", "c3", "0", "0-0", "COUNT", "1") == [b"2-0", [], [b"1-0"]]
    assert x(c, "XAUTOCLAIM", "s", "g", "c3", "0", "2-0", "COUNT", "1") == [b"3-0", [], [b"2-0"]]
    assert x(c, "XPENDING", "s", "g")[0] == 3


def test_xautoclaim_errors(c: redis.Redis) -> None:
    fill(c, "s", 1)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    for bad in ("0", "x", "-1", "8070450532247928833"):
        assert err(c, "XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", bad) == "COUNT must be > 0"
    assert err(c, "XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO") == "syntax error"
    assert err(c, "XAUTOCLAIM", "s", "g", "c", "x", "0") == "Invalid min-idle-time argument for XAUTOCLAIM"
    assert err(c, "XAUTOCLAIM", "s", "g", "c", "0", "x") == (
        "Invalid stream ID specified as stream command argument")
    assert err(c, "XAUTOCLAIM", "s", "g", "c", "0", "(18446744073709551615-18446744073709551615") == (
        "invalid start ID for the interval")
    assert err(c, "XAUTOCLAIM", "s", "nog", "c", "0", "0") == "NOGROUP No such key 's' or consumer group 'nog'"
    assert err(c, "XAUTOCLAIM", "key", "group", "consumer", "1", "1", "COUNT", "0") == "COUNT must be > 0"


# ---- XINFO GROUPS / CONSUMERS / STREAM FULL ---------------------------------------------------------
def test_xinfo_groups_and_consumers(c: redis.Redis, c3: redis.Redis) -> None:
    fill(c, "s", 3)
    x(c, "XGROUP", "CREATE", "s", "zeta", "0")
    x(c, "XGROUP", "CREATE", "s", "alpha", "$")
    x(c, "XREADGROUP", "GROUP", "zeta", "bob", "COUNT", "1", "STREAMS", "s", ">")
    x(c, "XGROUP", "CREATECONSUMER", "s", "zeta", "al")
    groups = x(c, "XINFO", "GROUPS", "s")
    assert groups == [
        [b"name", b"alpha", b"consumers", 0, b"pending", 0, b"last-delivered-id", b"3-0",
         b"entries-read", None, b"lag", 0],
        [b"name", b"zeta", b"consumers", 2, b"pending", 1, b"last-delivered-id", b"1-0",
         b"entries-read", 1, b"lag", 2]]
    cons = [info_map(i) for i in x(c, "XINFO", "CONSUMERS", "s", "zeta")]
    assert [(i[b"name"], i[b"pending"], i[b"inactive"]) for i in cons][0] == (b"al", 0, -1)
    assert cons[1][b"name"] == b"bob" and 0 <= cons[1][b"inactive"] < 5000
    assert isinstance(x(c3, "XINFO", "GROUPS", "s")[0], dict)
    assert err(c, "XINFO", "CONSUMERS", "s", "nog") == "NOGROUP No such consumer group 'nog' for key name 's'"
    assert err(c, "XINFO", "CONSUMERS", "nokey", "g") == "no such key"
    x(c, "XADD", "e", "MAXLEN", "0", "*", "a", "b")
    assert x(c, "XINFO", "GROUPS", "e") == []


def test_xinfo_stream_full_with_groups(c: redis.Redis) -> None:
    for i in range(100, 105):
        x(c, "XADD", "x", str(i), "k", str(i))
    x(c, "XGROUP", "CREATE", "x", "g1", "0")
    x(c, "XGROUP", "CREATE", "x", "g2", "0")
    x(c, "XREADGROUP", "GROUP", "g1", "Alice", "COUNT", "1", "STREAMS", "x", ">")
    x(c, "XREADGROUP", "GROUP", "g1", "Bob", "COUNT", "1", "STREAMS", "x", ">")
    x(c, "XREADGROUP", "GROUP", "g1", "Bob", "NOACK", "COUNT", "1", "STREAMS", "x", ">")
    x(c, "XREADGROUP", "GROUP", "g2", "Charlie", "COUNT", "4", "STREAMS", "x", ">")
    x(c, "XDEL", "x", "103")
    full = info_map(x(c, "XINFO", "STREAM", "x", "FULL"))
    assert full[b"length"] == 4 and len(full[b"entries"]) == 4
    g1, g2 = (info_map(g) for g in full[b"groups"])
    assert list(g1) == [b"name", b"last-delivered-id", b"entries-read", b"lag", b"pel-count",
                        b"pending", b"consumers"]
    # A tombstone past the group's position makes the lag unknown.
    assert (g1[b"name"], g1[b"last-delivered-id"], g1[b"entries-read"], g1[b"lag"]) == (
        b"g1", b"102-0", 3, None)
    assert [(p[0], p[1], p[3]) for p in g1[b"pending"]] == [(b"100-0", b"Alice", 1), (b"101-0", b"Bob", 1)]
    alice, bob = (info_map(i) for i in g1[b"consumers"])
    assert list(alice) == [b"name", b"seen-time", b"active-time", b"pel-count", b"pending"]
    assert alice[b"pending"][0][0] == b"100-0" and bob[b"pel-count"] == 1
    assert alice[b"seen-time"] <= bob[b"seen-time"] <= int(time.time() * 1000)
    assert (g2[b"entries-read"], g2[b"lag"]) == (4, None)
    short = info_map(x(c, "XINFO", "STREAM", "x", "FULL", "COUNT", "1"))
    assert len(short[b"entries"]) == 1
    assert len(info_map(info_map(short)[b"groups"][1])[b"pending"]) == 1


def test_group_counters_and_lag(c: redis.Redis) -> None:
    x(c, "XGROUP", "CREATE", "x", "g1", "0", "MKSTREAM")
    g = groups_of(c, "x")[b"g1"]
    assert (g[b"entries-read"], g[b"lag"]) == (None, 0)
    x(c, "DEL", "x")
    fill(c, "x", 5)
    x(c, "XDEL", "x", "3-0")
    x(c, "XGROUP", "CREATE", "x", "g1", "0")
    x(c, "XGROUP", "CREATE", "x", "g2", "0")
    assert groups_of(c, "x")[b"g1"][b"lag"] is None
    for _ in range(3):
        x(c, "XREADGROUP", "GROUP", "g1", "c", "COUNT", "1", "STREAMS", "x", ">")
        assert groups_of(c, "x")[b"g1"][b"entries-read"] is None
    x(c, "XREADGROUP", "GROUP", "g1", "c", "COUNT", "1", "STREAMS", "x", ">")
    g = groups_of(c, "x")[b"g1"]
    assert (g[b"entries-read"], g[b"lag"]) == (5, 0)
    x(c, "XADD", "x", "6-0", "f", "6")
    x(c, "XTRIM", "x", "MINID", "=", "3-0")
    gs = groups_of(c, "x")
    assert (gs[b"g1"][b"lag"], gs[b"g2"][b"entries-read"], gs[b"g2"][b"lag"]) == (1, None, 3)


def test_delconsumer_and_setid_leave_group_state_as_valkey(c: redis.Redis) -> None:
    fill(c, "s", 4)
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    x(c, "XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
    x(c, "XREADGROUP", "GROUP", "g", "b", "COUNT", "1", "STREAMS", "s", ">")
    assert x(c, "XGROUP", "DELCONSUMER", "s", "g", "a") == 2
    # a's entries left the group PEL too; the group's position is untouched.
    assert x(c, "XPENDING", "s", "g") == [1, b"3-0", b"3-0", [[b"b", b"1"]]]
    g = groups_of(c, "s")[b"g"]
    assert (g[b"last-delivered-id"], g[b"entries-read"], g[b"consumers"]) == (b"3-0", 3, 1)
    assert x(c, "XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")[0][1] == [[b"4-0", [b"f", b"4"]]]
    # SETID back: entries are delivered again, and pending ones change owner.
    x(c, "XGROUP", "SETID", "s", "g", "0")
    assert groups_of(c, "s")[b"g"][b"entries-read"] is None
    assert len(x(c, "XREADGROUP", "GROUP", "g", "z", "STREAMS", "s", ">")[0][1]) == 4
    assert x(c, "XPENDING", "s", "g") == [4, b"1-0", b"4-0", [[b"z", b"4"]]]
    g = groups_of(c, "s")[b"g"]
    assert (g[b"entries-read"], g[b"lag"]) == (4, 0)


# ---- blocking XREADGROUP ------------------------------------------------------------------------------
def test_blocking_xreadgroup_several_clients_and_groups(c: redis.Redis, deferred: Any) -> None:
    x(c, "XGROUP", "CREATE", "s", "g1", "$", "MKSTREAM")
    x(c, "XGROUP", "CREATE", "s", "g2", "$")
    a1, a2, b1 = deferred(), deferred(resp3=True), deferred()
    # Block one at a time: the order they block in is the order they are served.
    a1.send("XREADGROUP", "GROUP", "g1", "a1", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(c, 1)
    a2.send("XREADGROUP", "GROUP", "g1", "a2", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(c, 2)
    b1.send("XREADGROUP", "GROUP", "g2", "b1", "BLOCK", "5000", "STREAMS", "s", ">")
    wait_blocked(c, 3)
    x(c, "XADD", "s", "1-0", "k", "v")
    # One entry per group: the first g1 reader gets it, g2's reader too; a2 waits on.
    assert a1.read() == [[b"s", [[b"1-0", [b"k", b"v"]]]]]
    assert b1.read() == [[b"s", [[b"1-0", [b"k", b"v"]]]]]
    assert a2.nothing_pending()
    assert blocked_clients(c) == 1
    x(c, "XADD", "s", "2-0", "k", "w")
    assert a2.read() == {b"s": [[b"2-0", [b"k", b"w"]]]}
    pend = x(c, "XPENDING", "s", "g1", "-", "+", "10")
    assert [(p[0], p[1]) for p in pend] == [(b"1-0", b"a1"), (b"2-0", b"a2")]


def test_blocking_xreadgroup_is_woken_with_errors(c: redis.Redis, deferred: Any) -> None:
    cases = [
        (("DEL", "s"), "NOGROUP"),
        (("XGROUP", "DESTROY", "s", "g"), "NOGROUP"),
        (("FLUSHALL",), "NOGROUP"),
        (("SET", "s", "v"), "WRONGTYPE"),
    ]
    for action, code in cases:
        x(c, "DEL", "s")
        x(c, "XADD", "s", "666", "f", "v")
        x(c, "XGROUP", "CREATE", "s", "g", "$")
        d = deferred()
        d.send("XREADGROUP", "GROUP", "g", "Alice", "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(c, 1)
        x(c, *action)
        reply = d.read()
        assert isinstance(reply, redis.ResponseError) or hasattr(reply, "args"), action
        assert str(reply).startswith(code), (action, reply)
        if code == "NOGROUP":
            assert str(reply) == NOGROUP_READ.format("s", "g")
    assert blocked_clients(c) == 0


def test_blocking_xreadgroup_rename_brings_data_or_error(c: redis.Redis, deferred: Any) -> None:
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    d = deferred()
    d.send("XREADGROUP", "GROUP", "g", "Alice", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(c, 1)
    x(c, "XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM")
    x(c, "XADD", "s2", "100", "f1", "v1")
    x(c, "RENAME", "s2", "s")
    assert d.read() == [[b"s", [[b"100-0", [b"f1", b"v1"]]]]]
    d.send("XREADGROUP", "GROUP", "g", "Alice", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(c, 1)
    x(c, "XADD", "s3", "100", "f1", "v1")
    x(c, "RENAME", "s3", "s")
    assert str(d.read()).startswith("NOGROUP")


def test_blocking_xreadgroup_keeps_its_deadline_when_rerun(c: redis.Redis, deferred: Any) -> None:
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    d1, d2 = deferred(), deferred()
    d1.send("XREADGROUP", "GROUP", "g", "u", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(c, 1)
    start = time.time()
    d2.send("XREADGROUP", "GROUP", "g", "u", "BLOCK", "400", "STREAMS", "s", ">")
    wait_blocked(c, 2)
    time.sleep(0.1)
    x(c, "XADD", "s", "*", "field", "value")
    assert d1.read()[0][1][0][1] == [b"field", b"value"]
    assert d2.read() is None
    assert 0.35 <= time.time() - start < 0.7


def test_blocking_xreadgroup_with_non_special_id_never_blocks(c: redis.Redis, deferred: Any) -> None:
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    x(c, "XADD", "s", "666", "k", "v")
    x(c, "XDEL", "s", "666")
    d = deferred()
    for i in ("0", "600", "666", "700"):
        d.send("XREADGROUP", "GROUP", "g", "me", "BLOCK", "0", "STREAMS", "s", i)
        assert d.read() == [[b"s", []]]
    d.send("XREADGROUP", "GROUP", "g", "me", "BLOCK", "10", "STREAMS", "s", ">")
    assert d.read() is None  # the tombstone is not delivered


def test_blocked_xreadgroup_counts_its_error_once(c: redis.Redis, deferred: Any) -> None:
    x(c, "CONFIG", "RESETSTAT")
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    d = deferred()
    d.send("XREADGROUP", "GROUP", "g", "Alice", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(c, 1)
    x(c, "XGROUP", "DESTROY", "s", "g")
    assert str(d.read()).startswith("NOGROUP")
    stats = x(c, "INFO", "commandstats").decode()
    line = next(ln for ln in stats.splitlines() if ln.startswith("cmdstat_xreadgroup:"))
    assert "calls=1," in line and line.endswith("rejected_calls=0,failed_calls=1")
    assert "errorstat_NOGROUP:count=1" in x(c, "INFO", "errorstats").decode()


# ---- propagation and keyspace events (in-process server) ------------------------------------------------
@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedServer, Tap]]:
    with tapped_server(enable_debug_command="yes") as et:
        yield et


@pytest.fixture()
def ec(embedded: tuple[EmbeddedServer, Tap]) -> Iterator[tuple[redis.Redis, Tap]]:
    e, tap = embedded
    cl = client(e.port)
    x(cl, "FLUSHALL")
    tap.clear()
    yield cl, tap
    cl.close()


def _masked(props: list[list[bytes]]) -> list[list[bytes]]:
    """Propagated argvs with XCLAIM's TIME value (the delivery time) masked."""
    out = []
    for p in props:
        if p[0] == b"XCLAIM" and len(p) > 7 and p[6] == b"TIME":
            p = p[:7] + [b"T"] + p[8:]
        out.append(p)
    return out


def test_propagation_of_adds_and_trims(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "XADD", "s", "NOMKSTREAM", "MAXLEN", "=", "5", "9-0", "a", "4")
    gen = x(c, "XADD", "s", "*", "a", "3")
    x(c, "CONFIG", "SET", "stream-node-max-entries", "2")
    for i in range(10, 20):
        x(c, "XADD", "t", f"{i}-0", "f", "v")
    tap.clear()
    x(c, "XADD", "t", "MAXLEN", "~", "5", "20-0", "f", "v")
    x(c, "XTRIM", "t", "MINID", "~", "15")  # the first node ends at 17: nothing goes
    x(c, "XTRIM", "t", "MINID", "~", "18")
    x(c, "XTRIM", "t", "MAXLEN", "100")  # nothing trimmed: nothing propagated
    x(c, "XDEL", "t", "18-0", "99-0")
    x(c, "XSETID", "t", "30-0")
    x(c, "CONFIG", "SET", "stream-node-max-entries", "100")
    assert tap.props == [
        [b"XADD", b"t", b"MAXLEN", b"=", b"5", b"20-0", b"f", b"v"],
        [b"XTRIM", b"t", b"MINID", b"=", b"18-0"],
        [b"XDEL", b"t", b"18-0", b"99-0"],
        [b"XSETID", b"t", b"30-0"],
    ]
    assert gen.startswith(b"1") and x(c, "XLEN", "t") == 2


def test_propagation_of_generated_ids(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "XADD", "s", "1-1", "a", "1")
    x(c, "XADD", "s", "1-*", "a", "2")
    gen = x(c, "XADD", "s", "*", "a", "3")
    assert tap.props == [[b"XADD", b"s", b"1-1", b"a", b"1"], [b"XADD", b"s", b"1-2", b"a", b"2"],
                         [b"XADD", b"s", gen, b"a", b"3"]]


def test_propagation_of_group_reads_and_claims(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    for i in (1, 2, 3):
        x(c, "XADD", "s", f"{i}-1", "a", str(i))
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    tap.clear()
    x(c, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    x(c, "XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">")
    x(c, "XREADGROUP", "GROUP", "g", "carol", "NOACK", "STREAMS", "s", ">")
    x(c, "XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")  # history: nothing
    x(c, "XCLAIM", "s", "g", "dave", "0", "1-1", "2-1", "9-9", "JUSTID")
    x(c, "XDEL", "s", "2-1")
    x(c, "XAUTOCLAIM", "s", "g", "erin", "0", "0")
    x(c, "XCLAIM", "s", "g", "erin", "0", "7-7", "LASTID", "8-8")
    x(c, "XGROUP", "CREATECONSUMER", "s", "g", "zed")
    x(c, "XACK", "s", "g", "1-1")
    x(c, "XGROUP", "DELCONSUMER", "s", "g", "zed")

    def xclaim(who: bytes, i: bytes, count: bytes, last: bytes) -> list[bytes]:
        return [b"XCLAIM", b"s", b"g", who, b"0", i, b"TIME", b"T", b"RETRYCOUNT", count, b"FORCE",
                b"JUSTID", b"LASTID", last]

    assert _masked(tap.props) == [
        [b"MULTI"], xclaim(b"alice", b"1-1", b"1", b"1-1"), xclaim(b"alice", b"2-1", b"1", b"2-1"),
        [b"XGROUP", b"SETID", b"s", b"g", b"2-1", b"ENTRIESREAD", b"2"], [b"EXEC"],
        [b"MULTI"], [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"bob"],
        [b"XGROUP", b"SETID", b"s", b"g", b"3-1", b"ENTRIESREAD", b"3"], [b"EXEC"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"carol"],
        [b"MULTI"], xclaim(b"dave", b"1-1", b"2", b"3-1"), xclaim(b"dave", b"2-1", b"2", b"3-1"), [b"EXEC"],
        [b"XDEL", b"s", b"2-1"],
        [b"MULTI"], xclaim(b"erin", b"1-1", b"3", b"3-1"), xclaim(b"dave", b"2-1", b"2", b"3-1"), [b"EXEC"],
        [b"XGROUP", b"SETID", b"s", b"g", b"8-8", b"ENTRIESREAD", b"3"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"zed"],
        [b"XACK", b"s", b"g", b"1-1"],
        [b"XGROUP", b"DELCONSUMER", b"s", b"g", b"zed"],
    ]
    # The propagated XCLAIM carries the real delivery time.
    t = int(tap.props[1][7])
    assert abs(t - time.time() * 1000) < 60000


def test_propagation_inside_multi_is_one_transaction(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "XADD", "s", "1-0", "a", "1")
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    tap.clear()
    x(c, "MULTI")
    x(c, "XADD", "s", "2-0", "a", "2")
    x(c, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    x(c, "EXEC")
    heads = [p[0] for p in tap.props]
    assert heads == [b"MULTI", b"XADD", b"XCLAIM", b"XCLAIM", b"XGROUP", b"EXEC"]


def test_blocked_xreadgroup_propagates_when_served(ec: tuple[redis.Redis, Tap],
                                                   embedded: tuple[EmbeddedServer, Tap]) -> None:
    c, tap = ec
    x(c, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    d = Deferred(embedded[0].port)
    try:
        d.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(c, 1)
        tap.clear()
        x(c, "XADD", "s", "1-0", "a", "1")
        assert d.read()[0][1] == [[b"1-0", [b"a", b"1"]]]
    finally:
        d.close()
    assert [p[:2] for p in tap.props] == [
        [b"XADD", b"s"], [b"MULTI"], [b"XCLAIM", b"s"], [b"XGROUP", b"SETID"], [b"EXEC"]]


def test_keyspace_events(ec: tuple[redis.Redis, Tap]) -> None:
    c, tap = ec
    x(c, "XADD", "s", "1-0", "a", "1")
    x(c, "XADD", "s", "MAXLEN", "1", "2-0", "a", "2")
    x(c, "XDEL", "s", "2-0", "7-0")
    x(c, "XDEL", "s", "7-0")
    x(c, "XADD", "s", "3-0", "a", "3")
    x(c, "XTRIM", "s", "MAXLEN", "0")
    x(c, "XSETID", "s", "9-0")
    x(c, "XGROUP", "CREATE", "s", "g", "0")
    x(c, "XGROUP", "CREATE", "n", "g", "0", "MKSTREAM")
    x(c, "XGROUP", "CREATECONSUMER", "s", "g", "c")
    x(c, "XGROUP", "SETID", "s", "g", "0")
    x(c, "XADD", "s", "10-0", "a", "1")
    x(c, "XREADGROUP", "GROUP", "g", "r", "STREAMS", "s", ">")
    x(c, "XCLAIM", "s", "g", "k", "0", "10-0")
    x(c, "XAUTOCLAIM", "s", "g", "m", "0", "0")
    x(c, "XGROUP", "DELCONSUMER", "s", "g", "c")
    x(c, "XGROUP", "DESTROY", "s", "g")
    ev = [e for e in tap.events if e[0] != "new"]
    assert ev == [
        ("xadd", b"s"), ("xadd", b"s"), ("xtrim", b"s"), ("xdel", b"s"), ("xadd", b"s"),
        ("xtrim", b"s"), ("xsetid", b"s"), ("xgroup-create", b"s"), ("xgroup-create", b"n"),
        ("xgroup-createconsumer", b"s"), ("xgroup-setid", b"s"), ("xadd", b"s"),
        ("xgroup-createconsumer", b"s"), ("xgroup-createconsumer", b"s"),
        ("xgroup-createconsumer", b"s"), ("xgroup-delconsumer", b"s"), ("xgroup-destroy", b"s"),
    ]
