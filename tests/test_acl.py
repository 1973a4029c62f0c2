"""ACL: the SETUSER rule language, GETUSER/LIST canonical forms, permission checks for
commands, subcommands, keys and channels, selectors, ACL LOG, DRYRUN, CAT, GENPASS,
ACL SAVE/LOAD with an ACL file, and users from the configuration file.

Expected texts are Valkey 8's (checked against a real valkey-server 8.0 build).
These tests run against their own Kaa server so user changes never leak into the
shared session server.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
from tests.support.servers import ServerProcess, kaa_server_cmd, start_kaa

HASH_PASSWD4 = "34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6"  # sha256("passwd4")


@pytest.fixture(scope="module")
def srv() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    p.stop()


@pytest.fixture()
def a(srv: ServerProcess) -> Iterator[redis.Redis]:
    """An admin connection (the default user); users and the log are reset afterwards."""
    c = redis.Redis(host="127.0.0.1", port=srv.port, protocol=2, socket_timeout=10)
    c.flushall()
    yield c
    c.close()
    c = redis.Redis(host="127.0.0.1", port=srv.port, protocol=2, socket_timeout=10)
    for u in c.execute_command("ACL", "USERS"):
        if u != b"default":
            c.execute_command("ACL", "DELUSER", u)
    c.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
    c.execute_command("ACL", "LOG", "RESET")
    c.config_set("acllog-max-len", "128")
    c.config_set("acl-pubsub-default", "resetchannels")
    c.close()


class Conn:
    """A raw RESP connection: replies as hiredis parses them, errors returned, not raised,
    and a closed connection reported as ConnectionError (no reconnects behind our back)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = hiredis.Reader()

    def send(self, *args: object) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))

    def read(self) -> Any:
        while True:
            r = self.reader.gets()
            if r is not False:
                return r
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def call(self, *args: object) -> Any:
        self.send(*args)
        return self.read()

    def execute_command(self, *args: object) -> Any:
        r = self.call(*args)
        if isinstance(r, hiredis.ReplyError):
            raise redis.ResponseError(str(r))
        return r

    def is_closed(self) -> bool:
        try:
            self.call("PING")
        except (ConnectionError, OSError):
            return True
        return False

    def close(self) -> None:
        self.sock.close()


def user_client(srv: ServerProcess, user: str, pw: str = "pw") -> Conn:
    c = Conn(srv.port)
    assert c.call("AUTH", user, pw) == b"OK"
    return c


def err(c: redis.Redis | Conn, *args: object) -> str:
    """The error message (without its code, as redis-py shows it) the command replies."""
    if isinstance(c, Conn):
        r = c.call(*args)
        assert isinstance(r, hiredis.ReplyError), r
        return str(r).split(" ", 1)[1]
    with pytest.raises(redis.RedisError) as e:
        c.execute_command(*args)
    return str(e.value)


def getuser(c: redis.Redis, name: str) -> dict[bytes, Any]:
    raw = c.execute_command("ACL", "GETUSER", name)
    return dict(zip(raw[::2], raw[1::2], strict=True))


def acl_list_line(c: redis.Redis, name: str) -> bytes:
    for line in c.execute_command("ACL", "LIST"):
        if line.split(b" ")[1] == name.encode():
            return bytes(line)
    raise AssertionError(f"no user {name}")


# ---- the default user and basic forms ----------------------------------------------------

def test_default_user_listing(a: redis.Redis) -> None:
    assert a.execute_command("ACL", "LIST") == [b"user default on nopass sanitize-payload ~* &* +@all"]
    assert a.execute_command("ACL", "USERS") == [b"default"]
    assert a.execute_command("ACL", "WHOAMI") == b"default"


def test_new_user_is_off_with_nothing(a: redis.Redis) -> None:
    assert a.execute_command("ACL", "SETUSER", "u1") == b"OK"
    assert acl_list_line(a, "u1") == b"user u1 off sanitize-payload resetchannels -@all"
    u = getuser(a, "u1")
    assert u[b"flags"] == [b"off", b"sanitize-payload"]
    assert u[b"passwords"] == [] and u[b"keys"] == b"" and u[b"channels"] == b""
    assert u[b"commands"] == b"-@all" and u[b"selectors"] == []


def test_getuser_full_shape_and_order(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "a", "on", ">p1", "~foo*", "%R~bar", "%W~baz", "&ch*",
                      "+get", "+@hash", "-hset", "(+set ~x)")
    raw = a.execute_command("ACL", "GETUSER", "a")
    assert raw[::2] == [b"flags", b"passwords", b"commands", b"keys", b"channels", b"selectors"]
    u = getuser(a, "a")
    assert u[b"commands"] == b"-@all +get +@hash -hset"
    assert u[b"keys"] == b"~foo* %R~bar %W~baz"
    assert u[b"channels"] == b"&ch*"
    assert u[b"selectors"] == [[b"commands", b"-@all +set", b"keys", b"~x", b"channels", b""]]
    assert acl_list_line(a, "a") == (
        b"user a on sanitize-payload #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"
        b" ~foo* %R~bar %W~baz resetchannels &ch* -@all +get +@hash -hset"
        b" (~x resetchannels -@all +set)")


