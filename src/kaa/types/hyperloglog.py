"""HyperLogLog in Valkey's exact string representation (hyperloglog.c).

An HLL is an ordinary string value: a 16-byte header (``HYLL``, the encoding byte,
three unused bytes, the cached cardinality as 8 bytes little endian whose top bit
marks the cache invalid) followed by either

* the dense encoding: 16384 registers of 6 bits packed least significant bit first
  (12288 bytes), or
* the sparse encoding: a run-length code of ZERO (``00xxxxxx``, 1..64 zero
  registers), XZERO (``01xxxxxx yyyyyyyy``, 1..16384 zero registers) and VAL
  (``1vvvvvxx``, 1..4 registers of value 1..32) opcodes.

Strings written by Valkey and by Kaa are interchangeable byte for byte: the hash
(MurmurHash64A, seed 0xadc83b19), the register/run-length extraction, the in-place
sparse editing (including its limited merging of neighbouring VAL opcodes, whose
result depends on the order of insertions), the promotion to dense at
``hll-sparse-max-bytes`` and the estimator (Ertl's, as hllCount) are reproduced.

Speed in pure Python comes from working on whole buffers: dense registers are
unpacked with ``bytes.translate`` and big-integer logic, register-wise maxima use a
SWAR trick on big integers, and a well-formed sparse value is edited through a
decoded opcode list (cached across commands) instead of a byte-by-byte scan.
Malformed sparse values take a literal port of Valkey's byte-level code, so corrupt
input behaves exactly as in Valkey (an INVALIDOBJ error, never a crash).
"""

from __future__ import annotations

import math
import random
import struct
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate

from kaa.accel import optional

HLL_P = 14
HLL_Q = 64 - HLL_P
HLL_REGISTERS = 1 << HLL_P
HLL_P_MASK = HLL_REGISTERS - 1
HLL_BITS = 6
HLL_REGISTER_MAX = (1 << HLL_BITS) - 1
HLL_HDR_SIZE = 16
HLL_DENSE_BODY = (HLL_REGISTERS * HLL_BITS + 7) // 8
HLL_DENSE_SIZE = HLL_HDR_SIZE + HLL_DENSE_BODY
HLL_DENSE = 0
HLL_SPARSE = 1
HLL_MAX_ENCODING = 1
SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384
_ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)

# Results of the low-level add/set operations.
UPDATED = 1
UNCHANGED = 0
INVALID = -1
_PROMOTE = 2

_MAGIC = b"HYLL"
_U64 = (1 << 64) - 1
_MURMUR_M = 0xC6A4A7935BD1E995
_SEED = 0xADC83B19


# --------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------

_BLOCK_FMT: dict[int, struct.Struct] = {}


def murmurhash64a(data: bytes | bytearray, seed: int = _SEED) -> int:
    """MurmurHash2, 64-bit version, endian neutral (little-endian words)."""
    n = len(data)
    m = _MURMUR_M
    h = (seed ^ (n * m)) & _U64
    nblocks = n >> 3
    if nblocks:
        st = _BLOCK_FMT.get(nblocks)
        if st is None:
            st = struct.Struct("<%dQ" % nblocks)
            if len(_BLOCK_FMT) < 256:
                _BLOCK_FMT[nblocks] = st
        for k in st.unpack_from(data):
            k = (k * m) & _U64
            k ^= k >> 47
            h ^= (k * m) & _U64
            h = (h * m) & _U64
    if n & 7:
        h ^= int.from_bytes(data[nblocks << 3 :], "little")
        h = (h * m) & _U64
    h ^= h >> 47
    h = (h * m) & _U64
    return h ^ (h >> 47)


def pat_len(ele: bytes | bytearray) -> tuple[int, int]:
    """hllPatLen: (register index, length of the 000..1 pattern) of an element."""
    h = murmurhash64a(ele)
    x = (h >> HLL_P) | (1 << HLL_Q)
    return h & HLL_P_MASK, (x & -x).bit_length()


def _pat_len_pq(ele: bytes | bytearray, p: int, q: int) -> tuple[int, int]:
    return pat_len(ele)  # p, q are HLL_P, HLL_Q


