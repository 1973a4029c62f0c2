"""String commands (t_string.c).

Values are ``bytes``; APPEND and SETRANGE turn a value into a ``bytearray`` that they
then grow in place (Valkey's ``raw`` encoding). Replies never hand out the stored
``bytearray`` itself, only a ``bytes`` copy, so a later in-place change cannot alter a
reply that is still queued (MULTI, scripts).

GET, SET, INCR*/DECR*, MGET and MSET are the benchmark's hot path: their common case
is a handful of dict operations with no per-call allocation beyond the reply.
"""

from __future__ import annotations

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
from kaa.commands.server_cmds import arg
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_STRING
from kaa.protocol.reply import OK, ReplyError
from kaa.types.string_ops import incrbyfloat as _incrbyfloat
from kaa.types.string_ops import lcs_length, lcs_walk

_STR = (bytes, bytearray)

ERR_NAN_INF = ReplyError("ERR increment would produce NaN or Infinity")
ERR_DECR_OVERFLOW = ReplyError("ERR decrement would overflow")
ERR_TOO_BIG = ReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
ERR_OFFSET = ReplyError("ERR offset is out of range")
ERR_LCS_TYPE = ReplyError("ERR The specified keys must contain string values")
ERR_LCS_LEN_IDX = ReplyError("ERR If you want both the length and indexes, please just use IDX.")
ERR_LCS_TOO_LONG = ReplyError("ERR String too long for LCS")
ERR_LCS_MEMORY = ReplyError(
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
)

_UINT32_MAX = 2**32 - 1

# Option bits of SET and GETEX (t_string.c's OBJ_* flags).
_NX = 1
_XX = 2
_EX = 4
_PX = 8
_KEEPTTL = 16
_GET = 32
_EXAT = 64
_PXAT = 128
_PERSIST = 256
_ANY_EXPIRE = _EX | _PX | _EXAT | _PXAT

_B_SET = b"SET"
_B_PXAT = b"PXAT"
_B_KEEPTTL = b"KEEPTTL"
_B_DEL = b"DEL"
_B_UNLINK = b"UNLINK"


# COMMAND DOCS argument descriptions (Valkey's src/commands/*.json).
_KEY = {**arg("key", "key"), "key_spec_index": 0}
_KEY_ONLY = (_KEY,)
_KEY_VALUE = (_KEY, arg("value", "string"))
_KEY_RANGE = (_KEY, arg("start", "integer"), arg("end", "integer"))
_KEY_VALUE_PAIRS = (arg("data", "block", multiple=True, args=(_KEY, arg("value", "string"))),)
_SET_ARGS = (
    _KEY, arg("value", "string"),
    arg("condition", "oneof", optional=True, since="2.6.12", args=(
        arg("nx", "pure-token", token="NX"), arg("xx", "pure-token", token="XX"))),
    arg("get", "pure-token", token="GET", optional=True, since="6.2.0"),
    arg("expiration", "oneof", optional=True, args=(
        arg("seconds", "integer", token="EX", since="2.6.12"),
        arg("milliseconds", "integer", token="PX", since="2.6.12"),
        arg("unix-time-seconds", "unix-time", token="EXAT", since="6.2.0"),
        arg("unix-time-milliseconds", "unix-time", token="PXAT", since="6.2.0"),
        arg("keepttl", "pure-token", token="KEEPTTL", since="6.0.0"))),
)
_GETEX_ARGS = (
    _KEY,
    arg("expiration", "oneof", optional=True, args=(
        arg("seconds", "integer", token="EX"), arg("milliseconds", "integer", token="PX"),
        arg("unix-time-seconds", "unix-time", token="EXAT"),
        arg("unix-time-milliseconds", "unix-time", token="PXAT"),
        arg("persist", "pure-token", token="PERSIST"))),
)
_LCS_ARGS = (
    {**arg("key1", "key"), "key_spec_index": 0}, {**arg("key2", "key"), "key_spec_index": 0},
    arg("len", "pure-token", token="LEN", optional=True),
    arg("idx", "pure-token", token="IDX", optional=True),
    arg("min-match-len", "integer", token="MINMATCHLEN", optional=True),
    arg("withmatchlen", "pure-token", token="WITHMATCHLEN", optional=True),
)