def test_getuser_resp3_types(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "r3", "on", "nopass", "(+get ~k)")
    c = redis.Redis(host="127.0.0.1", port=srv.port, protocol=3, socket_timeout=10)
    u = c.execute_command("ACL", "GETUSER", "r3")
    assert isinstance(u, dict)
    assert u[b"selectors"] == [{b"commands": b"-@all +get", b"keys": b"~k", b"channels": b""}]
    assert c.execute_command("ACL", "GETUSER", "nosuch") is None
    c.close()
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"HELLO 3\r\nACL GETUSER r3\r\n")
        data = b""
        while not data.endswith(b"$8\r\nchannels\r\n$0\r\n\r\n"):
            data += s.recv(4096)
    reply = data[data.index(b"%6\r\n$5\r\nflags"):]
    # flags is a RESP3 set, selectors an array of maps
    assert reply.startswith(b"%6\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$6\r\nnopass\r\n"
                            b"$16\r\nsanitize-payload\r\n$9\r\npasswords\r\n*0\r\n")
    assert b"$9\r\nselectors\r\n*1\r\n%3\r\n$8\r\ncommands\r\n" in reply


def test_getuser_missing_is_null(a: redis.Redis) -> None:
    assert a.execute_command("ACL", "GETUSER", "nosuch") is None


@pytest.mark.parametrize("rules,commands", [
    (["+@all", "-@hash", "-@slow", "+hget"], b"+@all -@hash -@slow +hget"),
    (["-@all", "+@HASH", "+@hash", "+@HaSh"], b"-@all +@hash"),
    (["-@all", "+HGET", "+hget", "+hGeT"], b"-@all +hget"),
    (["-@all", "+@hash", "+@slow", "+@set", "+@set", "+@slow", "+@hash"], b"-@all +@set +@slow +@hash"),
    (["-@all", "+hget", "-hset", "+hset", "-hget"], b"-@all +hset -hget"),
    (["-@all", "+client|list", "+client|list", "+config|get", "+config", "+acl|list", "-acl"],
     b"-@all +client|list +config -acl"),
    (["-@all", "+select|0", "+select|0", "+debug|segfault", "+debug"], b"-@all +select|0 +debug"),
    (["-@all", "-@dangerous"], b"-@all -@dangerous"),
    (["-@all", "+config", "+config|get", "-config|set", "+config"], b"-@all +config"),
    (["+@all", "-@string", "-@slow", "+@all"], b"+@all"),
    (["allcommands", "nocommands", "+get"], b"-@all +get"),
    (["+@all", "-client|kill"], b"+@all -client|kill"),
])
def test_command_rules_are_kept_lossless(a: redis.Redis, rules: list[str], commands: bytes) -> None:
    a.execute_command("ACL", "SETUSER", "adv", "reset", *rules)
    assert getuser(a, "adv")[b"commands"] == commands


def test_category_re_added_moves_to_the_end(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "adv", "+@all", "-@hash", "-@slow", "+hget")
    a.execute_command("ACL", "SETUSER", "adv", "-@hash")
    assert getuser(a, "adv")[b"commands"] == b"+@all -@slow +hget -@hash"
    a.execute_command("ACL", "SETUSER", "adv", "+@hash")
    assert getuser(a, "adv")[b"commands"] == b"+@all -@slow +hget +@hash"


def test_every_category_round_trips(a: redis.Redis) -> None:
    for cat in a.execute_command("ACL", "CAT"):
        c = cat.decode()
        a.execute_command("ACL", "SETUSER", "x", "reset", "+@all", f"-@{c}")
        assert getuser(a, "x")[b"commands"] == f"+@all -@{c}".encode()
        a.execute_command("ACL", "SETUSER", "x", "reset", "-@all", f"+@{c}")
        assert getuser(a, "x")[b"commands"] == f"-@all +@{c}".encode()


def test_key_patterns_merge_flags(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "rw", "%R~foo", "%W~foo", "%RW~bar")
    assert getuser(a, "rw")[b"keys"] == b"~foo ~bar"
    a.execute_command("ACL", "SETUSER", "rw", "resetkeys", "allkeys")
    assert getuser(a, "rw")[b"keys"] == b"~*"


def test_reset_returns_to_a_fresh_user(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "ex")
    fresh = acl_list_line(a, "ex")
    a.execute_command("ACL", "SETUSER", "ex", "on", ">x", "~*", "&*", "+@all", "(+get ~y)",
                      "skip-sanitize-payload")
    a.execute_command("ACL", "SETUSER", "ex", "reset")
    assert acl_list_line(a, "ex") == fresh


def test_reset_with_allchannels_default(a: redis.Redis) -> None:
    a.config_set("acl-pubsub-default", "allchannels")
    a.execute_command("ACL", "SETUSER", "pd")
    assert getuser(a, "pd")[b"channels"] == b"&*"
    a.config_set("acl-pubsub-default", "resetchannels")
    assert getuser(a, "pd")[b"channels"] == b"&*"  # existing users keep what they got
    a.execute_command("ACL", "SETUSER", "pd", "reset")
    assert getuser(a, "pd")[b"channels"] == b""


def test_flags_and_sanitize_payload(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "f", "skip-sanitize-payload", "on", "nopass")
    assert getuser(a, "f")[b"flags"] == [b"on", b"nopass", b"skip-sanitize-payload"]
    a.execute_command("ACL", "SETUSER", "f", "sanitize-payload", "off", "resetpass")
    assert getuser(a, "f")[b"flags"] == [b"off", b"sanitize-payload"]


def test_selectors_flexible_syntax_and_clear(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "s2", "(~key1 +get )", "( ~key2 +get )", "( ~key3 +get)",
                      "(~key5", "+get", ")")
    sels = getuser(a, "s2")[b"selectors"]
    assert [dict(zip(s[::2], s[1::2], strict=True))[b"keys"] for s in sels] == [
        b"~key1", b"~key2", b"~key3", b"~key5"]
    a.execute_command("ACL", "SETUSER", "s2", "clearselectors")
    assert getuser(a, "s2")[b"selectors"] == []
    a.execute_command("ACL", "SETUSER", "s3", "reset", "()")
    assert getuser(a, "s3")[b"selectors"] == [[b"commands", b"-@all", b"keys", b"", b"channels", b""]]


