"""Key expiry commands (expire.c): EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
EXPIRETIME PEXPIRETIME PERSIST, and the hook that propagates expirations.

Deadlines are absolute ms since the epoch. Relative forms are propagated as
PEXPIREAT with the absolute deadline, so replicas and the AOF never shift a TTL; a
deadline already in the past deletes the key at once and propagates DEL or UNLINK
(lazyfree-lazy-expire), as Valkey does.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import ERR_NOT_INT, LLONG_MAX, LLONG_MIN, parse_int_or_none
from kaa.commands.registry import KeySpec, command
from kaa.commands.server_cmds import arg
from kaa.engine.keyspace import Database, now_ms
from kaa.engine.notify import NOTIFY_GENERIC
from kaa.protocol.reply import ONE, ZERO, ReplyError

_B_DEL = b"DEL"
_B_UNLINK = b"UNLINK"
_B_PEXPIREAT = b"PEXPIREAT"

_NX = 1
_XX = 2
_GT = 4
_LT = 8

ERR_NX_COMBO = ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
ERR_GT_LT = ReplyError("ERR GT and LT options at the same time are not compatible")

_RW_UPDATE = (KeySpec(flags=("RW", "update"), begin_index=1, last=0),)
_RO_ACCESS = (KeySpec(flags=("RO", "access"), begin_index=1, last=0),)
_HIST_OPTS = (("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),)
_KEY = {**arg("key", "key"), "key_spec_index": 0}
_KEY_ARG = (_KEY,)
_CONDITION = arg("condition", "oneof", optional=True, since="7.0.0", args=(
    arg("nx", "pure-token", token="NX"), arg("xx", "pure-token", token="XX"),
    arg("gt", "pure-token", token="GT"), arg("lt", "pure-token", token="LT")))


def _expire_args(name: str, type_: str) -> tuple[dict[str, Any], ...]:
    return (_KEY, arg(name, type_), _CONDITION)


def _expire_flags(argv: list[bytes]) -> int:
    """parseExtendedExpireArgumentsOrReply: NX XX GT LT, checked before the time."""
    flags = 0
    for opt in argv[3:]:
        o = opt.upper()
        if o == b"NX":
            flags |= _NX
        elif o == b"XX":
            flags |= _XX
        elif o == b"GT":
            flags |= _GT
        elif o == b"LT":
            flags |= _LT
        else:
            raise ReplyError(f"ERR Unsupported option {opt.decode('utf-8', 'replace')}")
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise ERR_NX_COMBO
    if flags & _GT and flags & _LT:
        raise ERR_GT_LT
    return flags


def already_expired(c: Any, when: int, now: int | None = None) -> bool:
    """checkAlreadyExpired: a deadline not in the future deletes the key, except while
    loading or on a replica, which wait for the primary's DEL. ``now`` is the time a
    relative deadline was computed from: Valkey uses one clock reading per command
    (commandTimeSnapshot), so "PEXPIRE k 1" can never count as already expired."""
    srv = c.server
    return when <= (now_ms() if now is None else now) and not srv.loading and srv.role != "S"


def delete_expired_by_command(c: Any, db: Database, key: bytes) -> None:
    """deleteExpiredKeyFromOverwriteAndPropagate: delete now (a `del` event, not an
    expiration) and have the command propagate as DEL or UNLINK."""
    ks = db.ks
    lazy = c.server.config.lazyfree_lazy_expire
    v = db.pop(key)
    if v is not None and lazy:
        ks.free_async(v)
    ks.dirty += 1
    c.propagate_argv = [_B_UNLINK if lazy else _B_DEL, key]
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "del", key, db.id)


def _expire_generic(c: Any, argv: list[bytes], relative: bool, unit_ms: int, name: str) -> Any:
    flags = _expire_flags(argv) if len(argv) > 3 else 0
    when = parse_int_or_none(argv[2])
    if when is None:
        raise ERR_NOT_INT
    bad = ReplyError(f"ERR invalid expire time in '{name}' command")
    if unit_ms == 1000:
        # C's LLONG_MIN / 1000 truncates towards zero.
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            raise bad
        when *= 1000
    base = now_ms() if relative else 0
    if when > LLONG_MAX - base:
        raise bad
    when += base
    db = c.db
    key = argv[1]
    if db.lookup(key) is None:
        return ZERO
    if flags:
        cur = db.get_expire(key)
        if flags & _NX and cur is not None:
            return ZERO
        if flags & _XX and cur is None:
            return ZERO
        # No TTL counts as an infinite one: GT never passes, LT always does.
        if flags & _GT and (cur is None or when <= cur):
            return ZERO
        if flags & _LT and cur is not None and when >= cur:
            return ZERO
    if already_expired(c, when, base if relative else None):
        delete_expired_by_command(c, db, key)
        return ONE
    db.set_expire(key, when)
    if relative or unit_ms != 1:
        c.propagate_argv = [_B_PEXPIREAT, key, b"%d" % when, *argv[3:]]
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "expire", key, db.id)
    return ONE


@command("expire", -3, "write fast", "keyspace", key_specs=_RW_UPDATE, keys=(1, 1, 1),
         arguments=_expire_args("seconds", "integer"),
         group="generic", since="1.0.0", history=_HIST_OPTS, complexity="O(1)",
         summary="Sets the expiration time of a key in seconds.")
def expire(c: Any, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, True, 1000, "expire")


@command("pexpire", -3, "write fast", "keyspace", key_specs=_RW_UPDATE, keys=(1, 1, 1),
         arguments=_expire_args("milliseconds", "integer"),
         group="generic", since="2.6.0", history=_HIST_OPTS, complexity="O(1)",
         summary="Sets the expiration time of a key in milliseconds.")
def pexpire(c: Any, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, True, 1, "pexpire")


@command("expireat", -3, "write fast", "keyspace", key_specs=_RW_UPDATE, keys=(1, 1, 1),
         arguments=_expire_args("unix-time-seconds", "unix-time"),
         group="generic", since="1.2.0", history=_HIST_OPTS, complexity="O(1)",
         summary="Sets the expiration time of a key to a Unix timestamp.")
def expireat(c: Any, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, False, 1000, "expireat")


@command("pexpireat", -3, "write fast", "keyspace", key_specs=_RW_UPDATE, keys=(1, 1, 1),
         arguments=_expire_args("unix-time-milliseconds", "unix-time"),
         group="generic", since="2.6.0", history=_HIST_OPTS, complexity="O(1)",
         summary="Sets the expiration time of a key to a Unix milliseconds timestamp.")
def pexpireat(c: Any, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, False, 1, "pexpireat")


def _ttl_generic(c: Any, key: bytes, output_ms: bool, absolute: bool) -> int:
    db = c.db
    if db.lookup_read_notouch(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    ttl = when if absolute else when - now_ms()
    if ttl < 0:
        ttl = 0
    return ttl if output_ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", "keyspace", key_specs=_RO_ACCESS, keys=(1, 1, 1),
         arguments=_KEY_ARG,
         group="generic", since="1.0.0", history=(("2.8.0", "Added the -2 reply."),),
         tips=("nondeterministic_output",), complexity="O(1)",
         summary="Returns the expiration time in seconds of a key.")
def ttl(c: Any, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], False, False)


@command("pttl", 2, "readonly fast", "keyspace", key_specs=_RO_ACCESS, keys=(1, 1, 1),
         arguments=_KEY_ARG,
         group="generic", since="2.6.0", history=(("2.8.0", "Added the -2 reply."),),
         tips=("nondeterministic_output",), complexity="O(1)",
         summary="Returns the expiration time in milliseconds of a key.")
def pttl(c: Any, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], True, False)


@command("expiretime", 2, "readonly fast", "keyspace", key_specs=_RO_ACCESS, keys=(1, 1, 1),
         arguments=_KEY_ARG,
         group="generic", since="7.0.0", complexity="O(1)",
         summary="Returns the expiration time of a key as a Unix timestamp.")
def expiretime(c: Any, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast", "keyspace", key_specs=_RO_ACCESS, keys=(1, 1, 1),
         arguments=_KEY_ARG,
         group="generic", since="7.0.0", complexity="O(1)",
         summary="Returns the expiration time of a key as a Unix milliseconds timestamp.")
def pexpiretime(c: Any, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], True, True)


@command("persist", 2, "write fast", "keyspace", key_specs=_RW_UPDATE, keys=(1, 1, 1),
         arguments=_KEY_ARG,
         group="generic", since="2.2.0", complexity="O(1)",
         summary="Removes the expiration time of a key.")
def persist(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    if db.lookup(key) is None or not db.persist(key):
        return ZERO
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "persist", key, db.id)
    return ONE


def install_expire_propagation(server: Any) -> None:
    """Propagate every expiration (lazy or active) to the AOF and replicas as a DEL, or
    an UNLINK when lazyfree-lazy-expire is on (Valkey 8's default)."""
    cfg = server.config

    def propagate_expire(db: Database, key: bytes) -> None:
        if server.propagating:
            server.propagate(db.id, [_B_UNLINK if cfg.lazyfree_lazy_expire else _B_DEL, key])

    server.keyspace.propagate_expire = propagate_expire