def _ks(*flags: str, last: int = 0, step: int = 1, notes: str = "") -> tuple[KeySpec, ...]:
    """One key spec starting at argv[1], as in the command's JSON in Valkey; flags are
    spelled as COMMAND INFO shows them (access flags upper case, the others lower)."""
    shown = tuple(f if f in ("RW", "RO", "OW", "RM") else f.lower() for f in flags)
    return (KeySpec(flags=shown, begin_index=1, last=last, step=step, notes=notes),)


def _set_keys(argv: list[bytes]) -> list[Any]:
    """setGetKeys: the key's flags depend on GET (it reads the old value)."""
    for a in argv[3:]:
        if a.lower() == b"get":
            return [(1, ("RW", "access", "update"))]
    return [(1, ("OW", "update"))]


def get_string(db: Any, key: bytes) -> bytes | bytearray | None:
    """The string at key (None if absent); WRONGTYPE for other types. Counts as a read."""
    v = db.lookup_read(key)
    if v is None:
        return None
    t = type(v)
    if t is bytes or t is bytearray:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _invalid_expire(name: str) -> ReplyError:
    return ReplyError(f"ERR invalid expire time in '{name}' command")


def parse_expire_arg(value: bytes, unit_ms: int, absolute: bool, cmdname: str) -> int:
    """An EX/PX/EXAT/PXAT argument as an absolute deadline in ms (getExpireMillisecondsOrReply)."""
    n = parse_int_or_none(value)
    if n is None:
        raise ERR_NOT_INT
    if n <= 0 or (unit_ms == 1000 and n > LLONG_MAX // 1000):
        raise _invalid_expire(cmdname)
    n *= unit_ms
    if not absolute:
        n += now_ms()
        # C's signed addition would wrap to a negative number here.
        if n > LLONG_MAX:
            raise _invalid_expire(cmdname)
    return n


def _expire_ms(value: bytes, flags: int, cmdname: str) -> int:
    return parse_expire_arg(
        value, 1000 if flags & (_EX | _EXAT) else 1, not flags & (_EX | _PX), cmdname
    )


def _parse_options(argv: list[bytes], is_set: bool) -> tuple[int, bytes | None]:
    """SET's options from argv[3] or GETEX's from argv[2], with Valkey's rules for which
    options may be combined (a repeated option is allowed, a conflicting one is a
    syntax error). Returns the option bits and the expire argument, if any."""
    flags = 0
    expire: bytes | None = None
    j = 3 if is_set else 2
    n = len(argv)
    while j < n:
        arg = argv[j]
        opt = arg.upper() if len(arg) <= 7 else b""
        more = j + 1 < n
        if opt == b"GET" and is_set:
            flags |= _GET
        elif opt == b"NX" and is_set and not flags & _XX:
            flags |= _NX
        elif opt == b"XX" and is_set and not flags & _NX:
            flags |= _XX
        elif opt == b"KEEPTTL" and is_set and not flags & (_PERSIST | _ANY_EXPIRE):
            flags |= _KEEPTTL
        elif opt == b"PERSIST" and not is_set and not flags & (_ANY_EXPIRE | _KEEPTTL):
            flags |= _PERSIST
        elif opt == b"EX" and more and not flags & (_KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT):
            flags |= _EX
            expire = argv[j + 1]
            j += 1
        elif opt == b"PX" and more and not flags & (_KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT):
            flags |= _PX
            expire = argv[j + 1]
            j += 1
        elif opt == b"EXAT" and more and not flags & (_KEEPTTL | _PERSIST | _EX | _PX | _PXAT):
            flags |= _EXAT
            expire = argv[j + 1]
            j += 1
        elif opt == b"PXAT" and more and not flags & (_KEEPTTL | _PERSIST | _EX | _EXAT | _PX):
            flags |= _PXAT
            expire = argv[j + 1]
            j += 1
        else:
            raise ERR_SYNTAX
        j += 1
    return flags, expire


def _check_length(c: Any, size: int, append: int) -> None:
    """checkStringLength: a string may not grow beyond proto-max-bulk-len (except when
    the primary or the AOF says so)."""
    if size + append > c.server.config.proto_max_bulk_len and not (
        getattr(c, "is_master", False) or c.server.loading
    ):
        raise ERR_TOO_BIG


def _already_expired(c: Any, when: int) -> bool:
    """checkAlreadyExpired: a deadline in the past deletes the key, except while loading
    or on a replica, which wait for the primary's DEL."""
    srv = c.server
    return when <= now_ms() and not srv.loading and srv.role != "S"


def _delete_expired(c: Any, db: Any, key: bytes) -> None:
    """deleteExpiredKeyFromOverwriteAndPropagate: delete now, propagate DEL or UNLINK."""
    db.delete(key)
    ks = db.ks
    ks.dirty += 1
    c.propagate_argv = [_B_UNLINK if c.server.config.lazyfree_lazy_expire else _B_DEL, key]
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "del", key, db.id)


