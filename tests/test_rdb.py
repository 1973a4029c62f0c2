"""RDB snapshots and DUMP/RESTORE: the format (golden Valkey 8 bytes, every encoding,
corrupt input and fuzzing) and the server side (SAVE, BGSAVE and its child, save
points, MISCONF, loading while serving -LOADING, DEBUG RELOAD, IDLE/FREQ, RESTORE's
options). Interoperation with redis-server 7.0 and Valkey 8 is in test_rdb_interop.py."""

from __future__ import annotations

import io
import os
import random
import signal
import socket
import stat
import struct
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.rdb_data import (
    assert_same,
    build_dataset,
    conn,
    kaa,
    run_kaa_expect_exit,
    snapshot,
    wait_for,
)

from kaa.cli.check_rdb import check
from kaa.persistence.checksum import (
    _crc64_py,
    crc64,
    lzf_compress_py,
    lzf_decompress,
    lzf_decompress_py,
)
from kaa.persistence.rdb import (
    Writer,
    decode_payload,
    dump_payload,
    load_all,
    restore_payload,
)
from kaa.persistence.rdb_format import (
    RdbError,
    enc_len,
    enc_string,
    intset_build,
    intset_members,
    listpack_build,
    listpack_entries,
    module_type_name,
    read_value,
    string2ll,
    write_value,
    ziplist_entries,
    zipmap_pairs,
)
from kaa.persistence.values import from_neutral
from kaa.server.config import Config

# DUMP payloads made by a real Valkey 8.0.1 for the same commands (see each test).
VALKEY_DUMPS = {
    # HSET h f1 v1 f2 2 f3 <x*30>: a listpack, LZF-compressed
    "hash": "10c321390b39000000060082663103827620030a6632030201826633039e78e01400011fff0b00c65d23cee746b24b",
    # RPUSH l a b 1 -5 300 "hello world": a one-node quicklist
    "list": "120102222200000006008161028162020101dffb02c12c028b68656c6c6f20776f726c640cff0b001f56290092ffec72",
    # SADD si 3 1 2 -100 70000: an intset of 32-bit integers
    "intset": "0b1c04000000050000009cffffff010000000200000003000000701101000b00f69268d5d44ffeca",
    # ZADD z 1 a 2.5 b -3 c 1e20 d: a listpack, scores as integers or d2string text
    "zset": "1124240000000800816302dffd02816102010181620283322e35048164028531652b323006ff0b0093f01e50c1dc0694",
    # SET s <x*100>: LZF
    "string": "00c3094064017878e057000178780b0034684b1046978bd6",
    # SET n 12345: an INT16 encoded integer
    "int": "00c139300b00f44b57546e63e130",
    # SADD sl b a c: a listpack set
    "setlp": "1410100000000300816202816102816302ff0b000b8e48461667041c",
}


def _cfg(**kw: object) -> Config:
    cfg = Config()
    if kw:
        cfg.set_many([(k.replace("_", "-"), str(v)) for k, v in kw.items()], from_config_set=False)
    return cfg


# ---------------------------------------------------------------- format units