# ---- error texts ----------------------------------------------------------------------------

@pytest.mark.parametrize("rule,message", [
    ("#badhash", "Error in ACL SETUSER modifier '#badhash': The password hash must be exactly 64 "
                 "characters and contain only lowercase hexadecimal characters"),
    ("#" + HASH_PASSWD4[:-1] + "q", "Error in ACL SETUSER modifier '#" + HASH_PASSWD4[:-1] + "q': "
     "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    ("!" + "0" * 64, "Error in ACL SETUSER modifier '!" + "0" * 64 + "': The password you are trying "
                     "to remove from the user does not exist"),
    ("<nopass", "Error in ACL SETUSER modifier '<nopass': The password you are trying to remove "
                "from the user does not exist"),
    ("+nosuch", "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
    ("+@nosuch", "Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"),
    ("-@", "Error in ACL SETUSER modifier '-@': Unknown command or category name in ACL"),
    ("+config|asdf", "Error in ACL SETUSER modifier '+config|asdf': Unknown command or category name in ACL"),
    ("-config|asdf", "Error in ACL SETUSER modifier '-config|asdf': Unknown command or category name in ACL"),
    ("+get|key1|key2", "Error in ACL SETUSER modifier '+get|key1|key2': Unknown command or category name in ACL"),
    ("-select|0", "Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"),
    ("+config|get|appendonly", "Error in ACL SETUSER modifier '+config|get|appendonly': Allowing "
                               "first-arg of a subcommand is not supported"),
    ("+debug|", "Error in ACL SETUSER modifier '+debug|': Syntax error"),
    ("+|x", "Error in ACL SETUSER modifier '+|x': Unknown command or category name in ACL"),
    ("bogus", "Error in ACL SETUSER modifier 'bogus': Syntax error"),
    (")", "Error in ACL SETUSER modifier ')': Syntax error"),
    (" () ", "Error in ACL SETUSER modifier ' () ': Syntax error"),
    ("%~", "Error in ACL SETUSER modifier '%~': Syntax error"),
    ("%RR~x", "Error in ACL SETUSER modifier '%RR~x': Syntax error"),
    ("%X~x", "Error in ACL SETUSER modifier '%X~x': Syntax error"),
    ("(this-is-invalid)", "Error in ACL SETUSER modifier '(this-is-invalid)': Syntax error"),
    ("(", "Unmatched parenthesis in acl selector starting at '('."),
])
def test_setuser_error_texts(a: redis.Redis, rule: str, message: str) -> None:
    assert err(a, "ACL", "SETUSER", "e", rule) == message
    assert a.execute_command("ACL", "GETUSER", "e") is None  # nothing was created


def test_setuser_errors_after_all_patterns(a: redis.Redis) -> None:
    assert err(a, "ACL", "SETUSER", "e", "allkeys", "~x") == (
        "Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the "
        "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start "
        "with an empty list of patterns")
    assert err(a, "ACL", "SETUSER", "e", "allchannels", "&x") == (
        "Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the "
        "'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to "
        "start with an empty list of channels")
    assert "Adding a pattern after the" in err(a, "ACL", "SETUSER", "e", "(&* &fail)")


def test_setuser_is_all_or_nothing(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "atomic", "on", "+get")
    before = acl_list_line(a, "atomic")
    err(a, "ACL", "SETUSER", "atomic", "+set", "~x", "+nosuch")
    assert acl_list_line(a, "atomic") == before


def test_username_validation(a: redis.Redis) -> None:
    assert err(a, "ACL", "SETUSER", "a a") == "Usernames can't contain spaces or null characters"
    assert err(a, "ACL", "SETUSER", "a\x00b") == "Usernames can't contain spaces or null characters"


def test_unmatched_parenthesis_forms(a: redis.Redis) -> None:
    assert err(a, "ACL", "SETUSER", "s", "on", "(+PING", "(+SELECT", "(+DEL") == (
        "Unmatched parenthesis in acl selector starting at '(+PING'.")
    assert err(a, "ACL", "SETUSER", "s", "on", "(+PING", "(+SELECT", "(+DEL", ")", ")", ")") == (
        "Error in ACL SETUSER modifier '(+PING (+SELECT (+DEL )': Syntax error")


# ---- permission checks --------------------------------------------------------------------

def test_commands_keys_and_noperm_texts(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "k", "on", ">pw", "+get", "+set", "~foo:*")
    c = user_client(srv, "k")
    assert c.call("SET", "foo:1", "v") == b"OK"
    assert err(c, "SET", "bar", "v") == "No permissions to access a key"
    assert err(c, "INCR", "foo:1") == "User k has no permissions to run the 'incr' command"
    assert err(c, "MGET", "foo:1") == "User k has no permissions to run the 'mget' command"
    c.close()


def test_noperm_reply_prefix_on_the_wire(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "w", "on", "nopass", "+get")
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"AUTH w x\r\nGET k\r\nSET k v\r\n")
        data = b""
        while data.count(b"\r\n") < 3:
            data += s.recv(4096)
    assert data == (b"+OK\r\n-NOPERM No permissions to access a key\r\n"
                    b"-NOPERM User w has no permissions to run the 'set' command\r\n")


