import type {
  BreakerDecision,
  BreakerSyncInput,
  BreakerSyncOutput,
  BreakerTally,
  BreakerWindowSnapshot,
  JsonValue,
} from '@resilience/core';
import { odd, type ScriptSpec } from './spec.js';

/**
 * `breakerTransition`: core's `BreakerMachine` and its three windows, step for step, over
 * a packed state `B,<state>,<round>,<nextProbeAt>,<openings>,<lastDelayMs>,<lastProbeAt>,
 * <probes>,<probeSuccesses>,<isolations>,<window kind>,<window numbers...>`. Only a numeric
 * `halfOpenAfter` (a fixed delay): a `Backoff` is a function Redis cannot run, so such a
 * breaker is refused at construction (`supports` is false). A stored window that does not
 * fit the strategy (a deploy changed it) starts empty, the rest of the state kept, as in core.
 *
 * Its Lua functions (their comments live here, not in the text sent to Redis):
 * - `ones`: how many of the lowest n (1 to 32) bits of a word are set (a popcount with Redis's `bit`).
 * - `ringOnes`: the bits set among the first n slots of the words after `from`: a count window's
 *   failures or slow calls, restored a word at a time (a window of 100 000 calls is 3 125 words a
 *   kind, not 100 000 slots: Redis ran 35 ms a call restoring it slot by slot, 11 ms now, most of it
 *   reading and writing the words' text).
 * - `trips`: a rate rule: enough calls, and the failure or slow-call rate at its threshold.
 * - `w.merge`: (count window) in order: successes, slow successes, failures, slow failures;
 *   only the last size stay.
 * - `rule`: the numbers of a rate rule from ARGV[i ..]: failureRate, minimumCalls, slowCallMs
 *   ('' for none), slowCallRate.
 * - `restore`: the machine of a stored state (one it could not have written, with an unknown
 *   state, too few fields or a number that is not finite, NaN, inf or text: as absent). kind: 'c' consecutive (threshold), 'n' count
 *   window (size, rule), 't' time window (windowMs, buckets, rule); params from ARGV[i].
 *   Returns it and the index of the first argument after the params.
 * - `m.ttl`: the idle TTL written with each state: a day, or four times the longest delay
 *   (halfOpenAfter, windowMs), so a live open state is written again (a probe) long before;
 *   none while isolated (only release() ends an isolation).
 * - `m.rebase`: after a clock stepped back, a probe is due one delay from now, not the step
 *   as well (core's BreakerMachine#rebase).
 * - `m.retry`: ms until a probe could be admitted: '' while isolated.
 * - `breakerSync`: a synchronisation: after the params, ARGV holds the tally's round ('' for
 *   any) and its seven numbers (s, ss, f, sf, lead, run, tail; '' for none). Merges the tally
 *   while closed in its round; replies 'state,round,retry,now,changed,<window>'. Writes when
 *   it merged or rebased the probe time.
 */
