"""List commands (t_list.c), blocking ones included, and CLIENT UNBLOCK.

Blocking commands serve at once when they can; otherwise they park the client with
``engine.blocking.block_client`` and return NO_REPLY. When a key they wait on is
written, the command simply runs again (Valkey 7+'s re-execution), so each handler
below is also its own wake-up path. Whatever serves propagates as the non-blocking
equivalent (BLPOP -> LPOP, BLMOVE -> LMOVE, BLMPOP -> LPOP key count ...).
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE, parse_int_or_none
from kaa.commands.registry import KeySpec, command, subcommand, wrong_arity
from kaa.engine.blocking import UNBLOCKED_ERROR, block_client, deny_blocking, manager, parse_timeout
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_LIST
from kaa.protocol.reply import EMPTY_ARRAY, NULL_ARRAY, OK, ReplyError, bulk_array
from kaa.server.client import NO_REPLY
from kaa.types.list import ListValue

LONG_MAX = 2**63 - 1
ERR_NO_SUCH_KEY = ReplyError("ERR no such key")
ERR_INDEX_RANGE = ReplyError("ERR index out of range")
ERR_POSITIVE = ReplyError("ERR value is out of range, must be positive")
ERR_RANGE_LONG = ReplyError(
    f"ERR value is out of range, value must between {-LONG_MAX} and {LONG_MAX}"
)
ERR_RANK_ZERO = ReplyError(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
ERR_NUMKEYS = ReplyError("ERR numkeys should be greater than 0")
ERR_COUNT = ReplyError("ERR count should be greater than 0")

_LPOP = b"LPOP"
_RPOP = b"RPOP"

# Key specifications, as COMMAND INFO shows them.
_RW_INSERT = (KeySpec(("RW", "insert"), begin_index=1),)
_RW_ACCESS_DELETE = (KeySpec(("RW", "access", "delete"), begin_index=1),)
_RO = (KeySpec(("RO",), begin_index=1),)
_RO_ACCESS = (KeySpec(("RO", "access"), begin_index=1),)
_MOVE_SPECS = (
    KeySpec(("RW", "access", "delete"), begin_index=1),
    KeySpec(("RW", "insert"), begin_index=2),
)


# ---- helpers -------------------------------------------------------------------------
def _fill(c: Any) -> int:
    return c.server.config.list_max_listpack_size  # type: ignore[no-any-return]


def _list_write(db: Any, key: bytes) -> ListValue | None:
    """The list at key for a write (no hit/miss statistics); WRONGTYPE for other types."""
    v = db.lookup(key)
    if v is None or type(v) is ListValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _list_read(db: Any, key: bytes) -> ListValue | None:
    v = db.lookup_read(key)
    if v is None or type(v) is ListValue:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _range_long(arg: bytes) -> int:
    """getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)."""
    v = parse_int_or_none(arg)
    if v is None:
        raise ERR_NOT_INT
    if v < -LONG_MAX:
        raise ERR_RANGE_LONG
    return v


def _positive(arg: bytes, err: ReplyError) -> int:
    """getPositiveLongFromObjectOrReply with its custom message for both failures."""
    v = parse_int_or_none(arg)
    if v is None or v < 0:
        raise err
    return v


def _at_least_one(arg: bytes, err: ReplyError) -> int:
    v = parse_int_or_none(arg)
    if v is None or v < 1:
        raise err
    return v


def _where(arg: bytes) -> bool:
    """LEFT -> True, RIGHT -> False."""
    low = arg.lower()
    if low == b"left":
        return True
    if low == b"right":
        return False
    raise ERR_SYNTAX


def _removed(c: Any, key: bytes, lst: ListValue, left: bool, count: int) -> None:
    """listElementsRemoved: pop event, delete when emptied, encoding check, dirty."""
    db = c.db
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_LIST, "lpop" if left else "rpop", key, db.id)
    if not lst.items:
        db.delete(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
    else:
        if lst.nodes is not None:  # shrink_check only concerns quicklists
            lst.shrink_check(_fill(c))
        db.touch(key)
    ks.dirty += count


def _push_to(c: Any, key: bytes, dst: ListValue | None, value: bytes, left: bool) -> None:
    """lmoveHandlePush: push one element, creating the list if needed."""
    db = c.db
    if dst is None:
        dst = ListValue()
        dst.push_one(value, left, _fill(c))
        db.add(key, dst)
    else:
        dst.push_one(value, left, _fill(c))
        db.touch(key)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_LIST, "lpush" if left else "rpush", key, db.id)


# ---- pushes ------------------------------------------------------------------------------
def _push(c: Any, argv: list[bytes], left: bool, xx: bool) -> Any:
    db = c.db
    key = argv[1]
    ks = db.ks
    lst = db.data.get(key)
    if (type(lst) is ListValue and len(argv) == 3 and not db.expires and not ks.touch_mode
            and ks.watchers is None and ks.blocked_keys is None):
        # One element onto a list in a db without TTLs while no write hook listens:
        # Database.lookup and touch reduce to the access clock.
        db.atime[key] = ks.clock
        n = lst.push_one(argv[2], left, c.server.config.list_max_listpack_size)
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_LIST, "lpush" if left else "rpush", key, db.id)
        return n
    lst = db.lookup(key)
    if lst is not None and type(lst) is not ListValue:
        raise ERR_WRONGTYPE
    fill = c.server.config.list_max_listpack_size
    if lst is None:
        if xx:
            return 0
        lst = ListValue()
        if len(argv) == 3:  # the common single-element push, without slicing argv
            n = lst.push_one(argv[2], left, fill)
        else:
            n = lst.push(argv[2:], left, fill)
        db.add(key, lst)
    else:
        if len(argv) == 3:
            n = lst.push_one(argv[2], left, fill)
        else:
            n = lst.push(argv[2:], left, fill)
        db.touch(key)
    ks.dirty += len(argv) - 2
    if ks.notify_flags:
        ks.notify(NOTIFY_LIST, "lpush" if left else "rpush", key, db.id)
    return n


@command("lpush", -3, "write denyoom fast", "list", keys=(1, 1, 1), key_specs=_RW_INSERT,
         group="list", since="1.0.0",
         summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
         "called with multiple arguments.",
         history=(("2.4.0", "Accepts multiple `element` arguments."),))
def lpush(c: Any, argv: list[bytes]) -> Any:
    return _push(c, argv, True, False)


@command("rpush", -3, "write denyoom fast", "list", keys=(1, 1, 1), key_specs=_RW_INSERT,
         group="list", since="1.0.0",
         summary="Appends one or more elements to a list. Creates the key if it doesn't exist.",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
         "called with multiple arguments.",
         history=(("2.4.0", "Accepts multiple `element` arguments."),))
def rpush(c: Any, argv: list[bytes]) -> Any:
    return _push(c, argv, False, False)


@command("lpushx", -3, "write denyoom fast", "list", keys=(1, 1, 1), key_specs=_RW_INSERT,
         group="list", since="2.2.0",
         summary="Prepends one or more elements to a list only when the list exists.",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
         "called with multiple arguments.",
         history=(("4.0.0", "Accepts multiple `element` arguments."),))
def lpushx(c: Any, argv: list[bytes]) -> Any:
    return _push(c, argv, True, True)


@command("rpushx", -3, "write denyoom fast", "list", keys=(1, 1, 1), key_specs=_RW_INSERT,
         group="list", since="2.2.0",
         summary="Appends an element to a list only when the list exists.",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
         "called with multiple arguments.",
         history=(("4.0.0", "Accepts multiple `element` arguments."),))
def rpushx(c: Any, argv: list[bytes]) -> Any:
    return _push(c, argv, False, True)


# ---- pops --------------------------------------------------------------------------------
def _pop(c: Any, argv: list[bytes], left: bool) -> Any:
    n = len(argv)
    if n == 2:  # the common form without a count
        db = c.db
        key = argv[1]
        ks = db.ks
        # While the db has no TTLs and no hook listens (the defaults), lookup() reduces
        # to the access clock and touch() to nothing.
        quiet = not db.expires and not ks.touch_mode and ks.watchers is None and ks.blocked_keys is None
        if quiet:
            lst = db.data.get(key)
            if lst is None:
                return None
            db.atime[key] = ks.clock
        else:
            lst = db.lookup(key)
            if lst is None:
                return None
        if type(lst) is not ListValue:
            raise ERR_WRONGTYPE
        v = lst.pop(left)
        # _removed(c, key, lst, left, 1), inlined
        if ks.notify_flags:
            ks.notify(NOTIFY_LIST, "lpop" if left else "rpop", key, db.id)
        if not lst.items:
            db.delete(key)
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        else:
            if lst.nodes is not None and len(lst.nodes) == 1:  # (shrink_check's first test)
                lst.shrink_check(c.server.config.list_max_listpack_size)
            if not quiet:
                db.touch(key)
        ks.dirty += 1
        return v
    if n > 3:
        raise wrong_arity("lpop" if left else "rpop")
    count = _positive(argv[2], ERR_POSITIVE) if n == 3 else -1
    db = c.db
    key = argv[1]
    lst = _list_write(db, key)
    if lst is None:
        return NULL_ARRAY if count >= 0 else None
    if count < 0:
        v = lst.pop(left)
        _removed(c, key, lst, left, 1)
        return v
    if count == 0:
        return EMPTY_ARRAY
    out = lst.pop_many(count, left)
    _removed(c, key, lst, left, len(out))
    return out


@command("lpop", -2, "write fast", "list", keys=(1, 1, 1), key_specs=_RW_ACCESS_DELETE,
         group="list", since="1.0.0",
         summary="Returns the first elements in a list after removing it. Deletes the list if the "
         "last element was popped.",
         complexity="O(N) where N is the number of elements returned",
         history=(("6.2.0", "Added the `count` argument."),))
def lpop(c: Any, argv: list[bytes]) -> Any:
    return _pop(c, argv, True)


@command("rpop", -2, "write fast", "list", keys=(1, 1, 1), key_specs=_RW_ACCESS_DELETE,
         group="list", since="1.0.0",
         summary="Returns and removes the last elements of a list. Deletes the list if the last "
         "element was popped.",
         complexity="O(N) where N is the number of elements returned",
         history=(("6.2.0", "Added the `count` argument."),))
def rpop(c: Any, argv: list[bytes]) -> Any:
    return _pop(c, argv, False)


# ---- reads -------------------------------------------------------------------------------
@command("llen", 2, "readonly fast", "list", keys=(1, 1, 1), key_specs=_RO,
         group="list", since="1.0.0", summary="Returns the length of a list.", complexity="O(1)")
def llen(c: Any, argv: list[bytes]) -> Any:
    lst = _list_read(c.db, argv[1])
    return 0 if lst is None else len(lst.items)


@command("lrange", 4, "readonly", "list", keys=(1, 1, 1), key_specs=_RO_ACCESS,
         group="list", since="1.0.0", summary="Returns a range of elements from a list.",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, "
         "from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the "
         "specified range.")
def lrange(c: Any, argv: list[bytes]) -> Any:
    start = parse_int_or_none(argv[2])
    end = parse_int_or_none(argv[3])
    if start is None or end is None:
        raise ERR_NOT_INT
    lst = _list_read(c.db, argv[1])
    if lst is None:
        return EMPTY_ARRAY
    return bulk_array(lst.range(start, end))


@command("lindex", 3, "readonly", "list", keys=(1, 1, 1), key_specs=_RO_ACCESS,
         group="list", since="1.0.0", summary="Returns an element from a list by its index.",
         complexity="O(N) where N is the number of elements to traverse to get to the element at "
         "index. This makes asking for the first or the last element of the list O(1).")
def lindex(c: Any, argv: list[bytes]) -> Any:
    lst = _list_read(c.db, argv[1])
    if lst is None:
        return None
    i = parse_int_or_none(argv[2])
    if i is None:
        raise ERR_NOT_INT
    return lst.index(i)


@command("lpos", -3, "readonly", "list", keys=(1, 1, 1), key_specs=_RO_ACCESS,
         group="list", since="6.0.6", summary="Returns the index of matching elements in a list.",
         complexity="O(N) where N is the number of elements in the list, for the average case. "
         "When searching for elements near the head or the tail of the list, or when the MAXLEN "
         "option is provided, the command may run in constant time.")
def lpos(c: Any, argv: list[bytes]) -> Any:
    rank, count, maxlen = 1, -1, 0
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        more = i + 1 < n
        if opt == b"rank" and more:
            i += 1
            rank = _range_long(argv[i])
            if rank == 0:
                raise ERR_RANK_ZERO
        elif opt == b"count" and more:
            i += 1
            count = _positive(argv[i], ReplyError("ERR COUNT can't be negative"))
        elif opt == b"maxlen" and more:
            i += 1
            maxlen = _positive(argv[i], ReplyError("ERR MAXLEN can't be negative"))
        else:
            raise ERR_SYNTAX
        i += 1
    lst = _list_read(c.db, argv[1])
    if lst is None:
        return EMPTY_ARRAY if count != -1 else None
    if count == -1:
        found = lst.find(argv[2], rank, 1, maxlen)
        return found[0] if found else None
    return lst.find(argv[2], rank, count, maxlen)


# ---- in-place edits ------------------------------------------------------------------------
@command("lset", 4, "write denyoom", "list", keys=(1, 1, 1),
         key_specs=(KeySpec(("RW", "update"), begin_index=1),),
         group="list", since="1.0.0", summary="Sets the value of an element in a list by its index.",
         complexity="O(N) where N is the length of the list. Setting either the first or the last "
         "element of the list is O(1).")
def lset(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    lst = _list_write(db, key)
    if lst is None:
        raise ERR_NO_SUCH_KEY
    i = parse_int_or_none(argv[2])
    if i is None:
        raise ERR_NOT_INT
    if not lst.set_at(i, argv[3], _fill(c)):
        raise ERR_INDEX_RANGE
    db.touch(key)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_LIST, "lset", key, db.id)
    ks.dirty += 1
    return OK


@command("linsert", 5, "write denyoom", "list", keys=(1, 1, 1), key_specs=_RW_INSERT,
         group="list", since="2.2.0",
         summary="Inserts an element before or after another element in a list.",
         complexity="O(N) where N is the number of elements to traverse before seeing the value "
         "pivot. This means that inserting somewhere on the left end on the list (head) can be "
         "considered O(1) and inserting somewhere on the right end (tail) is O(N).")
def linsert(c: Any, argv: list[bytes]) -> Any:
    where = argv[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise ERR_SYNTAX
    db = c.db
    key = argv[1]
    lst = _list_write(db, key)
    if lst is None:
        return 0
    n = lst.insert(argv[3], argv[4], after, _fill(c))
    if n < 0:
        return -1
    db.touch(key)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_LIST, "linsert", key, db.id)
    ks.dirty += 1
    return n


@command("lrem", 4, "write", "list", keys=(1, 1, 1),
         key_specs=(KeySpec(("RW", "delete"), begin_index=1),),
         group="list", since="1.0.0",
         summary="Removes elements from a list. Deletes the list if the last element was removed.",
         complexity="O(N+M) where N is the length of the list and M is the number of elements "
         "removed.")
def lrem(c: Any, argv: list[bytes]) -> Any:
    count = _range_long(argv[2])
    db = c.db
    key = argv[1]
    lst = _list_write(db, key)
    if lst is None:
        return 0
    removed = lst.remove(argv[3], count)
    if removed:
        ks = db.ks
        ks.dirty += removed
        if ks.notify_flags:
            ks.notify(NOTIFY_LIST, "lrem", key, db.id)
        if not lst.items:
            db.delete(key)
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        else:
            lst.shrink_check(_fill(c))
            db.touch(key)
    return removed


@command("ltrim", 4, "write", "list", keys=(1, 1, 1),
         key_specs=(KeySpec(("RW", "delete"), begin_index=1),),
         group="list", since="1.0.0",
         summary="Removes elements from both ends a list. Deletes the list if all elements were "
         "trimmed.",
         complexity="O(N) where N is the number of elements to be removed by the operation.")
def ltrim(c: Any, argv: list[bytes]) -> Any:
    start = parse_int_or_none(argv[2])
    end = parse_int_or_none(argv[3])
    if start is None or end is None:
        raise ERR_NOT_INT
    db = c.db
    key = argv[1]
    lst = _list_write(db, key)
    if lst is None:
        return OK
    removed = lst.trim(start, end)
    ks = db.ks
    if ks.notify_flags:
        ks.notify(NOTIFY_LIST, "ltrim", key, db.id)
    if not lst.items:
        db.delete(key)
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", key, db.id)
    else:
        lst.shrink_check(_fill(c))
        db.touch(key)
    ks.dirty += removed
    return OK


# ---- moves ---------------------------------------------------------------------------------
def _move(c: Any, src_key: bytes, dst_key: bytes, src: ListValue, from_left: bool, to_left: bool) -> bytes:
    """lmoveGenericCommand on a non-empty source: pop, push, then the source's bookkeeping."""
    db = c.db
    dst = _list_write(db, dst_key)
    value = src.pop(from_left)
    _push_to(c, dst_key, dst, value, to_left)
    _removed(c, src_key, src, from_left, 1)
    return value


