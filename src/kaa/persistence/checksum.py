"""CRC64 (Jones polynomial, reflected, as Valkey's crc64.c) and LZF, with C speed-ups.

``anycrc`` and ``python-lzf`` are optional C extensions; the pure-Python fallbacks give
identical results (the compressor is a port of liblzf's, so compressed payloads are the
same bytes as Valkey's), only slower. ``lzf_compress(data, out_len)`` has liblzf's
semantics: None when the output would not fit in ``out_len`` bytes.
"""

from __future__ import annotations

from collections.abc import Callable

_POLY = 0xAD93D23594C935A9


def _make_table() -> list[int]:
    # Reflected table-driven CRC: process the polynomial bit-reversed.
    rev = int(f"{_POLY:064b}"[::-1], 2)
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ rev if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def _crc64_py(crc: int, data: bytes) -> int:
    t = _TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


crc64: Callable[[int, bytes], int]
try:
    import anycrc

    _model = anycrc.Model("CRC64-REDIS")

    def _crc64_c(crc: int, data: bytes) -> int:
        return int(_model.calc(data, crc)) if crc else int(_model.calc(data))

    crc64 = _crc64_c
except Exception:  # pragma: no cover - the fallback is exercised by tests directly
    crc64 = _crc64_py


def lzf_decompress_py(data: bytes, expected_len: int) -> bytes:
    """Decompress LZF data (liblzf's format); ValueError if corrupt."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            ln = ctrl + 1
            if i + ln > n:
                raise ValueError("lzf: literal run past end of input")
            out += data[i : i + ln]
            i += ln
        else:
            ln = ctrl >> 5
            if ln == 7:
                if i >= n:
                    raise ValueError("lzf: truncated")
                ln += data[i]
                i += 1
            if i >= n:
                raise ValueError("lzf: truncated")
            ref = len(out) - ((ctrl & 0x1F) << 8) - 1 - data[i]
            i += 1
            if ref < 0:
                raise ValueError("lzf: back reference before start")
            ln += 2
            for k in range(ln):
                out.append(out[ref + k])
        if len(out) > expected_len:
            raise ValueError("lzf: output longer than expected")
    if len(out) != expected_len:
        raise ValueError("lzf: output length mismatch")
    return bytes(out)


_HLOG = 16
_HSIZE = 1 << _HLOG
_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def lzf_compress_py(data: bytes, out_len: int | None = None) -> bytes | None:
    """liblzf's lzf_compress(in, in_len, out, out_len) as built in Valkey (HLOG 16,
    VERY_FAST), byte for byte: the compressed data, or None where it returns 0 (the
    output would not fit in out_len bytes; default: the input's length)."""
    in_len = len(data)
    if out_len is None:
        out_len = in_len
    if not in_len or out_len <= 0:
        return None
    ip_data = bytes(data)
    htab = [0] * _HSIZE
    out = bytearray(out_len + 8)  # a little slack: the run byte is reserved ahead
    op = 1  # the first literal run's length byte is at 0
    lit = 0
    ip = 0
    in_end = in_len
    mask = _HSIZE - 1
    shift = 3 * 8 - _HLOG
    hval = ((ip_data[0] << 8) | ip_data[1]) if in_len > 1 else 0
    while ip < in_end - 2:
        hval = ((hval << 8) | ip_data[ip + 2]) & 0xFFFFFFFF
        slot = ((hval >> shift) - hval * 5) & mask
        ref = htab[slot]
        htab[slot] = ip
        off = ip - ref - 1
        if (ref and off < _MAX_OFF and ref < ip and ip_data[ref + 2] == ip_data[ip + 2]
                and ip_data[ref] == ip_data[ip] and ip_data[ref + 1] == ip_data[ip + 1]):
            ln = 2
            maxlen = in_end - ip - ln
            if maxlen > _MAX_REF:
                maxlen = _MAX_REF
            if op + 3 + 1 >= out_len and op - (0 if lit else 1) + 3 + 1 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF  # stop the literal run
            if not lit:
                op -= 1  # undo an empty run
            # The match length as liblzf measures it: 16 unrolled steps (unbounded when
            # maxlen > 16, so they may run up to 2 past it), then a bounded loop.
            done = False
            if maxlen > 16:
                for _ in range(16):
                    ln += 1
                    if ip_data[ref + ln] != ip_data[ip + ln]:
                        done = True
                        break
            if not done:
                while True:
                    ln += 1
                    if not (ln < maxlen and ip_data[ref + ln] == ip_data[ip + ln]):
                        break
            ln -= 2  # octets - 1
            ip += 1
            if ln < 7:
                out[op] = ((off >> 8) + (ln << 5)) & 0xFF
                op += 1
            else:
                out[op] = ((off >> 8) + (7 << 5)) & 0xFF
                out[op + 1] = (ln - 7) & 0xFF
                op += 2
            out[op] = off & 0xFF
            op += 1
            lit = 0
            op += 1  # start a run
            ip += ln + 1
            if ip >= in_end - 2:
                break
            ip -= 2  # VERY_FAST: hash the last two positions of the match
            hval = (ip_data[ip] << 8) | ip_data[ip + 1]
            hval = ((hval << 8) | ip_data[ip + 2]) & 0xFFFFFFFF
            htab[((hval >> shift) - hval * 5) & mask] = ip
            ip += 1
            hval = ((hval << 8) | ip_data[ip + 2]) & 0xFFFFFFFF
            htab[((hval >> shift) - hval * 5) & mask] = ip
            ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = ip_data[ip]
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_end:
        lit += 1
        out[op] = ip_data[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    if not lit:
        op -= 1
    if op > out_len:
        return None
    return bytes(out[:op])


lzf_decompress: Callable[[bytes, int], bytes]
lzf_compress: Callable[[bytes, int], bytes | None]
try:
    import lzf as _lzf

    def _lzf_decompress_c(data: bytes, expected_len: int) -> bytes:
        out = _lzf.decompress(data, expected_len + 1)
        if out is None or len(out) != expected_len:
            raise ValueError("lzf: corrupt compressed data")
        return bytes(out)

    def _lzf_compress_c(data: bytes, out_len: int) -> bytes | None:
        """lzf_compress(in, in_len, out, out_len); python-lzf passes max_len + 1 as the
        output size, hence the - 1."""
        if out_len <= 1 or not data:
            return None
        out = _lzf.compress(data, out_len - 1)
        return bytes(out) if out else None

    lzf_decompress = _lzf_decompress_c
    lzf_compress = _lzf_compress_c
except Exception:  # pragma: no cover
    lzf_decompress = lzf_decompress_py
    lzf_compress = lzf_compress_py
