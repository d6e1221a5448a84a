export {
  type AdaptiveTimeoutOptions,
  type FixedTimeoutOptions,
  type SoftHardTimeoutOptions,
  TIMEOUT_DEFAULTS,
  type TimeoutMs,
  type TimeoutOptions,
  type TimeoutStrategy,
} from './options.js';
export { type TimeoutEvent, TimeoutPolicy, timeout } from './timeout.js';