def test_crc64_and_lzf() -> None:
    assert crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA
    assert _crc64_py(0, b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(crc64(0, b"12345"), b"6789") == 0xE9C6D914C4B8D9CA
    rnd = random.Random(7)
    for _ in range(30):
        data = bytes(rnd.choice(b"abcab ") for _ in range(rnd.randint(5, 3000)))
        comp = lzf_compress_py(data, len(data) - 4)
        if comp is not None:
            assert lzf_decompress_py(comp, len(data)) == data
            assert lzf_decompress(comp, len(data)) == data
    with pytest.raises(ValueError):
        lzf_decompress_py(b"\xff\xff\xff", 10)


def test_pure_lzf_compressor_is_liblzf() -> None:
    """The fallback compressor gives liblzf's bytes, including where it gives up."""
    assert lzf_compress_py(b"x" * 100, 96) == bytes.fromhex("017878e05700017878")  # Valkey's DUMP
    # Saving under 4 bytes is not worth it (rdbSaveLzfStringObject): stored verbatim.
    marginal = b"aedlmfpabcidkmmciddobmgaofipdabcabc"
    shrunk = lzf_compress_py(marginal, len(marginal) + 8)
    assert shrunk is not None and len(shrunk) == len(marginal) - 1
    assert lzf_compress_py(marginal, len(marginal) - 4) is None
    assert enc_string(marginal) == bytes([len(marginal)]) + marginal
    try:
        import lzf
    except ImportError:
        return
    rnd = random.Random(11)
    for i in range(400):
        n = rnd.randint(1, 2000)
        alphabet = (b"ab", b"abcdefgh ", bytes(range(256)))[i % 3]
        data = bytes(rnd.choice(alphabet) for _ in range(n))
        for out_len in (n - 4, n, n + 40):
            if out_len > 1:
                c = lzf.compress(data, out_len - 1)  # python-lzf passes max_len + 1 to liblzf
                assert lzf_compress_py(data, out_len) == (bytes(c) if c else None), (i, out_len)


@pytest.mark.parametrize(("kind", "value", "enc", "golden"), [
    ("hash", [(b"f1", b"v1"), (b"f2", b"2"), (b"f3", b"x" * 30)], "listpack", "hash"),
    ("list", [b"a", b"b", b"1", b"-5", b"300", b"hello world"], "listpack", "list"),
    ("set", [b"-100", b"1", b"2", b"3", b"70000"], "intset", "intset"),  # SADD si 3 1 2 -100 70000
    ("zset", [(b"c", -3.0), (b"a", 1.0), (b"b", 2.5), (b"d", 1e20)], "listpack", "zset"),
    ("string", b"x" * 100, None, "string"),
    ("string", b"12345", None, "int"),
    ("set", [b"b", b"a", b"c"], "listpack", "setlp"),
])
def test_dump_payloads_are_byte_identical_to_valkey(kind: str, value: object, enc: object, golden: str) -> None:
    expected = bytes.fromhex(VALKEY_DUMPS[golden])
    assert dump_payload(kind, value, True, enc) == expected
    k, v, e = decode_payload(expected)
    assert (k, v) == (kind, value)
    assert e == ([[6, 34, 0]] if kind == "list" else enc)  # a list reads back as its nodes


def test_string_encodings_follow_rdbSaveRawString() -> None:
    assert enc_string(b"0") == b"\xc0\x00"
    assert enc_string(b"-128") == b"\xc0\x80"
    assert enc_string(b"-129") == b"\xc1" + struct.pack("<h", -129)
    assert enc_string(b"2147483647") == b"\xc2" + struct.pack("<i", 2147483647)
    assert enc_string(b"2147483648") == b"\x0a2147483648"  # too wide: verbatim
    for s in (b"007", b"-0", b"+1", b" 1", b"1 ", b""):
        assert enc_string(s) == bytes([len(s)]) + s
    assert enc_string(b"a" * 21)[:1] == b"\xc3"  # compressible above 20 bytes
    assert enc_string(b"a" * 21, compress=False) == b"\x15" + b"a" * 21
    assert enc_string(b"a" * 20) == b"\x14" + b"a" * 20
    assert enc_len(63) == b"\x3f" and enc_len(64) == b"\x40\x40" and enc_len(16384) == b"\x80\x00\x00\x40\x00"
    assert string2ll(b"-9223372036854775808") == -(2**63)
    assert string2ll(b"9223372036854775808") is None


def test_listpack_round_trip_every_width() -> None:
    entries = [b"0", b"127", b"128", b"-1", b"4095", b"-4096", b"4096", b"32767", b"-32768",
               b"70000", b"-9000000", b"8388607", b"2147483648", b"-9223372036854775808",
               b"9223372036854775807", b"hello", b"x" * 63, b"x" * 64, b"y" * 4095, b"y" * 4096,
               b"007", b"-0", b""]
    blob = listpack_build(entries)
    assert listpack_entries(blob) == entries
    assert len(listpack_build([b"z"] * 70000)) > 0
    assert struct.unpack_from("<H", listpack_build([b"z"] * 70000), 4)[0] == 65535


@pytest.mark.parametrize("mutate", ["total", "eof", "count", "backlen", "badenc", "short"])
def test_listpack_integrity_errors(mutate: str) -> None:
    blob = bytearray(listpack_build([b"abc", b"12", b"x" * 200]))
    if mutate == "total":
        blob[0] += 1
    elif mutate == "eof":
        blob[-1] = 0
    elif mutate == "count":
        blob[4] = 7
    elif mutate == "backlen":
        blob[6 + 4] = 9  # the back-length byte after "abc"
    elif mutate == "badenc":
        blob[6] = 0xF7
    else:
        blob = blob[:5]
    with pytest.raises(RdbError):
        listpack_entries(bytes(blob))


def _ziplist(entries: list[bytes]) -> bytes:
    """A valid ziplist of short strings and small integers (13..-1 immediates)."""
    body = b""
    prev = 0
    tail = 10
    for e in entries:
        v = string2ll(e)
        enc = bytes([0xF1 + v]) if v is not None and 0 <= v <= 12 else bytes([len(e)]) + e
        entry = bytes([prev]) + enc
        tail = 10 + len(body)
        body += entry
        prev = len(entry)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(entries)) + body + b"\xff"


def test_ziplist_intset_zipmap_decoding() -> None:
    zl = _ziplist([b"ab", b"12", b"7", b"hello"])
    assert ziplist_entries(zl) == [b"ab", b"12", b"7", b"hello"]
    broken = bytearray(zl)
    broken[10 + 4] = 9  # the second entry's prevlen
    with pytest.raises(RdbError):
        ziplist_entries(bytes(broken))
    blob = intset_build([300, -5, 0])
    assert blob == struct.pack("<II3h", 2, 3, -5, 0, 300)
    assert intset_members(blob) == [b"-5", b"0", b"300"]
    assert intset_build([1, 2**40])[:4] == b"\x08\x00\x00\x00"
    with pytest.raises(RdbError):
        intset_members(blob[:-1])
    with pytest.raises(RdbError):
        intset_members(struct.pack("<II2h", 2, 2, 5, 5))  # duplicate
    zm = b"\x02" + b"\x02f1\x02\x00v1" + b"\x02f2\x02\x01v2_" + b"\xff"  # one free byte after v2
    assert zipmap_pairs(zm) == [(b"f1", b"v1"), (b"f2", b"v2")]
    with pytest.raises(RdbError):
        zipmap_pairs(zm[:-1])
    assert module_type_name((0b000001 << 58) | 5) == "BAAAAAAAA"


