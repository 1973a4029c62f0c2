"""Sorted-set commands (Valkey's t_zset.c command side).

The value object and the range arithmetic live in ``kaa.types.zset``; this module
parses arguments with Valkey's error texts, applies the change, counts
``dirty``, signals the key (WATCH, tracking, blocked clients) and sends keyspace
notifications, then shapes the reply for RESP2 (flat member/score lists, scores as
bulk strings) or RESP3 (``[member, double]`` pairs).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from kaa.commands.args import (
    ERR_NOT_FLOAT,
    ERR_NOT_INT,
    ERR_SYNTAX,
    ERR_WRONGTYPE,
    LLONG_MAX,
    parse_int,
    parse_int_or_none,
)
from kaa.commands.registry import KeySpec, command, wrong_arity
from kaa.engine.blocking import block_client, deny_blocking, parse_timeout
from kaa.engine.glob import glob_match
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_ZSET
from kaa.engine.scan import HashRangeIndex, parse_cursor
from kaa.protocol.reply import EMPTY_ARRAY, NULL_ARRAY, ReplyError, format_double
from kaa.server.client import NO_REPLY
from kaa.server.obuf import reply_over_hard_limit
from kaa.types.zset import (
    OUT_ADDED,
    OUT_NAN,
    OUT_NOP,
    OUT_UPDATED,
    ZADD_GT,
    ZADD_INCR,
    ZADD_LT,
    ZADD_NX,
    ZADD_XX,
    LexRange,
    ScoreRange,
    ZSet,
    g17,
    parse_lex_range,
    parse_score_range,
    string2d,
)

ERR_MINMAX_FLOAT = ReplyError("ERR min or max is not a float")
ERR_MINMAX_LEX = ReplyError("ERR min or max not valid string range item")
ERR_NAN = ReplyError("ERR resulting score is not a number (NaN)")
ERR_POSITIVE = ReplyError("ERR value is out of range, must be positive")
ERR_CURSOR = ReplyError("ERR invalid cursor")
_EMPTY_SCAN = [b"0", []]

_RANK, _SCORE, _LEX = 1, 2, 3
_AGG_SUM, _AGG_MIN, _AGG_MAX = 1, 2, 3
_UNION, _INTER, _DIFF = 1, 2, 3


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _limits(c: Any) -> tuple[int, int]:
    cfg = c.server.config
    return cfg.zset_max_listpack_entries, cfg.zset_max_listpack_value


def _read(db: Any, key: bytes) -> ZSet | None:
    """The sorted set at key for a read command (counts hits/misses)."""
    v = db.lookup_read(key)
    if v is None or type(v) is ZSet:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _write(db: Any, key: bytes) -> ZSet | None:
    v = db.lookup(key)
    if v is None or type(v) is ZSet:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _positive(s: bytes, msg: ReplyError = ERR_POSITIVE) -> int:
    """getPositiveLongFromObjectOrReply: one message for non-numbers and negatives."""
    v = parse_int_or_none(s)
    if v is None or v < 0:
        raise msg
    return v


def _range_long(s: bytes, lo: int, hi: int, msg: str | None = None) -> int:
    """getRangeLongFromObjectOrReply."""
    v = parse_int_or_none(s)
    if v is None:
        raise ReplyError("ERR " + msg) if msg else ERR_NOT_INT
    if v < lo or v > hi:
        raise ReplyError("ERR " + (msg or f"value is out of range, value must between {lo} and {hi}"))
    return v


def _score_spec(lo: bytes, hi: bytes) -> ScoreRange:
    spec = parse_score_range(lo, hi)
    if spec is None:
        raise ERR_MINMAX_FLOAT
    return spec


def _lex_spec(lo: bytes, hi: bytes) -> LexRange:
    spec = parse_lex_range(lo, hi)
    if spec is None:
        raise ERR_MINMAX_LEX
    return spec


def _pairs_reply(c: Any, pairs: Iterable[tuple[float, bytes]], withscores: bool) -> list[Any]:
    """(score, member) pairs as a reply: members only; or member, score flat (RESP2);
    or [member, score] pairs (RESP3)."""
    if not withscores:
        return [m for _, m in pairs]
    if c.resp == 2:
        out: list[Any] = []
        add = out.append
        for s, m in pairs:
            add(m)
            add(s)
        return out
    return [[m, s] for s, m in pairs]


def _signal_and_notify(db: Any, key: bytes, event: str) -> None:
    db.touch(key)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_ZSET, event, key, db.id)


def _notify_del(db: Any, key: bytes) -> None:
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "del", key, db.id)


def _store(c: Any, dst: bytes, z: ZSet | None, event: str) -> int:
    """Store a computed set at dst (or delete dst when the result is empty)."""
    db = c.db
    ks = db.ks
    if z is not None and len(z):
        db.set(dst, z)
        if ks.notify_flags:
            ks.notify(NOTIFY_ZSET, event, dst, db.id)
        ks.dirty += 1
        return len(z)
    if db.delete(dst):
        _notify_del(db, dst)
        ks.dirty += 1
    return 0


def _ks1(flags: str, pos: int = 1, last: int = 0) -> tuple[KeySpec, ...]:
    return (KeySpec(flags=tuple(flags.split()), begin_index=pos, last=last),)


def _ks_keynum(flags: str, pos: int) -> KeySpec:
    return KeySpec(flags=tuple(flags.split()), begin_index=pos, keynum=(0, 1, 1))


def _numkeys_keys(pos: int, with_dst: bool) -> Any:
    """keys_fn for ``[dst] numkeys key [key ...]`` commands."""

    def keys(argv: list[bytes]) -> list[int]:
        if pos >= len(argv):
            return []
        n = parse_int_or_none(argv[pos])
        if n is None or n < 1 or n > len(argv) - pos - 1:
            return []
        out = [1] if with_dst else []
        out.extend(range(pos + 1, pos + 1 + n))
        return out

    return keys


_RO = _ks1("RO access")


# ---- COMMAND DOCS arguments (the "arguments" of Valkey's command JSON) ------------------------
def _a(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **kw}


def _tok(name: str, **kw: Any) -> dict[str, Any]:
    return _a(name, "pure-token", token=name.upper(), **kw)


def _group(kind: str, name: str, *subs: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return _a(name, kind, arguments=subs, **kw)


_KEY = _a("key", "key", key_spec_index=0)
_KEYS0 = _a("key", "key", key_spec_index=0, multiple=True)
_KEYS1 = _a("key", "key", key_spec_index=1, multiple=True)
_DST = _a("destination", "key", key_spec_index=0)
_NUMKEYS = _a("numkeys", "integer")
_LIMIT = _group("block", "limit", _a("offset", "integer"), _a("count", "integer"), token="LIMIT",
                optional=True)
_WITHSCORES = _tok("withscores", optional=True)
_WEIGHTS = _a("weight", "integer", token="WEIGHTS", optional=True, multiple=True)
_AGGREGATE = _group("oneof", "aggregate", _tok("sum"), _tok("min"), _tok("max"), token="AGGREGATE",
                    optional=True)
_WHERE = _group("oneof", "where", _tok("min"), _tok("max"))
_MEMBER = _a("member", "string")
_MEMBERS = _a("member", "string", multiple=True)
_SORTBY = _group("oneof", "sortby", _tok("byscore"), _tok("bylex"), optional=True)


def _minmax(type_: str, rev: bool = False) -> tuple[dict[str, Any], ...]:
    a, b = _a("min", type_), _a("max", type_)
    return (b, a) if rev else (a, b)


ARGS: dict[str, tuple[dict[str, Any], ...]] = {
    "zadd": (_KEY,
             _group("oneof", "condition", _tok("nx"), _tok("xx"), optional=True, since="3.0.2"),
             _group("oneof", "comparison", _tok("gt"), _tok("lt"), optional=True, since="6.2.0"),
             _a("change", "pure-token", token="CH", optional=True, since="3.0.2"),
             _a("increment", "pure-token", token="INCR", optional=True, since="3.0.2"),
             _group("block", "data", _a("score", "double"), _MEMBER, multiple=True)),
    "zincrby": (_KEY, _a("increment", "integer"), _MEMBER),
    "zrem": (_KEY, _MEMBERS),
    "zcard": (_KEY,),
    "zscore": (_KEY, _MEMBER),
    "zmscore": (_KEY, _MEMBERS),
    "zrank": (_KEY, _MEMBER, _tok("withscore", optional=True)),
    "zrevrank": (_KEY, _MEMBER, _tok("withscore", optional=True)),
    "zcount": (_KEY, *_minmax("double")),
    "zlexcount": (_KEY, *_minmax("string")),
    "zrange": (_KEY, _a("start", "string"), _a("stop", "string"),
               {**_SORTBY, "since": "6.2.0"}, _tok("rev", optional=True, since="6.2.0"),
               {**_LIMIT, "since": "6.2.0"}, _WITHSCORES),
    "zrangestore": (_a("dst", "key", key_spec_index=0), _a("src", "key", key_spec_index=1),
                    *_minmax("string"), _SORTBY, _tok("rev", optional=True), _LIMIT),
    "zrevrange": (_KEY, _a("start", "integer"), _a("stop", "integer"), _WITHSCORES),
    "zrangebyscore": (_KEY, *_minmax("double"), {**_WITHSCORES, "since": "2.0.0"}, _LIMIT),
    "zrevrangebyscore": (_KEY, *_minmax("double", True), _WITHSCORES, _LIMIT),
    "zrangebylex": (_KEY, *_minmax("string"), _LIMIT),
    "zrevrangebylex": (_KEY, *_minmax("string", True), _LIMIT),
    "zremrangebyrank": (_KEY, _a("start", "integer"), _a("stop", "integer")),
    "zremrangebyscore": (_KEY, *_minmax("double")),
    "zremrangebylex": (_KEY, *_minmax("string")),
    "zunion": (_NUMKEYS, _KEYS0, _WEIGHTS, _AGGREGATE, _WITHSCORES),
    "zinter": (_NUMKEYS, _KEYS0, _WEIGHTS, _AGGREGATE, _WITHSCORES),
    "zdiff": (_NUMKEYS, _KEYS0, _WITHSCORES),
    "zunionstore": (_DST, _NUMKEYS, _KEYS1, _WEIGHTS, _AGGREGATE),
    "zinterstore": (_DST, _NUMKEYS, _KEYS1, _WEIGHTS, _AGGREGATE),
    "zdiffstore": (_DST, _NUMKEYS, _KEYS1),
    "zintercard": (_NUMKEYS, _KEYS0, _a("limit", "integer", token="LIMIT", optional=True)),
    "zpopmin": (_KEY, _a("count", "integer", optional=True)),
    "zpopmax": (_KEY, _a("count", "integer", optional=True)),
    "zmpop": (_NUMKEYS, _KEYS0, _WHERE, _a("count", "integer", token="COUNT", optional=True)),
    "bzpopmin": (_KEYS0, _a("timeout", "double")),
    "bzpopmax": (_KEYS0, _a("timeout", "double")),
    "bzmpop": (_a("timeout", "double"), _NUMKEYS, _KEYS0, _WHERE,
               _a("count", "integer", token="COUNT", optional=True)),
    "zrandmember": (_KEY, _group("block", "options", _a("count", "integer"), _WITHSCORES,
                                 optional=True)),
    "zscan": (_KEY, _a("cursor", "integer"), _a("pattern", "pattern", token="MATCH", optional=True),
              _a("count", "integer", token="COUNT", optional=True), _tok("noscores", optional=True)),
}


# --------------------------------------------------------------------------
# ZADD / ZINCRBY / ZREM
# --------------------------------------------------------------------------


def _zadd_generic(c: Any, argv: list[bytes], flags: int) -> Any:
    key = argv[1]
    argc = len(argv)
    ch = False
    i = 2
    while i < argc:
        opt = argv[i].lower()
        if opt == b"nx":
            flags |= ZADD_NX
        elif opt == b"xx":
            flags |= ZADD_XX
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            flags |= ZADD_INCR
        elif opt == b"gt":
            flags |= ZADD_GT
        elif opt == b"lt":
            flags |= ZADD_LT
        else:
            break
        i += 1
    elements = argc - i
    if elements % 2 or not elements:
        raise ERR_SYNTAX
    elements //= 2
    incr = flags & ZADD_INCR
    nx = flags & ZADD_NX
    if nx and flags & ZADD_XX:
        raise ReplyError("ERR XX and NX options at the same time are not compatible")
    gt = flags & ZADD_GT
    lt = flags & ZADD_LT
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise ReplyError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 1:
        raise ReplyError("ERR INCR option supports a single increment-element pair")
    scores: list[float] = []
    maxlen = 0
    for j in range(i, argc, 2):
        sc = string2d(argv[j])
        if sc is None:
            raise ERR_NOT_FLOAT
        scores.append(sc)
        ln = len(argv[j + 1])
        if ln > maxlen:
            maxlen = ln
    db = c.db
    z = _write(db, key)
    added = updated = processed = 0
    score = 0.0
    if z is None and flags & ZADD_XX:
        return None if incr else 0
    max_entries, max_value = _limits(c)
    new = z is None
    if z is None:
        z = ZSet.create(elements, maxlen, max_entries, max_value)
    else:
        z.maybe_convert(elements, maxlen, max_entries, max_value)
    zadd = z.zadd
    err = None
    for n, sc in enumerate(scores):
        out, score = zadd(argv[i + 1 + 2 * n], sc, flags, max_entries, max_value)
        if out & OUT_NAN:
            err = ERR_NAN
            break
        if out & OUT_ADDED:
            added += 1
        elif out & OUT_UPDATED:
            updated += 1
        if not out & OUT_NOP:
            processed += 1
    ks = db.ks
    ks.dirty += added + updated
    if added or updated:
        if new:
            db.add(key, z)
        else:
            db.touch(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_ZSET, "zincr" if incr else "zadd", key, db.id)
    if err is not None:
        raise err
    if incr:
        return score if processed else None
    return added + updated if ch else added


@command("zadd", -4, "write denyoom fast", "sortedset", arguments=ARGS["zadd"],
         keys=(1, 1, 1),
         key_specs=_ks1("RW update"), group="sorted-set", since="1.2.0",
         summary="Adds one or more members to a sorted set, or updates their scores. "
                 "Creates the key if it doesn't exist.",
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.",
         history=(("2.4.0", "Accepts multiple elements."),
                  ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
                  ("6.2.0", "Added the `GT` and `LT` options.")))
def zadd(c: Any, argv: list[bytes]) -> Any:
    if len(argv) == 4:
        # ZADD key score member: no option can be a valid score, so a score that parses
        # means _zadd_generic would take exactly this path. Plain digit strings are read
        # by float() as string2d would (exact, finite, a written zero is a zero).
        s = argv[2]
        sc = float(s) if len(s) < 16 and s.isdigit() else string2d(s)
        if sc is not None:
            return _zadd_one(c, argv[1], sc, argv[3])
    return _zadd_generic(c, argv, 0)


def _zadd_one(c: Any, key: bytes, score: float, member: bytes) -> int:
    """_zadd_generic for one pair without options (the score is not NaN)."""
    db = c.db
    z = db.lookup(key)
    cfg = c.server.config
    max_entries = cfg.zset_max_listpack_entries
    max_value = cfg.zset_max_listpack_value
    if z is None:
        z = ZSet.create(1, len(member), max_entries, max_value)
        new = True
    elif type(z) is not ZSet:
        raise ERR_WRONGTYPE
    else:
        if z.listpack and (max_entries < 1 or len(member) > max_value):
            z.listpack = False  # z.maybe_convert(1, len(member), ...)
        new = False
    out = z.zadd(member, score, 0, max_entries, max_value)[0]
    if not out & (OUT_ADDED | OUT_UPDATED):
        return 0
    ks = db.ks
    ks.dirty += 1
    if new:
        db.add(key, z)
    else:
        db.touch(key)
    if ks.notify_flags:
        ks.notify(NOTIFY_ZSET, "zadd", key, db.id)
    return 1 if out & OUT_ADDED else 0


@command("zincrby", 4, "write denyoom fast", "sortedset", arguments=ARGS["zincrby"],
         keys=(1, 1, 1),
         key_specs=_ks1("RW access update"), group="sorted-set", since="1.2.0",
         summary="Increments the score of a member in a sorted set.",
         complexity="O(log(N)) where N is the number of elements in the sorted set.")
def zincrby(c: Any, argv: list[bytes]) -> Any:
    return _zadd_generic(c, argv, ZADD_INCR)


@command("zrem", -3, "write fast", "sortedset", arguments=ARGS["zrem"],
         keys=(1, 1, 1), key_specs=_ks1("RW delete"),
         group="sorted-set", since="1.2.0",
         summary="Removes one or more members from a sorted set. Deletes the sorted set if all "
                 "members were removed.",
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M the "
                    "number of elements to be removed.",
         history=(("2.4.0", "Accepts multiple elements."),))
def zrem(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    z = _write(db, key)
    if z is None:
        return 0
    deleted = 0
    removed = False
    for m in argv[2:]:
        if z.remove(m):
            deleted += 1
        if not len(z):
            db.delete(key)
            removed = True
            break
    if deleted:
        ks = db.ks
        if ks.notify_flags:
            ks.notify(NOTIFY_ZSET, "zrem", key, db.id)
            if removed:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        if not removed:
            db.touch(key)
        ks.dirty += deleted
    return deleted


# --------------------------------------------------------------------------
# ZREMRANGEBY*
# --------------------------------------------------------------------------


def _zremrange(c: Any, argv: list[bytes], kind: int) -> Any:
    key = argv[1]
    if kind == _RANK:
        event = "zremrangebyrank"
        start = parse_int(argv[2])
        end = parse_int(argv[3])
    elif kind == _SCORE:
        event = "zremrangebyscore"
        spec = _score_spec(argv[2], argv[3])
    else:
        event = "zremrangebylex"
        lspec = _lex_spec(argv[2], argv[3])
    db = c.db
    z = _write(db, key)
    if z is None:
        return 0
    if kind == _RANK:
        llen = len(z)
        if start < 0:
            start += llen
        if end < 0:
            end += llen
        if start < 0:
            start = 0
        if start > end or start >= llen:
            return 0
        if end >= llen:
            end = llen - 1
        lo, hi = start, end + 1
    elif kind == _SCORE:
        lo, hi = z.score_bounds(spec)
    else:
        lo, hi = z.lex_bounds(lspec)
    deleted = z.remove_index_range(lo, hi)
    if deleted:
        ks = db.ks
        if not len(z):
            db.delete(key)
            if ks.notify_flags:
                ks.notify(NOTIFY_ZSET, event, key, db.id)
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        else:
            _signal_and_notify(db, key, event)
        ks.dirty += deleted
    return deleted


@command("zremrangebyrank", 4, "write", "sortedset", arguments=ARGS["zremrangebyrank"],
         keys=(1, 1, 1), key_specs=_ks1("RW delete"),
         group="sorted-set", since="2.0.0",
         summary="Removes members in a sorted set within a range of indexes. Deletes the sorted "
                 "set if all members were removed.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements removed by the operation.")
def zremrangebyrank(c: Any, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, _RANK)


@command("zremrangebyscore", 4, "write", "sortedset", arguments=ARGS["zremrangebyscore"],
         keys=(1, 1, 1), key_specs=_ks1("RW delete"),
         group="sorted-set", since="1.2.0",
         summary="Removes members in a sorted set within a range of scores. Deletes the sorted "
                 "set if all members were removed.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements removed by the operation.")
def zremrangebyscore(c: Any, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, _SCORE)


@command("zremrangebylex", 4, "write", "sortedset", arguments=ARGS["zremrangebylex"],
         keys=(1, 1, 1), key_specs=_ks1("RW delete"),
         group="sorted-set", since="2.8.9",
         summary="Removes members in a sorted set within a lexicographical range. Deletes the "
                 "sorted set if all members were removed.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements removed by the operation.")
def zremrangebylex(c: Any, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, _LEX)


# --------------------------------------------------------------------------
# ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT
# --------------------------------------------------------------------------


@command("zcard", 2, "readonly fast", "sortedset", arguments=ARGS["zcard"],
         keys=(1, 1, 1), key_specs=_ks1("RO"),
         group="sorted-set", since="1.2.0", summary="Returns the number of members in a sorted set.",
         complexity="O(1)")
def zcard(c: Any, argv: list[bytes]) -> Any:
    z = _read(c.db, argv[1])
    return 0 if z is None else len(z)


@command("zscore", 3, "readonly fast", "sortedset", arguments=ARGS["zscore"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="1.2.0", summary="Returns the score of a member in a sorted set.",
         complexity="O(1)")
def zscore(c: Any, argv: list[bytes]) -> Any:
    z = _read(c.db, argv[1])
    if z is None:
        return None
    return z.scores.get(argv[2])


@command("zmscore", -3, "readonly fast", "sortedset", arguments=ARGS["zmscore"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="6.2.0",
         summary="Returns the score of one or more members in a sorted set.",
         complexity="O(N) where N is the number of members being requested.")
def zmscore(c: Any, argv: list[bytes]) -> Any:
    z = _read(c.db, argv[1])
    if z is None:
        return [None] * (len(argv) - 2)
    get = z.scores.get
    return [get(m) for m in argv[2:]]


def _zrank(c: Any, argv: list[bytes], reverse: bool) -> Any:
    if len(argv) > 4:
        raise wrong_arity("zrevrank" if reverse else "zrank")
    withscore = False
    if len(argv) > 3:
        if argv[3].lower() != b"withscore":
            raise ERR_SYNTAX
        withscore = True
    z = _read(c.db, argv[1])
    if z is None:
        return NULL_ARRAY if withscore else None
    r = z.rank(argv[2], reverse)
    if r is None:
        return NULL_ARRAY if withscore else None
    if withscore:
        return [r, z.scores[argv[2]]]
    return r


@command("zrank", -3, "readonly fast", "sortedset", arguments=ARGS["zrank"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.0.0",
         summary="Returns the index of a member in a sorted set ordered by ascending scores.",
         complexity="O(log(N))", history=(("7.2.0", "Added the optional `WITHSCORE` argument."),))
def zrank(c: Any, argv: list[bytes]) -> Any:
    return _zrank(c, argv, False)


@command("zrevrank", -3, "readonly fast", "sortedset", arguments=ARGS["zrevrank"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.0.0",
         summary="Returns the index of a member in a sorted set ordered by descending scores.",
         complexity="O(log(N))", history=(("7.2.0", "Added the optional `WITHSCORE` argument."),))
def zrevrank(c: Any, argv: list[bytes]) -> Any:
    return _zrank(c, argv, True)


@command("zcount", 4, "readonly fast", "sortedset", arguments=ARGS["zcount"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.0.0",
         summary="Returns the count of members in a sorted set that have scores within a range.",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def zcount(c: Any, argv: list[bytes]) -> Any:
    spec = _score_spec(argv[2], argv[3])
    z = _read(c.db, argv[1])
    if z is None:
        return 0
    lo, hi = z.score_bounds(spec)
    return hi - lo


@command("zlexcount", 4, "readonly fast", "sortedset", arguments=ARGS["zlexcount"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.8.9",
         summary="Returns the number of members in a sorted set within a lexicographical range.",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def zlexcount(c: Any, argv: list[bytes]) -> Any:
    spec = _lex_spec(argv[2], argv[3])
    z = _read(c.db, argv[1])
    if z is None:
        return 0
    lo, hi = z.lex_bounds(spec)
    return hi - lo


# --------------------------------------------------------------------------
# ZRANGE and friends
# --------------------------------------------------------------------------


def _rank_slice(z: ZSet, start: int, end: int, reverse: bool) -> tuple[int, int] | None:
    """Sanitize rank indexes; the forward ranks [lo, hi) they select, or None."""
    llen = len(z)
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        return None
    if end >= llen:
        end = llen - 1
    if reverse:
        return llen - 1 - end, llen - start
    return start, end + 1


def _limited(z: ZSet, lo: int, hi: int, offset: int, limit: int, reverse: bool,
             check_offset_len: bool) -> list[tuple[float, bytes]]:
    """The members of ranks [lo, hi) after LIMIT offset count, as Valkey walks them.

    A listpack set skips ``offset`` members from the first in range (a negative
    offset finds nothing); a skiplist set looks the start up with zslNthInRange,
    where a negative offset counts from the other end of the range."""
    if check_offset_len and offset > 0 and offset >= len(z):
        return []
    if lo >= hi:
        return []
    if z.listpack:
        if offset < 0:
            return []
        idx = hi - 1 - offset if reverse else lo + offset
    else:
        n = -offset - 1 if reverse else offset
        idx = lo + n if n >= 0 else hi + n
    if idx < lo or idx >= hi:
        return []
    if reverse:
        cnt = idx - lo + 1
        if 0 <= limit < cnt:
            cnt = limit
        return list(z.islice(idx - cnt + 1, idx + 1, reverse=True))
    cnt = hi - idx
    if 0 <= limit < cnt:
        cnt = limit
    return list(z.islice(idx, idx + cnt))


def _zrange_generic(c: Any, argv: list[bytes], start_idx: int, store: bool, kind: int,
                    direction: int) -> Any:
    """ZRANGE / ZRANGESTORE and the deprecated Z[REV]RANGE[BYSCORE|BYLEX].
    direction: 0 auto, 1 forward, -1 reverse; kind 0 = auto."""
    key = argv[start_idx]
    minidx = start_idx + 1
    maxidx = start_idx + 2
    withscores = False
    offset = 0
    limit = -1
    argc = len(argv)
    j = start_idx + 3
    while j < argc:
        opt = argv[j].lower()
        left = argc - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            j += 2
        elif direction == 0 and opt == b"rev":
            direction = -1
        elif kind == 0 and opt == b"bylex":
            kind = _LEX
        elif kind == 0 and opt == b"byscore":
            kind = _SCORE
        else:
            raise ERR_SYNTAX
        j += 1
    reverse = direction == -1
    if kind == 0:
        kind = _RANK
    if limit != -1 and kind == _RANK:
        raise ReplyError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and kind == _LEX:
        raise ReplyError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    if reverse and kind != _RANK:
        minidx, maxidx = maxidx, minidx
    if kind == _RANK:
        start = parse_int(argv[minidx])
        end = parse_int(argv[maxidx])
    elif kind == _SCORE:
        spec = _score_spec(argv[minidx], argv[maxidx])
    else:
        lspec = _lex_spec(argv[minidx], argv[maxidx])
    z = _read(c.db, key)
    if z is None:
        if store:
            return _store(c, argv[1], None, "zrangestore")
        return EMPTY_ARRAY
    pairs: Iterable[tuple[float, bytes]]
    if kind == _RANK:
        sl = _rank_slice(z, start, end, reverse)
        pairs = () if sl is None else z.islice(sl[0], sl[1], reverse)
    elif kind == _SCORE:
        lo, hi = z.score_bounds(spec)
        pairs = _limited(z, lo, hi, offset, limit, reverse, True)
    else:
        lo, hi = z.lex_bounds(lspec, reverse)
        pairs = _limited(z, lo, hi, offset, limit, reverse, False)
    if store:
        max_entries, max_value = _limits(c)
        res = ZSet.from_pairs(((m, s) for s, m in pairs), max_entries, max_value)
        return _store(c, argv[1], res, "zrangestore")
    return _pairs_reply(c, pairs, withscores)


_RANGE_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M "
                     "the number of elements being returned. If M is constant (e.g. always asking "
                     "for the first 10 elements with LIMIT), you can consider it O(log(N)).")


@command("zrange", -4, "readonly", "sortedset", arguments=ARGS["zrange"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="1.2.0",
         summary="Returns members in a sorted set within a range of indexes.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements returned.",
         history=(("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),))
def zrange(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, 0, 0)


@command("zrangestore", -5, "write denyoom", "sortedset", arguments=ARGS["zrangestore"],
         keys=(1, 2, 1),
         key_specs=(KeySpec(flags=("OW", "update"), begin_index=1),
                    KeySpec(flags=("RO", "access"), begin_index=2)),
         group="sorted-set", since="6.2.0",
         summary="Stores a range of members from sorted set in a key.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements stored into the destination key.")
def zrangestore(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 2, True, 0, 0)


@command("zrevrange", -4, "readonly", "sortedset", arguments=ARGS["zrevrange"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="1.2.0",
         summary="Returns members in a sorted set within a range of indexes in reverse order.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements returned.",
         doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` argument")
def zrevrange(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _RANK, -1)


@command("zrangebyscore", -4, "readonly", "sortedset", arguments=ARGS["zrangebyscore"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="1.0.5",
         summary="Returns members in a sorted set within a range of scores.",
         complexity=_RANGE_COMPLEXITY, doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `BYSCORE` argument",
         history=(("2.0.0", "Added the `WITHSCORES` modifier."),))
def zrangebyscore(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _SCORE, 1)


@command("zrevrangebyscore", -4, "readonly", "sortedset", arguments=ARGS["zrevrangebyscore"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.2.0",
         summary="Returns members in a sorted set within a range of scores in reverse order.",
         complexity=_RANGE_COMPLEXITY, doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` and `BYSCORE` arguments",
         history=(("2.1.6", "`min` and `max` can be exclusive."),))
def zrevrangebyscore(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _SCORE, -1)


@command("zrangebylex", -4, "readonly", "sortedset", arguments=ARGS["zrangebylex"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.8.9",
         summary="Returns members in a sorted set within a lexicographical range.",
         complexity=_RANGE_COMPLEXITY, doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `BYLEX` argument")
def zrangebylex(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _LEX, 1)


@command("zrevrangebylex", -4, "readonly", "sortedset", arguments=ARGS["zrevrangebylex"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.8.9",
         summary="Returns members in a sorted set within a lexicographical range in reverse order.",
         complexity=_RANGE_COMPLEXITY, doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` and `BYLEX` arguments")
def zrevrangebylex(c: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _LEX, -1)


# --------------------------------------------------------------------------
# ZUNION ZINTER ZDIFF (+STORE) ZINTERCARD
# --------------------------------------------------------------------------


class _Src:
    """One input of a set operation: a sorted set, or a set whose members score 1."""

    __slots__ = ("obj", "n", "weight", "scores")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.n = 0 if obj is None else len(obj)
        self.weight = 1.0
        # dict member -> score for sorted sets; None for plain sets.
        self.scores: dict[bytes, float] | None = obj.scores if type(obj) is ZSet else None

    def items(self) -> Iterable[tuple[bytes, float]]:
        if self.obj is None:
            return ()
        if self.scores is not None:
            return self.scores.items()
        return ((m, 1.0) for m in self.obj)

    def get(self, member: bytes) -> float | None:
        sc = self.scores
        if sc is not None:
            return sc.get(member)
        obj = self.obj
        if obj is not None and member in obj:
            return 1.0
        return None


def _aggregate(target: float, val: float, agg: int) -> float:
    if agg == _AGG_SUM:
        t = target + val
        return 0.0 if t != t else t
    if agg == _AGG_MIN:
        return val if val < target else target
    return val if val > target else target


def _zsetop(c: Any, argv: list[bytes], dst: bytes | None, numkeys_idx: int, op: int,
            card_only: bool = False) -> Any:
    setnum = parse_int(argv[numkeys_idx])
    if setnum < 1:
        name = argv[0].decode("utf-8", "replace").lower()
        raise ReplyError(f"ERR at least 1 input key is needed for '{name}' command")
    argc = len(argv)
    if setnum > argc - (numkeys_idx + 1):
        raise ERR_SYNTAX
    db = c.db
    srcs: list[_Src] = []
    j = numkeys_idx + 1
    for _ in range(setnum):
        obj = db.lookup_read(argv[j])
        if obj is not None:
            tn = getattr(type(obj), "TYPE_NAME", None)
            if tn != "zset" and tn != "set":
                raise ERR_WRONGTYPE
        srcs.append(_Src(obj))
        j += 1
    agg = _AGG_SUM
    withscores = False
    limit = 0
    while j < argc:
        remaining = argc - j
        opt = argv[j].lower()
        if op != _DIFF and not card_only and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            for src in srcs:
                w = string2d(argv[j])
                if w is None:
                    raise ReplyError("ERR weight value is not a float")
                src.weight = w
                j += 1
        elif op != _DIFF and not card_only and remaining >= 2 and opt == b"aggregate":
            a = argv[j + 1].lower()
            if a == b"sum":
                agg = _AGG_SUM
            elif a == b"min":
                agg = _AGG_MIN
            elif a == b"max":
                agg = _AGG_MAX
            else:
                raise ERR_SYNTAX
            j += 2
        elif remaining >= 1 and dst is None and not card_only and opt == b"withscores":
            withscores = True
            j += 1
        elif card_only and remaining >= 2 and opt == b"limit":
            limit = _positive(argv[j + 1], ReplyError("ERR LIMIT can't be negative"))
            j += 2
        else:
            raise ERR_SYNTAX
    if op != _DIFF:
        srcs.sort(key=lambda s: s.n)
    result: dict[bytes, float] = {}
    if op == _INTER:
        first = srcs[0]
        if first.n:
            rest = srcs[1:]
            w0 = first.weight
            card = 0
            for m, s in first.items():
                score = w0 * s
                if score != score:
                    score = 0.0
                ok = True
                for src in rest:
                    if src.obj is first.obj:
                        v = s * src.weight
                    else:
                        got = src.get(m)
                        if got is None:
                            ok = False
                            break
                        v = got * src.weight
                    score = _aggregate(score, v, agg)
                if not ok:
                    continue
                if card_only:
                    card += 1
                    if limit and card >= limit:
                        break
                else:
                    result[m] = score
            if card_only:
                return card
        elif card_only:
            return 0
    elif op == _UNION:
        for src in srcs:
            if not src.n:
                continue
            w = src.weight
            for m, s in src.items():
                score = w * s
                if score != score:
                    score = 0.0
                cur = result.get(m)
                result[m] = score if cur is None else _aggregate(cur, score, agg)
    else:
        first = srcs[0]
        if first.n:
            others = srcs[1:]
            if not any(o.obj is first.obj for o in others):
                live = [o for o in others if o.n]
                for m, s in first.items():
                    for o in live:
                        if o.get(m) is not None:
                            break
                    else:
                        result[m] = s
    if dst is not None:
        event = "zunionstore" if op == _UNION else ("zinterstore" if op == _INTER else "zdiffstore")
        if not result:
            return _store(c, dst, None, event)
        max_entries, max_value = _limits(c)
        return _store(c, dst, ZSet.from_pairs(result.items(), max_entries, max_value), event)
    ordered = sorted([(s, m) for m, s in result.items()])
    return _pairs_reply(c, ordered, withscores)


_KS_STORE = (KeySpec(flags=("OW", "update"), begin_index=1), _ks_keynum("RO access", 2))
_KS_NUMKEYS = (_ks_keynum("RO access", 1),)


@command("zunionstore", -4, "write denyoom movablekeys", "sortedset", arguments=ARGS["zunionstore"],
         keys=(1, 1, 1),
         key_specs=_KS_STORE, keys_fn=_numkeys_keys(2, True), group="sorted-set", since="2.0.0",
         summary="Stores the union of multiple sorted sets in a key.",
         complexity="O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, "
                    "and M being the number of elements in the resulting sorted set.")
def zunionstore(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, argv[1], 2, _UNION)


@command("zinterstore", -4, "write denyoom movablekeys", "sortedset", arguments=ARGS["zinterstore"],
         keys=(1, 1, 1),
         key_specs=_KS_STORE, keys_fn=_numkeys_keys(2, True), group="sorted-set", since="2.0.0",
         summary="Stores the intersect of multiple sorted sets in a key.",
         complexity="O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K "
                    "being the number of input sorted sets and M being the number of elements in "
                    "the resulting sorted set.")
def zinterstore(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, argv[1], 2, _INTER)


@command("zdiffstore", -4, "write denyoom movablekeys", "sortedset", arguments=ARGS["zdiffstore"],
         keys=(1, 1, 1),
         key_specs=_KS_STORE, keys_fn=_numkeys_keys(2, True), group="sorted-set", since="6.2.0",
         summary="Stores the difference of multiple sorted sets in a key.",
         complexity="O(L + (N-K)log(N)) worst case where L is the total number of elements in all "
                    "the sets, N is the size of the first set, and K is the size of the result set.")
def zdiffstore(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, argv[1], 2, _DIFF)


@command("zunion", -3, "readonly movablekeys", "sortedset", arguments=ARGS["zunion"],
         key_specs=_KS_NUMKEYS,
         keys_fn=_numkeys_keys(1, False), group="sorted-set", since="6.2.0",
         summary="Returns the union of multiple sorted sets.",
         complexity="O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, "
                    "and M being the number of elements in the resulting sorted set.")
def zunion(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, _UNION)


@command("zinter", -3, "readonly movablekeys", "sortedset", arguments=ARGS["zinter"],
         key_specs=_KS_NUMKEYS,
         keys_fn=_numkeys_keys(1, False), group="sorted-set", since="6.2.0",
         summary="Returns the intersect of multiple sorted sets.",
         complexity="O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K "
                    "being the number of input sorted sets and M being the number of elements in "
                    "the resulting sorted set.")
def zinter(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, _INTER)


@command("zintercard", -3, "readonly movablekeys", "sortedset", arguments=ARGS["zintercard"],
         key_specs=_KS_NUMKEYS,
         keys_fn=_numkeys_keys(1, False), group="sorted-set", since="7.0.0",
         summary="Returns the number of members of the intersect of multiple sorted sets.",
         complexity="O(N*K) worst case with N being the smallest input sorted set, K being the "
                    "number of input sorted sets.")
def zintercard(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, _INTER, True)


@command("zdiff", -3, "readonly movablekeys", "sortedset", arguments=ARGS["zdiff"],
         key_specs=_KS_NUMKEYS,
         keys_fn=_numkeys_keys(1, False), group="sorted-set", since="6.2.0",
         summary="Returns the difference between multiple sorted sets.",
         complexity="O(L + (N-K)log(N)) worst case where L is the total number of elements in all "
                    "the sets, N is the size of the first set, and K is the size of the result set.")
def zdiff(c: Any, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, _DIFF)


# --------------------------------------------------------------------------
# ZPOPMIN ZPOPMAX ZMPOP (and the serving half of their blocking forms)
# --------------------------------------------------------------------------


def zpop_serve(c: Any, key: bytes, z: ZSet, at_max: bool, count: int, emitkey: bool,
               nested: bool) -> Any:
    """Pop up to ``count`` (-1: one, unwrapped) members of the non-empty set at key,
    with Valkey's notifications, dirty counting and reply shapes:
    flat [m, s, ...]; nested [[m, s], ...]; with the key first when emitkey
    ([key, m, s] for BZPOP*, [key, [[m, s], ...]] for ZMPOP/BZMPOP)."""
    db = c.db
    ks = db.ks
    if count == -1:
        count = 1
    llen = len(z)
    n = count if count < llen else llen
    items: list[Any] = []
    pop = z.pop
    for _ in range(n):
        m, s = pop(at_max)
        if nested:
            items.append([m, s])
        else:
            items.append(m)
            items.append(s)
    ks.dirty += n
    if ks.notify_flags:
        ks.notify(NOTIFY_ZSET, "zpopmax" if at_max else "zpopmin", key, db.id)
    if not len(z):
        db.delete(key)
        _notify_del(db, key)
    else:
        db.touch(key)
    if emitkey:
        if nested:
            return [key, items]
        return [key, *items]
    return items


def _zpop_first(c: Any, keys: list[bytes], at_max: bool, count: int, emitkey: bool,
                nested: bool, nil_when_empty: bool) -> tuple[Any, bytes | None, int]:
    """genericZpopCommand over keys: (reply, key popped from, its size before)."""
    db = c.db
    z = None
    key = b""
    for key in keys:
        z = _write(db, key)
        if z is not None:
            break
    if z is None:
        return (NULL_ARRAY if nil_when_empty else EMPTY_ARRAY), None, 0
    if count == 0:
        return EMPTY_ARRAY, None, 0
    llen = len(z)
    return zpop_serve(c, key, z, at_max, count, emitkey, nested), key, llen


def _zpopminmax(c: Any, argv: list[bytes], at_max: bool) -> Any:
    if len(argv) > 3:
        raise ERR_SYNTAX
    count = -1
    if len(argv) == 3:
        count = _positive(argv[2])
    nested = c.resp > 2 and count != -1
    reply, _, _ = _zpop_first(c, [argv[1]], at_max, count, False, nested, False)
    return reply


@command("zpopmin", -2, "write fast", "sortedset", arguments=ARGS["zpopmin"],
         keys=(1, 1, 1),
         key_specs=_ks1("RW access delete"), group="sorted-set", since="5.0.0",
         summary="Returns the lowest-scoring members from a sorted set after removing them. "
                 "Deletes the sorted set if the last member was popped.",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M "
                    "being the number of elements popped.")
def zpopmin(c: Any, argv: list[bytes]) -> Any:
    return _zpopminmax(c, argv, False)


@command("zpopmax", -2, "write fast", "sortedset", arguments=ARGS["zpopmax"],
         keys=(1, 1, 1),
         key_specs=_ks1("RW access delete"), group="sorted-set", since="5.0.0",
         summary="Returns the highest-scoring members from a sorted set after removing them. "
                 "Deletes the sorted set if the last member was popped.",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M "
                    "being the number of elements popped.")
def zpopmax(c: Any, argv: list[bytes]) -> Any:
    return _zpopminmax(c, argv, True)


def parse_zmpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """ZMPOP/BZMPOP arguments: (keys, at_max, count)."""
    numkeys = _range_long(argv[numkeys_idx], 1, LLONG_MAX, "numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    argc = len(argv)
    if where_idx >= argc:
        raise ERR_SYNTAX
    where = argv[where_idx].lower()
    if where == b"min":
        at_max = False
    elif where == b"max":
        at_max = True
    else:
        raise ERR_SYNTAX
    count = -1
    j = where_idx + 1
    while j < argc:
        if count == -1 and argv[j].lower() == b"count" and j < argc - 1:
            j += 1
            count = _range_long(argv[j], 1, LLONG_MAX, "count should be greater than 0")
        else:
            raise ERR_SYNTAX
        j += 1
    if count == -1:
        count = 1
    return argv[numkeys_idx + 1 : where_idx], at_max, count


@command("zmpop", -4, "write movablekeys", "sortedset", arguments=ARGS["zmpop"],
         key_specs=(_ks_keynum("RW access delete", 1),), keys_fn=_numkeys_keys(1, False),
         group="sorted-set", since="7.0.0",
         summary="Returns the highest- or lowest-scoring members from one or more sorted sets "
                 "after removing them. Deletes the sorted set if the last member was popped.",
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number "
                    "of elements in the sorted set, and M being the number of elements popped.")
def zmpop(c: Any, argv: list[bytes]) -> Any:
    keys, at_max, count = parse_zmpop(argv, 1)
    reply, key, llen = _zpop_first(c, keys, at_max, count, True, True, True)
    if key is not None:
        # Replicated as ZPOPMIN/ZPOPMAX with a count, as Valkey does.
        c.propagate_argv = [b"ZPOPMAX" if at_max else b"ZPOPMIN", key,
                            b"%d" % (count if count < llen else llen)]
    return reply


def _bzpop(c: Any, keys: list[bytes], at_max: bool, count: int, nested: bool,
           deadline: int) -> Any:
    """Serve from the first non-empty key, or block on all of them (blockingGenericZpopCommand)."""
    db = c.db
    for key in keys:
        z = _write(db, key)
        if z is None or not len(z):
            continue
        llen = len(z)
        reply = zpop_serve(c, key, z, at_max, count, True, nested)
        # Replicated as the non-blocking ZPOPMIN/ZPOPMAX.
        name = b"ZPOPMAX" if at_max else b"ZPOPMIN"
        if count == -1:
            c.propagate_argv = [name, key]
        else:
            c.propagate_argv = [name, key, b"%d" % (count if count < llen else llen)]
        return reply
    if deny_blocking(c):
        return NULL_ARRAY
    block_client(c, keys, deadline, "zset")
    return NO_REPLY


_KS_BZPOP = (KeySpec(flags=("RW", "access", "delete"), begin_index=1, last=-2),)
_BZPOP_HISTORY = (("6.0.0", "`timeout` is interpreted as a double instead of an integer."),)


@command("bzpopmin", -3, "write fast blocking", "sortedset", arguments=ARGS["bzpopmin"],
         keys=(1, -2, 1),
         key_specs=_KS_BZPOP, group="sorted-set", since="5.0.0", history=_BZPOP_HISTORY,
         summary="Removes and returns the member with the lowest score from one or more sorted "
                 "sets. Blocks until a member is available otherwise. Deletes the sorted set if "
                 "the last element was popped.",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def bzpopmin(c: Any, argv: list[bytes]) -> Any:
    deadline = parse_timeout(argv[-1])
    return _bzpop(c, argv[1:-1], False, -1, False, deadline)


@command("bzpopmax", -3, "write fast blocking", "sortedset", arguments=ARGS["bzpopmax"],
         keys=(1, -2, 1),
         key_specs=_KS_BZPOP, group="sorted-set", since="5.0.0", history=_BZPOP_HISTORY,
         summary="Removes and returns the member with the highest score from one or more sorted "
                 "sets. Blocks until a member available otherwise.  Deletes the sorted set if the "
                 "last element was popped.",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def bzpopmax(c: Any, argv: list[bytes]) -> Any:
    deadline = parse_timeout(argv[-1])
    return _bzpop(c, argv[1:-1], True, -1, False, deadline)


@command("bzmpop", -5, "write blocking movablekeys", "sortedset", arguments=ARGS["bzmpop"],
         key_specs=(_ks_keynum("RW access delete", 2),), keys_fn=_numkeys_keys(2, False),
         group="sorted-set", since="7.0.0",
         summary="Removes and returns a member by score from one or more sorted sets. Blocks "
                 "until a member is available otherwise. Deletes the sorted set if the last "
                 "element was popped.",
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number "
                    "of elements in the sorted set, and M being the number of elements popped.")
def bzmpop(c: Any, argv: list[bytes]) -> Any:
    keys, at_max, count = parse_zmpop(argv, 2)
    deadline = parse_timeout(argv[1])
    return _bzpop(c, keys, at_max, count, True, deadline)


# --------------------------------------------------------------------------
# ZRANDMEMBER
# --------------------------------------------------------------------------


@command("zrandmember", -2, "readonly", "sortedset", arguments=ARGS["zrandmember"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="6.2.0", tips=("nondeterministic_output",),
         summary="Returns one or more random members from a sorted set.",
         complexity="O(N) where N is the number of members returned")
def zrandmember(c: Any, argv: list[bytes]) -> Any:
    argc = len(argv)
    if argc >= 3:
        count = _range_long(argv[2], -LLONG_MAX, LLONG_MAX)
        withscores = False
        if argc > 4 or (argc == 4 and argv[3].lower() != b"withscores"):
            raise ERR_SYNTAX
        if argc == 4:
            withscores = True
            if count < -(LLONG_MAX // 2) or count > LLONG_MAX // 2:
                raise ReplyError("ERR value is out of range")
        return _zrandmember_count(c, argv[1], count, withscores)
    z = _read(c.db, argv[1])
    if z is None:
        return None
    return z.random_pair()[1]


def _zrandmember_count(c: Any, key: bytes, count: int, withscores: bool) -> Any:
    z = _read(c.db, key)
    if z is None or count == 0:
        return EMPTY_ARRAY
    size = len(z)
    if count < 0 or count == 1:
        n = -count if count < 0 else 1
        if reply_over_hard_limit(c, n * (2 if withscores else 1)):
            return NO_REPLY
        order = z.order
        if n > 16 and n > size // 8:
            picks = random.choices(list(order), k=n)
        else:
            picks = [order[random.randrange(size)] for _ in range(n)]
        return _pairs_reply(c, picks, withscores)
    if count >= size:
        # The whole set, in the order Valkey's set-operation iterator walks it: highest first.
        return _pairs_reply(c, reversed(z.order), withscores)
    return _pairs_reply(c, z.random_unique(count), withscores)


# --------------------------------------------------------------------------
# ZSCAN
# --------------------------------------------------------------------------


@command("zscan", -3, "readonly", "sortedset", arguments=ARGS["zscan"],
         keys=(1, 1, 1), key_specs=_RO,
         group="sorted-set", since="2.8.0", tips=("nondeterministic_output",),
         summary="Iterates over members and scores of a sorted set.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
                    "calls for the cursor to return back to 0. N is the number of elements inside "
                    "the collection.",
         history=(("8.0.0", "Added noscores option."),))
def zscan(c: Any, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    if cursor is None:
        raise ERR_CURSOR
    z = _read(c.db, argv[1])
    if z is None:
        return _EMPTY_SCAN
    count = 10
    pattern: bytes | None = None
    noscores = False
    i = 3
    argc = len(argv)
    while i < argc:
        opt = argv[i].lower()
        left = argc - i
        if opt == b"count" and left >= 2:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise ERR_SYNTAX
            i += 2
        elif opt == b"match" and left >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
            i += 2
        elif opt == b"novalues":
            raise ReplyError("ERR NOVALUES option can only be used in HSCAN")
        elif opt == b"noscores":
            noscores = True
            i += 1
        else:
            raise ERR_SYNTAX
    out: list[bytes] = []
    if z.listpack:
        # Small sets answer in one call, scores as the listpack stores them.
        for s, m in z.order:
            if pattern is not None and not glob_match(pattern, m):
                continue
            out.append(m)
            if not noscores:
                out.append(format_double(s))
        return [b"0", out]
    idx = z.index
    if idx is None:
        idx = z.index = HashRangeIndex(z.scores, len(z))
    elif idx.size != len(z) or idx.needs_resize():
        idx.rebuild(z.scores, len(z))
    nxt, members = idx.scan(cursor, count)
    scores = z.scores
    for m in members:
        if pattern is not None and not glob_match(pattern, m):
            continue
        out.append(m)
        if not noscores:
            out.append(g17(scores[m]))
    return [b"%d" % nxt, out]


__all__ = ["zpop_serve", "parse_zmpop"]