# hllPatLen for PFADD: the compiled one (kaa/types/_hllhash.pyx, 1.9 -> 0.1 us an
# element) when it was built, else pat_len. Called as pat_len_pq(ele, HLL_P, HLL_Q).
_compiled = optional("kaa.types._hllhash")
pat_len_pq: Callable[[bytes | bytearray, int, int], tuple[int, int]] = (
    _pat_len_pq if _compiled is None else _compiled.pat_len)


# --------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------


def is_valid(v: bytes | bytearray) -> bool:
    """isHLLObjectOrReply's structural checks on a string value."""
    n = len(v)
    if n < HLL_HDR_SIZE or not v.startswith(_MAGIC):
        return False
    enc = v[4]
    if enc > HLL_MAX_ENCODING:
        return False
    return not (enc == HLL_DENSE and n != HLL_DENSE_SIZE)


def create() -> bytearray:
    """createHLLObject: an empty sparse HLL (one XZERO opcode covering all registers)."""
    ba = bytearray(HLL_HDR_SIZE)
    ba[:4] = _MAGIC
    ba[4] = HLL_SPARSE
    ba += _xzero(HLL_REGISTERS)
    return ba


def cache_valid(v: bytes | bytearray) -> bool:
    return not v[15] & 0x80


def cached_card(v: bytes | bytearray) -> int:
    return int.from_bytes(v[8:16], "little")


def set_cached_card(ba: bytearray, card: int) -> None:
    ba[8:16] = (card & _U64).to_bytes(8, "little")


def invalidate_cache(ba: bytearray) -> None:
    ba[15] |= 0x80


# --------------------------------------------------------------------------
# Dense registers
# --------------------------------------------------------------------------


def dense_get(buf: bytes | bytearray, index: int) -> int:
    """HLL_DENSE_GET_REGISTER on a whole HLL string."""
    pos = index * HLL_BITS
    byte = HLL_HDR_SIZE + (pos >> 3)
    fb = pos & 7
    v = buf[byte] >> fb
    if fb > 2:
        v |= buf[byte + 1] << (8 - fb)
    return v & HLL_REGISTER_MAX


def dense_set(ba: bytearray, index: int, val: int) -> None:
    """HLL_DENSE_SET_REGISTER on a whole HLL string."""
    pos = index * HLL_BITS
    byte = HLL_HDR_SIZE + (pos >> 3)
    fb = pos & 7
    ba[byte] = (ba[byte] & ~(HLL_REGISTER_MAX << fb) & 0xFF) | ((val << fb) & 0xFF)
    if fb > 2:
        fb8 = 8 - fb
        ba[byte + 1] = (ba[byte + 1] & ~(HLL_REGISTER_MAX >> fb8) & 0xFF) | (val >> fb8)


def _table(fn: Callable[[int], int]) -> bytes:
    """A bytes.translate table applying fn to every byte value."""
    return bytes(fn(i) & 0xFF for i in range(256))


_T_LOW6 = _table(lambda b: b & 63)
_T_SHR6 = _table(lambda b: b >> 6)
_T_LOW4_SHL2 = _table(lambda b: (b & 15) << 2)
_T_SHR4 = _table(lambda b: b >> 4)
_T_LOW2_SHL4 = _table(lambda b: (b & 3) << 4)
_T_SHR2 = _table(lambda b: b >> 2)
_T_LOW2_SHL6 = _table(lambda b: (b & 3) << 6)
_T_LOW4_SHL4 = _table(lambda b: (b & 15) << 4)
_T_SHL2 = _table(lambda b: b << 2)

_Q = HLL_REGISTERS // 4  # registers per lane of 4 (= 3-byte groups)


def _or_bytes(a: bytes, b: bytes) -> bytes:
    """Byte-wise OR of two equal-length strings whose set bits never collide per byte."""
    return (int.from_bytes(a, "big") | int.from_bytes(b, "big")).to_bytes(len(a), "big")


