"""EVAL / EVALSHA / EVAL_RO / SCRIPT: the Lua API, conversions in both protocols, the
sandbox, the bundled libraries and the exact error texts (Valkey 8)."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
import redis
from redis.exceptions import NoScriptError, ResponseError


def sha(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def raw(port: int, *argv: object) -> bytes:
    """Send one command on a fresh socket and return the raw reply bytes."""
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(parts))
        time.sleep(0.05)
        return s.recv(65536)


def err(client: redis.Redis, *args: object, cmd: str = "EVAL") -> str:
    """The complete error text (redis-py drops the ERR code) of a command on the raw protocol."""
    reply = raw(client.connection_pool.connection_kwargs["port"], cmd, *args)
    assert reply.startswith(b"-"), reply
    return reply[1:].split(b"\r\n", 1)[0].decode()


# ---- Lua -> reply conversions ------------------------------------------------------------

def test_basic_conversions_resp2(r2: redis.Redis) -> None:
    assert r2.eval("return 'hello'", 0) == b"hello"
    assert r2.eval("return 100.5", 0) == 100  # numbers are truncated to integers
    assert r2.eval("return -3.99", 0) == -3
    assert r2.eval("return true", 0) == 1
    assert r2.eval("return false", 0) is None
    assert r2.eval("return nil", 0) is None
    assert r2.eval("return {ok='fine'}", 0) == b"fine"
    assert r2.eval("return {1,2,3,'ciao',{1,2}}", 0) == [1, 2, 3, b"ciao", [1, 2]]
    assert r2.eval("return {1, nil, 3}", 0) == [1]  # an array stops at the first nil
    assert r2.eval("return {1, false, 3}", 0) == [1, None, 3]
    assert r2.eval("return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}", 2, "a", "b", "c", "d") == [
        b"a", b"b", b"c", b"d"]
    assert r2.eval("return _G", 0) == []


def test_number_edge_conversions(r2: redis.Redis) -> None:
    # (long long) casts as Valkey does them on x86-64
    assert r2.eval("return 1e20", 0) == -9223372036854775808
    assert r2.eval("return 0/0", 0) == -9223372036854775808
    assert r2.eval("return 2^53", 0) == 9007199254740992


def test_typed_tables_resp2(r2: redis.Redis) -> None:
    assert r2.eval("return {double=3.5}", 0) == b"3.5"
    assert r2.eval("return {double=1/0}", 0) == b"inf"
    assert r2.eval("return {big_number='123456789012345678901234567890'}", 0) == \
        b"123456789012345678901234567890"
    assert r2.eval("return {verbatim_string={format='txt', string='hi'}}", 0) == b"hi"
    assert r2.eval("return {map={a=1}}", 0) == [b"a", 1]
    assert r2.eval("return {set={a=true}}", 0) == [b"a"]


def test_typed_tables_resp3(r3: redis.Redis) -> None:
    assert r3.eval("return {double=3.5}", 0) == 3.5
    assert r3.eval("return {map={a=1}}", 0) == {b"a": 1}
    assert list(r3.eval("return {set={a=true}}", 0)) == [b"a"]
    assert r3.eval("return nil", 0) is None
    assert r3.eval("return {big_number='12345678901234567890'}", 0) in (
        12345678901234567890, b"12345678901234567890")


def test_raw_resp3_encodings(kaa_proc: object) -> None:
    port = kaa_proc.port  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        def ask(*argv: str) -> bytes:
            parts = [b"*%d\r\n" % len(argv)]
            for a in argv:
                parts.append(b"$%d\r\n%s\r\n" % (len(a), a.encode()))
            s.sendall(b"".join(parts))
            time.sleep(0.05)
            return s.recv(65536)

        assert ask("HELLO", "3").startswith(b"%")
        assert ask("EVAL", "return {double=1.5}", "0") == b",1.5\r\n"
        assert ask("EVAL", "return {big_number='123'}", "0") == b"(123\r\n"
        assert ask("EVAL", "return {verbatim_string={format='txt', string='ab'}}", "0") == \
            b"=6\r\ntxt:ab\r\n"
        assert ask("EVAL", "return {set={a=true}}", "0") == b"~1\r\n$1\r\na\r\n"
        assert ask("EVAL", "return {map={a=1}}", "0") == b"%1\r\n$1\r\na\r\n:1\r\n"
        assert ask("EVAL", "return false", "0") == b"_\r\n"  # RESP2 script: false is null
        assert ask("EVAL", "redis.setresp(3) return false", "0") == b"#f\r\n"
        assert ask("EVAL", "redis.setresp(3) return true", "0") == b"#t\r\n"
        assert ask("EVAL", "return {ok='a\\r\\nb'}", "0") == b"+a  b\r\n"


def test_booleans_from_resp3_script_to_resp2_client(r2: redis.Redis) -> None:
    assert r2.eval("redis.setresp(3) return true", 0) == 1
    assert r2.eval("redis.setresp(3) return false", 0) == 0


def test_error_table_replies(r2: redis.Redis) -> None:
    assert err(r2, "return {err='ERR this is an error'}", 0) == "ERR this is an error"
    assert err(r2, "return {err='MY code'}", 0) == "MY code"
    assert err(r2, "return redis.error_reply('MY_ERR_CODE custom msg')", 0) == "MY_ERR_CODE custom msg"
    assert err(r2, "return redis.error_reply('-X')", 0) == "ERR X"
    assert r2.eval("return redis.status_reply('MY_OK')", 0) == b"MY_OK"


def test_recursive_table_reply_hits_stack_limit(kaa_proc: object) -> None:
    reply = raw(kaa_proc.port, "EVAL",  # type: ignore[attr-defined]
                "local a = {}; local b = {a}; a[1] = b; return a", "0")
    assert reply.startswith(b"*1\r\n*1\r\n")
    # the tail comes in later chunks; the connection stays usable (checked by raw itself)


# ---- server.call replies -> Lua -----------------------------------------------------------

def test_call_reply_types(r2: redis.Redis) -> None:
    r2.set("s", "v")
    r2.rpush("l", "a", "b")
    assert r2.eval("return redis.call('get', KEYS[1])", 1, "s") == b"v"
    assert r2.eval("return type(redis.call('get', 'nokey'))", 0) == b"boolean"
    assert r2.eval("return redis.call('lrange', 'l', 0, -1)", 0) == [b"a", b"b"]
    assert r2.eval("return redis.call('ping')", 0) == b"PONG"
    assert r2.eval("return type(redis.call('ping'))", 0) == b"table"
    assert r2.eval("return redis.call('ping').ok", 0) == b"PONG"
    assert r2.eval("return redis.call('incr', 'n')", 0) == 1


def test_call_reply_types_resp3_script(r2: redis.Redis, r3: redis.Redis) -> None:
    r2.hset("h", "f", "v")
    assert r2.eval("redis.setresp(3) return redis.call('hgetall', KEYS[1])", 1, "h") == [b"f", b"v"]
    assert r3.eval("redis.setresp(3) return redis.call('hgetall', KEYS[1])", 1, "h") == {b"f": b"v"}
    assert r3.eval("redis.setresp(2) return redis.call('hgetall', KEYS[1])", 1, "h") == [b"f", b"v"]
    assert r2.eval("redis.setresp(3) return type(redis.call('get', 'nokey'))", 0) == b"nil"
    assert r2.eval("redis.setresp(3) return redis.call('hgetall', 'h').map.f", 0) == b"v"


def test_number_arguments_to_call(r2: redis.Redis) -> None:
    r2.eval("redis.call('set', 'k', 9007199254740991)", 0)
    assert r2.get("k") == b"9007199254740991"
    r2.eval("redis.call('set', 'k', 0.1)", 0)
    assert r2.get("k") == b"0.1"
    r2.eval("redis.call('set', 'k', 3.5)", 0)
    assert r2.get("k") == b"3.5"
    assert r2.eval("redis.call('set','key','12039611435714932082') return redis.call('get','key')",
                   0) == b"12039611435714932082"


# ---- errors, exact texts ------------------------------------------------------------------

def test_runtime_error_texts(r2: redis.Redis) -> None:
    s = "return a"
    assert err(r2, s, 0) == ("ERR user_script:1: Script attempted to access nonexistent global "
                             f"variable 'a' script: {sha(s)}, on @user_script:1.")
    s = "a = 10"
    assert err(r2, s, 0) == ("ERR user_script:1: Attempt to modify a readonly table "
                             f"script: {sha(s)}, on @user_script:1.")
    s = "\n\nerror('boom')"
    assert err(r2, s, 0) == f"ERR user_script:3: boom script: {sha(s)}, on @user_script:3."
    s = "error({err='MY boom'})"
    assert err(r2, s, 0) == f"MY boom script: {sha(s)}, on @user_script:1."


def test_call_error_texts(r2: redis.Redis) -> None:
    r2.set("s", "x")
    s = "return redis.call('incr', 's')"
    assert err(r2, s, 0) == (f"ERR value is not an integer or out of range script: {sha(s)}, "
                             "on @user_script:1.")
    s = "return redis.call('nosuchcommand')"
    assert err(r2, s, 0) == f"ERR Unknown command called from script script: {sha(s)}, on @user_script:1."
    s = "return redis.call('get','a','b','c')"
    assert err(r2, s, 0) == (f"ERR Wrong number of args calling command from script script: {sha(s)}, "
                             "on @user_script:1.")
    s = "return redis.call('multi')"
    assert err(r2, s, 0) == (f"ERR This Redis command is not allowed from script script: {sha(s)}, "
                             "on @user_script:1.")
    s = "return redis.call()"
    assert err(r2, s, 0) == (f"ERR Please specify at least one argument for this call script: "
                             f"{sha(s)}, on @user_script:1.")
    s = "return redis.call('get', {})"
    assert err(r2, s, 0) == (f"ERR Command arguments must be strings or integers script: {sha(s)}, "
                             "on @user_script:1.")


def test_pcall_and_error_tables(r2: redis.Redis) -> None:
    r2.set("s", "x")
    assert err(r2, "return redis.pcall('incr', 's')", 0) == "ERR value is not an integer or out of range"
    assert r2.eval("return redis.pcall('nosuch').err", 0) == b"ERR Unknown command called from script"
    assert r2.eval("return redis.pcall('incr', 's').err", 0) == b"ERR value is not an integer or out of range"
    assert r2.eval("local ok, e = pcall(redis.call, 'select', 99) return e", 0) == \
        b"ERR DB index is out of range"
    assert r2.eval("return tostring(pcall(function() return foo end))", 0) == b"false"
    assert r2.eval("local s, e = pcall(function() return foo end) return e", 0) == \
        b"user_script:1: Script attempted to access nonexistent global variable 'foo'"
    assert r2.eval("local ok, e = pcall(error, {err='X'}) return e", 0) == b"X"


def test_numkeys_errors(r2: redis.Redis) -> None:
    assert err(r2, "return 1", -12) == "ERR Number of keys can't be negative"
    assert err(r2, "return 1", 3, "a") == "ERR Number of keys can't be greater than number of args"
    assert err(r2, "return 1", "x") == "ERR value is not an integer or out of range"


def test_compile_errors(r2: redis.Redis) -> None:
    assert err(r2, "return 'unterminated", 0).startswith(
        "ERR Error compiling script (new function): user_script:1: unfinished string")
    assert err(r2, "#!lua flags=bogus\nreturn 1", 0) == "ERR Unexpected flag in script shebang: bogus"
    assert err(r2, "#!lua name=x\nreturn 1", 0) == "ERR Unknown lua shebang option: name=x"
    assert err(r2, "#!notlua\nreturn 1", 0) == "ERR Unexpected engine in script shebang: #!notlua"
    assert err(r2, "#!lua", 0) == "ERR Invalid script shebang"


def test_api_argument_errors(r2: redis.Redis) -> None:
    s = "redis.sha1hex()"
    assert err(r2, s, 0) == f"ERR wrong number of arguments script: {sha(s)}, on @user_script:1."
    s = "return redis.log()"
    assert err(r2, s, 0) == (f"ERR server.log() requires two arguments or more. script: {sha(s)}, "
                             "on @user_script:1.")
    s = "return redis.log(99, 'x')"
    assert err(r2, s, 0) == f"ERR Invalid log level. script: {sha(s)}, on @user_script:1."
    s = "return redis.setresp(4)"
    assert err(r2, s, 0) == f"ERR RESP version must be 2 or 3. script: {sha(s)}, on @user_script:1."
    s = "return redis.set_repl(9)"
    assert err(r2, s, 0) == ("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
                             f"REPL_NONE. script: {sha(s)}, on @user_script:1.")
    s = "return redis.acl_check_cmd('nosuch')"
    assert err(r2, s, 0) == (f"ERR Invalid command passed to server.acl_check_cmd() script: {sha(s)}, "
                             "on @user_script:1.")
    assert r2.eval("return redis.acl_check_cmd('get', 'x')", 0) == 1


# ---- EVALSHA / SCRIPT -------------------------------------------------------------------

def test_evalsha_and_script_commands(r2: redis.Redis) -> None:
    r2.script_flush()
    body = "return redis.call('get', KEYS[1])"
    r2.set("k", "v")
    digest = r2.script_load(body)
    assert digest == sha(body)
    assert r2.evalsha(digest, 1, "k") == b"v"
    assert r2.evalsha(digest.upper(), 1, "k") == b"v"
    assert r2.script_exists(digest, "0" * 40) == [True, False]
    assert r2.execute_command("SCRIPT", "SHOW", digest) == body.encode()
    r2.script_flush()
    assert r2.script_exists(digest) == [False]
    with pytest.raises(NoScriptError) as e:
        r2.evalsha(digest, 1, "k")
    assert str(e.value) == "No matching script."
    with pytest.raises(NoScriptError):
        r2.evalsha("abc", 0)
    with pytest.raises(ResponseError, match="^No matching script.$"):
        r2.execute_command("SCRIPT", "SHOW", "x" * 40)


def test_eval_caches_the_script(r2: redis.Redis) -> None:
    r2.script_flush()
    r2.eval("return 1", 0)
    assert r2.script_exists(sha("return 1")) == [True]
    assert r2.info("memory")["number_of_cached_scripts"] == 1


def test_script_subcommand_errors(r2: redis.Redis) -> None:
    assert err(r2, "FLUSH", "LATER", cmd="SCRIPT") == "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    assert r2.execute_command("SCRIPT", "FLUSH", "ASYNC") in (b"OK", True)
    assert err(r2, "KILL", cmd="SCRIPT") == "NOTBUSY No scripts in execution right now."
    assert err(r2, "NOPE", cmd="SCRIPT") == "ERR unknown subcommand 'NOPE'. Try SCRIPT HELP."
    assert err(r2, "LOAD", cmd="SCRIPT") == "ERR wrong number of arguments for 'script|load' command"
    help_lines = r2.execute_command("SCRIPT", "HELP")
    assert help_lines[0].startswith(b"SCRIPT <subcommand>")
    assert b"KILL" in help_lines


def test_eval_ro_and_shebang_flags(r2: redis.Redis) -> None:
    r2.set("foo", "bar")
    assert r2.eval_ro("return redis.call('get', KEYS[1])", 1, "foo") == b"bar"
    s = "redis.call('del', KEYS[1])"
    assert err(r2, s, 1, "foo", cmd="EVAL_RO") == (
        f"ERR Write commands are not allowed from read-only scripts. script: {sha(s)}, on @user_script:1.")
    s = "#!lua flags=no-writes\nreturn redis.call('set','x','y')"
    assert err(r2, s, 0) == ("ERR Write commands are not allowed from read-only scripts. "
                             f"script: {sha(s)}, on @user_script:2.")
    assert err(r2, "#!lua\nreturn 1", 0, cmd="EVAL_RO") == \
        "ERR Can not execute a script with write flag using *_ro command."
    assert r2.eval_ro("#!lua flags=no-writes\nreturn 1", 0) == 1


# ---- sandbox ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["loadfile", "dofile", "print", "require", "io", "debug", "module"])
def test_missing_globals(r2: redis.Redis, name: str) -> None:
    assert f"nonexistent global variable '{name}'" in err(r2, f"return {name}", 0)


@pytest.mark.parametrize("code", [
    "setmetatable(_G, {})",
    "local g = getmetatable(_G); g.__index = {}",
    "redis = function() return 1 end",
    "_G = {}",
    "redis.call = function() return 1 end",
    "cjson.encode = function() return 1 end",
    "cmsgpack.pack = function() return 1 end",
    "bit.lshift = function() return 1 end",
    "string.rep = nil",
    "math.x = 1",
    "rawset(_G, 'x', 1)",
    "rawset(redis, 'x', 1)",
])
def test_readonly_tables(r2: redis.Redis, code: str) -> None:
    assert "Attempt to modify a readonly table" in err(r2, code, 0)


def test_os_only_has_clock(r2: redis.Redis) -> None:
    assert r2.eval("local t = {} for k in pairs(os) do t[#t+1] = k end return t", 0) == [b"clock"]
    assert "attempt to call field 'execute'" in err(r2, "os.execute()", 0)
    assert r2.eval("return os.clock() >= 0", 0) == 1


def test_globals_are_valkeys(r2: redis.Redis) -> None:
    names = r2.eval("local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t", 0)
    assert names == [n.encode() for n in sorted([
        "ARGV", "KEYS", "_G", "_VERSION", "__redis__err__handler", "assert", "bit", "cjson",
        "cmsgpack", "collectgarbage", "coroutine", "error", "gcinfo", "getfenv", "getmetatable",
        "ipairs", "load", "loadstring", "math", "newproxy", "next", "os", "pairs", "pcall",
        "rawequal", "rawget", "rawset", "redis", "select", "server", "setfenv", "setmetatable",
        "string", "struct", "table", "tonumber", "tostring", "type", "unpack", "xpcall"])]


def test_binary_chunks_refused(r2: redis.Redis) -> None:
    assert "attempt to call a nil value" in err(
        r2, "return loadstring(string.dump(function() return 1 end))()", 0)
    assert r2.eval("return loadstring('return 7')()", 0) == 7
    assert r2.eval("return getfenv(0) == _G", 0) == 1


def test_string_methods_unavailable_as_in_valkey(r2: redis.Redis) -> None:
    assert "attempt to call method 'rep' (a nil value)" in err(r2, "return ('x'):rep(3)", 0)
    assert r2.eval("return string.rep('x', 3)", 0) == b"xxx"


def test_metatable_on_result_is_not_invoked(r2: redis.Redis) -> None:
    assert r2.eval("local a = {}; setmetatable(a,{__index=function() foo() end}) return a", 0) == []
    r2.eval("local a = {}; setmetatable(a,{__index=function() redis.call('set', 'x', '1') end}) "
            "return a", 1, "x")
    assert r2.get("x") is None


def test_keys_argv_tables_are_writable(r2: redis.Redis) -> None:
    assert r2.eval("table.insert(KEYS, 'z') return KEYS", 1, "k") == [b"k", b"z"]
    assert "Attempt to modify a readonly table" in err(r2, "KEYS = 1", 0)


# ---- libraries ----------------------------------------------------------------------------

def test_cjson(r2: redis.Redis) -> None:
    assert r2.eval("return cjson.encode({1,2,{a=1}})", 0) == b'[1,2,{"a":1}]'
    assert r2.eval("return cjson.encode('a\"b/\\1')", 0) == b'"a\\"b\\/\\u0001"'
    assert r2.eval("return cjson.encode(0.1)", 0) == b"0.1"
    assert r2.eval("return cjson.encode(123456789012345)", 0) == b"1.2345678901234e+14"
    assert r2.eval("return cjson.encode({})", 0) == b"{}"
    assert r2.eval("return cjson.encode({[1]=1,[2]=2,[5]=5})", 0) == b"[1,2,null,null,5]"
    assert r2.eval("return cjson.decode('[1,2,{\"a\":1.5}]')[3].a * 2", 0) == 3
    assert r2.eval("return cjson.decode('[true, false, null]')[3] == cjson.null", 0) == 1
    assert r2.eval("return cjson.decode('\"\\\\u00e9\"')", 0) == "é".encode()
    assert r2.eval("return {cjson.decode('{\"a\":[1,2]}').a[2]}", 0) == [2]
    s = "return cjson.decode('[1,2')"
    assert err(r2, s, 0) == ("ERR user_script:1: Expected comma or array end but found T_END at "
                             f"character 5 script: {sha(s)}, on @user_script:1.")
    s = "return cjson.encode({[1]=1,[20]=2})"
    assert err(r2, s, 0) == ("ERR user_script:1: Cannot serialise table: excessively sparse array "
                             f"script: {sha(s)}, on @user_script:1.")
    assert "Cannot serialise, excessive nesting (1001)" in err(
        r2, "local a = {} a[1] = a return cjson.encode(a)", 0)
    assert "Cannot serialise number: must not be NaN or Inf" in err(r2, "return cjson.encode(1/0)", 0)


def test_cmsgpack(r2: redis.Redis) -> None:
    assert r2.eval("return cmsgpack.pack(1, -1, 127, 128, -33)", 0) == b"\x01\xff\x7f\xcc\x80\xd0\xdf"
    assert r2.eval("return cmsgpack.pack(0.5, 0.1)", 0) == (
        b"\xca\x3f\x00\x00\x00\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a")
    assert r2.eval("return cmsgpack.pack('abc', true, false, {1,2}, {a=1})", 0) == (
        b"\xa3abc\xc3\xc2\x92\x01\x02\x81\xa1a\x01")
    assert r2.eval("return {cmsgpack.unpack(cmsgpack.pack(1, -1, 2^40, 'x', {1,2}))}", 0) == [
        1, -1, 1099511627776, b"x", [1, 2]]
    assert r2.eval("return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 0)}", 0) == [1, 1]
    assert r2.eval("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}", 0) == [2, 1, 2]
    assert "Missing bytes in input." in err(r2, "return cmsgpack.unpack('\\205\\1')", 0)
    assert "Bad data format in input." in err(r2, "return cmsgpack.unpack('\\193')", 0)
    # the Valkey test: a recursive table is cut at 16 levels
    encoded = r2.eval("local a = {x=nil,y=5} local b = {x=a} a['x'] = b "
                      "return cmsgpack.pack(a)", 0)
    assert encoded.startswith(b"\x82\xa1y\x05\xa1x\x81\xa1x") or encoded.startswith(b"\x82\xa1x")


def test_bit(r2: redis.Redis) -> None:
    assert r2.eval("return {bit.tobit(2^32+5), bit.bnot(0), bit.band(0xff, 0x0f), bit.bor(1,2,4), "
                   "bit.bxor(3,1)}", 0) == [5, -1, 15, 7, 2]
    assert r2.eval("return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), "
                   "bit.rol(0x12345678, 8), bit.ror(0x12345678, 8)}", 0) == [
        -2147483648, 15, -16, 878082066, 2014458966]
    assert r2.eval("return {bit.bswap(0x12345678), bit.tohex(255), bit.tohex(-1, -4)}", 0) == [
        2018915346, b"000000ff", b"FFFF"]
    assert r2.eval("return bit.tohex(65535, -2147483648)", 0) == b"0000FFFF"
    assert "bad argument #1 to 'band' (number expected, got string)" in err(
        r2, "return bit.band('x')", 0)


def test_struct(r2: redis.Redis) -> None:
    assert r2.eval("return struct.pack('>i2I4', -2, 7)", 0) == b"\xff\xfe\x00\x00\x00\x07"
    assert r2.eval("return struct.size('>i2I4d')", 0) == 14
    assert r2.eval("return {struct.unpack('>i2I4', struct.pack('>i2I4', -2, 7))}", 0) == [-2, 7, 7]
    assert r2.eval("return {struct.unpack('s', 'abc\\0def')}", 0) == [b"abc", 5]
    assert r2.eval("return struct.pack('!4 b i', 1, 2)", 0) == b"\x01\x00\x00\x00\x02\x00\x00\x00"
    assert "invalid format option 'z'" in err(r2, "return struct.pack('z', 1)", 0)
    assert "option 's' has no fixed size" in err(r2, "return struct.size('s')", 0)


def test_math_random_is_seedable_and_progresses(r2: redis.Redis) -> None:
    a = r2.eval("math.randomseed(ARGV[1]) return tostring(math.random())", 0, 10)
    b = r2.eval("math.randomseed(ARGV[1]) return tostring(math.random())", 0, 10)
    c = r2.eval("math.randomseed(ARGV[1]) return tostring(math.random())", 0, 20)
    assert a == b != c
    first = r2.eval("return tostring(math.random())", 0)
    assert first != r2.eval("return tostring(math.random())", 0)
    assert r2.eval("math.randomseed(1) local x = math.random(5, 7) return x >= 5 and x <= 7", 0) == 1
    assert "interval is empty" in err(r2, "return math.random(0)", 0)


def test_sha1hex_and_versions(r2: redis.Redis) -> None:
    assert r2.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r2.eval("return redis.REDIS_VERSION", 0) == b"7.2.4"
    assert r2.eval("return redis.REDIS_VERSION_NUM", 0) == 0x00070204
    assert r2.eval("return server.SERVER_NAME", 0) == b"valkey"
    assert r2.eval("return server.call('ping').ok", 0) == b"PONG"
    assert r2.eval("return redis.replicate_commands()", 0) == 1
    assert r2.eval("return redis.breakpoint()", 0) is None


# ---- the server around scripts ------------------------------------------------------------

def test_blocking_commands_do_not_block(r2: redis.Redis) -> None:
    assert r2.eval("return redis.pcall('blpop','l',0)", 1, "l") is None
    assert r2.eval("return redis.pcall('brpoplpush','a','b',0)", 2, "a", "b") is None
    assert r2.eval("return redis.pcall('bzpopmin','z', 0)", 1, "z") is None


def test_time_is_frozen_inside_a_script(r2: redis.Redis) -> None:
    # DEBUG is a noscript command: let scripts call it, as Valkey's own test does
    r2.execute_command("DEBUG", "set-disable-deny-scripts", 1)
    res = r2.eval("local a = redis.call('TIME') redis.call('DEBUG', 'SLEEP', 0.02) "
                  "local b = redis.call('TIME') return {a, b}", 0)
    assert res[0] == res[1]
    assert r2.eval("redis.call('SET', 'key', 'value', 'PX', 1) redis.call('DEBUG', 'SLEEP', 0.01) "
                   "return redis.call('EXISTS', 'key')", 1, "key") == 1
    time.sleep(0.01)
    assert r2.exists("key") == 0
    r2.execute_command("DEBUG", "set-disable-deny-scripts", 0)
    assert "This Redis command is not allowed from script" in err(r2, "redis.call('DEBUG', 'SLEEP', 0)", 0)


def test_eval_inside_multi(r2: redis.Redis) -> None:
    p = r2.pipeline(transaction=True)
    p.set("x", "1")
    p.eval("return redis.call('incr', KEYS[1])", 1, "x")
    p.eval("return redis.call('get', KEYS[1])", 1, "x")
    assert p.execute() == [True, 2, b"2"]


def test_select_inside_script_does_not_leak(r2: redis.Redis) -> None:
    r2.eval("redis.call('select', 9) redis.call('set', 'indb9', '1')", 0)
    assert r2.get("indb9") is None
    r2.execute_command("SELECT", 9)
    assert r2.get("indb9") == b"1"
    r2.delete("indb9")
    r2.execute_command("SELECT", 0)


def test_monitor_shows_script_commands(kaa_proc: object, r2: redis.Redis) -> None:
    port = kaa_proc.port  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as m:
        m.sendall(b"MONITOR\r\n")
        assert m.recv(100) == b"+OK\r\n"
        r2.eval("return redis.call('set', 'mk', 'mv')", 1, "mk")
        time.sleep(0.1)
        data = m.recv(65536)
    lines = data.split(b"\r\n")
    assert b'"eval"' in lines[0].lower()
    assert b"[0 lua]" in lines[1] and b'"set" "mk" "mv"' in lines[1]


def test_server_log(kaa_proc: object, r2: redis.Redis) -> None:
    marker = f"lua-log-marker-{time.time()}"
    r2.eval("redis.log(redis.LOG_WARNING, ARGV[1], 42)", 0, marker)
    time.sleep(0.1)
    assert f"{marker} 42" in kaa_proc.output()  # type: ignore[attr-defined]


def test_info_memory_fields(r2: redis.Redis) -> None:
    r2.script_flush()
    mem = r2.info("memory")
    for f in ("used_memory_lua", "used_memory_vm_eval", "used_memory_scripts_eval",
              "number_of_cached_scripts", "used_memory_vm_functions", "used_memory_functions"):
        assert f in mem
    assert mem["number_of_cached_scripts"] == 0
    assert 0 < mem["used_memory_lua"] < 1024 * 100


def test_no_leak_over_many_calls(r2: redis.Redis) -> None:
    # The Lua GC steps only after 32 KB of heap growth: the heap must still stay small.
    r2.script_flush()
    digest = r2.script_load("return redis.call('incr', KEYS[1])")
    p = r2.pipeline(transaction=False)
    for _ in range(6000):
        p.evalsha(digest, 1, "x")
    p.execute()
    assert r2.get("x") == b"6000"
    assert r2.info("memory")["used_memory_lua"] < 1024 * 100


def test_many_arguments(r2: redis.Redis) -> None:
    assert r2.eval("local x = {} for i=1,100 do x[i] = i end "
                   "redis.call('rpush', 'ml', unpack(x)) return redis.call('llen', 'ml')", 1, "ml") == 100


# ---- real-world scripts: redis-py's Lock ------------------------------------------------

def test_redis_py_lock(r2: redis.Redis) -> None:
    lock = r2.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert not r2.lock("resource", timeout=10).acquire(blocking=False)
    assert lock.extend(5)
    assert 10 < r2.pttl("resource") <= 15000
    assert lock.reacquire()
    lock.release()
    assert r2.get("resource") is None
    assert lock.acquire(blocking=False)
    r2.delete("resource")  # the lock expired, say, and someone else took it
    other = r2.lock("resource", timeout=10)
    assert other.acquire(blocking=False)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.extend(5)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()
    other.release()


# ---- min-replicas-to-write (checkGoodReplicasStatus) --------------------------------------

def test_not_enough_good_replicas(r2: redis.Redis) -> None:
    """With min-replicas-to-write set and no replica: scripts that declare write access are
    refused before they run, flagless scripts on their first write; reads go on."""
    r2.set("x", "some value")
    r2.config_set("min-replicas-to-write", 1)
    try:
        assert r2.eval("#!lua flags=no-writes\nreturn redis.call('get','x')", 1, "x") == \
            b"some value"
        assert r2.eval("return redis.call('get','x')", 1, "x") == b"some value"
        assert err(r2, "#!lua\nreturn redis.call('get','x')", 1, "x") == \
            "NOREPLICAS Not enough good replicas to write."
        assert err(r2, "return redis.call('set','x', 1)", 1, "x").startswith(
            "NOREPLICAS Not enough good replicas to write. script: ")
        assert r2.eval("local e = redis.pcall('set','x', 1) return e.err", 1, "x") == \
            b"NOREPLICAS Not enough good replicas to write."
        # min-replicas-max-lag 0 turns the check off
        r2.config_set("min-replicas-max-lag", 0)
        assert r2.eval("return redis.call('set','x', 2)", 1, "x") == b"OK"
    finally:
        r2.config_set("min-replicas-to-write", 0)
        r2.config_set("min-replicas-max-lag", 10)
    assert r2.eval("return redis.call('set','x', 3)", 1, "x") == b"OK"
