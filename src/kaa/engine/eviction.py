"""Key eviction for ``maxmemory``: the policies, the eviction pool, and the dataset meter.

The policies are Valkey's (evict.c): ``allkeys-*`` choose among every key, ``volatile-*``
only among keys with a TTL; ``lru`` evicts the longest idle, ``lfu`` the least frequently
used (the decayed LFU counter), ``ttl`` the soonest to expire, ``random`` any.
``noeviction`` never picks anything.

LRU, LFU and TTL use Valkey's approximation: each pick samples ``maxmemory-samples`` keys
of every database into a small pool of the best candidates seen so far (16 entries,
kept in ascending order of "evictability", surviving between picks), then takes the best
pool entry whose key still exists. Random policies take a random key, visiting the
databases round-robin.

``DatasetMeter`` keeps the bytes of keys and values per database up to date from the
keyspace's write hook, so that the memory check before every command costs O(keys
written since the last check) instead of a walk over the dataset. It is only alive while
``maxmemory`` is set; the size function is the server's (this module knows no server).
"""

from __future__ import annotations

import random
import time
from bisect import insort
from collections.abc import Callable
from typing import Any

from kaa.engine.keyspace import LFU_INIT_VAL, Database, Keyspace
from kaa.engine.notify import NOTIFY_EVICTED

EVPOOL_SIZE = 16

# Which keys a policy chooses from and how it ranks them.
ALLKEYS = 1
LRU = 2
LFU = 4
TTL = 8
RANDOM = 16
NOEVICTION = 0

POLICIES: dict[str, int] = {
    "noeviction": NOEVICTION,
    "allkeys-lru": ALLKEYS | LRU,
    "allkeys-lfu": ALLKEYS | LFU,
    "allkeys-random": ALLKEYS | RANDOM,
    "volatile-lru": LRU,
    "volatile-lfu": LFU,
    "volatile-random": RANDOM,
    "volatile-ttl": TTL,
}

# Dicts up to this size are sampled from a fresh list of their keys; bigger ones from a
# snapshot of their keys that is rebuilt once it has drifted (see KeySampler).
_SMALL = 2048


def policy_bits(name: str) -> int:
    """The bits of a maxmemory-policy name (unknown names mean noeviction)."""
    return POLICIES.get(str(name), NOEVICTION)


class KeySampler:
    """Random keys of a dict in amortised O(1) per key.

    A CPython dict has no random access, so a big one is sampled through a list snapshot
    of its keys: picks that hit keys deleted since (ghosts) are skipped, and the snapshot
    is rebuilt when the dict is a different object, its size moved by a quarter, or the
    picks start missing. Keys added since the snapshot are invisible until the rebuild,
    an approximation in the spirit of Valkey's own sampling."""

    __slots__ = ("src", "keys", "size0")

    def __init__(self) -> None:
        self.src: dict[bytes, Any] | None = None
        self.keys: list[bytes] = []
        self.size0 = 0

    def sample(self, d: dict[bytes, Any], count: int) -> list[bytes]:
        n = len(d)
        if n <= count:
            return list(d)
        if n <= _SMALL:
            return random.sample(list(d), count)
        if self.src is not d or abs(n - self.size0) > self.size0 // 4:
            self._rebuild(d)
        keys = self.keys
        m = len(keys)
        out = []
        misses = 0
        rnd = random.random
        for _ in range(count):
            k = keys[int(rnd() * m)]
            if k in d:
                out.append(k)
            else:
                misses += 1
        if misses * 2 > count:
            self._rebuild(d)
        return out

    def random_key(self, d: dict[bytes, Any]) -> bytes | None:
        for _ in range(8):
            got = self.sample(d, 1)
            if got:
                return got[0]
        return next(iter(d), None)

    def _rebuild(self, d: dict[bytes, Any]) -> None:
        self.src = d
        self.keys = list(d)
        self.size0 = len(d)


