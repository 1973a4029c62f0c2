"""COMMAND and its subcommands, generated from the registry's declarations."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.support.servers import ServerProcess

from kaa.commands import load_all
from kaa.commands.registry import COMMANDS, Command, KeySpec
from kaa.commands.server_cmds import keys_with_flags
from kaa.protocol.reply_reader import (
    Array,
    Bulk,
    Error,
    Integer,
    Map,
    Null,
    Reply,
    ReplyReader,
    SimpleString,
)
from kaa.protocol.reply_reader import Set as RSet


class RawClient:
    """Sends commands and returns replies untouched by redis-py's reshaping (RESP2 shapes:
    maps and sets come back as flat lists), using Kaa's own reply reader."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = ReplyReader()

    def execute_command(self, *args: str | bytes | int) -> Any:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))
        while (reply := self.reader.get_reply()) is None:
            self.reader.feed(self.sock.recv(1 << 20))
        return _plain(reply)

    def close(self) -> None:
        self.sock.close()


def _plain(x: Reply) -> Any:
    if isinstance(x, (SimpleString, Bulk)):
        return x.value
    if isinstance(x, Integer):
        return x.value
    if isinstance(x, Null):
        return None
    if isinstance(x, (Array, RSet)):
        return [_plain(i) for i in x.items]
    if isinstance(x, Map):
        return [_plain(v) for kv in x.pairs for v in kv]
    if isinstance(x, Error):
        msg = x.value.decode()
        raise redis.ResponseError(msg[4:] if msg.startswith("ERR ") else msg)
    raise AssertionError(f"unexpected reply {x!r}")


@pytest.fixture()
def rr(kaa_proc: ServerProcess) -> Iterator[RawClient]:
    c = RawClient(kaa_proc.port)
    yield c
    c.close()


def exchange(port: int, payload: bytes, wait: float = 0.2) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        time.sleep(wait)
        s.settimeout(0.3)
        data = b""
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data


def test_command_count_matches_command(rr: RawClient) -> None:
    n = rr.execute_command("COMMAND", "COUNT")
    everything = rr.execute_command("COMMAND")
    assert n == len(everything) > 20
    names = {e[0] for e in everything}
    assert {b"get", b"set", b"config", b"client", b"command", b"info"} <= names


def test_command_info_shape(rr: RawClient) -> None:
    (entry,) = rr.execute_command("COMMAND", "INFO", "get")
    name, arity, flags, first, last, step, cats, tips, specs, subs = entry
    assert (name, arity, first, last, step) == (b"get", 2, 1, 1, 1)
    assert flags == [b"readonly", b"fast"]
    assert cats == [b"@read", b"@string", b"@fast"]
    assert tips == [] and subs == []
    spec = dict(zip(specs[0][::2], specs[0][1::2], strict=True))
    assert spec[b"begin_search"] == [b"type", b"index", b"spec", [b"index", 1]]
    assert spec[b"find_keys"] == [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]]


def test_command_info_container_and_subcommands(rr: RawClient) -> None:
    (entry,) = rr.execute_command("COMMAND", "INFO", "config")
    assert entry[:8] == [b"config", -2, [], 0, 0, 0, [b"@slow"], []]
    subs = {s[0]: s for s in entry[9]}
    assert set(subs) >= {b"config|get", b"config|set", b"config|resetstat", b"config|rewrite", b"config|help"}
    get = subs[b"config|get"]
    assert get[1] == -3 and get[2] == [b"admin", b"noscript", b"loading", b"stale"]
    assert get[6] == [b"@admin", b"@slow", b"@dangerous"]
    (sub,) = rr.execute_command("COMMAND", "INFO", "CONFIG|GET")
    assert sub[0] == b"config|get"


def test_command_info_unknown_and_all(rr: RawClient) -> None:
    assert rr.execute_command("COMMAND", "INFO", "nosuch", "get|key", "config|get|key") == [None, None, None]
    assert len(rr.execute_command("COMMAND", "INFO")) == rr.execute_command("COMMAND", "COUNT")


