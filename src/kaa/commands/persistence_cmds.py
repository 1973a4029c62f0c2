"""SAVE BGSAVE LASTSAVE DUMP RESTORE (rdb.c, cluster.c's DUMP/RESTORE)."""

from __future__ import annotations

import math
from typing import Any

from kaa.commands.args import ERR_SYNTAX, parse_int, parse_int_or_none
from kaa.commands.registry import command
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_GENERIC
from kaa.persistence.rdb import dump_payload, restore_payload
from kaa.persistence.rdb_format import RdbError
from kaa.persistence.values import from_neutral, to_neutral
from kaa.protocol.reply import OK, ReplyError


def _persistence(c: Any) -> Any:
    return c.server.persistence


@command("save", 1, "admin noscript no_async_loading no_multi", "", group="server", since="1.0.0",
         summary="Synchronously saves the database(s) to disk.")
def save(c: Any, argv: list[bytes]) -> Any:
    p = _persistence(c)
    if p.child_running():
        raise ReplyError("ERR Background save already in progress")
    if not p.save():
        raise ReplyError("ERR")
    return OK


@command("bgsave", -1, "admin noscript no_async_loading", "", group="server", since="1.0.0",
         summary="Asynchronously saves the database(s) to disk.")
def bgsave(c: Any, argv: list[bytes]) -> Any:
    p = _persistence(c)
    schedule = False
    if len(argv) > 1:
        opt = argv[1].lower()
        if len(argv) == 2 and opt == b"schedule":
            schedule = True
        elif len(argv) == 2 and opt == b"cancel":
            if p.child_type == "rdb":
                p.kill_child()
                return "Background saving cancelled"
            if p.bgsave_scheduled:
                p.bgsave_scheduled = False
                return "Scheduled background saving cancelled"
            raise ReplyError("ERR Background saving is currently not in progress or scheduled")
        else:
            raise ERR_SYNTAX
    if p.child_type == "rdb":
        if schedule:
            raise ReplyError("ERR Background save already in progress")
        raise ReplyError("ERR Background save already in progress")
    if p.child_running():
        if schedule:
            p.bgsave_scheduled = True
            return "Background saving scheduled"
        raise ReplyError(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
            "SCHEDULE in order to schedule a BGSAVE whenever possible."
        )
    if p.bgsave() == -1:
        raise ReplyError("ERR")
    return "Background saving started"


@command("lastsave", 1, "loading stale fast", "admin dangerous", group="server", since="1.0.0",
         summary="Returns the Unix timestamp of the last successful save to disk.")
def lastsave(c: Any, argv: list[bytes]) -> Any:
    return _persistence(c).lastsave


@command("dump", 2, "readonly", "keyspace", keys=(1, 1, 1), group="generic", since="2.6.0",
         summary="Returns a serialized representation of the value stored at a key.")
def dump(c: Any, argv: list[bytes]) -> Any:
    v = c.db.lookup_read(argv[1])
    if v is None:
        return None
    kind, neutral = to_neutral(v)
    return dump_payload(kind, neutral)


@command("restore", -4, "write denyoom", "keyspace dangerous", keys=(1, 1, 1), group="generic",
         since="2.6.0", summary="Creates a key from the serialized representation of a value.")
def restore(c: Any, argv: list[bytes]) -> Any:
    key = argv[1]
    replace = absttl = False
    i = 4
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and i + 1 < n:
            v = parse_int_or_none(argv[i + 1])
            if v is None:
                raise ReplyError("ERR value is not an integer or out of range")
            if v < 0:
                raise ReplyError("ERR Invalid IDLETIME value, must be >= 0")
            i += 1
        elif opt == b"freq" and i + 1 < n:
            v = parse_int_or_none(argv[i + 1])
            if v is None:
                raise ReplyError("ERR value is not an integer or out of range")
            if v < 0 or v > 255:
                raise ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise ERR_SYNTAX
        i += 1
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise ReplyError("ERR Invalid TTL value, must be >= 0")
    db = c.db
    if not replace and db.lookup(key) is not None:
        raise ReplyError("BUSYKEY Target key name already exists.")
    try:
        kind, neutral = restore_payload(argv[3])
    except RdbError as e:
        msg = str(e)
        if "version or checksum" in msg:
            raise ReplyError("ERR DUMP payload version or checksum are wrong") from None
        raise ReplyError("ERR Bad data format") from None
    value = from_neutral(kind, neutral, c.server.config)
    if value is None:
        raise ReplyError("ERR Bad data format")
    when = None
    if ttl:
        when = ttl if absttl else now_ms() + ttl
        if math.isinf(when) or when > 2**63 - 1:
            raise ReplyError("ERR Invalid TTL value, must be >= 0")
    ks = db.ks
    existed = db.lookup(key) is not None
    if when is not None and when <= now_ms():
        # Already expired: the key is not created (an existing one is removed with REPLACE).
        if existed:
            db.delete(key)
            ks.dirty += 1
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        return OK
    db.set(key, value)
    if when is not None:
        db.set_expire(key, when)
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "restore", key, db.id)
    return OK