def _old_value(db: Any, key: bytes) -> bytes | None:
    """The GET part of SET ... GET and GETSET: a read, WRONGTYPE for other types."""
    v = db.lookup_read(key)
    if v is None:
        return None
    t = type(v)
    if t is bytes:
        return v  # type: ignore[no-any-return]
    if t is bytearray:
        return bytes(v)
    raise ERR_WRONGTYPE


# ---------------------------------------------------------------------------
# GET / SET family
# ---------------------------------------------------------------------------


@command("get", 2, "readonly fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Returns the string value of a key.", complexity="O(1)",
         arguments=_KEY_ONLY,
         key_specs=_ks("RO", "ACCESS"))
def get(c: Any, argv: list[bytes]) -> Any:
    # Database.lookup_read inlined for a present key in a database without TTLs
    # while LRU clocks are kept (the defaults): GET is the hottest command.
    db = c.db
    key = argv[1]
    v = db.data.get(key)
    ks = db.ks
    if v is not None and not db.expires and not ks.touch_mode:
        ks.keyspace_hits += 1
        db.atime[key] = ks.clock
    else:
        v = db.lookup_read(key)
    if v is None:
        return None
    t = type(v)
    if t is bytes:
        return v
    if t is bytearray:
        return bytes(v)
    raise ERR_WRONGTYPE


def _set_generic(
    c: Any,
    argv: list[bytes],
    flags: int,
    key: bytes,
    value: bytes,
    expire: bytes | None,
    cmdname: str,
    ok_reply: Any = OK,
    abort_reply: Any = None,
) -> Any:
    """setGenericCommand: SET with options, SETNX, SETEX, PSETEX."""
    when = 0
    if expire is not None:
        when = _expire_ms(expire, flags, cmdname)
    db = c.db
    old: bytes | None = None
    get_old = flags & _GET
    if get_old:
        old = _old_value(db, key)
    found = db.lookup(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if get_old else abort_reply
    # Only an absolute deadline can be in the past: EX/PX count from the command's
    # own clock reading in Valkey (commandTimeSnapshot), so "PX 1" never is, even when
    # a millisecond ticks by between parsing it and storing the key.
    if expire is not None and flags & (_EXAT | _PXAT) and _already_expired(c, when):
        if found:
            _delete_expired(c, db, key)
        return old if get_old else OK
    db.set(key, value, keepttl=expire is not None or bool(flags & _KEEPTTL))
    ks = db.ks
    ks.dirty += 1
    if expire is not None:
        db.set_expire(key, when)
        if not flags & _PXAT:
            c.propagate_argv = [_B_SET, key, value, _B_PXAT, b"%d" % when]
    elif get_old:
        # Replicas need no reply: propagate without the GET option(s).
        c.propagate_argv = [a for i, a in enumerate(argv) if i < 3 or a.upper() != b"GET"]
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "set", key, db.id)
        if expire is not None:
            ks.notify(NOTIFY_GENERIC, "expire", key, db.id)
    return old if get_old else ok_reply


