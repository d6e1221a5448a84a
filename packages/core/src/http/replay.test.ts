import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors/errors.js';
import { PROBLEM_JSON_CONTENT_TYPE, PROBLEM_TYPES } from './problem.js';
import {
  IDEMPOTENCY_HEADERS,
  payloadTooLargeResponse,
  REPLAYED_HEADERS,
  replayRecord,
  replayResponse,
  shouldRecordResponse,
} from './replay.js';

describe('replayRecord', () => {
  it('keeps the status, the headers that describe the body, and a text body as text', () => {
    const record = replayRecord({
      status: 201,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        location: '/orders/7',
        etag: '"v1"',
        'set-cookie': ['session=secret'],
        'content-length': '11',
        date: 'Mon, 01 Jan 2024 00:00:00 GMT',
        'x-request-id': 'req-1',
        ratelimit: '"api";r=9;t=1',
        link: ['</a>; rel="next"', '</b>; rel="prev"'],
      },
      body: '{"id":7}',
    });
    expect(record).toEqual({
      status: 201,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        location: '/orders/7',
        etag: '"v1"',
        link: ['</a>; rel="next"', '</b>; rel="prev"'],
      },
      body: '{"id":7}',
      encoding: 'utf8',
    });
    expect(REPLAYED_HEADERS).toContain('content-type');
    expect(REPLAYED_HEADERS).not.toContain('set-cookie');
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
  });

  it('keeps bytes as base64 and gives them back byte for byte', () => {
    const bytes = new Uint8Array([0, 255, 128, 10, 13, 0xc3, 0x28]);
    const record = replayRecord({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(record).toMatchObject({ encoding: 'base64', body: 'AP+ACg3DKA==' });
    expect(replayResponse(record).body).toEqual(bytes);
  });

  it('round-trips any bytes, however many', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (bytes) => {
        const record = replayRecord({ status: 200, headers: {}, body: bytes });
        expect(replayResponse(JSON.parse(JSON.stringify(record))).body).toEqual(bytes);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a record replayRecord could not have made (damaged in the store) with StoreUnavailableError naming the part', () => {
    const good = replayRecord({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' });
    const cases: [unknown, string][] = [
      [null, 'status'],
      ['{"status":200}', 'status'],
      [{ ...good, status: 9_999 }, 'status'],
      [{ ...good, status: '200' }, 'status'],
      [{ ...good, headers: 'content-type: text/plain' }, 'headers'],
      [{ ...good, headers: null }, 'headers'],
      [{ ...good, headers: { 'content-type': { a: 1 } } }, 'headers'],
      [{ ...good, headers: { 'set-cookie': ['a', 5] } }, 'headers'],
      [{ ...good, body: 5 }, 'body'],
      [{ ...good, encoding: 'gzip' }, 'body'],
      [{ ...good, encoding: 'base64', body: 'not base64!' }, 'body'],
    ];
    for (const [record, part] of cases) {
      const thrown = (() => {
        try {
          replayResponse(record as never);
        } catch (error) {
          return error;
        }
      })();
      expect(thrown, JSON.stringify(record)).toBeInstanceOf(StoreUnavailableError);
      expect((thrown as Error).message).toBe(`replayResponse: a recorded response it cannot read (its ${part})`);
    }
    expect(replayResponse(JSON.parse(JSON.stringify(good))).status).toBe(200);
  });

  it('replays with Idempotent-Replayed: true, and an empty body for none', () => {
    const record = replayRecord(
      { status: 204, headers: { 'x-custom': 'a' }, body: undefined },
      { headers: ['x-custom'] },
    );
    expect(replayResponse(record)).toEqual({
      status: 204,
      headers: { 'x-custom': 'a', [IDEMPOTENCY_HEADERS.replayed]: 'true' },
      body: '',
    });
    expect(IDEMPOTENCY_HEADERS).toEqual({
      key: 'idempotency-key',
      replayed: 'idempotent-replayed',
      notRecorded: 'idempotency-not-recorded',
    });
  });

  it('rejects a status that is not an HTTP status and a body that is not text or bytes with a TypeError', () => {
    expect(() => replayRecord({ status: 99, headers: {}, body: '' })).toThrow(/status/);
    expect(() => replayRecord({ status: 200, headers: {}, body: {} as never })).toThrow(/body/);
  });
});

describe('shouldRecordResponse', () => {
  it("never records a 304: it answers the request's If-None-Match, which a replay to a plain request would not", () => {
    expect(shouldRecordResponse(304)).toBe(false);
    expect(shouldRecordResponse(304, { recordServerErrors: true })).toBe(false);
  });

  it('records what the client should see again, but not a server failure it may retry', () => {
    expect([200, 201, 204, 301, 400, 404, 409, 422].map((s) => shouldRecordResponse(s))).toEqual(Array(8).fill(true));
    expect([500, 502, 503, 504].map((s) => shouldRecordResponse(s))).toEqual([false, false, false, false]);
    expect(shouldRecordResponse(503, { recordServerErrors: true })).toBe(true);
    expect(shouldRecordResponse(429)).toBe(false); // a limit refusal: the client is told to retry
  });

  it('never records an answer that tells the client to retry (408, 425, 429) or that nobody heard (499)', () => {
    // Replayed for the key's 24 h, a 408 or 425 would answer every retry it asks for with itself;
    // a 499 (the handler failed on the abort of a client that left) would answer the client's retry.
    for (const recordServerErrors of [false, true]) {
      expect([408, 425, 429, 499].map((s) => shouldRecordResponse(s, { recordServerErrors }))).toEqual([
        false,
        false,
        false,
        false,
      ]);
    }
  });
});

describe('payloadTooLargeResponse', () => {
  it('answers 413 problem+json naming the limit', () => {
    expect(payloadTooLargeResponse({ maxBytes: 1_048_576, correlationId: 'c' })).toEqual({
      status: 413,
      headers: { 'content-type': PROBLEM_JSON_CONTENT_TYPE, 'x-request-id': 'c' },
      body: {
        type: PROBLEM_TYPES.payload_too_large,
        title: 'Payload too large',
        status: 413,
        category: 'validation',
        detail: 'The request body is over 1048576 bytes.',
        correlationId: 'c',
      },
    });
  });
});
