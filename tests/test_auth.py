"""AUTH, HELLO ... AUTH, requirepass and the default user, unauthenticated limits,
credential redaction, and a 10,000-attempt brute force against ACL LOG.

Expected texts are Valkey 8's. Each test gets its own server (requirepass and the
default user are server-wide state).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
from tests.support.servers import ServerProcess, start_kaa

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


class Conn:
    """A raw RESP2 connection; error replies come back as hiredis.ReplyError values."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = hiredis.Reader()

    def send(self, *args: object) -> None:
        self.sock.sendall(encode(*args))

    def read(self) -> Any:
        while True:
            r = self.reader.gets()
            if r is not False:
                return r
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def call(self, *args: object) -> Any:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()


def encode(*args: object) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def text(r: object) -> str:
    assert isinstance(r, hiredis.ReplyError), r
    return str(r)


@pytest.fixture()
def plain() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    p.stop()


@pytest.fixture()
def locked() -> Iterator[ServerProcess]:
    p = start_kaa()  # the start-up probe PINGs, so the password comes after
    c = Conn(p.port)
    assert c.call("CONFIG", "SET", "requirepass", "foobar") == b"OK"
    c.close()
    yield p
    p.stop()


def test_auth_without_password_configured(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    assert text(c.call("AUTH", "foo")) == (
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert text(c.call("AUTH", "a", "b", "c")) == "ERR syntax error"
    assert text(c.call("AUTH")) == "ERR wrong number of arguments for 'auth' command"
    # AUTH default <anything> works while the default user is nopass.
    assert c.call("AUTH", "default", "whatever") == b"OK"
    assert text(c.call("AUTH", "nosuchuser", "x")) == WRONGPASS


def test_requirepass(locked: ServerProcess) -> None:
    c = Conn(locked.port)
    assert text(c.call("SET", "foo", "bar")) == NOAUTH
    assert text(c.call("AUTH", "wrong!")) == WRONGPASS
    assert c.call("AUTH", "foobar") == b"OK"
    assert c.call("SET", "foo", "100") == b"OK"
    assert c.call("INCR", "foo") == 101
    assert c.call("ACL", "WHOAMI") == b"default"
    c.close()
    c = Conn(locked.port)
    assert text(c.call("PING")) == NOAUTH
    assert c.call("AUTH", "default", "foobar") == b"OK"
    c.close()


def test_no_auth_commands_still_work_unauthenticated(locked: ServerProcess) -> None:
    c = Conn(locked.port)
    hello = c.call("HELLO")
    assert text(hello) == (
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time")
    assert c.call("RESET") == b"RESET"
    assert c.call("QUIT") == b"OK"


def test_unauthenticated_protocol_limits(locked: ServerProcess) -> None:
    for payload, message in ((b"*100\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
                             (b"*1\r\n$100000000\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n")):
        with socket.create_connection(("127.0.0.1", locked.port), timeout=5) as s:
            s.sendall(payload)
            assert s.recv(200) == message
            assert s.recv(200) == b""  # and the connection is closed


def test_hello_auth(locked: ServerProcess) -> None:
    c = Conn(locked.port)
    assert text(c.call("HELLO", "3", "AUTH", "default", "nope")) == WRONGPASS
    assert text(c.call("GET", "x")) == NOAUTH
    r = c.call("HELLO", "3", "AUTH", "default", "foobar", "SETNAME", "me")
    assert isinstance(r, dict) and r[b"proto"] == 3
    assert c.call("CLIENT", "GETNAME") == b"me"
    c.close()


def test_hello_auth_chain_and_setname(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    c.call("ACL", "SETUSER", "secure-user1", ">supass", "on", "+@all")
    c.call("ACL", "SETUSER", "secure-user2", ">supass", "on", "+@all")
    r = c.call("HELLO", "2", "AUTH", "secure-user", "pass", "AUTH", "secure-user2", "supass",
               "AUTH", "secure-user1", "supass")
    assert isinstance(r, list)
    assert c.call("ACL", "WHOAMI") == b"secure-user1"
    assert text(c.call("HELLO", "2", "AUTH", "secure-user1", "supass", "AUTH", "secure-user1",
                       "wrong")) == WRONGPASS
    assert c.call("ACL", "WHOAMI") == b"secure-user1"
    c.call("CLIENT", "SETNAME", "client0")
    assert text(c.call("HELLO", "2", "AUTH", "user", "pass", "SETNAME", "client1")) == WRONGPASS
    assert c.call("CLIENT", "GETNAME") == b"client0"
    # Each SETNAME is validated as it is parsed, even one that a later SETNAME replaces.
    assert text(c.call("HELLO", "2", "SETNAME", "a b", "SETNAME", "ok")) == (
        "ERR Client names cannot contain spaces, newlines or special characters.")
    assert c.call("CLIENT", "GETNAME") == b"client0"
    c.call("HELLO", "2", "SETNAME", "c1", "SETNAME", "c4")
    assert c.call("CLIENT", "GETNAME") == b"c4"
    c.close()


def test_binary_password(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    assert c.call("CONFIG", "SET", "requirepass", b"abc\x00def") == b"OK"
    assert text(c.call("AUTH", "abc")) == WRONGPASS
    assert c.call("AUTH", b"abc\x00def") == b"OK"
    c.close()


def test_requirepass_is_the_default_users_password(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    c.call("CONFIG", "SET", "requirepass", "sec")
    assert c.call("ACL", "LIST") == [
        b"user default on sanitize-payload "
        b"#add93534eeb463800fe0ed0946048d33636dd2a014fab92e8a37f77ce98c740b ~* &* +@all"]
    assert c.call("CONFIG", "GET", "requirepass") == [b"requirepass", b"sec"]
    assert c.call("PING") == b"PONG"  # already-authenticated clients stay so
    other = Conn(plain.port)
    assert text(other.call("PING")) == NOAUTH
    # Clearing it makes the default user nopass again, and waiting clients may proceed.
    c.call("CONFIG", "SET", "requirepass", "")
    assert c.call("ACL", "LIST") == [b"user default on nopass sanitize-payload ~* &* +@all"]
    assert other.call("PING") == b"PONG"
    # ACL SETUSER on the default user works the same way.
    c.call("ACL", "SETUSER", "default", "resetpass", ">p2")
    assert text(Conn(plain.port).call("GET", "x")) == NOAUTH
    # 'other' never authenticated: it only ran commands while no password was needed.
    assert text(other.call("PING")) == NOAUTH
    assert c.call("PING") == b"PONG"  # connected while nopass: authenticated for good
    c.close()
    other.close()


def test_default_user_off(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    c.call("ACL", "SETUSER", "default", "off")
    try:
        n = Conn(plain.port)
        assert text(n.call("SELECT", "9")) == NOAUTH
        assert text(n.call("AUTH", "default", "x")) == WRONGPASS  # disabled users can't log in
        assert c.call("PING") == b"PONG"
    finally:
        c.call("ACL", "SETUSER", "default", "on")
    assert n.call("SELECT", "9") == b"OK"
    n.close()
    c.close()


def test_hello_when_default_user_has_no_commands(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    c.call("ACL", "SETUSER", "secure-user", ">supass", "on", "+@all")
    c.call("ACL", "SETUSER", "default", "-@all")
    assert isinstance(c.call("HELLO", "2", "AUTH", "secure-user", "supass"), list)
    c.call("ACL", "SETUSER", "default", "nopass", "+@all")
    c.close()


def test_reset_goes_back_to_the_default_user(locked: ServerProcess) -> None:
    c = Conn(locked.port)
    c.call("AUTH", "foobar")
    c.call("ACL", "SETUSER", "u", "on", ">p", "+@all")
    c.call("AUTH", "u", "p")
    assert c.call("ACL", "WHOAMI") == b"u"
    assert c.call("RESET") == b"RESET"
    assert text(c.call("ACL", "WHOAMI")) == NOAUTH
    c.close()


def test_credentials_are_redacted(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    c.call("ACL", "SETUSER", "u", "on", ">secret1", "+@all")
    mon = Conn(plain.port)
    assert mon.call("MONITOR") == b"OK"
    c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
    c.call("AUTH", "u", "secret1")
    c.call("AUTH", "u", "secret2")
    c.call("HELLO", "2", "AUTH", "u", "secret3")
    line = mon.read()
    assert line.endswith(b'"AUTH" "(redacted)" "(redacted)"'), line
    assert b"secret" not in mon.read() + mon.read()
    log = repr(c.call("SLOWLOG", "GET", "10"))
    assert "secret" not in log and "(redacted)" in log
    mon.close()
    c.close()


def test_brute_force_is_logged_and_survived(plain: ServerProcess) -> None:
    c = Conn(plain.port)
    c.call("ACL", "SETUSER", "victim", "on", ">correct-horse", "+@all")
    c.call("ACL", "LOG", "RESET")
    attacker = Conn(plain.port)
    n = 10_000
    batch = encode("AUTH", "victim", "guess") * 500
    t0 = time.time()
    got = 0
    for _ in range(n // 500):
        attacker.sock.sendall(batch)
        # Meanwhile a legitimate client is served promptly.
        t1 = time.time()
        assert c.call("PING") == b"PONG"
        assert time.time() - t1 < 2.0
        for _ in range(500):
            assert text(attacker.read()) == WRONGPASS
            got += 1
    assert got == n
    assert time.time() - t0 < 60
    entries = c.call("ACL", "LOG")
    assert len(entries) == 1
    e = dict(zip(entries[0][::2], entries[0][1::2], strict=True))
    assert (e[b"count"], e[b"reason"], e[b"object"], e[b"username"]) == (
        n, b"auth", b"AUTH", b"victim")
    stats = c.call("INFO", "stats")
    assert b"acl_access_denied_auth:%d\r\n" % n in stats
    assert attacker.call("AUTH", "victim", "correct-horse") == b"OK"
    attacker.close()
    c.close()
