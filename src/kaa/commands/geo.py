"""Geo commands (Valkey's geo.c): GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH,
GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the _RO variants.

A geo index is an ordinary sorted set whose scores are 52-bit interleaved geohashes
(``kaa.types.geohash``): GEOADD is ZADD with computed scores, and the searches scan
the score ranges of the nine cells around the centre, as Valkey does, so results,
their order and every printed number match Valkey's.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from kaa.commands import zsets
from kaa.commands.args import ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE, parse_int_or_none
from kaa.commands.registry import KeySpec, command
from kaa.commands.server_cmds import arg
from kaa.engine.notify import NOTIFY_GENERIC, NOTIFY_ZSET
from kaa.protocol.reply import EMPTY_ARRAY, NULL_ARRAY, ZERO, Raw, ReplyError
from kaa.types import geohash as gh
from kaa.types.zset import ZSet, string2d

ERR_NOT_FLOAT = ReplyError("ERR value is not a valid float")
ERR_UNIT = ReplyError("ERR unsupported unit provided. please use M, KM, FT, MI")
ERR_RADIUS = ReplyError("ERR need numeric radius")
ERR_RADIUS_NEG = ReplyError("ERR radius cannot be negative")
ERR_WIDTH = ReplyError("ERR need numeric width")
ERR_HEIGHT = ReplyError("ERR need numeric height")
ERR_BOX_NEG = ReplyError("ERR height or width cannot be negative")
ERR_MEMBER = ReplyError("ERR could not decode requested zset member")
ERR_COUNT = ReplyError("ERR COUNT must be > 0")
ERR_ANY = ReplyError("ERR the ANY argument requires COUNT argument")

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}

# georadiusGeneric's flags.
_COORDS = 1
_MEMBER = 2
_NOSTORE = 4
_SEARCH = 8
_SEARCHSTORE = 16

_SORT_NONE, _SORT_ASC, _SORT_DESC = 0, 1, 2

_B_ZADD = b"zadd"


def _key(name: str, spec: int, **kw: Any) -> dict[str, Any]:
    """A COMMAND DOCS key argument tied to its key spec."""
    return {**arg(name, "key", **kw), "key_spec_index": spec}


# --------------------------------------------------------------------------
# argument helpers
# --------------------------------------------------------------------------


def _read_zset(db: Any, key: bytes) -> ZSet | None:
    v = db.lookup_read(key)
    if v is None or type(v) is ZSet:
        return v  # type: ignore[no-any-return]
    raise ERR_WRONGTYPE


def _double(s: bytes, err: ReplyError = ERR_NOT_FLOAT) -> float:
    v = string2d(s)
    if v is None:
        raise err
    return v


def _lonlat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    """extractLongLatOrReply."""
    lon = _double(lon_arg)
    lat = _double(lat_arg)
    if lon < gh.GEO_LONG_MIN or lon > gh.GEO_LONG_MAX or lat < gh.GEO_LAT_MIN or lat > gh.GEO_LAT_MAX:
        raise ReplyError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(s: bytes) -> float:
    """extractUnitOrReply: meters per unit."""
    v = _UNITS.get(s.lower())
    if v is None:
        raise ERR_UNIT
    return v


def _member_pos(z: ZSet, member: bytes) -> tuple[float, float]:
    """longLatFromMember; a missing member is Valkey's decode error."""
    score = z.scores.get(member)
    if score is None:
        raise ERR_MEMBER
    return gh.decode_score(score)


def _coord(c: Any, d: float) -> Any:
    """addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3, both with
    the "%.17Lf" text trimmed of trailing zeros."""
    text = gh.format_coord(d)
    if c.resp == 2:
        return text
    return Raw(b"," + text + b"\r\n")


# --------------------------------------------------------------------------
# GEOADD
# --------------------------------------------------------------------------


