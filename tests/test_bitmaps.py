"""Bitmap commands over a real socket: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
BITFIELD_RO, their replies in RESP2 and RESP3 and Valkey 8's error texts."""

from __future__ import annotations

import random
import socket

import pytest
import redis

ERR_OFFSET = "bit offset is not an integer or out of range"
ERR_BIT = "bit is not an integer or out of range"
ERR_TYPE = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def err(r: redis.Redis, *args: object) -> str:
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def raw(r: redis.Redis, *cmds: list[bytes]) -> bytes:
    """The exact bytes the server sends back for the given commands (RESP2)."""
    port = r.connection_pool.connection_kwargs["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        payload = b""
        for argv in cmds:
            payload += b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
        payload += b"*1\r\n$4\r\nPING\r\n"
        s.sendall(payload)
        out = b""
        while not out.endswith(b"+PONG\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out[: -len(b"+PONG\r\n")]


def bits_of(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data)


# --------------------------------------------------------------------------
# SETBIT / GETBIT
# --------------------------------------------------------------------------


def test_setbit_creates_grows_and_returns_old_bit(r: redis.Redis) -> None:
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.setbit("k", 7, 1) == 1
    assert r.setbit("k", 7, 0) == 1
    assert r.get("k") == b"\x00"
    assert r.setbit("k", 100, 1) == 0
    assert r.strlen("k") == 13
    assert r.getbit("k", 100) == 1
    assert r.getbit("k", 101) == 0
    assert r.getbit("k", 10**9) == 0
    assert r.getbit("missing", 3) == 0
    # A value edited in place is a raw string.
    assert r.object("encoding", "k") == b"raw"


def test_setbit_keeps_ttl_and_works_on_set_strings(r: redis.Redis) -> None:
    r.set("s", "a", ex=100)
    assert r.setbit("s", 6, 1) == 0
    assert r.get("s") == b"c"
    assert 0 < r.ttl("s") <= 100
    r.set("n", 1)  # an int-encoded string: its digits are the bits
    assert r.getbit("n", 2) == 1 and r.getbit("n", 7) == 1 and r.getbit("n", 6) == 0


def test_setbit_getbit_errors(r: redis.Redis) -> None:
    for bad in ("-1", "abc", "4294967296", "9223372036854775808", "1.5", ""):
        assert err(r, "SETBIT", "k", bad, 1) == ERR_OFFSET
        assert err(r, "GETBIT", "k", bad) == ERR_OFFSET
    for bad in ("2", "-1", "a", "1.0", ""):
        assert err(r, "SETBIT", "k", 1, bad) == ERR_BIT
    r.lpush("l", "x")
    assert err(r, "SETBIT", "l", 1, 1) == WRONGTYPE
    assert err(r, "GETBIT", "l", 1) == WRONGTYPE
    # The offset is checked before the type.
    assert err(r, "GETBIT", "l", -1) == ERR_OFFSET
    assert err(r, "SETBIT", "k") == "wrong number of arguments for 'setbit' command"
    assert err(r, "GETBIT", "k", 1, 2) == "wrong number of arguments for 'getbit' command"


def test_setbit_offset_limit_follows_proto_max_bulk_len(r: redis.Redis) -> None:
    old = str(r.config_get("proto-max-bulk-len")["proto-max-bulk-len"])
    try:
        r.config_set("proto-max-bulk-len", 1024 * 1024)
        assert err(r, "SETBIT", "k", 8 * 1024 * 1024, 1) == ERR_OFFSET
        assert r.setbit("k", 8 * 1024 * 1024 - 1, 1) == 0
        assert r.strlen("k") == 1024 * 1024
    finally:
        r.config_set("proto-max-bulk-len", old)


def test_setbit_dirty_only_on_change(r: redis.Redis) -> None:
    def dirty() -> int:
        return int(r.info("persistence")["rdb_changes_since_last_save"])

    d0 = dirty()
    r.setbit("k", 0, 0)  # creates the key
    assert dirty() == d0 + 1
    r.setbit("k", 0, 0)
    assert dirty() == d0 + 1
    r.setbit("k", 0, 1)
    assert dirty() == d0 + 2
    r.setbit("k", 90, 0)  # grows the string: a change even though the bit is 0
    assert dirty() == d0 + 3


# --------------------------------------------------------------------------
# BITCOUNT
# --------------------------------------------------------------------------


def test_bitcount_ranges(r: redis.Redis) -> None:
    r.set("s", "foobar")
    bits = bits_of(b"foobar")
    assert r.bitcount("s") == bits.count("1") == 26
    assert r.execute_command("BITCOUNT", "s", 1) == bits_of(b"oobar").count("1")
    assert r.execute_command("BITCOUNT", "s", -1) == bits_of(b"r").count("1")
    assert r.execute_command("BITCOUNT", "s", 1000) == 0
    assert r.execute_command("BITCOUNT", "s", -1000) == 26
    assert r.bitcount("s", 1, -2) == bits_of(b"ooba").count("1")
    assert r.bitcount("s", -2, 1) == 0
    assert r.bitcount("s", 0, 1000) == 26
    for start, end in [(0, -1), (10, 14), (3, 14), (3, 29), (10, -34), (3, -19), (-1000, 14),
                       (0, 1000), (47, 47), (0, 0), (-1, -1)]:
        lo = start if start >= 0 else max(48 + start, 0)
        hi = min(end if end >= 0 else max(48 + end, 0), 47)
        want = bits[lo : hi + 1].count("1") if lo <= hi else 0
        assert r.bitcount("s", start, end, "bit") == want, (start, end)
    assert r.execute_command("BITCOUNT", "s", 0, -1, "BYTE") == 26
    assert r.execute_command("BITCOUNT", "s", -2, 1, "bit") == 0


def test_bitcount_fuzz_against_python(r: redis.Redis) -> None:
    rnd = random.Random(7)
    for _ in range(60):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80)))
        r.set("s", data)
        n = len(data)
        a, b = rnd.randrange(-n - 5, n + 5), rnd.randrange(-n - 5, n + 5)
        lo, hi = (a if a >= 0 else max(n + a, 0)), min(b if b >= 0 else max(n + b, 0), n - 1)
        want = 0 if (a < 0 and b < 0 and a > b) or lo > hi else bits_of(data[lo : hi + 1]).count("1")
        assert r.bitcount("s", a, b) == want
        bits = bits_of(data)
        a, b = rnd.randrange(-8 * n, 8 * n), rnd.randrange(-8 * n, 8 * n)
        lo, hi = (a if a >= 0 else max(8 * n + a, 0)), min(b if b >= 0 else max(8 * n + b, 0), 8 * n - 1)
        want = 0 if (a < 0 and b < 0 and a > b) or lo > hi else bits[lo : hi + 1].count("1")
        assert r.bitcount("s", a, b, "bit") == want