def test_subcommands_and_first_args(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "-client",
                      "+client|id", "+client|setname", "-config|set", "-select", "+select|0")
    c = user_client(srv, "sub")
    c.execute_command("CLIENT", "ID")
    c.execute_command("CLIENT", "SETNAME", "x")
    assert "'client|kill'" in err(c, "CLIENT", "KILL", "TYPE", "master")
    c.execute_command("CONFIG", "GET", "maxmemory")
    assert err(c, "CONFIG", "SET", "maxmemory", "0") == (
        "User sub has no permissions to run the 'config|set' command")
    c.execute_command("SELECT", "0")
    assert err(c, "SELECT", "1") == "User sub has no permissions to run the 'select' command"
    c.close()


def test_container_rule_covers_subcommands(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "cc", "on", ">pw", "-@all", "+config")
    c = user_client(srv, "cc")
    c.execute_command("CONFIG", "GET", "port")
    c.execute_command("CONFIG", "SET", "maxmemory-samples", "5")
    assert "'get'" in err(c, "GET", "k")
    c.close()


def test_category_includes_subcommands(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "st", "on", ">pw", "-@all", "+del", "+acl", "+@stream", "~*")
    c = user_client(srv, "st")
    assert c.call("DEL", "s") == 0
    assert isinstance(c.call("XADD", "s", "*", "f", "v"), bytes)
    assert isinstance(c.call("XINFO", "STREAM", "s"), list)
    c.close()


def test_read_write_key_permissions(srv: ServerProcess, a: redis.Redis) -> None:
    a.set("readstr", "bar")
    a.execute_command("ACL", "SETUSER", "rw", "on", "nopass", "%R~read*", "%W~write*", "+@all")
    c = user_client(srv, "rw", "x")
    assert c.call("GET", "readstr") == b"bar"
    assert "key" in err(c, "SET", "readstr", "x")
    assert c.call("LPUSH", "writelist", 1) == 1
    assert "key" in err(c, "GET", "writestr")
    assert c.call("COPY", "readstr", "writekey") == 1
    assert "key" in err(c, "COPY", "writekey", "readstr2")
    # Existence and cardinality need some access, either kind.
    assert c.call("EXISTS", "readstr", "writelist") == 2
    assert c.call("LLEN", "writelist") == 1
    assert "key" in err(c, "EXISTS", "other")
    c.close()


def test_set_flags_depend_on_get(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "sw", "on", "nopass", "%W~write*", "+@all")
    c = user_client(srv, "sw", "x")
    assert c.call("SET", "writestr", "bar") == b"OK"
    assert c.call("SET", "writestr", "get") == b"OK"  # 'get' is the value here
    for args in (("SET", "writestr", "bar", "GET"), ("SET", "writestr", "bar", "get", "EX", "100"),
                 ("SET", "writestr", "bar", "EX", "get")):
        assert "No permissions to access a key" in err(c, *args)
    c.close()


def test_bitfield_flags_depend_on_subcommands(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "bf", "on", "nopass", "%R~read*", "+@all")
    c = user_client(srv, "bf", "x")
    assert c.call("BITFIELD", "readstr", "GET", "u4", "0") == [0]
    assert "key" in err(c, "BITFIELD", "readstr", "SET", "u4", "0", "1")
    assert "key" in err(c, "BITFIELD", "readstr", "GET", "u4", "0", "INCRBY", "u4", "0", "1")
    c.close()


def test_selectors_are_not_additive(srv: ServerProcess, a: redis.Redis) -> None:
    a.set("readstr", "bar")
    a.execute_command("ACL", "SETUSER", "sel", "on", "nopass", "(%R~read* +@all)", "(%W~write* +@all)")
    c = user_client(srv, "sel", "x")
    assert c.call("GET", "readstr") == b"bar"
    assert c.call("LPUSH", "writelist", 1) == 1
    assert "key" in err(c, "COPY", "readstr", "writekey")  # no single selector has both
    c.close()


def test_selectors_each_need_command_and_keys(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "ms", "on", "-@all", "resetkeys", "nopass",
                      "(+@write ~write::*)", "(+@read ~read::*)")
    c = user_client(srv, "ms", "x")
    assert "'ping'" in err(c, "PING")
    assert c.call("SET", "write::foo", "bar") == b"OK"
    assert c.call("GET", "read::foo") is None
    assert "key" in err(c, "GET", "write::foo")
    assert "key" in err(c, "SET", "read::foo", "x")
    c.close()


def test_channels_publish_and_subscribe(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "ps", "on", "nopass", "+@all", "~*", "resetchannels",
                      "&foo:1", "&bar:*")
    c = user_client(srv, "ps", "x")
    assert c.call("PUBLISH", "foo:1", "m") == 0
    assert c.call("PUBLISH", "bar:2", "m") == 0
    assert err(c, "PUBLISH", "zap", "m") == "No permissions to access a channel"
    assert err(c, "SPUBLISH", "zap", "m") == "No permissions to access a channel"
    assert c.call("SUBSCRIBE", "foo:1") == [b"subscribe", b"foo:1", 1]
    assert err(c, "SUBSCRIBE", "foo:2") == "No permissions to access a channel"
    assert c.call("SSUBSCRIBE", "bar:x") == [b"ssubscribe", b"bar:x", 1]
    # A pattern subscription must be listed literally; 'bar:baz' is not 'bar:*'.
    assert c.call("PSUBSCRIBE", "bar:*") == [b"psubscribe", b"bar:*", 2]
    assert err(c, "PSUBSCRIBE", "bar:baz") == "No permissions to access a channel"
    c.close()


def test_default_acl_pubsub_default_blocks_new_users(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "np", "on", "nopass", "+@all", "~*")
    c = user_client(srv, "np", "x")
    assert "channel" in err(c, "PUBLISH", "x", "y")
    c.close()