@command("geoadd", -5, "write denyoom", "geo", keys=(1, 1, 1), group="geo", since="3.2.0",
         summary="Adds one or more members to a geospatial index. The key is created if it "
                 "doesn't exist.",
         complexity="O(log(N)) for each item added, where N is the number of elements in the "
                    "sorted set.",
         history=(("6.2.0", "Added the `CH`, `NX` and `XX` options."),),
         key_specs=(KeySpec(flags=("RW", "update"), begin_index=1),),
         arguments=(_key("key", 0),
                    arg("condition", "oneof", optional=True, since="6.2.0", args=(
                        arg("nx", "pure-token", token="NX"), arg("xx", "pure-token", token="XX"))),
                    arg("change", "pure-token", token="CH", optional=True, since="6.2.0"),
                    arg("data", "block", multiple=True, args=(
                        arg("longitude", "double"), arg("latitude", "double"),
                        arg("member", "string")))))
def geoadd(c: Any, argv: list[bytes]) -> Any:
    argc = len(argv)
    xx = nx = False
    longidx = 2
    while longidx < argc:
        opt = argv[longidx].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        longidx += 1
    if (argc - longidx) % 3 or (xx and nx):
        raise ERR_SYNTAX
    zargv = [_B_ZADD, *argv[1:longidx]]
    for i in range(longidx, argc, 3):
        lon, lat = _lonlat(argv[i], argv[i + 1])
        zargv.append(b"%d" % gh.score_of(lon, lat))
        zargv.append(argv[i + 2])
    # Valkey rewrites the command into ZADD and runs it: replies, errors, events and
    # the propagated command are ZADD's.
    c.propagate_argv = zargv
    return zsets.zadd(c, zargv)


# --------------------------------------------------------------------------
# GEORADIUS / GEOSEARCH
# --------------------------------------------------------------------------


def _search(z: ZSet, shape: gh.Shape, limit: int) -> list[gh.Point]:
    """membersOfAllNeighbors: scan the centre cell and its neighbours, skipping a
    cell equal to the one scanned just before it (not the centre: Valkey's index 0
    doubles as "none yet"). Each cell is one score-range slice of the sorted set
    (geoGetPointsInRange), so only the members inside the nine cells are decoded."""
    cells = gh.search_cells(shape)
    out: list[gh.Point] = []
    last = 0
    score_slice = z.score_slice
    scan = gh.scan_points
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        if last and cell == cells[last]:
            continue
        if out and limit and len(out) >= limit:
            break
        bits, step = cell
        shift = 52 - step * 2  # scoresOfGeoHashBox: the cell's scores are [lo, hi)
        pairs = score_slice(float(bits << shift), float((bits + 1) << shift))
        if pairs:
            scan(pairs, shape, out, limit)
        last = i
    return out


def _cmp_asc(a: gh.Point, b: gh.Point) -> int:
    if a[0] > b[0]:
        return 1
    if a[0] == b[0]:
        return 0
    return -1


def _cmp_desc(a: gh.Point, b: gh.Point) -> int:
    return -_cmp_asc(a, b)


_by_dist = itemgetter(0)


def _sort_first(points: list[gh.Point], returned: int, desc: bool) -> list[gh.Point]:
    """The first ``returned`` points in distance order, as Valkey's pqsort leaves them
    when it only sorts that much. When the distances up to the cut are all distinct
    (and none is NaN) any correct sort gives the same prefix, so a C-speed sort
    does; otherwise ties decide where pqsort's swaps land, so pqsort itself runs."""
    checksum = sum(map(_by_dist, points))
    if checksum == checksum:  # no NaN distance anywhere (NaN breaks both sorts' order)
        ranked = sorted(points, key=_by_dist, reverse=desc)
        prev = ranked[0][0]
        for k in range(1, returned + 1):
            d = ranked[k][0]
            if d == prev:
                break
            prev = d
        else:
            return ranked[:returned]
    gh.partial_sort(points, _cmp_desc if desc else _cmp_asc, 0, returned - 1)
    return points[:returned]