const LIB = `
local STATES = { c = 'closed', o = 'open', h = 'half-open', i = 'isolated' }
local SHORT = { closed = 'c', open = 'o', ['half-open'] = 'h', isolated = 'i' }

local function bitAt(word, b) return math.floor(word / 2 ^ b) % 2 == 1 end
local function setBit(word, b, on)
  local was = bitAt(word, b)
  if on and not was then return word + 2 ^ b end
  if was and not on then return word - 2 ^ b end
  return word
end

local band, rshift = bit.band, bit.rshift
local function ones(x, n)
  if n < 32 then x = band(x, 2 ^ n - 1) end
  x = x - band(rshift(x, 1), 0x55555555)
  x = band(x, 0x33333333) + band(rshift(x, 2), 0x33333333)
  x = band(x + rshift(x, 4), 0x0F0F0F0F)
  return band(x, 255) + band(rshift(x, 8), 255) + band(rshift(x, 16), 255) + rshift(x, 24)
end
local function ringOnes(bits, from, n)
  local count, full = 0, math.floor(n / 32)
  for k = 1, full do count = count + ones(bits[from + k], 32) end
  if n % 32 > 0 then count = count + ones(bits[from + full + 1], n % 32) end
  return count
end

local function trips(r, calls, failures, slow)
  if calls < r.minimumCalls or calls == 0 then return false end
  if failures / calls >= r.failureRate then return true end
  return r.slowCallMs ~= nil and slow / calls >= r.slowCallRate
end

local function consecutiveWindow(threshold, f, k)
  local w = { failures = 0 }
  if f and f[k] == 'c' then w.failures = tonumber(f[k + 1]) end
  function w.record(failed)
    if not failed then w.failures = 0 return false end
    w.failures = w.failures + 1
    return w.failures >= threshold
  end
  function w.merge(t)
    if t.s + t.ss == 0 then
      if t.tail == 0 then return false end
      w.failures = w.failures + t.tail
      return w.failures >= threshold
    end
    local trips = (t.lead > 0 and w.failures + t.lead >= threshold) or t.run >= threshold
    w.failures = t.tail
    return trips
  end
  function w.reset() w.failures = 0 end
  function w.pack() return 'c,' .. num(w.failures) end
  return w
end

local function countWindow(r, f, k)
  local size = r.size
  local words = math.ceil(size / 32)
  local w = { bits = {}, next = 0, filled = 0, failures = 0, slow = 0 }
  if not (f and f[k] == 'n' and tonumber(f[k + 1]) == size) then
    for b = 1, 2 * words do w.bits[b] = 0 end
  else
    w.next, w.filled = tonumber(f[k + 2]), tonumber(f[k + 3])
    for b = 1, 2 * words do w.bits[b] = tonumber(f[k + 3 + b]) end
    local n = math.min(w.filled, size)
    w.failures, w.slow = ringOnes(w.bits, 0, n), ringOnes(w.bits, words, n)
  end
  function w.record(failed, slow)
    local i = w.next
    local word, b = math.floor(i / 32) + 1, i % 32
    local slowWord = word + words
    if w.filled == size then
      if bitAt(w.bits[word], b) then w.failures = w.failures - 1 end
      if bitAt(w.bits[slowWord], b) then w.slow = w.slow - 1 end
    else
      w.filled = w.filled + 1
    end
    w.bits[word] = setBit(w.bits[word], b, failed)
    if failed then w.failures = w.failures + 1 end
    w.bits[slowWord] = setBit(w.bits[slowWord], b, slow)
    if slow then w.slow = w.slow + 1 end
    if i + 1 == size then w.next = 0 else w.next = i + 1 end
    return (failed or slow) and trips(r, w.filled, w.failures, w.slow)
  end
  function w.merge(t)
    local runs = { t.s, t.ss, t.f, t.sf }
    local skip = math.max(0, t.s + t.ss + t.f + t.sf - size)
    for kind = 1, 4 do
      local n = runs[kind]
      local skipped = math.min(n, skip)
      skip = skip - skipped
      for _ = skipped + 1, n do
        if w.record(kind >= 3, kind % 2 == 0) then return true end
      end
    end
    return false
  end
  function w.reset()
    for b = 1, 2 * words do w.bits[b] = 0 end
    w.next, w.filled, w.failures, w.slow = 0, 0, 0, 0
  end
  function w.pack()
    local parts = { 'n', num(size), num(w.next), num(w.filled) }
    for b = 1, 2 * words do parts[#parts + 1] = num(w.bits[b]) end
    return table.concat(parts, ',')
  end
  return w
end

local function timeWindow(r, f, k)
  local buckets = r.buckets
  local bucketMs = r.windowMs / buckets
  local w = { epochs = {}, counts = {} }
  for b = 1, buckets do w.epochs[b] = -1 end
  for c = 1, 3 * buckets do w.counts[c] = 0 end
  if f and f[k] == 't' and tonumber(f[k + 1]) == buckets and tonumber(f[k + 2]) == bucketMs then
    for b = 1, buckets do w.epochs[b] = tonumber(f[k + 2 + b]) end
    for c = 1, 3 * buckets do w.counts[c] = tonumber(f[k + 2 + buckets + c]) end
  end
  function w.add(calls, failed, slow, at)
    local epoch = math.floor(at / bucketMs)
    local i = ((epoch % buckets) + buckets) % buckets
    local c = 3 * i + 1
    local counts = w.counts
    if w.epochs[i + 1] ~= epoch then
      w.epochs[i + 1] = epoch
      counts[c], counts[c + 1], counts[c + 2] = 0, 0, 0
    end
    counts[c] = counts[c] + calls
    counts[c + 1] = counts[c + 1] + failed
    counts[c + 2] = counts[c + 2] + slow
    if failed == 0 and slow == 0 then return false end
    local total, failures, slowCalls = 0, 0, 0
    for b = 0, buckets - 1 do
      local e = w.epochs[b + 1]
      if not (e <= epoch - buckets or e > epoch) then
        total = total + counts[3 * b + 1]
        failures = failures + counts[3 * b + 2]
        slowCalls = slowCalls + counts[3 * b + 3]
      end
    end
    return trips(r, total, failures, slowCalls)
  end
  function w.record(failed, slow, at)
    return w.add(1, failed and 1 or 0, slow and 1 or 0, at)
  end
  function w.merge(t, at)
    local failures = t.f + t.sf
    local calls = t.s + t.ss + failures
    return calls > 0 and w.add(calls, failures, t.ss + t.sf, at)
  end
  function w.reset()
    for b = 1, buckets do w.epochs[b] = -1 end
    for c = 1, 3 * buckets do w.counts[c] = 0 end
  end
  function w.pack()
    local parts = { 't', num(buckets), num(bucketMs) }
    for b = 1, buckets do parts[#parts + 1] = num(w.epochs[b]) end
    for c = 1, 3 * buckets do parts[#parts + 1] = num(w.counts[c]) end
    return table.concat(parts, ',')
  end
  return w
end

local function rule(a, i, r)
  r.failureRate, r.minimumCalls = tonumber(a[i]), tonumber(a[i + 1])
  r.slowCallMs, r.slowCallRate = tonumber(a[i + 2]), tonumber(a[i + 3])
  return r
end

local function restore(kind, s, a, i)
  local delayMs, maxCalls = tonumber(a[i]), tonumber(a[i + 1])
  local f = nil
  if s ~= nil and string.sub(s, 1, 2) == 'B,' then
    f = {}
    for x in string.gmatch(string.sub(s, 3), '[^,]+') do
      local n = #f ~= 0 and #f ~= 9 and tonumber(x)
      if n ~= false and not (n and n > -math.huge and n < math.huge) then f = nil break end
      f[#f + 1] = x
    end
    if f and not (STATES[f[1]] and #f > 10) then f = nil end
  end
  local window, j
  if kind == 'c' then
    window, j = consecutiveWindow(tonumber(a[i + 2]), f, 10), i + 3
  elseif kind == 'n' then
    window, j = countWindow(rule(a, i + 3, { size = tonumber(a[i + 2]) }), f, 10), i + 7
  else
    window, j = timeWindow(rule(a, i + 4, { windowMs = tonumber(a[i + 2]), buckets = tonumber(a[i + 3]) }), f, 10), i + 8
  end
  local keep = 4 * math.max(216e5, delayMs, kind == 't' and a[i + 2] or 0)
  local m = { state = 'closed', round = 0, nextProbeAt = 0, openings = 0, lastDelayMs = 0, lastProbeAt = 0,
    probes = 0, probeSuccesses = 0, isolations = 0, window = window, maxCalls = maxCalls }
  function m.ttl() return m.state == 'isolated' and math.huge or keep end
  if f then
    m.state = STATES[f[1]]
    m.round, m.nextProbeAt, m.openings = tonumber(f[2]), tonumber(f[3]), tonumber(f[4])
    m.lastDelayMs, m.lastProbeAt, m.probes = tonumber(f[5]), tonumber(f[6]), tonumber(f[7])
    m.probeSuccesses, m.isolations = tonumber(f[8]), tonumber(f[9])
  end
  function m.move(to) m.state = to m.round = m.round + 1 end
  -- A probe round that ran out re-opens 2^20 rounds on, every other move one: a late probe
  -- success counts while every move since its round was such an opening or the half-open after
  -- it (core's machine.ts, settleProbe).
  function m.open(ranOut)
    if ranOut then m.round = m.round + 1048575 end
    m.openings = m.openings + 1
    m.lastDelayMs = delayMs
    m.nextProbeAt = now + delayMs
    m.probes, m.probeSuccesses = 0, 0
    window.reset()
    m.move('open')
  end
  function m.close()
    m.openings, m.lastDelayMs, m.probes, m.probeSuccesses = 0, 0, 0, 0
    window.reset()
    m.move('closed')
  end
  function m.rebase()
    m.nextProbeAt = math.min(m.nextProbeAt, now + m.lastDelayMs)
    m.lastProbeAt = math.min(m.lastProbeAt, now)
  end
  function m.retry()
    if m.state == 'isolated' then return '' end
    m.rebase()
    if m.state == 'open' then return num(math.max(0, m.nextProbeAt - now)) end
    if m.state == 'half-open' and m.probes >= maxCalls then return num(math.max(0, m.lastProbeAt + m.lastDelayMs - now)) end
    return '0'
  end
  function m.pack(packed)
    return table.concat({ 'B', SHORT[m.state], num(m.round), num(m.nextProbeAt), num(m.openings), num(m.lastDelayMs),
      num(m.lastProbeAt), num(m.probes), num(m.probeSuccesses), num(m.isolations), packed or window.pack() }, ',')
  end
  return m, j
end

local function breaker(kind)
  return function(s, a, i)
    local m, j = restore(kind, s, a, i)
    local window, maxCalls = m.window, m.maxCalls
    local typ = a[j]
    local admission = ''
    if typ == 'acquire' then
      if m.state == 'closed' then
        admission = 'call'
      else
        m.rebase()
        if m.state == 'open' and now >= m.nextProbeAt then
          m.lastProbeAt, m.probes = now, 0
          m.move('half-open')
        elseif m.state == 'half-open' and m.probes >= maxCalls and now >= m.lastProbeAt + m.lastDelayMs then
          m.open(true)
        end
        if m.state == 'half-open' and m.probes < maxCalls then
          m.probes = m.probes + 1
          m.lastProbeAt = now
          admission = 'probe'
        else
          admission = 'reject'
        end
      end
    elseif typ == 'settle' then
      local outcome, probeRound, round = a[j + 1], tonumber(a[j + 2]), tonumber(a[j + 3])
      if probeRound == nil then
        if round == nil then round = m.round end
        if outcome ~= 'ignored' and round == m.round and m.state == 'closed' then
          if window.record(outcome == 'failure', a[j + 4] == '1', now) then m.open() end
        end
      elseif probeRound == m.round then
        m.probes = m.probes - 1
        if outcome == 'failure' then
          m.open()
        elseif outcome == 'success' then
          m.probeSuccesses = m.probeSuccesses + 1
          if m.probeSuccesses >= maxCalls then m.close() end
        end
      elseif outcome == 'success' and m.round - probeRound >= 1048576
        and (m.round - probeRound) % 1048576 <= (m.round - probeRound) / 1048576
        and (m.state == 'open' or m.state == 'half-open') then
        m.probeSuccesses = m.probeSuccesses + 1
        if m.probeSuccesses >= maxCalls then m.close() end
      end
    elseif typ == 'isolate' then
      m.isolations = m.isolations + 1
      if m.state ~= 'isolated' then m.move('isolated') end
    elseif typ == 'release' then
      if m.isolations > 0 then
        m.isolations = m.isolations - 1
        if m.isolations == 0 and m.state == 'isolated' then m.close() end
      end
    elseif typ == 'reset' then
      m.isolations = 0
      m.close()
    end
    return admission .. ',' .. m.state .. ',' .. num(m.round) .. ',' .. m.retry(), m.pack(), m.ttl()
  end
end

local function breakerSync(kind)
  return function(s, a, i)
    local m, j = restore(kind, s, a, i)
    local round, due = m.round, m.nextProbeAt
    local wanted = tonumber(a[j])
    local merged = a[j + 1] ~= '' and m.state == 'closed' and (wanted == nil or wanted == round)
    if merged then
      local t = { s = tonumber(a[j + 1]), ss = tonumber(a[j + 2]), f = tonumber(a[j + 3]), sf = tonumber(a[j + 4]),
        lead = tonumber(a[j + 5]), run = tonumber(a[j + 6]), tail = tonumber(a[j + 7]) }
      if m.window.merge(t, now) then m.open() end
    end
    local changed = '0'
    if m.round ~= round then changed = '1' end
    local packed = m.window.pack()
    local out = m.state .. ',' .. num(m.round) .. ',' .. m.retry() .. ',' .. num(now) .. ',' .. changed .. ',' .. packed
    if merged or m.nextProbeAt ~= due then return out, m.pack(packed), m.ttl() end
    return out, false, 0
  end
end
`;

