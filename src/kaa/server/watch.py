"""WATCH bookkeeping and the keyspace's modification hook (Valkey's multi.c, watch part).

Each database has a dict key -> clients watching it; each client has
``Client.watched``, a dict (db id, key) -> "was already expired when watched".
A write to a watched key (``Keyspace.watchers``, called by every Database write)
marks its watchers ``dirty_cas`` and unwatches them, so their EXEC returns a null
array. FLUSHDB/FLUSHALL and SWAPDB touch the watched keys that existed (or come
to exist) in the databases involved.

``Keyspace.watchers`` is shared with client-side caching: :func:`refresh_hook`
installs a function that does exactly the work needed (WATCH, tracking
invalidation, both or neither), so a server with no watched key and no tracking
client pays nothing per write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kaa.engine.keyspace import now_ms
from kaa.protocol.reply import ReplyError

if TYPE_CHECKING:
    from kaa.engine.keyspace import Database
    from kaa.server.client import Client
    from kaa.server.server import Server

Watchers = dict["Client", None]


class WatchRegistry:
    def __init__(self, server: Server) -> None:
        self.server = server
        ks = server.keyspace
        self.by_db: list[dict[bytes, Watchers]] = [{} for _ in ks.dbs]
        self.nkeys = 0  # entries over all by_db dicts (hook on while > 0)
        # Extra per-key hook (client-side caching invalidation), set by kaa.server.tracking.
        self.invalidate: Callable[[Database, bytes], None] | None = None
        self.tracking_active = False
        ks.flush_hooks.append(self._after_flush)
        ks.swap_hooks.append(self._after_swap)
        ks.before_flush = self._before_flush

    # ---- the hook on every write ------------------------------------------------
    def refresh_hook(self) -> None:
        """Install the cheapest Keyspace.watchers for what is active right now."""
        watch = self.touch if self.nkeys else None
        inv = self.invalidate if self.tracking_active else None
        ks = self.server.keyspace
        if watch is not None and inv is not None:

            def both(db: Database, key: bytes) -> None:
                watch(db, key)
                inv(db, key)

            ks.watchers = both
        else:
            ks.watchers = watch or inv

    def touch(self, db: Database, key: bytes) -> None:
        """touchWatchedKey: a write to key in db dooms the transactions watching it."""
        d = self.by_db[db.id]
        if not d:
            return
        clients = d.get(key)
        if not clients:
            return
        wk = (db.id, key)
        for c in list(clients):
            watched = c.watched
            if watched is None:
                continue
            if watched.get(wk):
                # The key was already expired when WATCHed: its deletion is no change.
                if key not in db.data:
                    watched[wk] = False
                    continue
                break  # as Valkey: the rest of the list is left alone
            self.make_dirty(c)

    def make_dirty(self, c: Client) -> None:
        c.dirty_cas = True
        if c.multi:
            c.multi.clear()  # the EXEC will fail: no point keeping the queued commands
        self.unwatch_all(c)

    # ---- WATCH / UNWATCH ------------------------------------------------------------
    def watch(self, c: Client, key: bytes) -> None:
        db = c.db
        wk = (db.id, key)
        watched = c.watched
        if watched is None:
            watched = c.watched = {}
        elif wk in watched:
            return
        watched[wk] = db.is_expired(key, now_ms()) if key in db.data else False
        d = self.by_db[db.id]
        clients = d.get(key)
        if clients is None:
            clients = d[key] = {}
            self.nkeys += 1
            if self.nkeys == 1:
                self.refresh_hook()
        clients[c] = None

    def unwatch_all(self, c: Client) -> None:
        watched = c.watched
        if not watched:
            c.watched = None
            return
        c.watched = None
        by_db = self.by_db
        for dbid, key in watched:
            d = by_db[dbid]
            clients = d.get(key)
            if clients is not None:
                clients.pop(c, None)
                if not clients:
                    del d[key]
                    self.nkeys -= 1
        if not self.nkeys:
            self.refresh_hook()

    def watched_key_expired(self, c: Client) -> bool:
        """isWatchedKeyExpired: a key watched while alive has since expired (not yet deleted)."""
        watched = c.watched
        if not watched:
            return False
        now = now_ms()
        dbs = self.server.keyspace.dbs
        for (dbid, key), was_expired in watched.items():
            if not was_expired and dbs[dbid].is_expired(key, now) and key in dbs[dbid].data:
                return True
        return False

    # ---- whole databases ---------------------------------------------------------------
    def _before_flush(self, db: Database) -> None:
        """touchAllWatchedKeysInDb(db, NULL): FLUSHDB/FLUSHALL touch the keys that exist."""
        d = self.by_db[db.id]
        if not d:
            return
        data = db.data
        for key, clients in list(d.items()):
            if key not in data:
                continue
            wk = (db.id, key)
            for c in list(clients):
                watched = c.watched
                if watched is None:
                    continue
                if watched.get(wk):
                    watched[wk] = False  # an expired key deleted: no logical change
                    continue
                c.dirty_cas = True

    def _after_flush(self, dbid: int) -> None:
        pass

    def _after_swap(self, a: int, b: int) -> None:
        """touchAllWatchedKeysInDb both ways: SWAPDB changes whatever exists on either side."""
        dbs = self.server.keyspace.dbs
        # After the swap, dbs[a] holds what was in b and vice versa.
        self._swap_touch(a, emptied=dbs[b], replaced_with=dbs[a])
        self._swap_touch(b, emptied=dbs[a], replaced_with=dbs[b])

    def _swap_touch(self, dbid: int, emptied: Database, replaced_with: Database) -> None:
        d = self.by_db[dbid]
        if not d:
            return
        now = now_ms()
        for key, clients in list(d.items()):
            in_old = key in emptied.data
            in_new = key in replaced_with.data
            if not (in_old or in_new):
                continue
            wk = (dbid, key)
            for c in list(clients):
                watched = c.watched
                if watched is None:
                    continue
                if watched.get(wk):
                    if not in_new:
                        watched[wk] = False  # an expired key replaced by nothing
                        continue
                    if replaced_with.is_expired(key, now):
                        continue  # still an expired key
                elif not in_old and replaced_with.is_expired(key, now):
                    watched[wk] = True  # nothing replaced by an expired key
                    continue
                c.dirty_cas = True

    def total_keys(self) -> int:
        return self.nkeys


def discard_transaction(c: Client) -> None:
    """Leave MULTI state and unwatch everything (DISCARD, EXEC, RESET)."""
    c.multi = None
    c.multi_error = False
    c.dirty_cas = False
    c.in_exec = False
    reg: WatchRegistry = c.server.watch
    if c.watched is not None:
        reg.unwatch_all(c)


def exec_abort(c: Client, err: ReplyError) -> ReplyError:
    """EXEC refused before it ran (execCommandAbort): the transaction is discarded."""
    discard_transaction(c)
    msg = err.message
    if msg.startswith("-"):
        msg = msg[1:]
    return ReplyError(f"EXECABORT Transaction discarded because of: {msg}")


def _on_disconnect(c: Client) -> None:
    if c.watched is not None:
        c.server.watch.unwatch_all(c)


def install(server: Server) -> None:
    reg = WatchRegistry(server)
    server.watch = reg
    server.disconnect_hooks.append(_on_disconnect)
    server.reset_hooks.append(discard_transaction)


__all__ = ["WatchRegistry", "discard_transaction", "exec_abort", "install"]
