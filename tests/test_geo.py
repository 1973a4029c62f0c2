"""Geo commands over a real socket: GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH
GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER and the _RO variants, with the numbers
Valkey 8 prints (scores, 4-decimal distances, "%.17Lf" coordinates) in RESP2 and RESP3."""

from __future__ import annotations

import math
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from kaa.protocol.reply_reader import Array, Bulk, Error, Integer, Null, ReplyReader, SimpleString

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
PALERMO = (13.361389, 38.115556)
CATANIA = (15.087269, 37.502669)


def err(r: redis.Redis, *args: object) -> str:
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


class Plain:
    """A RESP2 client that returns replies untouched: bulk strings stay bytes (redis-py
    would turn GEO replies into floats)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = ReplyReader()

    def execute_command(self, *args: object) -> Any:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))
        while (reply := self.reader.get_reply()) is None:
            self.reader.feed(self.sock.recv(1 << 20))
        return _plain(reply)

    def close(self) -> None:
        self.sock.close()


def _plain(x: Any) -> Any:
    if isinstance(x, (SimpleString, Bulk, Integer)):
        return x.value
    if isinstance(x, Null):
        return None
    if isinstance(x, Array):
        return [_plain(i) for i in x.items]
    if isinstance(x, Error):
        raise redis.ResponseError(x.value.decode())
    raise AssertionError(f"unexpected reply {x!r}")


@pytest.fixture()
def plain(r: redis.Redis) -> Iterator[Plain]:
    c = Plain(r.connection_pool.connection_kwargs["port"])
    yield c
    c.close()


def sicily(r: redis.Redis) -> None:
    assert r.execute_command("GEOADD", "Sicily", *PALERMO, "Palermo", *CATANIA, "Catania") == 2


def raw3(r: redis.Redis, *lines: bytes) -> bytes:
    """Exact RESP3 bytes of inline commands (HELLO 3's own reply dropped)."""
    port = r.connection_pool.connection_kwargs["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"HELLO 3\r\nPING\r\n" + b"".join(line + b"\r\n" for line in lines) + b"PING\r\n")
        data = b""
        while data.count(b"+PONG\r\n") < 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    start = data.index(b"+PONG\r\n") + 7
    return data[start : data.rindex(b"+PONG\r\n")]


# --------------------------------------------------------------------------
# GEOADD and the stored scores
# --------------------------------------------------------------------------


def test_geoadd_stores_geohash_scores(r: redis.Redis) -> None:
    sicily(r)
    assert r.type("Sicily") == b"zset"
    assert r.zscore("Sicily", "Palermo") == 3479099956230698
    assert r.zscore("Sicily", "Catania") == 3479447370796909
    assert r.zrange("Sicily", 0, -1) == [b"Palermo", b"Catania"]
    assert r.object("encoding", "Sicily") == b"listpack"
    # Extreme positions.
    assert r.execute_command("GEOADD", "k", 180, 85.05112878, "max", -180, -85.05112878, "min", 0, 0, "o") == 3
    assert r.zscore("k", "o") == 3377699720527872


def test_geoadd_options(r: redis.Redis) -> None:
    sicily(r)
    assert r.execute_command("GEOADD", "Sicily", "NX", 13.36, 38.1, "Palermo", 1, 1, "x") == 1
    assert r.zscore("Sicily", "Palermo") == 3479099956230698
    assert r.execute_command("GEOADD", "Sicily", "XX", 13.36, 38.1, "Palermo", 1, 1, "y") == 0
    assert r.zscore("Sicily", "y") is None
    assert r.zscore("Sicily", "Palermo") != 3479099956230698
    assert r.execute_command("GEOADD", "Sicily", "CH", "XX", *PALERMO, "Palermo", 2, 2, "z") == 1
    assert r.execute_command("GEOADD", "Sicily", "ch", *PALERMO, "Palermo", 2, 2, "z") == 1
    assert r.execute_command("GEOADD", "Sicily", "xx", "ch", *CATANIA, "Catania") == 0
    assert r.execute_command("GEOADD", "new", "XX", 1, 1, "a") == 0
    assert r.exists("new") == 0


def test_geoadd_errors(r: redis.Redis) -> None:
    assert err(r, "GEOADD", "k", "NX", "XX", 1, 2, "a") == "syntax error"
    assert err(r, "GEOADD", "k", 1, 2, "a", 3) == "syntax error"
    assert err(r, "GEOADD", "k", "GT", 1, 2, "a") == "syntax error"
    assert err(r, "GEOADD", "k", "CH", "CH", "CH") == "syntax error"
    assert err(r, "GEOADD", "k", 200, 100, "a") == "invalid longitude,latitude pair 200.000000,100.000000"
    assert err(r, "GEOADD", "k", 1.5, 86, "a") == "invalid longitude,latitude pair 1.500000,86.000000"
    assert err(r, "GEOADD", "k", "inf", 0, "a") == "invalid longitude,latitude pair inf,0.000000"
    assert err(r, "GEOADD", "k", 180.0000001, 85.05112879, "a") == \
        "invalid longitude,latitude pair 180.000000,85.051129"
    assert err(r, "GEOADD", "k", 1.5, "nan", "a") == "value is not a valid float"
    assert err(r, "GEOADD", "k", "x", 1, "a") == "value is not a valid float"
    assert err(r, "GEOADD", "k", " 1", 1, "a") == "value is not a valid float"
    # A bad element anywhere means nothing is added.
    assert err(r, "GEOADD", "k", 1, 1, "a", 500, 1, "b") == "invalid longitude,latitude pair 500.000000,1.000000"
    assert r.exists("k") == 0
    r.set("s", "x")
    assert err(r, "GEOADD", "s", 1, 1, "a") == WRONGTYPE
    assert err(r, "GEOADD", "k", 1, 1) == "wrong number of arguments for 'geoadd' command"


# --------------------------------------------------------------------------
# GEODIST / GEOHASH / GEOPOS
# --------------------------------------------------------------------------


def test_geodist(r: redis.Redis, plain: Plain) -> None:
    sicily(r)
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "km") == b"166.2742"
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "MI") == b"103.3182"
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "Ft") == b"545518.8700"
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "M") == b"166274.1516"
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "Palermo") == b"0.0000"
    assert plain.execute_command("GEODIST", "Sicily", "Palermo", "nope") is None
    assert plain.execute_command("GEODIST", "missing", "a", "b") is None
    assert err(r, "GEODIST", "Sicily", "Palermo", "Catania", "yd") == \
        "unsupported unit provided. please use M, KM, FT, MI"
    # The unit and the argument count are checked before the key.
    assert err(r, "GEODIST", "missing", "a", "b", "yd") == "unsupported unit provided. please use M, KM, FT, MI"
    assert err(r, "GEODIST", "Sicily", "a", "b", "km", "x") == "syntax error"
    r.set("s", "x")
    assert err(r, "GEODIST", "s", "a", "b") == WRONGTYPE
    r.execute_command("GEOADD", "w", 0, 0, "a", 180, 85.05112878, "b", -180, -85.05112878, "c")
    assert plain.execute_command("GEODIST", "w", "a", "b") == b"10560811.4940"


