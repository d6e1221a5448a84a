// Hints for other libraries' names that only some factories are given, as `known()`'s
// `theirs`: in those factories' bundles only. Same form as FOREIGN in validate.ts (`name~`: the
// gate, an option both factories have). No call or template, so a bundle that never reads them drops them.

const RESERVOIR = 'name~rateLimiter({ algorithm: fixedWindow or tokenBucket })';

/** bottleneck's, given to `bulkhead` or `rateLimiter`: its pacing and reservoir are a limiter's. */
export const BOTTLENECK: Readonly<Record<string, string>> = {
  minTime: 'name~rateLimiter({ algorithm: gcra({ limit: 1, periodMs: minTime }) })',
  reservoir: RESERVOIR,
  reservoirRefreshAmount: RESERVOIR,
  reservoirRefreshInterval: RESERVOIR,
  reservoirIncreaseAmount: RESERVOIR,
  reservoirIncreaseInterval: RESERVOIR,
  reservoirIncreaseMaximum: RESERVOIR,
};

/** opossum's, given to `circuitBreaker`. */
export const OPOSSUM: Readonly<Record<string, string>> = {
  abortController: 'handle~fn gets { signal }, aborted by timeout()',
};
