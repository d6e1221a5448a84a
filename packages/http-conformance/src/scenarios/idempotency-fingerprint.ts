import { PROBLEM_TYPES } from '@resilience/core';
import { expect } from 'vitest';
import { type Context, counter, problemOf, type Scenario } from '../scenario.js';
import type { Parser } from '../types.js';

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** A POST of `body` as `type` (none: no Content-Type) with `key`. */
const post = (key: string, type: string | undefined, body?: string): RequestInit => ({
  method: 'POST',
  headers: { 'idempotency-key': key, ...(type === undefined ? {} : { 'content-type': type }) },
  ...(body === undefined ? {} : { body }),
});

/** A POST of `body` as JSON without a key. */
const unkeyed = (body: string): RequestInit => ({ method: 'POST', headers: { 'content-type': JSON_TYPE }, body });

/** POST /orders behind idempotency, after `parser` when given; the handler counts its runs. */
async function ordersApp(t: Context, parser?: Parser) {
  const runs = counter();
  const app = await t.serve([
    ...(parser === undefined ? [] : [t.m.parser(parser)]),
    t.m.idempotency({ logger: t.logger() }),
    t.m.route('POST', '/orders', () => runs.add({ status: 201, json: { order: runs.runs + 1 } })),
  ]);
  return { app, runs };
}

/** The status of each request in turn, and whether it was a replay. */
async function answers(t: { fetch(path: string, init: RequestInit): Promise<Response> }, inits: RequestInit[]) {
  const out: Array<[number, string | null]> = [];
  for (const init of inits) {
    const res = await t.fetch('/orders', init);
    if (res.status === 422) {
      expect(await problemOf(res)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_reused });
    } else await res.arrayBuffer();
    out.push([res.status, res.headers.get('idempotent-replayed')]);
  }
  return out;
}

