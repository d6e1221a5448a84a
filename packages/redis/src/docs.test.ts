/**
 * The examples of docs/redis.md and of the package README, run as written against a real
 * server (REDIS_URL): a reader who copies one gets a store whose first call reaches Redis.
 * The Cluster example names hosts of its own and is only type-checked (docs/).
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Idempotency, isStoreUnavailableError, type RateLimiter } from '@resilience/core';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { useServer } from './testing/fixture.js';
import { startProxy } from './testing/proxy.js';

const fixture = useServer();
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'resilience-redis-docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ```ts blocks of a Markdown file. */
const blocks = (file: string): string[] =>
  [...readFileSync(here(file), 'utf8').matchAll(/^```ts[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);

type Example = Record<string, { disconnect?(): void; close?(): Promise<void> } & Record<string, unknown>>;

/**
 * Runs one example with its imports pointed at this checkout; resolves with its top-level constants.
 * Its `redisStore` waits for every answer (testing/untimed.ts): what these tests check is that an
 * example's calls reach Redis, not that Redis answers a loaded machine within timeoutMs.
 */
async function run(name: string, code: string, port = fixture.server.port): Promise<Example> {
  const specifier = (s: string) =>
    s === '@resilience/redis' ? here('./testing/untimed.ts') : s.startsWith('@resilience/') ? s : require.resolve(s);
  const names = [...code.matchAll(/^const (\w+) =/gm)].map((m) => m[1]);
  const file = join(dir, `${name}.ts`);
  writeFileSync(
    file,
    `${code.replace(/ from '([^']+)'/g, (_, s: string) => ` from '${specifier(s)}'`)}\nexport { ${names} };\n`,
  );
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  try {
    return (await import(/* @vite-ignore */ file)) as Example;
  } finally {
    delete process.env.REDIS_URL;
  }
}

const close = async (example: Example) => {
  for (const name of ['client', 'subscriber'] as const) {
    const client = example[name];
    if (client?.disconnect) client.disconnect();
    else await client?.close?.();
  }
};

describe('the examples of the Redis docs', () => {
  it('README: the first decision is made in Redis, not passed degraded', async () => {
    const [example] = blocks('../README.md');
    const { limiter, payments, ...rest } = await run('readme', example!);
    const l = limiter as { stats: { storeErrors: number; allowed: number } };
    expect(l.stats).toMatchObject({ storeErrors: 0, allowed: 1 });
    expect(await (payments as { execute(k: string, f: () => string): Promise<string> }).execute('k', () => 'ran')).toBe(
      'ran',
    );
    await close(rest);
  });

  it('docs/redis.md, ioredis setup: the first decision and the first idempotent call reach Redis', async () => {
    const [example] = blocks('../../../docs/redis.md');
    const result = await run('setup', example!);
    expect(result.decision).toMatchObject({ allowed: true, remaining: 59 });
    expect(
      await (result.payments as { execute(k: string, f: () => string): Promise<string> }).execute('k', () => 'ran'),
    ).toBe('ran');
    await close(result);
  });

  it('docs/redis.md, ioredis setup: a decision whose answer is lost with its connection is counted once, not run again', async () => {
    const proxy = await startProxy(fixture.server.port);
    const [example] = blocks('../../../docs/redis.md');
    const result = await run('lost-reply', example!, proxy.port);
    const limiter = result.limiter as unknown as RateLimiter;
    const payments = result.payments as unknown as Idempotency;
    expect(result.decision).toMatchObject({ allowed: true, remaining: 59 });
    const lost = proxy.dropNextReply(); // Redis runs the script; its answer goes with the connection
    const decision = await limiter.consume('user-42');
    await lost;
    expect(decision).toMatchObject({ allowed: true, degraded: true });
    const client = result.client as unknown as Redis;
    if (client.status !== 'ready') await once(client, 'ready');
    // Not sent again after the reconnection: Redis counted the request once.
    expect(await limiter.consume('user-42')).toMatchObject({ allowed: true, remaining: 57 });
    // A lost claim fails the call; sent again, it would find itself in flight and wait out the lock.
    if (client.status !== 'ready') await once(client, 'ready');
    const claim = proxy.dropNextReply();
    const error = await payments.execute('k', () => 'ran').catch((e: unknown) => e);
    await claim;
    expect(isStoreUnavailableError(error)).toBe(true);
    await close(result);
    await proxy.close();
  });

  it('docs/rate-limiting.md, a store that fails: the first decisions are made in Redis, not passed degraded', async () => {
    const example = blocks('../../../docs/rate-limiting.md').find((b) => b.includes("from '@resilience/redis'"));
    const result = await run('rate-limiting', example!);
    for (const name of ['perUser', 'openai']) {
      const limiter = result[name] as unknown as RateLimiter;
      expect(await limiter.consume('user-42')).toMatchObject({ allowed: true, remaining: name === 'openai' ? 59 : 99 });
      expect(limiter.stats.storeErrors).toBe(0);
    }
    await close(result);
  });

  it('docs/redis.md, node-redis setup: the store answers', async () => {
    const example = blocks('../../../docs/redis.md').find((b) => b.includes("from 'redis'"));
    const result = await run('node-redis', example!);
    const store = result.store as { get(key: string, now: number): Promise<unknown> };
    expect(await store.get('{docs|k}', 0)).toBeUndefined();
    await close(result);
  });

  it('docs/redis.md, shared breaker with a subscriber: its first call reads the shared state', async () => {
    const example = blocks('../../../docs/redis.md').find((b) => b.includes('subscriber'));
    const result = await run('breaker', example!);
    const db = result.db as {
      onEvent(l: (e: { type: string }) => void): () => void;
      execute(f: () => string): Promise<string>;
      dispose(): void;
    };
    const events: string[] = [];
    db.onEvent((e) => events.push(e.type));
    expect(await db.execute(() => 'ran')).toBe('ran');
    expect(events).not.toContain('store_error');
    db.dispose();
    await close(result);
  });
});
