"""INFO: the section builders, with Valkey 8's section names, field names and formats.

Each section is a function ``(server) -> list[(field, value)]``; ``render`` joins the
requested ones as Valkey's ``genValkeyInfoString`` does (``# Title`` header, ``k:v``
lines, CRLF, one blank line between sections). Subsystems that are not built yet
report Valkey's field names with idle values; a subsystem that grows real numbers
replaces its whole section by registering a builder in ``SECTION_PROVIDERS``.

``estimate_used_memory`` is the ``used_memory`` figure: a cheap estimate of the
dataset (exact for small databases, sampled for big ones) that follows writes and
deletes, plus a fixed start-up baseline and the clients' buffers.
"""

from __future__ import annotations

import itertools
import os
import platform
import random
import resource
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kaa import VALKEY_VERSION, __version__
from kaa.commands.registry import COMMANDS, Command

if TYPE_CHECKING:
    from kaa.server.server import Server

# Valkey keeps answering this in redis_version for clients that check it.
REDIS_COMPAT_VERSION = "7.2.4"

Fields = list[tuple[str, Any]]
SectionBuilder = Callable[["Server"], Fields]

# Sections INFO reports with no argument or with ``default``.
DEFAULT_SECTIONS = (
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu",
    "module_list", "errorstats", "cluster", "keyspace",
)
# Every section in output order: (name used in requests, title printed).
ORDERED_SECTIONS = (
    ("server", "Server"), ("clients", "Clients"), ("memory", "Memory"),
    ("persistence", "Persistence"), ("stats", "Stats"), ("replication", "Replication"),
    ("cpu", "CPU"), ("modules", "Modules"), ("commandstats", "Commandstats"),
    ("errorstats", "Errorstats"), ("latencystats", "Latencystats"), ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
)

# Builders that other subsystems register to replace a default section (e.g.
# "persistence" once RDB/AOF exist, "replication" once replicas exist).
SECTION_PROVIDERS: dict[str, SectionBuilder] = {}

_UNSAFE = str.maketrans("#:\n\r", "____")

# A fresh server's own footprint, as Valkey reports used_memory_startup (~0.9 MB).
STARTUP_BYTES = 912_144
_EXACT_LIMIT = 1024  # databases up to this many keys are measured exactly
_SAMPLES = 256


class _State:
    """Per-server figures INFO keeps between calls (peak memory)."""

    __slots__ = ("peak_memory",)

    def __init__(self) -> None:
        self.peak_memory = 0


_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()


def _state(server: Server) -> _State:
    st = _STATES.get(server)
    if st is None:
        st = _STATES[server] = _State()
    return st


# ---- helpers ------------------------------------------------------------------------

def bytes_to_human(n: int) -> str:
    """Valkey's bytesToHuman: 100B, 1.50K, 2.00M ..."""
    if n < 1024:
        return f"{n}B"
    for unit, scale in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("P", 1 << 50)):
        if n < scale * 1024:
            return f"{n / scale:.2f}{unit}"
    return f"{n}B"


def safe_info_string(s: str) -> str:
    """Replace the characters that would break INFO's ``k:v`` layout, as Valkey does."""
    return s.translate(_UNSAFE)


def _uname() -> str:
    u = platform.uname()
    return f"{u.system} {u.release} {u.machine}"


_UNAME = _uname()


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def process_rss() -> int:
    """The process's resident set size in bytes."""
    return _rss()


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


_TOTAL_SYSTEM_MEMORY = _total_system_memory()


# ---- memory estimate --------------------------------------------------------------------

def _container_size(obj: Any) -> int:
    """getsizeof of a container plus its elements, sampling a few of them."""
    size = sys.getsizeof(obj)
    n = len(obj)
    if not n:
        return size
    if isinstance(obj, dict):
        sample = list(itertools.islice(obj.items(), 8))
        per = sum(sys.getsizeof(k) + _shallow(v) for k, v in sample) / len(sample)
    else:
        sample = list(itertools.islice(iter(obj), 8))
        per = sum(_shallow(x) for x in sample) / len(sample)
    return size + int(per * n)


def _shallow(x: Any) -> int:
    if isinstance(x, tuple):
        return sys.getsizeof(x) + sum(sys.getsizeof(y) for y in x)
    return sys.getsizeof(x)