@pytest.mark.parametrize(("kind", "value", "cfg", "enc"), [
    ("hash", [(b"a", b"1")] * 1 + [(b"b", b"x" * 100)], {}, "hashtable"),
    ("hash", [(b"f%d" % i, b"v") for i in range(10)], {}, "listpack"),
    ("hash", [(b"f%d" % i, b"v") for i in range(10)], {"hash_max_listpack_entries": 5}, "hashtable"),
    ("set", [b"%d" % i for i in range(10)], {}, "intset"),
    ("set", [b"%d" % i for i in range(10)], {"set_max_intset_entries": 5}, "hashtable"),
    ("set", [b"%d" % i for i in range(200)], {}, "intset"),
    ("set", [b"%d" % i for i in range(600)], {}, "hashtable"),
    ("set", [b"a", b"1"], {}, "listpack"),
    ("zset", [(b"m%d" % i, float(i)) for i in range(5)], {}, "listpack"),
    ("zset", [(b"m%d" % i, float(i)) for i in range(200)], {}, "skiplist"),
    ("list", [b"e%d" % i for i in range(10)], {}, "listpack"),
    ("list", [b"e%d" % i for i in range(3000)], {}, "quicklist"),
])
def test_plain_types_load_with_valkeys_encoding(kind: str, value: list, cfg: dict, enc: str) -> None:  # type: ignore[type-arg]
    """Old plain RDB types get the encoding rdbLoadObject gives them."""
    v = from_neutral(kind, value, _cfg(**cfg), None)
    assert v.encoding() == enc


def test_compact_types_keep_their_encoding_up_to_the_entry_limits() -> None:
    cfg = _cfg()
    long = [(b"f", b"v" * 500)]
    assert from_neutral("hash", long, cfg, "listpack").encoding() == "listpack"  # no length check
    assert from_neutral("hash", long, cfg, "zipmap").encoding() == "hashtable"  # zipmap checks it
    many = [(b"f%d" % i, b"v") for i in range(10)]
    assert from_neutral("hash", many, _cfg(hash_max_listpack_entries=5), "listpack").encoding() == "hashtable"
    assert from_neutral("set", [b"1", b"2"], _cfg(set_max_intset_entries=1), "intset").encoding() == "hashtable"
    assert from_neutral("zset", [(b"x" * 200, 1.0)], cfg, "listpack").encoding() == "listpack"
    # a stored quicklist node that fits becomes a listpack (LIST_CONV_AUTO)...
    assert from_neutral("list", [b"a", b"b"], cfg, [[2, 11, 0]]).encoding() == "listpack"
    # ...two nodes stay a quicklist, and so does an old ziplist-encoded list
    assert from_neutral("list", [b"a", b"b"], cfg, [[1, 9, 0], [1, 9, 0]]).encoding() == "quicklist"
    assert from_neutral("list", [b"a", b"b"], cfg, "ziplist").encoding() == "quicklist"
    for kind, dup in (("hash", [(b"a", b"1"), (b"a", b"2")]), ("set", [b"x", b"x"]),
                      ("zset", [(b"a", 1.0), (b"a", 2.0)])):
        for enc in (None, "listpack"):
            with pytest.raises(RdbError):
                from_neutral(kind, dup, cfg, enc)
    assert from_neutral("set", [], cfg, None) is None


def _image(keys: list[tuple[bytes, str, object, int | None]], aux: list[tuple[bytes, bytes]] | None = None,
           checksum: bool = True, db: int = 0) -> bytes:
    buf = io.BytesIO()
    w = Writer(buf, checksum=checksum)
    w.header(aux or [(b"redis-bits", b"64")])
    w.select_db(db, len(keys), sum(1 for k in keys if k[3] is not None))
    for key, kind, value, when in keys:
        w.key(key, kind, value, when)
    w.finish()
    return buf.getvalue()


SMALL_KEYS: list[tuple[bytes, str, object, int | None]] = [
    (b"s", "string", b"value" * 10, None),
    (b"l", "list", [b"a", b"1", b"b" * 100], 2**41),
    (b"h", "hash", [(b"f", b"v"), (b"g", b"12")], None),
    (b"z", "zset", [(b"a", 1.5), (b"b", 2.0)], None),
    (b"i", "set", [b"1", b"2", b"3"], None),
]


def test_truncated_images_always_fail_cleanly() -> None:
    data = _image(SMALL_KEYS)
    assert len(load_all(data)[1]) == len(SMALL_KEYS)
    for cut in range(len(data)):
        with pytest.raises(RdbError):
            load_all(data[:cut])


def test_every_flipped_byte_is_detected() -> None:
    """Except in the version digits: "REDIS001k" reads as version 1 (atoi), which has no
    checksum and the same layout, so Valkey loads it too."""
    data = _image(SMALL_KEYS)
    for pos in [*range(5), *range(9, len(data))]:
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(RdbError):
            load_all(bytes(bad))


def test_checksum_and_header_errors() -> None:
    data = bytearray(_image(SMALL_KEYS))
    data[-1] ^= 1
    with pytest.raises(RdbError, match=r"Wrong RDB checksum expected: \([0-9a-f]+\) but got \([0-9a-f]+\)"):
        load_all(bytes(data))
    assert len(load_all(_image(SMALL_KEYS, checksum=False))[1]) == 5  # a zero checksum is not checked
    with pytest.raises(RdbError, match="Can't handle RDB format version 12"):
        load_all(b"REDIS0012" + bytes(data[9:]))
    with pytest.raises(RdbError, match="Wrong signature"):
        load_all(b"RUDIS0011" + bytes(data[9:]))
    with pytest.raises(RdbError, match="more than 16 databases"):
        load_all(_image(SMALL_KEYS, db=16))


