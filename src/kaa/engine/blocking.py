"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK ...): Valkey's blocked.c.

How a blocking command uses this module (the handler side)::

    from kaa.engine.blocking import block_client, deny_blocking, parse_timeout
    from kaa.protocol.reply import NULL_ARRAY
    from kaa.server.client import NO_REPLY

    @command("bzpopmin", -3, "write fast blocking", "sortedset", keys=(1, -2, 1), ...)
    def bzpopmin(c, argv):
        deadline = parse_timeout(argv[-1])     # absolute ms (0 = forever); Valkey's errors
        for key in argv[1:-1]:
            ...                                # serve from the first non-empty key:
            c.propagate_argv = [b"ZPOPMIN", key]   # propagate the non-blocking form
            return reply
        if deny_blocking(c):                   # inside MULTI/EXEC or a script
            return NULL_ARRAY                  # what the command replies on timeout
        block_client(c, argv[1:-1], deadline, "zset")
        return NO_REPLY

``block_client(c, keys, deadline_ms, ready_type, *, timeout_reply=NULL_ARRAY,
on_timeout=None, on_ready=None, unblock_on_nokey=False)`` parks ``c`` on ``keys``
(in its current db) until one of them is *ready* or the deadline passes:

* A key is ready when any write touches it (``Database.set/add/pop/touch`` and
  everything built on them call ``Keyspace.signal_ready``, which queues the key in
  ``Keyspace.ready_keys``; SWAPDB and FLUSHALL rescan through the keyspace's
  swap/flush hooks). After the writing command has finished -- the whole EXEC or
  script, never in the middle (``Client.process`` calls ``handle_ready_keys`` unless
  ``c.in_exec``) -- the clients blocked on each ready key are visited oldest first
  (FIFO per key), and those for which the key now holds an unexpired value whose
  ``TYPE_NAME`` is ``ready_type`` are woken (with ``unblock_on_nokey``: on any
  change, deletion included -- XREADGROUP). A client served this way may make other
  keys ready (BLMOVE): they are served in the same pass.
* Waking re-executes the client's command as Valkey does: the client is unblocked
  and its original argv runs again through ``Client.process``, so the handler above
  simply runs a second time. It serves (reply, propagation via
  ``c.propagate_argv``, notifications, statistics all as usual; the command is
  counted once in commandstats) or, finding nothing after all, calls
  ``block_client`` again: the client keeps its original deadline and goes to the
  tail of the queues. A command whose meaning depends on when it first ran (XREAD
  with ``$``) must rewrite ``argv`` in place before blocking: the re-execution uses
  that same list. ``on_ready(c, key)``, if given, replaces re-execution (the client
  is already unblocked when it is called; it queues its reply with ``c.add_reply``
  and may call ``block_client`` again).
* At the deadline the client gets ``timeout_reply`` (NULL_ARRAY: ``*-1`` in RESP2,
  ``_`` in RESP3; pass ``None`` for a null bulk), or ``on_timeout(c)`` runs instead.
* ``CLIENT UNBLOCK id [TIMEOUT|ERROR]`` (commands/lists.py), disconnects and
  ``unblock_client(c, error)`` (e.g. a primary turning replica) end the wait early;
  a disconnected client leaves no trace. ``keys=()`` blocks on nothing but the
  deadline (WAIT-style commands, with ``on_timeout``).
* While blocked, the client's further pipelined commands wait in ``c.pending``
  and run once it is unblocked. ``Server.blocked_clients`` counts blocked
  clients; ``total_blocking_keys()`` and ``total_blocking_keys_on_nokey()`` feed
  INFO.

Deadlines are absolute wall-clock ms as Valkey keeps them (``parse_timeout``; use
``unit_ms=1`` for millisecond arguments); timers use the event loop
(``loop.call_at``), so precision is sub-second. Keys nobody waits on cost nothing:
``Keyspace.blocked_keys`` is None unless a client is blocked on a key, and then a
write does one dict lookup.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from kaa.engine.keyspace import type_name
from kaa.protocol.reply import NULL_ARRAY, ReplyError

