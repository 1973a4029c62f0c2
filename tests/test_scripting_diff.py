"""Differential tests: the same scripts against Kaa and the oracle (Debian's redis-server
7.0, whose Lua is the same 5.1 with the same cjson/cmsgpack/bit/struct libraries).

The corpus holds scripts on which Redis 7.0 and Valkey 8 agree; where they do not (texts
of API errors, globals, the string metatable, ...) see ``known_differences.py``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis
from redis.exceptions import ResponseError
from tests.known_differences import KNOWN_DIFFERENCES

CORPUS: list[tuple[Any, ...]] = [
    ("return 'hello'", 0),
    ("return 100.5", 0), ("return -3.99", 0), ("return 1e20", 0), ("return 0/0", 0), ("return 2^53 + 1", 0),
    ("return true", 0), ("return false", 0), ("return nil", 0),
    ("return {ok='fine'}", 0), ("return {err='ERR this is an error'}", 0), ("return {err='MY x'}", 0),
    ("return {1,2,3,'ciao',{1,2}}", 0), ("return {1, nil, 3}", 0), ("return {1, false, 3}", 0),
    ("return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}", 2, "a", "b", "c", "d"),
    ("return {double=1.5}", 0), ("return {double=1/0}", 0), ("return {double=-1/0}", 0),
    ("return {big_number='123456789012345678901234567890'}", 0),
    ("return {verbatim_string={format='txt', string='hello'}}", 0),
    ("return {map={a=1}}", 0), ("return {set={a=true}}", 0),
    ("return redis.error_reply('MY_ERR custom msg')", 0), ("return redis.error_reply('')", 0),
    ("return redis.error_reply('-X')", 0), ("return redis.status_reply('MY_OK')", 0),
    ("return _G", 0), ("return a", 0), ("a = 10", 0), ("error('boom')", 0), ("\n\nerror('boom')", 0),
    ("error({err='MY boom'})", 0), ("error(12)", 0), ("local x = 1 + {}", 0),
    ("local t = nil; t.x = 1", 0), ("return #nil", 0),
    ("return redis.call('multi')", 0), ("return redis.call('select', 99)", 0),
    ("return redis.pcall('select', 99)", 0), ("local t = redis.pcall('select', 99) return t.err", 0),
    ("local ok, e = pcall(redis.call, 'select', 99) return e", 0),
    ("local ok, e = pcall(error, {err='X'}) return e", 0),
    ("local ok, e = pcall(function() local x = nil + 1 end) return e", 0),
    ("local s, r = pcall(function() return foo end) return r", 0),
    ("return tostring(pcall(function() return foo end))", 0),
    ("return redis.call('ping')", 0), ("return redis.call('ping', 'x')", 0),
    ("redis.call('set', 'n', 9007199254740991) return redis.call('get', 'n')", 0),
    ("redis.call('set', 'n', 1e20) return redis.call('get', 'n')", 0),
    ("redis.call('set', 'n', 3.5) return redis.call('get', 'n')", 0),
    ("redis.call('set','key','12039611435714932082') return redis.call('get','key')", 0),
    ("redis.call('hset', 'h', 'f', 'v') redis.setresp(3) return redis.call('hgetall', 'h')", 0),
    ("redis.call('hset', 'h', 'f', 'v') redis.setresp(2) return redis.call('hgetall', 'h')", 0),
    ("redis.setresp(3) return redis.call('get', 'nokey')", 0),
    ("redis.setresp(3) return {redis.call('get', 'nokey')}", 0),
    ("redis.setresp(3) return true", 0), ("redis.setresp(3) return false", 0),
    ("return redis.setresp(4)", 0),
    ("redis.call('rpush', 'l', 'a', 'b', 'c') return redis.call('lrange', 'l', 0, -1)", 0),
    ("return redis.sha1hex('')", 0), ("return redis.sha1hex(1)", 0), ("return redis.sha1hex('abc')", 0),
    ("return redis.sha1hex()", 0),
    ("return redis.set_repl(9)", 0), ("return redis.acl_check_cmd('get', 'x')", 0),
    ("return cjson.encode({a={1,2,{b='x'}}})", 0), ("return cjson.encode({[1]=1,[2]=2,[5]=5})", 0),
    ("return cjson.encode({[1]=1,[20]=2})", 0), ("return cjson.encode({1/0})", 0),
    ("return cjson.encode('a\"b/\\1\\127')", 0), ("return cjson.encode(0.1)", 0),
    ("return cjson.encode(123456789012345)", 0), ("return cjson.encode({})", 0),
    ("return cjson.encode(function() end)", 0), ("return cjson.encode({[true]=1})", 0),
    ("return cjson.encode(cjson.null)", 0), ("return cjson.encode({x=cjson.null})", 0),
    ("local a = {} a[1] = a return cjson.encode(a)", 0),
    ("return cjson.decode('[1,2')", 0), ("return cjson.decode('{\"a\":}')", 0),
    ("return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')", 0), ("return cjson.decode('0x10')", 0),
    ("return cjson.decode('[true, false, null]')[3] == cjson.null", 0),
    ("return cjson.decode('1e5')", 0), ("return cjson.decode('-0.5e-3') * 100000", 0),
    ("return cjson.decode('tru')", 0), ("return cjson.decode()", 0), ("return cjson.decode({})", 0),
    ("return cjson.decode('{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]}}').a.b[3].c", 0),
    ("return cjson.decode('\"\\\\x\"')", 0), ("return cjson.decode('[1,]')", 0),
    ("return cjson.decode('  \"\\\\t\\\\n\" ')", 0),
    ("return cjson.encode_max_depth()", 0), ("return {cjson.encode_sparse_array()}", 0),
    ("return cjson.encode_number_precision(20)", 0),
    ("return cmsgpack.pack(1, -1, 127, 128, -33, 65536, -70000, 2^33, -2^33, 0.5, 0.1, 'abc', true, false)", 0),
    ("return {cmsgpack.unpack(cmsgpack.pack(1, -1, 2^40, -2^40, 0.1, 'x', {1,2}, {a=1}))}", 0),
    ("return cmsgpack.pack(string.rep('x', 40))", 0), ("return cmsgpack.pack(string.rep('x', 300))", 0),
    ("return cmsgpack.pack({1,2,nil,4})", 0),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 0)}", 0),
    ("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}", 0),
    ("return cmsgpack.unpack('\\193')", 0), ("return cmsgpack.unpack('\\205\\1')", 0),
    ("return cmsgpack.pack()", 0),
    ("local a = {x=nil,y=5} local b = {x=a} a['x'] = b return cmsgpack.pack(a)", 0),
    ("return {bit.tobit(2^32+5), bit.bnot(0), bit.band(0xff, 0x0f), bit.bor(1,2,4), bit.bxor(3,1)}", 0),
    ("return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), "
     "bit.ror(0x12345678, 8)}", 0),
    ("return {bit.bswap(0x12345678), bit.tohex(255), bit.tohex(-1, -4), bit.tohex(0x1234, 2)}", 0),
    ("return bit.tohex(65535, -2147483648)", 0),
    ("return bit.band('x')", 0), ("return bit.tobit()", 0), ("return {bit.tobit(1.5), bit.tobit(2.5)}", 0),
    ("return {struct.pack('>i2I4', -2, 7), struct.size('>i2I4d'), struct.pack('<d', 1.5)}", 0),
    ("return {struct.unpack('>i2I4', struct.pack('>i2I4', -2, 7))}", 0),
    ("return {struct.unpack('s', 'abc\\0def')}", 0), ("return struct.pack('z', 1)", 0),
    ("return struct.pack('!4 b i', 1, 2)", 0), ("return {struct.unpack('b c0', struct.pack('b', 3) .. 'xyz')}", 0),
    ("return struct.size('s')", 0), ("return struct.unpack('i', 'ab')", 0),
    ("return {struct.unpack('<h>H', '\\255\\255\\1\\2')}", 0),
    ("return {math.floor(3.7), math.max(1, 9), string.format('%5.2f', 3.14159), string.rep('ab', 3), "
     "table.concat({1,2,3}, '-')}", 0),
    ("math.randomseed(42) return {math.random(), math.random(10), math.random(5, 7)}", 0),
    ("math.randomseed(42) return tostring(math.random())", 0),
    ("math.randomseed(ARGV[1]) return tostring(math.random(100))", 0, "7"),
    ("return math.random(0)", 0), ("return math.random(1,2,3)", 0),
    ("return type(loadstring)", 0), ("return loadstring('return 7')()", 0), ("return loadstring('x = ')", 0),
    ("return loadstring(string.dump(function() return 1 end))()", 0),
    ("local co = coroutine.create(function() coroutine.yield(1) return 2 end) "
     "local a, b = coroutine.resume(co) local c, d = coroutine.resume(co) return {b, d}", 0),
    ("return rawget(_G, 'redis') == redis", 0), ("return rawget(_G, 'nosuch')", 0),
    ("setmetatable(_G, {})", 0), ("local g = getmetatable(_G); g.__index = {}", 0),
    ("redis = function() return 1 end", 0), ("_G = {}", 0), ("redis.call = function() return 1 end", 0),
    ("cjson.encode = 1", 0), ("cmsgpack.pack = 1", 0), ("bit.lshift = 1", 0), ("string.x = 1", 0),
    ("loadfile('x')", 0), ("dofile('x')", 0), ("print('x')", 0),
    ("local t = {} for k in pairs(string) do t[#t+1] = k end table.sort(t) return t", 0),
    ("local t = {} for k in pairs(math) do t[#t+1] = k end table.sort(t) return t", 0),
    ("local t = {} for k in pairs(table) do t[#t+1] = k end table.sort(t) return t", 0),
    ("local t = {} for k in pairs(cjson) do t[#t+1] = k end table.sort(t) return t", 0),
    ("local t = {} for k in pairs(cmsgpack) do t[#t+1] = k end table.sort(t) return t", 0),
    ("local t = {} for k in pairs(bit) do t[#t+1] = k end table.sort(t) return t", 0),
    ("local t = {} for k in pairs(struct) do t[#t+1] = k end table.sort(t) return t", 0),
    ("table.insert(KEYS, 'z') return KEYS", 1, "k"), ("KEYS = 1", 0),
    ("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", 1, "k", "a"),
    ("return _VERSION", 0), ("return type(gcinfo())", 0), ("return string.rep('x', -1)", 0),
    ("return unpack({1,2,3})", 0), ("return select(2, 'a', 'b')", 0),
    ("return tonumber('0x10')", 0), ("return tonumber('  12  ')", 0), ("return 10 / 3", 0),
    ("return -2^63", 0), ("return 2^63", 0),
    ("#!lua flags=no-writes\nreturn redis.call('set','x','y')", 0),
    ("#!lua flags=no-writes,allow-oom\nreturn 1", 0), ("#!lua flags=bogus\nreturn 1", 0),
    ("#!lua name=x\nreturn 1", 0), ("#!notlua\nreturn 1", 0), ("#!lua", 0),
    ("return 'unterminated", 0), ("return", 0), ("for", 0),
    ("return 1", -1), ("return 1", 3, "a"), ("return 1", "x"),
]


def _run(client: redis.Redis, args: tuple[Any, ...]) -> Any:
    try:
        return client.eval(*args)
    except ResponseError as e:
        return ("error", str(e))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: str(c[0])[:60])
def test_corpus_resp2(r2: redis.Redis, oracle2: redis.Redis, case: tuple[Any, ...]) -> None:
    r2.script_flush()
    oracle2.script_flush()
    assert _same(_run(r2, case), _run(oracle2, case))


@pytest.mark.parametrize("case", [c for c in CORPUS if "setresp" in c[0] or "double" in c[0]
                                  or "map" in c[0] or "set=" in c[0] or "big_number" in c[0]
                                  or "verbatim" in c[0] or c[0] in ("return true", "return false",
                                                                     "return nil")],
                         ids=lambda c: str(c[0])[:60])
def test_corpus_resp3(r3: redis.Redis, oracle: redis.Redis, case: tuple[Any, ...]) -> None:
    assert _same(_run(r3, case), _run(oracle, case))


def test_known_differences_are_listed() -> None:
    for key in ("lua-api-error-texts", "lua-globals-valkey8", "lua-string-metatable",
                "lua-number-arguments", "noscript-text", "lua-blocking-commands"):
        assert key in KNOWN_DIFFERENCES


# ---- real scripts: same replies and same resulting state ----------------------------------

RATE_LIMIT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""

ENQUEUE = """
local id = redis.call('INCR', KEYS[1])
local job = 'job:' .. id
redis.call('HSET', job, 'payload', ARGV[1], 'state', 'queued', 'tries', 0)
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + tonumber(ARGV[2]), job)
  redis.call('HSET', job, 'state', 'delayed')