@pytest.mark.parametrize("payload", [
    b"\x00\x80\x00\x00\x01\x00",  # a 2^24-byte string in 6 bytes
    b"\x00\x81\x00\x00\x01\x00\x00\x00\x00\x00",  # a 2^40-byte string
    b"\x00\xc3\x05\x81\x00\x00\x01\x00\x00\x00\x00\x00abcde",  # LZF claiming 2^40 bytes
    b"\x01\x81\x10\x00\x00\x00\x00\x00\x00\x00\x00",  # a list of 2^60 elements
    b"\x0b\x0c\x02\x00\x00\x00\xff\xff\xff\x7f\x01\x00",  # an intset claiming 2^31 members
    b"\x12\x01\x07\x02ab",  # a quicklist node with a bad container
    b"\x07\x81\xff\xff\xff\xff\xff\xff\xff\xff",  # a module value
    b"\x08",  # no such type
])
def test_absurd_lengths_and_types_are_refused(payload: bytes) -> None:
    body = payload + struct.pack("<H", 11)
    data = body + struct.pack("<Q", crc64(0, body))
    with pytest.raises(RdbError):
        decode_payload(data)


def test_module_data_and_newer_opcodes() -> None:
    # A module aux record: refused with Valkey's message (no module can load it).
    mid = (5 << 10) | 1
    aux = bytes([247]) + enc_len(mid) + enc_len(2) + enc_len(1) + enc_len(1) + enc_len(7) + enc_len(0)
    base = _image([(b"k", "string", b"v", None)])
    data = base[:9] + aux + base[9:-8]
    data += struct.pack("<Q", crc64(0, data))
    with pytest.raises(RdbError, match=r"AUX module data I can't load: no matching module 'AAAAAAAAF'"):
        load_all(data)
    # kaa-check-rdb walks it instead.
    path = Path(os.environ.get("TMPDIR", "/tmp"), f"kaa-mod-{os.getpid()}.rdb")
    path.write_bytes(data)
    out = io.StringIO()
    try:
        assert check(str(path), out) == 0
    finally:
        path.unlink()
    assert "MODULE AUX for: AAAAAAAAF" in out.getvalue() and "Checksum OK" in out.getvalue()
    # SLOT_INFO (244), FUNCTION2, IDLE and FREQ opcodes are read.
    extra = (bytes([244]) + enc_len(1) + enc_len(2) + enc_len(0) + bytes([245]) + enc_string(b"#!lua name=x\n")
             + bytes([248]) + enc_len(100) + bytes([249, 7]))
    body = base[:9] + extra + base[9:-8]
    body += struct.pack("<Q", crc64(0, body))
    contents, keys = load_all(body)
    assert contents.functions == [b"#!lua name=x\n"]
    assert (keys[0].key, keys[0].idle, keys[0].freq) == (b"k", 100, 7)
    body2 = base[:-9] + bytes([248]) + enc_len(100) + b"\x00\x01x\x01y" + b"\x00\x01z\x01y" + b"\xff"
    body2 += struct.pack("<Q", crc64(0, body2))
    last = load_all(body2)[1]
    assert [(k.key, k.idle) for k in last] == [(b"k", None), (b"x", 100), (b"z", None)]  # one key each


# ---- hypothesis: round trips and fuzzing of the loader and of RESTORE's decoder

_bytes = st.binary(max_size=90) | st.sampled_from([b"0", b"-1", b"127", b"32768", b"-2147483649", b"9223372036854775807"])
_values = st.one_of(
    st.tuples(st.just("string"), _bytes, st.just(None)),
    st.tuples(st.just("list"), st.lists(_bytes, min_size=1, max_size=40), st.sampled_from([None, "listpack"])),
    st.tuples(st.just("hash"), st.dictionaries(_bytes, _bytes, min_size=1, max_size=20).map(lambda d: list(d.items())),
              st.sampled_from([None, "listpack", "hashtable"])),
    st.tuples(st.just("set"), st.sets(_bytes, min_size=1, max_size=30).map(sorted), st.sampled_from([None, "listpack", "hashtable"])),
    st.tuples(st.just("set"), st.sets(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=30).map(
        lambda s: [b"%d" % v for v in sorted(s)]), st.just("intset")),
    st.tuples(st.just("zset"), st.dictionaries(_bytes, st.floats(allow_nan=False), min_size=1, max_size=20).map(
        lambda d: sorted(((m, s) for m, s in d.items()), key=lambda p: (p[1], p[0]))), st.sampled_from([None, "listpack", "skiplist"])),
)


def _norm(kind: str, v: object) -> object:
    if kind == "set":
        return sorted(v)  # type: ignore[call-overload]
    if kind == "zset":  # a skiplist is stored greatest first
        return sorted(((m, 0.0 if s == 0 else s) for m, s in v), key=lambda p: (p[1], p[0]))  # type: ignore[attr-defined]
    return v


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values, st.booleans())
def test_hypothesis_value_round_trip(kv: tuple[str, object, object], compress: bool) -> None:
    kind, value, enc = kv
    payload = dump_payload(kind, value, compress, enc)
    k, v = restore_payload(payload)
    assert k == kind and _norm(kind, v) == _norm(kind, value)
    assert from_neutral(k, v, _cfg(), None) is not None or kind == "string"


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<Q", crc64(0, body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values, st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(0, 8))
def test_hypothesis_mutated_payloads_never_crash(kv: tuple[str, object, object],
                                                 flips: list[tuple[int, int]], chop: int) -> None:
    """Mutations resealed with a valid CRC reach the decoders: they either decode or
    raise RdbError, and what decodes either builds a value or raises RdbError."""
    kind, value, enc = kv
    body = bytearray(dump_payload(kind, value, True, enc)[:-8])
    for pos, val in flips:
        if len(body) > 2:
            body[pos % (len(body) - 2)] = val
    data = _reseal(bytes(body[: max(3, len(body) - 2 - chop)]) + bytes(body[-2:]))
    try:
        k, v, e = decode_payload(data)
    except RdbError:
        return
    try:
        from_neutral(k, v, _cfg(), e)
    except RdbError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.integers(0, 200))