def test_in_multi_denials_abort_exec(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "m", "on", "nopass", "+multi", "+exec", "+discard",
                      "+set", "~k*")
    c = user_client(srv, "m", "x")
    c.call("MULTI")
    assert "key" in err(c, "SET", "zz", "v")
    assert str(c.call("EXEC")).startswith("EXECABORT")
    c.close()


def test_exec_rechecks_permissions(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "ex", "on", "nopass", "+multi", "+exec", "+incr",
                      "+get", "~*")
    c = user_client(srv, "ex", "x")
    c.call("MULTI")
    c.call("INCR", "n")
    c.call("GET", "n")
    a.execute_command("ACL", "SETUSER", "ex", "-incr")
    res = c.call("EXEC")
    assert isinstance(res, list) and isinstance(res[0], hiredis.ReplyError)
    assert str(res[0]) == (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
        "call. This command is no longer allowed for the following reason: no permission to "
        "execute the command or subcommand")
    assert res[1] is None  # the rest of the transaction still ran
    entry = log_entries(a)[0]
    assert (entry[b"context"], entry[b"object"]) == (b"multi", b"incr")
    assert b"cmd=exec" in entry[b"client-info"]
    c.close()


def test_blocked_command_rechecked_when_woken(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "bl", "on", "nopass", "+@all", "~*")
    a.config_resetstat()
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"AUTH bl x\r\nBLPOP list1 0\r\n")
        assert s.recv(100) == b"+OK\r\n"
        deadline = time.time() + 5
        while a.info("clients")["blocked_clients"] != 1 and time.time() < deadline:
            time.sleep(0.01)
        a.execute_command("ACL", "SETUSER", "bl", "resetkeys")
        a.lpush("list1", "foo")
        s.settimeout(5)
        assert s.recv(200) == b"-NOPERM No permissions to access a key\r\n"
    stats = a.info("commandstats")["cmdstat_blpop"]
    assert (stats["calls"], stats["rejected_calls"], stats["failed_calls"]) == (0, 1, 0)


def test_info_counters(srv: ServerProcess, a: redis.Redis) -> None:
    base = a.info("stats")
    a.execute_command("ACL", "SETUSER", "ic", "on", ">pw", "nocommands")
    assert str(Conn(srv.port).call("AUTH", "ic", "wrong")).startswith("WRONGPASS")
    c = user_client(srv, "ic")
    err(c, "GET", "x")
    a.execute_command("ACL", "SETUSER", "ic", "+@all", "resetkeys", "resetchannels")
    err(c, "GET", "x")
    err(c, "PUBLISH", "x", "y")
    after = a.info("stats")
    for field in ("acl_access_denied_auth", "acl_access_denied_cmd", "acl_access_denied_key",
                  "acl_access_denied_channel"):
        assert after[field] == base[field] + 1, field
    c.close()


# ---- clients follow their user ---------------------------------------------------------------

def test_deluser_disconnects_its_clients(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "gone", "on", ">pw", "+@all")
    a.execute_command("ACL", "SETUSER", "stay", "on", ">pw", "+@all")
    gone = user_client(srv, "gone")
    stay = user_client(srv, "stay")
    assert a.execute_command("ACL", "DELUSER", "gone", "nosuch") == 1
    assert gone.is_closed()
    assert stay.call("PING") == b"PONG"
    gone.close()
    stay.close()


def test_deleting_own_user_replies_then_closes(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "self", "on", "+acl", ">pw")
    c = user_client(srv, "self")
    assert c.call("ACL", "DELUSER", "self") == 1  # the reply still arrives
    assert c.is_closed()
    c.close()


def test_default_user_cannot_be_removed(a: redis.Redis) -> None:
    assert err(a, "ACL", "DELUSER", "x", "default") == "The 'default' user cannot be removed"


def test_subscribers_killed_when_channel_revoked(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "sub", "on", "nopass", "+@all", "resetchannels",
                      "&foo:1", "&bar:*", "&orders")
    pardoned = user_client(srv, "sub", "x")
    pardoned.call("CLIENT", "SETNAME", "pardoned")
    pardoned.call("SUBSCRIBE", "foo:1")
    pardoned.call("PSUBSCRIBE", "bar:*")
    other = user_client(srv, "sub", "x")  # not subscribed: never killed for channels
    other.call("CLIENT", "SETNAME", "bystander")
    a.execute_command("ACL", "SETUSER", "sub", "&more")  # a superset: nobody is killed
    a.execute_command("ACL", "SETUSER", "sub", "allchannels")
    assert b"pardoned" in a.execute_command("CLIENT", "LIST")
    a.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&foo:1", "&bar:*")
    assert b"pardoned" in a.execute_command("CLIENT", "LIST")
    a.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&foo:1")  # loses bar:*
    listing = a.execute_command("CLIENT", "LIST")
    assert b"pardoned" not in listing and b"bystander" in listing
    assert pardoned.is_closed()
    pardoned.close()
    other.close()


# ---- ACL LOG ----------------------------------------------------------------------------------

def log_entries(a: redis.Redis, *count: int) -> list[dict[bytes, Any]]:
    raw = a.execute_command("ACL", "LOG", *count)
    return [dict(zip(e[::2], e[1::2], strict=True)) for e in raw]


