import { describe, expect, it } from 'vitest';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';

describe('MIDDLEWARE_DEFAULTS', () => {
  it('pins the defaults docs/express.md quotes', () => {
    expect(MIDDLEWARE_DEFAULTS).toEqual({
      rateLimit: { name: 'default', cost: 1 },
      idempotency: {
        header: 'Idempotency-Key',
        methods: ['POST', 'PATCH'],
        required: false,
        maxBodyBytes: 1_048_576,
        jsonStrict: true,
        recordServerErrors: false,
      },
      loadShedding: { queue: 0, abandonedHoldMs: 30_000 },
      errorHandler: { expose: false },
      healthRoutes: { prefix: '', expose: false },
      metricsRoute: { path: '/metrics' },
      adminRoutes: { prefix: '/api/resilience', challenge: 'Bearer' },
    });
  });
});
