"""HyperLogLog commands over a real socket (PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST),
Valkey's exact string representation, corrupt values, and the equivalence of the
fast sparse editor with the byte-level port of Valkey's code."""

from __future__ import annotations

import random

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from kaa.types import hyperloglog as hll

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
INVALID = "INVALIDOBJ Corrupted HLL object detected"

# GET of "PFADD h a b c" on Valkey 8 (sparse, cached cardinality invalid).
ABC = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"


def err(r: redis.Redis, *args: object) -> str:
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def dirty(r: redis.Redis) -> int:
    return int(r.info("persistence")["rdb_changes_since_last_save"])


def test_pfadd_creates_and_reports_changes(r: redis.Redis) -> None:
    assert r.pfadd("h") == 1
    assert r.exists("h") == 1
    assert r.pfcount("h") == 0
    assert r.pfadd("h") == 0
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a", "b", "c") == 0
    assert r.pfadd("h", "") == 1
    assert r.type("h") == b"string"
    assert r.object("encoding", "h") == b"raw"


def test_exact_representation(r: redis.Redis) -> None:
    r.pfadd("h", "a", "b", "c")
    assert r.get("h") == ABC
    assert r.execute_command("PFDEBUG", "DECODE", "h") == b"Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    assert r.pfcount("h") == 3
    # PFCOUNT caches the cardinality in the header (little endian, top bit clear).
    assert r.getrange("h", 0, 15) == b"HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00"
    r.pfadd("h2", *[str(i) for i in range(1, 11)])
    assert r.execute_command("PFDEBUG", "DECODE", "h2") == (
        b"Z:495 v:2,1 Z:2084 v:1,1 Z:4946 v:1,1 Z:3297 v:1,1 Z:147 v:1,1 Z:3136 v:1,1 Z:728 "
        b"v:1,1 Z:531 v:4,1 Z:185 v:1,1 z:22 v:2,1 Z:803")
    assert r.pfcount("h2") == 10


def test_values_written_elsewhere_are_read_identically(r: redis.Redis) -> None:
    # A sparse HLL written by Valkey, stored as a plain string, then extended here.
    r.set("h", ABC)
    assert r.pfcount("h") == 3
    assert r.pfadd("h", "a", "b", "c") == 0
    assert r.pfadd("h", "d") == 1
    assert r.pfcount("h") == 4
    before = r.get("h")
    dumped = r.dump("h")
    assert isinstance(dumped, bytes)
    r.delete("h")
    r.restore("h", 0, dumped)
    assert r.get("h") == before
    assert r.pfcount("h") == 4


def test_cache_invalidation_byte(r: redis.Redis) -> None:
    r.pfadd("h", "a", "b", "c")
    r.pfcount("h")
    assert r.getrange("h", 15, 15) == b"\x00"
    r.pfadd("h", "a", "b", "c")
    assert r.getrange("h", 15, 15) == b"\x00"
    r.pfadd("h", "1", "2", "3")
    assert r.getrange("h", 15, 15) == b"\x80"


def test_pfcount_counts_and_dirty(r: redis.Redis) -> None:
    r.pfadd("h", *[f"e{i}" for i in range(5)])
    d0 = dirty(r)
    assert r.pfcount("h") == 5
    assert dirty(r) == d0 + 1  # the cache was written back
    assert r.pfcount("h") == 5
    assert dirty(r) == d0 + 1
    r.pfadd("h", "6", "7", "8", "8", "9", "10")
    assert r.pfcount("h") == 10
    assert r.pfcount("missing") == 0


def test_estimates_stay_close(r: redis.Redis) -> None:
    rnd = random.Random(1)
    n = 0
    for _ in range(30):
        els = [str(rnd.random()) for _ in range(500)]
        n += 500
        r.pfadd("h", *els)
        card = r.pfcount("h")
        assert abs(card - n) < card * 0.05
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"


def test_sparse_to_dense_promotion(r: redis.Redis) -> None:
    old = str(r.config_get("hll-sparse-max-bytes")["hll-sparse-max-bytes"])
    try:
        r.config_set("hll-sparse-max-bytes", 3000)
        r.pfadd("h", *"abcdefghijk")
        assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
        r.config_set("hll-sparse-max-bytes", 30)
        r.pfadd("h", "new_element")
        assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
        assert r.strlen("h") == hll.HLL_DENSE_SIZE
        for limit in (100, 500, 3000):
            r.config_set("hll-sparse-max-bytes", limit)
            r.delete("h")
            r.pfadd("h")
            rnd = random.Random(limit)
            while r.strlen("h") <= limit:
                assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
                r.pfadd("h", *[str(rnd.random()) for _ in range(10)])
            assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    finally:
        r.config_set("hll-sparse-max-bytes", old)


