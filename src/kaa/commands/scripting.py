"""Lua scripts (eval.c): EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT.

The engine, sandbox and run context live in ``kaa.scripting``; these handlers parse
arguments with Valkey's texts and hand over. A script's effects propagate as the
writes it made (see ``kaa.scripting.state``), so EVAL itself never does.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import parse_int_or_none
from kaa.commands.client_cmds import MAY_WRITE_CHECKS
from kaa.commands.registry import KeySpec, command, subcommand
from kaa.commands.server_cmds import arg, declare_container, help_reply, syntax_error_for
from kaa.protocol.reply import OK, ONE, ZERO, ReplyError
from kaa.scripting import AVAILABLE, get
from kaa.scripting.library import FLAG_NO_WRITES
from kaa.scripting.state import ScriptError

ERR_NOT_INT = ReplyError("ERR value is not an integer or out of range")
ERR_TOO_MANY_KEYS = ReplyError("ERR Number of keys can't be greater than number of args")
ERR_NEG_KEYS = ReplyError("ERR Number of keys can't be negative")
ERR_NOSCRIPT = ReplyError("NOSCRIPT No matching script.")
ERR_UNAVAILABLE = ReplyError("ERR scripting is not available: the 'lupa' package is not installed")


def script_keys(argv: list[bytes]) -> list[int]:
    """Key positions of EVAL-like commands: ``numkeys`` at 2, the keys after it."""
    if len(argv) < 3:
        return []
    n = parse_int_or_none(argv[2])
    if n is None or n <= 0 or 3 + n > len(argv):
        return []
    return list(range(3, 3 + n))


def parse_numkeys(argv: list[bytes], bad: ReplyError = ERR_NOT_INT) -> int:
    n = parse_int_or_none(argv[2])
    if n is None:
        raise bad
    if n > len(argv) - 3:
        raise ERR_TOO_MANY_KEYS
    if n < 0:
        raise ERR_NEG_KEYS
    return n


_SMALL_NUMKEYS = {b"%d" % i: i for i in range(10)}  # the usual numkeys, without a parse
_CMD_NAMES = {(False, False): "eval", (True, False): "evalsha", (False, True): "eval_ro",
              (True, True): "evalsha_ro"}


def _eval(c: Any, argv: list[bytes], evalsha: bool, ro: bool) -> Any:
    srv = c.server
    if srv.monitors:  # before the commands the script runs
        srv.feed_monitors(c, argv)
    if not AVAILABLE:
        raise ERR_UNAVAILABLE
    if evalsha and len(argv[1]) != 40:
        raise ERR_NOSCRIPT
    nkeys = _SMALL_NUMKEYS.get(argv[2])
    if nkeys is None or nkeys > len(argv) - 3:
        nkeys = parse_numkeys(argv)  # the general parse, and its errors
    sc = srv.scripting
    if evalsha:
        scripts = sc.scripts
        script = scripts.get(argv[1]) or scripts.get(argv[1].lower())
        if script is None:
            raise ERR_NOSCRIPT
    else:
        try:
            script = sc.create_script(argv[1], from_eval=True)
        except ScriptError as e:
            return e.reply
    if script.from_eval:
        sc.lru.move_to_end(script.key)
    return sc.run_script(c, sc._eval_engine or sc.eval_engine, script.func, script.sha, script.flags,
                         ro, True, argv, _CMD_NAMES[evalsha, ro], nkeys)


_EVAL_SPEC = (KeySpec(("RW", "access", "update"), begin_index=2, keynum=(0, 1, 1)),)
_EVAL_RO_SPEC = (KeySpec(("RO", "access"), begin_index=2, keynum=(0, 1, 1)),)
_EVAL_ARGS = (
    arg("script", "string"),
    arg("numkeys", "integer"),
    arg("key", "key", optional=True, multiple=True),
    arg("arg", "string", optional=True, multiple=True),
)
_EVALSHA_ARGS = (arg("sha1", "string"),) + _EVAL_ARGS[1:]
_FLAGS = "noscript skip_monitor may_replicate no_mandatory_keys stale movablekeys"
_RO_FLAGS = "noscript skip_monitor no_mandatory_keys stale readonly movablekeys"


@command("eval", -3, _FLAGS, "scripting", key_specs=_EVAL_SPEC, keys_fn=script_keys,
         group="scripting", since="2.6.0", summary="Executes a server-side Lua script.",
         complexity="Depends on the script that is executed.", arguments=_EVAL_ARGS)
def eval_(c: Any, argv: list[bytes]) -> Any:
    return _eval(c, argv, False, False)


@command("evalsha", -3, _FLAGS, "scripting", key_specs=_EVAL_SPEC, keys_fn=script_keys,
         group="scripting", since="2.6.0", summary="Executes a server-side Lua script by SHA1 digest.",
         complexity="Depends on the script that is executed.", arguments=_EVALSHA_ARGS)
def evalsha(c: Any, argv: list[bytes]) -> Any:
    return _eval(c, argv, True, False)


@command("eval_ro", -3, _RO_FLAGS, "scripting", key_specs=_EVAL_RO_SPEC, keys_fn=script_keys,
         group="scripting", since="7.0.0", summary="Executes a read-only server-side Lua script.",
         complexity="Depends on the script that is executed.", arguments=_EVAL_ARGS)
def eval_ro(c: Any, argv: list[bytes]) -> Any:
    return _eval(c, argv, False, True)


@command("evalsha_ro", -3, _RO_FLAGS, "scripting", key_specs=_EVAL_RO_SPEC, keys_fn=script_keys,
         group="scripting", since="7.0.0",
         summary="Executes a read-only server-side Lua script by SHA1 digest.",
         complexity="Depends on the script that is executed.", arguments=_EVALSHA_ARGS)
def evalsha_ro(c: Any, argv: list[bytes]) -> Any:
    return _eval(c, argv, True, True)


def _eval_may_write(evalsha: bool) -> Any:
    def check(c: Any, argv: list[bytes]) -> bool:
        if not AVAILABLE:
            return True
        flags = get(c.server).lookup_flags(argv, evalsha)
        return flags is None or not flags & FLAG_NO_WRITES

    return check


MAY_WRITE_CHECKS["eval"] = _eval_may_write(False)
MAY_WRITE_CHECKS["evalsha"] = _eval_may_write(True)

# ---- SCRIPT ---------------------------------------------------------------------------------

declare_container("script", -2, group="scripting", since="2.6.0", complexity="Depends on subcommand.",
                  summary="A container for Lua scripts management commands.")

_SCRIPT_HELP = (
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined",
    "     by the lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "SHOW <sha1>",
    "    Show a script from the scripts cache.",
)
_ALL_NODES = ("request_policy:all_nodes", "response_policy:all_succeeded")


@subcommand("script", "help", 2, "loading stale", "scripting", since="5.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def script_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _SCRIPT_HELP)


@subcommand("script", "flush", -2, "noscript", "scripting", since="2.6.0", tips=_ALL_NODES,
            summary="Removes all server-side Lua scripts from the script cache.",
            complexity="O(N) with N being the number of scripts in cache",
            history=(("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),),
            arguments=(arg("flush-type", "oneof", optional=True, args=(
                arg("async", "pure-token", token="ASYNC", since="6.2.0"),
                arg("sync", "pure-token", token="SYNC", since="6.2.0"))),))
def script_flush(c: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3 and argv[2].lower() in (b"sync", b"async"):
        pass
    elif len(argv) != 2:
        raise ReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    get(c.server).flush_scripts()
    return OK


@subcommand("script", "exists", -3, "noscript", "scripting", since="2.6.0",
            tips=("request_policy:all_shards", "response_policy:agg_logical_and"),
            summary="Determines whether server-side Lua scripts exist in the script cache.",
            complexity="O(N) with N being the number of scripts to check (so checking a single "
            "script is an O(1) operation).",
            arguments=(arg("sha1", "string", multiple=True),))
def script_exists(c: Any, argv: list[bytes]) -> Any:
    scripts = get(c.server).scripts
    return [ONE if a.lower() in scripts else ZERO for a in argv[2:]]


@subcommand("script", "load", 3, "noscript stale", "scripting", since="2.6.0", tips=_ALL_NODES,
            summary="Loads a server-side Lua script to the script cache.",
            complexity="O(N) with N being the length in bytes of the script body.",
            arguments=(arg("script", "string"),))
def script_load(c: Any, argv: list[bytes]) -> Any:
    if not AVAILABLE:
        raise ERR_UNAVAILABLE
    try:
        s = get(c.server).create_script(argv[2], from_eval=False)
    except ScriptError as e:
        return e.reply
    return s.sha.encode()


@subcommand("script", "kill", 2, "noscript allow_busy", "scripting", since="2.6.0",
            tips=("request_policy:all_shards", "response_policy:one_succeeded"),
            summary="Terminates a server-side Lua script during execution.", complexity="O(1)")
def script_kill(c: Any, argv: list[bytes]) -> Any:
    get(c.server).kill(True)
    return OK


@subcommand("script", "show", 3, "noscript", "scripting", since="8.0.0",
            summary="Show server-side Lua script in the script cache.", complexity="O(1).",
            arguments=(arg("sha1", "string"),))
def script_show(c: Any, argv: list[bytes]) -> Any:
    sha = argv[2]
    if len(sha) == 40:
        s = get(c.server).scripts.get(sha.lower())
        if s is not None:
            return s.body
    raise ERR_NOSCRIPT


@subcommand("script", "debug", 3, "noscript", "scripting", since="3.2.0",
            summary="Sets the debug mode of server-side Lua scripts.", complexity="O(1)",
            arguments=(arg("mode", "oneof", args=(
                arg("yes", "pure-token", token="YES"),
                arg("sync", "pure-token", token="SYNC"),
                arg("no", "pure-token", token="NO"))),))
def script_debug(c: Any, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"no":
        return OK
    if mode in (b"yes", b"sync"):
        # The Lua debugger (LDB) is not implemented.
        raise ReplyError("ERR SCRIPT DEBUG is not supported by this server")
    raise ReplyError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


__all__ = ["script_keys", "parse_numkeys", "syntax_error_for"]
