"""Server-assisted client-side caching (Valkey's tracking.c).

Default mode: when a tracking client runs a read-only command, the names of the
keys it read are remembered in ``table`` (key -> ids of the clients that may
cache it; one table for all databases, as in Valkey). The first write to such a
key sends each of those clients one ``invalidate`` message and forgets the key.

BCAST mode: nothing is remembered per client; every write to a key matching one
of the registered prefixes is collected, and once per loop iteration each client
of the prefix gets one message listing the keys (NOLOOP clients minus their own
writes).

Messages are RESP3 pushes ``invalidate [keys]``, or, for a client that
redirects to a RESP2 connection in Pub/Sub mode, messages on the
``__redis__:invalidate`` channel. FLUSHDB/FLUSHALL send a null invalidation to
every tracking client. ``tracking-table-max-keys`` bounds the table: when it is
exceeded, keys are evicted (and invalidated) with growing effort before the next
commands and from the cron, as Valkey's trackingLimitUsedSlots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaa.protocol.reply import ReplyError

if TYPE_CHECKING:
    from kaa.commands.registry import Command
    from kaa.engine.keyspace import Database
    from kaa.server.client import Client
    from kaa.server.server import Server

INVALIDATE_CHANNEL = b"__redis__:invalidate"
_INVALIDATE_BULK = b"$10\r\ninvalidate\r\n"
_RESP2_HEADER = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_RESP3_HEADER = b">2\r\n" + _INVALIDATE_BULK
_RO_SCRIPTS = frozenset({"eval_ro", "evalsha_ro", "fcall_ro"})


class ClientTracking:
    """``Client.tracking`` while tracking is on (None when off)."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching",
                 "broken_redirect", "prefixes")

    def __init__(self) -> None:
        self.redirect = 0
        self.bcast = False
        self.optin = False
        self.optout = False
        self.noloop = False
        self.caching = False
        self.broken_redirect = False
        self.prefixes: set[bytes] = set()

    def flag_names(self) -> list[bytes]:
        """CLIENT TRACKINGINFO flags, in Valkey's order."""
        out = [b"on"]
        if self.bcast:
            out.append(b"bcast")
        if self.optin:
            out.append(b"optin")
            if self.caching:
                out.append(b"caching-yes")
        if self.optout:
            out.append(b"optout")
            if self.caching:
                out.append(b"caching-no")
        if self.noloop:
            out.append(b"noloop")
        if self.broken_redirect:
            out.append(b"broken_redirect")
        return out


class Bcast:
    """One BCAST prefix: its clients and the keys written under it since the last send."""

    __slots__ = ("clients", "keys")

    def __init__(self) -> None:
        self.clients: dict[Client, None] = {}
        # key -> the client that last wrote it (None: the server, e.g. expiry)
        self.keys: dict[bytes, Client | None] = {}


def _keys_array(keys: list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(keys)]
    for k in keys:
        parts.append(b"$%d\r\n%s\r\n" % (len(k), k))
    return b"".join(parts)


