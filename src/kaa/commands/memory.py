"""MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP (Valkey's object.c).

Kaa's values are Python objects, so every figure here is an estimate in Valkey's
terms: MEMORY USAGE sizes a key as Valkey 8 lays it out (a dict entry with the key
embedded, a 16-byte object header, sds strings, jemalloc size classes) and asks the
value types for their own estimate (``memory_usage()``); MEMORY STATS reports the
breakdown of INFO memory's ``used_memory`` estimate (``kaa.server.info.MemoryOverhead``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

from kaa.commands.args import ERR_SYNTAX, parse_int
from kaa.commands.keyspace import string_encoding
from kaa.commands.registry import KeySpec, subcommand
from kaa.commands.server_cmds import arg, declare_container, help_reply
from kaa.protocol.reply import OK, Verbatim
from kaa.server import info as info_mod

_ROBJ = 16  # sizeof(robj)
_EMBSTR_LIMIT = 44


def alloc_size(n: int) -> int:
    """The jemalloc size class serving an ``n``-byte request (8-byte quantum, as Valkey
    builds it): multiples of 8 up to 64, then four classes per doubling."""
    if n <= 8:
        return 8
    if n <= 64:
        return (n + 7) & ~7
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) // step * step


def _sds_header(length: int) -> int:
    """Bytes of the sds header for a string of this length (sdshdr8/16/32/64)."""
    if length < 1 << 8:
        return 3
    if length < 1 << 16:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def sds_alloc(length: int) -> int:
    return alloc_size(_sds_header(length) + length + 1)


def key_entry_size(key: bytes) -> int:
    """A Valkey 8 dict entry with the key sds embedded (dictEntryMemUsage)."""
    return alloc_size(16 + 1 + _sds_header(len(key)) + len(key) + 1)


def value_usage(v: Any) -> int:
    """objectComputeSize for one value."""
    t = type(v)
    if t is bytes or t is bytearray:
        enc = string_encoding(v)
        if enc == "int":
            return _ROBJ
        if enc == "embstr":
            return alloc_size(_ROBJ + 3 + len(v) + 1)
        return _ROBJ + sds_alloc(len(v))
    fn = getattr(v, "memory_usage", None)
    if fn is not None:
        return int(fn())
    return info_mod.value_size(v)


def key_usage(key: bytes, v: Any) -> int:
    """MEMORY USAGE's answer: the value plus its dict entry (which holds the key)."""
    return value_usage(v) + key_entry_size(key)


# ---- the command ------------------------------------------------------------------------

declare_container("memory", -2, group="server", since="4.0.0", complexity="Depends on subcommand.",
                  summary="A container for memory diagnostics commands.")

_SHARDS_TIPS = ("nondeterministic_output", "request_policy:all_shards", "response_policy:special")


@subcommand("memory", "usage", -3, "readonly", keys=(2, 2, 1), since="4.0.0",
            complexity="O(N) where N is the number of samples.",
            summary="Estimates the memory usage of a key.",
            key_specs=(KeySpec(flags=("RO",), begin_index=2),),
            arguments=({**arg("key", "key"), "key_spec_index": 0},
                       arg("count", "integer", token="SAMPLES", optional=True)))
def memory_usage(c: Any, argv: list[bytes]) -> Any:
    j = 3
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"samples" and j + 1 < n:
            # Kaa's estimates do not sample, but the argument is checked as in Valkey.
            if parse_int(argv[j + 1]) < 0:
                raise ERR_SYNTAX
            j += 2
        else:
            raise ERR_SYNTAX
    # dbFind: no lazy expiry and no access-time update, as in Valkey
    v = c.db.data.get(argv[2])
    if v is None:
        return None
    return key_usage(argv[2], v)


@subcommand("memory", "stats", 2, "", since="4.0.0", complexity="O(1)", tips=_SHARDS_TIPS,
            summary="Returns details about memory usage.")