def _lmove(c: Any, argv: list[bytes], from_left: bool, to_left: bool) -> Any:
    src = _list_write(c.db, argv[1])
    if src is None or not src.items:
        return None
    return _move(c, argv[1], argv[2], src, from_left, to_left)


@command("lmove", 5, "write denyoom", "list", keys=(1, 2, 1), key_specs=_MOVE_SPECS,
         group="list", since="6.2.0",
         summary="Returns an element after popping it from one list and pushing it to another. "
         "Deletes the list if the last element was moved.", complexity="O(1)")
def lmove(c: Any, argv: list[bytes]) -> Any:
    from_left = _where(argv[3])
    to_left = _where(argv[4])
    return _lmove(c, argv, from_left, to_left)


@command("rpoplpush", 3, "write denyoom", "list", keys=(1, 2, 1), key_specs=_MOVE_SPECS,
         group="list", since="1.2.0",
         summary="Returns the last element of a list after removing and pushing it to another list. "
         "Deletes the list if the last element was popped.", complexity="O(1)",
         doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`LMOVE` with the `RIGHT` and `LEFT` arguments")
def rpoplpush(c: Any, argv: list[bytes]) -> Any:
    return _lmove(c, argv, False, True)


def _blmove(c: Any, argv: list[bytes], from_left: bool, to_left: bool, deadline: int,
            pargv: list[bytes]) -> Any:
    src = _list_write(c.db, argv[1])
    if src is None:
        if deny_blocking(c):
            return None
        block_client(c, (argv[1],), deadline, "list")
        return NO_REPLY
    value = _move(c, argv[1], argv[2], src, from_left, to_left)
    c.propagate_argv = pargv
    return value


@command("blmove", 6, "write denyoom blocking", "list", keys=(1, 2, 1), key_specs=_MOVE_SPECS,
         group="list", since="6.2.0",
         summary="Pops an element from a list, pushes it to another list and returns it. Blocks "
         "until an element is available otherwise. Deletes the list if the last element was moved.",
         complexity="O(1)")
def blmove(c: Any, argv: list[bytes]) -> Any:
    from_left = _where(argv[3])
    to_left = _where(argv[4])
    deadline = parse_timeout(argv[5])
    return _blmove(c, argv, from_left, to_left, deadline, [b"LMOVE", argv[1], argv[2], argv[3], argv[4]])


@command("brpoplpush", 4, "write denyoom blocking", "list", keys=(1, 2, 1), key_specs=_MOVE_SPECS,
         group="list", since="2.2.0",
         summary="Pops an element from a list, pushes it to another list and returns it. Block "
         "until an element is available otherwise. Deletes the list if the last element was popped.",
         complexity="O(1)", doc_flags=("deprecated",), deprecated_since="6.2.0",
         replaced_by="`BLMOVE` with the `RIGHT` and `LEFT` arguments",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),))
