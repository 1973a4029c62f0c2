"""``maxmemory``: the out-of-memory check before commands and key eviction (Valkey's
evict.c ``performEvictions`` and the maxmemory part of server.c ``processCommand``).

While ``maxmemory`` is 0 nothing here runs: no gate, no write hook. Once it is set:

* a gate (``Server.gates``, right after the ACL gate) runs before every command: if
  ``used_memory`` is over the limit it evicts keys by ``maxmemory-policy`` for at most
  the ``maxmemory-eviction-tenacity`` time; when nothing could be evicted (noeviction,
  or no candidate key) commands flagged ``denyoom`` are refused with Valkey's OOM error.
  EXEC counts as denyoom when a queued command is, EVAL/FCALL when the script's flags
  say so (scripts with flags and without ``allow-oom``/``no-writes``). The outcome is
  kept as ``pre_command_oom_state`` for the scripting layer (``Scripting.oom_hook``);
* a meter (``kaa.engine.eviction.DatasetMeter``) follows the keyspace's writes, so the
  used_memory figure (the same one INFO reports) costs O(keys written) per command;
* eviction that ran out of time continues on the next loop iterations (Valkey's
  evictionTimeProc), as does the eviction CONFIG SET maxmemory starts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kaa.engine.blocking import handle_ready_keys
from kaa.engine.eviction import NOEVICTION, DatasetMeter, Evictor, policy_bits
from kaa.protocol.reply import ReplyError
from kaa.scripting.library import FLAG_ALLOW_OOM, FLAG_NO_WRITES
from kaa.server import info as info_mod
from kaa.server.client import POSTPONED

if TYPE_CHECKING:
    from kaa.commands.registry import Command
    from kaa.engine.keyspace import Database
    from kaa.server.client import Client
    from kaa.server.server import Server

OOM_ERR = ReplyError("OOM command not allowed when used memory > 'maxmemory'.")

EVICT_OK = 0
EVICT_RUNNING = 1
EVICT_FAIL = 2

# Bytes a deleted key gives back besides its name and value: its entry in the main
# table and, with a TTL, in the expires table (info.db_tables' per-entry costs).
_MAIN_ENTRY = 40
_EXPIRES_ENTRY = 24

_B_DEL = b"DEL"
_B_UNLINK = b"UNLINK"


def _key_bytes(key: bytes, value: Any, _size: Callable[[Any], int] = sys.getsizeof) -> int:
    """One key's share of used_memory, as INFO's dataset estimate counts it."""
    t = type(value)
    if t is bytes or t is bytearray:  # info.value_size's answer for strings, inlined
        return _size(key) + _size(value)
    return _size(key) + info_mod.value_size(value)


def client_eviction_limit(cfg: Any) -> int:
    """getClientEvictionLimit: maxmemory-clients in bytes (negative: a percentage of
    maxmemory), at least 128 KB; 0 when client eviction is off."""
    mc = cfg.maxmemory_clients
    if mc < 0 and cfg.maxmemory > 0:
        limit = int(cfg.maxmemory * -mc / 100)
    elif mc > 0:
        limit = mc
    else:
        return 0
    return max(limit, 128 * 1024)


def client_memory(c: Client) -> int:
    """getClientMemoryUsage, as CLIENT LIST's tot-mem models it: the fixed per-client
    buffers, the query buffer and arguments read so far, queued and unsent output."""
    p: Any = c.parser
    mem = 21_024 + max(p.query_buffer_size(), p.pending_bytes())
    t = c.transport
    if t is not None:
        mem += t.get_write_buffer_size()
    for b in c.out:
        mem += len(b)
    pure = getattr(p, "pure", p)
    if pure is p or p.in_pure:
        args = getattr(pure, "args", None)
        if args:
            mem += sum(map(len, args))
    if c.multi:
        mem += sum(len(a) for _, qa in c.multi for a in qa)
    # Per-entry overheads Valkey counts: watched keys (list node + watchedKey), channel
    # and pattern subscriptions (dict entries), tracking prefixes (rax nodes).
    if c.watched:
        mem += 80 * len(c.watched)
    subs = len(c.subscriptions) + len(c.psubscriptions) + len(c.ssubscriptions)
    if subs:
        mem += 40 * subs
    tr = c.tracking
    if tr is not None and tr.prefixes:
        mem += 64 * len(tr.prefixes)
    return mem


def eviction_time_limit_ns(tenacity: int) -> float:
    """evictionTimeLimitUs: 0-10 linear up to 500 us, then +15% a step, 100 = no limit."""
    if tenacity <= 10:
        return 50_000 * tenacity
    if tenacity < 100:
        return 500_000 * 1.15 ** (tenacity - 10)
    return float("inf")


class MaxMemory:
    """The maxmemory state of one server (``server.eviction``)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        ks = server.keyspace
        self.evictor = Evictor(ks)
        self.evictor.on_evicted = self._propagate
        self.meter = DatasetMeter(ks, _key_bytes)
        self.metering = False
        self.policy = policy_bits(server.config.maxmemory_policy)
        # pre_command_oom_state: eviction could not bring memory under the limit before
        # the command now running (scripts decide their OOM behaviour on it).
        self.oom = False
        self.proc_running = False  # isEvictionProcRunning
        self.exceeded_since = 0  # perf_counter_ns when memory went over, 0 = not over
        self.exceeded_total_us = 0
        self._gate: Callable[[Client, Command, list[bytes]], ReplyError | None] | None = None
        self._refresh_watch: Callable[[], None] | None = None
        self._other = 0  # used_memory besides the dataset, as of loop cycle _other_cycle
        self._other_cycle = -1
        self._last_used = 0
        # Bucket count of each db's main table while metering (see table_buckets).
        self._buckets: dict[int, int] = {}

    # ---- configuration ---------------------------------------------------------------------
    def apply(self, from_config_set: bool) -> None:
        """maxmemory changed (or the server starts): switch the machinery on or off."""
        srv = self.server
        maxmem = srv.config.maxmemory
        if maxmem:
            self._start_metering()
            if from_config_set:
                used = info_mod.estimate_used_memory(srv)
                if maxmem < used:
                    srv.log_warning(
                        f"WARNING: the new maxmemory value set via CONFIG SET ({maxmem}) is smaller "
                        f"than the current memory usage ({used}). This will result in key eviction "
                        "and/or the inability to accept new write commands depending on the "
                        "maxmemory-policy.")
                self.start_proc()
        else:
            self._stop_metering()
            self.oom = False
            self._update_metrics(EVICT_OK)
        self.refresh_gate()

    def set_policy(self, name: Any) -> None:
        self.policy = policy_bits(str(name))
        self.evictor.reset_pool()

    def refresh_gate(self) -> None:
        """Install the gate doing exactly the checks that are on: key eviction and the OOM
        refusal (maxmemory), client eviction (maxmemory-clients), or both."""
        srv = self.server
        keys = bool(srv.config.maxmemory)
        clients = bool(client_eviction_limit(srv.config))
        want = (self.full_gate if clients else self.gate) if keys else (
            self.client_gate if clients else None)
        if want == self._gate:
            return
        gates = srv.gates
        if self._gate is not None and self._gate in gates:
            gates.remove(self._gate)
        self._gate = want
        if want is not None:
            pos = 0
            acl = getattr(srv, "acl", None)
            acl_gate = getattr(acl, "gate", None)
            if acl_gate is not None and acl_gate in gates:
                pos = gates.index(acl_gate) + 1  # after the permission check, as processCommand
            gates.insert(pos, want)
        srv.refresh_gate()

    # ---- the write hook ----------------------------------------------------------------------
    def _start_metering(self) -> None:
        if self.metering:
            return
        self.metering = True
        self.meter.clear()
        ks = self.server.keyspace
        ks.flush_hooks.append(self.meter.recheck)
        ks.swap_hooks.append(self.meter.recheck)
        self._hook_writes()

    def _stop_metering(self) -> None:
        if not self.metering:
            return
        self.metering = False
        ks = self.server.keyspace
        for hooks in (ks.flush_hooks, ks.swap_hooks):
            if self.meter.recheck in hooks:
                hooks.remove(self.meter.recheck)
        self._hook_writes()
        self.meter.clear()
        self._buckets.clear()

    def _hook_writes(self) -> None:
        """Make ``Keyspace.watchers`` also feed the meter.

        The watch registry owns that hook and rebuilds it whenever WATCH or client-side
        caching turn on or off; its ``refresh_hook`` is wrapped (once) so that the meter
        is chained after whatever it installs."""
        watch = self.server.watch
        if watch is None:
            return
        if self._refresh_watch is None:
            self._refresh_watch = watch.refresh_hook
            watch.refresh_hook = self._refresh_hook
        self._refresh_hook()

    def _refresh_hook(self) -> None:
        assert self._refresh_watch is not None
        self._refresh_watch()
        if not self.metering:
            return
        ks = self.server.keyspace
        inner = ks.watchers
        mark = self.meter.mark
        if inner is None:
            ks.watchers = mark
        else:

            def both(db: Database, key: bytes) -> None:
                mark(db, key)
                inner(db, key)

            ks.watchers = both

    # ---- the gate ----------------------------------------------------------------------------
    def gate(self, c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | None:
        """Key eviction, then the OOM refusal of denyoom commands."""
        sc = self.server.scripting
        if sc is not None and sc.run is not None:
            # A busy script lets other clients in: no evictions mixed into its effects.
            return None
        oom = self.perform_evictions() == EVICT_FAIL
        self.oom = oom
        if oom and self.is_denyoom(c, cmd, argv):
            return OOM_ERR
        return None

    # ClientCore.run_plain may call it before each command: a refusal changes nothing, so
    # process() can run the same check again for the refused command.
    gate.batch_safe = True  # type: ignore[attr-defined]

    def client_gate(self, c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | None:
        """Client eviction (maxmemory-clients) before the command; a client that evicted
        itself gets no reply."""
        if self.evict_clients(c):
            return POSTPONED
        return None

    def full_gate(self, c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | None:
        if self.evict_clients(c):
            return POSTPONED
        return self.gate(c, cmd, argv)

    # ---- client eviction ---------------------------------------------------------------------
    def evict_clients(self, current: Client | None = None) -> bool:
        """evictClients: while the normal and Pub/Sub clients together use at least the
        maxmemory-clients limit, disconnect the biggest evictable ones. True if
        ``current`` was among them."""
        srv = self.server
        limit = client_eviction_limit(srv.config)
        if not limit:
            return False
        sized = []
        total = 0
        for c in srv.clients.values():
            if c.closing or c.is_master or (c.is_replica and not c.monitor):
                continue
            mem = client_memory(c)
            total += mem
            if not c.no_evict:
                sized.append((mem, c.id, c))
        if total < limit:
            return False
        sized.sort(reverse=True)
        hit_current = False
        for mem, _, c in sized:
            if total < limit:
                break
            srv.log_notice(f"Evicting client: {c.info_line()}")
            srv.stats.evicted_clients += 1
            total -= mem
            # freeClient: gone at once (CLIENT LIST, the memory sums no longer see it).
            c.out.clear()
            c.closing = True
            t = c.transport
            if t is not None:
                t.abort()
            srv.client_disconnected(c)
            if c is current:
                hit_current = True
        if total >= limit:
            srv.log_warning("Over client maxmemory after evicting all evictable clients")
        return hit_current

    def is_denyoom(self, c: Client, cmd: Command, argv: list[bytes]) -> bool:
        """getCommandFlags(c) & CMD_DENYOOM, with EXEC and scripts resolved."""
        if cmd.is_denyoom:
            return True
        if cmd.parent is not None:
            return False
        name = cmd.name
        if name == "exec":
            queued = c.multi
            return queued is not None and any(self.is_denyoom(c, q, qa) for q, qa in queued)
        if name in _SCRIPT_COMMANDS:
            flags = self._script_flags(name, argv)
            return flags is not None and not flags & (FLAG_ALLOW_OOM | FLAG_NO_WRITES)
        return False

    def _script_flags(self, name: str, argv: list[bytes]) -> int | None:
        """The flags a script declared (None: no shebang, unknown script or function)."""
        sc = self.server.scripting
        if sc is None or len(argv) < 2:
            return None
        if name.startswith("fcall"):
            fi = sc.registry.functions.get(argv[1].lower())
            return None if fi is None else int(fi.flags)
        flags = sc.lookup_flags(argv, name.startswith("evalsha"))
        return None if flags is None else int(flags)

    def used_memory(self) -> int:
        """INFO's used_memory, cheaply: the dataset from the meter (exact after every
        write) plus the tables, client buffers, script caches and slowlog, which are
        summed once per event-loop cycle (they cost O(clients + databases))."""
        srv = self.server
        cycle = srv.loop_stats.cycles
        if cycle != self._other_cycle or not srv.in_cycle:
            self._other_cycle = cycle
            self._other = info_mod.used_memory_besides_dataset(srv)
        used = self._last_used = self._other + self.meter.settle()
        return used

    def table_buckets(self, dbid: int, n: int) -> int:
        """Buckets of a db's main table holding n keys, under maxmemory: Valkey does not
        grow a table (dictResizeAllowed) when the new bucket array would put used memory
        over the limit, unless the table is more than 1.618 times full."""
        want = info_mod.hashtable_buckets(n)
        cur = self._buckets.get(dbid, 0)
        if cur and want > cur and (n - 1) / cur <= 1.618:
            if self._last_used + want * 8 > self.server.config.maxmemory:
                return cur
        self._buckets[dbid] = want
        return want

    def oom_state(self) -> bool:
        """Scripting's oom_hook: was the server out of memory when the command started?"""
        return self.oom and bool(self.server.config.maxmemory)

    # ---- evicting ----------------------------------------------------------------------------
    def safe_to_evict(self) -> bool:
        """isSafeToPerformEvictions: not while loading, not on a replica that ignores
        maxmemory, not while CLIENT PAUSE holds writes (and evictions) back."""
        srv = self.server
        if srv.loading:
            return False
        if srv.role == "S" and srv.config.replica_ignore_maxmemory:
            return False
        until = srv.pause_until
        return not (until and time.time() < until)

    def perform_evictions(self) -> int:
        """Evict until used_memory is under maxmemory or the time limit is reached.

        EVICT_OK: under the limit (or evicting is not allowed now); EVICT_RUNNING: still
        over, and the eviction continues on the next loop iterations; EVICT_FAIL: over
        the limit with nothing left that the policy may evict."""
        srv = self.server
        cfg = srv.config
        maxmem = cfg.maxmemory
        if not maxmem or not self.safe_to_evict():
            return EVICT_OK
        used = self.used_memory()
        if used <= maxmem:
            return self._update_metrics(EVICT_OK)
        policy = self.policy
        if policy == NOEVICTION:
            return self._update_metrics(EVICT_FAIL)
        tofree = used - maxmem
        limit_ns = eviction_time_limit_ns(cfg.maxmemory_eviction_tenacity)
        ks = srv.keyspace
        latency = ks.latency_threshold_ms
        t0 = time.perf_counter_ns()
        ev = self.evictor
        meter = self.meter
        lazy = bool(cfg.lazyfree_lazy_eviction)
        samples = cfg.maxmemory_samples
        freed = 0
        nkeys = 0
        result = EVICT_FAIL
        while True:
            if freed >= tofree:
                result = EVICT_RUNNING if self.proc_running else EVICT_OK
                break
            got = ev.pick(policy, samples)
            if got is None:
                break  # nothing left to evict: EVICT_FAIL
            db, key = got
            size = meter.key_size(db, key) + _MAIN_ENTRY
            if key in db.expires:
                size += _EXPIRES_ENTRY
            ev.evict(db, key, lazy)
            freed += size
            nkeys += 1
            if nkeys % 16 == 0 and time.perf_counter_ns() - t0 > limit_ns:
                # Not done, but long enough: carry on in the next loop iterations.
                self.start_proc()
                result = EVICT_RUNNING
                break
        if latency:
            ms = (time.perf_counter_ns() - t0) // 1_000_000
            if ms >= latency and ks.latency_sink is not None:
                ks.latency_sink("eviction-cycle", ms)
        return self._update_metrics(result)

    def _update_metrics(self, result: int) -> int:
        """stat_total/last_eviction_exceeded_time: how long memory stayed over the limit."""
        if result != EVICT_OK:
            if not self.exceeded_since:
                self.exceeded_since = time.perf_counter_ns()
        elif self.exceeded_since:
            self.exceeded_total_us += (time.perf_counter_ns() - self.exceeded_since) // 1000
            self.exceeded_since = 0
        return result

    def exceeded_times_ms(self) -> tuple[int, int]:
        """INFO's total_eviction_exceeded_time and current_eviction_exceeded_time (ms)."""
        cur = (time.perf_counter_ns() - self.exceeded_since) // 1000 if self.exceeded_since else 0
        return (self.exceeded_total_us + cur) // 1000, cur // 1000

    def reset_stats(self) -> None:
        self.exceeded_total_us = 0
        self.exceeded_since = 0

    def start_proc(self) -> None:
        """startEvictionTimeProc: keep evicting on the next loop iterations until under
        the limit or nothing is evictable."""
        loop = self.server.loop
        if self.proc_running or loop is None:
            return
        self.proc_running = True
        loop.call_soon(self._proc)

    def _proc(self) -> None:
        srv = self.server
        try:
            again = self.perform_evictions() == EVICT_RUNNING
            if srv.keyspace.ready_keys:
                handle_ready_keys(srv)
        except Exception:  # the loop must survive a bug here
            srv.log_exception()
            again = False
        loop = srv.loop
        if again and loop is not None:
            loop.call_soon(self._proc)
        else:
            self.proc_running = False

    def _propagate(self, db: Database, key: bytes) -> None:
        """propagateDeletion: the eviction reaches the AOF and replicas as DEL or UNLINK."""
        srv = self.server
        if srv.propagating:
            srv.propagate(db.id, [_B_UNLINK if srv.config.lazyfree_lazy_eviction else _B_DEL, key])

    def cron(self, srv: Server) -> None:
        """Per tick: the meter's consistency check (dicts replaced by loads, flushes), and
        client eviction for clients whose buffers grew without running a command."""
        if self.metering:
            self.meter.recheck()
        gate = self._gate
        if gate is not None and (gate == self.client_gate or gate == self.full_gate):
            self.evict_clients()


_SCRIPT_COMMANDS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})


def install(server: Server) -> None:
    """Attach the maxmemory machinery (``server.eviction``) and its config hooks."""
    mm = MaxMemory(server)
    server.eviction = mm
    cfg = server.config
    cfg.on_change("maxmemory", lambda old, new: mm.apply(True))
    cfg.on_change("maxmemory-policy", lambda old, new: mm.set_policy(new))
    cfg.on_change("maxmemory-clients", lambda old, new: mm.refresh_gate())
    server.cron_hooks.append(mm.cron)
    hooks = getattr(server, "resetstat_hooks", None)
    if hooks is None:
        hooks = []
        server.resetstat_hooks = hooks  # type: ignore[attr-defined]
    hooks.append(mm.reset_stats)
    sc = getattr(server, "scripting", None)
    if sc is not None:
        sc.oom_hook = mm.oom_state
    if cfg.maxmemory:
        if cfg.maxmemory < 1024 * 1024:
            server.log_warning(
                f"WARNING: You specified a maxmemory value that is less than 1MB (current value is "
                f"{cfg.maxmemory} bytes). Are you sure this is what you really want?")
        mm.apply(False)
    else:
        mm.refresh_gate()


__all__ = ["MaxMemory", "OOM_ERR", "EVICT_OK", "EVICT_RUNNING", "EVICT_FAIL", "install",
           "eviction_time_limit_ns"]