@command("set", -3, "write denyoom", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
         complexity="O(1)",
         history=(("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
                  ("6.0.0", "Added the `KEEPTTL` option."),
                  ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
                  ("7.0.0", "Allowed the `NX` and `GET` options to be used together.")),
         arguments=_SET_ARGS, keys_fn=_set_keys,
         key_specs=_ks("RW", "ACCESS", "UPDATE", "VARIABLE_FLAGS",
                       notes="RW and ACCESS due to the optional `GET` argument"))
def set_(c: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        db = c.db
        key = argv[1]
        ks = db.ks
        if (not ks.notify_flags and ks.watchers is None and not ks.touch_mode
                and ks.blocked_keys is None and db.scan_index is None and not db.expires):
            # Database.set inlined while no hook listens and the db has no TTLs (the
            # defaults): SET is the hottest write.
            db.data[key] = argv[2]
            db.atime[key] = ks.clock
            ks.dirty += 1
            return OK
        db.set(key, argv[2])
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_STRING, "set", key, db.id)
        return OK
    flags, expire = _parse_options(argv, True)
    return _set_generic(c, argv, flags, argv[1], argv[2], expire, "set")


@command("setnx", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string",
         since="1.0.0", summary="Set the string value of a key only when the key doesn't exist.",
         complexity="O(1)", deprecated_since="2.6.12",
         replaced_by="`SET` with the `NX` argument", doc_flags=("deprecated",),
         arguments=_KEY_VALUE,
         key_specs=_ks("OW", "INSERT"))
def setnx(c: Any, argv: list[bytes]) -> Any:
    return _set_generic(c, argv, _NX, argv[1], argv[2], None, "setnx", 1, 0)


@command("setex", 4, "write denyoom", "string", keys=(1, 1, 1), group="string", since="2.0.0",
         summary="Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
         complexity="O(1)", deprecated_since="2.6.12",
         replaced_by="`SET` with the `EX` argument", doc_flags=("deprecated",),
         arguments=(_KEY, arg("seconds", "integer"), arg("value", "string")),
         key_specs=_ks("OW", "UPDATE"))
def setex(c: Any, argv: list[bytes]) -> Any:
    return _set_generic(c, argv, _EX, argv[1], argv[3], argv[2], "setex")


@command("psetex", 4, "write denyoom", "string", keys=(1, 1, 1), group="string", since="2.6.0",
         summary="Sets both string value and expiration time in milliseconds of a key. "
                 "The key is created if it doesn't exist.",
         complexity="O(1)", deprecated_since="2.6.12",
         replaced_by="`SET` with the `PX` argument", doc_flags=("deprecated",),
         arguments=(_KEY, arg("milliseconds", "integer"), arg("value", "string")),
         key_specs=_ks("OW", "UPDATE"))
def psetex(c: Any, argv: list[bytes]) -> Any:
    return _set_generic(c, argv, _PX, argv[1], argv[3], argv[2], "psetex")


@command("getset", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string",
         since="1.0.0",
         summary="Returns the previous string value of a key after setting it to a new value.",
         complexity="O(1)", deprecated_since="6.2.0",
         replaced_by="`SET` with the `!GET` argument", doc_flags=("deprecated",),
         arguments=_KEY_VALUE,
         key_specs=_ks("RW", "ACCESS", "UPDATE"))
def getset(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = _old_value(db, key)
    db.set(key, argv[2])
    ks = db.ks
    ks.dirty += 1
    c.propagate_argv = [_B_SET, key, argv[2]]
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "set", key, db.id)
    return old


@command("getdel", 2, "write fast", "string", keys=(1, 1, 1), group="string", since="6.2.0",
         summary="Returns the string value of a key after deleting the key.", complexity="O(1)",
         arguments=_KEY_ONLY,
         key_specs=_ks("RW", "ACCESS", "DELETE"))
def getdel(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = _old_value(db, key)
    if old is not None:
        db.delete(key)
        ks = db.ks
        ks.dirty += 1
        c.propagate_argv = [_B_DEL, key]
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
    return old


@command("getex", -2, "write fast", "string", keys=(1, 1, 1), group="string", since="6.2.0",
         summary="Returns the string value of a key after setting its expiration time.",
         complexity="O(1)",
         arguments=_GETEX_ARGS,
         key_specs=_ks("RW", "ACCESS", "UPDATE", notes="RW and UPDATE because it changes the TTL"))
def getex(c: Any, argv: list[bytes]) -> Any:
    flags, expire = _parse_options(argv, False)
    db = c.db
    key = argv[1]
    v = _old_value(db, key)
    if v is None:
        return None
    # Valkey 8.0 validates the expire time only once the key is known to exist.
    when = _expire_ms(expire, flags, "getex") if expire is not None else 0
    ks = db.ks
    if flags & (_EXAT | _PXAT) and _already_expired(c, when):
        _delete_expired(c, db, key)
    elif expire is not None:
        db.set_expire(key, when)
        ks.dirty += 1
        c.propagate_argv = [b"PEXPIREAT", key, b"%d" % when]
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "expire", key, db.id)
    elif flags & _PERSIST:
        if db.persist(key):
            ks.dirty += 1
            c.propagate_argv = [b"PERSIST", key]
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "persist", key, db.id)
    return v