LLONG_MAX = 2**63 - 1
# Long doubles overflow above about 1.19e4932 (strtold's ERANGE, string2ld refuses it).
_LDBL_MAX = Decimal("1.18973149535723176502e4932")
_MAX_LONG_DOUBLE_CHARS = 5 * 1024

ERR_TIMEOUT_NOT_FLOAT = ReplyError("ERR timeout is not a float or out of range")
ERR_TIMEOUT_RANGE = ReplyError("ERR timeout is out of range")
ERR_TIMEOUT_NEGATIVE = ReplyError("ERR timeout is negative")
UNBLOCKED_ERROR = "UNBLOCKED client unblocked via CLIENT UNBLOCK"

OnTimeout = Callable[[Any], None]
OnReady = Callable[[Any, bytes], None]


# ---- timeouts ------------------------------------------------------------------
def parse_timeout(arg: bytes, unit_ms: int = 1000) -> int:
    """A blocking command's timeout as an absolute deadline in ms (0 = block forever).

    Valkey's getTimeoutFromObjectOrReply: seconds as a long double (hex floats and
    ``inf`` accepted, then range-checked) rounded up to whole ms, or, with
    ``unit_ms=1``, an integer number of ms (XREAD BLOCK, WAIT)."""
    if unit_ms == 1:
        ms = _parse_ms_int(arg)
    else:
        secs = _parse_long_double(arg)
        if secs is None:
            raise ERR_TIMEOUT_NOT_FLOAT
        val = secs * 1000.0
        if val > LLONG_MAX:
            raise ERR_TIMEOUT_RANGE
        if val == 0.0 and secs == 0.0 and arg[:1] != b"-" and _has_nonzero_digit(arg):
            ms = 1  # underflowed a double but not a long double: still > 0
        elif math.isinf(val):
            raise ERR_TIMEOUT_NEGATIVE
        else:
            ms = math.ceil(val)
    if ms < 0:
        raise ERR_TIMEOUT_NEGATIVE
    if ms == 0:
        return 0
    now = int(time.time() * 1000)
    if ms > LLONG_MAX - now:
        raise ERR_TIMEOUT_RANGE
    return now + ms


def _parse_ms_int(arg: bytes) -> int:
    from kaa.commands.args import parse_int_or_none  # shared string2ll

    v = parse_int_or_none(arg)
    if v is None:
        raise ReplyError("ERR timeout is not an integer or out of range")
    return v


def _has_nonzero_digit(arg: bytes) -> bool:
    mant = arg.lower().split(b"e", 1)[0] if not arg.lower().startswith((b"0x", b"-0x", b"+0x")) else arg[2:]
    return any(48 < ch <= 57 for ch in mant)


def _parse_long_double(arg: bytes) -> float | None:
    """string2ld: strtold over the whole argument; no spaces, no NaN, no overflow."""
    if not arg or len(arg) >= _MAX_LONG_DOUBLE_CHARS or arg[0] in b" \t\n\r\v\f":
        return None
    try:
        text = arg.decode("ascii")
    except UnicodeDecodeError:
        return None
    low = text.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -math.inf if text.startswith("-") else math.inf
    if "n" in low or "_" in text or text[-1].isspace():
        return None
    try:
        v = float(text)
    except ValueError:
        try:
            v = float.fromhex(text)
        except (ValueError, OverflowError):
            return None
        return v
    if math.isinf(v):
        # Beyond a double but maybe not beyond a long double.
        try:
            if abs(Decimal(text)) > _LDBL_MAX:
                return None
        except InvalidOperation:
            return None
    return v


# ---- the state of one blocked client -----------------------------------------------
class BlockState:
    """Why and until when a client waits (``Client.block_state`` while blocked)."""

    __slots__ = (
        "keys", "db", "deadline", "timer", "ready_type", "timeout_reply", "on_timeout",
        "on_ready", "nokey", "argv", "usec", "reprocessing",
    )

    def __init__(self) -> None:
        self.keys: tuple[bytes, ...] = ()
        self.db: Any = None
        self.deadline = 0
        self.timer: Any = None
        self.ready_type = ""
        self.timeout_reply: Any = NULL_ARRAY
        self.on_timeout: OnTimeout | None = None
        self.on_ready: OnReady | None = None
        self.nokey = False
        self.argv: list[bytes] = []
        self.usec = 0  # time spent executing the command so far (stats when it completes)
        self.reprocessing = False