def test_hypothesis_loader_on_garbage(junk: bytes, at: int) -> None:
    base = _image(SMALL_KEYS)
    at = min(at, len(base) - 9)
    data = base[: 9 + at] + junk
    try:
        load_all(data + struct.pack("<Q", crc64(0, data)))
    except RdbError:
        pass


# ---------------------------------------------------------------- through the server


def test_round_trip_every_type_and_encoding_through_restart(tmp_path: Path) -> None:
    d = str(tmp_path)
    sp = kaa(d, "--save", "")
    try:
        c = sp.client()
        build_dataset(c)
        for db in range(16):  # every database, each with a key that has a TTL
            c.execute_command("SELECT", db)
            c.set(f"every:{db}", db, px=600_000 + db)
            c.hset(f"every:h{db}", "db", db)
        c.execute_command("SELECT", 0)
        before = snapshot(c)
        assert len(before) > 100 and {db for db, _ in before} == set(range(16))
        encs = {s.encoding for s in before.values()}
        assert {b"int", b"embstr", b"raw", b"listpack", b"quicklist", b"hashtable", b"intset",
                b"skiplist", b"stream"} <= encs
        assert c.save()
        c.execute_command("DEBUG", "RELOAD")
        assert_same(before, snapshot(c))
    finally:
        sp.stop()
    mode = os.stat(tmp_path / "dump.rdb").st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("temp-")] == []
    sp = kaa(d, "--save", "")
    try:
        after = snapshot(sp.client())
        assert_same(before, after)
        assert "Done loading RDB, keys loaded: %d, keys expired: 0." % len(before) in sp.output()
        assert "DB loaded from disk" in sp.output()
    finally:
        sp.stop()
    out = io.StringIO()
    assert check(str(tmp_path / "dump.rdb"), out) == 0
    assert "Checksum OK" in out.getvalue()


def test_load_converts_by_the_current_thresholds(r: redis.Redis) -> None:
    r.hset("h", mapping={b"f%d" % i: b"v" for i in range(20)})
    r.zadd("z", {b"m%d" % i: i for i in range(20)})
    r.sadd("s", *[b"%d" % i for i in range(20)])
    r.sadd("sl", *[b"m%d" % i for i in range(20)])
    try:
        r.config_set("hash-max-listpack-entries", 10)
        r.config_set("zset-max-listpack-entries", 10)
        r.config_set("set-max-intset-entries", 10)
        r.config_set("set-max-listpack-entries", 10)
        r.execute_command("DEBUG", "RELOAD")
        assert [r.object("encoding", k) for k in ("h", "z", "s", "sl")] == [b"hashtable", b"skiplist", b"hashtable", b"hashtable"]
        assert r.hlen("h") == 20 and r.zcard("z") == 20 and r.scard("s") == 20
    finally:
        r.config_set("hash-max-listpack-entries", 128)
        r.config_set("zset-max-listpack-entries", 128)
        r.config_set("set-max-intset-entries", 512)
        r.config_set("set-max-listpack-entries", 128)


def test_hash_field_ttls_are_saved_as_valkey_8_can(r: redis.Redis) -> None:
    r.hset("h", mapping={"keep": "1", "soon": "2", "later": "3"})
    try:
        r.execute_command("HPEXPIRE", "h", 30, "FIELDS", 1, "soon")
        r.execute_command("HPEXPIRE", "h", 500_000, "FIELDS", 1, "later")
    except redis.ResponseError:
        pytest.skip("hash field expiry is not available")
    time.sleep(0.06)
    r.execute_command("DEBUG", "RELOAD")
    assert r.hgetall("h") == {b"keep": b"1", b"later": b"3"}
    assert r.execute_command("HPTTL", "h", "FIELDS", 1, "later") == [-1]


def test_expired_keys_are_saved_and_skipped_when_loaded(r: redis.Redis) -> None:
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    try:
        for i in range(20):
            r.set(f"gone{i}", "v", px=5)
        r.set("stays", "v")
        time.sleep(0.02)
        r.execute_command("DEBUG", "RELOAD")
        info = r.info("persistence")
        assert info["rdb_last_load_keys_expired"] == 20
        assert info["rdb_last_load_keys_loaded"] == 1
        assert r.dbsize() == 1
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)


def test_debug_reload_options_and_errors(r: redis.Redis, kaa_proc: object) -> None:
    r.set("a", "1")
    r.execute_command("DEBUG", "RELOAD")
    r.set("b", "2")
    r.execute_command("DEBUG", "RELOAD", "NOSAVE")  # back to the saved dataset
    assert r.get("a") == b"1" and r.get("b") is None
    r.set("a", "changed")
    r.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE")
    assert r.get("a") == b"1"
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
        r.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")  # duplicate keys without MERGE
    with pytest.raises(redis.ResponseError, match="only supports the MERGE, NOFLUSH and NOSAVE"):
        r.execute_command("DEBUG", "RELOAD", "FAST")
    path = Path(kaa_proc.dir, "dump.rdb")  # type: ignore[attr-defined]
    good = path.read_bytes()
    path.write_bytes(good[:-3] + b"xyz")
    try:
        with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
            r.execute_command("DEBUG", "RELOAD", "NOSAVE")
        assert r.get("a") == b"1"  # a corrupt file changes nothing
    finally:
        path.write_bytes(good)


def raw_cmd(c: redis.Redis, *args: object) -> object:
    """A command's reply without redis-py's per-command parsing (BGSAVE -> True)."""
    connection = c.connection_pool.get_connection()
    try:
        connection.send_command(*args)
        return connection.read_response()
    finally:
        c.connection_pool.release(connection)