def test_sparse_and_dense_counts_agree(r: redis.Redis) -> None:
    rnd = random.Random(2)
    for _ in range(40):
        r.delete("s", "d")
        els = [str(rnd.random()) for _ in range(rnd.randrange(100))]
        r.pfadd("d")
        assert r.execute_command("PFDEBUG", "TODENSE", "d") == 1
        r.pfadd("s", *els)
        r.pfadd("d", *els)
        assert r.execute_command("PFDEBUG", "ENCODING", "s") == b"sparse"
        assert r.pfcount("s") == r.pfcount("d")
        assert r.execute_command("PFDEBUG", "GETREG", "d") == r.execute_command("PFDEBUG", "GETREG", "s")


def test_new_values_never_inherit_old_decoded_state(r: redis.Redis) -> None:
    """Regression: decoded sparse forms are cached by object identity and checked
    against a snapshot; a promoted value's stale entry must never serve a new value."""
    rnd = random.Random(8)
    empty = bytes(hll.create())
    for _ in range(25):
        r.pfadd("x")
        r.pfadd("x", *[str(rnd.random()) for _ in range(900)])
        r.delete("x")
        r.pfadd("y")
        got = r.get("y")
        assert isinstance(got, bytes) and got[16:] == empty[16:]
        assert r.pfcount("y") == 0
        r.pfadd("y", "a", "b", "c")
        assert r.get("y") == ABC
        r.delete("y")


def test_type_checks(r: redis.Redis) -> None:
    r.set("foo", "bar")
    r.lpush("l", "x")
    assert err(r, "PFADD", "foo", "1") == NOT_HLL
    assert err(r, "PFCOUNT", "foo") == NOT_HLL
    assert err(r, "PFMERGE", "bar", "foo") == NOT_HLL
    assert err(r, "PFMERGE", "foo", "bar") == NOT_HLL
    assert err(r, "PFADD", "l", "1") == WRONGTYPE
    assert err(r, "PFCOUNT", "l") == WRONGTYPE
    assert err(r, "PFCOUNT", "missing", "l") == WRONGTYPE
    assert err(r, "PFMERGE", "d", "l") == WRONGTYPE
    assert err(r, "PFDEBUG", "ENCODING", "l") == WRONGTYPE
    assert err(r, "PFDEBUG", "ENCODING", "foo") == NOT_HLL
    r.set("short", "HYLL")
    assert err(r, "PFCOUNT", "short") == NOT_HLL
    r.set("int", 12345678901234567)
    assert err(r, "PFCOUNT", "int") == NOT_HLL
    assert err(r, "PFADD") == "wrong number of arguments for 'pfadd' command"
    assert err(r, "PFCOUNT") == "wrong number of arguments for 'pfcount' command"
    assert err(r, "PFMERGE") == "wrong number of arguments for 'pfmerge' command"


def test_corrupt_values(r: redis.Redis) -> None:
    r.pfadd("h", "a", "b", "c")
    r.append("h", "hello")  # extra opcodes at the tail: the runs no longer add up
    assert err(r, "PFCOUNT", "h") == INVALID
    assert err(r, "PFCOUNT", "h", "missing") == INVALID
    assert err(r, "PFMERGE", "d", "h") == INVALID
    assert err(r, "PFDEBUG", "GETREG", "h") == INVALID
    assert err(r, "PFDEBUG", "TODENSE", "h") == INVALID
    r.delete("h")
    r.pfadd("h", "a", "b", "c")
    r.setrange("h", 0, "0123")
    assert err(r, "PFCOUNT", "h") == NOT_HLL
    r.delete("h")
    r.pfadd("h", "a", "b", "c")
    r.setrange("h", 4, "x")
    assert err(r, "PFCOUNT", "h") == NOT_HLL
    r.delete("h")
    r.pfadd("h", "a", "b", "c")
    r.setrange("h", 4, "\x00")  # "dense" with a sparse length
    assert err(r, "PFCOUNT", "h") == NOT_HLL
    # Short runs: the registers past the end are not covered.
    r.set("h", ABC[:-2])
    assert err(r, "PFCOUNT", "h") == INVALID
    # Runs covering more than 16384 registers; with a valid cached cardinality the
    # registers are not even looked at (as in Valkey).
    r.set("h", bytes(hll.create()[:16]) + b"\x7f\xff\x7f\xff")
    assert r.pfcount("h") == 0
    r.setrange("h", 15, b"\x80")
    assert err(r, "PFCOUNT", "h") == INVALID
    # Adding only edits the run that covers the register, so it works (as in Valkey).
    assert r.pfadd("h", "a") == 1
    assert r.get("h") == b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80q\xa6\x84NW\x7f\xff"