def value_size(v: Any) -> int:
    """Estimated bytes held by one value (string or data-type object)."""
    t = type(v)
    if t is bytes or t is bytearray:
        return sys.getsizeof(v)
    fn = getattr(v, "memory_usage", None)
    if fn is not None:
        try:
            return int(fn())
        except Exception:  # a type's own estimate must never break INFO
            pass
    size = sys.getsizeof(v)
    attrs: Iterable[Any]
    if hasattr(v, "__dict__"):
        attrs = vars(v).values()
    else:
        attrs = (getattr(v, s, None) for s in getattr(t, "__slots__", ()))
    for a in attrs:
        if isinstance(a, (dict, set, frozenset, list, deque)):
            size += _container_size(a)
        elif hasattr(a, "__len__") and hasattr(a, "__iter__") and not isinstance(a, (str, bytes)):
            try:
                size += _container_size(a)
            except TypeError:
                pass
    return size


def dataset_bytes(server: Server) -> int:
    """Bytes of keys and values: exact for small dbs, sampled for big ones. The tables
    holding them are counted by ``db_tables`` (Valkey's model of its dicts). While
    maxmemory is set, the eviction layer's meter keeps this figure per key."""
    ev = getattr(server, "eviction", None)
    if ev is not None and ev.metering:
        return ev.meter.settle()  # type: ignore[no-any-return]
    total = 0
    for db in server.keyspace.dbs:
        data = db.data
        n = len(data)
        if not n:
            continue
        if n <= _EXACT_LIMIT:
            total += sum(sys.getsizeof(k) + value_size(v) for k, v in data.items())
        else:
            keys = list(data)
            pick = random.sample(keys, _SAMPLES)
            avg = sum(sys.getsizeof(k) + value_size(data[k]) for k in pick) / _SAMPLES
            total += int(avg * n)
    return total


def clients_bytes(server: Server) -> int:
    """Client buffers: pending query bytes, queued replies and the output the transport
    still holds (a client that does not read grows used_memory, as in Valkey)."""
    total = 0
    for c in server.clients.values():
        if c.closing:
            continue  # disconnected (evicted, killed): its buffers are on their way out
        t = c.transport
        if t is not None:
            total += t.get_write_buffer_size()
        p: Any = c.parser
        total += p.pending_bytes() + sum(len(b) for b in c.out)
        # The arguments already read of a command still arriving (Valkey's argv).
        pure = getattr(p, "pure", None)
        if pure is None:
            pure = p
        elif not p.in_pure:
            continue
        args = getattr(pure, "args", None)
        if args:
            total += sum(map(len, args))
    return total


def scripts_bytes(server: Server) -> tuple[int, int]:
    """(EVAL script cache, function libraries): Valkey's lua.caches / functions.caches."""
    sc = getattr(server, "scripting", None)
    smem = sc.memory_info() if sc is not None else {}
    return smem.get("used_memory_scripts_eval", 0), smem.get("used_memory_functions", 0)


def used_memory_besides_dataset(server: Server) -> int:
    """Baseline + db tables + client buffers + script caches + slowlog."""
    used = STARTUP_BYTES + clients_bytes(server)
    used += sum(main + expires for _, main, expires, _ in db_tables(server))
    used += sum(scripts_bytes(server))
    return used + len(server.slowlog) * 256


def estimate_used_memory(server: Server) -> int:
    """``used_memory``: keys and values plus everything else (used_memory_besides_dataset)."""
    used = dataset_bytes(server) + used_memory_besides_dataset(server)
    st = _state(server)
    if used > st.peak_memory:
        st.peak_memory = used
    return used


# ---- Valkey's memory overhead model (MEMORY STATS, INFO memory) -----------------------------

# Valkey 8's db hashtables: a kvstore with one dict costs this much before any bucket
# or entry; an unused kvstore (no dict allocated yet) costs _KVSTORE_BARE.
_KVSTORE_WITH_DICT = 176
_KVSTORE_BARE = 104
_DICT_ENTRY = 24  # sizeof(dictEntryNormal)
_ROBJ = 16  # sizeof(robj), counted per key in the main table's overhead
_EMPTY_DICT_SIZE = sys.getsizeof({})


