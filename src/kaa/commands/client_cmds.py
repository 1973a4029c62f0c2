"""CLIENT: connection introspection and control (networking.c's clientCommand).

CLIENT PAUSE is implemented by a gate (``Server.gates``) that postpones the commands
a pause forbids: the client's argv goes back to the front of its ``pending`` queue,
the client is marked ``paused`` and waits in ``Server.paused_clients`` until
``Server.unpause`` (CLIENT UNPAUSE, or the cron when the pause times out).
While a pause is active keys are neither expired actively nor deleted on access,
as Valkey pauses expiry together with writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kaa.commands.args import ERR_SYNTAX, parse_int_or_none
from kaa.commands.registry import Command, subcommand
from kaa.commands.server_cmds import arg, declare_container, help_reply, syntax_error_for
from kaa.protocol.reply import OK, ReplyError, Verbatim

if TYPE_CHECKING:
    from kaa.server.server import Server

declare_container("client", -2, group="connection", since="2.4.0", complexity="Depends on subcommand.",
          summary="A container for client connection commands.")

# Commands whose write-ness depends on their arguments (EVAL with a ``no-writes``
# shebang, FCALL of a read-only function): name -> fn(client, argv) -> may it write?
# The scripting layer registers here; without an entry the command's flags decide.
MAY_WRITE_CHECKS: dict[str, Callable[[Any, list[bytes]], bool]] = {}

_CLIENT_TYPES = {"normal": "normal", "slave": "replica", "replica": "replica",
                 "pubsub": "pubsub", "master": "master", "primary": "master"}


def _no_reply() -> Any:
    from kaa.server.client import NO_REPLY

    return NO_REPLY


# ---- CLIENT LIST / INFO ---------------------------------------------------------------

def client_type(c: Any) -> str:
    """Valkey's getClientType: master, replica (not monitors), pubsub or normal."""
    if c.is_master:
        return "master"
    if c.is_replica and not c.monitor:
        return "replica"
    if c.subscriptions or c.psubscriptions or c.ssubscriptions or c.kind == "pubsub":
        return "pubsub"
    return "normal"


def client_flags(c: Any) -> str:
    f = []
    if c.monitor:
        f.append("O")
    elif c.is_replica:
        f.append("S")
    if c.is_master:
        f.append("M")
    if c.subscriptions or c.psubscriptions or c.ssubscriptions:
        f.append("P")
    if c.multi is not None:
        f.append("x")
    if c.blocked or c.paused:
        f.append("b")
    tr = c.tracking
    if tr:
        f.append("t")
        if getattr(tr, "broken_redirect", False):
            f.append("R")
        if getattr(tr, "bcast", False):
            f.append("B")
    if getattr(c, "dirty_cas", False):
        f.append("d")
    if c.close_after_reply:
        f.append("c")
    if c.killed:
        f.append("A")
    if c.unix:
        f.append("U")
    if "r" in c.flags:
        f.append("r")
    if c.no_evict:
        f.append("e")
    if c.no_touch:
        f.append("T")
    return "".join(f) or "N"


def _multi_mem(c: Any) -> int:
    if not c.multi:
        return 0
    return sum(len(a) for _, argv in c.multi for a in argv)


