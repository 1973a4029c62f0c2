"""ACL users, selectors, the SETUSER rule language and permission checks.

This follows Valkey 8's acl.c rule for rule: a user is a set of flags, SHA-256
password hashes and selectors; the first (root) selector holds the rules given
outside parentheses, each ``(...)`` adds another selector, and a command is
allowed when any selector allows the command, every key it touches (with the
access its key specs declare) and every channel it names.

Command permissions are a bytearray indexed by ``Command.acl_bit`` plus the
ordered list of ``+cmd``/``-@cat`` rules that ACL GETUSER and ACL LIST print back
(Valkey keeps the same list: the description is "+@all" or "-@all" followed by
those rules). Passwords are stored only as hex SHA-256 and compared with
``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable

from kaa.commands.registry import ACL_CATEGORIES, COMMANDS, Command
from kaa.engine.glob import compile_simple, glob_match
from kaa.security.keyspecs import (
    ACCESS,
    CH_PATTERN,
    CH_PUBLISH,
    CH_SUBSCRIBE,
    CHANNEL_SPECS,
    DELETE,
    INSERT,
    UPDATE,
    CmdKeys,
    key_refs,
)
from kaa.server.config_file import split_args

READ_PERM = 1
WRITE_PERM = 2
ALL_PERM = READ_PERM | WRITE_PERM

# Check results, numbered as Valkey's ACL_* so "the most relevant error" compares the same.
OK = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_AUTH = 3
DENIED_CHANNEL = 4

HASH_LEN = 64

E_UNKNOWN = "Unknown command or category name in ACL"
E_SYNTAX = "Syntax error"
E_KEYS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns")
E_CHANNELS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels")
E_NO_SUCH_PASS = "The password you are trying to remove from the user does not exist"
E_BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
              "hexadecimal characters")
E_DUPLICATE = "Duplicate user found. A user can only be defined once in config files"
E_FIRSTARG_OF_SUB = "Allowing first-arg of a subcommand is not supported"


class RuleError(Exception):
    """A rule that can't be applied; ``unknown`` marks Valkey's ENOENT (unknown command)."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unknown = unknown


def has_spaces(s: bytes) -> bool:
    """ACLStringHasSpaces: C isspace() or NUL anywhere."""
    return any(ch in b" \t\n\v\f\r\x00" for ch in s)


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def valid_hash(h: bytes) -> bool:
    return len(h) == HASH_LEN and all(48 <= ch <= 57 or 97 <= ch <= 102 for ch in h)


