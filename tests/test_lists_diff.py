"""Differential tests for the list commands: hypothesis generates sequences of list commands
over a few keys (one of them holding a string, for WRONGTYPE paths), each sequence runs
on kaa (`r`) and on the redis-server oracle (`oracle`) from an empty keyspace, and every
reply (or error text) must be identical, as must the lists left behind.

Arguments favour the edges: indexes around the list bounds and the 64-bit limits,
non-numbers, LPOS options in every order, LMPOP with bad numkeys/COUNT, and elements that
look like integers (listpack encodes those differently). Blocking commands use a tiny
timeout so that an empty source only costs milliseconds. OBJECT ENCODING is not compared:
Redis 7.0 has no listpack-encoded lists (see tests/known_differences.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.known_differences import KNOWN_DIFFERENCES
from tests.support.servers import ServerProcess

from kaa.embedded import EmbeddedServer

LIST_KEYS = ["l1", "l2", "l3"]
KEYS = st.sampled_from(LIST_KEYS + ["str"])
ELEMS = st.sampled_from(["a", "b", "c", "", "0", "1", "-1", "12", "127", "128", "-4096",
                         "9223372036854775807", "9223372036854775808", "007", "x" * 70]) | st.binary(
    max_size=3)
INDEXES = st.sampled_from(["0", "1", "2", "-1", "-2", "-3", "5", "-6", "100", "-100",
                           "9223372036854775807", "-9223372036854775808", "x", "1.5", ""]) | st.integers(
    -8, 8).map(str)
# Not LLONG_MIN: see KNOWN_DIFFERENCES["lrem-lpos-llong-min"].
COUNTS = st.sampled_from(["0", "1", "2", "3", "10", "-1", "-2", "x", "9223372036854775807",
                          "-9223372036854775807"])
SIDES = st.sampled_from(["LEFT", "RIGHT", "left", "Right", "up"])
# Not a timeout that overflows the deadline: see KNOWN_DIFFERENCES["blocking-timeout-overflow"].
TIMEOUT = st.sampled_from(["0.01", "-1", "x", "nan", "-inf", "1e5000"])


def _lpos_options() -> st.SearchStrategy[list[str]]:
    opt = st.tuples(st.sampled_from(["RANK", "COUNT", "MAXLEN", "rank", "BAD"]), COUNTS).map(list)
    dangling = st.sampled_from([[], [], ["COUNT"]])
    return st.tuples(st.lists(opt, max_size=3), dangling).map(
        lambda t: [a for p in t[0] for a in p] + t[1])


def _mpop_tail() -> st.SearchStrategy[list[str]]:
    count = st.sampled_from([[], [], ["COUNT", "1"], ["COUNT", "3"], ["count", "10"], ["COUNT", "0"],
                             ["COUNT", "-1"], ["COUNT"], ["COUNT", "1", "COUNT", "2"], ["junk"]])
    return st.tuples(SIDES, count).map(lambda t: [t[0], *t[1]])


def _mpop(name: str, prefix: list[str]) -> st.SearchStrategy[list[Any]]:
    keys = st.lists(KEYS, min_size=1, max_size=3)
    numkeys = st.sampled_from([None, None, None, "0", "5", "x"])

    def build(t: tuple[list[str], str | None, list[str]]) -> list[Any]:
        ks, nk, tail = t
        return [name, *prefix, nk if nk is not None else str(len(ks)), *ks, *tail]

    return st.tuples(keys, numkeys, _mpop_tail()).map(build)


COMMANDS: st.SearchStrategy[list[Any]] = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), KEYS,
              st.lists(ELEMS, min_size=1, max_size=4)).map(lambda t: [t[0], t[1], *t[2]]),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), KEYS).map(list),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), KEYS, COUNTS).map(list),
    st.tuples(st.just("LLEN"), KEYS).map(list),
    st.tuples(st.just("LRANGE"), KEYS, INDEXES, INDEXES).map(list),
    st.tuples(st.just("LINDEX"), KEYS, INDEXES).map(list),
    st.tuples(st.just("LSET"), KEYS, INDEXES, ELEMS).map(list),
    st.tuples(st.just("LINSERT"), KEYS, st.sampled_from(["BEFORE", "after", "middle"]), ELEMS,
              ELEMS).map(list),
    st.tuples(st.just("LREM"), KEYS, COUNTS, ELEMS).map(list),
    st.tuples(st.just("LTRIM"), KEYS, INDEXES, INDEXES).map(list),
    st.tuples(st.just("LPOS"), KEYS, ELEMS, _lpos_options()).map(lambda t: [t[0], t[1], t[2], *t[3]]),
    st.tuples(st.just("LMOVE"), KEYS, KEYS, SIDES, SIDES).map(list),
    st.tuples(st.just("RPOPLPUSH"), KEYS, KEYS).map(list),
    _mpop("LMPOP", []),
    st.tuples(st.sampled_from(["BLPOP", "BRPOP"]), st.lists(KEYS, min_size=1, max_size=2),
              TIMEOUT).map(lambda t: [t[0], *t[1], t[2]]),
    st.tuples(st.just("BLMOVE"), KEYS, KEYS, SIDES, SIDES, TIMEOUT).map(list),
    st.tuples(st.just("BRPOPLPUSH"), KEYS, KEYS, TIMEOUT).map(list),
    TIMEOUT.flatmap(lambda t: _mpop("BLMPOP", [t])),
)


def run(client: redis.Redis, cmds: list[list[Any]]) -> list[Any]:
    out: list[Any] = []
    for cmd in cmds:
        try:
            out.append(client.execute_command(*cmd))
        except redis.ResponseError as e:
            out.append(("error", str(e)))
    for key in LIST_KEYS:
        out.append(("final", key, client.execute_command("LRANGE", key, "0", "-1")))
    return out


@pytest.fixture()
def pair(r: redis.Redis, oracle: redis.Redis) -> tuple[redis.Redis, redis.Redis]:
    r.response_callbacks.clear()
    oracle.response_callbacks.clear()
    return r, oracle


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmds=st.lists(COMMANDS, min_size=1, max_size=12))
def test_list_command_sequences(pair: tuple[redis.Redis, redis.Redis], cmds: list[list[Any]]) -> None:
    kaa, oracle = pair
    for c in (kaa, oracle):
        c.execute_command("FLUSHALL")
        c.execute_command("SET", "str", "not a list")
    assert run(kaa, cmds) == run(oracle, cmds)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmds=st.lists(COMMANDS, min_size=1, max_size=6))
def test_list_commands_inside_multi(pair: tuple[redis.Redis, redis.Redis], cmds: list[list[Any]]) -> None:
    """In a transaction blocking commands never block: replies must match too."""
    kaa, oracle = pair
    if not kaa.execute_command("COMMAND", "INFO", "multi")[0]:
        pytest.skip("MULTI is not available in this build")
    results = []
    for c in (kaa, oracle):
        c.execute_command("FLUSHALL")
        c.execute_command("RPUSH", "l1", "a", "b", "c")
        p = c.pipeline(transaction=True)
        for cmd in cmds:
            p.execute_command(*cmd)
        try:
            res: Any = p.execute(raise_on_error=False)
        except redis.ResponseError as e:
            res = ("error", str(e))
        res = [("error", str(v)) if isinstance(v, Exception) else v for v in res] \
            if isinstance(res, list) else res
        results.append((res, [c.execute_command("LRANGE", k, "0", "-1") for k in LIST_KEYS]))
    assert results[0] == results[1]


def test_known_differences_recorded() -> None:
    assert "list-encoding-listpack" in KNOWN_DIFFERENCES
    assert "blocking-timeout-overflow" in KNOWN_DIFFERENCES
    assert "lrem-lpos-llong-min" in KNOWN_DIFFERENCES


# ---- quicklist layout against a real Valkey (opt-in) -------------------------------------------
# OBJECT ENCODING and the node layout (DEBUG OBJECT's ql_nodes / ql_uncompressed_size)
# depend on quicklist.c's exact rules. Redis 7.0 cannot check them, so this test runs only
# when KAA_VALKEY_SERVER names a valkey-server binary; Kaa's side is read in-process.
VALKEY_SERVER = os.environ.get("KAA_VALKEY_SERVER", "")

SIZED = st.sampled_from(["a", "bb", "12", "-5", "300", "70000", "x" * 40, "y" * 200, "z" * 1000,
                         "w" * 3000, "v" * 4090, "u" * 5000, "t" * 9000]) | st.integers(0, 9000).map(
    lambda n: "r" * n)
LAYOUT_COMMANDS: st.SearchStrategy[list[Any]] = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH"]), st.lists(SIZED, min_size=1, max_size=5)).map(
        lambda t: [t[0], "q", *t[1]]),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), st.sampled_from(["1", "2", "5"])).map(
        lambda t: [t[0], "q", t[1]]),
    st.tuples(st.just("LSET"), st.integers(-6, 6).map(str), SIZED).map(lambda t: [t[0], "q", *t[1:]]),
    st.tuples(st.just("LINSERT"), st.sampled_from(["BEFORE", "AFTER"]), SIZED, SIZED).map(
        lambda t: [t[0], "q", *t[1:]]),
    st.tuples(st.just("LREM"), st.sampled_from(["0", "1", "-1", "2"]), SIZED).map(
        lambda t: [t[0], "q", *t[1:]]),
    st.tuples(st.just("LTRIM"), st.integers(-4, 4).map(str), st.integers(-4, 8).map(str)).map(
        lambda t: [t[0], "q", *t[1:]]),
    st.tuples(st.just("LMOVE"), st.sampled_from(["q", "p"]), st.sampled_from(["q", "p"]),
              st.sampled_from(["LEFT", "RIGHT"]), st.sampled_from(["LEFT", "RIGHT"])).map(list),
    st.sampled_from([["SORT", "q", "BY", "nosort", "STORE", "p"], ["SORT", "q", "ALPHA", "STORE", "p"]]),
)


@pytest.fixture(scope="module")
def valkey_and_kaa() -> Iterator[tuple[redis.Redis, redis.Redis, Any]]:
    if not VALKEY_SERVER or not os.path.exists(VALKEY_SERVER):
        pytest.skip("set KAA_VALKEY_SERVER to a valkey-server binary to compare quicklist layouts")
    vk = ServerProcess([VALKEY_SERVER], ["--save", "", "--appendonly", "no",
                                         "--enable-debug-command", "yes"])
    with EmbeddedServer() as e:
        a = redis.Redis(port=vk.port, socket_timeout=10)
        b = redis.Redis(port=e.port, socket_timeout=10)
        for c in (a, b):
            c.response_callbacks.clear()
        yield a, b, e.server
        a.close()
        b.close()
    vk.stop()


def _valkey_layout(c: redis.Redis, key: str) -> tuple[str, int, int] | None:
    if not c.execute_command("EXISTS", key):
        return None
    line = c.execute_command("DEBUG", "OBJECT", key).decode()
    fields = dict(p.split(":", 1) for p in line.split() if ":" in p)
    if fields["encoding"] != "quicklist":
        return fields["encoding"], 0, 0
    return "quicklist", int(fields["ql_nodes"]), int(fields["ql_uncompressed_size"])


def _kaa_layout(srv: Any, key: str) -> tuple[str, int, int] | None:
    v = srv.keyspace.dbs[0].data.get(key.encode())
    if v is None:
        return None
    if v.encoding() != "quicklist":
        return v.encoding(), 0, 0
    return "quicklist", v.node_count(), v.ql_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fill=st.sampled_from(["-1", "-2", "-3", "1", "2", "3", "4", "5", "16", "0"]),
       cmds=st.lists(LAYOUT_COMMANDS, min_size=1, max_size=25))
def test_quicklist_layout_matches_valkey(valkey_and_kaa: tuple[redis.Redis, redis.Redis, Any],
                                         fill: str, cmds: list[list[Any]]) -> None:
    vk, kaa, srv = valkey_and_kaa
    for c in (vk, kaa):
        c.execute_command("FLUSHALL")
        c.execute_command("CONFIG", "SET", "list-max-listpack-size", fill)
    for cmd in cmds:
        replies = []
        for c in (vk, kaa):
            try:
                replies.append(c.execute_command(*cmd))
            except redis.ResponseError as e:
                replies.append(str(e))
        assert replies[0] == replies[1], cmd
        for key in ("q", "p"):
            assert _valkey_layout(vk, key) == _kaa_layout(srv, key), (cmd, key)
