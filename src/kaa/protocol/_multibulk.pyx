# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Optional compiled splitter for pipelines of canonical multibulk commands.

It accepts only the one spelling that every RESP parser reads the same way:
``*<count>\\r\\n`` then, per argument, ``$<length>\\r\\n<payload>\\r\\n``, with
counts and lengths in plain decimal (no sign, no leading zero, at most 18
digits), a count of at least 1 and lengths up to ``max_bulk``. It stops, without
judging, at the first command that is not complete and canonical; the caller hands
the rest to the pure parser (``kaa.protocol.request``), which owns every error
text, limit and quirk. So it can only ever agree with that parser, and does in a
tenth of its time.

``kaa.protocol.fast_request`` uses it when it was built; without it the hiredis
path runs.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Check, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF


cdef inline Py_ssize_t _header(const char* p, Py_ssize_t pos, Py_ssize_t n,
                               Py_ssize_t* value) noexcept nogil:
    """Read canonical digits at ``pos`` followed by CRLF; the position after the LF,
    or -1 (not canonical, or not all here)."""
    cdef Py_ssize_t v = 0
    cdef Py_ssize_t start = pos
    cdef char ch
    if pos >= n:
        return -1
    if p[pos] == 48:  # '0' only on its own
        pos += 1
    else:
        while pos < n:
            ch = p[pos]
            if ch < 48 or ch > 57:
                break
            v = v * 10 + (ch - 48)
            pos += 1
        if pos == start or pos - start > 18:
            return -1
    if pos + 1 >= n or p[pos] != 13 or p[pos + 1] != 10:
        return -1
    value[0] = v
    return pos + 2


def split_commands(bytes data, Py_ssize_t max_bulk):
    """(commands, end): the complete canonical commands at the start of ``data`` and
    the offset of the first byte not consumed."""
    cdef const char* p = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t first, r, count, blen, i
    cdef list out = []
    cdef list argv
    cdef object arg
    while pos < n:
        if p[pos] != 42:  # '*'
            break
        first = _header(p, pos + 1, n, &count)
        if first < 0 or count < 1:
            break
        # Check the whole command before allocating anything: a count or length
        # larger than what has arrived allocates nothing.
        r = first
        i = 0
        while i < count:
            if r >= n or p[r] != 36:  # '$'
                r = -1
                break
            r = _header(p, r + 1, n, &blen)
            if r < 0 or blen > max_bulk or r + blen + 2 > n:
                r = -1
                break
            if p[r + blen] != 13 or p[r + blen + 1] != 10:
                r = -1
                break
            r += blen + 2
            i += 1
        if r < 0:
            break
        argv = PyList_New(count)
        r = first
        i = 0
        while i < count:
            r = _header(p, r + 1, n, &blen)
            arg = PyBytes_FromStringAndSize(p + r, blen)
            Py_INCREF(arg)
            PyList_SET_ITEM(argv, i, arg)
            r += blen + 2
            i += 1
        out.append(argv)
        pos = r
    return out, pos


# ---- replies: arrays of bulk strings ------------------------------------------------------
# reply.bulk_array hands these over at import (use_reply_types): the reply type, the
# empty array reply and its Python version, which takes items that are not bytes.
cdef object _Raw = None
cdef object _EMPTY = None
cdef object _fallback = None


def use_reply_types(raw, empty, fallback):
    global _Raw, _EMPTY, _fallback
    _Raw = raw
    _EMPTY = empty
    _fallback = fallback


cdef inline Py_ssize_t _digits(Py_ssize_t v) noexcept nogil:
    cdef Py_ssize_t d = 1
    while v >= 10:
        v = v // 10
        d += 1
    return d


cdef inline char* _decimal_crlf(char* p, Py_ssize_t v) noexcept nogil:
    """Write v (not negative) in decimal, then CRLF; the position after."""
    cdef char* q = p + _digits(v)
    cdef char* end = q
    while True:
        q -= 1
        q[0] = <char>(48 + v % 10)
        v = v // 10
        if v == 0:
            break
    end[0] = 13
    end[1] = 10
    return end + 2


def bulk_array(object items):
    """reply.bulk_array in one pass to size and one to copy: the RESP array of the
    bulk strings ``items`` (bytes or bytearray), as a Raw reply."""
    cdef list seq = items if type(items) is list else list(items)
    cdef Py_ssize_t n = len(seq)
    cdef Py_ssize_t i, ln
    cdef Py_ssize_t total = 3 + _digits(n)
    cdef object it
    cdef bytes out
    cdef char* p
    if n == 0:
        return _EMPTY
    for i in range(n):
        it = seq[i]
        if PyBytes_Check(it):
            ln = PyBytes_GET_SIZE(it)
        elif PyByteArray_Check(it):
            ln = PyByteArray_GET_SIZE(it)
        else:
            return _fallback(seq)  # (seq: items may have been a one-pass iterable)
        total += ln + 5 + _digits(ln)
    out = PyBytes_FromStringAndSize(NULL, total)
    p = PyBytes_AS_STRING(out)
    p[0] = 42  # '*'
    p = _decimal_crlf(p + 1, n)
    for i in range(n):
        it = seq[i]
        if PyBytes_Check(it):
            ln = PyBytes_GET_SIZE(it)
            p[0] = 36  # '$'
            p = _decimal_crlf(p + 1, ln)
            memcpy(p, PyBytes_AS_STRING(it), ln)
        else:
            ln = PyByteArray_GET_SIZE(it)
            p[0] = 36
            p = _decimal_crlf(p + 1, ln)
            memcpy(p, PyByteArray_AS_STRING(it), ln)
        p += ln
        p[0] = 13
        p[1] = 10
        p += 2
    return _Raw(out)
