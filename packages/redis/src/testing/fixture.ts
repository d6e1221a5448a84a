import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type RedisServer, startRedis } from './servers.js';

export interface ServerFixture {
  readonly server: RedisServer;
  /** An ioredis client of the server, its databases flushed before each test. */
  readonly client: Redis;
  /** Runs `during` with the server frozen (connections open, nothing answered), then lets it go on. */
  whilePaused(during: () => Promise<void>): Promise<void>;
}

/** Starts a redis-server for the tests of the calling file and stops it after them. */
export function useServer(): ServerFixture {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis({ port: server.port, host: '127.0.0.1' });
    // Ready (its INFO check answered) before a test file's own set-up runs: a MONITOR started there must see no other traffic.
    await once(client, 'ready');
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    await client?.flushall();
  });
  return {
    get server() {
      return server!;
    },
    get client() {
      return client!;
    },
    async whilePaused(during) {
      server!.pause();
      try {
        await during();
      } finally {
        server!.resume();
      }
    },
  };
}
