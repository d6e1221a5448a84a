/** The servers measured by suites/servers.ts, as its tables list them: bare first, ours second (each run measures them in a shuffled order). */
export const VARIANTS = {
  express: [
    'bare',
    'ours',
    'express-rate-limit',
    'rate-limiter-flexible',
    'full stack',
    'no-op middleware',
    'no-op × 4',
  ],
  koa: ['bare', 'ours', 'koa-ratelimit', 'rate-limiter-flexible', 'full stack', 'no-op middleware', 'no-op × 5'],
} as const;

/** The peers ours is judged against, by framework. */
export const PEERS = {
  express: ['express-rate-limit', 'rate-limiter-flexible'],
  koa: ['koa-ratelimit', 'rate-limiter-flexible'],
} as const;

export type Framework = keyof typeof VARIANTS;