def test_geohash_and_geopos(r: redis.Redis, plain: Plain) -> None:
    sicily(r)
    assert plain.execute_command("GEOHASH", "Sicily", "Palermo", "Catania", "nope") == \
        [b"sqc8b49rny0", b"sqdtr74hyu0", None]
    assert plain.execute_command("GEOHASH", "missing", "a", "b") == [None, None]
    assert plain.execute_command("GEOHASH", "Sicily") == []
    assert plain.execute_command("GEOPOS", "Sicily", "Palermo", "nope", "Catania") == [
        [b"13.36138933897018433", b"38.11555639549629859"], None,
        [b"15.08726745843887329", b"37.50266842333162032"]]
    assert plain.execute_command("GEOPOS", "missing", "a") == [None]
    r.execute_command("GEOADD", "w", 0, 0, "a", 180, 85.05112878, "b", -180, -85.05112878, "c")
    assert plain.execute_command("GEOPOS", "w", "a", "b", "c") == [
        [b"0.00000268220901489", b"0.00000126736058093"], [b"180", b"85.0511287799999991"],
        [b"-179.99999731779098511", b"-85.05112751263942528"]]
    assert plain.execute_command("GEOHASH", "w", "a", "b", "c") == [b"s0000000000", b"bp05b5048p0", b"00bh0hbj200"]
    r.set("s", "x")
    assert err(r, "GEOPOS", "s", "a") == WRONGTYPE
    assert err(r, "GEOHASH", "s", "a") == WRONGTYPE


