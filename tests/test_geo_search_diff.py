"""Differential tests for the geo search scan (GEOSEARCH / GEORADIUS and the STORE
forms) against a reference server: Valkey 8 when available (exact), else Redis 7.0
with the known differences allowed.

They target what the fast path of the search relies on: the per-cell score slices
of the sorted set (an index large enough to span several internal sublists), the
decoded-position cache (more distinct positions than it holds, searched twice),
the inlined distance (centres on the poles' edge, the antimeridian, tiny and
negative-zero coordinates, radii up to the whole earth) and the shortcut past
Valkey's partial sort (distance ties at the COUNT cut).
"""

from __future__ import annotations

import random
from typing import Any

from tests.test_bits_hll_geo_diff import (  # noqa: F401 - fixtures used by name
    _redis70_geo_difference,
    _run,
    pair,
    reference,
)
from tests.test_geo import Plain


def _check(kaa: Plain, ref: Plain, kind: str, argv: list[Any]) -> None:
    got, want = _run(kaa, argv), _run(ref, argv)
    if got != want and kind == "redis" and _redis70_geo_difference(argv, got, want):
        return
    assert got == want, f"{argv!r}\n  kaa: {str(got)[:300]}\n  {kind}: {str(want)[:300]}"


def _both(kaa: Plain, ref: Plain, *argv: Any) -> None:
    kaa.execute_command(*argv)
    ref.execute_command(*argv)


_EDGE_LONS = ["180", "-180", "179.9999", "-179.9999", "0", "-0.0", "1e-300", "0.00001"]
_EDGE_LATS = ["85.05112878", "-85.05112878", "85.05", "-85.0499", "0", "-0.0", "1e-300", "-0.00001"]


def _world_points(rnd: random.Random, n: int) -> list[str]:
    """GEOADD arguments: points all over the world, crowded near the poles' limit and
    the antimeridian, with some exact duplicates (distance ties)."""
    args: list[str] = []
    for i in range(n):
        k = i % 7
        if k == 0 and i:
            lon, lat = args[-3], args[-2]  # same position as the previous member
        elif k == 1:
            lon, lat = repr(rnd.uniform(-180, 180)), repr(rnd.uniform(84.5, 85.05112878))
        elif k == 2:
            lon, lat = repr(rnd.uniform(-180, 180)), repr(rnd.uniform(-85.05112878, -84.5))
        elif k == 3:
            lon = repr(rnd.choice([1, -1]) * rnd.uniform(178.5, 180))
            lat = repr(rnd.uniform(-85, 85))
        elif k == 4:
            lon, lat = rnd.choice(_EDGE_LONS), rnd.choice(_EDGE_LATS)
        else:
            lon, lat = repr(rnd.uniform(-180, 180)), repr(rnd.uniform(-85.05, 85.05))
        args += [lon, lat, f"w{i}"]
    return args


def _centre(rnd: random.Random) -> tuple[str, str]:
    k = rnd.randrange(5)
    if k == 0:
        return rnd.choice(_EDGE_LONS), rnd.choice(_EDGE_LATS)
    if k == 1:  # near a pole's limit
        return repr(rnd.uniform(-180, 180)), repr(rnd.choice([1, -1]) * rnd.uniform(80, 85.05))
    if k == 2:  # near the antimeridian
        return repr(rnd.choice([1, -1]) * rnd.uniform(179, 180)), repr(rnd.uniform(-85, 85))
    return repr(rnd.uniform(-180, 180)), repr(rnd.uniform(-85.05, 85.05))


