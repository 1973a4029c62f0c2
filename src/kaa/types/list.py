"""The list value: a ``collections.deque`` plus the bookkeeping that lets OBJECT
ENCODING answer exactly as Valkey 8 would (t_list.c, quicklist.c, listpack.c).

Valkey keeps a small list as one *listpack* and converts it to a *quicklist* (a chain
of listpack nodes) when ``list-max-listpack-size`` says it grew too big: a negative
setting is a byte budget (-1..-5 = 4, 8, 16, 32, 64 KB; smaller values clamp to -5), a
positive one an entry count (0 counts as 1; the listpack must then also stay within
8 KB). A quicklist goes back to a listpack only when it is a single node no bigger
than *half* the limit, so that a list near the boundary does not flip on every push
and pop.

The elements always live in ``items``; the encoding state is only sizes:

* listpack: ``lp_bytes``, the exact bytes of the listpack (header, every entry's
  encoding and back-length, end marker), because Valkey compares them with the limit;
* quicklist: ``nodes``, one ``[count, bytes, plain]`` record per quicklist node, kept
  by the same rules quicklist.c follows when it pushes, pops, inserts, replaces,
  splits, merges and deletes, so "single node" is known exactly.

Commands pass the current setting (``fill``) to the mutating methods; nothing here
reads configuration. Pushes and pops at either end are O(1) per element.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

# Byte budgets of the negative fill levels (quicklist.c optimization_level).
_SIZE_LEVELS = (4096, 8192, 16384, 32768, 65536)
# A node limited by count must also stay within this many bytes (SIZE_SAFETY_LIMIT).
_SAFETY_LIMIT = 8192
# quicklist over-estimates an entry's cost by this much when deciding to insert.
_ESTIMATE_OVERHEAD = 8
# Listpack header (total bytes + element count) and end-of-listpack marker.
_LP_OVERHEAD = 7
_INT_START = frozenset(b"-0123456789")
_MAXSIZE = 1 << 62
# DEBUG QUICKLIST-PACKED-THRESHOLD: elements at least this long get a node of their
# own ("plain"); 0 = decided by the fill setting, as in production.
_packed_threshold = 0

Node = list[int]  # [count, bytes, plain]


def set_packed_threshold(size: int) -> bool:
    """DEBUG QUICKLIST-PACKED-THRESHOLD: False if refused (at or above 4 GB - 1 MB)."""
    global _packed_threshold
    if size > (1 << 32) - (1 << 20):
        return False
    _packed_threshold = size
    return True


_LIMITS_CACHE: dict[int, tuple[int, int]] = {}


def _limits(fill: int) -> tuple[int, int]:
    """(byte limit, entry-count limit) of a node for list-max-listpack-size ``fill``."""
    lim = _LIMITS_CACHE.get(fill)
    if lim is None:
        if fill >= 0:
            lim = (_MAXSIZE, fill or 1)
        else:
            level = min(-fill - 1, len(_SIZE_LEVELS) - 1)
            lim = (_SIZE_LEVELS[level], _MAXSIZE)
        if len(_LIMITS_CACHE) < 64:
            _LIMITS_CACHE[fill] = lim
    return lim


_BOUNDS_CACHE: dict[int, tuple[int, int]] = {}


def _bounds(fill: int) -> tuple[int, int]:
    """(bytes, count) such that ``_exceeds(fill, b, n)`` is ``b > bytes or n > count``:
    one cached lookup for the hot push paths."""
    bounds = _BOUNDS_CACHE.get(fill)
    if bounds is None:
        bounds = (_SAFETY_LIMIT, fill or 1) if fill >= 0 else (_limits(fill)[0], _MAXSIZE)
        if len(_BOUNDS_CACHE) < 64:
            _BOUNDS_CACHE[fill] = bounds
    return bounds


def _exceeds(fill: int, nbytes: int, count: int) -> bool:
    """quicklistNodeExceedsLimit: would a listpack of this size/length be too big?"""
    if fill < 0:
        return nbytes > _limits(fill)[0]
    return nbytes > _SAFETY_LIMIT or count > (fill or 1)


def _large(sz: int, fill: int) -> bool:
    """isLargeElement: an element this long gets a plain node of its own."""
    if _packed_threshold:
        return sz >= _packed_threshold
    if sz <= 4096:  # below every limit: the common case, decided without a lookup
        return False
    if fill >= 0:
        return sz > _SAFETY_LIMIT
    return sz > _limits(fill)[0]


def _allow_insert(node: Node | None, fill: int, sz: int) -> bool:
    """_quicklistNodeAllowInsert."""
    if node is None or node[2] or _large(sz, fill):
        return False
    return not _exceeds(fill, node[1] + sz + _ESTIMATE_OVERHEAD, node[0] + 1)


def _allow_merge(a: Node | None, b: Node | None, fill: int) -> bool:
    """_quicklistNodeAllowMerge."""
    if a is None or b is None or a[2] or b[2]:
        return False
    return not _exceeds(fill, a[1] + b[1] - _LP_OVERHEAD, a[0] + b[0])


def entry_size(v: bytes | bytearray) -> int:
    """Bytes one element takes inside a listpack (encoding + data + back-length)."""
    n = len(v)
    if 0 < n < 21 and v[0] in _INT_START:
        iv = _lp_int(v)
        if iv is not None:
            if 0 <= iv <= 127:
                return 2
            if -4096 <= iv <= 4095:
                return 3
            if -32768 <= iv <= 32767:
                return 4
            if -8388608 <= iv <= 8388607:
                return 5
            if -2147483648 <= iv <= 2147483647:
                return 6
            return 10
    if n < 64:
        ln = 1 + n
    elif n < 4096:
        ln = 2 + n
    else:
        ln = 5 + n
    if ln <= 127:
        return ln + 1
    if ln < 16383:
        return ln + 2
    if ln < 2097151:
        return ln + 3
    if ln < 268435455:
        return ln + 4
    return ln + 5


def _lp_int(v: bytes | bytearray) -> int | None:
    """lpStringToInt64: canonical decimal that fits in a signed 64-bit integer."""
    if v == b"0":
        return 0
    neg = v[0] == 45
    if neg and len(v) == 1:
        return None
    first = v[1] if neg else v[0]
    if not 49 <= first <= 57 or not v[1 if neg else 0 :].isdigit():
        return None
    iv = int(v)
    if -(2**63) <= iv < 2**63:
        return iv
    return None


def size_of(values: Iterable[bytes]) -> int:
    s = 0
    for v in values:
        s += entry_size(v)
    return s


def _node_of(value: bytes, fill: int) -> Node:
    """A new node holding just value (plain if it is a large element)."""
    if _large(len(value), fill):
        return [1, len(value), 1]
    return [1, _LP_OVERHEAD + entry_size(value), 0]


class ListValue:
    """A list: ``items`` (a deque, head = left) and its Valkey encoding state.

    Commands may read ``items`` directly; changes go through the methods so that the
    encoding stays right. Each mutating method takes ``fill`` (list-max-listpack-size).
    """

    TYPE_NAME = "list"
    __slots__ = ("items", "nodes", "lp_bytes")

    def __init__(self, items: Iterable[bytes] = (), fill: int = -2) -> None:
        self.items: deque[bytes] = deque(items)
        self.lp_bytes = _LP_OVERHEAD + size_of(self.items)
        # None while the list is a listpack.
        self.nodes: deque[Node] | None = None
        if self.items:
            self.auto_encode(fill)

    # ---- encoding ----------------------------------------------------------------
    @property
    def quick(self) -> bool:
        return self.nodes is not None

    def encoding(self) -> str:
        return "listpack" if self.nodes is None else "quicklist"

    def auto_encode(self, fill: int, pushed: bool = False) -> None:
        """LIST_CONV_AUTO for a list built at once. Loaded lists (RDB, RESTORE) are a
        listpack if they fit in one; ``pushed`` lists (SORT STORE builds a quicklist by
        tail pushes) only if those pushes left a single node within the limits."""
        if not pushed and not _exceeds(fill, self.lp_bytes, len(self.items)):
            self.nodes = None
            return
        self.nodes = deque()
        for v in self.items:
            self._ql_push(v, False, fill)
        nodes = self.nodes
        sz_limit, count_limit = _limits(fill)
        if len(nodes) == 1 and not nodes[0][2] and nodes[0][1] <= sz_limit and nodes[0][0] <= count_limit:
            self.lp_bytes = nodes[0][1]
            self.nodes = None

    def _to_quicklist(self) -> None:
        # The listpack becomes the quicklist's only node (quicklistAppendListpack).
        self.nodes = deque([[len(self.items), self.lp_bytes, 0]]) if self.items else deque()

    def grow_check(self, fill: int, add_bytes: int, add_count: int) -> None:
        """LIST_CONV_GROWING before adding elements: a listpack may become a quicklist.

        ``add_bytes`` is the raw length of the elements about to be added, as Valkey counts."""
        if self.nodes is None and _exceeds(fill, self.lp_bytes + add_bytes, len(self.items) + add_count):
            self._to_quicklist()

    def shrink_check(self, fill: int) -> None:
        """LIST_CONV_SHRINKING after removing elements: a quicklist that is one packed node
        within half the limits becomes a listpack again."""
        nodes = self.nodes
        if nodes is None or len(nodes) != 1:
            return
        node = nodes[0]
        if node[2]:
            return
        sz_limit, count_limit = _limits(fill)
        if node[1] > sz_limit // 2 or node[0] > count_limit // 2:
            return
        self.lp_bytes = node[1]
        self.nodes = None

    # ---- size ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.items)

    def copy(self) -> ListValue:
        new = ListValue.__new__(ListValue)
        new.items = self.items.copy()
        new.lp_bytes = self.lp_bytes
        new.nodes = None if self.nodes is None else deque([n[:] for n in self.nodes])
        return new

    def node_count(self) -> int:
        """Quicklist nodes (0 for a listpack): DEBUG OBJECT's ql_nodes."""
        return 0 if self.nodes is None else len(self.nodes)

    def ql_bytes(self) -> int:
        """Bytes of all nodes (DEBUG OBJECT's ql_uncompressed_size), or of the listpack."""
        return self.lp_bytes if self.nodes is None else sum(n[1] for n in self.nodes)

    def memory_usage(self) -> int:
        """Bytes used as Valkey would count them, roughly (MEMORY USAGE, INFO)."""
        if self.nodes is None:
            return self.lp_bytes + 16
        return sum(n[1] for n in self.nodes) + 48 * len(self.nodes) + 40

    def free_effort(self) -> int:
        """lazyfreeGetFreeEffort: quicklists cost one unit per node."""
        return 1 if self.nodes is None else len(self.nodes)

    # ---- persistence ---------------------------------------------------------------
    def rdb_items(self) -> list[bytes]:
        return list(self.items)

    @classmethod
    def from_rdb(cls, items: Iterable[bytes], config: Any) -> ListValue:
        fill = getattr(config, "list_max_listpack_size", -2)
        return cls(items, fill)

    # ---- quicklist node bookkeeping ------------------------------------------------------
    def _ql_push(self, value: bytes, left: bool, fill: int) -> None:
        """quicklistPushHead / quicklistPushTail."""
        nodes = self.nodes
        assert nodes is not None
        sz = len(value)
        if _large(sz, fill):
            node: Node = [1, sz, 1]
        else:
            end = (nodes[0] if left else nodes[-1]) if nodes else None
            if end is not None and _allow_insert(end, fill, sz):
                end[0] += 1
                end[1] += entry_size(value)
                return
            node = [1, _LP_OVERHEAD + entry_size(value), 0]
        if left:
            nodes.appendleft(node)
        else:
            nodes.append(node)

    def _ql_pop(self, value: bytes, left: bool) -> None:
        nodes = self.nodes
        assert nodes is not None
        node = nodes[0] if left else nodes[-1]
        node[0] -= 1
        if node[0] == 0:
            if left:
                nodes.popleft()
            else:
                nodes.pop()
        elif not node[2]:
            sz = len(value)
            # A short non-numeric element costs its length + 2 (see entry_size).
            node[1] -= sz + 2 if sz < 64 and (not sz or value[0] not in _INT_START) else entry_size(value)

    def _ql_drop_ends(self, head: int, tail: int) -> None:
        """quicklistDelRange from either end, before ``items`` loses those elements."""
        nodes = self.nodes
        assert nodes is not None
        items = self.items
        idx = 0
        while head:
            node = nodes[0]
            if node[0] <= head:
                head -= node[0]
                idx += node[0]
                nodes.popleft()
            else:
                node[1] -= size_of(islice(items, idx, idx + head))
                node[0] -= head
                head = 0
        end = len(items)
        while tail:
            node = nodes[-1]
            if node[0] <= tail:
                tail -= node[0]
                end -= node[0]
                nodes.pop()
            else:
                node[1] -= size_of(islice(items, end - tail, end))
                node[0] -= tail
                tail = 0

    def _locate(self, i: int) -> tuple[int, int]:
        """(node index, flat index of that node's first element) for element i."""
        nodes = self.nodes
        assert nodes is not None
        n = len(self.items)
        if i < n // 2:
            start = 0
            for ni, node in enumerate(nodes):
                if i < start + node[0]:
                    return ni, start
                start += node[0]
        else:
            end = n
            for k, node in enumerate(reversed(nodes)):
                if i >= end - node[0]:
                    return len(nodes) - 1 - k, end - node[0]
                end -= node[0]
        raise IndexError(i)

    def _split(self, ni: int, start: int, offset: int, after: bool) -> Node:
        """_quicklistSplitNode: with ``after`` the node keeps [0..offset] and the new node
        gets the rest; without, the new node gets [0..offset-1]. The new node is returned
        (not yet linked)."""
        assert self.nodes is not None
        node = self.nodes[ni]
        items = self.items
        cut = start + offset + 1 if after else start + offset
        first = list(islice(items, start, cut))
        second = list(islice(items, cut, start + node[0]))
        keep, moved = (first, second) if after else (second, first)
        node[0] = len(keep)
        node[1] = _LP_OVERHEAD + size_of(keep)
        return [len(moved), _LP_OVERHEAD + size_of(moved), 0]

    def _index_of(self, node: Node) -> int:
        assert self.nodes is not None
        for i, n in enumerate(self.nodes):
            if n is node:
                return i
        raise ValueError("node not in list")

    def _merge(self, a: Node, b: Node) -> Node:
        """_quicklistListpackMerge of adjacent nodes a (left) and b: one node remains."""
        assert self.nodes is not None
        a[0] += b[0]
        a[1] += b[1] - _LP_OVERHEAD
        del self.nodes[self._index_of(b)]
        return a

    def _merge_around(self, center: Node, fill: int) -> None:
        """_quicklistMergeNodes: merge neighbours of center, then center with them."""
        nodes = self.nodes
        assert nodes is not None
        ci = self._index_of(center)
        prev = nodes[ci - 1] if ci >= 1 else None
        prev_prev = nodes[ci - 2] if ci >= 2 else None
        nxt = nodes[ci + 1] if ci + 1 < len(nodes) else None
        next_next = nodes[ci + 2] if ci + 2 < len(nodes) else None
        if _allow_merge(prev, prev_prev, fill):
            self._merge(prev_prev, prev)  # type: ignore[arg-type]
        if _allow_merge(nxt, next_next, fill):
            self._merge(nxt, next_next)  # type: ignore[arg-type]
        ci = self._index_of(center)
        before = nodes[ci - 1] if ci >= 1 else None
        target = self._merge(before, center) if _allow_merge(center, before, fill) else center  # type: ignore[arg-type]
        ti = self._index_of(target)
        after = nodes[ti + 1] if ti + 1 < len(nodes) else None
        if _allow_merge(target, after, fill):
            self._merge(target, after)  # type: ignore[arg-type]

    def _ql_insert(self, i: int, value: bytes, after: bool, fill: int) -> None:
        """_quicklistInsert next to element i (called before ``items`` changes)."""
        nodes = self.nodes
        assert nodes is not None
        ni, start = self._locate(i)
        node = nodes[ni]
        offset = i - start
        sz = len(value)
        prev = nodes[ni - 1] if ni >= 1 else None
        nxt = nodes[ni + 1] if ni + 1 < len(nodes) else None
        full = not _allow_insert(node, fill, sz)
        at_tail = after and offset == node[0] - 1
        at_head = not after and offset == 0
        avail_next = at_tail and _allow_insert(nxt, fill, sz)
        avail_prev = at_head and _allow_insert(prev, fill, sz)
        if _large(sz, fill):
            entry_node: Node = [1, sz, 1]
            if node[2] or at_tail or at_head:
                nodes.insert(ni + 1 if after else ni, entry_node)
            else:
                new = self._split(ni, start, offset, after)
                if after:
                    nodes.insert(ni + 1, entry_node)
                    nodes.insert(ni + 2, new)
                else:
                    nodes.insert(ni, entry_node)
                    nodes.insert(ni, new)
            return
        es = entry_size(value)
        if not full:
            node[0] += 1
            node[1] += es
        elif at_tail and avail_next:
            nxt[0] += 1  # type: ignore[index]
            nxt[1] += es  # type: ignore[index]
        elif at_head and avail_prev:
            prev[0] += 1  # type: ignore[index]
            prev[1] += es  # type: ignore[index]
        elif at_tail or at_head:
            nodes.insert(ni + 1 if after else ni, [1, _LP_OVERHEAD + es, 0])
        else:
            new = self._split(ni, start, offset, after)
            new[0] += 1
            new[1] += es
            nodes.insert(ni + 1 if after else ni, new)
            self._merge_around(node, fill)

    def _ql_replace(self, i: int, old: bytes, value: bytes, fill: int) -> None:
        """quicklistReplaceEntry at element i (called before ``items`` changes)."""
        nodes = self.nodes
        assert nodes is not None
        ni, start = self._locate(i)
        node = nodes[ni]
        offset = i - start
        sz = len(value)
        large = _large(sz, fill)
        if not node[2] and not large:
            node[1] += entry_size(value) - entry_size(old)
        elif node[2]:
            if large:
                node[1] = sz
            else:
                # Insert after the plain node (as LINSERT would), then drop the plain node.
                self._ql_insert(i, value, True, fill)
                del nodes[self._index_of(node)]
        else:
            # A large element into a packed node: split after it, plain node in between.
            split = self._split(ni, start, offset, True) if offset != node[0] - 1 else None
            new: Node = [1, sz, 1]
            nodes.insert(ni + 1, new)
            if split is not None:
                nodes.insert(ni + 2, split)
            if node[0] == 1:
                del nodes[ni]
            else:
                node[0] -= 1
                node[1] -= entry_size(old)
                self._merge_around(new, fill)

    # ---- ends (O(1) per element) ------------------------------------------------------
    def push(self, values: list[bytes], left: bool, fill: int) -> int:
        """LPUSH/RPUSH ``values`` one after the other; returns the new length."""
        if self.nodes is None:
            add = 0
            for v in values:
                add += len(v)
            self.grow_check(fill, add, len(values))
        if self.nodes is None:
            self.lp_bytes += size_of(values)
        else:
            for v in values:
                self._ql_push(v, left, fill)
        if left:
            self.items.extendleft(values)
        else:
            self.items.extend(values)
        return len(self.items)

    def push_one(self, value: bytes, left: bool, fill: int) -> int:
        """push([value], left, fill) with its common cases inlined; returns the new length.

        Same bookkeeping as grow_check + entry_size / _ql_push, just without the calls."""
        items = self.items
        nodes = self.nodes
        sz = len(value)
        max_bytes, max_count = _BOUNDS_CACHE.get(fill) or _bounds(fill)
        if nodes is None:
            if self.lp_bytes + sz <= max_bytes and len(items) < max_count:
                # A short non-numeric element costs its length + 2 (see entry_size).
                if sz < 64 and (not sz or value[0] not in _INT_START):
                    self.lp_bytes += sz + 2
                else:
                    self.lp_bytes += entry_size(value)
                if left:
                    items.appendleft(value)
                else:
                    items.append(value)
                return len(items)
            self._to_quicklist()
            nodes = self.nodes
            assert nodes is not None
        if _packed_threshold or sz > 4096 or not nodes:
            self._ql_push(value, left, fill)
        else:
            end = nodes[0] if left else nodes[-1]
            # _allow_insert(end, fill, sz) for a packed element
            if not end[2] and end[1] + sz + _ESTIMATE_OVERHEAD <= max_bytes and end[0] < max_count:
                end[0] += 1
                # A short non-numeric element costs its length + 2 (see entry_size).
                if sz < 64 and (not sz or value[0] not in _INT_START):
                    end[1] += sz + 2
                else:
                    end[1] += entry_size(value)
            else:
                node = [1, _LP_OVERHEAD + entry_size(value), 0]
                if left:
                    nodes.appendleft(node)
                else:
                    nodes.append(node)
        if left:
            items.appendleft(value)
        else:
            items.append(value)
        return len(items)

    def pop(self, left: bool) -> bytes:
        """Remove and return one end (the list must not be empty); call shrink_check after."""
        v = self.items.popleft() if left else self.items.pop()
        sz = len(v)
        # A short non-numeric element costs its length + 2 (see entry_size).
        es = sz + 2 if sz < 64 and (not sz or v[0] not in _INT_START) else -1
        nodes = self.nodes
        if nodes is None:
            self.lp_bytes -= es if es >= 0 else entry_size(v)
        else:  # _ql_pop(v, left), inlined
            node = nodes[0] if left else nodes[-1]
            node[0] -= 1
            if node[0] == 0:
                if left:
                    nodes.popleft()
                else:
                    nodes.pop()
            elif not node[2]:
                node[1] -= es if es >= 0 else entry_size(v)
        return v

    def pop_many(self, count: int, left: bool) -> list[bytes]:
        """Pop up to ``count`` elements from one end, in pop order."""
        items = self.items
        n = min(count, len(items))
        if self.nodes is not None:
            self._ql_drop_ends(n if left else 0, 0 if left else n)
        popper = items.popleft if left else items.pop
        out = [popper() for _ in range(n)]
        if self.nodes is None:
            self.lp_bytes -= size_of(out)
        return out

    # ---- reads --------------------------------------------------------------------------
    def index(self, i: int) -> bytes | None:
        n = len(self.items)
        if i < 0:
            i += n
        if 0 <= i < n:
            return self.items[i]
        return None

    def range(self, start: int, end: int) -> list[bytes]:
        """LRANGE semantics: inclusive, negative indexes from the tail, clamped."""
        items = self.items
        n = len(items)
        if start < 0:
            start += n
        if end < 0:
            end += n
        if start < 0:
            start = 0
        if start > end or start >= n:
            return []
        if end >= n:
            end = n - 1
        if start == 0 and end == n - 1:
            return list(items)
        if n - 1 - end < start:
            # Closer to the tail: walk from there.
            out = list(islice(reversed(items), n - 1 - end, n - start))
            out.reverse()
            return out
        return list(islice(items, start, end + 1))

    # ---- middle operations (O(N), as in Valkey) ---------------------------------------------
    def set_at(self, i: int, value: bytes, fill: int) -> bool:
        """LSET: False if the index is out of range (the growth check happens regardless)."""
        self.grow_check(fill, len(value), 1)
        n = len(self.items)
        if i < 0:
            i += n
        if not 0 <= i < n:
            return False
        old = self.items[i]
        if self.nodes is None:
            self.lp_bytes += entry_size(value) - entry_size(old)
        else:
            self._ql_replace(i, old, value, fill)
        self.items[i] = value
        self.shrink_check(fill)
        return True

    def insert(self, pivot: bytes, value: bytes, after: bool, fill: int) -> int:
        """LINSERT: new length, or -1 if the pivot is absent (the growth check happens
        regardless, as Valkey converts before searching)."""
        self.grow_check(fill, len(value), 1)
        items = self.items
        try:
            i = items.index(pivot)
        except ValueError:
            return -1
        if self.nodes is None:
            self.lp_bytes += entry_size(value)
        else:
            self._ql_insert(i, value, after, fill)
        items.insert(i + 1 if after else i, value)
        return len(items)

    def remove(self, value: bytes, count: int) -> int:
        """LREM: remove up to ``count`` matches (0 = all; negative = from the tail).
        Emptied quicklist nodes disappear; the others are not merged (as in Valkey)."""
        items = self.items
        n = len(items)
        limit = abs(count) if count else n
        if count < 0:
            hits = [n - 1 - k for k, v in enumerate(reversed(items)) if v == value][:limit]
        else:
            hits = [k for k, v in enumerate(items) if v == value][:limit]
        if not hits:
            return 0
        removed = len(hits)
        if self.nodes is None:
            self.lp_bytes -= entry_size(value) * removed
        else:
            self._ql_remove_at(sorted(hits), entry_size(value))
        if removed == 1:
            del items[hits[0]]
        else:
            gone = set(hits)
            self.items = deque(v for k, v in enumerate(items) if k not in gone)
        return removed

    def _ql_remove_at(self, positions: list[int], es: int) -> None:
        """quicklistDelEntry for each (ascending) position of equal elements of size es."""
        assert self.nodes is not None
        kept: deque[Node] = deque()
        p = 0
        npos = len(positions)
        end = 0
        for node in self.nodes:
            end += node[0]
            r = 0
            while p < npos and positions[p] < end:
                r += 1
                p += 1
            if r:
                node[0] -= r
                if not node[0]:
                    continue
                if not node[2]:
                    node[1] -= es * r
            kept.append(node)
        self.nodes = kept

    def trim(self, start: int, end: int) -> int:
        """LTRIM: keep [start, end]; returns how many elements were removed."""
        items = self.items
        n = len(items)
        if start < 0:
            start += n
        if end < 0:
            end += n
        if start < 0:
            start = 0
        if start > end or start >= n:
            ltrim, rtrim = n, 0
        else:
            if end >= n:
                end = n - 1
            ltrim, rtrim = start, n - end - 1
        removed = ltrim + rtrim
        if not removed:
            return 0
        keep = n - removed
        if self.nodes is not None:
            self._ql_drop_ends(ltrim, rtrim)
        if keep < removed:
            kept = deque(islice(items, ltrim, ltrim + keep))
            self.items = kept
            if self.nodes is None:
                self.lp_bytes = _LP_OVERHEAD + size_of(kept)
        else:
            gone = 0
            for _ in range(ltrim):
                gone += entry_size(items.popleft())
            for _ in range(rtrim):
                gone += entry_size(items.pop())
            if self.nodes is None:
                self.lp_bytes -= gone
        return removed

    def find(self, value: bytes, rank: int, count: int, maxlen: int) -> list[int]:
        """LPOS: indexes of matches, from the rank-th match (negative: from the tail);
        ``count`` 0 = all, ``maxlen`` 0 = scan everything."""
        items = self.items
        n = len(items)
        out: list[int] = []
        matches = 0
        limit = maxlen if maxlen else n
        if rank > 0:
            for idx, v in enumerate(islice(items, limit)):
                if v == value:
                    matches += 1
                    if matches >= rank:
                        out.append(idx)
                        if count and len(out) >= count:
                            break
        else:
            want = -rank
            for idx, v in enumerate(islice(reversed(items), limit)):
                if v == value:
                    matches += 1
                    if matches >= want:
                        out.append(n - 1 - idx)
                        if count and len(out) >= count:
                            break
        return out


def from_items(items: Iterable[bytes], fill: int) -> ListValue:
    """A list built by tail pushes then LIST_CONV_AUTO, as SORT ... STORE does."""
    lv = ListValue.__new__(ListValue)
    lv.items = deque(items)
    lv.lp_bytes = _LP_OVERHEAD + size_of(lv.items)
    lv.nodes = None
    if lv.items:
        lv.auto_encode(fill, pushed=True)
    return lv


__all__ = ["ListValue", "entry_size", "from_items", "set_packed_threshold"]