def test_random_corruption_never_crashes(r: redis.Redis) -> None:
    rnd = random.Random(9)
    for _ in range(150):
        r.delete("h")
        r.pfadd("h", *[str(rnd.random()) for _ in range(rnd.randrange(1, 3000))])
        for _ in range(5):
            n = r.strlen("h")
            r.setrange("h", rnd.randrange(n), bytes([rnd.randrange(256)]))
            if rnd.random() < 0.5:
                break
        for cmd in (["PFCOUNT", "h"], ["PFADD", "h", str(rnd.random())], ["PFCOUNT", "h", "h"],
                    ["PFMERGE", "h2", "h"], ["PFDEBUG", "GETREG", "h"]):
            try:
                r.execute_command(*cmd)
            except redis.ResponseError as e:
                assert str(e) in (INVALID, NOT_HLL)
    assert r.ping()


def test_pfcount_union(r: redis.Redis) -> None:
    r.pfadd("a", "1", "2", "3")
    r.pfadd("b", "3", "4")
    r.pfadd("c", "5")
    assert r.pfcount("a", "b", "c", "missing") == 5
    assert r.pfcount("missing", "missing2") == 0
    for i in range(1, 3000):
        r.pfadd("x", f"foo-{i}")
        r.pfadd("y", f"bar-{i}")
        r.pfadd("z", f"zap-{i}")
        if i % 250 == 0:
            card = r.pfcount("x", "y", "z")
            assert abs(card - 3 * i) < card * 0.05


def test_pfmerge(r: redis.Redis) -> None:
    r.pfadd("h1", "a", "b", "c")
    r.pfadd("h2", "b", "c", "d")
    r.pfadd("h3", "c", "d", "e")
    assert r.pfmerge("h", "h1", "h2", "h3") is True
    assert r.pfcount("h") == 5
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
    # The destination's own registers are part of the union.
    assert r.pfmerge("h1", "h3") is True
    assert r.pfcount("h1") == 5
    assert r.execute_command("PFMERGE", "e") is True
    assert r.exists("e") == 1 and r.pfcount("e") == 0
    assert r.execute_command("PFMERGE", "e2", "missing", "missing2") is True
    assert r.pfcount("e2") == 0
    r.pfadd("only", "a", "b", "c")
    assert r.execute_command("PFMERGE", "only") is True
    assert r.pfcount("only") == 3
    # A dense input makes the destination dense.
    r.pfadd("d")
    r.execute_command("PFDEBUG", "TODENSE", "d")
    r.pfadd("d", "x", "y")
    r.pfmerge("h", "d")
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    assert r.pfcount("h") == 7
    d0 = dirty(r)
    r.pfmerge("h", "h1")
    assert dirty(r) == d0 + 1


def test_pfmerge_of_many_sparse_registers_promotes(r: redis.Redis) -> None:
    rnd = random.Random(4)
    for k in ("a", "b", "c", "d"):
        r.pfadd(k, *[str(rnd.random()) for _ in range(700)])
        assert r.execute_command("PFDEBUG", "ENCODING", k) == b"sparse"
    r.pfmerge("m", "a", "b", "c", "d")
    assert r.execute_command("PFDEBUG", "ENCODING", "m") == b"dense"
    assert r.pfcount("m") == r.pfcount("a", "b", "c", "d")


def test_pfdebug(r: redis.Redis, r3: redis.Redis) -> None:
    r.pfadd("h", "1", "2", "3")
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
    regs = r.execute_command("PFDEBUG", "GETREG", "h")
    assert len(regs) == 16384 and sorted(x for x in regs if x) != []
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"  # GETREG converts
    assert r.execute_command("PFDEBUG", "TODENSE", "h") == 0
    assert err(r, "PFDEBUG", "DECODE", "h") == "HLL encoding is not sparse"
    assert err(r, "PFDEBUG", "FOO", "h") == "Unknown PFDEBUG subcommand 'FOO'"
    assert err(r, "PFDEBUG", "GETREG", "missing") == "The specified key does not exist"
    assert err(r, "PFDEBUG", "FOO", "missing") == "The specified key does not exist"
    assert err(r, "PFDEBUG", "GETREG") == "wrong number of arguments for 'pfdebug' command"
    r.pfadd("s", "a")
    assert r.execute_command("PFDEBUG", "TODENSE", "s") == 1
    assert r.pfcount("s") == 1
    assert r3.execute_command("PFDEBUG", "ENCODING", "s") == b"dense"
    assert r3.execute_command("PFDEBUG", "GETREG", "s").count(0) == 16383