def test_bitcount_large_string(r: redis.Redis) -> None:
    data = random.Random(3).randbytes(3_000_000)
    r.set("big", data)
    assert r.bitcount("big") == int.from_bytes(data, "big").bit_count()
    assert r.bitcount("big", 5, -7) == int.from_bytes(data[5:-6], "big").bit_count()


def test_bitcount_errors_and_missing_keys(r: redis.Redis) -> None:
    assert r.bitcount("missing") == 0
    assert r.bitcount("missing", 0, 1000) == 0
    assert r.execute_command("BITCOUNT", "missing", 0) == 0
    assert err(r, "BITCOUNT", "missing", 0, 1, "hello") == "syntax error"
    assert err(r, "BITCOUNT", "missing", 0, 1, "bit", "x") == "syntax error"
    assert err(r, "BITCOUNT", "missing", "a", "b") == "value is not an integer or out of range"
    assert err(r, "BITCOUNT", "missing", 0, "b") == "value is not an integer or out of range"
    r.lpush("l", "x")
    assert err(r, "BITCOUNT", "l") == WRONGTYPE
    assert err(r, "BITCOUNT", "l", -6, -7) == WRONGTYPE
    assert err(r, "BITCOUNT", "l", -6, -15, "bit") == WRONGTYPE
    # Integers are parsed before the type is checked.
    assert err(r, "BITCOUNT", "l", "a", "b") == "value is not an integer or out of range"
    assert err(r, "BITCOUNT", "s", 0, 4294967296, "x") == "syntax error"
    assert err(r, "BITCOUNT") == "wrong number of arguments for 'bitcount' command"


# --------------------------------------------------------------------------
# BITPOS
# --------------------------------------------------------------------------


