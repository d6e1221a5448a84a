export {
  type AdaptiveTimeoutOptions,
  type SoftHardTimeoutOptions,
  TIMEOUT_DEFAULTS,
  type TimeoutMs,
  type TimeoutOptions,
  type TimeoutStrategy,
} from './options.js';
export { type TimeoutEvent, TimeoutPolicy, timeout } from './timeout.js';
