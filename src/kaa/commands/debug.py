"""DEBUG: the test-suite's toolbox (debug.c), allowed by ``enable-debug-command``.

DIGEST follows Valkey's scheme (SHA1 mixing, xor for unordered parts), so a dataset
of strings digests to the same value as on Valkey; other types digest stably.
"""

from __future__ import annotations

import hashlib
import os
import signal
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

from kaa.commands.args import parse_int_or_none
from kaa.commands.registry import command
from kaa.commands.server_cmds import help_reply, is_local_client, syntax_error_for
from kaa.protocol.reply import (
    OK,
    BigNumber,
    Push,
    Raw,
    ReplyError,
    Verbatim,
    encode3,
    format_double,
)

ERR_NOT_ALLOWED = ReplyError(
    'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server."
)
ERR_NO_KEY = ReplyError("ERR no such key")

_HELP = (
    "AOF-FLUSH-SLEEP <microsec>",
    "    Sleep this long before each AOF flush (testing aid).",
    "ASSERT",
    "    Crash the server on a failed assertion.",
    "CHANGE-REPL-ID",
    "    Give the instance new replication IDs (replication tests only).",
    "CONFIG-REWRITE-FORCE-ALL",
    "    CONFIG REWRITE that writes every option, defaults included.",
    "DIGEST",
    "    Hex signature of the whole dataset.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Hex signature of the value of each key.",
    "ERROR <string>",
    "    Reply with <string> as an error.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid> [full]",
    "    Hash table statistics of a database.",
    "HTSTATS-KEY <key> [full]",
    "    Hash table statistics of the value at <key>.",
    "JMAP",
    "    Log a summary of the process memory.",
    "LISTPACK <key>",
    "    Print the listpack of <key> on stdout.",
    "LOADAOF",
    "    Flush the AOF and load it back.",
    "OBJECT <key> [fast]",
    "    Low level facts about the value at <key>; 'fast' skips the slow ones.",
    "PANIC",
    "    Crash the server.",
    "PAUSE-CRON <0|1>",
    "    Stop or resume the periodic cron.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys <prefix>:<num> (prefix 'key' by default) holding",
    "    value:<num>, padded or cut to <size> bytes when given.",
    "PROTOCOL <type>",
    "    Reply with a sample of a RESP type: string, integer, double, bignum, null,",
    "    array, set, map, attrib, push, verbatim, true, false.",
    "QUICKLIST <key> [<0|1>]",
    "    Print the quicklist of <key> on stdout.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Size above which list elements are stored as plain nodes (0 restores 1GB).",
    "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
    "    Save the RDB, empty the dataset and load the RDB back.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|time>",
    "    Milliseconds between resets of the reply buffer peak.",
    "REPLYBUFFER RESIZING <0|1>",
    "    Turn reply buffer resizing on or off.",
    "SEGFAULT",
    "    Crash the server with SIGSEGV.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    0 stops expiring keys in the background; 1 resumes it.",
    "SET-DISABLE-DENY-SCRIPTS <0|1>",
    "    Let scripts run commands flagged noscript.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Skip checksum checks of RDB files and RESTORE payloads.",
    "SLEEP <seconds>",
    "    Block the server for <seconds> (decimals allowed).",
    "STRINGMATCH-TEST",
    "    Fuzz the glob matcher.",
)


class DebugState:
    """Switches DEBUG sets that other layers may read (``server.debug``)."""

    __slots__ = ("skip_checksum_validation", "disable_deny_scripts", "quicklist_packed_threshold",
                 "reply_buffer_peak_reset_time", "reply_buffer_resizing", "aof_flush_sleep",
                 "pause_after_fork", "dict_resizing", "delay_rdb_client_free")

    def __init__(self) -> None:
        self.skip_checksum_validation = False
        self.disable_deny_scripts = False
        self.quicklist_packed_threshold = 1 << 30
        self.reply_buffer_peak_reset_time = 5000
        self.reply_buffer_resizing = True
        self.aof_flush_sleep = 0
        self.pause_after_fork = False
        self.dict_resizing = True
        self.delay_rdb_client_free = 0


def debug_state(srv: Any) -> DebugState:
    st = getattr(srv, "debug", None)
    if not isinstance(st, DebugState):
        st = DebugState()
        srv.debug = st
    return st