def test_bitpos_basics(r: redis.Redis) -> None:
    r.set("s", b"\xff\xf0\x00")
    assert r.bitpos("s", 0) == 12
    r.set("s", b"\x00\xff\xf0")
    assert r.bitpos("s", 1, 0) == 8
    assert r.bitpos("s", 1, 2) == 16
    assert r.bitpos("s", 1, 2, -1, "byte") == 16
    assert r.bitpos("s", 1, 7, 15, "bit") == 8
    assert r.bitpos("s", 1, 7, -3, "bit") == 8
    assert r.bitpos("s", 0, 8, 15, "bit") == -1
    assert r.bitpos("s", 0, 8, 23, "BIT") == 20
    r.set("f", b"\xff\xff\xff")
    assert r.bitpos("f", 0) == 24  # right side counts as zero padded
    assert r.bitpos("f", 0, 0) == 24
    assert r.bitpos("f", 0, 2) == 24
    assert r.bitpos("f", 0, 0, -1) == -1  # an explicit end: no padding
    assert r.bitpos("f", 0, 0, -1, "bit") == -1
    assert r.bitpos("f", 1, 5, 3) == -1
    r.set("z", b"\x00\x00\x00")
    assert r.bitpos("z", 1) == -1
    assert r.bitpos("z", 0) == 0
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    assert r.bitpos("missing", 0, 0, -1, "bit") == 0
    r.set("e", "")
    assert r.bitpos("e", 0) == -1 and r.bitpos("e", 1) == -1  # an empty range


def test_bitpos_fuzz_against_python(r: redis.Redis) -> None:
    rnd = random.Random(11)
    for _ in range(80):
        data = bytes(rnd.choice([0, 0xFF, rnd.randrange(256)]) for _ in range(rnd.randrange(1, 40)))
        r.set("s", data)
        bits = bits_of(data)
        nb = len(bits)
        bit = rnd.randrange(2)
        a, b = rnd.randrange(-nb - 3, nb + 3), rnd.randrange(-nb - 3, nb + 3)
        lo, hi = (a if a >= 0 else max(nb + a, 0)), min(b if b >= 0 else max(nb + b, 0), nb - 1)
        want = -1
        if lo <= hi:
            i = bits.find(str(bit), lo, hi + 1)
            want = i
        assert r.bitpos("s", bit, a, b, "bit") == want, (data, bit, a, b)
        n = len(data)
        a = rnd.randrange(-n - 2, n + 2)
        lo = a if a >= 0 else max(n + a, 0)
        want = -1
        if lo <= n - 1:
            i = bits.find(str(bit), 8 * lo)
            want = i if i >= 0 else (8 * n if bit == 0 else -1)
        assert r.bitpos("s", bit, a) == want, (data, bit, a)


def test_bitpos_long_runs(r: redis.Redis) -> None:
    data = b"\x00" * 100_000 + b"\x04" + b"\xff" * 100_000 + b"\xfe"
    r.set("s", data)
    assert r.bitpos("s", 1) == 800_005
    assert r.bitpos("s", 0, 100_001) == 8 * 200_001 + 7
    assert r.bitpos("s", 1, 1, 99_999) == -1


def test_bitpos_errors(r: redis.Redis) -> None:
    assert err(r, "BITPOS", "s", 2) == "The bit argument must be 1 or 0."
    assert err(r, "BITPOS", "s", "a") == "value is not an integer or out of range"
    assert err(r, "BITPOS", "s", 0, "a", "b") == "value is not an integer or out of range"
    assert err(r, "BITPOS", "s", 0, 1, "hello", "hello2") == "syntax error"
    assert err(r, "BITPOS", "s", 0, 0, 1, "hello") == "syntax error"
    r.set("s", 1)
    assert err(r, "BITPOS", "s", 0, 0, 1, "hello") == "syntax error"
    r.lpush("l", "x")
    assert err(r, "BITPOS", "l", 0) == WRONGTYPE
    assert err(r, "BITPOS", "l", 1, 10, 100) == WRONGTYPE
    assert err(r, "BITPOS", "l", "a") == "value is not an integer or out of range"
    assert err(r, "BITPOS", "s") == "wrong number of arguments for 'bitpos' command"