def test_log_entry_fields(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "antirez", "on", ">foo", "+set", "~object:1234")
    c = user_client(srv, "antirez", "foo")
    err(c, "GET", "foo")
    raw = a.execute_command("ACL", "LOG")[0]
    assert raw[::2] == [b"count", b"reason", b"context", b"object", b"username", b"age-seconds",
                        b"client-info", b"entry-id", b"timestamp-created",
                        b"timestamp-last-updated"]
    e = log_entries(a)[0]
    assert (e[b"count"], e[b"reason"], e[b"context"], e[b"object"], e[b"username"]) == (
        1, b"command", b"toplevel", b"get", b"antirez")
    assert b"cmd=get" in e[b"client-info"] and b"user=antirez" in e[b"client-info"]
    assert 0 <= float(e[b"age-seconds"]) < 5
    assert abs(e[b"timestamp-created"] - time.time() * 1000) < 5000
    err(c, "SET", "somekeynotallowed", "1")
    e = log_entries(a)[0]
    assert (e[b"reason"], e[b"object"]) == (b"key", b"somekeynotallowed")
    a.execute_command("ACL", "SETUSER", "antirez", "+publish")
    err(c, "PUBLISH", "somechannel", "x")
    e = log_entries(a)[0]
    assert (e[b"reason"], e[b"object"]) == (b"channel", b"somechannel")
    c.close()


def test_log_aggregates_and_numbers_entries(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "user1", ">foo")
    a = Conn(a.connection_pool.connection_kwargs["port"])  # type: ignore[assignment]
    err(a, "AUTH", "user1", "doo")
    first = log_entries(a)[0]
    time.sleep(0.002)
    for _ in range(10):
        err(a, "AUTH", "user1", "doo")
    e = log_entries(a)[0]
    assert e[b"count"] == 11
    assert e[b"entry-id"] == first[b"entry-id"]
    assert e[b"timestamp-created"] == first[b"timestamp-created"]
    assert e[b"timestamp-last-updated"] > first[b"timestamp-last-updated"]
    assert (e[b"reason"], e[b"object"], e[b"username"]) == (b"auth", b"AUTH", b"user1")
    err(a, "AUTH", "user2", "foo")
    assert log_entries(a)[0][b"entry-id"] == first[b"entry-id"] + 1
    assert len(log_entries(a)) == 2


def test_log_count_reset_and_maxlen(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "lm", "on", ">pw", "+get")
    c = user_client(srv, "lm")
    for j in range(10):
        err(c, "SET", f"obj:{j}", "1")  # the same command denial: one entry
    assert len(log_entries(a)) == 1
    for j in range(10):
        err(c, "GET", f"obj:{j}")  # a key each: ten entries
    assert len(log_entries(a)) == 10
    assert len(log_entries(a, 2)) == 2
    assert log_entries(a, -1) == []
    a.config_set("acllog-max-len", "5")
    err(c, "GET", "one-more")
    assert len(log_entries(a, 100)) == 5
    a.config_set("acllog-max-len", "0")
    assert len(log_entries(a, 100)) == 5  # shrinking the limit alone keeps the entries
    err(c, "GET", "and-another")
    assert log_entries(a, 100) == []
    assert a.execute_command("ACL", "LOG", "RESET") == b"OK"
    assert err(a, "ACL", "LOG", "abc") == "value is not an integer or out of range"
    assert err(a, "ACL", "LOG", "1", "2") == (
        "unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.")
    c.close()


def test_log_subcommand_object(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "demo", "on", "nopass")
    c = user_client(srv, "demo", "")
    assert "'config|get'" in err(c, "CONFIG", "GET", "x")
    assert log_entries(a)[0][b"object"] == b"config|get"
    c.close()


def test_log_multi_context(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "mc", "on", ">pw", "+multi", "+exec", "~*")
    c = user_client(srv, "mc")
    c.execute_command("MULTI")
    err(c, "INCR", "foo")
    err(c, "EXEC")
    e = log_entries(a)[0]
    assert (e[b"context"], e[b"object"]) == (b"multi", b"incr")
    c.close()


def test_log_lua_context(srv: ServerProcess, a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "lua", "on", ">pw", "+eval", "~*")
    c = user_client(srv, "lua")
    try:
        msg = err(c, "EVAL", "return redis.call('incr','foo')", "0")
    except AssertionError:
        pytest.skip("EVAL is not available")
    if "not available" in msg or "unknown command" in msg:
        pytest.skip("scripting is not available")
    assert "User lua has no permissions to run the 'incr' command" in msg
    e = log_entries(a)[0]
    assert (e[b"context"], e[b"object"]) == (b"lua", b"incr")
    assert b"cmd=eval" in e[b"client-info"]
    c.close()


# ---- DRYRUN, CAT, GENPASS, HELP ------------------------------------------------------------------

def test_dryrun(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "dr", "+@all", "%R~read*", "%W~write*", "%RW~rw*",
                      "resetchannels", "&chan")
    assert a.execute_command("ACL", "DRYRUN", "dr", "GET", "read") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "SET", "read", "x") == (
        b"User dr has no permissions to access the 'read' key")
    assert a.execute_command("ACL", "DRYRUN", "dr", "EVAL", "", "1", "rw1") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "EVAL", "", "1", "read") == (
        b"User dr has no permissions to access the 'read' key")
    assert a.execute_command("ACL", "DRYRUN", "dr", "EVAL", "", "0", "read") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "EVAL", "", "3", "rw", "read") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "SORT", "read", "STORE", "write") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "SORT", "read", "STORE", "read") == (
        b"User dr has no permissions to access the 'read' key")
    assert a.execute_command("ACL", "DRYRUN", "dr", "GEORADIUS", "read", "1", "2", "3", "M",
                             "STOREDIST", "write") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "GEORADIUS", "write1", "1", "2", "3", "M",
                             "STORE", "write2") == b"User dr has no permissions to access the 'write1' key"
    assert a.execute_command("ACL", "DRYRUN", "dr", "ZINTERCARD", "2", "write", "read") == (
        b"User dr has no permissions to access the 'write' key")
    assert a.execute_command("ACL", "DRYRUN", "dr", "HEXISTS", "write", "f") == b"OK"
    assert a.execute_command("ACL", "DRYRUN", "dr", "SPUBLISH", "other", "x") == (
        b"User dr has no permissions to access the 'other' channel")
    assert a.execute_command("ACL", "DRYRUN", "dr", "SUNSUBSCRIBE", "other") == b"OK"
    assert err(a, "ACL", "DRYRUN", "nouser", "GET", "x") == "User 'nouser' not found"
    assert err(a, "ACL", "DRYRUN", "dr", "nocmd", "x") == "Command 'nocmd' not found"
    assert err(a, "ACL", "DRYRUN", "dr", "config", "nosub") == "Command 'config' not found"
    assert err(a, "ACL", "DRYRUN", "dr", "SET", "v") == "wrong number of arguments for 'set' command"
    a.execute_command("ACL", "SETUSER", "dr", "-@all")
    assert a.execute_command("ACL", "DRYRUN", "dr", "get", "k") == (
        b"User dr has no permissions to run the 'get' command")


