/** The servers measured by suites/servers.ts, in the order each run measures them: bare first, ours second. */
export const VARIANTS = {
  express: ['bare', 'ours', 'express-rate-limit', 'rate-limiter-flexible', 'full stack'],
  koa: ['bare', 'ours', 'koa-ratelimit', 'rate-limiter-flexible', 'full stack'],
} as const;

export type Framework = keyof typeof VARIANTS;
