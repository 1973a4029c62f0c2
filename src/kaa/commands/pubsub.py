"""Pub/Sub commands (pubsub.c): (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, (S)PUBLISH, PUBSUB.

The registries and the fan-out live in ``kaa.server.pubsub``. Subscribe and
unsubscribe confirmations are the command's reply but are sent as pushes (and
regardless of CLIENT REPLY), one per channel, so the handlers queue them
themselves and return NO_REPLY.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaa.commands.registry import KeySpec, command, container, subcommand
from kaa.protocol.reply import ReplyError
from kaa.server.pubsub import encode_push, is_subscribed

_NOT_KEY_ONE = (KeySpec(flags=("not_key",), begin_index=1, last=0),)
_NOT_KEY_ALL = (KeySpec(flags=("not_key",), begin_index=1, last=-1),)

NO_REPLY: Any = None  # kaa.server.client.NO_REPLY, bound on first use (import cycle)


def _no_reply() -> Any:
    global NO_REPLY
    if NO_REPLY is None:
        from kaa.server.client import NO_REPLY as nr

        NO_REPLY = nr
    return NO_REPLY


def _count(c: Any) -> int:
    """clientSubscriptionsCount: channels plus patterns (shard channels apart)."""
    return len(c.subscriptions) + len(c.psubscriptions)


def _nosub(name: str) -> ReplyError:
    return ReplyError(f"NOSUB '{name}' command executed not in subscribed mode")


# ---- channels --------------------------------------------------------------------------

@command("subscribe", -2, "pubsub noscript loading stale sentinel", "", group="pubsub",
         since="2.0.0", summary="Listens for messages published to channels.",
         complexity="O(N) where N is the number of channels to subscribe to.")
def subscribe(c: Any, argv: list[bytes]) -> Any:
    ps = c.server.pubsub
    resp = c.resp
    for ch in argv[1:]:
        ps.subscribe(c, ch)
        c.add_raw(encode_push([b"subscribe", ch, _count(c)], resp))
    return _no_reply()


@command("unsubscribe", -1, "pubsub noscript loading stale sentinel", "", group="pubsub",
         since="2.0.0", summary="Stops listening to messages posted to channels.",
         complexity="O(N) where N is the number of channels to unsubscribe.")
def unsubscribe(c: Any, argv: list[bytes]) -> Any:
    return _unsubscribe(c, argv, "unsubscribe", c.subscriptions, c.server.pubsub.unsubscribe)


def _unsubscribe(c: Any, argv: list[bytes], name: str, current: set[bytes],
                 remove: Callable[[Any, bytes], Any]) -> Any:
    """(P|S)UNSUBSCRIBE: the named channels or patterns, else all of the client's, one
    push each with the count left (a single push with a null name when there were none)."""
    if not is_subscribed(c):
        raise _nosub(name)
    kind = name.encode()
    shard = name == "sunsubscribe"
    chans = argv[1:] if len(argv) > 1 else list(current)
    if not chans:
        c.add_raw(encode_push([kind, None, len(c.ssubscriptions) if shard else _count(c)], c.resp))
    for ch in chans:
        remove(c, ch)
        c.add_raw(encode_push([kind, ch, len(c.ssubscriptions) if shard else _count(c)], c.resp))
    return _no_reply()


@command("psubscribe", -2, "pubsub noscript loading stale sentinel", "", group="pubsub",
         since="2.0.0",
         summary="Listens for messages published to channels that match one or more patterns.",
         complexity="O(N) where N is the number of patterns to subscribe to.")
def psubscribe(c: Any, argv: list[bytes]) -> Any:
    ps = c.server.pubsub
    resp = c.resp
    for p in argv[1:]:
        ps.psubscribe(c, p)
        c.add_raw(encode_push([b"psubscribe", p, _count(c)], resp))
    return _no_reply()


@command("punsubscribe", -1, "pubsub noscript loading stale sentinel", "", group="pubsub",
         since="2.0.0",
         summary="Stops listening to messages published to channels that match one or more patterns.",
         complexity="O(N) where N is the number of patterns to unsubscribe.")
def punsubscribe(c: Any, argv: list[bytes]) -> Any:
    return _unsubscribe(c, argv, "punsubscribe", c.psubscriptions, c.server.pubsub.punsubscribe)


@command("publish", 3, "pubsub loading stale fast may_replicate sentinel", "", group="pubsub",
         since="2.0.0", summary="Posts a message to a channel.",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving "
                    "channel and M is the total number of subscribed patterns (by any client).")
def publish(c: Any, argv: list[bytes]) -> Any:
    return c.server.pubsub.publish(argv[1], argv[2])


# ---- shard channels ---------------------------------------------------------------------

@command("ssubscribe", -2, "pubsub noscript loading stale", "", keys=(1, -1, 1),
         key_specs=_NOT_KEY_ALL, group="pubsub", since="7.0.0",
         summary="Listens for messages published to shard channels.",
         complexity="O(N) where N is the number of shard channels to subscribe to.")
def ssubscribe(c: Any, argv: list[bytes]) -> Any:
    if c.in_exec:
        # Inside EXEC a client must get one reply per command (Valkey's DENY_BLOCKING).
        raise ReplyError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    ps = c.server.pubsub
    for ch in argv[1:]:
        ps.subscribe(c, ch, shard=True)
        c.add_raw(encode_push([b"ssubscribe", ch, len(c.ssubscriptions)], c.resp))
    return _no_reply()


@command("sunsubscribe", -1, "pubsub noscript loading stale", "", keys=(1, -1, 1),
         key_specs=_NOT_KEY_ALL, group="pubsub", since="7.0.0",
         summary="Stops listening to messages posted to shard channels.",
         complexity="O(N) where N is the number of shard channels to unsubscribe.")
def sunsubscribe(c: Any, argv: list[bytes]) -> Any:
    ps = c.server.pubsub
    return _unsubscribe(c, argv, "sunsubscribe", c.ssubscriptions,
                        lambda cl, ch: ps.unsubscribe(cl, ch, shard=True))


@command("spublish", 3, "pubsub loading stale fast may_replicate", "", keys=(1, 1, 1),
         key_specs=_NOT_KEY_ONE, group="pubsub", since="7.0.0",
         summary="Post a message to a shard channel",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.")
def spublish(c: Any, argv: list[bytes]) -> Any:
    return c.server.pubsub.spublish(argv[1], argv[2])


# ---- PUBSUB ---------------------------------------------------------------------------------

container("pubsub", -2, group="pubsub", since="2.8.0", summary="A container for Pub/Sub commands.",
          complexity="Depends on subcommand.")


def _syntax(argv: list[bytes]) -> ReplyError:
    sub = argv[1].decode("utf-8", "replace")
    return ReplyError(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try PUBSUB HELP.")


@subcommand("pubsub", "channels", -2, "pubsub loading stale", "", group="pubsub", since="2.8.0",
            summary="Returns the active channels.",
            complexity="O(N) where N is the number of active channels, and assuming constant "
                       "time pattern matching (relatively short channels and patterns)")
def pubsub_channels(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _syntax(argv)
    return c.server.pubsub.channel_list(argv[2] if len(argv) == 3 else None)


@subcommand("pubsub", "shardchannels", -2, "pubsub loading stale", "", group="pubsub",
            since="7.0.0", summary="Returns the active shard channels.",
            complexity="O(N) where N is the number of active shard channels, and assuming "
                       "constant time pattern matching (relatively short shard channels).")
def pubsub_shardchannels(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _syntax(argv)
    return c.server.pubsub.channel_list(argv[2] if len(argv) == 3 else None, shard=True)


@subcommand("pubsub", "numsub", -2, "pubsub loading stale", "", group="pubsub", since="2.8.0",
            summary="Returns a count of subscribers to channels.",
            complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels")
def pubsub_numsub(c: Any, argv: list[bytes]) -> Any:
    ps = c.server.pubsub
    out: list[Any] = []
    for ch in argv[2:]:
        out.append(ch)
        out.append(ps.numsub(ch))
    return out


@subcommand("pubsub", "shardnumsub", -2, "pubsub loading stale", "", group="pubsub",
            since="7.0.0", summary="Returns the count of subscribers of shard channels.",
            complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                       "shard channels")
def pubsub_shardnumsub(c: Any, argv: list[bytes]) -> Any:
    ps = c.server.pubsub
    out: list[Any] = []
    for ch in argv[2:]:
        out.append(ch)
        out.append(ps.numsub(ch, shard=True))
    return out


@subcommand("pubsub", "numpat", 2, "pubsub loading stale", "", group="pubsub", since="2.8.0",
            summary="Returns a count of unique pattern subscriptions.", complexity="O(1)")
def pubsub_numpat(c: Any, argv: list[bytes]) -> Any:
    return c.server.pubsub.numpat()


_HELP = (
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
)


@subcommand("pubsub", "help", 2, "loading stale", "", group="pubsub", since="6.2.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def pubsub_help(c: Any, argv: list[bytes]) -> Any:
    return list(_HELP)
