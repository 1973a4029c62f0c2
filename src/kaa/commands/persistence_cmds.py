"""SAVE BGSAVE LASTSAVE DUMP RESTORE (rdb.c, cluster.c's DUMP/RESTORE)."""

from __future__ import annotations

import random
import socket
import time
import weakref
from typing import Any

from kaa.commands.args import ERR_SYNTAX, REDACTED, parse_int, parse_int_or_none
from kaa.commands.registry import KeySpec, command
from kaa.commands.server_cmds import arg
from kaa.engine.keyspace import now_ms
from kaa.engine.notify import NOTIFY_GENERIC
from kaa.persistence.rdb import BAD_PAYLOAD, decode_payload, dump_payload
from kaa.persistence.rdb_format import RdbError
from kaa.persistence.values import from_neutral, to_rdb
from kaa.protocol.reply import OK, ReplyError


def _persistence(c: Any) -> Any:
    return c.server.persistence


# COMMAND DOCS facts of DUMP / RESTORE / RESTORE-ASKING (Valkey's src/commands/*.json).
_KEY_ARG = {**arg("key", "key"), "key_spec_index": 0}
_RESTORE_COMPLEXITY = (
    "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, "
    "where N is the number of objects composing the value and M their average size. For small "
    "string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). "
    "However for sorted set values the complexity is O(N*M*log(N)) because inserting values "
    "into sorted sets is O(log(N)).")
_RESTORE_HISTORY = (("3.0.0", "Added the `REPLACE` modifier."),
                    ("5.0.0", "Added the `ABSTTL` modifier."),
                    ("5.0.0", "Added the `IDLETIME` and `FREQ` options."))
_RESTORE_ARGS = (
    _KEY_ARG, arg("ttl", "integer"), arg("serialized-value", "string"),
    arg("replace", "pure-token", token="REPLACE", optional=True, since="3.0.0"),
    arg("absttl", "pure-token", token="ABSTTL", optional=True, since="5.0.0"),
    arg("seconds", "integer", token="IDLETIME", optional=True, since="5.0.0"),
    arg("frequency", "integer", token="FREQ", optional=True, since="5.0.0"),
)


def dump_value(srv: Any, value: Any) -> bytes:
    """A DUMP payload for a value, in the encoding it has (as Valkey's createDumpPayload)."""
    cfg = srv.config
    kind, neutral, enc = to_rdb(value)
    return dump_payload(kind, neutral, cfg.rdbcompression, enc, cfg.list_compress_depth)


@command("save", 1, "admin noscript no_async_loading no_multi", "", group="server", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases",
         summary="Synchronously saves the database(s) to disk.")
def save(c: Any, argv: list[bytes]) -> Any:
    _persistence(c).save_command()
    return OK


@command("bgsave", -1, "admin noscript no_async_loading", "", group="server", since="1.0.0",
         complexity="O(1)", history=(("3.2.2", "Added the `SCHEDULE` option."),),
         arguments=(arg("schedule", "pure-token", token="SCHEDULE", optional=True, since="3.2.2"),),
         summary="Asynchronously saves the database(s) to disk.")
def bgsave(c: Any, argv: list[bytes]) -> Any:
    p = _persistence(c)
    schedule = False
    if len(argv) > 1:
        opt = argv[1].lower()
        if len(argv) == 2 and opt == b"schedule":
            schedule = True
        elif len(argv) == 2 and opt == b"cancel":  # Valkey 8.1
            return p.cancel_bgsave()
        else:
            raise ERR_SYNTAX
    return p.bgsave_command(schedule, bool(getattr(c, "in_exec", False)))


@command("lastsave", 1, "loading stale fast", "admin dangerous", group="server", since="1.0.0",
         tips=("nondeterministic_output",), complexity="O(1)",
         summary="Returns the Unix timestamp of the last successful save to disk.")
def lastsave(c: Any, argv: list[bytes]) -> Any:
    return _persistence(c).lastsave


@command("dump", 2, "readonly", "keyspace", keys=(1, 1, 1), group="generic", since="2.6.0",
         tips=("nondeterministic_output",),
         key_specs=(KeySpec(flags=("RO", "access"), begin_index=1),),
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is "
                    "the number of objects composing the value and M their average size. For "
                    "small string values the time complexity is thus O(1)+O(1*M) where M is "
                    "small, so simply O(1).",
         arguments=(_KEY_ARG,),
         summary="Returns a serialized representation of the value stored at a key.")
def dump(c: Any, argv: list[bytes]) -> Any:
    v = c.db.lookup_read(argv[1])
    if v is None:
        return None
    return dump_value(c.server, v)


_ERR_IDLETIME = ReplyError("ERR Invalid IDLETIME value, must be >= 0")
_ERR_FREQ = ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
_ERR_TTL = ReplyError("ERR Invalid TTL value, must be >= 0")
_ERR_BAD_DATA = ReplyError("ERR Bad data format")
_LLONG_MAX = (1 << 63) - 1