def _atoi(b: bytes) -> int:
    """C atoi: leading digits, 0 when none."""
    s = b.strip()
    n = 0
    neg = s[:1] == b"-"
    for ch in s[1:] if s[:1] in (b"-", b"+") else s:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    return -n if neg else n


def _strtod(b: bytes) -> float:
    """C strtod on the longest numeric prefix, 0.0 when none."""
    s = b.strip().decode("ascii", "replace")
    for end in range(len(s), 0, -1):
        try:
            return float(s[:end])
        except ValueError:
            continue
    return 0.0


# ---- DIGEST -----------------------------------------------------------------------------

_TYPE_CODES = {"string": 0, "list": 1, "set": 2, "zset": 3, "hash": 4, "stream": 6}


def _xor(digest: bytearray, data: bytes) -> None:
    h = hashlib.sha1(data).digest()
    for i in range(20):
        digest[i] ^= h[i]


def _mix(digest: bytearray, data: bytes) -> None:
    _xor(digest, data)
    digest[:] = hashlib.sha1(bytes(digest)).digest()


def _pairs(v: Any) -> Iterable[tuple[Any, Any]]:
    items = getattr(v, "items", None)
    if callable(items):
        return items()  # type: ignore[no-any-return]
    return v.rdb_items()  # type: ignore[no-any-return]


def _b(x: Any) -> bytes:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    if isinstance(x, float):
        return format_double(x)
    return str(x).encode()


def value_digest(digest: bytearray, v: Any, has_expire: bool) -> None:
    """Mix one value into digest: ordered parts mixed, unordered parts xored."""
    t = type(v)
    kind = "string" if t is bytes or t is bytearray else getattr(t, "TYPE_NAME", "none")
    _mix(digest, struct.pack(">I", _TYPE_CODES.get(kind, 5)))
    if kind == "string":
        _mix(digest, bytes(v))
    elif kind == "list":
        for e in v:
            _mix(digest, _b(e))
    elif kind == "set":
        for e in v:
            _xor(digest, _b(e))
    elif kind in ("zset", "hash"):
        for a, b in _pairs(v):
            ele = bytearray(20)
            _mix(ele, _b(a))
            _mix(ele, _b(b))
            _xor(digest, bytes(ele))
    else:
        try:
            from kaa.persistence.values import to_neutral

            neutral = repr(to_neutral(v)[1]).encode()
        except Exception:
            neutral = repr(v).encode()
        _mix(digest, neutral)
    if has_expire:
        _xor(digest, b"!!expire!!")


def dataset_digest(srv: Any) -> str:
    final = bytearray(20)
    for db in srv.keyspace.dbs:
        if not db.data:
            continue
        _mix(final, struct.pack(">I", db.id))
        exp = db.expires
        for key, v in db.data.items():
            d = bytearray(20)
            _mix(d, key)
            value_digest(d, v, key in exp)
            _xor(final, bytes(d))
    return final.hex()


# ---- OBJECT -----------------------------------------------------------------------------

def string_encoding(v: bytes | bytearray) -> str:
    if type(v) is bytearray:
        return "raw"
    if len(v) <= 20 and parse_int_or_none(v) is not None:
        return "int"
    return "embstr" if len(v) <= 44 else "raw"


def encoding_of(v: Any) -> str:
    """OBJECT ENCODING's answer (the keyspace module's, when it is loaded)."""
    try:
        from kaa.commands.keyspace import object_encoding
    except ImportError:
        pass
    else:
        return str(object_encoding(v))
    if type(v) is bytes or type(v) is bytearray:
        return string_encoding(v)
    enc = getattr(v, "encoding", None)
    if callable(enc):
        return str(enc())
    return str(enc) if enc else "unknown"


def serialized_length(v: Any) -> int:
    try:
        from kaa.persistence.rdb_format import write_value
        from kaa.persistence.values import to_neutral

        kind, neutral = to_neutral(v)
        return len(write_value(kind, neutral)[1])
    except Exception:
        return len(v) if isinstance(v, (bytes, bytearray)) else 0