class Tracking:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.table: dict[bytes, dict[int, None]] = {}
        self.total_items = 0
        self.prefixes: dict[bytes, Bcast] = {}
        self.nclients = 0
        self._bcast_due = False
        self._effort_rounds = 0  # Valkey's timeout_counter
        self._gate_armed = False

    # ---- enabling -------------------------------------------------------------------
    def enable(self, c: Client, redirect: int, bcast: bool, optin: bool, optout: bool,
               noloop: bool, prefixes: list[bytes]) -> None:
        st = c.tracking
        if st is None:
            st = c.tracking = ClientTracking()
            self.nclients += 1
        st.redirect = redirect
        st.broken_redirect = False
        st.bcast = bcast
        st.optin = optin
        st.optout = optout
        st.noloop = noloop
        if bcast:
            for p in prefixes or [b""]:
                bs = self.prefixes.get(p)
                if bs is None:
                    bs = self.prefixes[p] = Bcast()
                bs.clients[c] = None
                st.prefixes.add(p)
        self._refresh_hook()

    def disable(self, c: Client) -> None:
        st = c.tracking
        if st is None:
            return
        for p in st.prefixes:
            bs = self.prefixes.get(p)
            if bs is not None:
                bs.clients.pop(c, None)
                if not bs.clients:
                    del self.prefixes[p]
        c.tracking = None
        self.nclients -= 1
        self._refresh_hook()

    @staticmethod
    def prefix_collision(c: Client, prefixes: list[bytes]) -> ReplyError | None:
        """checkPrefixCollisionsOrReply: prefixes of one client must not overlap."""
        st = c.tracking
        mine = sorted(st.prefixes) if st is not None else []
        for i, p in enumerate(prefixes):
            for q in mine:
                if q.startswith(p) or p.startswith(q):
                    return ReplyError(
                        f"ERR Prefix '{_s(p)}' overlaps with an existing prefix '{_s(q)}'. "
                        "Prefixes for a single client must not overlap.")
            for q in prefixes[i + 1:]:
                if q.startswith(p) or p.startswith(q):
                    return ReplyError(
                        f"ERR Prefix '{_s(p)}' overlaps with another provided prefix '{_s(q)}'. "
                        "Prefixes for a single client must not overlap.")
        return None

    def _refresh_hook(self) -> None:
        reg = self.server.watch
        active = bool(self.table or self.prefixes)
        if active != reg.tracking_active:
            reg.tracking_active = active
            reg.refresh_hook()

    # ---- reads ------------------------------------------------------------------------
    def after_command(self, c: Client, cmd: Command, argv: list[bytes]) -> None:
        """After a top-level command of a tracking client: remember what it read, and
        let CLIENT CACHING apply to one command (or transaction) only."""
        st = c.tracking
        if st is None:
            return
        if "readonly" in cmd.flags:
            self.remember(c, cmd, argv)
        if c.multi is None and (cmd.parent or cmd).name != "client":
            st.caching = False

    def remember(self, c: Client, cmd: Command, argv: list[bytes]) -> None:
        """trackingRememberKeys for c's read of argv's keys."""
        st = c.tracking
        if st is None or st.bcast:
            return
        if (st.optin and not st.caching) or (st.optout and st.caching):
            return
        if "pubsub" in cmd.flags or cmd.name in _RO_SCRIPTS:
            return
        positions = cmd.key_positions(argv)
        if not positions:
            return
        table = self.table
        was_empty = not table
        cid = c.id
        for i in positions:
            key = argv[i]
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if cid not in ids:
                ids[cid] = None
                self.total_items += 1
        if was_empty:
            self._refresh_hook()
        limit = self.server.config.tracking_table_max_keys
        if limit and len(table) > limit:
            self._arm_gate()

    # ---- writes -----------------------------------------------------------------------
    def invalidate(self, db: Database, key: bytes) -> None:
        """trackingInvalidateKey: the Keyspace.watchers hook while tracking is in use."""
        srv = self.server
        if self.prefixes:
            who = None if db.ks.expiring else srv.current_client
            self._remember_bcast(key, who)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self._notify_ids(key, ids, srv.current_client)
        if not self.table and not self.prefixes:
            self._refresh_hook()

    def _notify_ids(self, key: bytes, ids: dict[int, None], current: Client | None) -> None:
        self.total_items -= len(ids)
        clients = self.server.clients
        for cid in ids:
            t = clients.get(cid)
            if t is None:
                continue
            st = t.tracking
            # A client now in BCAST mode gets nothing for keys it read before.
            if st is None or st.bcast or (st.noloop and t is current):
                continue
            self.send(t, [key])

    def _remember_bcast(self, key: bytes, who: Client | None) -> None:
        due = False
        for p, bs in self.prefixes.items():
            if key.startswith(p):
                bs.keys[key] = who
                due = True
        if due and not self._bcast_due:
            self._bcast_due = True
            loop = self.server.loop
            if loop is not None:
                loop.call_soon(self.broadcast)

    def broadcast(self) -> None:
        """trackingBroadcastInvalidationMessages: once per loop iteration."""
        self._bcast_due = False
        for bs in self.prefixes.values():
            keys = bs.keys
            if not keys:
                continue
            everything = list(keys)
            for c in bs.clients:
                st = c.tracking
                if st is not None and st.noloop:
                    mine = [k for k, who in keys.items() if who is not c]
                    if mine:
                        self.send(c, mine)
                else:
                    self.send(c, everything)
            bs.keys = {}

    def send(self, c: Client, keys: list[bytes] | None) -> None:
        """sendTrackingMessage: keys None is the null invalidation of a flush."""
        st = c.tracking
        target = c
        redirected = False
        if st is not None and st.redirect:
            redir = self.server.clients.get(st.redirect)
            if redir is None or redir.closing:
                st.broken_redirect = True
                if c.resp == 3:
                    self.server.pubsub.deliver(
                        c, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % st.redirect)
                return
            target = redir
            redirected = True
        if target.resp == 3:
            head = _RESP3_HEADER
        elif redirected and (target.subscriptions or target.psubscriptions or target.ssubscriptions):
            head = _RESP2_HEADER
        else:
            return  # a RESP2 connection cannot receive pushes
        if keys is None:
            body = b"_\r\n" if target.resp == 3 else b"$-1\r\n"
        else:
            body = _keys_array(keys)
        self.server.pubsub.deliver(target, head + body)

    # ---- whole keyspace -----------------------------------------------------------------
    def on_flush(self, dbid: int) -> None:
        """trackingInvalidateKeysOnFlush: a null invalidation to every tracking client."""
        if self.nclients:
            for c in list(self.server.clients.values()):
                if c.tracking is not None:
                    self.send(c, None)
        if self.table:
            self.table = {}
            self.total_items = 0
            self._refresh_hook()

    # ---- tracking-table-max-keys ----------------------------------------------------------
    def _arm_gate(self) -> None:
        if not self._gate_armed:
            self._gate_armed = True
            srv = self.server
            srv.gates.append(self._limit_gate)
            srv.refresh_gate()

    def _disarm_gate(self) -> None:
        if self._gate_armed:
            self._gate_armed = False
            srv = self.server
            if self._limit_gate in srv.gates:
                srv.gates.remove(self._limit_gate)
            srv.refresh_gate()

    def _limit_gate(self, c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | None:
        """Before each command while the table is over its limit (never refuses anything)."""
        self.limit_used_slots()
        return None

    def limit_used_slots(self) -> None:
        """Evict keys over tracking-table-max-keys, 100 more per attempt that fell short."""
        table = self.table
        limit = self.server.config.tracking_table_max_keys
        if not limit or len(table) <= limit:
            self._effort_rounds = 0
            self._disarm_gate()
            return
        effort = 100 * (self._effort_rounds + 1)
        current = self.server.current_client
        while effort > 0 and table:
            effort -= 1
            key = next(iter(table))
            ids = table.pop(key)
            self._notify_ids(key, ids, current)
            if len(table) <= limit:
                self._effort_rounds = 0
                self._disarm_gate()
                if not table:
                    self._refresh_hook()
                return
        self._effort_rounds += 1

    def cron(self, server: Server) -> None:
        if self._gate_armed:
            self.limit_used_slots()

    # ---- INFO ---------------------------------------------------------------------------
    def total_keys(self) -> int:
        return len(self.table)

    def total_prefixes(self) -> int:
        return len(self.prefixes)


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def install(server: Server) -> None:
    tr = Tracking(server)
    server.tracking = tr
    server.watch.invalidate = tr.invalidate
    server.keyspace.flush_hooks.append(tr.on_flush)
    server.cron_hooks.append(tr.cron)
    server.disconnect_hooks.append(tr.disable)
    server.reset_hooks.append(tr.disable)

    def max_keys_changed(old: Any, new: Any) -> None:
        if new and len(tr.table) > new:
            tr._arm_gate()

    server.config.on_change("tracking-table-max-keys", max_keys_changed)


__all__ = ["ClientTracking", "Tracking", "install", "INVALIDATE_CHANNEL"]