else
  redis.call('LPUSH', KEYS[2], job)
end
return job
"""

PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('LPUSH', KEYS[2], job)
  redis.call('HSET', job, 'state', 'queued')
end
return #due
"""

TAKE = """
local job = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
if not job then return false end
redis.call('HINCRBY', job, 'tries', 1)
redis.call('HSET', job, 'state', 'running', 'worker', ARGV[1])
return {job, redis.call('HGET', job, 'payload')}
"""

ACK = """
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed == 0 then return redis.error_reply('NOTRUNNING ' .. ARGV[1]) end
redis.call('HSET', ARGV[1], 'state', ARGV[2])
if ARGV[2] == 'failed' and tonumber(redis.call('HGET', ARGV[1], 'tries')) < 3 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('HSET', ARGV[1], 'state', 'queued')
  return 'requeued'
end
return redis.status_reply('DONE')
"""

STATS = """
local out = {}
for _, name in ipairs({'queued', 'running', 'delayed', 'done', 'failed'}) do out[name] = 0 end
local jobs = redis.call('KEYS', 'job:*')
table.sort(jobs)
for _, job in ipairs(jobs) do
  local st = redis.call('HGET', job, 'state')
  out[st] = out[st] + 1
end
return cjson.encode({queued = out.queued, running = out.running, delayed = out.delayed,
                     done = out.done, failed = out.failed, n = #jobs})
"""


