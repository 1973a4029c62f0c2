"""The server's ACL state: the user table, AUTH, the permission gate, ACL LOG, the ACL file.

``AclManager`` plugs into the command pipeline as a gate (``Server.gates``) only while
some user has restrictions: with just the default user (``+@all ~* &*``), or any set
of unrestricted users, the pipeline pays nothing. Clients hold their ``User`` object
(``Client.acl_user``), so ACL SETUSER changes apply to connected clients at once, as
in Valkey; deleting a user (or ACL LOAD without it) disconnects its clients, and
revoking channel permissions disconnects the subscribers that lose a subscription.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from kaa.commands.registry import Command
from kaa.protocol.reply import ReplyError
from kaa.security.acl import (
    DENIED_AUTH,
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    E_DUPLICATE,
    OK,
    RuleError,
    User,
    check_all,
    command_index,
    error_message,
    full_key_access,
    has_spaces,
    merge_selector_args,
    to_bytes,
    to_str,
    upcoming_channels,
    violates_channels,
)
from kaa.security.acl_log import (
    CTX_LUA,
    CTX_MULTI,
    CTX_TOPLEVEL,
    REASON_AUTH,
    REASON_CHANNEL,
    REASON_CMD,
    REASON_KEY,
    AclLog,
)

if TYPE_CHECKING:
    from kaa.server.client import Client
    from kaa.server.server import Server

WRONGPASS = ReplyError("WRONGPASS invalid username-password pair or user is disabled.")

_REASONS = {DENIED_CMD: REASON_CMD, DENIED_KEY: REASON_KEY, DENIED_AUTH: REASON_AUTH,
            DENIED_CHANNEL: REASON_CHANNEL}
_EXEC_REASONS = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    DENIED_KEY: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
_STAT_FIELDS = {DENIED_CMD: "acl_access_denied_cmd", DENIED_KEY: "acl_access_denied_key",
                DENIED_AUTH: "acl_access_denied_auth",
                DENIED_CHANNEL: "acl_access_denied_channel"}


class AclStartupError(SystemExit):
    """Bad users at start-up: logged (or printed as a config error), then exit(1)."""

    def __init__(self) -> None:
        super().__init__(1)


class AclManager:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.index = command_index()
        self.users: dict[str, User] = {}
        self.default = self._create_default()
        self.users["default"] = self.default
        self.log = AclLog()
        self._gate_installed = False

    # ---- users ------------------------------------------------------------------------
    def pubsub_default_all(self) -> bool:
        return self.server.config.acl_pubsub_default == "allchannels"

    def new_user(self, name: str) -> User:
        return User(name, self.pubsub_default_all())

    def _create_default(self) -> User:
        u = self.new_user("default")
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            u.apply(op, False)
        return u

    def sorted_users(self) -> list[User]:
        """Users in the rax order Valkey lists them (bytewise by name)."""
        return [self.users[k] for k in sorted(self.users, key=to_bytes)]

    def set_default_password(self, password: str | None) -> None:
        """ACLUpdateDefaultUserPassword (requirepass)."""
        u = self.default
        u.apply(b"resetpass", False)
        if password:
            u.apply(b">" + to_bytes(password), False)
        else:
            u.apply(b"nopass", False)
        self.default_changed()

    def setuser(self, name: bytes, ops: list[bytes]) -> str | None:
        """ACLStringSetUser: all rules or none; returns an error text or None."""
        merged, bad = merge_selector_args(ops)
        if bad != -1:
            return f"Unmatched parenthesis in acl selector starting at '{ops[bad].decode('utf-8', 'replace')}'."
        uname = to_str(name)
        existing = self.users.get(uname)
        temp = existing.clone() if existing is not None else self.new_user(uname)
        allch = self.pubsub_default_all()
        for op in merged:
            try:
                temp.apply(op, allch)
            except RuleError as e:
                return (f"Error in ACL SETUSER modifier '{op.decode('utf-8', 'replace')}': "
                        f"{e.message}")
        if existing is not None:
            self._kill_pubsub_clients(temp, existing)
            existing.copy_from(temp)
        else:
            self.users[uname] = temp
        if existing is self.default:
            self.default_changed()
        self.refresh_gate()
        return None

    def deluser(self, names: list[bytes]) -> int:
        deleted = 0
        for n in names:
            u = self.users.pop(to_str(n), None)
            if u is not None:
                deleted += 1
                self._kill_user_clients(u)
        self.refresh_gate()
        return deleted

    def default_changed(self) -> None:
        """The default user's nopass/on flags decide who must AUTH (authRequired)."""
        need = self.auth_required()
        for c in self.server.clients.values():
            if not c.authenticated:
                c.parser.authenticated = not need

    def auth_required(self) -> bool:
        d = self.default
        return not d.nopass or not d.enabled

    # ---- authentication ----------------------------------------------------------------
    def authenticate(self, c: Client, username: bytes, password: bytes) -> None:
        """checkPasswordBasedAuth: log in as ``username`` or raise WRONGPASS (and log it)."""
        u = self.users.get(to_str(username))
        ok = False
        if u is not None and u.enabled:
            ok = u.nopass or u.check_password(password)
        elif u is None:
            User.check_password(self.default, password)  # same work whether or not it exists
        if ok:
            assert u is not None
            c.authenticated = True
            c.parser.authenticated = True
            c.user = u.name
            c.acl_user = u
            return
        argv = c.cur_argv
        obj = argv[0] if argv else b"AUTH"
        ctx = CTX_MULTI if c.multi is not None else CTX_TOPLEVEL
        cmd = obj.decode("utf-8", "replace").lower()
        self.add_log(c, DENIED_AUTH, ctx, obj, to_str(username), cmd)
        raise WRONGPASS

    # ---- the gate ------------------------------------------------------------------------
    def refresh_gate(self) -> None:
        srv = self.server
        need = any(not u.unrestricted for u in self.users.values())
        if need and not self._gate_installed:
            srv.gates.insert(0, self.gate)  # ACL runs first, as in processCommand
            self._gate_installed = True
            srv.refresh_gate()
        elif not need and self._gate_installed:
            srv.gates.remove(self.gate)
            self._gate_installed = False
            srv.refresh_gate()
        # Scripts check server.call() only while some user is restricted.
        sc = srv.scripting
        if sc is not None and hasattr(sc, "acl_check"):
            sc.acl_check = self.script_check if need else None

    def gate(self, c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | None:
        u = c.acl_user
        if u.unrestricted:
            return None
        res, idx = check_all(u, cmd, argv)
        if res:
            ctx = CTX_MULTI if c.multi is not None else CTX_TOPLEVEL
            self.add_log(c, res, ctx, self._object(res, cmd, argv, idx), u.name, cmd.fullname)
            return ReplyError("NOPERM " + error_message(res, u, cmd, argv[idx], False))
        if c.multi and cmd.name == "exec" and cmd.parent is None and not (
                c.multi_error or c.dirty_cas):
            self._recheck_queued(c, u)
        return None

    def _recheck_queued(self, c: Client, u: User) -> None:
        """EXEC re-checks queued commands: permissions may have changed since MULTI."""
        queued = c.multi
        assert queued is not None
        for i, (qcmd, qargv) in enumerate(queued):
            res, idx = check_all(u, qcmd, qargv)
            if not res:
                continue
            self.add_log(c, res, CTX_MULTI, self._object(res, qcmd, qargv, idx), u.name, "exec")
            msg = ("NOPERM ACLs rules changed between the moment the transaction was accumulated "
                   "and the EXEC call. This command is no longer allowed for the following "
                   f"reason: {_EXEC_REASONS.get(res, 'no permission')}")
            queued[i] = (_denied(qcmd, msg), qargv)

    def script_check(self, caller: Client, cmd: Command, argv: list[bytes]) -> str | None:
        """scriptVerifyACL: the message for a denied server.call(), logged with context lua."""
        u: User = getattr(caller, "acl_user", None) or self.default
        if u.unrestricted:
            return None
        res, idx = check_all(u, cmd, argv)
        if not res:
            return None
        cur = caller.cur_argv
        name = cur[0].decode("utf-8", "replace").lower() if cur else "eval"
        self.add_log(caller, res, CTX_LUA, self._object(res, cmd, argv, idx), u.name, name)
        return error_message(res, u, cmd, argv[idx], False)

    def script_allowed(self, caller: Client, cmd: Command, argv: list[bytes]) -> bool:
        """server.acl_check_cmd(): the same check, without logging."""
        u: User = getattr(caller, "acl_user", None) or self.default
        return u.unrestricted or check_all(u, cmd, argv)[0] == OK

    def full_key_access(self, c: Client, cmd: Command, argv: list[bytes]) -> bool:
        """May this client read any key with this command? (SORT BY/GET patterns)"""
        from kaa.security.keyspecs import ACCESS

        u: User = c.acl_user
        return u.unrestricted or full_key_access(u, cmd, argv, ACCESS)

    @staticmethod
    def _object(res: int, cmd: Command, argv: list[bytes], idx: int) -> bytes:
        if res == DENIED_CMD:
            return cmd.fullname.encode()
        return argv[idx]

    # ---- ACL LOG ----------------------------------------------------------------------------
    def add_log(self, c: Client, res: int, ctx: str, obj: bytes, username: str,
                current_cmd: str) -> None:
        """addACLLogEntry: count it in INFO, then log (or merge with a similar entry)."""
        srv = self.server
        field = _STAT_FIELDS[res]
        setattr(srv.stats, field, getattr(srv.stats, field, 0) + 1)
        maxlen = srv.config.acllog_max_len
        if maxlen == 0:
            self.log.add(_REASONS[res], ctx, obj, username, "", 0, 0)
            return
        from kaa.commands.client_cmds import client_info_line

        real = srv.current_client or c
        now = time.time()
        try:
            cinfo = client_info_line(real, now, current_cmd if real is c else None)
        except Exception:  # the log line must never fail the command
            cinfo = real.describe()
        self.log.add(_REASONS[res], ctx, obj, username, cinfo, int(now * 1000), maxlen)

    # ---- disconnecting clients ----------------------------------------------------------------
    def _kill(self, c: Client) -> None:
        srv = self.server
        if c is srv.current_client:
            c.close_after_reply = True
            return
        from kaa.commands.client_cmds import kill_client

        kill_client(srv, c)

    def _kill_user_clients(self, u: User) -> None:
        """ACLFreeUserAndKillClients: its clients fall back to an unauthenticated default."""
        for c in list(self.server.clients.values()):
            if c.acl_user is u:
                c.acl_user = self.default
                c.user = "default"
                c.authenticated = False
                self._kill(c)

    def _kill_pubsub_clients(self, new: User, original: User) -> None:
        """ACLKillPubsubClientsIfNeeded."""
        srv = self.server
        if not _any_subscriber(srv):
            return
        upcoming = upcoming_channels(new, original)
        if upcoming is None:
            return
        for c in list(srv.clients.values()):
            if c.acl_user is not original:
                continue
            if _subscribed(c) and violates_channels(
                    list(c.subscriptions) + list(c.ssubscriptions), c.psubscriptions, upcoming):
                self._kill(c)

    # ---- the ACL file ----------------------------------------------------------------------
    def load_file(self) -> str | None:
        """ACLLoadFromFile: all users or nothing; returns the errors or None."""
        path = self.server.config.aclfile
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            return f"Error loading ACLs, opening file '{path}': {os.strerror(e.errno or 0)}"
        new_users: dict[str, User] = {}
        errors: list[str] = []
        allch = self.pubsub_default_all()
        for i, raw in enumerate(data.split(b"\n")):
            linenum = i + 1
            line = raw.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")
            if argv[0] != b"user" or len(argv) < 2:
                errors.append(f"{path}:{linenum} should start with user keyword followed by "
                              "the username. ")
                continue
            if has_spaces(argv[1]):
                errors.append(f"'{path}:{linenum}: username '{_show(argv[1])}' contains "
                              "invalid characters. ")
                continue
            name = to_str(argv[1])
            if name in new_users:
                errors.append(f"WARNING: Duplicate user '{_show(argv[1])}' found on line "
                              f"{linenum}. ")
                continue
            u = new_users[name] = self.new_user(name)
            merged, bad = merge_selector_args(argv[2:])
            if bad != -1:
                errors.append(f"{path}:{linenum}: Unmatched parenthesis in selector definition.")
                continue
            syntax_error = False
            for op in merged:
                op = op.strip(b"\t\r\n")
                try:
                    u.apply(op, allch)
                except RuleError as e:
                    if e.unknown:
                        errors.append(f"{path}:{linenum}: Error in applying operation "
                                      f"'{_show(op)}': {e.message}. ")
                    elif not syntax_error:
                        errors.append(f"{path}:{linenum}: {e.message}. ")
                        syntax_error = True
        if errors:
            return "".join(errors) + ("WARNING: ACL errors detected, no change to the previously "
                                      "active ACL rules was performed")
        self._install_users(new_users)
        return None

    def _install_users(self, new_users: dict[str, User]) -> None:
        """Swap in a new user table; the default user object keeps its identity."""
        srv = self.server
        new_default = new_users.get("default") or self._create_default()
        self.default.copy_from(new_default)
        new_users["default"] = self.default
        old_users = self.users
        self.users = new_users
        subscribers = _any_subscriber(srv)
        cache: dict[str, list[bytes] | None] = {}
        for c in list(srv.clients.values()):
            original: User = c.acl_user
            nu = new_users.get(original.name)
            if nu is None:
                self._kill(c)
                continue
            if subscribers and _subscribed(c):
                if nu.name not in cache:
                    cache[nu.name] = upcoming_channels(nu, original) if original is not nu else None
                up = cache[nu.name]
                if up is not None and violates_channels(
                        list(c.subscriptions) + list(c.ssubscriptions), c.psubscriptions, up):
                    self._kill(c)
                    continue
            c.acl_user = nu
        del old_users
        self.default_changed()
        self.refresh_gate()

    def save_file(self) -> bool:
        """ACLSaveToFile: temp file, fsync, rename, fsync the directory. Owner-only mode."""
        srv = self.server
        path = srv.config.aclfile
        body = b"".join(b"user " + to_bytes(u.name) + b" " + u.describe() + b"\n"
                        for u in self.sorted_users())
        tmp = f"{path}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as e:
            srv.log_warning(f"Opening temp ACL file for ACL SAVE: {os.strerror(e.errno or 0)}")
            return False
        try:
            try:
                view = memoryview(body)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            except OSError as e:
                srv.log_warning(f"Writing ACL file for ACL SAVE: {os.strerror(e.errno or 0)}")
                return False
            try:
                os.fsync(fd)
            except OSError as e:
                srv.log_warning(f"Syncing ACL file for ACL SAVE: {os.strerror(e.errno or 0)}")
                return False
            os.close(fd)
            fd = -1
            try:
                os.replace(tmp, path)
            except OSError as e:
                srv.log_warning(f"Renaming ACL file for ACL SAVE: {os.strerror(e.errno or 0)}")
                return False
            tmp = ""
            try:
                dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            except OSError as e:
                srv.log_warning(f"Syncing ACL directory for ACL SAVE: {os.strerror(e.errno or 0)}")
                return False
            return True
        finally:
            if fd != -1:
                os.close(fd)
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    # ---- start-up ----------------------------------------------------------------------------
    def validate_config_users(self) -> str | None:
        """ACLAppendUserForLoading for every ``user`` line: syntax only (unknown commands
        are reported when the users are loaded). Returns Valkey's config error text."""
        seen: set[str] = set()
        for args in self.server.config.users:
            err = self.validate_user_line(args, seen)
            if err is not None:
                return err
        return None

    def validate_user_line(self, args: list[str], seen: set[str] | None = None) -> str | None:
        argv = ["user", *args]
        if seen is not None:
            if args[0] in seen:
                return f"Error in user declaration '{argv[1]}': {E_DUPLICATE}"
            seen.add(args[0])
        merged, bad = merge_selector_args([to_bytes(a) for a in args[1:]])
        if bad != -1:
            return f"Error in user declaration '{argv[bad]}': Syntax error"
        fake = self.new_user("__fakeuser__")
        for j, op in enumerate(merged):
            try:
                fake.apply(op, False)
            except RuleError as e:
                if not e.unknown:
                    # Valkey indexes the full line with the rule's position (sic).
                    return f"Error in user declaration '{argv[j]}': {e.message}"
        return None

    def load_at_startup(self) -> None:
        """ACLLoadUsersAtStartup: config ``user`` lines or the ACL file, never both."""
        srv = self.server
        cfg = srv.config
        if cfg.aclfile and cfg.users:
            srv.log_warning(
                "Configuring Kaa with users defined in the configuration file and at the same "
                "setting an ACL file path is invalid. This setup is very likely to lead to "
                "configuration errors and security holes, please define either an ACL file or "
                "declare users directly in your configuration file, but not both.")
            raise AclStartupError()
        allch = self.pubsub_default_all()
        for args in cfg.users:
            name = args[0]
            if has_spaces(to_bytes(name)):
                srv.log_warning("Spaces not allowed in ACL usernames")
                srv.log_warning("Critical error while loading ACLs. Exiting.")
                raise AclStartupError()
            u = self.users.get(name)
            if u is None:
                u = self.users[name] = self.new_user(name)
            else:
                u.apply(b"reset", allch)
            merged, _ = merge_selector_args([to_bytes(a) for a in args[1:]])
            for op in merged:
                try:
                    u.apply(op, allch)
                except RuleError as e:
                    srv.log_warning(f"Error loading ACL rule '{_show(op)}' for the user named "
                                    f"'{name}': {e.message}")
                    srv.log_warning("Critical error while loading ACLs. Exiting.")
                    raise AclStartupError() from None
            if not u.enabled:
                srv.log_notice(f"The user '{name}' is disabled (there is no 'on' modifier in "
                               "the user description). Make sure this is not a configuration "
                               "error.")
        if cfg.aclfile:
            errors = self.load_file()
            if errors is not None:
                srv.log_warning(f"Aborting Kaa startup because of ACL errors: {errors}")
                raise AclStartupError()
        self.default_changed()
        self.refresh_gate()

    def rewrite_lines(self) -> list[str]:
        """CONFIG REWRITE: one ``user`` line per user (when no ACL file is configured)."""
        return ["user " + u.name + " " + to_str(u.describe()) for u in self.sorted_users()]


def _denied(cmd: Command, message: str) -> Command:
    """A stand-in queued in place of a command EXEC must refuse: replying is all it does."""
    err = ReplyError(message)

    def refuse(c: Any, argv: list[bytes]) -> Any:
        raise err

    return Command(name=cmd.name, handler=refuse, arity=cmd.arity,
                   flags=frozenset({"skip_slowlog", "skip_monitor"}), acl_categories=())


def _subscribed(c: Any) -> bool:
    return bool(c.subscriptions or c.psubscriptions or c.ssubscriptions)


def _any_subscriber(srv: Any) -> bool:
    return any(_subscribed(c) for c in srv.clients.values())


def _show(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def print_config_error(message: str) -> None:
    """A user line that fails validation is a fatal config error, as in Valkey."""
    from kaa import VALKEY_VERSION
    from kaa.server.config_file import format_fatal

    sys.stderr.write(format_fatal(message, None, None, VALKEY_VERSION))
    sys.stderr.flush()
