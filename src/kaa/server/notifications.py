"""Keyspace notifications (Valkey's notify.c): ``__keyspace@<db>__:<key>`` and
``__keyevent@<db>__:<event>`` messages, published through the Pub/Sub registry.

Commands call ``Keyspace.notify(flag, event, key, dbid)`` (guarded by
``notify_flags``); the Keyspace checks the event class against
``notify-keyspace-events`` and calls the notifier installed here, which builds
the channel names only when someone could receive them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaa.engine.notify import NOTIFY_KEY_MISS, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE

if TYPE_CHECKING:
    from kaa.engine.keyspace import Database
    from kaa.server.server import Server


def install(server: Server) -> None:
    ks = server.keyspace
    ps = server.pubsub
    events: dict[str, bytes] = {}

    def notifier(flag: int, event: str, key: bytes, dbid: int) -> None:
        if not (ps.channels or ps.patterns):
            return  # nobody listens: skip building channel names
        ev = events.get(event)
        if ev is None:
            ev = events[event] = event.encode()
        flags = ks.notify_flags
        if flags & NOTIFY_KEYSPACE:
            ps.publish(b"__keyspace@%d__:%s" % (dbid, key), ev)
        if flags & NOTIFY_KEYEVENT:
            ps.publish(b"__keyevent@%d__:%s" % (dbid, ev), bytes(key))

    def keymiss(db: Database, key: bytes) -> None:
        ks.notify(NOTIFY_KEY_MISS, "keymiss", key, db.id)

    ks.notifier = notifier
    ks.keymiss_notifier = keymiss
    ks.notify_flags = server.config.notify_keyspace_events

    def flags_changed(old: Any, new: Any) -> None:
        ks.notify_flags = new

    server.config.on_change("notify-keyspace-events", flags_changed)


__all__ = ["install"]
