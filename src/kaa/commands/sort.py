"""SORT and SORT_RO (Valkey's sort.c): sort a list, set or sorted set, by its own
elements or by weights fetched through a ``BY`` pattern, fetch ``GET`` patterns,
and optionally STORE the result as a list."""

from __future__ import annotations

import locale
from collections.abc import Callable
from itertools import islice
from typing import Any

from kaa.commands.args import ERR_SYNTAX, ERR_WRONGTYPE, parse_int
from kaa.commands.registry import COMMANDS, KeySpec, command
from kaa.commands.zsets import _LIMIT, _a, _group, _tok
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_LIST
from kaa.protocol.reply import ReplyError
from kaa.types.list import from_items
from kaa.types.zset import ZSet, sort_double

ERR_SCORES = ReplyError("ERR One or more scores can't be converted into double")
_SORTABLE = ("list", "set", "zset")


def lookup_by_pattern(db: Any, pattern: bytes, subst: bytes) -> bytes | None:
    """lookupKeyByPattern: ``#`` is the element itself; the first ``*`` is replaced by
    the element to form a key, holding a string, or a hash when the pattern ends with
    ``->field``. None when there is no ``*`` or nothing suitable is stored there."""
    if pattern == b"#":
        return subst
    p = pattern.find(b"*")
    if p < 0:
        return None
    f = pattern.find(b"->", p + 1)
    field: bytes | None = None
    end = len(pattern)
    if f >= 0 and f + 2 < len(pattern):
        field = pattern[f + 2 :]
        end = f
    key = pattern[:p] + subst + pattern[p + 1 : end]
    o = db.lookup_read(key)
    if o is None:
        return None
    t = type(o)
    if field is not None:
        if getattr(t, "TYPE_NAME", None) != "hash":
            return None
        v = o.get(field, now_ms())
        return None if v is None else bytes(v)
    if t is bytes:
        return o  # type: ignore[no-any-return]
    if t is bytearray:
        return bytes(o)
    return None


def _sort_keys(argv: list[bytes]) -> list[int]:
    """sortGetKeys: the sorted key and the last STORE key, skipping option arguments
    the way Valkey does."""
    out = [1]
    store = None
    argc = len(argv)
    i = 2
    while i < argc:
        opt = argv[i].lower()
        if opt == b"limit":
            i += 2
        elif opt in (b"get", b"by"):
            i += 1
        elif opt == b"store" and i + 1 < argc:
            store = i + 1
        i += 1
    if store is not None:
        out.append(store)
    return out


