/**
 * A Lua function: a number as the shortest text that reads back as the same double (in Lua
 * and in JavaScript). Whole numbers below 1e14, the common case, print as tostring's %.14g
 * would, but through %d, a third of the cost. Globals only, so it closes over nothing.
 */
export const NUM = `function(x)
  if x % 1 == 0 and x < 1e14 and x > -1e14 and (x ~= 0 or 1 / x > 0) then return string.format('%d', x) end
  if x ~= x then return 'NaN' end
  if x == math.huge then return 'Infinity' end
  if x == -math.huge then return '-Infinity' end
  local s = string.format('%.15g', x)
  if tonumber(s) ~= x then s = string.format('%.17g', x) end
  return s
end`;

/**
 * The start of every script. ARGV[1] is the caller's `now`, ARGV[2] the time mode (`s`:
 * the server's clock, read with TIME; `c`: the caller's `now`); a script's own arguments
 * start at ARGV[3].
 *
 * A script's body runs again on every call, so whatever it defines is built again each
 * time: a function is a closure, and each local a nested function uses becomes an upvalue
 * to allocate and close (six helpers over shared locals cost more than a token-bucket step).
 * Hot scripts (a rate limit's own apply) define no function over these locals.
 */
export const PRELUDE = `
local floor, ceil, byte = math.floor, math.ceil, string.byte
local spack, sunpack = struct.pack, struct.unpack
local now, margin = 0, 0
if ARGV[2] == 's' then
  local t = redis.call('TIME')
  now = t[1] * 1000 + floor(t[2] / 1000)
else
  now, margin = tonumber(ARGV[1]), 60000
end
local EPS = 1e-9
`;

/**
 * Lua writing a rate limit's binary value (its expiry E inside) to `key` for `ttl` ms:
 * deleted when `ttl` is not above 0, kept with no `PX` from 1e15 ms on. Otherwise Redis
 * drops the key at D(E): E plus the margin, rounded up to a whole second, a function of E
 * alone. So when `old` (the value the key held: nil, false, or any text) is of the same
 * kind and gives the same D, the key's TTL already ends at D (it is still there, so it was
 * written this way; expired by its E or not) and the value is written with `KEEPTTL` (about
 * 2 µs cheaper in Redis than `PX`); else with `PX` up to D, plus 1 ms for Redis applying it
 * from a clock reading up to a millisecond before `now`. Each command runs by `call`
 * (`redis.call`, or e.g. `w = redis.pcall` to keep an error as a value).
 */
export const writePacked = (key: string, value: string, ttl: string, old: string, call = 'redis.call'): string => `
  if not (${ttl} > 0) then
    ${call}('DEL', ${key})
  elseif ${ttl} >= 1e15 then
    ${call}('SET', ${key}, ${value})
  else
    local due = ceil((now + ${ttl} + margin) / 1000)
    if ${old} and #${old} == #${value} and byte(${old}) == byte(${value}) and ceil((sunpack('<d', ${old}, #${old} - 7) + margin) / 1000) == due then
      ${call}('SET', ${key}, ${value}, 'KEEPTTL')
    else
      ${call}('SET', ${key}, ${value}, 'PX', ceil(due * 1000 - now) + 1)
    end
  end`;

/** Whether a value's first byte (in `byte`) is a rate limit's binary tag. */
export const isPacked = (byte: string): string => `(${byte} == 84 or ${byte} == 71 or ${byte} == 70 or ${byte} == 83)`;

/**
 * `load` and `save`, for every script but a rate limit's own apply.
 *
 * A stored value is `<expiry>;<payload>` (text: JSON or a breaker's packed numbers), or,
 * for a rate limit, binary: a tag letter (`T`, `G`, `F`, `S`), the state's numbers, then the
 * expiry, each a little-endian double (struct.pack '<d': the same 64 bits as JavaScript's,
 * so nothing is formatted or parsed). The expiry (ms on the clock in use; none: empty text,
 * or an infinite double) is judged here against `now`, so a key reads as absent exactly
 * when the caller's store would say so; `PX` only collects idle keys, with a margin under
 * the caller's clock (it may run slower than the server's). A text value starts with a
 * digit, `-` or `;`, a binary one with a letter.
 *
 * Its Lua functions (their comments live here, not in the text sent to Redis):
 * - `load`: the live payload of a key (a binary value whole), or nil when absent or expired; a
 *   rate limit kept as text (`<expiry>;T9,1700000000123`, before 0.2) reads as absent.
 * - `save`: writes a payload with its TTL (math.huge: none); nil or a TTL <= 0 deletes the key.
 *   A rate limit's binary value (no text payload starts with its tag) holds its expiry; `old`,
 *   what load read from the key, tells whether its TTL may stay.
 */