def client_info_line(c: Any, now: float, current_cmd: str | None = None) -> str:
    """One CLIENT LIST line, fields in Valkey 8's order (no trailing newline)."""
    parser = c.parser
    qbuf = parser.pending_bytes()
    # the modelled private query buffer (0 while the client reads into the shared one)
    qsize = max(parser.query_buffer_size(), qbuf)
    # Valkey's 16 KB static reply buffer (obl), then the reply list (oll/omem); Kaa's
    # pending output is what the transport has not sent plus unflushed replies.
    from kaa.server.obuf import pending_bytes

    pend = pending_bytes(c)
    obuf = min(pend, 16384)
    omem = pend - obuf
    oll = -(-omem // 16384)
    argv_mem = c.argv_mem
    multi_mem = _multi_mem(c)
    tot_mem = 1024 + qsize + pend + argv_mem + multi_mem + 20_000
    tr = c.tracking
    redir = getattr(tr, "redirect", -1) if tr else -1
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} "
        f"name={c.name.decode('utf-8', 'replace')} "
        f"age={int(now - c.ctime)} idle={int(now - c.last_interaction)} flags={client_flags(c)} "
        f"db={c.db.id} sub={len(c.subscriptions)} psub={len(c.psubscriptions)} "
        f"ssub={len(c.ssubscriptions)} multi={len(c.multi) if c.multi is not None else -1} "
        f"watch={len(c.watched) if c.watched else 0} qbuf={qbuf} qbuf-free={qsize - qbuf} "
        f"argv-mem={argv_mem} multi-mem={multi_mem} rbs=1024 rbp={min(1024, obuf) if obuf else 0} "
        f"obl={obuf} oll={oll} omem={omem} tot-mem={tot_mem} events=r "
        f"cmd={current_cmd or c.last_cmd} user={c.user} redir={redir} resp={c.resp} "
        f"lib-name={c.lib_name.decode('utf-8', 'replace')} lib-ver={c.lib_ver.decode('utf-8', 'replace')} "
        f"tot-net-in={c.tot_net_in} tot-net-out={c.tot_net_out} tot-cmds={c.tot_cmds}"
    )


def _fullname(argv: list[bytes]) -> str:
    return "client|" + argv[1].decode("utf-8", "replace").lower()


@subcommand("client", "list", -2, "admin noscript loading stale", "connection", since="2.4.0",
            summary="Lists open connections.",
            complexity="O(N) where N is the number of client connections",
            history=(("2.8.12", "Added unique client `id` field."), ("5.0.0", "Added optional `TYPE` filter."),
                     ("6.0.0", "Added `user` field."),
                     ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
                     ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."), ("7.0.3", "Added `ssub` field."),
                     ("8.0.0", "Replaced `master` `TYPE` with `primary`. `master` still supported for backward compatibility.")),
            tips=("nondeterministic_output",),
            arguments=(arg("client-type", "oneof", token="TYPE", since="5.0.0", optional=True, args=(
                arg("normal", "pure-token", token="NORMAL"), arg("master", "pure-token", token="MASTER"),
                arg("replica", "pure-token", token="REPLICA"), arg("pubsub", "pure-token", token="PUBSUB"))),
                arg("client-id", "integer", token="ID", since="6.2.0", optional=True, multiple=True)))