# --------------------------------------------------------------------------
# BITOP
# --------------------------------------------------------------------------


def test_bitop_operations(r: redis.Redis) -> None:
    r.set("a", b"\x0f\xf0\xaa")
    r.set("b", b"\xff\x0f")
    assert r.bitop("AND", "d", "a", "b") == 3
    assert r.get("d") == b"\x0f\x00\x00"
    assert r.bitop("or", "d", "a", "b") == 3
    assert r.get("d") == b"\xff\xff\xaa"
    assert r.bitop("Xor", "d", "a", "b", "missing") == 3
    assert r.get("d") == b"\xf0\xff\xaa"
    assert r.bitop("NOT", "d", "a") == 3
    assert r.get("d") == b"\xf0\x0f\x55"
    # The result is a new raw string; it replaces the destination and its TTL.
    assert r.object("encoding", "d") == b"raw"
    r.expire("d", 100)
    r.bitop("and", "d", "a")
    assert r.get("d") == b"\x0f\xf0\xaa" and r.ttl("d") == -1
    # The destination may be a source.
    assert r.bitop("not", "a", "a") == 3
    assert r.get("a") == b"\xf0\x0f\x55"
    # Empty result: the destination is deleted.
    r.set("e", "")
    assert r.bitop("not", "d", "e") == 0
    assert r.exists("d") == 0
    r.set("d", "x")
    assert r.bitop("or", "d", "missing", "missing2") == 0
    assert r.exists("d") == 0
    r.set("z", b"\x00" * 32)
    assert r.bitop("or", "x", "z", "missing") == 32


def test_bitop_fuzz_against_python(r: redis.Redis) -> None:
    rnd = random.Random(5)
    for _ in range(40):
        srcs = [rnd.randbytes(rnd.randrange(0, 70)) for _ in range(rnd.randrange(1, 5))]
        for i, s in enumerate(srcs):
            r.set(f"s{i}", s)
        names = [f"s{i}" for i in range(len(srcs))]
        n = max(map(len, srcs))
        padded = [int.from_bytes(s + bytes(n - len(s)), "big") for s in srcs]
        for op in ("and", "or", "xor"):
            acc = padded[0]
            for p in padded[1:]:
                acc = acc & p if op == "and" else acc | p if op == "or" else acc ^ p
            assert r.bitop(op, "d", *names) == n
            if n:
                assert r.get("d") == acc.to_bytes(n, "big")
        assert r.bitop("not", "d", "s0") == len(srcs[0])
        if srcs[0]:
            assert r.get("d") == bytes(b ^ 0xFF for b in srcs[0])


def test_bitop_errors(r: redis.Redis) -> None:
    assert err(r, "BITOP", "NOT", "d", "a", "b") == "BITOP NOT must be called with a single source key."
    assert err(r, "BITOP", "DIFF", "d", "a") == "syntax error"  # Valkey 8.0 has no DIFF/ANDOR
    assert err(r, "BITOP", "ANDOR", "d", "a", "b") == "syntax error"
    r.lpush("l", "x")
    assert err(r, "BITOP", "AND", "d", "a", "l") == WRONGTYPE
    assert err(r, "BITOP", "AND", "d") == "wrong number of arguments for 'bitop' command"


# --------------------------------------------------------------------------
# BITFIELD / BITFIELD_RO
# --------------------------------------------------------------------------


def test_bitfield_get_set_incrby(r: redis.Redis) -> None:
    assert r.execute_command("BITFIELD", "bf", "SET", "i8", 0, -100, "GET", "i8", 0) == [0, -100]
    assert r.execute_command("BITFIELD", "bf", "SET", "u8", 0, 255, "GET", "u8", 0) == [156, 255]
    assert r.execute_command("BITFIELD", "bf", "SET", "i8", 0, 255, "GET", "i8", 0) == [-1, -1]
    assert r.execute_command("BITFIELD", "bf", "SET", "u2", 8, 3, "GET", "u1", 8, "GET", "u1", 9,
                             "GET", "u2", 8) == [0, 1, 1, 3]
    assert r.execute_command("BITFIELD", "bf", "INCRBY", "u2", 100, 1, "INCRBY", "u2", 100, 1) == [1, 2]
    data = r.get("bf")
    assert isinstance(data, bytes)
    v = int.from_bytes((data + bytes(16))[:8], "big")
    assert r.execute_command("BITFIELD", "bf", "GET", "i64", 0) == [v - (1 << 64) if v >> 63 else v]
    assert r.execute_command("BITFIELD", "bf", "GET", "u63", 1) == [v & ((1 << 63) - 1)]
    assert r.execute_command("BITFIELD", "bf") == []
    assert r.execute_command("BITFIELD", "missing", "GET", "u8", 0) == [0]
    assert r.exists("missing") == 0