def test_save_lastsave_and_info_fields(r: redis.Redis) -> None:
    saves = r.info("persistence")["rdb_saves"]
    r.set("x", "y")
    assert r.info("persistence")["rdb_changes_since_last_save"] >= 1
    assert r.save()
    info = r.info("persistence")
    assert info["rdb_changes_since_last_save"] == 0
    assert info["rdb_saves"] == saves + 1
    assert info["rdb_last_bgsave_status"] == "ok"
    assert abs(r.lastsave().timestamp() - time.time()) < 5
    assert raw_cmd(r, "BGSAVE", "SCHEDULE") == b"Background saving started"
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BGSAVE", "NOW")
    assert wait_for(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0)
    assert r.info("stats")["total_forks"] >= 1
    assert r.info("stats")["latest_fork_usec"] > 0
    with pytest.raises(redis.ResponseError, match="not in progress or scheduled"):
        raw_cmd(r, "BGSAVE", "CANCEL")


def test_bgsave_child_info_kill9_and_misconf(tmp_path: Path) -> None:
    """A BGSAVE child killed mid-write leaves the previous dump intact, marks the save as
    failed and (with save points) refuses writes with MISCONF until a save succeeds."""
    d = str(tmp_path)
    sp = kaa(d, "--save", "3600 1")
    try:
        c = sp.client()
        c.set("old", "dump")
        assert c.save()
        old = (tmp_path / "dump.rdb").read_bytes()
        c.execute_command("DEBUG", "POPULATE", 3000)
        c.config_set("rdb-key-save-delay", 2000)  # 2 ms per key: ~6 s
        assert c.bgsave()
        info = c.info("persistence")
        assert info["rdb_bgsave_in_progress"] == 1 and info["rdb_current_bgsave_time_sec"] >= 0
        assert info["current_save_keys_total"] == 3001
        with pytest.raises(redis.ResponseError, match="Background save already in progress"):
            c.bgsave()
        with pytest.raises(redis.ResponseError, match="Background save already in progress"):
            c.save()
        assert wait_for(lambda: c.info("persistence")["current_save_keys_processed"] > 0, 5)
        assert float(c.info("persistence")["current_fork_perc"]) > 0
        pid = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == sp.proc.pid)
        assert wait_for(lambda: any(p.name.startswith("temp-") for p in tmp_path.iterdir()), 5)
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0)
        assert (tmp_path / "dump.rdb").read_bytes() == old
        assert not any(p.name.startswith("temp-") for p in tmp_path.iterdir())
        assert c.info("persistence")["rdb_last_bgsave_status"] == "err"
        misconf = "MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to disk."
        with pytest.raises(redis.ResponseError, match=misconf):
            c.set("x", "y")
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            c.ping()
        assert c.get("old") == b"dump"  # reads work
        c.config_set("stop-writes-on-bgsave-error", "no")
        assert c.set("x", "y")
        c.config_set("stop-writes-on-bgsave-error", "yes")
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            c.set("x", "y")
        c.config_set("rdb-key-save-delay", 0)
        assert c.bgsave()
        assert wait_for(lambda: c.info("persistence")["rdb_last_bgsave_status"] == "ok")
        assert c.set("x", "z")
        assert "Background saving terminated by signal 9" in sp.output()
        assert c.info("persistence")["rdb_last_cow_size"] > 0
    finally:
        sp.stop()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def test_bgsave_cancel_and_flushall(tmp_path: Path) -> None:
    sp = kaa(str(tmp_path), "--save", "")
    try:
        c = sp.client()
        c.execute_command("DEBUG", "POPULATE", 2000)
        c.config_set("rdb-key-save-delay", 2000)
        c.bgsave()
        assert raw_cmd(c, "BGSAVE", "CANCEL") == b"Background saving cancelled"
        assert wait_for(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0)
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"  # SIGUSR1 is not a failure
        assert "Background saving terminated by signal 10" in sp.output()
        c.bgsave()
        c.flushall()
        assert wait_for(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, 2)
        assert c.info("persistence")["rdb_changes_since_last_save"] > 1000
        assert not (tmp_path / "dump.rdb").exists()
    finally:
        sp.stop()


def test_save_points_trigger_bgsave(tmp_path: Path) -> None:
    sp = kaa(str(tmp_path), "--save", "1 2")
    try:
        c = sp.client()
        c.set("a", "1")
        time.sleep(1.2)
        assert c.info("persistence")["rdb_saves"] == 0  # one change is not enough
        c.set("b", "2")
        assert wait_for(lambda: c.info("persistence")["rdb_changes_since_last_save"] == 0, 5)
        assert "2 changes in 1 seconds. Saving..." in sp.output()
        assert c.config_get("save") == {"save": "1 2"}
    finally:
        code = sp.stop()
    assert code == 0
    assert "Saving the final RDB snapshot before exiting." in sp.output()


def test_shutdown_save_and_nosave(tmp_path: Path) -> None:
    d = str(tmp_path)
    sp = kaa(d, "--save", "")
    c = sp.client()
    c.set("k", "saved")
    with pytest.raises(redis.ConnectionError):
        c.execute_command("SHUTDOWN", "SAVE")
    sp.stop()
    sp = kaa(d, "--save", "3600 1")
    c = sp.client()
    assert c.get("k") == b"saved"
    c.set("k", "not saved")
    with pytest.raises(redis.ConnectionError):
        c.execute_command("SHUTDOWN", "NOSAVE")
    sp.stop()
    sp = kaa(d, "--save", "")
    try:
        assert sp.client().get("k") == b"saved"
    finally:
        sp.stop()


