"""The server: listeners, the client table, the cron, logging and shutdown.

One event loop owns everything; commands run to completion one at a time, so no
locks exist anywhere. Replies produced for a client outside its own request
(pub/sub messages, wake-ups of blocked clients) are flushed once per loop
iteration by ``flush_pending``, Valkey's ``beforeSleep``.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import socket
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from kaa import VALKEY_VERSION, __version__
from kaa.commands import load_all
from kaa.commands.registry import COMMANDS, Command
from kaa.engine.keyspace import Database, Keyspace
from kaa.protocol.reply import ReplyError
from kaa.server.client import Client, LoopStats, ServerCore
from kaa.server.config import Config, ConfigError

_ERRORSTATS_LIMIT = 128
LOG_LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
_LEVEL_MARK = {0: ".", 1: "-", 2: "*", 3: "#"}


class Stats:
    """Counters that INFO stats reports; reset by CONFIG RESETSTAT."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total_connections_received = 0
        self.total_commands_processed = 0
        self.rejected_connections = 0
        self.total_error_replies = 0
        self.errors: dict[str, int] = {}
        self.total_net_input_bytes = 0
        self.total_net_output_bytes = 0
        self.expired_keys = 0
        self.evicted_clients = 0
        self.client_query_buffer_limit_disconnections = 0
        self.client_output_buffer_limit_disconnections = 0
        self.unexpected_error_replies = 0
        self.io_reads_processed = 0
        self.io_writes_processed = 0
        self.acl_access_denied_auth = 0
        self.acl_access_denied_cmd = 0
        self.acl_access_denied_key = 0
        self.acl_access_denied_channel = 0


class SlowlogEntry:
    __slots__ = ("id", "time", "duration", "argv", "addr", "name")

    def __init__(self, id_: int, t: int, dur: int, argv: list[bytes], addr: str, name: bytes) -> None:
        self.id = id_
        self.time = t
        self.duration = dur
        self.argv = argv
        self.addr = addr
        self.name = name