class Blocking:
    """Per-server registry of blocked clients: per db, key -> clients in blocking order."""

    def __init__(self, server: Any) -> None:
        self.server = server
        ks = server.keyspace
        self.ks = ks
        # waiting[dbid][key] = {client: None}: a dict keeps FIFO order with O(1) removal.
        self.waiting: list[dict[bytes, dict[Any, None]]] = [{} for _ in ks.dbs]
        self.nkeys = 0
        self.nokey_keys: list[dict[bytes, int]] = [{} for _ in ks.dbs]
        self.handling = False
        self.in_timeout_table = 0
        server.disconnect_hooks.append(self.on_disconnect)
        server.cron_hooks.append(self.on_cron)
        server.total_blocking_keys = self.total_blocking_keys
        server.total_blocking_keys_on_nokey = self.total_blocking_keys_on_nokey
        server.clients_in_timeout_table = 0
        ks.swap_hooks.append(self.on_swap)
        ks.flush_hooks.append(self.on_flush)

    # ---- statistics ---------------------------------------------------------------
    def total_blocking_keys(self) -> int:
        return self.nkeys

    def total_blocking_keys_on_nokey(self) -> int:
        return sum(len(d) for d in self.nokey_keys)

    # ---- blocking -------------------------------------------------------------------
    def block(
        self,
        c: Any,
        keys: Iterable[bytes],
        deadline_ms: int,
        ready_type: str,
        timeout_reply: Any,
        on_timeout: OnTimeout | None,
        on_ready: OnReady | None,
        nokey: bool,
    ) -> None:
        st = c.block_state
        if st is not None and st.reprocessing:
            # Re-executed after a wake-up and blocking again: keep the original deadline
            # (``reprocessing`` stays set until the re-execution returns; MONITOR reads it).
            deadline_ms = st.deadline
        else:
            st = BlockState()
            st.argv = c.cur_argv if c.cur_argv is not None else []
            c.block_state = st
        st.db = c.db
        st.deadline = deadline_ms
        st.ready_type = ready_type
        st.timeout_reply = timeout_reply
        st.on_timeout = on_timeout
        st.on_ready = on_ready
        st.nokey = nokey
        uniq = tuple(dict.fromkeys(keys))
        st.keys = uniq
        if uniq:
            dbid = c.db.id
            waiting = self.waiting[dbid]
            for key in uniq:
                q = waiting.get(key)
                if q is None:
                    waiting[key] = q = {}
                    self.nkeys += 1
                q[c] = None
                if nokey:
                    nk = self.nokey_keys[dbid]
                    nk[key] = nk.get(key, 0) + 1
            self.ks.blocked_keys = self.waiting
        c.blocked = True
        srv = self.server
        srv.blocked_clients += 1
        if deadline_ms:
            self._schedule_timer(c, st)
            self.in_timeout_table += 1
            srv.clients_in_timeout_table = self.in_timeout_table

    def release(self, c: Any) -> BlockState | None:
        """Take c out of every wait structure (no reply); returns its state."""
        st: BlockState | None = c.block_state
        if st is None or not c.blocked:
            return None
        if st.keys:
            dbid = st.db.id
            waiting = self.waiting[dbid]
            for key in st.keys:
                q = waiting.get(key)
                if q is not None:
                    q.pop(c, None)
                    if not q:
                        del waiting[key]
                        self.nkeys -= 1
                if st.nokey:
                    nk = self.nokey_keys[dbid]
                    left = nk.get(key, 0) - 1
                    if left > 0:
                        nk[key] = left
                    else:
                        nk.pop(key, None)
            if not self.nkeys:
                self.ks.blocked_keys = None
        if st.timer is not None:
            st.timer.cancel()
            st.timer = None
        if st.deadline:
            self.in_timeout_table -= 1
            self.server.clients_in_timeout_table = self.in_timeout_table
        c.blocked = False
        self.server.blocked_clients -= 1
        return st

    # ---- ending a wait early or at its deadline -----------------------------------
    def _finish(self, c: Any, st: BlockState, failed: bool) -> None:
        """The command completed without re-execution: count it once, as Valkey does."""
        cmd = _command_of(c, st)
        c.tot_cmds += 1  # never counted while blocked (Client.call): it completes now
        if cmd is not None:
            cmd.calls += 1
            cmd.usec += st.usec
            if failed:
                cmd.failed_calls += 1
        srv = self.server
        if st.usec >= srv.slowlog_threshold >= 0:
            srv.slowlog_add(c, st.argv, st.usec)
        c.block_state = None
        self._resume(c)

    def _resume(self, c: Any) -> None:
        """Send what the client got and let its pipelined commands run (next tick)."""
        srv = self.server
        if c.out:
            srv.schedule_flush(c)
        if c.pending and srv.loop is not None:
            srv.loop.call_soon(_run_pending, c)

    def _schedule_timer(self, c: Any, st: BlockState) -> None:
        loop = self.server.loop
        if loop is not None:
            # Valkey times a client out once the clock is past its deadline (in ms).
            delay = (st.deadline + 1 - time.time() * 1000) / 1000.0
            st.timer = loop.call_at(loop.time() + max(0.0, delay), self._timed_out, c)

    def _timed_out(self, c: Any) -> None:
        st: BlockState | None = c.block_state
        if st is None or not c.blocked:
            return
        st.timer = None
        if int(time.time() * 1000) <= st.deadline:
            self._schedule_timer(c, st)  # the loop woke us a little early
            return
        self.release(c)
        if st.on_timeout is not None:
            c.block_state = None
            st.on_timeout(c)
        else:
            c.add_reply(st.timeout_reply)
        self._finish(c, st, False)
        if self.ks.ready_keys:
            self.handle_ready_keys()

    def unblock(self, c: Any, error: str | None = None) -> bool:
        """CLIENT UNBLOCK: end c's wait as a timeout, or with ``error``; False if not blocked."""
        st = self.release(c)
        if st is None:
            return False
        if error is not None:
            c.add_reply(ReplyError(error))
            self.server.count_error(error.split(" ", 1)[0])
            self._finish(c, st, True)
        else:
            if st.on_timeout is not None:
                st.on_timeout(c)
            else:
                c.add_reply(st.timeout_reply)
            self._finish(c, st, False)
        return True

    def on_disconnect(self, c: Any) -> None:
        if c.block_state is not None:
            self.release(c)
            c.block_state = None

    def on_swap(self, a: int, b: int) -> None:
        # SWAPDB: every waited-on key of both dbs may now hold something else
        # (scanDatabaseForReadyKeys); serving re-checks each key's type.
        self._signal_all(a)
        self._signal_all(b)

    def on_flush(self, dbid: int) -> None:
        # Only clients that wake on deletion (XREADGROUP) care; the serve check filters.
        if dbid < 0:
            for i in range(len(self.waiting)):
                if self.nokey_keys[i]:
                    self._signal_all(i)
        elif self.nokey_keys[dbid]:
            self._signal_all(dbid)

    def _signal_all(self, dbid: int) -> None:
        ready = self.ks.ready_keys
        for key in self.waiting[dbid]:
            ready[(dbid, key)] = None

    def on_cron(self, server: Any) -> None:
        # Writes made outside any command (active expiry, timers) are handed off here.
        if self.ks.ready_keys:
            self.handle_ready_keys()

    # ---- serving ready keys --------------------------------------------------------------
    def handle_ready_keys(self) -> None:
        """Serve the clients blocked on every key written since the last call, FIFO per key.

        Called after a whole command, EXEC or script: never in the middle of one. A client
        served here may write other waited-on keys (BLMOVE): those are served in the
        same call, before anything else runs."""
        if self.handling:
            return
        self.handling = True
        ks = self.ks
        try:
            while ks.ready_keys:
                # Emptied in place: Server.plain_ctx holds this dict.
                ready = ks.ready_keys.copy()
                ks.ready_keys.clear()
                for dbid, key in ready:
                    q = self.waiting[dbid].get(key)
                    if q:
                        self._serve_key(ks.dbs[dbid], key, list(q))
        finally:
            self.handling = False

    def _serve_key(self, db: Any, key: bytes, clients: list[Any]) -> None:
        for c in clients:
            st: BlockState | None = c.block_state
            if st is None or not c.blocked or c.closing or st.db is not db or key not in st.keys:
                continue
            value = db.data.get(key)
            if value is not None and db.expires:
                when = db.expires.get(key)
                if when is not None and when <= int(time.time() * 1000):
                    value = None  # expired: not ready (and not deleted here, as in Valkey)
            if not st.nokey and (value is None or type_name(value) != st.ready_type):
                continue
            self._wake(c, st, key)

    def _wake(self, c: Any, st: BlockState, key: bytes) -> None:
        self.release(c)
        if st.on_ready is not None:
            c.block_state = None
            st.on_ready(c, key)
            if not c.blocked:
                self._resume(c)
            return
        # Re-execute the command as Valkey does: it serves, or blocks again.
        st.reprocessing = True
        try:
            c.process(st.argv)
        finally:
            if c.block_state is st and not c.blocked:
                c.block_state = None
            st.reprocessing = False
        if not c.blocked:
            self._resume(c)