def _object_line(c: Any, key: bytes, v: Any, fast: bool) -> str:
    db = c.db
    enc = encoding_of(v)
    refcount = 1
    if enc == "int" and len(v) <= 4 and 0 <= int(v) < 10000 and not c.server.config.maxmemory:
        refcount = 2147483647  # Valkey's shared integers
    s = f"Value at:0x{id(v):x} refcount:{refcount} encoding:{enc}"
    if not fast:
        s += f" serializedlength:{serialized_length(v)}"
    lru = db.lru_clock(key) if hasattr(db, "lru_clock") else 0
    idle = db.idle_seconds(key) if hasattr(db, "idle_seconds") else 0
    freq = db.lfu_freq(key) if hasattr(db, "lfu_freq") else 0
    word = db.lfu.get(key, 0) if getattr(db, "lfu", None) else lru
    s += f" lru:{lru} lru_seconds_idle:{idle} lfu_freq:{freq} lfu_access_time_minutes:{word >> 8}"
    if enc == "quicklist":
        cfg = c.server.config
        fill = cfg.list_max_listpack_size
        n = len(v)
        nbytes = v.ql_bytes()
        nodes = max(1, v.node_count())
        s += (f" ql_nodes:{nodes} ql_avg_node:{n / nodes:.2f} ql_listpack_max:{fill}"
              f" ql_compressed:{1 if cfg.list_compress_depth else 0}")
        if not fast:
            s += f" ql_uncompressed_size:{nbytes}"
    return s


# ---- the command ----------------------------------------------------------------------------

Handler = Callable[[Any, list[bytes]], Any]
_SUBS: dict[bytes, tuple[Callable[[int], bool], Handler]] = {}


def _sub(name: str, argc: Callable[[int], bool]) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _SUBS[name.encode()] = (argc, fn)
        return fn

    return deco


def _eq(n: int) -> Callable[[int], bool]:
    return lambda a: a == n


def _ge(n: int) -> Callable[[int], bool]:
    return lambda a: a >= n


@command("debug", -2, "admin noscript loading stale protected", group="server", since="1.0.0",
         summary="A container for debugging commands.", complexity="Depends on subcommand.",
         doc_flags=("syscmd",))
def debug(c: Any, argv: list[bytes]) -> Any:
    mode = c.server.config.enable_debug_command
    if mode != "yes" and not (mode == "local" and is_local_client(c)):
        raise ERR_NOT_ALLOWED
    name = argv[1].lower()
    if name == b"help" and len(argv) == 2:
        return help_reply(argv[0], _HELP)
    entry = _SUBS.get(name)
    if entry is None or not entry[0](len(argv)):
        raise syntax_error_for(argv)
    return entry[1](c, argv)


@_sub("log", _eq(3))
def _log(c: Any, argv: list[bytes]) -> Any:
    c.server.log_warning("DEBUG LOG: " + argv[2].decode("utf-8", "replace"))
    return OK


@_sub("sleep", _eq(3))
def _sleep(c: Any, argv: list[bytes]) -> Any:
    secs = _strtod(argv[2])
    if secs > 0:
        time.sleep(secs)  # blocks the whole server, on purpose (as Valkey's nanosleep)
    return OK


@_sub("set-active-expire", _eq(3))
def _set_active_expire(c: Any, argv: list[bytes]) -> Any:
    c.server.keyspace.active_expire_enabled = bool(_atoi(argv[2]))
    return OK


@_sub("set-skip-checksum-validation", _eq(3))
def _skip_checksum(c: Any, argv: list[bytes]) -> Any:
    debug_state(c.server).skip_checksum_validation = bool(_atoi(argv[2]))
    return OK


@_sub("set-disable-deny-scripts", _eq(3))
def _disable_deny_scripts(c: Any, argv: list[bytes]) -> Any:
    debug_state(c.server).disable_deny_scripts = bool(_atoi(argv[2]))
    return OK


@_sub("aof-flush-sleep", _eq(3))
def _aof_flush_sleep(c: Any, argv: list[bytes]) -> Any:
    debug_state(c.server).aof_flush_sleep = _atoi(argv[2])
    return OK


@_sub("pause-after-fork", _eq(3))
def _pause_after_fork(c: Any, argv: list[bytes]) -> Any:
    debug_state(c.server).pause_after_fork = bool(_atoi(argv[2]))
    return OK


@_sub("delay-rdb-client-free-seconds", _eq(3))
def _delay_rdb_free(c: Any, argv: list[bytes]) -> Any:
    debug_state(c.server).delay_rdb_client_free = _atoi(argv[2])
    return OK


@_sub("dict-resizing", _eq(3))
def _dict_resizing(c: Any, argv: list[bytes]) -> Any:
    debug_state(c.server).dict_resizing = bool(_atoi(argv[2]))
    return OK


