"""One connected client: the asyncio Protocol that parses requests, runs them through
the command pipeline and buffers replies.

The pipeline (``Client.process``) has explicit stages, in Valkey's order:
lookup and arity, authentication and ACL, cluster slot, out-of-memory, MULTI
queueing, execution, then propagation of the write's effect. Each stage costs
one attribute test when its feature is off.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from kaa.accel import compiled
from kaa.commands.registry import Command, wrong_arity
from kaa.engine.blocking import handle_ready_keys
from kaa.protocol.reply import (
    NO_REPLY,
    NULL_ARRAY,
    ReplyError,
    encode2,
    encode3,
    encode_error,
)
from kaa.protocol.request import log_reason, parser_class
from kaa.server.watch import exec_abort

if TYPE_CHECKING:
    from kaa.server.conn_core import ClientCore, LoopStats, ServerCore
else:
    # The read path (data_received, the plain-command loop, flush) and the fields it
    # reads, compiled where built.
    _core = compiled("kaa.server.conn_core")
    ClientCore, LoopStats, ServerCore = _core.ClientCore, _core.LoopStats, _core.ServerCore

if TYPE_CHECKING:
    from kaa.engine.keyspace import Database
    from kaa.server.server import Server

# Client flags shown by CLIENT LIST (the letters Valkey prints).
_NO_SUBCOMMAND: Any = None


_perf_ns = time.perf_counter_ns


class Client(ClientCore, asyncio.Protocol):
    """State of one connection. ``__slots__`` keeps the per-client cost small; the
    fields the read path reads per request are ``ClientCore``'s (kaa.server.conn_core)."""

    __slots__ = (
        "id", "db", "resp", "name", "lib_name", "lib_ver", "addr", "laddr", "fd",
        "ctime", "user", "multi_error", "watched", "flags", "kind", "in_exec",
        "propagate_argv", "subscriptions", "psubscriptions", "ssubscriptions", "no_evict",
        "no_touch", "unix", "is_master", "is_replica", "killed", "block_state",
        "argv_mem", "cur_argv", "monitor", "protected",
        # transactions, Pub/Sub context, output buffer limits (kaa.server.watch/pubsub/obuf)
        "dirty_cas", "obuf_soft_since",
        # the ACL user (kaa.security.acl.User) whose permissions apply
        "acl_user",
    )
    server: Server  # (ClientCore has the slot)

    def __init__(self, server: Server, unix: bool = False) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.transport: asyncio.Transport | None = None
        self.transport_write: Any = None  # transport.write, looked up once
        self.parser = _PARSER(server.config.proto_max_bulk_len)
        self.db: Database = server.keyspace.dbs[0]
        self.resp = 2
        self.enc = encode2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.addr = ""
        self.laddr = ""
        self.fd = -1
        self.ctime = time.time()
        self.last_interaction = self.ctime
        self.authenticated = not server.auth_required()
        self.user = "default"
        self.acl_user: Any = server.acl.default
        self.out: list[bytes] = []
        self.closing = False
        self.close_after_reply = False
        self.pending: deque[list[bytes]] = deque()
        self.blocked = False
        self.paused = False
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.multi_error = False
        self.watched: dict[tuple[int, bytes], Any] | None = None
        self.reply_mode = 0  # 0 on, 1 off, 2 skip next
        self.last_cmd = "NULL"
        self.flags = ""
        self.kind = "normal"
        self.tot_net_in = 0
        self.tot_net_out = 0
        self.tot_cmds = 0
        self.in_exec = False
        self.propagate_argv: list[bytes] | None = None
        self.subscriptions: set[bytes] = set()
        self.psubscriptions: set[bytes] = set()
        self.ssubscriptions: set[bytes] = set()
        self.no_evict = False
        self.no_touch = False
        self.tracking: Any = None
        self.unix = unix
        self.is_master = False
        self.is_replica = False
        self.killed = False
        self.block_state: Any = None
        self.argv_mem = 0
        self.cur_argv: list[bytes] | None = None
        self.monitor = False
        self.protected = False
        self.dirty_cas = False  # a WATCHed key was touched: EXEC will fail
        self.pubsub_ctx = False  # RESP2 and subscribed: only Pub/Sub commands allowed
        self.obuf_limit: tuple[int, int, int] | None = server.obuf_normal_limit
        self.obuf_soft_since = 0.0
        self.parser.authenticated = self.authenticated

    # ---- asyncio protocol ----------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport_write = transport.write  # type: ignore[attr-defined]
        # The protocol object is built at accept time; a CONFIG SET that ran before this
        # callback did not see the client yet, so take the limit again now.
        self.parser.max_bulk = self.server.config.proto_max_bulk_len
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.addr = _fmt_addr(peer, self.fd, self.unix)
        self.laddr = _fmt_addr(local, self.fd, self.unix)
        self.server.client_connected(self)

    def query_buffer_full(self, data: bytes) -> bool:
        """Valkey's check of the query buffer (unparsed bytes plus this read) before
        running anything from it: past the limit, close without a reply (True)."""
        limit = self.server.config.client_query_buffer_limit
        if not self.authenticated and limit > _UNAUTH_QUERY_BUFFER_LIMIT:
            limit = _UNAUTH_QUERY_BUFFER_LIMIT
        if len(data) + self.parser.pending_bytes() > limit:
            self.query_buffer_limit_reached(data)
            return True
        return False

    def obuf_exceeded(self, n: int) -> bool:
        """Whether writing ``n`` more bytes overcomes the output buffer limit (the
        client is closed then)."""
        return self.server.obuf.exceeded(self, n)

    def query_buffer_limit_reached(self, data: bytes) -> None:
        """Valkey's handleQbLimitReached: log, count, close without a reply."""
        srv = self.server
        head = (self.parser.peek(64) + data)[:64]
        info = self.info_line()
        srv.log_warning(
            f"Closing client that reached max query buffer length: {info} "
            f"(qbuf initial bytes: {_sds_repr(head)})"
        )
        srv.stats.client_query_buffer_limit_disconnections += 1
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.client_disconnected(self)

    # ---- replies --------------------------------------------------------
    def add_reply(self, value: Any) -> None:
        if self.reply_mode:
            if self.reply_mode == 2:
                self.reply_mode = 0
            return
        self.out.append(self.enc(value))

    def add_raw(self, data: bytes) -> None:
        """Queue encoded bytes regardless of CLIENT REPLY (push messages, MONITOR)."""
        self.out.append(data)

    def send_later(self, value: Any) -> None:
        """Reply from outside this client's own request (push, wake-up): flush next tick."""
        self.out.append(self.enc(value))
        self.server.schedule_flush(self)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.out:
                data = b"".join(self.out)
                self.out.clear()
                self.transport.write(data)
            self.transport.close()
        self.closing = True

    def protocol_error(self, msg: str) -> None:
        srv = self.server
        srv.count_error("ERR")  # counts total_error_replies too
        self.out.append(encode_error("ERR " + msg))
        if srv.log_enabled(1):
            srv.log_verbose(f"Protocol error ({log_reason(msg)}) from client: {self.info_line()}. ")
        self.close_after_reply = True
        self.flush()
        self.close()

    def set_resp(self, version: int) -> None:
        self.resp = version
        self.enc = encode3 if version == 3 else encode2
        self.pubsub_ctx = version == 2 and bool(
            self.subscriptions or self.psubscriptions or self.ssubscriptions)

    @property
    def null_array(self) -> Any:
        return NULL_ARRAY

    # ---- the command pipeline -------------------------------------------
    def run_pending(self) -> None:
        """Process queued commands until the queue empties or the client blocks again."""
        pending = self.pending
        while pending and not (self.blocked or self.paused or self.closing):
            self.process(pending.popleft())
            if self.close_after_reply:  # QUIT: what follows is never run
                pending.clear()
                break
        if self.out:
            self.flush()

    def internal_error(self, cmd: Command, e: Exception) -> ReplyError:
        """A handler raised something other than ReplyError: log it, reply an error."""
        srv = self.server
        srv.log_warning(f"Internal error running {cmd.fullname}: {e!r}")
        srv.log_exception()
        return ReplyError(f"ERR internal error: {type(e).__name__}: {e}")

    def process(self, argv: list[bytes]) -> None:
        """Run one command through every stage and queue its reply."""
        srv = self.server
        cmd = srv.commands.get(argv[0])
        if cmd is None or cmd.subcommands:
            cmd = self.resolve_command(cmd, argv)
            if cmd is None:
                return
        arity = cmd.arity
        n = len(argv)
        if (arity > 0 and n != arity) or n < -arity:
            self.reject(wrong_arity(cmd.fullname), cmd)
            return
        if not self.authenticated and not cmd.no_auth and srv.auth_required():
            self.reject(ReplyError("NOAUTH Authentication required."), cmd)
            return
        if srv.gate is not None:
            err = srv.gate(self, cmd, argv)
            if err is not None:
                if err is POSTPONED:  # the gate queued argv again (CLIENT PAUSE)
                    return
                self.reject(err, cmd)
                return
        if self.pubsub_ctx and (cmd.parent is not None or cmd.name not in _PUBSUB_CONTEXT):
            self.reject(ReplyError(
                f"ERR Can't execute '{cmd.fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE "
                "/ PING / QUIT / RESET are allowed in this context"), cmd)
            return
        if self.multi is not None and cmd.name not in _MULTI_PASSTHROUGH:
            if "no_multi" in cmd.flags:
                self.reject(_ERR_NO_MULTI, cmd)
                return
            self.multi.append((cmd, argv))
            self.add_reply(_QUEUED)
            return
        srv.current_client = self
        self.call(cmd, argv)
        srv.current_client = None
        if srv.pending_push or self.tracking is not None:
            srv.finish_command(self, cmd, argv)
        if srv.keyspace.ready_keys and not self.in_exec:
            # Serve clients blocked on keys this command (or EXEC, or script) made ready.
            handle_ready_keys(srv)

    def resolve_command(self, cmd: Command | None, argv: list[bytes]) -> Command | None:
        """The slow part of lookup: other letter cases, subcommands, and their errors."""
        srv = self.server
        if cmd is None:
            cmd = srv.lookup_command(argv[0])
            if cmd is None:
                self.reject(srv.unknown_command_error(argv), None)
                return None
        if not cmd.subcommands:
            return cmd
        if len(argv) == 1:
            if cmd.handler is None:
                self.reject(wrong_arity(cmd.name), cmd)
                return None
            return cmd
        sub = cmd.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
        if sub is None:
            if cmd.handler is None:
                self.reject(srv.unknown_subcommand_error(argv), cmd)
                return None
            return cmd
        return sub

    def call(self, cmd: Command, argv: list[bytes]) -> None:
        srv = self.server
        dirty = srv.keyspace.dirty
        reply, dur = self.execute(cmd, argv)
        if reply is not _NO_REPLY:
            if self.reply_mode:
                if self.reply_mode == 2:
                    self.reply_mode = 0
            else:
                self.out.append(self.enc(reply))
        if dur >= srv.slow_watch:  # slowlog and latency monitor (one test when both are off)
            srv.slow_command(self, cmd, argv, dur)
        if srv.monitors and "skip_monitor" not in cmd.flags and "admin" not in cmd.flags:
            bs = self.block_state
            if bs is None or not bs.reprocessing:
                srv.feed_monitors(self, argv)
        self.propagate_effect(argv, dirty)

    def execute(self, cmd: Command, argv: list[bytes]) -> tuple[Any, int]:
        """The handler with Valkey's bookkeeping around it (statistics, latency
        histogram, error counts, last command): (reply, microseconds, -1 while the
        client is blocked). Shared by ``call`` and the scripting dispatcher."""
        srv = self.server
        self.cur_argv = argv
        t0 = _perf_ns()
        try:
            reply = cmd.handler(self, argv)  # type: ignore[misc]
        except ReplyError as e:
            # Shared error constants are raised again and again: drop the frames
            # each raise would otherwise chain onto them.
            e.__traceback__ = None
            reply = e
        except Exception as e:  # a bug must not take the server down
            reply = self.internal_error(cmd, e)
        dur = (_perf_ns() - t0) // 1000
        bs = self.block_state
        if bs is not None:  # a blocking command counts once, when it completes (engine.blocking)
            bs.usec += dur
            dur = -1 if self.blocked else bs.usec
        if dur >= 0:
            cmd.calls += 1
            cmd.usec += dur
            # Valkey counts a command once it ran (not while blocked, not when
            # refused), for the client whose request it serves (a script's caller).
            cur = srv.current_client
            (self if cur is None else cur).tot_cmds += 1
            if srv.latency_tracking:
                cmd.record_latency(dur)
        self.last_cmd = cmd.fullname
        if type(reply) is ReplyError:
            cmd.failed_calls += 1
            srv.count_error(reply.code, reply.custom)
        return reply, dur

    def propagate_effect(self, argv: list[bytes], dirty: int) -> None:
        """After a command: if it changed the keyspace (``dirty`` was the counter before
        it) and a sink is attached, hand its effect to ``Server.propagate``."""
        srv = self.server
        if srv.keyspace.dirty != dirty and srv.propagating:
            pargv = self.propagate_argv
            self.propagate_argv = None
            if pargv is None:
                srv.propagate(self.db.id, argv)
            elif pargv:  # [] = the handler propagated its effect itself (EXEC)
                srv.propagate(self.db.id, pargv)
        elif self.propagate_argv is not None:
            self.propagate_argv = None

    def reject(self, err: ReplyError, cmd: Command | None) -> None:
        """A command refused before it ran; inside MULTI it also dooms the EXEC."""
        if cmd is not None:
            cmd.rejected_calls += 1
        self.server.count_error(err.code)
        if self.multi is not None:
            if cmd is not None and cmd.name == "exec" and cmd.parent is None:
                err = exec_abort(self, err)  # EXEC refused: the transaction is discarded
            else:
                self.multi_error = True
        self.add_reply(err)

    def info_line(self) -> str:
        """This client as a CLIENT LIST line (Valkey's catClientInfoString), for logs."""
        try:
            from kaa.commands.client_cmds import client_info_line

            return client_info_line(self, time.time())
        except Exception:  # a log line must never fail its caller
            return self.describe()

    def describe(self) -> str:
        return f"id={self.id} addr={self.addr} laddr={self.laddr} fd={self.fd} name={self.name.decode('utf-8', 'replace')}"