def test_bitfield_hash_offsets(r: redis.Redis) -> None:
    assert r.execute_command("BITFIELD", "bf", "SET", "u8", "#0", 65, "SET", "u8", "#1", 66,
                             "SET", "u8", "#2", 67) == [0, 0, 0]
    assert r.get("bf") == b"ABC"
    assert r.execute_command("BITFIELD", "bf", "GET", "u8", "#1", "GET", "u4", "#3") == [66, 2]
    assert err(r, "BITFIELD", "bf", "GET", "u8", "#-1") == ERR_OFFSET
    assert err(r, "BITFIELD", "bf", "GET", "u8", "#") == ERR_OFFSET


def test_bitfield_overflow_modes(r: redis.Redis) -> None:
    bf = ["BITFIELD", "bf"]
    assert r.execute_command(*bf, "SET", "u8", 0, 255) == [0]
    assert r.execute_command(*bf, "INCRBY", "u8", 0, 10) == [9]  # WRAP is the default
    assert r.execute_command(*bf, "OVERFLOW", "SAT", "INCRBY", "u8", 0, 1000) == [255]
    assert r.execute_command(*bf, "OVERFLOW", "SAT", "INCRBY", "u8", 0, -1000) == [0]
    assert r.execute_command(*bf, "OVERFLOW", "FAIL", "INCRBY", "u8", 0, -1, "INCRBY", "u8", 0, 5) == [None, 5]
    assert r.execute_command(*bf, "SET", "i8", 8, 127, "INCRBY", "i8", 8, 1) == [0, -128]
    assert r.execute_command(*bf, "OVERFLOW", "sat", "INCRBY", "i8", 8, -200, "INCRBY", "i8", 8, 500) == [-128, 127]
    assert r.execute_command(*bf, "OVERFLOW", "fail", "SET", "i8", 8, 128, "GET", "i8", 8) == [None, 127]
    assert r.execute_command(*bf, "OVERFLOW", "wrap", "SET", "u8", 0, -1, "GET", "u8", 0) == [5, 255]
    assert r.execute_command(*bf, "OVERFLOW", "sat", "SET", "u8", 0, 300, "SET", "u8", 0, -1) == [255, 255]
    # Valkey's 64-bit bounds arithmetic: SET i8 near INT64_MIN reports an overflow, so SAT
    # stores the maximum.
    assert r.execute_command(*bf, "OVERFLOW", "sat", "SET", "i8", 0, -9223372036854775808,
                             "SET", "i8", 8, -9223372036854775700, "SET", "i8", 16, -9223372036854775000,
                             "GET", "i8", 0, "GET", "i8", 8, "GET", "i8", 16) \
        == [-1, 127, 0, 127, 127, -128]
    m = 9223372036854775807
    assert r.execute_command("BITFIELD", "bf64", "OVERFLOW", "sat", "SET", "i64", 0, 0,
                             "INCRBY", "i64", 0, m, "INCRBY", "i64", 0, 1,
                             "INCRBY", "i64", 0, -m - 1) == [0, m, m, -1]
    assert r.execute_command("BITFIELD", "bf64", "OVERFLOW", "wrap", "SET", "i64", 0, m,
                             "INCRBY", "i64", 0, 1) == [-1, -m - 1]