class Evictor:
    """Chooses and deletes keys for one keyspace according to a policy."""

    def __init__(self, ks: Keyspace) -> None:
        self.ks = ks
        # Pool entries are (score, dbid, key), ascending: the best candidate is last.
        self.pool: list[tuple[int, int, bytes]] = []
        self.samplers: dict[tuple[int, bool], KeySampler] = {}
        self.next_db = 0
        # Called after a key is evicted, for propagation (DEL/UNLINK to AOF/replicas).
        self.on_evicted: Callable[[Database, bytes], None] | None = None

    def reset_pool(self) -> None:
        """Forget the candidates (a new policy ranks keys differently)."""
        self.pool.clear()

    def _sampler(self, dbid: int, volatile: bool) -> KeySampler:
        s = self.samplers.get((dbid, volatile))
        if s is None:
            s = self.samplers[(dbid, volatile)] = KeySampler()
        return s

    # ---- choosing ------------------------------------------------------------------------
    def pick(self, policy: int, samples: int) -> tuple[Database, bytes] | None:
        """The next key to evict, or None when the policy finds nothing to evict."""
        if policy & (LRU | LFU | TTL):
            return self._pick_pooled(policy, samples)
        if policy & RANDOM:
            return self._pick_random(policy)
        return None

    def _pick_pooled(self, policy: int, samples: int) -> tuple[Database, bytes] | None:
        ks = self.ks
        dbs = ks.dbs
        allkeys = bool(policy & ALLKEYS)
        pool = self.pool
        while True:
            total = 0
            for db in dbs:
                d = db.data if allkeys else db.expires
                if d:
                    total += len(d)
                    self._populate(db, d, policy, samples)
            if not total:
                return None
            # Best first; entries whose key is gone (or lost its TTL) are ghosts.
            while pool:
                _, dbid, key = pool.pop()
                db = dbs[dbid]
                if key in (db.data if allkeys else db.expires):
                    return db, key

    def _populate(self, db: Database, d: dict[bytes, Any], policy: int, samples: int) -> None:
        """evictionPoolPopulate: score some keys of d and keep the best EVPOOL_SIZE."""
        keys = self._sampler(db.id, not policy & ALLKEYS).sample(d, samples)
        pool = self.pool
        ks = self.ks
        dbid = db.id
        if policy & LRU:
            atime = db.atime
            clock = ks.clock
            scores = [clock - atime.get(k, clock) for k in keys]
        elif policy & LFU:
            lfu = db.lfu
            decayed = ks.lfu_decayed
            scores = []
            for k in keys:
                word = lfu.get(k)
                scores.append(255 - (LFU_INIT_VAL if word is None else decayed(word)))
        else:  # TTL: the sooner the deadline, the better the candidate
            exp = db.expires
            scores = [-exp[k] for k in keys]
        for score, key in zip(scores, keys, strict=True):
            if len(pool) >= EVPOOL_SIZE:
                if score <= pool[0][0]:
                    continue  # no better than the worst candidate of a full pool
                insort(pool, (score, dbid, key))
                del pool[0]
            else:
                insort(pool, (score, dbid, key))

    def _pick_random(self, policy: int) -> tuple[Database, bytes] | None:
        dbs = self.ks.dbs
        n = len(dbs)
        allkeys = bool(policy & ALLKEYS)
        for _ in range(n):
            self.next_db = (self.next_db + 1) % n
            db = dbs[self.next_db]
            d = db.data if allkeys else db.expires
            if d:
                key = self._sampler(db.id, not allkeys).random_key(d)
                if key is not None:
                    return db, key
        return None

    # ---- deleting ------------------------------------------------------------------------
    def evict(self, db: Database, key: bytes, lazy: bool) -> None:
        """Delete an evicted key: count it, notify ``evicted``, propagate, free lazily
        when lazyfree-lazy-eviction is on (Valkey's dbGenericDelete with KEY_EVICTED)."""
        ks = self.ks
        timed = ks.latency_threshold_ms
        t0 = time.perf_counter() if timed else 0.0
        # As for expiry, the server itself deletes: no client is the author of this write
        # (client-side caching's NOLOOP must not drop the invalidation).
        ks.expiring = True
        try:
            v = db.pop(key)
        finally:
            ks.expiring = False
        if v is None:
            return
        if lazy:
            ks.free_async(v)
        if timed:
            v = None  # the value is freed here when not lazy, as Valkey times it
            ms = int((time.perf_counter() - t0) * 1000)
            if ms >= timed and ks.latency_sink is not None:
                ks.latency_sink("eviction-del", ms)
        ks.evicted_keys += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_EVICTED, "evicted", key, db.id)
        if self.on_evicted is not None:
            self.on_evicted(db, key)


