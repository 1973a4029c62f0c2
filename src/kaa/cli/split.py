"""Split an interactive command line into arguments using redis-cli's quoting rules.

People paste lines between redis-cli and kaa-cli, so the rules must agree: double
quotes understand \\n \\r \\t \\b \\a and \\xHH escapes, single quotes only \\', a
closing quote must be followed by whitespace or the end of the line, and quoted parts
glue onto an unquoted prefix (``a"b c"`` is one argument ``ab c``).
"""

from __future__ import annotations

from typing import Final

_WHITESPACE: Final = b" \t\n\r\v\f"
_HEX: Final = b"0123456789abcdefABCDEF"
_SIMPLE_ESCAPES: Final = {
    ord("n"): ord("\n"),
    ord("r"): ord("\r"),
    ord("t"): ord("\t"),
    ord("b"): ord("\b"),
    ord("a"): ord("\a"),
}


class SplitError(ValueError):
    """Unbalanced quotes or a closing quote glued to more text."""


def split_args(line: bytes) -> list[bytes]:
    """Return the arguments of ``line``; raise :class:`SplitError` on bad quoting."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _WHITESPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        quote = 0  # 0: unquoted, else the active quote character
        while True:
            if i >= n:
                if quote:
                    raise SplitError("unterminated quotes")
                break
            c = line[i]
            if quote == ord('"'):
                if (
                    c == ord("\\")
                    and i + 3 < n
                    and line[i + 1] == ord("x")
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == ord("\\") and i + 1 < n:
                    i += 1
                    current.append(_SIMPLE_ESCAPES.get(line[i], line[i]))
                elif c == ord('"'):
                    if i + 1 < n and line[i + 1] not in _WHITESPACE:
                        raise SplitError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    current.append(c)
            elif quote == ord("'"):
                if c == ord("\\") and i + 1 < n and line[i + 1] == ord("'"):
                    i += 1
                    current.append(ord("'"))
                elif c == ord("'"):
                    if i + 1 < n and line[i + 1] not in _WHITESPACE:
                        raise SplitError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    current.append(c)
            elif c in _WHITESPACE:
                i += 1
                break
            elif c in (ord('"'), ord("'")):
                quote = c
            else:
                current.append(c)
            i += 1
        args.append(bytes(current))