def test_bitfield_fuzz_against_python(r: redis.Redis) -> None:
    """Random SET/INCRBY/GET with every overflow mode against a Python model."""
    rnd = random.Random(13)
    model = bytearray()
    for _ in range(300):
        signed = rnd.random() < 0.5
        bits = rnd.randint(1, 64 if signed else 63)
        off = rnd.randrange(0, 90)
        op = rnd.choice(["SET", "INCRBY", "GET"])
        ow = rnd.choice(["WRAP", "SAT", "FAIL"])
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        val = rnd.choice([rnd.randint(lo, hi), rnd.randint(-(1 << 63), (1 << 63) - 1),
                          hi, lo, hi + 1, lo - 1, 1, -1, 0])
        val = max(min(val, (1 << 63) - 1), -(1 << 63))
        typ = ("i" if signed else "u") + str(bits)
        need = (off + bits + 7) // 8
        buf = model + bytes(max(0, need - len(model)))
        cur = (int.from_bytes(buf, "big") >> (len(buf) * 8 - off - bits)) & ((1 << bits) - 1)
        if signed and cur >> (bits - 1):
            cur -= 1 << bits
        if op == "GET":
            assert r.execute_command("BITFIELD", "bf", "GET", typ, off) == [cur]
            continue
        target = cur + val if op == "INCRBY" else (val if signed else val & ((1 << 64) - 1))
        if lo <= target <= hi:
            new = target
        elif ow == "FAIL":
            new = None
        elif ow == "SAT":
            new = hi if target > hi else lo
            if op == "SET" and signed and bits < 64 and val < hi - (1 << 63) + 1:
                new = hi  # Valkey's wrap-around in the bounds check (see above)
        else:
            new = target & ((1 << bits) - 1)
            if signed and new >> (bits - 1):
                new -= 1 << bits
        got = r.execute_command("BITFIELD", "bf", "OVERFLOW", ow, op, typ, off, val)
        if new is None:
            assert got == [None]
            if len(model) < need:
                model = bytearray(buf)
            continue
        assert got == [new if op == "INCRBY" else cur], (typ, off, op, ow, val)
        total = int.from_bytes(buf, "big")
        shift = len(buf) * 8 - off - bits
        total = (total & ~(((1 << bits) - 1) << shift)) | ((new & ((1 << bits) - 1)) << shift)
        model = bytearray(total.to_bytes(len(buf), "big"))
        assert r.get("bf") == bytes(model)


def test_bitfield_errors(r: redis.Redis) -> None:
    assert err(r, "BITFIELD", "bf", "SET", "u64", 0, 1) == ERR_TYPE
    assert err(r, "BITFIELD", "bf", "GET", "i65", 0) == ERR_TYPE
    assert err(r, "BITFIELD", "bf", "GET", "i0", 0) == ERR_TYPE
    assert err(r, "BITFIELD", "bf", "GET", "x8", 0) == ERR_TYPE
    assert err(r, "BITFIELD", "bf", "GET", "", 0) == ERR_TYPE
    assert err(r, "BITFIELD", "bf", "GET", "u8", -1) == ERR_OFFSET
    assert err(r, "BITFIELD", "bf", "GET", "u8", "x") == ERR_OFFSET
    assert err(r, "BITFIELD", "bf", "SET", "u8", 0, "x") == "value is not an integer or out of range"
    assert err(r, "BITFIELD", "bf", "GET") == "syntax error"
    assert err(r, "BITFIELD", "bf", "SET", "u8", 0) == "syntax error"
    assert err(r, "BITFIELD", "bf", "FOO", "u8", 0) == "syntax error"
    assert err(r, "BITFIELD", "bf", "OVERFLOW") == "syntax error"
    assert err(r, "BITFIELD", "bf", "OVERFLOW", "FOO") == "Invalid OVERFLOW type specified"
    # Nothing happens when a later operation is invalid.
    assert err(r, "BITFIELD", "bf", "SET", "u8", 0, 1, "GET", "u99", 0) == ERR_TYPE
    assert r.exists("bf") == 0
    r.lpush("l", "x")
    assert err(r, "BITFIELD", "l", "GET", "u8", 0) == WRONGTYPE
    assert err(r, "BITFIELD", "l", "SET", "u8", 0, 1) == WRONGTYPE
    assert err(r, "BITFIELD_RO", "l", "GET", "u8", 0) == WRONGTYPE


