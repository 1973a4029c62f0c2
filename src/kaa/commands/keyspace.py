"""Generic keyspace commands (db.c, object.c): DEL UNLINK EXISTS TYPE RENAME RENAMENX
KEYS SCAN RANDOMKEY DBSIZE SWAPDB MOVE COPY FLUSHDB FLUSHALL TOUCH OBJECT.

``install(server)`` wires the keyspace engine to the running server: expiry
propagation, the config parameters the engine mirrors (maxmemory-policy, lfu-*,
lazyfree-lazy-expire, hz), the coarse access clock and scan-index upkeep in the
cron, and lazy freeing after replies.
"""

from __future__ import annotations

import copy as _copy
from typing import Any

from kaa.commands.args import ERR_NO_SUCH_KEY, ERR_NOT_INT, ERR_SYNTAX, parse_int_or_none
from kaa.commands.expire import install_expire_propagation
from kaa.commands.registry import KeySpec, command, container, subcommand
from kaa.commands.server_cmds import arg
from kaa.engine.keyspace import SCAN_INDEX_IDLE_MS, Database, Keyspace, now_ms, type_name
from kaa.engine.notify import NOTIFY_GENERIC
from kaa.engine.scan import parse_cursor
from kaa.protocol.reply import NULL_ARRAY, OK, ONE, ZERO, ReplyError