def brpoplpush(c: Any, argv: list[bytes]) -> Any:
    deadline = parse_timeout(argv[3])
    return _blmove(c, argv, False, True, deadline, [b"RPOPLPUSH", argv[1], argv[2]])


# ---- multi-key pops ---------------------------------------------------------------------------
def _mpop_serve(c: Any, keys: list[bytes], left: bool, count: int) -> Any:
    """Pop from the first non-empty list among keys: [key, value] (count -1) or
    [key, [values]]; None if all are empty. Sets the propagated [LR]POP form."""
    db = c.db
    for key in keys:
        lst = _list_write(db, key)
        if lst is None or not lst.items:
            continue
        if count < 0:
            v = lst.pop(left)
            _removed(c, key, lst, left, 1)
            c.propagate_argv = [_LPOP if left else _RPOP, key]
            return [key, v]
        out = lst.pop_many(count, left)
        _removed(c, key, lst, left, len(out))
        c.propagate_argv = [_LPOP if left else _RPOP, key, b"%d" % len(out)]
        return [key, out]
    return None


def _blocking_pop(c: Any, keys: list[bytes], left: bool, count: int, deadline: int) -> Any:
    served = _mpop_serve(c, keys, left, count)
    if served is not None:
        return served
    if deny_blocking(c):
        return NULL_ARRAY
    block_client(c, keys, deadline, "list")
    return NO_REPLY