class Server(ServerCore):
    """The whole running server. Commands reach it as ``client.server``."""

    def __init__(self, config: Config | None = None) -> None:
        # Deep but bounded recursion (glob nesting up to 1000, nested replies) must not
        # hit Python's default limit of 1000 frames.
        if sys.getrecursionlimit() < 20000:
            sys.setrecursionlimit(20000)
        load_all()
        self.config = config or Config()
        cfg = self.config
        self.keyspace = Keyspace(cfg.databases)
        self.clients: dict[int, Client] = {}
        self._next_id = 0
        self.stats = Stats()
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.servers: list[asyncio.AbstractServer] = []
        self.listening_ports: list[tuple[str, int]] = []
        self.pending_flush = []
        # flush_pending's call_soon arguments, made once: without a context the loop
        # copies the current one at every call (once per loop iteration).
        self.flush_cb = self.flush_pending
        self.flush_context = contextvars.Context()
        self.flush_scheduled = False
        self.monitors: list[Client] = []
        self.slowlog: deque[SlowlogEntry] = deque()
        self.slowlog_next_id = 0
        self.slowlog_threshold = cfg.slowlog_log_slower_than
        # Commands lasting at least slow_watch us go through slow_command (slowlog,
        # latency monitor); kept by kaa.commands.latency, huge when both are off.
        self.slow_watch = 0
        self.latency_monitor: Any = None
        # Propagation sinks (AOF, replicas) receive (dbid, argv) of every write.
        self.sinks: list[Callable[[int, list[bytes]], None]] = []
        self.propagating = False
        # An extra check between auth and execution (ACL, cluster, OOM, pause...). None = off.
        self.gate: Callable[[Client, Command, list[bytes]], ReplyError | None] | None = None
        # True while ClientCore.run_plain may run commands: no gate, or only gates marked
        # ``batch_safe`` (a refusal has no side effect, so process() can check again).
        self.gate_in_batch = True
        self.gates: list[Callable[[Client, Command, list[bytes]], ReplyError | None]] = []
        self.shutdown_event: asyncio.Event | None = None
        self.shutting_down = False
        self.exit_code = 0
        self.cron_loops = 0
        self.cron_paused = False  # DEBUG PAUSE-CRON
        self._cron_ring: list[Client] = []  # clients_cron's round over the clients
        self._cron_pos = 0
        # Feed Command.latency histograms (INFO latencystats); follows latency-tracking.
        self.latency_tracking = False
        self.pause_until = 0.0
        self.pause_all = False
        self.paused_clients: list[Client] = []
        self.role = "M"
        self.run_id = os.urandom(20).hex()
        self.replid = os.urandom(20).hex()
        self.ops_samples: deque[tuple[float, int, int, int]] = deque(maxlen=16)
        # Event loop cycles: in_cycle is the one test the read path pays (begin_cycle).
        self.loop_stats = LoopStats()
        self.in_cycle = False
        self.now = time.time()  # updated by begin_cycle
        self.el_samples: deque[tuple[float, int, int]] = deque(maxlen=16)
        self.blocked_clients = 0
        self.loading = False
        self.hooks_on_shutdown: list[Callable[[], None]] = []
        self.commands: dict[bytes, Command] = {}
        self.plain_commands: dict[bytes, Command] = {}
        self.pending_push: list[bytes] = []  # see current_client below
        # What ClientCore.run_plain reads at every call, in one attribute (one lookup
        # from compiled code): refresh_plain_ctx() follows every assignment of its parts.
        self.plain_ctx: tuple[Any, ...] = ()
        self.build_command_table()
        self.disconnect_hooks: list[Callable[[Client], None]] = []
        self.reset_hooks: list[Callable[[Client], None]] = []
        self.startup_hooks: list[Callable[[], None]] = []
        self.cron_hooks: list[Callable[[Server], None]] = []
        self.log_file: Any = None
        self._open_log()
        from kaa.commands.server_cmds import install_config_hooks

        install_config_hooks(self)
        __import__("kaa.commands.keyspace", fromlist=["install"]).install(self)  # expiry, clocks, lazyfree
        # Pub/Sub, keyspace notifications, WATCH, client-side caching, output buffer limits.
        # The client whose command is running (pushes to it wait for its reply in
        # pending_push); prop_batch collects a transaction's writes (see propagate).
        self.current_client: Client | None = None
        self.prop_batch: list[tuple[int, list[bytes]]] | None = None
        self.pubsub: Any = None
        self.watch: Any = None
        self.tracking: Any = None
        self.obuf: Any = None
        self.obuf_normal_limit: tuple[int, int, int] | None = None
        for mod in ("pubsub", "notifications", "watch", "tracking", "obuf"):
            __import__(f"kaa.server.{mod}", fromlist=["install"]).install(self)
        from kaa.persistence.snapshot import Persistence

        self.persistence = Persistence(self)
        # EVAL/FUNCTION state (works without lupa: the commands then say it is unavailable).
        self.scripting: Any = None
        __import__("kaa.scripting", fromlist=["install"]).install(self)
        # ACL users, AUTH, the permission gate (kaa.security); TLS listeners (kaa.security.tls).
        self.acl: Any = None
        self.user_exists: Callable[[str], bool] | None = None
        self.script_acl_check: Callable[..., str | None] | None = None
        self.script_acl_allowed: Callable[..., bool] | None = None
        self.acl_full_key_access: Callable[..., bool] | None = None
        self.tls: Any = None
        __import__("kaa.security", fromlist=["install"]).install(self)
        # maxmemory: the OOM gate, key eviction, the dataset meter (kaa.server.maxmemory).
        self.eviction: Any = None
        __import__("kaa.server.maxmemory", fromlist=["install"]).install(self)

    # ---- command table ---------------------------------------------------
    def build_command_table(self) -> None:
        """Dispatch dict keyed by the raw name bytes in lower and upper case (no per-call lower())."""
        table: dict[bytes, Command] = {}
        renamed: dict[str, str] = {}
        for old, new in getattr(self.config, "rename_commands", []) or []:
            renamed[old.lower()] = new
        for name, cmd in COMMANDS.items():
            visible = renamed.get(name, name)
            if visible == "":
                continue
            b = visible.encode()
            if cmd.subcommands:  # dispatched further in Client.resolve_command
                cmd.plain = False
            table[b.lower()] = cmd
            table[b.upper()] = cmd
        self.commands = table
        # The commands ClientCore.run_plain may run (Command.plain), same keys.
        self.plain_commands = {k: c for k, c in table.items() if c.plain}
        self._lower_table = {k: v for k, v in table.items() if k == k.lower()}
        self.refresh_plain_ctx()

    def refresh_plain_ctx(self) -> None:
        """Rebuild ``plain_ctx`` after a change to any of its parts: the plain commands
        by name as (handler, arity, command, latency_small, stats, fullname), slow_watch,
        latency_tracking, gate, and the two containers the loop tests after each
        command (only ever changed in place)."""
        entries = {name: (cmd.handler, cmd.arity, cmd, cmd.latency_small, cmd.stats, cmd.fullname)
                   for name, cmd in self.plain_commands.items()}
        self.plain_ctx = (entries, self.slow_watch, self.latency_tracking, self.gate,
                          self.pending_push, self.keyspace.ready_keys)

    def lookup_command(self, name: bytes) -> Command | None:
        return self._lower_table.get(name.lower())

    def unknown_command_error(self, argv: list[bytes]) -> ReplyError:
        # Valkey formats each argument with '%.*s' (up to 128 bytes in all): a C string,
        # cut at its first NUL byte; raw bytes survive (surrogateescape).
        args = b""
        for a in argv[1:]:
            if len(args) >= 128:
                break
            args += b"'" + a.split(b"\0", 1)[0][: 128 - len(args)] + b"' "
        name = argv[0].split(b"\0", 1)[0][:128]
        text = b"ERR unknown command '" + name + b"', with args beginning with: " + args
        return ReplyError(text.decode("utf-8", "surrogateescape"))

    def unknown_subcommand_error(self, argv: list[bytes]) -> ReplyError:
        sub = argv[1].split(b"\0", 1)[0][:128]  # '%.128s' of a C string
        name = argv[0].split(b"\0", 1)[0].upper()  # bytes.upper(): ASCII only, like toupper
        text = b"ERR unknown subcommand '" + sub + b"'. Try " + name + b" HELP."
        return ReplyError(text.decode("utf-8", "surrogateescape"))

    def refresh_gate(self) -> None:
        """Recompute the combined pre-execution check from the active gates."""
        gates = list(self.gates)
        if not gates:
            self.gate = None
        elif len(gates) == 1:
            self.gate = gates[0]
        else:

            def combined(c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | None:
                for g in gates:
                    err = g(c, cmd, argv)
                    if err is not None:
                        return err
                return None

            self.gate = combined
        self.gate_in_batch = all(getattr(g, "batch_safe", False) for g in gates)
        self.refresh_plain_ctx()

    # ---- clients -----------------------------------------------------------
    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def auth_required(self) -> bool:
        """Valkey's authRequired for a client that has not authenticated: the default
        user has a password or is disabled."""
        return self.acl.auth_required()  # type: ignore[no-any-return]

    def default_user_has_password(self) -> bool:
        return not self.acl.default.nopass

    def authenticate(self, c: Client, user: bytes, password: bytes) -> None:
        """AUTH / HELLO AUTH: log in as an ACL user, or WRONGPASS (logged in ACL LOG)."""
        self.acl.authenticate(c, user, password)

    def validate_client_name(self, name: bytes) -> None:
        for ch in name:
            if ch < 33 or ch > 126:
                raise ReplyError("ERR Client names cannot contain spaces, newlines or special characters.")

    def reset_client(self, c: Client) -> None:
        """RESET: back to a fresh connection's state (keeping the socket)."""
        for hook in self.reset_hooks:
            hook(c)
        c.multi = None
        c.multi_error = False
        c.db = self.keyspace.dbs[0]
        c.set_resp(2)
        c.name = b""
        c.reply_mode = 0
        c.no_evict = False
        c.no_touch = False
        if c in self.monitors:
            self.monitors.remove(c)
            c.monitor = False
        c.authenticated = not self.auth_required()
        c.parser.authenticated = c.authenticated
        c.user = "default"
        c.acl_user = self.acl.default

    def client_connected(self, c: Client) -> None:
        self.stats.total_connections_received += 1
        cfg = self.config
        if len(self.clients) >= cfg.maxclients:
            self.stats.rejected_connections += 1
            if c.transport is not None:
                c.transport.write(b"-ERR max number of clients reached\r\n")
                c.transport.close()
            c.closing = True
            return
        if cfg.protected_mode and self.acl.default.nopass and not c.unix and not _is_loopback(c.addr):
            self.stats.rejected_connections += 1
            if c.transport is not None:
                c.transport.write(PROTECTED_MODE_DENIED)
                c.transport.close()
            c.closing = True
            return
        self.clients[c.id] = c
        if c.transport is not None:
            sock = c.transport.get_extra_info("socket")
            if sock is not None and not c.unix:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    if cfg.tcp_keepalive > 0:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                        if hasattr(socket, "TCP_KEEPIDLE"):
                            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, cfg.tcp_keepalive)
                            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, cfg.tcp_keepalive // 3))
                            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
                except OSError:
                    pass

    def client_disconnected(self, c: Client) -> None:
        if self.clients.pop(c.id, None) is None:
            return
        self.stats.total_net_input_bytes += c.tot_net_in
        self.stats.total_net_output_bytes += c.tot_net_out
        self.stats.total_commands_processed += c.tot_cmds
        if c.paused and c in self.paused_clients:
            self.paused_clients.remove(c)
        for hook in self.disconnect_hooks:
            hook(c)
        if c in self.monitors:
            self.monitors.remove(c)

    # ---- statistics --------------------------------------------------------
    def count_error(self, code: str, custom: bool = False) -> None:
        """afterErrorReply's statistics. Past 128 distinct codes, new codes of errors
        made up by scripts (``custom``) are counted as ERRORSTATS_OVERFLOW."""
        st = self.stats
        st.total_error_replies += 1
        errors = st.errors
        if custom and len(errors) >= _ERRORSTATS_LIMIT and code not in errors:
            code = "ERRORSTATS_OVERFLOW"
        errors[code] = errors.get(code, 0) + 1

    def slowlog_add(self, c: Client, argv: list[bytes], dur: int) -> None:
        maxlen = self.config.slowlog_max_len
        args = argv[:32]
        shown: list[bytes] = []
        for i, a in enumerate(args):
            if i == 31 and len(argv) > 32:
                shown.append(b"... (%d more arguments)" % (len(argv) - 31))
                break
            if len(a) > 128:
                shown.append(a[:128] + b"... (%d more bytes)" % (len(a) - 128))
            else:
                shown.append(a)
        self.slowlog.appendleft(SlowlogEntry(self.slowlog_next_id, int(time.time()), dur, shown, c.addr, c.name))
        self.slowlog_next_id += 1
        while len(self.slowlog) > maxlen:
            self.slowlog.pop()

    def slow_command(self, c: Client, cmd: Command, argv: list[bytes], dur: int) -> None:
        """A command ran for ``dur`` us >= slow_watch: slowlog entry and latency event."""
        if dur >= self.slowlog_threshold >= 0 and "skip_slowlog" not in cmd.flags:
            # A command run by a script is logged with its caller's address and name.
            caller = self.current_client if c.id == 0 else None
            self.slowlog_add(c if caller is None else caller, argv, dur)
        mon = self.latency_monitor
        if mon is not None:
            mon.add_if_needed("fast-command" if "fast" in cmd.flags else "command", dur // 1000)

    def feed_monitors(self, c: Client, argv: list[bytes]) -> None:
        t = time.time()
        args = " ".join('"' + _repr_arg(a) + '"' for a in argv)
        where = "lua" if c.id == 0 else c.addr
        line = f"+{t:.6f} [{c.db.id} {where}] {args}\r\n".encode()
        for m in list(self.monitors):
            if m is not c:
                m.add_raw(line)
                self.schedule_flush(m)

    def propagate(self, dbid: int, argv: list[bytes]) -> None:
        batch = self.prop_batch
        if batch is not None:  # inside EXEC: the transaction propagates as one unit
            batch.append((dbid, argv))
            return
        for sink in self.sinks:
            sink(dbid, argv)

    def finish_command(self, c: Client, cmd: Command, argv: list[bytes]) -> None:
        """After a client's top-level command: client-side caching remembers what it read,
        then pushes held back for it (kaa.server.pubsub.deliver) follow its reply."""
        if c.tracking is not None:
            self.tracking.after_command(c, cmd, argv)
        pending = self.pending_push
        if pending:
            c.out.extend(pending)
            pending.clear()

    # ---- logging -------------------------------------------------------------
    def _open_log(self) -> None:
        path = self.config.logfile
        if path:
            try:
                self.log_file = open(path, "a", buffering=1)  # noqa: SIM115
            except OSError as e:
                print(f"Can't open the log file: {e.strerror}", file=sys.stderr)
                raise SystemExit(1) from e

    def log_enabled(self, level: int) -> bool:
        """Whether a message at ``level`` would be written (skip building costly ones)."""
        return level >= LOG_LEVELS.get(self.config.loglevel, 2)

    def log(self, level: int, msg: str) -> None:
        if level < LOG_LEVELS.get(self.config.loglevel, 2):
            return
        now = time.time()
        ts = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + ".%03d" % (int(now * 1000) % 1000)
        line = f"{os.getpid()}:{self.role} {ts} {_LEVEL_MARK.get(level, '*')} {msg}\n"
        out = self.log_file or sys.stdout
        try:
            out.write(line)
            out.flush()
        except (OSError, ValueError):
            pass

    def log_raw(self, text: str) -> None:
        out = self.log_file or sys.stdout
        out.write(text)
        out.flush()

    def log_notice(self, msg: str) -> None:
        self.log(2, msg)

    def log_warning(self, msg: str) -> None:
        self.log(3, msg)

    def log_verbose(self, msg: str) -> None:
        self.log(1, msg)

    def log_exception(self) -> None:
        for line in traceback.format_exc().splitlines():
            self.log(3, line)

    # ---- start, cron, stop --------------------------------------------------------
    async def start(self) -> None:
        """Open the listeners; raises OSError (after logging) if one cannot be opened."""
        self.loop = asyncio.get_running_loop()
        self.shutdown_event = asyncio.Event()
        cfg = self.config
        if cfg.port:
            binds = list(cfg.bind) or ["*", "-::*"]
            for addr in binds:
                optional = addr.startswith("-")
                host = addr[1:] if optional else addr
                if host == "*":
                    host = "0.0.0.0"
                elif host == "::*":
                    host = "::"
                try:
                    srv = await self.loop.create_server(
                        lambda: Client(self),
                        host=host,
                        port=cfg.port,
                        reuse_address=True,
                        backlog=cfg.tcp_backlog,
                        family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                    )
                except OSError as e:
                    if optional and e.errno in (97, 99, 22):  # EAFNOSUPPORT, EADDRNOTAVAIL, EINVAL
                        continue
                    self.log_warning(f"Warning: Could not create server TCP listening socket {addr}:{cfg.port}: {e.strerror}")
                    self.log_warning(f"Failed listening on port {cfg.port} (tcp), aborting.")
                    await self.close_listeners()
                    raise
                self.servers.append(srv)
                self.listening_ports.append((host, cfg.port))
        if cfg.unixsocket:
            path = cfg.unixsocket
            try:
                if os.path.exists(path):
                    os.unlink(path)
                srv = await self.loop.create_unix_server(lambda: Client(self, unix=True), path=path, backlog=cfg.tcp_backlog)
                os.chmod(path, cfg.unixsocketperm or 0o700)
            except OSError as e:
                self.log_warning(f"Failed opening Unix socket: {e.strerror}")
                await self.close_listeners()
                raise
            self.servers.append(srv)
        if self.tls is not None and self.tls.needed():
            try:
                await self.tls.start()  # logs why when TLS can't be set up
            except OSError:
                await self.close_listeners()
                raise
            if self.tls.port:
                self.log_notice("Ready to accept connections tls")
        self._cron_handle = self.loop.call_later(1 / max(1, cfg.hz), self._cron)

    def actual_port(self) -> int:
        """The TCP port listened on (useful with port 0 in tests)."""
        for s in self.servers:
            for sock in getattr(s, "sockets", ()) or ():
                name = sock.getsockname()
                if isinstance(name, tuple):
                    return int(name[1])
        return 0

    async def close_listeners(self) -> None:
        for s in self.servers:
            s.close()
        self.servers = []
        if self.tls is not None:
            self.tls.close()

    def _cron(self) -> None:
        assert self.loop is not None
        self.cron_loops += 1
        if not self.in_cycle:
            self.begin_cycle()
        t0 = time.perf_counter_ns()
        try:
            if not self.cron_paused:
                self.cron()
        except Exception:
            self.log_exception()
        self.loop_stats.cron_sum += (time.perf_counter_ns() - t0) // 1000
        if not self.shutting_down:
            self._cron_handle = self.loop.call_later(1 / max(1, self.config.hz), self._cron)

    def cron(self) -> None:
        now = time.time()
        ks = self.keyspace
        if ks.active_expire_enabled and self.role != "S":
            ks.active_expire_cycle()
        # instantaneous ops/sec, sampled every 100ms
        if not self.ops_samples or now - self.ops_samples[-1][0] >= 0.1:
            self.ops_samples.append((now, self.total_commands(), self.net_in(), self.net_out()))
            self.el_samples.append((now, self.loop_stats.cycles, self.loop_stats.el_sum))
        timeout = self.config.timeout
        if timeout:
            for c in list(self.clients.values()):
                if (
                    now - c.last_interaction > timeout
                    and not c.blocked
                    and not c.is_replica
                    and not c.is_master
                    and not c.subscriptions
                    and not c.psubscriptions
                    and not c.ssubscriptions
                ):
                    self.log_verbose("Closing idle client")
                    c.close()
        if self.clients:
            self.clients_cron(now)
        if self.pause_until and now >= self.pause_until:
            self.unpause()
        for hook in self.cron_hooks:
            hook(self)

    def clients_cron(self, now: float) -> None:
        """Valkey's clientsCron: visit a slice of the clients each run (all of them about
        once a second, at least 5 per run) and shrink idle or oversized query buffers."""
        ring = self._cron_ring
        pos = self._cron_pos
        n = len(self.clients)
        budget = min(n, max(n // max(1, self.config.hz), 5))
        inow = int(now)
        while budget:
            if pos >= len(ring):
                ring = self._cron_ring = list(self.clients.values())
                pos = 0
                if not ring:
                    break
            c = ring[pos]
            pos += 1
            budget -= 1
            if not c.closing:
                c.parser.resize_query_buffer(inow - int(c.last_interaction))
        self._cron_pos = pos

    def total_commands(self) -> int:
        return sum(c.tot_cmds for c in self.clients.values()) + self.stats.total_commands_processed

    def net_in(self) -> int:
        return sum(c.tot_net_in for c in self.clients.values()) + self.stats.total_net_input_bytes

    def net_out(self) -> int:
        return sum(c.tot_net_out for c in self.clients.values()) + self.stats.total_net_output_bytes

    def unpause(self) -> None:
        self.pause_until = 0.0
        self.pause_all = False
        waiting = self.paused_clients
        self.paused_clients = []
        for c in waiting:
            c.paused = False
            if not c.closing:
                c.run_pending()

    def request_shutdown(self, exit_code: int = 0) -> None:
        self.exit_code = exit_code
        if self.shutdown_event is not None:
            self.shutdown_event.set()

    def prepare_shutdown(self, save: bool | None = None, now: bool = False, force: bool = False) -> str | None:
        """Run the shutdown hooks (saving etc.). Returns an error text if shutdown must abort."""
        self.log_warning("User requested shutdown...")
        for hook in self.hooks_on_shutdown:
            hook()
        p = self.persistence
        if p.child_type == "rdb":
            self.log_warning("There is a child saving an .rdb. Killing it!")
            p.kill_child()
        do_save = bool(self.config.save) if save is None else save
        if do_save:
            self.log_notice("Saving the final RDB snapshot before exiting.")
            if not p.save() and not force:
                self.log_warning("Error trying to save the DB, can't exit.")
                return "Errors trying to SHUTDOWN. Check logs."
        pidfile = self.config.pidfile
        if pidfile:
            try:
                os.unlink(pidfile)
            except OSError:
                pass
        if self.config.unixsocket:
            try:
                os.unlink(self.config.unixsocket)
            except OSError:
                pass
        self.log_warning(f"{'Kaa'} is now ready to exit, bye bye...")
        return None

    async def serve_forever(self) -> None:
        await self.start()
        self.install_signal_handlers()
        assert self.shutdown_event is not None
        await self.shutdown_event.wait()
        self.shutting_down = True
        await self.close_listeners()
        for c in list(self.clients.values()):
            c.flush()
            c.close()

    def install_signal_handlers(self) -> None:
        assert self.loop is not None
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            try:
                self.loop.add_signal_handler(sig, self._on_signal, name)
            except (NotImplementedError, RuntimeError):
                pass

    def _on_signal(self, name: str) -> None:
        if self.shutting_down:
            return
        self.log_warning(f"Received {name} scheduling shutdown...")
        if self.prepare_shutdown() is None:
            self.request_shutdown(0)

    def used_memory(self) -> int:
        from kaa.server.info import estimate_used_memory

        return estimate_used_memory(self)

    def db(self, index: int) -> Database:
        return self.keyspace.dbs[index]

    def version_info(self) -> tuple[str, str]:
        return __version__, VALKEY_VERSION


# Valkey 8's text, word for word: it names no product, so it is honest for Kaa too, and
# clients that match on it (or just on "-DENIED") see exactly what Valkey sends.
PROTECTED_MODE_DENIED = (
    b"-DENIED Running in protected mode because protected mode is enabled and no password "
    b"is set for the default user. In this mode connections are only accepted from the "
    b"loopback interface. If you want to connect from external computers, you may adopt one "
    b"of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting from the same "
    b"host the server is running, however MAKE SURE it's not publicly accessible from "
    b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    b"Alternatively you can just disable the protected mode by editing the configuration "
    b"file, and setting the protected mode option to 'no', and then restarting the server. "
    b"3) If you started the server manually just for testing, restart it with the "
    b"'--protected-mode no' option. 4) Set up an authentication password for the default "
    b"user. NOTE: You only need to do one of the above things in order for the server to "
    b"start accepting connections from the outside.\r\n"
)


def _is_loopback(addr: str) -> bool:
    host = addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")


def _repr_arg(a: bytes) -> str:
    out = []
    for ch in a:
        if ch == 92:
            out.append("\\\\")
        elif ch == 34:
            out.append('\\"')
        elif ch == 10:
            out.append("\\n")
        elif ch == 13:
            out.append("\\r")
        elif ch == 9:
            out.append("\\t")
        elif ch == 7:
            out.append("\\a")
        elif ch == 8:
            out.append("\\b")
        elif 32 <= ch < 127:
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    return "".join(out)


__all__ = ["Server", "ConfigError", "Stats"]
