import type { JsonValue } from '@resilience/core';
import { JSON_HELPERS } from './common.js';
import { parsed, type ScriptSpec, text } from './spec.js';

/**
 * Core's saga log (`saga.log`, with its `touch` lease renewal) and recovery claim
 * (`saga.claim`), as JSON built from raw texts: the saga's input and step results are
 * copied byte for byte. With the server's clock, `staleBefore` (on the caller's clock) is
 * moved by the difference between the two clocks, as the log's `at` is the server's.
 */
const LIB = `
local function sagaLog(s, a, i)
  local ttl, op, owner = tonumber(a[i]), a[i + 1], a[i + 2]
  if op == 'start' then
    if s then return 'false', false, 0 end
    local at, input = num(now), a[i + 4]
    if input == '' then input = nil end
    local log = json('v', '1', 'id', a[i + 3], 'phase', '"running"', 'input', input, 'steps', '[]',
      'startedAt', at, 'at', at, 'owner', owner)
    return 'true', log, ttl
  end
  local f = s and (members(s) or empty())
  if f == nil or f.raw.owner ~= owner then return 'false', false, 0 end
  if op == 'finish' then return 'true', nil, 0 end
  if op == 'phase' then
    put(f, 'phase', a[i + 3])
  elseif op == 'step' then
    local index, name, st, r = tonumber(a[i + 3]), a[i + 4], a[i + 5], a[i + 6]
    local steps = elements(f.raw.steps)
    local previous = members(steps[index + 1])
    if r == '' then r = previous and previous.raw.r end
    for k = #steps + 1, index do steps[k] = 'null' end
    steps[index + 1] = json('name', name, 's', st, 'r', r)
    put(f, 'steps', '[' .. table.concat(steps, ',') .. ']')
  end
  put(f, 'at', num(now))
  return 'true', object(f), ttl
end

local function sagaClaim(s, a, i)
  local ttl, owner, staleBefore = tonumber(a[i]), a[i + 1], tonumber(a[i + 2])
  if ARGV[2] == 's' then staleBefore = staleBefore + (now - tonumber(ARGV[1])) end
  local f = members(s)
  if f == nil or tonumber(f.raw.v) ~= 1 or f.raw.phase == '"failed"' then return false, false, 0 end
  local at = tonumber(f.raw.at)
  if at ~= nil and at > staleBefore then return false, false, 0 end
  put(f, 'phase', '"compensating"')
  put(f, 'owner', owner)
  put(f, 'at', num(now))
  local log = object(f)
  return log, log, ttl
end
`;

const ttl = (params: JsonValue) => {
  const v = (params as { ttlMs?: unknown } | null)?.ttlMs;
  return typeof v === 'number' ? [String(v)] : undefined;
};

type LogInput = { op: string; owner: string; id?: string; input?: unknown; index?: number; name?: string } & {
  s?: string;
  r?: unknown;
  phase?: string;
};

function logInput(input: unknown): string[] {
  const i = input as LogInput;
  const head = [i.op, text(i.owner)];
  switch (i.op) {
    case 'start':
      return [...head, text(i.id), text(i.input)];
    case 'step':
      return [...head, String(i.index), text(i.name), text(i.s), text(i.r)];
    case 'phase':
      return [...head, text(i.phase)];
    default:
      return head;
  }
}

export const sagaScripts: Record<string, ScriptSpec> = {
  'saga.log': { libs: [JSON_HELPERS, LIB], step: 'sagaLog', params: ttl, input: logInput, output: parsed },
  'saga.claim': {
    libs: [JSON_HELPERS, LIB],
    step: 'sagaClaim',
    params: ttl,
    input: (i) => [text((i as { owner: string }).owner), String((i as { staleBefore: number }).staleBefore)],
    output: parsed,
  },
};