def hashtable_buckets(n: int) -> int:
    """Buckets of a Valkey dict holding ``n`` entries after inserts: 4 at first, doubling
    when full (and shrunk back to fit by the cron), so the next power of two >= n."""
    if n <= 4:
        return 4
    return 1 << (n - 1).bit_length()


def db_tables(server: Server) -> list[tuple[int, int, int, int]]:
    """(db id, main table bytes, expires table bytes, buckets) of each db in use, as
    Valkey 8 reports its kvstores (MEMORY STATS db.N, overhead.db.hashtable.lut).

    A db whose table was never used is left out, as Valkey skips kvstores without an
    allocated dict (a CPython dict keeps its grown table, which tells us). Under
    maxmemory, the eviction layer decides whether a main table may grow."""
    ev = getattr(server, "eviction", None)
    grown = ev.table_buckets if ev is not None and ev.metering else None
    out = []
    for db in server.keyspace.dbs:
        n = len(db.data)
        if not n and sys.getsizeof(db.data) <= _EMPTY_DICT_SIZE:
            continue
        m = len(db.expires)
        main_buckets = hashtable_buckets(n) if grown is None else grown(db.id, n)
        main = _KVSTORE_WITH_DICT + n * (_DICT_ENTRY + _ROBJ) + main_buckets * 8
        if m:
            exp_buckets = hashtable_buckets(m)
            expires = _KVSTORE_WITH_DICT + m * _DICT_ENTRY + exp_buckets * 8
        else:
            exp_buckets = 0
            expires = _KVSTORE_BARE
        out.append((db.id, main, expires, main_buckets + exp_buckets))
    return out


class MemoryOverhead:
    """getMemoryOverheadData: where the estimated ``used_memory`` goes."""

    __slots__ = ("total", "peak", "startup", "clients_normal", "lua_caches", "functions_caches",
                 "dbs", "lut", "overhead_total", "keys", "dataset", "dataset_perc", "peak_perc",
                 "bytes_per_key")

    def __init__(self, server: Server) -> None:
        self.total = estimate_used_memory(server)
        self.peak = max(_state(server).peak_memory, self.total)
        self.startup = STARTUP_BYTES
        self.clients_normal = clients_bytes(server)
        self.lua_caches, self.functions_caches = scripts_bytes(server)
        overhead = self.startup + self.clients_normal + self.lua_caches + self.functions_caches
        tables = db_tables(server)
        # (db id, main table overhead, expires table overhead) of each db in use
        self.dbs = [(dbid, main, expires) for dbid, main, expires, _ in tables]
        self.lut = sum(buckets for *_, buckets in tables) * 8
        self.keys = sum(len(server.keyspace.dbs[dbid].data) for dbid, *_ in tables)
        overhead += sum(main + expires for _, main, expires, _ in tables)
        self.overhead_total = overhead
        self.dataset = max(0, self.total - overhead)
        net = self.total - self.startup if self.total > self.startup else 1
        self.dataset_perc = self.dataset * 100.0 / net
        self.peak_perc = self.total * 100.0 / self.peak if self.peak else 100.0
        self.bytes_per_key = self.dataset // self.keys if self.keys else 0


# ---- sections -------------------------------------------------------------------------

def _server(srv: Server) -> Fields:
    cfg = srv.config
    now = time.time()
    uptime = int(now - srv.start_time)
    mode = "cluster" if cfg.cluster_enabled else ("sentinel" if cfg.sentinel_mode else "standalone")
    fields: Fields = [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("server_name", "valkey"),
        ("valkey_version", VALKEY_VERSION),
        ("kaa_version", __version__),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0000000000000000"),
        ("redis_mode" if cfg.extended_redis_compatibility else "server_mode", mode),
        ("os", _UNAME),
        ("arch_bits", 64),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll" if sys.platform.startswith("linux") else "kqueue"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", srv.run_id),
        ("tcp_port", srv.actual_port() or cfg.port or cfg.tls_port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", cfg.hz),
        ("configured_hz", cfg.hz),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""),
        ("config_file", cfg.config_file or ""),
        ("io_threads_active", 0),
        ("availability_zone", cfg.availability_zone),
    ]
    deadline = getattr(srv, "shutdown_deadline", 0.0)
    if deadline:
        fields.append(("shutdown_in_milliseconds", max(0, int((deadline - now) * 1000))))
    if srv.listening_ports:
        binds = ",".join(f"bind={h}" for h in _bind_names(srv))
        fields.append(("listener0", f"name=tcp,{binds},port={srv.actual_port() or cfg.port}"))
    if cfg.unixsocket:
        fields.append(("listener1", f"name=unix,bind={cfg.unixsocket}"))
    return fields


