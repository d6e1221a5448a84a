/**
 * A store whose client logs in as a Redis ACL user: what docs/redis.md tells an operator to
 * grant is enough for every operation, and a refusal says it is one.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  circuitBreaker,
  consecutive,
  fixedWindow,
  gcra,
  idempotency,
  isStoreUnavailableError,
  rateLimiter,
  type SharedCircuitBreaker,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RETRY_FIRST_MS, RETRY_MAX_MS } from './channel.js';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();

/** The `ACL SETUSER` line of docs/redis.md, as words. */
function docsAcl(): string[] {
  const docs = readFileSync(fileURLToPath(new URL('../../../docs/redis.md', import.meta.url)), 'utf8');
  const line = /^ACL SETUSER .*$/m.exec(docs)?.[0];
  expect(line).toBeDefined();
  return line!.split(' ');
}

/** Clients of the fixture's server logged in as `username` (password `secret`), closed after the test. */
async function clients(kind: 'ioredis' | 'node-redis', username: string): Promise<[object, object]> {
  const make = async () => {
    if (kind === 'ioredis') {
      const io = new Redis({ port: fixture.server.port, host: '127.0.0.1', username, password: 'secret' });
      onTestFinished(() => io.disconnect());
      return io;
    }
    const node = createClient({
      socket: { port: fixture.server.port, host: '127.0.0.1' },
      username,
      password: 'secret',
    });
    node.on('error', () => undefined);
    await node.connect();
    onTestFinished(() => void node.close());
    return node;
  };
  return [await make(), await make()];
}

