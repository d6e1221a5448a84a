// What idempotentMutation leaves unrecorded, over a real tRPC server: results over its bound
// (maxResultBytes), and those a resolver returns as core's unrecorded(value, reason).
import { ConfigurationError, type EventLogger, type IdempotencyEvent, idempotency, unrecorded } from '@resilience/core';
import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { until } from '../../../fetch/src/testing/server.js';
import { errorFormatter, IDEMPOTENT_MUTATION_DEFAULTS, idempotentMutation, responseMeta } from '../server.js';
import { hearDecisions } from '../testing/decisions.js';
import { failure } from '../testing/failure.js';
import { startServer, type TestServer } from '../testing/server.js';
import type { IdempotentMutationOptions, ResolverInput } from './idempotent.js';

let server: TestServer | undefined;
const heard = hearDecisions();
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

const t = initTRPC.create({ errorFormatter: errorFormatter() });

/** A logger that keeps what it is told to warn about. */
function listening() {
  const warned: { fields: object; message: string }[] = [];
  const logger: EventLogger = {
    info: () => {},
    warn: (fields, message) => warned.push({ fields, message }),
    error: () => {},
  };
  return { logger, warned };
}

/** A router whose `order` mutation answers what `resolver` makes of the input's `size`, and a client for it. */
async function serve<R>(options: IdempotentMutationOptions<ResolverInput>, resolver: (size: number) => R) {
  let runs = 0;
  const router = t.router({
    order: t.procedure
      .input((raw) => raw as { idempotencyKey?: string | undefined; size: number })
      .mutation(
        idempotentMutation(options, ({ input }: ResolverInput) => {
          runs++;
          return resolver((input as { size: number }).size);
        }),
      ),
  });
  server = await startServer({ router, responseMeta: responseMeta() });
  const client = createTRPCClient<typeof router>({ links: [httpLink({ url: server.url })] });
  return {
    /** Without a key when `idempotencyKey` is undefined (JSON leaves it out). */
    order: (idempotencyKey: string | undefined, size: number) => client.order.mutate({ idempotencyKey, size }),
    runs: () => runs,
  };
}

