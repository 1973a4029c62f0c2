"""Shebang lines: ``#!lua flags=no-writes,allow-oom`` on EVAL scripts and
``#!lua name=mylib`` on libraries, split the way Valkey's sdssplitargs does."""

from __future__ import annotations

from kaa.scripting.library import FLAG_BY_NAME, FLAG_EVAL_COMPAT_MODE

_HEX = b"0123456789abcdefABCDEF"
_ESC = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


class ShebangError(Exception):
    """Invalid shebang; the text is Valkey's error (without the ``ERR`` code)."""


def split_args(line: bytes) -> list[bytes] | None:
    """sdssplitargs: blanks separate, "double" quotes take \\xHH and \\n escapes, 'single'
    quotes only \\'; a closing quote must be followed by a blank. None if unbalanced."""
    out: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\f\v":
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                ch = line[i]
                if (ch == 92 and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESC.get(line[i], line[i]))
                elif ch == 34:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\f\v":
                        return None
                    i += 1
                    break
                else:
                    cur.append(ch)
            elif insq:
                if i >= n:
                    return None
                ch = line[i]
                if ch == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif ch == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\f\v":
                        return None
                    i += 1
                    break
                else:
                    cur.append(ch)
            else:
                if i >= n:
                    break
                ch = line[i]
                if ch in b" \n\r\t\0":
                    break
                if ch == 34:
                    inq = True
                elif ch == 39:
                    insq = True
                else:
                    cur.append(ch)
            i += 1
        out.append(bytes(cur))


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