@command("restore", -4, "write denyoom", "keyspace dangerous", keys=(1, 1, 1), group="generic",
         key_specs=(KeySpec(flags=("OW", "update"), begin_index=1),),
         complexity=_RESTORE_COMPLEXITY, history=_RESTORE_HISTORY, arguments=_RESTORE_ARGS,
         since="2.6.0", summary="Creates a key from the serialized representation of a value.")
def restore(c: Any, argv: list[bytes]) -> Any:
    key = argv[1]
    replace = absttl = False
    lfu_freq = lru_idle = -1
    j = 4
    n = len(argv)
    while j < n:
        more = n - j - 1
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and lfu_freq == -1:
            lru_idle = parse_int(argv[j + 1])
            if lru_idle < 0:
                raise _ERR_IDLETIME
            j += 1
        elif opt == b"freq" and more >= 1 and lru_idle == -1:
            lfu_freq = parse_int(argv[j + 1])
            if lfu_freq < 0 or lfu_freq > 255:
                raise _ERR_FREQ
            j += 1
        else:
            raise ERR_SYNTAX
        j += 1
    db = c.db
    if not replace and db.lookup(key) is not None:
        raise ReplyError("BUSYKEY Target key name already exists.")
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise _ERR_TTL
    srv = c.server
    skip_crc = getattr(getattr(srv, "debug", None), "skip_checksum_validation", False)
    try:
        kind, neutral, enc = decode_payload(argv[3], not skip_crc)
        value = from_neutral(kind, neutral, srv.config, enc)
    except RdbError as e:
        if str(e) == BAD_PAYLOAD:
            raise ReplyError("ERR " + BAD_PAYLOAD) from None
        # rdbReportError in a RESTORE context: the reason at verbose level.
        reason = e.__cause__ if isinstance(e.__cause__, RdbError) else e
        srv.log_verbose(f"Internal error in RDB reading offset 0, function at rdb.c:0 -> {reason}")
        raise _ERR_BAD_DATA from None
    except (RecursionError, MemoryError, OverflowError, ValueError, TypeError):
        raise _ERR_BAD_DATA from None
    if value is None:
        raise _ERR_BAD_DATA
    ks = db.ks
    deleted = db.delete(key) if replace else False
    now = now_ms()  # one reading for the whole command, as Valkey's commandTimeSnapshot
    if ttl and not absttl:
        ttl += now
        if ttl > _LLONG_MAX:  # wraps negative in Valkey: already expired
            ttl -= 1 << 64
    if ttl and ttl <= now and not srv.loading and srv.role != "S":
        # checkAlreadyExpired: nothing is created; a replaced key was deleted.
        if deleted:
            c.propagate_argv = [b"UNLINK" if srv.config.lazyfree_lazy_server_del else b"DEL", key]
            ks.dirty += 1
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
        return OK
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:  # propagated with the absolute time
            c.propagate_argv = [*argv[:2], b"%d" % ttl, *argv[3:], b"ABSTTL"]
    # objectSetLRUOrLFU
    if ks.lfu_policy:
        if lfu_freq >= 0:
            db.lfu[key] = (ks.lfu_minutes() << 8) | lfu_freq
    elif lru_idle >= 0:
        db.atime[key] = ks.clock - lru_idle * 1000
    ks.dirty += 1
    if ks.notify_flags:
        ks.notify(NOTIFY_GENERIC, "restore", key, db.id)
    return OK


@command("restore-asking", -4, "write denyoom asking", "keyspace dangerous", keys=(1, 1, 1),
         group="server", since="3.0.0", doc_flags=("syscmd",),
         key_specs=(KeySpec(flags=("OW", "update"), begin_index=1),),
         complexity=_RESTORE_COMPLEXITY, history=_RESTORE_HISTORY, arguments=_RESTORE_ARGS,
         summary="An internal command for migrating keys in a cluster.")
def restore_asking(c: Any, argv: list[bytes]) -> Any:
    """RESTORE as MIGRATE sends it to a cluster node (ASKING only matters in a cluster)."""
    return restore(c, argv)


# ---- MIGRATE (cluster.c) ------------------------------------------------------------------------
#
# Like Valkey, MIGRATE talks to the target synchronously: the server waits (at most the
# given timeout per step) while the keys travel as RESTORE commands. Connections are
# cached per host:port for 10 seconds, and the target's selected db is remembered.

_MIGRATE_CACHE_ITEMS = 64
_MIGRATE_CACHE_TTL = 10


class _CachedSocket:
    __slots__ = ("sock", "reader", "last_dbid", "last_use")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.last_dbid = -1
        self.last_use = time.time()

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


