export type { AttemptInfo, AttemptObserver, AttemptRunner } from './attempts.js';
export type { CallObserver } from './calls.js';
export { type ExecuteContext, type Policy, PolicyBase, type PolicyEvent, type PolicyFn } from './policy.js';