def _georadius(c: Any, argv: list[bytes], src: int, flags: int) -> Any:
    """georadiusGeneric."""
    db = c.db
    z = _read_zset(db, argv[src])
    shape = gh.Shape()
    storekey: bytes | None = None
    storedist = False
    if flags & _COORDS:
        base = 6
        shape.kind = gh.CIRCULAR
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        shape.radius, shape.conversion = _radius(argv[4], argv[5])
    elif flags & _MEMBER and z is None:
        # Nothing to search: parse the options only, to know the kind of reply.
        base = 5
    elif flags & _MEMBER:
        base = 5
        shape.kind = gh.CIRCULAR
        assert z is not None
        shape.lon, shape.lat = _member_pos(z, argv[2])
        shape.radius, shape.conversion = _radius(argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            storekey = argv[1]
    withdist = withhash = withcoords = False
    frommember = fromloc = byradius = bybox = False
    sort = _SORT_NONE
    any_ = False
    count = 0
    remaining = len(argv) - base
    i = 0
    while i < remaining:
        opt = argv[base + i].lower()
        more = remaining - i - 1  # arguments after this one
        if opt == b"withdist":
            withdist = True
        elif opt == b"withhash":
            withhash = True
        elif opt == b"withcoord":
            withcoords = True
        elif opt == b"any":
            any_ = True
        elif opt == b"asc":
            sort = _SORT_ASC
        elif opt == b"desc":
            sort = _SORT_DESC
        elif opt == b"count" and more >= 1:
            n = parse_int_or_none(argv[base + i + 1])
            if n is None:
                raise ERR_NOT_INT
            if n <= 0:
                raise ERR_COUNT
            count = n
            i += 1
        elif opt in (b"store", b"storedist") and more >= 1 and not flags & (_NOSTORE | _SEARCH):
            storekey = argv[base + i + 1]
            storedist = opt == b"storedist"
            i += 1
        elif opt == b"storedist" and flags & _SEARCH and flags & _SEARCHSTORE:
            storedist = True
        elif opt == b"frommember" and more >= 1 and flags & _SEARCH and not fromloc:
            if z is not None:
                shape.lon, shape.lat = _member_pos(z, argv[base + i + 1])
            frommember = True
            i += 1
        elif opt == b"fromlonlat" and more >= 2 and flags & _SEARCH and not frommember:
            shape.lon, shape.lat = _lonlat(argv[base + i + 1], argv[base + i + 2])
            fromloc = True
            i += 2
        elif opt == b"byradius" and more >= 2 and flags & _SEARCH and not bybox:
            shape.radius, shape.conversion = _radius(argv[base + i + 1], argv[base + i + 2])
            shape.kind = gh.CIRCULAR
            byradius = True
            i += 2
        elif opt == b"bybox" and more >= 3 and flags & _SEARCH and not byradius:
            w = _double(argv[base + i + 1], ERR_WIDTH)
            h = _double(argv[base + i + 2], ERR_HEIGHT)
            if h < 0 or w < 0:
                raise ERR_BOX_NEG
            shape.conversion = _unit(argv[base + i + 3])
            shape.width = w
            shape.height = h
            shape.kind = gh.RECTANGLE
            bybox = True
            i += 3
        else:
            raise ERR_SYNTAX
        i += 1
    if storekey is not None and (withdist or withhash or withcoords):
        what = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise ReplyError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = argv[0].decode("utf-8", "replace")
    if flags & _SEARCH and not (frommember or fromloc):
        raise ReplyError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if flags & _SEARCH and not (byradius or bybox):
        raise ReplyError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise ERR_ANY
    ks = db.ks
    if z is None:
        if storekey is not None:
            if db.delete(storekey):
                ks.dirty += 1
                if ks.notify_flags:
                    ks.notify(NOTIFY_GENERIC, "del", storekey, db.id)
            return ZERO
        return EMPTY_ARRAY
    if count and sort == _SORT_NONE and not any_:
        sort = _SORT_ASC
    points = _search(z, shape, count if any_ else 0)
    if not points and storekey is None:
        return EMPTY_ARRAY
    total = len(points)
    returned = total if count == 0 or total < count else count
    if sort != _SORT_NONE:
        if returned == total:
            # glibc's qsort is a stable merge sort here; so is Python's.
            points.sort(key=_by_dist, reverse=sort == _SORT_DESC)
        else:
            points = _sort_first(points, returned, sort == _SORT_DESC)
    if returned < total:
        del points[returned:]
    conversion = shape.conversion
    if storekey is None:
        if not (withdist or withhash or withcoords):
            return [p[4] for p in points]
        out: list[Any] = []
        for dist, lon, lat, score, member in points:
            item: list[Any] = [member]
            if withdist:
                item.append(gh.format_distance(dist / conversion))
            if withhash:
                item.append(int(score))
            if withcoords:
                item.append([_coord(c, lon), _coord(c, lat)])
            out.append(item)
        return out
    if returned:
        pairs = [(p[4], p[0] / conversion if storedist else p[3]) for p in points]
        cfg = c.server.config
        zs = ZSet.from_pairs(pairs, cfg.zset_max_listpack_entries, cfg.zset_max_listpack_value)
        db.set(storekey, zs)
        ks.dirty += returned
        if ks.notify_flags:
            event = "geosearchstore" if flags & _SEARCH else "georadiusstore"
            ks.notify(NOTIFY_ZSET, event, storekey, db.id)
    elif db.delete(storekey):
        ks.dirty += 1
        if ks.notify_flags:
            ks.notify(NOTIFY_GENERIC, "del", storekey, db.id)
    return returned


def _radius(value: bytes, unit: bytes) -> tuple[float, float]:
    """extractDistanceOrReply: (radius, meters per unit)."""
    d = _double(value, ERR_RADIUS)
    if d < 0:
        raise ERR_RADIUS_NEG
    return d, _unit(unit)


def _georadius_keys(argv: list[bytes]) -> list[int]:
    """georadiusGetKeys: the source key and the last STORE/STOREDIST key."""
    stored = -1
    i = 5
    n = len(argv)
    while i < n:
        a = argv[i].lower()
        if (a == b"store" or a == b"storedist") and i + 1 < n:
            stored = i + 1
            i += 1
        i += 1
    return [1] if stored < 0 else [1, stored]


_UNIT_ARG = arg("unit", "oneof", args=(
    arg("m", "pure-token", token="M"), arg("km", "pure-token", token="KM"),
    arg("ft", "pure-token", token="FT"), arg("mi", "pure-token", token="MI")))
_WITH_ARGS = (
    arg("withcoord", "pure-token", token="WITHCOORD", optional=True),
    arg("withdist", "pure-token", token="WITHDIST", optional=True),
    arg("withhash", "pure-token", token="WITHHASH", optional=True),
)
_COUNT_BLOCK_SINCE = arg("count-block", "block", optional=True, args=(
    arg("count", "integer", token="COUNT"),
    arg("any", "pure-token", token="ANY", optional=True, since="6.2.0")))
_COUNT_BLOCK = arg("count-block", "block", optional=True, args=(
    arg("count", "integer", token="COUNT"), arg("any", "pure-token", token="ANY", optional=True)))
_ORDER = arg("order", "oneof", optional=True, args=(
    arg("asc", "pure-token", token="ASC"), arg("desc", "pure-token", token="DESC")))
_STORE = arg("store", "oneof", optional=True, args=(
    _key("storekey", 1, token="STORE", display="key"), _key("storedistkey", 2, token="STOREDIST", display="key")))
_FROM = arg("from", "oneof", args=(
    arg("member", "string", token="FROMMEMBER"),
    arg("fromlonlat", "block", token="FROMLONLAT", args=(
        arg("longitude", "double"), arg("latitude", "double")))))
_BY = arg("by", "oneof", args=(
    arg("circle", "block", args=(arg("radius", "double", token="BYRADIUS"), _UNIT_ARG)),
    arg("box", "block", args=(arg("width", "double", token="BYBOX"), arg("height", "double"),
                              _UNIT_ARG))))
_RADIUS_COMPLEXITY = (
    "O(N+log(M)) where N is the number of elements inside the bounding box of the circular "
    "area delimited by center and radius and M is the number of items inside the index.")
_SEARCH_COMPLEXITY = (
    "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area "
    "around the shape provided as the filter and M is the number of items inside the shape")
_UNIT_HISTORY = (("6.2.0", "Added the `ANY` option for `COUNT`."),
                 ("7.0.0", "Added support for uppercase unit names."))


def _store_specs(startfrom: int) -> tuple[KeySpec, ...]:
    return (KeySpec(flags=("RO", "access"), begin_index=1),
            KeySpec(flags=("OW", "update"), begin_keyword=(b"STORE", startfrom)),
            KeySpec(flags=("OW", "update"), begin_keyword=(b"STOREDIST", startfrom)))


@command("georadius", -6, "write denyoom", "geo", keys=(1, 1, 1), group="geo", since="3.2.0",
         summary="Queries a geospatial index for members within a distance from a coordinate, "
                 "optionally stores the result.",
         complexity=_RADIUS_COMPLEXITY, history=_UNIT_HISTORY, deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
         doc_flags=("deprecated",), key_specs=_store_specs(6), keys_fn=_georadius_keys,
         arguments=(_key("key", 0), arg("longitude", "double"), arg("latitude", "double"),
                    arg("radius", "double"), _UNIT_ARG, *_WITH_ARGS, _COUNT_BLOCK_SINCE, _ORDER,
                    _STORE))
def georadius(c: Any, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _COORDS)


@command("georadius_ro", -6, "readonly", "geo", keys=(1, 1, 1), group="geo", since="3.2.10",
         summary="Returns members from a geospatial index that are within a distance from a "
                 "coordinate.",
         complexity=_RADIUS_COMPLEXITY, history=_UNIT_HISTORY, deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` with the `BYRADIUS` argument", doc_flags=("deprecated",),
         key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         arguments=(_key("key", 0), arg("longitude", "double"), arg("latitude", "double"),
                    arg("radius", "double"), _UNIT_ARG, *_WITH_ARGS, _COUNT_BLOCK_SINCE, _ORDER))
def georadius_ro(c: Any, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _COORDS | _NOSTORE)


@command("georadiusbymember", -5, "write denyoom", "geo", keys=(1, 1, 1), group="geo",
         since="3.2.0",
         summary="Queries a geospatial index for members within a distance from a member, "
                 "optionally stores the result.",
         complexity=_RADIUS_COMPLEXITY, history=_UNIT_HISTORY, deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` "
                     "arguments",
         doc_flags=("deprecated",), key_specs=_store_specs(5), keys_fn=_georadius_keys,
         arguments=(_key("key", 0), arg("member", "string"), arg("radius", "double"),
                    _UNIT_ARG, *_WITH_ARGS, _COUNT_BLOCK, _ORDER, _STORE))
def georadiusbymember(c: Any, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _MEMBER)


@command("georadiusbymember_ro", -5, "readonly", "geo", keys=(1, 1, 1), group="geo",
         since="3.2.10",
         summary="Returns members from a geospatial index that are within a distance from a "
                 "member.",
         complexity=_RADIUS_COMPLEXITY, history=_UNIT_HISTORY, deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
         doc_flags=("deprecated",), key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         arguments=(_key("key", 0), arg("member", "string"), arg("radius", "double"),
                    _UNIT_ARG, *_WITH_ARGS, _COUNT_BLOCK, _ORDER))
def georadiusbymember_ro(c: Any, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _MEMBER | _NOSTORE)


@command("geosearch", -7, "readonly", "geo", keys=(1, 1, 1), group="geo", since="6.2.0",
         summary="Queries a geospatial index for members inside an area of a box or a circle.",
         complexity=_SEARCH_COMPLEXITY,
         history=(("7.0.0", "Added support for uppercase unit names."),),
         key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         arguments=(_key("key", 0), _FROM, _BY, _ORDER, _COUNT_BLOCK, *_WITH_ARGS))
def geosearch(c: Any, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _SEARCH)


@command("geosearchstore", -8, "write denyoom", "geo", keys=(1, 2, 1), group="geo",
         since="6.2.0",
         summary="Queries a geospatial index for members inside an area of a box or a circle, "
                 "optionally stores the result.",
         complexity=_SEARCH_COMPLEXITY,
         history=(("7.0.0", "Added support for uppercase unit names."),),
         key_specs=(KeySpec(flags=("OW", "update"), begin_index=1),
                    KeySpec(flags=("RO", "access"), begin_index=2)),
         arguments=(_key("destination", 0), _key("source", 1), _FROM, _BY, _ORDER,
                    _COUNT_BLOCK, arg("storedist", "pure-token", token="STOREDIST",
                                      optional=True)))
def geosearchstore(c: Any, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 2, _SEARCH | _SEARCHSTORE)


# --------------------------------------------------------------------------
# GEOHASH / GEOPOS / GEODIST
# --------------------------------------------------------------------------


@command("geohash", -2, "readonly", "geo", keys=(1, 1, 1), group="geo", since="3.2.0",
         summary="Returns members from a geospatial index as geohash strings.",
         complexity="O(1) for each member requested.",
         key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         arguments=(_key("key", 0), arg("member", "string", optional=True, multiple=True)))
def geohash(c: Any, argv: list[bytes]) -> Any:
    z = _read_zset(c.db, argv[1])
    if z is None:
        return [None] * (len(argv) - 2)
    get = z.scores.get
    out: list[Any] = []
    for m in argv[2:]:
        score = get(m)
        out.append(None if score is None else gh.geohash_string(score))
    return out


@command("geopos", -2, "readonly", "geo", keys=(1, 1, 1), group="geo", since="3.2.0",
         summary="Returns the longitude and latitude of members from a geospatial index.",
         complexity="O(1) for each member requested.",
         key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         arguments=(_key("key", 0), arg("member", "string", optional=True, multiple=True)))
def geopos(c: Any, argv: list[bytes]) -> Any:
    z = _read_zset(c.db, argv[1])
    if z is None:
        return [NULL_ARRAY] * (len(argv) - 2)
    get = z.scores.get
    out: list[Any] = []
    for m in argv[2:]:
        score = get(m)
        if score is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = gh.decode_score(score)
            out.append([_coord(c, lon), _coord(c, lat)])
    return out


@command("geodist", -4, "readonly", "geo", keys=(1, 1, 1), group="geo", since="3.2.0",
         summary="Returns the distance between two members of a geospatial index.",
         complexity="O(1)", key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         arguments=(_key("key", 0), arg("member1", "string"), arg("member2", "string"),
                    arg("unit", "oneof", optional=True, args=(
                        arg("m", "pure-token", token="M"), arg("km", "pure-token", token="KM"),
                        arg("ft", "pure-token", token="FT"), arg("mi", "pure-token", token="MI")))))
def geodist(c: Any, argv: list[bytes]) -> Any:
    to_meter = 1.0
    if len(argv) == 5:
        to_meter = _unit(argv[4])
    elif len(argv) > 5:
        raise ERR_SYNTAX
    z = _read_zset(c.db, argv[1])
    if z is None:
        return None
    s1 = z.scores.get(argv[2])
    s2 = z.scores.get(argv[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = gh.decode_score(s1)
    lon2, lat2 = gh.decode_score(s2)
    return gh.format_distance(gh.distance(lon1, lat1, lon2, lat2) / to_meter)