class DatasetMeter:
    """Bytes of keys and values, per database, kept current from the write hook.

    ``mark`` is the per-write cost (one set insertion); ``settle`` measures the keys
    written since the last call. A database whose dict was replaced (FLUSHDB, SWAPDB,
    loading) or whose key count no longer matches is measured again in full. Containers
    with many elements are re-measured in full only when their length has doubled or
    halved, or after many writes; in between, their last measure is scaled by their
    length, so one HSET to a huge hash stays O(1)."""

    BIG = 256  # elements from which a container's size is scaled rather than measured

    def __init__(self, ks: Keyspace, size_of: Callable[[bytes, Any], int]) -> None:
        self.ks = ks
        self.size_of = size_of
        n = len(ks.dbs)
        self.sizes: list[dict[bytes, int]] = [{} for _ in range(n)]
        # key -> (measured size, measured length, writes since) for big containers
        self.big: list[dict[bytes, tuple[int, int, int]]] = [{} for _ in range(n)]
        self.dirty: list[set[bytes]] = [set() for _ in range(n)]
        self.tables: list[dict[bytes, Any] | None] = [None] * n
        self.totals = [0] * n
        self.total = 0
        self.dirty_dbs: list[Database] = []  # the dbs with keys in dirty, in no order
        self.check_all = True

    def mark(self, db: Database, key: bytes) -> None:
        """The write hook: key changed in db (measured at the next settle)."""
        d = self.dirty[db.id]
        if not d:
            self.dirty_dbs.append(db)
        d.add(key)

    def recheck(self, *_: Any) -> None:
        """Whole databases changed (flush, swap, load): compare them all at the next settle."""
        self.check_all = True

    def settle(self) -> int:
        """Bring the totals up to date; returns the bytes of all keys and values."""
        if self.check_all:
            self.check_all = False
            self.dirty_dbs.clear()
            for db in self.ks.dbs:
                i = db.id
                if db.data is not self.tables[i]:
                    self._rebuild(db)
                else:
                    if self.dirty[i]:
                        self._apply(db)
                    if len(self.sizes[i]) != len(db.data):
                        self._rebuild(db)
        elif self.dirty_dbs:
            tables = self.tables
            for db in self.dirty_dbs:
                if db.data is not tables[db.id]:
                    self._rebuild(db)
                else:
                    self._apply(db)
            self.dirty_dbs.clear()
        return self.total

    def key_size(self, db: Database, key: bytes) -> int:
        """The measured bytes of key and its value (0 if not measured)."""
        return self.sizes[db.id].get(key, 0)

    def _apply(self, db: Database) -> None:
        i = db.id
        data = db.data
        sizes = self.sizes[i]
        big = self.big[i]
        dirty = self.dirty[i]
        delta = 0
        for key in dirty:
            old = sizes.get(key, 0)
            v = data.get(key)
            if v is None:
                if old:
                    del sizes[key]
                    delta -= old
                if big:
                    big.pop(key, None)
                continue
            new = self._measure(big, key, v)
            sizes[key] = new
            delta += new - old
        dirty.clear()
        self.totals[i] += delta
        self.total += delta

    def _measure(self, big: dict[bytes, tuple[int, int, int]], key: bytes, v: Any) -> int:
        t = type(v)
        if t is bytes or t is bytearray:
            return self.size_of(key, v)
        try:
            n = len(v)
        except TypeError:
            return self.size_of(key, v)
        if n < self.BIG:
            if big:
                big.pop(key, None)
            return self.size_of(key, v)
        prev = big.get(key)
        if prev is not None:
            size0, n0, writes = prev
            if n0 // 2 <= n <= n0 * 2 and writes < n0 // 4:
                big[key] = (size0, n0, writes + 1)
                return size0 * n // n0
        size = self.size_of(key, v)
        big[key] = (size, n, 0)
        return size

    def _rebuild(self, db: Database) -> None:
        i = db.id
        data = db.data
        self.tables[i] = data
        self.dirty[i].clear()
        big: dict[bytes, tuple[int, int, int]] = {}
        measure = self._measure
        sizes = {k: measure(big, k, v) for k, v in data.items()}
        self.sizes[i] = sizes
        self.big[i] = big
        tot = sum(sizes.values())
        self.total += tot - self.totals[i]
        self.totals[i] = tot

    def clear(self) -> None:
        """Drop every measure (the meter is being switched off)."""
        n = len(self.ks.dbs)
        self.sizes = [{} for _ in range(n)]
        self.big = [{} for _ in range(n)]
        self.dirty = [set() for _ in range(n)]
        self.tables = [None] * n
        self.totals = [0] * n
        self.total = 0
        self.dirty_dbs = []
        self.check_all = True


__all__ = ["POLICIES", "EVPOOL_SIZE", "ALLKEYS", "LRU", "LFU", "TTL", "RANDOM", "NOEVICTION",
           "policy_bits", "KeySampler", "Evictor", "DatasetMeter"]