def test_scripting_ro_commands_need_scripting_permission(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "scripter", "on", "nopass", "+@read")
    for cmd in ("EVAL_RO", "EVALSHA_RO", "FCALL_RO"):
        assert a.execute_command("ACL", "DRYRUN", "scripter", cmd, "", "0") == (
            f"User scripter has no permissions to run the '{cmd.lower()}' command".encode())


def test_cat(a: redis.Redis) -> None:
    cats = a.execute_command("ACL", "CAT")
    assert cats == [c.encode() for c in (
        "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream pubsub "
        "admin fast slow blocking dangerous connection transaction scripting").split()]
    assert b"multi" in a.execute_command("ACL", "CAT", "transaction")
    assert b"function|list" in a.execute_command("ACL", "CAT", "SCRIPTING")
    assert b"set" not in a.execute_command("ACL", "CAT", "keyspace")
    assert b"get" not in a.execute_command("ACL", "CAT", "stream")
    assert err(a, "ACL", "CAT", "NON_EXISTS") == "Unknown category 'NON_EXISTS'"
    assert err(a, "ACL", "CAT", "a", "b") == (
        "unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")


def test_genpass(a: redis.Redis) -> None:
    p = a.execute_command("ACL", "GENPASS")
    assert len(p) == 64 and all(ch in b"0123456789abcdef" for ch in p)
    assert a.execute_command("ACL", "GENPASS") != p
    assert len(a.execute_command("ACL", "GENPASS", "5")) == 2
    assert len(a.execute_command("ACL", "GENPASS", "4096")) == 1024
    for bad in ("-236", "5000", "0"):
        assert err(a, "ACL", "GENPASS", bad) == (
            "ACL GENPASS argument must be the number of bits for the output password, a "
            "positive number up to 4096")
    assert err(a, "ACL", "GENPASS", "abc") == "value is not an integer or out of range"


def test_help_and_arity(a: redis.Redis) -> None:
    h = a.execute_command("ACL", "HELP")
    assert h[0] == b"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert h[-2:] == [b"HELP", b"    Print this help."]
    assert err(a, "ACL", "help", "xxx") == "wrong number of arguments for 'acl|help' command"
    assert err(a, "ACL", "NOSUCH") == "unknown subcommand 'NOSUCH'. Try ACL HELP."
    assert err(a, "ACL") == "wrong number of arguments for 'acl' command"


def test_load_save_without_acl_file(a: redis.Redis) -> None:
    msg = ("This instance is not configured to use an ACL file. You may want to specify users "
           "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
           "configuration file set) in order to store users in the configuration.")
    assert err(a, "ACL", "LOAD") == msg
    assert err(a, "ACL", "SAVE") == msg


def test_passwords_never_in_slowlog(a: redis.Redis) -> None:
    a.config_set("slowlog-log-slower-than", "0")
    try:
        a.execute_command("ACL", "SETUSER", "sl", ">supersecret")
        assert "WRONGPASS" in str(Conn(a.connection_pool.connection_kwargs["port"]).call(
            "AUTH", "sl", "othersecret"))
        entries = a.slowlog_get(10)
    finally:
        a.config_set("slowlog-log-slower-than", "10000")
    text = repr(entries)
    assert "supersecret" not in text and "othersecret" not in text
    assert "(redacted)" in text


def test_passwords_stored_hashed(a: redis.Redis) -> None:
    a.execute_command("ACL", "SETUSER", "h", "on", ">passwd4")
    assert getuser(a, "h")[b"passwords"] == [HASH_PASSWD4.encode()]
    assert b"passwd4" not in acl_list_line(a, "h")
    a.execute_command("ACL", "SETUSER", "h", "!" + HASH_PASSWD4, "#" + HASH_PASSWD4)
    a.execute_command("AUTH", "h", "passwd4")
    a.execute_command("AUTH", "default", "")


# ---- ACL file ------------------------------------------------------------------------------

USER_ACL = ("user alice on allcommands allkeys &* >alice\n"
            "user bob on -@all +@set +acl ~set* &* >bob\n"
            "user default on nopass ~* &* +@all\n")


@pytest.fixture()
def aclsrv(tmp_path: os.PathLike[str]) -> Iterator[tuple[ServerProcess, str]]:
    path = os.path.join(tmp_path, "users.acl")
    with open(path, "w") as f:
        f.write(USER_ACL)
    p = start_kaa("--aclfile", path)
    yield p, path
    p.stop()


