"""The hash value (the data side of Valkey's t_hash.c), with per-field expiry.

A :class:`HashValue` keeps its fields in a plain dict ``d`` (field -> value, in
insertion order like a listpack) and a flag ``lp`` saying whether Valkey would be
using a listpack (``True``) or a hash table for the same history of writes:

* a listpack while there are at most ``hash-max-listpack-entries`` fields and no
  field or value longer than ``hash-max-listpack-value`` bytes, and no field has a
  TTL (Valkey 9 keeps field TTLs in the hash table's entries only);
* a hash table otherwise, for good: a hash never converts back.

Per-field expiry (HEXPIRE and friends, Valkey 9) costs nothing until used: ``ttl``
stays None for a hash without field TTLs. Once a field gets one, ``ttl`` maps field
-> deadline (ms since the epoch) and ``theap`` is a min-heap of (deadline, field)
with lazy deletion of stale entries, so the next deadline is found in O(log n).

Expired fields follow Valkey's rules: a field whose deadline has passed
(``now > deadline``) is invisible to every read and counts as absent for writes,
but stays in memory (HLEN still counts it) until active expiry reclaims it, or a
write overwrites it. The methods take ``now`` so one command sees one clock.

``index`` is an optional helper object the command layer installs for cursor scans
and random picks on big hashes (duck-typed ``add``/``discard``/``size``); single
field changes keep it in step.

Objects with field TTLs are listed in ``VOLATILE`` (weakly) so that the command
layer's active expiry can find hashes that moved to another key (RENAME, MOVE,
COPY, SWAPDB) without being told.
"""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

# Results of set_expire / persist (Valkey's expiryModificationResult).
NOT_EXIST = -2
FAILED = -1
FAILED_CONDITION = 0
SUCCESSFUL = 1
EXPIRE_ASAP = 2

# HEXPIRE condition flags.
EXPIRE_NX = 1
EXPIRE_XX = 2
EXPIRE_GT = 4
EXPIRE_LT = 8

VOLATILE: weakref.WeakSet[HashValue] = weakref.WeakSet()


def _lp_entry_size(v: bytes) -> int:
    """Bytes one string takes in a listpack (for memory estimates)."""
    n = len(v)
    if 0 < n < 21 and v.lstrip(b"-").isdigit():
        try:
            iv = int(v)
        except ValueError:
            iv = None
        if iv is not None and str(iv).encode() == v and -(1 << 63) <= iv < (1 << 63):
            if 0 <= iv <= 127:
                return 2
            if -4096 <= iv <= 4095:
                return 3
            if -32768 <= iv <= 32767:
                return 4
            if -8388608 <= iv <= 8388607:
                return 5
            return 6 if -2147483648 <= iv <= 2147483647 else 10
    ln = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return ln + (1 if ln <= 127 else 2 if ln < 16383 else 3 if ln < 2097151 else 4)