def test_pfselftest(r: redis.Redis) -> None:
    assert r.execute_command("PFSELFTEST") == b"OK"
    assert err(r, "PFSELFTEST", "x") == "wrong number of arguments for 'pfselftest' command"


def test_keyspace_events(r: redis.Redis) -> None:
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        p.get_message(timeout=1)
        r.pfadd("h", "a")
        r.pfadd("h", "a")  # unchanged: no event
        r.pfcount("h")  # updates the cache: no event
        r.pfmerge("m", "h")
        events = []
        while (m := p.get_message(timeout=0.5)) is not None:
            if m["type"] == "pmessage":
                events.append((m["channel"].split(b":")[-1], m["data"]))
        assert events == [(b"pfadd", b"h"), (b"pfadd", b"m")]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_resp3(r3: redis.Redis) -> None:
    assert r3.pfadd("h", "a") == 1
    assert r3.pfcount("h") == 1
    assert r3.execute_command("PFMERGE", "m", "h") is True
    assert r3.execute_command("PFDEBUG", "DECODE", "h").startswith(b"Z:")


# --------------------------------------------------------------------------
# The fast sparse editor against the byte-for-byte port (no server involved)
# --------------------------------------------------------------------------


def _both(ops: list[tuple[int, int]], max_bytes: int) -> tuple[bytearray, bytearray]:
    fast = hll.create()
    slow = hll.create()
    adder = hll.Adder(fast, max_bytes)
    for index, count in ops:
        adder.set(index, count)
        if slow[4] == hll.HLL_SPARSE:
            r = hll._sparse_set_bytes(slow, index, count, max_bytes)
            if r == hll._PROMOTE:
                assert hll.to_dense(slow)
                if hll.dense_get(slow, index) < count:
                    hll.dense_set(slow, index, count)
        elif hll.dense_get(slow, index) < count:
            hll.dense_set(slow, index, count)
    adder.finish(True)
    hll.invalidate_cache(slow)
    return fast, slow


@settings(max_examples=150, deadline=None, derandomize=True)
@given(ops=st.lists(st.tuples(st.integers(0, 16383) | st.integers(0, 40) | st.integers(16340, 16383),
                              st.integers(1, 34)), max_size=300),
       max_bytes=st.sampled_from([40, 100, 3000]))
def test_fast_sparse_editing_matches_byte_port(ops: list[tuple[int, int]], max_bytes: int) -> None:
    fast, slow = _both(ops, max_bytes)
    assert fast == slow


def test_fast_sparse_editing_long_runs() -> None:
    rnd = random.Random(3)
    for _ in range(5):
        base = rnd.randrange(16000)
        ops = [(base + rnd.randrange(300), rnd.randint(1, 6)) for _ in range(600)]
        fast, slow = _both(ops, 100_000)
        assert fast == slow
        assert fast[4] == hll.HLL_SPARSE


def test_dense_packing_round_trip() -> None:
    rnd = random.Random(5)
    raw = bytes(rnd.randrange(64) for _ in range(hll.HLL_REGISTERS))
    body = hll.raw_to_dense_body(raw)
    ba = bytearray(hll.HLL_DENSE_SIZE)
    ba[16:] = body
    assert all(hll.dense_get(ba, i) == raw[i] for i in range(0, hll.HLL_REGISTERS, 7))
    assert hll.dense_to_raw(ba) == raw
    a = bytes(rnd.randrange(64) for _ in range(hll.HLL_REGISTERS))
    b = bytes(rnd.randrange(64) for _ in range(hll.HLL_REGISTERS))
    m = hll.raw_max(int.from_bytes(a, "big"), int.from_bytes(b, "big"))
    assert m.to_bytes(hll.HLL_REGISTERS, "big") == bytes(map(max, a, b))


def test_murmurhash_known_values() -> None:
    # Register index and run length of "a" as Valkey computes them (PFDEBUG DECODE above:
    # "a", "b", "c" land in registers 8436, 12711 and 15780).
    idx = sorted(hll.pat_len(x)[0] for x in (b"a", b"b", b"c"))
    assert idx == [8436, 12711, 15780]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=70))
def test_compiled_pat_len_matches_the_python_one(ele: bytes) -> None:
    """kaa/types/_hllhash.pyx (where built) hashes exactly as hyperloglog.pat_len, for
    every tail length and for bytes and bytearray alike."""
    want = hll.pat_len(ele)
    assert hll.pat_len_pq(ele, hll.HLL_P, hll.HLL_Q) == want
    assert hll.pat_len_pq(bytearray(ele), hll.HLL_P, hll.HLL_Q) == want
    index, count = want
    assert 0 <= index < hll.HLL_REGISTERS and 1 <= count <= hll.HLL_Q + 1