// The fingerprint takes JSON as its value in canonical form and any other body by its bytes, so
// neither a JSON primitive left by a parser before the middleware nor a form with the fields of
// a JSON body passes for another payload.
export const idempotencyFingerprintScenarios: Scenario[] = [
  {
    area: 'idempotency',
    name: 'leaves a JSON body with a "__proto__" key (at any depth, escaped too) to the parser after it, which answers it with a key as without',
    async run(t) {
      const app = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route(
          'POST',
          '/orders',
          (request) => ({ status: 201, json: { proto: Object.keys((request.body ?? {}) as object) } }),
          {
            parser: 'json',
          },
        ),
      ]);
      const poisoned = [
        '{"__proto__":{"admin":true}}',
        '{"a":[{"b":{"__proto__":{"admin":true}}}]}',
        '{"\\u005f_proto__":{"admin":true}}',
        '{"__pr\\u006fto__" : {"admin":true}}',
        '{"a":"__proto__","__proto__x":1}',
      ];
      for (const [i, text] of poisoned.entries()) {
        const keyed = await app.fetch('/orders', post(`"p-${i}"`, JSON_TYPE, text));
        const plain = await app.fetch('/orders', unkeyed(text));
        expect([keyed.status, await keyed.text()]).toEqual([plain.status, await plain.text()]);
      }
    },
  },
  {
    area: 'idempotency',
    name: "reads a JSON body as the framework's default JSON parser would: a top-level primitive is 400 with a key as without (strict), and kept with jsonStrict: false",
    async run(t) {
      const bodies: unknown[] = [];
      const handler = (request: { body: unknown }) => {
        bodies.push(request.body);
        return { status: 201, json: {} };
      };
      const strict = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', handler, { parser: 'json' }),
      ]);
      let n = 0;
      const statuses = async (app: typeof strict, texts: string[], key: boolean) => {
        const out: number[] = [];
        for (const text of texts) {
          const res = await app.fetch('/orders', key ? post(`"k-${++n}"`, JSON_TYPE, text) : unkeyed(text));
          await res.arrayBuffer();
          out.push(res.status);
        }
        return out;
      };
      const primitives = ['null', '100', '"x"', 'true', ' \n false'];
      // The parser after the middleware refuses them, with a key as without.
      expect(await statuses(strict, primitives, false)).toEqual([400, 400, 400, 400, 400]);
      expect(await statuses(strict, primitives, true)).toEqual([400, 400, 400, 400, 400]);
      expect(bodies).toEqual([]);
      // An object or an array, after whitespace or a byte-order mark, passes; an empty body is {}.
      expect(await statuses(strict, [' \r\n\t{"a":1}', '\uFEFF[1]', ''], true)).toEqual([201, 201, 201]);
      expect(bodies).toEqual([{ a: 1 }, [1], {}]);
      bodies.length = 0;
      const lenient = await t.serve([
        t.m.idempotency({ logger: t.logger(), jsonStrict: false }),
        t.m.route('POST', '/orders', handler, { parser: 'json-nonstrict' }),
      ]);
      expect(await statuses(lenient, primitives, true)).toEqual([201, 201, 201, 201, 201]);
      expect(bodies).toEqual([null, 100, 'x', true, false]);
    },
  },
  {
    area: 'idempotency',
    name: 'after a JSON parser that keeps top-level primitives, every JSON value is a payload of its own (100, 999999, true, null), and null is not no body',
    async run(t) {
      const { app, runs } = await ordersApp(t, 'json-nonstrict');
      const key = '"primitive-1"';
      expect(
        await answers(app, [
          post(key, JSON_TYPE, '100'),
          post(key, JSON_TYPE, '100'),
          post(key, JSON_TYPE, '999999'),
          post(key, JSON_TYPE, 'true'),
          post(key, JSON_TYPE, 'null'),
          post(key, JSON_TYPE, '"100"'),
        ]),
      ).toEqual([
        [201, null],
        [201, 'true'],
        [422, null],
        [422, null],
        [422, null],
        [422, null],
      ]);
      const nullKey = '"primitive-2"';
      expect(await answers(app, [post(nullKey, JSON_TYPE, 'null'), post(nullKey, undefined)])).toEqual([
        [201, null],
        [422, null],
      ]);
      // A JSON string is not the same text sent as text/plain.
      const textKey = '"primitive-3"';
      expect(await answers(app, [post(textKey, JSON_TYPE, '"x"'), post(textKey, 'text/plain', 'x')])).toEqual([
        [201, null],
        [422, null],
      ]);
      expect(runs.runs).toBe(3);
    },
  },
  {
    area: 'idempotency',
    name: 'a form body and a JSON body with the same fields are different payloads (422), read by the middleware or by a form parser before it',
    async run(t) {
      for (const parser of [undefined, 'urlencoded'] as const) {
        const { app, runs } = await ordersApp(t, parser);
        expect(
          await answers(app, [post('"form-1"', JSON_TYPE, '{"qty":"1"}'), post('"form-1"', FORM_TYPE, 'qty=1')]),
          String(parser),
        ).toEqual([
          [201, null],
          [422, null],
        ]);
        expect(
          await answers(app, [
            post('"form-2"', FORM_TYPE, 'qty=1'),
            post('"form-2"', FORM_TYPE, 'qty=1'),
            post('"form-2"', JSON_TYPE, '{"qty":"1"}'),
            post('"form-2"', FORM_TYPE, 'qty=2'),
          ]),
          String(parser),
        ).toEqual([
          [201, null],
          [201, 'true'],
          [422, null],
          [422, null],
        ]);
        expect(runs.runs).toBe(2);
      }
    },
  },
  {
    area: 'idempotency',
    name: 'the same bytes under one key as another media type or charset are another payload (422): text and bytes, UTF-8 and Latin-1 text are not one request',
    async run(t) {
      const { app, runs } = await ordersApp(t);
      const bytes = Buffer.from('{"a":"\xe9"}', 'latin1');
      const as = (key: string, type: string): RequestInit => ({ ...post(key, type), body: bytes });
      expect(
        await answers(app, [
          as('"m-1"', 'text/plain'),
          as('"m-1"', 'application/octet-stream'),
          as('"m-1"', 'text/plain; charset=iso-8859-1'),
          as('"m-1"', 'application/json'),
          // The same type written otherwise is the same payload: replayed.
          as('"m-1"', 'Text/Plain'),
          as('"m-2"', 'text/plain; charset=UTF-8'),
          as('"m-2"', 'text/plain;charset="utf-8"'),
        ]),
      ).toEqual([
        [201, null],
        [422, null],
        [422, null],
        [422, null],
        [201, 'true'],
        [201, null],
        [201, 'true'],
      ]);
      expect(runs.runs).toBe(2);
    },
  },
  {
    area: 'idempotency',
    name: 'leaves a JSON or form body in a charset it cannot read to the parser after it (415 from express.json(), read by @koa/bodyparser), with a key as without; without a parser the handler runs',
    async run(t) {
      const bodies = [
        [`${JSON_TYPE}; charset=latin1`, '{"name":"caf\xe9"}'],
        [`${JSON_TYPE}; charset=windows-1252`, '{"name":"caf\xe9"}'],
        [`${FORM_TYPE}; charset=windows-1252`, 'name=caf%E9'],
        [`${JSON_TYPE}; charset=x-klingon`, '{}'],
        [`${JSON_TYPE}; charset=utf-16`, '\uFEFF{"name":"café"}'],
        [`${FORM_TYPE}; charset=iso-8859-1`, 'name=caf%E9+%80&x=%C3'],
      ];
      const bytes = (type: string, text: string) =>
        type.endsWith('utf-16') ? Buffer.from(text, 'utf16le') : Buffer.from(text, 'latin1');
      const { app, runs } = await ordersApp(t);
      for (const [i, [type, text]] of bodies.entries()) {
        const res = await app.fetch('/orders', { ...post(`"c-${i}"`, type!), body: bytes(type!, text!) });
        expect([type, res.status]).toEqual([type, 201]);
      }
      expect(runs.runs).toBe(bodies.length);
      const parsed = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', (request) => ({ json: { got: request.body ?? null } }), { parser: 'json' }),
        t.m.route('POST', '/forms', (request) => ({ json: { got: request.body ?? null } }), { parser: 'urlencoded' }),
      ]);
      for (const [i, [type, text]] of bodies.entries()) {
        // UTF-16 JSON and an ISO-8859-1 form the middleware reads and leaves parsed: Koa's parsers
        // after it skip a body already there (mount them first for their options to apply).
        if (type!.endsWith('utf-16') || type!.endsWith('iso-8859-1')) continue;
        const path = type!.startsWith(FORM_TYPE) ? '/forms' : '/orders';
        const answer = async (init: RequestInit) => {
          const res = await parsed.fetch(path, { ...init, body: bytes(type!, text!) });
          return [res.status, await res.text()];
        };
        const plain = await answer({ method: 'POST', headers: { 'content-type': type! } });
        expect([type, await answer(post(`"d-${i}"`, type!))]).toEqual([type, plain]);
      }
    },
  },
];