def test_scores_that_geoadd_never_writes(r: redis.Redis, plain: Plain) -> None:
    """Any zset score decodes: negative and huge ones wrap or clamp exactly as C's cast."""
    r.zadd("k", {"neg": -5, "big": 1e300, "frac": 1.5, "inf": float("inf")})
    assert plain.execute_command("GEOPOS", "k", "neg", "big", "frac") == [
        [b"180", b"85.0511287799999991"], [b"-179.99999731779098511", b"-85.05112751263942528"],
        [b"-179.99999731779098511", b"-85.05112497791824921"]]
    assert plain.execute_command("GEOHASH", "k", "neg", "big", "frac") == \
        [b"bp05b5048p0", b"00bh0hbj200", b"00bh0hbj210"]


def test_resp3_coordinates_are_doubles(r: redis.Redis) -> None:
    sicily(r)
    out = raw3(r, b"GEOPOS Sicily Palermo nope", b"GEODIST Sicily Palermo Catania",
               b"GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km WITHCOORD WITHDIST WITHHASH")
    assert out == (b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
                   b"$11\r\n166274.1516\r\n"
                   b"*1\r\n*4\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n:3479099956230698\r\n"
                   b"*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n")


# --------------------------------------------------------------------------
# Searches
# --------------------------------------------------------------------------


def test_georadius_and_options(r: redis.Redis, plain: Plain) -> None:
    sicily(r)
    q = ["GEORADIUS", "Sicily", 15, 37, 200, "km"]
    assert plain.execute_command(*q, "ASC") == [b"Catania", b"Palermo"]
    assert plain.execute_command(*q, "DESC") == [b"Palermo", b"Catania"]
    assert plain.execute_command(*q, "WITHDIST", "ASC") == [[b"Catania", b"56.4413"], [b"Palermo", b"190.4424"]]
    assert plain.execute_command(*q, "WITHCOORD", "WITHDIST", "WITHHASH", "ASC") == [
        [b"Catania", b"56.4413", 3479447370796909, [b"15.08726745843887329", b"37.50266842333162032"]],
        [b"Palermo", b"190.4424", 3479099956230698, [b"13.36138933897018433", b"38.11555639549629859"]]]
    assert plain.execute_command(*q, "WITHHASH", "desc") == [[b"Palermo", 3479099956230698],
                                                            [b"Catania", 3479447370796909]]
    assert plain.execute_command(*q, "COUNT", 1) == [b"Catania"]  # COUNT implies ASC
    assert plain.execute_command(*q, "COUNT", 1, "DESC") == [b"Palermo"]
    assert len(plain.execute_command(*q, "COUNT", 1, "ANY")) == 1
    assert plain.execute_command(*q, "COUNT", 5, "ASC") == [b"Catania", b"Palermo"]
    assert plain.execute_command("GEORADIUS", "Sicily", 15, 37, 100, "km") == [b"Catania"]
    assert plain.execute_command("GEORADIUS", "Sicily", 15, 37, 1, "km") == []
    assert plain.execute_command("GEORADIUS", "missing", 15, 37, 1, "km") == []
    assert plain.execute_command("GEORADIUS_RO", "Sicily", 15, 37, 200000, "m", "ASC") == [b"Catania", b"Palermo"]
    assert plain.execute_command("GEORADIUSBYMEMBER", "Sicily", "Palermo", 200, "km", "WITHDIST", "ASC") == \
        [[b"Palermo", b"0.0000"], [b"Catania", b"166.2742"]]
    assert plain.execute_command("GEORADIUSBYMEMBER_RO", "Sicily", "Catania", 100, "mi") == [b"Catania"]