_MIGRATE_SOCKETS: weakref.WeakKeyDictionary[Any, dict[bytes, _CachedSocket]] = (
    weakref.WeakKeyDictionary())


def migrate_cached_sockets(srv: Any) -> int:
    """INFO stats' migrate_cached_sockets."""
    return len(_MIGRATE_SOCKETS.get(srv, ()))


def _migrate_cache(srv: Any) -> dict[bytes, _CachedSocket]:
    cache = _MIGRATE_SOCKETS.get(srv)
    if cache is None:
        cache = _MIGRATE_SOCKETS[srv] = {}
        srv.cron_hooks.append(_close_idle_migrate_sockets)
    return cache


def _close_idle_migrate_sockets(srv: Any) -> None:
    """migrateCloseTimedoutSockets, from the cron."""
    cache = _MIGRATE_SOCKETS.get(srv)
    if not cache:
        return
    now = time.time()
    for name, cs in list(cache.items()):
        if now - cs.last_use > _MIGRATE_CACHE_TTL:
            cs.close()
            del cache[name]


def _migrate_socket(srv: Any, host: bytes, port: bytes, timeout_ms: int) -> _CachedSocket:
    cache = _migrate_cache(srv)
    name = host + b":" + port
    cs = cache.get(name)
    if cs is not None:
        cs.last_use = time.time()
        return cs
    if len(cache) >= _MIGRATE_CACHE_ITEMS:  # drop one at random, as Valkey
        victim = random.choice(list(cache))
        cache.pop(victim).close()
    try:
        sock = socket.create_connection(
            (host.decode("utf-8", "surrogateescape"), parse_int_or_none(port) or 0),
            timeout=timeout_ms / 1000)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, ValueError, OverflowError):
        raise ReplyError("IOERR error or timeout connecting to the client") from None
    cs = cache[name] = _CachedSocket(sock)
    return cs


def _close_migrate_socket(srv: Any, host: bytes, port: bytes) -> None:
    cs = _migrate_cache(srv).pop(host + b":" + port, None)
    if cs is not None:
        cs.close()


def _migrate_keys(argv: list[bytes]) -> list[Any]:
    """migrateGetKeys: argv[3], or everything after KEYS (skipping AUTH/AUTH2 values)."""
    first, num = 3, 1
    i = 6
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"keys":
            if argv[3]:
                return []
            first, num = i + 1, n - i - 1
            break
        i += {b"auth": 1, b"auth2": 2}.get(opt, 0) + 1
    return [(first + k, ("RW", "access", "delete")) for k in range(num)]


@command("migrate", -6, "write", "keyspace dangerous", keys=(3, 3, 1), group="generic",
         since="2.6.0",
         summary="Atomically transfers a key from one instance to another.",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a "
                    "RESTORE in the target instance. See the pages of these commands for time "
                    "complexity. Also an O(N) data transfer between the two instances is performed.",
         history=(("3.0.0", "Added the `COPY` and `REPLACE` options."),
                  ("3.0.6", "Added the `KEYS` option."), ("4.0.7", "Added the `AUTH` option."),
                  ("6.0.0", "Added the `AUTH2` option.")),
         tips=("nondeterministic_output",), keys_fn=_migrate_keys,
         key_specs=(KeySpec(flags=("RW", "access", "delete"), begin_index=3),
                    KeySpec(flags=("RW", "access", "delete", "incomplete"),
                            begin_keyword=(b"KEYS", -2), last=-1)),
         arguments=(
             arg("host", "string"), arg("port", "integer"),
             arg("key-selector", "oneof", args=(
                 {**arg("key", "key"), "key_spec_index": 0},
                 arg("empty-string", "pure-token", token=""))),
             arg("destination-db", "integer"), arg("timeout", "integer"),
             arg("copy", "pure-token", token="COPY", optional=True, since="3.0.0"),
             arg("replace", "pure-token", token="REPLACE", optional=True, since="3.0.0"),
             arg("authentication", "oneof", optional=True, args=(
                 arg("auth", "string", token="AUTH", display="password", since="4.0.7"),
                 arg("auth2", "block", token="AUTH2", since="6.0.0", args=(
                     arg("username", "string"), arg("password", "string"))))),
             {**arg("keys", "key", token="KEYS", display="key", optional=True, multiple=True,
                    since="3.0.6"), "key_spec_index": 1},
         ))