@command("blpop", -3, "write blocking", "list", keys=(1, -2, 1),
         key_specs=(KeySpec(("RW", "access", "delete"), begin_index=1, last=-2),),
         group="list", since="2.0.0",
         summary="Removes and returns the first element in a list. Blocks until an element is "
         "available otherwise. Deletes the list if the last element was popped.",
         complexity="O(N) where N is the number of provided keys.",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),))
def blpop(c: Any, argv: list[bytes]) -> Any:
    deadline = parse_timeout(argv[-1])
    return _blocking_pop(c, argv[1:-1], True, -1, deadline)


@command("brpop", -3, "write blocking", "list", keys=(1, -2, 1),
         key_specs=(KeySpec(("RW", "access", "delete"), begin_index=1, last=-2),),
         group="list", since="2.0.0",
         summary="Removes and returns the last element in a list. Blocks until an element is "
         "available otherwise. Deletes the list if the last element was popped.",
         complexity="O(N) where N is the number of provided keys.",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),))
def brpop(c: Any, argv: list[bytes]) -> Any:
    deadline = parse_timeout(argv[-1])
    return _blocking_pop(c, argv[1:-1], False, -1, deadline)


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """numkeys, the keys, LEFT|RIGHT and [COUNT n] of LMPOP / BLMPOP."""
    numkeys = _at_least_one(argv[numkeys_idx], ERR_NUMKEYS)
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise ERR_SYNTAX
    left = _where(argv[where_idx])
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and j + 1 < n:
            j += 1
            count = _at_least_one(argv[j], ERR_COUNT)
        else:
            raise ERR_SYNTAX
        j += 1
    return argv[numkeys_idx + 1 : where_idx], left, (1 if count == -1 else count)


