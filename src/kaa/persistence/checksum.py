"""CRC64 (Jones polynomial, reflected, as Valkey's crc64.c) and LZF, with C speed-ups.

``anycrc`` and ``python-lzf`` are optional C extensions; the pure-Python fallbacks give
identical results, only slower.
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


def lzf_compress_py(data: bytes) -> bytes | None:
    """A simple LZF compressor (hash of 3-byte prefixes); None if it would not shrink."""
    n = len(data)
    if n < 4:
        return None
    out = bytearray()
    lit = bytearray()
    table: dict[bytes, int] = {}
    i = 0
    while i < n:
        if i + 2 < n:
            key = data[i : i + 3]
            ref = table.get(key)
            table[key] = i
            if ref is not None and i - ref - 1 < 8192:
                off = i - ref - 1
                ln = 3
                maxlen = min(264, n - i)
                while ln < maxlen and data[ref + ln] == data[i + ln]:
                    ln += 1
                while lit:
                    chunk = lit[:32]
                    del lit[:32]
                    out.append(len(chunk) - 1)
                    out += chunk
                ln2 = ln - 2
                if ln2 < 7:
                    out.append((ln2 << 5) | (off >> 8))
                else:
                    out.append((7 << 5) | (off >> 8))
                    out.append(ln2 - 7)
                out.append(off & 0xFF)
                i += ln
                continue
        lit.append(data[i])
        i += 1
    while lit:
        chunk = lit[:32]
        del lit[:32]
        out.append(len(chunk) - 1)
        out += chunk
    if len(out) >= n:
        return None
    return bytes(out)


lzf_decompress: Callable[[bytes, int], bytes]
lzf_compress: Callable[[bytes], bytes | None]
try:
    import lzf as _lzf

    def _lzf_decompress_c(data: bytes, expected_len: int) -> bytes:
        out = _lzf.decompress(data, expected_len + 1)
        if out is None or len(out) != expected_len:
            raise ValueError("lzf: corrupt compressed data")
        return bytes(out)

    def _lzf_compress_c(data: bytes) -> bytes | None:
        out = _lzf.compress(data, len(data) - 1) if len(data) > 4 else None
        return bytes(out) if out else None

    lzf_decompress = _lzf_decompress_c
    lzf_compress = _lzf_compress_c
except Exception:  # pragma: no cover
    lzf_decompress = lzf_decompress_py
    lzf_compress = lzf_compress_py