def test_command_info_resp3_uses_sets_and_maps(kaa_proc: ServerProcess) -> None:
    data = exchange(kaa_proc.port, b"HELLO 3\r\nCOMMAND INFO get\r\n")
    reply = data.split(b"modules\r\n*0\r\n", 1)[1]
    assert reply.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
                            b"~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~")
    assert reply.endswith(b"$5\r\nlimit\r\n:0\r\n~0\r\n")


def test_redis_py_parses_command(kaa_proc: ServerProcess) -> None:
    for proto in (2, 3):
        c = redis.Redis(port=kaa_proc.port, protocol=proto)
        table = c.command()
        assert table["get"]["arity"] == 2
        assert table["config"]["arity"] == -2
        c.close()


def test_command_docs(rr: RawClient) -> None:
    docs = rr.execute_command("COMMAND", "DOCS", "time", "nosuch", "client|kill")
    assert docs[0] == b"time"
    assert docs[1] == [b"summary", b"Returns the server time.", b"since", b"2.6.0", b"group", b"server",
                       b"complexity", b"O(1)"]
    assert docs[2] == b"client|kill"
    kill = dict(zip(docs[3][::2], docs[3][1::2], strict=True))
    assert kill[b"group"] == b"connection"
    assert kill[b"history"][0] == [b"2.8.12", b"Added new filter format."]
    (filt,) = kill[b"arguments"]
    filt_d = dict(zip(filt[::2], filt[1::2], strict=True))
    assert filt_d[b"name"] == b"filter" and filt_d[b"type"] == b"oneof"
    old, new = filt_d[b"arguments"]
    assert old == [b"name", b"old-format", b"type", b"string", b"display_text", b"ip:port",
                   b"deprecated_since", b"2.8.12"]
    assert len(docs) == 4


def test_command_docs_subcommands_map(rr: RawClient) -> None:
    docs = rr.execute_command("COMMAND", "DOCS", "slowlog")
    body = dict(zip(docs[1][::2], docs[1][1::2], strict=True))
    subs = body[b"subcommands"]
    assert b"slowlog|get" in subs[::2]
    all_docs = rr.execute_command("COMMAND", "DOCS")
    assert len(all_docs) == 2 * rr.execute_command("COMMAND", "COUNT")


def test_command_docs_debug_syscmd(rr: RawClient) -> None:
    docs = rr.execute_command("COMMAND", "DOCS", "debug")
    body = dict(zip(docs[1][::2], docs[1][1::2], strict=True))
    assert body[b"doc_flags"] == [b"syscmd"]


