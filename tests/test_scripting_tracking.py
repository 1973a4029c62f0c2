"""Client-side caching and scripts: the keys the commands of a script read are tracked
for the client that ran the script (Valkey's call(): trackingRememberKeys for
server.current_client), never the script's KEYS as such."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import ServerProcess
from tests.test_pubsub import RawConn, raw_conns

GET_KEY1 = "return redis.call('get', KEYS[1])"


@pytest.fixture(name="raw")
def raw_fixture(kaa_proc: ServerProcess, r: redis.Redis) -> Iterator[Callable[..., RawConn]]:
    r.function_flush()
    yield from raw_conns(kaa_proc.port)


def tracking_client(raw: Callable[..., RawConn], *opts: str) -> RawConn:
    c = raw(3)
    assert c.call("CLIENT", "TRACKING", "on", *opts) == "OK"
    return c


def test_eval_read_is_tracked(raw: Any, r: redis.Redis) -> None:
    c = tracking_client(raw)
    r.set("k", "v")
    assert c.call("EVAL", GET_KEY1, 1, "k") == b"v"
    r.set("k", "w")
    assert c.read() == ("push", b"invalidate", [b"k"])
    # Invalidated once: the key is forgotten until it is read again.
    r.set("k", "x")
    assert c.call("PING") == "PONG"


def test_evalsha_and_eval_ro_reads_are_tracked(raw: Any, r: redis.Redis) -> None:
    c = tracking_client(raw)
    sha = r.script_load(GET_KEY1)
    r.set("a", 1)
    assert c.call("EVALSHA", sha, 1, "a") == b"1"
    r.set("a", 2)
    assert c.read() == ("push", b"invalidate", [b"a"])
    assert c.call("EVAL_RO", GET_KEY1, 1, "a") == b"2"
    r.set("a", 3)
    assert c.read() == ("push", b"invalidate", [b"a"])


def test_only_keys_read_by_commands_are_tracked(raw: Any, r: redis.Redis) -> None:
    """A script that only writes tracks nothing; one that reads a key it was not given
    tracks that key, not its KEYS."""
    c = tracking_client(raw)
    assert c.call("EVAL", "return redis.call('set', 'w', 1)", 2, "k1", "k2") == "OK"
    r.mset({"k1": 2, "k2": 2, "w": 2})
    assert c.call("PING") == "PONG"  # no invalidation came before the reply
    assert c.call("EVAL", "return redis.call('get', 'other')", 1, "k1") is None
    r.mset({"k1": 3, "other": 3})
    assert c.read() == ("push", b"invalidate", [b"other"])
    assert c.call("PING") == "PONG"


def test_eval_ro_without_reads_tracks_nothing(raw: Any, r: redis.Redis) -> None:
    c = tracking_client(raw)
    assert c.call("EVAL_RO", "return redis.call('ping')", 1, "k") == "PONG"
    r.set("k", 1)
    assert c.call("PING") == "PONG"


def test_fcall_read_is_tracked(raw: Any, r: redis.Redis) -> None:
    r.function_load("#!lua name=t\nredis.register_function{function_name='rd', "
                    "callback=function(keys) return redis.call('get', keys[1]) end, "
                    "flags={'no-writes'}}")
    c = tracking_client(raw)
    r.set("f", "1")
    assert c.call("FCALL", "rd", 1, "f") == b"1"
    r.set("f", "2")
    assert c.read() == ("push", b"invalidate", [b"f"])
    assert c.call("FCALL_RO", "rd", 1, "f") == b"2"
    r.set("f", "3")
    assert c.read() == ("push", b"invalidate", [b"f"])


def test_optin_script_reads_need_caching_yes(raw: Any, r: redis.Redis) -> None:
    c = tracking_client(raw, "OPTIN")
    r.set("o", 1)
    assert c.call("EVAL", GET_KEY1, 1, "o") == b"1"
    r.set("o", 2)
    assert c.call("PING") == "PONG"  # not tracked without CLIENT CACHING yes
    assert c.call("CLIENT", "CACHING", "yes") == "OK"
    assert c.call("EVAL", GET_KEY1, 1, "o") == b"2"
    r.set("o", 3)
    assert c.read() == ("push", b"invalidate", [b"o"])


def test_noloop_script_write_does_not_invalidate_self(raw: Any, r: redis.Redis) -> None:
    c = tracking_client(raw, "NOLOOP")
    r.set("n", 1)
    assert c.call("EVAL", "local v = redis.call('get', KEYS[1]) redis.call('set', KEYS[1], 5) "
                          "return v", 1, "n") == b"1"
    assert c.call("PING") == "PONG"  # its own write: no message
    r.set("n", 6)  # the write of the script invalidated the key already
    assert c.call("PING") == "PONG"


def test_resp2_redirect_gets_script_read_invalidation(raw: Any, r: redis.Redis) -> None:
    t = raw()
    cid = t.call("CLIENT", "ID")
    t.send("SUBSCRIBE", "__redis__:invalidate")
    assert t.read() == [b"subscribe", b"__redis__:invalidate", 1]
    c = raw()
    assert c.call("CLIENT", "TRACKING", "on", "REDIRECT", cid) == "OK"
    r.set("rk", 1)
    assert c.call("EVAL", GET_KEY1, 1, "rk") == b"1"
    r.set("rk", 2)
    assert t.read() == [b"message", b"__redis__:invalidate", [b"rk"]]


def test_bcast_is_unaffected_by_script_reads(raw: Any, r: redis.Redis) -> None:
    c = tracking_client(raw, "BCAST", "PREFIX", "b:")
    r.set("x", 1)
    assert c.call("EVAL", GET_KEY1, 1, "x") == b"1"
    r.set("x", 2)  # not under the prefix, and BCAST remembers no reads
    assert c.call("PING") == "PONG"
    r.set("b:1", 1)
    assert c.read() == ("push", b"invalidate", [b"b:1"])
