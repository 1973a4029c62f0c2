"""A connection's read path: ``ClientCore.data_received`` (split the read, run its
plain commands in a batch loop, queue the write), ``ClientCore.flush``, and the server
state that path reads per request, ``ServerCore`` (with ``begin_cycle`` and
``flush_pending``, which bracket one event-loop iteration). ``Client`` and ``Server``
subclass these two.

This module is plain Python and is also compiled by Cython when the package is built
with it: ``conn_core.pxd`` turns both classes into extension types whose fields are C
struct members, so compiled code reads one with a load where an attribute of a Python
object costs it a full lookup (about 200 instructions). Interpreted code reads these
fields through a descriptor, a little dearer than a slot, so a field belongs here only
when this path reads it per request. The compiled module is imported first; both pass
the same tests (``KAA_NO_ACCEL=1`` runs this source). Keep it free of anything Cython
would compile differently.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable
from time import perf_counter_ns, time
from typing import TYPE_CHECKING, Any

from kaa.accel import optional
from kaa.engine.blocking import handle_ready_keys
from kaa.protocol.reply import BULK_HEADERS, NO_REPLY, SMALL_INTS, Raw, ReplyError

if TYPE_CHECKING:
    from kaa.commands.registry import Command

# The compiled multibulk splitter, used directly while the parser allows it
# (``split_limit`` >= 0 only where it was built).
_split: Any = getattr(optional("kaa.protocol._multibulk"), "split_commands", None)

# The read path's clocks: time.perf_counter_ns and time.time, or, where Cython compiled
# this module, the same clock_gettime reads in C (conn_core.pxd declares them), without
# a Python call and an int object each. They are set through globals() because the
# compiled module may not assign names its .pxd declares as C functions.
clock_ns: Callable[[], int]
unix_time: Callable[[], float]
globals().update(clock_ns=perf_counter_ns, unix_time=time)

# The least client-query-buffer-limit CONFIG SET accepts: a read this small onto an
# empty query buffer cannot reach any limit.
MIN_QUERY_BUFFER_LIMIT = 1024 * 1024


class LoopStats:
    """Event loop metrics (INFO stats/debug eventloop_*), in microseconds.

    A "cycle" starts with the first piece of work of a loop iteration (a read, the
    cron) and ends when a callback scheduled then runs, early in the next iteration:
    the time the loop spent working rather than waiting, as Valkey measures it from
    afterSleep to beforeSleep."""

    __slots__ = ("cycles", "el_sum", "el_max", "cron_sum", "cmd_per_cycle_max", "t0", "cmds")
    cycles: int
    el_sum: int
    el_max: int
    cron_sum: int
    cmd_per_cycle_max: int
    t0: int
    cmds: int

    def __init__(self) -> None:
        self.reset()
        self.t0 = 0
        self.cmds = 0  # commands read during the current cycle

    def reset(self) -> None:
        self.cycles = 0
        self.el_sum = 0
        self.el_max = 0
        self.cron_sum = 0
        self.cmd_per_cycle_max = 0


class CallStats:
    """A command's calls and microseconds (INFO commandstats), which the batch loop
    adds to; ``Command.calls`` and ``Command.usec`` read and write them here."""

    __slots__ = ("calls", "usec")
    calls: int
    usec: int

    def __init__(self) -> None:
        self.calls = 0
        self.usec = 0


class ServerCore:
    """The server state the read path reads per request (``Server`` sets it up)."""

    __slots__ = (
        "loop", "now", "in_cycle", "loop_stats", "flush_scheduled", "flush_cb",
        "flush_context", "pending_flush", "current_client", "plain_ctx", "gate_in_batch",
        "monitors", "propagating", "pending_push",
    )
    loop: asyncio.AbstractEventLoop | None
    now: float
    in_cycle: bool
    loop_stats: LoopStats
    flush_scheduled: bool
    flush_cb: Callable[[], None]
    flush_context: contextvars.Context
    pending_flush: list[ClientCore]
    current_client: Any
    # What run_plain reads at every call: (entries, slow_watch, latency_tracking, gate,
    # pending_push, ready_keys), see Server.refresh_plain_ctx.
    plain_ctx: tuple[Any, ...]
    gate_in_batch: bool
    monitors: list[Any]
    propagating: bool
    pending_push: list[bytes]

    # Defined by Server (kaa.server.server), for the read path's rare turns.
    def count_error(self, code: str, custom: bool = False) -> None:
        raise NotImplementedError

    def slow_command(self, c: Any, cmd: Command, argv: list[bytes], dur: int) -> None:
        raise NotImplementedError

    def finish_command(self, c: Any, cmd: Command, argv: list[bytes]) -> None:
        raise NotImplementedError

    def begin_cycle(self) -> None:
        """The first work of this loop iteration: read the clock (``now``, Valkey's
        cached unixtime) and time the iteration until the next one."""
        self.now = unix_time()
        if self.loop is None:  # not serving (a unit test driving a Client): every read
            return
        self.in_cycle = True
        self.loop_stats.t0 = clock_ns()
        if not self.flush_scheduled:  # flush_pending ends the iteration's metrics
            self.flush_scheduled = True
            self.loop.call_soon(self.flush_cb, context=self.flush_context)

    def schedule_flush(self, c: ClientCore) -> None:
        """Write c's replies at the end of this loop iteration (``data_received``
        appends to ``pending_flush`` itself: its ``begin_cycle`` scheduled the flush)."""
        self.pending_flush.append(c)
        if not self.flush_scheduled and self.loop is not None:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush_cb, context=self.flush_context)

    def flush_pending(self) -> None:
        """Valkey's beforeSleep, once per loop iteration: write the replies queued by
        this iteration's reads, then close the iteration's event-loop metrics (one
        callback for both)."""
        self.flush_scheduled = False
        pending = self.pending_flush
        if pending:
            self.pending_flush = []
            for c in pending:
                if c.out and not c.closing:
                    c.flush()
        if self.in_cycle:  # the iteration's metrics (begin_cycle started them)
            st = self.loop_stats
            dur = (clock_ns() - st.t0) // 1000
            st.cycles += 1
            st.el_sum += dur
            if dur > st.el_max:
                st.el_max = dur
            if st.cmds > st.cmd_per_cycle_max:
                st.cmd_per_cycle_max = st.cmds
            st.cmds = 0
            self.in_cycle = False


class ClientCore:
    """The connection state the read path reads per request (``Client`` sets it up;
    the command pipeline, ``process``, and everything else live there)."""

    __slots__ = (
        "server", "parser", "transport", "transport_write", "out", "enc", "pending",
        "blocked", "paused", "closing", "close_after_reply", "multi", "authenticated",
        "reply_mode", "pubsub_ctx", "tracking", "obuf_limit", "tot_net_in", "tot_net_out",
        "tot_cmds", "last_interaction", "last_cmd",
    )
    server: ServerCore
    parser: Any
    transport: asyncio.Transport | None
    transport_write: Callable[[bytes], None]
    out: list[bytes]
    enc: Callable[[Any], bytes]
    pending: deque[list[bytes]]
    blocked: bool
    paused: bool
    closing: bool
    close_after_reply: bool
    multi: list[tuple[Command, list[bytes]]] | None
    authenticated: bool
    reply_mode: int  # 0 on, 1 off, 2 skip next
    pubsub_ctx: bool  # RESP2 and subscribed: only Pub/Sub commands allowed
    tracking: Any
    obuf_limit: tuple[int, int, int] | None
    tot_net_in: int
    tot_net_out: int
    tot_cmds: int
    last_interaction: float
    last_cmd: str

    # Defined by Client (kaa.server.client): the command pipeline and the rare turns.
    def process(self, argv: list[bytes]) -> None:
        raise NotImplementedError

    def run_pending(self) -> None:
        raise NotImplementedError

    def query_buffer_full(self, data: bytes) -> bool:
        raise NotImplementedError

    def protocol_error(self, msg: str) -> None:
        raise NotImplementedError

    def internal_error(self, cmd: Command, e: Exception) -> ReplyError:
        raise NotImplementedError

    def obuf_exceeded(self, n: int) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def data_received(self, data: bytes) -> None:
        srv = self.server
        if not srv.in_cycle:  # event loop metrics and the cached clock (begin_cycle)
            srv.begin_cycle()
        n = len(data)
        self.tot_net_in += n
        self.last_interaction = srv.now  # as Valkey, the time cached for this iteration
        parser = self.parser
        split_limit = parser.split_limit
        fed = False  # whether the parser itself ran (only then can it hold or fail)
        # Valkey checks the query buffer (unparsed bytes plus this read) before
        # running anything from it, and closes without a reply. No limit is below
        # 1 MiB, so a small read onto an empty buffer cannot reach one.
        if ((split_limit < 0 and parser.in_pure) or n > MIN_QUERY_BUFFER_LIMIT) \
                and self.query_buffer_full(data):
            return  # closed
        if split_limit >= 0:  # (FastRequestParser.feed's first step, inlined)
            cmds, end = _split(data, split_limit)
            if end != n:
                cmds = parser.split_rest(data, cmds, end)
                fed = True
        else:
            cmds = parser.feed(data)
            fed = True
        srv.loop_stats.cmds += len(cmds)
        while True:
            if self.pending or self.blocked or self.paused:
                self.pending.extend(cmds)
                self.run_pending()
            else:
                # Runs of plain commands through run_plain, the rest one by one through
                # process(); stop where the client blocks, pauses or closes (what
                # follows a block or pause waits in ``pending``).
                nc = len(cmds)
                i = 0
                while i < nc:
                    if (srv.gate_in_batch and self.multi is None and self.authenticated
                            and not self.reply_mode and not self.pubsub_ctx
                            and self.tracking is None and not srv.monitors
                            and not srv.propagating and not srv.pending_push):
                        srv.current_client = self
                        try:
                            i = self.run_plain(srv, cmds, i)
                        finally:
                            srv.current_client = None
                        if i >= nc:
                            break
                    self.process(cmds[i])
                    i += 1
                    if self.blocked or self.paused or self.closing or self.close_after_reply:
                        # QUIT (close_after_reply): what follows is never run.
                        if not (self.closing or self.close_after_reply):
                            self.pending.extend(cmds[i:])
                        break
            # Unauthenticated clients are parsed one command at a time, as Valkey
            # applies the unauthenticated limits before each command.
            if not fed or not parser.held or self.closing or self.close_after_reply or self.blocked:
                break
            cmds = parser.feed(b"")
        if self.closing:
            return
        if fed and parser.error is not None and not self.close_after_reply:
            self.protocol_error(parser.error)
        if self.out:
            if srv.loop is not None:
                # Written once this loop iteration has read every ready socket, as
                # Valkey writes in beforeSleep: a burst of writes wakes the peers once
                # rather than one wake-up per reply (costly cross-CPU interrupts).
                # (schedule_flush without its test: begin_cycle, which this
                # iteration's first read ran, scheduled flush_pending already.)
                srv.pending_flush.append(self)
            else:
                self.flush()

    def run_plain(self, srv: ServerCore, cmds: list[list[bytes]], i: int) -> int:
        """Run ``cmds[i:]`` while they are plain commands (``Command.plain``) that pass
        arity and the batch-safe gates, with the replies and statistics
        ``Client.process`` + ``Client.call`` give, the per-command state read once per
        run. ``data_received`` calls it only while no feature that adds a pipeline
        stage is active, with ``srv.current_client`` set. Returns the index of the
        first command not run."""
        entries, slow_watch, track_latency, gate, pending_push, ready_keys = srv.plain_ctx
        out = self.out
        no_reply = NO_REPLY
        n = len(cmds)
        start = i
        last: Command | None = None
        last_stats: CallStats | None = None
        last_name = ""
        # Statistics of a run of the same command are added once, when the run ends.
        calls = 0
        usec = 0
        # One clock read per command: each command's time runs from the end of the
        # one before (so it includes the little bookkeeping between them) to the end
        # of encoding its reply, as Valkey's call() includes building the reply.
        t0 = clock_ns()
        while i < n:
            argv = cmds[i]
            entry = entries.get(argv[0])
            if entry is None:  # not a plain command (or unknown): process() runs it
                break
            handler, arity, cmd, latency_small, stats, name = entry
            na = len(argv)
            if na != arity and (arity > 0 or na < -arity):
                break  # process() replies the arity error
            if gate is not None:
                if gate(self, cmd, argv) is not None:
                    break  # refused: process() checks again and replies the error
                t0 = clock_ns()  # eviction is not the command's time
            if cmd is not last:
                if last_stats is not None:
                    last_stats.calls += calls
                    last_stats.usec += usec
                    calls = usec = 0
                last = cmd
                last_stats = stats
                last_name = name
            try:
                reply: Any = handler(self, argv)
            except ReplyError as e:
                e.__traceback__ = None  # see Client.execute
                reply = e
            except Exception as e:  # a bug must not take the server down
                reply = self.internal_error(cmd, e)
            # (c.cur_argv is left alone: only commands run through Client.execute,
            # such as AUTH or EVAL, have readers for it.)
            # The commonest replies are encoded here (the same in RESP2 and RESP3).
            t = type(reply)
            if t is Raw:
                out.append(reply)
            elif t is bytes and len(reply) < 512:
                out.append(BULK_HEADERS[len(reply)] + reply + b"\r\n")
            elif t is int:
                out.append(SMALL_INTS[reply] if 0 <= reply <= 10000 else b":%d\r\n" % reply)
            elif reply is not no_reply:  # (replied by itself, or closed the client)
                if t is ReplyError:
                    cmd.failed_calls += 1
                    srv.count_error(reply.code, reply.custom)
                out.append(self.enc(reply))
            t1 = clock_ns()
            dur = (t1 - t0) // 1000
            t0 = t1
            i += 1
            calls += 1
            usec += dur
            if track_latency:
                if dur < 128:
                    latency_small[dur] += 1
                else:
                    cmd.record_latency(dur)
            if dur >= slow_watch:
                srv.slow_command(self, cmd, argv, dur)
                t0 = clock_ns()
            if pending_push or ready_keys or reply is no_reply:
                # A push for this client, clients to wake, or a reply already sent:
                # finish as process() does, then leave the fast loop. (No plain
                # command attaches a propagation sink, which the caller checked.)
                if pending_push:
                    srv.finish_command(self, cmd, argv)
                if ready_keys:
                    # Statistics first: a woken client's reply may be read at once.
                    stats.calls += calls  # (this command's, the run's last)
                    stats.usec += usec
                    calls = usec = 0
                    self.tot_cmds += i - start
                    start = i
                    self.last_cmd = name
                    srv.current_client = None
                    handle_ready_keys(srv)
                break
        if last_stats is not None:
            last_stats.calls += calls
            last_stats.usec += usec
            self.last_cmd = last_name
        self.tot_cmds += i - start
        return i

    def flush(self) -> None:
        out = self.out
        if not out or self.transport is None:
            return
        # join returns a lone bytes item itself, and makes exact bytes of a lone Raw
        # (uvloop writes any bytes subclass through a memoryview, far dearer).
        data = b"".join(out)
        out.clear()
        if self.obuf_limit is not None and self.obuf_exceeded(len(data)):
            return  # closed for overcoming its output buffer limit
        self.tot_net_out += len(data)
        if not self.closing:
            self.transport_write(data)
        if self.close_after_reply:
            self.close()
