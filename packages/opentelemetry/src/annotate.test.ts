import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { annotateActiveSpan } from './annotate.js';
import { sdk, useContextManager } from './sdk.fixture.js';

useContextManager();

describe('annotateActiveSpan', () => {
  it('adds an adapter’s decision to the active span as attributes', () => {
    const otel = sdk();
    const done = otel.tracerProvider.getTracer('http').startActiveSpan('GET /orders', (span) => {
      const annotated = annotateActiveSpan({ policy: 'api', rejected: 'rate_limited', replayed: false });
      span.end();
      return annotated;
    });
    expect(done).toBe(true);
    expect(otel.spans()[0]!.attributes).toEqual({
      'resilience.policy.name': 'api',
      'resilience.rejection.reason': 'rate_limited',
      'resilience.idempotency.replayed': false,
    });
  });

  it('does nothing without an active recording span', () => {
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(annotateActiveSpan({ replayed: true })).toBe(false);
  });

  it('throws a TypeError for a decision of the wrong shape', () => {
    expect(() => annotateActiveSpan(null as never)).toThrow(TypeError);
    expect(() => annotateActiveSpan({ rejected: 'too_many' as never })).toThrow(/rejected\?: broken_circuit/);
    expect(() => annotateActiveSpan({ replayed: 'yes' as never })).toThrow(TypeError);
    expect(() => annotateActiveSpan({ policy: '' })).toThrow(TypeError);
    // A misspelt key would annotate nothing and still return true.
    expect(() => annotateActiveSpan({ polcy: 'api' } as never)).toThrow(TypeError);
  });
});