@command("mget", -2, "readonly fast", "string", keys=(1, -1, 1), group="string", since="1.0.0",
         summary="Atomically returns the string values of one or more keys.",
         complexity="O(N) where N is the number of keys to retrieve.",
         tips=("request_policy:multi_shard",), arguments=({**_KEY, "flags": ("multiple",)},),
         key_specs=_ks("RO", "ACCESS", last=-1))
def mget(c: Any, argv: list[bytes]) -> Any:
    lookup = c.db.lookup_read
    out: list[Any] = []
    append = out.append
    for key in argv[1:]:
        v = lookup(key)
        t = type(v)
        if t is bytes:
            append(v)
        elif t is bytearray:
            append(bytes(v))
        else:
            append(None)
    return out


@command("mset", -3, "write denyoom", "string", keys=(1, -1, 2), group="string", since="1.0.1",
         summary="Atomically creates or modifies the string values of one or more keys.",
         complexity="O(N) where N is the number of keys to set.",
         tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
         arguments=_KEY_VALUE_PAIRS,
         key_specs=_ks("OW", "UPDATE", last=-1, step=2))
def mset(c: Any, argv: list[bytes]) -> Any:
    n = len(argv)
    if n % 2 == 0:
        raise wrong_arity("mset")
    db = c.db
    ks = db.ks
    _set_pairs(db, argv)
    ks.dirty += (n - 1) // 2
    return OK


def _set_pairs(db: Any, argv: list[bytes]) -> None:
    """MSET's stores; with notifications on, each key's 'new' (from the store) and 'set'
    events come together, key by key, as Valkey's setKey + notify order."""
    ks = db.ks
    if not ks.notify_flags:
        db.set_pairs(argv)
        return
    dbset = db.set
    for i in range(1, len(argv), 2):
        dbset(argv[i], argv[i + 1])
        ks.notify(NOTIFY_STRING, "set", argv[i], db.id)


