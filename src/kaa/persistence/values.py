"""Conversion between Kaa's in-memory values and the neutral forms of rdb_format.

Each collection type offers ``rdb_items()`` (its content in neutral form) and
``encoding()``; this module adds the layout Valkey would have for the same history
(listpack, intset, quicklist nodes) so that the writer produces Valkey's compact RDB
encodings, and builds values back with the encoding Valkey's loader gives them
(rdbLoadObject): compact encodings are kept unless they hold more entries than the
``*-max-listpack-entries`` / ``set-max-intset-entries`` limits allow, plain types get
the encoding their size and element lengths call for.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kaa.persistence.rdb_format import RdbError

_KIND_CLASSES: dict[str, type] = {}


def _classes() -> dict[str, type]:
    if not _KIND_CLASSES:
        import importlib

        for kind, mod, name in (
            ("list", "kaa.types.list", "ListValue"),
            ("hash", "kaa.types.hash", "HashValue"),
            ("set", "kaa.types.set", "SetValue"),
            ("zset", "kaa.types.zset", "ZSet"),
            ("stream", "kaa.types.stream", "StreamValue"),
        ):
            try:
                m = importlib.import_module(mod)
            except ImportError:
                continue
            cls = getattr(m, name, None)
            if cls is None:
                # Fall back to the class that declares the type's name.
                for obj in vars(m).values():
                    if isinstance(obj, type) and getattr(obj, "TYPE_NAME", None) == kind:
                        cls = obj
                        break
            if cls is not None:
                _KIND_CLASSES[kind] = cls
    return _KIND_CLASSES


def to_neutral(value: Any) -> tuple[str, Any]:
    t = type(value)
    if t is bytes:
        return "string", value
    if t is bytearray:
        return "string", bytes(value)
    kind = getattr(t, "TYPE_NAME", None)
    if kind is None:
        raise RdbError(f"cannot serialize a value of type {t.__name__}")
    return kind, value.rdb_items()


def to_rdb(value: Any) -> tuple[str, Any, Any]:
    """(kind, neutral value, encoding hint) of a Kaa value, for the writer."""
    t = type(value)
    if t is bytes:
        return "string", value, None
    if t is bytearray:
        return "string", bytes(value), None
    kind = getattr(t, "TYPE_NAME", None)
    if kind is None:
        raise RdbError(f"cannot serialize a value of type {t.__name__}")
    items = value.rdb_items()
    if kind == "list":
        nodes = getattr(value, "nodes", None)
        return kind, items, ("listpack" if nodes is None else nodes)
    if kind == "stream":
        return kind, items, None
    # Field TTLs (Valkey 9) have no place in the Valkey 8 format: rdb_items leaves the
    # expired fields out and the others are saved as plain fields.
    return kind, items, value.encoding()


def from_neutral(kind: str, neutral: Any, config: Any, enc: Any = None) -> Any:
    """A Kaa value from a neutral one (with the encoding Valkey's loader would pick);
    None for an empty collection (never stored). RdbError for duplicates."""
    if kind == "string":
        return neutral
    cls = _classes().get(kind)
    if cls is None:
        raise RdbError(f"values of type {kind} are not supported by this build")
    if kind == "stream":
        return cls.from_rdb(neutral, config)  # type: ignore[attr-defined]
    if not neutral:
        return None
    if kind == "list":
        return _list(cls, neutral, config, enc)
    if kind == "hash":
        return _hash(cls, neutral, config, enc)
    if kind == "set":
        return _set(cls, neutral, config, enc)
    if kind == "zset":
        return _zset(cls, neutral, config, enc)
    return cls.from_rdb(neutral, config)  # type: ignore[attr-defined]


def _cfg(config: Any, name: str, default: int) -> int:
    return int(getattr(config, name, default))


def _node_limits(fill: int) -> tuple[int, int]:
    """quicklistNodeLimit: (byte limit, entry limit) of a node for list-max-listpack-size."""
    if fill >= 0:
        return 1 << 62, (fill or 1)
    levels = (4096, 8192, 16384, 32768, 65536)
    return levels[min(-fill - 1, len(levels) - 1)], 1 << 62


def _list(cls: Any, items: list[bytes], config: Any, enc: Any) -> Any:
    fill = _cfg(config, "list_max_listpack_size", -2)
    if isinstance(enc, list):
        # Quicklist nodes as stored; LIST_CONV_AUTO then makes a single small packed
        # node a listpack.
        lv = cls.__new__(cls)
        lv.items = deque(items)
        lv.nodes = deque(enc)
        lv.lp_bytes = sum(n[1] for n in enc)
        if len(enc) == 1 and not enc[0][2]:
            size_limit, count_limit = _node_limits(fill)
            if enc[0][1] <= size_limit and enc[0][0] <= count_limit:
                lv.nodes = None
                lv.lp_bytes = enc[0][1]
        return lv
    lv = cls(items, fill)
    # A plain list is pushed into a quicklist, then LIST_CONV_AUTO; an old ziplist list
    # is pushed into a quicklist and stays one.
    lv.auto_encode(fill, pushed=True)
    if enc == "ziplist" and lv.nodes is None:
        lv.nodes = deque([[len(lv.items), lv.lp_bytes, 0]])
    return lv


def _hash(cls: Any, pairs: list[tuple[bytes, bytes]], config: Any, enc: Any) -> Any:
    n = len(pairs)
    if enc is None:
        h = cls.from_rdb(pairs, config)
        if len(h.d) != n:
            raise RdbError("Duplicate hash fields detected")
        return h
    d = dict(pairs)
    if len(d) != n:
        raise RdbError("Hash zipmap with dup elements" if enc == "zipmap" else
                       "Hash listpack integrity check failed: listpack with dup elements")
    lp = n <= _cfg(config, "hash_max_listpack_entries", 128)
    if lp and enc == "zipmap":
        lim = _cfg(config, "hash_max_listpack_value", 64)
        lp = all(len(f) <= lim and len(v) <= lim for f, v in pairs)
    if enc == "hashtable":
        lp = False
    return cls(d, lp)


def _set(cls: Any, members: list[bytes], config: Any, enc: Any) -> Any:
    from kaa.types.set import HASHTABLE, INTSET, LISTPACK

    n = len(members)
    if enc is None:
        s = cls.from_rdb(members, config)
        if len(s.m) != n:
            raise RdbError("Duplicate set members detected")
        return s
    m = set(members)
    if len(m) != n:
        raise RdbError("Set listpack integrity check failed.")
    if enc == "intset":
        code = INTSET if n <= min(_cfg(config, "set_max_intset_entries", 512), 1 << 30) else HASHTABLE
    elif enc == "listpack":
        code = LISTPACK if n <= _cfg(config, "set_max_listpack_entries", 128) else HASHTABLE
    else:
        code = HASHTABLE
    return cls(m, code)


def _zset(cls: Any, pairs: list[tuple[bytes, float]], config: Any, enc: Any) -> Any:
    n = len(pairs)
    if enc is None:
        z = cls.from_rdb(pairs, config)
    else:
        entries = _cfg(config, "zset_max_listpack_entries", 128)
        if enc != "listpack":
            entries = -1
        z = cls.from_pairs(pairs, entries, 1 << 62)
    if len(z.scores) != n:
        raise RdbError("Duplicate zset fields detected")
    return z


__all__ = ["to_neutral", "to_rdb", "from_neutral"]
