"""Unit and property tests for the sans-I/O RESP2/RESP3 reply parser."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaa.cli.format import format_raw, format_tty, quote_bytes
from kaa.protocol.reply_reader import (
    NULL,
    Array,
    Attribute,
    BigNumber,
    Boolean,
    Bulk,
    Double,
    Error,
    Integer,
    Map,
    ProtocolError,
    Push,
    Reply,
    ReplyReader,
    Set,
    SimpleString,
    Verbatim,
)


def parse_all(data: bytes) -> list[Reply]:
    reader = ReplyReader()
    reader.feed(data)
    replies = list(reader)
    assert reader.buffered() == 0
    return replies


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"+OK\r\n", SimpleString(b"OK")),
        (b"-ERR bad thing\r\n", Error(b"ERR bad thing")),
        (b":-42\r\n", Integer(-42)),
        (b"$3\r\nfoo\r\n", Bulk(b"foo")),
        (b"$0\r\n\r\n", Bulk(b"")),
        (b"$4\r\na\r\nb\r\n", Bulk(b"a\r\nb")),
        (b"$-1\r\n", NULL),
        (b"*-1\r\n", NULL),
        (b"_\r\n", NULL),
        (b"*0\r\n", Array(())),
        (b"*2\r\n:1\r\n$1\r\nx\r\n", Array((Integer(1), Bulk(b"x")))),
        (b"*2\r\n*1\r\n+a\r\n*0\r\n", Array((Array((SimpleString(b"a"),)), Array(())))),
        (b"%1\r\n+k\r\n:1\r\n", Map(((SimpleString(b"k"), Integer(1)),))),
        (b"%0\r\n", Map(())),
        (b"~2\r\n:1\r\n:2\r\n", Set((Integer(1), Integer(2)))),
        (b">2\r\n+a\r\n+b\r\n", Push((SimpleString(b"a"), SimpleString(b"b")))),
        (b",1.5\r\n", Double(1.5, b"1.5")),
        (b",-inf\r\n", Double(-math.inf, b"-inf")),
        (b"#t\r\n", Boolean(True)),
        (b"#f\r\n", Boolean(False)),
        (b"(-12345678901234567890\r\n", BigNumber(-12345678901234567890, b"-12345678901234567890")),
        (b"=7\r\ntxt:abc\r\n", Verbatim(b"txt", b"abc")),
        (b"!5\r\nOOPS!\r\n", Error(b"OOPS!")),
        (
            b"|1\r\n+ttl\r\n:5\r\n$1\r\nv\r\n",
            Attribute(((SimpleString(b"ttl"), Integer(5)),), Bulk(b"v")),
        ),
        (
            b"*2\r\n|0\r\n:1\r\n:2\r\n",
            Array((Attribute((), Integer(1)), Integer(2))),
        ),
    ],
)
def test_parses_each_type(wire: bytes, expected: Reply) -> None:
    assert parse_all(wire) == [expected]
    # Byte-at-a-time delivery must give the same result.
    reader = ReplyReader()
    got: list[Reply] = []
    for i in range(len(wire)):
        reader.feed(wire[i : i + 1])
        got.extend(reader)
    assert got == [expected]


def test_incomplete_returns_none_and_resumes() -> None:
    reader = ReplyReader()
    reader.feed(b"*3\r\n:1\r\n$5\r\nhel")
    assert reader.get_reply() is None
    reader.feed(b"lo\r\n")
    assert reader.get_reply() is None
    reader.feed(b"_\r\n+next\r\n")
    assert reader.get_reply() == Array((Integer(1), Bulk(b"hello"), NULL))
    assert reader.get_reply() == SimpleString(b"next")
    assert reader.get_reply() is None


def test_several_replies_in_one_chunk() -> None:
    assert parse_all(b"+a\r\n:1\r\n$-1\r\n") == [SimpleString(b"a"), Integer(1), NULL]


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello\r\n",
        b"?\r\n",
        b"\x00",
        b":12a\r\n",
        b": 1\r\n",
        b"$abc\r\nxx\r\n",
        b"$-2\r\n",
        b"$3\r\nabcd\r\n",
        b"*-2\r\n",
        b"#x\r\n",
        b",nope\r\n",
        b"(12x\r\n",
        b"=2\r\nab\r\n",
        b"_x\r\n",
        b"+OK\n",
        b"\r\n",
    ],
)
def test_garbage_raises_protocol_error(garbage: bytes) -> None:
    reader = ReplyReader()
    reader.feed(garbage)
    with pytest.raises(ProtocolError, match="Protocol error"):
        reader.get_reply()
    # The stream is unusable after a protocol error; keep saying so.
    with pytest.raises(ProtocolError):
        reader.get_reply()


def test_bad_type_byte_message_names_the_byte() -> None:
    reader = ReplyReader()
    reader.feed(b"GET foo\r\n")
    with pytest.raises(ProtocolError, match='got "G" as reply type byte'):
        reader.get_reply()


def test_garbage_detected_without_line_end() -> None:
    reader = ReplyReader()
    reader.feed(b"HTTP/1.1 400")
    with pytest.raises(ProtocolError):
        reader.get_reply()


def test_large_array_in_small_chunks_is_linear_enough() -> None:
    n = 20000
    wire = b"*%d\r\n" % n + b"".join(b"$5\r\n%05d\r\n" % i for i in range(n))
    reader = ReplyReader()
    result = None
    for i in range(0, len(wire), 7):
        reader.feed(wire[i : i + 7])
        result = reader.get_reply() or result
    assert isinstance(result, Array)
    assert len(result.items) == n
    assert result.items[-1] == Bulk(b"%05d" % (n - 1))


# -- property test: encode random trees, parse them back from random chunking ------------

scalars = st.one_of(
    st.binary(max_size=20).map(Bulk),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Integer),
    st.from_regex(rb"\A[a-zA-Z0-9 ]{0,10}\Z").map(SimpleString),
    st.from_regex(rb"\AERR[a-z ]{0,10}\Z").map(Error),
    st.just(NULL),
    st.booleans().map(Boolean),
    st.floats(allow_nan=False).map(lambda f: Double(f, repr(f).encode())),
    st.integers().map(lambda i: BigNumber(i, str(i).encode())),
    st.binary(max_size=10).map(lambda b: Verbatim(b"txt", b)),
)


def _extend(children: st.SearchStrategy[Reply]) -> st.SearchStrategy[Reply]:
    items = st.lists(children, max_size=4).map(tuple)
    pairs = st.lists(st.tuples(children, children), max_size=3).map(tuple)
    return st.one_of(
        items.map(Array),
        items.map(Set),
        items.map(Push),
        pairs.map(Map),
        st.tuples(pairs, children).map(lambda t: Attribute(t[0], t[1])),
    )


replies = st.recursive(scalars, _extend, max_leaves=12)


def encode(reply: Reply) -> bytes:
    """Reference RESP3 encoder, written independently of the parser under test."""
    match reply:
        case SimpleString(v):
            return b"+" + v + b"\r\n"
        case Error(v):
            return b"-" + v + b"\r\n"
        case Integer(v):
            return b":%d\r\n" % v
        case Bulk(v):
            return b"$%d\r\n%s\r\n" % (len(v), v)
        case Double(_, text):
            return b"," + text + b"\r\n"
        case Boolean(v):
            return b"#t\r\n" if v else b"#f\r\n"
        case BigNumber(_, text):
            return b"(" + text + b"\r\n"
        case Verbatim(fmt, v):
            return b"=%d\r\n%s:%s\r\n" % (len(v) + 4, fmt, v)
        case Array(items):
            return b"*%d\r\n" % len(items) + b"".join(map(encode, items))
        case Set(items):
            return b"~%d\r\n" % len(items) + b"".join(map(encode, items))
        case Push(items):
            return b">%d\r\n" % len(items) + b"".join(map(encode, items))
        case Map(pairs):
            return b"%%%d\r\n" % len(pairs) + b"".join(encode(k) + encode(v) for k, v in pairs)
        case Attribute(pairs, inner):
            head = b"|%d\r\n" % len(pairs) + b"".join(encode(k) + encode(v) for k, v in pairs)
            return head + encode(inner)
    return b"_\r\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(replies, min_size=1, max_size=4), st.data())
def test_roundtrip_any_chunking(values: list[Reply], data: st.DataObject) -> None:
    wire = b"".join(map(encode, values))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    reader = ReplyReader()
    got: list[Reply] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        reader.feed(wire[start:cut])
        start = cut
        got.extend(reader)
    assert got == values
    assert reader.buffered() == 0


# -- formatting helpers (the differential tests in test_cli.py cover the rest) ------------


def test_quote_bytes_matches_redis_cli_escaping() -> None:
    assert quote_bytes(b'a"b\\c\n\r\t\x07\x08\x00\xff\xc3\xa9 ~') == (
        b'"a\\"b\\\\c\\n\\r\\t\\a\\b\\x00\\xff\\xc3\\xa9 ~"'
    )


def test_format_nested_map_value_starts_on_new_line() -> None:
    reply = Map(
        (
            (Bulk(b"k"), Array((Bulk(b"a"), Array((Integer(1),))))),
            (Bulk(b"e"), Array(())),
        )
    )
    assert format_tty(reply) == (
        b'1# "k" => \n   1) "a"\n   2) 1) (integer) 1\n2# "e" => (empty array)\n'
    )
    assert format_raw(reply) == b"k a\n1\ne "


def test_format_resp3_scalars() -> None:
    assert format_tty(BigNumber(10**20, b"100000000000000000000")) == (
        b"(big number) 100000000000000000000\n"
    )
    assert format_tty(Verbatim(b"txt", b"two\nlines")) == b"two\nlines\n"
    assert format_tty(Set(())) == b"(empty set)\n"
    assert format_raw(Boolean(False)) == b"(false)"
    assert format_tty(Attribute(((Bulk(b"a"), NULL),), Integer(3))) == b"(integer) 3\n"
