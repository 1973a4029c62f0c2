"""Connection commands: PING ECHO QUIT RESET SELECT AUTH HELLO."""

from __future__ import annotations

from typing import Any

from kaa import VALKEY_VERSION
from kaa.commands.args import REDACTED, parse_db_index, parse_int_or_none
from kaa.commands.registry import command, wrong_arity
from kaa.commands.server_cmds import arg
from kaa.protocol.reply import OK, PONG, Raw, ReplyError
from kaa.server.info import REDIS_COMPAT_VERSION

_PONG_BULK = b"pong"


@command("ping", -1, "fast sentinel", "connection", group="connection", since="1.0.0",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"), complexity="O(1)",
         arguments=(arg("message", "string", optional=True),),
         summary="Returns the server's liveliness response.")
def ping(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise wrong_arity("ping")
    if c.resp == 2 and (c.subscriptions or c.psubscriptions or c.ssubscriptions):
        return [_PONG_BULK, argv[1] if len(argv) == 2 else b""]
    if len(argv) == 2:
        return argv[1]
    return PONG


@command("echo", 2, "fast loading stale", "connection", group="connection", since="1.0.0",
         complexity="O(1)", arguments=(arg("message", "string"),),
         summary="Returns the given string.")
def echo(c: Any, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1, "allow_busy noscript loading stale fast no_auth", "connection",
         group="connection", since="1.0.0", summary="Closes the connection.",
         deprecated_since="7.2.0", doc_flags=("deprecated",), complexity="O(1)",
         replaced_by="just closing the connection")
def quit_(c: Any, argv: list[bytes]) -> Any:
    c.close_after_reply = True
    return OK


@command("select", 2, "loading stale fast", "connection", group="connection", since="1.0.0",
         complexity="O(1)", arguments=(arg("index", "integer"),),
         summary="Changes the selected database.")
def select(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    if srv.config.cluster_enabled:
        raise ReplyError("ERR SELECT is not allowed in cluster mode")
    idx = parse_db_index(argv[1], len(srv.keyspace.dbs))
    c.db = srv.keyspace.dbs[idx]
    return OK


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", "connection",
         group="connection", since="1.0.0", summary="Authenticates the connection.",
         complexity="O(N) where N is the number of passwords defined for the user",
         history=(("6.0.0", "Added ACL style (username and password)."),),
         arguments=(arg("username", "string", optional=True, since="6.0.0"),
                    arg("password", "string")))
def auth(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise ReplyError("ERR syntax error")
    if len(argv) == 2:
        user, password = b"default", argv[1]
        argv[1] = REDACTED  # SLOWLOG and MONITOR never see credentials
        if not c.server.default_user_has_password():
            raise ReplyError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
    else:
        user, password = argv[1], argv[2]
        argv[1] = argv[2] = REDACTED
    c.server.authenticate(c, user, password)
    return OK




@command("reset", 1, "noscript loading stale fast no_auth allow_busy", "connection",
         group="connection", since="6.2.0", summary="Resets the connection.", complexity="O(1)")
def reset(c: Any, argv: list[bytes]) -> Any:
    c.server.reset_client(c)
    return _RESET


_RESET = Raw(b"+RESET\r\n")


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", "connection",
         group="connection", since="6.0.0", complexity="O(1)",
         history=(("6.2.0", "`protover` made optional; when called without arguments the command "
                            "reports the current connection's context."),),
         arguments=(arg("arguments", "block", optional=True, args=(
             arg("protover", "integer"),
             arg("auth", "block", token="AUTH", optional=True, args=(
                 arg("username", "string"), arg("password", "string"))),
             arg("clientname", "string", token="SETNAME", optional=True))),),
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
            argv[i + 1] = argv[i + 2] = REDACTED
            i += 3
        elif opt == b"setname" and more >= 1:
            name = argv[i + 1]
            srv.validate_client_name(name)  # each SETNAME is checked as it is parsed
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
        c.name = name
    if ver:
        c.set_resp(ver)
    compat = srv.config.extended_redis_compatibility  # Valkey 8: pose as Redis 7.2
    return {
        b"server": b"redis" if compat else b"valkey",
        b"version": (REDIS_COMPAT_VERSION if compat else VALKEY_VERSION).encode(),
        b"proto": c.resp,
        b"id": c.id,
        b"mode": b"cluster" if srv.config.cluster_enabled else b"standalone",
        b"role": b"replica" if srv.role == "S" else b"master",
        b"modules": [],
    }
