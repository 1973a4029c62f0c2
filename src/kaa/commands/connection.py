"""Connection commands: PING ECHO QUIT RESET SELECT AUTH HELLO."""

from __future__ import annotations

from typing import Any

from kaa import VALKEY_VERSION
from kaa.commands.args import parse_db_index, parse_int_or_none
from kaa.commands.registry import command, wrong_arity
from kaa.protocol.reply import OK, PONG, Raw, ReplyError

_PONG_BULK = b"pong"


@command("ping", -1, "fast sentinel", "connection", group="connection", since="1.0.0",
         summary="Returns the server's liveliness response.")
def ping(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise wrong_arity("ping")
    if c.resp == 2 and (c.subscriptions or c.psubscriptions or c.ssubscriptions):
        return [_PONG_BULK, argv[1] if len(argv) == 2 else b""]
    if len(argv) == 2:
        return argv[1]
    return PONG


@command("echo", 2, "fast", "connection", group="connection", since="1.0.0",
         summary="Returns the given string.")
def echo(c: Any, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1, "allow_busy noscript loading stale fast no_auth", "connection",
         group="connection", since="1.0.0", summary="Closes the connection.",
         deprecated_since="7.2.0", doc_flags=("deprecated",))
def quit_(c: Any, argv: list[bytes]) -> Any:
    c.close_after_reply = True
    return OK


@command("select", 2, "loading stale fast", "connection", group="connection", since="1.0.0",
         summary="Changes the selected database.")
def select(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    if srv.config.cluster_enabled:
        raise ReplyError("ERR SELECT is not allowed in cluster mode")
    idx = parse_db_index(argv[1], len(srv.keyspace.dbs))
    c.db = srv.keyspace.dbs[idx]
    return OK


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", "connection",
         group="connection", since="1.0.0", summary="Authenticates the connection.")
def auth(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise ReplyError("ERR syntax error")
    if len(argv) == 2:
        user, password = b"default", argv[1]
        if not c.server.default_user_has_password():
            raise ReplyError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
    else:
        user, password = argv[1], argv[2]
    c.server.authenticate(c, user, password)
    return OK


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", "connection",
         group="connection", since="6.2.0", summary="Resets the connection.")
def reset(c: Any, argv: list[bytes]) -> Any:
    c.server.reset_client(c)
    return _RESET


_RESET = Raw(b"+RESET\r\n")


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", "connection",
         group="connection", since="6.0.0",
         summary="Handshakes with the server.")
def hello(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    ver = 0
    i = 1
    if len(argv) >= 2:
        v = parse_int_or_none(argv[1])
        if v is None:
            raise ReplyError("ERR Protocol version is not an integer or out of range")
        ver = v
        i = 2
        if ver < 2 or ver > 3:
            raise ReplyError("NOPROTO unsupported protocol version")
    user = password = name = None
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - i - 1
        if opt == b"auth" and more >= 2:
            user, password = argv[i + 1], argv[i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            name = argv[i + 1]
            i += 2
        else:
            raise ReplyError(f"ERR Syntax error in HELLO option '{argv[i].decode('utf-8', 'replace')}'")
    if user is not None and password is not None:
        srv.authenticate(c, user, password)
    if not c.authenticated:
        raise ReplyError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
    if name is not None:
        srv.validate_client_name(name)
        c.name = name
    if ver:
        c.set_resp(ver)
    return {
        b"server": b"valkey",
        b"version": VALKEY_VERSION.encode(),
        b"proto": c.resp,
        b"id": c.id,
        b"mode": b"cluster" if srv.config.cluster_enabled else b"standalone",
        b"role": b"replica" if srv.role == "S" else b"master",
        b"modules": [],
    }
