"""The set value (the data side of Valkey's t_set.c).

A :class:`SetValue` keeps its members in a Python ``set`` of bytes and tracks the
encoding Valkey would be using for the same history of writes, as a small int:

* ``intset`` while every member is a canonical 64-bit integer (``string2ll``) and
  there are at most ``set-max-intset-entries`` of them;
* ``listpack`` while there are at most ``set-max-listpack-entries`` members, none
  longer than ``set-max-listpack-value`` bytes;
* ``hashtable`` otherwise.

Conversions only go that way as the set grows (intset -> listpack -> hashtable, or
intset -> hashtable); removing members never converts back, exactly as in Valkey.
The rules live in :meth:`SetValue.add`, :meth:`SetValue.create` and
:meth:`SetValue.maybe_convert`, which take the config (its ``set_max_*`` attributes)
because Valkey applies the limits in force at the time of each write.

Replies list an intset in ascending numeric order, as Valkey does; the other
encodings come out in the container's own order.

``index`` is an optional helper object installed by the command layer for
cursor scans and O(1) random picks on big sets (duck-typed: ``add(member)``,
``discard(member)`` and ``size``); every single-member change here keeps it in
step, and bulk changes drop it so that it is rebuilt on next use.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

INTSET = 0
LISTPACK = 1
HASHTABLE = 2
ENCODING_NAMES = ("intset", "listpack", "hashtable")

_LLONG_MIN = -(1 << 63)
_LLONG_MAX = (1 << 63) - 1
# intset internals cap its length at 1G entries (intsetMaxEntries).
_INTSET_HARD_MAX = 1 << 30
# Up to this many members a random pick copies the members (exactly uniform);
# bigger sets use the command layer's index.
SMALL_RANDOM = 1024


def int64_value(s: bytes) -> int | None:
    """Valkey's string2ll: the value of a canonical signed 64-bit decimal, else None.

    No sign other than a leading '-', no leading zeros, no spaces, not "-0"."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 45:  # '-'
        if n == 1 or s[1] == 48:
            return None
        if not s[1:].isdigit():
            return None
    elif c == 48:
        return 0 if n == 1 else None
    elif not s.isdigit():
        return None
    v = int(s)
    if v < _LLONG_MIN or v > _LLONG_MAX:
        return None
    return v


def is_int64(s: bytes) -> bool:
    return int64_value(s) is not None


def _intset_max(cfg: Any) -> int:
    m: int = cfg.set_max_intset_entries
    return m if m < _INTSET_HARD_MAX else _INTSET_HARD_MAX


