"""What the fast paths of EVAL/EVALSHA and server.call must keep exactly as Valkey has it:
the replies that come back from Lua without a tuple (bulk strings, integers), the
statistics of the commands a script runs (dispatched without Client.call), MONITOR and
REPL_NONE (through Client.call), fresh KEYS/ARGV on every call, and the Lua heap
staying small over many calls (the collector is stepped only when the heap grew)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import ServerProcess
from tests.test_pubsub import RawConn, raw_conns


@pytest.fixture(name="raw")
def raw_fixture(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[Callable[..., RawConn]]:
    yield from raw_conns(kaa_proc.port)


@pytest.mark.parametrize("expr, expected", [
    ("2^53 - 1", 9007199254740991),
    ("2^53", 9007199254740992),
    ("2^53 + 2", 9007199254740994),       # beyond 2^53: the formatting path
    ("-(2^53)", -9007199254740992),
    ("-(2^53) - 2", -9007199254740994),
    ("-0.0", 0),
    ("1.5", 1),
    ("-1.5", -1),
    ("2^63", -9223372036854775808),        # (long long) cast of an out-of-range double
    ("-(2^63)", -9223372036854775808),
    ("1/0", -9223372036854775808),
    ("0", 0),
])
def test_number_replies(r2: redis.Redis, r3: redis.Redis, expr: str, expected: int) -> None:
    assert r2.eval(f"return {expr}", 0) == expected
    assert r3.eval(f"return {expr}", 0) == expected
    sha = r2.script_load(f"return {expr}")
    assert r2.evalsha(sha, 0) == expected


def test_string_and_other_replies_both_protocols(raw: Any) -> None:
    for resp in (2, 3):
        c = raw(resp)
        assert c.call("EVAL", "return KEYS[1] .. ARGV[1]", 1, "a", "b") == b"ab"
        assert c.call("EVAL", "return ''", 0) == b""
        assert c.call("EVAL", "return {1, 'x'}", 0) == [1, b"x"]
        assert c.call("EVAL", "return redis.call('incrby', KEYS[1], 5)", 1, "n") == 5 * (resp - 1)


def test_keys_and_argv_are_fresh_on_every_call(r2: redis.Redis) -> None:
    dirty = ("KEYS[#KEYS + 1] = 'x'; ARGV.extra = 1; setmetatable(KEYS, {__index = "
             "function() return 'meta' end}); return #KEYS")
    assert r2.eval(dirty, 1, "a", "b") == 2
    look = "return {#KEYS, #ARGV, tostring(KEYS[2]), tostring(ARGV.extra), tostring(KEYS[9])}"
    assert r2.eval(look, 1, "a", "b") == [1, 1, b"nil", b"nil", b"nil"]
    sha = r2.script_load(dirty)
    assert r2.evalsha(sha, 2, "a", "b") == 3
    assert r2.eval(look, 0) == [0, 0, b"nil", b"nil", b"nil"]


def test_numkeys_forms(r2: redis.Redis) -> None:
    """The common numkeys skip the general parse; every form still means the same."""
    script = "return {#KEYS, #ARGV}"
    assert r2.eval(script, 0) == [0, 0]
    assert r2.eval(script, 3, "a", "b", "c") == [3, 0]
    assert r2.eval(script, 12, *"abcdefghijkl") == [12, 0]
    for bad in ("03", "+1", " 1", "1x", ""):  # string2ll: no sign, spaces or leading zeros
        with pytest.raises(redis.ResponseError, match="value is not an integer"):
            r2.execute_command("EVAL", script, bad, "a")
    with pytest.raises(redis.ResponseError, match="Number of keys can't be greater"):
        r2.eval(script, 2, "a")
    with pytest.raises(redis.ResponseError, match="Number of keys can't be negative"):
        r2.eval(script, -1)


def test_evalsha_letter_case(r2: redis.Redis) -> None:
    sha = r2.script_load("return 'up'")
    assert r2.evalsha(sha.upper(), 0) == b"up"
    assert r2.evalsha(sha.lower(), 0) == b"up"


def test_stats_of_commands_run_by_scripts(r: redis.Redis) -> None:
    """Checked against Valkey 8.0.1: every command a script runs counts in
    commandstats, latencystats and the caller's tot-cmds; a failed one in failed_calls
    and once in errorstats."""
    r.config_resetstat()
    r.set("s", "str")
    assert r.eval("redis.call('incr', KEYS[1]) return redis.call('incr', KEYS[1])", 1, "n") == 2
    assert r.eval("local e = redis.pcall('incr', KEYS[1]) return e.err", 1, "s") == \
        b"ERR value is not an integer or out of range"
    st = r.info("commandstats")
    assert st["cmdstat_incr"]["calls"] == 3
    assert st["cmdstat_incr"]["failed_calls"] == 1
    assert st["cmdstat_incr"]["rejected_calls"] == 0
    assert st["cmdstat_eval"]["calls"] == 2
    assert st["cmdstat_eval"]["failed_calls"] == 0
    assert r.info("errorstats") == {"errorstat_ERR": {"count": 1}}
    assert "latency_percentiles_usec_incr" in r.info("latencystats")
    before = _tot_cmds(r)  # CLIENT INFO counts itself
    assert r.eval("redis.call('get', 'a') redis.call('get', 'b') return 1", 0) == 1
    assert _tot_cmds(r) == before + 4  # the EVAL, its two GETs, the CLIENT INFO


def _tot_cmds(r: redis.Redis) -> int:
    info = r.execute_command("CLIENT", "INFO").decode()
    return int(dict(f.split("=", 1) for f in info.split())["tot-cmds"])


def test_monitor_and_repl_none_see_the_same_results(raw: Any, r: redis.Redis) -> None:
    m = raw()
    assert m.call("MONITOR") == "OK"
    script = "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])"
    assert r.eval(script, 1, "mk") == b"v"
    lines = [m.read() for _ in range(3)]
    assert '"EVAL"' in lines[0]
    assert lines[1].endswith('[0 lua] "set" "mk" "v"')
    assert lines[2].endswith('[0 lua] "get" "mk"')
    assert r.eval("redis.set_repl(redis.REPL_NONE) return redis.call('incr', KEYS[1])",
                  1, "mn") == 1
    assert m.read().endswith('"1" "mn"')
    assert m.read().endswith('[0 lua] "incr" "mn"')
