"""Hash commands (t_hash.c), including Valkey 9's per-field expiry.

Replies and side effects follow Valkey: WRONGTYPE where it checks types, empty hashes
deleted, keyspace events, dirty counts and propagation rewrites (HINCRBYFLOAT as
HSET, relative field TTLs as HPEXPIREAT / HSETEX ... PXAT, fields expired by a
command as HDEL). The field-expiry commands (HEXPIRE, HPEXPIRE, HEXPIREAT,
HPEXPIREAT, HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST, HGETEX, HSETEX) follow
Valkey's unstable branch (t_hash.c, which shipped in 9.0).

Expired fields are invisible to reads at once and are reclaimed by an active cycle
that runs from the server cron (``Server.cron_hooks``): it emits ``hexpired``,
propagates HDEL, and deletes a hash whose last field went. The cycle finds hashes
through a registry filled by the commands that set TTLs, and through a slow
incremental rediscovery for hashes that changed key (RENAME, MOVE, COPY).
"""

from __future__ import annotations

import heapq
import random
import time
import weakref
from typing import Any

from kaa.commands.args import (
    ERR_NOT_FLOAT,
    ERR_NOT_INT,
    ERR_OVERFLOW,
    ERR_SYNTAX,
    ERR_WRONGTYPE,
    LLONG_MAX,
    LLONG_MIN,
    parse_int,
    parse_int_or_none,
)
from kaa.commands.registry import KeySpec, command, wrong_arity
from kaa.commands.sets import (
    EMPTY_SCAN,
    ERR_LONG_RANGE,
    LONG_MAX,
    member_index,
    parse_scan_options,
    scan_cursor,
    spec_flags,
)
from kaa.engine.glob import glob_match
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_HASH
from kaa.protocol.reply import OK, ReplyError
from kaa.server.client import NO_REPLY
from kaa.server.obuf import reply_over_hard_limit
from kaa.types.hash import (
    EXPIRE_ASAP,
    EXPIRE_GT,
    EXPIRE_LT,
    EXPIRE_NX,
    EXPIRE_XX,
    SUCCESSFUL,
    VOLATILE,
    HashValue,
)
from kaa.types.set import int64_value
from kaa.types.string_ops import LongDouble, ld_add, ld_format_human, ld_parse

ERR_HASH_NOT_INT = ReplyError("ERR hash value is not an integer")
ERR_HASH_NOT_FLOAT = ReplyError("ERR hash value is not a float")
ERR_INCR_NAN = ReplyError("ERR increment would produce NaN or Infinity")
ERR_VALUE_NAN = ReplyError("ERR value is NaN or Infinity")
ERR_OUT_OF_RANGE = ReplyError("ERR value is out of range")
ERR_NUMFIELDS = ReplyError(
    "ERR numfields should be greater than 0 and match the provided number of fields"
)
ERR_NX_COMBO = ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
ERR_GT_LT = ReplyError("ERR GT and LT options at the same time are not compatible")

_B_HSET = b"HSET"
_B_HSETEX = b"HSETEX"
_B_HDEL = b"HDEL"
_B_PXAT = b"PXAT"
_B_FIELDS = b"FIELDS"
_B_ONE = b"1"
_B_HPEXPIREAT = b"HPEXPIREAT"
_B_HPERSIST = b"HPERSIST"
_LD_ZERO = LongDouble(0, 0)
# Up to this many fields a random pick copies the fields (exactly uniform).
_SMALL_RANDOM = 1024


def _ks(*flags: str) -> tuple[KeySpec, ...]:
    """The key spec of argv[1], as in the command's JSON."""
    return (KeySpec(flags=spec_flags(flags), begin_index=1, last=0),)


