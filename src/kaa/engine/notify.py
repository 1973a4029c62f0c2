"""Keyspace-notification classes, as the bit flags of ``notify-keyspace-events``."""

from __future__ import annotations

NOTIFY_KEYSPACE = 1 << 0  # K
NOTIFY_KEYEVENT = 1 << 1  # E
NOTIFY_GENERIC = 1 << 2  # g
NOTIFY_STRING = 1 << 3  # $
NOTIFY_LIST = 1 << 4  # l
NOTIFY_SET = 1 << 5  # s
NOTIFY_HASH = 1 << 6  # h
NOTIFY_ZSET = 1 << 7  # z
NOTIFY_EXPIRED = 1 << 8  # x
NOTIFY_EVICTED = 1 << 9  # e
NOTIFY_STREAM = 1 << 10  # t
NOTIFY_KEY_MISS = 1 << 11  # m (not part of 'A')
NOTIFY_LOADED = 1 << 12  # module only
NOTIFY_MODULE = 1 << 13  # d
NOTIFY_NEW = 1 << 14  # n (not part of 'A')
NOTIFY_ALL = (
    NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET
    | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE
)

_LETTERS = {
    "A": NOTIFY_ALL, "g": NOTIFY_GENERIC, "$": NOTIFY_STRING, "l": NOTIFY_LIST,
    "s": NOTIFY_SET, "h": NOTIFY_HASH, "z": NOTIFY_ZSET, "x": NOTIFY_EXPIRED,
    "e": NOTIFY_EVICTED, "K": NOTIFY_KEYSPACE, "E": NOTIFY_KEYEVENT, "t": NOTIFY_STREAM,
    "m": NOTIFY_KEY_MISS, "d": NOTIFY_MODULE, "n": NOTIFY_NEW,
}


def parse_flags(s: str) -> int | None:
    """Flags from a notify-keyspace-events string; None if a letter is unknown."""
    flags = 0
    for ch in s:
        f = _LETTERS.get(ch)
        if f is None:
            return None
        flags |= f
    return flags


def flags_to_string(flags: int) -> str:
    """The canonical string CONFIG GET shows for a flag set."""
    out = ""
    if (flags & NOTIFY_ALL) == NOTIFY_ALL:
        out += "A"
    else:
        for ch in "g$lshzxetd":
            if flags & _LETTERS[ch]:
                out += ch
    for ch in "KEmn":
        if flags & _LETTERS[ch]:
            out += ch
    return out