def test_loading_replies_loading_and_reports_progress(tmp_path: Path) -> None:
    d = str(tmp_path)
    sp = kaa(d, "--save", "")
    c = sp.client()
    c.execute_command("DEBUG", "POPULATE", 20000, "key", 100)
    c.save()
    sp.stop()
    sp = kaa(d, "--save", "", "--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024",
             wait=False)
    try:
        assert wait_for(lambda: _accepts(sp.port), 20)
        c = conn(sp.port)
        info = _try_info(c)
        assert info is not None and info["loading"] == 1, info
        assert {"loading_start_time", "loading_total_bytes", "loading_loaded_bytes", "loading_loaded_perc",
                "loading_eta_seconds", "loading_rdb_used_mem"} <= set(info)
        assert info["loading_total_bytes"] == os.path.getsize(tmp_path / "dump.rdb")
        with pytest.raises(redis.BusyLoadingError, match="Valkey is loading the dataset in memory"):
            c.get("key:1")
        assert c.execute_command("DEBUG", "LOG", "hello") == b"OK"  # flagged loading: allowed
        assert wait_for(lambda: _try_info(c)["loading"] == 0, 30)  # type: ignore[index]
        assert c.get("key:1") is not None and c.dbsize() == 20000
        assert c.info("persistence")["rdb_last_load_keys_loaded"] == 20000
        out = sp.output()
        out = out[out.rindex("Kaa is starting"):]  # this run's lines
        assert out.index("Server initialized") < out.index("Done loading RDB") < out.index("Ready to accept")
    finally:
        sp.stop()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _try_info(c: redis.Redis) -> dict | None:  # type: ignore[type-arg]
    try:
        return c.info("persistence")  # type: ignore[no-any-return]
    except redis.ConnectionError:
        return None


@pytest.mark.parametrize("damage", ["crc", "truncate", "flip", "version", "signature"])
def test_corrupt_files_refuse_to_start(tmp_path: Path, damage: str) -> None:
    d = str(tmp_path)
    sp = kaa(d, "--save", "")
    c = sp.client()
    for i in range(50):
        c.set(f"k{i}", "v" * 50)
    c.rpush("list", *range(100))
    c.save()
    sp.stop()
    path = tmp_path / "dump.rdb"
    data = bytearray(path.read_bytes())
    if damage == "crc":
        data[-8:] = b"foobar00"
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x55
    elif damage == "version":
        data[5:9] = b"0012"
    else:
        data[0:5] = b"XEDIS"
    path.write_bytes(bytes(data))
    code, out = run_kaa_expect_exit(d)
    assert code != 0
    if damage == "crc":
        assert "CRC error" in out and "Wrong RDB checksum expected" in out
    elif damage == "truncate":
        assert "Short read or OOM loading DB" in out
    elif damage == "version":
        assert "Can't handle RDB format version 12" in out and "Fatal error loading the DB" in out
    elif damage == "signature":
        assert "Wrong signature trying to load DB from file" in out
    if damage in ("crc", "truncate", "flip"):
        assert "--- RDB ERROR DETECTED ---" in out
        assert "Terminating server after rdb file reading failure." in out


def test_idle_and_freq_survive_save_and_load(tmp_path: Path) -> None:
    d = str(tmp_path)
    sp = kaa(d, "--save", "", "--maxmemory-policy", "allkeys-lru")
    try:
        c = sp.client()
        c.set("k", "v")
        payload: Any = c.dump("k")
        c.restore("old", 0, payload, idletime=5000)
        assert 5000 <= c.object("idletime", "old") <= 5002
        c.save()
    finally:
        sp.stop()
    sp = kaa(d, "--save", "", "--maxmemory-policy", "allkeys-lru")
    try:
        c = sp.client()
        assert 5000 <= c.object("idletime", "old") <= 5003
        assert c.object("idletime", "k") < 10
    finally:
        sp.stop()
    sp = kaa(d, "--save", "", "--maxmemory-policy", "allkeys-lfu")
    try:
        c = sp.client()
        c.restore("hot", 0, payload, frequency=200)
        assert c.object("freq", "hot") == 200
        c.save()
    finally:
        sp.stop()
    sp = kaa(d, "--save", "", "--maxmemory-policy", "allkeys-lfu")
    try:
        assert sp.client().object("freq", "hot") == 200
    finally:
        sp.stop()


