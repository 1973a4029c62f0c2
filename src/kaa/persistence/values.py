"""Conversion between Kaa's in-memory values and the neutral forms of rdb_format.

Each collection type offers ``rdb_items()`` (its content in neutral form) and a
``from_rdb(items, config)`` classmethod; this module only dispatches, so the RDB code
never depends on how a type lays out its memory.
"""

from __future__ import annotations

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
            ("zset", "kaa.types.zset", "ZSetValue"),
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


def from_neutral(kind: str, neutral: Any, config: Any) -> Any:
    """A Kaa value from a neutral one; None for an empty collection (never stored)."""
    if kind == "string":
        return neutral
    cls = _classes().get(kind)
    if cls is None:
        raise RdbError(f"values of type {kind} are not supported by this build")
    if kind != "stream" and not neutral:
        return None
    return cls.from_rdb(neutral, config)  # type: ignore[attr-defined]
