/** The servers measured by suites/servers.ts, as its tables list them: bare first, ours second (each run measures them in a shuffled order). */
export const VARIANTS = {
  express: ['bare', 'ours', 'express-rate-limit', 'rate-limiter-flexible', 'full stack'],
  koa: ['bare', 'ours', 'koa-ratelimit', 'rate-limiter-flexible', 'full stack'],
} as const;

export type Framework = keyof typeof VARIANTS;
