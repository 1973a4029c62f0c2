"""Streams in RDB files and DUMP payloads (rdb.c, t_stream.c's listpack layout).

RDB types 15 (STREAM_LISTPACKS, Redis 5-6), 19 (STREAM_LISTPACKS_2, Redis 7.0: first
ID, max deleted ID, entries-added, group entries-read) and 21 (STREAM_LISTPACKS_3,
Valkey 7.2+: consumer active-time) are read; type 21 is written.

A stream is stored as its radix tree: one (master ID, listpack) pair per node. Each
listpack starts with a *master entry* (live count, deleted count, the master fields,
a 0 terminator) followed by the entries::

    flags ms-delta seq-delta [num-fields] [field] value [field] value ... lp-count

where the deltas are relative to the master ID (stored as int64, wrapping), the
fields are omitted when flags has SAMEFIELDS (they equal the master's), and flags
has DELETED for tombstones. Then come the stream's counters and its consumer groups
with their pending entries lists and consumers.

The neutral form exchanged with kaa.types.stream is :class:`StreamData`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from kaa.persistence.rdb_format import (
    T_STREAM_LISTPACKS_2,
    T_STREAM_LISTPACKS_3,
    RdbError,
    Reader,
    enc_len,
    enc_string,
    listpack_build,
    listpack_entries,
)
from kaa.types.stream import as_int64

MASK64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2

# (master ID, master fields, entries as (ID, flat fields and values, deleted)).
NodeData = tuple[int, list[bytes], list[tuple[int, list[bytes], bool]]]


@dataclass
class ConsumerData:
    name: bytes
    seen_time: int
    active_time: int
    pel: list[int]  # IDs, each also in the group's PEL


@dataclass
class GroupData:
    name: bytes
    last_id: int
    entries_read: int | None  # None: not stored (type 15), to be estimated by the loader
    pel: list[tuple[int, int, int]]  # (ID, delivery time ms, delivery count)
    consumers: list[ConsumerData]


@dataclass
class StreamData:
    nodes: list[NodeData]
    length: int
    last_id: int
    first_id: int
    max_deleted_id: int
    entries_added: int
    groups: list[GroupData] = field(default_factory=list)


_BAD_LP = "Stream listpack integrity check failed."


def _int(v: bytes) -> int:
    """lpGetIntegerIfValid: an element that must be an integer."""
    n = as_int64(v)
    if n is None:
        raise RdbError(_BAD_LP)
    return n


def parse_node(master: int, blob: bytes) -> NodeData:
    """Decode one node's listpack, validating it as streamValidateListpackIntegrity
    does in deep mode."""
    ents = listpack_entries(blob, _BAD_LP)
    if not ents:
        raise RdbError("Empty listpack inside stream")
    try:
        count = _int(ents[0])
        deleted = _int(ents[1])
        nmf = _int(ents[2])
        if nmf < 0:
            raise RdbError(_BAD_LP)
        p = 3 + nmf
        mfields = ents[3:p]
        if len(mfields) != nmf or _int(ents[p]) != 0:
            raise RdbError(_BAD_LP)
        p += 1
        mms, mseq = master >> 64, master & MASK64
        entries: list[tuple[int, list[bytes], bool]] = []
        live = 0
        for _ in range(count + deleted):
            flags = _int(ents[p])
            ms = (mms + _int(ents[p + 1])) & MASK64
            seq = (mseq + _int(ents[p + 2])) & MASK64
            p += 3
            if flags & FLAG_SAMEFIELDS:
                nf = nmf
                vals = ents[p : p + nf]
                if len(vals) != nf:
                    raise RdbError(_BAD_LP)
                p += nf
                flat: list[bytes] = [b""] * (2 * nf)
                flat[0::2] = mfields
                flat[1::2] = vals
                extra = 3
            else:
                nf = _int(ents[p])
                if nf < 0:
                    raise RdbError(_BAD_LP)
                p += 1
                flat = ents[p : p + 2 * nf]  # field, value, field, value ...
                if len(flat) != 2 * nf:
                    raise RdbError(_BAD_LP)
                p += 2 * nf
                extra = 4 + nf
            if _int(ents[p]) != nf + extra:
                raise RdbError(_BAD_LP)
            p += 1
            dead = bool(flags & FLAG_DELETED)
            if not dead:
                live += 1
            entries.append(((ms << 64) | seq, flat, dead))
    except IndexError as e:
        raise RdbError(_BAD_LP) from e
    if p != len(ents) or live != count:
        raise RdbError(_BAD_LP)
    return master, list(mfields), entries


def _rawid(r: Reader) -> int:
    return int.from_bytes(r.read(16), "big")


def read_stream(r: Reader, rdb_type: int) -> StreamData:
    """Read a stream of RDB type 15, 19 or 21 (the type byte already consumed)."""
    nodes: list[NodeData] = []
    seen: set[int] = set()
    for _ in range(r.len()):
        key = r.string()
        if len(key) != 16:
            raise RdbError("Stream node key entry is not the size of a stream ID")
        blob = r.string()
        master = int.from_bytes(key, "big")
        if master in seen:
            raise RdbError("Listpack re-added with existing key")
        seen.add(master)
        nodes.append(parse_node(master, blob))
    nodes.sort(key=lambda n: n[0])
    length = r.len()
    last_id = (r.len() << 64) | r.len()
    if rdb_type >= T_STREAM_LISTPACKS_2:
        first_id = (r.len() << 64) | r.len()
        max_deleted = (r.len() << 64) | r.len()
        entries_added = r.len()
    else:
        max_deleted = 0
        entries_added = length
        first_id = MAX_ID  # streamGetEdgeID's answer for a stream without live entries
        for _m, _f, ents in nodes:
            live = next((i for i, _v, dead in ents if not dead), None)
            if live is not None:
                first_id = live
                break
    if length and not nodes:
        raise RdbError("Stream length inconsistent with rax entries")
    groups: list[GroupData] = []
    names: set[bytes] = set()
    for _ in range(r.len()):
        name = r.string()
        if name in names:
            raise RdbError(f"Duplicated consumer group name {name.decode('utf-8', 'replace')}")
        names.add(name)
        glast = (r.len() << 64) | r.len()
        entries_read: int | None = None
        if rdb_type >= T_STREAM_LISTPACKS_2:
            er = r.len()
            entries_read = er - (1 << 64) if er >> 63 else er
        pel: list[tuple[int, int, int]] = []
        owner: dict[int, bool] = {}
        for _ in range(r.len()):
            i = _rawid(r)
            if i in owner:
                raise RdbError("Duplicated global PEL entry loading stream consumer group")
            owner[i] = False
            t = r.millis()
            pel.append((i, t, r.len()))
        consumers: list[ConsumerData] = []
        cnames: set[bytes] = set()
        for _ in range(r.len()):
            cname = r.string()
            if cname in cnames:
                raise RdbError("Duplicate stream consumer detected.")
            cnames.add(cname)
            seen_time = r.millis()
            active_time = r.millis() if rdb_type >= T_STREAM_LISTPACKS_3 else seen_time
            cpel: list[int] = []
            for _ in range(r.len()):
                i = _rawid(r)
                if i not in owner:
                    raise RdbError("Consumer entry not found in group global PEL")
                if owner[i]:
                    raise RdbError("Duplicated consumer PEL entry  loading a stream consumer group")
                owner[i] = True
                cpel.append(i)
            consumers.append(ConsumerData(cname, seen_time, active_time, cpel))
        if not all(owner.values()):
            # Valkey leaves such entries ownerless (and only rejects them when sanitizing);
            # they would break XPENDING and XINFO, so the payload is refused here.
            raise RdbError("Stream CG PEL entry without consumer")
        groups.append(GroupData(name, glast, entries_read, pel, consumers))
    return StreamData(nodes, length, last_id, first_id, max_deleted, entries_added, groups)


# ---------------------------------------------------------------- writing


def _delta(a: int, b: int) -> bytes:
    """a - b as the int64 that lpAppendInteger stores for a uint64 difference."""
    d = (a - b) & MASK64
    return b"%d" % (d - (1 << 64) if d >> 63 else d)


def build_node(node: NodeData) -> bytes:
    """One node's listpack, byte for byte as streamAppendItem and friends leave it."""
    master, mfields, entries = node
    mms, mseq = master >> 64, master & MASK64
    nmf = len(mfields)
    live = sum(1 for e in entries if not e[2])
    items: list[bytes] = [b"%d" % live, b"%d" % (len(entries) - live), b"%d" % nmf, *mfields, b"0"]
    for i, flat, dead in entries:
        nf = len(flat) >> 1
        same = nf == nmf and flat[0::2] == mfields
        flags = (FLAG_SAMEFIELDS if same else 0) | (FLAG_DELETED if dead else 0)
        items.append(b"%d" % flags)
        items.append(_delta(i >> 64, mms))
        items.append(_delta(i & MASK64, mseq))
        if same:
            items.extend(flat[1::2])
            items.append(b"%d" % (nf + 3))
        else:
            items.append(b"%d" % nf)
            items.extend(flat)
            items.append(b"%d" % (2 * nf + 4))
    return listpack_build(items)