def _command_of(c: Any, st: BlockState) -> Any:
    """The Command that blocked (for its statistics), as the client named it."""
    argv = st.argv
    if not argv:
        return None
    srv = c.server
    cmd = srv.commands.get(argv[0]) or srv.lookup_command(argv[0])
    if cmd is not None and cmd.subcommands and len(argv) > 1:
        cmd = cmd.subcommands.get(argv[1].lower().decode("utf-8", "replace"), cmd)
    return cmd


def _run_pending(c: Any) -> None:
    if not c.closing and not c.blocked:
        c.run_pending()


# ---- the API commands use ------------------------------------------------------------
def manager(server: Any) -> Blocking:
    """The server's Blocking registry, created on first use."""
    mgr: Blocking | None = getattr(server, "blocking", None)
    if mgr is None:
        mgr = Blocking(server)
        server.blocking = mgr
    return mgr


def deny_blocking(c: Any) -> bool:
    """True where a blocking command must not block (MULTI/EXEC, scripts: ``c.in_exec``);
    the command then replies as if it had timed out at once."""
    return bool(c.in_exec)


def block_client(
    c: Any,
    keys: Iterable[bytes],
    deadline_ms: int,
    ready_type: str,
    *,
    timeout_reply: Any = NULL_ARRAY,
    on_timeout: OnTimeout | None = None,
    on_ready: OnReady | None = None,
    unblock_on_nokey: bool = False,
) -> None:
    """Block ``c`` on ``keys`` of its current db until one holds a ``ready_type`` value
    or ``deadline_ms`` (absolute ms, 0 = forever) passes. The handler then returns
    NO_REPLY. See the module docstring for what happens next."""
    manager(c.server).block(
        c, keys, deadline_ms, ready_type, timeout_reply, on_timeout, on_ready, unblock_on_nokey
    )


def unblock_client(c: Any, error: str | None = None) -> bool:
    """End c's wait now: as a timeout (its timeout reply), or with an error reply
    (e.g. ``"UNBLOCKED force unblock from blocking operation, ..."``). False if c was
    not blocked by this module."""
    mgr: Blocking | None = getattr(c.server, "blocking", None)
    return mgr.unblock(c, error) if mgr is not None else False


def handle_ready_keys(server: Any) -> None:
    """Serve clients whose keys became ready (the server calls this after each command)."""
    mgr: Blocking | None = getattr(server, "blocking", None)
    if mgr is not None:
        mgr.handle_ready_keys()
    else:
        server.keyspace.ready_keys.clear()


__all__ = [
    "BlockState", "Blocking", "block_client", "deny_blocking", "handle_ready_keys",
    "manager", "parse_timeout", "unblock_client", "UNBLOCKED_ERROR",
]
