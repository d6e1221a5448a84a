import type { JsonValue, RateLimitDecision } from '@resilience/core';
import type { ScriptSpec } from './spec.js';

/**
 * The four rate-limit algorithms, step for step as `tokenBucket`, `gcra`, `fixedWindow` and
 * `slidingWindow` in core (same operations in the same order on the same doubles), over
 * packed states: `T<tokens>,<at>`, `G<tat>`, `F<windowStart>,<count>`,
 * `S<windowStart>,<current>,<previous>`. A refusal or a peek writes nothing. The decision
 * comes back as an array `allowed (1 or 0), limit, remaining, resetMs, retryAfterMs`: each
 * a Redis integer when it is a whole number Redis carries exactly (the common case, with
 * no number formatted in Lua), else its text (num).
 */
const DECISION = `
local function int(x)
  if x == floor(x) and x < 9e15 and x > -9e15 and (x ~= 0 or 1 / x > 0) then return x end
  return num(x)
end
local function decision(allowed, limit, remaining, reset, retry)
  return { allowed and 1 or 0, int(limit), int(remaining), int(reset), int(retry) }
end
`;

const TOKEN_BUCKET = `
local function tokenBucket(commit)
  return function(s, a, i)
    local capacity, perMs, cost = tonumber(a[i]), tonumber(a[i + 1]) / 1000, tonumber(a[i + 2])
    local st = packed(s, 'T')
    local tokens, from = capacity, now
    if st then
      local last = st[2]
      tokens = st[1]
      if now > last then tokens = math.min(capacity, tokens + (now - last) * perMs) else from = last end
    end
    local allowed = tokens + EPS >= cost
    if not allowed or not commit then
      local retry = 0
      if not allowed then retry = math.ceil((cost - tokens - EPS) / perMs) end
      local out = decision(allowed, capacity, math.floor(tokens + EPS), math.ceil((capacity - tokens) / perMs), retry)
      return out, false, 0, allowed
    end
    local left = 0
    if tokens > cost then left = tokens - cost end
    local reset = (capacity - left) / perMs
    return decision(true, capacity, math.floor(left + EPS), math.ceil(reset), 0), 'T' .. num(left) .. ',' .. num(from), reset, true
  end
end
`;

const GCRA = `
local function gcra(commit)
  return function(s, a, i)
    local limit, periodMs, burst, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2]), tonumber(a[i + 3])
    local interval = periodMs / limit
    local tolerance = burst * interval
    local st = packed(s, 'G')
    local tat = now
    if st then tat = math.max(st[1], now) end
    local newTat = tat + cost * interval
    local allowed = newTat - now <= tolerance + EPS * interval
    if not allowed or not commit then
      local retry = 0
      if not allowed then retry = math.ceil(newTat - tolerance - now - EPS * interval) end
      local remaining = math.max(0, math.floor((tolerance - (tat - now)) / interval + EPS))
      return decision(allowed, burst, remaining, math.ceil(tat - now), retry), false, 0, allowed
    end
    local remaining = math.max(0, math.floor((tolerance - (newTat - now)) / interval + EPS))
    return decision(true, burst, remaining, math.ceil(newTat - now), 0), 'G' .. num(newTat), newTat - now, true
  end
end
`;

const FIXED_WINDOW = `
local function fixedWindow(commit)
  return function(s, a, i)
    local limit, windowMs, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2])
    local start = math.floor(now / windowMs) * windowMs
    local st = packed(s, 'F')
    local count = 0
    if st and st[1] == start then count = st[2] end
    local endMs = start + windowMs - now
    local allowed = count + cost <= limit
    if not allowed or not commit then
      local reset, retry = 0, 0
      if count > 0 then reset = math.ceil(endMs) end
      if not allowed then retry = math.ceil(endMs) end
      return decision(allowed, limit, math.max(0, math.floor(limit - count)), reset, retry), false, 0, allowed
    end
    local out = decision(true, limit, math.floor(limit - count - cost), math.ceil(endMs), 0)
    return out, 'F' .. num(start) .. ',' .. num(count + cost), endMs, true
  end
end
`;

const SLIDING_WINDOW = `
local function slidingWindow(commit)
  return function(s, a, i)
    local limit, windowMs, cost = tonumber(a[i]), tonumber(a[i + 1]), tonumber(a[i + 2])
    local start = math.floor(now / windowMs) * windowMs
    local current, previous = 0, 0
    local st = packed(s, 'S')
    if st then
      if st[1] == start then
        current, previous = st[2], st[3]
      elseif st[1] == start - windowMs then
        previous = st[2]
      end
    end
    local function drainedAt(c, p)
      if c > 0 then return start + 2 * windowMs end
      if p > 0 then return start + windowMs end
      return start
    end
    local function admitAt(c, p)
      local room = limit - cost - c
      if room >= 0 and p > 0 then return start + (1 - room / p) * windowMs end
      local nextRoom = limit - cost
      if c <= nextRoom then return start + windowMs end
      return start + windowMs + (1 - nextRoom / c) * windowMs
    end
    local elapsed = (now - start) / windowMs
    local estimate = previous * (1 - elapsed) + current
    local allowed = estimate + cost <= limit + EPS
    if not allowed or not commit then
      local retry = 0
      if not allowed then retry = math.ceil(admitAt(current, previous) - now) end
      local remaining = math.max(0, math.floor(limit - estimate + EPS))
      return decision(allowed, limit, remaining, math.ceil(drainedAt(current, previous) - now), retry), false, 0, allowed
    end
    current = current + cost
    local reset = drainedAt(current, previous) - now
    local remaining = math.max(0, math.floor(limit - estimate - cost + EPS))
    local nxt = 'S' .. num(start) .. ',' .. num(current) .. ',' .. num(previous)
    return decision(true, limit, remaining, math.ceil(reset), 0), nxt, reset, true
  end
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
  lib: string,
  params: (p: JsonValue) => string[] | undefined,
): Record<string, ScriptSpec> {
  const spec = (commit: boolean): ScriptSpec => ({
    libs: [DECISION, lib],
    step: `${kind}(${commit})`,
    params,
    input: cost,
    output: decision,
  });
  return { [`ratelimit.${kind}`]: spec(true), [`ratelimit.${kind}.peek`]: spec(false) };
}

export const rateLimitScripts: Record<string, ScriptSpec> = {
  ...algorithm('tokenBucket', TOKEN_BUCKET, numbers('capacity', 'refillPerSecond')),
  ...algorithm('gcra', GCRA, numbers('limit', 'periodMs', 'burst')),
  ...algorithm('fixedWindow', FIXED_WINDOW, numbers('limit', 'windowMs')),
  ...algorithm('slidingWindow', SLIDING_WINDOW, numbers('limit', 'windowMs')),
};

/** The state of a packed rate-limit payload, as core's transition keeps it; undefined for another tag. */
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
