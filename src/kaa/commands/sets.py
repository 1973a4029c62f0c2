"""Set commands (t_set.c), plus the cursor scan shared with HSCAN.

Replies and side effects follow Valkey 8: WRONGTYPE where it checks types, empty
sets deleted, keyspace events, dirty counts, and the propagation rewrites (SPOP as
SREM, or DEL/UNLINK when it empties the set). SMEMBERS, SINTER, SUNION, SDIFF and
SPOP with a count reply with a RESP3 set. The encoding a stored result ends with is
the one Valkey's algorithms would produce (see kaa.types.set).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from kaa.commands.args import ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE, parse_int_or_none
from kaa.commands.registry import KeySpec, command
from kaa.engine.glob import glob_match
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_SET
from kaa.engine.scan import HashRangeIndex, parse_cursor
from kaa.protocol.reply import ReplyError, SetReply
from kaa.server.client import NO_REPLY
from kaa.server.obuf import reply_over_hard_limit
from kaa.types.set import HASHTABLE, INTSET, LISTPACK, SMALL_RANDOM, SetValue, is_int64

LONG_MAX = (1 << 63) - 1

ERR_POSITIVE = ReplyError("ERR value is out of range, must be positive")
ERR_LONG_RANGE = ReplyError(
    f"ERR value is out of range, value must between {-LONG_MAX} and {LONG_MAX}"
)
ERR_INVALID_CURSOR = ReplyError("ERR invalid cursor")
ERR_NUMKEYS = ReplyError("ERR numkeys should be greater than 0")
ERR_NUMKEYS_ARGS = ReplyError("ERR Number of keys can't be greater than number of args")
ERR_LIMIT_NEG = ReplyError("ERR LIMIT can't be negative")

_B_SREM = b"SREM"
_B_DEL = b"DEL"
_B_UNLINK = b"UNLINK"
EMPTY_SCAN: list[Any] = [b"0", []]
# SPOP propagates SREM in batches of this many members (Valkey's 1024).
_SPOP_BATCH = 1024
# SPOP's and SRANDMEMBER's strategy thresholds (SPOP_MOVE_STRATEGY_MUL,
# SRANDMEMBER_SUB_STRATEGY_MUL).
_SPOP_MOVE_MUL = 5
_SRAND_SUB_MUL = 3


def _ks(*flags: str, begin: int = 1, last: int = 0) -> KeySpec:
    """A key spec as in the command's JSON (access flags upper case, the rest lower)."""
    return KeySpec(flags=spec_flags(flags), begin_index=begin, last=last)


def spec_flags(flags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f if f in ("RO", "RW", "OW", "RM") else f.lower() for f in flags)


_RW_INSERT = (_ks("RW", "INSERT"),)
_RW_DELETE = (_ks("RW", "DELETE"),)
_RO_ACCESS = (_ks("RO", "ACCESS"),)
_RO = (_ks("RO"),)
_RO_ACCESS_ALL = (_ks("RO", "ACCESS", last=-1),)
_STORE = (_ks("OW", "UPDATE"), _ks("RO", "ACCESS", begin=2, last=-1))