export const STORAGE = `
local sub = string.sub
local num = ${NUM}

local function load(key)
  local v = redis.call('GET', key)
  if not v then return nil end
  if (byte(v) or 0) > 64 then
    if #v >= 9 and sunpack('<d', v, #v - 7) > now then return v end
    return nil
  end
  local sep = string.find(v, ';', 1, true)
  if sep == nil then return nil end
  if sep > 1 and not ((tonumber(sub(v, 1, sep - 1)) or 0) > now) then return nil end
  local tag = byte(v, sep + 1)
  if ${isPacked('tag')} then return nil end
  return sub(v, sep + 1)
end

local function save(key, payload, ttl, old)
  if payload ~= nil and ${isPacked('byte(payload)')} then${writePacked('key', 'payload', 'ttl', 'old')}
  elseif payload == nil or not (ttl > 0) then
    redis.call('DEL', key)
  elseif ttl >= 1e15 then
    redis.call('SET', key, ';' .. payload)
  else
    redis.call('SET', key, num(now + ttl) .. ';' .. payload, 'PX', ceil(ttl) + margin)
  end
end
`;

/** The helpers of every script but a rate limit's own apply. */
export const COMMON = PRELUDE + STORAGE;

/**
 * JSON read and written as raw texts, for the families that keep callers' values (records,
 * message counters, saga logs); the rate limits and breakers, which keep packed numbers,
 * do without them (every helper here is a closure each script call would create).
 *
 * JSON is read as raw texts, never decoded (cjson would round numbers to 14 digits and turn []
 * into {}). Its Lua functions (their comments live here, not in the text sent to Redis):
 * - `stringEnd`, `valueEnd`: the index after the JSON string or value that starts at i, found
 *   with plain finds only, each symbol's next place kept until passed: a pattern class scans
 *   ~20 ns a byte in Redis' Lua, so a 1 MB record replayed cost ~26 ms of Redis' one thread.
 * - `members`: an object's members, name -> raw JSON, with .names in order; nil when t is not
 *   an object.
 * - `elements`: an array's elements as raw JSON texts ({} when t is not an array).
 * - `put`: sets (raw) or removes (nil) a member, keeping the order of the others.
 * - `json`: a JSON object from name, raw pairs, skipping nil values: json('a', '1', 'b', nil).
 * - `given`: a raw member that JavaScript's ?? would pass over (absent or null) reads as nil.
 */
export const JSON_HELPERS = String.raw`
local function skipws(t, i) return string.find(t, '[^ \t\r\n]', i) or #t + 1 end
local function stringEnd(t, i)
  local j = i + 1
  local q, b = string.find(t, '"', j, true), string.find(t, '\\', j, true)
  while true do
    if q == nil then error('invalid JSON in a stored value') end
    if b == nil or q < b then return q + 1 end
    j = b + 2
    if q < j then q = string.find(t, '"', j, true) end
    b = string.find(t, '\\', j, true)
  end
end
local function valueEnd(t, i)
  local c = string.byte(t, i)
  if c == 34 then return stringEnd(t, i) end
  if c == 123 or c == 91 then
    local depth, j, at = 0, i, {}
    while true do
      local k, n = nil, 0
      for m = 1, 5 do
        local p = at[m]
        if p ~= false and (p == nil or p < j) then
          p = string.find(t, string.sub('{[}]"', m, m), j, true) or false
          at[m] = p
        end
        if p and (k == nil or p < k) then k, n = p, m end
      end
      if k == nil then error('invalid JSON in a stored value') end
      if n == 5 then
        j = stringEnd(t, k)
      else
        if n < 3 then depth = depth + 1 else depth = depth - 1 end
        j = k + 1
        if depth == 0 then return j end
      end
    end
  end
  return string.find(t, '[,%]} \t\r\n]', i) or #t + 1
end
local function members(t)
  if t == nil then return nil end
  local i = skipws(t, 1)
  if string.byte(t, i) ~= 123 then return nil end
  local f = { names = {} }
  local raw = {}
  f.raw = raw
  i = skipws(t, i + 1)
  if string.byte(t, i) == 125 then return f end
  while true do
    local e = stringEnd(t, i)
    local name = string.sub(t, i + 1, e - 2)
    i = skipws(t, skipws(t, e) + 1)
    local ve = valueEnd(t, i)
    if raw[name] == nil then f.names[#f.names + 1] = name end
    raw[name] = string.sub(t, i, ve - 1)
    i = skipws(t, ve)
    if string.byte(t, i) ~= 44 then return f end
    i = skipws(t, i + 1)
  end
end
local function elements(t)
  local out = {}
  if t == nil then return out end
  local i = skipws(t, 1)
  if string.byte(t, i) ~= 91 then return out end
  i = skipws(t, i + 1)
  if string.byte(t, i) == 93 then return out end
  while true do
    local ve = valueEnd(t, i)
    out[#out + 1] = string.sub(t, i, ve - 1)
    i = skipws(t, ve)
    if string.byte(t, i) ~= 44 then return out end
    i = skipws(t, i + 1)
  end
end
local function put(f, name, raw)
  if f.raw[name] == nil and raw ~= nil then f.names[#f.names + 1] = name end
  f.raw[name] = raw
end
local function object(f)
  local parts = {}
  for _, name in ipairs(f.names) do
    local raw = f.raw[name]
    if raw ~= nil then parts[#parts + 1] = '"' .. name .. '":' .. raw end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end
local function json(...)
  local f = { names = {}, raw = {} }
  local a = { ... }
  for k = 1, select('#', ...), 2 do put(f, a[k], a[k + 1]) end
  return object(f)
end
local function empty() return { names = {}, raw = {} } end
local function given(raw) if raw == nil or raw == 'null' then return nil end return raw end
`;