def _collate_key() -> Callable[[bytes], Any]:
    """Comparison key of strcoll() in the current LC_COLLATE (``locale-collate``):
    byte order in the C/POSIX/C.UTF-8 locales, strxfrm otherwise. C strings end at NUL."""
    lang = locale.getlocale(locale.LC_COLLATE)[0]
    if lang is None or lang in ("C", "POSIX") or lang.startswith("C."):
        return _cstr

    def key(b: bytes) -> Any:
        try:
            return locale.strxfrm(_cstr(b).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _cstr(b).decode("latin-1")

    return key


def _identity(b: bytes) -> bytes:
    return b


def _cstr(b: bytes) -> bytes:
    n = b.find(b"\0")
    return b if n < 0 else b[:n]


def _sort_generic(c: Any, argv: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    storekey: bytes | None = None
    gets: list[bytes] = []
    argc = len(argv)
    j = 2
    # Cluster mode (later): Valkey refuses BY/GET patterns with '*' whose keys may hash to
    # another slot than the sorted key ("BY option of SORT denied in Cluster mode when keys
    # formed by the pattern may be in different slots.").
    full_access: bool | None = None  # may the user read any key? (asked once, if needed)

    def check_acl(what: str) -> None:
        nonlocal full_access
        if full_access is None:
            fka = c.server.acl_full_key_access
            full_access = fka is None or fka(c, COMMANDS["sort_ro" if readonly else "sort"], argv)
        if not full_access:
            raise ReplyError(f"ERR {what} option of SORT denied due to insufficient ACL permissions.")

    while j < argc:
        opt = argv[j].lower()
        left = argc - j - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start = parse_int(argv[j + 1])
            limit_count = parse_int(argv[j + 2])
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            sortby = argv[j + 1]
            if b"*" not in sortby:
                dontsort = True
            else:
                check_acl("BY")
            j += 1
        elif opt == b"get" and left >= 1:
            check_acl("GET")
            gets.append(argv[j + 1])
            j += 1
        else:
            raise ERR_SYNTAX
        j += 1
    db = c.db
    obj = db.lookup_read(argv[1])
    kind = "list"
    if obj is not None:
        kind = getattr(type(obj), "TYPE_NAME", "string")
        if kind not in _SORTABLE:
            raise ERR_WRONGTYPE
    # An unsorted set would come out in an arbitrary order: sort it when the result is
    # stored or a script asks, so replicas and AOF see the same thing.
    if dontsort and kind == "set" and (storekey is not None or c.kind == "script"):
        dontsort = False
        alpha = True
        sortby = None
    if kind == "zset" and obj is not None:
        obj.convert_to_skiplist()  # Valkey converts the sets SORT reads, for good
    vectorlen = 0 if obj is None else len(obj)
    start = min(max(limit_start, 0), vectorlen)
    limit_count = min(max(limit_count, -1), vectorlen)
    end = vectorlen - 1 if limit_count < 0 else start + limit_count - 1
    if start >= vectorlen:
        start = vectorlen - 1
        end = vectorlen - 2
    if end >= vectorlen:
        end = vectorlen - 1

    vector: list[bytes]
    if obj is None:
        vector = []
    elif dontsort and kind in ("list", "zset"):
        # Native order (reversed by DESC), only the LIMIT range is loaded.
        if end >= start:
            n = len(obj)
            if kind == "list":
                items = reversed(obj.items) if desc else iter(obj.items)
                vector = list(islice(items, start, end + 1))
            else:
                z: ZSet = obj
                if desc:
                    vector = [m for _, m in z.islice(n - 1 - end, n - start, reverse=True)]
                else:
                    vector = [m for _, m in z.islice(start, end + 1)]
            end -= start
            start = 0
        else:
            vector = []
    elif kind == "list":
        vector = list(obj.items)
    elif kind == "set":
        vector = obj.ordered() if hasattr(obj, "ordered") else list(obj)
    else:
        vector = list(obj.scores)

    if not dontsort and vector:
        if alpha:
            # STORE compares bytes (binary safe), a reply uses strcoll like Valkey.
            ckey: Callable[[bytes], Any] = _identity if storekey is not None else _collate_key()
            if sortby is not None:
                pairs = []
                for e in vector:
                    by = lookup_by_pattern(db, sortby, e)
                    pairs.append(((0,) if by is None else (1, ckey(by)), e))
                pairs.sort(key=lambda p: p[0], reverse=desc)
            else:
                pairs = [(ckey(e), e) for e in vector]
                pairs.sort(key=lambda p: p[0], reverse=desc)
            vector = [e for _, e in pairs]
        else:
            bad = False
            keyed: list[tuple[float, bytes]] = []
            for e in vector:
                if sortby is not None:
                    by = lookup_by_pattern(db, sortby, e)
                    if by is None:
                        keyed.append((0.0, e))
                        continue
                else:
                    by = e
                v = sort_double(by)
                if v is None:
                    bad = True
                    v = 0.0
                keyed.append((v, e))
            if bad:
                raise ERR_SCORES
            keyed.sort(reverse=desc)
            vector = [e for _, e in keyed]

    count = end - start + 1 if end >= start else 0
    selected = vector[start : start + count] if count else []
    if storekey is None:
        if not gets:
            return selected
        out: list[Any] = []
        for e in selected:
            for g in gets:
                out.append(lookup_by_pattern(db, g, e))
        return out
    values: list[bytes] = []
    if not gets:
        values = selected
    else:
        for e in selected:
            for g in gets:
                got = lookup_by_pattern(db, g, e)
                values.append(b"" if got is None else got)
    ks = db.ks
    n = len(values)
    if n:
        db.set(storekey, from_items(values, c.server.config.list_max_listpack_size))
        if ks.notify_flags:
            ks.notify(NOTIFY_LIST, "sortstore", storekey, db.id)
        ks.dirty += n
    elif db.delete(storekey):
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", storekey, db.id)
        ks.dirty += 1
    return n


_KS_SORTED = KeySpec(flags=("RO", "access"), begin_index=1)
_KS_BYGET = KeySpec(flags=("RO", "access"), notes="For the optional BY/GET keyword. It is marked "
                    "'unknown' because the key names derive from the content of the key we sort")
_KS_STORE = KeySpec(flags=("OW", "update"), notes="For the optional STORE keyword. It is marked "
                    "'unknown' because the keyword can appear anywhere in the argument array")
_ARGS_RO = (
    _a("key", "key", key_spec_index=0),
    _a("by-pattern", "pattern", token="BY", display="pattern", key_spec_index=1, optional=True),
    _LIMIT,
    _a("get-pattern", "pattern", token="GET", display="pattern", key_spec_index=1, optional=True,
       multiple=True, multiple_token=True),
    _group("oneof", "order", _tok("asc"), _tok("desc"), optional=True),
    _a("sorting", "pure-token", token="ALPHA", optional=True),
)
_ARGS = (*_ARGS_RO, _a("destination", "key", token="STORE", key_spec_index=2, optional=True))
_COMPLEXITY = ("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and "
               "M the number of returned elements. When the elements are not sorted, complexity "
               "is O(N).")


@command("sort", -2, "write denyoom movablekeys", "set sortedset list dangerous", keys=(1, 1, 1),
         key_specs=(_KS_SORTED, _KS_BYGET, _KS_STORE), keys_fn=_sort_keys, group="generic", arguments=_ARGS,
         since="1.0.0", complexity=_COMPLEXITY,
         summary="Sorts the elements in a list, a set, or a sorted set, optionally storing the "
                 "result.")
def sort(c: Any, argv: list[bytes]) -> Any:
    return _sort_generic(c, argv, False)


@command("sort_ro", -2, "readonly movablekeys", "set sortedset list dangerous", keys=(1, 1, 1),
         key_specs=(_KS_SORTED, _KS_BYGET), keys_fn=lambda argv: [1], group="generic", arguments=_ARGS_RO,
         since="7.0.0", complexity=_COMPLEXITY,
         summary="Returns the sorted elements of a list, a set, or a sorted set.")
def sort_ro(c: Any, argv: list[bytes]) -> Any:
    return _sort_generic(c, argv, True)
