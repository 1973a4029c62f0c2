"""Output buffer limits: ``client-output-buffer-limit`` (Valkey's checkClientOutputBufferLimits).

A client's pending output is what the transport still holds unsent plus what is
about to be written. Past the hard limit of its class (normal, replica, pubsub),
or above the soft limit for longer than the soft seconds, the client is closed at
once: its queued output is dropped and the transport aborted, so the memory of a
slow reader returns immediately.

The check costs one attribute test per flush for a client whose class has no
limit (``Client.obuf_limit is None``, the default for normal clients). Clients
that are above their soft limit are also re-checked from the cron, so that a
subscriber that stops receiving traffic is still closed when its time is up.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaa.server.client import Client
    from kaa.server.server import Server

Limit = tuple[int, int, int]  # (hard bytes, soft bytes, soft seconds)


# The smallest a bulk string can be on the wire ("$0\r\n\r\n").
MIN_BULK_BYTES = 6


def reply_over_hard_limit(c: Any, elements: int) -> bool:
    """For replies whose size the arguments choose (HRANDFIELD/SRANDMEMBER/ZRANDMEMBER with a
    huge negative count): Valkey writes such a reply piece by piece and stops once the client
    passes its hard limit; Kaa builds a reply whole, so it closes the client first instead of
    building gigabytes it could never send. True if the client was closed."""
    lim = c.obuf_limit
    if lim is None or not lim[0] or elements * MIN_BULK_BYTES < lim[0]:
        return False
    c.server.obuf.close(c)
    return True


def client_class(c: Client) -> str:
    """getClientType: a replica (not a MONITOR), a Pub/Sub client, or a normal one."""
    if c.is_replica and not c.monitor:
        return "replica"
    if c.subscriptions or c.psubscriptions or c.ssubscriptions:
        return "pubsub"
    return "normal"


def pending_bytes(c: Client) -> int:
    """Output not yet handed to the kernel: transport buffer plus unflushed replies."""
    t = c.transport
    n = t.get_write_buffer_size() if t is not None else 0
    for b in c.out:
        n += len(b)
    return n


class OutputLimits:
    """The limits per class and the clients currently above their soft limit."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.limits: dict[str, Limit | None] = {}
        self.over_soft: dict[Client, None] = {}
        self.load(server.config.client_output_buffer_limit)

    def load(self, value: dict[str, Limit]) -> None:
        # A class with neither limit set gets None, so its clients skip the check.
        self.limits = {cls: (lim if lim[0] or lim[1] else None) for cls, lim in value.items()}
        self.server.obuf_normal_limit = self.limits.get("normal")

    def refresh(self, c: Client) -> None:
        """Recompute c's limit after its class changed (subscribe, unsubscribe, replica)."""
        c.obuf_limit = self.limits.get(client_class(c))
        if c.obuf_limit is None and c.obuf_soft_since:
            c.obuf_soft_since = 0.0
            self.over_soft.pop(c, None)

    def exceeded(self, c: Client, nbytes: int) -> bool:
        """Called by Client.flush with the size about to be written; True if c was closed."""
        lim = c.obuf_limit
        if lim is None or c.transport is None:
            return False
        hard, soft, secs = lim
        used = nbytes + c.transport.get_write_buffer_size()
        if hard and used >= hard:
            self.close(c)
            return True
        if soft and used >= soft:
            # Whole seconds, as Valkey's server.unixtime: a client is closed only after more
            # than `secs` full seconds over the soft limit (never a moment early).
            now = float(max(1, int(time.monotonic())))  # 0.0 means "not over the limit"
            since = c.obuf_soft_since
            if not since:
                c.obuf_soft_since = now
                self.over_soft[c] = None
            elif now - since > secs:
                self.close(c)
                return True
        elif c.obuf_soft_since:
            c.obuf_soft_since = 0.0
            self.over_soft.pop(c, None)
        return False

    def close(self, c: Client) -> None:
        """freeClientAsync for a client over its limit: drop its output, abort the socket."""
        srv = self.server
        srv.log_warning(
            f"Client {c.describe()} scheduled to be closed ASAP for overcoming of output buffer limits."
        )
        srv.stats.client_output_buffer_limit_disconnections += 1
        self.over_soft.pop(c, None)
        c.obuf_soft_since = 0.0
        c.out.clear()
        c.closing = True
        t = c.transport
        if t is not None:
            t.abort()

    def cron(self, server: Server) -> None:
        """Re-check clients above their soft limit (traffic may have stopped)."""
        if not self.over_soft:
            return
        for c in list(self.over_soft):
            if c.closing:
                self.over_soft.pop(c, None)
                continue
            self.exceeded(c, sum(len(b) for b in c.out))

    def forget(self, c: Client) -> None:
        self.over_soft.pop(c, None)


def install(server: Server) -> None:
    ol = OutputLimits(server)
    server.obuf = ol
    server.cron_hooks.append(ol.cron)
    server.disconnect_hooks.append(ol.forget)

    def changed(old: Any, new: Any) -> None:
        ol.load(new)
        for c in server.clients.values():
            ol.refresh(c)

    server.config.on_change("client-output-buffer-limit", changed)


__all__ = ["OutputLimits", "client_class", "install", "pending_bytes"]
