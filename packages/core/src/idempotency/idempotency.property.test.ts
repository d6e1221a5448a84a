import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdempotencyConflictError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import { steppingClock } from '../testing/stepping-clock.js';
import { idempotency } from './idempotency.js';

type Op =
  | { kind: 'call'; key: 'a' | 'b'; fp: string | undefined; reject: boolean; withSignal: boolean; instance: 0 | 1 }
  | { kind: 'settle'; index: number; ok: boolean }
  | { kind: 'abort'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'step'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      key: fc.constantFrom('a' as const, 'b' as const),
      fp: fc.constantFrom(undefined, 'x', 'y'),
      reject: fc.boolean(),
      withSignal: fc.boolean(),
      // Two instances on one store: two processes sharing Redis.
      instance: fc.constantFrom(0 as const, 1 as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), index: fc.nat(), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('step' as const),
      ms: fc.oneof(fc.integer({ min: -300, max: 300 }), fc.constantFrom(-3_600_000, 3_600_000)),
    }),
  },
);

/** What the key's record holds, in wall time (the store's `now`). */
type Model =
  | { s: 'free' }
  | { s: 'in_flight'; run: number; fp: string | undefined; until: number }
  | { s: 'done'; fp: string | undefined; value: number; until: number }
  /** Expired once, then the wall clock stepped back before it: the store may have dropped it or not. */
  | { s: 'unknown' };

