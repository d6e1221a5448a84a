import { createHash } from 'node:crypto';
import { breakerScripts, breakerState } from './lua/breaker.js';
import { APPLY, APPLY_ALL, COMMON, GET, PRELUDE, SCAN, SET } from './lua/common.js';
import { rateLimitScripts, rateLimitState } from './lua/ratelimit.js';
import { recordScripts } from './lua/records.js';
import { sagaScripts } from './lua/saga.js';
import type { ScriptSpec } from './lua/spec.js';

/** A Lua script and its SHA1, the name `EVALSHA` runs it by. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

const script = (...parts: string[]): Script => {
  const source = parts.join('\n');
  return { source, sha: createHash('sha1').update(source).digest('hex') };
};

/** Every transition of the toolkit by name: each has its own script for `apply`. */
const SPECS: Readonly<Record<string, ScriptSpec>> = {
  ...rateLimitScripts,
  ...breakerScripts,
  ...recordScripts,
  ...sagaScripts,
};

/** The spec of a transition name, or undefined when the store has no script for it. */
export const specOf = (name: string): ScriptSpec | undefined => (Object.hasOwn(SPECS, name) ? SPECS[name] : undefined);

const applyScripts = new Map<string, Script>();

/** The script that applies transition `name` (whose spec exists) to one key. */
export function applyScript(name: string): Script {
  let s = applyScripts.get(name);
  if (s === undefined) {
    const spec = SPECS[name]!;
    s =
      spec.apply === undefined
        ? script(COMMON, ...spec.libs, `local step = ${spec.step}`, APPLY)
        : script(PRELUDE, spec.apply);
    applyScripts.set(name, s);
  }
  return s;
}

/** One script for every `applyAll`: all families, and a table of steps by name. */
export const APPLY_ALL_SCRIPT = /* @__PURE__ */ script(
  COMMON,
  ...new Set(Object.values(SPECS).flatMap((s) => s.libs)),
  `local T = { ${Object.entries(SPECS)
    .map(([name, s]) => `['${name}'] = ${s.step}`)
    .join(', ')} }`,
  APPLY_ALL,
);
export const GET_SCRIPT = /* @__PURE__ */ script(COMMON, GET);
export const SET_SCRIPT = /* @__PURE__ */ script(COMMON, SET);
export const SCAN_SCRIPT = /* @__PURE__ */ script(COMMON, SCAN);
export const DELETE_SCRIPT = /* @__PURE__ */ script("return redis.call('DEL', KEYS[1])");

/** The state a stored payload holds: a packed state (its tag first) in the form core keeps it, or JSON. */
export function stateOf(payload: string): unknown {
  const tag = payload.charCodeAt(0);
  if (tag < 65 || tag > 90) return JSON.parse(payload);
  return tag === 66 ? breakerState(payload) : rateLimitState(payload);
}