type Params = { strategy?: Record<string, unknown>; halfOpenAfter?: unknown; halfOpenMaxCalls?: unknown };

const optional = (v: unknown): string => (typeof v === 'number' ? String(v) : '');

/** Arguments of the strategy params, or undefined when they are not what the script reads. */
function strategyArgs(s: Record<string, unknown>): string[] | undefined {
  const rule = [s.failureRate, s.minimumCalls, s.slowCallMs, s.slowCallRate];
  switch (s.kind) {
    case 'consecutive':
      return typeof s.threshold === 'number' ? [String(s.threshold)] : undefined;
    case 'count-window':
      return [String(s.size), ...rule.map(optional)];
    case 'time-window':
      return [String(s.windowMs), String(s.buckets), ...rule.map(optional)];
    default:
      return undefined;
  }
}

/** The params as the scripts read them, or undefined when no script can follow them. */
function params(params: JsonValue): string[] | undefined {
  const p = params as Params | null;
  // A Backoff shows as "backoff": only a fixed delay can run in Redis.
  if (typeof p?.halfOpenAfter !== 'number' || typeof p.halfOpenMaxCalls !== 'number' || !p.strategy) return undefined;
  const strategy = strategyArgs(p.strategy);
  return strategy && [String(p.halfOpenAfter), String(p.halfOpenMaxCalls), ...strategy];
}