class HashValue:
    """A hash: ``d`` (field -> value), ``lp`` (listpack encoding?) and the optional
    field-expiry tables ``ttl`` / ``theap``.

    Commands may read ``d`` directly when ``ttl`` is None (no field can be expired);
    changes go through the methods so that encoding, TTLs and index stay right."""

    TYPE_NAME = "hash"
    __slots__ = ("d", "lp", "ttl", "theap", "index", "__weakref__")

    def __init__(self, d: dict[bytes, bytes] | None = None, lp: bool = True) -> None:
        self.d: dict[bytes, bytes] = {} if d is None else d
        self.lp = lp
        self.ttl: dict[bytes, int] | None = None
        self.theap: list[tuple[int, bytes]] | None = None
        self.index: Any = None

    # ---- construction and persistence -------------------------------------------
    @classmethod
    def from_rdb(cls, items: Iterable[tuple[bytes, bytes]], config: Any) -> HashValue:
        """A hash loaded from a plain RDB_TYPE_HASH: a hash table when it has more
        fields than a listpack may, or when a field or value is too long."""
        pairs = items if isinstance(items, list) else list(items)
        d = dict(pairs)
        lp = len(pairs) <= config.hash_max_listpack_entries
        if lp:
            lim = config.hash_max_listpack_value
            for f, v in pairs:
                if len(f) > lim or len(v) > lim:
                    lp = False
                    break
        return cls(d, lp)

    def rdb_items(self, now: int | None = None) -> list[tuple[bytes, bytes]]:
        """The field/value pairs to save. The Valkey 8 RDB format has no field TTLs:
        fields already expired are left out, the others are saved without TTL."""
        if self.ttl is None:
            return list(self.d.items())
        if now is None:
            import time

            now = int(time.time() * 1000)
        return self.live_items(now)

    def copy(self) -> HashValue:
        """A copy with the same encoding and field TTLs (COPY)."""
        h = HashValue(dict(self.d), self.lp)
        if self.ttl is not None:
            h.ttl = dict(self.ttl)
            h.theap = [(w, f) for f, w in h.ttl.items()]
            heapq.heapify(h.theap)
            VOLATILE.add(h)
        return h

    # ---- inspection ------------------------------------------------------------
    def encoding(self) -> str:
        return "listpack" if self.lp else "hashtable"

    def __len__(self) -> int:
        """Fields held, including expired ones not reclaimed yet (HLEN's answer)."""
        return len(self.d)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.d)

    def free_effort(self) -> int:
        return 1 if self.lp else len(self.d)

    def memory_usage(self) -> int:
        """Approximate bytes used, per encoding (MEMORY USAGE)."""
        d = self.d
        if self.lp:
            total = 16 + 7
            for f, v in d.items():
                total += _lp_entry_size(f) + _lp_entry_size(v)
            return total
        total = 16 + 56 + 32 * len(d)
        for f, v in d.items():
            total += len(f) + len(v) + 6
        if self.ttl is not None:
            total += 16 * len(self.ttl)
        return total

    def is_expired(self, field: bytes, now: int) -> bool:
        """True if field has a deadline that has passed (it reads as absent)."""
        ttl = self.ttl
        if ttl is None:
            return False
        w = ttl.get(field)
        return w is not None and w < now

    def get(self, field: bytes, now: int) -> bytes | None:
        """The value of a live field, else None."""
        v = self.d.get(field)
        if v is not None and self.ttl is not None:
            w = self.ttl.get(field)
            if w is not None and w < now:
                return None
        return v

    def exists(self, field: bytes, now: int) -> bool:
        return self.get(field, now) is not None

    def live_items(self, now: int) -> list[tuple[bytes, bytes]]:
        """(field, value) of the live fields, in order."""
        ttl = self.ttl
        if ttl is None:
            return list(self.d.items())
        return [(f, v) for f, v in self.d.items() if not ((w := ttl.get(f)) is not None and w < now)]

    def live_fields(self, now: int) -> list[bytes]:
        ttl = self.ttl
        if ttl is None:
            return list(self.d)
        return [f for f in self.d if not ((w := ttl.get(f)) is not None and w < now)]

    def live_count(self, now: int) -> int:
        ttl = self.ttl
        if ttl is None:
            return len(self.d)
        return len(self.d) - sum(1 for w in ttl.values() if w < now)

    def expiry_of(self, field: bytes, now: int) -> int:
        """-2 when the field is absent or expired, -1 without TTL, else its deadline."""
        if field not in self.d:
            return -2
        ttl = self.ttl
        if ttl is None:
            return -1
        w = ttl.get(field)
        if w is None:
            return -1
        return -2 if w < now else w

    # ---- encoding conversion --------------------------------------------------------
    def try_conversion(self, args: list[bytes], start: int, cfg: Any) -> None:
        """hashTypeTryConversion for the field/value arguments args[start:]: a listpack
        becomes a hash table when there are more pairs than it may hold or one of
        the arguments is too long."""
        if not self.lp:
            return
        if (len(args) - start) // 2 > cfg.hash_max_listpack_entries:
            self.lp = False
            return
        lim = cfg.hash_max_listpack_value
        for i in range(start, len(args)):
            if len(args[i]) > lim:
                self.lp = False
                return

    # ---- writes ------------------------------------------------------------------------
    def set(
        self,
        field: bytes,
        value: bytes,
        cfg: Any,
        now: int,
        expiry: int = -1,
        keep_ttl: bool = False,
    ) -> tuple[bool, bool]:
        """hashTypeSet: store field=value with deadline ``expiry`` (-1 = none; with
        ``keep_ttl`` a live field keeps its current deadline).

        Returns (updated, expired_overwritten): updated is True when a live field was
        overwritten (False for an insert); an expired field that was still in memory
        counts as an insert and is reported as overwritten."""
        d = self.d
        if self.lp:
            lim = cfg.hash_max_listpack_value
            if expiry != -1 or len(field) > lim or len(value) > lim:
                self.lp = False
            else:
                existed = field in d
                d[field] = value
                if not existed:
                    idx = self.index
                    if idx is not None:
                        idx.add(field)
                    if len(d) > cfg.hash_max_listpack_entries:
                        self.lp = False
                return existed, False
        ttl = self.ttl
        if field in d:
            old = ttl.get(field) if ttl is not None else None
            was_expired = old is not None and old <= now
            if keep_ttl and not was_expired and old is not None:
                expiry = old
            d[field] = value
            if expiry != -1:
                self._put_ttl(field, expiry)
            elif old is not None:
                self._drop_ttl(field)
            return (not was_expired), was_expired
        d[field] = value
        idx = self.index
        if idx is not None:
            idx.add(field)
        if expiry != -1:
            self._put_ttl(field, expiry)
        return False, False

    def _put_ttl(self, field: bytes, when: int) -> None:
        ttl = self.ttl
        if ttl is None:
            ttl = self.ttl = {}
            self.theap = []
            VOLATILE.add(self)
        ttl[field] = when
        heap = self.theap
        assert heap is not None
        heapq.heappush(heap, (when, field))
        if len(heap) > 2 * len(ttl) + 64:
            self.theap = [(w, f) for f, w in ttl.items()]
            heapq.heapify(self.theap)

    def _drop_ttl(self, field: bytes) -> None:
        ttl = self.ttl
        if ttl is not None and ttl.pop(field, None) is not None and not ttl:
            self.ttl = None
            self.theap = None
            VOLATILE.discard(self)

    def _remove(self, field: bytes) -> None:
        del self.d[field]
        idx = self.index
        if idx is not None:
            idx.discard(field)
        if self.ttl is not None:
            self._drop_ttl(field)

    def delete(self, field: bytes, now: int) -> bool:
        """HDEL of one field; an expired field counts as absent and is left for the
        expiry to reclaim, as in Valkey."""
        if field not in self.d:
            return False
        if self.ttl is not None:
            w = self.ttl.get(field)
            if w is not None and w < now:
                return False
        self._remove(field)
        return True

    def delete_any(self, field: bytes) -> bool:
        """Remove a field whether or not it has expired (HSETEX with a past time)."""
        if field not in self.d:
            return False
        self._remove(field)
        return True

    def set_expire(self, field: bytes, when: int, flags: int, past: bool, now: int) -> int:
        """hashTypeSetExpire: give a live field the deadline ``when`` under the NX/XX/
        GT/LT ``flags``; ``past`` (the deadline is not in the future) deletes the
        field instead. Returns NOT_EXIST, FAILED_CONDITION, SUCCESSFUL or EXPIRE_ASAP."""
        d = self.d
        if field not in d:
            return NOT_EXIST
        if self.lp:
            # A listpack field has no TTL: XX and GT cannot hold.
            if flags & (EXPIRE_XX | EXPIRE_GT):
                return FAILED_CONDITION
            if past:
                self._remove(field)
                return EXPIRE_ASAP
            self.lp = False
        ttl = self.ttl
        cur = -1
        if ttl is not None:
            w = ttl.get(field)
            if w is not None:
                if w < now:
                    return NOT_EXIST
                cur = w
        if flags:
            if flags & EXPIRE_NX and cur != -1:
                return FAILED_CONDITION
            if flags & EXPIRE_XX and cur == -1:
                return FAILED_CONDITION
            if flags & EXPIRE_GT and (when <= cur or cur == -1):
                return FAILED_CONDITION
            if flags & EXPIRE_LT and cur != -1 and when >= cur:
                return FAILED_CONDITION
        if past:
            self._remove(field)
            return EXPIRE_ASAP
        self._put_ttl(field, when)
        return SUCCESSFUL

    def persist(self, field: bytes, now: int) -> int:
        """hashTypePersist: NOT_EXIST, FAILED (no TTL) or SUCCESSFUL."""
        if field not in self.d:
            return NOT_EXIST
        ttl = self.ttl
        if ttl is None:
            return FAILED
        w = ttl.get(field)
        if w is None:
            return FAILED
        if w < now:
            return NOT_EXIST
        self._drop_ttl(field)
        return SUCCESSFUL

    # ---- active expiry --------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        """The earliest field deadline, or None without field TTLs."""
        ttl = self.ttl
        heap = self.theap
        if ttl is None or heap is None:
            return None
        while heap:
            w, f = heap[0]
            if ttl.get(f) == w:
                return w
            heapq.heappop(heap)
        return None

    def pop_expired(self, now: int, limit: int) -> list[bytes]:
        """Remove up to ``limit`` fields whose deadline has passed; their names."""
        out: list[bytes] = []
        ttl = self.ttl
        heap = self.theap
        if ttl is None or heap is None:
            return out
        while heap and len(out) < limit:
            w, f = heap[0]
            if ttl.get(f) != w:
                heapq.heappop(heap)
                continue
            if w >= now:
                break
            heapq.heappop(heap)
            self._remove(f)
            out.append(f)
            if self.ttl is None:
                break
        return out


__all__ = [
    "EXPIRE_ASAP",
    "EXPIRE_GT",
    "EXPIRE_LT",
    "EXPIRE_NX",
    "EXPIRE_XX",
    "FAILED",
    "FAILED_CONDITION",
    "HashValue",
    "NOT_EXIST",
    "SUCCESSFUL",
    "VOLATILE",
]
