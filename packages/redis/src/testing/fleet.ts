/**
 * A fleet of instances for the multi-process tests: node processes started with
 * `child_process.fork`, each running fleet-worker.ts with its own ioredis client, store and
 * consumers against one redis-server. The worker is bundled from source with esbuild first,
 * so the tests need no build and run the code under test.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export type FleetRequest =
  | { kind: 'consume'; algorithm: string; key: string; limit: number; attempts: number; concurrency: number }
  | { kind: 'idempotency'; key: string; callers: number }
  | { kind: 'breaker'; name: string; perCall: boolean }
  | { kind: 'fail'; perCall: boolean }
  | { kind: 'sync' }
  | { kind: 'calls'; n: number }
  | { kind: 'release' }
  | { kind: 'advance'; ms: number }
  | { kind: 'outage'; n: number; advanceMs?: number }
  | { kind: 'ready' }
  | { kind: 'health' };

export interface Fleet {
  /** Sends `request` to every instance at once (or to those listed) and resolves with their answers, in order. */
  all<T>(request: FleetRequest, only?: readonly number[]): Promise<T[]>;
  stop(): Promise<void>;
}

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Bundles fleet-worker.ts (core from source) into one CommonJS file. */
async function bundle(dir: string): Promise<string> {
  const outfile = join(dir, 'fleet-worker.cjs');
  const { metafile } = await build({
    entryPoints: [source('./fleet-worker.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    metafile: true,
    plugins: [
      {
        name: 'core-from-source',
        setup(b) {
          b.onResolve({ filter: /^@resilience\/core(\/testing|\/internal)?$/ }, (args) => ({
            path: source(`../../../core/src/${args.path.split('/')[2] ?? 'index'}.ts`),
          }));
        },
      },
    ],
  });
  // The worker runs the code under test: a built copy of core may be stale, or half written
  // while another build runs (esbuild then cannot resolve it).
  const built = Object.keys(metafile.inputs).filter((input) => /packages\/core\/dist\//.test(input));
  if (built.length > 0) throw new Error(`the fleet worker bundles core's build, not its source: ${built.join(', ')}`);
  return outfile;
}

/** Starts `size` instances against the redis-server on `port` and resolves when each has started. */
export async function startFleet(size: number, port: number, env: Record<string, string> = {}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'resilience-fleet-'));
  const worker = await bundle(dir);
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  const children: ChildProcess[] = [];
  const send = (i: number, request: FleetRequest | null, id = ++next) =>
    new Promise<unknown>((resolve, reject) => {
      waiting.set(`${i}:${id}`, { resolve, reject });
      if (request) children[i]!.send({ ...request, id });
    });
  for (let i = 0; i < size; i++) {
    const child = fork(worker, [], {
      env: { ...process.env, ...env, REDIS_PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const w = waiting.get(`${i}:${m.id}`);
      waiting.delete(`${i}:${m.id}`);
      if (m.error === undefined) w?.resolve(m.result);
      else w?.reject(new Error(`instance ${i}: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const [k, w] of waiting)
        if (k.startsWith(`${i}:`)) w.reject(new Error(`instance ${i} exited (${code ?? signal})`));
    });
    children.push(child);
  }
  await Promise.all(children.map((_, i) => send(i, null, 0)));
  return {
    all<T>(request: FleetRequest, only = children.map((_, i) => i)) {
      const id = ++next;
      return Promise.all(only.map((i) => send(i, request, id))) as Promise<T[]>;
    },
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.disconnect();
              child.kill();
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