def test_dump_restore_options_and_errors(r: redis.Redis) -> None:
    r.set("src", "payload-value")
    payload = r.dump("src")
    assert payload is not None and r.dump("missing") is None
    r.restore("dst", 0, payload)
    assert r.get("dst") == b"payload-value" and r.ttl("dst") == -1
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists.$"):
        r.restore("dst", 0, payload)
    r.restore("dst", 100000, payload, replace=True)
    assert 90000 < r.pttl("dst") <= 100000
    r.restore("abs", int(time.time() * 1000) + 50000, payload, absttl=True)
    assert 40000 < r.pttl("abs") <= 50000
    r.restore("abs", 1000, payload, absttl=True, replace=True)  # in the past: deleted, not created
    assert r.exists("abs") == 0
    r.restore("big", 2569591501, payload)
    assert r.pttl("big") > 2569591501 - 5000
    for args, msg in [
        ((0, payload, "IDLETIME", -1), "Invalid IDLETIME value, must be >= 0"),
        ((0, payload, "FREQ", 256), "Invalid FREQ value, must be >= 0 and <= 255"),
        ((0, payload, "FREQ", "x"), "value is not an integer or out of range"),
        ((0, payload, "IDLETIME", 1, "FREQ", 1), "syntax error"),
        ((0, payload, "FREQ", 1, "IDLETIME", 1), "syntax error"),
        ((0, payload, "IDLETIME"), "syntax error"),
        ((0, payload, "BOGUS"), "syntax error"),
        ((-1, payload), "Invalid TTL value, must be >= 0"),
        (("ttl", payload), "value is not an integer or out of range"),
        ((0, b"short"), "DUMP payload version or checksum are wrong"),
        ((0, payload[:-1] + bytes([payload[-1] ^ 1])), "DUMP payload version or checksum are wrong"),
        ((0, _reseal(b"\x00\x05ab" + struct.pack("<H", 11))), "Bad data format"),
        ((0, _reseal(b"\x08\x00" + struct.pack("<H", 11))), "Bad data format"),
        ((0, _reseal(b"\x00\x01a" + struct.pack("<H", 12))), "DUMP payload version or checksum are wrong"),
        ((0, _reseal(b"\x04\x00" + struct.pack("<H", 11))), "Bad data format"),  # an empty hash
    ]:
        with pytest.raises(redis.ResponseError, match=msg):
            r.execute_command("RESTORE", "new", *args)
    assert r.exists("new") == 0
    # BUSYKEY comes before the TTL and payload checks, as in Valkey.
    with pytest.raises(redis.ResponseError, match="BUSYKEY"):
        r.execute_command("RESTORE", "dst", -1, b"junk")


def test_restore_of_every_type_keeps_encoding(r: redis.Redis) -> None:
    build_dataset(r, streams=True, big=True)
    keys: Any = r.keys("d0:*")
    for k in keys:
        t: Any = r.type(k)
        enc = r.object("encoding", k)
        payload: Any = r.dump(k)
        r.restore(b"copy:" + k, 0, payload)
        assert r.object("encoding", b"copy:" + k) == enc, k
        if t != b"stream":
            assert r.dump(b"copy:" + k) == payload or t == b"set", k
    r.select(0)


def test_restore_fuzzed_payloads_over_the_wire(r: redis.Redis) -> None:
    r.rpush("l", *[b"v%d" % i for i in range(50)])
    r.hset("h", mapping={b"f%d" % i: b"%d" % i for i in range(20)})
    rnd = random.Random(3)
    for key in ("l", "h"):
        payload = r.dump(key)
        assert payload is not None
        for _ in range(150):
            b = bytearray(payload[:-8])
            for _ in range(rnd.randint(1, 3)):
                b[rnd.randrange(len(b) - 2)] = rnd.randrange(256)
            try:
                r.restore("fz", 0, _reseal(bytes(b)), replace=True)
            except redis.ResponseError as e:
                assert str(e) in ("Bad data format", "DUMP payload version or checksum are wrong"), e
    assert r.ping()


def test_check_rdb_tool_reports_corruption(tmp_path: Path) -> None:
    path = tmp_path / "dump.rdb"
    path.write_bytes(_image(SMALL_KEYS, aux=[(b"valkey-ver", b"8.0.2")]))
    out = io.StringIO()
    assert check(str(path), out) == 0
    text = out.getvalue()
    assert "\\o/ RDB looks OK! \\o/" in text and "[info] 5 keys read" in text and "[info] 1 expires" in text
    assert "AUX FIELD valkey-ver = '8.0.2'" in text and "Selecting DB ID 0" in text
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    out = io.StringIO()
    assert check(str(path), out) == 1
    assert "--- RDB ERROR DETECTED ---" in out.getvalue() and "RDB CRC error" in out.getvalue()
    path.write_bytes(bytes(data[:40]))
    out = io.StringIO()
    assert check(str(path), out) == 1
    assert "Unexpected EOF reading RDB file" in out.getvalue()


def test_writer_compact_encodings_read_back_with_hints() -> None:
    """write_value + read_value for each hint: the RDB type Valkey uses and the same content."""
    cases = [
        ("list", [b"a"] * 3, "listpack", 18), ("list", [b"x" * 9000, b"b"], [[1, 9000, 1], [1, 9, 0]], 18),
        ("hash", [(b"a", b"b")], "listpack", 16), ("hash", [(b"a", b"b")], "hashtable", 4),
        ("set", [b"1", b"2"], "intset", 11), ("set", [b"a"], "listpack", 20), ("set", [b"a"], "hashtable", 2),
        ("zset", [(b"a", 1.0)], "listpack", 17), ("zset", [(b"a", 1.0), (b"b", 2.0)], "skiplist", 5),
    ]
    from kaa.persistence.rdb_format import Reader

    for kind, value, enc, rdbtype in cases:
        t, payload = write_value(kind, value, True, enc)
        assert t == rdbtype, (kind, enc)
        k, v, e = read_value(Reader(payload), t)
        expected: Any = value
        assert k == kind and (v == expected or (enc == "skiplist" and v == expected[::-1])), (kind, enc)
    # skiplists are written greatest first, as zsl's tail-to-head walk
    t, payload = write_value("zset", [(b"a", 1.0), (b"b", 2.0)], True, "skiplist")
    assert payload == b"\x02\x01b" + struct.pack("<d", 2.0) + b"\x01a" + struct.pack("<d", 1.0)
    # list-compress-depth: inner nodes are stored LZF-compressed
    nodes = [[1, 0, 0], [1, 0, 0], [1, 0, 0]]
    _, payload = write_value("list", [b"a" * 100, b"b" * 100, b"c" * 100], True, nodes, depth=1)
    assert payload.count(b"\xc3") == 3  # each compressible node; the middle one as a compressed node
    assert read_value(Reader(payload), 18)[1] == [b"a" * 100, b"b" * 100, b"c" * 100]