describe('idempotentMutation: maxResultBytes', () => {
  it('returns a result over maxResultBytes without recording it: a repeat runs again (no CONFLICT), and the logger says so each time with the path and size', async () => {
    const { logger, warned } = listening();
    // 'é' is 2 bytes in UTF-8: 31 of them are "…" of 64 bytes (at the bound), 32 are 66 (over it),
    // though only 34 characters: the bound counts the bytes a store writes.
    const { order, runs } = await serve({ maxResultBytes: 64, logger }, (size) => 'é'.repeat(size));
    expect(await order('k-over', 32)).toBe('é'.repeat(32));
    expect(await order('k-over', 32)).toBe('é'.repeat(32));
    expect(runs()).toBe(2);
    expect(warned).toHaveLength(2);
    for (const { fields, message } of warned) {
      expect(fields).toEqual({ path: 'order', bytes: 66, maxResultBytes: 64 });
      expect(message).toMatch(/order.*66 bytes.*maxResultBytes \(64\).*not recorded/);
    }
    expect(await order('k-at', 31)).toBe('é'.repeat(31));
    expect(await order('k-at', 31)).toBe('é'.repeat(31));
    expect(runs()).toBe(3); // at the bound: recorded and replayed
    expect(warned).toHaveLength(2);
    expect(heard).toEqual([{ decision: 'replayed' }]);
  });

  it('counts the bytes a store writes, not the characters: 2 for é, 3 for €, 4 for 😀', async () => {
    const { logger, warned } = listening();
    let runs = 0;
    const mutation = idempotentMutation({ maxResultBytes: 14, logger }, ({ input }: ResolverInput) => {
      runs++;
      return (input as { text: string }).text;
    });
    // Each is 12 bytes of text in quotes (14, at the bound), then one character more.
    for (const [char, count] of [
      ['é', 6],
      ['€', 4],
      ['😀', 3],
    ] as const) {
      for (const [text, recorded] of [
        [char.repeat(count), true],
        [char.repeat(count + 1), false],
      ] as const) {
        const call = { input: { idempotencyKey: `k-${text}`, text }, path: 'echo' };
        const before = runs;
        expect([await mutation(call), await mutation(call)]).toEqual([text, text]);
        expect(runs - before).toBe(recorded ? 1 : 2);
      }
    }
    expect(warned.map(({ fields }) => fields)).toEqual([
      { path: 'echo', bytes: 16, maxResultBytes: 14 },
      { path: 'echo', bytes: 16, maxResultBytes: 14 },
      { path: 'echo', bytes: 17, maxResultBytes: 14 },
      { path: 'echo', bytes: 17, maxResultBytes: 14 },
      { path: 'echo', bytes: 18, maxResultBytes: 14 },
      { path: 'echo', bytes: 18, maxResultBytes: 14 },
    ]);
  });

  it('holds the key while the over-sized call runs (CONFLICT), then frees it', async () => {
    let release: (() => void) | undefined;
    const records = idempotency();
    const { logger } = listening();
    const { order, runs } = await serve(
      { idempotency: records, maxResultBytes: 8, logger },
      () => new Promise((resolve) => (release = () => resolve('a result over eight bytes'))),
    );
    const first = order('k-held', 1);
    await until(() => release !== undefined, 'the call to run');
    expect((await failure(order('k-held', 1))).data?.code).toBe('CONFLICT');
    release!();
    expect(await first).toBe('a result over eight bytes');
    expect(records.inFlight).toBe(0);
    release = undefined;
    const again = order('k-held', 1);
    await until(() => release !== undefined, 'the call to run');
    release!();
    expect(await again).toBe('a result over eight bytes');
    expect(runs()).toBe(2);
  });

  it('records at most 1 MiB by default, and says so on the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // A string's JSON is its characters and two quotes.
    const { order, runs } = await serve({}, (size) => 'x'.repeat(size));
    expect((await order('k-mib', 1_048_574)).length).toBe(1_048_574);
    expect((await order('k-mib', 1_048_574)).length).toBe(1_048_574);
    expect(runs()).toBe(1);
    expect(warn).not.toHaveBeenCalled();
    expect((await order('k-over', 1_048_575)).length).toBe(1_048_575);
    expect((await order('k-over', 1_048_575)).length).toBe(1_048_575);
    expect(runs()).toBe(3);
    expect(warn).toHaveBeenCalledTimes(2);
    // The message as text, never as a format string.
    expect(warn).toHaveBeenCalledWith('%s', expect.stringContaining('maxResultBytes (1048576)'), {
      path: 'order',
      bytes: 1_048_577,
      maxResultBytes: 1_048_576,
    });
    expect(IDEMPOTENT_MUTATION_DEFAULTS.maxResultBytes).toBe(1_048_576);
  });

  it('answers the caller’s own mistake over maxResultBytes as it was, without recording it', async () => {
    const { logger, warned } = listening();
    const { order, runs } = await serve({ maxResultBytes: 64, logger }, (size) => {
      throw new TRPCError({ code: 'NOT_FOUND', message: `no item ${'9'.repeat(size)}` });
    });
    for (let i = 0; i < 2; i++) {
      const error = await failure(order('k-404', 100));
      expect([error.data?.code, error.message]).toEqual(['NOT_FOUND', `no item ${'9'.repeat(100)}`]);
    }
    expect(runs()).toBe(2);
    // What is recorded of a mistake: {"code":"NOT_FOUND","message":"no item 99…"}.
    expect(warned.map(({ fields }) => fields)).toEqual([
      { path: 'order', bytes: 141, maxResultBytes: 64 },
      { path: 'order', bytes: 141, maxResultBytes: 64 },
    ]);
  });

  it('frees the key even when its idempotency options record every error', async () => {
    const { logger } = listening();
    const { order, runs } = await serve(
      { idempotency: { recordErrors: true }, maxResultBytes: 8, logger },
      () => 'a result over eight bytes',
    );
    expect(await order('k-errors', 1)).toBe('a result over eight bytes');
    expect(await order('k-errors', 1)).toBe('a result over eight bytes');
    expect(runs()).toBe(2);
  });

  it('frees the key with an idempotency() of your own that records every error: a repeat runs again, never a replayed INTERNAL_SERVER_ERROR', async () => {
    const { logger, warned } = listening();
    const records = idempotency({ recordErrors: true });
    const { order, runs } = await serve(
      { idempotency: records, maxResultBytes: 8, logger },
      () => 'a result over eight bytes',
    );
    for (let i = 0; i < 3; i++) expect(await order('k-own', 1)).toBe('a result over eight bytes');
    expect(runs()).toBe(3);
    expect(warned.map(({ fields }) => fields)).toEqual(Array(3).fill({ path: 'order', bytes: 27, maxResultBytes: 8 }));
    expect(records.inFlight).toBe(0);
  });

  it('bounds its records by maxResultBytes, whatever maxRecordBytes an idempotency() of your own has', async () => {
    const { logger, warned } = listening();
    const { order, runs } = await serve(
      { idempotency: idempotency({ maxRecordBytes: 4 }), maxResultBytes: 64, logger },
      (size) => 'x'.repeat(size),
    );
    expect([await order('k-small', 10), await order('k-small', 10)]).toEqual(['x'.repeat(10), 'x'.repeat(10)]);
    expect(runs()).toBe(1);
    expect(warned).toEqual([]);
  });

  it('rejects a bad maxResultBytes or logger at construction, naming it; 0 records only an empty result', async () => {
    for (const maxResultBytes of [-1, 1.5, '1mb', Number.NaN]) {
      expect(() => idempotentMutation({ maxResultBytes } as never, () => 1)).toThrow(ConfigurationError);
      expect(() => idempotentMutation({ maxResultBytes } as never, () => 1)).toThrow(/maxResultBytes.*an integer >= 0/);
    }
    expect(() => idempotentMutation({ logger: { warn: 'no' } } as never, () => 1)).toThrow(/logger.*a logger with/);
    const { logger, warned } = listening();
    let runs = 0;
    const empty = idempotentMutation({ maxResultBytes: 0, logger }, () => {
      runs++;
    });
    const call = { input: { idempotencyKey: 'k-empty' }, path: 'x' };
    await empty(call);
    await empty(call);
    expect([runs, warned.length]).toEqual([1, 0]);
  });
});