ERR_SAME_OBJECT = ReplyError("ERR source and destination objects are the same")
ERR_DB_RANGE = ReplyError("ERR DB index is out of range")
ERR_INVALID_CURSOR = ReplyError("ERR invalid cursor")
ERR_NOT_LFU = ReplyError(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust."
)
ERR_IS_LFU = ReplyError(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
OBJ_SHARED_REFCOUNT = INT_MAX
OBJ_SHARED_INTEGERS = 10000
EMBSTR_SIZE_LIMIT = 44

# The type names SCAN TYPE accepts (obj_type_name in db.c).
_SCAN_TYPES = frozenset({"string", "list", "set", "zset", "hash", "stream"})

_MULTI_KEY_TIPS = ("request_policy:multi_shard", "response_policy:agg_sum")
_ALL_SHARDS_SUM = ("request_policy:all_shards", "response_policy:agg_sum")
_FLUSH_TIPS = ("request_policy:all_shards", "response_policy:all_succeeded")
_FLUSH_HISTORY = (
    ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
    ("6.2.0", "Added the `SYNC` flushing mode modifier."),
)


def _spec(flags: str, pos: int, last: int = 0) -> KeySpec:
    """A key spec; flags as COMMAND INFO prints them (RO/RW/OW/RM upper, the rest lower)."""
    fl = tuple(f if f in ("RO", "RW", "OW", "RM") else f.lower() for f in flags.split())
    return KeySpec(flags=fl, begin_index=pos, last=last)


def key_arg(name: str = "key", spec: int = 0, multiple: bool = False) -> dict[str, Any]:
    """A COMMAND DOCS key argument, tied to its key spec."""
    return {**arg(name, "key", multiple=multiple), "key_spec_index": spec}


_KEYS_ARGS = (key_arg(multiple=True),)
_KEY_ARG = (key_arg(),)
_FLUSH_ARGS = (arg("flush-type", "oneof", optional=True, args=(
    arg("async", "pure-token", token="ASYNC", since="4.0.0"),
    arg("sync", "pure-token", token="SYNC", since="6.2.0"))),)


ERR_INT_RANGE = ReplyError(
    f"ERR value is out of range, value must between {INT_MIN} and {INT_MAX}"
)


def _int32(s: bytes, err: ReplyError | None = None) -> int:
    """getIntFromObjectOrReply: a canonical 64-bit integer that fits in a C int; err
    replaces both of Valkey's default messages when given."""
    v = parse_int_or_none(s)
    if v is None:
        raise err or ERR_NOT_INT
    if v < INT_MIN or v > INT_MAX:
        raise err or ERR_INT_RANGE
    return v


def _target_db(c: Any, s: bytes) -> Database:
    """MOVE/COPY's DB argument: an int, then selectDb's range check."""
    idx = _int32(s)
    dbs = c.server.keyspace.dbs
    if idx < 0 or idx >= len(dbs):
        raise ERR_DB_RANGE
    return dbs[idx]  # type: ignore[no-any-return]


def copy_value(v: Any) -> Any:
    """An independent copy of a value for COPY: immutable bytes are shared, a bytearray
    (modified in place by APPEND/SETRANGE) is copied, other types provide copy()."""
    t = type(v)
    if t is bytes:
        return v
    if t is bytearray:
        return bytearray(v)
    dup = getattr(v, "copy", None)
    if dup is not None:
        return dup()
    return _copy.deepcopy(v)


# ---- DEL UNLINK EXISTS TYPE TOUCH ----------------------------------------------------

def _del_generic(c: Any, argv: list[bytes], lazy: bool) -> int:
    db = c.db
    ks = db.ks
    n = 0
    for key in argv[1:]:
        if db.expire_if_needed(key):
            continue
        v = db.pop(key)
        if v is not None:
            if lazy:
                ks.free_async(v)
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
            n += 1
    ks.dirty += n
    return n


@command("del", -2, "write", "keyspace", keys=(1, -1, 1),
         arguments=_KEYS_ARGS,
         key_specs=(_spec("RM DELETE", 1, -1),), tips=_MULTI_KEY_TIPS,
         group="generic", since="1.0.0", summary="Deletes one or more keys.",
         complexity="O(N) where N is the number of keys that will be removed. When a key to "
         "remove holds a value other than a string, the individual complexity for this key is "
         "O(M) where M is the number of elements in the list, set, sorted set or hash. Removing "
         "a single key that holds a string value is O(1).")
def del_(c: Any, argv: list[bytes]) -> Any:
    return _del_generic(c, argv, c.server.config.lazyfree_lazy_user_del)


@command("unlink", -2, "write fast", "keyspace", keys=(1, -1, 1),
         arguments=_KEYS_ARGS,
         key_specs=(_spec("RM DELETE", 1, -1),), tips=_MULTI_KEY_TIPS,
         group="generic", since="4.0.0", summary="Asynchronously deletes one or more keys.",
         complexity="O(1) for each key removed regardless of its size. Then the command does "
         "O(N) work in a different thread in order to reclaim memory, where N is the number of "
         "allocations the deleted objects where composed of.")
def unlink(c: Any, argv: list[bytes]) -> Any:
    return _del_generic(c, argv, True)


@command("exists", -2, "readonly fast", "keyspace", keys=(1, -1, 1),
         arguments=_KEYS_ARGS,
         key_specs=(_spec("RO", 1, -1),), tips=_MULTI_KEY_TIPS,
         history=(("3.0.3", "Accepts multiple `key` arguments."),),
         group="generic", since="1.0.0", summary="Determines whether one or more keys exist.",
         complexity="O(N) where N is the number of keys to check.")
def exists(c: Any, argv: list[bytes]) -> Any:
    look = c.db.lookup_read_notouch
    n = 0
    for key in argv[1:]:
        if look(key) is not None:
            n += 1
    return n


@command("type", 2, "readonly fast", "keyspace", keys=(1, 1, 1),
         arguments=_KEY_ARG,
         group="generic", since="1.0.0", complexity="O(1)",
         summary="Determines the type of value stored at a key.")
def type_(c: Any, argv: list[bytes]) -> Any:
    v = c.db.lookup_read_notouch(argv[1])
    return "none" if v is None else type_name(v)


@command("touch", -2, "readonly fast", "keyspace", keys=(1, -1, 1),
         arguments=_KEYS_ARGS,
         key_specs=(_spec("RO", 1, -1),), tips=_MULTI_KEY_TIPS,
         group="generic", since="3.2.1",
         summary="Returns the number of existing keys out of those specified after updating "
         "the time they were last accessed.",
         complexity="O(N) where N is the number of keys that will be touched.")
def touch(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    ks = db.ks
    # TOUCH updates access times even for a no-touch client (Valkey exempts touchCommand).
    no_touch = ks.no_touch
    if no_touch:
        ks.set_no_touch(False)
    try:
        n = 0
        for key in argv[1:]:
            if db.lookup_read(key) is not None:
                n += 1
    finally:
        if no_touch:
            ks.set_no_touch(True)
    return n


# ---- RENAME RENAMENX MOVE COPY ------------------------------------------------------------

def _rename(c: Any, argv: list[bytes], nx: bool) -> Any:
    db = c.db
    src, dst = argv[1], argv[2]
    v = db.lookup(src)
    if v is None:
        raise ERR_NO_SUCH_KEY
    if src == dst:
        return ZERO if nx else OK
    when = db.get_expire(src)
    ks = db.ks
    if db.lookup(dst) is not None:
        if nx:
            return ZERO
        old = db.pop(dst)
        if c.server.config.lazyfree_lazy_server_del:
            ks.free_async(old)
    db.add(dst, v)
    if when is not None:
        db.set_expire(dst, when)
    db.pop(src)
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "rename_from", src, db.id)
        ks.notify(NOTIFY_GENERIC, "rename_to", dst, db.id)
    ks.dirty += 1
    return ONE if nx else OK


@command("rename", 3, "write", "keyspace", keys=(1, 2, 1),
         arguments=(key_arg(), key_arg("newkey", 1)),
         key_specs=(_spec("RW ACCESS DELETE", 1), _spec("OW UPDATE", 2)),
         group="generic", since="1.0.0", complexity="O(1)",
         summary="Renames a key and overwrites the destination.")
def rename(c: Any, argv: list[bytes]) -> Any:
    return _rename(c, argv, False)


@command("renamenx", 3, "write fast", "keyspace", keys=(1, 2, 1),
         arguments=(key_arg(), key_arg("newkey", 1)),
         key_specs=(_spec("RW ACCESS DELETE", 1), _spec("OW INSERT", 2)),
         history=(("3.2.0", "The command no longer returns an error when source and destination "
                   "names are the same."),),
         group="generic", since="1.0.0", complexity="O(1)",
         summary="Renames a key only when the target key name doesn't exist.")
def renamenx(c: Any, argv: list[bytes]) -> Any:
    return _rename(c, argv, True)


@command("move", 3, "write fast", "keyspace", keys=(1, 1, 1),
         arguments=(key_arg(), arg("db", "integer")),
         key_specs=(_spec("RW ACCESS UPDATE", 1),),
         group="generic", since="1.0.0", complexity="O(1)",
         summary="Moves a key to another database.")
def move(c: Any, argv: list[bytes]) -> Any:
    if c.server.config.cluster_enabled:
        raise ReplyError("ERR MOVE is not allowed in cluster mode")
    src = c.db
    dst = _target_db(c, argv[2])
    if dst is src:
        raise ERR_SAME_OBJECT
    key = argv[1]
    v = src.lookup(key)
    if v is None:
        return ZERO
    when = src.get_expire(key)
    if dst.lookup(key) is not None:
        return ZERO
    dst.add(key, v)
    if when is not None:
        dst.set_expire(key, when)
    src.pop(key)
    ks = src.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "move_from", key, src.id)
        ks.notify(NOTIFY_GENERIC, "move_to", key, dst.id)
    ks.dirty += 1
    return ONE


