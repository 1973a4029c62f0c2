"""The stream value (the data side of Valkey's t_stream.c).

Layout mirrors Valkey's, because several observable behaviours depend on it:
approximate trimming (``~``) and ``LIMIT`` only remove whole nodes, XADD opens a
new node once the tail one holds ``stream-node-max-entries`` entries or would pass
``stream-node-max-bytes``, XINFO reports the radix tree's keys and nodes, and RDB
files store the nodes as they are. So a :class:`StreamValue` is a list of
:class:`StreamNode` objects ordered by their *master* ID (the rax key), and each
node keeps its entries, tombstones included (XDEL and exact trimming only flag an
entry as deleted; a node goes when its last live entry does), plus the size in
bytes its listpack would have, maintained incrementally.

IDs are single Python ints ``ms << 64 | seq``: they sort, compare and bisect
natively, and ``MAX_ID`` is Valkey's ``UINT64_MAX-UINT64_MAX``.

Consumer groups keep their pending entries lists (PELs) in ``SortedDict`` s keyed
by ID; the group PEL and the owning consumer's PEL share the same :class:`Nack`
object, as in Valkey. Groups and consumers are reported in byte order of their
names (Valkey keeps them in radix trees).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedDict

MASK64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
INVALID_ENTRIES_READ = -1
# Valkey refuses entries whose fields and values add up to more than this.
LISTPACK_MAX_SIZE = 1 << 30


def id_bytes(i: int) -> bytes:
    """The ``<ms>-<seq>`` form of an ID."""
    return b"%d-%d" % (i >> 64, i & MASK64)


def make_id(ms: int, seq: int) -> int:
    return (ms << 64) | seq


# ---- listpack sizes (for the node size rule of XADD) -----------------------------------
def _backlen(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def lp_int_size(v: int) -> int:
    """Bytes a listpack takes for an integer element, back-length included."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def as_int64(s: bytes) -> int | None:
    """lpStringToInt64 (the same rules as string2ll): canonical decimal int64, else None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 45:  # '-'
        body = s[1:]
        if not body or body[0] == 48 or not body.isdigit():
            return None
    elif c == 48:
        return 0 if n == 1 else None
    elif not s.isdigit():
        return None
    v = int(s)
    if v < -(1 << 63) or v > (1 << 63) - 1:
        return None
    return v


def lp_str_size(s: bytes) -> int:
    """Bytes a listpack takes for a string element (integer-looking strings are stored
    as integers, as lpAppend does)."""
    n = len(s)
    if n and n <= 20:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = as_int64(s)
            if v is not None:
                return lp_int_size(v)
    if n < 64:
        return n + 2  # 1-byte header, 1-byte back-length
    enc = 2 + n if n < 4096 else 5 + n
    return enc + _backlen(enc)


def _signed64(v: int) -> int:
    """A uint64 difference as the int64 the listpack stores."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


# ---- the radix tree's node count (XINFO radix-tree-nodes) -----------------------------
def rax_node_count(keys: list[bytes]) -> int:
    """Nodes of a Valkey rax holding these sorted, equal-length keys.

    The rax is a compressed trie: one node for the root, one per child of each branching
    position, and one where each single-child chain (compressed node) ends."""
    n = len(keys)
    if n == 0:
        return 1
    lcps = []
    for a, b in zip(keys, keys[1:], strict=False):
        k = 0
        m = min(len(a), len(b))
        while k < m and a[k] == b[k]:
            k += 1
        lcps.append(k)
    branches = {keys[i][:k] for i, k in enumerate(lcps)}
    total = 1 + len(branches) + (n - 1)
    for b in branches:
        if b and b[:-1] not in branches:
            total += 1
    for i, key in enumerate(keys):
        last = len(key) - 1
        if not ((i > 0 and lcps[i - 1] == last) or (i < n - 1 and lcps[i] == last)):
            total += 1
    return total


