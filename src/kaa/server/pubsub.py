"""Pub/Sub: the channel and pattern registries and message fan-out (Valkey's pubsub.c).

Publishing costs one dict lookup for the channel's subscribers plus one match per
distinct pattern, then one append per receiver: a message is encoded once per
protocol (RESP2 array, RESP3 push) and the same bytes go to every receiver.

Messages reach clients through :func:`deliver`: to any client but the one whose
command is running, they are appended to its output and flushed once per loop
iteration (``Server.schedule_flush``). To the running client itself (it published
to a channel it listens to, a keyspace event it subscribed to, an invalidation of
a key it tracks) they are held in ``Server.pending_push`` and follow the command's
reply (after the whole EXEC), as Valkey does.

Client side, ``Client.subscriptions`` / ``psubscriptions`` / ``ssubscriptions``
hold what a client listens to, and ``Client.pubsub_ctx`` is True while a RESP2
client is subscribed to anything: ``Client.process`` then allows only the Pub/Sub
context commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kaa.engine.glob import glob_match

if TYPE_CHECKING:
    from kaa.server.client import Client
    from kaa.server.server import Server

Subscribers = dict["Client", None]  # insertion-ordered set of clients

_GLOB_SPECIAL = frozenset(b"*?[\\")


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


_MESSAGE = _bulk(b"message")
_PMESSAGE = _bulk(b"pmessage")
_SMESSAGE = _bulk(b"smessage")


def encode_message(kind: bytes, channel: bytes, payload: bytes, resp: int) -> bytes:
    """A 3-element (s)message push: ``kind`` is the pre-encoded bulk of its name."""
    return b"%s%s%s%s" % (b">3\r\n" if resp == 3 else b"*3\r\n", kind, _bulk(channel), _bulk(payload))


def encode_push(items: list[bytes | int | None], resp: int) -> bytes:
    """A push of bulk strings, integers and nulls (subscribe confirmations and the like)."""
    parts = [b">%d\r\n" % len(items) if resp == 3 else b"*%d\r\n" % len(items)]
    for it in items:
        if it is None:
            parts.append(b"_\r\n" if resp == 3 else b"$-1\r\n")
        elif type(it) is int:
            parts.append(b":%d\r\n" % it)
        else:
            parts.append(_bulk(it))  # type: ignore[arg-type]
    return b"".join(parts)


def _matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A fast predicate for common pattern shapes; glob_match for the rest.

    As Valkey's stringmatchlen, the empty channel matches only the empty pattern."""
    body = pattern[:-1] if pattern.endswith(b"*") else None
    if not _GLOB_SPECIAL.intersection(pattern):
        return pattern.__eq__
    if body is not None and not _GLOB_SPECIAL.intersection(body):
        return lambda ch: ch.startswith(body) and ch != b""
    return lambda ch: ch != b"" and glob_match(pattern, ch)


def is_subscribed(c: Client) -> bool:
    """Valkey's CLIENT_PUBSUB flag: subscribed to any channel, pattern or shard channel."""
    return bool(c.subscriptions or c.psubscriptions or c.ssubscriptions)