def test_world_index_searches_match_reference(pair: Any) -> None:  # noqa: F811
    kaa, ref, kind = pair
    rnd = random.Random(2024)
    args = _world_points(rnd, 6000)
    for i in range(0, len(args), 1500):
        _both(kaa, ref, "GEOADD", "w", *args[i:i + 1500])
    # Members whose scores GEOADD never writes sit in the scanned score ranges too.
    _both(kaa, ref, "ZADD", "w", "0", "zero", "1.5", "frac", "4503599627370495.5", "top")
    _check(kaa, ref, kind, ["ZCARD", "w"])
    for _ in range(50):
        lon, lat = _centre(rnd)
        radius = repr(rnd.choice([0, 1, 30, 300, 1500, 5000, 12000, 20100]))
        unit = rnd.choice(["km", "m", "mi"])
        count = [] if rnd.random() < 0.4 else ["COUNT", str(rnd.choice([1, 3, 10, 200]))]
        any_ = ["ANY"] if count and rnd.random() < 0.25 else []
        order = rnd.choice([[], ["ASC"], ["DESC"]])
        member = f"w{rnd.randrange(6000)}"
        for argv in (
            ["GEOSEARCH", "w", "FROMLONLAT", lon, lat, "BYRADIUS", radius, unit,
             "WITHDIST", "WITHHASH", "WITHCOORD", *count, *any_, *order],
            ["GEOSEARCH", "w", "FROMLONLAT", lon, lat, "BYBOX", radius,
             repr(rnd.choice([1, 100, 2000, 40000])), unit, "WITHDIST", *count, *any_, *order],
            ["GEORADIUSBYMEMBER", "w", member, radius, unit, "WITHDIST", *count, *order],
            ["GEOSEARCHSTORE", "dst", "w", "FROMMEMBER", member, "BYRADIUS", radius, unit,
             "STOREDIST", *count, *order],
            ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        ):
            _check(kaa, ref, kind, argv)


def test_ties_at_the_count_cut_match_reference(pair: Any) -> None:  # noqa: F811
    """Equal distances around the COUNT cut: where they land is decided by Valkey's
    partial quicksort, not by any correct sort."""
    kaa, ref, kind = pair
    rnd = random.Random(7)
    args: list[str] = []
    for i in range(60):  # 60 members on one spot, 40 on a ring of 8 spots, 40 elsewhere
        args += ["2.35", "48.85", f"same{i}"]
    for i in range(40):
        lon, lat = [("2.45", "48.85"), ("2.25", "48.85"), ("2.35", "48.95"), ("2.35", "48.75"),
                    ("2.45", "48.95"), ("2.25", "48.75"), ("2.45", "48.75"), ("2.25", "48.95")][i % 8]
        args += [lon, lat, f"ring{i}"]
    for i in range(40):
        args += [repr(rnd.uniform(2, 2.7)), repr(rnd.uniform(48.5, 49.2)), f"x{i}"]
    _both(kaa, ref, "GEOADD", "t", *args)
    for count in (1, 2, 7, 59, 60, 61, 65, 99, 100, 139, 140, 500):
        for order in (["ASC"], ["DESC"], []):
            for frm in (["FROMLONLAT", "2.35", "48.85"], ["FROMMEMBER", "same3"],
                        ["FROMLONLAT", "2.2", "48.7"]):
                _check(kaa, ref, kind, ["GEOSEARCH", "t", *frm, "BYRADIUS", "60", "km",
                                        "COUNT", str(count), *order, "WITHDIST"])
                _check(kaa, ref, kind, ["GEOSEARCH", "t", *frm, "BYBOX", "50", "50", "km",
                                        "COUNT", str(count), *order])


def test_more_positions_than_the_decode_cache_match_reference(pair: Any) -> None:  # noqa: F811
    """Over 16384 distinct positions in one search (the decoded-position cache is
    emptied midway), searched again and after moving members."""
    kaa, ref, kind = pair
    rnd = random.Random(99)
    args: list[str] = []
    for i in range(20000):
        args += [repr(rnd.uniform(10, 11)), repr(rnd.uniform(45, 46)), f"c{i}"]
    for i in range(0, len(args), 6000):
        _both(kaa, ref, "GEOADD", "c", *args[i:i + 6000])
    argv = ["GEOSEARCH", "c", "FROMLONLAT", "10.5", "45.5", "BYRADIUS", "60", "km",
            "ASC", "COUNT", "25", "WITHDIST", "WITHCOORD"]
    _check(kaa, ref, kind, argv)
    _check(kaa, ref, kind, argv)
    _check(kaa, ref, kind, ["GEORADIUS", "c", "10.9", "45.1", "20", "km", "DESC", "COUNT", "30"])
    # Same members, new positions: the cache is keyed by score, so it cannot go stale.
    moved: list[str] = []
    for i in range(0, 20000, 3):
        moved += [repr(rnd.uniform(10, 11)), repr(rnd.uniform(45, 46)), f"c{i}"]
    _both(kaa, ref, "GEOADD", "c", *moved)
    _check(kaa, ref, kind, argv)
    _check(kaa, ref, kind, ["GEOSEARCH", "c", "FROMMEMBER", "c3", "BYBOX", "30", "20", "km",
                            "WITHDIST", "COUNT", "40"])