@command("copy", -3, "write denyoom", "keyspace", keys=(1, 2, 1),
         arguments=(key_arg("source"), key_arg("destination", 1),
                    arg("destination-db", "integer", token="DB", optional=True),
                    arg("replace", "pure-token", token="REPLACE", optional=True)),
         key_specs=(_spec("RO ACCESS", 1), _spec("OW UPDATE", 2)),
         group="generic", since="6.2.0",
         complexity="O(N) worst case for collections, where N is the number of nested items. "
         "O(1) for string values.",
         summary="Copies the value of a key to a new key.")
def copy(c: Any, argv: list[bytes]) -> Any:
    src = dst = c.db
    replace = False
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            dst = _target_db(c, argv[j + 1])
            j += 1
        else:
            raise ERR_SYNTAX
        j += 1
    if c.server.config.cluster_enabled and (src.id != 0 or dst.id != 0):
        raise ReplyError("ERR Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise ERR_SAME_OBJECT
    v = src.lookup_read(key)
    if v is None:
        return ZERO
    when = src.get_expire(key)
    ks = src.ks
    delete = False
    if dst.lookup(newkey) is not None:
        if not replace:
            return ZERO
        delete = True
    dup = copy_value(v)
    if delete:
        old = dst.pop(newkey)
        if c.server.config.lazyfree_lazy_server_del:
            ks.free_async(old)
    dst.add(newkey, dup)
    if when is not None:
        dst.set_expire(newkey, when)
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "copy_to", newkey, dst.id)
    ks.dirty += 1
    return ONE


# ---- KEYS SCAN RANDOMKEY DBSIZE -------------------------------------------------------------

@command("keys", 2, "readonly", "keyspace dangerous",
         arguments=(arg("pattern", "pattern"),),
         tips=("request_policy:all_shards", "nondeterministic_output_order"),
         group="generic", since="1.0.0",
         complexity="O(N) with N being the number of keys in the database, under the assumption "
         "that the key names in the database and the given pattern have limited length.",
         summary="Returns all key names that match a pattern.")
