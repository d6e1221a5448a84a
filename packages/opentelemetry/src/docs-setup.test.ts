// docs/opentelemetry.md's "Setup", run as a newcomer who copies it would run it: the block as
// it stands, written to a module beside this package (so the SDK's packages resolve as in an
// app), with a `charge` that succeeds for the function it only declares. The block is "a
// complete setup that prints metrics and spans" through the console exporters: by the time it
// has run to its end, they must have printed the call's span and its metrics.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { context, metrics, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The first ```ts block under "## Setup" in docs/opentelemetry.md. */
function setup(): string {
  const page = readFileSync(new URL('../../../docs/opentelemetry.md', import.meta.url), 'utf8');
  const section = page.split(/^## /m).find((s) => s.startsWith('Setup\n'));
  const code = section && /^```ts\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!code) throw new Error('docs/opentelemetry.md has no ts block under "## Setup"');
  return code;
}

const dir = mkdtempSync(join(packageDir, '.docs-setup-'));
/** What the console exporters printed (each span and metric, with console.dir) while the block ran. */
const printed: string[] = [];

// The block runs here, not in the test: importing it loads the SDK's packages (transformed on
// first use), which takes seconds on a loaded machine; 60 s, as the other docs' setups have.
beforeAll(async () => {
  Object.assign(globalThis, { charge: async (order: { orderId: string }) => ({ id: `receipt-${order.orderId}` }) });
  const dirSpy = vi.spyOn(console, 'dir').mockImplementation((item: unknown) => {
    const { name, descriptor } = item as { name?: unknown; descriptor?: { name?: unknown } };
    printed.push(String(name ?? descriptor?.name));
  });
  try {
    const file = join(dir, 'setup.ts');
    writeFileSync(file, setup());
    await import(pathToFileURL(file).href);
  } finally {
    dirSpy.mockRestore();
  }
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  Reflect.deleteProperty(globalThis, 'charge');
  context.disable();
  metrics.disable();
  trace.disable();
});

describe('docs/opentelemetry.md, Setup', () => {
  it('has printed the call span and the metrics by the time it has run (it used to end with them still buffered)', () => {
    expect(printed).toContain('resilience.call');
    expect(printed).toContain('resilience.call.duration');
    expect(printed).toContain('resilience.attempts');
  });
});