@command("msetnx", -3, "write denyoom", "string", keys=(1, -1, 2), group="string",
         since="1.0.1",
         summary="Atomically modifies the string values of one or more keys only when all keys don't exist.",
         complexity="O(N) where N is the number of keys to set.",
         arguments=_KEY_VALUE_PAIRS,
         key_specs=_ks("OW", "INSERT", last=-1, step=2))
def msetnx(c: Any, argv: list[bytes]) -> Any:
    n = len(argv)
    if n % 2 == 0:
        raise wrong_arity("msetnx")
    db = c.db
    lookup = db.lookup
    for i in range(1, n, 2):
        if lookup(argv[i]) is not None:
            return 0
    _set_pairs(db, argv)
    db.ks.dirty += (n - 1) // 2
    return 1


# ---------------------------------------------------------------------------
# In-place edits and reads of parts
# ---------------------------------------------------------------------------


def _writable(db: Any, key: bytes, v: Any) -> bytearray:
    """dbUnshareStringValue: the value at key as a bytearray we may grow in place."""
    if type(v) is bytearray:
        return v  # type: ignore[no-any-return]
    ba = bytearray(v)
    db.set(key, ba, keepttl=True)
    return ba


@command("append", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string",
         since="2.0.0",
         summary="Appends a string to the value of a key. Creates the key if it doesn't exist.",
         complexity="O(1). The amortized time complexity is O(1) assuming the appended value "
                    "is small and the already present value is of any size, since the dynamic "
                    "string library used by the server will double the free space available on "
                    "every reallocation.",
         arguments=_KEY_VALUE,
         key_specs=_ks("RW", "INSERT"))
def append(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    extra = argv[2]
    v = db.lookup(key)
    if v is None:
        db.add(key, extra)
        total = len(extra)
    else:
        t = type(v)
        if t is not bytes and t is not bytearray:
            raise ERR_WRONGTYPE
        _check_length(c, len(v), len(extra))
        if t is bytearray:
            v += extra
            db.touch(key)
        else:
            v = _writable(db, key, v)
            v += extra
        total = len(v)
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "append", key, db.id)
    return total


@command("strlen", 2, "readonly fast", "string", keys=(1, 1, 1), group="string", since="2.2.0",
         summary="Returns the length of a string value.", complexity="O(1)",
         arguments=_KEY_ONLY,
         key_specs=_ks("RO"))
def strlen(c: Any, argv: list[bytes]) -> Any:
    v = c.db.lookup_read(argv[1])
    if v is None:
        return 0
    t = type(v)
    if t is bytes or t is bytearray:
        return len(v)
    raise ERR_WRONGTYPE


@command("setrange", 4, "write denyoom", "string", keys=(1, 1, 1), group="string",
         since="2.2.0",
         summary="Overwrites a part of a string value with another by an offset. "
                 "Creates the key if it doesn't exist.",
         complexity="O(1), not counting the time taken to copy the new string in place. "
                    "Usually, this string is very small so the amortized complexity is O(1). "
                    "Otherwise, complexity is O(M) with M being the length of the value argument.",
         arguments=(_KEY, arg("offset", "integer"), arg("value", "string")),
         key_specs=_ks("RW", "UPDATE"))
def setrange(c: Any, argv: list[bytes]) -> Any:
    offset = parse_int(argv[2])
    if offset < 0:
        raise ERR_OFFSET
    value = argv[3]
    vlen = len(value)
    db = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        if vlen == 0:
            return 0
        _check_length(c, offset, vlen)
        ba = bytearray(offset)
        ba += value
        db.add(key, ba)
    else:
        t = type(v)
        if t is not bytes and t is not bytearray:
            raise ERR_WRONGTYPE
        if vlen == 0:
            return len(v)
        _check_length(c, offset, vlen)
        ba = _writable(db, key, v)
        cur = len(ba)
        if cur < offset:
            ba += bytes(offset - cur)
        ba[offset : offset + vlen] = value
        if t is bytearray:
            db.touch(key)
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "setrange", key, db.id)
    return len(ba)