def _ms(v: int) -> bytes:
    return struct.pack("<q", v)


def write_stream(data: StreamData, compress: bool = True) -> bytes:
    """The payload of a STREAM_LISTPACKS_3 value, as rdbSaveObject writes it."""
    out: list[bytes] = [enc_len(len(data.nodes))]
    for node in data.nodes:
        out.append(enc_string(node[0].to_bytes(16, "big"), compress))
        out.append(enc_string(build_node(node), compress))
    for v in (data.length, data.last_id >> 64, data.last_id & MASK64,
              data.first_id >> 64, data.first_id & MASK64,
              data.max_deleted_id >> 64, data.max_deleted_id & MASK64, data.entries_added):
        out.append(enc_len(v))
    out.append(enc_len(len(data.groups)))
    for g in data.groups:
        out.append(enc_string(g.name, compress))
        out.append(enc_len(g.last_id >> 64))
        out.append(enc_len(g.last_id & MASK64))
        er = -1 if g.entries_read is None else g.entries_read
        out.append(enc_len(er & MASK64))
        out.append(enc_len(len(g.pel)))
        for i, t, cnt in g.pel:
            out.append(i.to_bytes(16, "big"))
            out.append(_ms(t))
            out.append(enc_len(cnt))
        out.append(enc_len(len(g.consumers)))
        for c in g.consumers:
            out.append(enc_string(c.name, compress))
            out.append(_ms(c.seen_time))
            out.append(_ms(c.active_time))
            out.append(enc_len(len(c.pel)))
            out.extend(i.to_bytes(16, "big") for i in c.pel)
    return b"".join(out)


__all__ = [
    "StreamData", "GroupData", "ConsumerData", "NodeData", "read_stream", "write_stream",
    "parse_node", "build_node",
]