interface Call {
  readonly key: string;
  readonly controller: AbortController;
  readonly expect: 'run' | 'wait' | 'replay' | 'in_flight' | 'fingerprint_mismatch' | 'any';
  readonly instance: number;
  readonly value?: number;
  readonly withSignal: boolean;
  /** Its own `fn` runs now (it took the key). */
  running: boolean;
  result?: { ok: true; value: unknown; source: string } | { ok: false; error: unknown };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const clash = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && a !== b;

describe('idempotency (properties)', () => {
  it('runs a key at most once while its record lives, replays it, refuses another fingerprint, frees it on failure and at its lock or ttl, and settles every call', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 600 }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        async (lockTimeoutMs, ttlMs, ops) => {
          const { clock, advance, step } = steppingClock();
          const store = memoryStore();
          const instances = [0, 1].map(() => idempotency({ clock, store, lockTimeoutMs, ttlMs, pollIntervalMs: 10 }));
          const model = new Map<string, Model>();
          let maxWall = clock.now();
          const state = (key: string): Model => {
            const m = model.get(key) ?? { s: 'free' };
            if (m.s === 'free' || m.s === 'unknown') return m;
            if (!(m.until > clock.now())) return { s: 'free' };
            return m.until > maxWall ? m : { s: 'unknown' };
          };
          const calls: Call[] = [];
          const violations: string[] = [];
          // Runs of `fn` not yet settled: each one's settle function.
          const runs: { key: string; run: number; settle: (ok: boolean, value: number) => void; done: boolean }[] = [];
          let nextValue = 0;
          // The fingerprint of the run each value came from.
          const fpOf = new Map<number, string | undefined>();

          const fnFor = (key: string, fp: string | undefined, call: Call) => () => {
            call.running = true;
            const runFp = fp;
            const m = state(key);
            // Never a second run while the record (in flight or done) lives.
            expect(m.s === 'free' || m.s === 'unknown', `fn ran for ${key} while its record lives`).toBe(true);
            const run = runs.length;
            model.set(key, { s: 'in_flight', run, fp, until: clock.now() + lockTimeoutMs });
            return new Promise<number>((resolve, reject) => {
              runs.push({
                key,
                run,
                done: false,
                settle: (ok, value) => {
                  const now = model.get(key);
                  // It records unless another run holds the key or recorded (a late owner's lock was
                  // lost): also once its lock ran out when nothing holds the key.
                  const held = (now?.s === 'in_flight' && now.run === run) || state(key).s === 'free';
                  if (!held && state(key).s === 'unknown') model.set(key, { s: 'unknown' });
                  else if (held) {
                    model.set(key, ok ? { s: 'done', fp, value, until: clock.now() + ttlMs } : { s: 'free' });
                  }
                  call.running = false;
                  fpOf.set(value, runFp);
                  if (ok) resolve(value);
                  else reject(new Error(`run ${run} failed`));
                },
              });
            });
          };

          for (const op of ops) {
            if (op.kind === 'call') {
              const m = state(op.key);
              let expected: Call['expect'];
              // A call of this instance waits on the key (polling another's record): this one may join it,
              // or be refused as in flight, as the docs say of calls in one process.
              const localWait = calls.some(
                (c) =>
                  c.instance === op.instance && c.key === op.key && c.result === undefined && c.expect !== 'replay',
              );
              if (m.s === 'unknown') expected = 'any';
              else if (m.s !== 'free' && clash(m.fp, op.fp)) expected = localWait ? 'any' : 'fingerprint_mismatch';
              else if (localWait) expected = 'any';
              else if (m.s === 'done') expected = 'replay';
              else if (m.s === 'in_flight') expected = op.reject ? 'in_flight' : 'wait';
              else expected = 'run';
              const controller = new AbortController();
              const call: Call = {
                key: op.key,
                controller,
                withSignal: op.withSignal,
                instance: op.instance,
                running: false,
                expect: expected,
                ...(m.s === 'done' ? { value: m.value } : {}),
              };
              calls.push(call);
              const runsBefore = runs.length;
              instances[op.instance]!.executeDetailed(op.key, fnFor(op.key, op.fp, call), {
                ...(op.fp !== undefined ? { fingerprint: op.fp } : {}),
                onInFlight: op.reject ? 'reject' : 'share',
                ...(op.withSignal ? { signal: controller.signal } : {}),
              }).then(
                (r) => {
                  // Never the outcome of a call with another fingerprint.
                  if (clash(fpOf.get(r.value as number), op.fp))
                    violations.push(`fp ${op.fp} got ${fpOf.get(r.value as number)}'s value`);
                  call.result = { ok: true, value: r.value, source: r.source };
                },
                (error: unknown) => {
                  call.result = { ok: false, error };
                },
              );
              await flush();
              await flush();
              if (expected === 'any') {
                // Checked by fn's own guard.
              } else if (expected === 'run') {
                expect(runs.length, 'a free key runs fn').toBe(runsBefore + 1);
                expect(call.result).toBeUndefined();
              } else {
                expect(runs.length, 'a key whose record lives runs nothing').toBe(runsBefore);
                if (expected === 'wait') expect(call.result).toBeUndefined();
                else if (expected === 'replay')
                  expect(call.result).toEqual({ ok: true, value: m.s === 'done' && m.value, source: 'replayed' });
                else {
                  expect(call.result?.ok).toBe(false);
                  const error = call.result?.ok === false ? call.result.error : undefined;
                  expect(error).toBeInstanceOf(IdempotencyConflictError);
                  expect((error as IdempotencyConflictError).code).toBe(expected);
                }
              }
            } else if (op.kind === 'settle') {
              const open = runs.filter((r) => !r.done);
              const run = open[op.index % Math.max(1, open.length)];
              if (run) {
                run.done = true;
                run.settle(op.ok, nextValue++);
              }
            } else if (op.kind === 'abort') {
              const call = calls[op.index % Math.max(1, calls.length)];
              const reason = new Error('gone');
              call?.controller.abort(reason);
              if (call?.withSignal && call.result === undefined && !call.running) {
                // A call waiting on another stops waiting at once when its own signal aborts.
                await flush();
                expect(call.result).toEqual({ ok: false, error: reason });
              }
            } else if (op.kind === 'advance') {
              await advance(op.ms);
              maxWall = Math.max(maxWall, clock.now());
            } else {
              step(op.ms);
              maxWall = Math.max(maxWall, clock.now());
            }
            await flush();
          }
          // Settle what still runs, then let every wait end.
          for (let round = 0; round < 20 && (runs.some((r) => !r.done) || calls.some((c) => !c.result)); round++) {
            for (const run of runs.filter((r) => !r.done)) {
              run.done = true;
              run.settle(true, nextValue++);
            }
            await flush();
            await advance(lockTimeoutMs + 10);
          }
          await advance(0);
          expect(
            calls.every((c) => c.result !== undefined),
            'every call settles',
          ).toBe(true);
          expect(instances.map((idem) => idem.inFlight)).toEqual([0, 0]);
          expect(violations).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a call with a fingerprint that joins a call without one waiting on another process is refused when the record has another (fast-check: x on one instance, none then y on the other)', async () => {
    const { clock, advance } = steppingClock();
    const store = memoryStore();
    const [a, b] = [0, 1].map(() => idempotency({ clock, store, lockTimeoutMs: 15, ttlMs: 2, pollIntervalMs: 10 }));
    let finish: (value: string) => void = () => {};
    const first = a!.execute('k', () => new Promise<string>((resolve) => (finish = resolve)), { fingerprint: 'x' });
    const none = b!.executeDetailed('k', () => 'none ran');
    await advance(14);
    const other = b!.executeDetailed('k', () => 'y ran', { fingerprint: 'y' });
    const otherFailed = other.catch((error: unknown) => error);
    finish('x ran');
    await advance(10);
    expect(await first).toBe('x ran');
    expect(await none).toEqual({ value: 'x ran', source: 'replayed' });
    const error = await otherFailed;
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect((error as IdempotencyConflictError).code).toBe('fingerprint_mismatch');
  });

  it("a lock is read on the wall clock: one stepped back an hour holds a hung call's key the hour longer (docs/idempotency.md)", async () => {
    const { clock, advance, step } = steppingClock();
    const idem = idempotency({ clock, lockTimeoutMs: 1_000 });
    let runs = 0;
    void idem.execute('k', () => {
      runs++;
      return new Promise<never>(() => {});
    });
    await advance(0);
    step(-3_600_000);
    let second: unknown;
    void idem.execute('k', () => ++runs).then((value) => (second = value));
    await advance(1_100);
    expect([runs, second]).toEqual([1, undefined]);
    await advance(3_600_000);
    expect([runs, second]).toEqual([2, 2]);
  });
});
