"""Stateless cursor iteration (SCAN) over a dict whose keys change between calls.

Valkey's SCAN walks its hash table's buckets in reversed-bit order so that a cursor
stays meaningful when the table grows or shrinks. A Python dict exposes neither its
buckets nor a position that survives deletions, so Kaa keeps its own, coarser
partition of the same hash space and uses the simplest cursor that works with it:

* Every key has a 64-bit position, ``hash(key)`` as an unsigned number (Python's
  SipHash of bytes: uniform, cached on the bytes object, fixed for the process).
* :class:`HashRangeIndex` splits the position space into ``2**bits`` equal ranges
  ("buckets") and keeps the keys of each range in a small list.
* A cursor is a position: the call returns the keys of whole buckets from the
  bucket holding the cursor upwards, and the next cursor is the first position of
  the next unvisited bucket (0 once the last bucket is done).

Because buckets are *ranges of positions* (indexed by the top bits), resizing the
index only splits or merges neighbouring ranges: a cursor from the old size is still a
boundary (growth) or falls inside a bucket that is returned whole (shrink, so some
keys may come twice). Hence a key present for the whole iteration is returned at
least once whatever happens between calls, the same promise Valkey's reversed-bit
cursor gives, without reversing bits. Each call costs O(COUNT) plus the occasional
resize; the index costs O(1) per insert/delete while it exists and is built on the
first SCAN of a database (see ``Database.scan``), which also drops it again when no
SCAN has used it for a while, so that writes pay nothing when nobody scans.

The class only needs hashable keys with well-spread hashes (bytes, str); small ints
hash to themselves and would all land in bucket 0, which stays correct but slow.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

M64 = (1 << 64) - 1
MIN_BITS = 4
# Average keys per bucket: a rebuild happens at scan time when the load leaves
# [LOW_LOAD, HIGH_LOAD]; the new size targets TARGET_LOAD.
TARGET_LOAD = 4
LOW_LOAD = 1
HIGH_LOAD = 16


def _bits_for(n: int) -> int:
    return max(MIN_BITS, (n // TARGET_LOAD).bit_length())


class HashRangeIndex:
    """The keys of a container grouped into ranges of their 64-bit hash."""

    __slots__ = ("bits", "shift", "buckets", "size", "last_used")

    def __init__(self, keys: Iterable[Any], n: int, now: int = 0) -> None:
        self.bits = 0
        self.shift = 64
        self.buckets: list[list[Any]] = []
        self.size = 0
        self.last_used = now
        self.rebuild(keys, n)

    def rebuild(self, keys: Iterable[Any], n: int) -> None:
        bits = _bits_for(n)
        shift = 64 - bits
        buckets: list[list[Any]] = [[] for _ in range(1 << bits)]
        size = 0
        # hash() is signed: a negative hash shifted right is a negative index, which
        # Python wraps to exactly the bucket of its unsigned value (h + 2**64) >> shift.
        for k in keys:
            buckets[hash(k) >> shift].append(k)
            size += 1
        self.bits = bits
        self.shift = shift
        self.buckets = buckets
        self.size = size

    def add(self, key: Any) -> None:
        """Record a key that was not in the container before."""
        self.buckets[hash(key) >> self.shift].append(key)
        self.size += 1

    def discard(self, key: Any) -> None:
        """Forget a key that left the container (a no-op if it is not indexed)."""
        bucket = self.buckets[hash(key) >> self.shift]
        try:
            bucket.remove(key)
        except ValueError:
            return
        self.size -= 1

    def needs_resize(self) -> bool:
        nb = len(self.buckets)
        return self.size > nb * HIGH_LOAD or (self.size < nb * LOW_LOAD and self.bits > MIN_BITS)

    def scan(self, cursor: int, count: int) -> tuple[int, list[Any]]:
        """Keys of whole buckets from the cursor's bucket on, about ``count`` of them.

        Like Valkey, stop after COUNT keys were visited or 10*COUNT buckets (sparse
        tables), whichever comes first; returns (next cursor, keys), 0 at the end."""
        shift = self.shift
        buckets = self.buckets
        nb = len(buckets)
        idx = (cursor & M64) >> shift
        out: list[Any] = []
        budget = count * 10
        while True:
            out += buckets[idx]
            idx += 1
            if idx >= nb:
                return 0, out
            budget -= 1
            if len(out) >= count or budget <= 0:
                return idx << shift, out

    def random_key(self) -> Any:
        """A key from a random non-empty bucket (keys of sparse buckets are a little
        more likely, as with Valkey's bucket sampling); None when empty."""
        if not self.size:
            return None
        buckets = self.buckets
        nb = len(buckets)
        while True:
            b = buckets[random.randrange(nb)]
            if b:
                return b[random.randrange(len(b))] if len(b) > 1 else b[0]


def parse_cursor(s: bytes) -> int | None:
    """A SCAN cursor as Valkey's ``string2ull`` reads it; None when invalid.

    Canonical integers first (negative ones are refused), then C ``strtoull``
    rules: leading whitespace, an optional sign (a '-' wraps modulo 2**64), at
    least one digit, nothing after, no overflow. Like C, the text ends at a NUL."""
    nul = s.find(b"\0")
    if nul >= 0:
        s = s[:nul]
    if not s:
        return None
    # string2ll accepts canonical 64-bit integers only.
    try:
        text = s.decode("ascii")
    except UnicodeDecodeError:
        return None
    i = 0
    n = len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    neg = False
    if i < n and text[i] in "+-":
        neg = text[i] == "-"
        i += 1
    digits = text[i:]
    if not digits or not digits.isdigit() or not digits.isascii():
        return None
    v = int(digits)
    if v > M64:
        return None
    if neg:
        # string2ll takes canonical negative numbers first and refuses them.
        if i == 1 and (n == 1 or text[1] != "0") and v <= 1 << 63:
            return None
        v = (-v) & M64
    return v