def keys(c: Any, argv: list[bytes]) -> Any:
    return c.db.keys_matching(argv[1])


def parse_scan_options(argv: list[bytes], start: int) -> tuple[int, bytes | None, str | None]:
    """SCAN's COUNT / MATCH / TYPE options (in scanGenericCommand's order and errors)."""
    count = 10
    pattern: bytes | None = None
    typ: str | None = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        more = n - i
        if opt == b"count" and more >= 2:
            v = parse_int_or_none(argv[i + 1])
            if v is None:
                raise ERR_NOT_INT
            if v < 1:
                raise ERR_SYNTAX
            count = v
            i += 2
        elif opt == b"match" and more >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None  # matches everything: same as no pattern
            i += 2
        elif opt == b"type" and more >= 2:
            name = argv[i + 1].decode("utf-8", "surrogateescape")
            if name.lower() not in _SCAN_TYPES:
                raise ReplyError(f"ERR unknown type name '{name}'")
            typ = name.lower()
            i += 2
        elif opt == b"novalues":
            raise ReplyError("ERR NOVALUES option can only be used in HSCAN")
        elif opt == b"noscores":
            raise ReplyError("ERR NOSCORES option can only be used in ZSCAN")
        else:
            raise ERR_SYNTAX
    return count, pattern, typ


@command("scan", -2, "readonly touches_arbitrary_keys", "keyspace",
         arguments=(arg("cursor", "integer"),
                    arg("pattern", "pattern", token="MATCH", optional=True),
                    arg("count", "integer", token="COUNT", optional=True),
                    arg("type", "string", token="TYPE", optional=True, since="6.0.0")),
         tips=("nondeterministic_output", "request_policy:special", "response_policy:special"),
         history=(("6.0.0", "Added the `TYPE` subcommand."),),
         group="generic", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
         "command calls for the cursor to return back to 0. N is the number of elements inside "
         "the collection.",
         summary="Iterates over the key names in the database.")
def scan(c: Any, argv: list[bytes]) -> Any:
    """SCAN: the cursor is a position in the 64-bit hash space of the keys, walked by hash
    ranges (kaa.engine.scan explains why this survives inserts, deletes and resizes).
    Filters (TYPE, then MATCH) apply to the visited keys, then expired ones are dropped."""
    cursor = parse_cursor(argv[1])
    if cursor is None:
        raise ERR_INVALID_CURSOR
    count, pattern, typ = parse_scan_options(argv, 2)
    db = c.db
    nxt, found = db.scan(cursor, count)
    if typ is not None or pattern is not None:
        from kaa.engine.glob import glob_match

        data = db.data
        kept = []
        for k in found:
            if typ is not None and type_name(data.get(k)) != typ:
                continue
            if pattern is not None and not glob_match(pattern, k):
                continue
            kept.append(k)
        found = kept
    if db.expires and found:
        # Like Valkey, expire (and leave out) keys whose deadline passed, only among
        # the keys that survived the filters.
        now = now_ms()
        exp = db.expires
        kept = []
        for k in found:
            when = exp.get(k)
            if when is not None and when < now and k in db.data and db.ks.expire_if_allowed(db, k):
                continue
            kept.append(k)
        found = kept
    return [b"%d" % nxt, found]


@command("randomkey", 1, "readonly touches_arbitrary_keys", "keyspace",
         tips=("request_policy:all_shards", "response_policy:special", "nondeterministic_output"),
         group="generic", since="1.0.0", complexity="O(1)",
         summary="Returns a random key name from the database.")
def randomkey(c: Any, argv: list[bytes]) -> Any:
    return c.db.random_key()


@command("dbsize", 1, "readonly fast", "keyspace", tips=_ALL_SHARDS_SUM,
         group="server", since="1.0.0", complexity="O(1)",
         summary="Returns the number of keys in the database.")
def dbsize(c: Any, argv: list[bytes]) -> Any:
    return len(c.db.data)


# ---- SWAPDB FLUSHDB FLUSHALL -------------------------------------------------------------------

@command("swapdb", 3, "write fast", "keyspace dangerous", group="server", since="4.0.0",
         arguments=(arg("index1", "integer"), arg("index2", "integer")),
         complexity="O(N) where N is the count of clients watching or blocking on keys from "
         "both databases.",
         summary="Swaps two databases.")
