import type { JsonValue } from '@resilience/core';
import { JSON_HELPERS } from './common.js';
import { parsed, type ScriptSpec, text } from './spec.js';

/**
 * The idempotency records and the message retry counters of core (`idempotency.*`,
 * `messages.*`), as JSON built from raw texts: callers' values (an outcome, an error
 * text) are copied byte for byte, never decoded, so they come back exactly as sent. Each
 * step mirrors core's transition, including what it does with a value it did not write.
 *
 * Its Lua functions (their comments live here, not in the text sent to Redis):
 * - `finite`: a number read from a record, or nil when it is NaN or infinite (Lua's tonumber
 *   takes `nan`, `inf` and 1e999): a count or a time no step wrote, read as absent.
 * - `liveSink`: a live dead-letter claim (its lease not over), as members, or nil.
 */
const LIB = `
local function finite(x)
  if x and x > -math.huge and x < math.huge then return x end
  return nil
end

local function stateOf(s)
  if s == nil then return nil end
  return members(s) or empty()
end

local function idemBegin(s, a, i)
  local lock, fp, owner = tonumber(a[i]), a[i + 1], a[i + 2]
  local f = stateOf(s)
  local inFlight = f ~= nil and f.raw.s == '"in_flight"'
  local untilMs = f and finite(tonumber(f.raw['until']))
  if f == nil or (inFlight and (untilMs == nil or untilMs <= now)) then
    local record = json('s', '"in_flight"', 'fp', fp, 'owner', owner, 'until', num(now + lock))
    return '{"kind":"acquired"}', record, lock
  end
  local stored = f.raw.fp
  if stored ~= 'null' and fp ~= 'null' and stored ~= fp then return '{"kind":"mismatch"}', false, 0 end
  if inFlight then
    if f.raw.owner == owner then return '{"kind":"acquired"}', false, 0 end
    local wait = 'null'
    if untilMs ~= nil then wait = num(untilMs - now) end
    return json('kind', '"in_flight"', 'waitMs', wait), false, 0
  end
  return json('kind', '"done"', 'outcome', f.raw.outcome), false, 0
end

local function idemComplete(s, a, i)
  local ttl, fp, owner, outcome = tonumber(a[i]), a[i + 1], a[i + 2], a[i + 3]
  local f = stateOf(s)
  if f ~= nil and not (f.raw.s == '"in_flight"' and f.raw.owner == owner) then
    return tostring(f.raw.owner == owner), false, 0
  end
  return 'true', json('s', '"done"', 'fp', fp, 'owner', owner, 'outcome', outcome), ttl
end

local function idemRelease(s, a, i)
  local f = stateOf(s)
  if f ~= nil and f.raw.s == '"in_flight"' and f.raw.owner == a[i] then return 'true', nil, 0 end
  return 'false', false, 0
end

local function liveSink(f)
  if f == nil then return nil end
  local sink = members(f.raw.sink)
  local untilMs = sink and finite(tonumber(sink.raw['until']))
  if untilMs ~= nil and untilMs > now then return sink end
  return nil
end

local function msgAttempt(s, a, i)
  local ttl = tonumber(a[i])
  local f = stateOf(s)
  if f ~= nil and f.raw.dead ~= nil then return json('attempt', f.raw.n, 'dead', f.raw.dead), false, 0 end
  if liveSink(f) then return json('attempt', f.raw.n, 'sinking', 'true'), false, 0 end
  local n = num((finite(tonumber(given(f and f.raw.n))) or 0) + 1)
  local last, owe = f and f.raw.last, f and f.raw.owe
  return json('n', n, 'last', last, 'owe', owe, 'attempt', n), json('n', n, 'last', last, 'owe', owe), ttl
end

local function msgFailed(s, a, i)
  local f = stateOf(s)
  if f == nil or f.raw.dead ~= nil then return 'null', false, 0 end
  put(f, 'last', a[i + 1])
  return 'null', object(f), tonumber(a[i])
end

local function msgClaim(s, a, i)
  local ttl, lease, by = tonumber(a[i]), tonumber(a[i + 1]), a[i + 2]
  local f = stateOf(s)
  if f ~= nil and f.raw.dead ~= nil then return '"dead"', false, 0 end
  local sink = liveSink(f)
  if sink ~= nil and sink.raw.by ~= by then return '"busy"', false, 0 end
  local last, owe = a[i + 3], a[i + 4]
  if last == nil or last == '' then last = f and f.raw.last end
  if owe == nil or owe == '' then owe = f and f.raw.owe end
  local claim = json('by', by, 'until', num(now + lease))
  local nxt = json('n', given(f and f.raw.n) or '0', 'last', last, 'owe', owe, 'sink', claim)
  return '"claimed"', nxt, math.max(ttl, lease)
end

local function msgRelease(s, a, i)
  local ttl, by, last, owe = tonumber(a[i]), a[i + 1], a[i + 2], a[i + 3]
  local f = stateOf(s)
  local sink = f and members(f.raw.sink)
  if sink == nil or sink.raw.by ~= by then return 'false', false, 0 end
  if last == '' then last = f.raw.last end
  if owe == '' then owe = nil end
  return 'true', json('n', f.raw.n, 'last', last, 'owe', owe), ttl
end

local function msgDone(s, a, i)
  local f = stateOf(s)
  if f ~= nil and (f.raw.dead ~= nil or liveSink(f)) then return 'null', false, 0 end
  return 'null', nil, 0
end

local function msgDead(s, a, i)
  local f = stateOf(s)
  return 'null', json('n', given(f and f.raw.n) or '0', 'dead', a[i + 1]), tonumber(a[i])
end
`;

const ms = (name: string) => (params: JsonValue) => {
  const v = (params as Record<string, unknown> | null)?.[name];
  return typeof v === 'number' ? [String(v)] : undefined;
};
const record = (step: string, params: ScriptSpec['params'], input: ScriptSpec['input'], output = parsed) =>
  ({ libs: [JSON_HELPERS, LIB], step, params, input, output }) satisfies ScriptSpec;

type Claim = { fp: string | null; owner: string; outcome?: unknown };

export const recordScripts: Record<string, ScriptSpec> = {
  'idempotency.begin': record('idemBegin', ms('lockTimeoutMs'), (i) => [
    text((i as Claim).fp),
    text((i as Claim).owner),
  ]),
  'idempotency.complete': record('idemComplete', ms('ttlMs'), (i) => {
    const c = i as Claim;
    return [text(c.fp), text(c.owner), text(c.outcome)];
  }),
  'idempotency.release': record(
    'idemRelease',
    () => [],
    (i) => [text((i as Claim).owner)],
  ),
  'messages.attempt': record('msgAttempt', ms('ttlMs'), () => []),
  'messages.failed': record('msgFailed', ms('ttlMs'), (i) => [text((i as { last: string }).last)]),
  'messages.claim': record(
    'msgClaim',
    (p) => {
      const [ttl, lease] = [ms('ttlMs')(p), ms('leaseMs')(p)];
      return ttl && lease && [...ttl, ...lease];
    },
    (i) => {
      const c = i as { by: string; last?: string; reason?: string };
      return [text(c.by), text(c.last), text(c.reason)];
    },
  ),
  'messages.release': record('msgRelease', ms('ttlMs'), (i) => {
    const r = i as { by: string; last?: string; reason: string };
    return [text(r.by), text(r.last), text(r.reason)];
  }),
  'messages.dead': record('msgDead', ms('ttlMs'), (i) => [text((i as { reason: string }).reason)]),
  'messages.done': record(
    'msgDone',
    () => [],
    () => [],
  ),
};