function breakerScript(kind: 'c' | 'n' | 't'): ScriptSpec {
  return {
    libs: [LIB],
    step: `breaker('${kind}')`,
    params,
    input(input) {
      const i = input as { type: string; outcome?: string; probeRound?: number; round?: number; slow?: boolean };
      return [i.type, i.outcome ?? '', optional(i.probeRound), optional(i.round), i.slow === true ? '1' : ''];
    },
    output(reply): BreakerDecision {
      const [admission, state, round, retry] = String(reply).split(',');
      return checked(reply, {
        admission: admission === '' ? undefined : (admission as BreakerDecision['admission']),
        state: state as BreakerDecision['state'],
        round: Number(round),
        retryAfterMs: retry === '' ? null : Number(retry),
      });
    },
  };
}

/**
 * A step's reply read as `out`, when it is one the scripts answer: a state, an integer round,
 * a delay of 0 or more or none; else an error, which fails the step (a client or proxy in
 * between that answered something else).
 */
function checked<T extends { state: string; round: number; retryAfterMs: number | null }>(reply: unknown, out: T): T {
  const { state, round, retryAfterMs: wait } = out;
  return Object.values(STATE_NAMES).includes(state) && Number.isSafeInteger(round) && (wait === null || wait >= 0)
    ? out
    : odd(reply);
}