describe('idempotentMutation: a resolver that returns unrecorded(value, reason)', () => {
  /** The order's answer: declined (not recorded) for an odd `size`, placed (recorded) for an even one. */
  const answer = (size: number) =>
    size % 2 === 1 ? unrecorded({ status: 'declined', size }, 'provider 503') : { status: 'placed', size };

  it('answers the value, records nothing and frees the key: a repeat runs again, and a later recorded result replays', async () => {
    const { logger, warned } = listening();
    const records = idempotency();
    const events: IdempotencyEvent[] = [];
    records.onEvent((e) => events.push(e));
    const { order, runs } = await serve({ idempotency: records, logger }, answer);
    expect(await order('k-declined', 1)).toEqual({ status: 'declined', size: 1 });
    expect(await order('k-declined', 1)).toEqual({ status: 'declined', size: 1 });
    expect(runs()).toBe(2);
    expect(records.inFlight).toBe(0);
    // The resolver's reason, and no `bytes`: not the wrapper's too_large.
    const notRecorded = {
      type: 'not_recorded',
      policy: 'idempotency',
      key: '{idem:default|k-declined}',
      reason: 'provider 503',
    };
    expect(events.filter((e) => e.type === 'not_recorded')).toEqual([notRecorded, notRecorded]);
    expect(warned).toEqual([]); // the resolver chose it: nothing to warn about, unlike a result over maxResultBytes
    // The key is free: a call with it that places the order is recorded, and its repeat replays it.
    expect(await order('k-placed', 2)).toEqual({ status: 'placed', size: 2 });
    expect(await order('k-placed', 2)).toEqual({ status: 'placed', size: 2 });
    expect(runs()).toBe(3);
    expect(heard).toEqual([{ decision: 'replayed' }]);
  });

  it('answers the value to a call without a key (required: false), never the marker', async () => {
    const { order, runs } = await serve({ required: false }, answer);
    expect(await order(undefined, 1)).toEqual({ status: 'declined', size: 1 });
    expect(await order(undefined, 2)).toEqual({ status: 'placed', size: 2 });
    expect(runs()).toBe(2);
  });

  it('answers an unrecorded undefined as no value, with a key and without', async () => {
    const { order } = await serve({ required: false }, () => unrecorded(undefined, 'nothing to say'));
    expect(await order('k-undefined', 1)).toBeUndefined();
    expect(await order(undefined, 1)).toBeUndefined();
  });
});

