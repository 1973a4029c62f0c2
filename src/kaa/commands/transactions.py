"""Transactions (multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.

``Client.process`` queues every command that arrives while ``client.multi`` is
not None (replying QUEUED), refuses NO_MULTI commands ("Command not allowed inside
a transaction") and sets ``multi_error`` when a command is rejected while queueing.
EXEC then runs the queue through ``Client.call`` with ``client.in_exec`` set (so
blocking commands behave as non-blocking), each reply in place inside one array.

WATCH bookkeeping is in ``kaa.server.watch``: a write to a watched key, a
FLUSHDB/FLUSHALL/SWAPDB that changes it, or a watched key that has expired by
EXEC time makes EXEC reply with a null array.

A transaction's writes propagate as one unit: MULTI, the writes, EXEC when there
is more than one write to propagate, the single write alone otherwise.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.registry import KeySpec, command
from kaa.protocol.reply import NULL_ARRAY, OK, ReplyError
from kaa.server.watch import discard_transaction

ERR_EXEC_WITHOUT_MULTI = ReplyError("ERR EXEC without MULTI")
ERR_DISCARD_WITHOUT_MULTI = ReplyError("ERR DISCARD without MULTI")
ERR_EXECABORT = ReplyError("EXECABORT Transaction discarded because of previous errors.")

_MULTI = [b"MULTI"]
_EXEC = [b"EXEC"]

NO_REPLY: Any = None  # kaa.server.client.NO_REPLY, bound on first use (import cycle)


def _no_reply() -> Any:
    global NO_REPLY
    if NO_REPLY is None:
        from kaa.server.client import NO_REPLY as nr

        NO_REPLY = nr
    return NO_REPLY


@command("multi", 1, "noscript loading stale fast no_multi allow_busy", "transaction",
         group="transactions", since="1.2.0", summary="Starts a transaction.", complexity="O(1)")
def multi(c: Any, argv: list[bytes]) -> Any:
    # Nested MULTI never gets here: Client.process refuses NO_MULTI commands inside MULTI.
    c.multi = []
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog", "transaction", group="transactions",
         since="1.2.0", summary="Executes all commands in a transaction.",
         complexity="Depends on commands in the transaction")
def exec_(c: Any, argv: list[bytes]) -> Any:
    queued = c.multi
    if queued is None:
        raise ERR_EXEC_WITHOUT_MULTI
    srv = c.server
    if c.watched and srv.watch.watched_key_expired(c):
        c.dirty_cas = True
    if c.multi_error:
        discard_transaction(c)
        raise ERR_EXECABORT
    if c.dirty_cas:
        discard_transaction(c)
        return NULL_ARRAY
    discard_transaction(c)  # unwatch before running: our own writes must not touch us
    run_transaction(c, queued)
    return _no_reply()


def run_transaction(c: Any, queued: list[tuple[Any, list[bytes]]]) -> None:
    """Run the queued commands, replies in one array; propagate the writes as a unit."""
    srv = c.server
    skip = c.reply_mode == 2
    if skip:
        c.reply_mode = 1  # CLIENT REPLY SKIP covers the whole EXEC reply
    elif not c.reply_mode:
        c.out.append(b"*%d\r\n" % len(queued))
    batch: list[tuple[int, list[bytes]]] | None = None
    if srv.propagating and srv.prop_batch is None:
        batch = srv.prop_batch = []
    tracking = srv.tracking
    c.in_exec = True
    try:
        call = c.call
        for cmd, cargv in queued:
            call(cmd, cargv)
            if c.tracking is not None and "readonly" in cmd.flags:
                tracking.remember(c, cmd, cargv)
    finally:
        c.in_exec = False
        if skip:
            c.reply_mode = 0
        if batch is not None:
            srv.prop_batch = None
            propagate_as_unit(srv, batch)
        # EXEC itself is never propagated: the writes above stand for it.
        c.propagate_argv = []


def propagate_as_unit(srv: Any, batch: list[tuple[int, list[bytes]]]) -> None:
    """Send writes collected in ``Server.prop_batch`` to the sinks as one unit: a single
    write alone, several wrapped in MULTI ... EXEC (scripts can use this too)."""
    if len(batch) == 1:
        srv.propagate(*batch[0])
    elif batch:
        srv.propagate(batch[0][0], _MULTI)
        for dbid, pargv in batch:
            srv.propagate(dbid, pargv)
        srv.propagate(batch[-1][0], _EXEC)


@command("discard", 1, "noscript loading stale fast allow_busy", "transaction",
         group="transactions", since="2.0.0", summary="Discards a transaction.",
         complexity="O(N), when N is the number of queued commands")
def discard(c: Any, argv: list[bytes]) -> Any:
    if c.multi is None:
        raise ERR_DISCARD_WITHOUT_MULTI
    discard_transaction(c)
    return OK


@command("watch", -2, "noscript loading stale fast no_multi allow_busy", "transaction",
         keys=(1, -1, 1), key_specs=(KeySpec(flags=("RO",), begin_index=1, last=-1),),
         group="transactions", since="2.2.0",
         summary="Monitors changes to keys to determine the execution of a transaction.",
         complexity="O(1) for every key.")
def watch(c: Any, argv: list[bytes]) -> Any:
    if c.dirty_cas:
        return OK  # already doomed: no point in watching more
    reg = c.server.watch
    for key in argv[1:]:
        reg.watch(c, key)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", "transaction",
         group="transactions", since="2.2.0",
         summary="Forgets about watched keys of a transaction.", complexity="O(1)")
def unwatch(c: Any, argv: list[bytes]) -> Any:
    if c.watched is not None:
        c.server.watch.unwatch_all(c)
    c.dirty_cas = False
    return OK
