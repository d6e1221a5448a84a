import type { JsonValue, RateLimitDecision } from '@resilience/core';
import type { ScriptSpec } from './spec.js';

/**
 * The four rate-limit algorithms, step for step as `tokenBucket`, `gcra`, `fixedWindow` and
 * `slidingWindow` in core (same operations in the same order on the same doubles), over
 * binary states (see COMMON): a tag, then little-endian doubles, `T` tokens, at; `G` tat;
 * `F` windowStart, count; `S` windowStart, current, previous. A refusal or a peek writes
 * nothing. The decision comes back as an array `allowed (1 or 0), limit, remaining,
 * resetMs, retryAfterMs`: each a Redis integer when it is a whole number Redis carries
 * exactly (the common case, with no number formatted in Lua), else its text (num).
 *
 * Each algorithm is a plain function at the top of the script, its consume and its peek
 * two copies with \`commit\` written in: a factory would build a closure on every call.
 */
const DECISION = `
local min, max = math.min, math.max
local function int(x)
  if x % 1 == 0 and x < 9e15 and x > -9e15 and (x ~= 0 or 1 / x > 0) then return x end
  return num(x)
end
local function decision(allowed, limit, remaining, reset, retry)
  return { allowed and 1 or 0, int(limit), int(remaining), int(reset), int(retry) }
end
`;

const TOKEN_BUCKET = (name: string, commit: boolean) => `
local function ${name}(s, a, i)
  local capacity, perMs, cost = tonumber(a[i]), tonumber(a[i + 1]) / 1000, tonumber(a[i + 2])
  local tokens, from = capacity, now
  if s and byte(s) == 84 then
    local last
    tokens, last = sunpack('<dd', s, 2)
    if now > last then tokens = min(capacity, tokens + (now - last) * perMs) else from = last end
  end
  local allowed = tokens + EPS >= cost
  if not allowed or not ${commit} then
    local retry = 0
    if not allowed then retry = ceil((cost - tokens - EPS) / perMs) end
    return decision(allowed, capacity, floor(tokens + EPS), ceil((capacity - tokens) / perMs), retry), false, 0, allowed
  end
  local left = 0
  if tokens > cost then left = tokens - cost end
  local reset = (capacity - left) / perMs
  return decision(true, capacity, floor(left + EPS), ceil(reset), 0), spack('<Bdd', 84, left, from), reset, true
end
`;

const GCRA = (name: string, commit: boolean) => `
local function ${name}(s, a, i)
  local limit, periodMs, burst, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2]), tonumber(a[i + 3])
  local interval = periodMs / limit
  local tolerance = burst * interval
  local tat = now
  if s and byte(s) == 71 then tat = max(sunpack('<d', s, 2), now) end
  local newTat = tat + cost * interval
  local allowed = newTat - now <= tolerance + EPS * interval
  if not allowed or not ${commit} then
    local retry = 0
    if not allowed then retry = ceil(newTat - tolerance - now - EPS * interval) end
    local remaining = max(0, floor((tolerance - (tat - now)) / interval + EPS))
    return decision(allowed, burst, remaining, ceil(tat - now), retry), false, 0, allowed
  end
  local remaining = max(0, floor((tolerance - (newTat - now)) / interval + EPS))
  return decision(true, burst, remaining, ceil(newTat - now), 0), spack('<Bd', 71, newTat), newTat - now, true
end
`;

const FIXED_WINDOW = (name: string, commit: boolean) => `
local function ${name}(s, a, i)
  local limit, windowMs, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2])
  local start = floor(now / windowMs) * windowMs
  local count = 0
  if s and byte(s) == 70 then
    local at, n = sunpack('<dd', s, 2)
    if at == start then count = n end
  end
  local endMs = start + windowMs - now
  local allowed = count + cost <= limit
  if not allowed or not ${commit} then
    local reset, retry = 0, 0
    if count > 0 then reset = ceil(endMs) end
    if not allowed then retry = ceil(endMs) end
    return decision(allowed, limit, max(0, floor(limit - count)), reset, retry), false, 0, allowed
  end
  local out = decision(true, limit, floor(limit - count - cost), ceil(endMs), 0)
  return out, spack('<Bdd', 70, start, count + cost), endMs, true
end
`;