def _bind_names(srv: Server) -> list[str]:
    binds = list(srv.config.bind) or ["*", "-::*"]
    return binds


def _call(obj: Any, name: str, default: int = 0) -> int:
    """obj.name() or obj.name when the subsystem exists, else default."""
    v = getattr(obj, name, None) if obj is not None else None
    if v is None:
        return default
    return int(v() if callable(v) else v)


def _clients(srv: Server) -> Fields:
    clients = list(srv.clients.values())
    replicas = sum(1 for c in clients if c.is_replica)
    max_in = max_out = 0
    pubsub = watching = tracking = 0
    for c in clients:
        qb = c.parser.pending_bytes()
        if qb > max_in:
            max_in = qb
        if c.out:
            ob = sum(len(b) for b in c.out)
            if ob > max_out:
                max_out = ob
        if c.subscriptions or c.psubscriptions or c.ssubscriptions:
            pubsub += 1
        if c.watched:
            watching += 1
        if c.tracking:
            tracking += 1
    blocking = getattr(srv, "blocking", None)
    return [
        ("connected_clients", len(clients) - replicas),
        ("cluster_connections", 0),
        ("maxclients", srv.config.maxclients),
        ("client_recent_max_input_buffer", max_in),
        ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", srv.blocked_clients + len(srv.paused_clients)),
        ("tracking_clients", tracking),
        ("pubsub_clients", pubsub),
        ("watching_clients", watching),
        ("clients_in_timeout_table", _call(blocking, "in_timeout_table")),
        ("total_watched_keys", _call(getattr(srv, "watch", None), "nkeys")),
        ("total_blocking_keys", _call(blocking, "total_blocking_keys")),
        ("total_blocking_keys_on_nokey", _call(blocking, "total_blocking_keys_on_nokey")),
    ]


def _memory(srv: Server) -> Fields:
    cfg = srv.config
    mh = MemoryOverhead(srv)
    used = mh.total
    peak = mh.peak
    rss = _rss()
    dataset = mh.dataset
    overhead = mh.overhead_total
    startup = mh.startup
    dataset_perc = mh.dataset_perc
    frag = rss / used if used else 0.0
    sc = getattr(srv, "scripting", None)
    smem = sc.memory_info() if sc is not None else {}
    lua = smem.get("used_memory_vm_eval", 31744)
    vm_func = smem.get("used_memory_vm_functions", 0)
    vm_total = lua + vm_func
    scripts = smem.get("used_memory_scripts_eval", 0) + smem.get("used_memory_functions", 0)
    return [
        ("used_memory", used),
        ("used_memory_human", bytes_to_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", bytes_to_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", bytes_to_human(peak)),
        ("used_memory_peak_perc", f"{used * 100.0 / peak if peak else 100.0:.2f}%"),
        ("used_memory_overhead", overhead),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", f"{dataset_perc:.2f}%"),
        ("allocator_allocated", used),
        ("allocator_active", used),
        ("allocator_resident", rss),
        ("allocator_muzzy", 0),
        ("total_system_memory", _TOTAL_SYSTEM_MEMORY),
        ("total_system_memory_human", bytes_to_human(_TOTAL_SYSTEM_MEMORY)),
        ("used_memory_lua", lua),
        ("used_memory_vm_eval", lua),
        ("used_memory_lua_human", bytes_to_human(lua)),
        ("used_memory_scripts_eval", smem.get("used_memory_scripts_eval", 0)),
        ("number_of_cached_scripts", smem.get("number_of_cached_scripts", 0)),
        ("number_of_functions", smem.get("number_of_functions", 0)),
        ("number_of_libraries", smem.get("number_of_libraries", 0)),
        ("used_memory_vm_functions", vm_func),
        ("used_memory_vm_total", vm_total),
        ("used_memory_vm_total_human", bytes_to_human(vm_total)),
        ("used_memory_functions", smem.get("used_memory_functions", 0)),
        ("used_memory_scripts", scripts),
        ("used_memory_scripts_human", bytes_to_human(scripts)),
        ("maxmemory", cfg.maxmemory),
        ("maxmemory_human", bytes_to_human(cfg.maxmemory)),
        ("maxmemory_policy", cfg.maxmemory_policy),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", f"{frag:.2f}"),
        ("allocator_rss_bytes", rss - used),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", f"{frag:.2f}"),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", mh.clients_normal),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("mem_overhead_db_hashtable_rehashing", 0),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", srv.keyspace.lazyfree_pending_objects),
        ("lazyfreed_objects", srv.keyspace.lazyfreed_objects),
    ]


