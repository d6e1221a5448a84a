import { idempotency, memoryStore, messageProcessor, saga, transactional } from '@resilience/core';
import { compare, type SuiteOptions } from '../harness.js';

// Overhead of the workflow helpers on their success paths, against the same work written
// by hand (no peer library offers these). Figures are per call; each task awaits.

const work = async () => 1;

export default async function workflows(opts: SuiteOptions) {
  const idem = idempotency({ maxRecords: 200_000 });
  await idem.execute('hot', work);
  let fresh = 0;
  await compare(
    'idempotency.execute (memory store)',
    [
      ['plain await fn()', () => work()],
      ['replay of a recorded key', () => idem.execute('hot', work)],
      ['first call of a new key', () => idem.execute(`k${fresh++ % 150_000}`, work)],
    ],
    opts,
  );

  // 100 concurrent callers of one new key: one runs fn, 99 share it in this process (the
  // sharers arm one lock timer per key between them, not one each).
  const gate = async () => {
    await work();
    return 1;
  };
  const shared = idempotency({ maxRecords: 200_000 });
  await compare(
    'idempotency.execute, 100 concurrent callers of one key',
    [
      ['100 awaits of one promise', () => Promise.all(Array.from({ length: 100 }, () => gate()))],
      [
        '1 run + 99 sharers',
        () => {
          const key = `s${fresh++ % 150_000}`;
          return Promise.all(Array.from({ length: 100 }, () => shared.execute(key, gate)));
        },
      ],
    ],
    opts,
  );

  const processor = messageProcessor<{ id: string }>({ handler: work, deadLetter: () => undefined });
  const timed = messageProcessor<{ id: string }>({
    handler: work,
    deadLetter: () => undefined,
    softTimeoutMs: 10_000,
    hardTimeoutMs: 20_000,
  });
  const message = { id: 'm-1' };
  await compare(
    'messageProcessor.process (memory store)',
    [
      ['plain await handler()', () => work()],
      ['process, no time limits', () => processor.process(message)],
      ['process, soft + hard limits', () => timed.process(message)],
    ],
    opts,
  );

  const threeSteps = saga('bench')
    .step({ name: 'a', run: work, compensate: work })
    .step({ name: 'b', run: work, compensate: work })
    .step({ name: 'c', run: work });
  const durable = saga('bench-durable', { store: memoryStore() })
    .step({ name: 'a', run: work, compensate: work })
    .step({ name: 'b', run: work, compensate: work })
    .step({ name: 'c', run: work });
  let id = 0;
  await compare(
    'saga.execute, 3 steps',
    [
      ['three plain awaits', async () => (await work()) + (await work()) + (await work())],
      ['in-memory saga', () => threeSteps.execute(null)],
      ['durable saga (memory store log)', () => durable.execute(null, { id: `s${id++}` })],
    ],
    opts,
  );

  const client = { begin: () => ({}), commit: () => undefined, rollback: () => undefined };
  await compare(
    'transactional',
    [
      [
        'hand-written begin/fn/commit',
        async () => {
          const tx = await client.begin();
          const v = await work();
          await client.commit();
          return [tx, v];
        },
      ],
      ['transactional(client, fn)', () => transactional(client, work)],
    ],
    opts,
  );
}
