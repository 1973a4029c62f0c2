"""The keyspace: numbered databases of key -> value, with expiry.

A value is ``bytes`` or ``bytearray`` for strings (``bytearray`` once a command
has modified it in place, which Valkey reports as the ``raw`` encoding) or an
object of one of ``kaa.types`` for the other types. Expiry deadlines (ms since
the epoch) live in a separate dict, so keys without a TTL cost nothing extra.

Every change to a key goes through ``Database`` so that WATCH, client-side
caching and blocked clients hear of it in one place (``Keyspace.on_modified``).
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from kaa.engine.glob import glob_match


def now_ms() -> int:
    return int(time.time() * 1000)


def type_name(value: Any) -> str:
    """The name TYPE reports for a value."""
    t = type(value)
    if t is bytes or t is bytearray:
        return "string"
    return getattr(t, "TYPE_NAME", "none")


class Database:
    """One numbered database."""

    __slots__ = ("id", "ks", "data", "expires", "heap", "avg_ttl", "expires_cursor")

    def __init__(self, ks: Keyspace, index: int) -> None:
        self.id = index
        self.ks = ks
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        # Min-heap of (deadline, key) for the active expiry cycle; entries go
        # stale when a key's deadline changes and are skipped when popped.
        self.heap: list[tuple[int, bytes]] = []
        self.avg_ttl = 0
        self.expires_cursor = 0

    # ---- reading -------------------------------------------------------
    def lookup(self, key: bytes) -> Any:
        """Value of key or None, expiring it first if its deadline has passed."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= now_ms() and self.ks.expire_if_allowed(self, key):
                return None
        return v

    def lookup_read(self, key: bytes) -> Any:
        """lookup() for read commands: counts keyspace hits and misses."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= now_ms() and self.ks.expire_if_allowed(self, key):
                v = None
        ks = self.ks
        if v is None:
            ks.keyspace_misses += 1
            if ks.notify_flags:
                ks.notify_keymiss(self, key)
        else:
            ks.keyspace_hits += 1
        return v

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key) if self.expires else None

    def __len__(self) -> int:
        return len(self.data)

    # ---- writing -------------------------------------------------------
    def set(self, key: bytes, value: Any, keepttl: bool = False) -> None:
        """Store value at key (a new object: overwrite). Clears the TTL unless keepttl."""
        self.data[key] = value
        if not keepttl and self.expires and key in self.expires:
            del self.expires[key]
        self.ks.on_modified(self, key)

    def add(self, key: bytes, value: Any) -> None:
        """Store value at a key known to be absent."""
        self.data[key] = value
        self.ks.on_modified(self, key)

    def touch(self, key: bytes) -> None:
        """Tell watchers that the value at key changed in place."""
        self.ks.on_modified(self, key)

    def delete(self, key: bytes) -> bool:
        """Remove key if present; True if it was."""
        if key in self.data:
            del self.data[key]
            if self.expires and key in self.expires:
                del self.expires[key]
            self.ks.on_modified(self, key)
            return True
        return False

    def remove_if_empty(self, key: bytes, value: Any) -> bool:
        """Delete a collection that became empty, as Valkey never keeps empty ones."""
        if len(value) == 0:
            self.delete(key)
            return True
        return False

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        heapq.heappush(self.heap, (when_ms, key))
        self.ks.on_modified(self, key)

    def persist(self, key: bytes) -> bool:
        if self.expires and key in self.expires:
            del self.expires[key]
            self.ks.on_modified(self, key)
            return True
        return False

    def flush(self) -> int:
        n = len(self.data)
        self.data = {}
        self.expires = {}
        self.heap = []
        return n

    # ---- iteration -------------------------------------------------------
    def random_key(self) -> bytes | None:
        """A random key that is not expired (gives up after many expired picks, like Valkey)."""
        for _ in range(100):
            if not self.data:
                return None
            key = _random_dict_key(self.data)
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when <= now_ms():
                    if self.ks.expire_if_allowed(self, key):
                        continue
            return key
        return _random_dict_key(self.data) if self.data else None

    def keys_matching(self, pattern: bytes) -> list[bytes]:
        now = now_ms()
        exp = self.expires
        allkeys = pattern == b"*"
        out = []
        for k in list(self.data):
            if not allkeys and not glob_match(pattern, k):
                continue
            if exp:
                when = exp.get(k)
                if when is not None and when <= now:
                    continue
            out.append(k)
        return out

    def is_expired(self, key: bytes, now: int) -> bool:
        when = self.expires.get(key) if self.expires else None
        return when is not None and when <= now


def _random_dict_key(d: dict[bytes, Any]) -> bytes:
    # dicts have no random access; islice over the iterator is O(k) but simple.
    n = len(d)
    if n <= 64:
        return random.choice(list(d))
    idx = random.randrange(n)
    it = iter(d)
    for _ in range(idx):
        next(it)
    return next(it)


class Keyspace:
    """All databases plus the counters and hooks that the server wires in."""

    def __init__(self, ndbs: int = 16) -> None:
        self.dbs = [Database(self, i) for i in range(ndbs)]
        self.dirty = 0
        self.expired_keys = 0
        self.expired_stale_perc = 0.0
        self.expired_time_cap_reached_count = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.evicted_keys = 0
        # When False, keys are never deleted on access (a replica, or DEBUG SET-ACTIVE-EXPIRE).
        self.lazy_expire_enabled = True
        self.active_expire_enabled = True
        # Flags of notify-keyspace-events, as a bitmask (engine.notify); 0 = off.
        self.notify_flags = 0
        # Hooks the server sets; defaults do nothing so the engine runs alone.
        self.watchers: Callable[[Database, bytes], None] | None = None
        self.notifier: Callable[[int, str, bytes, int], None] | None = None
        self.propagate_expire: Callable[[Database, bytes], None] | None = None
        self.keymiss_notifier: Callable[[Database, bytes], None] | None = None

    def on_modified(self, db: Database, key: bytes) -> None:
        w = self.watchers
        if w is not None:
            w(db, key)

    def notify(self, flag: int, event: str, key: bytes, dbid: int) -> None:
        if self.notify_flags & flag and self.notifier is not None:
            self.notifier(flag, event, key, dbid)

    def notify_keymiss(self, db: Database, key: bytes) -> None:
        if self.keymiss_notifier is not None:
            self.keymiss_notifier(db, key)

    def expire_if_allowed(self, db: Database, key: bytes) -> bool:
        """Delete an expired key (when this node may); True if the key now counts as absent."""
        if not self.lazy_expire_enabled:
            # A replica keeps the key but reports it as missing, as Valkey does.
            return True
        self.delete_expired(db, key)
        return True

    def delete_expired(self, db: Database, key: bytes) -> None:
        db.delete(key)
        self.expired_keys += 1
        from kaa.engine.notify import NOTIFY_EXPIRED

        self.notify(NOTIFY_EXPIRED, "expired", key, db.id)
        if self.propagate_expire is not None:
            self.propagate_expire(db, key)

    def active_expire_cycle(self, budget_s: float = 0.025) -> int:
        """Delete keys whose deadline has passed, using each db's heap; bounded in time."""
        if not self.active_expire_enabled:
            return 0
        now = now_ms()
        deadline = time.perf_counter() + budget_s
        removed = 0
        stale = 0
        seen = 0
        for db in self.dbs:
            heap = db.heap
            exp = db.expires
            if not heap:
                continue
            if not exp:
                db.heap = []
                continue
            while heap and heap[0][0] <= now:
                when, key = heapq.heappop(heap)
                seen += 1
                if exp.get(key) == when:
                    self.delete_expired(db, key)
                    removed += 1
                else:
                    stale += 1
                if (seen & 63) == 0 and time.perf_counter() > deadline:
                    self.expired_time_cap_reached_count += 1
                    return removed
            # Stale heap entries accumulate when TTLs are rewritten; rebuild when they dominate.
            if len(heap) > 1024 and len(heap) > 4 * len(exp):
                db.heap = [(w, k) for k, w in exp.items()]
                heapq.heapify(db.heap)
        if seen:
            self.expired_stale_perc = stale / seen * 100
        return removed

    def iter_dbs(self) -> Iterator[Database]:
        return iter(self.dbs)

    def swap(self, a: int, b: int) -> None:
        da, db_ = self.dbs[a], self.dbs[b]
        da.data, db_.data = db_.data, da.data
        da.expires, db_.expires = db_.expires, da.expires
        da.heap, db_.heap = db_.heap, da.heap