def _state(client: redis.Redis) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key in sorted(client.keys("*")):
        t = client.type(key)
        if t == b"string":
            out[key] = client.get(key)
        elif t == b"list":
            out[key] = client.lrange(key, 0, -1)
        elif t == b"hash":
            out[key] = sorted(client.hgetall(key).items())
        elif t == b"zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        elif t == b"set":
            out[key] = sorted(client.smembers(key))
    return out


def _both(a: redis.Redis, b: redis.Redis, script: str, *args: Any) -> Any:
    ra, rb = _run(a, (script, *args)), _run(b, (script, *args))
    assert ra == rb, (script[:60], args)
    return ra


def test_rate_limiter(r2: redis.Redis, oracle2: redis.Redis) -> None:
    now = 1_000_000
    for i in range(25):
        t = now + i * 37
        _both(r2, oracle2, RATE_LIMIT, 1, "rl:user", t, 500, 10, f"req{i}")
    assert _state(r2).keys() == _state(oracle2).keys()
    assert r2.zrange("rl:user", 0, -1, withscores=True) == oracle2.zrange("rl:user", 0, -1, withscores=True)


def test_job_queue(r2: redis.Redis, oracle2: redis.Redis) -> None:
    keys = ("jobs:seq", "jobs:queue", "jobs:delayed")
    for i in range(6):
        _both(r2, oracle2, ENQUEUE, 3, *keys, f"payload-{i}", 100 if i % 3 == 0 else 0, 5000)
    assert _both(r2, oracle2, PROMOTE, 2, "jobs:delayed", "jobs:queue", 5050) == 0
    assert _both(r2, oracle2, PROMOTE, 2, "jobs:delayed", "jobs:queue", 5100) == 2
    taken = []
    for w in range(4):
        job = _both(r2, oracle2, TAKE, 2, "jobs:queue", "jobs:running", f"w{w}")
        taken.append(job[0])
    _both(r2, oracle2, ACK, 2, "jobs:running", "jobs:queue", taken[0], "done")
    _both(r2, oracle2, ACK, 2, "jobs:running", "jobs:queue", taken[1], "failed")
    _both(r2, oracle2, ACK, 2, "jobs:running", "jobs:queue", taken[1], "failed")
    _both(r2, oracle2, ACK, 2, "jobs:running", "jobs:queue", "job:999", "done")
    _both(r2, oracle2, STATS, 0)
    while _both(r2, oracle2, TAKE, 2, "jobs:queue", "jobs:running", "late") is not None:
        pass
    assert _state(r2) == _state(oracle2)


def test_redis_py_lock_scripts(r2: redis.Redis, oracle2: redis.Redis) -> None:
    results = []
    for client in (r2, oracle2):
        lock = client.lock("res", timeout=30)
        steps = [lock.acquire(blocking=False), lock.extend(10), lock.reacquire()]
        ttl_ok = 0 < client.pttl("res") <= 30_000
        lock.release()
        steps += [ttl_ok, client.exists("res")]
        results.append(steps)
    assert results[0] == results[1]