def to_str(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def to_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A glob matcher with fast paths for '*', literals, 'prefix*' and '*suffix'."""
    if pattern == b"*":
        return lambda k: True
    simple = compile_simple(pattern)
    if simple is not None:
        kind, lit = simple
        if kind == "exact":
            return lambda k: k == lit
        if kind == "prefix":
            return lambda k: k.startswith(lit)
        return lambda k: k.endswith(lit)
    # Characters before the first *, ?, [ or \ match literally, so a key without that
    # prefix is rejected before the general matcher runs (exact, and much cheaper).
    prefix = _literal_prefix(pattern)
    if prefix:
        return lambda k: k.startswith(prefix) and glob_match(pattern, k)
    return lambda k: glob_match(pattern, k)


# ---- the command table as ACLs see it ------------------------------------------------------

class CommandIndex:
    """Command ids (``Command.acl_bit``) and per-category id lists, built once.

    ACLs work on the original command table (``registry.COMMANDS``): renaming a
    command (rename-command) does not change what ``+get`` means.
    """

    def __init__(self) -> None:
        next_id = 1
        cmds: list[Command] = []
        for cmd in COMMANDS.values():
            cmds.append(cmd)
            cmds.extend(cmd.subcommands.values())
        for cmd in cmds:
            if cmd.acl_bit == 0:
                cmd.acl_bit = next_id
            next_id = max(next_id, cmd.acl_bit) + 1
        self.size = next_id
        # +@cat sets each command of the category together with all its subcommands, then
        # each subcommand of the category (ACLSetSelectorCommandBitsForCategory).
        self.cat_ids: dict[str, tuple[int, ...]] = {}
        self.cat_cmds: dict[str, tuple[Command, ...]] = {}
        for cat in ACL_CATEGORIES:
            ids: list[int] = []
            members: list[Command] = []
            for cmd in COMMANDS.values():
                if cat in cmd.acl_categories:
                    members.append(cmd)
                    ids.append(cmd.acl_bit)
                    ids.extend(s.acl_bit for s in cmd.subcommands.values())
                for sub in cmd.subcommands.values():
                    if cat in sub.acl_categories:
                        members.append(sub)
                        ids.append(sub.acl_bit)
            self.cat_ids[cat] = tuple(ids)
            self.cat_cmds[cat] = tuple(members)

    @staticmethod
    def keys_of(cmd: Command) -> CmdKeys:
        ck = _KEYS.get(id(cmd))
        if ck is None:
            ck = _KEYS[id(cmd)] = CmdKeys(cmd)
        return ck

    @staticmethod
    def lookup(name: str) -> Command | None:
        """lookupCommandBySdsLogic(strict): 'cmd' or 'container|sub', case-insensitive."""
        parts = name.lower().split("|")
        if len(parts) > 2:
            return None
        base = COMMANDS.get(parts[0])
        if len(parts) == 1 or base is None or not base.subcommands:
            return base if len(parts) == 1 else None
        return base.subcommands.get(parts[1])


_INDEX: CommandIndex | None = None
# Key extraction facts per command (by id: Command objects are unhashable), built lazily.
_KEYS: dict[int, CmdKeys] = {}
_INDEX_KEYS = CommandIndex.keys_of


def command_index() -> CommandIndex:
    global _INDEX
    if _INDEX is None:
        _INDEX = CommandIndex()
    return _INDEX


# ---- selectors --------------------------------------------------------------------------

class KeyPattern:
    __slots__ = ("flags", "pattern")

    def __init__(self, pattern: bytes, flags: int) -> None:
        self.pattern = pattern
        self.flags = flags

    def describe(self) -> bytes:
        if self.flags == ALL_PERM:
            return b"~" + self.pattern
        if self.flags == READ_PERM:
            return b"%R~" + self.pattern
        return b"%W~" + self.pattern


class KeyMatcher:
    """All of a selector's patterns that grant some access, folded into a few C-level
    tests: exact keys in a set, 'prefix*' and '*suffix' patterns as one startswith /
    endswith over a tuple, and the remaining globs behind their literal prefixes."""

    __slots__ = ("exact", "prefixes", "suffixes", "globs", "glob_prefixes")

    def __init__(self, patterns: Iterable[bytes]) -> None:
        exact: set[bytes] = set()
        prefixes: list[bytes] = []
        suffixes: list[bytes] = []
        globs: list[tuple[bytes, bytes]] = []
        for pat in patterns:
            simple = compile_simple(pat) if pat != b"*" else ("prefix", b"")
            if simple is None:
                globs.append((_literal_prefix(pat), pat))
            elif simple[0] == "exact":
                exact.add(simple[1])
            elif simple[0] == "prefix":
                prefixes.append(simple[1])
            else:
                suffixes.append(simple[1])
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.suffixes = tuple(suffixes)
        self.globs = tuple(globs)
        gp = tuple(p for p, _ in globs)
        self.glob_prefixes = None if b"" in gp else gp

    def __call__(self, key: bytes) -> bool:
        if key in self.exact or key.startswith(self.prefixes) or key.endswith(self.suffixes):
            return True
        globs = self.globs
        if not globs:
            return False
        gp = self.glob_prefixes
        if gp is not None and not key.startswith(gp):
            return False
        for prefix, pat in globs:
            if key.startswith(prefix) and glob_match(pat, key):
                return True
        return False


def _literal_prefix(pattern: bytes) -> bytes:
    """The part before the first *, ?, [ or backslash: it must match literally."""
    cut = min((i for i in (pattern.find(ch) for ch in b"*?[\\") if i >= 0), default=len(pattern))
    return pattern[:cut]


class Selector:
    """One set of command, key and channel permissions (aclSelector)."""

    __slots__ = ("root", "allkeys", "allchannels", "allcommands", "future", "allowed",
                 "firstargs", "patterns", "channels", "channel_matchers", "rules", "_matchers")

    def __init__(self, root: bool, allchannels: bool) -> None:
        self.root = root
        self.allkeys = False
        self.allchannels = allchannels
        self.allcommands = False
        self.future = False  # +@all: commands added later are allowed too
        self.allowed = bytearray(command_index().size)
        self.firstargs: dict[int, list[bytes]] = {}
        self.patterns: list[KeyPattern] = []
        self.channels: list[bytes] = []
        self.channel_matchers: list[Callable[[bytes], bool]] = []
        self.rules: list[str] = []
        self._matchers: dict[int, KeyMatcher] = {}  # by needed access, built on first use

    def copy(self) -> Selector:
        s = Selector.__new__(Selector)
        s.root = self.root
        s.allkeys = self.allkeys
        s.allchannels = self.allchannels
        s.allcommands = self.allcommands
        s.future = self.future
        s.allowed = bytearray(self.allowed)
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.patterns = [KeyPattern(p.pattern, p.flags) for p in self.patterns]
        s.channels = list(self.channels)
        s.channel_matchers = list(self.channel_matchers)
        s.rules = list(self.rules)
        s._matchers = {}
        return s

    # -- rules ----------------------------------------------------------------------
    def _set_bit(self, cid: int, value: bool) -> None:
        if value:
            self.allowed[cid] = 1
        else:
            self.allowed[cid] = 0
            self.allcommands = False

    def _change_perm(self, cmd: Command, allow: bool) -> None:
        """ACLChangeSelectorPerm: a container's subcommands follow it."""
        self._set_bit(cmd.acl_bit, allow)
        self.firstargs.pop(cmd.acl_bit, None)
        for sub in cmd.subcommands.values():
            self._set_bit(sub.acl_bit, allow)

    def _update_rules(self, rule: str, allow: bool) -> None:
        """Keep the ordered rule list lossless: drop an older rule for the same command
        (or any of its subcommands), then append this one."""
        rule = rule.lower()
        sub_prefix = rule + "|"
        self.rules = [r for r in self.rules if r[1:] != rule and not r[1:].startswith(sub_prefix)]
        self.rules.append(("+" if allow else "-") + rule)

    def _all_commands(self, allow: bool) -> None:
        size = len(self.allowed)
        self.allowed = bytearray(b"\x01" * size) if allow else bytearray(size)
        self.allcommands = allow
        self.future = allow
        self.rules = []
        self.firstargs = {}

    def apply(self, op: bytes) -> None:
        """ACLSetSelector; raises RuleError."""
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns = []
            self._matchers = {}
        elif low == b"resetkeys":
            self.allkeys = False
            self.patterns = []
            self._matchers = {}
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
            self.channel_matchers = []
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels = []
            self.channel_matchers = []
        elif low in (b"allcommands", b"+@all"):
            self._all_commands(True)
        elif low in (b"nocommands", b"-@all"):
            self._all_commands(False)
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
            self._matchers = {}
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(E_CHANNELS_AFTER_ALL)
            pat = op[1:]
            if has_spaces(pat):
                raise RuleError(E_SYNTAX)
            if pat not in self.channels:
                self.channels.append(pat)
                self.channel_matchers.append(_matcher(pat))
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow_command(op[1:].decode("latin-1"))
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = CommandIndex.lookup(op[1:].decode("latin-1"))
            if cmd is None:
                raise RuleError(E_UNKNOWN, unknown=True)
            self._change_perm(cmd, False)
            self._update_rules(cmd.fullname, False)
        elif op[:2] in (b"+@", b"-@"):
            self._category(op[2:].decode("latin-1"), op[:1] == b"+")
        else:
            raise RuleError(E_SYNTAX)

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(E_KEYS_AFTER_ALL)
        flags = 0
        offset = 1
        n = len(op)
        if op[:1] == b"%":
            while offset < n:
                ch = op[offset:offset + 1].upper()
                if ch == b"R" and not flags & READ_PERM:
                    flags |= READ_PERM
                elif ch == b"W" and not flags & WRITE_PERM:
                    flags |= WRITE_PERM
                elif ch == b"~" and flags:
                    offset += 1
                    break
                else:
                    raise RuleError(E_SYNTAX)
                offset += 1
        else:
            flags = ALL_PERM
        pat = op[offset:]
        if has_spaces(pat):
            raise RuleError(E_SYNTAX)
        for p in self.patterns:
            if p.pattern == pat:
                p.flags |= flags
                break
        else:
            self.patterns.append(KeyPattern(pat, flags))
        self.allkeys = False

    def _allow_command(self, name: str) -> None:
        if "|" not in name:
            cmd = CommandIndex.lookup(name)
            if cmd is None:
                raise RuleError(E_UNKNOWN, unknown=True)
            self._change_perm(cmd, True)
            self._update_rules(cmd.fullname, True)
            return
        base_name, sub = name.rsplit("|", 1)
        base = CommandIndex.lookup(base_name)
        if base is None:
            raise RuleError(E_UNKNOWN, unknown=True)
        if base.parent is not None:
            raise RuleError(E_FIRSTARG_OF_SUB)
        if not sub:
            raise RuleError(E_SYNTAX)
        if base.subcommands:
            cmd = CommandIndex.lookup(name)
            if cmd is None:
                raise RuleError(E_UNKNOWN, unknown=True)
            self._change_perm(cmd, True)
        else:
            # "+select|0": a first argument allowed for an otherwise blocked command.
            allowed = self.firstargs.setdefault(base.acl_bit, [])
            arg = sub.encode("latin-1").lower()
            if arg not in allowed:
                allowed.append(arg)
        self._update_rules(name, True)

    def _category(self, cat: str, allow: bool) -> None:
        idx = command_index()
        key = cat.lower()
        ids = idx.cat_ids.get(key)
        if ids is None:
            raise RuleError(E_UNKNOWN, unknown=True)
        self._update_rules("@" + cat, allow)
        for cmd in idx.cat_cmds[key]:
            self.firstargs.pop(cmd.acl_bit, None)
        for cid in ids:
            self._set_bit(cid, allow)

    # -- description -------------------------------------------------------------------
    def describe_commands(self) -> str:
        head = "+@all" if self.future else "-@all"
        return " ".join([head, *self.rules])

    def keys_description(self) -> bytes:
        if self.allkeys:
            return b"~*"
        return b" ".join(p.describe() for p in self.patterns)

    def channels_description(self) -> bytes:
        if self.allchannels:
            return b"&*"
        return b" ".join(b"&" + c for c in self.channels)

    def describe(self) -> bytes:
        """ACLDescribeSelector: keys, channels, then command rules."""
        parts: list[bytes] = []
        if self.allkeys:
            parts.append(b"~*")
        else:
            parts.extend(p.describe() for p in self.patterns)
        if self.allchannels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + c for c in self.channels)
        parts.append(self.describe_commands().encode("latin-1"))
        return b" ".join(parts)

    # -- checks -------------------------------------------------------------------------
    def check_key(self, key: bytes, spec_flags: int) -> bool:
        if self.allkeys:
            return True
        need = 0
        if spec_flags & ACCESS:
            need |= READ_PERM
        if spec_flags & (INSERT | DELETE | UPDATE):
            need |= WRITE_PERM
        m = self._matchers.get(need)
        if m is None:
            m = self._matchers[need] = KeyMatcher(
                p.pattern for p in self.patterns if p.flags & need == need)
        return m(key)

    def check_channel(self, channel: bytes, is_pattern: bool) -> bool:
        if self.allchannels:
            return True
        if is_pattern:
            return channel in self.channels
        return any(m(channel) for m in self.channel_matchers)

    def full_key_access(self, spec_flags: int) -> bool:
        """ACLSelectorHasUnrestrictedKeyAccess: a '*' pattern with the needed access."""
        if self.allkeys:
            return True
        need = (READ_PERM if spec_flags & ACCESS else 0) | (
            WRITE_PERM if spec_flags & (INSERT | DELETE | UPDATE) else 0)
        return any(p.pattern == b"*" and p.flags & need == need for p in self.patterns)

    def check_cmd(self, cmd: Command, argv: list[bytes], cache: list[object]) -> tuple[int, int]:
        """ACLSelectorCheckCmd -> (result, index of the offending argument)."""
        if not self.allcommands and not cmd.no_auth:
            cid = cmd.acl_bit
            allowed = self.allowed[cid] if 0 < cid < len(self.allowed) else self.future
            if not allowed:
                fa = self.firstargs.get(cid)
                if fa is None or len(argv) < 2:
                    return DENIED_CMD, 0
                i = 2 if cmd.parent is not None else 1
                if i >= len(argv) or argv[i].lower() not in fa:
                    return DENIED_CMD, 0
        if not self.allkeys:
            refs = cache[0]
            if refs is None:
                ck = _KEYS.get(id(cmd)) or _INDEX_KEYS(cmd)
                refs = cache[0] = key_refs(ck, argv) if ck.has_keys else ()
            for idx, fl in refs:  # type: ignore[attr-defined]
                if not self.check_key(argv[idx], fl):
                    return DENIED_KEY, idx
        if not self.allchannels and cmd.parent is None:
            spec = CHANNEL_SPECS.get(cmd.name)
            if spec is not None and spec[0] & (CH_PUBLISH | CH_SUBSCRIBE):
                flags, start, count = spec
                stop = len(argv) if count == -1 else min(start + count, len(argv))
                is_pattern = bool(flags & CH_PATTERN)
                for idx in range(start, stop):
                    if not self.check_channel(argv[idx], is_pattern):
                        return DENIED_CHANNEL, idx
        return OK, 0


# ---- users --------------------------------------------------------------------------------

class User:
    """An ACL user. Clients keep a reference, so changes apply to them at once."""

    __slots__ = ("name", "enabled", "nopass", "skip_sanitize", "passwords", "selectors",
                 "unrestricted", "_descr")

    def __init__(self, name: str, allchannels: bool) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.skip_sanitize = False
        self.passwords: list[str] = []
        self.selectors: list[Selector] = [Selector(True, allchannels)]
        self.unrestricted = False
        self._descr: bytes | None = None

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    def copy_from(self, src: User) -> None:
        """ACLCopyUser: take src's rules, keep our name (and identity)."""
        self.enabled = src.enabled
        self.nopass = src.nopass
        self.skip_sanitize = src.skip_sanitize
        self.passwords = list(src.passwords)
        self.selectors = [s.copy() for s in src.selectors]
        self._descr = None
        self.refresh()

    def clone(self, name: str | None = None) -> User:
        u = User.__new__(User)
        u.name = self.name if name is None else name
        u.selectors = []
        u.copy_from(self)
        return u

    def refresh(self) -> None:
        r = self.selectors[0]
        self.unrestricted = r.allcommands and r.allkeys and r.allchannels
        self._descr = None

    def check_password(self, password: bytes) -> bool:
        hashed = hash_password(password)
        ok = False
        for p in self.passwords:
            ok |= hmac.compare_digest(hashed, p)
        return ok

    def apply(self, op: bytes, allchannels_default: bool) -> None:
        """ACLSetUser for one rule (already merged if it is a selector); RuleError on error."""
        self._descr = None
        try:
            self._apply(op, allchannels_default)
        finally:
            self.refresh()

    def _apply(self, op: bytes, allchannels_default: bool) -> None:
        if not op:
            return
        low = op.lower()
        if low == b"on":
            self.enabled = True
        elif low == b"off":
            self.enabled = False
        elif low == b"skip-sanitize-payload":
            self.skip_sanitize = True
        elif low == b"sanitize-payload":
            self.skip_sanitize = False
        elif low == b"nopass":
            self.nopass = True
            self.passwords = []
        elif low == b"resetpass":
            self.nopass = False
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            if op[:1] == b">":
                h = hash_password(op[1:])
            else:
                if not valid_hash(op[1:]):
                    raise RuleError(E_BAD_HASH)
                h = op[1:].decode("ascii")
            if h not in self.passwords:
                self.passwords.append(h)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            if op[:1] == b"<":
                h = hash_password(op[1:])
            else:
                if not valid_hash(op[1:]):
                    raise RuleError(E_BAD_HASH)
                h = op[1:].decode("ascii")
            if h not in self.passwords:
                raise RuleError(E_NO_SUCH_PASS)
            self.passwords.remove(h)
        elif op[:1] == b"(" and op[-1:] == b")":
            sel = Selector(False, allchannels_default)
            args = split_args(op[1:-1].decode("latin-1"))
            for a in args or ():
                sel.apply(a.encode("latin-1"))
            self.selectors.append(sel)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.nopass = False
            self.passwords = []
            root = self.selectors[0]
            root.apply(b"resetkeys")
            root.apply(b"resetchannels")
            if allchannels_default:
                root.apply(b"allchannels")
            self.enabled = False
            self.skip_sanitize = False
            del self.selectors[1:]
            root.apply(b"-@all")
        else:
            self.selectors[0].apply(op)

    def describe(self) -> bytes:
        """ACLDescribeUser: the rules that recreate this user, as ACL LIST shows them."""
        d = self._descr
        if d is not None:
            return d
        parts = [b"on" if self.enabled else b"off"]
        if self.nopass:
            parts.append(b"nopass")
        parts.append(b"skip-sanitize-payload" if self.skip_sanitize else b"sanitize-payload")
        parts.extend(b"#" + p.encode("ascii") for p in self.passwords)
        parts.append(self.selectors[0].describe())
        out = b" ".join(parts)
        for s in self.selectors[1:]:
            out += b" (" + s.describe() + b")"
        self._descr = out
        return out

    def flags(self) -> list[bytes]:
        out = [b"on" if self.enabled else b"off"]
        if self.nopass:
            out.append(b"nopass")
        out.append(b"skip-sanitize-payload" if self.skip_sanitize else b"sanitize-payload")
        return out


def merge_selector_args(args: Iterable[bytes]) -> tuple[list[bytes], int]:
    """ACLMergeSelectorArguments: join '(a' 'b)' into one '(a b)' argument.

    Returns (merged, -1), or ([...], index of the unmatched '(' argument)."""
    merged: list[bytes] = []
    start = -1
    cur = b""
    for j, op in enumerate(args):
        if start == -1 and op[:1] == b"(" and op[-1:] != b")":
            cur = op
            start = j
            continue
        if start != -1:
            cur += b" " + op
            if op[-1:] == b")":
                start = -1
                merged.append(cur)
            continue
        merged.append(op)
    return merged, start


def check_all(user: User, cmd: Command, argv: list[bytes]) -> tuple[int, int]:
    """ACLCheckAllUserCommandPerm: OK if any selector allows; otherwise the most relevant
    denial (channel > key > command, then the later argument)."""
    cache: list[object] = [None]
    sels = user.selectors
    if len(sels) == 1:
        return sels[0].check_cmd(cmd, argv, cache)
    relevant = DENIED_CMD
    last_idx = 0
    for s in sels:
        res, idx = s.check_cmd(cmd, argv, cache)
        if res == OK:
            return OK, 0
        if res > relevant or (res == relevant and idx > last_idx):
            relevant = res
            last_idx = idx
    return relevant, last_idx


def full_key_access(user: User, cmd: Command, argv: list[bytes], spec_flags: int) -> bool:
    """ACLUserCheckCmdWithUnrestrictedKeyAccess (SORT BY/GET patterns)."""
    cache: list[object] = [None]
    for s in user.selectors:
        if s.check_cmd(cmd, argv, cache)[0] == OK and s.full_key_access(spec_flags):
            return True
    return False


def error_message(res: int, user: User, cmd: Command, arg: bytes, verbose: bool) -> str:
    """getAclErrorMessage."""
    if res == DENIED_CMD:
        return f"User {user.name} has no permissions to run the '{cmd.fullname}' command"
    what = "key" if res == DENIED_KEY else "channel"
    if verbose:
        return (f"User {user.name} has no permissions to access the "
                f"'{arg.decode('utf-8', 'replace')}' {what}")
    return f"No permissions to access a {what}"


def upcoming_channels(new: User, original: User) -> list[bytes] | None:
    """getUpcomingChannelList: None if ``new`` keeps every channel ``original`` allowed."""
    if any(s.allchannels for s in new.selectors):
        return None
    upcoming = [ch for s in new.selectors for ch in s.channels]
    for s in original.selectors:
        if s.allchannels:
            return upcoming
        for ch in s.channels:
            if ch not in upcoming:
                return upcoming
    return None


def violates_channels(subs: Iterable[bytes], psubs: Iterable[bytes],
                      upcoming: list[bytes]) -> bool:
    """ACLShouldKillPubsubClient: a pattern must stay literally, a channel must still match."""
    for p in psubs:
        if p not in upcoming:
            return True
    matchers = [_matcher(u) for u in upcoming]
    for ch in subs:
        if not any(m(ch) for m in matchers):
            return True
    return False