const SLIDING_WINDOW = (name: string, commit: boolean) => `
local function ${name}(s, a, i)
  local limit, windowMs, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2])
  local start = floor(now / windowMs) * windowMs
  local current, previous = 0, 0
  if s and byte(s) == 83 then
    local at, c, p = sunpack('<ddd', s, 2)
    if at == start then
      current, previous = c, p
    elseif at == start - windowMs then
      previous = c
    end
  end
  local elapsed = (now - start) / windowMs
  local estimate = previous * (1 - elapsed) + current
  local allowed = estimate + cost <= limit + EPS
  if not allowed or not ${commit} then
    local retry = 0
    if not allowed then retry = ceil(slidingAdmitAt(start, windowMs, limit, cost, current, previous) - now) end
    local remaining = max(0, floor(limit - estimate + EPS))
    local reset = ceil(slidingDrainedAt(start, windowMs, current, previous) - now)
    return decision(allowed, limit, remaining, reset, retry), false, 0, allowed
  end
  current = current + cost
  local reset = slidingDrainedAt(start, windowMs, current, previous) - now
  local remaining = max(0, floor(limit - estimate - cost + EPS))
  return decision(true, limit, remaining, ceil(reset), 0), spack('<Bddd', 83, start, current, previous), reset, true
end
`;

/** What the sliding window's consume and peek share. */
const SLIDING = `
local function slidingDrainedAt(start, windowMs, c, p)
  if c > 0 then return start + 2 * windowMs end
  if p > 0 then return start + windowMs end
  return start
end
local function slidingAdmitAt(start, windowMs, limit, cost, c, p)
  local room = limit - cost - c
  if room >= 0 and p > 0 then return start + (1 - room / p) * windowMs end
  local nextRoom = limit - cost
  if c <= nextRoom then return start + windowMs end
  return start + windowMs + (1 - nextRoom / c) * windowMs
end
`;

/** The decision from the script's reply: integers, or texts for the other numbers. */
const decision = (reply: unknown): RateLimitDecision => {
  const r = reply as readonly (number | string)[];
  return {
    allowed: r[0] === 1,
    limit: Number(r[1]),
    remaining: Number(r[2]),
    resetMs: Number(r[3]),
    retryAfterMs: Number(r[4]),
  };
};

const numbers =
  (...names: string[]) =>
  (params: JsonValue): string[] | undefined => {
    const p = params as Record<string, unknown> | null;
    const values = names.map((n) => p?.[n]);
    return values.every((v) => typeof v === 'number') ? values.map(String) : undefined;
  };

const cost = (input: unknown): string[] => [String(input)];

function algorithm(
  kind: string,
  lib: (name: string, commit: boolean) => string,
  params: (p: JsonValue) => string[] | undefined,
  shared: readonly string[] = [],
): Record<string, ScriptSpec> {
  const spec = (commit: boolean): ScriptSpec => {
    const name = commit ? kind : `${kind}Peek`;
    return { libs: [DECISION, ...shared, lib(name, commit)], step: name, params, input: cost, output: decision };
  };
  return { [`ratelimit.${kind}`]: spec(true), [`ratelimit.${kind}.peek`]: spec(false) };
}

export const rateLimitScripts: Record<string, ScriptSpec> = {
  ...algorithm('tokenBucket', TOKEN_BUCKET, numbers('capacity', 'refillPerSecond')),
  ...algorithm('gcra', GCRA, numbers('limit', 'periodMs', 'burst')),
  ...algorithm('fixedWindow', FIXED_WINDOW, numbers('limit', 'windowMs')),
  ...algorithm('slidingWindow', SLIDING_WINDOW, numbers('limit', 'windowMs'), [SLIDING]),
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