def test_georadius_errors(r: redis.Redis) -> None:
    sicily(r)
    base = ["GEORADIUS", "Sicily", 15, 37]
    assert err(r, *base, -1, "km") == "radius cannot be negative"
    assert err(r, *base, "x", "km") == "need numeric radius"
    assert err(r, *base, 1, "yd") == "unsupported unit provided. please use M, KM, FT, MI"
    assert err(r, "GEORADIUS", "Sicily", 200, 37, 1, "km") == "invalid longitude,latitude pair 200.000000,37.000000"
    assert err(r, "GEORADIUS", "Sicily", "x", 37, 1, "km") == "value is not a valid float"
    assert err(r, *base, 1, "km", "COUNT", 0) == "COUNT must be > 0"
    assert err(r, *base, 1, "km", "COUNT", -3) == "COUNT must be > 0"
    assert err(r, *base, 1, "km", "COUNT", "x") == "value is not an integer or out of range"
    assert err(r, *base, 1, "km", "COUNT") == "syntax error"
    assert err(r, *base, 1, "km", "ANY") == "the ANY argument requires COUNT argument"
    assert err(r, *base, 1, "km", "FOO") == "syntax error"
    assert err(r, *base, 1, "km", "STORE", "d", "WITHDIST") == \
        "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    assert err(r, "GEORADIUS_RO", "Sicily", 15, 37, 1, "km", "STORE", "d") == "syntax error"
    assert err(r, "GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", 1, "km", "STOREDIST", "d") == "syntax error"
    assert err(r, "GEORADIUSBYMEMBER", "Sicily", "nope", 1, "km") == "could not decode requested zset member"
    assert err(r, "GEORADIUSBYMEMBER", "Sicily", "Palermo", "x", "km") == "need numeric radius"
    # Without the key there is no member to decode and no radius to check.
    assert r.execute_command("GEORADIUSBYMEMBER", "missing", "nope", "x", "km") == []
    assert err(r, "GEORADIUSBYMEMBER", "missing", "nope", "x", "km", "FOO") == "syntax error"
    r.set("s", "x")
    assert err(r, "GEORADIUS", "s", 15, 37, "x", "km") == WRONGTYPE  # type first
    assert err(r, "GEORADIUS", "Sicily", 15, 37, 1) == "wrong number of arguments for 'georadius' command"


def test_georadius_store(r: redis.Redis) -> None:
    sicily(r)
    assert r.execute_command("GEORADIUS", "Sicily", 15, 37, 200, "km", "STORE", "dst") == 2
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"Palermo", 3479099956230698.0),
                                                       (b"Catania", 3479447370796909.0)]
    assert r.execute_command("GEORADIUS", "Sicily", 15, 37, 200, "km", "STOREDIST", "dd") == 2
    assert r.zrange("dd", 0, -1, withscores=True) == [(b"Catania", 56.4412578701582),
                                                      (b"Palermo", 190.44242984775784)]
    assert r.execute_command("GEORADIUS", "Sicily", 15, 37, 200, "km", "COUNT", 1, "STORE", "dst") == 1
    assert r.zrange("dst", 0, -1) == [b"Catania"]
    # The last STORE/STOREDIST wins.
    assert r.execute_command("GEORADIUSBYMEMBER", "Sicily", "Palermo", 10, "km", "STORE", "x",
                             "STOREDIST", "y") == 1
    assert r.exists("x") == 0 and r.zscore("y", "Palermo") == 0
    # No result: the destination is deleted.
    r.set("dst", "old")
    assert r.execute_command("GEORADIUS", "Sicily", 15, 37, 1, "km", "STORE", "dst") == 0
    assert r.exists("dst") == 0
    r.set("dst", "old")
    assert r.execute_command("GEORADIUS", "missing", 15, 37, 1, "km", "STORE", "dst") == 0
    assert r.exists("dst") == 0
    assert r.execute_command("GEORADIUSBYMEMBER", "missing", "m", 1, "km", "STORE", "dst") == 0