@_sub("drop-cluster-packet-filter", _eq(3))
def _drop_cluster_packets(c: Any, argv: list[bytes]) -> Any:
    if parse_int_or_none(argv[2]) is None:
        raise ReplyError("ERR value is not an integer or out of range")
    return OK  # no cluster bus yet


@_sub("close-cluster-link-on-packet-drop", _eq(3))
def _close_cluster_link(c: Any, argv: list[bytes]) -> Any:
    return OK


@_sub("pause-cron", _eq(3))
def _pause_cron(c: Any, argv: list[bytes]) -> Any:
    c.server.cron_paused = bool(_atoi(argv[2]))
    return OK


@_sub("replybuffer", _eq(4))
def _replybuffer(c: Any, argv: list[bytes]) -> Any:
    st = debug_state(c.server)
    what = argv[2].lower()
    if what == b"peak-reset-time":
        v = argv[3].lower()
        if v == b"never":
            st.reply_buffer_peak_reset_time = -1
        elif v == b"reset":
            st.reply_buffer_peak_reset_time = 5000
        else:
            n = parse_int_or_none(argv[3])
            if n is None:
                raise ReplyError("ERR value is not an integer or out of range")
            st.reply_buffer_peak_reset_time = n
    elif what == b"resizing":
        st.reply_buffer_resizing = bool(_atoi(argv[3]))
    else:
        raise syntax_error_for(argv)
    return OK