_NO_REPLY: Any = NO_REPLY

# Returned by a gate that put the command back on the client's pending queue
# (CLIENT PAUSE): the command is neither run nor rejected now.
POSTPONED = ReplyError("POSTPONED")

# Run at once inside MULTI (MULTI and WATCH are refused there as NO_MULTI commands).
_MULTI_PASSTHROUGH = frozenset({"exec", "discard", "quit", "reset"})
_ERR_NO_MULTI = ReplyError("ERR Command not allowed inside a transaction")
# What a RESP2 client may run while subscribed (top-level commands only).
_PUBSUB_CONTEXT = frozenset({
    "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
    "punsubscribe", "quit", "reset",
})

from kaa.protocol.reply import QUEUED as _QUEUED  # noqa: E402

# The request parser class (hiredis-based when available; KAA_PURE_PARSER=1 forces
# the pure-Python one) and the query buffer cap for unauthenticated clients.
_PARSER = parser_class()
_UNAUTH_QUERY_BUFFER_LIMIT = 1024 * 1024


def _sds_repr(data: bytes) -> str:
    """Quote bytes as Valkey's sdscatrepr does (for log lines)."""
    out = ['"']
    for ch in data:
        if ch in _SDS_ESCAPES:
            out.append(_SDS_ESCAPES[ch])
        elif 32 <= ch < 127:
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    out.append('"')
    return "".join(out)


_SDS_ESCAPES = {92: "\\\\", 34: '\\"', 10: "\\n", 13: "\\r", 9: "\\t", 7: "\\a", 8: "\\b"}


def _fmt_addr(addr: Any, fd: int, unix: bool) -> str:
    if unix:
        return f"{addr or ''}:0" if addr else "/unixsocket:0"
    if isinstance(addr, tuple):
        host, port = addr[0], addr[1]
        if ":" in host:
            return f"[{host}]:{port}"
        return f"{host}:{port}"
    return str(addr)