def _persistence(srv: Server) -> Fields:
    # Static until RDB/AOF exist; the persistence layer registers its own builder.
    cfg = srv.config
    return [
        ("loading", 1 if srv.loading else 0),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", srv.keyspace.dirty),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", int(getattr(srv, "lastsave", srv.start_time))),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", 1 if cfg.appendonly else 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _instantaneous(srv: Server) -> tuple[int, float, float]:
    """ops/sec, input kbps, output kbps over the cron's recent samples."""
    s = srv.ops_samples
    if len(s) < 2:
        return 0, 0.0, 0.0
    t0, c0, i0, o0 = s[0]
    t1, c1, i1, o1 = s[-1]
    dt = t1 - t0
    if dt <= 0:
        return 0, 0.0, 0.0
    return int((c1 - c0) / dt), (i1 - i0) / dt / 1024, (o1 - o0) / dt / 1024


def _instantaneous_loop(srv: Server) -> tuple[int, int]:
    """Event loop cycles per second and mean cycle duration (us) over recent samples."""
    s = srv.el_samples
    if len(s) < 2:
        return 0, 0
    t0, c0, d0 = s[0]
    t1, c1, d1 = s[-1]
    dt = t1 - t0
    cycles = c1 - c0
    return (int(cycles / dt) if dt > 0 else 0), ((d1 - d0) // cycles if cycles > 0 else 0)


def _migrate_sockets(srv: Server) -> int:
    from kaa.commands.persistence_cmds import migrate_cached_sockets

    return migrate_cached_sockets(srv)


def _pubsub_counts(srv: Server) -> tuple[int, int, int]:
    ps = getattr(srv, "pubsub", None)
    if ps is not None:
        return len(ps.channels), len(ps.patterns), len(ps.shard_channels)
    return 0, 0, 0


def _stats(srv: Server) -> Fields:
    st = srv.stats
    ks = srv.keyspace
    ops, kin, kout = _instantaneous(srv)
    el_cycles_per_sec, el_duration_usec = _instantaneous_loop(srv)
    chans, pats, shard = _pubsub_counts(srv)
    tr = getattr(srv, "tracking", None)
    ev = getattr(srv, "eviction", None)
    ev_total, ev_current = ev.exceeded_times_ms() if ev is not None else (0, 0)
    return [
        ("total_connections_received", st.total_connections_received),
        ("total_commands_processed", srv.total_commands()),
        ("instantaneous_ops_per_sec", ops),
        ("total_net_input_bytes", srv.net_in()),
        ("total_net_output_bytes", srv.net_out()),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", f"{kin:.2f}"),
        ("instantaneous_output_kbps", f"{kout:.2f}"),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", st.rejected_connections),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", ks.expired_keys),
        ("expired_stale_perc", f"{ks.expired_stale_perc:.2f}"),
        ("expired_time_cap_reached_count", ks.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", int(ks.expire_cycle_cpu_ms)),
        ("evicted_keys", ks.evicted_keys),
        ("evicted_clients", st.evicted_clients),
        ("evicted_scripts", getattr(getattr(srv, "scripting", None), "evicted_scripts", 0)),
        ("total_eviction_exceeded_time", ev_total),
        ("current_eviction_exceeded_time", ev_current),
        ("keyspace_hits", ks.keyspace_hits),
        ("keyspace_misses", ks.keyspace_misses),
        ("pubsub_channels", chans),
        ("pubsub_patterns", pats),
        ("pubsubshard_channels", shard),
        ("latest_fork_usec", getattr(getattr(srv, "persistence", None), "latest_fork_usec", 0)),
        ("total_forks", getattr(getattr(srv, "persistence", None), "total_forks", 0)),
        ("migrate_cached_sockets", _migrate_sockets(srv)),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", _call(tr, "total_keys")),
        ("tracking_total_items", _call(tr, "total_items")),
        ("tracking_total_prefixes", _call(tr, "total_prefixes")),
        ("unexpected_error_replies", st.unexpected_error_replies),
        ("total_error_replies", st.total_error_replies),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", st.io_reads_processed),
        ("total_writes_processed", st.io_writes_processed),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("io_threaded_freed_objects", 0),
        ("io_threaded_poll_processed", 0),
        ("io_threaded_total_prefetch_batches", 0),
        ("io_threaded_total_prefetch_entries", 0),
        ("client_query_buffer_limit_disconnections", st.client_query_buffer_limit_disconnections),
        ("client_output_buffer_limit_disconnections", st.client_output_buffer_limit_disconnections),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
        ("eventloop_cycles", srv.loop_stats.cycles),
        ("eventloop_duration_sum", srv.loop_stats.el_sum),
        ("eventloop_duration_cmd_sum", sum(cmd.usec for cmd in iter_all_commands())),
        ("instantaneous_eventloop_cycles_per_sec", el_cycles_per_sec),
        ("instantaneous_eventloop_duration_usec", el_duration_usec),
        ("acl_access_denied_auth", getattr(st, "acl_access_denied_auth", 0)),
        ("acl_access_denied_cmd", getattr(st, "acl_access_denied_cmd", 0)),
        ("acl_access_denied_key", getattr(st, "acl_access_denied_key", 0)),
        ("acl_access_denied_channel", getattr(st, "acl_access_denied_channel", 0)),
    ]


def _replication(srv: Server) -> Fields:
    cfg = srv.config
    fields: Fields = [("role", "slave" if srv.role == "S" else "master")]
    fields.append(("connected_slaves", sum(1 for c in srv.clients.values() if c.is_replica)))
    fields += [
        ("replicas_waiting_psync", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", srv.replid),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", getattr(srv, "master_repl_offset", 0)),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", cfg.repl_backlog_size),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]
    return fields


def _cpu(srv: Server) -> Fields:
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields: Fields = [
        ("used_cpu_sys", f"{me.ru_stime:.6f}"),
        ("used_cpu_user", f"{me.ru_utime:.6f}"),
        ("used_cpu_sys_children", f"{ch.ru_stime:.6f}"),
        ("used_cpu_user_children", f"{ch.ru_utime:.6f}"),
    ]
    thread = getattr(resource, "RUSAGE_THREAD", None)
    if thread is not None:
        th = resource.getrusage(thread)
        fields.append(("used_cpu_sys_main_thread", f"{th.ru_stime:.6f}"))
        fields.append(("used_cpu_user_main_thread", f"{th.ru_utime:.6f}"))
    return fields


def _modules(srv: Server) -> Fields:
    return []


def iter_all_commands(commands: Iterable[Command] | None = None) -> Iterable[Command]:
    """Every command and subcommand, parents before their children."""
    for cmd in commands if commands is not None else COMMANDS.values():
        yield cmd
        if cmd.subcommands:
            yield from cmd.subcommands.values()


def _commandstats(srv: Server) -> Fields:
    out: Fields = []
    for cmd in iter_all_commands():
        if cmd.calls or cmd.failed_calls or cmd.rejected_calls:
            per = cmd.usec / cmd.calls if cmd.calls else 0.0
            out.append((
                "cmdstat_" + safe_info_string(cmd.fullname),
                f"calls={cmd.calls},usec={cmd.usec},usec_per_call={per:.2f},"
                f"rejected_calls={cmd.rejected_calls},failed_calls={cmd.failed_calls}",
            ))
    return out


def _errorstats(srv: Server) -> Fields:
    errors = srv.stats.errors
    return [("errorstat_" + safe_info_string(k), f"count={errors[k]}")
            for k in sorted(errors, key=lambda s: s.encode("utf-8", "surrogateescape"))]


def latency_value_at(counts: dict[int, int], percentile: float) -> int:
    """The highest value of the bucket where the percentile falls."""
    total = sum(counts.values())
    need = max(1, -(-total * percentile // 100))
    seen = 0
    top = 0
    for v in sorted(counts):
        seen += counts[v]
        top = v
        if seen >= need:
            break
    return top


def reset_latency(server: Server) -> None:
    for cmd in iter_all_commands():
        cmd.reset_latency()


def _latencystats(srv: Server) -> Fields:
    if not srv.config.latency_tracking:
        return []
    out: Fields = []
    percentiles = srv.config.latency_tracking_info_percentiles
    for cmd in iter_all_commands():
        h = cmd.latency_counts()
        if not h:
            continue
        parts = []
        for p in percentiles:
            ptxt = f"{p:f}".rstrip("0").rstrip(".")
            parts.append(f"p{ptxt}={latency_value_at(h, p):.3f}")
        out.append(("latency_percentiles_usec_" + safe_info_string(cmd.fullname), ",".join(parts)))
    return out


def _cluster(srv: Server) -> Fields:
    return [("cluster_enabled", 1 if srv.config.cluster_enabled else 0)]


def _avg_ttl(db: Any) -> int:
    """Average remaining TTL in ms, estimated from a few expiry entries."""
    if getattr(db, "avg_ttl", 0):
        return int(db.avg_ttl)
    exp = db.expires
    if not exp:
        return 0
    now = int(time.time() * 1000)
    ttls = [w - now for _, w in itertools.islice(exp.items(), 64) if w > now]
    return int(sum(ttls) / len(ttls)) if ttls else 0


def _keyspace(srv: Server) -> Fields:
    out: Fields = []
    for db in srv.keyspace.dbs:
        keys = len(db.data)
        expires = len(db.expires)
        if keys or expires:
            out.append((f"db{db.id}", f"keys={keys},expires={expires},avg_ttl={_avg_ttl(db)}"))
    return out


def _debug(srv: Server) -> Fields:
    return [
        ("eventloop_duration_aof_sum", 0),
        ("eventloop_duration_cron_sum", srv.loop_stats.cron_sum),
        ("eventloop_duration_max", srv.loop_stats.el_max),
        ("eventloop_cmd_per_cycle_max", srv.loop_stats.cmd_per_cycle_max),
    ]


BUILDERS: dict[str, SectionBuilder] = {
    "server": _server, "clients": _clients, "memory": _memory, "persistence": _persistence,
    "stats": _stats, "replication": _replication, "cpu": _cpu, "modules": _modules,
    "commandstats": _commandstats, "errorstats": _errorstats, "latencystats": _latencystats,
    "cluster": _cluster, "keyspace": _keyspace, "debug": _debug,
}


def parse_sections(args: Iterable[bytes | str]) -> tuple[set[str], bool, bool]:
    """INFO's arguments -> (requested section names, all, everything); names lowercased."""
    names: set[str] = set()
    all_ = everything = False
    empty = True
    for a in args:
        empty = False
        s = (a.decode("utf-8", "replace") if isinstance(a, (bytes, bytearray)) else a).lower()
        if s == "default":
            names.update(DEFAULT_SECTIONS)
        elif s == "all":
            all_ = True
        elif s == "everything":
            all_ = everything = True
        else:
            names.add(s)
    if empty:
        names.update(DEFAULT_SECTIONS)
    return names, all_, everything


def section_fields(server: Server, name: str) -> Fields:
    builder = SECTION_PROVIDERS.get(name) or BUILDERS[name]
    return builder(server)


def render(server: Server, args: Iterable[bytes | str] = ()) -> str:
    """The text of ``INFO args...``."""
    names, all_, everything = parse_sections(args)
    parts: list[str] = []
    for key, title in ORDERED_SECTIONS:
        wanted = all_ or key in names or (key == "modules" and "module_list" in names)
        if not wanted:
            continue
        lines = [f"# {title}\r\n"]
        for k, v in section_fields(server, key):
            lines.append(f"{k}:{v}\r\n")
        parts.append("".join(lines))
    if "debug" in names:
        parts.append("# Debug\r\n" + "".join(f"{k}:{v}\r\n" for k, v in section_fields(server, "debug")))
    return "\r\n".join(parts)


def info_dict(server: Server, section: str) -> dict[str, str]:
    """One section as a dict of strings (tests, DEBUG, other subsystems)."""
    return {k: str(v) for k, v in section_fields(server, section)}