def _getrange(c: Any, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    v = c.db.lookup_read(argv[1])
    if v is None:
        return b""
    t = type(v)
    if t is not bytes and t is not bytearray:
        raise ERR_WRONGTYPE
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return bytes(v[start : end + 1])


_RANGE_COMPLEXITY = (
    "O(N) where N is the length of the returned string. The complexity is ultimately "
    "determined by the returned length, but because creating a substring from an existing "
    "string is very cheap, it can be considered O(1) for small strings."
)


@command("getrange", 4, "readonly", "string", keys=(1, 1, 1), group="string", since="2.4.0",
         summary="Returns a substring of the string stored at a key.",
         complexity=_RANGE_COMPLEXITY, arguments=_KEY_RANGE,
         key_specs=_ks("RO", "ACCESS"))
def getrange(c: Any, argv: list[bytes]) -> Any:
    return _getrange(c, argv)


@command("substr", 4, "readonly", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Returns a substring from a string value.", complexity=_RANGE_COMPLEXITY,
         deprecated_since="2.0.0", replaced_by="`GETRANGE`", doc_flags=("deprecated",),
         arguments=_KEY_RANGE,
         key_specs=_ks("RO", "ACCESS"))
def substr(c: Any, argv: list[bytes]) -> Any:
    return _getrange(c, argv)


# ---------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------


def _incr(c: Any, key: bytes, delta: int) -> int:
    """incrDecrCommand: the TTL survives; the event is always "incrby", as in Valkey."""
    db = c.db
    v = db.lookup(key)
    if v is None:
        new = delta
        db.add(key, b"%d" % new)
    else:
        t = type(v)
        if t is not bytes and t is not bytearray:
            raise ERR_WRONGTYPE
        cur = parse_int_or_none(v)
        if cur is None:
            raise ERR_NOT_INT
        new = cur + delta
        if new > LLONG_MAX or new < LLONG_MIN:
            raise ERR_OVERFLOW
        db.set(key, b"%d" % new, True)
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "incrby", key, db.id)
    return new


# [bytes, int]: the value the last fast-path INCR stored and its integer. Bytes are
# immutable, so finding that same object at a key proves the key holds that number.
_LAST_COUNTER: list[Any] = [None, 0]


@command("incr", 2, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
         complexity="O(1)", arguments=_KEY_ONLY,
         key_specs=_ks("RW", "ACCESS", "UPDATE"))
def incr(c: Any, argv: list[bytes]) -> Any:
    # _incr(c, key, 1) inlined, with a fast parse of the plain positive values INCR
    # itself stores (no sign, no leading zero, at most 18 digits: cannot overflow).
    db = c.db
    key = argv[1]
    ks = db.ks
    v = db.data.get(key)
    # Database.lookup + set inlined for a present plain counter without a TTL while
    # nothing watches writes (no WATCH, blocked client or LFU policy): the common case.
    if (v is not None and ks.watchers is None and not ks.touch_mode and ks.blocked_keys is None
            and key not in db.expires):
        last = _LAST_COUNTER
        if v is last[0]:  # the very bytes the last fast INCR stored: its value is known
            new = last[1] + 1
        elif type(v) is bytes and 0 < len(v) < 19 and v[0] != 48 and v.isdigit():
            new = int(v) + 1
        else:
            new = 0
        if 0 < new <= LLONG_MAX:
            nb = b"%d" % new
            db.data[key] = nb
            last[0] = nb
            last[1] = new
            db.atime[key] = ks.clock
            ks.dirty += 1
            if ks.notify_flags:
                ks.notify(NOTIFY_STRING, "incrby", key, db.id)
            return new
    v = db.lookup(key)
    if v is None:
        new = 1
        db.add(key, b"1")
    else:
        t = type(v)
        if t is not bytes and t is not bytearray:
            raise ERR_WRONGTYPE
        if 0 < len(v) < 19 and v[0] != 48 and v.isdigit():
            new = int(v) + 1
        else:
            cur = parse_int_or_none(v)
            if cur is None:
                raise ERR_NOT_INT
            new = cur + 1
            if new > LLONG_MAX:
                raise ERR_OVERFLOW
        db.set(key, b"%d" % new, True)
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "incrby", key, db.id)
    return new