def test_aclfile_loaded_at_start(aclsrv: tuple[ServerProcess, str]) -> None:
    p, _ = aclsrv
    c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2, single_connection_client=True)
    assert c.execute_command("ACL", "USERS") == [b"alice", b"bob", b"default"]
    c.execute_command("AUTH", "bob", "bob")
    assert c.sadd("set1", 1) == 1
    assert "'set' command" in err(c, "SET", "k", "v")
    c.close()


def test_acl_save_writes_canonical_owner_only_file(aclsrv: tuple[ServerProcess, str]) -> None:
    p, path = aclsrv
    c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
    c.execute_command("ACL", "SETUSER", "eve", "+get", "allkeys", ">eve", "on")
    assert c.execute_command("ACL", "SAVE") == b"OK"
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    assert lines == [bytes(x) for x in c.execute_command("ACL", "LIST")]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert c.execute_command("ACL", "LOAD") == b"OK"
    assert c.execute_command("ACL", "LIST") == lines
    c.close()


def test_acl_load_errors_change_nothing(aclsrv: tuple[ServerProcess, str]) -> None:
    p, path = aclsrv
    c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
    before = c.execute_command("ACL", "LIST")
    with open(path, "a") as f:
        f.write("user alice on nopass ~* -@all\n# a comment\nuser carol on +nosuch bogus bogus2\n")
    msg = err(c, "ACL", "LOAD")
    assert msg == (
        f"WARNING: Duplicate user 'alice' found on line 4. "
        f"{path}:5 should start with user keyword followed by the username. "
        f"{path}:6: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
        f"{path}:6: Syntax error. "
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
    assert c.execute_command("ACL", "LIST") == before
    os.unlink(path)
    assert err(c, "ACL", "LOAD") == (
        f"Error loading ACLs, opening file '{path}': No such file or directory")
    c.close()


def test_acl_load_disconnects_affected_clients(aclsrv: tuple[ServerProcess, str]) -> None:
    p, path = aclsrv
    admin = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
    admin.execute_command("ACL", "SETUSER", "mortimer", "on", ">m", "~*", "&*", "+@all")
    alice = user_client(p, "alice", "alice")
    mort = user_client(p, "mortimer", "m")
    assert admin.execute_command("ACL", "LOAD") == b"OK"
    assert alice.call("PING") == b"PONG"
    assert mort.is_closed()
    alice.close()
    mort.close()
    admin.close()


# ---- users in the configuration file -----------------------------------------------------------

def test_config_user_lines_and_rewrite(tmp_path: os.PathLike[str]) -> None:
    conf = os.path.join(tmp_path, "kaa.conf")
    with open(conf, "w") as f:
        f.write('user default on nopass ~* +@all -flushdb\nuser "bob" on >pw +get ~b*\n')
    cmd = kaa_server_cmd() + [conf]
    p = ServerProcess(cmd, ["--save", ""])
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        assert "'flushdb'" in err(c, "FLUSHDB")
        assert "channel" in err(c, "PUBLISH", "x", "y")  # no &* on the line: resetchannels
        assert c.execute_command("ACL", "LIST") == [
            b"user bob on sanitize-payload #" + b"30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
            + b" ~b* resetchannels -@all +get",
            b"user default on nopass sanitize-payload ~* resetchannels +@all -flushdb"]
        assert c.config_rewrite() == b"OK"
        with open(conf) as f:
            text = f.read()
        assert "user default on nopass sanitize-payload ~* resetchannels +@all -flushdb" in text
        assert ">pw" not in text
        c.close()
    finally:
        p.stop()


@pytest.mark.parametrize("args,needle", [
    (["--user", "foo", "--user", "foo"], "Duplicate user"),
    (["--user", "default", "--user", "default"], "Duplicate user"),
    (["--user", "foo", "on", "bogus"], "Error in user declaration 'foo': Syntax error"),
])
def test_bad_config_users_are_fatal(args: list[str], needle: str) -> None:
    out = subprocess.run(kaa_server_cmd() + ["--port", "0", *args], capture_output=True,
                         timeout=30, text=True)
    assert out.returncode == 1
    assert needle in out.stderr
    assert "FATAL CONFIG FILE ERROR" in out.stderr


def test_users_and_aclfile_together_are_refused(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "u.acl")
    with open(path, "w") as f:
        f.write("user x on\n")
    out = subprocess.run(kaa_server_cmd() + ["--port", "0", "--aclfile", path, "--user", "y"],
                         capture_output=True, timeout=30, text=True)
    assert out.returncode == 1
    assert "define either an ACL file or declare users" in out.stdout


def test_bad_aclfile_aborts_startup(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "u.acl")
    with open(path, "w") as f:
        f.write("user x on bogus\n")
    out = subprocess.run(kaa_server_cmd() + ["--port", "0", "--aclfile", path],
                         capture_output=True, timeout=30, text=True)
    assert out.returncode == 1
    assert f"Aborting Kaa startup because of ACL errors: {path}:1: Syntax error." in out.stdout


# ---- the gate costs nothing until a restricted user exists -----------------------------------------

def test_gate_only_while_restricted_users_exist() -> None:
    from kaa.embedded import EmbeddedServer

    with EmbeddedServer() as es:
        srv = es.server
        c = redis.Redis(host="127.0.0.1", port=es.port, protocol=2)
        assert srv.gate is None
        c.execute_command("ACL", "SETUSER", "free", "on", "+@all", "~*", "&*")
        assert srv.gate is None  # an unrestricted user needs no checks
        c.execute_command("ACL", "SETUSER", "limited", "on", "+get")
        assert srv.gate is not None
        c.execute_command("ACL", "DELUSER", "limited")
        assert srv.gate is None
        c.close()