def migrate(c: Any, argv: list[bytes]) -> Any:
    copy = replace = False
    username: bytes | None = None
    password: bytes | None = None
    first_key, num_keys = 3, 1
    n = len(argv)
    j = 6
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise ERR_SYNTAX
            j += 1
            password = argv[j]
            argv[j] = REDACTED  # never shown by MONITOR or SLOWLOG
        elif opt == b"auth2":
            if more < 2:
                raise ERR_SYNTAX
            username, password = argv[j + 1], argv[j + 2]
            argv[j + 1] = argv[j + 2] = REDACTED
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise ReplyError("ERR When using MIGRATE KEYS option, the key argument must be "
                                 "set to the empty string")
            first_key, num_keys = j + 1, n - j - 1
            break
        else:
            raise ERR_SYNTAX
        j += 1
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = c.db
    found = [(k, v) for k in argv[first_key:first_key + num_keys]
             if (v := db.lookup_read(k)) is not None]
    if not found:
        return "NOKEY"
    for may_retry in (True, False):
        res = _migrate_once(c, argv[1], argv[2], found, dbid, timeout, copy, replace,
                            username, password, may_retry)
        if res is not _RETRY:
            return res
    raise AssertionError("unreachable")


_RETRY = object()


def _migrate_once(c: Any, host: bytes, port: bytes, found: list[tuple[bytes, Any]], dbid: int,
                  timeout: int, copy: bool, replace: bool, username: bytes | None,
                  password: bytes | None, may_retry: bool) -> Any:
    """One attempt: send AUTH/SELECT/RESTOREs, read the replies, delete what the target
    took. Returns _RETRY when a stale cached connection failed before anything happened."""
    srv = c.server
    cs = _migrate_socket(srv, host, port, timeout)
    out: list[bytes] = []
    if password is not None:
        out.append(_resp([b"AUTH", username, password] if username is not None
                         else [b"AUTH", password]))
    select = cs.last_dbid != dbid
    if select:
        out.append(_resp([b"SELECT", str(dbid).encode()]))
    db = c.db
    sent: list[bytes] = []
    now = now_ms()
    for key, value in found:
        when = db.expires.get(key)
        ttl = 0
        if when is not None:
            ttl = when - now
            if ttl < 0:
                continue  # expired since it was looked up
            ttl = max(ttl, 1)
        cmd = [b"RESTORE-ASKING" if srv.config.cluster_enabled else b"RESTORE", key,
               str(ttl).encode(), dump_value(srv, value)]
        if replace:
            cmd.append(b"REPLACE")
        out.append(_resp(cmd))
        sent.append(key)
    auth_reply = select_reply = b"+"
    try:
        cs.sock.settimeout(timeout / 1000)
        cs.sock.sendall(b"".join(out))
    except OSError as e:
        return _migrate_io_failed(srv, host, port, e, True, may_retry)
    try:
        if password is not None:
            auth_reply = _read_line(cs)
        if select:
            select_reply = _read_line(cs)
    except OSError as e:
        return _migrate_io_failed(srv, host, port, e, False, may_retry)
    replies: list[bytes] = []
    timed_out = False
    for _ in sent:
        try:
            replies.append(_read_line(cs))
        except OSError as e:
            timed_out = isinstance(e, TimeoutError)
            break
    socket_error = len(replies) < len(sent)
    if socket_error and not replies and may_retry and not timed_out:
        _close_migrate_socket(srv, host, port)
        return _RETRY  # nothing was processed: try once more on a fresh connection
    ks = db.ks
    error: str | None = None
    deleted: list[bytes] = []
    for key, line in zip(sent, replies, strict=False):
        if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or line[:1] == b"-":
            if error is None:
                cs.last_dbid = -1
                bad = (auth_reply if auth_reply[:1] == b"-" else
                       select_reply if select_reply[:1] == b"-" else line)
                error = bad[1:].rstrip(b"\r\n").decode("utf-8", "surrogateescape")
        elif not copy:
            db.delete(key)
            ks.dirty += 1
            if ks.notify_flags:
                ks.notify(NOTIFY_GENERIC, "del", key, db.id)
            deleted.append(key)
    if socket_error:
        _close_migrate_socket(srv, host, port)
    if deleted:
        c.propagate_argv = [b"DEL", *deleted]  # replicas and the AOF see a DEL
    if error is not None:
        raise ReplyError(f"ERR Target instance replied with error: {error}")
    if socket_error:
        raise ReplyError("IOERR error or timeout reading to target instance")
    cs.last_dbid = dbid
    return OK


def _read_line(cs: _CachedSocket) -> bytes:
    """One reply line from the target (connSyncReadLine); ConnectionError at EOF."""
    line = cs.reader.readline(1024)
    if not line:
        raise ConnectionError("connection closed by the target")
    return line


def _migrate_io_failed(srv: Any, host: bytes, port: bytes, e: OSError, writing: bool,
                       may_retry: bool) -> Any:
    """MIGRATE's socket_err path: drop the connection, retry once unless it timed out."""
    _close_migrate_socket(srv, host, port)
    if may_retry and not isinstance(e, TimeoutError):
        return _RETRY
    raise ReplyError(
        f"IOERR error or timeout {'writing' if writing else 'reading'} to target instance")


def _resp(args: list[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


