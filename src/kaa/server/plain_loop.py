"""The batch loop for plain data commands: ``Client.process`` + ``Client.call`` for a
run of commands, with the per-command state read once per run.

This module is plain Python and is also compiled by Cython when the package is
built with it (``plain_loop.pxd`` gives the loop's locals C types); the compiled
module is imported first, and both pass the same tests (``KAA_NO_ACCEL=1`` runs
this source). Keep it free of anything Cython would compile differently.
"""

from __future__ import annotations

from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from kaa.engine.blocking import handle_ready_keys
from kaa.protocol.reply import BULK_HEADERS, NO_REPLY, SMALL_INTS, Raw, ReplyError

if TYPE_CHECKING:
    from kaa.commands.registry import Command
    from kaa.server.client import Client
    from kaa.server.server import Server


def run_plain(c: Client, srv: Server, ctx: tuple[Any, ...], out: list[bytes],
              cmds: list[list[bytes]], i: int) -> tuple[int, Command | None, int, int]:
    """Run ``cmds[i:]`` while they are plain commands (``Command.plain``) that pass
    arity and the batch-safe gates, with the replies and statistics ``call()`` gives.
    ``Client.data_received`` calls it only while no feature that adds a pipeline stage
    is active, with ``srv.current_client`` set, ``ctx`` = ``srv.plain_ctx`` and ``out`` =
    ``c.out``. Returns the index of the first command not run and the statistics of
    the last run of one command, ``(i, command, calls, usec)``, for the caller to add
    (attribute writes cost compiled code a full lookup each, the interpreter far less).
    """
    entries, slow_watch, track_latency, gate, pending_push, ready_keys = ctx
    perf = perf_counter_ns
    no_reply = NO_REPLY
    n = len(cmds)
    last: Command | None = None
    # Statistics of a run of the same command are added once, when the run ends.
    calls = 0
    usec = 0
    # One clock read per command: each command's time runs from the end of the one
    # before (so it includes the little bookkeeping between them) to the end of
    # encoding its reply, as Valkey's call() includes building the reply.
    t0 = perf()
    while i < n:
        argv = cmds[i]
        entry = entries.get(argv[0])
        if entry is None:  # not a plain command (or unknown): process() runs it
            break
        handler, arity, cmd, latency_small = entry
        na = len(argv)
        if na != arity and (arity > 0 or na < -arity):
            break  # process() replies the arity error
        if gate is not None:
            if gate(c, cmd, argv) is not None:
                break  # refused: process() checks again and replies the error
            t0 = perf()  # eviction is not the command's time
        if cmd is not last:
            if last is not None:
                last.calls += calls
                last.usec += usec
                calls = usec = 0
            last = cmd
        try:
            reply: Any = handler(c, argv)
        except ReplyError as e:
            e.__traceback__ = None  # see Client.execute
            reply = e
        except Exception as e:  # a bug must not take the server down
            reply = c.internal_error(cmd, e)
        # (c.cur_argv is left alone: only commands run through Client.execute, such
        # as AUTH or EVAL, have readers for it.)
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
            out.append(c.enc(reply))
        t1 = perf()
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
            srv.slow_command(c, cmd, argv, dur)
            t0 = perf()
        if pending_push or ready_keys or reply is no_reply:
            # A push for this client, clients to wake, or a reply already sent: finish
            # as process() does, then leave the fast loop. (No plain command attaches a
            # propagation sink, which the caller checked before.)
            if pending_push:
                srv.finish_command(c, cmd, argv)
            if ready_keys:
                # Statistics first: a woken client's reply may be read at once.
                last.calls += calls
                last.usec += usec
                calls = usec = 0
                srv.current_client = None
                handle_ready_keys(srv)
            break
    return i, last, calls, usec