# ---- the parts ---------------------------------------------------------------------------
class StreamNode:
    """One radix-tree node: a listpack of entries delta-encoded against ``master``.

    ``vals[j]`` is entry j's flat field/value list; ``dead[j]`` is 1 for a tombstone.
    ``body`` is the listpack size without its header, end byte and the two counters."""

    __slots__ = ("master", "mfields", "ids", "vals", "dead", "live", "ndead", "body")

    def __init__(self, master: int, mfields: tuple[bytes, ...]) -> None:
        self.master = master
        self.mfields = mfields
        self.ids: list[int] = []
        self.vals: list[list[bytes]] = []
        self.dead = bytearray()
        self.live = 0
        self.ndead = 0
        # num-fields, the fields, the zero terminator of the master entry.
        self.body = lp_int_size(len(mfields)) + sum(lp_str_size(f) for f in mfields) + 2

    def lp_bytes(self) -> int:
        """The listpack's total size (lpBytes)."""
        live = self.live
        dead = self.ndead
        return (7 + (2 if live <= 127 else lp_int_size(live))
                + (2 if dead <= 127 else lp_int_size(dead)) + self.body)

    def same_fields(self, flat: list[bytes]) -> bool:
        mf = self.mfields
        n = len(mf)
        if len(flat) != 2 * n:
            return False
        if n == 1:
            return flat[0] == mf[0]
        return tuple(flat[0::2]) == mf

    def entry_size(self, i: int, flat: list[bytes]) -> int:
        """Bytes entry (id i, fields flat) takes in this node's listpack."""
        master = self.master
        nf = len(flat) >> 1
        d = ((i >> 64) - (master >> 64)) & MASK64
        size = 2 + (2 if d <= 127 else lp_int_size(d - (1 << 64) if d >> 63 else d))
        d = ((i & MASK64) - (master & MASK64)) & MASK64
        size += 2 if d <= 127 else lp_int_size(d - (1 << 64) if d >> 63 else d)
        if self.same_fields(flat):
            for j in range(1, len(flat), 2):
                size += lp_str_size(flat[j])
            return size + lp_int_size(nf + 3)
        size += lp_int_size(nf)
        for v in flat:
            size += lp_str_size(v)
        return size + lp_int_size(2 * nf + 4)

    def append(self, i: int, flat: list[bytes], size: int) -> None:
        self.ids.append(i)
        self.vals.append(flat)
        self.dead.append(0)
        self.live += 1
        self.body += size

    def copy(self) -> StreamNode:
        n = StreamNode.__new__(StreamNode)
        n.master = self.master
        n.mfields = self.mfields
        n.ids = self.ids[:]
        n.vals = self.vals[:]
        n.dead = bytearray(self.dead)
        n.live = self.live
        n.ndead = self.ndead
        n.body = self.body
        return n


class Nack:
    """A pending entry: last delivery time (ms), delivery count, current owner."""

    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, consumer: Consumer | None, now: int) -> None:
        self.delivery_time = now
        self.delivery_count = 1
        self.consumer = consumer


class Consumer:
    __slots__ = ("name", "seen_time", "active_time", "pel")

    def __init__(self, name: bytes, now: int) -> None:
        self.name = name
        self.seen_time = now
        self.active_time = -1
        self.pel: SortedDict = SortedDict()


class ConsumerGroup:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id: int, entries_read: int) -> None:
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: SortedDict = SortedDict()
        self.consumers: dict[bytes, Consumer] = {}

    def sorted_consumers(self) -> list[Consumer]:
        cons = self.consumers
        return [cons[k] for k in sorted(cons)]

    def create_consumer(self, name: bytes, now: int) -> Consumer | None:
        """A new consumer, or None if the name is taken (streamCreateConsumer)."""
        if name in self.consumers:
            return None
        c = Consumer(name, now)
        self.consumers[name] = c
        return c

    def lookup_or_create(self, name: bytes, now: int) -> tuple[Consumer, bool]:
        """The named consumer, created if missing; (consumer, created)."""
        c = self.consumers.get(name)
        if c is not None:
            return c, False
        c = self.consumers[name] = Consumer(name, now)
        return c, True

    def delete_consumer(self, consumer: Consumer) -> int:
        """streamDelConsumer: drop it and its pending entries; returns how many it had."""
        pel = self.pel
        n = len(consumer.pel)
        for i in consumer.pel:
            pel.pop(i, None)
        del self.consumers[consumer.name]
        return n

    def ack(self, i: int) -> bool:
        nack = self.pel.pop(i, None)
        if nack is None:
            return False
        if nack.consumer is not None:
            nack.consumer.pel.pop(i, None)
        return True