def swapdb(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    if srv.config.cluster_enabled:
        raise ReplyError("ERR SWAPDB is not allowed in cluster mode")
    a = _int32(argv[1], ReplyError("ERR invalid first DB index"))
    b = _int32(argv[2], ReplyError("ERR invalid second DB index"))
    ks = srv.keyspace
    n = len(ks.dbs)
    if a < 0 or a >= n or b < 0 or b >= n:
        raise ERR_DB_RANGE
    ks.swap(a, b)
    ks.dirty += 1
    return OK


def _flush_lazy(c: Any, argv: list[bytes]) -> bool:
    """getFlushCommandFlags: SYNC, ASYNC, or lazyfree-lazy-user-flush."""
    if len(argv) == 1:
        return bool(c.server.config.lazyfree_lazy_user_flush)
    if len(argv) == 2:
        opt = argv[1].lower()
        if opt == b"sync":
            return False
        if opt == b"async":
            return True
    raise ERR_SYNTAX


def _force_propagation(c: Any, argv: list[bytes], dirty_before: int) -> None:
    """forceCommandPropagation: a flush of empty databases is still replicated."""
    srv = c.server
    if srv.keyspace.dirty == dirty_before and srv.propagating:
        srv.propagate(c.db.id, argv)


@command("flushdb", -1, "write", "keyspace dangerous", tips=_FLUSH_TIPS, history=_FLUSH_HISTORY,
         arguments=_FLUSH_ARGS,
         group="server", since="1.0.0",
         complexity="O(N) where N is the number of keys in the selected database",
         summary="Remove all keys from the current database.")
def flushdb(c: Any, argv: list[bytes]) -> Any:
    lazy = _flush_lazy(c, argv)
    ks = c.server.keyspace
    before = ks.dirty
    ks.dirty += ks.flush_db(c.db, lazy)
    _force_propagation(c, argv, before)
    return OK


@command("flushall", -1, "write", "keyspace dangerous", tips=_FLUSH_TIPS, history=_FLUSH_HISTORY,
         arguments=_FLUSH_ARGS,
         group="server", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases",
         summary="Removes all keys from all databases.")
def flushall(c: Any, argv: list[bytes]) -> Any:
    lazy = _flush_lazy(c, argv)
    srv = c.server
    ks = srv.keyspace
    before = ks.dirty
    ks.dirty += ks.flush_all(lazy)
    # flushAllDataAndResetRDB: a snapshot in progress is now stale; with save points
    # configured the empty dataset is saved at once (which also zeroes the dirty count).
    p = srv.persistence
    if p.child_type == "rdb":
        p.kill_child()
    if srv.config.save:
        p.save()
    _force_propagation(c, argv, before)
    return OK


# ---- OBJECT -------------------------------------------------------------------------------------

container("object", -2, group="generic", since="2.2.3", complexity="Depends on subcommand.",
          summary="A container for object introspection commands.")

_OBJECT_HELP = (
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
)


_OBJ_KEY_ARG = (key_arg(),)


def string_encoding(v: bytes | bytearray) -> str:
    """int / embstr / raw as Valkey's tryObjectEncoding would leave a string."""
    if type(v) is bytearray:
        return "raw"
    if len(v) <= 20 and parse_int_or_none(v) is not None:
        return "int"
    return "embstr" if len(v) <= EMBSTR_SIZE_LIMIT else "raw"


def object_encoding(v: Any) -> str:
    t = type(v)
    if t is bytes or t is bytearray:
        return string_encoding(v)
    enc = getattr(v, "encoding", None)
    if callable(enc):
        return str(enc())
    if isinstance(enc, str):
        return enc
    return "raw"


def _object_lookup(c: Any, key: bytes) -> Any:
    """objectCommandLookup: no access-time update, no keymiss event."""
    return c.db.lookup_read_notouch(key, notify=False)


def _shared_integers_allowed(c: Any) -> bool:
    """canUseSharedObject: shared integers are off under maxmemory with an LRU/LFU policy."""
    cfg = c.server.config
    return not cfg.maxmemory or not ("lru" in cfg.maxmemory_policy or "lfu" in cfg.maxmemory_policy)


@subcommand("object", "encoding", 3, "readonly", "keyspace", keys=(2, 2, 1),
            arguments=_OBJ_KEY_ARG,
            tips=("nondeterministic_output",), since="2.2.3", complexity="O(1)",
            summary="Returns the internal encoding of an object.")
def object_encoding_cmd(c: Any, argv: list[bytes]) -> Any:
    v = _object_lookup(c, argv[2])
    if v is None:
        return None
    return object_encoding(v).encode()


@subcommand("object", "refcount", 3, "readonly", "keyspace", keys=(2, 2, 1),
            arguments=_OBJ_KEY_ARG,
            tips=("nondeterministic_output",), since="2.2.3", complexity="O(1)",
            summary="Returns the reference count of a value of a key.")
def object_refcount(c: Any, argv: list[bytes]) -> Any:
    v = _object_lookup(c, argv[2])
    if v is None:
        return None
    if type(v) is bytes and len(v) <= 4 and _shared_integers_allowed(c):
        n = parse_int_or_none(v)
        if n is not None and 0 <= n < OBJ_SHARED_INTEGERS:
            return OBJ_SHARED_REFCOUNT
    return 1


@subcommand("object", "idletime", 3, "readonly", "keyspace", keys=(2, 2, 1),
            arguments=_OBJ_KEY_ARG,
            tips=("nondeterministic_output",), since="2.2.3", complexity="O(1)",
            summary="Returns the time since the last access to an object.")
def object_idletime(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[2]
    if _object_lookup(c, key) is None:
        return None
    if db.ks.lfu_policy:
        raise ERR_IS_LFU
    return db.idle_seconds(key)


@subcommand("object", "freq", 3, "readonly", "keyspace", keys=(2, 2, 1),
            arguments=_OBJ_KEY_ARG,
            tips=("nondeterministic_output",), since="4.0.0", complexity="O(1)",
            summary="Returns the logarithmic access frequency counter of an object.")
def object_freq(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[2]
    if _object_lookup(c, key) is None:
        return None
    if not db.ks.lfu_policy:
        raise ERR_NOT_LFU
    return db.lfu_freq(key)


@subcommand("object", "help", 2, "loading stale", "keyspace", since="6.2.0", complexity="O(1)",
            summary="Returns helpful text about the different subcommands.")
def object_help(c: Any, argv: list[bytes]) -> Any:
    return list(_OBJECT_HELP)


# ---- wiring ---------------------------------------------------------------------------------------

def install(server: Any) -> None:
    """Connect the keyspace engine to a Server (called once from Server.__init__)."""
    ks: Keyspace = server.keyspace
    cfg = server.config
    install_expire_propagation(server)

    def policy(old: Any, new: Any) -> None:
        ks.set_lfu_policy("lfu" in str(new))

    def log_factor(old: Any, new: Any) -> None:
        ks.lfu_log_factor = int(new)

    def decay_time(old: Any, new: Any) -> None:
        ks.lfu_decay_time = int(new)

    def lazy_expire(old: Any, new: Any) -> None:
        ks.lazyfree_lazy_expire = bool(new)

    def budget(old: Any = None, new: Any = None) -> None:
        # Valkey's slow cycle: 25% of a cron period, plus 2% per active-expire-effort step.
        effort = max(1, int(cfg.active_expire_effort)) - 1
        ks.expire_budget_s = (25 + 2 * effort) / 100 / max(1, int(cfg.hz))

    policy(None, cfg.maxmemory_policy)
    log_factor(None, cfg.lfu_log_factor)
    decay_time(None, cfg.lfu_decay_time)
    lazy_expire(None, cfg.lazyfree_lazy_expire)
    budget()
    cfg.on_change("maxmemory-policy", policy)
    cfg.on_change("lfu-log-factor", log_factor)
    cfg.on_change("lfu-decay-time", decay_time)
    cfg.on_change("lazyfree-lazy-expire", lazy_expire)
    cfg.on_change("hz", budget)
    cfg.on_change("active-expire-effort", budget)

    drain_scheduled = False

    def drain() -> None:
        nonlocal drain_scheduled
        drain_scheduled = False
        if ks.drain_lazyfree():
            schedule_drain()

    def schedule_drain() -> None:
        nonlocal drain_scheduled
        loop = server.loop
        if loop is None:
            # No loop yet (tests, loading): free at once.
            while ks.drain_lazyfree(1.0):
                pass
            return
        if not drain_scheduled:
            drain_scheduled = True
            loop.call_soon(drain)

    ks.lazyfree_scheduler = schedule_drain

    def cron(srv: Any) -> None:
        now = now_ms()
        ks.clock = now
        for db in ks.dbs:
            idx = db.scan_index
            if idx is not None and now - idx.last_used > SCAN_INDEX_IDLE_MS:
                db.scan_index = None  # nobody scans: stop paying for it on writes

    server.cron_hooks.append(cron)


__all__ = ["install", "copy_value", "object_encoding", "NULL_ARRAY"]
