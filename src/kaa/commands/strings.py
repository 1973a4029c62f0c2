"""String commands (t_string.c)."""

from __future__ import annotations

from typing import Any

from kaa.commands.args import (
    ERR_NOT_INT,
    ERR_OVERFLOW,
    ERR_SYNTAX,
    ERR_WRONGTYPE,
    LLONG_MAX,
    LLONG_MIN,
    parse_int,
    parse_int_or_none,
)
from kaa.commands.registry import command
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_STRING
from kaa.protocol.reply import NULL_ARRAY, OK, ReplyError

_STR = (bytes, bytearray)


def get_string(db: Any, key: bytes) -> bytes | bytearray | None:
    """The string at key (None if absent); WRONGTYPE for other types."""
    v = db.lookup_read(key)
    if v is None:
        return None
    t = type(v)
    if t is bytes or t is bytearray:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


@command("get", 2, "readonly fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Returns the string value of a key.")
def get(c: Any, argv: list[bytes]) -> Any:
    v = c.db.lookup_read(argv[1])
    if v is None:
        return None
    t = type(v)
    if t is bytes or t is bytearray:
        return v
    raise ERR_WRONGTYPE


def _invalid_expire(name: str) -> ReplyError:
    return ReplyError(f"ERR invalid expire time in '{name}' command")


def parse_expire_arg(value: bytes, unit_ms: int, absolute: bool, cmdname: str) -> int:
    """Turn an EX/PX/EXAT/PXAT argument into an absolute deadline in ms."""
    n = parse_int_or_none(value)
    if n is None:
        raise ERR_NOT_INT
    if n <= 0:
        raise _invalid_expire(cmdname)
    if unit_ms == 1000:
        if n > LLONG_MAX // 1000:
            raise _invalid_expire(cmdname)
        n *= 1000
    if not absolute:
        n += now_ms()
        if n > LLONG_MAX:
            raise _invalid_expire(cmdname)
    return n


@command("set", -3, "write denyoom", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
def set_(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    value = argv[2]
    if len(argv) == 3:
        db.set(key, value)
        ks = db.ks
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_STRING, "set", key, db.id)
        return OK
    nx = xx = get_old = keepttl = False
    expire_at: int | None = None
    exp_seen = False
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get_old = True
        elif opt == b"KEEPTTL" and not exp_seen:
            keepttl = True
            exp_seen = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and not exp_seen and i + 1 < n:
            exp_seen = True
            unit = 1000 if opt in (b"EX", b"EXAT") else 1
            expire_at = parse_expire_arg(argv[i + 1], unit, opt.endswith(b"AT"), "set")
            i += 1
        else:
            raise ERR_SYNTAX
        i += 1
    old = db.lookup(key)
    if get_old:
        if old is not None and type(old) not in _STR:
            raise ERR_WRONGTYPE
    if (nx and old is not None) or (xx and old is None):
        return old if get_old else None
    db.set(key, value, keepttl=keepttl)
    ks = db.ks
    ks.dirty += 1
    if expire_at is not None:
        db.set_expire(key, expire_at)
        c.propagate_argv = [b"SET", key, value, b"PXAT", b"%d" % expire_at] + (
            [b"GET"] if get_old else []
        )
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "set", key, db.id)
        if expire_at is not None:
            ks.notify(NOTIFY_GENERIC, "expire", key, db.id)
    if get_old:
        return old
    return OK


def _incr(c: Any, key: bytes, delta: int, event: str = "incrby") -> int:
    db = c.db
    v = db.lookup(key)
    if v is None:
        cur = 0
    else:
        t = type(v)
        if t is not bytes and t is not bytearray:
            raise ERR_WRONGTYPE
        cur_ = parse_int_or_none(v)
        if cur_ is None:
            raise ERR_NOT_INT
        cur = cur_
    new = cur + delta
    if new > LLONG_MAX or new < LLONG_MIN:
        raise ERR_OVERFLOW
    if v is None:
        db.add(key, b"%d" % new)
    else:
        db.set(key, b"%d" % new, keepttl=True)
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, event, key, db.id)
    return new


@command("incr", 2, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def incr(c: Any, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], 1)


@command("decr", 2, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def decr(c: Any, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], -1, "decrby")


@command("incrby", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
def incrby(c: Any, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", "string", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.")
def decrby(c: Any, argv: list[bytes]) -> Any:
    d = parse_int(argv[2])
    if d == LLONG_MIN:
        raise ReplyError("ERR decrement would overflow")
    return _incr(c, argv[1], -d, "decrby")


@command("mget", -2, "readonly fast", "string", keys=(1, -1, 1), group="string", since="1.0.0",
         summary="Atomically returns the string values of one or more keys.")
def mget(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    out: list[Any] = []
    for key in argv[1:]:
        v = db.lookup_read(key)
        out.append(v if type(v) in _STR else None)
    return out


@command("mset", -3, "write denyoom", "string", keys=(1, -1, 2), group="string", since="1.0.1",
         summary="Atomically creates or modifies the string values of one or more keys.")
def mset(c: Any, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise ReplyError("ERR wrong number of arguments for 'mset' command")
    db = c.db
    ks = db.ks
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
        if ks.notify_flags:
            ks.notify(NOTIFY_STRING, "set", argv[i], db.id)
    ks.dirty += (len(argv) - 1) // 2
    return OK


__all__ = ["get_string", "parse_expire_arg", "NULL_ARRAY"]
