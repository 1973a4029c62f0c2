"""HyperLogLog commands (Valkey's hyperloglog.c command side): PFADD, PFCOUNT,
PFMERGE, PFDEBUG, PFSELFTEST.

HLLs are string values in Valkey's exact format (``kaa.types.hyperloglog``). A
command that changes one first turns a ``bytes`` value into a ``bytearray`` and then
edits it in place, as Valkey's ``dbUnshareStringValue``; PFCOUNT writes the cached
cardinality back into the header, which makes it a (propagated) change.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import ERR_WRONGTYPE
from kaa.commands.registry import KeySpec, command
from kaa.commands.server_cmds import arg
from kaa.engine.notify import NOTIFY_STRING
from kaa.protocol.reply import OK, ONE, ZERO, ReplyError
from kaa.types import hyperloglog as hll

ERR_INVALID_HLL = ReplyError("INVALIDOBJ Corrupted HLL object detected")
ERR_NOT_HLL = ReplyError("WRONGTYPE Key is not a valid HyperLogLog string value.")
ERR_NO_KEY = ReplyError("ERR The specified key does not exist")
ERR_NOT_SPARSE = ReplyError("ERR HLL encoding is not sparse")

_ENCODINGS = ("dense", "sparse")


def _key(name: str, spec: int, **kw: Any) -> dict[str, Any]:
    """A COMMAND DOCS key argument tied to its key spec."""
    return {**arg(name, "key", **kw), "key_spec_index": spec}


def _check_hll(v: Any) -> bytes | bytearray:
    """isHLLObjectOrReply: WRONGTYPE for other types and for strings that are not HLLs."""
    t = type(v)
    if t is not bytes and t is not bytearray:
        raise ERR_WRONGTYPE
    if not hll.is_valid(v):
        raise ERR_NOT_HLL
    return v  # type: ignore[no-any-return]


def _unshare(db: Any, key: bytes, v: bytes | bytearray) -> bytearray:
    """The value at key as a bytearray we may edit (same logical value: no signal)."""
    if type(v) is bytearray:
        return v
    ba = bytearray(v)
    db.data[key] = ba
    return ba


def _max_bytes(c: Any) -> int:
    return int(c.server.config.hll_sparse_max_bytes)


@command("pfadd", -2, "write denyoom fast", "hyperloglog", keys=(1, 1, 1), group="hyperloglog",
         since="2.8.9",
         summary="Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
         complexity="O(1) to add every element.",
         key_specs=(KeySpec(flags=("RW", "insert"), begin_index=1),),
         arguments=(_key("key", 0), arg("element", "string", optional=True, multiple=True)))
def pfadd(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    v = db.lookup(key)
    updated = 0
    if v is None:
        ba = hll.create()
        db.add(key, ba)
        updated = 1
    else:
        ba = _unshare(db, key, _check_hll(v))
    adder = hll.Adder(ba, _max_bytes(c))
    add = adder.add
    for ele in argv[2:]:
        r = add(ele)
        if r == hll.UPDATED:
            updated += 1
        elif r == hll.INVALID:
            adder.finish(False)
            raise ERR_INVALID_HLL
    adder.finish(bool(updated))
    if updated:
        db.touch(key)
        ks = db.ks
        ks.dirty += updated
        if ks.notify_flags:
            ks.notify(NOTIFY_STRING, "pfadd", key, db.id)
        return ONE
    return ZERO


@command("pfcount", -2, "readonly may_replicate", "hyperloglog", keys=(1, -1, 1),
         group="hyperloglog", since="2.8.9",
         summary="Returns the approximated cardinality of the set(s) observed by the "
                 "HyperLogLog key(s).",
         complexity="O(1) with a very small average constant time when called with a single "
                    "key. O(N) with N being the number of keys, and much bigger constant times, "
                    "when called with multiple keys.",
         key_specs=(KeySpec(flags=("RW", "access"), begin_index=1, last=-1,
                            notes="RW because it may change the internal representation of the "
                                  "key, and propagate to replicas"),),
         arguments=(_key("key", 0, multiple=True),))
def pfcount(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    if len(argv) > 2:
        acc = 0
        for key in argv[1:]:
            v = db.lookup_read(key)
            if v is None:
                continue
            raw = hll.to_raw(_check_hll(v))
            if raw is None:
                raise ERR_INVALID_HLL
            acc = hll.raw_max(acc, int.from_bytes(raw, "big"))
        merged = acc.to_bytes(hll.HLL_REGISTERS, "big")
        return hll.estimate(hll.histogram_raw(merged))
    key = argv[1]
    v = db.lookup_read(key)
    if v is None:
        return ZERO
    v = _check_hll(v)
    if hll.cache_valid(v):
        return hll.cached_card(v)
    card = hll.count(v)
    if card is None:
        raise ERR_INVALID_HLL
    ba = _unshare(db, key, v)
    hll.set_cached_card(ba, card)
    db.touch(key)
    db.ks.dirty += 1
    return card


@command("pfmerge", -2, "write denyoom", "hyperloglog", keys=(1, -1, 1), group="hyperloglog",
         since="2.8.9", summary="Merges one or more HyperLogLog values into a single key.",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
         key_specs=(KeySpec(flags=("RW", "access", "insert"), begin_index=1),
                    KeySpec(flags=("RO", "access"), begin_index=2, last=-1)),
         arguments=(_key("destkey", 0),
                    _key("sourcekey", 1, optional=True, multiple=True)))
def pfmerge(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    acc = 0
    use_dense = False
    # The destination is one of the inputs (argv[1] onwards), as in Valkey.
    for key in argv[1:]:
        v = db.lookup_read(key)
        if v is None:
            continue
        v = _check_hll(v)
        if v[4] == hll.HLL_DENSE:
            use_dense = True
        raw = hll.to_raw(v)
        if raw is None:
            raise ERR_INVALID_HLL
        acc = hll.raw_max(acc, int.from_bytes(raw, "big"))
    merged = acc.to_bytes(hll.HLL_REGISTERS, "big")
    dest = argv[1]
    v = db.lookup(dest)
    if v is None:
        ba = hll.create()
        db.add(dest, ba)
    else:
        ba = _unshare(db, dest, v)
    if use_dense and not hll.to_dense(ba):
        raise ERR_INVALID_HLL
    if ba[4] == hll.HLL_DENSE:
        # Every input, the destination included, is in ``merged``: it is the result.
        ba[hll.HLL_HDR_SIZE:] = hll.raw_to_dense_body(merged)
    else:
        adder = hll.Adder(ba, _max_bytes(c))
        setreg = adder.set
        for j, val in enumerate(merged):
            if val:
                setreg(j, val)
        adder.finish(True)
    hll.invalidate_cache(ba)
    db.touch(dest)
    ks = db.ks
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_STRING, "pfadd", dest, db.id)
    return OK


@command("pfdebug", 3, "write denyoom admin", "hyperloglog", keys=(2, 2, 1), group="hyperloglog",
         since="2.8.9", summary="Internal commands for debugging HyperLogLog values.",
         complexity="N/A", doc_flags=("syscmd",),
         key_specs=(KeySpec(flags=("RW", "access"), begin_index=2),),
         arguments=(arg("subcommand", "string"), _key("key", 0)))
def pfdebug(c: Any, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[2]
    v = db.lookup(key)
    if v is None:
        raise ERR_NO_KEY
    ba = _unshare(db, key, _check_hll(v))
    sub = argv[1].lower()
    if sub == b"getreg":
        if ba[4] == hll.HLL_SPARSE:
            if not hll.to_dense(ba):
                raise ERR_INVALID_HLL
            db.ks.dirty += 1
        return list(hll.dense_to_raw(ba))
    if sub == b"decode":
        if ba[4] != hll.HLL_SPARSE:
            raise ERR_NOT_SPARSE
        return hll.sparse_decode_text(ba)
    if sub == b"encoding":
        return _ENCODINGS[ba[4]]
    if sub == b"todense":
        if ba[4] == hll.HLL_SPARSE:
            if not hll.to_dense(ba):
                raise ERR_INVALID_HLL
            db.ks.dirty += 1
            return ONE
        return ZERO
    name = argv[1].decode("utf-8", "replace")
    raise ReplyError(f"ERR Unknown PFDEBUG subcommand '{name}'")


@command("pfselftest", 1, "admin", "hyperloglog", group="hyperloglog", since="2.8.9",
         summary="An internal command for testing HyperLogLog values.", complexity="N/A",
         doc_flags=("syscmd",))
def pfselftest(c: Any, argv: list[bytes]) -> Any:
    err = hll.selftest(_max_bytes(c))
    if err is not None:
        raise ReplyError("ERR " + err)
    return OK