def memory_stats(c: Any, argv: list[bytes]) -> Any:
    mh = info_mod.MemoryOverhead(c.server)
    rss = info_mod.process_rss()
    used = mh.total
    out: dict[bytes, Any] = {
        b"peak.allocated": mh.peak,
        b"total.allocated": used,
        b"startup.allocated": mh.startup,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": mh.clients_normal,
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": mh.lua_caches,
        b"functions.caches": mh.functions_caches,
    }
    for dbid, main, expires in mh.dbs:
        out[b"db.%d" % dbid] = {b"overhead.hashtable.main": main,
                                b"overhead.hashtable.expires": expires}
    out.update({
        b"overhead.db.hashtable.lut": mh.lut,
        # A CPython dict resizes at once: there is never an incremental rehash going on.
        b"overhead.db.hashtable.rehashing": 0,
        b"overhead.total": mh.overhead_total,
        b"db.dict.rehashing.count": 0,
        b"keys.count": mh.keys,
        b"keys.bytes-per-key": mh.bytes_per_key,
        b"dataset.bytes": mh.dataset,
        b"dataset.percentage": mh.dataset_perc,
        b"peak.percentage": mh.peak_perc,
        # No allocator statistics of our own: the allocator holds what we estimate.
        b"allocator.allocated": used,
        b"allocator.active": used,
        b"allocator.resident": rss,
        b"allocator.muzzy": 0,
        b"allocator-fragmentation.ratio": 1.0,
        b"allocator-fragmentation.bytes": 0,
        b"allocator-rss.ratio": rss / used if used else 0.0,
        b"allocator-rss.bytes": rss - used,
        b"rss-overhead.ratio": 1.0,
        b"rss-overhead.bytes": 0,
        b"fragmentation": rss / used if used else 0.0,
        b"fragmentation.bytes": rss - used,
    })
    return out


@subcommand("memory", "doctor", 2, "", since="4.0.0", complexity="O(1)", tips=_SHARDS_TIPS,
            summary="Outputs a memory problems report.")
def memory_doctor(c: Any, argv: list[bytes]) -> Any:
    return Verbatim(doctor_report(c.server).encode())


@subcommand("memory", "malloc-stats", 2, "", since="4.0.0", tips=_SHARDS_TIPS,
            complexity="Depends on how much memory is allocated, could be slow",
            summary="Returns the allocator statistics.")
def memory_malloc_stats(c: Any, argv: list[bytes]) -> Any:
    # INFO says mem_allocator:libc; Valkey answers this for allocators other than jemalloc.
    return b"Stats not supported for the current allocator"


@subcommand("memory", "purge", 2, "", since="4.0.0",
            complexity="Depends on how much memory is allocated, could be slow",
            tips=("request_policy:all_shards", "response_policy:all_succeeded"),
            summary="Asks the allocator to release memory.")
def memory_purge(c: Any, argv: list[bytes]) -> Any:
    # glibc's counterpart of jemalloc's purge: hand free heap pages back to the system.
    if _malloc_trim is not None:
        _malloc_trim(0)
    return OK


_MEMORY_HELP = (
    "DOCTOR",
    "    Return a report on possible memory problems.",
    "MALLOC-STATS",
    "    Return the memory allocator's internal statistics.",
    "PURGE",
    "    Ask the allocator to release unused memory to the system.",
    "STATS",
    "    Return details about the server's memory usage.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return the bytes used by <key> and its value. Nested values are sampled up",
    "    to <count> times (default: 5, 0 means sample all).",
)


@subcommand("memory", "help", 2, "loading stale", since="4.0.0", complexity="O(1)",
            summary="Returns helpful text about the different subcommands.")
def memory_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _MEMORY_HELP)


def doctor_report(srv: Any) -> str:
    """A report on the memory estimate, checking what Valkey's MEMORY DOCTOR checks that
    Kaa can measure: a small instance, a past peak, big client buffers, many scripts."""
    mh = info_mod.MemoryOverhead(srv)
    if mh.total < 5 * 1024 * 1024:
        return ("This instance holds very little data, so there is nothing meaningful to "
                "diagnose yet. Come back once it stores a few megabytes.\n")
    issues = []
    if mh.peak / mh.total > 1.5:
        issues.append(" * Peak memory: the instance once used more than 150% of what it uses "
                      "now. The process may keep that memory until it is restarted; MEMORY "
                      "PURGE can return some of it to the system.")
    nclients = max(1, len(srv.clients))
    if mh.clients_normal / nclients > 200 * 1024:
        issues.append(" * Big client buffers: clients use more than 200 KB each on average. "
                      "Check CLIENT LIST for clients with large query or output buffers.")
    sc = getattr(srv, "scripting", None)
    if sc is not None and sc.memory_info().get("number_of_cached_scripts", 0) > 1000:
        issues.append(" * Many cached scripts: more than 1000 EVAL scripts are cached. Prefer "
                      "EVALSHA with parameters over scripts generated per call.")
    if not issues:
        return "No memory issue found in this instance.\n"
    return "Possible memory issues in this instance:\n\n" + "\n\n".join(issues) + "\n"


def _load_malloc_trim() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_malloc_trim = _load_malloc_trim()

__all__ = ["alloc_size", "key_usage", "value_usage", "doctor_report"]
