import type { JsonValue, RateLimitDecision } from '@resilience/core';
import { NUM, writePacked } from './common.js';
import { odd, type ScriptSpec } from './spec.js';

/**
 * The four rate-limit algorithms, step for step as `tokenBucket`, `gcra`, `fixedWindow` and
 * `slidingWindow` in core (same operations in the same order on the same doubles), over
 * binary states (see STORAGE): a tag, then little-endian doubles, `T` tokens, at; `G` tat;
 * `F` windowStart, count; `S` windowStart, current, previous; the expiry last. A refusal
 * or a peek writes nothing. The decision comes back as an array `allowed (1 or 0), limit,
 * remaining, resetMs, retryAfterMs`: each a Redis integer when it is a whole number Redis
 * carries exactly (the common case, with no number formatted in Lua), else its text (num).
 *
 * Each algorithm is a block of Lua (its consume and its peek two copies, `commit` written
 * in) reading the key's value `s` (nil or false: absent; a value of another length or tag,
 * expired, or damaged: a count or a time that is NaN, infinite or a count below 0, reads as
 * absent) and ARGV from `a[i]`, and setting `out`,
 * `nxt` (the value to write, false: none), `ttl` and `ok`. A limit's own apply script runs
 * the block inline: it builds no function per call (see PRELUDE); `applyAll` wraps it in a
 * step function.
 */
type Block = (commit: boolean) => string;

/** The value to write: the tag, the numbers, and the expiry (none from 1e15 ms on). */
const packed = (tag: string, ...numbers: string[]) =>
  `spack('<B${'d'.repeat(numbers.length + 1)}', ${tag.charCodeAt(0)}, ${numbers.join(', ')}, ttl < 1e15 and now + ttl or math.huge)`;

const TOKEN_BUCKET: Block = (commit) => `
local capacity, perMs, cost = tonumber(a[i]), tonumber(a[i + 1]) / 1000, tonumber(a[i + 2])
local tokens, from = capacity, now
if s and #s == 25 and byte(s) == 84 then
  local t, last, expiry = sunpack('<ddd', s, 2)
  if expiry > now and t >= 0 and t < math.huge and last > -math.huge and last < math.huge then
    tokens = t
    if now > last then tokens = math.min(capacity, tokens + (now - last) * perMs)
    elseif last - now > capacity / perMs then tokens = capacity
    else from = last end
  end
end
ok = tokens + EPS >= cost
if not ok or not ${commit} then
  local retry = 0
  if not ok then retry = ceil((cost - tokens - EPS) / perMs) end
  out, nxt, ttl = { ok and 1 or 0, capacity, floor(tokens + EPS), ceil((capacity - tokens) / perMs), retry }, false, 0
else
  local left = 0
  if tokens > cost then left = tokens - cost end
  ttl = (capacity - left) / perMs
  out, nxt = { 1, capacity, floor(left + EPS), ceil(ttl), 0 }, ${packed('T', 'left', 'from')}
end
`;

const GCRA: Block = (commit) => `
local limit, periodMs, burst, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2]), tonumber(a[i + 3])
local interval = periodMs / limit
local slack = math.max(EPS * interval, 1e-3)
local most = burst * interval + slack
local ahead = 0
if s and #s == 17 and byte(s) == 71 then
  local t, expiry = sunpack('<dd', s, 2)
  if expiry > now and t > -math.huge and t < math.huge then ahead = math.max(t - now, 0) end
  if ahead > most + burst * interval then ahead = 0 end
end
most = most + math.min(burst * now * 2.3e-16, interval / 4)
local after = ahead + cost * interval
ok = after <= most
if not ok or not ${commit} then
  local retry = 0
  if not ok then retry = ceil(after - most + slack / 2) end
  local remaining = math.max(0, floor((most - ahead) / interval + EPS))
  out, nxt, ttl = { ok and 1 or 0, burst, remaining, ceil(ahead), retry }, false, 0
else
  local remaining = math.max(0, floor((most - after) / interval + EPS))
  ttl = after
  out, nxt = { 1, burst, remaining, ceil(after), 0 }, ${packed('G', 'now + after')}
end
`;

