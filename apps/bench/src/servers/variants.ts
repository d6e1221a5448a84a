/**
 * The servers measured by suites/servers.ts, as its tables list them: bare first, ours second
 * (each run measures them in a shuffled order). `bare again` is bare in a process of its own:
 * how far two identical servers differ, the resolution of every figure of the run.
 */
export const VARIANTS = {
  express: [
    'bare',
    'ours',
    'bare again',
    'express-rate-limit',
    'rate-limiter-flexible',
    'full stack',
    'no-op middleware',
    'no-op × 4',
    'RateLimit fields only',
  ],
  koa: [
    'bare',
    'ours',
    'bare again',
    'koa-ratelimit',
    'rate-limiter-flexible',
    'full stack',
    'no-op middleware',
    'no-op × 5',
    'RateLimit fields only',
  ],
} as const;

/** The peers ours is judged against, by framework. */
export const PEERS = {
  express: ['express-rate-limit', 'rate-limiter-flexible'],
  koa: ['koa-ratelimit', 'rate-limiter-flexible'],
} as const;

export type Framework = keyof typeof VARIANTS;
