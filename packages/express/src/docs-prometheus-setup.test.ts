// docs/prometheus.md's "Setup", run as a newcomer who copies it would run it: the block as it
// stands, written to a module beside this package (so @resilience/prometheus and prom-client
// resolve as in an app), serving on 127.0.0.1 (not the page's port 9464); then a scrape of
// its /metrics, which must show the collectors and the breaker the block registered, also
// once the garbage collector has run (the registry holds breakers weakly).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The first ```ts block under "## Setup" in docs/prometheus.md. */
function setup(): string {
  const page = readFileSync(new URL('../../../docs/prometheus.md', import.meta.url), 'utf8');
  const section = page.split(/^## /m).find((s) => s.startsWith('Setup\n'));
  const code = section && /^```ts\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!code) throw new Error('docs/prometheus.md has no ts block under "## Setup"');
  return code;
}

let dir = '';
let server: Server;

beforeAll(async () => {
  const code = setup();
  expect(code, 'the block serves its app with app.listen(9464)').toContain('app.listen(9464);');
  dir = mkdtempSync(join(packageDir, '.docs-prometheus-'));
  const file = join(dir, 'setup.ts');
  writeFileSync(file, code.replace('app.listen(9464);', "export const server = app.listen(0, '127.0.0.1');"));
  ({ server } = (await import(pathToFileURL(file).href)) as { server: Server });
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  rmSync(dir, { recursive: true, force: true });
});

describe('docs/prometheus.md, Setup', () => {
  it('serves the collectors and breaker it registered at /metrics, after a garbage collection too', async () => {
    // The block used to unregister them at start-up (/metrics was empty), and to keep its
    // policies nowhere, so its breaker left breakerRegistry, and the scrape, once collected.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // WeakRef targets stay alive until the current job ends: collect only after yielding.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toContain('resilience_calls_total{name="payments",outcome="ok"} 0');
    expect(text).toContain('resilience_calls_total{name="search",outcome="ok"} 0');
    expect(text).toContain('resilience_circuit_state{name="payments",state="closed"} 1');
  });
});