def _mpop_keys(numkeys_idx: int) -> Any:
    def keys_fn(argv: list[bytes]) -> list[int]:
        if len(argv) <= numkeys_idx:
            return []
        n = parse_int_or_none(argv[numkeys_idx])
        if n is None or n < 1 or numkeys_idx + n >= len(argv):
            return []
        return list(range(numkeys_idx + 1, numkeys_idx + 1 + n))

    return keys_fn


@command("lmpop", -4, "write movablekeys", "list",
         key_specs=(KeySpec(("RW", "access", "delete"), begin_index=1, keynum=(0, 1, 1)),),
         keys_fn=_mpop_keys(1), group="list", since="7.0.0",
         summary="Returns multiple elements from a list after removing them. Deletes the list if "
         "the last element was popped.",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements "
         "returned.")
def lmpop(c: Any, argv: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(argv, 1)
    served = _mpop_serve(c, keys, left, count)
    return NULL_ARRAY if served is None else served


@command("blmpop", -5, "write blocking movablekeys", "list",
         key_specs=(KeySpec(("RW", "access", "delete"), begin_index=2, keynum=(0, 1, 1)),),
         keys_fn=_mpop_keys(2), group="list", since="7.0.0",
         summary="Pops the first element from one of multiple lists. Blocks until an element is "
         "available otherwise. Deletes the list if the last element was popped.",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements "
         "returned.")
def blmpop(c: Any, argv: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(argv, 2)
    deadline = parse_timeout(argv[1])
    return _blocking_pop(c, keys, left, count, deadline)


# ---- CLIENT UNBLOCK -----------------------------------------------------------------------------
@subcommand("client", "unblock", -3, "admin noscript loading stale sentinel", "connection",
            group="connection", since="5.0.0",
            summary="Unblocks a client blocked by a blocking command from a different connection.",
            complexity="O(log N) where N is the number of client connections")
def client_unblock(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        sub = argv[1].decode("utf-8", "replace")
        raise ReplyError(
            f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."
        )
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            error = True
        elif reason != b"timeout":
            raise ReplyError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    cid = parse_int_or_none(argv[2])
    if cid is None:
        raise ERR_NOT_INT
    target = c.server.clients.get(cid)
    if target is None or not target.blocked or target.block_state is None:
        return 0
    ok = manager(c.server).unblock(target, UNBLOCKED_ERROR if error else None)
    return 1 if ok else 0