def dense_to_raw(buf: bytes | bytearray) -> bytes:
    """The 16384 register values of a dense HLL string, one byte each."""
    regs = bytes(buf[HLL_HDR_SIZE:HLL_DENSE_SIZE])
    b0 = regs[0::3]
    b1 = regs[1::3]
    b2 = regs[2::3]
    raw = bytearray(HLL_REGISTERS)
    raw[0::4] = b0.translate(_T_LOW6)
    raw[1::4] = _or_bytes(b0.translate(_T_SHR6), b1.translate(_T_LOW4_SHL2))
    raw[2::4] = _or_bytes(b1.translate(_T_SHR4), b2.translate(_T_LOW2_SHL4))
    raw[3::4] = b2.translate(_T_SHR2)
    return bytes(raw)


def raw_to_dense_body(raw: bytes) -> bytes:
    """Pack 16384 register values (each <= 63) into the 12288-byte dense body."""
    r0 = raw[0::4]
    r1 = raw[1::4]
    r2 = raw[2::4]
    r3 = raw[3::4]
    body = bytearray(HLL_DENSE_BODY)
    body[0::3] = _or_bytes(r0, r1.translate(_T_LOW2_SHL6))
    body[1::3] = _or_bytes(r1.translate(_T_SHR2), r2.translate(_T_LOW4_SHL4))
    body[2::3] = _or_bytes(r2.translate(_T_SHR4), r3.translate(_T_SHL2))
    return bytes(body)


# Lane constants for the SWAR maximum over 16384 byte lanes.
_H = int.from_bytes(b"\x80" * HLL_REGISTERS, "big")


def raw_max(a: int, b: int) -> int:
    """Lane-wise maximum of two registers arrays held as big integers (one byte per
    register, values < 128): (a | 0x80) - b keeps bit 7 of a lane iff a >= b."""
    ge = ((a | _H) - b) & _H
    mask = (ge >> 7) * 255
    return (a & mask) | (b & ~mask)


# --------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------


def histogram_raw(raw: bytes) -> list[int]:
    """Register-value histogram of 16384 one-byte registers."""
    hist = [0] * 64
    total = 0
    for v in range(64):
        c = raw.count(v)
        if c:
            hist[v] = c
            total += c
            if total >= HLL_REGISTERS:
                break
    return hist


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        zp = z
        z += x * y
        y += y
        if zp == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1.0 - x
    while True:
        x = math.sqrt(x)
        zp = z
        y *= 0.5
        t = 1.0 - x
        z -= t * t * y
        if zp == z:
            return z / 3