def test_bitfield_ro(r: redis.Redis) -> None:
    r.set("bf", b"\x80\x01")
    assert r.execute_command("BITFIELD_RO", "bf", "GET", "u1", 0, "GET", "i16", 0, "GET", "u8", "#1") == \
        [1, -32767, 1]
    assert r.execute_command("BITFIELD_RO", "bf") == []
    assert r.execute_command("BITFIELD_RO", "missing", "GET", "i8", 0) == [0]
    assert err(r, "BITFIELD_RO", "bf", "SET", "u8", 0, 1) == "BITFIELD_RO only supports the GET subcommand"
    assert err(r, "BITFIELD_RO", "bf", "INCRBY", "u8", 0, 1) == "BITFIELD_RO only supports the GET subcommand"
    assert err(r, "BITFIELD_RO", "bf", "OVERFLOW", "FAIL", "FOO") == "syntax error"


def test_bitfield_dirty_counting(r: redis.Redis) -> None:
    def dirty() -> int:
        return int(r.info("persistence")["rdb_changes_since_last_save"])

    d0 = dirty()
    r.execute_command("BITFIELD", "bf", "SET", "i5", 0, 0)
    assert dirty() == d0 + 1
    r.execute_command("BITFIELD", "bf", "SET", "i5", 0, 0)
    assert dirty() == d0 + 1
    r.execute_command("BITFIELD", "bf", "SET", "i5", 0, 1, "SET", "i5", 0, 1, "SET", "i5", 0, 0)
    assert dirty() == d0 + 3
    r.execute_command("BITFIELD", "bf", "SET", "i5", 90, 0)
    assert dirty() == d0 + 4
    # FAIL changes nothing, but the string was grown first and stays grown.
    r.execute_command("BITFIELD", "bf2", "OVERFLOW", "FAIL", "INCRBY", "u2", 20, 9)
    assert dirty() == d0 + 4
    assert r.get("bf2") == b"\x00\x00\x00"


def test_bitmap_keyspace_events(r: redis.Redis) -> None:
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        p.get_message(timeout=1)
        r.setbit("k", 1, 1)
        r.setbit("k", 1, 1)  # no change: no event
        r.execute_command("BITFIELD", "k", "SET", "u8", 8, 3)
        r.bitop("not", "d", "k")
        r.set("e", "")
        r.bitop("and", "d", "e")
        events = []
        while (m := p.get_message(timeout=0.5)) is not None:
            if m["type"] == "pmessage":
                events.append((m["channel"].split(b":")[-1], m["data"]))
        assert events == [(b"setbit", b"k"), (b"setbit", b"k"), (b"set", b"d"), (b"set", b"e"),
                          (b"del", b"d")]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# --------------------------------------------------------------------------
# Protocol shapes
# --------------------------------------------------------------------------


def test_resp2_and_resp3_shapes(r: redis.Redis, r3: redis.Redis) -> None:
    out = raw(r, [b"BITFIELD", b"bf", b"OVERFLOW", b"FAIL", b"INCRBY", b"u2", b"0", b"9",
                  b"GET", b"u2", b"0"], [b"SETBIT", b"b", b"3", b"1"], [b"BITCOUNT", b"b"])
    assert out == b"*2\r\n$-1\r\n:0\r\n:0\r\n:1\r\n"
    assert r3.execute_command("BITFIELD", "bf3", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 9) == [None]
    assert r3.setbit("x", 0, 1) == 0 and r3.getbit("x", 0) == 1
    assert r3.bitpos("x", 1) == 0 and r3.bitcount("x") == 1
    port = r3.connection_pool.connection_kwargs["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"HELLO 3\r\nBITFIELD n OVERFLOW FAIL INCRBY u2 0 9\r\nPING\r\n")
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            data += s.recv(65536)
    assert data.endswith(b"*1\r\n_\r\n+PONG\r\n")


def test_command_info_of_bitmap_commands(r: redis.Redis) -> None:
    plain = redis.Redis(port=r.connection_pool.connection_kwargs["port"], socket_timeout=10)
    plain.response_callbacks.clear()
    info = plain.execute_command("COMMAND", "INFO", "bitop", "bitfield_ro", "setbit")
    assert info[0][1] == -4 and info[0][3:6] == [2, -1, 1]
    assert b"readonly" in info[1][2] and b"fast" in info[1][2]
    assert info[2][1] == 4 and b"denyoom" in info[2][2]
    assert plain.execute_command("COMMAND", "GETKEYS", "BITOP", "AND", "d", "a", "b") == [b"d", b"a", b"b"]
    assert plain.execute_command("COMMAND", "GETKEYS", "BITFIELD", "k", "GET", "u8", "0") == [b"k"]
    plain.close()