describe('idempotentMutation: an input JSON cannot say (tRPC’s FormData and File inputs)', () => {
  it('tells apart forms and files by what they hold: the same key with another form is UNPROCESSABLE_CONTENT, the same form replays', async () => {
    let runs = 0;
    const router = t.router({
      upload: t.procedure
        .input((raw) => raw as FormData)
        .mutation(
          idempotentMutation({ key: ({ input }) => input.get('idempotencyKey') as string }, ({ input }) => {
            runs++;
            return { amount: input.get('amount') };
          }),
        ),
    });
    server = await startServer({ router, responseMeta: responseMeta() });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: server.url })] });
    const form = (amount: string, file: string) => {
      const data = new FormData();
      data.append('idempotencyKey', 'upload-1');
      data.append('amount', amount);
      data.append('receipt', new File([file], 'receipt.txt', { type: 'text/plain' }));
      return data;
    };
    expect(await client.upload.mutate(form('10', 'paid'))).toEqual({ amount: '10' });
    expect(await client.upload.mutate(form('10', 'paid'))).toEqual({ amount: '10' });
    for (const other of [form('1000', 'paid'), form('10', 'void')]) {
      const error = await failure(client.upload.mutate(other));
      expect(error.data).toMatchObject({ code: 'UNPROCESSABLE_CONTENT', httpStatus: 422 });
    }
    expect(runs).toBe(1);
  });
});

describe('idempotentMutation: a result a tRPC transformer carries and JSON cannot (superjson’s)', () => {
  // A transformer as superjson is one: what JSON has no form for, written as tagged objects.
  const tag = (v: unknown): unknown => {
    if (typeof v === 'bigint') return { $bigint: String(v) };
    if (v instanceof Date) return { $date: v.toISOString() };
    if (v instanceof Map) return { $map: [...v].map(([k, x]) => [tag(k), tag(x)]) };
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tag(x)]));
  };
  const untag = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    if ('$bigint' in o) return BigInt(o.$bigint as string);
    if ('$date' in o) return new Date(o.$date as string);
    if ('$map' in o) return new Map((o.$map as [unknown, unknown][]).map(([k, x]) => [untag(k), untag(x)]));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, untag(x)]));
  };
  const transformer = { serialize: tag, deserialize: untag };

  it('records the result in the transformer’s form: a replay returns a BigInt, a Date and a Map as the first call did', async () => {
    const tt = initTRPC.create({ errorFormatter: errorFormatter(), transformer });
    let runs = 0;
    const router = tt.router({
      order: tt.procedure
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(
          idempotentMutation({ transformer }, () => {
            runs++;
            return { id: 10n, at: new Date(0), lines: new Map([['book', 2]]) };
          }),
        ),
    });
    server = await startServer({ router });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: server.url, transformer })] });
    const expected = { id: 10n, at: new Date(0), lines: new Map([['book', 2]]) };
    expect(await client.order.mutate({ idempotencyKey: 'k' })).toEqual(expected);
    expect(await client.order.mutate({ idempotencyKey: 'k' })).toEqual(expected);
    expect(runs).toBe(1);
  });

  it('refuses a transformer that is none, naming it', () => {
    for (const transformer of [{}, { serialize: JSON.stringify }, { input: {}, output: {} }]) {
      expect(() => idempotentMutation({ transformer: transformer as never }, () => 1)).toThrow(
        /^Invalid idempotentMutation options: transformer: received .*, expected a transformer/,
      );
    }
  });
});

