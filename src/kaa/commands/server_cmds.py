"""Server and introspection commands: INFO CONFIG COMMAND TIME SHUTDOWN LOLWUT SLOWLOG MONITOR.

COMMAND INFO/DOCS/LIST/GETKEYS are generated from the declarations in ``registry``.
``install_config_hooks`` wires the configuration parameters that must take effect
on a running server (slowlog threshold, bulk limit, keyspace events, port/bind).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kaa import VALKEY_VERSION
from kaa.commands.args import ERR_SYNTAX, REDACTED, parse_int_or_none
from kaa.commands.registry import (
    ACL_CATEGORIES,
    Command,
    command,
    container,
    subcommand,
    wrong_arity,
)
from kaa.engine.glob import glob_match
from kaa.protocol.reply import OK, MapPairs, Raw, ReplyError, Verbatim
from kaa.security.keyspecs import eval_specs
from kaa.server import info as info_mod
from kaa.server.config import SENSITIVE, ConfigError, ConfigLoadingError, lookup_param

if TYPE_CHECKING:
    from kaa.server.server import Server

NO_REPLY: Any = None  # bound lazily to kaa.server.client.NO_REPLY (avoids an import cycle)


def _no_reply() -> Any:
    global NO_REPLY
    if NO_REPLY is None:
        from kaa.server.client import NO_REPLY as nr

        NO_REPLY = nr
    return NO_REPLY


# ---- shared helpers ----------------------------------------------------------------------

def help_reply(argv0: bytes, lines: Sequence[str]) -> list[str]:
    """A HELP reply in Valkey's layout: a heading, the given lines, then HELP itself."""
    name = argv0.decode("utf-8", "replace").upper()
    return [f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", *lines,
            "HELP", "    Print this help."]


def syntax_error_for(argv: list[bytes]) -> ReplyError:
    """Valkey's addReplySubcommandSyntaxError text."""
    sub = argv[1].decode("utf-8", "replace")[:128] if len(argv) > 1 else ""
    return ReplyError(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. "
        f"Try {argv[0].decode('utf-8', 'replace').upper()} HELP."
    )


def ordered_set(c: Any, items: Iterable[Any]) -> Raw:
    """A RESP3 set (RESP2 array) that keeps the given order, as Valkey emits flag sets."""
    enc = c.enc
    body = [enc(x) for x in items]
    head = b"~%d\r\n" % len(body) if c.resp == 3 else b"*%d\r\n" % len(body)
    return Raw(head + b"".join(body))


def is_local_client(c: Any) -> bool:
    """Unix socket or loopback peer (enable-*-command local, protected configs)."""
    if c.unix:
        return True
    host = c.addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host == "::1" or host.startswith("::ffff:127.")


