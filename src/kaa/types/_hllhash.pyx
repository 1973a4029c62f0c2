# cython: language_level=3, boundscheck=False, wraparound=False
"""Optional compiled hllPatLen: MurmurHash64A of an element and the register index and
run length HyperLogLog takes from it. kaa.types.hyperloglog uses it when built; its
pure-Python pat_len gives the same results (the tests compare them)."""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t

cdef uint64_t _M = 0xC6A4A7935BD1E995ULL
cdef uint64_t _SEED = 0xADC83B19ULL


cdef inline uint64_t _murmur(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = _SEED ^ (<uint64_t>n * _M)
    cdef uint64_t k
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t blocks = n & ~7
    cdef int j
    while i < blocks:
        k = 0
        j = 7
        while j >= 0:  # little-endian word, whatever the host order
            k = (k << 8) | p[i + j]
            j -= 1
        k *= _M
        k ^= k >> 47
        k *= _M
        h ^= k
        h *= _M
        i += 8
    if n & 7:
        k = 0
        j = <int>(n & 7) - 1
        while j >= 0:
            k = (k << 8) | p[i + j]
            j -= 1
        h ^= k
        h *= _M
    h ^= h >> 47
    h *= _M
    h ^= h >> 47
    return h


def pat_len(object ele, int p, int q):
    """(register index, length of the 000..1 pattern) of bytes or a bytearray, for
    HLL_P = p and HLL_Q = q."""
    cdef const unsigned char* data
    cdef Py_ssize_t n
    if type(ele) is bytes:
        data = <const unsigned char*>PyBytes_AS_STRING(ele)
        n = PyBytes_GET_SIZE(ele)
    elif type(ele) is bytearray:
        data = <const unsigned char*>PyByteArray_AS_STRING(ele)
        n = PyByteArray_GET_SIZE(ele)
    else:
        raise TypeError("pat_len wants bytes or bytearray")
    cdef uint64_t h = _murmur(data, n)
    cdef uint64_t x = (h >> p) | (<uint64_t>1 << q)
    cdef int count = 1
    while not (x & 1):
        x >>= 1
        count += 1
    return <Py_ssize_t>(h & ((<uint64_t>1 << p) - 1)), count