def _a(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    """One COMMAND DOCS argument, with the keys of Valkey's command JSON."""
    return {"name": name, "type": type_, **kw}


_ARGS: dict[str, tuple[dict[str, Any], ...]] = {
    "sadd": (_a("key", "key", key_spec_index=0), _a("member", "string", multiple=True),),
    "srem": (_a("key", "key", key_spec_index=0), _a("member", "string", multiple=True),),
    "smembers": (_a("key", "key", key_spec_index=0),),
    "sismember": (_a("key", "key", key_spec_index=0), _a("member", "string"),),
    "smismember": (_a("key", "key", key_spec_index=0), _a("member", "string", multiple=True),),
    "scard": (_a("key", "key", key_spec_index=0),),
    "spop": (
        _a("key", "key", key_spec_index=0),
        _a("count", "integer", since="3.2.0", optional=True),
    ),
    "srandmember": (
        _a("key", "key", key_spec_index=0),
        _a("count", "integer", since="2.6.0", optional=True),
    ),
    "smove": (
        _a("source", "key", key_spec_index=0),
        _a("destination", "key", key_spec_index=1),
        _a("member", "string"),
    ),
    "sinter": (_a("key", "key", key_spec_index=0, multiple=True),),
    "sintercard": (
        _a("numkeys", "integer"),
        _a("key", "key", key_spec_index=0, multiple=True),
        _a("limit", "integer", token="LIMIT", optional=True),
    ),
    "sinterstore": (
        _a("destination", "key", key_spec_index=0),
        _a("key", "key", key_spec_index=1, multiple=True),
    ),
    "sunion": (_a("key", "key", key_spec_index=0, multiple=True),),
    "sunionstore": (
        _a("destination", "key", key_spec_index=0),
        _a("key", "key", key_spec_index=1, multiple=True),
    ),
    "sdiff": (_a("key", "key", key_spec_index=0, multiple=True),),
    "sdiffstore": (
        _a("destination", "key", key_spec_index=0),
        _a("key", "key", key_spec_index=1, multiple=True),
    ),
    "sscan": (
        _a("key", "key", key_spec_index=0),
        _a("cursor", "integer"),
        _a("pattern", "pattern", token="MATCH", optional=True),
        _a("count", "integer", token="COUNT", optional=True),
    ),
}


# ---------------------------------------------------------------------------
# Helpers shared with other families
# ---------------------------------------------------------------------------


def member_index(obj: Any, keys: Any) -> HashRangeIndex:
    """The scan/random index of a collection object (``obj.index``) over ``keys``
    (its members or fields), built on first use and rebuilt when it drifted."""
    idx = obj.index
    n = len(keys)
    if idx is None:
        idx = obj.index = HashRangeIndex(keys, n)
    elif idx.size != n or idx.needs_resize():
        idx.rebuild(keys, n)
    return idx  # type: ignore[no-any-return]


def parse_scan_options(argv: list[bytes], start: int, kind: str) -> tuple[int, bytes | None, bool]:
    """COUNT / MATCH / NOVALUES / NOSCORES of HSCAN, SSCAN (kind 'hash', 'set', 'zset'),
    as scanGenericCommand parses them; returns (count, pattern or None, only_keys)."""
    count = 10
    pat: bytes | None = None
    only_keys = False
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
            p = argv[i + 1]
            pat = None if p == b"*" else p
            i += 2
        elif opt == b"novalues":
            if kind != "hash":
                raise ReplyError("ERR NOVALUES option can only be used in HSCAN")
            only_keys = True
            i += 1
        elif opt == b"noscores":
            if kind != "zset":
                raise ReplyError("ERR NOSCORES option can only be used in ZSCAN")
            only_keys = True
            i += 1
        else:
            raise ERR_SYNTAX
    return count, pat, only_keys


def scan_cursor(arg: bytes) -> int:
    cur = parse_cursor(arg)
    if cur is None:
        raise ERR_INVALID_CURSOR
    return cur


def _lookup_set_read(db: Any, key: bytes) -> SetValue | None:
    v = db.lookup_read(key)
    if v is None or type(v) is SetValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _lookup_set_write(db: Any, key: bytes) -> SetValue | None:
    v = db.lookup(key)
    if v is None or type(v) is SetValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _random_pick(s: SetValue) -> bytes:
    """One random member; big sets use the index for an O(1) pick."""
    m = s.m
    if len(m) > SMALL_RANDOM:
        member_index(s, m)
    return s.random_member()


def _sample_unique(s: SetValue, k: int) -> list[bytes]:
    """k distinct random members (0 < k < len(s))."""
    m = s.m
    n = len(m)
    if n <= SMALL_RANDOM or k * _SRAND_SUB_MUL > n:
        return random.sample(tuple(m), k)
    idx = member_index(s, m)
    out: set[bytes] = set()
    pick = idx.random_key
    while len(out) < k:
        out.add(pick())
    return list(out)


def _reply_order(members: Iterable[bytes], intset: bool) -> SetReply:
    """A set reply, in ascending numeric order when Valkey would iterate an intset."""
    if intset:
        return SetReply(sorted(members, key=int))
    return SetReply(members)


# ---------------------------------------------------------------------------
# Single-set commands
# ---------------------------------------------------------------------------


@command("sadd", -3, "write denyoom fast", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Adds one or more members to a set. Creates the key if it doesn't exist.",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
                    "is called with multiple arguments.",
         history=(("2.4.0", "Accepts multiple `member` arguments."),),
         arguments=_ARGS["sadd"], key_specs=_RW_INSERT)
def sadd(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    cfg = c.server.config
    s = db.lookup(key)
    nargs = len(argv) - 2
    new_key = s is None
    if s is None:
        s = SetValue.create(argv[2], nargs, cfg)
        db.add(key, s)
    elif type(s) is not SetValue:
        raise ERR_WRONGTYPE
    elif s.enc != HASHTABLE:  # maybe_convert never changes a hash table
        s.maybe_convert(nargs, cfg)
    m = s.m
    if s.enc == HASHTABLE and s.index is None:
        before = len(m)
        if nargs == 1:
            m.add(argv[2])
        else:
            m.update(argv[2:])
        added = len(m) - before
    elif nargs == 1 and argv[2] in m:
        added = 0  # s.add returns False before any conversion
    else:
        added = 0
        add = s.add
        for x in argv[2:]:
            if add(x, cfg):
                added += 1
    ks = db.ks
    if added:
        if not new_key:
            db.touch(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_SET, "sadd", key, db.id)
        ks.dirty += added
    return added


@command("srem", -3, "write fast", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Removes one or more members from a set. Deletes the set if the last member "
                 "was removed.",
         complexity="O(N) where N is the number of members to be removed.",
         history=(("2.4.0", "Accepts multiple `member` arguments."),),
         arguments=_ARGS["srem"], key_specs=_RW_DELETE)
def srem(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    s = _lookup_set_write(db, key)
    if s is None:
        return 0
    deleted = 0
    removed_key = False
    rm = s.remove
    for x in argv[2:]:
        if rm(x):
            deleted += 1
            if not s.m:
                db.delete(key)
                removed_key = True
                break
    if deleted:
        ks = db.ks
        if not removed_key:
            db.touch(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_SET, "srem", key, db.id)
            if removed_key:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        ks.dirty += deleted
    return deleted


@command("smembers", 2, "readonly", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Returns all members of a set.", complexity="O(N) where N is the set cardinality.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["smembers"], key_specs=_RO_ACCESS)
def smembers(c: Any, argv: list[bytes]) -> Any:
    s = _lookup_set_read(c.db, argv[1])
    if s is None:
        return SetReply()
    return _reply_order(s.m, s.enc == INTSET)


@command("sismember", 3, "readonly fast", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Determines whether a member belongs to a set.", complexity="O(1)",
         arguments=_ARGS["sismember"], key_specs=_RO)
def sismember(c: Any, argv: list[bytes]) -> Any:
    s = _lookup_set_read(c.db, argv[1])
    if s is None:
        return 0
    return 1 if argv[2] in s.m else 0


@command("smismember", -3, "readonly fast", "set", keys=(1, 1, 1), group="set", since="6.2.0",
         summary="Determines whether multiple members belong to a set.",
         complexity="O(N) where N is the number of elements being checked for membership",
         arguments=_ARGS["smismember"], key_specs=_RO_ACCESS)
def smismember(c: Any, argv: list[bytes]) -> Any:
    s = _lookup_set_read(c.db, argv[1])
    if s is None:
        return [0] * (len(argv) - 2)
    m = s.m
    return [1 if x in m else 0 for x in argv[2:]]


@command("scard", 2, "readonly fast", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Returns the number of members in a set.", complexity="O(1)",
         arguments=_ARGS["scard"], key_specs=_RO)
def scard(c: Any, argv: list[bytes]) -> Any:
    s = _lookup_set_read(c.db, argv[1])
    return 0 if s is None else len(s.m)


@command("spop", -2, "write fast", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Returns one or more random members from a set after removing them. "
                 "Deletes the set if the last member was popped.",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of "
                    "the passed count.",
         history=(("3.2.0", "Added the `count` argument."),), tips=("nondeterministic_output",),
         arguments=_ARGS["spop"], key_specs=(_ks("RW", "ACCESS", "DELETE"),))
def spop(c: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        raise ERR_SYNTAX
    db = c.db
    key = argv[1]
    s = _lookup_set_write(db, key)
    if s is None:
        return None
    # _random_pick(s) then s.remove(ele), inlined (same random draws).
    m = s.m
    if len(m) > SMALL_RANDOM:
        idx = member_index(s, m)
        ele = idx.random_key()
        m.remove(ele)
        idx.discard(ele)
    else:
        ele = random.choice(tuple(m))
        m.remove(ele)
        idx = s.index
        if idx is not None:
            idx.discard(ele)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_SET, "spop", key, db.id)
    c.propagate_argv = [_B_SREM, key, ele]
    if not s.m:
        db.delete(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
    else:
        db.touch(key)
    ks.dirty += 1
    return ele


def _spop_count(c: Any, argv: list[bytes]) -> Any:
    count = parse_int_or_none(argv[2])
    if count is None or count < 0:
        raise ERR_POSITIVE
    db = c.db
    key = argv[1]
    s = _lookup_set_write(db, key)
    if s is None or count == 0:
        return SetReply()
    ks = db.ks
    size = len(s.m)
    if ks.notify_flags:
        ks.notify(NOTIFY_SET, "spop", key, db.id)
    ks.dirty += size if count >= size else count
    if count >= size:
        # The whole set: reply with it, delete the key, propagate DEL or UNLINK.
        reply = _reply_order(s.m, s.enc == INTSET)
        db.delete(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        lazy = c.server.config.lazyfree_lazy_server_del
        c.propagate_argv = [_B_UNLINK if lazy else _B_DEL, key]
        return reply
    remaining = size - count
    m = s.m
    if remaining * _SPOP_MOVE_MUL > count:
        popped = _sample_unique(s, count)
        rm = s.remove
        for x in popped:
            rm(x)
    else:
        # Valkey keeps `remaining` random members in a new set (listpack, or intset
        # when the set was one) and replies with the rest.
        keep = set(_sample_unique(s, remaining))
        popped = [x for x in m if x not in keep]
        start = INTSET if s.enc == INTSET else LISTPACK
        newset = SetValue.build(keep, c.server.config, start)
        s.replace_members(newset.m)
        s.enc = newset.enc
    db.touch(key)
    # Propagate as SREM commands of at most 1024 members; the last batch is this
    # command's own propagation, the earlier ones go out now (in order).
    srv = c.server
    batches = [popped[i : i + _SPOP_BATCH] for i in range(0, len(popped), _SPOP_BATCH)]
    if srv.propagating:
        for b in batches[:-1]:
            srv.propagate(db.id, [_B_SREM, key, *b])
    c.propagate_argv = [_B_SREM, key, *batches[-1]]
    return SetReply(popped)


@command("srandmember", -2, "readonly", "set", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Get one or multiple random members from a set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute "
                    "value of the passed count.",
         history=(("2.6.0", "Added the optional `count` argument."),),
         tips=("nondeterministic_output",),
         arguments=_ARGS["srandmember"], key_specs=_RO_ACCESS)
def srandmember(c: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _srandmember_count(c, argv)
    if len(argv) > 3:
        raise ERR_SYNTAX
    s = _lookup_set_read(c.db, argv[1])
    if s is None:
        return None
    return _random_pick(s)


def _srandmember_count(c: Any, argv: list[bytes]) -> Any:
    n = parse_int_or_none(argv[2])
    if n is None:
        raise ERR_NOT_INT
    if n < -LONG_MAX:
        raise ERR_LONG_RANGE
    s = _lookup_set_read(c.db, argv[1])
    if s is None or n == 0:
        return []
    m = s.m
    size = len(m)
    if n < 0 or n == 1:
        count = -n if n < 0 else 1
        if reply_over_hard_limit(c, count):
            return NO_REPLY
        if size <= SMALL_RANDOM:
            return random.choices(tuple(m), k=count)
        pick = member_index(s, m).random_key
        return [pick() for _ in range(count)]
    if n >= size:
        return s.ordered()
    return _sample_unique(s, n)


@command("smove", 4, "write fast", "set", keys=(1, 2, 1), group="set", since="1.0.0",
         summary="Moves a member from one set to another.", complexity="O(1)",
         arguments=_ARGS["smove"],
         key_specs=(_ks("RW", "ACCESS", "DELETE"), _ks("RW", "INSERT", begin=2)))
def smove(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    src_key, dst_key, ele = argv[1], argv[2], argv[3]
    src = db.lookup(src_key)
    dst = db.lookup(dst_key)
    if src is None:
        return 0
    if type(src) is not SetValue or (dst is not None and type(dst) is not SetValue):
        raise ERR_WRONGTYPE
    if src is dst:
        return 1 if ele in src.m else 0
    if not src.remove(ele):
        return 0
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_SET, "srem", src_key, db.id)
    if not src.m:
        db.delete(src_key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", src_key, db.id)
    else:
        db.touch(src_key)
    cfg = c.server.config
    if dst is None:
        dst = SetValue.create(ele, 1, cfg)
        db.add(dst_key, dst)
    ks.dirty += 1
    if dst.add(ele, cfg):
        ks.dirty += 1
        db.touch(dst_key)
        if ks.notify_flags:
            ks.notify(NOTIFY_SET, "sadd", dst_key, db.id)
    return 1


@command("sscan", -3, "readonly", "set", keys=(1, 1, 1), group="set", since="2.8.0",
         summary="Iterates over members of a set.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection.",
         tips=("nondeterministic_output",),
         arguments=_ARGS["sscan"], key_specs=_RO_ACCESS)
def sscan(c: Any, argv: list[bytes]) -> Any:
    cursor = scan_cursor(argv[2])
    s = _lookup_set_read(c.db, argv[1])
    if s is None:
        return EMPTY_SCAN
    count, pat, _ = parse_scan_options(argv, 3, "set")
    m = s.m
    if s.enc != HASHTABLE:
        # Compact encodings are returned whole, with cursor 0 (Valkey does the same).
        items = s.ordered()
        nxt = 0
    else:
        nxt, items = member_index(s, m).scan(cursor, count)
    if pat is not None:
        items = [x for x in items if glob_match(pat, x)]
    return [b"%d" % nxt, items]


# ---------------------------------------------------------------------------
# Multi-set commands
# ---------------------------------------------------------------------------


def _load_sets(c: Any, keys: list[bytes]) -> list[SetValue | None]:
    """The sets at keys (None for missing ones); WRONGTYPE as soon as one is not a set."""
    db = c.db
    out: list[SetValue | None] = []
    for k in keys:
        v = db.lookup_read(k)
        if v is not None and type(v) is not SetValue:
            raise ERR_WRONGTYPE
        out.append(v)
    return out


def _store_result(c: Any, dst: bytes, newset: SetValue | None, event: str) -> int:
    """Store a STORE command's result at dst (an empty result deletes dst)."""
    db = c.db
    ks = db.ks
    if newset is not None and newset.m:
        db.set(dst, newset)
        if ks.notify_flags:
            ks.notify(NOTIFY_SET, event, dst, db.id)
        ks.dirty += 1
        return len(newset.m)
    if db.delete(dst):
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", dst, db.id)
    return 0


def _inter(sets: list[SetValue]) -> tuple[SetValue, set[bytes]]:
    """The smallest set (Valkey iterates it) and the intersection of all."""
    order = sorted(sets, key=lambda s: len(s.m))
    first = order[0]
    others = [s.m for s in order[1:] if s is not first]
    return first, first.m.intersection(*others) if others else set(first.m)


def _sinter_generic(c: Any, keys: list[bytes], dst: bytes | None) -> Any:
    sets = _load_sets(c, keys)
    if any(s is None for s in sets):
        if dst is not None:
            return _store_result(c, dst, None, "sinterstore")
        return SetReply()
    present = [s for s in sets if s is not None]
    first, res = _inter(present)
    if dst is None:
        return _reply_order(res, first.enc == INTSET)
    newset = SetValue.from_result(res, c.server.config, first.enc == INTSET) if res else None
    return _store_result(c, dst, newset, "sinterstore")


@command("sinter", -2, "readonly", "set", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Returns the intersect of multiple sets.",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["sinter"], key_specs=_RO_ACCESS_ALL)
def sinter(c: Any, argv: list[bytes]) -> Any:
    return _sinter_generic(c, argv[1:], None)


@command("sinterstore", -3, "write denyoom", "set", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Stores the intersect of multiple sets in a key.",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         arguments=_ARGS["sinterstore"], key_specs=_STORE)
def sinterstore(c: Any, argv: list[bytes]) -> Any:
    return _sinter_generic(c, argv[2:], argv[1])


def _sintercard_keys(argv: list[bytes]) -> list[int]:
    n = parse_int_or_none(argv[1]) if len(argv) > 1 else None
    if n is None or n < 1 or n > len(argv) - 2:
        return []
    return list(range(2, 2 + n))


@command("sintercard", -3, "readonly movablekeys", "set", group="set", since="7.0.0",
         summary="Returns the number of members of the intersect of multiple sets.",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         keys_fn=_sintercard_keys,
         arguments=_ARGS["sintercard"],
         key_specs=(KeySpec(flags=("RO", "access"), begin_index=1, keynum=(0, 1, 1)),))
def sintercard(c: Any, argv: list[bytes]) -> Any:
    numkeys = parse_int_or_none(argv[1])
    if numkeys is None or numkeys < 1:
        raise ERR_NUMKEYS
    if numkeys > len(argv) - 2:
        raise ERR_NUMKEYS_ARGS
    limit = 0
    j = 2 + numkeys
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"limit" and n - 1 - j > 0:
            j += 1
            v = parse_int_or_none(argv[j])
            if v is None or v < 0:
                raise ERR_LIMIT_NEG
            limit = v
        else:
            raise ERR_SYNTAX
        j += 1
    sets = _load_sets(c, argv[2 : 2 + numkeys])
    if any(s is None for s in sets):
        return 0
    present = [s for s in sets if s is not None]
    order = sorted(present, key=lambda s: len(s.m))
    first = order[0]
    others = [s.m for s in order[1:] if s is not first]
    if not limit:
        return len(first.m.intersection(*others)) if others else len(first.m)
    card = 0
    for x in first.m:
        for o in others:
            if x not in o:
                break
        else:
            card += 1
            if card >= limit:
                break
    return card


def _sequence_encoding(seq: Iterable[bytes], n: int, cfg: Any) -> int:
    """The encoding a set reaches when the distinct members ``seq`` (``n`` of them) are
    added one by one to an empty intset, as SUNIONSTORE/SDIFFSTORE build results."""
    intset_max = min(cfg.set_max_intset_entries, 1 << 30)
    lp_max = cfg.set_max_listpack_entries
    lp_val = cfg.set_max_listpack_value
    if n > intset_max and n > lp_max:
        return HASHTABLE
    ints = 0
    widest = 0
    it = iter(seq)
    for x in it:
        if is_int64(x):
            ints += 1
            if len(x) > widest:
                widest = len(x)
            continue
        # The first non-integer: the intset becomes a listpack if it may.
        if ints > intset_max or widest > lp_val or n > lp_max or len(x) > lp_val:
            return HASHTABLE
        for y in it:
            if len(y) > lp_val:
                return HASHTABLE
        return LISTPACK
    return INTSET if ints <= intset_max else HASHTABLE


def _union_diff(c: Any, keys: list[bytes], dst: bytes | None, diff: bool) -> Any:
    sets = _load_sets(c, keys)
    present = [s for s in sets if s is not None]
    first = sets[0]
    result: set[bytes]
    if not diff:
        result = set().union(*[s.m for s in present])
    elif first is None or any(s is first for s in sets[1:]):
        result = set()
    else:
        others = [s.m for s in sets[1:] if s is not None]
        result = first.m.difference(*others) if others else set(first.m)
    cfg = c.server.config
    if dst is None:
        # Valkey builds the reply in an intset when every input is one.
        intset = all(s.enc == INTSET for s in present) and len(result) <= min(
            cfg.set_max_intset_entries, 1 << 30)
        return _reply_order(result, intset)
    event = "sdiffstore" if diff else "sunionstore"
    if not result:
        return _store_result(c, dst, None, event)
    # The stored set's encoding depends on the order Valkey adds members in.
    seq: Iterable[bytes]
    if diff:
        assert first is not None
        algo_one = (len(first.m) * len(present)) // 2
        algo_two = sum(len(s.m) for s in present)
        if algo_one > algo_two:
            # Algorithm 2 adds the whole first set, then removes the others' members.
            n = len(first.m)
            seq = first.ordered()
        else:
            n = len(result)
            seq = (x for x in first.ordered() if x in result)
    else:
        n = len(result)
        seq = _distinct_in_order(present) if n <= max(
            cfg.set_max_intset_entries, cfg.set_max_listpack_entries) else ()
    newset = SetValue(result, _sequence_encoding(seq, n, cfg))
    return _store_result(c, dst, newset, event)


def _distinct_in_order(sets: list[SetValue]) -> list[bytes]:
    seen: set[bytes] = set()
    out: list[bytes] = []
    for s in sets:
        for x in s.ordered():
            if x not in seen:
                seen.add(x)
                out.append(x)
    return out


@command("sunion", -2, "readonly", "set", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Returns the union of multiple sets.",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["sunion"], key_specs=_RO_ACCESS_ALL)
def sunion(c: Any, argv: list[bytes]) -> Any:
    return _union_diff(c, argv[1:], None, False)


@command("sunionstore", -3, "write denyoom", "set", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Stores the union of multiple sets in a key.",
         complexity="O(N) where N is the total number of elements in all given sets.",
         arguments=_ARGS["sunionstore"], key_specs=_STORE)
def sunionstore(c: Any, argv: list[bytes]) -> Any:
    return _union_diff(c, argv[2:], argv[1], False)


@command("sdiff", -2, "readonly", "set", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Returns the difference of multiple sets.",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips=("nondeterministic_output_order",),
         arguments=_ARGS["sdiff"], key_specs=_RO_ACCESS_ALL)
def sdiff(c: Any, argv: list[bytes]) -> Any:
    return _union_diff(c, argv[1:], None, True)


@command("sdiffstore", -3, "write denyoom", "set", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Stores the difference of multiple sets in a key.",
         complexity="O(N) where N is the total number of elements in all given sets.",
         arguments=_ARGS["sdiffstore"], key_specs=_STORE)
def sdiffstore(c: Any, argv: list[bytes]) -> Any:
    return _union_diff(c, argv[2:], argv[1], True)