def arg(name: str, type_: str, *, token: str | None = None, optional: bool = False,
        multiple: bool = False, multiple_token: bool = False, since: str | None = None,
        display: str | None = None, deprecated_since: str | None = None,
        args: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One COMMAND DOCS argument description (Valkey's serverCommandArg)."""
    d: dict[str, Any] = {"name": name, "type": type_}
    if display is not None:
        d["display_text"] = display
    if token is not None:
        d["token"] = token
    if since is not None:
        d["since"] = since
    if deprecated_since is not None:
        d["deprecated_since"] = deprecated_since
    flags = tuple(f for f, on in (("optional", optional), ("multiple", multiple),
                                  ("multiple_token", multiple_token)) if on)
    if flags:
        d["flags"] = flags
    if args:
        d["arguments"] = tuple(args)
    return d


def declare_container(name: str, arity: int, **kw: Any) -> Command:
    """container() that also fills in the docs when another module created it first."""
    cmd = container(name, arity, **kw)
    for k, v in kw.items():
        setattr(cmd, k, v)
    return cmd


# ---- INFO -----------------------------------------------------------------------------------

@command("info", -1, "loading stale", "dangerous", group="server", since="1.0.0",
         summary="Returns information and statistics about the server.", complexity="O(1)",
         history=(("7.0.0", "Added support for taking multiple section arguments."),),
         tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
         arguments=(arg("section", "string", optional=True, multiple=True),))
def info(c: Any, argv: list[bytes]) -> Any:
    return Verbatim(info_mod.render(c.server, argv[1:]).encode("utf-8", "surrogateescape"))


# ---- CONFIG ---------------------------------------------------------------------------------

declare_container("config", -2, group="server", since="2.0.0", complexity="Depends on subcommand.",
          summary="A container for server configuration commands.")

_CONFIG_HELP = (
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
)


@subcommand("config", "get", -3, "admin noscript loading stale", group="server", since="2.0.0",
            summary="Returns the effective values of configuration parameters.",
            complexity="O(N) when N is the number of configuration parameters provided",
            history=(("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),),
            arguments=(arg("parameter", "string", multiple=True),))
def config_get(c: Any, argv: list[bytes]) -> Any:
    pats = [a.decode("utf-8", "surrogateescape") for a in argv[2:]]
    return MapPairs((k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                    for k, v in c.server.config.match(pats))


@subcommand("config", "set", -4, "admin noscript loading stale", group="server", since="2.0.0",
            summary="Sets configuration parameters in-flight.",
            complexity="O(N) when N is the number of configuration parameters provided",
            history=(("7.0.0", "Added the ability to set multiple parameters in one call."),),
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            arguments=(arg("data", "block", multiple=True,
                           args=(arg("parameter", "string"), arg("value", "string"))),))
def config_set(c: Any, argv: list[bytes]) -> Any:
    if len(argv) % 2:
        raise wrong_arity("config|set")
    srv = c.server
    pairs = [(argv[i].decode("utf-8", "surrogateescape"), argv[i + 1].decode("utf-8", "surrogateescape"))
             for i in range(2, len(argv), 2)]
    for i, (name, _) in enumerate(pairs):
        param = lookup_param(name)
        if param is not None and param.flags & SENSITIVE:
            argv[3 + 2 * i] = REDACTED  # passwords never reach SLOWLOG or MONITOR
    try:
        srv.config.set_many(pairs, is_local=is_local_client(c), loading=srv.loading)
    except ConfigLoadingError as e:
        raise ReplyError(str(e)) from None
    except ConfigError as e:
        raise ReplyError("ERR " + str(e)) from None
    return OK


@subcommand("config", "resetstat", 2, "admin noscript loading stale", group="server", since="2.0.0",
            summary="Resets the server's statistics.", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def config_resetstat(c: Any, argv: list[bytes]) -> Any:
    reset_stats(c.server)
    return OK


@subcommand("config", "rewrite", 2, "admin noscript loading stale", group="server", since="2.8.0",
            summary="Persists the effective configuration to file.", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def config_rewrite(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    try:
        srv.config.rewrite()
    except ConfigError as e:
        msg = str(e)
        if "without a config file" not in msg:
            srv.log_warning(f"CONFIG REWRITE failed: {msg}")
        raise ReplyError("ERR " + msg) from None
    srv.log_notice("CONFIG REWRITE executed with success.")
    return OK


@subcommand("config", "help", 2, "loading stale", group="server", since="5.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def config_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _CONFIG_HELP)


def reset_stats(srv: Server) -> None:
    """CONFIG RESETSTAT: zero INFO's counters, command and error statistics."""
    st = srv.stats
    st.reset()
    # total_commands()/net_in()/net_out() add live clients' counters to these bases,
    # so start the bases negative to make the totals read zero now.
    clients = srv.clients.values()
    st.total_commands_processed = -sum(c.tot_cmds for c in clients)
    st.total_net_input_bytes = -sum(c.tot_net_in for c in clients)
    st.total_net_output_bytes = -sum(c.tot_net_out for c in clients)
    srv.ops_samples.clear()
    srv.el_samples.clear()
    srv.loop_stats.reset()
    ks = srv.keyspace
    ks.reset_stats()
    for cmd in info_mod.iter_all_commands():
        cmd.calls = cmd.usec = cmd.rejected_calls = cmd.failed_calls = 0
    info_mod.reset_latency(srv)
    for hook in getattr(srv, "resetstat_hooks", ()):
        hook()


# ---- live configuration ---------------------------------------------------------------

def install_config_hooks(srv: Server) -> None:
    """Make CONFIG SET of these parameters act on the running server (called by Server.__init__)."""
    cfg = srv.config
    srv.slowlog_threshold = cfg.slowlog_log_slower_than
    srv.keyspace.notify_flags = cfg.notify_keyspace_events

    def slowlog_threshold(old: Any, new: Any) -> None:
        srv.slowlog_threshold = new

    def bulk_len(old: Any, new: Any) -> None:
        for c in srv.clients.values():
            c.parser.max_bulk = new

    def notify(old: Any, new: Any) -> None:
        srv.keyspace.notify_flags = new

    def slowlog_len(old: Any, new: Any) -> None:
        while len(srv.slowlog) > new:
            srv.slowlog.pop()

    def port(old: Any, new: Any) -> None:
        _rebind(srv, new, list(cfg.bind), "Unable to listen on this port")

    def bind(old: Any, new: Any) -> None:
        _rebind(srv, cfg.port, list(new), "Failed to bind to specified addresses.")

    def latency(old: Any, new: Any) -> None:
        srv.latency_tracking = bool(new)
        srv.refresh_plain_ctx()

    latency(None, cfg.latency_tracking)
    cfg.on_change("latency-tracking", latency)
    cfg.on_change("slowlog-log-slower-than", slowlog_threshold)
    cfg.on_change("proto-max-bulk-len", bulk_len)
    cfg.on_change("notify-keyspace-events", notify)
    cfg.on_change("slowlog-max-len", slowlog_len)
    cfg.on_change("port", port)
    cfg.on_change("bind", bind)
    from kaa.commands import latency as latency_mod

    latency_mod.install(srv)  # the latency monitor and Server.slow_watch


def _rebind(srv: Server, port: int, binds: list[str], errmsg: str) -> None:
    """Replace the TCP listeners: bind the new sockets first, so a failure changes nothing."""
    if srv.loop is None:  # not started yet: start() reads the config
        return
    from kaa.server.client import Client

    socks: list[socket.socket] = []
    if port:
        for addr in binds or ["*", "-::*"]:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
                s.listen(srv.config.tcp_backlog)
                s.setblocking(False)
            except OSError:
                s.close()
                if optional:
                    continue
                for o in socks:
                    o.close()
                raise ConfigError(errmsg) from None
            socks.append(s)
    unix = [sv for sv in srv.servers
            if all(sk.family == socket.AF_UNIX for sk in getattr(sv, "sockets", ()))]
    for sv in srv.servers:
        if sv not in unix:
            sv.close()
    srv.servers = unix
    srv.listening_ports = []
    loop = srv.loop
    for s in socks:
        name = s.getsockname()
        srv.listening_ports.append((name[0], name[1]))

        async def serve(sock: socket.socket = s) -> None:
            server = await loop.create_server(lambda: Client(srv), sock=sock)
            srv.servers.append(server)

        loop.create_task(serve())


# ---- COMMAND ------------------------------------------------------------------------------

_KEY_FLAG_ORDER = ("RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                   "incomplete", "variable_flags")
_CMD_FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
                   "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast",
                   "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
                   "allow_busy")


def _ordered(flags: Iterable[str], order: Sequence[str]) -> list[str]:
    fl = set(flags)
    return [f for f in order if f in fl]


def is_movable(cmd: Command) -> bool:
    """Valkey's movablekeys flag (populateCommandLegacyRangeSpec): some key spec is not a
    plain range from an index (keyword or unknown begin, keynum, step > 1, gaps) or is
    INCOMPLETE. Only key specs decide; a command without specs is movable if it finds
    its keys with a function."""
    if "movablekeys" in cmd.flags:
        return True
    specs = cmd.key_specs
    if not specs:
        return cmd.keys_fn is not None
    if len(specs) == 1 and specs[0].begin_index is not None and specs[0].keynum is None:
        # one range spec (any step, e.g. MSET): the legacy triple describes it
        return any(f.lower() == "incomplete" for f in specs[0].flags)
    prev_last = 0
    for s in specs:
        if s.begin_index is None or s.keynum is not None:
            return True
        if s.step != 1 or (prev_last and prev_last != s.begin_index - 1):
            return True
        if any(f.lower() == "incomplete" for f in s.flags):
            return True
        last = s.last + s.begin_index if s.last >= 0 else s.last
        # Valkey compares lastkey as unsigned: a negative (to the end) range wins.
        if prev_last >= 0 and (last < 0 or last > prev_last):
            prev_last = last
    return False


def command_flags(cmd: Command) -> list[str]:
    flags = set(cmd.flags)
    if is_movable(cmd):
        flags.add("movablekeys")
    return _ordered(flags, _CMD_FLAG_ORDER)


def command_info_value(c: Any, cmd: Command | None) -> Any:
    """One entry of COMMAND / COMMAND INFO (a 10-element array) or null."""
    if cmd is None:
        return None
    cats = [f"@{x}" for x in ACL_CATEGORIES if x in cmd.acl_categories]
    specs = Raw(_key_specs_bytes(c, cmd))
    if cmd.subcommands:
        subs: Any = [command_info_value(c, s) for s in cmd.subcommands.values()]
    else:
        subs = ordered_set(c, ())
    return [
        cmd.fullname.encode(),
        cmd.arity,
        ordered_set(c, command_flags(cmd)),
        cmd.first_key,
        cmd.last_key,
        cmd.key_step,
        ordered_set(c, cats),
        ordered_set(c, [t.encode() for t in cmd.tips]),
        specs,
        subs,
    ]


def _key_specs_bytes(c: Any, cmd: Command) -> bytes:
    enc = c.enc
    out = [b"~%d\r\n" % len(cmd.key_specs) if c.resp == 3 else b"*%d\r\n" % len(cmd.key_specs)]
    for spec in cmd.key_specs:
        m: list[tuple[bytes, Any]] = []
        if spec.notes:
            m.append((b"notes", spec.notes.encode()))
        m.append((b"flags", ordered_set(c, _ordered(spec.flags, _KEY_FLAG_ORDER))))
        if spec.begin_index is not None:
            bs: Any = {b"type": b"index", b"spec": {b"index": spec.begin_index}}
        elif spec.begin_keyword is not None:
            kw, start = spec.begin_keyword
            bs = {b"type": b"keyword", b"spec": MapPairs([(b"keyword", kw), (b"startfrom", start)])}
        else:
            bs = {b"type": b"unknown", b"spec": {}}
        m.append((b"begin_search", bs))
        if spec.keynum is not None:
            idx, first, step = spec.keynum
            fk: Any = {b"type": b"keynum",
                       b"spec": MapPairs([(b"keynumidx", idx), (b"firstkey", first), (b"keystep", step)])}
        elif spec.begin_index is not None or spec.begin_keyword is not None:
            fk = {b"type": b"range",
                  b"spec": MapPairs([(b"lastkey", spec.last), (b"keystep", spec.step), (b"limit", spec.limit)])}
        else:
            fk = {b"type": b"unknown", b"spec": {}}
        m.append((b"find_keys", fk))
        out.append(enc(MapPairs(m)))
    return b"".join(out)


def _docs_args(args: Iterable[dict[str, Any]]) -> list[Any]:
    out = []
    for a in args:
        typ = a.get("type", "string")
        m: list[tuple[bytes, Any]] = [(b"name", a["name"].encode()), (b"type", typ.encode())]
        if typ not in ("oneof", "block"):
            m.append((b"display_text", str(a.get("display_text") or a.get("display") or a["name"]).encode()))
        if a.get("key_spec_index") is not None:
            m.append((b"key_spec_index", int(a["key_spec_index"])))
        if a.get("token") is not None:  # MIGRATE's '""' token is shown empty, but present
            m.append((b"token", str(a["token"]).encode()))
        for k in ("summary", "since", "deprecated_since"):
            if a.get(k):
                m.append((k.encode(), str(a[k]).encode()))
        flags = list(a.get("flags") or ())
        for f in ("optional", "multiple", "multiple_token"):
            if a.get(f) and f not in flags:
                flags.append(f)
        if flags:
            m.append((b"flags", _FlagSet(_ordered(flags, ("optional", "multiple", "multiple_token")))))
        if typ in ("oneof", "block"):
            m.append((b"arguments", _docs_args(a.get("arguments") or a.get("args") or ())))
        out.append(MapPairs(m))
    return out


class _FlagSet(list):  # type: ignore[type-arg]
    """Marks a list that command_docs turns into an ordered set for the client's protocol."""


def _materialize(c: Any, v: Any) -> Any:
    """Replace _FlagSet markers by ordered sets for this client's protocol."""
    if isinstance(v, _FlagSet):
        return ordered_set(c, list(v))
    if isinstance(v, MapPairs):
        return MapPairs((k, _materialize(c, x)) for k, x in v)
    if isinstance(v, list):
        return [_materialize(c, x) for x in v]
    return v


def command_docs_value(c: Any, cmd: Command) -> Any:
    m: list[tuple[bytes, Any]] = []
    if cmd.summary:
        m.append((b"summary", cmd.summary.encode()))
    if cmd.since:
        m.append((b"since", cmd.since.encode()))
    m.append((b"group", cmd.group.encode()))
    if cmd.complexity:
        m.append((b"complexity", cmd.complexity.encode()))
    if "module" in cmd.flags:
        m.append((b"module", b""))
    if cmd.doc_flags:
        m.append((b"doc_flags", ordered_set(c, _ordered(cmd.doc_flags, ("deprecated", "syscmd")))))
    if cmd.deprecated_since:
        m.append((b"deprecated_since", cmd.deprecated_since.encode()))
    if cmd.replaced_by:
        m.append((b"replaced_by", cmd.replaced_by.encode()))
    if cmd.history:
        m.append((b"history", ordered_set(c, [[v.encode(), t.encode()] for v, t in cmd.history])))
    if cmd.arguments:
        m.append((b"arguments", _materialize(c, _docs_args(cmd.arguments))))
    if cmd.subcommands:
        m.append((b"subcommands", MapPairs((s.fullname.encode(), command_docs_value(c, s))
                                           for s in cmd.subcommands.values())))
    return MapPairs(m)


def server_commands(srv: Server) -> list[Command]:
    """The distinct top-level commands this server dispatches (renames applied)."""
    seen: dict[int, Command] = {}
    for cmd in srv.commands.values():
        seen.setdefault(id(cmd), cmd)
    return list(seen.values())


def lookup_by_fullname(srv: Server, name: bytes) -> Command | None:
    """``get`` or ``config|get`` (COMMAND INFO/DOCS); None for anything else."""
    parts = name.split(b"|")
    if len(parts) > 2 or not parts[0]:
        return None
    cmd = srv.lookup_command(parts[0])
    if cmd is None:
        return None
    if len(parts) == 2:
        try:
            return cmd.subcommands.get(parts[1].decode().lower())
        except UnicodeDecodeError:
            return None
    return cmd


def lookup_argv(srv: Server, argv: list[bytes]) -> Command | None:
    """The command an argv would run (subcommand included), as Valkey's lookupCommand."""
    cmd = srv.lookup_command(argv[0])
    if cmd is None:
        return None
    if cmd.subcommands and len(argv) > 1:
        try:
            sub = cmd.subcommands.get(argv[1].decode().lower())
        except UnicodeDecodeError:
            sub = None
        return sub if sub is not None or cmd.handler is None else cmd
    return cmd


_CACHE: dict[tuple[int, int, int], bytes] = {}


@command("command", -1, "loading stale", "connection", group="server", since="2.8.13",
         summary="Returns detailed information about all commands.",
         complexity="O(N) where N is the total number of commands",
         tips=("nondeterministic_output_order",))
def command_(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 1:
        raise c.server.unknown_subcommand_error(argv)
    srv = c.server
    key = (id(srv.commands), c.resp, len(srv.commands))
    data = _CACHE.get(key)
    if data is None:
        cmds = server_commands(srv)
        data = b"*%d\r\n" % len(cmds) + b"".join(c.enc(command_info_value(c, x)) for x in cmds)
        _CACHE[key] = data
    return Raw(data)


@subcommand("command", "count", 2, "loading stale", "connection", group="server", since="2.8.13",
            summary="Returns a count of commands.", complexity="O(1)")
def command_count(c: Any, argv: list[bytes]) -> Any:
    return len(server_commands(c.server))


@subcommand("command", "info", -2, "loading stale", "connection", group="server", since="2.8.13",
            summary="Returns information about one, multiple or all commands.",
            complexity="O(N) where N is the number of commands to look up",
            history=(("7.0.0", "Allowed to be called with no argument to get info on all commands."),),
            tips=("nondeterministic_output_order",),
            arguments=(arg("command-name", "string", optional=True, multiple=True),))
def command_info(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    if len(argv) == 2:
        return [command_info_value(c, x) for x in server_commands(srv)]
    return [command_info_value(c, lookup_by_fullname(srv, n)) for n in argv[2:]]


@subcommand("command", "docs", -2, "loading stale", "connection", group="server", since="7.0.0",
            summary="Returns documentary information about one, multiple or all commands.",
            complexity="O(N) where N is the number of commands to look up",
            tips=("nondeterministic_output_order",),
            arguments=(arg("command-name", "string", optional=True, multiple=True),))
def command_docs(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    if len(argv) == 2:
        cmds: list[Command] = server_commands(srv)
    else:
        cmds = [x for x in (lookup_by_fullname(srv, n) for n in argv[2:]) if x is not None]
    return MapPairs((x.fullname.encode(), command_docs_value(c, x)) for x in cmds)


@subcommand("command", "list", -2, "loading stale", "connection", group="server", since="7.0.0",
            summary="Returns a list of command names.",
            complexity="O(N) where N is the total number of commands",
            tips=("nondeterministic_output_order",),
            arguments=(arg("filterby", "oneof", token="FILTERBY", optional=True, args=(
                arg("module-name", "string", token="MODULE"),
                arg("category", "string", token="ACLCAT"),
                arg("pattern", "pattern", token="PATTERN"))),))
def command_list(c: Any, argv: list[bytes]) -> Any:
    ftype: bytes | None = None
    farg = b""
    i = 2
    while i < len(argv):
        if argv[i].lower() == b"filterby" and len(argv) - 1 - i == 2:
            ftype = argv[i + 1].lower()
            if ftype not in (b"module", b"aclcat", b"pattern"):
                raise ERR_SYNTAX
            farg = argv[i + 2]
            i += 3
        else:
            raise ERR_SYNTAX
    out: list[bytes] = []
    cat = farg.decode("utf-8", "replace").lower()
    for cmd in info_mod.iter_all_commands(server_commands(c.server)):
        name = cmd.fullname.encode()
        if ftype == b"module":
            continue  # no modules: nothing belongs to one
        if ftype == b"aclcat" and (cat not in ACL_CATEGORIES or cat not in cmd.acl_categories):
            continue
        if ftype == b"pattern" and not glob_match(farg, name, True):
            continue
        out.append(name)
    return out


def keys_with_flags(cmd: Command, argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """Key positions with their key-spec flags, as Valkey's getKeysFromCommandWithSpecs.

    Key specs are preferred when they find every key; otherwise the command's key
    function is used, each key taking the flags of the spec that covers it.
    """
    specs = cmd.key_specs
    usable = [s for s in specs if "not_key" not in s.flags]
    if usable and not any("variable_flags" in s.flags for s in specs):
        res = eval_specs([(s, s.flags) for s in usable], argv, False)
        if res is not None:
            return res
    if cmd.keys_fn is not None:
        try:
            found = cmd.keys_fn(argv)
        except Exception:  # a malformed call has no keys, like Valkey's getkeys procs
            return []
        by_pos = dict(eval_specs([(s, s.flags) for s in usable], argv, True) or [])
        # Keys the specs cannot place take the flags of the last spec with an unknown
        # begin search (or an incomplete one): SORT's STORE target is OW+update.
        fallback = next((tuple(f for f in s.flags if f != "incomplete") for s in reversed(specs)
                         if "incomplete" in s.flags or s.begin_index is None and s.begin_keyword is None),
                        specs[0].flags if specs else ())
        out: list[tuple[int, tuple[str, ...]]] = []
        for p in found:
            if isinstance(p, tuple):
                out.append((int(p[0]), tuple(p[1])))
            else:
                out.append((p, by_pos.get(p, fallback)))
        return out
    if not specs and cmd.first_key > 0:
        return [(p, ()) for p in cmd.key_positions(argv)]
    return []


def _getkeys(c: Any, argv: list[bytes], with_flags: bool) -> Any:
    srv = c.server
    sub = argv[2:]
    cmd = lookup_argv(srv, sub)
    if cmd is None:
        raise ReplyError("ERR Invalid command specified")
    if not (cmd.keys_fn is not None or cmd.first_key > 0
            or any("not_key" not in s.flags for s in cmd.key_specs)):
        raise ReplyError("ERR The command has no key arguments")
    n = len(sub)
    if (cmd.arity > 0 and cmd.arity != n) or n < -cmd.arity:
        raise ReplyError("ERR Invalid number of arguments specified for command")
    keys = keys_with_flags(cmd, sub)
    if not keys:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise ReplyError("ERR Invalid arguments specified for command")
    if not with_flags:
        return [sub[p] for p, _ in keys]
    return [[sub[p], ordered_set(c, _ordered(fl, _KEY_FLAG_ORDER))] for p, fl in keys]


@subcommand("command", "getkeys", -3, "loading stale", "connection", group="server", since="2.8.13",
            summary="Extracts the key names from an arbitrary command.",
            complexity="O(N) where N is the number of arguments to the command",
            arguments=(arg("command", "string"), arg("arg", "string", optional=True, multiple=True)))
def command_getkeys(c: Any, argv: list[bytes]) -> Any:
    return _getkeys(c, argv, False)


@subcommand("command", "getkeysandflags", -3, "loading stale", "connection", group="server",
            since="7.0.0", summary="Extracts the key names and access flags for an arbitrary command.",
            complexity="O(N) where N is the number of arguments to the command",
            arguments=(arg("command", "string"), arg("arg", "string", optional=True, multiple=True)))
def command_getkeysandflags(c: Any, argv: list[bytes]) -> Any:
    return _getkeys(c, argv, True)


_COMMAND_HELP = (
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the number of commands in this server.",
    "LIST",
    "    Return the names of all commands in this server.",
    "INFO [<command-name> ...]",
    "    Return details about the given commands, or about all of them.",
    "DOCS [<command-name> ...]",
    "    Return documentation of the given commands, or of all of them.",
    "GETKEYS <full-command>",
    "    Return the keys of a full command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys of a full command with their access flags.",
)


@subcommand("command", "help", 2, "loading stale", "connection", group="server", since="5.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def command_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _COMMAND_HELP)


# ---- TIME, LOLWUT ---------------------------------------------------------------------------

@command("time", 1, "loading stale fast", group="server", since="2.6.0",
         summary="Returns the server time.", complexity="O(1)", tips=("nondeterministic_output",))
def time_(c: Any, argv: list[bytes]) -> Any:
    us = time.time_ns() // 1000
    return [b"%d" % (us // 1_000_000), b"%d" % (us % 1_000_000)]


def _lolwut_art(width: int, height: int) -> str:
    """A snake drawn with braille dots: Kaa's own piece of computer art."""
    import math

    width = max(1, min(width, 1000))
    height = max(1, min(height, 1000))
    px_w, px_h = width * 2, height * 4
    on = set()
    for x in range(px_w):
        phase = x / max(1, px_w) * 4 * math.pi
        y = (math.sin(phase) * 0.35 + 0.5) * (px_h - 1)
        for t in (-1, 0, 1):
            yy = int(round(y)) + t
            if 0 <= yy < px_h:
                on.add((x, yy))
    bits = ((0, 0, 0x01), (0, 1, 0x02), (0, 2, 0x04), (1, 0, 0x08), (1, 1, 0x10), (1, 2, 0x20),
            (0, 3, 0x40), (1, 3, 0x80))
    rows = []
    for cy in range(height):
        row = []
        for cx in range(width):
            code = 0
            for dx, dy, bit in bits:
                if (cx * 2 + dx, cy * 4 + dy) in on:
                    code |= bit
            row.append(chr(0x2800 + code))
        rows.append("".join(row))
    return "\n".join(rows)


@command("lolwut", -1, "readonly fast", group="server", since="5.0.0",
         summary="Displays computer art and the server version",
         arguments=(arg("version", "integer", token="VERSION", optional=True),))
def lolwut(c: Any, argv: list[bytes]) -> Any:
    ver = VALKEY_VERSION
    rest = argv[1:]
    if len(argv) >= 3 and argv[1].lower() == b"version":
        v = parse_int_or_none(argv[2])
        if v is None:
            raise ReplyError("ERR value is not an integer or out of range")
        ver = f"{v & 0xFFFFFFFF}.0.0"
        rest = argv[3:]
    major = ver.split(".")[0]
    if major in ("5", "6"):
        nums = [parse_int_or_none(a) for a in rest[:2]]
        if any(n is None for n in nums):
            raise ReplyError("ERR value is not an integer or out of range")
        w = nums[0] if nums else 66
        h = nums[1] if len(nums) > 1 else 16
        art = _lolwut_art(w or 66, h or 16)  # type: ignore[arg-type]
        text = f"{art}\n\nKaa the python, braille on a terminal. Kaa ver. {VALKEY_VERSION}\n"
    else:
        text = f"Kaa ver. {VALKEY_VERSION}\n"
    return Verbatim(text.encode())


# ---- SHUTDOWN -------------------------------------------------------------------------------

@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group="server",
         since="1.0.0",
         summary="Synchronously saves the database(s) to disk and shuts down the server.",
         complexity="O(N) when saving, where N is the total number of keys in all databases "
                    "when saving data, otherwise O(1)",
         history=(("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),),
         arguments=(arg("abort-selector", "oneof", optional=True, args=(
             arg("save-selector-block", "block", args=(
                 arg("save-selector", "oneof", optional=True, args=(
                     arg("nosave", "pure-token", token="NOSAVE"),
                     arg("save", "pure-token", token="SAVE"))),
                 arg("now", "pure-token", token="NOW", since="7.0.0", optional=True),
                 arg("force", "pure-token", token="FORCE", since="7.0.0", optional=True))),
             arg("abort", "pure-token", token="ABORT", since="7.0.0"))),))
def shutdown(c: Any, argv: list[bytes]) -> Any:
    save: bool | None = None
    now = force = abort = False
    nosave_seen = save_seen = False
    for a in argv[1:]:
        o = a.lower()
        if o == b"nosave":
            nosave_seen = True
            save = False
        elif o == b"save":
            save_seen = True
            save = True
        elif o == b"now":
            now = True
        elif o == b"force":
            force = True
        elif o == b"abort":
            abort = True
        else:
            raise ERR_SYNTAX
    if (abort and (nosave_seen or save_seen or now or force)) or (nosave_seen and save_seen):
        raise ERR_SYNTAX
    srv = c.server
    if abort:
        fn = getattr(srv, "abort_shutdown", None)
        if fn is not None and fn():
            return OK
        raise ReplyError("ERR No shutdown in progress.")
    if not now and c.in_exec:
        raise ReplyError("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client")
    err = srv.prepare_shutdown(save=save, now=now, force=force)
    if err:
        raise ReplyError(err if err.split(" ", 1)[0].isupper() else "ERR " + err)
    srv.request_shutdown(0)
    return _no_reply()


# ---- SLOWLOG --------------------------------------------------------------------------------

declare_container("slowlog", -2, group="server", since="2.2.12", complexity="Depends on subcommand.",
          summary="A container for slow log commands.")

_SLOWLOG_HELP = (
    "GET [<count>]",
    "    Return up to <count> entries, newest first (default: 10, -1 for all).",
    "    Each entry holds: id, timestamp, duration in microseconds, the arguments,",
    "    the client address and the client name.",
    "LEN",
    "    Return the number of entries.",
    "RESET",
    "    Remove all entries.",
)


@subcommand("slowlog", "get", -2, "admin loading stale", group="server", since="2.2.12",
            summary="Returns the slow log's entries.",
            complexity="O(N) where N is the number of entries returned",
            history=(("4.0.0", "Added client IP address, port and name to the reply."),),
            tips=("request_policy:all_nodes", "nondeterministic_output"),
            arguments=(arg("count", "integer", optional=True),))
def slowlog_get(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise syntax_error_for(argv)
    log = c.server.slowlog
    count = 10
    if len(argv) == 3:
        n = parse_int_or_none(argv[2])
        if n is None or n < -1:
            raise ReplyError("ERR count should be greater than or equal to -1")
        count = len(log) if n == -1 else n
    out: list[Any] = []
    for e in log:
        if len(out) >= count:
            break
        out.append([e.id, e.time, e.duration, list(e.argv), e.addr.encode(), e.name])
    return out


@subcommand("slowlog", "len", 2, "admin loading stale", group="server", since="2.2.12",
            summary="Returns the number of entries in the slow log.", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"))
def slowlog_len(c: Any, argv: list[bytes]) -> Any:
    return len(c.server.slowlog)


@subcommand("slowlog", "reset", 2, "admin loading stale", group="server", since="2.2.12",
            summary="Clears all entries from the slow log.",
            complexity="O(N) where N is the number of entries in the slowlog",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def slowlog_reset(c: Any, argv: list[bytes]) -> Any:
    c.server.slowlog.clear()
    return OK


@subcommand("slowlog", "help", 2, "loading stale", group="server", since="6.2.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def slowlog_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _SLOWLOG_HELP)


# ---- MONITOR --------------------------------------------------------------------------------

@command("monitor", 1, "admin noscript loading stale", group="server", since="1.0.0",
         summary="Listens for all requests received by the server in real-time.")
def monitor(c: Any, argv: list[bytes]) -> Any:
    if c.in_exec:
        raise ReplyError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.is_replica or c.monitor:
        return _no_reply()
    c.monitor = True
    c.server.monitors.append(c)
    return OK


# ---- MODULE -------------------------------------------------------------------------------
#
# Kaa cannot load Valkey's native modules (shared objects written against the C module
# API), so the module list is always empty and every load fails the way a failed load
# fails in Valkey; the command exists so clients and tools that probe it get Valkey's answers.

declare_container("module", -2, group="server", since="4.0.0", complexity="Depends on subcommand.",
                  summary="A container for module commands.")

_ERR_MODULE_NOT_ALLOWED = ReplyError(
    'ERR MODULE command not allowed. If the enable-module-command option is set to "local", '
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.")
_ERR_MODULE_LOAD = ReplyError("ERR Error loading the extension. Please check the server logs.")


def _module_allowed(c: Any) -> None:
    mode = c.server.config.enable_module_command
    if mode != "yes" and not (mode == "local" and is_local_client(c)):
        raise _ERR_MODULE_NOT_ALLOWED


@subcommand("module", "list", 2, "admin noscript", since="4.0.0",
            complexity="O(N) where N is the number of loaded modules.",
            tips=("nondeterministic_output_order",), summary="Returns all loaded modules.")
def module_list(c: Any, argv: list[bytes]) -> Any:
    return []


@subcommand("module", "load", -3, "no_async_loading admin noscript protected", since="4.0.0",
            complexity="O(1)", summary="Loads a module.",
            arguments=(arg("path", "string"), arg("arg", "string", optional=True, multiple=True)))
def module_load(c: Any, argv: list[bytes]) -> Any:
    _module_allowed(c)
    c.server.log_warning(f"Module {argv[2].decode('utf-8', 'replace')} failed to load: "
                         "Kaa does not support native modules")
    raise _ERR_MODULE_LOAD


@subcommand("module", "loadex", -3, "no_async_loading admin noscript protected", since="7.0.0",
            complexity="O(1)", summary="Loads a module using extended parameters.",
            arguments=(arg("path", "string"),
                       arg("configs", "block", token="CONFIG", multiple=True, multiple_token=True,
                           optional=True, args=(arg("name", "string"), arg("value", "string"))),
                       arg("args", "string", token="ARGS", multiple=True, optional=True)))
def module_loadex(c: Any, argv: list[bytes]) -> Any:
    return module_load(c, argv)


@subcommand("module", "unload", 3, "no_async_loading admin noscript protected", since="4.0.0",
            complexity="O(1)", summary="Unloads a module.", arguments=(arg("name", "string"),))
def module_unload(c: Any, argv: list[bytes]) -> Any:
    _module_allowed(c)
    c.server.log_warning(f"Error unloading module {argv[2].decode('utf-8', 'replace')}: "
                         "no such module with that name")
    raise ReplyError("ERR Error unloading module: no such module with that name")


_MODULE_HELP = (
    "LIST",
    "    Return the loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load the module library at <path>, passing it the optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load the module library at <path> with module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
)


@subcommand("module", "help", 2, "loading stale", since="5.0.0", complexity="O(1)",
            summary="Returns helpful text about the different subcommands.")
def module_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _MODULE_HELP)
