import { HTTP_DEFAULTS } from '@resilience/core';
import { BODY_DEFAULTS } from '../body.js';

/** The defaults of the adapters' middleware, quoted in docs/express.md (core's own defaults apply beneath). */
export const MIDDLEWARE_DEFAULTS = {
  rateLimit: { name: 'default', cost: 1 },
  idempotency: {
    header: 'Idempotency-Key',
    methods: ['POST', 'PATCH'],
    required: false,
    maxBodyBytes: BODY_DEFAULTS.maxBodyBytes,
    jsonStrict: true,
    recordServerErrors: false,
  },
  loadShedding: { queue: 0, abandonedHoldMs: 30_000 },
  errorHandler: { expose: false },
  healthRoutes: { prefix: '', expose: false },
  metricsRoute: { path: '/metrics' },
  adminRoutes: { prefix: '/api/resilience', challenge: HTTP_DEFAULTS.challenge },
} as const;
