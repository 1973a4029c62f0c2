"""Functions (functions.c): FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP,
FCALL and FCALL_RO.

Libraries and their functions are kept in ``kaa.scripting.library.Registry``; loading
runs the library's top level in the functions Lua state (``kaa.scripting.state``).
Changes bump the dirty counter, so the FUNCTION command itself propagates (libraries
are code, not data: replicas and the AOF load the same code).
"""

from __future__ import annotations

import time
from typing import Any

from kaa.commands.args import parse_int_or_none
from kaa.commands.client_cmds import MAY_WRITE_CHECKS
from kaa.commands.registry import KeySpec, command, subcommand
from kaa.commands.scripting import ERR_NEG_KEYS, ERR_TOO_MANY_KEYS, ERR_UNAVAILABLE, script_keys
from kaa.commands.server_cmds import arg, declare_container, help_reply, syntax_error_for
from kaa.engine.glob import glob_match
from kaa.protocol.reply import OK, ReplyError, SetReply
from kaa.scripting import AVAILABLE, get
from kaa.scripting.library import (
    FLAG_NAMES,
    FLAG_NO_WRITES,
    LibraryError,
    Registry,
    dump_payload,
    payload_codes,
)

ERR_FUNCTION_NOT_FOUND = ReplyError("ERR Function not found")
ERR_BAD_NUMKEYS = ReplyError("ERR Bad number of keys provided")


def _fcall(c: Any, argv: list[bytes], ro: bool) -> Any:
    srv = c.server
    if srv.monitors:
        srv.feed_monitors(c, argv)
    if not AVAILABLE:
        raise ERR_UNAVAILABLE
    sc = get(srv)
    fi = sc.registry.functions.get(argv[1].lower())
    if fi is None:
        raise ERR_FUNCTION_NOT_FOUND
    n = parse_int_or_none(argv[2])
    if n is None:
        raise ERR_BAD_NUMKEYS
    if n > len(argv) - 3:
        raise ERR_TOO_MANY_KEYS
    if n < 0:
        raise ERR_NEG_KEYS
    return sc.run_script(c, sc.func_engine, fi.callable, fi.name.decode("utf-8", "replace"), fi.flags,
                         ro, False, argv, "fcall_ro" if ro else "fcall", n)


_FCALL_ARGS = (
    arg("function", "string"),
    arg("numkeys", "integer"),
    arg("key", "key", optional=True, multiple=True),
    arg("arg", "string", optional=True, multiple=True),
)


@command("fcall", -3, "noscript skip_monitor may_replicate no_mandatory_keys stale movablekeys",
         "scripting", key_specs=(KeySpec(("RW", "access", "update"), begin_index=2, keynum=(0, 1, 1)),),
         keys_fn=script_keys, group="scripting", since="7.0.0", summary="Invokes a function.",
         complexity="Depends on the function that is executed.", arguments=_FCALL_ARGS)
def fcall(c: Any, argv: list[bytes]) -> Any:
    return _fcall(c, argv, False)


@command("fcall_ro", -3, "noscript skip_monitor no_mandatory_keys stale readonly movablekeys",
         "scripting", key_specs=(KeySpec(("RO", "access"), begin_index=2, keynum=(0, 1, 1)),),
         keys_fn=script_keys, group="scripting", since="7.0.0", summary="Invokes a read-only function.",
         complexity="Depends on the function that is executed.", arguments=_FCALL_ARGS)
def fcall_ro(c: Any, argv: list[bytes]) -> Any:
    return _fcall(c, argv, True)


def _fcall_may_write(c: Any, argv: list[bytes]) -> bool:
    if not AVAILABLE or len(argv) < 2:
        return True
    fi = get(c.server).registry.functions.get(argv[1].lower())
    return fi is None or not fi.flags & FLAG_NO_WRITES


MAY_WRITE_CHECKS["fcall"] = _fcall_may_write

# ---- FUNCTION -------------------------------------------------------------------------------

declare_container("function", -2, group="scripting", since="7.0.0", complexity="Depends on subcommand.",
                  summary="A container for function commands.")

_ALL_SHARDS = ("request_policy:all_shards", "response_policy:all_succeeded")


@subcommand("function", "load", -3, "noscript write denyoom", "scripting", since="7.0.0",
            tips=_ALL_SHARDS, summary="Creates a library.",
            complexity="O(1) (considering compilation time is redundant)",
            arguments=(arg("replace", "pure-token", token="REPLACE", optional=True),
                       arg("function-code", "string")))
def function_load(c: Any, argv: list[bytes]) -> Any:
    replace = False
    pos = 2
    while pos < len(argv) - 1:
        a = argv[pos]
        pos += 1
        if a.lower() == b"replace":
            replace = True
            continue
        raise ReplyError(f"ERR Unknown option given: {a.decode('utf-8', 'replace')}")
    if not AVAILABLE:
        raise ERR_UNAVAILABLE
    sc = get(c.server)
    timeout = None if c.is_master else 0.5
    try:
        name = sc.load_library(argv[pos], replace, timeout=timeout)
    except LibraryError as e:
        raise ReplyError("ERR " + str(e)) from None
    c.server.keyspace.dirty += 1
    return name