def test_geosearch(r: redis.Redis, plain: Plain) -> None:
    sicily(r)
    r.execute_command("GEOADD", "Sicily", 12.758489, 38.788135, "edge1", 17.241510, 38.788135, "edge2")
    assert plain.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC") == \
        [b"Catania", b"Palermo"]
    assert plain.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 400, 400, "km",
                                 "ASC", "WITHCOORD", "WITHDIST") == [
        [b"Catania", b"56.4413", [b"15.08726745843887329", b"37.50266842333162032"]],
        [b"Palermo", b"190.4424", [b"13.36138933897018433", b"38.11555639549629859"]],
        [b"edge2", b"279.7403", [b"17.24151045083999634", b"38.78813451624225195"]],
        [b"edge1", b"279.7405", [b"12.7584877610206604", b"38.78813451624225195"]]]
    assert plain.execute_command("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", 1, "km") == [b"Palermo"]
    assert plain.execute_command("GEOSEARCH", "Sicily", "frommember", "Catania", "bybox", 1, 1, "KM",
                                 "COUNT", 1, "ANY", "DESC") == [b"Catania"]
    assert plain.execute_command("GEOSEARCH", "missing", "FROMMEMBER", "x", "BYRADIUS", 1, "km") == []


def test_geosearch_errors(r: redis.Redis) -> None:
    sicily(r)
    g = ["GEOSEARCH", "Sicily"]
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYBOX", 4, 4, "km", "BYRADIUS", 10, "km") == "syntax error"
    assert err(r, *g, "FROMMEMBER", "Palermo", "FROMLONLAT", 1, 2, "BYRADIUS", 10, "km") == "syntax error"
    assert err(r, *g, "BYRADIUS", 10, "km", "ASC", "DESC") == \
        "exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"
    assert err(r, "geosearch", "Sicily", "FROMMEMBER", "Palermo", "ASC", "WITHDIST", "COUNT", 1) == \
        "exactly one of BYRADIUS and BYBOX can be specified for geosearch"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYBOX", -1, 2, "km") == "height or width cannot be negative"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYBOX", "a", 2, "km") == "need numeric width"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYBOX", 1, "b", "km") == "need numeric height"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYBOX", 1, 2, "yd") == \
        "unsupported unit provided. please use M, KM, FT, MI"
    assert err(r, *g, "FROMMEMBER", "nope", "BYRADIUS", 10, "km") == "could not decode requested zset member"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYRADIUS", 10, "km", "STORE", "x") == "syntax error"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYRADIUS", 10, "km", "STOREDIST") == "syntax error"
    assert err(r, *g, "FROMLONLAT", 181, 0, "BYRADIUS", 10, "km") == \
        "invalid longitude,latitude pair 181.000000,0.000000"
    assert err(r, *g, "FROMMEMBER", "Palermo", "BYRADIUS", 10, "km", "ANY") == \
        "the ANY argument requires COUNT argument"
    assert err(r, "GEOSEARCH", "missing", "FROMMEMBER", "x", "BYRADIUS", 1, "km", "ANY") == \
        "the ANY argument requires COUNT argument"
    assert err(r, "GEOSEARCH", "Sicily", "FROMMEMBER", "x", "BYRADIUS") == \
        "wrong number of arguments for 'geosearch' command"


