"""Shebang lines: ``#!lua flags=no-writes,allow-oom`` on EVAL scripts and
``#!lua name=mylib`` on libraries, split the way Valkey's sdssplitargs does."""

from __future__ import annotations

from kaa.protocol.request import split_args  # sdssplitargs, as Valkey splits the line
from kaa.scripting.library import FLAG_BY_NAME, FLAG_EVAL_COMPAT_MODE


class ShebangError(Exception):
    """Invalid shebang; the text is Valkey's error (without the ``ERR`` code)."""


def script_flags(body: bytes) -> tuple[int, int]:
    """(flags, shebang length) of an EVAL script (evalExtractShebangFlags).

    Without a shebang the script runs in compatibility mode (FLAG_EVAL_COMPAT_MODE)."""
    if not body.startswith(b"#!"):
        return FLAG_EVAL_COMPAT_MODE, 0
    end = body.find(b"\n")
    if end < 0:
        raise ShebangError("Invalid script shebang")
    parts = split_args(body[:end])
    if not parts:
        raise ShebangError("Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise ShebangError("Unexpected engine in script shebang: " + _s(parts[0]))
    flags = 0
    for part in parts[1:]:
        if part.startswith(b"flags="):
            for name in part[6:].split(b",") if len(part) > 6 else ():
                bit = FLAG_BY_NAME.get(_s(name))
                if bit is None:
                    raise ShebangError("Unexpected flag in script shebang: " + _s(name))
                flags |= bit
        else:
            raise ShebangError("Unknown lua shebang option: " + _s(part))
    return flags, end


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")
