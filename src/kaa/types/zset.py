"""The sorted-set value (Valkey's t_zset.c data side) and the C double parsing
(strtod) rules that sorted sets share with SORT.

A :class:`ZSet` keeps a dict member -> score for O(1) ZSCORE and a
``SortedList`` of ``(score, member)`` tuples, which orders exactly as Valkey's
skiplist (score first, ties by member bytes as memcmp) and gives O(log n) rank,
rank range and score range. Valkey's two encodings are kept as a flag only:
``listpack`` while the set is small, ``skiplist`` once it grows past
``zset-max-listpack-entries`` / ``zset-max-listpack-value``; like Valkey, a set
never converts back, except results of the store commands, whose encoding is
chosen from their final size. Where the encodings visibly differ Kaa follows the
flag: a listpack stores -0.0 as the integer 0, and the command layer reproduces the
rest (LIMIT with a negative offset, ZSCAN's score format and cursor, ZRANDMEMBER order).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

from kaa.types.doubles import _C_SPACE, _DBL_MIN, string2d, strtod  # noqa: F401 - re-exported

# ZADD input flags and the outcome flags of ZSet.zadd (Valkey's ZADD_IN_* / ZADD_OUT_*).
ZADD_NX = 1
ZADD_XX = 2
ZADD_GT = 4
ZADD_LT = 8
ZADD_INCR = 16
OUT_NOP = 1
OUT_ADDED = 2
OUT_UPDATED = 4
OUT_NAN = 8


# Doubles as C's strtod reads them live in kaa.types.doubles.


def parse_range_double(s: bytes) -> float | None:
    """One bound of ZRANGEBYSCORE & co (``zslParseRange``): strtod up to the end of
    the C string; white space first is fine, NaN is not, overflow gives infinity."""
    # Fast path: float() reads the usual forms exactly as strtod (it also takes trailing
    # blanks and '_' separators, which strtod stops at: those go the slow way).
    if s and s[-1] not in _C_SPACE and b"_" not in s:
        try:
            v = float(s)
        except ValueError:
            pass
        else:
            return v if v == v else None
    nul = s.find(b"\0")
    if nul >= 0:
        s = s[:nul]
    v, used, _ = strtod(s)
    if used != len(s) or v != v:
        return None
    return v


def sort_double(s: bytes) -> float | None:
    """A SORT weight: strtod over the C string, refusing trailing garbage, NaN and
    ERANGE (overflow, and underflow that loses precision); "" and blanks first are fine."""
    if s and s[-1] not in _C_SPACE and b"_" not in s:
        try:
            v = float(s)
        except ValueError:
            pass
        else:
            if v != v:
                return None
            if v == 0.0:
                if not any(49 <= ch <= 57 for ch in s):  # a real zero, not an underflow
                    return v
            elif v != math.inf and v != -math.inf and abs(v) >= _DBL_MIN:
                return v
    nul = s.find(b"\0")
    if nul >= 0:
        s = s[:nul]
    v, used, erange = strtod(s)
    if used != len(s) or erange or v != v:
        return None
    return v


def g17(d: float) -> bytes:
    """``%.17Lg`` (Valkey's ld2string LD_STR_AUTO), used by ZSCAN on skiplist sets."""
    if d != d:
        return b"nan"
    if d == math.inf:
        return b"inf"
    if d == -math.inf:
        return b"-inf"
    return b"%.17g" % d


# --------------------------------------------------------------------------
# Ranges
# --------------------------------------------------------------------------


class _LexBound:
    """The ``-`` and ``+`` of a lex range: below / above every string."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


LEX_MIN: Any = _LexBound("-")
LEX_MAX: Any = _LexBound("+")

# (min, min_exclusive, max, max_exclusive)
ScoreRange = tuple[float, bool, float, bool]
LexRange = tuple[Any, bool, Any, bool]


def parse_score_range(lo: bytes, hi: bytes) -> ScoreRange | None:
    """``zslParseRange``: ``(`` makes a bound exclusive; None when not a float."""
    minex = lo[:1] == b"("
    maxex = hi[:1] == b"("
    a = parse_range_double(lo[1:] if minex else lo)
    if a is None:
        return None
    b = parse_range_double(hi[1:] if maxex else hi)
    if b is None:
        return None
    return a, minex, b, maxex


def _lex_item(s: bytes) -> tuple[Any, bool] | None:
    c = s[:1]
    if c == b"+":
        return (LEX_MAX, True) if len(s) == 1 else None
    if c == b"-":
        return (LEX_MIN, True) if len(s) == 1 else None
    if c == b"(":
        return s[1:], True
    if c == b"[":
        return s[1:], False
    return None


def parse_lex_range(lo: bytes, hi: bytes) -> LexRange | None:
    """``zslParseLexRange``: ``[x`` inclusive, ``(x`` exclusive, ``-`` and ``+``."""
    a = _lex_item(lo)
    b = _lex_item(hi)
    if a is None or b is None:
        return None
    return a[0], a[1], b[0], b[1]


def _lexcmp(a: Any, b: Any) -> int:
    if a is b:
        return 0
    if a is LEX_MIN or b is LEX_MAX:
        return -1
    if a is LEX_MAX or b is LEX_MIN:
        return 1
    return -1 if a < b else (1 if a > b else 0)


def lex_gte_min(v: bytes, spec: LexRange) -> bool:
    c = _lexcmp(v, spec[0])
    return c > 0 if spec[1] else c >= 0


def lex_lte_max(v: bytes, spec: LexRange) -> bool:
    c = _lexcmp(v, spec[2])
    return c < 0 if spec[3] else c <= 0


def _next_up(x: float) -> float:
    return math.nextafter(x, math.inf)


# --------------------------------------------------------------------------
# The value
# --------------------------------------------------------------------------


class ZSet:
    """A sorted set. ``scores`` maps member -> score; ``order`` holds the
    ``(score, member)`` pairs in Valkey's order."""

    TYPE_NAME = "zset"
    __slots__ = ("scores", "order", "listpack", "index")

    def __init__(self, listpack: bool = True) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()
        self.listpack = listpack
        # Optional member index installed by the command layer for ZSCAN cursors
        # (duck-typed: add(member), discard(member)); single changes keep it in
        # step, bulk changes drop it.
        self.index: Any = None

    # ---- construction ----------------------------------------------------
    @classmethod
    def create(cls, size_hint: int, maxlen_hint: int, max_entries: int, max_value: int) -> ZSet:
        """``zsetTypeCreate``: the encoding chosen from the expected size."""
        return cls(size_hint <= max_entries and maxlen_hint <= max_value)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[bytes, float]], max_entries: int, max_value: int) -> ZSet:
        """A set holding ``pairs`` (member, score; later duplicates win), encoded by its
        final size as after a store command or an RDB load."""
        z = cls(False)
        scores = z.scores
        for m, s in pairs:
            scores[m] = s
        z._finish(max_entries, max_value)
        return z

    def _finish(self, max_entries: int, max_value: int) -> None:
        """Build ``order`` from ``scores`` and pick the encoding by final size."""
        scores = self.scores
        lp = len(scores) <= max_entries and (not scores or max(map(len, scores)) <= max_value)
        if lp:
            for m, s in scores.items():
                if s == 0.0:
                    scores[m] = 0.0
        self.listpack = lp
        self.order = SortedList([(s, m) for m, s in scores.items()])
        self.index = None

    @classmethod
    def from_rdb(cls, items: Iterable[tuple[bytes, float]], config: Any) -> ZSet:
        """A set loaded from an RDB file: encoded by its final size, as Valkey's loader."""
        return cls.from_pairs(items, getattr(config, "zset_max_listpack_entries", 128),
                              getattr(config, "zset_max_listpack_value", 64))

    def rdb_items(self) -> list[tuple[bytes, float]]:
        """(member, score) in order, the neutral form persistence writes."""
        return [(m, s) for s, m in self.order]

    def memory_usage(self) -> int:
        """Approximate bytes used, per encoding (MEMORY USAGE, INFO)."""
        payload = sum(map(len, self.scores))
        n = len(self.scores)
        if self.listpack:
            return 16 + 7 + payload + 12 * n
        # dict entry + skiplist node (avg 1.33 levels) + the sds member, as Valkey.
        return 16 + 96 + n * (24 + 56 + 8 + 9) + payload

    def free_effort(self) -> int:
        """lazyfreeGetFreeEffort: a listpack is one allocation."""
        return 1 if self.listpack else len(self.scores)

    def copy(self) -> ZSet:
        """A deep copy with the same encoding (COPY)."""
        z = ZSet(self.listpack)
        z.scores = self.scores.copy()
        z.order = SortedList(self.order)
        return z

    # ---- introspection ---------------------------------------------------
    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: object) -> bool:
        return member in self.scores

    def __iter__(self) -> Iterator[bytes]:
        """Members in score order."""
        return (m for _, m in self.order)

    def __repr__(self) -> str:
        return f"ZSet({list(self.items())!r})"

    def encoding(self) -> str:
        return "listpack" if self.listpack else "skiplist"

    def items(self) -> Iterator[tuple[bytes, float]]:
        """(member, score) in order (RDB, DEBUG DIGEST, rewrite)."""
        return ((m, s) for s, m in self.order)

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def max_member_len(self) -> int:
        return max(map(len, self.scores), default=0)

    # ---- conversion --------------------------------------------------------
    def maybe_convert(self, size_hint: int, maxlen_hint: int, max_entries: int, max_value: int) -> None:
        """``zsetTypeMaybeConvert``: leave listpack when a command is about to add much."""
        if self.listpack and (size_hint > max_entries or maxlen_hint > max_value):
            self.listpack = False

    def convert_to_skiplist(self) -> None:
        """One-way conversion (SORT does it to the sets it reads, as Valkey)."""
        self.listpack = False

    # ---- updates -----------------------------------------------------------
    def zadd(self, member: bytes, score: float, flags: int, max_entries: int,
             max_value: int) -> tuple[int, float]:
        """``zsetAdd``: add or update one member under ZADD's flags.
        Returns (OUT_* flags, the member's score afterwards)."""
        if score != score:
            return OUT_NAN, score
        scores = self.scores
        cur = scores.get(member)
        if cur is not None:
            if flags & ZADD_NX:
                return OUT_NOP, cur
            if flags & ZADD_INCR:
                score += cur
                if score != score:
                    return OUT_NAN, score
            if (flags & ZADD_LT and score >= cur) or (flags & ZADD_GT and score <= cur):
                return OUT_NOP, cur
            if score != cur:
                if self.listpack and score == 0.0:
                    score = 0.0
                order = self.order
                order.remove((cur, member))
                order.add((score, member))
                scores[member] = score
                return OUT_UPDATED, score
            return 0, score
        if flags & ZADD_XX:
            return OUT_NOP, 0.0
        if self.listpack:
            if len(scores) + 1 > max_entries or len(member) > max_value:
                self.listpack = False
            elif score == 0.0:
                score = 0.0
        scores[member] = score
        self.order.add((score, member))
        if self.index is not None:
            self.index.add(member)
        return OUT_ADDED, score

    def add(self, member: bytes, score: float, max_entries: int, max_value: int) -> bool:
        """Plain insert-or-update (ZRANGESTORE's builder); True if the member is new."""
        out, _ = self.zadd(member, score, 0, max_entries, max_value)
        return bool(out & OUT_ADDED)

    def remove(self, member: bytes) -> bool:
        s = self.scores.pop(member, None)
        if s is None:
            return False
        self.order.remove((s, member))
        if self.index is not None:
            self.index.discard(member)
        return True

    def pop(self, at_max: bool) -> tuple[bytes, float]:
        """Remove and return the lowest (or highest) (member, score)."""
        s, m = self.order.pop(-1 if at_max else 0)
        del self.scores[m]
        if self.index is not None:
            self.index.discard(m)
        return m, s

    def remove_index_range(self, lo: int, hi: int) -> int:
        """Delete the members at ranks [lo, hi); returns how many."""
        if hi <= lo:
            return 0
        order = self.order
        scores = self.scores
        for _, m in order.islice(lo, hi):
            del scores[m]
        del order[lo:hi]
        self.index = None
        return hi - lo

    # ---- ranks and ranges --------------------------------------------------
    def rank(self, member: bytes, reverse: bool = False) -> int | None:
        s = self.scores.get(member)
        if s is None:
            return None
        r = self.order.bisect_left((s, member))
        return len(self.scores) - 1 - r if reverse else r

    def at(self, index: int) -> tuple[float, bytes]:
        """The (score, member) pair at rank ``index``."""
        return self.order[index]  # type: ignore[no-any-return]

    def islice(self, lo: int, hi: int, reverse: bool = False) -> Iterator[tuple[float, bytes]]:
        """(score, member) pairs of ranks [lo, hi), highest first when reverse."""
        return self.order.islice(lo, hi, reverse=reverse)  # type: ignore[no-any-return]

    def score_bounds(self, spec: ScoreRange) -> tuple[int, int]:
        """Ranks [lo, hi) of the members whose score is in the range."""
        mn, minex, mx, maxex = spec
        order = self.order
        n = len(order)
        if minex:
            if mn == math.inf:
                return n, n
            mn = _next_up(mn)
        lo = 0 if mn == -math.inf else order.bisect_left((mn, b""))
        if maxex:
            if mx == -math.inf:
                return lo, lo
            hi = order.bisect_left((mx, b""))
        elif mx == math.inf:
            hi = n
        else:
            hi = order.bisect_left((_next_up(mx), b""))
        return lo, max(lo, hi)

    def score_slice(self, lo: float, hi: float) -> list[tuple[float, bytes]]:
        """The (score, member) pairs with ``lo <= score < hi``, in order (the score
        range of a geohash cell). Reads SortedList's sublists directly: a bisect and
        a list slice per sublist instead of rank arithmetic and chained iterators."""
        order = self.order
        maxes = order._maxes
        klo = (lo, b"")
        i = bisect_left(maxes, klo)
        if i == len(maxes):
            return []
        lists = order._lists
        khi = (hi, b"")
        j = bisect_left(maxes, khi, i)
        sub = lists[i]
        if i == j:
            return sub[bisect_left(sub, klo):bisect_left(sub, khi)]  # type: ignore[no-any-return]
        out: list[tuple[float, bytes]] = sub[bisect_left(sub, klo):]
        for k in range(i + 1, min(j, len(lists))):
            out += lists[k]
        if j < len(lists):
            sub = lists[j]
            out += sub[:bisect_left(sub, khi)]
        return out

    def count_in_score_range(self, spec: ScoreRange) -> int:
        lo, hi = self.score_bounds(spec)
        return hi - lo

    def lex_bounds(self, spec: LexRange, reverse: bool = False) -> tuple[int, int]:
        """Ranks [lo, hi) of the members in a lex range. Meaningful when all scores
        are equal (then a binary search); otherwise follows the listpack walk: from
        the head (or the tail when reverse) to the first member past the bound."""
        order = self.order
        n = len(order)
        if n == 0:
            return 0, 0
        s0 = order[0][0]
        if s0 == order[-1][0]:
            mn, minex, mx, maxex = spec
            if mn is LEX_MIN:
                lo = 0
            elif mn is LEX_MAX:
                lo = n
            elif minex:
                lo = order.bisect_right((s0, mn))
            else:
                lo = order.bisect_left((s0, mn))
            if mx is LEX_MAX:
                hi = n
            elif mx is LEX_MIN:
                hi = 0
            elif maxex:
                hi = order.bisect_left((s0, mx))
            else:
                hi = order.bisect_right((s0, mx))
            return lo, max(lo, hi)
        # zzlIsInLexRange: an empty range, or the last member below min or the first
        # above max, finds nothing before any walk.
        cmp = _lexcmp(spec[0], spec[2])
        if cmp > 0 or (cmp == 0 and (spec[1] or spec[3])):
            return 0, 0
        if not lex_gte_min(order[-1][1], spec) or not lex_lte_max(order[0][1], spec):
            return 0, 0
        members = [m for _, m in order]
        if not reverse:
            i = 0
            while i < n and not lex_gte_min(members[i], spec):
                i += 1
            if i == n or not lex_lte_max(members[i], spec):
                return i, i
            j = i + 1
            while j < n and lex_lte_max(members[j], spec):
                j += 1
            return i, j
        j = n - 1
        while j >= 0 and not lex_lte_max(members[j], spec):
            j -= 1
        if j < 0 or not lex_gte_min(members[j], spec):
            return j + 1, j + 1
        i = j - 1
        while i >= 0 and lex_gte_min(members[i], spec):
            i -= 1
        return i + 1, j + 1

    # ---- randomness --------------------------------------------------------
    def random_pair(self) -> tuple[float, bytes]:
        return self.order[random.randrange(len(self.order))]  # type: ignore[no-any-return]

    def random_unique(self, count: int) -> list[tuple[float, bytes]]:
        """``count`` distinct pairs (count < len): in set order for a listpack (as
        lpRandomPairsUnique), in random order otherwise."""
        idx = random.sample(range(len(self.order)), count)
        if self.listpack:
            idx.sort()
        order = self.order
        return [order[i] for i in idx]
