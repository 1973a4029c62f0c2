"""The keyspace: numbered databases of key -> value, with expiry.

A value is ``bytes`` or ``bytearray`` for strings (``bytearray`` once a command
has modified it in place, which Valkey reports as the ``raw`` encoding) or an
object of one of ``kaa.types`` for the other types. Expiry deadlines (ms since
the epoch) live in a separate dict, so keys without a TTL cost nothing extra.

Every change to a key goes through ``Database`` so that WATCH, client-side
caching and blocked clients hear of it in one place (``Keyspace.on_modified``).
Whole-database events (FLUSHDB/FLUSHALL, SWAPDB) are announced to
``Keyspace.flush_hooks`` / ``swap_hooks`` instead of once per key.

Per-key side tables, all keyed like ``data``:

* ``expires``: deadline in ms; a key expires when the clock is *past* it (Valkey's
  ``now > when``). ``heap`` holds (deadline, key) for the active expiry cycle, with
  stale entries skipped when popped (lazy deletion) and a rebuild when they pile up.
* ``atime``: last access in ms of the coarse ``Keyspace.clock`` (what OBJECT IDLETIME
  and LRU eviction read), written by every touching lookup and by every write; a
  store of a shared int into a dict, measured at ~2% of a pipelined GET.
* ``lfu``: Valkey's 24-bit LFU word ``(minutes << 8) | counter``, only maintained
  while an LFU maxmemory-policy is selected (``touch_mode`` 2).
* ``scan_index``: a :class:`~kaa.engine.scan.HashRangeIndex` of the keys, present only
  while SCAN/RANDOMKEY use it (see ``Database.scan``).

Code that writes ``data`` directly (loading an RDB) should use ``add``/``set``; when it
does not, the scan index notices the size mismatch and rebuilds itself, and a missing
``atime`` reads as "accessed now".
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from kaa.engine.glob import glob_match
from kaa.engine.notify import NOTIFY_EXPIRED, NOTIFY_NEW
from kaa.engine.scan import HashRangeIndex

LFU_INIT_VAL = 5
LRU_CLOCK_MAX = (1 << 24) - 1
# Objects cheaper than this to free are freed at once even by UNLINK (Valkey's
# LAZYFREE_THRESHOLD, counted in allocations).
LAZYFREE_THRESHOLD = 64
# A database bigger than this gets a scan index for RANDOMKEY (O(1) picks) too.
RANDOM_INDEX_MIN = 4096
# Drop a scan index that no SCAN/RANDOMKEY used for this long (ms of Keyspace.clock).
SCAN_INDEX_IDLE_MS = 60_000

# Attributes that make up a database's contents (SWAPDB exchanges exactly these).
_CONTENTS = ("data", "expires", "heap", "avg_ttl", "expires_cursor", "atime", "lfu", "scan_index")


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

    __slots__ = ("id", "ks") + _CONTENTS

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
        self.atime: dict[bytes, int] = {}
        self.lfu: dict[bytes, int] = {}
        self.scan_index: HashRangeIndex | None = None

    # ---- reading -------------------------------------------------------
    def lookup(self, key: bytes) -> Any:
        """Value of key or None, expiring it first if its deadline has passed.

        Counts as an access (OBJECT IDLETIME/FREQ) unless the client is no-touch."""
        v = self.data.get(key)
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when < now_ms() and self.ks.expire_if_allowed(self, key):
                    return None
            ks = self.ks
            if ks.touch_mode:
                if ks.touch_mode == 2:
                    ks.lfu_access(self, key)
            else:
                self.atime[key] = ks.clock
        return v

    def lookup_read(self, key: bytes) -> Any:
        """lookup() for read commands: counts keyspace hits and misses."""
        v = self.data.get(key)
        ks = self.ks
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when < now_ms() and ks.expire_if_allowed(self, key):
                    v = None
        if v is None:
            ks.keyspace_misses += 1
            if ks.notify_flags:
                ks.notify_keymiss(self, key)
        else:
            ks.keyspace_hits += 1
            if ks.touch_mode:
                if ks.touch_mode == 2:
                    ks.lfu_access(self, key)
            else:
                self.atime[key] = ks.clock
        return v

    def lookup_read_notouch(self, key: bytes, notify: bool = True) -> Any:
        """A read that leaves the access time alone (EXISTS, TYPE, TTL, OBJECT): still
        expires lazily and counts hits/misses; ``notify=False`` skips the keymiss event."""
        v = self.peek(key)
        ks = self.ks
        if v is None:
            ks.keyspace_misses += 1
            if notify and ks.notify_flags:
                ks.notify_keymiss(self, key)
        else:
            ks.keyspace_hits += 1
        return v

    def peek(self, key: bytes) -> Any:
        """Value or None with lazy expiry, but no access-time update and no statistics."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when < now_ms() and self.ks.expire_if_allowed(self, key):
                return None
        return v

    def expire_if_needed(self, key: bytes) -> bool:
        """Delete key if its deadline has passed (where allowed); True if it was deleted."""
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < now_ms() and key in self.data:
                ks = self.ks
                if not ks.lazy_expire_enabled or ks.expire_paused:
                    return False
                ks.delete_expired(self, key)
                return True
        return False

    def exists(self, key: bytes) -> bool:
        """True if key is present and not expired (does not count as an access)."""
        return self.peek(key) is not None

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key) if self.expires else None

    def __len__(self) -> int:
        return len(self.data)

    # ---- writing -------------------------------------------------------
    def set(self, key: bytes, value: Any, keepttl: bool = False) -> None:
        """Store value at key (a new object: overwrite). Clears the TTL unless keepttl."""
        data = self.data
        ks = self.ks
        if self.scan_index is not None or ks.notify_flags & NOTIFY_NEW:
            if key not in data:
                self._new_key(key)
        data[key] = value
        if not keepttl and self.expires and key in self.expires:
            del self.expires[key]
        if ks.touch_mode:
            ks.access_on_write(self, key)
        else:
            self.atime[key] = ks.clock
        w = ks.watchers
        if w is not None:
            w(self, key)
        if ks.blocked_keys is not None:
            ks.signal_ready(self, key)

    def set_pairs(self, argv: list[bytes]) -> None:
        """set() of argv[1], argv[2], argv[3], ... as key, value pairs (MSET): one dict
        update while no hook needs to hear of each key; the last of repeated keys wins."""
        ks = self.ks
        if (self.scan_index is not None or ks.notify_flags & NOTIFY_NEW or ks.touch_mode
                or ks.watchers is not None or ks.blocked_keys is not None):
            for i in range(1, len(argv), 2):
                self.set(argv[i], argv[i + 1])
            return
        # One pass over the pairs (half the time of slices, zip and dict.fromkeys).
        data = self.data
        atime = self.atime
        clock = ks.clock
        expires = self.expires
        it = iter(argv)
        next(it)
        if expires:
            for k in it:
                data[k] = next(it)
                atime[k] = clock
                expires.pop(k, None)
        else:
            for k in it:
                data[k] = next(it)
                atime[k] = clock

    def add(self, key: bytes, value: Any) -> None:
        """Store value at a key known to be absent."""
        ks = self.ks
        if self.scan_index is not None or ks.notify_flags & NOTIFY_NEW:
            self._new_key(key)
        self.data[key] = value
        if ks.touch_mode == 2:
            self.lfu[key] = (ks.lfu_minutes() << 8) | LFU_INIT_VAL
        else:
            self.atime[key] = ks.clock
        w = ks.watchers
        if w is not None:
            w(self, key)
        if ks.blocked_keys is not None:
            ks.signal_ready(self, key)

    def _new_key(self, key: bytes) -> None:
        idx = self.scan_index
        if idx is not None:
            idx.add(key)
        ks = self.ks
        if ks.notify_flags & NOTIFY_NEW:
            ks.notify(NOTIFY_NEW, "new", key, self.id)

    def touch(self, key: bytes) -> None:
        """Tell watchers that the value at key changed in place."""
        self.ks.on_modified(self, key)

    def pop(self, key: bytes) -> Any:
        """Remove key and return its value (None if absent); watchers hear of it."""
        v = self.data.pop(key, None)
        if v is not None:
            if self.expires:
                self.expires.pop(key, None)
            self.atime.pop(key, None)
            if self.lfu:
                self.lfu.pop(key, None)
            idx = self.scan_index
            if idx is not None:
                idx.discard(key)
            ks = self.ks
            w = ks.watchers
            if w is not None:
                w(self, key)
            if ks.blocked_keys is not None:
                ks.signal_ready(self, key)
        return v

    def delete(self, key: bytes) -> bool:
        """Remove key if present; True if it was."""
        return self.pop(key) is not None

    def remove_if_empty(self, key: bytes, value: Any) -> bool:
        """Delete a collection that became empty, as Valkey never keeps empty ones."""
        if len(value) == 0:
            self.delete(key)
            return True
        return False

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        heap = self.heap
        heapq.heappush(heap, (when_ms, key))
        if len(heap) > 2 * len(self.expires) + 1024:
            self._rebuild_heap()
        self.ks.on_modified(self, key)

    def _rebuild_heap(self) -> None:
        """Drop stale heap entries (deadlines rewritten or keys gone): O(n), amortised O(1)."""
        heap = [(w, k) for k, w in self.expires.items()]
        heapq.heapify(heap)
        self.heap = heap

    def persist(self, key: bytes) -> bool:
        if self.expires and key in self.expires:
            del self.expires[key]
            self.ks.on_modified(self, key)
            return True
        return False

    def flush(self) -> int:
        """Empty the database; returns the number of keys it held."""
        n = len(self.data)
        self.take_contents()
        return n

    def take_contents(self) -> dict[bytes, Any]:
        """Empty the database and hand back the old key -> value dict (for a lazy free)."""
        old = self.data
        self.data = {}
        self.expires = {}
        self.heap = []
        self.avg_ttl = 0
        self.expires_cursor = 0
        self.atime = {}
        self.lfu = {}
        self.scan_index = None
        return old

    # ---- access clocks (OBJECT IDLETIME / FREQ, eviction) --------------------
    def record_access(self, key: bytes) -> None:
        """Count an access whatever the client's no-touch flag (TOUCH does this)."""
        ks = self.ks
        if ks.lfu_policy:
            ks.lfu_access(self, key)
        else:
            self.atime[key] = ks.clock

    def access_time_ms(self, key: bytes) -> int:
        """Last access in ms (coarse clock); a key nobody recorded counts as accessed now."""
        t = self.atime.get(key)
        if t is None:
            t = self.atime[key] = self.ks.clock
        return t

    def idle_seconds(self, key: bytes) -> int:
        """OBJECT IDLETIME: whole seconds of the LRU clock since the last access. The
        clock is the cached one accesses are stamped with (Keyspace.clock, moved by the
        cron), as Valkey's estimateObjectIdleTime reads LRU_CLOCK(): a fresh reading
        could put a second boundary between a write and an IDLETIME right after it."""
        return max(0, self.ks.clock // 1000 - self.access_time_ms(key) // 1000)

    def lru_clock(self, key: bytes) -> int:
        """The object's 24-bit LRU field as DEBUG OBJECT shows it (seconds resolution)."""
        return (self.access_time_ms(key) // 1000) & LRU_CLOCK_MAX

    def lfu_freq(self, key: bytes) -> int:
        """OBJECT FREQ: the LFU counter after applying the decay (LFUDecrAndReturn)."""
        word = self.lfu.get(key)
        if word is None:
            return LFU_INIT_VAL
        return self.ks.lfu_decayed(word)

    # ---- iteration -------------------------------------------------------
    def _index(self) -> HashRangeIndex:
        """The scan index, built or repaired on demand (see kaa.engine.scan)."""
        data = self.data
        idx = self.scan_index
        if idx is None:
            idx = self.scan_index = HashRangeIndex(data, len(data), self.ks.clock)
        elif idx.size != len(data) or idx.needs_resize():
            idx.rebuild(data, len(data))
        idx.last_used = self.ks.clock
        return idx

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step over the key names (no filtering, no expiry): (next cursor, keys).

        A key present from the first call to the last is returned at least once; see
        kaa.engine.scan for why. A small database is returned whole with cursor 0."""
        data = self.data
        if len(data) <= count:
            return 0, list(data)
        return self._index().scan(cursor, count)

    def random_key(self) -> bytes | None:
        """A random key that is not expired (gives up after many expired picks, like Valkey)."""
        data = self.data
        for _ in range(100):
            if not data:
                return None
            key = self._random_any()
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when < now_ms() and self.ks.expire_if_allowed(self, key):
                    continue
            return key
        # Only expired keys that may not be deleted (a replica): return one anyway.
        return self._random_any() if data else None

    def _random_any(self) -> bytes:
        data = self.data
        n = len(data)
        if n <= 64:
            return random.choice(list(data))
        if n >= RANDOM_INDEX_MIN or self.scan_index is not None:
            k = self._index().random_key()
            if k is not None:
                return k  # type: ignore[no-any-return]
        return next(islice(data, random.randrange(n), None))

    def keys_matching(self, pattern: bytes) -> list[bytes]:
        """KEYS: matching names of keys that are not logically expired (none deleted)."""
        exp = self.expires
        allkeys = pattern == b"*"
        if allkeys and not exp:
            return list(self.data)
        now = now_ms()
        out = []
        for k in list(self.data):
            if not allkeys and not glob_match(pattern, k):
                continue
            if exp:
                when = exp.get(k)
                if when is not None and when < now:
                    continue
            out.append(k)
        return out

    def is_expired(self, key: bytes, now: int) -> bool:
        when = self.expires.get(key) if self.expires else None
        return when is not None and when < now


class Keyspace:
    """All databases plus the counters and hooks that the server wires in."""

    def __init__(self, ndbs: int = 16) -> None:
        self.dbs = [Database(self, i) for i in range(ndbs)]
        self.dirty = 0
        self.expired_keys = 0
        self.expired_stale_perc = 0.0
        self.expired_time_cap_reached_count = 0
        self.expire_cycle_cpu_ms = 0.0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.evicted_keys = 0
        # Lazy free (UNLINK, FLUSHALL ASYNC, lazyfree-lazy-*): objects queued to be
        # dismantled after the reply is sent, and how many were freed that way.
        self.lazyfree_pending_objects = 0
        self.lazyfreed_objects = 0
        self.lazyfree_queue: deque[tuple[Any, int]] = deque()
        # Called when the queue becomes non-empty, to schedule drain_lazyfree (the
        # server runs it on its loop); None = free at once.
        self.lazyfree_scheduler: Callable[[], None] | None = None
        # Mirrors of config the engine needs (the server keeps them up to date).
        self.lazyfree_lazy_expire = True
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        # Time budget of one active expiry cycle (25% of a cron period, as Valkey).
        self.expire_budget_s = 0.025
        # When False, keys are never deleted on access (a replica, or DEBUG SET-ACTIVE-EXPIRE).
        self.lazy_expire_enabled = True
        self.active_expire_enabled = True
        # CLIENT PAUSE WRITE: expired keys read as missing but are not deleted.
        self.expire_paused = False
        # Flags of notify-keyspace-events, as a bitmask (engine.notify); 0 = off.
        self.notify_flags = 0
        # The coarse clock (ms) for access times; the server advances it every cron tick.
        self.clock = now_ms()
        # How lookups record an access: 0 LRU time, 1 not at all (no-touch client),
        # 2 LFU counter. Derived from lfu_policy and no_touch by _update_touch_mode.
        self.touch_mode = 0
        self.lfu_policy = False
        self.no_touch = False
        # Hooks the server sets; defaults do nothing so the engine runs alone.
        self.watchers: Callable[[Database, bytes], None] | None = None
        self.notifier: Callable[[int, str, bytes, int], None] | None = None
        self.propagate_expire: Callable[[Database, bytes], None] | None = None
        self.keymiss_notifier: Callable[[Database, bytes], None] | None = None
        # The latency monitor's threshold in ms (0 = off) and its sink for the
        # "expire-cycle" / "expire-del" events (set by the server's LATENCY module).
        self.latency_threshold_ms = 0
        self.latency_sink: Callable[[str, int], None] | None = None
        # Whole-database events: flush_hooks get the db id (-1 = all) after FLUSHDB /
        # FLUSHALL; swap_hooks get both ids after SWAPDB (WATCH, tracking, blocking).
        self.flush_hooks: list[Callable[[int], None]] = []
        self.swap_hooks: list[Callable[[int, int], None]] = []
        # Called for each non-empty db about to be flushed, while its keys are still
        # there: WATCH must know which watched keys existed (touchAllWatchedKeysInDb).
        self.before_flush: Callable[[Database], None] | None = None
        # True while the server itself deletes a key (expiry): client-side caching's
        # BCAST NOLOOP must not attribute that write to the client being served.
        self.expiring = False
        # Blocking (engine.blocking): per db, key -> clients blocked on it, or None while
        # nobody is blocked on a key; writes to those keys are queued in ready_keys, which
        # the server serves after the current command (EXEC, script) has run.
        self.blocked_keys: list[dict[bytes, Any]] | None = None
        self.ready_keys: dict[tuple[int, bytes], None] = {}

    def on_modified(self, db: Database, key: bytes) -> None:
        w = self.watchers
        if w is not None:
            w(db, key)
        if self.blocked_keys is not None:
            self.signal_ready(db, key)

    def signal_ready(self, db: Database, key: bytes) -> None:
        """Queue key for the clients blocked on it (one dict lookup; engine.blocking)."""
        if key in self.blocked_keys[db.id]:  # type: ignore[index]
            self.ready_keys[(db.id, key)] = None

    def notify(self, flag: int, event: str, key: bytes, dbid: int) -> None:
        if self.notify_flags & flag and self.notifier is not None:
            self.notifier(flag, event, key, dbid)

    def notify_keymiss(self, db: Database, key: bytes) -> None:
        if self.keymiss_notifier is not None:
            self.keymiss_notifier(db, key)

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT's share of the keyspace counters."""
        self.expired_keys = 0
        self.expired_stale_perc = 0.0
        self.expired_time_cap_reached_count = 0
        self.expire_cycle_cpu_ms = 0.0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.evicted_keys = 0
        self.lazyfreed_objects = 0

    # ---- access tracking ----------------------------------------------------
    def set_lfu_policy(self, lfu: bool) -> None:
        self.lfu_policy = lfu
        self._update_touch_mode()

    def set_no_touch(self, no_touch: bool) -> None:
        """Whether lookups of the command now running record an access."""
        if no_touch != self.no_touch:
            self.no_touch = no_touch
            self._update_touch_mode()

    def _update_touch_mode(self) -> None:
        self.touch_mode = 1 if self.no_touch else (2 if self.lfu_policy else 0)

    def access_on_write(self, db: Database, key: bytes) -> None:
        """Access bookkeeping of an overwrite when touch_mode is not 0: a new key is a new
        object (fresh clock / LFU_INIT_VAL); an existing one keeps its history, and
        counts as accessed under LFU unless the client is no-touch."""
        if self.lfu_policy:
            if key not in db.lfu:
                db.lfu[key] = (self.lfu_minutes() << 8) | LFU_INIT_VAL
            elif not self.no_touch:
                self.lfu_access(db, key)
        elif key not in db.atime:
            db.atime[key] = self.clock

    @staticmethod
    def lfu_minutes() -> int:
        return (int(time.time()) // 60) & 0xFFFF

    def lfu_decayed(self, word: int) -> int:
        """LFUDecrAndReturn: the counter less one per lfu-decay-time minutes idle."""
        counter = word & 255
        if self.lfu_decay_time:
            now = self.lfu_minutes()
            ldt = word >> 8
            elapsed = now - ldt if now >= ldt else 65535 - ldt + now
            periods = elapsed // self.lfu_decay_time
            if periods:
                counter = 0 if periods > counter else counter - periods
        return counter

    def lfu_access(self, db: Database, key: bytes) -> None:
        """updateLFU: decay, then a logarithmic increment (probability 1/(base*factor+1))."""
        word = db.lfu.get(key)
        counter = LFU_INIT_VAL if word is None else self.lfu_decayed(word)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if base < 0:
                base = 0
            if random.random() < 1.0 / (base * self.lfu_log_factor + 1):
                counter += 1
        db.lfu[key] = (self.lfu_minutes() << 8) | counter

    # ---- expiry ----------------------------------------------------------------
    def expire_if_allowed(self, db: Database, key: bytes) -> bool:
        """Delete an expired key (when this node may); True if the key now counts as absent."""
        if not self.lazy_expire_enabled or self.expire_paused:
            # A replica keeps the key but reports it as missing, as Valkey does.
            return True
        self.delete_expired(db, key)
        return True

    def delete_expired(self, db: Database, key: bytes) -> None:
        """deleteExpiredKeyAndPropagate: delete, count, notify `expired`, propagate DEL/UNLINK."""
        self.expiring = True
        timed = self.latency_threshold_ms
        t0 = time.perf_counter() if timed else 0.0
        try:
            v = db.pop(key)
            if timed and v is not None:
                # Valkey times the deletion itself (freeing the value when not lazy).
                if not self.lazyfree_lazy_expire:
                    v = True  # drops the last reference: the value is freed here
                self._latency_sample("expire-del", t0)
        finally:
            self.expiring = False
        if v is None:
            return
        if self.lazyfree_lazy_expire:
            self.free_async(v)
        self.expired_keys += 1
        self.notify(NOTIFY_EXPIRED, "expired", key, db.id)
        if self.propagate_expire is not None:
            self.propagate_expire(db, key)

    def active_expire_cycle(self, budget_s: float | None = None) -> int:
        """Delete keys whose deadline has passed, using each db's heap; bounded in time.

        Only due heap entries are looked at, so the cost is proportional to the keys that
        expire (plus stale entries), never to the size of the keyspace."""
        if not self.active_expire_enabled or self.expire_paused:
            return 0
        t0 = time.perf_counter()
        deadline = t0 + (self.expire_budget_s if budget_s is None else budget_s)
        now = now_ms()
        removed = 0
        stale = 0
        seen = 0
        capped = False
        for db in self.dbs:
            heap = db.heap
            exp = db.expires
            if not heap:
                continue
            if not exp:
                db.heap = []
                continue
            self._sample_avg_ttl(db, now)
            while heap and heap[0][0] < now:
                when, key = heapq.heappop(heap)
                seen += 1
                if exp.get(key) == when:
                    self.delete_expired(db, key)
                    removed += 1
                    # delete_expired may run hooks that replace the db's tables.
                    if db.heap is not heap:
                        break
                else:
                    stale += 1
                if (seen & 63) == 0 and time.perf_counter() > deadline:
                    self.expired_time_cap_reached_count += 1
                    capped = True
                    break
            if capped:
                break
            # Stale heap entries accumulate when TTLs are rewritten; rebuild when they dominate.
            if len(db.heap) > 1024 and len(db.heap) > 4 * len(db.expires):
                db._rebuild_heap()
        if seen:
            self.expired_stale_perc = stale / seen * 100
        self.expire_cycle_cpu_ms += (time.perf_counter() - t0) * 1000
        if self.latency_threshold_ms:
            self._latency_sample("expire-cycle", t0)
        return removed

    def _latency_sample(self, event: str, t0: float) -> None:
        """Report an event to the latency monitor if it lasted at least the threshold."""
        ms = int((time.perf_counter() - t0) * 1000)
        if ms >= self.latency_threshold_ms and self.latency_sink is not None:
            self.latency_sink(event, ms)

    @staticmethod
    def _sample_avg_ttl(db: Database, now: int) -> None:
        """Running estimate of the average TTL (INFO keyspace avg_ttl), Valkey's way:
        average a few random heap entries, then fold it in with weight 1/50."""
        heap = db.heap
        exp = db.expires
        n = len(heap)
        total = 0
        m = 0
        for _ in range(min(n, 16)):
            when, key = heap[random.randrange(n)]
            if when > now and exp.get(key) == when:
                total += when - now
                m += 1
        if m:
            avg = total // m
            db.avg_ttl = avg if not db.avg_ttl else (db.avg_ttl // 50) * 49 + avg // 50

    # ---- lazy free -------------------------------------------------------------
    def free_async(self, value: Any) -> None:
        """Free a deleted value after the reply, if it is big enough to matter
        (lazyfreeGetFreeEffort > LAZYFREE_THRESHOLD); small ones go at once."""
        effort = free_effort(value)
        if effort > LAZYFREE_THRESHOLD:
            self.queue_lazyfree(value, 1)

    def queue_lazyfree(self, obj: Any, count: int) -> None:
        """Queue obj (worth ``count`` objects in the stats) for drain_lazyfree."""
        sched = self.lazyfree_scheduler
        if sched is None:
            self.lazyfreed_objects += count
            return
        was_empty = not self.lazyfree_queue
        self.lazyfree_queue.append((obj, count))
        self.lazyfree_pending_objects += count
        if was_empty:
            sched()

    def drain_lazyfree(self, budget_s: float = 0.005) -> bool:
        """Dismantle queued objects for up to budget_s; True if work remains.

        Plain dicts, sets and lists (flushed databases, big containers) are emptied in
        chunks so that freeing a huge one never stalls the loop for long."""
        q = self.lazyfree_queue
        deadline = time.perf_counter() + budget_s
        while q:
            obj, count = q[0]
            if _free_chunk(obj):
                q.popleft()
                self.lazyfree_pending_objects -= count
                self.lazyfreed_objects += count
            if time.perf_counter() > deadline:
                break
        return bool(q)

    # ---- whole databases -------------------------------------------------------
    def iter_dbs(self) -> Iterator[Database]:
        return iter(self.dbs)

    def flush_db(self, db: Database, lazy: bool) -> int:
        """Empty one database (lazy: free its contents after the reply); returns the key count."""
        n = len(db.data)
        if n and self.before_flush is not None:
            self.before_flush(db)
        old = db.take_contents()
        if lazy and n:
            self.queue_lazyfree(old, n)
        for hook in self.flush_hooks:
            hook(db.id)
        return n

    def flush_all(self, lazy: bool) -> int:
        n = 0
        for db in self.dbs:
            if db.data or db.expires:
                count = len(db.data)
                if count and self.before_flush is not None:
                    self.before_flush(db)
                old = db.take_contents()
                if lazy and count:
                    self.queue_lazyfree(old, count)
                n += count
        for hook in self.flush_hooks:
            hook(-1)
        return n

    def swap(self, a: int, b: int) -> None:
        """SWAPDB: exchange the contents of two databases (clients keep their db index)."""
        if a == b:
            return
        da, db_ = self.dbs[a], self.dbs[b]
        for attr in _CONTENTS:
            va = getattr(da, attr)
            setattr(da, attr, getattr(db_, attr))
            setattr(db_, attr, va)
        for hook in self.swap_hooks:
            hook(a, b)


def free_effort(value: Any) -> int:
    """lazyfreeGetFreeEffort: roughly how many allocations freeing value takes.

    Value types may define ``free_effort()``; strings cost 1; other sized containers
    their length."""
    t = type(value)
    if t is bytes or t is bytearray:
        return 1
    fe = getattr(t, "free_effort", None)
    if fe is not None:
        return int(fe(value))
    try:
        return len(value)
    except TypeError:
        return 1


_CHUNK = 4096


def _free_chunk(obj: Any) -> bool:
    """Release part of obj; True once nothing of it is left to release."""
    t = type(obj)
    if t is dict:
        if len(obj) > _CHUNK:
            pop = obj.popitem
            for _ in range(_CHUNK):
                pop()
            return False
        obj.clear()
        return True
    if t is set:
        if len(obj) > _CHUNK:
            spop = obj.pop
            for _ in range(_CHUNK):
                spop()
            return False
        obj.clear()
        return True
    if t is list:
        if len(obj) > _CHUNK:
            del obj[-_CHUNK:]
            return False
        obj.clear()
        return True
    return True


__all__ = ["Database", "Keyspace", "now_ms", "type_name", "free_effort"]