# ---- the stream ---------------------------------------------------------------------------
class StreamValue:
    """A stream: nodes of entries, counters, consumer groups (``groups`` is None until
    the first group is created, as in Valkey)."""

    TYPE_NAME = "stream"
    __slots__ = (
        "nodes", "masters", "length", "last_id", "first_id", "max_deleted",
        "entries_added", "groups",
    )

    def __init__(self) -> None:
        self.nodes: list[StreamNode] = []
        self.masters: list[int] = []
        self.length = 0
        self.last_id = 0
        self.first_id = 0
        self.max_deleted = 0
        self.entries_added = 0
        self.groups: dict[bytes, ConsumerGroup] | None = None

    # ---- generic value protocol -------------------------------------------------------
    def encoding(self) -> str:
        return "stream"

    def free_effort(self) -> int:
        """lazyfreeGetFreeEffort: rax nodes plus groups and their PELs."""
        n = len(self.nodes)
        if self.groups:
            for g in self.groups.values():
                n += 1 + len(g.pel)
        return n

    def memory_usage(self) -> int:
        """An estimate in the spirit of objectComputeSize: listpacks, rax, groups."""
        size = 96 + 48 * len(self.nodes)
        for node in self.nodes:
            size += node.lp_bytes() + 32
        if self.groups:
            for name, g in self.groups.items():
                size += 112 + len(name) + 40 * len(g.pel)
                for cname, c in g.consumers.items():
                    size += 80 + len(cname) + 24 * len(c.pel)
        return size

    def copy(self) -> StreamValue:
        """An independent duplicate (streamDup, for COPY)."""
        s = StreamValue()
        s.nodes = [n.copy() for n in self.nodes]
        s.masters = self.masters[:]
        s.length = self.length
        s.last_id = self.last_id
        s.first_id = self.first_id
        s.max_deleted = self.max_deleted
        s.entries_added = self.entries_added
        if self.groups is not None:
            s.groups = {}
            for name, g in self.groups.items():
                ng = ConsumerGroup(g.last_id, g.entries_read)
                s.groups[name] = ng
                for i, nack in g.pel.items():
                    nn = Nack(None, nack.delivery_time)
                    nn.delivery_count = nack.delivery_count
                    ng.pel[i] = nn
                for cname, c in g.consumers.items():
                    nc = Consumer(cname, c.seen_time)
                    nc.active_time = c.active_time
                    ng.consumers[cname] = nc
                    for i in c.pel:
                        nn = ng.pel[i]
                        nn.consumer = nc
                        nc.pel[i] = nn
        return s

    # ---- RDB hooks ------------------------------------------------------------------------
    def rdb_items(self) -> Any:
        """The neutral form (kaa.persistence.rdb_stream.StreamData)."""
        from kaa.persistence.rdb_stream import ConsumerData, GroupData, StreamData

        nodes = []
        for node in self.nodes:
            dead = node.dead
            entries = [(i, flat, bool(dead[j])) for j, (i, flat) in enumerate(zip(node.ids, node.vals, strict=True))]
            nodes.append((node.master, list(node.mfields), entries))
        groups = []
        if self.groups:
            for name in sorted(self.groups):
                g = self.groups[name]
                pel = [(i, n.delivery_time, n.delivery_count) for i, n in g.pel.items()]
                cons = [ConsumerData(c.name, c.seen_time, c.active_time, list(c.pel.keys()))
                        for c in g.sorted_consumers()]
                groups.append(GroupData(name, g.last_id, g.entries_read, pel, cons))
        return StreamData(nodes, self.length, self.last_id, self.first_id, self.max_deleted,
                          self.entries_added, groups)

    @classmethod
    def from_rdb(cls, data: Any, config: Any = None) -> StreamValue:
        """Rebuild from the neutral form (validated by the RDB reader)."""
        s = cls()
        for master, mfields, entries in data.nodes:
            node = StreamNode(master, tuple(mfields))
            for i, flat, deleted in entries:
                node.append(i, flat, node.entry_size(i, flat))
                if deleted:
                    node.dead[-1] = 1
                    node.live -= 1
                    node.ndead += 1
            s.nodes.append(node)
            s.masters.append(master)
        s.length = data.length
        s.last_id = data.last_id
        s.first_id = data.first_id
        s.max_deleted = data.max_deleted_id
        s.entries_added = data.entries_added
        if data.groups:
            s.groups = {}
            for gd in data.groups:
                er = gd.entries_read
                if er is None:  # pre-7.0 files: estimate, as rdbLoadObject does
                    er = s.estimate_distance(gd.last_id)
                g = ConsumerGroup(gd.last_id, er)
                s.groups[gd.name] = g
                for i, t, cnt in gd.pel:
                    nack = Nack(None, t)
                    nack.delivery_count = cnt
                    g.pel[i] = nack
                for cd in gd.consumers:
                    c = Consumer(cd.name, cd.seen_time)
                    c.active_time = cd.active_time
                    g.consumers[cd.name] = c
                    for i in cd.pel:
                        nack = g.pel[i]
                        nack.consumer = c
                        c.pel[i] = nack
        return s

    # ---- appending ------------------------------------------------------------------------
    def next_id(self, now_ms: int) -> int:
        """streamNextID: the current ms with seq 0, or the last ID plus one (wrapping)."""
        last = self.last_id
        if now_ms > last >> 64:
            return now_ms << 64
        return 0 if last == MAX_ID else last + 1

    def append(self, i: int, flat: list[bytes], total: int, max_bytes: int,
               max_entries: int) -> None:
        """Add an entry with an ID already checked to be above ``last_id``; ``total`` is
        the summed length of its fields and values (streamAppendItem)."""
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        if node is not None:
            if max_bytes <= 0 or max_bytes > LISTPACK_MAX_SIZE:
                max_bytes = LISTPACK_MAX_SIZE
            if node.lp_bytes() + total >= max_bytes:
                node = None
            elif max_entries and node.live + node.ndead >= max_entries:
                node = None
        if node is None:
            node = StreamNode(i, tuple(flat[0::2]))
            nodes.append(node)
            self.masters.append(i)
        node.append(i, flat, node.entry_size(i, flat))
        self.length += 1
        self.entries_added += 1
        self.last_id = i
        if self.length == 1:
            self.first_id = i

    # ---- lookups and iteration ---------------------------------------------------------------
    def _locate(self, i: int) -> tuple[StreamNode, int] | None:
        """The node and index holding ID i (live or tombstone), or None."""
        k = bisect_right(self.masters, i) - 1
        if k < 0:
            return None
        node = self.nodes[k]
        j = bisect_left(node.ids, i)
        if j < len(node.ids) and node.ids[j] == i:
            return node, j
        return None

    def get(self, i: int) -> list[bytes] | None:
        """The fields of live entry i, or None."""
        loc = self._locate(i)
        if loc is None:
            return None
        node, j = loc
        return None if node.dead[j] else node.vals[j]

    def exists(self, i: int) -> bool:
        return self.get(i) is not None

    def iter_range(self, start: int, end: int, rev: bool = False) -> Iterator[tuple[int, list[bytes]]]:
        """Live entries with start <= ID <= end, in ID order (reversed if rev)."""
        nodes = self.nodes
        if not nodes or start > end:
            return
        if not rev:
            k = bisect_right(self.masters, start) - 1
            if k < 0:
                k = 0
            node = nodes[k]
            j = bisect_left(node.ids, start)
            nn = len(nodes)
            while True:
                ids = node.ids
                dead = node.dead
                vals = node.vals
                n = len(ids)
                while j < n:
                    i = ids[j]
                    if i > end:
                        return
                    if not dead[j]:
                        yield i, vals[j]
                    j += 1
                k += 1
                if k >= nn:
                    return
                node = nodes[k]
                j = 0
        else:
            k = bisect_right(self.masters, end) - 1
            if k < 0:
                return
            node = nodes[k]
            j = bisect_right(node.ids, end) - 1
            while True:
                ids = node.ids
                dead = node.dead
                vals = node.vals
                while j >= 0:
                    i = ids[j]
                    if i < start:
                        return
                    if not dead[j]:
                        yield i, vals[j]
                    j -= 1
                k -= 1
                if k < 0:
                    return
                node = nodes[k]
                j = len(node.ids) - 1

    def edge_id(self, first: bool, skip_tombstones: bool) -> int:
        """streamGetEdgeID: the first or last ID; MAX_ID / 0 when there is none."""
        nodes = self.nodes
        if first:
            for node in nodes:
                if not skip_tombstones:
                    if node.ids:
                        return node.ids[0]
                    continue
                dead = node.dead
                for j, i in enumerate(node.ids):
                    if not dead[j]:
                        return i
            return MAX_ID
        for node in reversed(nodes):
            if not skip_tombstones:
                if node.ids:
                    return node.ids[-1]
                continue
            dead = node.dead
            for j in range(len(node.ids) - 1, -1, -1):
                if not dead[j]:
                    return node.ids[j]
        return 0

    def last_valid_id(self) -> int:
        """streamLastValidID: the ID of the last live entry (0 if none)."""
        return self.edge_id(False, True)

    # ---- deleting ----------------------------------------------------------------------------
    def delete(self, i: int) -> bool:
        """streamDeleteItem: tombstone live entry i (or drop its node if it was the
        node's last live entry). Does not update first_id / max_deleted."""
        k = bisect_right(self.masters, i) - 1
        if k < 0:
            return False
        node = self.nodes[k]
        j = bisect_left(node.ids, i)
        if j >= len(node.ids) or node.ids[j] != i or node.dead[j]:
            return False
        if node.live == 1:
            del self.nodes[k]
            del self.masters[k]
        else:
            node.dead[j] = 1
            node.live -= 1
            node.ndead += 1
        self.length -= 1
        return True

    def trim(self, maxlen: int | None, minid: int, approx: bool, limit: int) -> int:
        """streamTrim by MAXLEN (``maxlen`` not None) or MINID; returns entries removed."""
        nodes = self.nodes
        masters = self.masters
        deleted = 0
        k = 0
        while k < len(nodes):
            if maxlen is not None and self.length <= maxlen:
                break
            node = nodes[k]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                remove = self.length - entries >= maxlen
            else:
                remove = node.ids[-1] < minid
            if remove:
                del nodes[k]
                del masters[k]
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            ids = node.ids
            dead = node.dead
            removed = 0
            for j in range(len(ids)):
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                elif ids[j] >= minid:
                    break
                if not dead[j]:
                    dead[j] = 1
                    removed += 1
                    self.length -= 1
            node.live -= removed
            node.ndead += removed
            deleted += removed
            break
        if self.length == 0:
            self.first_id = 0
        elif deleted:
            self.first_id = self.edge_id(True, True)
        return deleted

    # ---- consumer-group arithmetic --------------------------------------------------------------
    def range_has_tombstones(self, start: int) -> bool:
        """streamRangeHasTombstones(start, +inf)."""
        md = self.max_deleted
        if not self.length or md == 0:
            return False
        if self.first_id > md:
            return False
        return start <= md

    def estimate_distance(self, i: int) -> int:
        """streamEstimateDistanceFromFirstEverEntry: i's logical read counter, or -1."""
        added = self.entries_added
        if not added:
            return 0
        last = self.last_id
        if not self.length and i <= last:
            return added
        if i == last:
            return added
        if i > last:
            return INVALID_ENTRIES_READ
        md = self.max_deleted
        first = self.first_id
        if md == 0 or md < first:
            if i < first:
                return added - self.length
            if i == first:
                return added - self.length + 1
        return INVALID_ENTRIES_READ

    def lag(self, g: ConsumerGroup) -> int | None:
        """streamReplyWithCGLag: entries not yet delivered to the group, None if unknown."""
        if not self.entries_added:
            return 0
        if g.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(g.last_id):
            return self.entries_added - g.entries_read
        er = self.estimate_distance(g.last_id)
        if er != INVALID_ENTRIES_READ:
            return self.entries_added - er
        return None

    def group_advance(self, g: ConsumerGroup, i: int) -> bool:
        """Account delivering entry i to group g; True if its last ID moved."""
        if i <= g.last_id:
            return False
        if g.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(i):
            g.entries_read += 1
        elif self.entries_added:
            g.entries_read = self.estimate_distance(i)
        g.last_id = i
        return True

    def rax_keys(self) -> int:
        return len(self.nodes)

    def rax_nodes(self) -> int:
        return rax_node_count([m.to_bytes(16, "big") for m in self.masters])

    def __repr__(self) -> str:
        return f"<StreamValue length={self.length} last={id_bytes(self.last_id)!r}>"


__all__ = [
    "MASK64", "MAX_ID", "INVALID_ENTRIES_READ", "StreamValue", "StreamNode", "ConsumerGroup",
    "Consumer", "Nack", "as_int64", "id_bytes", "make_id", "lp_int_size", "lp_str_size", "rax_node_count",
]