def client_list(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    now = time.time()
    me = _fullname(argv)
    targets: list[Any]
    if len(argv) == 4 and argv[2].lower() == b"type":
        want = _CLIENT_TYPES.get(argv[3].decode("utf-8", "replace").lower())
        if want is None:
            raise ReplyError(f"ERR Unknown client type '{argv[3].decode('utf-8', 'replace')}'")
        targets = [x for x in srv.clients.values() if client_type(x) == want]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        targets = []
        for a in argv[3:]:
            cid = parse_int_or_none(a)
            if cid is None:
                raise ReplyError("ERR Invalid client ID")
            x = srv.clients.get(cid)
            if x is not None:
                targets.append(x)
    elif len(argv) != 2:
        raise ERR_SYNTAX
    else:
        targets = list(srv.clients.values())
    text = "".join(client_info_line(x, now, me if x is c else None) + "\n" for x in targets)
    return Verbatim(text.encode("utf-8", "surrogateescape"))


@subcommand("client", "info", 2, "noscript loading stale", "connection", since="6.2.0",
            summary="Returns information about the connection.", complexity="O(1)",
            tips=("nondeterministic_output",))
def client_info(c: Any, argv: list[bytes]) -> Any:
    line = client_info_line(c, time.time(), _fullname(argv)) + "\n"
    return Verbatim(line.encode("utf-8", "surrogateescape"))


# ---- identity ----------------------------------------------------------------------------

@subcommand("client", "id", 2, "noscript loading stale", "connection", since="5.0.0",
            summary="Returns the unique client ID of the connection.", complexity="O(1)")
def client_id(c: Any, argv: list[bytes]) -> Any:
    return c.id


@subcommand("client", "setname", 3, "noscript loading stale", "connection", since="2.6.9",
            summary="Sets the connection name.", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            arguments=(arg("connection-name", "string"),))
def client_setname(c: Any, argv: list[bytes]) -> Any:
    name = argv[2]
    c.server.validate_client_name(name)
    c.name = name
    return OK


@subcommand("client", "getname", 2, "noscript loading stale", "connection", since="2.6.9",
            summary="Returns the name of the connection.", complexity="O(1)")
def client_getname(c: Any, argv: list[bytes]) -> Any:
    return c.name or None


@subcommand("client", "setinfo", 4, "noscript loading stale", "connection", since="7.2.0",
            summary="Sets information specific to the client or connection.", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            arguments=(arg("attr", "oneof", args=(arg("libname", "string", token="LIB-NAME"),
                                                   arg("libver", "string", token="LIB-VER"))),))
def client_setinfo(c: Any, argv: list[bytes]) -> Any:
    attr = argv[2].lower()
    if attr not in (b"lib-name", b"lib-ver"):
        raise ReplyError(f"ERR Unrecognized option '{argv[2].decode('utf-8', 'replace')}'")
    val = argv[3]
    for ch in val:
        if ch < 33 or ch > 126:
            raise ReplyError(
                f"ERR {attr.decode()} cannot contain spaces, newlines or special characters."
            )
    if attr == b"lib-name":
        c.lib_name = val
    else:
        c.lib_ver = val
    return OK


# ---- KILL --------------------------------------------------------------------------------

@subcommand("client", "kill", -3, "admin noscript loading stale", "connection", since="2.4.0",
            summary="Terminates open connections.",
            complexity="O(N) where N is the number of client connections",
            history=(("2.8.12", "Added new filter format."), ("2.8.12", "`ID` option."),
                     ("3.2.0", "Added `master` type in for `TYPE` option."),
                     ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
                     ("6.2.0", "`LADDR` option."), ("8.0.0", "`MAXAGE` option."),
                     ("8.0.0", "Replaced `master` `TYPE` with `primary`. `master` still supported for backward compatibility.")),
            arguments=(arg("filter", "oneof", args=(
                arg("old-format", "string", display="ip:port", deprecated_since="2.8.12"),
                arg("new-format", "oneof", multiple=True, args=(
                    arg("client-id", "integer", token="ID", since="2.8.12", optional=True),
                    arg("client-type", "oneof", token="TYPE", since="2.8.12", optional=True, args=(
                        arg("normal", "pure-token", token="NORMAL"),
                        arg("master", "pure-token", token="MASTER", since="3.2.0"),
                        arg("primary", "pure-token", token="PRIMARY", since="8.0.0"),
                        arg("slave", "pure-token", token="SLAVE"),
                        arg("replica", "pure-token", token="REPLICA", since="5.0.0"),
                        arg("pubsub", "pure-token", token="PUBSUB"))),
                    arg("username", "string", token="USER", optional=True),
                    arg("addr", "string", display="ip:port", token="ADDR", optional=True),
                    arg("laddr", "string", display="ip:port", token="LADDR", since="6.2.0", optional=True),
                    arg("skipme", "oneof", token="SKIPME", optional=True, args=(
                        arg("yes", "pure-token", token="YES"), arg("no", "pure-token", token="NO"))),
                    arg("maxage", "integer", token="MAXAGE", since="8.0.0", optional=True))))),))
def client_kill(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    addr = laddr = user = None
    ctype: str | None = None
    cid = 0
    max_age = 0
    skipme = True
    old_form = len(argv) == 3
    if old_form:
        addr = argv[2].decode("utf-8", "replace")
        skipme = False
    else:
        i = 2
        n = len(argv)
        while i < n:
            opt = argv[i].lower()
            if i + 1 >= n:
                raise ERR_SYNTAX
            val = argv[i + 1]
            if opt == b"id":
                v = parse_int_or_none(val)
                if v is None or v < 1:
                    raise ReplyError("ERR client-id should be greater than 0")
                cid = v
            elif opt == b"maxage":
                v = parse_int_or_none(val)
                if v is None:
                    raise ReplyError("ERR maxage is not an integer or out of range")
                if v <= 0:
                    raise ReplyError("ERR maxage should be greater than 0")
                max_age = v
            elif opt == b"type":
                ctype = _CLIENT_TYPES.get(val.decode("utf-8", "replace").lower())
                if ctype is None:
                    raise ReplyError(f"ERR Unknown client type '{val.decode('utf-8', 'replace')}'")
            elif opt == b"addr":
                addr = val.decode("utf-8", "replace")
            elif opt == b"laddr":
                laddr = val.decode("utf-8", "replace")
            elif opt == b"user":
                user = val.decode("utf-8", "replace")
                exists = getattr(srv, "user_exists", None)
                if not (exists(user) if exists is not None else user == "default"):
                    raise ReplyError(f"ERR No such user '{user}'")
            elif opt == b"skipme":
                low = val.lower()
                if low == b"yes":
                    skipme = True
                elif low == b"no":
                    skipme = False
                else:
                    raise ERR_SYNTAX
            else:
                raise ERR_SYNTAX
            i += 2
    now = time.time()
    killed = 0
    close_me = False
    for x in list(srv.clients.values()):
        if addr is not None and x.addr != addr:
            continue
        if laddr is not None and x.laddr != laddr:
            continue
        if ctype is not None and client_type(x) != ctype:
            continue
        if cid and x.id != cid:
            continue
        if user is not None and x.user != user:
            continue
        if x is c and skipme:
            continue
        if max_age and now - x.ctime < max_age:
            continue
        if x is c:
            close_me = True
        else:
            kill_client(srv, x)
        killed += 1
    if close_me:
        c.close_after_reply = True
    if old_form:
        if not killed:
            raise ReplyError("ERR No such client")
        return OK
    return killed


def kill_client(srv: Server, x: Any) -> None:
    """Close another client's connection now (its queued replies are dropped)."""
    x.killed = True
    x.out.clear()
    x.pending.clear()
    x.close()
    srv.client_disconnected(x)


@subcommand("client", "capa", -3, "noscript loading stale", "connection", since="8.0.0",
            summary="A client claims its capability.", complexity="O(1)",
            arguments=(arg("capability", "string", multiple=True),))
def client_capa(c: Any, argv: list[bytes]) -> Any:
    # REDIRECT (replica -> primary redirects) is the only capability Valkey knows and
    # Kaa has no redirects yet; unknown capabilities are ignored, as in Valkey.
    return OK


# ---- REPLY, NO-EVICT, NO-TOUCH ---------------------------------------------------------

@subcommand("client", "reply", 3, "noscript loading stale", "connection", since="3.2.0",
            summary="Instructs the server whether to reply to commands.", complexity="O(1)",
            arguments=(arg("action", "oneof", args=(arg("on", "pure-token", token="ON"),
                                                     arg("off", "pure-token", token="OFF"),
                                                     arg("skip", "pure-token", token="SKIP"))),))
def client_reply(c: Any, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = 0
        return OK
    if mode == b"off":
        c.reply_mode = 1
        return _no_reply()
    if mode == b"skip":
        if c.reply_mode != 1:
            c.reply_mode = 2
        return _no_reply()
    raise ERR_SYNTAX


def _on_off(v: bytes) -> bool:
    low = v.lower()
    if low == b"on":
        return True
    if low == b"off":
        return False
    raise ERR_SYNTAX


@subcommand("client", "no-evict", 3, "admin noscript loading stale", "connection", since="7.0.0",
            summary="Sets the client eviction mode of the connection.", complexity="O(1)",
            arguments=(arg("enabled", "oneof", args=(arg("on", "pure-token", token="ON"),
                                                      arg("off", "pure-token", token="OFF"))),))
def client_no_evict(c: Any, argv: list[bytes]) -> Any:
    c.no_evict = _on_off(argv[2])
    return OK


@subcommand("client", "no-touch", 3, "noscript loading stale", "connection", since="7.2.0",
            summary="Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            complexity="O(1)",
            arguments=(arg("enabled", "oneof", args=(arg("on", "pure-token", token="ON"),
                                                      arg("off", "pure-token", token="OFF"))),))
def client_no_touch(c: Any, argv: list[bytes]) -> Any:
    c.no_touch = _on_off(argv[2])
    srv = c.server
    if c.no_touch and _no_touch_gate not in srv.gates:
        srv.gates.append(_no_touch_gate)
        srv.refresh_gate()
    return OK


def _no_touch_gate(c: Any, cmd: Command, argv: list[bytes]) -> ReplyError | None:
    """Tell the keyspace whether this command's lookups count as accesses.

    Installed once some client turns NO-TOUCH on; TOUCH always touches."""
    c.server.keyspace.set_no_touch(c.no_touch and cmd.name != "touch")
    return None


# ---- PAUSE / UNPAUSE -----------------------------------------------------------------------

def _may_write(c: Any, cmd: Command, argv: list[bytes]) -> bool:
    check = MAY_WRITE_CHECKS.get(cmd.name)
    if check is not None:
        return check(c, argv)
    return cmd.is_write or "may_replicate" in cmd.flags


def _exec_may_write(c: Any) -> bool:
    return any(_may_write(c, qc, qa) for qc, qa in c.multi or ())


def pause_gate(c: Any, cmd: Command, argv: list[bytes]) -> ReplyError | None:
    """Postpone the commands an active CLIENT PAUSE forbids (replicas are never paused)."""
    srv = c.server
    until = srv.pause_until
    if not until or time.time() >= until:
        end_pause(srv)
        return None
    if c.is_replica:
        return None
    if not srv.pause_all:
        if cmd.name == "exec" and cmd.parent is None:
            if not _exec_may_write(c):
                return None
        elif not _may_write(c, cmd, argv):
            return None
    from kaa.server.client import POSTPONED

    c.pending.appendleft(argv)
    if not c.paused:
        c.paused = True
        srv.paused_clients.append(c)
    return POSTPONED


def start_pause(srv: Server, end: float, all_: bool) -> None:
    """Pause (or extend a pause) until ``end`` (epoch seconds); ALL wins over WRITE."""
    now = time.time()
    active = bool(srv.pause_until) and srv.pause_until > now
    srv.pause_all = all_ or (active and srv.pause_all)
    if end > srv.pause_until:
        srv.pause_until = end
    if srv.pause_until <= now:
        end_pause(srv)
        return
    srv.keyspace.expire_paused = True  # keys read as expired but stay until the pause ends
    if pause_gate not in srv.gates:
        srv.gates.append(pause_gate)
        srv.refresh_gate()
    if _pause_cron not in srv.cron_hooks:
        srv.cron_hooks.append(_pause_cron)


def _pause_cron(srv: Server) -> None:
    # The cron lifts a timed-out pause (Server.unpause); finish the job here.
    if not is_paused(srv):
        end_pause(srv)


def end_pause(srv: Server) -> None:
    """Lift the pause: undo its side effects and run the postponed commands."""
    srv.keyspace.expire_paused = False
    if pause_gate in srv.gates:
        srv.gates.remove(pause_gate)
        srv.refresh_gate()
    if _pause_cron in srv.cron_hooks:
        srv.cron_hooks.remove(_pause_cron)
    if srv.pause_until or srv.paused_clients:
        srv.unpause()


def is_paused(srv: Server) -> bool:
    """True while a CLIENT PAUSE is in force (active expiry checks this)."""
    return bool(srv.pause_until) and time.time() < srv.pause_until


@subcommand("client", "pause", -3, "admin noscript loading stale", "connection", since="3.0.0",
            summary="Suspends commands processing.", complexity="O(1)",
            history=(("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),),
            arguments=(arg("timeout", "integer"),
                       arg("mode", "oneof", since="6.2.0", optional=True,
                           args=(arg("write", "pure-token", token="WRITE"),
                                 arg("all", "pure-token", token="ALL")))))
def client_pause(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise syntax_error_for(argv)
    all_ = True
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            all_ = False
        elif mode != b"all":
            raise ReplyError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_int_or_none(argv[2])
    if ms is None:
        raise ReplyError("ERR timeout is not an integer or out of range")
    if ms < 0:
        raise ReplyError("ERR timeout is negative")
    now_ms = time.time() * 1000
    if ms > (1 << 63) - 1 - now_ms:
        raise ReplyError("ERR timeout is out of range")
    end = (now_ms + ms) / 1000 if ms > 0 else 0.0
    start_pause(c.server, end, all_)
    return OK


@subcommand("client", "unpause", 2, "admin noscript loading stale", "connection", since="6.2.0",
            summary="Resumes processing commands from paused clients.",
            complexity="O(N) Where N is the number of paused clients")
def client_unpause(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    srv.pause_until = 0.0
    srv.pause_all = False
    end_pause(srv)
    return OK


# ---- HELP --------------------------------------------------------------------------------

_CLIENT_HELP = (
    "CACHING (YES|NO)",
    "    With tracking in OPTIN/OPTOUT mode, track (or not) the keys of the next command.",
    "CAPA <option> [options...]",
    "    Declare client capabilities. Known: REDIRECT.",
    "GETREDIR",
    "    Return the id of the client tracking notifications are redirected to.",
    "GETNAME",
    "    Return the name of this connection.",
    "ID",
    "    Return the id of this connection.",
    "INFO",
    "    Return information about this connection.",
    "KILL <ip:port>",
    "    Close the connection coming from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close every connection matching all the filters:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      peer address.",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      local address the connection was made to.",
    "    * TYPE (NORMAL|PRIMARY|REPLICA|PUBSUB)",
    "      connection type.",
    "    * USER <username>",
    "      authenticated user.",
    "    * SKIPME (YES|NO)",
    "      leave this connection alone (default: yes).",
    "    * ID <client-id>",
    "      connection id.",
    "    * MAXAGE <maxage>",
    "      connections older than <maxage> seconds.",
    "LIST [options ...]",
    "    List the connections. Options:",
    "    * TYPE (NORMAL|PRIMARY|REPLICA|PUBSUB)",
    "      only connections of this type.",
    "    * ID <client-id> [<client-id> ...]",
    "      only these connections.",
    "UNPAUSE",
    "    End a CLIENT PAUSE now.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Hold the commands of all clients (or only writes) for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Turn the replies to this connection on or off, or skip the next one.",
    "SETNAME <name>",
    "    Name this connection.",
    "SETINFO <option> <value>",
    "    Record client library details: LIB-NAME or LIB-VER.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock a client blocked in a blocking command.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Turn server-assisted client side caching on or off.",
    "TRACKINGINFO",
    "    Return the tracking state of this connection.",
    "NO-EVICT (ON|OFF)",
    "    Exempt this connection from client eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Keep the commands of this connection from touching keys' LRU/LFU.",
)


@subcommand("client", "help", 2, "loading stale", "connection", since="5.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def client_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _CLIENT_HELP)