def test_geosearchstore(r: redis.Redis) -> None:
    sicily(r)
    base = ["GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km"]
    assert r.execute_command(*base) == 2
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"Palermo", 3479099956230698.0),
                                                       (b"Catania", 3479447370796909.0)]
    assert r.execute_command(*base, "STOREDIST", "DESC", "COUNT", 1) == 1
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"Palermo", 190.44242984775784)]
    assert err(r, *base, "WITHDIST") == \
        "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    assert err(r, *base, "STORE", "x") == "syntax error"
    r.set("dst", "old")
    assert r.execute_command("GEOSEARCHSTORE", "dst", "missing", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km") == 0
    assert r.exists("dst") == 0
    r.lpush("l", "x")
    assert err(r, "GEOSEARCHSTORE", "dst", "l", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km") == WRONGTYPE


def test_many_points_order_and_encoding(r: redis.Redis) -> None:
    rnd = random.Random(21)
    args: list[object] = []
    for i in range(300):
        args += [round(rnd.uniform(-1, 1), 6), round(rnd.uniform(-1, 1), 6), f"p{i}"]
    r.execute_command("GEOADD", "pts", *args)
    res = r.execute_command("GEOSEARCH", "pts", "FROMLONLAT", 0, 0, "BYRADIUS", 80, "km", "WITHDIST", "ASC")
    dists = [float(d) for _, d in res]
    assert dists == sorted(dists) and dists and max(dists) <= 80
    assert r.execute_command("GEOSEARCHSTORE", "st", "pts", "FROMLONLAT", 0, 0, "BYRADIUS", 500, "km") == 300
    assert r.object("encoding", "st") == b"skiplist"
    top = r.execute_command("GEOSEARCH", "pts", "FROMLONLAT", 0, 0, "BYRADIUS", 500, "km", "COUNT", 7,
                            "WITHDIST")
    assert [m for m, _ in top] == [m for m, _ in res[:7]]


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """An independent haversine (same Earth radius as Valkey) for the fuzz test."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6372797.560856 * math.asin(math.sqrt(a))


def test_search_finds_every_point_in_radius(r: redis.Redis) -> None:
    """The nine-cell search misses nothing: compare with a brute-force scan of the
    decoded positions (points within a hair of the radius are not judged)."""
    rnd = random.Random(5)
    for _ in range(25):
        r.delete("f")
        lon0, lat0 = rnd.uniform(-170, 170), rnd.uniform(-70, 70)
        radius_km = rnd.choice([1, 10, 50, 200, 1000])
        spread = radius_km / 50
        args: list[object] = []
        for i in range(150):
            args += [max(-180, min(180, lon0 + rnd.uniform(-spread, spread))),
                     max(-85, min(85, lat0 + rnd.uniform(-spread, spread))), f"m{i}"]
        r.execute_command("GEOADD", "f", *args)
        pos = dict(zip([args[i + 2] for i in range(0, len(args), 3)],
                       r.execute_command("GEOPOS", "f", *args[2::3]), strict=True))
        got = {m.decode() for m in r.execute_command("GEORADIUS", "f", lon0, lat0, radius_km, "km")}
        for m, (lo, la) in pos.items():
            d = _haversine(lon0, lat0, float(lo), float(la)) / 1000
            if abs(d - radius_km) < 1e-6 * radius_km:
                continue
            assert (m in got) == (d <= radius_km), (m, d, radius_km)


def test_geo_keyspace_events(r: redis.Redis) -> None:
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        p.get_message(timeout=1)
        sicily(r)
        r.execute_command("GEORADIUS", "Sicily", 15, 37, 200, "km", "STORE", "a")
        r.execute_command("GEOSEARCHSTORE", "b", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km")
        r.execute_command("GEOSEARCHSTORE", "b", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km")
        events = []
        while (m := p.get_message(timeout=0.5)) is not None:
            if m["type"] == "pmessage":
                events.append((m["channel"].split(b":")[-1], m["data"]))
        assert events == [(b"zadd", b"Sicily"), (b"georadiusstore", b"a"), (b"geosearchstore", b"b"),
                          (b"del", b"b")]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_geo_command_keys(plain: Plain) -> None:
    assert plain.execute_command("COMMAND", "GETKEYS", "GEORADIUS", "src", 1, 2, 3, "km", "STORE", "d") == \
        [b"src", b"d"]
    assert plain.execute_command("COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "src", "m", 3, "km",
                                 "STORE", "d", "STOREDIST", "e") == [b"src", b"d", b"e"]
    assert plain.execute_command("COMMAND", "GETKEYS", "GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m",
                                 "BYRADIUS", 1, "km") == [b"d", b"s"]
    info = plain.execute_command("COMMAND", "INFO", "georadius", "geosearch")
    assert b"movablekeys" in info[0][2] and info[0][3:6] == [1, 1, 1]
    assert info[1][1] == -7 and b"readonly" in info[1][2]
