"""XRANGE / XREVRANGE replies byte for byte against a reference server (Valkey 8 when
available, else Redis 7.0, whose XRANGE replies are the same), in RESP2 and RESP3.

Kaa encodes these replies itself (one formatting per single-field entry, a bulk
array otherwise) instead of returning nested lists, so the raw bytes are compared:
entries with one and several fields, empty and binary values, COUNT cutting inside
and past the range, exclusive bounds and tombstones left by XDEL.
"""

from __future__ import annotations

import socket
from typing import Any

from tests.test_bits_hll_geo_diff import reference  # noqa: F401 - fixture used by name


def _raw(port: int, commands: list[list[bytes]], resp3: bool) -> bytes:
    """The exact reply bytes of ``commands``, sent as one pipeline between two PINGs
    on a connection switched to the protocol by HELLO."""
    def enc(args: list[bytes]) -> bytes:
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

    hello = [b"HELLO", b"3" if resp3 else b"2"]
    payload = enc(hello) + enc([b"PING"]) + b"".join(map(enc, commands)) + enc([b"PING"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        data = b""
        while data.count(b"+PONG\r\n") < 2 or not data.endswith(b"+PONG\r\n"):
            chunk = s.recv(1 << 16)
            assert chunk, "connection closed"
            data += chunk
    return data[data.index(b"+PONG\r\n") + 7:-7]


def _setup() -> list[list[bytes]]:
    cmds: list[list[bytes]] = [[b"DEL", b"s"]]
    for i in range(1, 41):
        if i % 5 == 0:
            fields = [b"f", b"", b"binary\r\n\x00", b"\xff" * 3, b"n", b"%d" % (i * 1000)]
        elif i % 7 == 0:
            fields = [b"only", b"x" * 300]
        else:
            fields = [b"f", b"%d" % i]
        cmds.append([b"XADD", b"s", b"%d-%d" % (100 + i // 3, i % 3), *fields])
    cmds += [[b"XDEL", b"s", b"101-0", b"103-1", b"110-2"]]
    return cmds


_QUERIES: list[list[bytes]] = [
    [b"XRANGE", b"s", b"-", b"+"],
    [b"XREVRANGE", b"s", b"+", b"-"],
    [b"XRANGE", b"s", b"-", b"+", b"COUNT", b"1"],
    [b"XRANGE", b"s", b"101", b"105", b"COUNT", b"7"],
    [b"XRANGE", b"s", b"(101-1", b"(104-0"],
    [b"XREVRANGE", b"s", b"110", b"(103-1", b"COUNT", b"4"],
    [b"XRANGE", b"s", b"-", b"+", b"COUNT", b"1000"],
    [b"XRANGE", b"s", b"200", b"+"],
    [b"XRANGE", b"s", b"103-1", b"103-1"],
    [b"XRANGE", b"nokey", b"-", b"+"],
    [b"XRANGE", b"s", b"-", b"+", b"COUNT", b"0"],
]


def test_xrange_bytes_match_reference(r: Any, reference: tuple[str, int]) -> None:  # noqa: F811
    kaa_port = r.connection_pool.connection_kwargs["port"]
    ref_port = reference[1]
    setup = _setup()
    for port in (kaa_port, ref_port):
        _raw(port, setup, False)
    for resp3 in (False, True):
        got = _raw(kaa_port, _QUERIES, resp3)
        want = _raw(ref_port, _QUERIES, resp3)
        assert got == want, f"resp3={resp3}\n kaa: {got[:400]!r}\n ref: {want[:400]!r}"