const FIXED_WINDOW: Block = (commit) => `
local limit, windowMs, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2])
local start = floor(now / windowMs) * windowMs
local count = 0
if s and #s == 25 and byte(s) == 70 then
  local at, n, expiry = sunpack('<ddd', s, 2)
  if expiry > now and n >= 0 and n < math.huge then
    if at > start and at <= start + windowMs then start = at end
    if at == start then count = n end
  end
end
local endMs = start + windowMs - now
ok = count + cost <= limit
if not ok or not ${commit} then
  local reset, retry = 0, 0
  if count > 0 then reset = ceil(endMs) end
  if not ok then retry = ceil(endMs) end
  out, nxt, ttl = { ok and 1 or 0, limit, math.max(0, floor(limit - count)), reset, retry }, false, 0
else
  ttl = endMs
  out, nxt = { 1, limit, floor(limit - count - cost), ceil(endMs), 0 }, ${packed('F', 'start', 'count + cost')}
end
`;

/** What the sliding window's consume and peek share (functions of their arguments only). */
const SLIDING = `
local function slidingDrainedAt(start, windowMs, c, p, now)
  if c > 0 then return start + 2 * windowMs end
  if p > 0 then return start + windowMs end
  return now
end
local function slidingAdmitAt(start, windowMs, limit, cost, c, p)
  local room = limit - cost - c
  if room >= 0 and p > 0 then return start + (1 - room / p) * windowMs end
  local nextRoom = limit - cost
  if c <= nextRoom then return start + windowMs end
  return start + windowMs + (1 - nextRoom / c) * windowMs
end
`;

const SLIDING_WINDOW: Block = (commit) => `
local limit, windowMs, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2])
local start = floor(now / windowMs) * windowMs
local current, previous = 0, 0
if s and #s == 33 and byte(s) == 83 then
  local at, c, p, expiry = sunpack('<dddd', s, 2)
  if not (expiry > now and c >= 0 and c < math.huge and p >= 0 and p < math.huge) then
  elseif at >= start and at <= start + windowMs then
    start, current, previous = at, c, p
  elseif floor((start - at) / windowMs + 0.5) == 1 then
    previous = c
  end
end
local elapsed = math.max(0, (now - start) / windowMs)
local estimate = previous * (1 - elapsed) + current
ok = estimate + cost <= limit + EPS + previous * (1e-3 / windowMs)
if not ok or not ${commit} then
  local retry = 0
  if not ok then retry = ceil(slidingAdmitAt(start, windowMs, limit, cost, current, previous) - now) end
  local remaining = math.max(0, floor(limit - estimate + EPS))
  local reset = ceil(slidingDrainedAt(start, windowMs, current, previous, now) - now)
  out, nxt, ttl = { ok and 1 or 0, limit, remaining, reset, retry }, false, 0
else
  current = current + cost
  ttl = slidingDrainedAt(start, windowMs, current, previous, now) - now
  local remaining = math.max(0, floor(limit - estimate - cost + EPS))
  out, nxt = { 1, limit, remaining, ceil(ttl), 0 }, ${packed('S', 'start', 'current', 'previous')}
end
`;

/**
 * The decision's numbers that Redis cannot carry as integers (fractions, Infinity, NaN, -0,
 * beyond 9e15) as texts, by `num`: COMMON's in a step function, else a function built only then.
 */
const integers = (num: string) => `
for k = 2, 5 do
  local x = out[k]
  if not (x % 1 == 0 and x < 9e15 and x > -9e15 and (x ~= 0 or 1 / x > 0)) then out[k] = ${num}(x) end
end
`;

/** A limit's own apply script, after PRELUDE: KEYS[1]'s value (the block judges its tag and expiry), the block inline, the write. */
const inline = (block: string) => `
local s = redis.call('GET', KEYS[1])
local a, i = ARGV, 3
local out, nxt, ttl, ok
${block}${integers(`(${NUM})`)}
if nxt then${writePacked('KEYS[1]', 'nxt', 'ttl', 's')}
end
return out
`;

/**
 * The block applied to KEYS[1..n] in turn, after PRELUDE, for decisions made together (see
 * ScriptSpec.batch): per key ARGV holds the caller's now (in caller mode), then `argc`
 * arguments. A key named twice reads what its earlier decision wrote. Each decision's
 * commands run through pcall, so a Redis error (WRONGTYPE) fails that decision alone: its
 * place in the reply holds the error's text instead of the decision's five values. One flat
 * list, not a list per decision: Redis converts a table of tables at a cost per table.
 */
