export {
  contextFor,
  type ExecuteContext,
  neverAborted,
  type Policy,
  type PolicyEvent,
  type PolicyFn,
  rootContext,
} from './policy.js';
