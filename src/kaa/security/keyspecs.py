"""Keys and channels a command touches, with the access flags ACL checks need.

Valkey's ``getKeysFromCommandWithSpecs`` works from each command's declared key specs
(``Command.key_specs``) and falls back to the command's own key finder when a spec
cannot be evaluated (unknown begin search, INCOMPLETE, a bad numkeys) or when the
flags depend on the arguments (VARIABLE_FLAGS: SET with GET, BITFIELD with SET).
This module does the same from Kaa's declarations, so ACL key checks follow every
command's RO/RW/OW/RM + ACCESS/UPDATE/INSERT/DELETE facts without a second table.

Results are lists of ``(argv index, flag bits)``; the bits below mirror CMD_KEY_*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from kaa.commands.args import parse_int_or_none
from kaa.commands.registry import Command, KeySpec

RO = 1 << 0
RW = 1 << 1
OW = 1 << 2
RM = 1 << 3
ACCESS = 1 << 4
UPDATE = 1 << 5
INSERT = 1 << 6
DELETE = 1 << 7
NOT_KEY = 1 << 8
INCOMPLETE = 1 << 9
VARIABLE_FLAGS = 1 << 10

_FLAG_BITS = {
    "ro": RO, "rw": RW, "ow": OW, "rm": RM, "access": ACCESS, "update": UPDATE,
    "insert": INSERT, "delete": DELETE, "not_key": NOT_KEY, "incomplete": INCOMPLETE,
    "variable_flags": VARIABLE_FLAGS,
}

# Channel arguments (Valkey's commands_with_channels table), by top-level command name:
# (flags, first index, count or -1 for "all remaining").
CH_PATTERN = 1 << 0
CH_PUBLISH = 1 << 1
CH_SUBSCRIBE = 1 << 2
CH_UNSUBSCRIBE = 1 << 3
CHANNEL_SPECS: dict[str, tuple[int, int, int]] = {
    "subscribe": (CH_SUBSCRIBE, 1, -1),
    "ssubscribe": (CH_SUBSCRIBE, 1, -1),
    "unsubscribe": (CH_UNSUBSCRIBE, 1, -1),
    "sunsubscribe": (CH_UNSUBSCRIBE, 1, -1),
    "psubscribe": (CH_PATTERN | CH_SUBSCRIBE, 1, -1),
    "punsubscribe": (CH_PATTERN | CH_UNSUBSCRIBE, 1, -1),
    "publish": (CH_PUBLISH, 1, 1),
    "spublish": (CH_PUBLISH, 1, 1),
}

KeyRefs = list[tuple[int, int]]
T = TypeVar("T")
FlagsProc = Callable[[list[bytes]], KeyRefs]


def spec_flags(spec: KeySpec) -> int:
    bits = 0
    for f in spec.flags:
        bits |= _FLAG_BITS.get(f.lower(), 0)
    return bits


# ---- flag-aware key finders for the commands whose specs can't say it all ----------------

def _set_keys(argv: list[bytes]) -> KeyRefs:
    """setGetKeys: SET ... GET reads the old value, otherwise the key is overwritten."""
    for a in argv[3:]:
        if a.lower() == b"get":
            return [(1, RW | ACCESS | UPDATE)]
    return [(1, OW | UPDATE)]


def _bitfield_keys(argv: list[bytes]) -> KeyRefs:
    """bitfieldGetKeys: read-only unless a SET/INCRBY (or a syntax error) appears."""
    readonly = True
    i = 2
    n = len(argv)
    while i < n:
        rem = n - i - 1
        arg = argv[i].lower()
        if arg == b"get" and rem >= 2:
            i += 3
            continue
        if arg in (b"set", b"incrby") and rem >= 3:
            readonly = False
            break
        if arg == b"overflow" and rem >= 1:
            i += 2
            continue
        readonly = False
        break
    return [(1, RO | ACCESS)] if readonly else [(1, RW | ACCESS | UPDATE)]


def _sort_keys(argv: list[bytes]) -> KeyRefs:
    """sortGetKeys: the sorted key is read, the last STORE target overwritten."""
    out: KeyRefs = [(1, RO | ACCESS)]
    store = 0
    i = 2
    n = len(argv)
    while i < n:
        a = argv[i].lower()
        if a == b"limit":
            i += 2
        elif a in (b"get", b"by"):
            i += 1
        elif a == b"store" and i + 1 < n:
            store = i + 1
        i += 1
    if store:
        out.append((store, OW | UPDATE))
    return out


def _sort_ro_keys(argv: list[bytes]) -> KeyRefs:
    return [(1, RO | ACCESS)]


FLAGS_PROCS: dict[str, FlagsProc] = {
    "set": _set_keys,
    "bitfield": _bitfield_keys,
    "sort": _sort_keys,
    "sort_ro": _sort_ro_keys,
}


class CmdKeys:
    """What key extraction needs to know about one command, computed once."""

    __slots__ = ("has_keys", "use_specs", "specs", "proc", "keys_fn", "fallback_flags", "arity",
                 "single")

    def __init__(self, cmd: Command) -> None:
        specs: list[tuple[KeySpec, int]] = []
        all_flags = 0
        varflags = False
        unknown_flags = 0
        for s in cmd.key_specs:
            fl = spec_flags(s)
            all_flags |= fl
            if fl & VARIABLE_FLAGS:
                varflags = True
            if fl & NOT_KEY:
                continue
            if s.begin_index is None and s.begin_keyword is None:
                unknown_flags = fl  # the last "unknown" spec names what the finder adds
            specs.append((s, fl))
        self.specs = specs
        self.use_specs = bool(specs) and not varflags
        self.proc = FLAGS_PROCS.get(cmd.fullname)
        self.keys_fn = cmd.keys_fn
        self.has_keys = bool(specs) or cmd.keys_fn is not None or self.proc is not None
        self.fallback_flags = unknown_flags or (all_flags & ~(NOT_KEY | VARIABLE_FLAGS | INCOMPLETE))
        self.arity = cmd.arity
        # The common shape (one key at a fixed index: GET, SET, INCR, ...) needs no search.
        self.single: tuple[int, KeyRefs] | None = None
        if self.use_specs and len(specs) == 1:
            spec, fl = specs[0]
            if (spec.begin_index is not None and spec.keynum is None and spec.last == 0
                    and not fl & INCOMPLETE):
                self.single = (spec.begin_index, [(spec.begin_index, fl)])


def eval_specs(specs: Sequence[tuple[KeySpec, T]], argv: list[bytes],
               partial: bool) -> list[tuple[int, T]] | None:
    """getKeysUsingKeySpecs: each key position with the tag given with its spec (flag
    bits for ACL, flag names for COMMAND GETKEYSANDFLAGS); None when a spec is invalid
    (unless ``partial``)."""
    out: list[tuple[int, T]] = []
    argc = len(argv)
    for spec, tag in specs:
        if spec.begin_index is not None:
            first = spec.begin_index
        elif spec.begin_keyword is not None:
            kw, startfrom = spec.begin_keyword
            first = 0
            if startfrom > 0:
                i, end, step = startfrom, argc - 1, 1
            else:
                i, end, step = argc + startfrom, 1, -1
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == kw.lower():
                    first = i + 1
                    break
                i += step
            if not first:
                continue
        else:
            if partial:
                continue
            return None
        if spec.keynum is not None:
            numidx, firstkey, step = spec.keynum
            pos = first + numidx
            if numidx >= argc or pos >= argc:
                if partial:
                    continue
                return None
            numkeys = parse_int_or_none(argv[pos])
            if numkeys is None or numkeys < 0:
                if partial:
                    continue
                return None
            first += firstkey
            last = first + numkeys - 1
        else:
            step = spec.step or 1
            if spec.last >= 0:
                last = first + spec.last
            elif not spec.limit:
                last = argc + spec.last
            else:
                last = first + ((argc - first) // spec.limit + spec.last)
        if last >= argc or last < first or first >= argc:
            if partial:
                continue
            return None
        for i in range(first, last + 1, step):
            out.append((i, tag))
        if "incomplete" in spec.flags and not partial:
            return None
    return out


def key_refs(ck: CmdKeys, argv: list[bytes]) -> KeyRefs:
    """getKeysFromCommandWithSpecs(GET_KEYSPEC_DEFAULT) for ACL purposes (the result may
    be shared: don't modify it)."""
    single = ck.single
    if single is not None and single[0] < len(argv):
        return single[1]
    if ck.use_specs:
        r = eval_specs(ck.specs, argv, False)
        if r is not None:
            return r
    if ck.proc is not None:
        return ck.proc(argv)
    fn = ck.keys_fn
    if fn is None:
        return []
    try:
        positions = fn(argv)
    except Exception:  # a finder confused by a malformed call: the command will say why
        return []
    # A finder may return (index, flag names) pairs, like Valkey's flag-aware getkeys
    # procs; plain indexes take the flags of the spec that covers them.
    known = {i: fl for i, fl in (eval_specs(ck.specs, argv, True) or [])}
    fb = ck.fallback_flags
    out: KeyRefs = []
    n = len(argv)
    for p in positions:
        if isinstance(p, tuple):
            pos, names = p
            fl = 0
            for f in names:
                fl |= _FLAG_BITS.get(f.lower(), 0)
        else:
            pos, fl = p, known.get(p, fb)
        if 0 < pos < n:
            out.append((pos, fl))
    return out


def channel_refs(name: str, argv: list[bytes]) -> list[tuple[int, int]]:
    """getChannelsFromCommand: (index, CH_* flags) of each channel argument."""
    spec = CHANNEL_SPECS.get(name)
    if spec is None:
        return []
    flags, start, count = spec
    stop = len(argv) if count == -1 else min(start + count, len(argv))
    return [(i, flags) for i in range(start, stop)]
