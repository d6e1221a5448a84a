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

const batchScripts = new Map<string, Script>();

/** The script that applies transition `name` (whose spec has `batch`) to several keys in one call. */
export function batchScript(name: string): Script {
  let s = batchScripts.get(name);
  if (s === undefined) {
    s = script(PRELUDE, SPECS[name]!.batch!.lua);
    batchScripts.set(name, s);
  }
  return s;
}

/** The sets of transitions whose `applyAll` script is kept; any other set runs the script of every step. */
const MAX_APPLY_ALL_SCRIPTS = 64;
const applyAllScripts = new Map<string, Script>();
let everyStep: Script | undefined;

const applyAllOf = (names: readonly string[]): Script => {
  const specs = [...new Set(names)].sort().map((name) => [name, SPECS[name]!] as const);
  return script(
    COMMON,
    ...new Set(specs.flatMap(([, spec]) => spec.libs)),
    `local T = { ${specs.map(([name, spec]) => `['${name}'] = ${spec.step}`).join(', ')} }`,
    APPLY_ALL,
  );
};

/**
 * The script of an `applyAll` over these transitions (whose specs exist): only their
 * families' Lua and a table of their steps, as a script defines every function it holds on
 * every call; the same text whatever their order. Kept per list of names (a limiter's limits
 * send one), at most MAX_APPLY_ALL_SCRIPTS lists.
 */
export function applyAllScript(names: readonly string[]): Script {
  const id = names.join(' ');
  let s = applyAllScripts.get(id);
  if (s === undefined) {
    if (applyAllScripts.size >= MAX_APPLY_ALL_SCRIPTS) return (everyStep ??= applyAllOf(Object.keys(SPECS)));
    s = applyAllOf(names);
    applyAllScripts.set(id, s);
  }
  return s;
}

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
