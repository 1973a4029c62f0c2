"""The command table: every command declared once, with its facts, next to its handler.

``@command(...)`` records the name, arity, flags, ACL categories, key positions and
documentation of a handler; COMMAND INFO/DOCS/GETKEYS/LIST, ACL CAT and key
extraction for ACL and cluster checks are all derived from these declarations.

A handler is ``handler(client, argv) -> reply value`` (see ``kaa.protocol.reply``);
``argv[0]`` is the command name as the client sent it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaa.accel import compiled
from kaa.protocol.reply import ReplyError

if TYPE_CHECKING:
    from kaa.server.conn_core import CallStats
else:
    CallStats = compiled("kaa.server.conn_core").CallStats

Handler = Callable[[Any, list[bytes]], Any]
KeysFn = Callable[[list[bytes]], list[int]]

# Valkey's command flags, by their COMMAND INFO names.
KNOWN_FLAGS = frozenset(
    """write readonly denyoom module admin pubsub noscript blocking loading stale
    skip_monitor skip_slowlog asking fast no_auth may_replicate sentinel only_sentinel
    no_mandatory_keys protected touches_arbitrary_keys no_async_loading no_multi movablekeys
    allow_busy""".split()
)

ACL_CATEGORIES = (
    "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream "
    "pubsub admin fast slow blocking dangerous connection transaction scripting"
).split()


@dataclass(slots=True)
class KeySpec:
    """One key specification, in the form COMMAND INFO reports (begin_search + find_keys)."""

    flags: tuple[str, ...]
    begin_index: int | None = None  # begin_search: index
    begin_keyword: tuple[bytes, int] | None = None  # begin_search: (keyword, startfrom)
    last: int = 0  # find_keys range: lastkey (-1 = to the end), step, limit
    step: int = 1
    limit: int = 0
    keynum: tuple[int, int, int] | None = None  # find_keys keynum: (keynumidx, firstkey, step)
    notes: str = ""


@dataclass(slots=True)
class Command:
    name: str
    handler: Handler | None
    arity: int
    flags: frozenset[str]
    acl_categories: tuple[str, ...]
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    key_specs: tuple[KeySpec, ...] = ()
    keys_fn: KeysFn | None = None
    group: str = "generic"
    since: str = "1.0.0"
    summary: str = ""
    complexity: str = ""
    doc_flags: tuple[str, ...] = ()
    deprecated_since: str = ""
    replaced_by: str = ""
    history: tuple[tuple[str, str], ...] = ()
    tips: tuple[str, ...] = ()
    arguments: tuple[dict[str, Any], ...] = ()
    parent: Command | None = None
    subcommands: dict[str, Command] = field(default_factory=dict)
    # Per-command statistics for INFO commandstats (calls and usec in ``stats``, which
    # the compiled batch loop adds to; the properties below read them).
    stats: CallStats = field(default_factory=CallStats)
    rejected_calls: int = 0
    failed_calls: int = 0
    # INFO latencystats: calls per duration. Durations under 128 us count in
    # ``latency_small`` (a list: the hot path's cheapest counter); longer ones in
    # ``latency``, rounded up to 7 significant bits. ``latency_counts()`` merges both.
    latency: dict[int, int] = field(default_factory=dict)
    latency_small: list[int] = field(default_factory=lambda: [0] * 128)
    # Precomputed hot-path booleans.
    is_write: bool = False
    is_denyoom: bool = False
    no_auth: bool = False
    # A data command that can run in ClientCore.run_plain's batch loop: it cannot block,
    # and cannot change the client state that loop hoists (MULTI, RESP version,
    # CLIENT REPLY, tracking, authentication, the server's gates).
    plain: bool = False
    acl_bit: int = 0
    # "parent|sub" for subcommands; precomputed because the hot path reads it.
    fullname: str = ""

    @property
    def calls(self) -> int:
        return self.stats.calls

    @calls.setter
    def calls(self, value: int) -> None:
        self.stats.calls = value

    @property
    def usec(self) -> int:
        return self.stats.usec

    @usec.setter
    def usec(self, value: int) -> None:
        self.stats.usec = value

    def record_latency(self, dur: int) -> None:
        """Count one call of ``dur`` microseconds in the latency histogram."""
        if dur < 128:
            self.latency_small[dur] += 1
        else:
            lat = self.latency
            k = latency_bucket(dur)
            lat[k] = lat.get(k, 0) + 1

    def latency_counts(self) -> dict[int, int]:
        """The latency histogram: microseconds -> calls (empty when never recorded)."""
        out = {us: n for us, n in enumerate(self.latency_small) if n}
        out.update(self.latency)
        return out

    def reset_latency(self) -> None:
        self.latency.clear()
        self.latency_small[:] = [0] * 128

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes of the key arguments in argv (COMMAND GETKEYS, ACL, cluster)."""
        if self.keys_fn is not None:
            return self.keys_fn(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key
        n = len(argv)
        if last < 0:
            last = n + last
        if last >= n:
            last = n - 1
        return list(range(self.first_key, last + 1, self.key_step or 1))


# Command groups of data commands (see Command.plain); MIGRATE talks to another server.
_PLAIN_GROUPS = frozenset({
    "string", "list", "hash", "set", "sorted-set", "generic", "stream", "geo", "bitmap",
    "hyperloglog",
})
_NOT_PLAIN = frozenset({"migrate"})


def latency_bucket(us: int) -> int:
    """Durations of 128us and more keep 7 significant bits (<1% error), like an HDR histogram."""
    shift = us.bit_length() - 7
    return (((us >> shift) + 1) << shift) - 1


COMMANDS: dict[str, Command] = {}


def _mk(
    name: str,
    handler: Handler | None,
    arity: int,
    flags: str,
    acl: str,
    keys: tuple[int, int, int],
    parent: Command | None,
    **kw: Any,
) -> Command:
    fl = frozenset(flags.split())
    unknown = fl - KNOWN_FLAGS
    if unknown:
        raise ValueError(f"{name}: unknown flags {unknown}")
    cats = list(acl.split())
    # Categories implied by flags, as Valkey's setImplicitACLCategories.
    if "write" in fl:
        cats.append("write")
    if "readonly" in fl and "scripting" not in cats:
        cats.append("read")
    if "admin" in fl:
        cats += ["admin", "dangerous"]
    if "pubsub" in fl:
        cats.append("pubsub")
    if "fast" in fl:
        cats.append("fast")
    if "blocking" in fl:
        cats.append("blocking")
    if "fast" not in fl:
        cats.append("slow")
    seen: list[str] = []
    for c in cats:
        if c not in seen:
            seen.append(c)
    cmd = Command(
        name=name,
        handler=handler,
        arity=arity,
        flags=fl,
        acl_categories=tuple(seen),
        first_key=keys[0],
        last_key=keys[1],
        key_step=keys[2],
        parent=parent,
        **kw,
    )
    cmd.fullname = f"{parent.name}|{name}" if parent is not None else name
    cmd.is_write = "write" in fl
    cmd.is_denyoom = "denyoom" in fl
    cmd.no_auth = "no_auth" in fl
    cmd.plain = (
        parent is None and cmd.group in _PLAIN_GROUPS and "blocking" not in fl
        and name not in _NOT_PLAIN
    )
    if not cmd.key_specs and keys[0] > 0:
        spec_flags = ("RW",) if "write" in fl else ("RO",)
        cmd.key_specs = (
            KeySpec(flags=spec_flags, begin_index=keys[0], last=(keys[1] - keys[0]) if keys[1] >= 0 else keys[1], step=keys[2]),
        )
    for spec in cmd.key_specs:
        spec.flags = tuple(_spec_flag_case(f) for f in spec.flags)
    return cmd


_ACCESS_TYPES = frozenset({"RO", "RW", "OW", "RM"})


def _spec_flag_case(flag: str) -> str:
    """Valkey spells key-spec access types in capitals (RO) and the rest in lower case (access)."""
    up = flag.upper()
    return up if up in _ACCESS_TYPES else flag.lower()


def command(
    name: str,
    arity: int,
    flags: str = "",
    acl: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    **kw: Any,
) -> Callable[[Handler], Handler]:
    """Declare a top-level command implemented by the decorated handler."""

    def deco(fn: Handler) -> Handler:
        cmd = _mk(name, fn, arity, flags, acl, keys, None, **kw)
        old = COMMANDS.get(name)
        if old is not None and old.subcommands:
            cmd.subcommands = old.subcommands
            for sub in cmd.subcommands.values():
                sub.parent = cmd
        COMMANDS[name] = cmd
        return fn

    return deco


def container(name: str, arity: int = -2, acl: str = "", **kw: Any) -> Command:
    """Declare a command that only dispatches to subcommands (CONFIG, CLIENT, OBJECT...)."""
    cmd = COMMANDS.get(name)
    if cmd is None:
        cmd = _mk(name, None, arity, "", acl, (0, 0, 0), None, **kw)
        COMMANDS[name] = cmd
    return cmd


def subcommand(
    parent: str,
    name: str,
    arity: int,
    flags: str = "",
    acl: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    **kw: Any,
) -> Callable[[Handler], Handler]:
    """Declare ``PARENT NAME``; arity counts the parent, as in Valkey (CONFIG GET is -3)."""

    def deco(fn: Handler) -> Handler:
        par = COMMANDS.get(parent)
        if par is None:
            par = container(parent, group=kw.get("group", "generic"))
        kw.setdefault("group", par.group)
        sub = _mk(name, fn, arity, flags, acl, keys, par, **kw)
        par.subcommands[name] = sub
        return fn

    return deco


def unknown_subcommand(argv: list[bytes]) -> ReplyError:
    sub = argv[1].decode("utf-8", "replace") if len(argv) > 1 else ""
    return ReplyError(
        f"ERR unknown subcommand '{_trim(sub)}'. Try {argv[0].decode('utf-8', 'replace').upper()} HELP."
    )


def _trim(s: str, n: int = 128) -> str:
    return s if len(s) <= n else s[:n] + "..."


def wrong_arity(name: str) -> ReplyError:
    return ReplyError(f"ERR wrong number of arguments for '{name}' command")


def lookup(argv: list[bytes]) -> Command | None:
    """The command (or subcommand) that argv names, or None."""
    try:
        name = argv[0].decode().lower()
    except UnicodeDecodeError:
        return None
    cmd = COMMANDS.get(name)
    if cmd is not None and cmd.subcommands and len(argv) > 1:
        try:
            sub = cmd.subcommands.get(argv[1].decode().lower())
        except UnicodeDecodeError:
            sub = None
        return sub
    return cmd


def all_commands() -> list[Command]:
    return list(COMMANDS.values())