/**
 * The driver of one transition on one key: `step(state, ARGV, 3)` returns the output, the
 * next payload (`false`: leave the key and its TTL as they are; `nil`: delete) and its TTL.
 */
export const APPLY = `
local out, nxt, ttl = step(load(KEYS[1]), ARGV, 3)
if nxt ~= false then save(KEYS[1], nxt, ttl) end
return out
`;

/**
 * The driver of `applyAll`: ARGV from 3 holds, per key, the transition's name, its
 * argument count and its arguments. Every state is read and every step computed before
 * anything is written; a step with `accepted == false` means nothing is written.
 */
export const APPLY_ALL = `
local outs, nexts, ttls, olds = {}, {}, {}, {}
local accepted = true
local i = 3
for k = 1, #KEYS do
  local f = T[ARGV[i]]
  local argc = tonumber(ARGV[i + 1])
  olds[k] = load(KEYS[k])
  local out, nxt, ttl, ok = f(olds[k], ARGV, i + 2)
  outs[k], nexts[k], ttls[k] = out, nxt, ttl
  if ok == false then accepted = false end
  i = i + 2 + argc
end
if accepted then
  for k = 1, #KEYS do
    if nexts[k] ~= false then save(KEYS[k], nexts[k], ttls[k], olds[k]) end
  end
end
return outs
`;

/** `get`: the live payload, or nil; a rate limit's binary payload as text (`T<tokens>,<at>`). */
export const GET = `
local v = load(KEYS[1])
if not v then return false end
local tag = byte(v)
if not ${isPacked('tag')} then return v end
local numbers = {}
for at = 2, #v - 15, 8 do numbers[#numbers + 1] = num((sunpack('<d', v, at))) end
return sub(v, 1, 1) .. table.concat(numbers, ',')
`;

/** `set`: ARGV[3] the TTL (empty: none), ARGV[4] the JSON state. */
export const SET = `
local ttl = math.huge
if ARGV[3] ~= '' then ttl = tonumber(ARGV[3]) end
save(KEYS[1], ARGV[4], ttl)
return false
`;

/**
 * `keys`, on one primary: one SCAN step (ARGV[3] cursor, ARGV[4] pattern, ARGV[5] count);
 * returns the next cursor and the live keys among those scanned (only each value's head
 * is read, and a long binary value's last 8 bytes, its expiry). A key holding a lone
 * surrogate's bytes (`ED A0-BF 80-BF`, see the store's `bytes`), which a client would read
 * as UTF-8 and turn into U+FFFD, is listed as a list: its text before each, the surrogate's
 * code, …, the text after the last; a byte FF (a `}` in a hash tag, see `bytes`) as `}`.
 */
export const SCAN = `
local r = redis.call('SCAN', ARGV[3], 'MATCH', ARGV[4], 'COUNT', ARGV[5])
local out = { r[1] }
for _, key in ipairs(r[2]) do
  local head, live = redis.pcall('GETRANGE', key, 0, 63), false
  if type(head) == 'string' and head ~= '' then
    if byte(head) > 64 then
      if #head == 64 then head = redis.call('GETRANGE', key, -8, -1) end
      live = #head >= 8 and sunpack('<d', head, #head - 7) > now
    else
      local sep = string.find(head, ';', 1, true)
      local tag = sep and byte(head, sep + 1)
      live = not ${isPacked('tag')} and sep ~= nil and (sep == 1 or (tonumber(sub(head, 1, sep - 1)) or 0) > now)
    end
  end
  key = string.gsub(key, '\\255', '}')
  if live and string.find(key, '\\237[\\160-\\191]') then
    local parts, from = {}, 1
    for at, hi, lo in string.gmatch(key, '()\\237([\\160-\\191])([\\128-\\191])') do
      parts[#parts + 1] = sub(key, from, at - 1)
      parts[#parts + 1] = 53248 + (byte(hi) - 128) * 64 + byte(lo) - 128
      from = at + 3
    end
    parts[#parts + 1] = sub(key, from)
    key = parts
  end
  if live then out[#out + 1] = key end
end
return out
`;
