"""An in-process server whose propagated commands and keyspace events are recorded,
for tests that check what a command propagates (AOF/replicas) and notifies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kaa.embedded import EmbeddedServer
from kaa.engine.notify import NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE


class Tap:
    """What the server propagated (argv lists) and notified ((event, key) pairs)."""

    def __init__(self, srv: Any = None) -> None:
        self.srv = srv
        self.props: list[list[bytes]] = []
        self.events: list[tuple[str, bytes]] = []

    def clear(self) -> None:
        self.props.clear()
        self.events.clear()


@contextmanager
def tapped_server(**options: Any) -> Iterator[tuple[EmbeddedServer, Tap]]:
    """Every class of 'AKE' is notified, but not 'n' (new key) or 'm' (key miss)."""
    with EmbeddedServer(**options) as e:
        srv = e.server
        tap = Tap(srv)
        srv.sinks.append(lambda dbid, argv: tap.props.append(list(argv)))
        srv.propagating = True
        ks = srv.keyspace
        ks.notifier = lambda flag, event, key, dbid: tap.events.append((event, key))
        ks.notify_flags = NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT
        yield e, tap
