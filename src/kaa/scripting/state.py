"""The scripting state of a server (eval.c, script.c, functions.c): the script cache,
the function libraries, the run context of the script being executed, and
``server.call`` itself.

A script runs inline on the event-loop thread, inside a long-lived worker greenlet.
A Lua count hook fires every 100k instructions; once a script has run longer than
``busy-reply-threshold`` the hook (and ``server.call``) switch back to the event loop
every few milliseconds, so the server keeps reading sockets: other clients get
``-BUSY`` from a gate except for the commands flagged ``allow_busy`` (SCRIPT KILL,
FUNCTION KILL/STATS, SHUTDOWN NOSAVE, ...), the cron is held (nothing expires), keys
made ready for blocked clients are held back until the script ends, and the time
scripts see stays frozen at the start of the script, as Valkey's cached time.

Effects replication: each write a script makes reaches ``Server.propagate`` on its
own; the run collects them and propagates MULTI ... EXEC around them at the end (a
single write goes alone), never the script itself.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from kaa.commands.registry import COMMANDS, Command
from kaa.protocol.reply import (
    NULL_ARRAY,
    Raw,
    ReplyError,
    encode2,
    encode3,
    encode_error,
    format_double,
)
from kaa.scripting.engine import AVAILABLE, CompileError, LuaEngine, ScriptCallError, sha1hex
from kaa.scripting.library import (
    FLAG_ALLOW_CROSS_SLOT,
    FLAG_ALLOW_OOM,
    FLAG_ALLOW_STALE,
    FLAG_BY_NAME,
    FLAG_EVAL_COMPAT_MODE,
    FLAG_NO_CLUSTER,
    FLAG_NO_WRITES,
    FunctionInfo,
    Library,
    LibraryError,
    Registry,
    parse_library_header,
    valid_name,
)
from kaa.scripting.shebang import ShebangError, script_flags
from kaa.server.client import NO_REPLY, Client

if TYPE_CHECKING:
    from kaa.server.server import Server

try:
    import greenlet as _greenlet

    _getcurrent = _greenlet.getcurrent
except ImportError:  # pragma: no cover - without it long scripts simply block
    _greenlet = None

LRU_LIST_LENGTH = 500  # EVAL scripts kept in the cache (SCRIPT LOAD ones never evicted)
LOAD_TIMEOUT_S = 0.5  # FUNCTION LOAD's top level must finish in this time
YIELD_EVERY_S = 0.005  # while busy, give the event loop a turn this often
_TWO62 = 2**62
_EMPTY_LUA = 31744  # bytes of a fresh Lua state, as Valkey reports it

ERR_NOSCRIPT = ReplyError("NOSCRIPT No matching script.")
ERR_BUSY_EVAL = ReplyError("BUSY Valkey is busy running a script. You can only call SCRIPT KILL or "
                           "SHUTDOWN NOSAVE.")
ERR_BUSY_FUNCTION = ReplyError("BUSY Valkey is busy running a script. You can only call FUNCTION "
                               "KILL or SHUTDOWN NOSAVE.")
_NOREPLICAS_TEXT = "NOREPLICAS Not enough good replicas to write."
ERR_NOREPLICAS = ReplyError(_NOREPLICAS_TEXT)
ERR_UNAVAILABLE = ReplyError("ERR scripting is not available: the 'lupa' package is not installed")

_ERR_NOARGS = b"ERR Please specify at least one argument for this call"
_ERR_ARGTYPE = b"ERR Command arguments must be strings or integers"
_MULTI = [b"MULTI"]
_EXEC = [b"EXEC"]
_MARK = b""  # what the script client's encoder leaves in ``out`` for a reply value
_perf_ns = time.perf_counter_ns
_NO_ARGV: list[bytes] = []  # propagate_argv of a handler that propagated its effects itself


class _FrozenClock:
    """Stands in for the ``time`` module of the clock readers while a script runs."""

    def __init__(self) -> None:
        self.s = 0.0
        self.ns = 0

    def time(self) -> float:
        return self.s

    def time_ns(self) -> int:
        return self.ns

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_CLOCK = _FrozenClock()
# Modules whose ``time.time()`` decides expiry or answers TIME.
_CLOCK_READERS = ("kaa.engine.keyspace", "kaa.commands.server_cmds", "kaa.types.hash")


_clock_mods: list[Any] = []


def _clock_modules() -> list[Any]:
    if not _clock_mods:
        _clock_mods.extend(m for m in map(sys.modules.get, _CLOCK_READERS) if m is not None)
    return _clock_mods


class ScriptError(Exception):
    """A script could not start; ``reply`` is the error to send."""

    def __init__(self, reply: Any) -> None:
        super().__init__(str(reply))
        self.reply = reply


class Script:
    __slots__ = ("sha", "key", "body", "flags", "func", "from_eval")

    def __init__(self, sha: str, body: bytes, flags: int, func: Any, from_eval: bool) -> None:
        self.sha = sha
        self.key = sha.encode()  # the cache's key (and the LRU's)
        self.body = body
        self.flags = flags
        self.func = func
        self.from_eval = from_eval


class ScriptClient(Client):
    """The client scripts run commands as (Valkey's fake ``lua_client``): never connected,
    id 0 (MONITOR prints ``lua``), blocking commands do not block (``in_exec``), and
    reply values are captured instead of encoded."""

    __slots__ = ("captured",)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.id = 0
        self.captured: list[Any] = []
        self.enc = self._capture
        self.in_exec = True
        self.authenticated = True
        self.kind = "script"

    def _capture(self, v: Any) -> bytes:
        self.captured.append(v)
        return _MARK

    def set_resp(self, version: int) -> None:
        self.resp = version

    def flush(self) -> None:  # nothing to write to
        self.out.clear()

    def send_later(self, value: Any) -> None:
        pass


class ScriptRun:
    """scriptRunCtx: what the running script may do and what it has done.

    One is made per script run, so the fields that start the same every time are class
    attributes (no __slots__): the constructor stores only what differs."""

    write_dirty = False
    killed = False
    timed_out = False
    repl = 3
    batch: list[tuple[int, list[bytes]]] | None = None
    can_yield = False
    last_yield = 0.0
    frozen_s = 0.0
    frozen_ns = 0
    yielded = False

    def __init__(self, caller: Any, funcname: str, eval_mode: bool, argv: list[bytes],
                 cmd_name: str = "", engine: LuaEngine | None = None, readonly: bool = False,
                 allow_oom: bool = False, oom: bool = False) -> None:
        self.caller = caller
        self.funcname = funcname
        self.eval_mode = eval_mode
        self.readonly = readonly
        self.allow_oom = allow_oom
        self.oom = oom
        self.start = time.monotonic()
        self.cmd_name = cmd_name
        self.argv = argv
        self.engine = engine


class Scripting:
    """Everything scripting, one per server (``server.scripting``)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._eval_engine: LuaEngine | None = None
        self._func_engine: LuaEngine | None = None
        self.scripts: dict[bytes, Script] = {}  # by lower-case hex SHA1
        self.lru: OrderedDict[bytes, None] = OrderedDict()
        self.scripts_mem = 0
        self.evicted_scripts = 0
        self.registry = Registry()
        self.run: ScriptRun | None = None
        self._client: ScriptClient | None = None
        self.loading: Library | None = None  # FUNCTION LOAD in progress
        self.load_start = 0.0
        self.load_timeout: float | None = LOAD_TIMEOUT_S
        self.rand_state = 0x1234ABCD330E  # rand48's initial X
        self.gc_count = 0
        self._worker: Any = None
        self._worker_caller: Any = None
        self._busy_gate_on = False
        self._held_ready: dict[tuple[int, bytes], None] = {}
        self._cron_was_paused = False
        # Hooks other layers set: acl_check(caller, cmd, argv) -> NOPERM text or None (ACL),
        # cluster_check(run, cmd, argv) -> error or None (cluster), oom_hook() -> bool
        # (eviction: is the server over maxmemory?).
        self.acl_check: Any = None
        # server.call and server.pcall as Lua calls them (partials: no wrapper frame).
        self.py_call = functools.partial(self._call, True)
        self.py_pcall = functools.partial(self._call, False)
        # While DEBUG RELOAD loads: may the file's libraries replace loaded ones (MERGE)?
        self.rdb_replace_libraries: bool | None = None
        self.cluster_check: Any = None
        self.oom_hook: Any = None

    # ---- engines -------------------------------------------------------------------------
    @property
    def eval_engine(self) -> LuaEngine:
        if self._eval_engine is None:
            self._eval_engine = LuaEngine(self, "eval")
        return self._eval_engine

    @property
    def func_engine(self) -> LuaEngine:
        if self._func_engine is None:
            self._func_engine = LuaEngine(self, "function")
        return self._func_engine

    @property
    def client(self) -> ScriptClient:
        if self._client is None:
            self._client = ScriptClient(self.server)
        return self._client

    def memory_info(self) -> dict[str, int]:
        """The scripting fields of INFO memory (evalMemory, functionsMemory, ...)."""
        # A state not created yet reports what an empty Lua state holds.
        vm_eval = self._eval_engine.used_memory() if self._eval_engine is not None else _EMPTY_LUA
        vm_func = self._func_engine.used_memory() if self._func_engine is not None else _EMPTY_LUA
        scripts_eval = self.scripts_mem + 96 * len(self.scripts)
        funcs = sum(len(lib.code) + 64 + 96 * len(lib.functions)
                    for lib in self.registry.libraries.values())
        return {
            "used_memory_vm_eval": vm_eval,
            "used_memory_scripts_eval": scripts_eval,
            "number_of_cached_scripts": len(self.scripts),
            "number_of_functions": len(self.registry.functions),
            "number_of_libraries": len(self.registry.libraries),
            "used_memory_vm_functions": vm_func,
            "used_memory_functions": funcs,
        }

    # ---- the EVAL script cache -------------------------------------------------------------
    def create_script(self, body: bytes, from_eval: bool) -> Script:
        """luaCreateFunction: compile and cache (or find) a script; ScriptError on failure."""
        sha = sha1hex(body)
        key = sha.encode()
        s = self.scripts.get(key)
        if s is not None:
            if not from_eval and s.from_eval:  # SCRIPT LOAD promotes it out of the LRU
                s.from_eval = False
                self.lru.pop(key, None)
            return s
        try:
            flags, shebang_len = script_flags(body)
        except ShebangError as e:
            raise ScriptError(ReplyError("ERR " + str(e))) from None
        code = body[shebang_len:] if shebang_len else body
        try:
            func = self.eval_engine.compile(code, b"@user_script")
        except CompileError as e:
            raise ScriptError(ReplyError(f"ERR Error compiling script (new function): {e}")) from None
        s = Script(sha, body, flags, func, from_eval)
        if from_eval:
            while len(self.lru) >= LRU_LIST_LENGTH:
                old, _ = self.lru.popitem(last=False)
                dead = self.scripts.pop(old, None)
                if dead is not None:
                    self.scripts_mem -= len(dead.body) + 40
                self.evicted_scripts += 1
            self.lru[key] = None
        self.scripts[key] = s
        self.scripts_mem += len(body) + 40
        return s

    def flush_scripts(self) -> None:
        """SCRIPT FLUSH: a new Lua state and an empty cache."""
        self.scripts.clear()
        self.lru.clear()
        self.scripts_mem = 0
        self._eval_engine = None

    def lookup_flags(self, argv: list[bytes], evalsha: bool) -> int | None:
        """The flags of the script EVAL/EVALSHA argv names (None: unknown or compat mode)."""
        if len(argv) < 2:
            return None
        if evalsha:
            if len(argv[1]) != 40:
                return None
            s = self.scripts.get(argv[1].lower())
            flags = s.flags if s is not None else None
        else:
            s = self.scripts.get(sha1hex(argv[1]).encode())
            if s is not None:
                flags = s.flags
            else:
                try:
                    flags = script_flags(argv[1])[0]
                except ShebangError:
                    return None
        if flags is None or flags & FLAG_EVAL_COMPAT_MODE:
            return None
        return flags

    # ---- function libraries ----------------------------------------------------------------
    def load_library(self, code: bytes, replace: bool, registry: Registry | None = None,
                     timeout: float | None = LOAD_TIMEOUT_S) -> bytes:
        """FUNCTION LOAD: compile, run the top level, link; LibraryError on failure."""
        engine_name, name, body = parse_library_header(code)
        if not valid_name(name):
            raise LibraryError("Library names can only contain letters, numbers, or underscores(_) "
                               "and must be at least one character long")
        if engine_name.upper() != b"LUA":
            raise LibraryError(f"Engine '{engine_name.decode('utf-8', 'replace')}' not found")
        reg = registry if registry is not None else self.registry
        old = reg.libraries.get(name)
        if old is not None and not replace:
            raise LibraryError(f"Library '{name.decode('utf-8', 'replace')}' already exists")
        eng = self.func_engine
        try:
            func = eng.compile(body, b"@user_function")
        except CompileError as e:
            raise LibraryError(f"Error compiling function: {e}") from None
        lib = Library(name, code)
        self.loading = lib
        self.load_start = time.monotonic()
        self.load_timeout = timeout
        try:
            assert eng.load_library_fn is not None
            err = eng.load_library_fn(func)
        finally:
            self.loading = None
        if err is not None:
            raise LibraryError("Error registering functions: " + _text(err))
        reg.add(lib, replace)
        return name

    def py_register(self, name: bytes, callback: Any, desc: bytes | None, *flags: bytes) -> bytes | None:
        """server.register_function, called from the library's top level."""
        lib = self.loading
        if lib is None:
            return b"ERR server.register_function can only be called on FUNCTION LOAD command"
        fl = 0
        for f in flags:
            if f is None:
                continue
            bit = FLAG_BY_NAME.get(f.decode("utf-8", "replace").lower())
            if bit is None:
                return b"ERR unknown flag given"
            fl |= bit
        if not valid_name(name):
            return (b"ERR Library names can only contain letters, numbers, or underscores(_) and "
                    b"must be at least one character long")
        if name in lib.functions:
            return b"ERR Function already exists in the library"
        lib.functions[name] = FunctionInfo(name, callback, lib, desc, fl)
        return None

    def load_saved_libraries(self, codes: list[bytes]) -> None:
        """Libraries from an RDB file (no load timeout, as for a primary's stream).

        DEBUG RELOAD sets ``rdb_replace_libraries`` for the duration of its load, and
        then a library that fails (one that exists already, without MERGE) fails the
        whole load, as rdbFunctionLoad does; other loads start from an empty library
        table, where replacing changes nothing, and log a failing library and go on."""
        strict = self.rdb_replace_libraries
        replace = True if strict is None else strict
        for code in codes:
            try:
                self.load_library(code, replace, timeout=None)
            except LibraryError as e:
                self.server.log_warning(f"Failed loading library, {e}")
                if strict is not None:
                    from kaa.persistence.rdb import RdbFatal

                    raise RdbFatal("Short read or OOM loading DB. Unrecoverable error, "
                                   "aborting now.") from None

    def saved_libraries(self) -> list[bytes]:
        return [lib.code for lib in self.registry.libraries.values()]

    # ---- running scripts -----------------------------------------------------------------
    def run_script(self, caller: Any, engine: LuaEngine, func: Any, funcname: str, flags: int,
                   ro: bool, eval_mode: bool, argv: list[bytes], cmd_name: str, nkeys: int) -> Any:
        """scriptPrepareForRun + the call: the reply, an error, or NO_REPLY when the script
        went busy and will reply when it ends."""
        srv = self.server
        cfg = srv.config
        # Without maxmemory there is no OOM state (every use of it in Valkey checks both).
        oom = self.oom_state() if cfg.maxmemory else False
        readonly = ro
        allow_oom = False
        if not flags & FLAG_EVAL_COMPAT_MODE:
            err = self._refuse(caller, flags, ro, oom)
            if err is not None:
                return err
            if flags & FLAG_NO_WRITES:
                readonly = True
            allow_oom = bool(flags & FLAG_ALLOW_OOM)
        run = ScriptRun(caller, funcname, eval_mode, argv, cmd_name, engine, readonly, allow_oom, oom)
        sc = self._client or self.client
        sc.db = caller.db
        sc.resp = 2
        sc.user = caller.user
        if sc.out:
            sc.out.clear()
            sc.captured.clear()
        if srv.propagating and srv.prop_batch is None:
            run.batch = srv.prop_batch = []
        self.run = run
        # Scripts see the time of their start (Valkey's cached mstime): the modules that
        # read the clock for expiry and TIME get a frozen clock while the script runs.
        run.frozen_ns = ns = time.time_ns()
        run.frozen_s = _CLOCK.s = ns / 1e9
        _CLOCK.ns = ns
        for mod in _clock_mods or _clock_modules():
            mod.time = _CLOCK
        entry = engine.run3 if caller.resp == 3 else engine.run
        if (_greenlet is not None and not caller.in_exec and srv.loop is not None
                and cfg.busy_reply_threshold > 0):
            run.can_yield = True
            # _switch_in, inlined: the script runs in the worker greenlet.
            w = self._worker
            if w is None or w.dead:
                w = self._worker = _greenlet.greenlet(self._worker_loop)
            self._worker_caller = _getcurrent()
            res = w.switch((entry, (func, nkeys, *argv[3:])))
            if res is None:  # went busy: the reply comes later
                caller.paused = True
                caller.propagate_argv = []
                self._schedule_resume()
                return NO_REPLY
        else:
            try:
                res = ("ok", entry(func, nkeys, *argv[3:]))
            except BaseException as e:  # noqa: BLE001
                res = ("exc", e)
        return self._finish(run, res)

    def _refuse(self, caller: Any, flags: int, ro: bool, oom: bool) -> ReplyError | None:
        """The checks scriptPrepareForRun makes for scripts that declared flags."""
        srv = self.server
        cfg = srv.config
        if flags & FLAG_NO_CLUSTER and cfg.cluster_enabled:
            return ReplyError("ERR Can not run script on cluster, 'no-cluster' flag is set.")
        if not flags & FLAG_NO_WRITES:
            if srv.role == "S" and cfg.replica_read_only and not caller.is_master:
                return ReplyError("READONLY Can not run script with write flag on readonly replica")
            if self.disk_error() is not None:
                return ReplyError(
                    "MISCONF Valkey is configured to save RDB snapshots, but it's currently unable "
                    "to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for "
                    "read only scripts.")
            if ro:
                return ReplyError("ERR Can not execute a script with write flag using *_ro command.")
            if cfg.min_replicas_to_write and not self.enough_replicas():
                return ERR_NOREPLICAS
        if oom and cfg.maxmemory and not flags & (FLAG_ALLOW_OOM | FLAG_NO_WRITES):
            return ReplyError("OOM allow-oom flag is not set on the script, can not run it when "
                              "used memory > 'maxmemory'")
        _ = FLAG_ALLOW_STALE, FLAG_ALLOW_CROSS_SLOT  # read by the cluster/replica hooks
        return None

    def oom_state(self) -> bool:
        """pre_command_oom_state: over maxmemory (the eviction layer may set ``oom_hook``)."""
        hook = self.oom_hook
        if hook is not None:
            return bool(hook())
        srv = self.server
        maxmem = srv.config.maxmemory
        return bool(maxmem) and srv.used_memory() > maxmem

    def enough_replicas(self) -> bool:
        """checkGoodReplicasStatus: min-replicas-to-write is met (or does not apply)."""
        srv = self.server
        cfg = srv.config
        need = cfg.min_replicas_to_write
        if not need or not cfg.min_replicas_max_lag or srv.role == "S":
            return True
        # Replication is not built: no replica counts as good unless a layer says so.
        return int(getattr(srv, "good_replicas_count", 0)) >= need

    def disk_error(self) -> str | None:
        srv = self.server
        p = srv.persistence
        if p.last_bgsave_status == "err" and srv.config.stop_writes_on_bgsave_error and srv.config.save:
            return "rdb"
        return None

    def _finish(self, run: ScriptRun, res: tuple[str, Any]) -> Any:
        srv = self.server
        self.run = None
        for mod in _clock_mods:
            mod.time = time
        if run.timed_out:
            self._leave_busy()
        batch = run.batch
        if batch is not None:
            srv.prop_batch = None
            if len(batch) == 1:
                srv.propagate(*batch[0])
            elif batch:
                srv.propagate(batch[0][0], _MULTI)
                for dbid, pargv in batch:
                    srv.propagate(dbid, pargv)
                srv.propagate(batch[-1][0], _EXEC)
        run.caller.propagate_argv = _NO_ARGV  # the writes propagated, never the script
        n = self.gc_count + 1
        if n >= 50:
            n = 0
            if run.engine is not None:
                run.engine.gc_step()
        self.gc_count = n
        kind, value = res
        t = type(value)
        if t is bytes or t is int:  # the common replies come back bare (see lua_src.run)
            return value
        if kind == "exc":
            return self._lua_exception(value)
        return self._reply_from(run, value)

    def _lua_exception(self, e: BaseException) -> Any:
        if AVAILABLE:
            from lupa import lua51

            if isinstance(e, lua51.LuaMemoryError):
                return ReplyError("ERR Error running script: not enough memory")
        self.server.log_warning(f"Internal error running a script: {e!r}")
        return ReplyError(f"ERR Error running script: {e}")

    def _reply_from(self, run: ScriptRun, value: Any) -> Any:
        status = value[0]
        if status == 0:
            return Raw(value[1])
        if status == 4:  # a string: a bulk reply
            return value[1]
        if status == 1:  # the script returned an error table
            msg = _text(value[1])
            if len(value) > 2 and value[2]:
                return self._silent_error(run, msg)
            return ReplyError(msg)
        if status == 2:
            msg = _text(value[1])
            src, line = value[2], value[3]
            text = "-" + msg
            if src is not None and line is not None:
                text += f" script: {run.funcname}, on {_text(src)}:{_num(line)}."
            text = text[1:]
            if len(value) > 4 and value[4]:
                return self._silent_error(run, text)
            return ReplyError(text)
        msg = _text(value[1]) if len(value) > 1 else "execution failure"
        return ReplyError(f"ERR Error running script {run.funcname}, {msg[:100]}")

    def _silent_error(self, run: ScriptRun, msg: str) -> Any:
        """An error reply not counted again in the error stats (ERR_REPLY_FLAG_NO_STATS_UPDATE),
        though the command still counts as failed."""
        cmd = COMMANDS.get(run.cmd_name)
        if cmd is not None:
            cmd.failed_calls += 1
        return Raw(encode_error(msg))

    # ---- server.call -------------------------------------------------------------------------
    def _fail(self, msg: bytes, raise_: bool) -> Any:
        if raise_:
            raise ScriptCallError(msg)
        run = self.run
        assert run is not None and run.engine is not None
        return run.engine.mk_err(msg)

    def _call(self, raise_: bool, *args: Any) -> Any:
        """server.call (raise_: an error reply raises it) and server.pcall (errors come
        back as error tables); Lua calls them as ``py_call``/``py_pcall``."""
        run = self.run
        if run is None:
            return self._fail(b"ERR server.call can only be used while a script is running", raise_)
        if not args:
            return self._fail(_ERR_NOARGS, raise_)
        for a in args:
            if type(a) is not bytes:
                conv = _convert_args(args)
                if conv is None:
                    return self._fail(_ERR_ARGTYPE, raise_)
                argv = conv
                break
        else:
            argv = list(args)
        if run.timed_out and run.can_yield and time.monotonic() - run.last_yield >= YIELD_EVERY_S:
            self._yield(run)
        srv = self.server
        cmd = srv.commands.get(argv[0])
        if cmd is None:
            cmd = srv.lookup_command(argv[0])
            if cmd is None:
                return self._fail(self._reject(None, "ERR Unknown command called from script"), raise_)
        n = len(argv)
        if cmd.subcommands and n > 1:
            sub = cmd.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
            if sub is not None:
                cmd = sub
            elif cmd.handler is None:
                return self._fail(self._reject(None, "ERR Unknown command called from script"), raise_)
        arity = cmd.arity
        if (arity > 0 and n != arity) or n < -arity:
            return self._fail(
                self._reject(None, "ERR Wrong number of args calling command from script"), raise_)
        flags = cmd.flags
        if "noscript" in flags and not _deny_scripts_disabled(srv):
            return self._fail(
                self._reject(cmd, "ERR This Redis command is not allowed from script"), raise_)
        if (run.readonly or run.oom or self.acl_check is not None or self.cluster_check is not None
                or (cmd.is_write and not run.write_dirty)):
            err = self._check(run, cmd, argv)
            if err is not None:
                return self._fail(self._reject(cmd, err), raise_)
            if cmd.is_write:
                run.write_dirty = True
        c = self._client
        assert c is not None
        if run.repl == 0 or srv.monitors:
            v = self._call_generic(c, cmd, argv, run.repl == 0)
        else:
            v = self._dispatch(c, cmd, argv)
        if "readonly" in flags:
            # The caller tracks the keys the commands of its script read (Valkey's call():
            # trackingRememberKeys for server.current_client).
            cur = srv.current_client
            if cur is not None and cur.tracking is not None:
                srv.tracking.remember(cur, cmd, argv)
        t = type(v)
        if t is bytes or t is int:
            return v
        return self._to_lua(v, c.resp, run.engine, raise_)

    def _dispatch(self, c: ScriptClient, cmd: Command, argv: list[bytes]) -> Any:
        """Client.call for the script client, without its reply encoding: the handler's
        value comes straight back (Client.execute keeps the statistics). MONITOR and
        REPL_NONE go through Client.call itself (_call_generic)."""
        srv = self.server
        dirty = srv.keyspace.dirty
        reply, dur = c.execute(cmd, argv)
        if dur >= srv.slow_watch:
            srv.slow_command(c, cmd, argv, dur)
        c.propagate_effect(argv, dirty)
        if c.out or reply is NO_REPLY:  # the handler wrote (some of) its reply itself
            if reply is not NO_REPLY:
                c.out.append(c.enc(reply))
            return self._mixed_reply(c)
        return reply

    def _call_generic(self, c: ScriptClient, cmd: Command, argv: list[bytes], no_repl: bool) -> Any:
        """The command through Client.call (MONITOR feeds, REPL_NONE), reply captured."""
        srv = self.server
        out = c.out
        if no_repl:
            was = srv.propagating
            srv.propagating = False
            try:
                c.call(cmd, argv)
            finally:
                srv.propagating = was
        else:
            c.call(cmd, argv)
        if len(out) == 1 and out[0] is _MARK:
            captured = c.captured
            v = captured[0]
            out.clear()
            captured.clear()
            return v
        return self._mixed_reply(c)

    def _check(self, run: ScriptRun, cmd: Command, argv: list[bytes]) -> str | None:
        """scriptVerifyACL / WriteCommandAllow / OOM / ClusterState."""
        srv = self.server
        acl = self.acl_check
        if acl is not None:
            msg = acl(run.caller, cmd, argv)
            if msg is not None:
                return "ERR ACL failure in script: " + msg
        if run.readonly and (cmd.is_write or "may_replicate" in cmd.flags):
            return "ERR Write commands are not allowed from read-only scripts."
        if cmd.is_write and not run.write_dirty:
            cfg = srv.config
            if srv.role == "S" and cfg.replica_read_only and not run.caller.is_master:
                return "READONLY You can't write against a read only replica."
            if self.disk_error() is not None:
                return ("MISCONF Valkey is configured to save RDB snapshots, but it's currently "
                        "unable to persist to disk. Commands that may modify the data set are "
                        "disabled, because this instance is configured to report errors during "
                        "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
                        "Please check the Valkey logs for details about the RDB error.")
            if cfg.min_replicas_to_write and not self.enough_replicas():
                return _NOREPLICAS_TEXT
        if (not run.allow_oom and run.oom and cmd.is_denyoom and not run.write_dirty
                and not run.caller.is_master and srv.config.maxmemory):
            return "OOM command not allowed when used memory > 'maxmemory'."
        cluster = self.cluster_check
        if cluster is not None:
            return cluster(run, cmd, argv)  # type: ignore[no-any-return]
        return None

    def _reject(self, cmd: Command | None, msg: str) -> bytes:
        srv = self.server
        srv.count_error(msg.split(" ", 1)[0])
        if cmd is not None:
            cmd.rejected_calls += 1
        return msg.encode("utf-8", "surrogateescape")

    def _to_lua(self, v: Any, resp: int, eng: Any, raise_: bool) -> Any:
        """A reply value as the Lua value redisProtocolToLuaType would make of it."""
        t = type(v)
        if v is None or v is NULL_ARRAY:
            return None if resp == 3 else False
        if t is str:
            return eng.mk_ok(v.encode("utf-8", "surrogateescape"))
        if t is ReplyError:
            return self._fail(_error_text(v.message), raise_)
        if t is bytearray:
            return bytes(v)
        if t is bool:
            return v if resp == 3 else int(v)
        data = bytes(v) if t is Raw else (encode3 if resp == 3 else encode2)(v)
        first = data[:1]
        if first == b"-":
            return self._fail(_error_text(data[:-2].decode("utf-8", "surrogateescape")), raise_)
        if first == b"+":
            return eng.mk_ok(data[1:-2])
        if first == b":":
            return int(data[1:-2])
        if first == b"$":
            if data[1:3] == b"-1":
                return None if resp == 3 else False
            return data[data.index(b"\r\n") + 2:-2]
        return eng.parse(data)

    def _mixed_reply(self, c: ScriptClient) -> Any:
        """A handler that wrote encoded bytes itself: encode the captured values in place."""
        enc = encode3 if c.resp == 3 else encode2
        vals = iter(c.captured)
        parts = [enc(next(vals)) if x is _MARK else x for x in c.out]
        c.out.clear()
        c.captured.clear()
        data = b"".join(parts)
        if not data:
            return None
        return Raw(data)

    # ---- the rest of the server API ----------------------------------------------------------
    def py_log(self, *args: Any) -> None:
        """server.log(level, ...): the other arguments joined by spaces, to the server log."""
        if len(args) < 2:
            raise ScriptCallError(b"ERR server.log() requires two arguments or more.")
        level = _lua_tonumber(args[0])
        if level is None:
            raise ScriptCallError(b"ERR First argument must be a number (log level).")
        lvl = int(level)
        if lvl < 0 or lvl > 3:
            raise ScriptCallError(b"ERR Invalid log level.")
        parts = [p for p in map(_lua_tostring, args[1:]) if p is not None]
        self.server.log(lvl, b" ".join(parts).decode("utf-8", "replace"))

    def py_sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise ScriptCallError(b"ERR wrong number of arguments")
        return sha1hex(_lua_tostring(args[0]) or b"").encode()

    def py_setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise ScriptCallError(b"ERR server.setresp() requires one argument.")
        v = int(_lua_tonumber(args[0]) or 0)
        if v != 2 and v != 3:
            raise ScriptCallError(b"ERR RESP version must be 2 or 3.")
        self.client.resp = v
        run = self.run
        if run is not None and run.engine is not None:
            run.engine.set_script_resp(v)

    def py_set_repl(self, *args: Any) -> None:
        if len(args) != 1:
            raise ScriptCallError(b"ERR server.set_repl() requires one argument.")
        v = int(_lua_tonumber(args[0]) or 0)
        if v & ~3:
            raise ScriptCallError(b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                                  b"REPL_ALL or REPL_NONE.")
        run = self.run
        if run is not None:
            run.repl = v

    def py_acl_check(self, *args: Any) -> Any:
        """server.acl_check_cmd: may the caller's user run this command?"""
        if not args:
            raise ScriptCallError(_ERR_NOARGS)
        argv = _convert_args(args)  # as server.call converts them
        if argv is None:
            raise ScriptCallError(_ERR_ARGTYPE)
        srv = self.server
        cmd = srv.commands.get(argv[0]) or srv.lookup_command(argv[0])
        if cmd is not None and cmd.subcommands and len(argv) > 1:
            cmd = cmd.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
        if cmd is None:
            raise ScriptCallError(b"ERR Invalid command passed to server.acl_check_cmd()")
        acl = self.acl_check
        run = self.run
        if acl is not None and run is not None and acl(run.caller, cmd, argv) is not None:
            return False
        return True

    def py_random(self) -> float:
        """serverLrand48() % INT32_MAX / INT32_MAX (rand48: X = a*X + c mod 2^48)."""
        x = (0x5DEECE66D * self.rand_state + 0xB) & 0xFFFFFFFFFFFF
        self.rand_state = x
        r = x >> 17
        return (r % 0x7FFFFFFF) / 0x7FFFFFFF

    def py_srand(self, seed: int) -> None:
        seed &= 0xFFFFFFFF
        self.rand_state = ((seed << 16) | 0x330E) & 0xFFFFFFFFFFFF

    # ---- busy scripts: the hook, yielding to the loop, killing ------------------------------
    def py_hook(self) -> bool:
        """Called every 100k Lua instructions; True stops the script (or the load)."""
        run = self.run
        if run is None:
            if self.loading is not None and self.load_timeout:
                return time.monotonic() - self.load_start > self.load_timeout
            return False
        if run.timed_out:
            if run.can_yield:
                self._yield(run)
            return run.killed
        srv = self.server
        limit = srv.config.busy_reply_threshold
        if limit <= 0:
            return False
        elapsed = (time.monotonic() - run.start) * 1000
        if elapsed < limit:
            return False
        srv.log_warning(
            f"Slow script detected: still in execution after {int(elapsed)} milliseconds. "
            f"You can try killing the script using the "
            f"{'SCRIPT KILL' if run.eval_mode else 'FUNCTION KILL'} command. "
            f"Script name is: {run.funcname}.")
        run.timed_out = True
        self._enter_busy()
        if run.can_yield:
            self._yield(run)
        return run.killed

    def kill(self, eval_mode: bool) -> Any:
        """scriptKill: SCRIPT KILL / FUNCTION KILL."""
        run = self.run
        if run is None:
            raise ReplyError("NOTBUSY No scripts in execution right now.")
        if run.caller.is_master:
            raise ReplyError("UNKILLABLE The busy script was sent by a master instance in the context "
                             "of replication and cannot be killed.")
        if run.write_dirty:
            raise ReplyError("UNKILLABLE Sorry the script already executed write commands against the "
                             "dataset. You can either wait the script termination or kill the server "
                             "in a hard way using the SHUTDOWN NOSAVE command.")
        if eval_mode and not run.eval_mode:
            raise ERR_BUSY_FUNCTION
        if not eval_mode and run.eval_mode:
            raise ERR_BUSY_EVAL
        run.killed = True
        return True

    def busy_error(self) -> ReplyError:
        run = self.run
        return ERR_BUSY_EVAL if run is None or run.eval_mode else ERR_BUSY_FUNCTION

    def _busy_gate(self, c: Any, cmd: Command, argv: list[bytes]) -> ReplyError | None:
        run = self.run
        if run is None or not run.timed_out or c is run.caller:
            return None
        if "allow_busy" in cmd.flags:
            if cmd.name == "shutdown" and cmd.parent is None:
                if not any(a.lower() == b"nosave" for a in argv[1:]):
                    return self.busy_error()
            return None
        return self.busy_error()

    def _enter_busy(self) -> None:
        srv = self.server
        if not self._busy_gate_on:
            srv.gates.append(self._busy_gate)
            srv.refresh_gate()
            self._busy_gate_on = True
        self._cron_was_paused = srv.cron_paused
        srv.cron_paused = True

    def _leave_busy(self) -> None:
        srv = self.server
        if self._busy_gate_on:
            try:
                srv.gates.remove(self._busy_gate)
            except ValueError:
                pass
            srv.refresh_gate()
            self._busy_gate_on = False
        srv.cron_paused = self._cron_was_paused

    def _refreeze(self, run: ScriptRun) -> None:
        clock = _CLOCK
        clock.s = run.frozen_s
        clock.ns = run.frozen_ns
        for mod in _clock_modules():
            mod.time = clock

    def _unfreeze_time(self) -> None:
        for mod in _clock_modules():
            mod.time = time

    # The worker greenlet: runs jobs handed to it and switches back with the result, or
    # with None when the script yields to the event loop.
    def _worker_loop(self, job: tuple[Any, tuple[Any, ...]]) -> None:
        while True:
            fn, args = job
            try:
                res: tuple[str, Any] = ("ok", fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                if _greenlet is not None and isinstance(e, _greenlet.GreenletExit):
                    raise
                res = ("exc", e)
            job = self._worker_caller.switch(res)

    def _yield(self, run: ScriptRun) -> None:
        """Give the event loop a turn (from inside the script's greenlet)."""
        ks = self.server.keyspace
        if ks.ready_keys:  # keys the script made ready wait for its end
            self._held_ready.update(ks.ready_keys)
            ks.ready_keys.clear()
        self._unfreeze_time()
        run.yielded = True
        self._worker_caller.switch(None)
        # resumed by _resume
        self._refreeze(run)
        run.last_yield = time.monotonic()

    def _schedule_resume(self) -> None:
        loop = self.server.loop
        assert loop is not None
        loop.call_soon(self._resume)

    def _resume(self) -> None:
        run = self.run
        if run is None or self._worker is None or self._worker.dead:
            return
        srv = self.server
        self._worker_caller = _greenlet.getcurrent() if _greenlet is not None else None
        prev = srv.current_client
        srv.current_client = run.caller
        ks = srv.keyspace
        res = self._worker.switch()
        srv.current_client = prev
        if res is None:
            self._schedule_resume()
            return
        if self._held_ready:
            ks.ready_keys.update(self._held_ready)
            self._held_ready.clear()
        reply = self._finish(run, res)
        self._deliver(run, reply)

    def _deliver(self, run: ScriptRun, reply: Any) -> None:
        """The reply of a script that finished after going busy."""
        srv = self.server
        c = run.caller
        c.paused = False
        if type(reply) is ReplyError:
            srv.count_error(reply.code)
            cmd = COMMANDS.get(run.cmd_name)
            if cmd is not None:
                cmd.failed_calls += 1
        if not c.closing:
            c.add_reply(reply)
            c.run_pending()
            if c.out:
                c.flush()
        if srv.keyspace.ready_keys:
            from kaa.engine.blocking import handle_ready_keys

            handle_ready_keys(srv)


def _convert_args(args: tuple[Any, ...]) -> list[bytes] | None:
    """server.call's arguments as strings (numbers as Lua would print them for the
    command); None if one is neither a string nor a number."""
    argv: list[bytes] = []
    for a in args:
        t = type(a)
        if t is bytes:
            argv.append(a)
        elif t is int:
            argv.append(b"%d" % a if -_TWO62 <= a <= _TWO62 else format_double(float(a)))
        elif t is float:
            argv.append(format_double(a))
        else:
            return None
    return argv


def _lua_tonumber(v: Any) -> float | None:
    """lua_tonumber: numbers and numeric strings, None otherwise."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, bytes):
        try:
            s = v.strip()
            if s[:2].lower() == b"0x":
                return float(int(s, 16))
            return float(s)
        except ValueError:
            return None
    return None


def _lua_tostring(v: Any) -> bytes | None:
    """lua_tolstring: strings as they are, numbers as Lua prints them (%.14g)."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return (b"%d" % v) if abs(v) < 10**15 else (b"%.14g" % v)
    if isinstance(v, float):
        if v != v:
            return b"nan" if str(v)[0] != "-" else b"-nan"
        if v in (float("inf"), float("-inf")):
            return b"inf" if v > 0 else b"-inf"
        return b"%.14g" % v
    return None


def _deny_scripts_disabled(srv: Any) -> bool:
    st = getattr(srv, "debug", None)
    return bool(getattr(st, "disable_deny_scripts", False))


def _error_text(e: str) -> bytes:
    """luaPushErrorBuff: the 'err' field for an error reply text (with or without '-')."""
    if e.startswith("-"):
        sp = e.find(" ")
        if sp < 0:
            code, msg = "ERR", e[1:]
        else:
            code, msg = e[1:sp], e[sp + 1:]
    else:
        sp = e.find(" ")
        code, msg = (e[:sp], e[sp + 1:]) if sp > 0 else ("ERR", e)
    msg = msg.strip("\r\n")
    return f"{code} {msg}".encode("utf-8", "surrogateescape")


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _num(v: Any) -> str:
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


__all__ = ["Scripting", "ScriptError", "ScriptRun", "Script", "AVAILABLE", "ERR_NOSCRIPT",
           "ERR_UNAVAILABLE", "FLAG_NO_WRITES", "FLAG_ALLOW_OOM", "FLAG_EVAL_COMPAT_MODE"]