describe('idempotentMutation: the input it fingerprints', () => {
  /** A transformer as superjson is: JSON, and beside it the type of each value JSON writes as another. */
  type Types = Record<string, string>;
  const write = (v: unknown, at: string, types: Types): unknown => {
    const tag = (type: string, json: unknown) => {
      types[at] = type;
      return json;
    };
    if (v === undefined) return tag('undefined', null);
    if (typeof v === 'bigint') return tag('bigint', String(v));
    if (Object.is(v, -0)) return tag('-0', 0);
    if (v instanceof Date) return tag('Date', v.toISOString());
    if (v instanceof Map) return tag('map', write([...v], at, types));
    if (Array.isArray(v)) return v.map((x, i) => write(x, `${at}.${i}`, types));
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, write(x, `${at}.${k}`, types)]));
  };
  const read = (v: unknown, at: string, types: Types): unknown => {
    const type = types[at];
    if (type === 'undefined') return undefined;
    if (type === 'bigint') return BigInt(v as string);
    if (type === '-0') return -0;
    if (type === 'Date') return new Date(v as string);
    if (type === 'map') return new Map(read(v, `${at}.`, {}) as [unknown, unknown][]);
    if (Array.isArray(v)) return v.map((x, i) => read(x, `${at}.${i}`, types));
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, read(x, `${at}.${k}`, types)]));
  };
  const superjsonLike = {
    serialize: (value: unknown) => {
      const types: Types = {};
      return { json: write(value, '', types), types };
    },
    deserialize: ({ json, types }: { json: unknown; types: Types }) => read(json, '', types),
  };

  it('tells apart inputs a transformer carries as different values though JSON writes them alike, and replays the same input', async () => {
    const tx = initTRPC.create({ transformer: superjsonLike, errorFormatter: errorFormatter() });
    let runs = 0;
    const router = tx.router({
      order: tx.procedure
        .input((raw) => raw as { idempotencyKey: string; value: unknown })
        .mutation(idempotentMutation({ transformer: superjsonLike }, () => ++runs)),
    });
    server = await startServer({ router });
    const client = createTRPCClient<typeof router>({
      links: [httpLink({ url: server.url, transformer: superjsonLike })],
    });
    const pairs: [() => unknown, unknown][] = [
      [() => new Date(0), '1970-01-01T00:00:00.000Z'],
      [() => new Map([['a', 1]]), { $map: [['a', 1]] }],
      [() => ({ note: undefined }), {}],
      [() => [undefined], [null]],
      [() => 1n, { $bigint: '1' }],
      [() => -0, 0],
    ];
    for (const [i, [first, other]] of pairs.entries()) {
      const order = (value: unknown) => client.order.mutate({ idempotencyKey: `k-${i}`, value });
      expect(await order(first())).toBe(i + 1);
      expect((await failure(order(other))).data?.code).toBe('UNPROCESSABLE_CONTENT');
      expect(await order(first())).toBe(i + 1);
    }
    expect(runs).toBe(pairs.length);
  });

  it('is the input as sent, not as the validators fill it in: a generated default differs on each retry, which replays', async () => {
    let ids = 0;
    let runs = 0;
    const router = t.router({
      order: t.procedure
        // As z.string().default(() => crypto.randomUUID()) does.
        .input((raw) => ({ orderId: `order-${++ids}`, ...(raw as { idempotencyKey: string; orderId?: string }) }))
        .mutation(idempotentMutation({}, ({ input }) => ({ orderId: input.orderId, run: ++runs }))),
    });
    server = await startServer({ router });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: server.url })] });
    // Typed as the validator's output, which has the default filled in: the client may leave it out.
    const order = (input: { idempotencyKey: string; orderId?: string }) =>
      client.order.mutate(input as { idempotencyKey: string; orderId: string });
    const first = await order({ idempotencyKey: 'k-default' });
    expect(await order({ idempotencyKey: 'k-default' })).toEqual(first);
    expect(first).toEqual({ orderId: 'order-1', run: 1 });
    expect((await failure(order({ idempotencyKey: 'k-default', orderId: 'mine' }))).data?.code).toBe(
      'UNPROCESSABLE_CONTENT',
    );
  });
});

describe('idempotentMutation: an idempotency() of another copy of core (an ESM app requiring the CJS entry too)', () => {
  it('records in the instance it is given, and replays from it', async () => {
    const records = idempotency(); // this copy's
    vi.resetModules(); // a second instance of the modules, as a second install or the other build has
    const copy = await import('./idempotent.js');
    let runs = 0;
    const mutation = copy.idempotentMutation({ idempotency: records }, () => ++runs);
    const call = { input: { idempotencyKey: 'k-copied' }, path: 'pay' };
    expect(await mutation(call)).toBe(1);
    expect(await mutation(call)).toBe(1); // replayed from the records given
    expect(runs).toBe(1);
    expect(await records.store.keys('', 0)).toHaveLength(1);
  });
});
