"""FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP, FCALL and FCALL_RO
(Valkey 8's functions.c and function_lua.c), with exact error texts."""

from __future__ import annotations

import socket
import time

import pytest
import redis

LIB = "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return keys[1] .. args[1] end)"


def raw(client: redis.Redis, *argv: object) -> bytes:
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    port = client.connection_pool.connection_kwargs["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(parts))
        time.sleep(0.05)
        return s.recv(65536)


def err(client: redis.Redis, *argv: object) -> str:
    reply = raw(client, *argv)
    assert reply.startswith(b"-"), reply
    return reply[1:].split(b"\r\n", 1)[0].decode()


def lib(name: str, body: str) -> str:
    return f"#!lua name={name}\n{body}"


@pytest.fixture()
def fr(r2: redis.Redis) -> redis.Redis:
    r2.function_flush()
    return r2


def test_load_and_call(fr: redis.Redis) -> None:
    assert fr.function_load(LIB) in ("mylib", b"mylib")
    assert fr.fcall("f1", 1, "a", "b") == b"ab"
    assert fr.fcall("F1", 1, "a", "b") == b"ab"  # function names ignore case
    assert err(fr, "FCALL_RO", "f1", 1, "x", "y") == \
        "ERR Can not execute a script with write flag using *_ro command."


def test_load_errors(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    assert err(fr, "FUNCTION", "LOAD", LIB) == "ERR Library 'mylib' already exists"
    assert err(fr, "FUNCTION", "LOAD", "return 1") == "ERR Missing library metadata"
    assert err(fr, "FUNCTION", "LOAD", "#!lua") == "ERR Invalid library metadata"
    assert err(fr, "FUNCTION", "LOAD", "#!lua x=y\n") == "ERR Invalid metadata value given: x=y"
    assert err(fr, "FUNCTION", "LOAD", "#!lua\n") == "ERR Library name was not given"
    assert err(fr, "FUNCTION", "LOAD", "#!lua name=a name=b\n") == \
        "ERR Invalid metadata value, name argument was given multiple times"
    assert err(fr, "FUNCTION", "LOAD", "#!bad name=x\n") == "ERR Engine 'bad' not found"
    assert err(fr, "FUNCTION", "LOAD", "#!lua name=a-b\n") == (
        "ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
        "least one character long")
    assert err(fr, "FUNCTION", "LOAD", lib("empty", "return 1")) == "ERR No functions registered"
    assert err(fr, "FUNCTION", "LOAD", "BOGUS", lib("x", "")) == "ERR Unknown option given: BOGUS"
    assert err(fr, "FUNCTION", "LOAD", lib("x", "return 'unterminated")).startswith(
        "ERR Error compiling function: user_function:2: unfinished string")
    assert err(fr, "FUNCTION", "LOAD", lib("other", "redis.register_function('F1', function() end)")) \
        == "ERR Function F1 already exists"
    assert err(fr, "FUNCTION", "LOAD", lib("dup", "redis.register_function('a', function() end)\n"
                                              "redis.register_function('a', function() end)")) == \
        "ERR Error registering functions: ERR Function already exists in the library"


def test_replace(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    fr.function_load(lib("mylib", "redis.register_function('f2', function() return 2 end)"), replace=True)
    assert fr.fcall("f2", 0) == 2
    assert err(fr, "FCALL", "f1", "0") == "ERR Function not found"


def test_register_function_named_arguments(fr: redis.Redis) -> None:
    fr.function_load(lib("named", "redis.register_function{function_name='ro', callback=function(k, a) "
                                  "return redis.call('get', k[1]) end, flags={'no-writes'}, "
                                  "description='reads'}"))
    fr.set("k", "v")
    assert fr.fcall_ro("ro", 1, "k") == b"v"
    listing = fr.function_list()
    f = listing[0][b"functions"][0] if isinstance(listing[0], dict) else None
    if f is None:  # RESP2: flat lists
        entry = dict(zip(listing[0][::2], listing[0][1::2], strict=True))
        fn = entry[b"functions"][0]
        f = dict(zip(fn[::2], fn[1::2], strict=True))
    assert f[b"name"] == b"ro"
    assert f[b"description"] == b"reads"
    assert f[b"flags"] == [b"no-writes"]


@pytest.mark.parametrize(("body", "msg"), [
    ("redis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
     "unknown flag given"),
    ("redis.register_function{function_name='f', callback='x'}",
     "callback argument given to server.register_function must be a function"),
    ("redis.register_function{function_name={}, callback=function() end}",
     "function_name argument given to server.register_function must be a string"),
    ("redis.register_function{callback=function() end}",
     "server.register_function must get a function name argument"),
    ("redis.register_function{function_name='f'}",
     "server.register_function must get a callback argument"),
    ("redis.register_function{function_name='f', callback=function() end, what=1}",
     "unknown argument given to server.register_function"),
    ("redis.register_function{function_name='f', callback=function() end, description={}}",
     "description argument given to server.register_function must be a string"),
    ("redis.register_function{function_name='f', callback=function() end, flags='x'}",
     "flags argument to server.register_function must be a table representing function flags"),
    ("redis.register_function('f')", "calling server.register_function with a single argument is "
     "only applicable to Lua table (representing named arguments)."),
    ("redis.register_function({}, function() end)",
     "first argument to server.register_function must be a string"),
    ("redis.register_function()", "wrong number of arguments to server.register_function"),
    ("redis.register_function('x', 1)", "second argument to server.register_function must be a function"),
    ("redis.register_function('', function() end)",
     "Library names can only contain letters, numbers, or underscores(_) and must be at least "
     "one character long"),
])
def test_register_function_errors(fr: redis.Redis, body: str, msg: str) -> None:
    assert err(fr, "FUNCTION", "LOAD", lib("bad", body)) == f"ERR Error registering functions: ERR {msg}"


def test_load_time_sandbox(fr: redis.Redis) -> None:
    assert "attempted to access nonexistent global variable 'math'" in err(
        fr, "FUNCTION", "LOAD", lib("l", "return math.random()"))
    assert "attempted to access nonexistent global variable 'call'" in err(
        fr, "FUNCTION", "LOAD", lib("l", "return redis.call('ping')"))
    assert "attempted to access nonexistent global variable 'setresp'" in err(
        fr, "FUNCTION", "LOAD", lib("l", "return redis.setresp(3)"))
    assert "Attempt to modify a readonly table" in err(fr, "FUNCTION", "LOAD", lib("l", "a = 1"))
    assert "attempted to access nonexistent global variable 'getmetatable'" in err(
        fr, "FUNCTION", "LOAD", lib("l", "mt = getmetatable(_G)"))


def test_runtime_sandbox(fr: redis.Redis) -> None:
    fr.function_load(lib("l", """
        local lib = redis
        lib.register_function('f1', function() lib.redis = redis end)
        lib.register_function('f2', function() lib.register_function('x', function() end) end)
        redis.register_function('f3', function() return redis.register_function('y', function() end) end)
        redis.register_function('f4', function() return {redis.call('ping'), math.floor(2.5)} end)
    """))
    assert "Attempt to modify a readonly table" in err(fr, "FCALL", "f1", 0)
    assert "server.register_function can only be called on FUNCTION LOAD command" in err(fr, "FCALL", "f2", 0)
    assert "attempt to call field 'register_function' (a nil value)" in err(fr, "FCALL", "f3", 0)
    assert fr.fcall("f4", 0) == [b"PONG", 2]


def test_error_positions_in_functions(fr: redis.Redis) -> None:
    fr.function_load(lib("l", "redis.register_function('boom', function()\n  return a\nend)"))
    assert err(fr, "FCALL", "boom", 0) == (
        "ERR user_function:3: Script attempted to access nonexistent global variable 'a' "
        "script: boom, on @user_function:3.")


def test_fcall_errors(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    assert err(fr, "FCALL", "nosuch", 0) == "ERR Function not found"
    assert err(fr, "FCALL", "f1", "x") == "ERR Bad number of keys provided"
    assert err(fr, "FCALL", "f1", "-1") == "ERR Number of keys can't be negative"
    assert err(fr, "FCALL", "f1", "3", "a") == "ERR Number of keys can't be greater than number of args"
    assert err(fr, "FCALL", "f1") == "ERR wrong number of arguments for 'fcall' command"


def test_fcall_ro_and_flags(fr: redis.Redis) -> None:
    fr.function_load(lib("w", "redis.register_function('w', function(k) return redis.call('set', k[1], 'x') end)\n"
                              "redis.register_function{function_name='r', callback=function(k) "
                              "return redis.call('set', k[1], 'x') end, flags={'no-writes'}}"))
    assert err(fr, "FCALL_RO", "w", 1, "k") == "ERR Can not execute a script with write flag using *_ro command."
    assert err(fr, "FCALL", "r", 1, "k").startswith(
        "ERR Write commands are not allowed from read-only scripts. script: r, on @user_function:")
    assert fr.fcall("w", 1, "k") == b"OK"


def test_list(fr: redis.Redis) -> None:
    fr.function_load(lib("alpha", "redis.register_function('fa', function() end)"))
    fr.function_load(lib("beta", "redis.register_function{function_name='fb', callback=function() end, "
                                 "flags={'no-writes', 'allow-oom'}}"))
    listing = fr.function_list()
    assert len(listing) == 2
    only = fr.function_list(library="be*", withcode=True)
    assert len(only) == 1
    flat = only[0]
    entry = dict(zip(flat[::2], flat[1::2], strict=True))
    assert entry[b"library_name"] == b"beta"
    assert entry[b"engine"] == b"LUA"
    assert entry[b"library_code"].startswith(b"#!lua name=beta")
    fn = entry[b"functions"][0]
    fn = dict(zip(fn[::2], fn[1::2], strict=True))
    assert fn[b"flags"] == [b"no-writes", b"allow-oom"]
    assert fn[b"description"] is None
    assert fr.function_list(library="nomatch") == []
    assert err(fr, "FUNCTION", "LIST", "LIBRARYNAME") == "ERR library name argument was not given"
    assert err(fr, "FUNCTION", "LIST", "BOGUS") == "ERR Unknown argument BOGUS"
    assert err(fr, "FUNCTION", "LIST", "WITHCODE", "WITHCODE") == "ERR Unknown argument WITHCODE"


def test_list_resp3_flags_are_a_set(r3: redis.Redis) -> None:
    r3.function_flush()
    r3.function_load(lib("s", "redis.register_function{function_name='f', callback=function() end, "
                              "flags={'no-writes'}}"))
    port = r3.connection_pool.connection_kwargs["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"HELLO 3\r\n")
        time.sleep(0.05)
        s.recv(65536)
        s.sendall(b"FUNCTION LIST\r\n")
        time.sleep(0.05)
        data = s.recv(65536)
    assert b"$5\r\nflags\r\n~1\r\n+no-writes\r\n" in data
    assert b"$11\r\ndescription\r\n_\r\n" in data


def test_delete_and_flush(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    assert fr.function_delete("mylib")
    assert err(fr, "FUNCTION", "DELETE", "mylib") == "ERR Library not found"
    assert err(fr, "FCALL", "f1", 0) == "ERR Function not found"
    fr.function_load(LIB)
    assert fr.function_flush("SYNC")
    assert fr.function_list() == []
    assert err(fr, "FUNCTION", "FLUSH", "NOW") == "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    assert err(fr, "FUNCTION", "FLUSH", "A", "B") == (
        "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.")


def test_flushall_keeps_functions(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    fr.flushall()
    assert len(fr.function_list()) == 1


def test_dump_and_restore(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    payload = fr.function_dump()
    assert payload[0] == 245  # RDB_OPCODE_FUNCTION2
    assert payload[-10:-8] == b"\x0b\x00"  # RDB version 11
    assert err(fr, "FUNCTION", "RESTORE", payload) == "ERR Library mylib already exists"
    assert fr.function_restore(payload, "REPLACE")  # type: ignore[arg-type]
    fr.function_flush()
    assert fr.function_restore(payload)  # type: ignore[arg-type]
    assert fr.fcall("f1", 1, "a", "b") == b"ab"
    fr.function_load(lib("other", "redis.register_function('g', function() return 1 end)"))
    assert fr.function_restore(payload, "FLUSH")  # type: ignore[arg-type]
    assert [e[1] for e in fr.function_list()] == [b"mylib"]
    assert err(fr, "FUNCTION", "RESTORE", payload, "BAD") == (
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    assert err(fr, "FUNCTION", "RESTORE", b"bad payload!") == "ERR DUMP payload version or checksum are wrong"
    corrupted = bytearray(payload)
    corrupted[5] ^= 0xFF
    assert err(fr, "FUNCTION", "RESTORE", bytes(corrupted)) == "ERR DUMP payload version or checksum are wrong"
    assert err(fr, "FUNCTION", "RESTORE", payload, "APPEND", "x") == (
        "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.")


def test_restore_function_name_collision(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    payload = fr.function_dump()
    fr.function_flush()
    fr.function_load(lib("clash", "redis.register_function('f1', function() end)"))
    assert err(fr, "FUNCTION", "RESTORE", payload) == "ERR Function f1 already exists"
    assert [e[1] for e in fr.function_list()] == [b"clash"]


def test_stats_kill_help(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    stats = fr.function_stats()
    if isinstance(stats, list):
        stats = dict(zip(stats[::2], stats[1::2], strict=True))
    assert stats[b"running_script"] is None
    engines = stats[b"engines"]
    if isinstance(engines, list):
        engines = dict(zip(engines[::2], engines[1::2], strict=True))
    lua = engines[b"LUA"]
    if isinstance(lua, list):
        lua = dict(zip(lua[::2], lua[1::2], strict=True))
    assert lua == {b"libraries_count": 1, b"functions_count": 1}
    assert err(fr, "FUNCTION", "KILL") == "NOTBUSY No scripts in execution right now."
    help_lines = fr.execute_command("FUNCTION", "HELP")
    assert help_lines[0] == b"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]" in help_lines


def test_load_timeout(fr: redis.Redis) -> None:
    t = time.time()
    assert "FUNCTION LOAD timeout" in err(fr, "FUNCTION", "LOAD", lib("slow", "local a = 1 while 1 do a = a + 1 end"))
    assert time.time() - t < 5
    assert fr.ping()


def test_info_counts(fr: redis.Redis) -> None:
    fr.function_load(lib("c", "redis.register_function('c1', function() end)\n"
                              "redis.register_function('c2', function() end)"))
    mem = fr.info("memory")
    assert mem["number_of_libraries"] == 1
    assert mem["number_of_functions"] == 2


def test_functions_survive_debug_reload(fr: redis.Redis) -> None:
    fr.function_load(LIB)
    fr.set("x", "1")
    assert fr.execute_command("DEBUG", "RELOAD") in (b"OK", True)
    assert fr.fcall("f1", 1, "a", "b") == b"ab"
    assert fr.get("x") == b"1"


def test_debug_reload_noflush_needs_merge_for_libraries(fr: redis.Redis) -> None:
    """rdbFunctionLoad replaces a loaded library only with RDBFLAGS_ALLOW_DUP (MERGE):
    NOFLUSH alone fails the load and leaves the libraries as they were."""
    fr.function_load(LIB)
    assert fr.execute_command("DEBUG", "RELOAD") == b"OK"
    assert err(fr, "DEBUG", "RELOAD", "NOFLUSH") == \
        "ERR Error trying to load the RDB dump, check server logs."
    assert [x[b"library_name"] if isinstance(x, dict) else x[1] for x in fr.function_list()] == \
        [b"mylib"]
    assert fr.execute_command("DEBUG", "RELOAD", "NOFLUSH", "MERGE") == b"OK"
    assert fr.fcall("f1", 1, "a", "b") == b"ab"


def test_debug_reload_merge_keeps_both_libraries(fr: redis.Redis) -> None:
    """NOSAVE NOFLUSH MERGE: the saved library comes back, the one loaded since stays."""
    fr.function_load(lib("l1", "redis.register_function('g1', function() return 'one' end)"))
    assert fr.execute_command("DEBUG", "RELOAD") == b"OK"
    fr.function_load(lib("l2", "redis.register_function('g2', function() return 'two' end)"))
    assert fr.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
    assert fr.fcall("g1", 0) == b"one"
    assert fr.fcall("g2", 0) == b"two"
    # Without MERGE the library that exists (l1 is in the file) fails the load.
    assert err(fr, "DEBUG", "RELOAD", "NOSAVE", "NOFLUSH").startswith("ERR Error trying to load")
    assert fr.fcall("g2", 0) == b"two"


def test_keys_and_args_are_tables(fr: redis.Redis) -> None:
    fr.function_load(lib("k", "redis.register_function('k', function(keys, args) "
                              "return {#keys, #args, keys[1], args[2]} end)"))
    assert fr.fcall("k", 2, "a", "b", "c", "d") == [2, 2, b"a", b"d"]
    assert fr.fcall("k", 0) == [0, 0]
