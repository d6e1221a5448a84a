export type { CallObserver } from './calls.js';
export {
  contextFor,
  type ExecuteContext,
  neverAborted,
  type Policy,
  PolicyBase,
  type PolicyEvent,
  type PolicyFn,
  rootContext,
} from './policy.js';
