"""Stream commands (t_stream.c): XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID XREAD
XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XGROUP XINFO.

Replies, error texts and their order follow Valkey 8. What goes to replicas and the
AOF follows it too: XADD with ``*`` or ``<ms>-*`` propagates the ID it generated,
approximate trimming (``~``) propagates its exact effect (``=`` and the resulting
length or first ID), and the consumer-group reads and claims propagate their effect
as ``XCLAIM ... FORCE JUSTID LASTID`` per pending entry plus ``XGROUP SETID ...
ENTRIESREAD`` when the group's last ID moved (several of them wrapped in MULTI/EXEC,
as Valkey's also-propagate does).

Blocking reads use ``engine.blocking``: a blocked XREAD/XREADGROUP is simply run again
when a key it waits on is written, so the handler below is also its wake-up path.
XREAD rewrites its ``$`` IDs before blocking so that the re-run reads what arrived
after the first run. XREADGROUP also wakes when its key is deleted or its group
destroyed, and the re-run then fails with Valkey's NOGROUP error.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE, parse_int_or_none
from kaa.commands.registry import COMMANDS, KeySpec, command, container, subcommand, wrong_arity
from kaa.commands.server_cmds import arg, help_reply, syntax_error_for
from kaa.engine.blocking import block_client, deny_blocking, parse_timeout
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_STREAM
from kaa.protocol.reply import EMPTY_ARRAY, NULL_ARRAY, OK, MapPairs, Raw, ReplyError, bulk_array
from kaa.server.client import NO_REPLY
from kaa.types.stream import (
    INVALID_ENTRIES_READ,
    LISTPACK_MAX_SIZE,
    MASK64,
    MAX_ID,
    Consumer,
    ConsumerGroup,
    Nack,
    StreamValue,
    id_bytes,
)

ERR_INVALID_ID = ReplyError("ERR Invalid stream ID specified as stream command argument")
ERR_XADD_SMALLER = ReplyError(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
)
ERR_XADD_ZERO = ReplyError("ERR The ID specified in XADD must be greater than 0-0")
ERR_EXHAUSTED = ReplyError(
    "ERR The stream has exhausted the last possible ID, unable to add more items"
)
ERR_TOO_LARGE = ReplyError("ERR Elements are too large to be stored")
ERR_START_INTERVAL = ReplyError("ERR invalid start ID for the interval")
ERR_END_INTERVAL = ReplyError("ERR invalid end ID for the interval")
ERR_NO_SUCH_KEY = ReplyError("ERR no such key")
ERR_BUSYGROUP = ReplyError("BUSYGROUP Consumer Group name already exists")
ERR_MAXLEN_MINID = ReplyError(
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
)
ERR_XGROUP_NOKEY = ReplyError(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
    "want to use the MKSTREAM option to create an empty stream automatically."
)
_MEANINGLESS = (
    "ERR The {0} ID is meaningless in the context of XREADGROUP: you want to read the "
    "history of this consumer by specifying a proper ID, or use the > ID to get new "
    "messages. The {0} ID would just return an empty result set."
)

_B_XCLAIM = b"XCLAIM"
_B_XGROUP = b"XGROUP"
_B_SETID = b"SETID"
_B_CREATECONSUMER = b"CREATECONSUMER"
_B_ENTRIESREAD = b"ENTRIESREAD"
_B_ZERO = b"0"
_B_TIME = b"TIME"
_B_RETRYCOUNT = b"RETRYCOUNT"
_B_FORCE = b"FORCE"
_B_JUSTID = b"JUSTID"
_B_LASTID = b"LASTID"
_B_MULTI = b"MULTI"
_B_EXEC = b"EXEC"

TRIM_NONE = 0
TRIM_MAXLEN = 1
TRIM_MINID = 2

# Key specifications, as COMMAND INFO shows them.
_RW_UPDATE = (KeySpec(("RW", "update"), begin_index=1),)
_RW_DELETE = (KeySpec(("RW", "delete"), begin_index=1),)
_RO_ACCESS = (KeySpec(("RO", "access"), begin_index=1),)
_RO = (KeySpec(("RO",), begin_index=1),)
_XADD_SPECS = (KeySpec(("RW", "update"), begin_index=1,
                       notes="UPDATE instead of INSERT because of the optional trimming feature"),)


# ---- COMMAND DOCS arguments ------------------------------------------------------------------
def _karg(name: str = "key", multiple: bool = False) -> dict[str, Any]:
    return {**arg(name, "key", multiple=multiple), "key_spec_index": 0}


_KEY = _karg()
_GROUP = arg("group", "string")
_CONSUMER = arg("consumer", "string")
_IDS = arg("id", "string", multiple=True)
_COUNT_OPT = arg("count", "integer", token="COUNT", optional=True)
_TRIM_PARTS = (
    arg("strategy", "oneof", args=(
        arg("maxlen", "pure-token", token="MAXLEN"),
        arg("minid", "pure-token", token="MINID", since="6.2.0"))),
    arg("operator", "oneof", optional=True, args=(
        arg("equal", "pure-token", token="="),
        arg("approximately", "pure-token", token="~"))),
    arg("threshold", "string"),
    arg("count", "integer", token="LIMIT", optional=True, since="6.2.0"),
)
_ID_OR_NEW = arg("id-selector", "oneof", args=(
    arg("id", "string"), arg("new-id", "pure-token", token="$")))
_ENTRIESREAD = arg("entriesread", "integer", token="ENTRIESREAD", optional=True,
                   display="entries-read")
_STREAMS_BLOCK = arg("streams", "block", token="STREAMS", args=(_karg(multiple=True), _IDS))
_BLOCK_MS = arg("milliseconds", "integer", token="BLOCK", optional=True)

_XADD_ARGS = (
    _KEY,
    arg("nomkstream", "pure-token", token="NOMKSTREAM", optional=True, since="6.2.0"),
    arg("trim", "block", optional=True, args=_TRIM_PARTS),
    arg("id-selector", "oneof", args=(
        arg("auto-id", "pure-token", token="*"), arg("id", "string"))),
    arg("data", "block", multiple=True, args=(arg("field", "string"), arg("value", "string"))),
)
_XRANGE_ARGS = (_KEY, arg("start", "string"), arg("end", "string"), _COUNT_OPT)
_XREVRANGE_ARGS = (_KEY, arg("end", "string"), arg("start", "string"), _COUNT_OPT)
_XTRIM_ARGS = (_KEY, arg("trim", "block", args=_TRIM_PARTS))
_XSETID_ARGS = (
    _KEY, arg("last-id", "string"),
    arg("entries-added", "integer", token="ENTRIESADDED", optional=True, since="7.0.0"),
    arg("max-deleted-id", "string", token="MAXDELETEDID", optional=True, since="7.0.0"),
)
_XREAD_ARGS = (_COUNT_OPT, _BLOCK_MS, _STREAMS_BLOCK)
_XREADGROUP_ARGS = (
    arg("group-block", "block", token="GROUP", args=(_GROUP, _CONSUMER)),
    _COUNT_OPT, _BLOCK_MS,
    arg("noack", "pure-token", token="NOACK", optional=True),
    _STREAMS_BLOCK,
)
_XPENDING_ARGS = (
    _KEY, _GROUP,
    arg("filters", "block", optional=True, args=(
        arg("min-idle-time", "integer", token="IDLE", optional=True, since="6.2.0"),
        arg("start", "string"), arg("end", "string"), arg("count", "integer"),
        arg("consumer", "string", optional=True))),
)
_XCLAIM_ARGS = (
    _KEY, _GROUP, _CONSUMER, arg("min-idle-time", "string"), _IDS,
    arg("ms", "integer", token="IDLE", optional=True),
    arg("unix-time-milliseconds", "unix-time", token="TIME", optional=True),
    arg("count", "integer", token="RETRYCOUNT", optional=True),
    arg("force", "pure-token", token="FORCE", optional=True),
    arg("justid", "pure-token", token="JUSTID", optional=True),
    arg("lastid", "string", token="LASTID", optional=True),
)
_XAUTOCLAIM_ARGS = (
    _KEY, _GROUP, _CONSUMER, arg("min-idle-time", "string"), arg("start", "string"),
    _COUNT_OPT, arg("justid", "pure-token", token="JUSTID", optional=True),
)


# ---- small helpers ----------------------------------------------------------------------
def _text(b: bytes) -> str:
    """An argument inside an error message (newlines would break the protocol)."""
    return b.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")


def _stream_read(db: Any, key: bytes) -> StreamValue | None:
    v = db.lookup_read(key)
    if v is None or type(v) is StreamValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _stream_write(db: Any, key: bytes) -> StreamValue | None:
    v = db.lookup(key)
    if v is None or type(v) is StreamValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _notify(c: Any, event: str, key: bytes) -> None:
    db = c.db
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_STREAM, event, key, db.id)


def _lookup_group(s: StreamValue | None, name: bytes) -> ConsumerGroup | None:
    if s is None or s.groups is None:
        return None
    return s.groups.get(name)


def _llong(arg: bytes, err: ReplyError = ERR_NOT_INT) -> int:
    v = parse_int_or_none(arg)
    if v is None:
        raise err
    return v


def _must_obey(c: Any) -> bool:
    """Commands from our primary or the AOF are applied as they come (no LIMIT)."""
    return bool(c.is_master or c.server.loading)


def _propagate(c: Any, cmds: list[list[bytes]]) -> None:
    """Propagate these commands instead of the one that ran (alsoPropagate +
    preventCommandPropagation): alone, or as MULTI ... EXEC when there are several."""
    if len(cmds) == 1:
        c.propagate_argv = cmds[0]
        return
    c.propagate_argv = []
    if not cmds:
        return
    srv = c.server
    if not srv.propagating:
        return
    dbid = c.db.id
    if srv.prop_batch is not None:  # inside EXEC: the transaction already wraps us
        for argv in cmds:
            srv.propagate(dbid, argv)
        return
    srv.propagate(dbid, [_B_MULTI])
    for argv in cmds:
        srv.propagate(dbid, argv)
    srv.propagate(dbid, [_B_EXEC])


def _xclaim_argv(key: bytes, group: bytes, g: ConsumerGroup, idarg: bytes, nack: Nack) -> list[bytes]:
    """streamPropagateXCLAIM: an idempotent XCLAIM recreating this pending entry."""
    owner = nack.consumer.name if nack.consumer is not None else b""
    return [_B_XCLAIM, key, group, owner, _B_ZERO, idarg, _B_TIME, b"%d" % nack.delivery_time,
            _B_RETRYCOUNT, b"%d" % nack.delivery_count, _B_FORCE, _B_JUSTID, _B_LASTID,
            id_bytes(g.last_id)]


def _setid_argv(key: bytes, group: bytes, g: ConsumerGroup) -> list[bytes]:
    """streamPropagateGroupID."""
    return [_B_XGROUP, _B_SETID, key, group, id_bytes(g.last_id), _B_ENTRIESREAD,
            b"%d" % g.entries_read]


# ---- IDs --------------------------------------------------------------------------------
def _strtoull(s: bytes) -> int | None:
    """Valkey's string2ull: string2ll when canonical (negatives refused), else C's
    strtoull over the whole string (spaces, a sign and leading zeros accepted; a minus
    sign wraps around; out of range refused)."""
    v = parse_int_or_none(s)
    if v is not None:
        return v if v >= 0 else None
    t = s.lstrip(b" \t\n\v\f\r")
    neg = False
    if t[:1] == b"-" or t[:1] == b"+":
        neg = t[:1] == b"-"
        t = t[1:]
    if not t or not t.isdigit():
        return None
    v = int(t)
    if v > MASK64:
        return None
    return (-v) & MASK64 if neg else v


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False,
             star_seq: bool = False) -> tuple[int, bool]:
    """streamGenericParseIDOrReply: (ID, seq_given). ``-``/``+`` are the extremes unless
    strict; ``<ms>`` alone takes missing_seq; ``<ms>-*`` is allowed with star_seq."""
    if len(arg) > 127:
        raise ERR_INVALID_ID
    z = arg.find(b"\0")
    if z >= 0:
        arg = arg[:z]  # the C code sees a NUL-terminated string
    if arg == b"-":
        if strict:
            raise ERR_INVALID_ID
        return 0, True
    if arg == b"+":
        if strict:
            raise ERR_INVALID_ID
        return MAX_ID, True
    dash = arg.find(b"-")
    if dash < 0:
        ms = _strtoull(arg)
        if ms is None:
            raise ERR_INVALID_ID
        return (ms << 64) | missing_seq, True
    ms = _strtoull(arg[:dash])
    if ms is None:
        raise ERR_INVALID_ID
    rest = arg[dash + 1:]
    if star_seq and rest == b"*":
        return ms << 64, False
    seq = _strtoull(rest)
    if seq is None:
        raise ERR_INVALID_ID
    return (ms << 64) | seq, True


def _strict_id(arg: bytes) -> int:
    return parse_id(arg, 0, True)[0]


def _interval(arg: bytes, missing_seq: int) -> tuple[int, bool]:
    """streamParseIntervalIDOrReply: (ID, exclusive) for ``(``-prefixed open bounds."""
    if len(arg) > 1 and arg[0] == 40:  # '('
        return parse_id(arg[1:], missing_seq, True)[0], True
    return parse_id(arg, missing_seq)[0], False


def _range_bounds(start_arg: bytes, end_arg: bytes) -> tuple[int, int]:
    start, sx = _interval(start_arg, 0)
    if sx:
        if start == MAX_ID:
            raise ERR_START_INTERVAL
        start += 1
    end, ex = _interval(end_arg, MASK64)
    if ex:
        if end == 0:
            raise ERR_END_INTERVAL
        end -= 1
    return start, end


def _entry(i: int, flat: list[bytes]) -> list[Any]:
    return [id_bytes(i), flat]


# ---- XADD / XTRIM argument parsing ----------------------------------------------------------
class _TrimArgs:
    __slots__ = ("strategy", "approx", "limit", "maxlen", "minid", "arg_idx", "id_given",
                 "seq_given", "id", "nomkstream", "idpos")

    def __init__(self) -> None:
        self.strategy = TRIM_NONE
        self.approx = False
        self.limit = 0
        self.maxlen = 0
        self.minid = 0
        self.arg_idx = 0
        self.id_given = False
        self.seq_given = True
        self.id = 0
        self.nomkstream = False
        self.idpos = 0


_PLAIN_ADD = _TrimArgs()  # XADD key * ...: no trimming, auto ID (never mutated)


def _parse_trim(c: Any, argv: list[bytes], xadd: bool) -> _TrimArgs:
    """streamParseAddOrTrimArgsOrReply."""
    ta = _TrimArgs()
    n = len(argv)
    limit_given = False
    i = 2
    while i < n:
        more = n - 1 - i
        arg = argv[i]
        if xadd and arg == b"*":
            break
        opt = arg.lower()
        if opt == b"maxlen" and more:
            if ta.strategy != TRIM_NONE:
                raise ERR_MAXLEN_MINID
            ta.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                ta.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            ta.maxlen = _llong(argv[i + 1])
            if ta.maxlen < 0:
                raise ReplyError("ERR The MAXLEN argument must be >= 0.")
            i += 1
            ta.strategy = TRIM_MAXLEN
            ta.arg_idx = i
        elif opt == b"minid" and more:
            if ta.strategy != TRIM_NONE:
                raise ERR_MAXLEN_MINID
            ta.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                ta.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            ta.minid = _strict_id(argv[i + 1])
            i += 1
            ta.strategy = TRIM_MINID
            ta.arg_idx = i
        elif opt == b"limit" and more:
            ta.limit = _llong(argv[i + 1])
            if ta.limit < 0:
                raise ReplyError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and opt == b"nomkstream":
            ta.nomkstream = True
        elif xadd:
            ta.id, ta.seq_given = parse_id(arg, 0, True, True)
            ta.id_given = True
            break
        else:
            raise ERR_SYNTAX
        i += 1
    ta.idpos = i
    if ta.limit and ta.strategy == TRIM_NONE:
        raise ReplyError(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and ta.strategy == TRIM_NONE:
        raise ReplyError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if _must_obey(c):
        ta.limit = 0
    elif limit_given:
        if not ta.approx:
            raise ReplyError("ERR syntax error, LIMIT cannot be used without the special ~ option")
    elif ta.approx:
        # Bound the work of an approximate trim: at most 100 nodes by default.
        lim = 100 * c.server.config.stream_node_max_entries
        if lim <= 0:
            lim = 10000
        ta.limit = min(lim, 1000000)
    else:
        ta.limit = 0
    return ta


def _trim(s: StreamValue, ta: _TrimArgs) -> int:
    maxlen = ta.maxlen if ta.strategy == TRIM_MAXLEN else None
    return s.trim(maxlen, ta.minid, ta.approx, ta.limit)


def _rewrite_approx(argv: list[bytes], s: StreamValue, ta: _TrimArgs) -> list[bytes]:
    """streamRewriteApproxSpecifier + streamRewriteTrimArgument: ``~ n`` becomes ``= <what
    is now true>`` so that replicas and the AOF trim exactly the same entries."""
    out = argv[:]
    out[ta.arg_idx - 1] = b"="
    if ta.strategy == TRIM_MAXLEN:
        out[ta.arg_idx] = b"%d" % s.length
    else:
        out[ta.arg_idx] = id_bytes(s.edge_id(True, False))
    return out


# ---- XADD ---------------------------------------------------------------------------------
@command("xadd", -5, "write denyoom fast", "stream", keys=(1, 1, 1), key_specs=_XADD_SPECS,
         group="stream", since="5.0.0", tips=("nondeterministic_output",),
         summary="Appends a new message to a stream. Creates the key if it doesn't exist.",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the number "
         "of entries evicted.",
         history=(("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the "
                   "`LIMIT` option."),
                  ("7.0.0", "Added support for the `<ms>-*` explicit ID form.")),
         arguments=_XADD_ARGS)
def xadd(c: Any, argv: list[bytes]) -> Any:
    if argv[2] == b"*":  # the common case: no options, auto ID
        ta = _PLAIN_ADD
        idpos = 2
    else:
        ta = _parse_trim(c, argv, True)
        idpos = ta.idpos
    nvals = len(argv) - idpos - 1
    if nvals < 2 or nvals & 1:
        raise wrong_arity("xadd")
    if ta.id_given and ta.seq_given and ta.id == 0:
        raise ERR_XADD_ZERO
    db = c.db
    key = argv[1]
    s = db.lookup(key)
    new = s is None
    if s is None:
        if ta.nomkstream:
            return None
        s = StreamValue()
    elif type(s) is not StreamValue:
        raise ERR_WRONGTYPE
    last = s.last_id
    if last == MAX_ID:
        raise ERR_EXHAUSTED
    if not ta.id_given:
        i = s.next_id(now_ms())
    elif ta.seq_given:
        i = ta.id
    elif last >> 64 == ta.id >> 64:
        if last & MASK64 == MASK64:
            raise ERR_XADD_SMALLER
        i = last + 1
    else:
        i = ta.id
    if i <= last:
        raise ERR_XADD_SMALLER
    flat = argv[idpos + 1:]
    total = 0
    for v in flat:
        total += len(v)
    if total > LISTPACK_MAX_SIZE:
        raise ERR_TOO_LARGE
    cfg = c.server.config
    s.append(i, flat, total, cfg.stream_node_max_bytes, cfg.stream_node_max_entries)
    if new:
        db.add(key, s)
    idb = id_bytes(i)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_STREAM, "xadd", key, db.id)
    ks.dirty += 1
    pargv: list[bytes] | None = None
    if ta.strategy != TRIM_NONE:
        if _trim(s, ta) and ks.notify_flags:
            ks.notify(NOTIFY_STREAM, "xtrim", key, db.id)
        if ta.approx:
            pargv = _rewrite_approx(argv, s, ta)
    if not new:
        db.touch(key)
    if (not ta.id_given or not ta.seq_given) and c.server.propagating:
        # Replicas and the AOF get the ID that was generated here.
        if pargv is None:
            pargv = argv[:]
        pargv[idpos] = idb
    if pargv is not None:
        c.propagate_argv = pargv
    return idb


# ---- XRANGE XREVRANGE XLEN ----------------------------------------------------------------------
def _xrange(c: Any, argv: list[bytes], rev: bool) -> Any:
    if rev:
        start, end = _range_bounds(argv[3], argv[2])
    else:
        start, end = _range_bounds(argv[2], argv[3])
    count = -1
    n = len(argv)
    j = 4
    while j < n:
        if j + 1 < n and argv[j].lower() == b"count":
            count = _llong(argv[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise ERR_SYNTAX
    s = _stream_read(c.db, argv[1])
    if s is None:
        return EMPTY_ARRAY
    if count == 0:
        return NULL_ARRAY
    # The reply is encoded here, once: every entry is [ID, [field, value, ...]], an
    # array of bulk strings inside an array, the same bytes in RESP2 and RESP3.
    parts: list[bytes] = []
    add = parts.append
    n = 0
    for i, flat in s.iter_range(start, end, rev):
        idb = b"%d-%d" % (i >> 64, i & MASK64)
        if len(flat) == 2:  # one field: the whole entry in one formatting
            f, v = flat
            add(b"*2\r\n$%d\r\n%s\r\n*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                % (len(idb), idb, len(f), f, len(v), v))
        else:
            add(b"*2\r\n$%d\r\n%s\r\n" % (len(idb), idb))
            add(bulk_array(flat))
        n += 1
        if n == count:
            break
    if not n:
        return EMPTY_ARRAY
    return Raw(b"*%d\r\n%s" % (n, b"".join(parts)))


@command("xrange", -4, "readonly", "stream", keys=(1, 1, 1), key_specs=_RO_ACCESS,
         group="stream", since="5.0.0",
         summary="Returns the messages from a stream within a range of IDs.",
         complexity="O(N) with N being the number of elements being returned. If N is constant "
         "(e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
         history=(("6.2.0", "Added exclusive ranges."),),
         arguments=_XRANGE_ARGS)
def xrange(c: Any, argv: list[bytes]) -> Any:
    return _xrange(c, argv, False)


@command("xrevrange", -4, "readonly", "stream", keys=(1, 1, 1), key_specs=_RO_ACCESS,
         group="stream", since="5.0.0",
         summary="Returns the messages from a stream within a range of IDs in reverse order.",
         complexity="O(N) with N being the number of elements returned. If N is constant (e.g. "
         "always asking for the first 10 elements with COUNT), you can consider it O(1).",
         history=(("6.2.0", "Added exclusive ranges."),),
         arguments=_XREVRANGE_ARGS)
def xrevrange(c: Any, argv: list[bytes]) -> Any:
    return _xrange(c, argv, True)


@command("xlen", 2, "readonly fast", "stream", keys=(1, 1, 1), key_specs=_RO,
         group="stream", since="5.0.0", summary="Return the number of messages in a stream.",
         complexity="O(1)",
         arguments=(_KEY,))
def xlen(c: Any, argv: list[bytes]) -> Any:
    s = _stream_read(c.db, argv[1])
    return 0 if s is None else s.length


# ---- XDEL XTRIM XSETID ----------------------------------------------------------------------------
@command("xdel", -3, "write fast", "stream", keys=(1, 1, 1), key_specs=_RW_DELETE,
         group="stream", since="5.0.0",
         summary="Returns the number of messages after removing them from a stream.",
         complexity="O(1) for each single item to delete in the stream, regardless of the "
         "stream size.",
         arguments=(_KEY, _IDS))
def xdel(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    s = _stream_write(db, key)
    if s is None:
        return 0
    ids = [_strict_id(a) for a in argv[2:]]
    deleted = 0
    first_gone = False
    for i in ids:
        if s.delete(i):
            if i == s.first_id:
                first_gone = True
            if i > s.max_deleted:
                s.max_deleted = i
            deleted += 1
    if deleted:
        if s.length == 0:
            s.first_id = 0
        elif first_gone:
            s.first_id = s.edge_id(True, True)
        db.touch(key)
        _notify(c, "xdel", key)
        db.ks.dirty += deleted
    return deleted


@command("xtrim", -4, "write", "stream", keys=(1, 1, 1), key_specs=_RW_DELETE,
         group="stream", since="5.0.0", tips=("nondeterministic_output",),
         summary="Deletes messages from the beginning of a stream.",
         complexity="O(N), with N being the number of evicted entries. Constant times are very "
         "small however, since entries are organized in macro nodes containing multiple entries "
         "that can be released with a single deallocation.",
         history=(("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),),
         arguments=_XTRIM_ARGS)
def xtrim(c: Any, argv: list[bytes]) -> Any:
    ta = _parse_trim(c, argv, False)
    db = c.db
    key = argv[1]
    s = _stream_write(db, key)
    if s is None:
        return 0
    deleted = _trim(s, ta)
    if deleted:
        _notify(c, "xtrim", key)
        if ta.approx:
            c.propagate_argv = _rewrite_approx(argv, s, ta)
        db.touch(key)
        db.ks.dirty += deleted
    return deleted


@command("xsetid", -3, "write denyoom fast", "stream", keys=(1, 1, 1), key_specs=_RW_UPDATE,
         group="stream", since="5.0.0",
         summary="An internal command for replicating stream values.", complexity="O(1)",
         history=(("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),),
         arguments=_XSETID_ARGS)
def xsetid(c: Any, argv: list[bytes]) -> Any:
    i = _strict_id(argv[2])
    max_xdel = 0
    entries_added = -1
    n = len(argv)
    j = 3
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"entriesadded" and more:
            entries_added = _llong(argv[j + 1])
            if entries_added < 0:
                raise ReplyError("ERR entries_added must be positive")
            j += 2
        elif opt == b"maxdeletedid" and more:
            max_xdel = _strict_id(argv[j + 1])
            if i < max_xdel:
                raise ReplyError(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
            j += 2
        else:
            raise ERR_SYNTAX
    db = c.db
    key = argv[1]
    s = _stream_write(db, key)
    if s is None:
        raise ERR_NO_SUCH_KEY
    if i < s.max_deleted:
        raise ReplyError("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    if s.length:
        if i < s.last_valid_id():
            raise ReplyError("ERR The ID specified in XSETID is smaller than the target stream top item")
        if entries_added != -1 and s.length > entries_added:
            raise ReplyError(
                "ERR The entries_added specified in XSETID is smaller than the target stream length")
    s.last_id = i
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel:
        s.max_deleted = max_xdel
    db.ks.dirty += 1
    _notify(c, "xsetid", key)
    return OK


# ---- XREAD XREADGROUP ----------------------------------------------------------------------
def _xread_keys(argv: list[bytes]) -> list[int]:
    """xreadGetKeys: the keys after STREAMS (half of what follows it)."""
    n = len(argv)
    pos = -1
    i = 1
    while i < n:
        a = argv[i].lower()
        if a == b"block" or a == b"count":
            i += 1
        elif a == b"group":
            i += 2
        elif a == b"noack":
            pass
        elif a == b"streams":
            pos = i
            break
        else:
            break
        i += 1
    if pos < 0:
        return []
    num = n - pos - 1
    if num == 0 or num % 2:
        return []
    return list(range(pos + 1, pos + 1 + num // 2))


def _deliver(s: StreamValue, key: bytes, gname: bytes, g: ConsumerGroup | None,
             consumer: Consumer | None, start: int, count: int, noack: bool, now: int,
             props: list[list[bytes]] | None) -> list[Any]:
    """streamReplyWithRange from ``start`` on: for a group, advance its last ID and
    read counter, and (without NOACK) record each entry as pending for the consumer."""
    out: list[Any] = []
    moved = False
    for i, flat in s.iter_range(start, MAX_ID):
        idb = id_bytes(i)
        out.append([idb, flat])
        if g is not None:
            if s.group_advance(g, i):
                moved = True
            if not noack and consumer is not None:
                nack = g.pel.get(i)
                if nack is None:
                    nack = Nack(consumer, now)
                    g.pel[i] = nack
                else:
                    # Delivered before (XGROUP SETID moved the group back): reassign.
                    if nack.consumer is not None:
                        nack.consumer.pel.pop(i, None)
                    nack.consumer = consumer
                    nack.delivery_time = now
                    nack.delivery_count = 1
                consumer.pel[i] = nack
                consumer.active_time = now
                if props is not None:
                    props.append(_xclaim_argv(key, gname, g, idb, nack))
        if count and len(out) == count:
            break
    if moved and props is not None and g is not None:
        props.append(_setid_argv(key, gname, g))
    return out


def _history(s: StreamValue, consumer: Consumer, start: int, count: int, now: int) -> list[Any]:
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending entries from start
    on (deleted ones as [id, nil]), each counted as delivered again."""
    out: list[Any] = []
    pel = consumer.pel
    for i in pel.irange(minimum=start):
        if count and len(out) >= count:
            break
        flat = s.get(i)
        if flat is None:
            out.append([id_bytes(i), NULL_ARRAY])
        else:
            nack = pel[i]
            nack.delivery_time = now
            nack.delivery_count += 1
            out.append([id_bytes(i), flat])
    return out


def _xread(c: Any, argv: list[bytes], xreadgroup: bool) -> Any:
    name = "xreadgroup" if xreadgroup else "xread"
    blocking = False
    deadline = 0
    count = 0
    streams_arg = 0
    nstreams = 0
    noack = False
    gname: bytes = b""
    cname: bytes = b""
    have_group = False
    n = len(argv)
    i = 1
    while i < n:
        more = n - i - 1
        o = argv[i].lower()
        if o == b"block" and more:
            i += 1
            deadline = parse_timeout(argv[i], unit_ms=1)
            blocking = True
        elif o == b"count" and more:
            i += 1
            count = _llong(argv[i])
            if count < 0:
                count = 0
        elif o == b"streams" and more:
            streams_arg = i + 1
            nstreams = n - streams_arg
            if nstreams % 2:
                sym = ">" if xreadgroup else "$"
                raise ReplyError(f"ERR Unbalanced '{name}' list of streams: for each stream key "
                                 f"an ID or '{sym}' must be specified.")
            nstreams //= 2
            break
        elif o == b"group" and more >= 2:
            if not xreadgroup:
                raise ReplyError(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
            gname = argv[i + 1]
            cname = argv[i + 2]
            have_group = True
            i += 2
        elif o == b"noack":
            if not xreadgroup:
                raise ReplyError(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
            noack = True
        else:
            raise ERR_SYNTAX
        i += 1
    if not streams_arg:
        raise ERR_SYNTAX
    if xreadgroup and not have_group:
        raise ReplyError("ERR Missing GROUP option for XREADGROUP")

    db = c.db
    ids_arg = streams_arg + nstreams
    values: list[StreamValue | None] = []
    groups: list[ConsumerGroup | None] = []
    ids: list[int] = []
    for k in range(nstreams):
        key = argv[streams_arg + k]
        s = _stream_read(db, key)
        g = None
        if have_group:
            g = _lookup_group(s, gname)
            if g is None:
                raise ReplyError(f"NOGROUP No such key '{_text(key)}' or consumer group "
                                 f"'{_text(gname)}' in XREADGROUP with GROUP option")
        values.append(s)
        groups.append(g)
        a = argv[ids_arg + k]
        if a == b"$":
            if xreadgroup:
                raise ReplyError(_MEANINGLESS.format("$"))
            ids.append(s.last_id if s is not None else 0)
        elif a == b"+":
            if xreadgroup:
                raise ReplyError(_MEANINGLESS.format("+"))
            if s is not None:
                if s.last_id == 0:
                    raise ReplyError("ERR the stream last element ID is 0-0")
                ids.append(s.last_id - 1)
            else:
                ids.append(0)
        elif a == b">":
            if not xreadgroup:
                raise ReplyError("ERR The > ID can be specified only when calling XREADGROUP "
                                 "using the GROUP <group> <consumer> option.")
            ids.append(MAX_ID)
        else:
            ids.append(_strict_id(a))

    now = now_ms()
    ks = db.ks
    props: list[list[bytes]] | None = [] if (xreadgroup and c.server.propagating) else None
    served: list[tuple[bytes, list[Any]]] = []
    for k in range(nstreams):
        s = values[k]
        if s is None:
            continue
        key = argv[streams_arg + k]
        gt = ids[k]
        g = groups[k]
        sync = history = False
        consumer: Consumer | None = None
        if g is not None:
            if gt != MAX_ID:
                sync = history = True
            elif s.length:
                if s.last_valid_id() > g.last_id:
                    sync = True
                    gt = g.last_id
            consumer, created = g.lookup_or_create(cname, now)
            if created:
                ks.dirty += 1
                _notify(c, "xgroup-createconsumer", key)
                if noack and props is not None:
                    props.append([_B_XGROUP, _B_CREATECONSUMER, key, gname, cname])
            consumer.seen_time = now
        elif s.length and s.last_valid_id() > gt:
            sync = True
        if not sync:
            continue
        start = 0 if gt == MAX_ID else gt + 1
        if history and consumer is not None:
            entries = _history(s, consumer, start, count, now)
        else:
            entries = _deliver(s, key, gname, g, consumer, start, count, noack, now, props)
        served.append((key, entries))
        if g is not None:
            ks.dirty += 1
    if xreadgroup:
        _propagate(c, props or [])
    if served:
        if c.resp == 2:
            return [[k, e] for k, e in served]
        return MapPairs(served)
    if blocking:
        if deny_blocking(c):
            return NULL_ARRAY
        # Re-runs must read what arrives after this first run: pin '$' to today's last ID.
        for k in range(nstreams):
            if argv[ids_arg + k] == b"$":
                argv[ids_arg + k] = id_bytes(ids[k])
        block_client(c, argv[streams_arg:ids_arg], deadline, "stream",
                     unblock_on_nokey=xreadgroup)
        return NO_REPLY
    return NULL_ARRAY


_XREAD_SPECS = (KeySpec(("RO", "access"), begin_keyword=(b"STREAMS", 1), last=-1, step=1, limit=2),)
_XREADGROUP_SPECS = (KeySpec(("RO", "access"), begin_keyword=(b"STREAMS", 4), last=-1, step=1,
                             limit=2),)


@command("xread", -4, "readonly blocking", "stream", key_specs=_XREAD_SPECS, keys_fn=_xread_keys,
         group="stream", since="5.0.0",
         summary="Returns messages from multiple streams with IDs greater than the ones "
         "requested. Blocks until a message is available otherwise.",
         arguments=_XREAD_ARGS)
def xread(c: Any, argv: list[bytes]) -> Any:
    return _xread(c, argv, False)


@command("xreadgroup", -7, "write blocking", "stream", key_specs=_XREADGROUP_SPECS,
         keys_fn=_xread_keys, group="stream", since="5.0.0",
         summary="Returns new or historical messages from a stream for a consumer in a group. "
         "Blocks until a message is available otherwise.",
         complexity="For each stream mentioned: O(M) with M being the number of elements "
         "returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), "
         "you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the "
         "O(N) time in order to serve the N clients blocked on the stream getting new data.",
         arguments=_XREADGROUP_ARGS)
def xreadgroup(c: Any, argv: list[bytes]) -> Any:
    return _xread(c, argv, True)


# ---- XACK XPENDING ---------------------------------------------------------------------------
@command("xack", -4, "write fast", "stream", keys=(1, 1, 1), key_specs=_RW_UPDATE,
         group="stream", since="5.0.0",
         summary="Returns the number of messages that were successfully acknowledged by the "
         "consumer group member of a stream.",
         complexity="O(1) for each message ID processed.",
         arguments=(_KEY, _GROUP, _IDS))
def xack(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    s = _stream_read(db, argv[1])
    g = _lookup_group(s, argv[2])
    if g is None:
        return 0
    ids = [_strict_id(a) for a in argv[3:]]
    n = 0
    for i in ids:
        if g.ack(i):
            n += 1
    db.ks.dirty += n
    return n


def _nogroup(key: bytes, group: bytes) -> ReplyError:
    return ReplyError(f"NOGROUP No such key '{_text(key)}' or consumer group '{_text(group)}'")


@command("xpending", -3, "readonly", "stream", keys=(1, 1, 1), key_specs=_RO_ACCESS,
         group="stream", since="5.0.0", tips=("nondeterministic_output",),
         summary="Returns the information and entries from a stream consumer group's pending "
         "entries list.",
         complexity="O(N) with N being the number of elements returned, so asking for a small "
         "fixed number of entries per call is O(1). O(M), where M is the total number of entries "
         "scanned when used with the IDLE filter. When the command returns just the summary and "
         "the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) "
         "time for iterating every consumer.",
         history=(("6.2.0", "Added the `IDLE` option and exclusive range intervals."),),
         arguments=_XPENDING_ARGS)
def xpending(c: Any, argv: list[bytes]) -> Any:
    n = len(argv)
    justinfo = n == 3
    if n != 3 and (n < 6 or n > 9):
        raise ERR_SYNTAX
    minidle = 0
    count = 0
    start = end = 0
    cname: bytes | None = None
    if n >= 6:
        si = 3
        if argv[3].lower() == b"idle":
            minidle = _llong(argv[4])
            if n < 8:
                raise ERR_SYNTAX
            si += 2
        count = _llong(argv[si + 2])
        if count < 0:
            count = 0
        start, end = _range_bounds(argv[si], argv[si + 1])
        if si + 3 < n:
            cname = argv[si + 3]
    key = argv[1]
    s = _stream_read(c.db, key)
    g = _lookup_group(s, argv[2])
    if g is None:
        raise _nogroup(key, argv[2])
    pel = g.pel
    if justinfo:
        if not pel:
            return [0, None, None, NULL_ARRAY]
        owners = [[cons.name, b"%d" % len(cons.pel)] for cons in g.sorted_consumers() if cons.pel]
        return [len(pel), id_bytes(pel.peekitem(0)[0]), id_bytes(pel.peekitem(-1)[0]), owners]
    if cname is not None:
        owner = g.consumers.get(cname)
        if owner is None:
            return EMPTY_ARRAY
        pel = owner.pel
    now = now_ms()
    out: list[Any] = []
    if count:
        for i in pel.irange(minimum=start, maximum=end):
            nack = pel[i]
            if minidle and now - nack.delivery_time < minidle:
                continue
            elapsed = now - nack.delivery_time
            out.append([id_bytes(i), nack.consumer.name if nack.consumer else b"",
                        elapsed if elapsed > 0 else 0, nack.delivery_count])
            if len(out) == count:
                break
    return out


# ---- XCLAIM XAUTOCLAIM -----------------------------------------------------------------------
@command("xclaim", -6, "write fast", "stream", keys=(1, 1, 1), key_specs=_RW_UPDATE,
         group="stream", since="5.0.0", tips=("nondeterministic_output",),
         summary="Changes, or acquires, ownership of a message in a consumer group, as if the "
         "message was delivered a consumer group member.",
         complexity="O(log N) with N being the number of messages in the PEL of the consumer "
         "group.",
         arguments=_XCLAIM_ARGS)
def xclaim(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    gname = argv[2]
    s = _stream_read(db, key)
    g = _lookup_group(s, gname)
    if s is None or g is None:
        raise _nogroup(key, gname)
    minidle = _llong(argv[4], ReplyError("ERR Invalid min-idle-time argument for XCLAIM"))
    if minidle < 0:
        minidle = 0
    n = len(argv)
    ids: list[tuple[int, bytes]] = []
    j = 5
    while j < n:
        try:
            ids.append((_strict_id(argv[j]), argv[j]))
        except ReplyError:
            break
        j += 1
    now = now_ms()
    retrycount = -1
    deliverytime = -1
    force = justid = False
    last_id = 0
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            deliverytime = now - _llong(argv[j], ReplyError("ERR Invalid IDLE option argument for XCLAIM"))
        elif opt == b"time" and more:
            j += 1
            deliverytime = _llong(argv[j], ReplyError("ERR Invalid TIME option argument for XCLAIM"))
        elif opt == b"retrycount" and more:
            j += 1
            retrycount = _llong(argv[j], ReplyError("ERR Invalid RETRYCOUNT option argument for XCLAIM"))
        elif opt == b"lastid" and more:
            j += 1
            last_id = _strict_id(argv[j])
        else:
            raise ReplyError(f"ERR Unrecognized XCLAIM option '{_text(argv[j])}'")
        j += 1
    ks = db.ks
    props: list[list[bytes]] | None = [] if c.server.propagating else None
    propagate_last_id = False
    if last_id > g.last_id:
        g.last_id = last_id
        propagate_last_id = True
    if deliverytime != -1:
        # A bogus time (negative, in the future) is taken as "now" rather than refused.
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    consumer, created = g.lookup_or_create(argv[3], now)
    if created:
        ks.dirty += 1
        _notify(c, "xgroup-createconsumer", key)
    consumer.seen_time = now
    out: list[Any] = []
    pel = g.pel
    for i, idarg in ids:
        nack = pel.get(i)
        flat = s.get(i)
        if flat is None:
            # The entry is gone: drop it from the PEL too.
            if nack is not None:
                if props is not None:
                    props.append(_xclaim_argv(key, gname, g, idarg, nack))
                propagate_last_id = False
                ks.dirty += 1
                del pel[i]
                if nack.consumer is not None:
                    nack.consumer.pel.pop(i, None)
            continue
        if force and nack is None:
            nack = Nack(None, now)
            pel[i] = nack
        if nack is None:
            continue
        if nack.consumer is not None and minidle and now - nack.delivery_time < minidle:
            continue
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(i, None)
        nack.delivery_time = deliverytime
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[i] = nack
            nack.consumer = consumer
        out.append(id_bytes(i) if justid else [id_bytes(i), flat])
        consumer.active_time = now
        if props is not None:
            props.append(_xclaim_argv(key, gname, g, idarg, nack))
        propagate_last_id = False
        ks.dirty += 1
    if propagate_last_id:
        if props is not None:
            props.append(_setid_argv(key, gname, g))
        ks.dirty += 1
    _propagate(c, props or [])
    return out


_AUTOCLAIM_MAX_COUNT = (2**63 - 1) // 16
_ERR_AUTOCLAIM_COUNT = ReplyError("ERR COUNT must be > 0")


@command("xautoclaim", -6, "write fast", "stream", keys=(1, 1, 1), key_specs=_RW_DELETE,
         group="stream", since="6.2.0", tips=("nondeterministic_output",),
         summary="Changes, or acquires, ownership of messages in a consumer group, as if the "
         "messages were delivered to as consumer group member.",
         complexity="O(1) if COUNT is small.",
         history=(("7.0.0", "Added an element to the reply array, containing deleted entries the "
                   "command cleared from the PEL"),),
         arguments=_XAUTOCLAIM_ARGS)
def xautoclaim(c: Any, argv: list[bytes]) -> Any:
    minidle = _llong(argv[4], ReplyError("ERR Invalid min-idle-time argument for XAUTOCLAIM"))
    if minidle < 0:
        minidle = 0
    start, sx = _interval(argv[5], 0)
    if sx:
        if start == MAX_ID:
            raise ERR_START_INTERVAL
        start += 1
    count = 100
    justid = False
    n = len(argv)
    j = 6
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"count" and more:
            v = parse_int_or_none(argv[j + 1])
            if v is None or v < 1 or v > _AUTOCLAIM_MAX_COUNT:
                raise _ERR_AUTOCLAIM_COUNT
            count = v
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise ERR_SYNTAX
        j += 1
    db = c.db
    key = argv[1]
    gname = argv[2]
    s = _stream_read(db, key)
    g = _lookup_group(s, gname)
    if s is None or g is None:
        raise _nogroup(key, gname)
    now = now_ms()
    ks = db.ks
    props: list[list[bytes]] | None = [] if c.server.propagating else None
    consumer, created = g.lookup_or_create(argv[3], now)
    if created:
        ks.dirty += 1
        _notify(c, "xgroup-createconsumer", key)
    consumer.seen_time = now
    attempts = count * 10
    pel = g.pel
    k = pel.bisect_left(start)
    claimed: list[Any] = []
    deleted: list[bytes] = []
    while attempts and count and k < len(pel):
        attempts -= 1
        i, nack = pel.peekitem(k)
        flat = s.get(i)
        if flat is None:
            idb = id_bytes(i)
            if props is not None:
                props.append(_xclaim_argv(key, gname, g, idb, nack))
            ks.dirty += 1
            del pel[i]
            if nack.consumer is not None:
                nack.consumer.pel.pop(i, None)
            deleted.append(idb)
            count -= 1
            continue
        k += 1
        if minidle and now - nack.delivery_time < minidle:
            continue
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(i, None)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[i] = nack
            nack.consumer = consumer
        idb = id_bytes(i)
        claimed.append(idb if justid else [idb, flat])
        count -= 1
        consumer.active_time = now
        if props is not None:
            props.append(_xclaim_argv(key, gname, g, idb, nack))
        ks.dirty += 1
    cursor = id_bytes(pel.peekitem(k)[0]) if k < len(pel) else b"0-0"
    _propagate(c, props or [])
    return [cursor, claimed, deleted]


# ---- XGROUP ------------------------------------------------------------------------------------
container("xgroup", -2, group="stream", since="5.0.0",
          summary="A container for consumer groups commands.", complexity="Depends on subcommand.")

_XGROUP_HELP = (
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
)


def _xgroup_prepare(c: Any, argv: list[bytes], sub: str) -> tuple[StreamValue | None, ConsumerGroup | None, bool, int]:
    """The common part of xgroupCommand: options, the key, the group."""
    create = sub == "create"
    setid = sub == "setid"
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    n = len(argv)
    i = 5
    while i < n:
        a = argv[i].lower()
        if create and a == b"mkstream":
            mkstream = True
            i += 1
        elif (create or setid) and a == b"entriesread" and i + 1 < n:
            entries_read = _llong(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise ReplyError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise syntax_error_for(argv)
    s = _stream_write(c.db, argv[2])
    g = None
    if not mkstream:
        if s is None:
            raise ERR_XGROUP_NOKEY
        g = _lookup_group(s, argv[3])
        if g is None and sub in ("setid", "createconsumer", "delconsumer"):
            raise ReplyError(f"NOGROUP No such consumer group '{_text(argv[3])}' for key name "
                             f"'{_text(argv[2])}'")
    return s, g, mkstream, entries_read


_GROUP_KEY = (2, 2, 1)


@subcommand("xgroup", "create", -5, "write denyoom", "stream", keys=_GROUP_KEY,
            key_specs=(KeySpec(("RW", "insert"), begin_index=2),), since="5.0.0",
            summary="Creates a consumer group.", complexity="O(1)",
            history=(("7.0.0", "Added the `entries_read` named argument."),),
         arguments=(_KEY, _GROUP, _ID_OR_NEW, arg("mkstream", "pure-token", token="MKSTREAM", optional=True), _ENTRIESREAD))
def xgroup_create(c: Any, argv: list[bytes]) -> Any:
    s, _g, _mk, entries_read = _xgroup_prepare(c, argv, "create")
    if len(argv) > 8:
        raise syntax_error_for(argv)
    if argv[4] == b"$":
        i = s.last_id if s is not None else 0
    else:
        i = _strict_id(argv[4])
    db = c.db
    key = argv[2]
    if s is None:
        s = StreamValue()
        db.add(key, s)
    if s.groups is None:
        s.groups = {}
    name = argv[3]
    if name in s.groups:
        raise ERR_BUSYGROUP
    s.groups[name] = ConsumerGroup(i, entries_read)
    db.ks.dirty += 1
    _notify(c, "xgroup-create", key)
    return OK


@subcommand("xgroup", "setid", -5, "write", "stream", keys=_GROUP_KEY,
            key_specs=(KeySpec(("RW", "update"), begin_index=2),), since="5.0.0",
            summary="Sets the last-delivered ID of a consumer group.", complexity="O(1)",
            history=(("7.0.0", "Added the optional `entries_read` argument."),),
         arguments=(_KEY, _GROUP, _ID_OR_NEW, _ENTRIESREAD))
def xgroup_setid(c: Any, argv: list[bytes]) -> Any:
    s, g, _mk, entries_read = _xgroup_prepare(c, argv, "setid")
    if len(argv) not in (5, 7):
        raise syntax_error_for(argv)
    assert s is not None and g is not None
    i = s.last_id if argv[4] == b"$" else parse_id(argv[4])[0]
    g.last_id = i
    g.entries_read = entries_read
    c.db.ks.dirty += 1
    _notify(c, "xgroup-setid", argv[2])
    return OK


@subcommand("xgroup", "destroy", 4, "write", "stream", keys=_GROUP_KEY,
            key_specs=(KeySpec(("RW", "delete"), begin_index=2),), since="5.0.0",
            summary="Destroys a consumer group.",
            complexity="O(N) where N is the number of entries in the group's pending entries "
            "list (PEL).",
         arguments=(_KEY, _GROUP))
def xgroup_destroy(c: Any, argv: list[bytes]) -> Any:
    s, g, _mk, _er = _xgroup_prepare(c, argv, "destroy")
    if g is None or s is None or s.groups is None:
        return 0
    del s.groups[argv[3]]
    db = c.db
    ks = db.ks
    ks.dirty += 1
    _notify(c, "xgroup-destroy", argv[2])
    # Clients blocked in XREADGROUP on this group must learn it is gone (-NOGROUP).
    if ks.blocked_keys is not None:
        ks.signal_ready(db, argv[2])
    return 1


@subcommand("xgroup", "createconsumer", 5, "write denyoom", "stream", keys=_GROUP_KEY,
            key_specs=(KeySpec(("RW", "insert"), begin_index=2),), since="6.2.0",
            summary="Creates a consumer in a consumer group.", complexity="O(1)",
         arguments=(_KEY, _GROUP, _CONSUMER))
def xgroup_createconsumer(c: Any, argv: list[bytes]) -> Any:
    _s, g, _mk, _er = _xgroup_prepare(c, argv, "createconsumer")
    assert g is not None
    if g.create_consumer(argv[4], now_ms()) is None:
        return 0
    c.db.ks.dirty += 1
    _notify(c, "xgroup-createconsumer", argv[2])
    return 1


@subcommand("xgroup", "delconsumer", 5, "write", "stream", keys=_GROUP_KEY,
            key_specs=(KeySpec(("RW", "delete"), begin_index=2),), since="5.0.0",
            summary="Deletes a consumer from a consumer group.", complexity="O(1)",
         arguments=(_KEY, _GROUP, _CONSUMER))
def xgroup_delconsumer(c: Any, argv: list[bytes]) -> Any:
    _s, g, _mk, _er = _xgroup_prepare(c, argv, "delconsumer")
    assert g is not None
    consumer = g.consumers.get(argv[4])
    if consumer is None:
        return 0
    pending = g.delete_consumer(consumer)
    c.db.ks.dirty += 1
    _notify(c, "xgroup-delconsumer", argv[2])
    return pending


@subcommand("xgroup", "help", 2, "loading stale", "stream", since="5.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def xgroup_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _XGROUP_HELP)


# ---- XINFO --------------------------------------------------------------------------------------
container("xinfo", -2, group="stream", since="5.0.0",
          summary="A container for stream introspection commands.",
          complexity="Depends on subcommand.")

_XINFO_HELP = (
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
)
_XINFO_SPECS = (KeySpec(("RO", "access"), begin_index=2),)


def _xinfo_stream(c: Any, argv: list[bytes]) -> StreamValue:
    s = _stream_read(c.db, argv[2])
    if s is None:
        raise ERR_NO_SUCH_KEY
    return s


@subcommand("xinfo", "consumers", 4, "readonly", "stream", keys=_GROUP_KEY, key_specs=_XINFO_SPECS,
            since="5.0.0", tips=("nondeterministic_output",),
            summary="Returns a list of the consumers in a consumer group.", complexity="O(1)",
            history=(("7.2.0", "Added the `inactive` field, and changed the meaning of `idle`."),),
         arguments=(_KEY, _GROUP))
def xinfo_consumers(c: Any, argv: list[bytes]) -> Any:
    s = _xinfo_stream(c, argv)
    g = _lookup_group(s, argv[3])
    if g is None:
        raise ReplyError(f"NOGROUP No such consumer group '{_text(argv[3])}' for key name "
                         f"'{_text(argv[2])}'")
    now = now_ms()
    out = []
    for cons in g.sorted_consumers():
        idle = now - cons.seen_time
        out.append({
            b"name": cons.name,
            b"pending": len(cons.pel),
            b"idle": idle if idle > 0 else 0,
            b"inactive": now - cons.active_time if cons.active_time != -1 else -1,
        })
    return out


@subcommand("xinfo", "groups", 3, "readonly", "stream", keys=_GROUP_KEY, key_specs=_XINFO_SPECS,
            since="5.0.0", summary="Returns a list of the consumer groups of a stream.",
            complexity="O(1)",
            history=(("7.0.0", "Added the `entries-read` and `lag` fields"),),
         arguments=(_KEY,))
def xinfo_groups(c: Any, argv: list[bytes]) -> Any:
    s = _xinfo_stream(c, argv)
    if not s.groups:
        return EMPTY_ARRAY
    out = []
    for name in sorted(s.groups):
        g = s.groups[name]
        out.append({
            b"name": name,
            b"consumers": len(g.consumers),
            b"pending": len(g.pel),
            b"last-delivered-id": id_bytes(g.last_id),
            b"entries-read": g.entries_read if g.entries_read != INVALID_ENTRIES_READ else None,
            b"lag": s.lag(g),
        })
    return out


@subcommand("xinfo", "stream", -3, "readonly", "stream", keys=_GROUP_KEY, key_specs=_XINFO_SPECS,
            since="5.0.0", summary="Returns information about a stream.", complexity="O(1)",
            history=(("6.0.0", "Added the `FULL` modifier."),
                     ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, "
                      "`recorded-first-entry-id`, `entries-read` and `lag` fields"),
                     ("7.2.0", "Added the `active-time` field, and changed the meaning of "
                      "`seen-time`.")),
         arguments=(_KEY, arg("full-block", "block", optional=True, args=(arg("full", "pure-token", token="FULL"), _COUNT_OPT))))
def xinfo_stream(c: Any, argv: list[bytes]) -> Any:
    s = _xinfo_stream(c, argv)
    opts = argv[3:]
    full = bool(opts)
    count = 10
    if full:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise syntax_error_for(argv)
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise syntax_error_for(argv)
            count = _llong(opts[2])
            if count < 0:
                count = 10
    m: dict[bytes, Any] = {
        b"length": s.length,
        b"radix-tree-keys": len(s.nodes),
        b"radix-tree-nodes": s.rax_nodes(),
        b"last-generated-id": id_bytes(s.last_id),
        b"max-deleted-entry-id": id_bytes(s.max_deleted),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": id_bytes(s.first_id),
    }
    if not full:
        m[b"groups"] = len(s.groups) if s.groups else 0
        first = next(s.iter_range(0, MAX_ID), None)
        m[b"first-entry"] = _entry(*first) if first is not None else None
        last = next(s.iter_range(0, MAX_ID, True), None)
        m[b"last-entry"] = _entry(*last) if last is not None else None
        return m
    entries = []
    for i, flat in s.iter_range(0, MAX_ID):
        entries.append([id_bytes(i), flat])
        if count and len(entries) >= count:
            break
    m[b"entries"] = entries
    groups = []
    for name in sorted(s.groups or ()):
        g = s.groups[name]  # type: ignore[index]
        pending: list[Any] = []
        for i, nack in g.pel.items():
            if count and len(pending) >= count:
                break
            pending.append([id_bytes(i), nack.consumer.name if nack.consumer else b"",
                            nack.delivery_time, nack.delivery_count])
        consumers = []
        for cons in g.sorted_consumers():
            cpending: list[Any] = []
            for i, nack in cons.pel.items():
                if count and len(cpending) >= count:
                    break
                cpending.append([id_bytes(i), nack.delivery_time, nack.delivery_count])
            consumers.append({
                b"name": cons.name,
                b"seen-time": cons.seen_time,
                b"active-time": cons.active_time,
                b"pel-count": len(cons.pel),
                b"pending": cpending,
            })
        groups.append({
            b"name": name,
            b"last-delivered-id": id_bytes(g.last_id),
            b"entries-read": g.entries_read if g.entries_read != INVALID_ENTRIES_READ else None,
            b"lag": s.lag(g),
            b"pel-count": len(g.pel),
            b"pending": pending,
            b"consumers": consumers,
        })
    m[b"groups"] = groups
    return m


@subcommand("xinfo", "help", 2, "loading stale", "stream", since="5.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def xinfo_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _XINFO_HELP)


def _valkey_order(container_name: str, names: tuple[str, ...]) -> None:
    """List subcommands in the order Valkey's command table yields them (COMMAND INFO/DOCS)."""
    subs = COMMANDS[container_name].subcommands
    ordered = {n: subs[n] for n in names if n in subs}
    ordered.update(subs)
    subs.clear()
    subs.update(ordered)


_valkey_order("xgroup", ("setid", "createconsumer", "create", "destroy", "help", "delconsumer"))
_valkey_order("xinfo", ("help", "consumers", "groups", "stream"))