const batch = (block: string, argc: number) => `
local caller, a, i, res, r = ARGV[2] == 'c', ARGV, 3, {}, 0
for d = 1, #KEYS do
  if caller then now = tonumber(a[i]); i = i + 1 end
  local key = KEYS[d]
  local s = redis.pcall('GET', key)
  if type(s) == 'table' then
    r = r + 1
    res[r] = s.err
  else
    local out, nxt, ttl, ok, w
    ${block}${integers(`(${NUM})`)}
    if nxt then${writePacked('key', 'nxt', 'ttl', 's', 'w = redis.pcall')}
      if type(w) == 'table' and w.err then out = w.err end
    end
    if type(out) == 'table' then
      res[r + 1], res[r + 2], res[r + 3], res[r + 4], res[r + 5] = out[1], out[2], out[3], out[4], out[5]
      r = r + 5
    else
      r = r + 1
      res[r] = out
    end
  end
  i = i + ${argc}
end
return res
`;

/** The block as a step function for `applyAll`. */
const stepFunction = (name: string, block: string) => `
local function ${name}(s, a, i)
  local out, nxt, ttl, ok
  ${block}${integers('num')}
  return out, nxt, ttl, ok
end
`;

/**
 * The decision from the script's reply from `at`: integers, or texts for the other numbers.
 * Throws (failing the decision) for a reply no script answers, whose first value is not 0 or 1.
 */
const read = (r: readonly unknown[], at: number): RateLimitDecision => ({
  allowed: Number(r[at]) === 1 || (Number(r[at]) === 0 ? false : odd(r)),
  limit: Number(r[at + 1]),
  remaining: Number(r[at + 2]),
  resetMs: Number(r[at + 3]),
  retryAfterMs: Number(r[at + 4]),
});

const decision = (reply: unknown): RateLimitDecision => read(reply as readonly unknown[], 0);

const cost = (input: unknown): string[] => [String(input)];

/** The specs of an algorithm's consume and peek; `names` are its numeric params, in the order its block reads them. */
function algorithm(kind: string, block: Block, names: readonly string[], shared = ''): Record<string, ScriptSpec> {
  const params = (params: JsonValue): string[] | undefined => {
    const p = params as Record<string, unknown> | null;
    const values = names.map((n) => p?.[n]);
    return values.every((v) => typeof v === 'number') ? values.map(String) : undefined;
  };
  const spec = (commit: boolean): ScriptSpec => {
    const name = commit ? kind : `${kind}Peek`;
    return {
      libs: [...(shared ? [shared] : []), stepFunction(name, block(commit))],
      step: name,
      apply: shared + inline(block(commit)),
      batch: { lua: shared + batch(block(commit), names.length + 1), width: 5, arg: String, read },
      params,
      input: cost,
      output: decision,
    };
  };
  return { [`ratelimit.${kind}`]: spec(true), [`ratelimit.${kind}.peek`]: spec(false) };
}

export const rateLimitScripts: Record<string, ScriptSpec> = {
  ...algorithm('tokenBucket', TOKEN_BUCKET, ['capacity', 'refillPerSecond']),
  ...algorithm('gcra', GCRA, ['limit', 'periodMs', 'burst']),
  ...algorithm('fixedWindow', FIXED_WINDOW, ['limit', 'windowMs']),
  ...algorithm('slidingWindow', SLIDING_WINDOW, ['limit', 'windowMs'], SLIDING),
};

/** The state of a rate-limit payload as the get script answers it (`T<tokens>,<at>`), as core's transition keeps it; undefined for another tag. */
export function rateLimitState(payload: string): JsonValue | undefined {
  const n = payload.slice(1).split(',').map(Number);
  switch (payload[0]) {
    case 'T':
      return { tokens: n[0]!, at: n[1]! };
    case 'G':
      return { tat: n[0]! };
    case 'F':
      return { windowStart: n[0]!, count: n[1]! };
    case 'S':
      return { windowStart: n[0]!, current: n[1]!, previous: n[2]! };
    default:
      return undefined;
  }
}