def test_command_list_and_filters(rr: RawClient) -> None:
    everything = rr.execute_command("COMMAND", "LIST")
    assert b"set" in everything and b"client|list" in everything
    assert rr.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "set") == [b"set"]
    cfg = rr.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*")
    assert b"config" in cfg and b"config|get" in cfg
    re_ = rr.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|*re*")
    assert set(re_) == {b"config|resetstat", b"config|rewrite"}
    assert b"client|help" in rr.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "cl*help")
    assert rr.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "non_exists*") == []
    admin = rr.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin")
    assert b"config|set" in admin and b"get" not in admin
    assert rr.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "non_existing_category") == []
    assert rr.execute_command("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []
    for bad in (("bad_arg",), ("filterby", "bad_arg"), ("filterby", "bad_arg", "bad_arg2")):
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            rr.execute_command("COMMAND", "LIST", *bad)


def test_command_getkeys(rr: RawClient) -> None:
    assert rr.execute_command("COMMAND", "GETKEYS", "get", "key") == [b"key"]
    assert rr.execute_command("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2") == [b"a", b"b"]
    assert rr.execute_command("COMMAND", "GETKEYSANDFLAGS", "get", "k")[0][0] == b"k"
    with pytest.raises(redis.ResponseError, match="^Invalid command specified$"):
        rr.execute_command("COMMAND", "GETKEYS", "nosuch", "x")
    with pytest.raises(redis.ResponseError, match="^The command has no key arguments$"):
        rr.execute_command("COMMAND", "GETKEYS", "ping")
    with pytest.raises(redis.ResponseError, match="^Invalid number of arguments specified for command$"):
        rr.execute_command("COMMAND", "GETKEYS", "get")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'command|getkeys' command"):
        rr.execute_command("COMMAND", "GETKEYS")


def test_command_errors_and_help(rr: RawClient) -> None:
    with pytest.raises(redis.ResponseError, match="^unknown subcommand 'foo'. Try COMMAND HELP.$"):
        rr.execute_command("COMMAND", "foo")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'command|count' command"):
        rr.execute_command("COMMAND", "COUNT", "x")
    lines = rr.execute_command("COMMAND", "HELP")
    assert lines[0].startswith(b"COMMAND <subcommand>") and lines[-1] == b"    Print this help."


# ---- key extraction from specs (unit level) ------------------------------------------------

def _cmd(specs: tuple[KeySpec, ...], keys_fn: object = None) -> Command:
    return Command(name="x", handler=None, arity=-2, flags=frozenset(), acl_categories=(),
                   key_specs=specs, keys_fn=keys_fn)  # type: ignore[arg-type]


def test_keys_from_keyword_and_keynum_specs() -> None:
    load_all()
    lmove = _cmd((KeySpec(flags=("RW", "access", "delete"), begin_index=1),
                  KeySpec(flags=("RW", "insert"), begin_index=2)))
    assert keys_with_flags(lmove, [b"lmove", b"a", b"b", b"left", b"right"]) == [
        (1, ("RW", "access", "delete")), (2, ("RW", "insert"))]
    zunion = _cmd((KeySpec(flags=("OW", "update"), begin_index=1),
                   KeySpec(flags=("RO", "access"), begin_index=2, keynum=(0, 1, 1))))
    argv = [b"zunionstore", b"dst", b"2", b"k1", b"k2", b"WEIGHTS", b"1", b"2"]
    assert [p for p, _ in keys_with_flags(zunion, argv)] == [1, 3, 4]
    xread = _cmd((KeySpec(flags=("RO", "access"), begin_keyword=(b"STREAMS", 1), last=-1, step=1, limit=2),))
    argv = [b"xread", b"COUNT", b"2", b"streams", b"s1", b"s2", b"0", b"0"]
    assert [p for p, _ in keys_with_flags(xread, argv)] == [4, 5]
    migrate = _cmd((KeySpec(flags=("RW", "access", "delete"), begin_keyword=(b"KEYS", -2), last=-1),))
    argv = [b"migrate", b"h", b"p", b"", b"0", b"5000", b"KEYS", b"a", b"b"]
    assert [p for p, _ in keys_with_flags(migrate, argv)] == [7, 8]
    # An incomplete spec falls back to the key function, flags taken from the specs.
    sort = _cmd((KeySpec(flags=("RO", "access"), begin_index=1),
                 KeySpec(flags=("OW", "update", "incomplete"))),
                keys_fn=lambda argv: [1] + [i + 1 for i, a in enumerate(argv) if a.lower() == b"store"])
    assert keys_with_flags(sort, [b"sort", b"k1", b"store", b"k2"]) == [
        (1, ("RO", "access")), (3, ("OW", "update"))]


def test_every_declared_command_has_consistent_metadata() -> None:
    load_all()
    for cmd in COMMANDS.values():
        for c in (cmd, *cmd.subcommands.values()):
            assert c.arity != 0, c.fullname
            assert c.group, c.fullname
            if c.parent is not None:
                assert c.fullname == f"{c.parent.name}|{c.name}"