def _int_entry_size(v: int) -> int:
    """Bytes an integer takes in a listpack (for memory estimates)."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def _str_entry_size(n: int) -> int:
    ln = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return ln + (1 if ln <= 127 else 2 if ln < 16383 else 3 if ln < 2097151 else 4)


class SetValue:
    """A set: ``m`` (the members) and ``enc`` (INTSET, LISTPACK or HASHTABLE).

    Commands may read ``m`` directly; changes go through the methods so that the
    encoding and the index stay right."""

    TYPE_NAME = "set"
    __slots__ = ("m", "enc", "index")

    def __init__(self, members: Iterable[bytes] = (), enc: int = LISTPACK) -> None:
        self.m: set[bytes] = members if type(members) is set else set(members)
        self.enc = enc
        self.index: Any = None

    # ---- construction (setTypeCreate and friends) ---------------------------
    @classmethod
    def create(cls, first: bytes, size_hint: int, cfg: Any) -> SetValue:
        """An empty set with the encoding Valkey picks for a new key whose first
        member is ``first`` and which is about to receive ``size_hint`` members."""
        if size_hint <= cfg.set_max_intset_entries and is_int64(first):
            return cls(set(), INTSET)
        if size_hint <= cfg.set_max_listpack_entries:
            return cls(set(), LISTPACK)
        return cls(set(), HASHTABLE)

    @classmethod
    def build(cls, members: Iterable[bytes], cfg: Any, start: int = INTSET) -> SetValue:
        """A set filled one member at a time from an empty set of encoding ``start``,
        as SUNIONSTORE/SDIFFSTORE (start INTSET) build their results."""
        s = cls(set(), start)
        add = s.add
        for x in members:
            add(x, cfg)
        return s

    @classmethod
    def from_result(cls, members: set[bytes], cfg: Any, first_intset: bool = False) -> SetValue:
        """The encoding SINTERSTORE ends with: intset when all members are integers
        and fit, else listpack when small enough, else hashtable. ``first_intset``
        says the smallest input was an intset, in which case Valkey grows the result
        as an intset, which turns straight into a hash table when it overflows.
        ``members`` is taken over, not copied."""
        n = len(members)
        if first_intset:
            return cls(members, INTSET if n <= _intset_max(cfg) else HASHTABLE)
        if n <= _intset_max(cfg) and all(is_int64(x) for x in members):
            return cls(members, INTSET)
        if n <= cfg.set_max_listpack_entries:
            lim = cfg.set_max_listpack_value
            if all(len(x) <= lim for x in members):
                return cls(members, LISTPACK)
        return cls(members, HASHTABLE)

    @classmethod
    def from_rdb(cls, items: Iterable[bytes], config: Any) -> SetValue:
        """A set loaded from a plain RDB_TYPE_SET, with the encoding Valkey's loader
        picks: a hash table when there are too many members for an intset, else an
        intset that turns into a listpack or hash table at the first non-integer."""
        members = items if isinstance(items, list) else list(items)
        n = len(members)
        if n > _intset_max(config):
            return cls(set(members), HASHTABLE)
        s = cls(set(), INTSET)
        lp_max = config.set_max_listpack_entries
        lp_val = config.set_max_listpack_value
        maxlen = 0
        m = s.m
        enc = INTSET
        for x in members:
            ln = len(x)
            if ln > maxlen:
                maxlen = ln
            if enc == INTSET and not is_int64(x):
                enc = LISTPACK if (len(m) < lp_max and maxlen <= lp_val) else HASHTABLE
            if enc == LISTPACK and not (len(m) < lp_max and ln <= lp_val):
                enc = HASHTABLE
            m.add(x)
        s.enc = enc
        return s

    def rdb_items(self) -> list[bytes]:
        return list(self.m)

    def copy(self) -> SetValue:
        """A copy with the same encoding (COPY)."""
        return SetValue(set(self.m), self.enc)

    # ---- inspection -----------------------------------------------------------
    def encoding(self) -> str:
        return ENCODING_NAMES[self.enc]

    def __len__(self) -> int:
        return len(self.m)

    def __contains__(self, member: object) -> bool:
        return member in self.m

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.m)

    def ordered(self) -> list[bytes]:
        """The members in the order Valkey's iterator yields them: ascending numbers
        for an intset, the container's order otherwise."""
        if self.enc == INTSET:
            return sorted(self.m, key=int)
        return list(self.m)

    def free_effort(self) -> int:
        """lazyfreeGetFreeEffort: a compact encoding is one allocation."""
        return len(self.m) if self.enc == HASHTABLE else 1

    def memory_usage(self) -> int:
        """Approximate bytes used, per encoding (MEMORY USAGE)."""
        m = self.m
        if self.enc == INTSET:
            width = 2
            for x in m:
                v = int(x)
                if v < -2147483648 or v > 2147483647:
                    width = 8
                    break
                if (v < -32768 or v > 32767) and width < 4:
                    width = 4
            return 16 + 8 + width * len(m)
        if self.enc == LISTPACK:
            total = 16 + 7
            for x in m:
                iv = int64_value(x)
                total += _int_entry_size(iv) if iv is not None else _str_entry_size(len(x))
            return total
        return 16 + 56 + len(m) * 24 + sum(len(x) for x in m) + 9 * len(m)

    # ---- writes ------------------------------------------------------------------
    def maybe_convert(self, size_hint: int, cfg: Any) -> None:
        """setTypeMaybeConvert: an SADD of ``size_hint`` arguments to a small set goes
        straight to a hash table when the hint alone exceeds the limit."""
        enc = self.enc
        if (enc == LISTPACK and size_hint > cfg.set_max_listpack_entries) or (
            enc == INTSET and size_hint > cfg.set_max_intset_entries
        ):
            self.enc = HASHTABLE

    def add(self, member: bytes, cfg: Any) -> bool:
        """Add one member (setTypeAdd); True if it was not there. Converts the
        encoding first when the member does not fit the current one."""
        m = self.m
        if member in m:
            return False
        enc = self.enc
        if enc != HASHTABLE:
            n = len(m)
            if enc == INTSET:
                if is_int64(member):
                    if n + 1 > _intset_max(cfg):
                        self.enc = HASHTABLE
                elif (
                    n < cfg.set_max_listpack_entries
                    and len(member) <= cfg.set_max_listpack_value
                    and self._intset_max_len() <= cfg.set_max_listpack_value
                ):
                    self.enc = LISTPACK
                else:
                    self.enc = HASHTABLE
            elif not (n < cfg.set_max_listpack_entries and len(member) <= cfg.set_max_listpack_value):
                self.enc = HASHTABLE
        m.add(member)
        idx = self.index
        if idx is not None:
            idx.add(member)
        return True

    def _intset_max_len(self) -> int:
        """Digits (and sign) of the widest of an intset's extremes (sdigits10)."""
        if not self.m:
            return 0
        vals = [int(x) for x in self.m]
        return max(len(str(min(vals))), len(str(max(vals))))

    def remove(self, member: bytes) -> bool:
        """Remove one member; True if it was there. Never converts."""
        m = self.m
        if member not in m:
            return False
        m.remove(member)
        idx = self.index
        if idx is not None:
            idx.discard(member)
        return True

    def replace_members(self, members: set[bytes]) -> None:
        """Swap in a new member set (bulk changes); the index is rebuilt on next use."""
        self.m = members
        self.index = None

    # ---- random picks ---------------------------------------------------------------
    def random_member(self) -> bytes:
        """One member chosen at random (the set must not be empty)."""
        m = self.m
        if len(m) <= SMALL_RANDOM or self.index is None:
            return random.choice(tuple(m))
        x: bytes = self.index.random_key()
        return x

    def pop_random(self) -> bytes:
        x = self.random_member()
        self.remove(x)
        return x


__all__ = [
    "ENCODING_NAMES",
    "HASHTABLE",
    "INTSET",
    "LISTPACK",
    "SetValue",
    "int64_value",
    "is_int64",
]
