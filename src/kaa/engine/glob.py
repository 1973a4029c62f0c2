"""Glob matching as Valkey's ``stringmatchlen``: ``*``, ``?``, ``[...]`` with ranges and
``^`` negation, and backslash escapes. Used by KEYS, SCAN MATCH, pub/sub patterns,
CONFIG GET and ACL key patterns, so every one of them matches exactly as Valkey.
"""

from __future__ import annotations

from functools import lru_cache


def glob_match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    if pattern == b"*":
        return True
    if nocase:
        pattern = pattern.lower()
        string = string.lower()
    return _match(pattern, 0, string, 0, [0], 0) == 1


# Valkey stops matching patterns nested deeper than this (stringmatchlen_impl).
MAX_NESTING = 1000


def _match(p: bytes, pi: int, s: bytes, si: int, budget: list[int], nesting: int) -> int:
    """1 match, 0 no match, -1 give up (no longer match of an outer star can succeed)."""
    if nesting > MAX_NESTING:
        return 0
    plen = len(p)
    slen = len(s)
    budget[0] += 1
    if budget[0] > 1000000:
        return -1
    while pi < plen and si < slen:
        c = p[pi]
        if c == 42:  # '*'
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == plen:
                return 1
            while si < slen:
                r = _match(p, pi + 1, s, si, budget, nesting + 1)
                if r != 0:
                    return r
                si += 1
            return -1
        if c == 63:  # '?'
            si += 1
        elif c == 91:  # '['
            pi += 1
            neg = pi < plen and p[pi] == 94
            if neg:
                pi += 1
            matched = False
            ch = s[si]
            while True:
                if pi < plen and p[pi] == 92 and plen - pi >= 2:  # backslash escape
                    pi += 1
                    if p[pi] == ch:
                        matched = True
                elif pi < plen and p[pi] == 93:  # ']'
                    break
                elif pi >= plen:
                    pi -= 1  # unterminated class: the end closes it
                    break
                elif plen - pi >= 3 and p[pi + 1] == 45:  # range a-b
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    if lo <= ch <= hi:
                        matched = True
                    pi += 2
                elif p[pi] == ch:
                    matched = True
                pi += 1
            if neg:
                matched = not matched
            if not matched:
                return 0
            si += 1
        else:
            if c == 92 and plen - pi >= 2:  # escaped literal
                pi += 1
            if p[pi] != s[si]:
                return 0
            si += 1
        pi += 1
        if si == slen:
            while pi < plen and p[pi] == 42:
                pi += 1
            break
    return 1 if (pi >= plen and si == slen) else 0


@lru_cache(maxsize=256)
def compile_simple(pattern: bytes) -> tuple[str, bytes] | None:
    """Fast paths for the common shapes 'prefix*' and '*suffix' (None otherwise)."""
    if any(c in pattern for c in (b"?", b"[", b"\\")):
        return None
    if pattern.count(b"*") == 1:
        if pattern.endswith(b"*"):
            return ("prefix", pattern[:-1])
        if pattern.startswith(b"*"):
            return ("suffix", pattern[1:])
    if b"*" not in pattern:
        return ("exact", pattern)
    return None