def estimate(hist: list[int]) -> int:
    """hllCount's estimator (Ertl, arXiv:1702.01284) from a register histogram."""
    m = float(HLL_REGISTERS)
    z = m * _tau((m - hist[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = _ALPHA_INF * m * m / z
    # llroundl: halfway cases away from zero.
    f = math.floor(e)
    return int(f + 1 if e - f >= 0.5 else f)


# --------------------------------------------------------------------------
# Sparse opcodes
# --------------------------------------------------------------------------

_VAL = [[b""] * 5 for _ in range(SPARSE_VAL_MAX_VALUE + 1)]
for _v in range(1, SPARSE_VAL_MAX_VALUE + 1):
    for _n in range(1, SPARSE_VAL_MAX_LEN + 1):
        _VAL[_v][_n] = bytes([0x80 | ((_v - 1) << 2) | (_n - 1)])
_ZERO = [b""] + [bytes([n - 1]) for n in range(1, SPARSE_ZERO_MAX_LEN + 1)]


def _xzero(n: int) -> bytes:
    return bytes([0x40 | ((n - 1) >> 8), (n - 1) & 0xFF])


def _zero_run(n: int) -> bytes:
    """A run of n zero registers as the sparse code writes it (ZERO up to 64)."""
    return _ZERO[n] if n <= SPARSE_ZERO_MAX_LEN else _xzero(n)


def decode_sparse(v: bytes | bytearray) -> tuple[list[bytes], list[int], bool]:
    """The opcodes of a sparse body as (chunks, spans, complete). A trailing XZERO
    missing its second byte reads that byte as 0 (the string's terminator in C) and
    makes ``complete`` False."""
    chunks: list[bytes] = []
    spans: list[int] = []
    add_c = chunks.append
    add_s = spans.append
    body = bytes(v[HLL_HDR_SIZE:])
    n = len(body)
    p = 0
    complete = True
    while p < n:
        b = body[p]
        if b < 0x40:
            add_c(_ZERO[b + 1])
            add_s(b + 1)
            p += 1
        elif b >= 0x80:
            add_c(_VAL[((b >> 2) & 31) + 1][(b & 3) + 1])
            add_s((b & 3) + 1)
            p += 1
        else:
            if p + 1 < n:
                lo = body[p + 1]
                add_c(body[p : p + 2])
            else:
                lo = 0
                complete = False
                add_c(body[p : p + 1])
            add_s((((b & 0x3F) << 8) | lo) + 1)
            p += 2
    return chunks, spans, complete


def sparse_histogram(chunks: list[bytes], spans: list[int]) -> tuple[list[int], bool]:
    """hllSparseRegHisto: (histogram, valid) where valid means the runs cover exactly
    16384 registers."""
    hist = [0] * 64
    idx = 0
    for ch, span in zip(chunks, spans, strict=True):
        b = ch[0]
        idx += span
        if b >= 0x80:
            hist[((b >> 2) & 31) + 1] += span
        else:
            hist[0] += span
    return hist, idx == HLL_REGISTERS


def sparse_to_raw(chunks: list[bytes], spans: list[int]) -> bytes | None:
    """Register values of a sparse HLL (hllMerge / hllSparseToDense), or None when
    the runs before the first VAL that would overflow do not cover exactly 16384
    registers."""
    raw = bytearray(HLL_REGISTERS)
    idx = 0
    for ch, span in zip(chunks, spans, strict=True):
        b = ch[0]
        if b >= 0x80:
            if idx + span > HLL_REGISTERS:
                # Valkey stops here, and accepts the value if the runs so far
                # covered exactly every register.
                break
            raw[idx : idx + span] = bytes([((b >> 2) & 31) + 1]) * span
        idx += span
    if idx != HLL_REGISTERS:
        return None
    return bytes(raw)


def sparse_decode_text(v: bytes | bytearray) -> bytes:
    """PFDEBUG DECODE: ``z:<len>``, ``Z:<len>`` and ``v:<value>,<len>`` items."""
    chunks, spans, _ = decode_sparse(v)
    out = []
    for ch, span in zip(chunks, spans, strict=True):
        b = ch[0]
        if b < 0x40:
            out.append(b"z:%d" % span)
        elif b < 0x80:
            out.append(b"Z:%d" % span)
        else:
            out.append(b"v:%d,%d" % (((b >> 2) & 31) + 1, span))
    return b" ".join(out)


class _Sparse:
    """A decoded, well-formed sparse body: one entry per opcode (its bytes, the number
    of registers it covers, the exclusive end index of its run)."""

    __slots__ = ("chunks", "spans", "ends", "nbytes")

    def __init__(self, chunks: list[bytes], spans: list[int]) -> None:
        self.chunks = chunks
        self.spans = spans
        self.ends = list(accumulate(spans))
        self.nbytes = HLL_HDR_SIZE + sum(map(len, chunks))

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """hllSparseSet on the opcode list: UPDATED, UNCHANGED or _PROMOTE."""
        if count > SPARSE_VAL_MAX_VALUE:
            return _PROMOTE
        chunks = self.chunks
        spans = self.spans
        ends = self.ends
        i = bisect_right(ends, index)
        b = chunks[i][0]
        span = spans[i]
        first = ends[i] - span
        if b >= 0x80:
            old = ((b >> 2) & 31) + 1
            if old >= count:
                return UNCHANGED
            if span == 1:
                chunks[i] = _VAL[count][1]
                self._merge(i)
                return UPDATED
        elif b < 0x40 and span == 1:
            chunks[i] = _VAL[count][1]
            self._merge(i)
            return UPDATED
        last = first + span - 1
        new_c: list[bytes] = []
        new_s: list[int] = []
        if b < 0x80:
            if index != first:
                n = index - first
                new_c.append(_zero_run(n))
                new_s.append(n)
            new_c.append(_VAL[count][1])
            new_s.append(1)
            if index != last:
                n = last - index
                new_c.append(_zero_run(n))
                new_s.append(n)
        else:
            row = _VAL[((b >> 2) & 31) + 1]
            if index != first:
                n = index - first
                new_c.append(row[n])
                new_s.append(n)
            new_c.append(_VAL[count][1])
            new_s.append(1)
            if index != last:
                n = last - index
                new_c.append(row[n])
                new_s.append(n)
        delta = sum(map(len, new_c)) - len(chunks[i])
        if delta > 0 and self.nbytes + delta > max_bytes:
            return _PROMOTE
        chunks[i : i + 1] = new_c
        spans[i : i + 1] = new_s
        ends[i : i + 1] = _cum(first, new_s)
        self.nbytes += delta
        self._merge(i)
        return UPDATED

    def _merge(self, i: int) -> None:
        """Step 4 of hllSparseSet: merge equal adjacent VAL opcodes, scanning at most
        five opcodes from the one before the change."""
        chunks = self.chunks
        spans = self.spans
        j = i - 1 if i > 0 else 0
        n = len(chunks)
        scan = 5
        while j < n and scan:
            scan -= 1
            b = chunks[j][0]
            if b < 0x80:
                j += 1
                continue
            if j + 1 < n:
                b2 = chunks[j + 1][0]
                if b2 >= 0x80 and (b ^ b2) & 0x7C == 0:
                    ln = (b & 3) + (b2 & 3) + 2
                    if ln <= SPARSE_VAL_MAX_LEN:
                        chunks[j + 1] = _VAL[((b >> 2) & 31) + 1][ln]
                        spans[j + 1] = ln
                        del chunks[j]
                        del spans[j]
                        del self.ends[j]
                        self.nbytes -= 1
                        n -= 1
                        continue
            j += 1


def _cum(first: int, spans: list[int]) -> list[int]:
    out = []
    acc = first
    for s in spans:
        acc += s
        out.append(acc)
    return out


# Decoded sparse bodies by value identity, checked against a snapshot of the bytes
# (so a value changed elsewhere, or a recycled id, is simply decoded again).
_CACHE: dict[int, tuple[bytes, _Sparse]] = {}
_CACHE_MAX = 32


def _sparse_state(ba: bytearray) -> _Sparse | None:
    """The decoded form of a well-formed sparse value, or None if it is malformed.
    The cache entry is taken out: the caller edits the state, and puts it back with a
    fresh snapshot once the value holds the same opcodes (``Adder.finish``)."""
    hit = _CACHE.pop(id(ba), None)
    if hit is not None and hit[0] == ba:
        return hit[1]
    chunks, spans, complete = decode_sparse(ba)
    if not complete or sum(spans) != HLL_REGISTERS:
        return None
    return _Sparse(chunks, spans)


def _remember(ba: bytearray, st: _Sparse) -> None:
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[id(ba)] = (bytes(ba), st)


def _sparse_set_bytes(ba: bytearray, index: int, count: int, max_bytes: int) -> int:
    """hllSparseSet ported byte for byte, for malformed sparse values (short runs,
    a truncated last opcode): reads past the end see the C string's 0 terminator."""
    if count > SPARSE_VAL_MAX_VALUE:
        return _PROMOTE
    end = len(ba)

    def at(k: int) -> int:
        return ba[k] if k < len(ba) else 0

    p = HLL_HDR_SIZE
    first = 0
    prev = -1
    span = 0
    while p < end:
        b = ba[p]
        oplen = 1
        if b & 0xC0 == 0:
            span = (b & 0x3F) + 1
        elif b & 0x80:
            span = (b & 3) + 1
        else:
            span = (((b & 0x3F) << 8) | at(p + 1)) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
    if span == 0 or p >= end:
        return INVALID
    b = ba[p]
    is_xzero = b & 0xC0 == 0x40
    after = p + (2 if is_xzero else 1)
    nxt = after if after < end else None
    updated = False
    if b & 0x80:
        runlen = (b & 3) + 1
        old = ((b >> 2) & 31) + 1
        if old >= count:
            return UNCHANGED
        if runlen == 1:
            ba[p] = _VAL[count][1][0]
            updated = True
    elif not is_xzero and b & 0x3F == 0:  # a ZERO opcode of length 1
        ba[p] = _VAL[count][1][0]
        updated = True
    if not updated:
        last = first + span - 1
        seq = bytearray()
        if not b & 0x80:
            if index != first:
                seq += _zero_run(index - first)
            seq += _VAL[count][1]
            if index != last:
                seq += _zero_run(last - index)
        else:
            row = _VAL[((b >> 2) & 31) + 1]
            if index != first:
                seq += row[index - first]
            seq += _VAL[count][1]
            if index != last:
                seq += row[last - index]
        oldlen = 2 if is_xzero else 1
        delta = len(seq) - oldlen
        if delta > 0 and end + delta > max_bytes:
            return _PROMOTE
        tail = bytes(ba[nxt:end]) if nxt is not None else b""
        newlen = end + delta
        rebuilt = bytes(ba[:p]) + bytes(seq) + tail
        ba[:] = rebuilt[:newlen]
        end = newlen
    # Merge adjacent VAL opcodes, as in the fast path.
    p = prev if prev >= 0 else HLL_HDR_SIZE
    scan = 5
    while p < end and scan:
        scan -= 1
        b = ba[p]
        if b & 0xC0 == 0x40:
            p += 2
            continue
        if b & 0xC0 == 0:
            p += 1
            continue
        if p + 1 < end and ba[p + 1] & 0x80:
            b2 = ba[p + 1]
            if (b ^ b2) & 0x7C == 0:
                ln = (b & 3) + (b2 & 3) + 2
                if ln <= SPARSE_VAL_MAX_LEN:
                    ba[p + 1] = _VAL[((b >> 2) & 31) + 1][ln][0]
                    del ba[p]
                    end -= 1
                    continue
        p += 1
    invalidate_cache(ba)
    return UPDATED


# --------------------------------------------------------------------------
# Operations on a stored value (a bytearray edited in place)
# --------------------------------------------------------------------------


def to_dense(ba: bytearray) -> bool:
    """hllSparseToDense in place (header, including the cached cardinality, kept).
    False if the sparse value is corrupt (then ``ba`` is unchanged)."""
    if ba[4] == HLL_DENSE:
        return True
    chunks, spans, _ = decode_sparse(ba)
    raw = sparse_to_raw(chunks, spans)
    if raw is None:
        return False
    hdr = bytes(ba[:HLL_HDR_SIZE])
    ba[:] = hdr
    ba[4] = HLL_DENSE
    ba += raw_to_dense_body(raw)
    return True


class Adder:
    """Adds elements (PFADD) or registers (PFMERGE) to one HLL value, keeping the
    decoded sparse form between calls and writing it back once in ``finish``."""

    __slots__ = ("ba", "max_bytes", "sparse", "slow", "snap")

    def __init__(self, ba: bytearray, max_bytes: int) -> None:
        self.ba = ba
        self.max_bytes = max_bytes
        self.sparse: _Sparse | None = None
        self.slow = False
        # The cache's snapshot of ``ba`` while the decoded state still matches it
        # (taken from the cache and not edited since): finish() can then put the
        # entry back as it was, without comparing or copying the value again.
        self.snap: bytes | None = None
        if ba[4] == HLL_SPARSE:
            hit = _CACHE.pop(id(ba), None)
            if hit is not None and hit[0] == ba:
                self.snap, self.sparse = hit
            else:
                self.sparse = _sparse_state(ba)
                self.slow = self.sparse is None

    def add(self, ele: bytes | bytearray) -> int:
        """hllAdd: UPDATED, UNCHANGED or INVALID."""
        index, count = pat_len_pq(ele, HLL_P, HLL_Q)
        return self.set(index, count)

    def set(self, index: int, count: int) -> int:
        """Raise register ``index`` to ``count`` if lower (hllDenseSet / hllSparseSet)."""
        ba = self.ba
        if self.sparse is not None:
            r = self.sparse.set(index, count, self.max_bytes)
            if r == UNCHANGED:
                return r
            self.snap = None
            if r != _PROMOTE:
                return r
            self._write_back()
            self.sparse = None
            if not to_dense(ba):  # cannot happen: a decoded state covers every register
                return INVALID
        elif self.slow:
            r = _sparse_set_bytes(ba, index, count, self.max_bytes)
            if r != _PROMOTE:
                return r
            self.slow = False
            if not to_dense(ba):
                return INVALID
        if dense_get(ba, index) < count:
            dense_set(ba, index, count)
            return UPDATED
        return UNCHANGED

    def _write_back(self) -> None:
        st = self.sparse
        if st is not None:
            ba = self.ba
            ba[HLL_HDR_SIZE:] = st.body()

    def sync(self) -> None:
        """Write the sparse opcodes back into the value (the adder stays usable)."""
        self._write_back()

    def finish(self, changed: bool) -> None:
        """Store the sparse opcodes back into the value and invalidate the cached
        cardinality when something changed. The adder is done afterwards: its decoded
        form is cached for the next command on the same value."""
        ba = self.ba
        st = self.sparse
        if st is not None and not changed and self.snap is not None:
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.clear()
            _CACHE[id(ba)] = (self.snap, st)
            return
        if st is not None and changed:
            self._write_back()
        if changed:
            invalidate_cache(ba)
        if st is not None and (changed or ba[HLL_HDR_SIZE:] == st.body()):
            _remember(ba, st)


def to_raw(v: bytes | bytearray) -> bytes | None:
    """Register values of a valid HLL string (None for a corrupt sparse one)."""
    if v[4] == HLL_DENSE:
        return dense_to_raw(v)
    if type(v) is bytearray:
        st = _CACHE.get(id(v))
        if st is not None and st[0] == v:
            return sparse_to_raw(st[1].chunks, st[1].spans)
    chunks, spans, _ = decode_sparse(v)
    return sparse_to_raw(chunks, spans)


def count(v: bytes | bytearray) -> int | None:
    """hllCount of a single valid HLL string; None if a sparse one is corrupt."""
    if v[4] == HLL_DENSE:
        return estimate(histogram_raw(dense_to_raw(v)))
    st = _CACHE.get(id(v)) if type(v) is bytearray else None
    if st is not None and st[0] == v:
        chunks, spans = st[1].chunks, st[1].spans
    else:
        chunks, spans, _ = decode_sparse(v)
    hist, valid = sparse_histogram(chunks, spans)
    if not valid:
        return None
    return estimate(hist)


# --------------------------------------------------------------------------
# PFSELFTEST
# --------------------------------------------------------------------------


def selftest(max_bytes: int, cycles: int = 4, max_card: int = 100_000) -> str | None:
    """A scaled-down pfselftestCommand: register access round trips, then the
    estimation error of dense and sparse HLLs fed the same elements (up to
    ``max_card`` instead of Valkey's ten million). Returns an error text or None."""
    regs = bytearray(HLL_DENSE_SIZE)
    rnd = random.Random()
    for _ in range(cycles):
        vals = [rnd.randrange(64) for _ in range(HLL_REGISTERS)]
        for i, r in enumerate(vals):
            dense_set(regs, i, r)
        for i, r in enumerate(vals):
            got = dense_get(regs, i)
            if got != r:
                return f"TESTFAILED Register {i} should be {r} but is {got}"
        raw = dense_to_raw(regs)
        if list(raw) != vals or raw_to_dense_body(raw) != bytes(regs[HLL_HDR_SIZE:]):
            return "TESTFAILED Register unpacking disagrees with register access"
    dense = bytearray(HLL_DENSE_SIZE)
    dense[:4] = _MAGIC
    sparse = create()
    dense_adder = Adder(dense, max_bytes)
    sparse_adder = Adder(sparse, max_bytes)
    relerr = 1.04 / math.sqrt(HLL_REGISTERS)
    checkpoint = 1
    seed = rnd.getrandbits(64)
    for j in range(1, max_card + 1):
        ele = ((j ^ seed) & _U64).to_bytes(8, "little")
        dense_adder.add(ele)
        sparse_adder.add(ele)
        if j != checkpoint:
            continue
        sparse_adder.sync()
        if j < max_bytes // 2 and sparse[4] != HLL_SPARSE:
            return "TESTFAILED sparse encoding not used"
        card = count(dense)
        if card != count(sparse):
            return "TESTFAILED dense/sparse disagree"
        assert card is not None
        abserr = abs(checkpoint - card)
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abserr > maxerr:
            return f"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
        checkpoint *= 10
    return None