def _a(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    """One COMMAND DOCS argument, with the keys of Valkey's command JSON."""
    return {"name": name, "type": type_, **kw}


_ARGS: dict[str, tuple[dict[str, Any], ...]] = {
    "hset": (
        _a("key", "key", key_spec_index=0),
        _a("data", "block", multiple=True,
           arguments=(_a("field", "string"), _a("value", "string"))),
    ),
    "hsetnx": (_a("key", "key", key_spec_index=0), _a("field", "string"), _a("value", "string"),),
    "hget": (_a("key", "key", key_spec_index=0), _a("field", "string"),),
    "hmset": (
        _a("key", "key", key_spec_index=0),
        _a("data", "block", multiple=True,
           arguments=(_a("field", "string"), _a("value", "string"))),
    ),
    "hmget": (_a("key", "key", key_spec_index=0), _a("field", "string", multiple=True),),
    "hgetall": (_a("key", "key", key_spec_index=0),),
    "hdel": (_a("key", "key", key_spec_index=0), _a("field", "string", multiple=True),),
    "hlen": (_a("key", "key", key_spec_index=0),),
    "hexists": (_a("key", "key", key_spec_index=0), _a("field", "string"),),
    "hkeys": (_a("key", "key", key_spec_index=0),),
    "hvals": (_a("key", "key", key_spec_index=0),),
    "hincrby": (
        _a("key", "key", key_spec_index=0),
        _a("field", "string"),
        _a("increment", "integer"),
    ),
    "hincrbyfloat": (
        _a("key", "key", key_spec_index=0),
        _a("field", "string"),
        _a("increment", "double"),
    ),
    "hstrlen": (_a("key", "key", key_spec_index=0), _a("field", "string"),),
    "hrandfield": (
        _a("key", "key", key_spec_index=0),
        _a("options", "block", optional=True, arguments=(
            _a("count", "integer"),
            _a("withvalues", "pure-token", token="WITHVALUES", optional=True))),
    ),
    "hscan": (
        _a("key", "key", key_spec_index=0),
        _a("cursor", "integer"),
        _a("pattern", "pattern", token="MATCH", optional=True),
        _a("count", "integer", token="COUNT", optional=True),
        _a("novalues", "pure-token", token="NOVALUES", optional=True),
    ),
}


def _fields_arg(numfields_spec: bool, field_type: str = "string") -> dict[str, Any]:
    num = _a("numfields", "integer")
    if numfields_spec:
        num["key_spec_index"] = 0
    return _a("fields", "block", token="FIELDS",
              arguments=(num, _a("field", field_type, multiple=True)))


def _hexpire_args(time_name: str, time_type: str) -> tuple[dict[str, Any], ...]:
    return (
        _a("key", "key", key_spec_index=0),
        _a(time_name, time_type),
        _a("condition", "oneof", optional=True, arguments=(
            _a("nx", "pure-token", token="NX"), _a("xx", "pure-token", token="XX"),
            _a("gt", "pure-token", token="GT"), _a("lt", "pure-token", token="LT"))),
        _fields_arg(False),
    )


_TTL_ARGS = (_a("key", "key", key_spec_index=0), _fields_arg(True, "field"))
_EXPIRATION = (
    _a("seconds", "integer", token="EX"),
    _a("milliseconds", "integer", token="PX"),
    _a("unix-time-seconds", "unix-time", token="EXAT"),
    _a("unix-time-milliseconds", "unix-time", token="PXAT"),
)
_ARGS.update({
    "hexpire": _hexpire_args("seconds", "integer"),
    "hpexpire": _hexpire_args("milliseconds", "integer"),
    "hexpireat": _hexpire_args("unix-time-seconds", "unix-time"),
    "hpexpireat": _hexpire_args("unix-time-milliseconds", "unix-time"),
    "httl": _TTL_ARGS,
    "hpttl": _TTL_ARGS,
    "hexpiretime": _TTL_ARGS,
    "hpexpiretime": _TTL_ARGS,
    "hpersist": _TTL_ARGS,
    "hgetex": (
        _a("key", "key", key_spec_index=0),
        _a("expiration", "oneof", optional=True,
           arguments=(*_EXPIRATION, _a("persist", "pure-token", token="PERSIST"))),
        _fields_arg(True),
    ),
    "hsetex": (
        _a("key", "key", key_spec_index=0),
        _a("key-condition", "oneof", optional=True, arguments=(
            _a("nx", "pure-token", token="NX"), _a("xx", "pure-token", token="XX"))),
        _a("fields-condition", "oneof", optional=True, arguments=(
            _a("fnx", "pure-token", token="FNX"), _a("fxx", "pure-token", token="FXX"))),
        _a("expiration", "oneof", optional=True,
           arguments=(*_EXPIRATION, _a("keepttl", "pure-token", token="KEEPTTL"))),
        _a("fields", "block", token="FIELDS", arguments=(
            _a("numfields", "integer", key_spec_index=0),
            _a("data", "block", multiple=True,
               arguments=(_a("field", "string"), _a("value", "string"))))),
    ),
})


# ---------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------


def _read(db: Any, key: bytes) -> HashValue | None:
    v = db.lookup_read(key)
    if v is None or type(v) is HashValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _write(db: Any, key: bytes) -> HashValue | None:
    v = db.lookup(key)
    if v is None or type(v) is HashValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _write_or_create(db: Any, key: bytes) -> HashValue:
    """hashTypeLookupWriteOrCreate: the hash at key, a new empty one added if absent."""
    v = db.lookup(key)
    if v is None:
        h = HashValue()
        db.add(key, h)
        return h
    if type(v) is not HashValue:
        raise ERR_WRONGTYPE
    return v  # type: ignore[no-any-return]


def _count_expired(ks: Any, n: int) -> None:
    """INFO stats expired_fields (kept on the keyspace)."""
    ks.expired_fields = getattr(ks, "expired_fields", 0) + n


def expired_fields(ks: Any) -> int:
    """Hash fields expired so far (INFO stats ``expired_fields``)."""
    return int(getattr(ks, "expired_fields", 0))


def _live_field_ttl(h: HashValue, field: bytes) -> int:
    """The deadline of a (live) field, -1 without one."""
    ttl = h.ttl
    if ttl is None:
        return -1
    return ttl.get(field, -1)


# ---------------------------------------------------------------------------
# Basic commands
# ---------------------------------------------------------------------------


def _hset_generic(c: Any, argv: list[bytes]) -> int:
    """HSET/HMSET: set the pairs; returns how many fields were created."""
    n = len(argv)
    if n % 2 == 1:
        raise wrong_arity(argv[0].decode("utf-8", "replace").lower())
    db = c.db
    key = argv[1]
    ks = db.ks
    # While the db has no TTLs and no hook listens (the defaults), lookup() reduces to
    # the access clock and touch() to nothing.
    quiet = not db.expires and not ks.touch_mode and ks.watchers is None and ks.blocked_keys is None
    if quiet:
        h = db.data.get(key)
        if h is not None:
            db.atime[key] = ks.clock
    else:
        h = db.lookup(key)
    new_key = h is None
    if new_key:
        h = HashValue()
        db.add(key, h)
    elif type(h) is not HashValue:
        raise ERR_WRONGTYPE
    cfg = c.server.config
    if n == 4 and h.ttl is None and h.index is None:
        # HSET key field value on a hash without field TTLs or index: the loop below
        # for a single pair.
        d = h.d
        f = argv[2]
        if h.lp:  # h.try_conversion(argv, 2, cfg) for one pair
            lim = cfg.hash_max_listpack_value
            if cfg.hash_max_listpack_entries < 1 or len(f) > lim or len(argv[3]) > lim:
                h.lp = False
        fresh = f not in d
        d[f] = argv[3]
        if h.lp and len(d) > cfg.hash_max_listpack_entries:
            h.lp = False
        if not (new_key or quiet):
            db.touch(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_HASH, "hset", key, db.id)
        ks.dirty += 1
        return 1 if fresh else 0
    created = 0
    overwritten = 0
    if h.ttl is None and h.index is None:
        # The common case, inlined: no field TTLs to honour, no index to maintain.
        d = h.d
        if h.lp:
            h.try_conversion(argv, 2, cfg)
        for i in range(2, n, 2):
            f = argv[i]
            if f not in d:
                created += 1
            d[f] = argv[i + 1]
        if h.lp and len(d) > cfg.hash_max_listpack_entries:
            h.lp = False
    else:
        h.try_conversion(argv, 2, cfg)
        now = now_ms()
        hset = h.set
        for i in range(2, n, 2):
            updated, expired = hset(argv[i], argv[i + 1], cfg, now)
            if not updated:
                created += 1
            if expired:
                overwritten += 1
    if not (new_key or quiet):
        db.touch(key)
    if overwritten:
        _count_expired(ks, overwritten)
    if ks.notify_flags:
        if overwritten:
            ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
        ks.notify(NOTIFY_HASH, "hset", key, db.id)
    ks.dirty += (n - 2) // 2
    return created


@command("hset", -4, "write denyoom fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Creates or modifies the value of a field in a hash.",
         complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs when "
                    "the command is called with multiple field/value pairs.",
         history=(("4.0.0", "Accepts multiple `field` and `value` arguments."),),
         arguments=_ARGS["hset"], key_specs=_ks("RW", "UPDATE"))
def hset(c: Any, argv: list[bytes]) -> Any:
    return _hset_generic(c, argv)


@command("hmset", -4, "write denyoom fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Sets the values of multiple fields.",
         complexity="O(N) where N is the number of fields being set.",
         deprecated_since="4.0.0", replaced_by="`HSET` with multiple field-value pairs",
         doc_flags=("deprecated",),
         arguments=_ARGS["hmset"], key_specs=_ks("RW", "UPDATE"))
def hmset(c: Any, argv: list[bytes]) -> Any:
    _hset_generic(c, argv)
    return OK


@command("hsetnx", 4, "write denyoom fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Sets the value of a field in a hash only when the field doesn't exist.",
         complexity="O(1)",
         arguments=_ARGS["hsetnx"], key_specs=_ks("RW", "INSERT"))
def hsetnx(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    h = _write_or_create(db, key)
    now = now_ms()
    if h.get(argv[2], now) is not None:
        return 0
    cfg = c.server.config
    h.try_conversion(argv, 2, cfg)
    volatile = h.ttl is not None
    _, expired = h.set(argv[2], argv[3], cfg, now)
    db.touch(key)
    ks = db.ks
    if expired:
        _count_expired(ks, 1)
    if ks.notify_flags:
        if expired:
            ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
        ks.notify(NOTIFY_HASH, "hset", key, db.id)
    ks.dirty += 1
    if volatile:
        # A replica may see the field expired or not: replay as a plain HSET.
        c.propagate_argv = [_B_HSET, key, argv[2], argv[3]]
    return 1


@command("hget", 3, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns the value of a field in a hash.", complexity="O(1)",
         arguments=_ARGS["hget"], key_specs=_ks("RO", "ACCESS"))
def hget(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return None
    if h.ttl is None:
        return h.d.get(argv[2])
    return h.get(argv[2], now_ms())


@command("hmget", -3, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns the values of all fields in a hash.",
         complexity="O(N) where N is the number of fields being requested.",
         arguments=_ARGS["hmget"], key_specs=_ks("RO", "ACCESS"))
def hmget(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    if h.ttl is None:
        get = h.d.get
        return [get(f) for f in argv[2:]]
    now = now_ms()
    return [h.get(f, now) for f in argv[2:]]


@command("hgetall", 2, "readonly", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns all fields and values in a hash.",
         complexity="O(N) where N is the size of the hash.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["hgetall"], key_specs=_ks("RO", "ACCESS"))
def hgetall(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return {}
    if h.ttl is None:
        return dict(h.d)
    return dict(h.live_items(now_ms()))


@command("hkeys", 2, "readonly", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns all fields in a hash.",
         complexity="O(N) where N is the size of the hash.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["hkeys"], key_specs=_ks("RO", "ACCESS"))
def hkeys(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return []
    return h.live_fields(now_ms()) if h.ttl is not None else list(h.d)


@command("hvals", 2, "readonly", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns all values in a hash.",
         complexity="O(N) where N is the size of the hash.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["hvals"], key_specs=_ks("RO", "ACCESS"))
def hvals(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return []
    if h.ttl is None:
        return list(h.d.values())
    return [v for _, v in h.live_items(now_ms())]


@command("hlen", 2, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns the number of fields in a hash.", complexity="O(1)",
         arguments=_ARGS["hlen"], key_specs=_ks("RO"))
def hlen(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    # Like Valkey, expired fields not reclaimed yet still count.
    return 0 if h is None else len(h.d)


@command("hexists", 3, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Determines whether a field exists in a hash.", complexity="O(1)",
         arguments=_ARGS["hexists"], key_specs=_ks("RO"))
def hexists(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return 0
    if h.ttl is None:
        return 1 if argv[2] in h.d else 0
    return 1 if h.get(argv[2], now_ms()) is not None else 0


@command("hstrlen", 3, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="3.2.0",
         summary="Returns the length of the value of a field.", complexity="O(1)",
         arguments=_ARGS["hstrlen"], key_specs=_ks("RO"))
def hstrlen(c: Any, argv: list[bytes]) -> Any:
    h = _read(c.db, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2], now_ms()) if h.ttl is not None else h.d.get(argv[2])
    return 0 if v is None else len(v)


@command("hdel", -3, "write fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Deletes one or more fields and their values from a hash. Deletes the hash if "
                 "no fields remain.",
         complexity="O(N) where N is the number of fields to be removed.",
         history=(("2.4.0", "Accepts multiple `field` arguments."),),
         arguments=_ARGS["hdel"], key_specs=_ks("RW", "DELETE"))
def hdel(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    h = _write(db, key)
    if h is None:
        return 0
    now = now_ms()
    deleted = 0
    removed = False
    delete = h.delete
    d = h.d
    for f in argv[2:]:
        if delete(f, now):
            deleted += 1
            if not d:
                db.delete(key)
                removed = True
                break
    if deleted:
        ks = db.ks
        if not removed:
            db.touch(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_HASH, "hdel", key, db.id)
            if removed:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        ks.dirty += deleted
    return deleted


@command("hincrby", 4, "write denyoom fast", "hash", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Increments the integer value of a field in a hash by a number. Uses 0 as initial "
                 "value if the field doesn't exist.",
         complexity="O(1)",
         arguments=_ARGS["hincrby"], key_specs=_ks("RW", "ACCESS", "UPDATE"))
def hincrby(c: Any, argv: list[bytes]) -> Any:
    incr = parse_int(argv[3])
    db = c.db
    key = argv[1]
    field = argv[2]
    h = _write_or_create(db, key)
    now = now_ms()
    cur = h.get(field, now)
    expiry = -1
    if cur is None:
        value = 0
    else:
        v = int64_value(cur)
        if v is None:
            raise ERR_HASH_NOT_INT
        value = v
        expiry = _live_field_ttl(h, field)
    new = value + incr
    if new > LLONG_MAX or new < LLONG_MIN:
        raise ERR_OVERFLOW
    text = b"%d" % new
    volatile = h.ttl is not None
    _, expired = h.set(field, text, c.server.config, now, expiry)
    db.touch(key)
    ks = db.ks
    if expired:
        _count_expired(ks, 1)
    if ks.notify_flags:
        if expired:
            ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
        ks.notify(NOTIFY_HASH, "hincrby", key, db.id)
    ks.dirty += 1
    if volatile:
        c.propagate_argv = _set_argv(key, field, text, expiry)
    return new


def _set_argv(key: bytes, field: bytes, value: bytes, expiry: int) -> list[bytes]:
    """The write a replica replays to get field=value with deadline expiry (-1: none)."""
    if expiry == -1:
        return [_B_HSET, key, field, value]
    return [_B_HSETEX, key, _B_PXAT, b"%d" % expiry, _B_FIELDS, _B_ONE, field, value]


@command("hincrbyfloat", 4, "write denyoom fast", "hash", keys=(1, 1, 1), group="hash",
         since="2.6.0",
         summary="Increments the floating point value of a field by a number. Uses 0 as initial "
                 "value if the field doesn't exist.",
         complexity="O(1)",
         arguments=_ARGS["hincrbyfloat"], key_specs=_ks("RW", "ACCESS", "UPDATE"))
def hincrbyfloat(c: Any, argv: list[bytes]) -> Any:
    incr = ld_parse(argv[3])
    if incr is None:
        raise ERR_NOT_FLOAT
    if incr.inf:
        raise ERR_VALUE_NAN
    db = c.db
    key = argv[1]
    field = argv[2]
    h = _write_or_create(db, key)
    now = now_ms()
    cur = h.get(field, now)
    expiry = -1
    if cur is None:
        value = _LD_ZERO
    else:
        parsed = ld_parse(cur)
        if parsed is None:
            raise ERR_HASH_NOT_FLOAT
        value = parsed
        expiry = _live_field_ttl(h, field)
    total = ld_add(value, incr)
    if total is None:
        raise ERR_INCR_NAN
    text = ld_format_human(total)
    _, expired = h.set(field, text, c.server.config, now, expiry)
    db.touch(key)
    ks = db.ks
    if expired:
        _count_expired(ks, 1)
    if ks.notify_flags:
        if expired:
            ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
        ks.notify(NOTIFY_HASH, "hincrbyfloat", key, db.id)
    ks.dirty += 1
    # Always replicated with the final value, so float formatting cannot diverge.
    c.propagate_argv = _set_argv(key, field, text, expiry)
    return text


# ---------------------------------------------------------------------------
# HRANDFIELD, HSCAN
# ---------------------------------------------------------------------------


@command("hrandfield", -2, "readonly", "hash", keys=(1, 1, 1), group="hash", since="6.2.0",
         summary="Returns one or more random fields from a hash.",
         complexity="O(N) where N is the number of fields returned",
         tips=("nondeterministic_output",),
         arguments=_ARGS["hrandfield"], key_specs=_ks("RO", "ACCESS"))
def hrandfield(c: Any, argv: list[bytes]) -> Any:
    n = len(argv)
    if n >= 3:
        count = parse_int_or_none(argv[2])
        if count is None:
            raise ERR_NOT_INT
        if count < -LONG_MAX:
            raise ERR_LONG_RANGE
        withvalues = False
        if n > 4 or (n == 4 and argv[3].lower() != b"withvalues"):
            raise ERR_SYNTAX
        if n == 4:
            withvalues = True
            if count < -(LONG_MAX // 2) or count > LONG_MAX // 2:
                raise ERR_OUT_OF_RANGE
        return _hrandfield_count(c, argv[1], count, withvalues)
    h = _read(c.db, argv[1])
    if h is None:
        return None
    if h.ttl is not None:
        fields = h.live_fields(now_ms())
        return random.choice(fields) if fields else None
    d = h.d
    if len(d) <= _SMALL_RANDOM:
        return random.choice(tuple(d))
    return member_index(h, d).random_key()


def _hrandfield_count(c: Any, key: bytes, count: int, withvalues: bool) -> Any:
    h = _read(c.db, key)
    if h is None or count == 0:
        return []
    if count < 0 and reply_over_hard_limit(c, -count * (2 if withvalues else 1)):
        return NO_REPLY
    resp3 = c.resp == 3
    d = h.d
    if h.ttl is not None:
        items = h.live_items(now_ms())
        fields = [f for f, _ in items]
    elif len(d) <= _SMALL_RANDOM or (count > 0 and count * 3 > len(d)):
        items = None
        fields = list(d)
    else:
        items = None
        pick = member_index(h, d).random_key
        if count < 0:
            fields = [pick() for _ in range(-count)]
        else:
            chosen: dict[bytes, None] = {}
            while len(chosen) < count:
                chosen[pick()] = None
            fields = list(chosen)
        return _pairs_reply(fields, d, withvalues, resp3)
    if not fields:
        return []
    if count < 0:
        picked = random.choices(range(len(fields)), k=-count)
    elif count >= len(fields):
        picked = list(range(len(fields)))
    else:
        picked = random.sample(range(len(fields)), count)
    if items is not None:
        sel = [items[i] for i in picked]
        if not withvalues:
            return [f for f, _ in sel]
        if resp3:
            return [[f, v] for f, v in sel]
        out: list[bytes] = []
        for f, v in sel:
            out.append(f)
            out.append(v)
        return out
    return _pairs_reply([fields[i] for i in picked], d, withvalues, resp3)


def _pairs_reply(fields: list[bytes], d: dict[bytes, bytes], withvalues: bool, resp3: bool) -> Any:
    if not withvalues:
        return fields
    if resp3:
        return [[f, d[f]] for f in fields]
    out: list[bytes] = []
    for f in fields:
        out.append(f)
        out.append(d[f])
    return out


@command("hscan", -3, "readonly", "hash", keys=(1, 1, 1), group="hash", since="2.8.0",
         summary="Iterates over fields and values of a hash.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
                    "calls for the cursor to return back to 0. N is the number of elements inside "
                    "the collection.",
         tips=("nondeterministic_output",),
         arguments=_ARGS["hscan"], key_specs=_ks("RO", "ACCESS"))
def hscan(c: Any, argv: list[bytes]) -> Any:
    cursor = scan_cursor(argv[2])
    h = _read(c.db, argv[1])
    if h is None:
        return EMPTY_SCAN
    count, pat, novalues = parse_scan_options(argv, 3, "hash")
    d = h.d
    if h.lp:
        # A listpack is returned whole with cursor 0, as Valkey does.
        fields = list(d)
        nxt = 0
    else:
        nxt, fields = member_index(h, d).scan(cursor, count)
    ttl = h.ttl
    now = now_ms() if ttl is not None else 0
    out: list[bytes] = []
    for f in fields:
        v = d.get(f)
        if v is None:
            continue
        if ttl is not None:
            w = ttl.get(f)
            if w is not None and w < now:
                continue
        if pat is not None and not glob_match(pat, f):
            continue
        out.append(f)
        if not novalues:
            out.append(v)
    return [b"%d" % nxt, out]


# ---------------------------------------------------------------------------
# Field expiry: argument parsing
# ---------------------------------------------------------------------------


def _find_fields(argv: list[bytes], start: int) -> int:
    """Index of the first FIELDS token from ``start`` (not the last argument), or -1."""
    for i in range(start, len(argv) - 1):
        if argv[i].lower() == b"fields":
            return i
    return -1


def _expire_flags(argv: list[bytes], start: int, end: int) -> int:
    """parseExtendedExpireArgumentsOrReply on argv[start:end]."""
    flags = 0
    for opt in argv[start:end]:
        o = opt.lower()
        if o == b"nx":
            flags |= EXPIRE_NX
        elif o == b"xx":
            flags |= EXPIRE_XX
        elif o == b"gt":
            flags |= EXPIRE_GT
        elif o == b"lt":
            flags |= EXPIRE_LT
        else:
            raise ReplyError(f"ERR Unsupported option {opt.decode('utf-8', 'surrogateescape')}")
    if flags & EXPIRE_NX and flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT):
        raise ERR_NX_COMBO
    if flags & EXPIRE_GT and flags & EXPIRE_LT:
        raise ERR_GT_LT
    return flags


def _invalid_expire(name: str) -> ReplyError:
    return ReplyError(f"ERR invalid expire time in '{name}' command")


def _unix_time(arg: bytes, basetime: int, unit_ms: int, name: str) -> int:
    """convertExpireArgumentToUnixTime: a non-negative time (seconds when unit_ms is
    1000) plus basetime, as ms; errors for negatives and overflow."""
    v = parse_int_or_none(arg)
    if v is None:
        raise ERR_NOT_INT
    if v < 0:
        raise _invalid_expire(name)
    if unit_ms == 1000:
        if v > LLONG_MAX // 1000:
            raise _invalid_expire(name)
        v *= 1000
    if v > LLONG_MAX - basetime:
        raise _invalid_expire(name)
    return v + basetime


def _already_expired(c: Any, when: int, now: int) -> bool:
    """checkAlreadyExpired: a deadline not in the future applies at once, except while
    loading or on a replica (which wait for the primary's HDEL)."""
    srv = c.server
    return when <= now and not srv.loading and srv.role != "S"


# Options of HSETEX / HGETEX (parseExtendedCommandArgumentsOrReply).
_O_NX = 1
_O_XX = 2
_O_FNX = 4
_O_FXX = 8
_O_KEEPTTL = 16
_O_PERSIST = 32
_O_EX = 64
_O_PX = 128
_O_EXAT = 256
_O_PXAT = 512
_O_EXPIRES = _O_EX | _O_PX | _O_EXAT | _O_PXAT


def _ext_options(argv: list[bytes], end: int, for_set: bool) -> tuple[int, int, int]:
    """Parse argv[2:end] of HSETEX (for_set) or HGETEX: (flags, index of the time
    argument or -1, unit ms). Conflicting or unknown options are a syntax error."""
    flags = 0
    expire_at = -1
    unit = 1000
    j = 2
    while j < end:
        o = argv[j].lower()
        has_next = j < end - 1
        if o == b"nx" and for_set and not flags & _O_XX:
            flags |= _O_NX
        elif o == b"xx" and for_set and not flags & _O_NX:
            flags |= _O_XX
        elif o == b"fnx" and for_set and not flags & _O_FXX:
            flags |= _O_FNX
        elif o == b"fxx" and for_set and not flags & _O_FNX:
            flags |= _O_FXX
        elif o == b"keepttl" and for_set and not flags & _O_EXPIRES:
            flags |= _O_KEEPTTL
        elif o == b"persist" and not for_set and not flags & _O_EXPIRES:
            flags |= _O_PERSIST
        elif o in _EXPIRE_OPTS and has_next and not flags & (
            _O_KEEPTTL | _O_PERSIST | (_O_EXPIRES & ~_EXPIRE_OPTS[o])
        ):
            bit = _EXPIRE_OPTS[o]
            flags |= bit
            unit = 1 if bit & (_O_PX | _O_PXAT) else 1000
            expire_at = j + 1
            j += 1
        else:
            raise ERR_SYNTAX
        j += 1
    return flags, expire_at, unit


_EXPIRE_OPTS = {b"ex": _O_EX, b"px": _O_PX, b"exat": _O_EXAT, b"pxat": _O_PXAT}


# ---------------------------------------------------------------------------
# Field expiry: commands
# ---------------------------------------------------------------------------


def _hexpire_generic(c: Any, argv: list[bytes], relative: bool, unit_ms: int, name: str) -> Any:
    fi = _find_fields(argv, 3)
    flags = 0
    numfields = 0
    if fi >= 0:
        flags = _expire_flags(argv, 3, fi)
        numfields = parse_int(argv[fi + 1])
        fi += 2
    if not numfields or numfields != len(argv) - fi:
        raise ERR_NUMFIELDS
    now = now_ms()
    when = _unix_time(argv[2], now if relative else 0, unit_ms, name)
    db = c.db
    key = argv[1]
    h = _write(db, key)
    fields = argv[fi:]
    if h is None:
        return [-2] * len(fields)
    past = _already_expired(c, when, now)
    out: list[int] = []
    gone: list[bytes] = []
    updated = 0
    set_expire = h.set_expire
    for f in fields:
        r = set_expire(f, when, flags, past, now)
        if r == SUCCESSFUL:
            updated += 1
        elif r == EXPIRE_ASAP:
            gone.append(f)
        out.append(r)
    if gone or updated:
        ks = db.ks
        if gone:
            _count_expired(ks, len(gone))
            c.propagate_argv = [_B_HDEL, key, *gone]
            if ks.notify_flags:
                ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
        else:
            c.propagate_argv = [_B_HPEXPIREAT, key, b"%d" % when, *argv[3:]]
            if ks.notify_flags:
                ks.notify(NOTIFY_HASH, "hexpire", key, db.id)
        ks.dirty += len(gone) + updated
        _after_change(c, db, key, h)
    return out


def _after_change(c: Any, db: Any, key: bytes, h: HashValue) -> None:
    """Common end of a field-expiry write: delete the hash if it emptied, else signal
    the change and keep the active expiry informed."""
    if not h.d:
        db.delete(key)
        ks = db.ks
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        return
    db.touch(key)
    if h.ttl is not None:
        track(c.server, db, key, h)


_RW_UPDATE = _ks("RW", "UPDATE")
_RO_ACCESS = _ks("RO", "ACCESS")


@command("hexpire", -6, "write fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Sets expiry time on hash fields.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hexpire"],
         key_specs=_RW_UPDATE)
def hexpire(c: Any, argv: list[bytes]) -> Any:
    return _hexpire_generic(c, argv, True, 1000, "hexpire")


@command("hpexpire", -6, "write fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Sets expiry time on hash object fields in milliseconds.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hpexpire"],
         key_specs=_RW_UPDATE)
def hpexpire(c: Any, argv: list[bytes]) -> Any:
    return _hexpire_generic(c, argv, True, 1, "hpexpire")


@command("hexpireat", -6, "write fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Sets expiry time on hash fields.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hexpireat"],
         key_specs=_RW_UPDATE)
def hexpireat(c: Any, argv: list[bytes]) -> Any:
    return _hexpire_generic(c, argv, False, 1000, "hexpireat")


@command("hpexpireat", -6, "write fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Sets expiry time on hash fields.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hpexpireat"],
         key_specs=_RW_UPDATE)
def hpexpireat(c: Any, argv: list[bytes]) -> Any:
    return _hexpire_generic(c, argv, False, 1, "hpexpireat")


def _httl_generic(c: Any, argv: list[bytes], ms: bool, absolute: bool) -> Any:
    numfields = parse_int(argv[3])
    if not numfields or numfields != len(argv) - 4:
        raise ERR_SYNTAX
    h = _read(c.db, argv[1])
    fields = argv[4:]
    if h is None:
        return [-2] * len(fields)
    now = now_ms()
    base = 0 if absolute else now
    out: list[int] = []
    for f in fields:
        w = h.expiry_of(f, now)
        if w < 0:
            out.append(w)
            continue
        t = w - base
        if t < 0:
            t = 0
        out.append(t if ms else (t + 500) // 1000)
    return out


@command("httl", -5, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Returns the remaining time to live (in seconds) of a hash key's field(s) that "
                 "have an associated expiration.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["httl"],
         key_specs=_RO_ACCESS)
def httl(c: Any, argv: list[bytes]) -> Any:
    return _httl_generic(c, argv, False, False)


@command("hpttl", -5, "readonly fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Returns the remaining time to live in milliseconds of a hash key's field(s) "
                 "that have an associated expiration.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hpttl"],
         key_specs=_RO_ACCESS)
def hpttl(c: Any, argv: list[bytes]) -> Any:
    return _httl_generic(c, argv, True, False)


@command("hexpiretime", -5, "readonly fast", "hash", keys=(1, 1, 1), group="hash",
         since="9.0.0",
         summary="Returns the expiration time of a hash field as a Unix timestamp, in seconds.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hexpiretime"],
         key_specs=_RO_ACCESS)
def hexpiretime(c: Any, argv: list[bytes]) -> Any:
    return _httl_generic(c, argv, False, True)


@command("hpexpiretime", -5, "readonly fast", "hash", keys=(1, 1, 1), group="hash",
         since="9.0.0",
         summary="Returns the expiration time of a hash field as a Unix timestamp, in msec.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hpexpiretime"],
         key_specs=_RO_ACCESS)
def hpexpiretime(c: Any, argv: list[bytes]) -> Any:
    return _httl_generic(c, argv, True, True)


@command("hpersist", -5, "write fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Remove the existing expiration on a hash key's field(s).",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hpersist"],
         key_specs=_RW_UPDATE)
def hpersist(c: Any, argv: list[bytes]) -> Any:
    numfields = parse_int(argv[3])
    if not numfields or numfields != len(argv) - 4:
        raise ERR_NUMFIELDS
    db = c.db
    key = argv[1]
    h = _write(db, key)
    fields = argv[4:]
    if h is None:
        return [-2] * len(fields)
    now = now_ms()
    out: list[int] = []
    changes = 0
    for f in fields:
        r = h.persist(f, now)
        if r == SUCCESSFUL:
            changes += 1
        out.append(r)
    if changes:
        ks = db.ks
        ks.dirty += changes
        if ks.notify_flags:
            ks.notify(NOTIFY_HASH, "hpersist", key, db.id)
        db.touch(key)
    return out


@command("hgetex", -5, "write fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Get the value of one or more fields of a given hash key, and optionally set "
                 "their expiration time or time-to-live (TTL).",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hgetex"],
         key_specs=_ks("RW", "ACCESS"))
def hgetex(c: Any, argv: list[bytes]) -> Any:
    fi = _find_fields(argv, 0)
    flags = 0
    tpos = -1
    unit = 1000
    numfields = -1
    if fi >= 0:
        flags, tpos, unit = _ext_options(argv, fi, False)
        numfields = parse_int(argv[fi + 1])
        fi += 2
    if not numfields or numfields != len(argv) - fi:
        raise ERR_NUMFIELDS
    db = c.db
    key = argv[1]
    h = _read(db, key)
    now = now_ms()
    persist = bool(flags & _O_PERSIST)
    set_expiry = set_expired = False
    when = -1
    if not persist and tpos >= 0:
        base = 0 if flags & (_O_EXAT | _O_PXAT) else now
        when = _unix_time(argv[tpos], base, unit, "hgetex")
        if _already_expired(c, when, now):
            set_expired = True
            when = 0
        else:
            set_expiry = True
    fields = argv[fi:]
    out: list[bytes | None] = []
    changed: list[bytes] = []
    for f in fields:
        if h is None:
            out.append(None)
            continue
        out.append(h.get(f, now))
        if set_expired:
            ok = h.delete(f, now)
        elif set_expiry:
            ok = h.set_expire(f, when, 0, False, now) == SUCCESSFUL
        elif persist:
            ok = h.persist(f, now) == SUCCESSFUL
        else:
            ok = False
        if ok:
            changed.append(f)
    if changed and h is not None:
        ks = db.ks
        n = b"%d" % len(changed)
        if set_expired:
            _count_expired(ks, len(changed))
            c.propagate_argv = [_B_HDEL, key, *changed]
            event = "hexpired"
        elif persist:
            c.propagate_argv = [_B_HPERSIST, key, _B_FIELDS, n, *changed]
            event = "hpersist"
        else:
            c.propagate_argv = [_B_HPEXPIREAT, key, b"%d" % when, _B_FIELDS, n, *changed]
            event = "hexpire"
        if ks.notify_flags:
            ks.notify(NOTIFY_HASH, event, key, db.id)
        ks.dirty += len(changed)
        _after_change(c, db, key, h)
    return out


@command("hsetex", -6, "write denyoom fast", "hash", keys=(1, 1, 1), group="hash", since="9.0.0",
         summary="Set the value of one or more fields of a given hash key, and optionally set "
                 "their expiration time.",
         complexity="O(N) where N is the number of specified fields.",
         arguments=_ARGS["hsetex"],
         key_specs=_ks("RW", "INSERT"))
def hsetex(c: Any, argv: list[bytes]) -> Any:
    fi = _find_fields(argv, 0)
    flags = 0
    tpos = -1
    unit = 1000
    numfields = 0
    kw = fi
    if fi >= 0:
        flags, tpos, unit = _ext_options(argv, fi, True)
        numfields = parse_int(argv[fi + 1])
        fi += 2
    if not numfields or numfields > LLONG_MAX // 2 or numfields * 2 != len(argv) - fi:
        raise ERR_NUMFIELDS
    db = c.db
    key = argv[1]
    h = _write(db, key)
    if (flags & _O_NX and h is not None) or (flags & _O_XX and h is None):
        return 0
    now = now_ms()
    keep_ttl = bool(flags & _O_KEEPTTL)
    when = -1
    set_expired = False
    if not keep_ttl and tpos >= 0:
        base = 0 if flags & (_O_EXAT | _O_PXAT) else now
        when = _unix_time(argv[tpos], base, unit, "hsetex")
        set_expired = _already_expired(c, when, now)
    n = len(argv)
    if flags & (_O_FNX | _O_FXX):
        if h is not None:
            for i in range(fi, n, 2):
                live = h.get(argv[i], now) is not None
                if (flags & _O_FNX and live) or (flags & _O_FXX and not live):
                    return 0
        elif flags & _O_FXX:
            return 0
    if h is None:
        h = HashValue()
        db.add(key, h)
    cfg = c.server.config
    ks = db.ks
    changes = 0
    overwritten: list[bytes] = []
    rewrite = bool(flags & (_O_NX | _O_XX | _O_FNX | _O_FXX | _O_EX | _O_PX | _O_EXAT))
    if set_expired:
        gone: list[bytes] = []
        for i in range(fi, n, 2):
            if h.delete_any(argv[i]):
                gone.append(argv[i])
                changes += 1
        # Counted like active expiry, once per field named.
        _count_expired(ks, numfields)
        if changes:
            c.propagate_argv = [_B_HDEL, key, *gone]
    else:
        for i in range(fi, n, 2):
            _, expired = h.set(argv[i], argv[i + 1], cfg, now, when, keep_ttl)
            changes += 1
            if expired:
                overwritten.append(argv[i])
        if rewrite:
            new = [argv[0], key]
            j = 2
            while j < kw:
                o = argv[j].lower()
                if o in (b"nx", b"xx", b"fnx", b"fxx"):
                    j += 1
                    continue
                if j + 1 == tpos and not flags & _O_PXAT:
                    new.append(_B_PXAT)
                    new.append(b"%d" % when)
                    j += 2
                    continue
                new.append(argv[j])
                j += 1
            new.extend(argv[kw:])
            c.propagate_argv = new
    if changes:
        if overwritten:
            _count_expired(ks, len(overwritten))
            if ks.notify_flags:
                ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
            if keep_ttl:
                # The replica would keep these fields' old TTLs: delete them there first.
                srv = c.server
                if srv.propagating:
                    srv.propagate(db.id, [_B_HDEL, key, *overwritten])
        ks.dirty += changes
        db.touch(key)
    if ks.notify_flags:
        ks.notify(NOTIFY_HASH, "hset", key, db.id)
        if tpos >= 0 and not keep_ttl:
            ks.notify(NOTIFY_HASH, "hexpire", key, db.id)
        if set_expired:
            ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
    if not h.d:
        db.delete(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
    elif h.ttl is not None:
        track(c.server, db, key, h)
    return 1


# ---------------------------------------------------------------------------
# Active expiry of hash fields
# ---------------------------------------------------------------------------

# Time budget of one active field-expiry run, and fields reclaimed per hash per step.
_CYCLE_BUDGET_S = 0.01
_FIELDS_PER_STEP = 1000
# Keys looked at per cron tick when searching for hashes that changed key.
_DISCOVERY_KEYS = 256


class _FieldExpiry:
    """Active field expiry of one keyspace: a registry of hashes with field TTLs
    (id -> (weakref, db, key)) and a min-heap of (next deadline, seq, id)."""

    __slots__ = ("reg", "heap", "seq", "disc_db", "disc_cursor", "disc_dbs_done", "settled",
                 "__weakref__")

    def __init__(self) -> None:
        self.reg: dict[int, tuple[weakref.ref[HashValue], Any, bytes]] = {}
        self.heap: list[tuple[int, int, int]] = []
        self.seq = 0
        self.disc_db = 0
        self.disc_cursor = 0
        self.disc_dbs_done = 0
        # (len(VOLATILE), len(reg)) after a rediscovery pass that found nothing.
        self.settled: tuple[int, int] | None = None

    def register(self, db: Any, key: bytes, h: HashValue) -> None:
        hid = id(h)
        ent = self.reg.get(hid)
        if ent is None or ent[0]() is not h or ent[1] is not db or ent[2] != key:
            reg = self.reg

            def gone(ref: weakref.ref[HashValue], hid: int = hid) -> None:
                e = reg.get(hid)
                if e is not None and e[0] is ref:
                    del reg[hid]

            reg[hid] = (weakref.ref(h, gone), db, key)
        nd = h.next_deadline()
        if nd is not None:
            self.push(nd, hid)

    def push(self, deadline: int, hid: int) -> None:
        self.seq += 1
        heap = self.heap
        heapq.heappush(heap, (deadline, self.seq, hid))
        if len(heap) > 2 * len(self.reg) + 1024:
            self.rebuild()

    def rebuild(self) -> None:
        heap: list[tuple[int, int, int]] = []
        for hid, (ref, _, _) in list(self.reg.items()):
            h = ref()
            nd = h.next_deadline() if h is not None else None
            if nd is None:
                self.reg.pop(hid, None)
                continue
            self.seq += 1
            heap.append((nd, self.seq, hid))
        heapq.heapify(heap)
        self.heap = heap


_STATES: weakref.WeakKeyDictionary[Any, _FieldExpiry] = weakref.WeakKeyDictionary()


def _state(ks: Any) -> _FieldExpiry:
    st = _STATES.get(ks)
    if st is None:
        st = _STATES[ks] = _FieldExpiry()
        ref = weakref.ref(st)

        def on_swap(a: int, b: int) -> None:
            s = ref()
            if s is None:
                return
            da, db_ = ks.dbs[a], ks.dbs[b]
            for hid, (r, d, k) in list(s.reg.items()):
                if d is da:
                    s.reg[hid] = (r, db_, k)
                elif d is db_:
                    s.reg[hid] = (r, da, k)

        hooks = getattr(ks, "swap_hooks", None)
        if hooks is not None:
            hooks.append(on_swap)
    return st


def track(srv: Any, db: Any, key: bytes, h: HashValue) -> None:
    """Let the active expiry know that the hash at db/key has field TTLs."""
    _state(srv.keyspace).register(db, key, h)
    hooks = srv.cron_hooks
    if field_expiry_cron not in hooks:
        hooks.append(field_expiry_cron)


def field_expiry_cron(srv: Any) -> None:
    """Reclaim expired hash fields (a Server.cron_hooks entry), within a time budget."""
    ks = srv.keyspace
    st = _STATES.get(ks)
    if st is None or not ks.active_expire_enabled or getattr(ks, "expire_paused", False):
        return
    if srv.role == "S":
        return
    t_end = time.perf_counter() + _CYCLE_BUDGET_S
    now = now_ms()
    heap = st.heap
    reg = st.reg
    while heap and heap[0][0] < now:
        w, _, hid = heapq.heappop(heap)
        ent = reg.get(hid)
        if ent is None:
            continue
        h = ent[0]()
        db, key = ent[1], ent[2]
        if h is None or db.data.get(key) is not h:
            reg.pop(hid, None)
            st.settled = None
            continue
        nd = h.next_deadline()
        if nd is None:
            reg.pop(hid, None)
            continue
        if nd >= now or db.is_expired(key, now):
            if nd != w:
                st.push(nd, hid)
            continue
        fields = h.pop_expired(now, _FIELDS_PER_STEP)
        _reclaimed(srv, db, key, h, fields)
        nd = h.next_deadline()
        if nd is None:
            reg.pop(hid, None)
        else:
            st.push(nd, hid)
        heap = st.heap
        if time.perf_counter() > t_end:
            return
    if len(VOLATILE) > len(reg) and st.settled != (len(VOLATILE), len(reg)):
        _rediscover(st, ks)


def _reclaimed(srv: Any, db: Any, key: bytes, h: HashValue, fields: list[bytes]) -> None:
    """Announce fields reclaimed by active expiry; delete the hash if it emptied."""
    if not fields:
        return
    ks = db.ks
    _count_expired(ks, len(fields))
    if ks.notify_flags:
        ks.notify(NOTIFY_HASH, "hexpired", key, db.id)
    if srv.propagating:
        srv.propagate(db.id, [_B_HDEL, key, *fields])
    if not h.d:
        db.delete(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
    else:
        db.touch(key)


def _rediscover(st: _FieldExpiry, ks: Any) -> None:
    """Look at a few more keys for hashes with field TTLs the registry does not know
    (they changed key); one full pass that finds none settles the search."""
    dbs = ks.dbs
    ndb = len(dbs)
    budget = _DISCOVERY_KEYS
    found = False
    while budget > 0:
        db = dbs[st.disc_db % ndb]
        scan = getattr(db, "scan", None)
        if not db.data or scan is None:
            nxt, keys = 0, []
        else:
            nxt, keys = scan(st.disc_cursor, 64)
        budget -= max(1, len(keys))
        for k in keys:
            v = db.data.get(k)
            if type(v) is HashValue and v.ttl is not None:
                ent = st.reg.get(id(v))
                if ent is None or ent[1] is not db or ent[2] != k:
                    st.register(db, k, v)
                    found = True
        st.disc_cursor = nxt
        if nxt == 0:
            st.disc_db = (st.disc_db + 1) % ndb
            st.disc_dbs_done += 1
            if st.disc_dbs_done >= ndb:
                st.disc_dbs_done = 0
                if not found:
                    st.settled = (len(VOLATILE), len(st.reg))
                return


def keys_with_volatile_items(db: Any) -> int:
    """Hashes of db that have field TTLs (INFO keyspace ``keys_with_volatile_items``)."""
    st = _STATES.get(db.ks)
    if st is None:
        return 0
    data = db.data
    n = 0
    for ref, d, k in st.reg.values():
        h = ref()
        if d is db and h is not None and h.ttl is not None and data.get(k) is h:
            n += 1
    return n


__all__ = ["expired_fields", "field_expiry_cron", "keys_with_volatile_items", "track"]