const TALLY_FIELDS = [
  'successes',
  'slowSuccesses',
  'failures',
  'slowFailures',
  'leading',
  'longestRun',
  'trailing',
] as const satisfies readonly (keyof BreakerTally)[];

/** The synchronisation of a breaker (`breakerSyncTransition`): a tally in, the shared state and window out. */
function breakerSyncScript(kind: 'c' | 'n' | 't'): ScriptSpec {
  return {
    libs: [LIB],
    step: `breakerSync('${kind}')`,
    params,
    input(input) {
      const { tally, round } = input as BreakerSyncInput;
      return [optional(round), ...(tally === null ? [''] : TALLY_FIELDS.map((f) => String(tally[f])))];
    },
    output(reply): BreakerSyncOutput {
      const [state, round, retry, now, changed, ...window] = String(reply).split(',');
      return checked(reply, {
        state: state as BreakerSyncOutput['state'],
        round: Number(round),
        retryAfterMs: retry === '' ? null : Number(retry),
        window: windowOf(window),
        now: Number(now),
        changed: changed === '1',
      });
    },
  };
}

export const breakerScripts: Record<string, ScriptSpec> = {
  'breaker.consecutive': breakerScript('c'),
  'breaker.count-window': breakerScript('n'),
  'breaker.time-window': breakerScript('t'),
  'breaker.consecutive.sync': breakerSyncScript('c'),
  'breaker.count-window.sync': breakerSyncScript('n'),
  'breaker.time-window.sync': breakerSyncScript('t'),
};

const STATE_NAMES: Record<string, string> = { c: 'closed', o: 'open', h: 'half-open', i: 'isolated' };

/** A packed window (`c,<failures>`, `n,<size>,...`, `t,<buckets>,...`, split at commas) as core's snapshot. */
function windowOf([kind, ...w]: string[]): BreakerWindowSnapshot {
  const numbers = w.map(Number);
  if (kind === 'c') return { kind: 'consecutive', failures: numbers[0]! };
  if (kind === 'n') {
    return { kind: 'count-window', size: numbers[0]!, next: numbers[1]!, filled: numbers[2]!, bits: numbers.slice(3) };
  }
  const buckets = numbers[0]!;
  return {
    kind: 'time-window',
    buckets,
    bucketMs: numbers[1]!,
    epochs: numbers.slice(2, 2 + buckets),
    counts: numbers.slice(2 + buckets),
  };
}

/** The snapshot of a packed breaker payload (`B,...`), as core's transition keeps it. */
export function breakerState(payload: string): JsonValue {
  const [, state, ...rest] = payload.split(',');
  const n = (k: number) => Number(rest[k]);
  return {
    version: 1,
    state: STATE_NAMES[state!]!,
    round: n(0),
    nextProbeAt: n(1),
    openings: n(2),
    lastDelayMs: n(3),
    lastProbeAt: n(4),
    probes: n(5),
    probeSuccesses: n(6),
    isolations: n(7),
    window: windowOf(rest.slice(8)) as unknown as JsonValue,
  };
}