@subcommand("function", "delete", 3, "noscript write", "scripting", since="7.0.0", tips=_ALL_SHARDS,
            summary="Deletes a library and its functions.", complexity="O(1)",
            arguments=(arg("library-name", "string"),))
def function_delete(c: Any, argv: list[bytes]) -> Any:
    reg = get(c.server).registry
    lib = reg.libraries.get(argv[2])
    if lib is None:
        raise ReplyError("ERR Library not found")
    reg.unlink(lib)
    c.server.keyspace.dirty += 1
    return OK


@subcommand("function", "flush", -2, "noscript write", "scripting", since="7.0.0", tips=_ALL_SHARDS,
            summary="Deletes all libraries and functions.",
            complexity="O(N) where N is the number of functions deleted",
            arguments=(arg("flush-type", "oneof", optional=True, args=(
                arg("async", "pure-token", token="ASYNC"),
                arg("sync", "pure-token", token="SYNC"))),))
def function_flush(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise syntax_error_for(argv)
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise ReplyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    get(c.server).registry.clear()
    c.server.keyspace.dirty += 1
    return OK


def _flags_reply(flags: int) -> SetReply:
    return SetReply(name for bit, name in FLAG_NAMES if flags & bit)


@subcommand("function", "list", -2, "noscript", "scripting", since="7.0.0",
            tips=("nondeterministic_output_order",), summary="Returns information about all libraries.",
            complexity="O(N) where N is the number of functions",
            arguments=(arg("library-name-pattern", "string", token="LIBRARYNAME", optional=True),
                       arg("withcode", "pure-token", token="WITHCODE", optional=True)))
def function_list(c: Any, argv: list[bytes]) -> Any:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(argv):
        a = argv[i]
        low = a.lower()
        if not with_code and low == b"withcode":
            with_code = True
        elif pattern is None and low == b"libraryname":
            if i >= len(argv) - 1:
                raise ReplyError("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise ReplyError(f"ERR Unknown argument {a.decode('utf-8', 'replace')}")
        i += 1
    out = []
    for lib in get(c.server).registry.libraries.values():
        if pattern is not None and not glob_match(pattern, lib.name, True):
            continue
        funcs = [{b"name": fi.name, b"description": fi.desc, b"flags": _flags_reply(fi.flags)}
                 for fi in lib.functions.values()]
        entry: dict[bytes, Any] = {b"library_name": lib.name, b"engine": lib.engine.encode(),
                                   b"functions": funcs}
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@subcommand("function", "dump", 2, "noscript", "scripting", since="7.0.0",
            summary="Dumps all libraries into a serialized binary payload.",
            complexity="O(N) where N is the number of functions")
def function_dump(c: Any, argv: list[bytes]) -> Any:
    return dump_payload(get(c.server).registry)


@subcommand("function", "restore", -3, "noscript write denyoom", "scripting", since="7.0.0",
            tips=_ALL_SHARDS, summary="Restores all libraries from a payload.",
            complexity="O(N) where N is the number of functions on the payload",
            arguments=(arg("serialized-value", "string"),
                       arg("policy", "oneof", optional=True, args=(
                           arg("flush", "pure-token", token="FLUSH"),
                           arg("append", "pure-token", token="APPEND"),
                           arg("replace", "pure-token", token="REPLACE")))))
def function_restore(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise syntax_error_for(argv)
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            raise ReplyError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or "
                             "REPLACE.")
    if not AVAILABLE:
        raise ERR_UNAVAILABLE
    sc = get(c.server)
    try:
        codes = payload_codes(argv[2])
        fresh = Registry()
        for code in codes:
            sc.load_library(code, False, registry=fresh, timeout=None)
        if policy == b"flush":
            sc.registry.clear()
            sc.registry.join(fresh, False)
        else:
            sc.registry.join(fresh, policy == b"replace")
    except LibraryError as e:
        raise ReplyError("ERR " + str(e)) from None
    c.server.keyspace.dirty += 1
    return OK


@subcommand("function", "stats", 2, "noscript allow_busy", "scripting", since="7.0.0",
            tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
            summary="Returns information about a function during execution.", complexity="O(1)")
def function_stats(c: Any, argv: list[bytes]) -> Any:
    sc = get(c.server)
    run = sc.run
    if run is not None and run.eval_mode:
        raise sc.busy_error()
    running: Any = None
    if run is not None:
        running = {b"name": run.funcname.encode(), b"command": list(run.argv),
                   b"duration_ms": int((time.monotonic() - run.start) * 1000)}
    reg = sc.registry
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(reg.libraries),
                                  b"functions_count": len(reg.functions)}}}


@subcommand("function", "kill", 2, "noscript allow_busy", "scripting", since="7.0.0",
            tips=("request_policy:all_shards", "response_policy:one_succeeded"),
            summary="Terminates a function during execution.", complexity="O(1)")
def function_kill(c: Any, argv: list[bytes]) -> Any:
    get(c.server).kill(False)
    return OK


_FUNCTION_HELP = (
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore "
    "policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace "
    "the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of "
    "failure",
    "      in case of functions name collision with another library).",
)


@subcommand("function", "help", 2, "loading stale", "scripting", since="7.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def function_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _FUNCTION_HELP)