describe('redisStore over a Redis ACL user', () => {
  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`runs every operation with what docs/redis.md grants (${kind})`, async () => {
      const [acl, setuser, user, ...rules] = docsAcl();
      await fixture.client.call(acl!, setuser!, user!, ...rules);
      const [client, subscriber] = await clients(kind, user!);
      const store = redisStore({ client, subscriber, timeoutMs: 5_000 });
      const one = rateLimiter({ algorithm: tokenBucket({ capacity: 5 }), store, name: 'one', onStoreError: 'closed' });
      const two = rateLimiter({
        algorithm: [fixedWindow({ limit: 5, windowMs: 1_000 }), gcra({ limit: 5, periodMs: 1_000 })],
        store,
        name: 'two',
        onStoreError: 'closed',
      });
      expect(await one.consume('u')).toMatchObject({ allowed: true });
      expect((await Promise.all([1, 2, 3].map(() => one.consume('v')))).map((d) => d.remaining)).toEqual([4, 3, 2]);
      expect(await one.peek('u')).toMatchObject({ remaining: 4 });
      expect(await two.consume('u')).toMatchObject({ allowed: true });
      expect(await idempotency({ store }).execute('order-1', () => 'ran')).toBe('ran');
      const key = storeKey(storeNamespace('test', 'acl'), 'k');
      await store.set(key, { a: 1 }, 60_000, 0);
      expect(await store.get(key, 0)).toEqual({ a: 1 });
      expect(await store.keys(storeNamespace('test', 'acl'), 0)).toEqual([key]);
      expect(await store.delete(key)).toBe(true);
      const errors: unknown[] = [];
      const breaker = circuitBreaker({ store, name: `acl-${kind}`, strategy: consecutive(1), registry: false });
      breaker.onEvent((e) => e.type === 'store_error' && errors.push(e.error));
      await breaker.execute(() => 'warm');
      await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
      await breaker.sync();
      // Its SUBSCRIBE was let through too: the channel has its subscriber.
      const channel = `resilience:{breaker|acl-${kind}}`;
      while (Number(((await fixture.client.pubsub('NUMSUB', channel)) as unknown[])[1]) < 1);
      breaker.dispose();
      expect(errors).toEqual([]);
    });
  }

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`reports a SUBSCRIBE the ACL refuses as a breaker's store_error (step subscribe), to breakers made after it too (${kind})`, async () => {
      // Every command and key, but no channel under the prefix: the breakers' announcements are never heard.
      await fixture.client.call('ACL', 'SETUSER', 'no-channels', 'on', '>secret', '~*', '&other:*', '+@all');
      const [client, subscriber] = await clients(kind, 'no-channels');
      const store = redisStore({ client, subscriber, timeoutMs: 5_000 });
      const heard = (breaker: Pick<SharedCircuitBreaker, 'on'>) =>
        new Promise<{ step: string; error: unknown }>((resolve) =>
          breaker.on('store_error', (e) => e.type === 'store_error' && resolve(e)),
        );
      const make = () =>
        circuitBreaker({ store, name: `no-channels-${kind}`, strategy: consecutive(1), registry: false });
      const first = make();
      const firstHeard = heard(first);
      const event = await firstHeard;
      expect(event.step).toBe('subscribe');
      expect(isStoreUnavailableError(event.error)).toBe(true);
      expect((event.error as Error).message).toMatch(
        /^redisStore: SUBSCRIBE resilience:\{breaker\|no-channels-.*\} failed: NOPERM .* \(an ACL refusal: grant the client's user what docs\/redis\.md#acl lists\)$/,
      );
      const second = make(); // the key's SUBSCRIBE is not sent again for it (it waits for its retry): told all the same
      expect(await heard(second)).toMatchObject({ step: 'subscribe', error: event.error });
      // The breakers still work, reading each other's changes at their merges.
      expect(await first.execute(() => 'ran')).toBe('ran');
      first.dispose();
      second.dispose();
    });
  }

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`subscribes once the ACL grants the channel, without a reconnection, retrying with a growing wait (${kind})`, async () => {
      await fixture.client.call('ACL', 'SETUSER', 'late-grant', 'reset', 'on', '>secret', '~*', '&other:*', '+@all');
      const [client, subscriber] = await clients(kind, 'late-grant');
      const clock = new FakeClock();
      const store = redisStore({ client, subscriber, timeoutMs: 5_000, clock, random: () => 0 }); // no jitter
      const breaker = circuitBreaker({ store, name: `late-grant-${kind}`, strategy: consecutive(1), registry: false });
      let refusals = 0;
      let refused = () => {};
      breaker.on('store_error', (e) => {
        if (e.type !== 'store_error' || e.step !== 'subscribe') return;
        refusals++;
        refused();
      });
      const refusal = () =>
        new Promise<void>((resolve) => {
          refused = resolve;
        });
      await refusal();
      // Sent again after 1 s, then 2 s, 4 s ...: each time refused, each time told.
      for (const waitMs of [RETRY_FIRST_MS, 2 * RETRY_FIRST_MS, 4 * RETRY_FIRST_MS]) {
        const next = refusal();
        await clock.advance(waitMs - 1);
        expect(refusals).toBe(1 + Math.log2(waitMs / RETRY_FIRST_MS));
        await clock.advance(1);
        await next;
      }
      expect(clock.pendingTimers).toBe(1); // one timer, however long the refusals last
      // An operator grants the channels: the next try subscribes, the connection untouched.
      await fixture.client.call('ACL', 'SETUSER', 'late-grant', '&*');
      const channel = `resilience:{breaker|late-grant-${kind}}`;
      await clock.advance(8 * RETRY_FIRST_MS);
      while (Number(((await fixture.client.pubsub('NUMSUB', channel)) as unknown[])[1]) < 1);
      expect(refusals).toBe(4);
      expect(clock.pendingTimers).toBe(0);
      if (kind === 'ioredis') expect((subscriber as Redis).listenerCount('ready')).toBe(0);
      breaker.dispose();
    });
  }

  it('spreads the retries of instances refused together over up to half of each wait, not at one instant', async () => {
    await fixture.client.call('ACL', 'SETUSER', 'herd', 'reset', 'on', '>secret', '~*', '&other:*', '+@all');
    const clock = new FakeClock();
    // Four instances (each its own clients and store), refused at the same moment.
    const draws = [0, 0.25, 0.5, 0.99];
    const sent: number[][] = draws.map(() => []);
    for (const [i, draw] of draws.entries()) {
      const [client, subscriber] = await clients('ioredis', 'herd');
      const io = subscriber as Redis;
      const subscribe = io.subscribe.bind(io);
      io.subscribe = ((...args: Parameters<Redis['subscribe']>) => {
        sent[i]!.push(clock.now()); // when each SUBSCRIBE leaves, on the fake clock
        return subscribe(...args);
      }) as Redis['subscribe'];
      const store = redisStore({ client, subscriber, timeoutMs: 5_000, clock, random: sequenceRandom(draw) });
      const breaker = circuitBreaker({ store, name: 'herd', strategy: consecutive(1), registry: false });
      let refused = false;
      breaker.on('store_error', () => (refused = true));
      onTestFinished(() => breaker.dispose());
      while (!refused) await new Promise((resolve) => setImmediate(resolve));
    }
    for (let ms = 0; ms < RETRY_FIRST_MS; ms += 5) await clock.advance(5);
    // Sent again RETRY_FIRST_MS after the refusal, less up to half of it by each instance's draw:
    // four instants, where they were one.
    expect(sent.map((times) => times[1])).toEqual(
      draws.map((d) => RETRY_FIRST_MS - Math.floor((d * RETRY_FIRST_MS) / 2)),
    );
  });

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`stops retrying, and leaves the subscriber, when the last breaker of a refused channel goes (${kind})`, async () => {
      await fixture.client.call('ACL', 'SETUSER', 'never', 'reset', 'on', '>secret', '~*', '&other:*', '+@all');
      const [client, subscriber] = await clients(kind, 'never');
      const clock = new FakeClock();
      // Stores made per tenant over one subscriber, each with a breaker the ACL refuses, then disposed.
      for (let i = 0; i < 20; i++) {
        const store = redisStore({ client, subscriber, timeoutMs: 5_000, clock, prefix: `t${i}` });
        const breaker = circuitBreaker({ store, name: 'refused', strategy: consecutive(1), registry: false });
        await new Promise<void>((resolve) => breaker.on('store_error', () => resolve()));
        breaker.dispose();
      }
      expect(clock.pendingTimers).toBe(0);
      expect((subscriber as Redis).listenerCount('ready')).toBe(0); // node-redis's client is an EventEmitter too
      // The backoff never goes past its longest wait.
      const store = redisStore({ client, subscriber, timeoutMs: 5_000, clock, random: () => 0 });
      const breaker = circuitBreaker({ store, name: 'refused', strategy: consecutive(1), registry: false });
      let refusals = 0;
      breaker.on('store_error', () => refusals++);
      while (refusals < 1) await new Promise((resolve) => setImmediate(resolve));
      for (let waitMs = RETRY_FIRST_MS; waitMs < RETRY_MAX_MS; waitMs *= 2) {
        const before = refusals;
        await clock.advance(waitMs);
        while (refusals === before) await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < 2; i++) {
        const before = refusals;
        await clock.advance(RETRY_MAX_MS);
        while (refusals === before) await new Promise((resolve) => setImmediate(resolve));
      }
      breaker.dispose();
      expect(clock.pendingTimers).toBe(0);
    });
  }

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`says a refusal is the ACL’s, and where to read what to grant, whatever Redis calls it (${kind})`, async () => {
      // No TIME (which every script runs), no key of the store, no PUBLISH: three texts of Redis's.
      await fixture.client.call('ACL', 'SETUSER', 'no-time', 'on', '>secret', '~*', '&*', '+@all', '-time');
      await fixture.client.call('ACL', 'SETUSER', 'no-keys', 'on', '>secret', '~other:*', '&*', '+@all');
      await fixture.client.call('ACL', 'SETUSER', 'no-publish', 'on', '>secret', '~*', '&*', '+@all', '-publish');
      for (const user of ['no-time', 'no-keys', 'no-publish']) {
        const [client, subscriber] = await clients(kind, user);
        const store = redisStore({ client, subscriber, timeoutMs: 5_000 });
        const key = storeKey(storeNamespace('test', 'acl'), 'k');
        const error = await (user === 'no-publish' ? store.channel!.publish('t', 'm') : store.get(key, 0)).catch(
          (e: unknown) => e,
        );
        expect(isStoreUnavailableError(error), user).toBe(true);
        expect((error as Error).message, user).toMatch(
          /failed: (NOPERM |ERR The user executing the script can't run this command).* \(an ACL refusal: grant the client's user what docs\/redis\.md#acl lists\)$/,
        );
      }
    });
  }

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`calls no other failure an ACL refusal, whatever its text quotes (${kind})`, async () => {
      await fixture.client.call('ACL', 'SETUSER', 'everything', 'reset', 'on', '>secret', '~*', '&*', '+@all');
      const [client] = await clients(kind, 'everything');
      const store = redisStore({ client, timeoutMs: 5_000 });
      // A value something else wrote under the store's key, quoting Redis's words: JSON.parse's message quotes it.
      const key = storeKey(storeNamespace('test', 'acl'), 'k');
      for (const quoted of ['NOPERM', "can't run"]) {
        await fixture.client.set(`resilience:${key}`, `{"a":${quoted}}`);
        const error = await store.get(key, 0).catch((e: unknown) => e);
        expect(isStoreUnavailableError(error)).toBe(true);
        expect((error as Error).message).toMatch(/^redisStore: get failed: .*is not valid JSON/);
        expect((error as Error).message).toContain(quoted);
        expect((error as Error).message).not.toMatch(/ACL refusal/);
      }
    });
  }
});