class PubSub:
    """Server-wide registries: channel -> subscribers, pattern -> subscribers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.channels: dict[bytes, Subscribers] = {}
        self.shard_channels: dict[bytes, Subscribers] = {}
        # pattern -> (match predicate, subscribers)
        self.patterns: dict[bytes, tuple[Callable[[bytes], bool], Subscribers]] = {}
        self.clients = 0  # clients subscribed to anything (INFO pubsub_clients)

    # ---- delivery ---------------------------------------------------------------
    def deliver(self, c: Client, data: bytes) -> None:
        """Queue an encoded push for c (see the module docstring for the ordering)."""
        if c.closing:
            return
        srv = self.server
        if c is srv.current_client:
            srv.pending_push.append(data)
            return
        out = c.out
        out.append(data)
        if len(out) == 1:  # otherwise a flush is already due
            srv.schedule_flush(c)

    # ---- publishing ---------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """PUBLISH: deliver to channel subscribers and matching patterns; receiver count."""
        receivers = 0
        m2 = m3 = b""
        deliver = self.deliver
        subs = self.channels.get(channel)
        if subs:
            for c in subs:
                if c.resp == 3:
                    if not m3:
                        m3 = encode_message(_MESSAGE, channel, message, 3)
                    deliver(c, m3)
                else:
                    if not m2:
                        m2 = encode_message(_MESSAGE, channel, message, 2)
                    deliver(c, m2)
            receivers = len(subs)
        if self.patterns:
            for pattern, (match, psubs) in self.patterns.items():
                if not match(channel):
                    continue
                tail = b"%s%s%s%s" % (_PMESSAGE, _bulk(pattern), _bulk(channel), _bulk(message))
                for c in psubs:
                    deliver(c, (b">4\r\n" if c.resp == 3 else b"*4\r\n") + tail)
                receivers += len(psubs)
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        """SPUBLISH: shard channels only; patterns never match them."""
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        m2 = m3 = b""
        deliver = self.deliver
        for c in subs:
            if c.resp == 3:
                if not m3:
                    m3 = encode_message(_SMESSAGE, channel, message, 3)
                deliver(c, m3)
            else:
                if not m2:
                    m2 = encode_message(_SMESSAGE, channel, message, 2)
                deliver(c, m2)
        return len(subs)

    def has_listeners(self) -> bool:
        """True if a publish could reach anyone (keyspace events skip all work otherwise)."""
        return bool(self.channels or self.patterns)

    # ---- subscribing ----------------------------------------------------------------
    def subscribe(self, c: Client, channel: bytes, shard: bool = False) -> None:
        mine = c.ssubscriptions if shard else c.subscriptions
        if channel not in mine:
            was = is_subscribed(c)
            mine.add(channel)
            reg = self.shard_channels if shard else self.channels
            subs = reg.get(channel)
            if subs is None:
                subs = reg[channel] = {}
            subs[c] = None
            if not was:
                self._entered(c)

    def unsubscribe(self, c: Client, channel: bytes, shard: bool = False) -> bool:
        mine = c.ssubscriptions if shard else c.subscriptions
        if channel not in mine:
            return False
        mine.discard(channel)
        reg = self.shard_channels if shard else self.channels
        subs = reg.get(channel)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del reg[channel]
        if not is_subscribed(c):
            self._left(c)
        return True

    def psubscribe(self, c: Client, pattern: bytes) -> None:
        if pattern not in c.psubscriptions:
            was = is_subscribed(c)
            c.psubscriptions.add(pattern)
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = (_matcher(pattern), {})
            entry[1][c] = None
            if not was:
                self._entered(c)

    def punsubscribe(self, c: Client, pattern: bytes) -> bool:
        if pattern not in c.psubscriptions:
            return False
        c.psubscriptions.discard(pattern)
        entry = self.patterns.get(pattern)
        if entry is not None:
            entry[1].pop(c, None)
            if not entry[1]:
                del self.patterns[pattern]
        if not is_subscribed(c):
            self._left(c)
        return True

    def unsubscribe_all(self, c: Client) -> None:
        """Drop every subscription of c silently (disconnect, RESET)."""
        for ch in list(c.subscriptions):
            self.unsubscribe(c, ch)
        for ch in list(c.ssubscriptions):
            self.unsubscribe(c, ch, shard=True)
        for p in list(c.psubscriptions):
            self.punsubscribe(c, p)

    def _entered(self, c: Client) -> None:
        """c became a Pub/Sub client: RESP2 restrictions and the pubsub output limits."""
        self.clients += 1
        c.pubsub_ctx = c.resp == 2
        self.server.obuf.refresh(c)

    def _left(self, c: Client) -> None:
        self.clients -= 1
        c.pubsub_ctx = False
        self.server.obuf.refresh(c)

    # ---- introspection ---------------------------------------------------------------
    def channel_list(self, pattern: bytes | None, shard: bool = False) -> list[bytes]:
        reg = self.shard_channels if shard else self.channels
        if pattern is None:
            return list(reg)
        match = _matcher(pattern)
        return [ch for ch in reg if match(ch)]

    def numsub(self, channel: bytes, shard: bool = False) -> int:
        subs = (self.shard_channels if shard else self.channels).get(channel)
        return len(subs) if subs else 0

    def numpat(self) -> int:
        return len(self.patterns)


def get(server: Server) -> PubSub:
    return server.pubsub  # type: ignore[no-any-return]


def _on_disconnect(c: Client) -> None:
    ps: PubSub = c.server.pubsub
    if c.subscriptions or c.psubscriptions or c.ssubscriptions:
        ps.unsubscribe_all(c)


def install(server: Server) -> None:
    """Create the server's registry and clean up after clients that leave or RESET."""
    server.pubsub = PubSub(server)
    server.disconnect_hooks.append(_on_disconnect)
    server.reset_hooks.append(_on_disconnect)


__all__ = ["PubSub", "encode_message", "encode_push", "install", "is_subscribed", "get"]