@command("decr", 2, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
         complexity="O(1)", arguments=_KEY_ONLY,
         key_specs=_ks("RW", "ACCESS", "UPDATE"))
def decr(c: Any, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], -1)


@command("incrby", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
         complexity="O(1)", arguments=(_KEY, arg("increment", "integer")),
         key_specs=_ks("RW", "ACCESS", "UPDATE"))
def incrby(c: Any, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
         complexity="O(1)", arguments=(_KEY, arg("decrement", "integer")),
         key_specs=_ks("RW", "ACCESS", "UPDATE"))
def decrby(c: Any, argv: list[bytes]) -> Any:
    d = parse_int(argv[2])
    if d == LLONG_MIN:
        raise ERR_DECR_OVERFLOW
    return _incr(c, argv[1], -d)


@command("incrbyfloat", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string",
         since="2.6.0",
         summary="Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
         complexity="O(1)", arguments=(_KEY, arg("increment", "double")),
         key_specs=_ks("RW", "ACCESS", "UPDATE"))
def incrbyfloat(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is not None and type(v) not in _STR:
        raise ERR_WRONGTYPE
    new = _incrbyfloat(v, argv[2])
    if type(new) is int:
        raise ERR_NOT_FLOAT if new == 1 else ERR_NAN_INF
    assert isinstance(new, bytes)
    if v is None:
        db.add(key, new)
    else:
        db.set(key, new, keepttl=True)
    ks = db.ks
    ks.dirty += 1
    # Replicas and the AOF get the result, so float formatting can never diverge.
    c.propagate_argv = [_B_SET, key, new, _B_KEEPTTL]
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "incrbyfloat", key, db.id)
    return new


# ---------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------


@command("lcs", -3, "readonly", "string", keys=(1, 2, 1), group="string", since="7.0.0",
         summary="Finds the longest common substring.",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
         arguments=_LCS_ARGS,
         key_specs=_ks("RO", "ACCESS", last=1))
def lcs(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    va = db.lookup_read(argv[1])
    vb = db.lookup_read(argv[2])
    if (va is not None and type(va) not in _STR) or (vb is not None and type(vb) not in _STR):
        raise ERR_LCS_TYPE
    a = va if va is not None else b""
    b = vb if vb is not None else b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].upper()
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and j + 1 < n:
            minmatchlen = max(parse_int(argv[j + 1]), 0)
            j += 1
        else:
            raise ERR_SYNTAX
        j += 1
    if getlen and getidx:
        raise ERR_LCS_LEN_IDX
    alen, blen = len(a), len(b)
    if alen >= _UINT32_MAX - 1 or blen >= _UINT32_MAX - 1:
        raise ERR_LCS_TOO_LONG
    # Valkey refuses a DP table (of 32-bit cells) bigger than proto-max-bulk-len; we keep
    # only bit vectors, but answer the same way.
    if (alen + 1) * (blen + 1) * 4 > c.server.config.proto_max_bulk_len:
        raise ERR_LCS_MEMORY
    if getlen:
        return lcs_length(a, b)
    total, text, ranges = lcs_walk(a, b, minmatchlen)
    if not getidx:
        return text
    if withmatchlen:
        matches = [[[s1, e1], [s2, e2], e1 - s1 + 1] for s1, e1, s2, e2 in ranges]
    else:
        matches = [[[s1, e1], [s2, e2]] for s1, e1, s2, e2 in ranges]
    return {b"matches": matches, b"len": total}
