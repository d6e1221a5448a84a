// Text the toolkit keeps long-term is cut short, and must not keep the long string it was cut
// from alive: V8 keeps a slice's whole parent. An attacker controls such parents (a padded
// X-Forwarded-For header, a URL, an error that echoes a payload), so the bounds the docs give
// hold only if each kept piece is a copy. Measured on the heap, 100 parents of 1 MB each.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { resilientClient } from '../client/client.js';
import { FakeClock } from '../clock/fake-clock.js';
import { clientIpKey } from '../http/client-ip.js';
import { messageProcessor } from '../messages/processor.js';
import { recentErrors } from './recent-errors.js';

const PARENTS = 100;
const PARENT_BYTES = 1_000_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};

/** Heap kept by what `keep(i, parent)` stores from 100 distinct 1 MB parents, once they are dropped. */
async function retained(keep: (i: number, parent: string) => unknown): Promise<number> {
  const before = heap();
  for (let i = 0; i < PARENTS; i++) await keep(i, `${i}:`.padEnd(PARENT_BYTES, 'x'));
  return heap() - before;
}

// Well under the 100 MB the parents weigh; well over what the cut pieces do.
const BOUND = 5_000_000;

describe('text kept from a long string keeps none of it', () => {
  it('recentErrors: messages, names, routes and correlation ids', async () => {
    const errors = recentErrors({ clock: new FakeClock() });
    const kept = await retained((_i, parent) => {
      const error = new Error(parent.slice(0, 300));
      error.name = parent.slice(0, 20);
      errors.record(error, { route: parent.slice(1, 40), correlationId: parent.slice(2, 30) });
    });
    expect(errors.list()).toHaveLength(PARENTS);
    expect(kept).toBeLessThan(BOUND);
  });

  it('messageProcessor: the failure text kept per message id', async () => {
    const clock = new FakeClock();
    const processor = messageProcessor<{ id: string; body: string }>({
      handler: async (m) => {
        throw new Error(m.body);
      },
      deadLetter: async () => {},
      maxAttempts: 3,
      clock,
      idOf: (m) => m.id,
    });
    const kept = await retained((i, parent) => processor.process({ id: `m${i}`, body: parent }));
    expect(kept).toBeLessThan(BOUND);
  });

  it("clientIpKey's cache of IPv6 addresses", async () => {
    const kept = await retained((i, parent) => clientIpKey(`2001:db8:${i.toString(16)}::1,${parent}`.split(',')[0]!));
    expect(kept).toBeLessThan(BOUND);
  });

  it("resilientClient's host keys", async () => {
    const client = resilientClient({ clock: new FakeClock(), retry: false } as never, { status: () => 200 });
    const kept = await retained((i, parent) => {
      const url = `http://host${i}.example.com/?q=${parent}`;
      return client.request({ request: url, method: 'GET', url }, async () => ({}));
    });
    expect(client.hosts().length).toBe(PARENTS);
    expect(kept).toBeLessThan(BOUND);
  });
});
