"""One Lua 5.1 state (lupa's lua51) with Valkey's sandbox, and the bridge that lets a
script run server commands.

Valkey keeps two Lua states: one for EVAL (thrown away by SCRIPT FLUSH) and one for
the function libraries. :class:`LuaEngine` is either, by ``mode``. The sandbox itself
is Lua code (``lua_src.BOOT``); this module supplies the Python side:
``server.call`` (``Scripting.py_call`` in ``kaa.scripting.state``), logging, SHA1,
the PRNG, and the cjson/cmsgpack/bit/struct libraries (``kaa.scripting.libs``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from kaa import VALKEY_VERSION
from kaa.protocol.reply import format_double
from kaa.scripting.lua_src import BOOT

if TYPE_CHECKING:
    from kaa.scripting.state import Scripting

try:
    from lupa import lua51  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - scripting is optional
    lua51 = None

AVAILABLE = lua51 is not None
# Memory a Lua state may take before allocations fail with "not enough memory": keeps
# a hostile script (string.rep bombs, endless tables) from taking the server down.
LUA_MAX_MEMORY = 1 << 30

# Heap growth (KB) that makes the periodic collector step worth its cost (gc_step).
GC_SLACK_KB = 32

REDIS_VERSION = b"7.2.4"
REDIS_VERSION_NUM = 0x00070204


def _version_num(v: str) -> int:
    parts = [int(p) for p in (v.split(".") + ["0", "0"])[:3]]
    return (parts[0] << 16) | (parts[1] << 8) | parts[2]


class ScriptCallError(Exception):
    """Raised by server.call (and acl_check_cmd): the Lua error is an error table."""

    def __init__(self, msg: bytes) -> None:
        super().__init__(msg)
        self.msg = msg


def _unwrap(e: Any) -> tuple[bytes | None, int]:
    """What a Python exception raised into Lua stands for: (message, kind) with kind 1 for
    an error table (server.call), 2 for a library error message, 0 otherwise."""
    from kaa.scripting.libs import LuaLibError

    if isinstance(e, ScriptCallError):
        return e.msg, 1
    if isinstance(e, LuaLibError):
        return str(e).encode("utf-8", "surrogateescape"), 2
    if isinstance(e, BaseException):
        return f"{type(e).__name__}: {e}".encode("utf-8", "replace"), 0
    return None, 0


class CompileError(Exception):
    """The script or library does not compile; the text is Lua's message."""


class LuaEngine:
    """A sandboxed Lua state in ``eval`` or ``function`` mode."""

    def __init__(self, sc: Scripting, mode: str) -> None:
        from kaa.scripting import libs

        self.mode = mode
        lua = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                               unpack_returned_tuples=True, max_memory=LUA_MAX_MEMORY)
        self.lua = lua
        py: dict[bytes, Any] = {
            b"call": sc.py_call,
            b"pcall": sc.py_pcall,
            b"unwrap": _unwrap,
            b"log": sc.py_log,
            b"sha1hex": sc.py_sha1hex,
            b"tramp": _trampoline,
            b"setresp": sc.py_setresp,
            b"set_repl": sc.py_set_repl,
            b"acl_check": sc.py_acl_check,
            b"hook": sc.py_hook,
            b"fmt_double": format_double,
            b"random": sc.py_random,
            b"srand": sc.py_srand,
            b"register": sc.py_register,
            b"redis_version": REDIS_VERSION,
            b"redis_version_num": REDIS_VERSION_NUM,
            b"valkey_version": VALKEY_VERSION.encode(),
            b"valkey_version_num": _version_num(VALKEY_VERSION),
        }
        py.update(libs.functions(lua))
        self._gc = lua.globals().collectgarbage
        self._gc(b"collect")
        bare = self._gc(b"count")
        boot = lua.globals().loadstring(BOOT.encode(), b"=kaa")
        entry = boot(mode.encode(), lua.table_from(py))
        self.entry = entry
        self.run = entry[b"run"]
        self.run3 = entry[b"run3"]
        self._compile = entry[b"compile"]
        self.load_library_fn = entry[b"load_library"] if mode == "function" else None
        self.mk_ok = entry[b"mk_ok"]
        self.mk_err = entry[b"mk_err"]
        self.parse = entry[b"parse"]
        self.set_script_resp = entry[b"set_script_resp"]
        self._gc(b"collect")
        # The sandbox's own Lua code (cjson, cmsgpack, the wrappers) is part of the
        # interpreter, as Valkey's C libraries are: INFO counts what scripts add to it.
        self._overhead = max(0.0, self._gc(b"count") - bare)
        self._gc_mark = self._gc(b"count")

    def compile(self, code: bytes, chunkname: bytes) -> Any:
        """A Lua function for ``code``; CompileError with Lua's message otherwise."""
        try:
            res = self._compile(code, chunkname)
        except lua51.LuaMemoryError as e:
            raise CompileError("not enough memory") from e
        f, err = res if isinstance(res, tuple) else (res, None)
        if f is None:
            raise CompileError(err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err))
        return f

    def used_memory(self) -> int:
        """Bytes the Lua heap holds beyond the sandbox itself (INFO used_memory_lua)."""
        try:
            return int((self._gc(b"count") - self._overhead) * 1024)
        except Exception:  # noqa: BLE001 - a broken state reports nothing
            return 0

    def gc_step(self) -> None:
        """Called every 50 scripts, as Valkey's LUA_GC_CYCLE_PERIOD steps the collector;
        here only once the heap grew by GC_SLACK_KB since the last step (or since Lua's
        own collector last brought it down): on a heap this small a step is a whole
        cycle (hundreds of microseconds), while a typical script leaves ~100 bytes."""
        try:
            gc = self._gc
            kb = gc(b"count")
            if kb < self._gc_mark:  # Lua's own collector ran: measure from the new low
                self._gc_mark = kb
            elif kb - self._gc_mark >= GC_SLACK_KB:
                gc(b"step", 50)
                self._gc_mark = gc(b"count")
        except Exception:  # noqa: BLE001
            pass


def _trampoline(safe: Any) -> Any:
    """A Python (so, to Lua, C) function calling ``safe``, a Lua function that returns
    pcall's results: values pass through, an error becomes a positioned Lua error."""
    from kaa.scripting.libs import LuaLibError

    def call(*args: Any) -> Any:
        r = safe(*args)
        if type(r) is tuple:
            if r[0] is True:
                return r[1:]
            msg = r[1]
            raise LuaLibError(msg.decode("utf-8", "surrogateescape") if isinstance(msg, bytes) else str(msg))
        if r is True:
            return None
        raise LuaLibError("error")

    return call


def sha1hex(s: bytes) -> str:
    return hashlib.sha1(s).hexdigest()
