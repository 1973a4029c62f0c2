"""The Lua side of the sandbox, run once in each fresh Lua state.

Valkey's Lua is patched with read-only tables; lupa's stock Lua 5.1 is not, so the
sandbox gives scripts *proxies*: empty tables whose metatable reads through to the
real table and refuses every write ("Attempt to modify a readonly table"). The few
builtins that could see through a proxy (rawget, rawset, next, pairs, ipairs,
setmetatable, getmetatable, getfenv, setfenv, loadstring, load) are replaced by
versions that know about proxies. All of this runs with the real globals; scripts
only ever get the proxied environment.

The chunk returns a table of entry points used from Python (see engine.py):
compile, run (EVAL/FCALL with the error handler and reply serialization) and, in
function mode, load_library.
"""

BOOT = r"""
local mode, py = ...
local type, error, tostring, tonumber, select, unpack = type, error, tostring, tonumber, select, unpack
local rawget_, rawset_, rawequal_, next_ = rawget, rawset, rawequal, next
local setmetatable_, getmetatable_ = setmetatable, getmetatable
local getfenv_, setfenv_, loadstring_, load_ = getfenv, setfenv, loadstring, load
local pcall_, xpcall_ = pcall, xpcall
local getinfo, sethook = debug.getinfo, debug.sethook
local byte, sub, find, format, strlen = string.byte, string.sub, string.find, string.format, string.len
local concat = table.concat
local floor = math.floor
local realG = _G
local gsub = string.gsub

-- The text of an error reply made from an 'err' field (addReplyErrorFormatEx "-%s"):
-- CR/LF trimmed at the ends and blanked inside, "-ERR " added without a dash.
local function reply_error_text(msg)
  local s = gsub(gsub('-' .. msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  s = gsub(s, '[\r\n]', ' ')
  if byte(s, 1) ~= 45 then s = '-ERR ' .. s end
  return s
end
-- Status and big-number texts keep their length, CR/LF blanked.
local function status_text(s)
  return (gsub(s, '[\r\n]', ' '))
end
-- luaPushErrorBuff: "-CODE msg" -> "CODE msg", "msg" -> "ERR msg", trailing CR/LF trimmed.
local function push_error_text(e)
  local code, msg
  if byte(e, 1) == 45 then
    local sp = find(e, ' ', 1, true)
    if sp then code, msg = sub(e, 2, sp - 1), sub(e, sp + 1)
    else code, msg = 'ERR', sub(e, 2) end
  else
    code, msg = 'ERR', e
  end
  msg = gsub(gsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  return code .. ' ' .. msg
end

local py_call, py_pcall, py_log, py_sha1hex = py.call, py.pcall, py.log, py.sha1hex
local py_unwrap = py.unwrap
local py_setresp, py_set_repl, py_acl_check = py.setresp, py.set_repl, py.acl_check
local py_hook, py_fmt_double = py.hook, py.fmt_double
local py_random, py_srand, py_register = py.random, py.srand, py.register

-- ---- read-only proxies ---------------------------------------------------------------
local real_of = {}   -- proxy -> the table it shows
local meta_of = {}   -- proxy -> what getmetatable() answers for it
local RO = "Attempt to modify a readonly table"
local function ro_newindex() error(RO, 2) end
local function protect(T, shown_mt)
  local P = {}
  setmetatable_(P, {__index = T, __newindex = ro_newindex})
  real_of[P] = T
  meta_of[P] = shown_mt
  return P
end
local function missing_global(t, k)
  if type(k) ~= 'string' and type(k) ~= 'number' then
    error("Second argument to luaProtectedTableError must be a string or number", 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local ERRMT_REAL = {__index = missing_global}
local ERRMT = protect(ERRMT_REAL)
local function with_error_mt(T) setmetatable_(T, ERRMT_REAL) return T end

local function s_rawget(t, k)
  local r = real_of[t]
  if r then return rawget_(r, k) end
  return rawget_(t, k)
end
local function s_rawset(t, k, v)
  if real_of[t] then error(RO, 0) end
  return rawset_(t, k, v)
end
local function s_next(t, k)
  return next_(real_of[t] or t, k)
end
local function s_pairs(t)
  local r = real_of[t]
  if r then return function(_, k) return next_(r, k) end, t, nil end
  if type(t) ~= 'table' then error("bad argument #1 to 'pairs' (table expected, got " .. type(t) .. ")", 2) end
  return next_, t, nil
end
local function ipairs_aux(t, i)
  i = i + 1
  local v = rawget_(real_of[t] or t, i)
  if v ~= nil then return i, v end
end
local function s_ipairs(t)
  if type(t) ~= 'table' then error("bad argument #1 to 'ipairs' (table expected, got " .. type(t) .. ")", 2) end
  return ipairs_aux, t, 0
end
local STRMT_VIEW
local function s_getmetatable(x)
  if real_of[x] then return meta_of[x] end
  if type(x) == 'string' then return STRMT_VIEW end
  return getmetatable_(x)
end
local function s_setmetatable(t, mt)
  if real_of[t] then error(RO, 0) end
  return setmetatable_(t, mt)
end

local ENV          -- what scripts see as their globals (set below)
local internal = {[realG] = true}
local function s_getfenv(f)
  local e
  if f == nil then e = getfenv_(2) else
    if type(f) == 'number' and f > 0 then f = f + 1 end
    e = getfenv_(f)
  end
  if internal[e] then return ENV end
  return e
end
local function s_setfenv(f, t)
  if type(f) == 'number' then
    if f == 0 then error("'setfenv' cannot change environment of given object", 2) end
    if f > 0 then f = f + 1 end
  elseif type(f) == 'function' and getinfo(f, 'S').what == 'C' then
    error("'setfenv' cannot change environment of given object", 2)
  end
  return setfenv_(f, t)
end
local function s_loadstring(s, name)
  if type(s) == 'string' and byte(s, 1) == 27 then return nil, "binary code loading is disabled" end
  local f, err = loadstring_(s, name)
  if f then setfenv_(f, ENV) end
  return f, err
end
local function s_load(reader, name)
  local first = true
  local function guarded()
    local piece = reader()
    if first and type(piece) == 'string' and piece ~= '' then
      first = false
      if byte(piece, 1) == 27 then error("binary code loading is disabled") end
    end
    return piece
  end
  local f, err = load_(guarded, name)
  if f then setfenv_(f, ENV) end
  return f, err
end

-- Errors raised by Python functions (server.call, bit, struct) reach Lua as userdata
-- wrapping the Python exception: turn them into what Valkey's C code would raise, an
-- error table for server.call, a positioned message for library functions.
local function where(level)
  local i = getinfo(level, 'Sl')
  while i and i.what == 'C' do level = level + 1; i = getinfo(level, 'Sl') end
  if i and i.currentline and i.currentline > 0 then return i.short_src .. ':' .. i.currentline .. ': ' end
  return ''
end
local function normalize(e, level)
  if type(e) == 'userdata' then
    local msg, kind = py_unwrap(e)
    if kind == 1 then return {err = msg, ignore_error_stats_update = true} end
    if kind == 2 then return where(level + 1) .. msg end
    if msg then return msg end
  end
  return e
end

-- pcall that gives back the message of an error table (luaRedisPcall)
local function pcall_finish(ok, ...)
  if ok then return ok, ... end
  local e = normalize((...), 3)
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then e = m end
  end
  return false, e
end
local function s_pcall(f, ...)
  return pcall_finish(pcall_(f, ...))
end
local function s_xpcall(f, h)
  return xpcall_(f, function(e) return h(normalize(e, 3)) end)
end

-- ---- libraries implemented in Python (they raise; see normalize) -------------------------
local function pylib(prefix, names)
  local t = {}
  for i = 1, #names do t[names[i]] = py[prefix .. names[i]] end
  return t
end

-- Library functions written in Lua are called through a Python trampoline, so that to
-- the script they are C functions as in Valkey: a tail call to them keeps the caller's
-- frame, and their errors are positioned at the caller's line (luaL_error).
local py_tramp = py.tramp
local function cfn(f)
  return py_tramp(function(...) return pcall_(f, ...) end)
end
local function cfns(t)
  for k, v in next_, t do
    if type(v) == 'function' then t[k] = cfn(v) end
  end
  return t
end

-- ---- cjson (lua-cjson 2.1.0 as Valkey ships it) -----------------------------------------
local cjson = {}
local cj_null = newproxy(false)
local cj = {sparse_convert = false, sparse_ratio = 2, sparse_safe = 10, enc_depth = 1000,
  dec_depth = 1000, enc_invalid = 0, dec_invalid = true, keep_buffer = true, precision = 14}
local ESC = {}
for i = 0, 31 do ESC[string.char(i)] = format('\\u%04x', i) end
ESC['\b'] = '\\b'; ESC['\t'] = '\\t'; ESC['\n'] = '\\n'; ESC['\f'] = '\\f'; ESC['\r'] = '\\r'
ESC['"'] = '\\"'; ESC['\\'] = '\\\\'; ESC['/'] = '\\/'; ESC['\127'] = '\\u007f'
local function cj_string(s) return '"' .. gsub(s, '[%z\1-\31"\\/\127]', ESC) .. '"' end
local function cj_fail(kind, reason) error(format("Cannot serialise %s: %s", kind, reason), 0) end
local function cj_number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    if cj.enc_invalid == 0 then cj_fail('number', 'must not be NaN or Inf') end
    if cj.enc_invalid == 2 then return 'null' end
    if n ~= n then return 'nan' end
  end
  return format('%.' .. cj.precision .. 'g', n)
end
local cj_encode
cj_encode = function(v, out, depth)
  local t = type(v)
  if t == 'string' then out[#out + 1] = cj_string(v)
  elseif t == 'number' then out[#out + 1] = cj_number(v)
  elseif t == 'boolean' then out[#out + 1] = v and 'true' or 'false'
  elseif t == 'nil' or v == cj_null then out[#out + 1] = 'null'
  elseif t == 'table' then
    depth = depth + 1
    if depth > cj.enc_depth then error(format("Cannot serialise, excessive nesting (%d)", depth), 0) end
    local tt = real_of[v] or v
    local max, items, isarr = 0, 0, true
    for k in next_, tt do
      if type(k) == 'number' and k ~= 0 and floor(k) == k and k >= 1 then
        if k > max then max = k end
        items = items + 1
      else
        isarr = false
        break
      end
    end
    if isarr and cj.sparse_ratio > 0 and max > items * cj.sparse_ratio and max > cj.sparse_safe then
      if not cj.sparse_convert then cj_fail('table', 'excessively sparse array') end
      isarr = false
    end
    if isarr and max > 0 then
      out[#out + 1] = '['
      for i = 1, max do
        if i > 1 then out[#out + 1] = ',' end
        cj_encode(rawget_(tt, i), out, depth)
      end
      out[#out + 1] = ']'
    else
      out[#out + 1] = '{'
      local first = true
      for k, val in next_, tt do
        if not first then out[#out + 1] = ',' end
        first = false
        local kt = type(k)
        if kt == 'number' then out[#out + 1] = '"' .. cj_number(k) .. '":'
        elseif kt == 'string' then out[#out + 1] = cj_string(k) .. ':'
        else cj_fail(kt, 'table key must be a number or string') end
        cj_encode(val, out, depth)
      end
      out[#out + 1] = '}'
    end
  else
    cj_fail(t, 'type not supported')
  end
end
cjson.encode = function(...)
  if select('#', ...) ~= 1 then error("bad argument #1 to 'encode' (expected 1 argument)", 0) end
  local out = {}
  local ok, err = pcall_(cj_encode, (...), out, 0)
  if not ok then error(err, 0) end
  return concat(out)
end

-- decoding
local WS = {[32] = true, [9] = true, [10] = true, [13] = true}
local SINGLE = {[123] = 'T_OBJ_BEGIN', [125] = 'T_OBJ_END', [91] = 'T_ARR_BEGIN', [93] = 'T_ARR_END',
  [44] = 'T_COMMA', [58] = 'T_COLON'}
local UNKNOWN = {[102] = 1, [105] = 1, [73] = 1, [110] = 1, [78] = 1, [116] = 1, [34] = 1, [43] = 1, [45] = 1}
for i = 48, 57 do UNKNOWN[i] = 1 end
local UNESC = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'}
local function utf8char(cp)
  if cp <= 0x7F then return string.char(cp) end
  if cp <= 0x7FF then return string.char(floor(cp / 64) + 0xC0, cp % 64 + 0x80) end
  if cp <= 0xFFFF then
    return string.char(floor(cp / 4096) + 0xE0, floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
  end
  return string.char(floor(cp / 262144) + 0xF0, floor(cp / 4096) % 64 + 0x80,
    floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
end
local function is_invalid_number(s, p)
  local c = byte(s, p)
  if c == 43 then return true end
  if c == 45 then p = p + 1; c = byte(s, p) end
  if c == 48 then
    local c2 = byte(s, p + 1)
    return c2 ~= nil and (c2 == 120 or c2 == 88 or (c2 >= 48 and c2 <= 57))
  elseif c and c <= 57 then
    return false
  end
  local w = string.lower(sub(s, p, p + 2))
  return w == 'inf' or w == 'nan'
end
local function strtod_prefix(s, p)
  -- the longest prefix strtod() accepts, as a number (nil if none)
  local m = string.match(s, '^[+-]?0[xX]%x+', p)
  if m then return tonumber(m), p + #m end
  local sign = string.match(s, '^[+-]?', p)
  local q = p + #sign
  local w = string.lower(sub(s, q, q + 7))
  if sub(w, 1, 8) == 'infinity' then return tonumber(sign .. 'inf'), q + 8 end
  if sub(w, 1, 3) == 'inf' then return tonumber(sign .. 'inf'), q + 3 end
  if sub(w, 1, 3) == 'nan' then return tonumber(sign .. 'nan') or (0 / 0), q + 3 end
  local digits = string.match(s, '^%d*%.?%d*', q)
  if digits == '' or digits == '.' then return nil, p end
  local e = string.match(s, '^[eE][+-]?%d+', q + #digits) or ''
  local txt = sub(s, p, q + #digits + #e - 1)
  return tonumber(txt), q + #digits + #e
end
-- token: kind, value, index(0-based)
local function next_token(st)
  local s, p = st.s, st.p
  local c = byte(s, p)
  while c and WS[c] do p = p + 1; c = byte(s, p) end
  st.p = p
  local idx = p - 1
  if c == nil or c == 0 then return 'T_END', nil, idx end
  local single = SINGLE[c]
  if single then st.p = p + 1; return single, nil, idx end
  if not UNKNOWN[c] then return 'T_ERROR', 'invalid token', idx end
  if c == 34 then
    local parts, q = {}, p + 1
    while true do
      local ch = byte(s, q)
      if ch == nil or ch == 0 then return 'T_ERROR', 'unexpected end of string', q - 1 end
      if ch == 34 then break end
      if ch == 92 then
        local e = sub(s, q + 1, q + 1)
        if e == 'u' then
          local h = sub(s, q + 2, q + 5)
          local cp = string.match(h, '^%x%x%x%x$') and tonumber(h, 16)
          local len = 6
          if cp and cp >= 0xD800 and cp <= 0xDFFF then
            if cp >= 0xDC00 or sub(s, q + 6, q + 7) ~= '\\u' then cp = nil else
              local h2 = sub(s, q + 8, q + 11)
              local lo = string.match(h2, '^%x%x%x%x$') and tonumber(h2, 16)
              if not lo or lo < 0xDC00 or lo > 0xDFFF then cp = nil else
                cp = (cp - 0xD800) * 1024 + (lo - 0xDC00) + 0x10000
                len = 12
              end
            end
          end
          if not cp then return 'T_ERROR', 'invalid unicode escape code', q - 1 end
          parts[#parts + 1] = utf8char(cp)
          q = q + len
        else
          local r = UNESC[e]
          if not r then return 'T_ERROR', 'invalid escape code', q - 1 end
          parts[#parts + 1] = r
          q = q + 2
        end
      else
        local stop = find(s, '["\\%z]', q)
        if not stop then stop = #s + 1 end
        parts[#parts + 1] = sub(s, q, stop - 1)
        q = stop
      end
    end
    st.p = q + 1
    return 'T_STRING', concat(parts), idx
  end
  if c == 45 or (c >= 48 and c <= 57) then
    if not cj.dec_invalid and is_invalid_number(s, p) then return 'T_ERROR', 'invalid number', idx end
    local n, np = strtod_prefix(s, p)
    if n == nil then return 'T_ERROR', 'invalid number', idx end
    st.p = np
    return 'T_NUMBER', n, idx
  end
  if sub(s, p, p + 3) == 'true' then st.p = p + 4; return 'T_BOOLEAN', true, idx end
  if sub(s, p, p + 4) == 'false' then st.p = p + 5; return 'T_BOOLEAN', false, idx end
  if sub(s, p, p + 3) == 'null' then st.p = p + 4; return 'T_NULL', nil, idx end
  if cj.dec_invalid and is_invalid_number(s, p) then
    local n, np = strtod_prefix(s, p)
    if n == nil then return 'T_ERROR', 'invalid number', idx end
    st.p = np
    return 'T_NUMBER', n, idx
  end
  return 'T_ERROR', 'invalid token', idx
end
local function parse_error(exp, kind, val, idx)
  local found = kind == 'T_ERROR' and val or kind
  error(format("Expected %s but found %s at character %d", exp, found, idx + 1), 0)
end
local cj_value
local function descend(st)
  st.depth = st.depth + 1
  if st.depth > cj.dec_depth then
    error(format("Found too many nested data structures (%d) at character %d", st.depth, st.p - 1), 0)
  end
end
cj_value = function(st, kind, val, idx)
  if kind == 'T_STRING' or kind == 'T_NUMBER' or kind == 'T_BOOLEAN' then return val end
  if kind == 'T_NULL' then return cj_null end
  if kind == 'T_OBJ_BEGIN' then
    descend(st)
    local t = {}
    kind, val, idx = next_token(st)
    if kind == 'T_OBJ_END' then st.depth = st.depth - 1; return t end
    while true do
      if kind ~= 'T_STRING' then parse_error('object key string', kind, val, idx) end
      local key = val
      kind, val, idx = next_token(st)
      if kind ~= 'T_COLON' then parse_error('colon', kind, val, idx) end
      kind, val, idx = next_token(st)
      rawset_(t, key, cj_value(st, kind, val, idx))
      kind, val, idx = next_token(st)
      if kind == 'T_OBJ_END' then st.depth = st.depth - 1; return t end
      if kind ~= 'T_COMMA' then parse_error('comma or object end', kind, val, idx) end
      kind, val, idx = next_token(st)
    end
  end
  if kind == 'T_ARR_BEGIN' then
    descend(st)
    local t, i = {}, 1
    kind, val, idx = next_token(st)
    if kind == 'T_ARR_END' then st.depth = st.depth - 1; return t end
    while true do
      rawset_(t, i, cj_value(st, kind, val, idx))
      i = i + 1
      kind, val, idx = next_token(st)
      if kind == 'T_ARR_END' then st.depth = st.depth - 1; return t end
      if kind ~= 'T_COMMA' then parse_error('comma or array end', kind, val, idx) end
      kind, val, idx = next_token(st)
    end
  end
  parse_error('value', kind, val, idx)
end
local function cj_decode(s)
  if #s >= 2 and (byte(s, 1) == 0 or byte(s, 2) == 0) then
    error("JSON parser does not support UTF-16 or UTF-32", 0)
  end
  local st = {s = s, p = 1, depth = 0}
  local v = cj_value(st, next_token(st))
  local kind, val, idx = next_token(st)
  if kind ~= 'T_END' then parse_error('the end', kind, val, idx) end
  return v
end
cjson.decode = function(...)
  if select('#', ...) ~= 1 then error("bad argument #1 to 'decode' (expected 1 argument)", 0) end
  local s = ...
  if type(s) == 'number' then s = tostring(s) end
  if type(s) ~= 'string' then
    error(format("bad argument #1 to 'decode' (string expected, got %s)", s == nil and 'nil' or type(s)), 0)
  end
  local ok, res = pcall_(cj_decode, s)
  if not ok then error(res, 0) end
  return res
end
local function cj_args(n, fname, ...)
  if select('#', ...) > n then
    error(format("bad argument #%d to '%s' (found too many arguments)", n + 1, fname), 0)
  end
end
local function cj_int(v, fname, minv, maxv, cur)
  if v == nil then return cur end
  local x = tonumber(v)
  if x == nil then error(format("bad argument #1 to '%s' (number expected, got %s)", fname, type(v)), 0) end
  x = x >= 0 and floor(x) or -floor(-x)
  if x < minv or x > maxv then
    error(format("bad argument #1 to '%s' (expected integer between %d and %d)", fname, minv, maxv), 0)
  end
  return x
end
local function cj_enum(v, fname, cur, options)
  if v == nil then return cur end
  if type(v) == 'boolean' then return v and 1 or 0 end
  for i = 1, #options do if v == options[i] then return i - 1 end end
  error(format("bad argument #1 to '%s' (invalid option '%s')", fname, tostring(v)), 0)
end
local BOOLOPT = {'off', 'on'}
cjson.encode_sparse_array = function(...)
  cj_args(3, 'encode_sparse_array', ...)
  local a, b, c = ...
  cj.sparse_convert = cj_enum(a, 'encode_sparse_array', cj.sparse_convert and 1 or 0, BOOLOPT) == 1
  cj.sparse_ratio = cj_int(b, 'encode_sparse_array', 0, 2147483647, cj.sparse_ratio)
  cj.sparse_safe = cj_int(c, 'encode_sparse_array', 0, 2147483647, cj.sparse_safe)
  return cj.sparse_convert, cj.sparse_ratio, cj.sparse_safe
end
cjson.encode_max_depth = function(...)
  cj_args(1, 'encode_max_depth', ...)
  cj.enc_depth = cj_int((...), 'encode_max_depth', 1, 2147483647, cj.enc_depth)
  return cj.enc_depth
end
cjson.decode_max_depth = function(...)
  cj_args(1, 'decode_max_depth', ...)
  cj.dec_depth = cj_int((...), 'decode_max_depth', 1, 2147483647, cj.dec_depth)
  return cj.dec_depth
end
cjson.encode_number_precision = function(...)
  cj_args(1, 'encode_number_precision', ...)
  cj.precision = cj_int((...), 'encode_number_precision', 1, 14, cj.precision)
  return cj.precision
end
cjson.encode_keep_buffer = function(...)
  cj_args(1, 'encode_keep_buffer', ...)
  cj.keep_buffer = cj_enum((...), 'encode_keep_buffer', cj.keep_buffer and 1 or 0, BOOLOPT) == 1
  return cj.keep_buffer
end
cjson.encode_invalid_numbers = function(...)
  cj_args(1, 'encode_invalid_numbers', ...)
  cj.enc_invalid = cj_enum((...), 'encode_invalid_numbers', cj.enc_invalid, {'off', 'on', 'null'})
  if cj.enc_invalid == 2 then return 'null' end
  return cj.enc_invalid == 1
end
cjson.decode_invalid_numbers = function(...)
  cj_args(1, 'decode_invalid_numbers', ...)
  cj.dec_invalid = cj_enum((...), 'decode_invalid_numbers', cj.dec_invalid and 1 or 0, BOOLOPT) == 1
  return cj.dec_invalid
end
cjson.new = function() return cjson end
cfns(cjson)
cjson.null = cj_null
cjson._NAME = 'cjson'
cjson._VERSION = '2.1.0'

-- ---- cmsgpack (lua-cmsgpack 0.4.0) ---------------------------------------------------------
local cmsgpack = {}
local char = string.char
local py_f32, py_f64, py_unf32, py_unf64 = py.f32, py.f64, py.unf32, py.unf64
local TWO32 = 4294967296
local function be(n, bytes)
  local t = {}
  for i = bytes, 1, -1 do t[i] = char(n % 256); n = floor(n / 256) end
  return concat(t)
end
local function mp_int(n)
  if n >= 0 then
    if n <= 127 then return char(n) end
    if n <= 0xff then return '\204' .. char(n) end
    if n <= 0xffff then return '\205' .. be(n, 2) end
    if n <= 0xffffffff then return '\206' .. be(n, 4) end
    local hi = floor(n / TWO32)
    return '\207' .. be(hi, 4) .. be(n - hi * TWO32, 4)
  end
  if n >= -32 then return char(256 + n) end
  if n >= -128 then return '\208' .. char(256 + n) end
  if n >= -32768 then return '\209' .. be(65536 + n, 2) end
  if n >= -2147483648 then return '\210' .. be(TWO32 + n, 4) end
  local hi = floor(n / TWO32)
  local lo = n - hi * TWO32
  return '\211' .. be(hi + TWO32, 4) .. be(lo, 4)
end
local function mp_bytes(s)
  local len = #s
  if len < 32 then return char(0xa0 + len) .. s end
  if len <= 0xff then return '\217' .. char(len) .. s end
  if len <= 0xffff then return '\218' .. be(len, 2) .. s end
  return '\219' .. be(len, 4) .. s
end
local function mp_len(n, fix, b16, b32)
  if n <= 15 then return char(fix + n) end
  if n <= 65535 then return b16 .. be(n, 2) end
  return b32 .. be(n, 4)
end
local mp_encode
mp_encode = function(v, out, level)
  local t = type(v)
  if t == 'table' and level == 16 then t = 'nil' end
  if t == 'string' then out[#out + 1] = mp_bytes(v)
  elseif t == 'boolean' then out[#out + 1] = v and '\195' or '\194'
  elseif t == 'number' then
    if v == v and v ~= math.huge and v ~= -math.huge and floor(v) == v
        and v >= -9223372036854775808 and v < 9223372036854775808 then
      out[#out + 1] = mp_int(v)
    else
      out[#out + 1] = py_f32(v) or py_f64(v)
    end
  elseif t == 'table' then
    local tt = real_of[v] or v
    local count, max, isarr = 0, 0, true
    for k in next_, tt do
      if type(k) ~= 'number' or k <= 0 or floor(k) ~= k or k >= 2147483648 then isarr = false; break end
      if k > max then max = k end
      count = count + 1
    end
    if isarr and max == count then
      local len = #v
      out[#out + 1] = mp_len(len, 0x90, '\220', '\221')
      for j = 1, len do mp_encode(v[j], out, level + 1) end
    else
      local n = 0
      for _ in next_, tt do n = n + 1 end
      out[#out + 1] = mp_len(n, 0x80, '\222', '\223')
      for k, val in next_, tt do
        mp_encode(k, out, level + 1)
        mp_encode(val, out, level + 1)
      end
    end
  else
    out[#out + 1] = '\192'
  end
end
cmsgpack.pack = function(...)
  local n = select('#', ...)
  if n == 0 then error("bad argument #0 to 'pack' (MessagePack pack needs input.)", 0) end
  local out = {}
  for i = 1, n do mp_encode((select(i, ...)), out, 0) end
  return concat(out)
end
local EOF, BADFMT = {}, {}
local function need(st, n) if st.left < n then error(EOF, 0) end end
local function rd(st, n)
  need(st, n)
  local p = st.p
  st.p = p + n
  st.left = st.left - n
  return p
end
local function uint_be(s, p, n)
  local v = 0
  for i = p, p + n - 1 do v = v * 256 + byte(s, i) end
  return v
end
local mp_decode
local function mp_array(st, len)
  local t = {}
  for i = 1, len do t[i] = mp_decode(st) end
  return t
end
local function mp_map(st, len)
  local t = {}
  for _ = 1, len do
    local k = mp_decode(st)
    local v = mp_decode(st)
    t[k] = v
  end
  return t
end
mp_decode = function(st)
  local s = st.s
  local p = rd(st, 1)
  local c = byte(s, p)
  if c == 0xcc then return byte(s, rd(st, 1))
  elseif c == 0xd0 then local v = byte(s, rd(st, 1)); return v >= 128 and v - 256 or v
  elseif c == 0xcd then return uint_be(s, rd(st, 2), 2)
  elseif c == 0xd1 then local v = uint_be(s, rd(st, 2), 2); return v >= 32768 and v - 65536 or v
  elseif c == 0xce then return uint_be(s, rd(st, 4), 4)
  elseif c == 0xd2 then local v = uint_be(s, rd(st, 4), 4); return v >= 2147483648 and v - TWO32 or v
  elseif c == 0xcf then
    local q = rd(st, 8)
    return uint_be(s, q, 4) * TWO32 + uint_be(s, q + 4, 4)
  elseif c == 0xd3 then
    local q = rd(st, 8)
    local hi = uint_be(s, q, 4)
    if hi >= 2147483648 then hi = hi - TWO32 end
    return hi * TWO32 + uint_be(s, q + 4, 4)
  elseif c == 0xc0 then return nil
  elseif c == 0xc3 then return true
  elseif c == 0xc2 then return false
  elseif c == 0xca then local q = rd(st, 4); return py_unf32(sub(s, q, q + 3))
  elseif c == 0xcb then local q = rd(st, 8); return py_unf64(sub(s, q, q + 7))
  elseif c == 0xd9 then local l = byte(s, rd(st, 1)); local q = rd(st, l); return sub(s, q, q + l - 1)
  elseif c == 0xda then local l = uint_be(s, rd(st, 2), 2); local q = rd(st, l); return sub(s, q, q + l - 1)
  elseif c == 0xdb then local l = uint_be(s, rd(st, 4), 4); local q = rd(st, l); return sub(s, q, q + l - 1)
  elseif c == 0xdc then return mp_array(st, uint_be(s, rd(st, 2), 2))
  elseif c == 0xdd then return mp_array(st, uint_be(s, rd(st, 4), 4))
  elseif c == 0xde then return mp_map(st, uint_be(s, rd(st, 2), 2))
  elseif c == 0xdf then return mp_map(st, uint_be(s, rd(st, 4), 4))
  elseif c < 0x80 then return c
  elseif c >= 0xe0 then return c - 256
  elseif c >= 0xa0 and c < 0xc0 then local l = c - 0xa0; local q = rd(st, l); return sub(s, q, q + l - 1)
  elseif c >= 0x90 and c < 0xa0 then return mp_array(st, c - 0x90)
  elseif c >= 0x80 and c < 0x90 then return mp_map(st, c - 0x80)
  end
  error(BADFMT, 0)
end
local function mp_unpack_full(fname, s, limit, offset)
  if type(s) == 'number' then s = tostring(s) end
  if type(s) ~= 'string' then
    error(format("bad argument #1 to '%s' (string expected, got %s)", fname, s == nil and 'no value' or type(s)), 0)
  end
  local len = #s
  local decode_all = limit == 0 and offset == 0
  if offset < 0 or limit < 0 then
    error(format("Invalid request to unpack with offset of %d and limit of %d.", offset, len), 0)
  elseif offset > len then
    error(format("Start offset %d greater than input length %d.", offset, len), 0)
  end
  if decode_all then limit = 2147483647 end
  local st = {s = s, p = offset + 1, left = len - offset}
  local res, cnt = {}, 0
  while st.left > 0 and cnt < limit do
    local ok, v = pcall_(mp_decode, st)
    if not ok then
      if v == EOF then error("Missing bytes in input.", 0) end
      if v == BADFMT then error("Bad data format in input.", 0) end
      error(v, 0)
    end
    cnt = cnt + 1
    res[cnt] = v
  end
  if not decode_all then
    return st.left == 0 and -1 or (len - st.left), unpack(res, 1, cnt)
  end
  return unpack(res, 1, cnt)
end
local function optint(v, n, fname, default)
  if v == nil then return default end
  local x = tonumber(v)
  if x == nil then error(format("bad argument #%d to '%s' (number expected, got %s)", n, fname, type(v)), 0) end
  return x >= 0 and floor(x) or -floor(-x)
end
cmsgpack.unpack = function(s) return mp_unpack_full('unpack', s, 0, 0) end
cmsgpack.unpack_one = function(s, offset)
  return mp_unpack_full('unpack_one', s, 1, optint(offset, 2, 'unpack_one', 0))
end
cmsgpack.unpack_limit = function(s, limit, offset)
  if limit == nil then error("bad argument #2 to 'unpack_limit' (number expected, got no value)", 0) end
  return mp_unpack_full('unpack_limit', s, optint(limit, 2, 'unpack_limit', 0), optint(offset, 3, 'unpack_limit', 0))
end
cfns(cmsgpack)
cmsgpack._NAME = 'cmsgpack'
cmsgpack._VERSION = 'lua-cmsgpack 0.4.0'
cmsgpack._COPYRIGHT = 'Copyright (C) 2012, Redis Ltd.'
cmsgpack._DESCRIPTION = 'MessagePack C implementation for Lua'
local bit = pylib('bit.', {'tobit', 'bnot', 'band', 'bor', 'bxor', 'lshift', 'rshift', 'arshift',
  'rol', 'ror', 'bswap', 'tohex'})
local struct = pylib('struct.', {'pack', 'unpack', 'size'})

-- math with Valkey's own PRNG (rand48, the same sequence on every platform)
local mathlib = {}
for k, v in next_, math do mathlib[k] = v end
local function checkint(v, n, fname)
  local x = tonumber(v)
  if x == nil then
    error(format("bad argument #%d to '%s' (number expected, got %s)", n, fname,
      v == nil and 'no value' or type(v)), 0)
  end
  if x >= 0 then return floor(x) end
  return -floor(-x)
end
mathlib.random = function(...)
  local n = select('#', ...)
  local r = py_random()
  if n == 0 then return r end
  if n == 1 then
    local u = checkint((...), 1, 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 0) end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = ...
    l = checkint(l, 1, 'random'); u = checkint(u, 2, 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 0) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 0)
end
mathlib.randomseed = function(s) py_srand(checkint(s, 1, 'randomseed')) end
mathlib.random = cfn(mathlib.random)
mathlib.randomseed = cfn(mathlib.randomseed)

local oslib = {clock = os.clock}

-- ---- server replies -> Lua values (RESP parsing, redisProtocolToLuaType) -------------
local parse
local function errtable(msg)
  return {err = msg, ignore_error_stats_update = true}
end
parse = function(s, i)
  local c = byte(s, i)
  local e = find(s, '\r\n', i, true)
  if c == 36 then -- $ bulk
    local n = tonumber(sub(s, i + 1, e - 1))
    if n < 0 then return false, e + 2 end
    return sub(s, e + 2, e + 1 + n), e + 4 + n
  elseif c == 58 then -- : integer
    return tonumber(sub(s, i + 1, e - 1)), e + 2
  elseif c == 42 or c == 62 then -- * array, > push
    local n = tonumber(sub(s, i + 1, e - 1))
    if n < 0 then return false, e + 2 end
    local t, p = {}, e + 2
    for k = 1, n do t[k], p = parse(s, p) end
    return t, p
  elseif c == 43 then -- + status
    return {ok = sub(s, i + 1, e - 1)}, e + 2
  elseif c == 45 then -- - error
    return errtable(sub(s, i + 1, e - 1)), e + 2
  elseif c == 37 then -- % map
    local n = tonumber(sub(s, i + 1, e - 1))
    local m, p, k = {}, e + 2, nil
    for _ = 1, n do
      k, p = parse(s, p)
      m[k], p = parse(s, p)
    end
    return {map = m}, p
  elseif c == 126 then -- ~ set
    local n = tonumber(sub(s, i + 1, e - 1))
    local m, p, k = {}, e + 2, nil
    for _ = 1, n do
      k, p = parse(s, p)
      m[k] = true
    end
    return {set = m}, p
  elseif c == 95 then -- _ null
    return nil, e + 2
  elseif c == 35 then -- # boolean
    return byte(s, i + 1) == 116, e + 2
  elseif c == 44 then -- , double
    return {double = tonumber(sub(s, i + 1, e - 1))}, e + 2
  elseif c == 40 then -- ( big number
    return {big_number = sub(s, i + 1, e - 1)}, e + 2
  elseif c == 61 then -- = verbatim
    local n = tonumber(sub(s, i + 1, e - 1))
    return {verbatim_string = {format = sub(s, e + 2, e + 4), string = sub(s, e + 6, e + 1 + n)}}, e + 4 + n
  elseif c == 124 then -- | attribute: skipped
    local n = tonumber(sub(s, i + 1, e - 1))
    local p, _ = e + 2, nil
    for _ = 1, 2 * n do _, p = parse(s, p) end
    return parse(s, p)
  end
  error("unknown reply type")
end

-- ---- the server API -------------------------------------------------------------------
-- server.call/pcall are the Python functions themselves: to a script they are C functions,
-- as in Valkey, so `return server.call(...)` keeps the script's frame (error positions).
local s_call, s_pcallcmd = py_call, py_pcall
local function mk_ok(x) return {ok = x} end
local function mk_parse(x) return (parse(x, 1)) end

local s_log, s_sha1hex = py_log, py_sha1hex
local function single_field(field, ...)
  if select('#', ...) ~= 1 or type((...)) ~= 'string' then
    return errtable("ERR wrong number or type of arguments")
  end
  return {[field] = (...)}
end
local function s_error_reply(...)
  if select('#', ...) ~= 1 or type((...)) ~= 'string' then
    return errtable("ERR wrong number or type of arguments")
  end
  local e = ...
  if byte(e, 1) ~= 45 then e = '-' .. e end
  return {err = push_error_text(e)}
end
local function s_status_reply(...) return single_field('ok', ...) end
local script_resp3 = false
local function s_setresp(v)
  -- called through Python (py.setresp) after its checks
  script_resp3 = v == 3
end
local s_set_repl = py_set_repl
local s_acl_check_cmd = py_acl_check

local function add_log_api(api)
  api.log = s_log
  api.LOG_DEBUG = 0
  api.LOG_VERBOSE = 1
  api.LOG_NOTICE = 2
  api.LOG_WARNING = 3
end
local function add_version(api)
  api.REDIS_VERSION_NUM = py.redis_version_num
  api.REDIS_VERSION = py.redis_version
  api.VALKEY_VERSION_NUM = py.valkey_version_num
  api.VALKEY_VERSION = py.valkey_version
  api.SERVER_NAME = 'valkey'
end

local api = {
  call = s_call, pcall = s_pcallcmd, sha1hex = s_sha1hex,
  error_reply = s_error_reply, status_reply = s_status_reply,
  setresp = py_setresp, set_repl = s_set_repl, acl_check_cmd = s_acl_check_cmd,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
}
add_log_api(api)
add_version(api)
if mode == 'eval' then
  api.breakpoint = function() return false end
  api.debug = function() end
  api.replicate_commands = function() return true end
end

-- ---- the globals scripts see -----------------------------------------------------------
local R = {}   -- the real table behind the script globals
local builtins = {'tostring', 'assert', 'tonumber', 'rawequal', 'collectgarbage',
  'type', 'select', 'unpack', 'gcinfo', 'error', 'newproxy'}
for i = 1, #builtins do R[builtins[i]] = realG[builtins[i]] end
R._VERSION = _VERSION
R.rawget, R.rawset, R.next, R.pairs, R.ipairs = s_rawget, s_rawset, s_next, s_pairs, s_ipairs
R.getmetatable, R.setmetatable = s_getmetatable, s_setmetatable
R.getfenv, R.setfenv, R.loadstring, R.load = s_getfenv, s_setfenv, s_loadstring, s_load
R.pcall = s_pcall
R.xpcall = s_xpcall
local function copylib(src) local t = {} for k, v in next_, src do t[k] = v end return t end
R.string = protect(copylib(string))
R.table = protect(copylib(table))
R.math = protect(mathlib)
R.os = protect(oslib)
R.coroutine = protect(copylib(coroutine))
R.cjson = protect(cjson)
R.cmsgpack = protect(cmsgpack)
R.bit = protect(bit)
R.struct = protect(struct)
local API = protect(api)
R.server = API
R.redis = API
-- Valkey's string metatable indexes an empty table (so ("x"):rep() is not available).
getmetatable_('').__index = {}
STRMT_VIEW = protect({__index = protect({})})
internal[R] = true
local G_META = protect({__index = missing_global})
setmetatable_(R, ERRMT_REAL)

-- The environment proxy: reads go to R (or, while FUNCTION LOAD runs, to the load API),
-- writes always fail.
local env_mt = {__index = R, __newindex = ro_newindex}
ENV = {}
setmetatable_(ENV, env_mt)
real_of[ENV] = R
meta_of[ENV] = G_META
R._G = ENV
internal[ENV] = true

-- load-time globals of a library: server/redis with register_function and log only
local LOADAPI = {}
add_log_api(LOADAPI)
add_version(LOADAPI)
local LOADG = {}
internal[LOADG] = true

-- ---- errors: Valkey's error handler, skipping our own frames -----------------------------
local function err_handler(err)
  err = normalize(err, 3)
  local lvl, i = 2, nil
  while true do
    i = getinfo(lvl, 'Sl')
    if i == nil then break end
    if i.what ~= 'C' and i.source ~= '=kaa' then break end
    lvl = lvl + 1
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

-- ---- Lua values -> RESP (luaReplyToRedisReply) -------------------------------------------
local MAXDEPTH = 1000
local ser
local function ser_error(msg, out, n)
  out[n + 1] = reply_error_text(msg) .. '\r\n'
  return n + 1
end
ser = function(v, out, n, resp3, sresp3, depth)
  local t = type(v)
  if t == 'string' then
    out[n + 1] = '$' .. strlen(v) .. '\r\n'
    out[n + 2] = v
    out[n + 3] = '\r\n'
    return n + 3
  elseif t == 'number' then
    out[n + 1] = format(':%d\r\n', v)
    return n + 1
  elseif t == 'boolean' then
    if not sresp3 then
      if v then out[n + 1] = ':1\r\n'
      elseif resp3 then out[n + 1] = '_\r\n'
      else out[n + 1] = '$-1\r\n' end
    elseif resp3 then
      out[n + 1] = v and '#t\r\n' or '#f\r\n'
    else
      out[n + 1] = v and ':1\r\n' or ':0\r\n'
    end
    return n + 1
  elseif t == 'table' then
    if depth >= MAXDEPTH then
      out[n + 1] = '-ERR reached lua stack limit\r\n'
      return n + 1
    end
    local x = rawget_(v, 'err')
    if type(x) == 'string' then return ser_error(x, out, n) end
    x = rawget_(v, 'ok')
    if type(x) == 'string' then
      out[n + 1] = '+' .. status_text(x) .. '\r\n'
      return n + 1
    end
    x = rawget_(v, 'double')
    if type(x) == 'number' then
      local d = py_fmt_double(x)
      if resp3 then out[n + 1] = ',' .. d .. '\r\n'
      else out[n + 1] = '$' .. strlen(d) .. '\r\n' .. d .. '\r\n' end
      return n + 1
    end
    x = rawget_(v, 'big_number')
    if type(x) == 'string' then
      x = status_text(x)
      if resp3 then out[n + 1] = '(' .. x .. '\r\n'
      else out[n + 1] = '$' .. strlen(x) .. '\r\n' .. x .. '\r\n' end
      return n + 1
    end
    x = rawget_(v, 'verbatim_string')
    if type(x) == 'table' then
      local f, s = rawget_(x, 'format'), rawget_(x, 'string')
      if type(f) == 'string' and type(s) == 'string' then
        if resp3 then
          out[n + 1] = '=' .. (strlen(s) + 4) .. '\r\n' .. sub(f .. '   ', 1, 3) .. ':'
        else
          out[n + 1] = '$' .. strlen(s) .. '\r\n'
        end
        out[n + 2] = s
        out[n + 3] = '\r\n'
        return n + 3
      end
    end
    x = rawget_(v, 'map')
    if type(x) == 'table' then
      local hdr, cnt = n + 1, 0
      n = n + 1
      for k, val in next_, x do
        n = ser(k, out, n, resp3, sresp3, depth + 1)
        n = ser(val, out, n, resp3, sresp3, depth + 1)
        cnt = cnt + 1
      end
      out[hdr] = resp3 and ('%' .. cnt .. '\r\n') or ('*' .. (2 * cnt) .. '\r\n')
      return n
    end
    x = rawget_(v, 'set')
    if type(x) == 'table' then
      local hdr, cnt = n + 1, 0
      n = n + 1
      for k in next_, x do
        n = ser(k, out, n, resp3, sresp3, depth + 1)
        cnt = cnt + 1
      end
      out[hdr] = (resp3 and '~' or '*') .. cnt .. '\r\n'
      return n
    end
    local hdr, j = n + 1, 1
    n = n + 1
    while true do
      local val = rawget_(v, j)
      if val == nil then break end
      n = ser(val, out, n, resp3, sresp3, depth + 1)
      j = j + 1
    end
    out[hdr] = '*' .. (j - 1) .. '\r\n'
    return n
  end
  out[n + 1] = resp3 and '_\r\n' or '$-1\r\n'
  return n + 1
end

if mode == 'eval' then R.__redis__err__handler = err_handler end

-- ---- running scripts ---------------------------------------------------------------------
local cur_f, cur_keys, cur_args = nil, nil, nil
local function invoke_eval() return cur_f() end
local function invoke_function() return cur_f(cur_keys, cur_args) end
local invoke = mode == 'eval' and invoke_eval or invoke_function

local function in_user_code()
  local i = getinfo(3, 'S')
  return i ~= nil and i.source ~= '=kaa'
end
local killed = false
local function hookfn()
  if killed or py_hook() then
    -- killed: fire on every line from now on so pcall cannot swallow it (only raise
    -- in the script's own code, never in the sandbox's frames around it)
    if not killed then killed = true; sethook(hookfn, 'l') end
    if in_user_code() then error(errtable("ERR Script killed by user with SCRIPT KILL..."), 0) end
  end
end
local HOOK_COUNT = 100000

-- debug.sethook's Lua hooks are per coroutine and not inherited: every coroutine a
-- script creates installs the hook itself when it first runs.
do
  local co = real_of[R.coroutine]
  local co_create, co_wrap = coroutine.create, coroutine.wrap
  local function hooked(f)
    return function(...)
      if killed then sethook(hookfn, 'l') else sethook(hookfn, '', HOOK_COUNT) end
      return f(...)
    end
  end
  co.create = function(f)
    if type(f) ~= 'function' then return co_create(f) end
    return co_create(hooked(f))
  end
  co.wrap = function(f)
    if type(f) ~= 'function' then return co_wrap(f) end
    return co_wrap(hooked(f))
  end
end

local function finish(ok, res, resp3, sresp3)
  cur_f, cur_keys, cur_args = nil, nil, nil
  if killed then killed = false; sethook(hookfn, '', HOOK_COUNT) end
  if not ok then
    if type(res) ~= 'table' then
      return 3, type(res) == 'string' and res or 'execution failure'
    end
    local m, src, line = res.err, res.source, res.line
    return 2, type(m) == 'string' and m or tostring(m), src, line, res.ignore_error_stats_update == true
  end
  local t = type(res)
  if t == 'string' then return 4, res end
  if t == 'number' then return 0, format(':%d\r\n', res) end
  if t == 'table' then
    local e = rawget_(res, 'err')
    if type(e) == 'string' then
      return 1, sub(reply_error_text(e), 2), rawget_(res, 'ignore_error_stats_update') == true
    end
  end
  local out = {}
  local n = ser(res, out, 0, resp3, sresp3, 0)
  return 0, concat(out, '', 1, n)
end

-- run(f, nkeys, keys..., args...) (run3: the caller speaks RESP3):
--   a string (bulk) | an integer that a double holds exactly | 0, resp |
--   1, errmsg, nostats | 2, msg, src, line, nostats | 3, msg
-- The two common replies come back as one value: no tuple, no formatting.
local INT_EXACT = 9007199254740992  -- 2^53
local function run_with(resp3, f, nkeys, ...)
  local keys, args = {...}, {}
  local n = select('#', ...)
  for j = nkeys + 1, n do
    args[j - nkeys] = keys[j]
    keys[j] = nil
  end
  script_resp3 = false
  local ok, res
  if mode == 'eval' then
    R.KEYS = keys
    R.ARGV = args
    ok, res = xpcall_(f, err_handler)
  else
    cur_f, cur_keys, cur_args = f, keys, args
    ok, res = xpcall_(invoke, err_handler)
    cur_f, cur_keys, cur_args = nil, nil, nil
  end
  if killed and ok then
    -- the kill was swallowed (a coroutine's resume caught it): the script still dies
    ok, res = false, err_handler(errtable("ERR Script killed by user with SCRIPT KILL..."))
  end
  if ok then
    local t = type(res)
    if t == 'string' then return res end
    if t == 'number' and res == floor(res) and res < INT_EXACT and res > -INT_EXACT then
      return res
    end
  end
  return finish(ok, res, resp3, script_resp3)
end
local function run(f, nkeys, ...) return run_with(false, f, nkeys, ...) end
local function run3(f, nkeys, ...) return run_with(true, f, nkeys, ...) end

local function compile(code, chunkname)
  if byte(code, 1) == 27 then return nil, "binary code loading is disabled" end
  local f, err = loadstring_(code, chunkname)
  if not f then return nil, err end
  setfenv_(f, ENV)
  return f
end

-- The count hook stays installed: it costs one call every 100k instructions, and the
-- Python side decides whether a script has run too long.
sethook(hookfn, '', HOOK_COUNT)

local entry = {compile = compile, run = run, run3 = run3, protect = protect, mk_ok = mk_ok, mk_err = errtable,
  set_script_resp = s_setresp,
  parse = mk_parse}

if mode == 'function' then
  -- server.register_function: positional (name, callback) or one table of named arguments
  local function register(...)
    local n = select('#', ...)
    if n < 1 or n > 2 then
      error(errtable("ERR wrong number of arguments to server.register_function"), 0)
    end
    local name, cb, desc, flags
    if n == 1 then
      local t = ...
      if type(t) ~= 'table' then
        error(errtable("ERR calling server.register_function with a single argument is only applicable to Lua table (representing named arguments)."), 0)
      end
      for k, v in next_, real_of[t] or t do
        if type(k) ~= 'string' and type(k) ~= 'number' then
          error(errtable("ERR named argument key given to server.register_function is not a string"), 0)
        end
        local lk = string.lower(tostring(k))
        if lk == 'function_name' then
          if type(v) ~= 'string' and type(v) ~= 'number' then
            error(errtable("ERR function_name argument given to server.register_function must be a string"), 0)
          end
          name = tostring(v)
        elseif lk == 'description' then
          if type(v) ~= 'string' and type(v) ~= 'number' then
            error(errtable("ERR description argument given to server.register_function must be a string"), 0)
          end
          desc = tostring(v)
        elseif lk == 'callback' then
          if type(v) ~= 'function' then
            error(errtable("ERR callback argument given to server.register_function must be a function"), 0)
          end
          cb = v
        elseif lk == 'flags' then
          if type(v) ~= 'table' then
            error(errtable("ERR flags argument to server.register_function must be a table representing function flags"), 0)
          end
          flags = {}
          local j = 1
          while true do
            local fl = v[j]
            if fl == nil then break end
            if type(fl) ~= 'string' and type(fl) ~= 'number' then
              error(errtable("ERR unknown flag given"), 0)
            end
            flags[j] = tostring(fl)
            j = j + 1
          end
        else
          error(errtable("ERR unknown argument given to server.register_function"), 0)
        end
      end
      if name == nil then error(errtable("ERR server.register_function must get a function name argument"), 0) end
      if cb == nil then error(errtable("ERR server.register_function must get a callback argument"), 0) end
    else
      local a, b = ...
      if type(a) ~= 'string' and type(a) ~= 'number' then
        error(errtable("ERR first argument to server.register_function must be a string"), 0)
      end
      if type(b) ~= 'function' then
        error(errtable("ERR second argument to server.register_function must be a function"), 0)
      end
      name, cb = tostring(a), b
    end
    local err = py_register(name, cb, desc, unpack(flags or {}))
    if err then error(errtable(err), 0) end
  end
  LOADAPI.register_function = register
  with_error_mt(LOADAPI)
  local LOADAPI_P = protect(LOADAPI)
  LOADG.server = LOADAPI_P
  LOADG.redis = LOADAPI_P
  with_error_mt(LOADG)

  local load_timed_out = false
  local function load_hook()
    if load_timed_out or py_hook() then
      if not load_timed_out then load_timed_out = true; sethook(load_hook, 'l') end
      if in_user_code() then error(errtable("ERR FUNCTION LOAD timeout"), 0) end
    end
  end
  -- load_library(f): run a compiled library's top level with the load-time globals
  entry.load_library = function(f)
    env_mt.__index = LOADG
    load_timed_out = false
    sethook(load_hook, '', HOOK_COUNT)
    local ok, err = pcall_(f)
    sethook(hookfn, '', HOOK_COUNT)
    env_mt.__index = R
    if ok then return nil end
    if type(err) == 'table' then
      local m = err.err
      return type(m) == 'string' and m or tostring(m)
    end
    return 'ERR ' .. tostring(err)
  end
end

return entry
"""