@_sub("quicklist-packed-threshold", _eq(3))
def _ql_threshold(c: Any, argv: list[bytes]) -> Any:
    from kaa.server.config_file import memtoull

    sz = memtoull(argv[2].decode("utf-8", "replace"))
    if sz is None or sz > (1 << 32) - (1 << 20):
        raise ReplyError("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
    from kaa.types.list import set_packed_threshold

    debug_state(c.server).quicklist_packed_threshold = sz
    set_packed_threshold(sz)
    return OK


@_sub("object", lambda a: a in (3, 4))
def _object(c: Any, argv: list[bytes]) -> Any:
    key = argv[2]
    v = c.db.data.get(key)  # no lookup: a debug command sees logically expired keys too
    if v is None:
        raise ERR_NO_KEY
    fast = len(argv) == 4 and argv[3].lower() == b"fast"
    return _object_line(c, key, v, fast)


@_sub("sdslen", _eq(3))
def _sdslen(c: Any, argv: list[bytes]) -> Any:
    key = argv[2]
    v = c.db.data.get(key)
    if v is None:
        raise ERR_NO_KEY
    if not isinstance(v, (bytes, bytearray)):
        raise ReplyError("ERR Not an sds encoded string.")
    return (f"key_sds_len:{len(key)}, key_sds_avail:0, key_zmalloc: {len(key) + 9}, "
            f"val_sds_len:{len(v)}, val_sds_avail:0, val_zmalloc: {len(v) + 9}")


def _print_structure(c: Any, argv: list[bytes], want: str) -> Any:
    v = c.db.data.get(argv[2])
    if v is None:
        raise ERR_NO_KEY
    if encoding_of(v) != want:
        raise ReplyError(f"ERR The value stored at the specified key is not represented using an {want}")
    print(f"{want} of {argv[2]!r}: {len(v)} entries", flush=True)
    return f"{want.capitalize()} structure printed on stdout"


@_sub("listpack", _eq(3))
def _listpack(c: Any, argv: list[bytes]) -> Any:
    return _print_structure(c, argv, "listpack")


@_sub("quicklist", lambda a: a in (3, 4))
def _quicklist(c: Any, argv: list[bytes]) -> Any:
    return _print_structure(c, argv, "quicklist")


@_sub("populate", lambda a: 3 <= a <= 5)
def _populate(c: Any, argv: list[bytes]) -> Any:
    count = parse_int_or_none(argv[2])
    if count is None:
        raise ReplyError("ERR value is not an integer or out of range")
    if count < 0:
        raise ReplyError("ERR value is out of range, must be positive")
    srv = c.server
    if srv.loading:
        raise ReplyError("LOADING Valkey is loading the dataset in memory")
    size = 0
    if len(argv) == 5:
        n = parse_int_or_none(argv[4])
        if n is None:
            raise ReplyError("ERR value is not an integer or out of range")
        if n < 0:
            raise ReplyError("ERR value is out of range, must be positive")
        size = n
    prefix = argv[3] if len(argv) >= 4 else b"key"
    db = c.db
    data = db.data
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if key in data and db.lookup(key) is not None:
            continue
        val = b"value:%d" % j
        if size:
            val = val[:size].ljust(size, b"\0")
        db.add(key, val)
    return OK


@_sub("digest", _eq(2))
def _digest(c: Any, argv: list[bytes]) -> Any:
    return dataset_digest(c.server)


@_sub("digest-value", _ge(2))
def _digest_value(c: Any, argv: list[bytes]) -> Any:
    out = []
    db = c.db
    for key in argv[2:]:
        d = bytearray(20)
        v = db.data.get(key)
        if v is not None:
            value_digest(d, v, key in db.expires)
        out.append(d.hex())
    return out


@_sub("protocol", _eq(3))
def _protocol(c: Any, argv: list[bytes]) -> Any:
    t = argv[2].lower()
    if t == b"string":
        return b"Hello World"
    if t == b"integer":
        return 12345
    if t == b"double":
        return 3.141
    if t == b"bignum":
        return BigNumber(1234567999999999999999999999999999999)
    if t == b"null":
        return None
    if t == b"array":
        return [0, 1, 2]
    if t == b"set":
        return Raw(b"~3\r\n:0\r\n:1\r\n:2\r\n") if c.resp == 3 else [0, 1, 2]
    if t == b"map":
        return {0: False, 1: True, 2: False}
    if t == b"attrib":
        follow = b"Some real reply following the attribute"
        if c.resp == 3:
            attr = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
            return Raw(attr + encode3(follow))
        return follow
    if t == b"push":
        if c.resp < 3:
            raise ReplyError("ERR RESP2 is not supported by this command")
        # Valkey emits the push after the reply it accompanies.
        return Raw(encode3(b"Some real reply following the push reply")
                   + encode3(Push([b"server-cpu-usage", 42])))
    if t == b"true":
        return True
    if t == b"false":
        return False
    if t == b"verbatim":
        return Verbatim(b"This is a verbatim\nstring")
    raise ReplyError("ERR Wrong protocol type name. Please use one of the following: "
                     "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")


@_sub("error", _eq(3))
def _error(c: Any, argv: list[bytes]) -> Any:
    return ReplyError(argv[2].decode("utf-8", "surrogateescape"))


@_sub("change-repl-id", _eq(2))
def _change_repl_id(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    srv.log_notice("Changing replication IDs after receiving DEBUG change-repl-id")
    fn = getattr(srv, "change_replication_id", None)
    if callable(fn):
        fn()
    else:
        srv.replid = os.urandom(20).hex()
    return OK


@_sub("stringmatch-test", _eq(2))
def _stringmatch_test(c: Any, argv: list[bytes]) -> Any:
    import random

    from kaa.engine.glob import glob_match

    rnd = random.Random(0)
    for _ in range(1000):
        pat = bytes(rnd.choice(b"*?[]^-\\ab") for _ in range(rnd.randint(0, 32)))
        s = bytes(rnd.choice(b"ab*?") for _ in range(rnd.randint(0, 32)))
        glob_match(pat, s)
    return "Apparently the server did not crash: test passed"


_SUBS[b"stringmatch-len"] = (_ge(2), _stringmatch_test)


@_sub("jmap", _eq(2))
def _jmap(c: Any, argv: list[bytes]) -> Any:
    from kaa.server.info import estimate_used_memory

    c.server.log_notice(f"DEBUG JMAP: used_memory={estimate_used_memory(c.server)}")
    return OK


@_sub("config-rewrite-force-all", _eq(2))
def _rewrite_all(c: Any, argv: list[bytes]) -> Any:
    from kaa.server.config import ConfigError

    try:
        c.server.config.rewrite(force_all=True)
    except ConfigError as e:
        raise ReplyError(f"ERR CONFIG-REWRITE-FORCE-ALL failed: {e}") from None
    return OK


@_sub("structsize", _eq(2))
def _structsize(c: Any, argv: list[bytes]) -> Any:
    return b"bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 sdshdr64:17 "


def _ht_text(n: int, full: bool) -> str:
    size = 4
    while size < n:
        size *= 2
    text = f"Hash table 0 stats (main hash table):\n table size: {size if n else 0}\n number of elements: {n}\n"
    return text


@_sub("htstats", _ge(3))
def _htstats(c: Any, argv: list[bytes]) -> Any:
    dbid = parse_int_or_none(argv[2])
    if dbid is None:
        raise ReplyError("ERR value is not an integer or out of range")
    dbs = c.server.keyspace.dbs
    if not 0 <= dbid < len(dbs):
        raise ReplyError("ERR Out of range database")
    full = len(argv) >= 4 and argv[3].lower() == b"full"
    db = dbs[dbid]
    text = "[Dictionary HT]\n" + _ht_text(len(db.data), full) + "[Expires HT]\n" + _ht_text(len(db.expires), full)
    return Verbatim(text.encode())


@_sub("htstats-key", _ge(3))
def _htstats_key(c: Any, argv: list[bytes]) -> Any:
    v = c.db.data.get(argv[2])
    if v is None:
        raise ERR_NO_KEY
    if encoding_of(v) not in ("hashtable", "skiplist"):
        raise ReplyError("ERR The value stored at the specified key is not represented using an hash table")
    return Verbatim(_ht_text(len(v), False).encode())


@_sub("client-eviction", _eq(2))
def _client_eviction(c: Any, argv: list[bytes]) -> Any:
    if not c.server.config.maxmemory_clients:
        raise ReplyError("ERR maxmemory-clients is disabled.")
    return Verbatim(b"bucket          0 - all: clients: %d\n" % len(c.server.clients))


@_sub("replicate", _ge(3))
def _replicate(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    srv.propagate(-1, argv[2:])
    return OK


@_sub("reload", _ge(2))
def _reload(c: Any, argv: list[bytes]) -> Any:
    flush = save = True
    merge = False
    for opt in argv[2:]:
        o = opt.lower()
        if o == b"merge":
            merge = True
        elif o == b"noflush":
            flush = False
        elif o == b"nosave":
            save = False
        else:
            raise ReplyError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    p = getattr(c.server, "persistence", None)
    if p is None:
        # Without RDB support there is nothing to reload from.
        raise ReplyError("ERR Error trying to load the RDB dump, check server logs.")
    # rdbLoad(RDBFLAGS_ALLOW_DUP only with MERGE): a library of the file that already
    # exists fails the load (NOFLUSH without MERGE) instead of replacing the loaded one.
    sc = getattr(c.server, "scripting", None)
    if sc is not None:
        sc.rdb_replace_libraries = merge
    try:
        p.debug_reload(save, flush, merge)  # kaa.persistence.snapshot: Valkey's steps and errors
    finally:
        if sc is not None:
            sc.rdb_replace_libraries = None
    return OK


@_sub("loadaof", _eq(2))
def _loadaof(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    fn = getattr(srv, "debug_loadaof", None)
    if not callable(fn):
        raise ReplyError("ERR Error trying to load the AOF files, check server logs.")
    fn()
    srv.log_notice("Append Only File loaded by DEBUG LOADAOF")
    return OK


def _crash(c: Any, what: str, sig: int) -> Any:
    srv = c.server
    srv.log_warning(f"=== KAA BUG REPORT START: Cut & paste starting from here ===\n{what}")
    srv.log_warning("=== KAA BUG REPORT END. Make sure to include from START to END. ===")
    os.kill(os.getpid(), sig)
    return OK


@_sub("segfault", _ge(2))
def _segfault(c: Any, argv: list[bytes]) -> Any:
    return _crash(c, "crashed by signal: 11 (DEBUG SEGFAULT)", signal.SIGSEGV)


@_sub("panic", _ge(2))
def _panic(c: Any, argv: list[bytes]) -> Any:
    return _crash(c, f"------------------------------------------------\n!!! Software Failure. "
                     f"DEBUG PANIC called at Unix time {int(time.time())}", signal.SIGABRT)


@_sub("assert", _ge(2))
def _assert(c: Any, argv: list[bytes]) -> Any:
    return _crash(c, "=== ASSERTION FAILED ===\n==> debug.py '1 == 2' is not true", signal.SIGABRT)


@_sub("restart", _ge(2))
def _restart(c: Any, argv: list[bytes]) -> Any:
    raise ReplyError("ERR failed to restart the server. Check server logs.")


_SUBS[b"crash-and-recover"] = (_ge(2), _restart)
