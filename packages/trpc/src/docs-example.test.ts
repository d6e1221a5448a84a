// docs/trpc.md's client links and its server, run together as a newcomer who copies both
// would run them: each block as it stands, written to a module beside this package, the
// server on 127.0.0.1 (not the page's port 3000) and the client's `httpBatchLink` pointed at
// it (not api.example.com), with the page's own path (`/trpc`). The functions the server
// block only declares (your session check, your data) are stubs on globalThis.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const page = readFileSync(new URL('../../../docs/trpc.md', import.meta.url), 'utf8');

/** The first ```ts block under the `## <heading>` of docs/trpc.md. */
function block(heading: string): string {
  const section = page.split(/^## /m).find((s) => s.startsWith(`${heading}\n`));
  const code = section && /^```ts\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!code) throw new Error(`docs/trpc.md has no ts block under "## ${heading}"`);
  // The package's own entries, as this package's sources (the page imports them by name).
  return code
    .replaceAll("'@resilience/trpc/client'", `'${pathToFileURL(join(packageDir, 'src/client.ts')).href}'`)
    .replaceAll("'@resilience/trpc/server'", `'${pathToFileURL(join(packageDir, 'src/server.ts')).href}'`);
}

/** Replaces `from` in `code` once, failing when the page no longer has it. */
function swap(code: string, from: string, to: string): string {
  expect(code, `the block has ${from}`).toContain(from);
  return code.replace(from, to);
}

const stubs = {
  verifiedUserId: () => 'u1',
  listItems: async () => ['book'],
  createOrder: async (item: string) => ({ orderId: `order-${item}` }),
};
let dir = '';
let server: Server;

beforeAll(async () => {
  Object.assign(globalThis, stubs);
  dir = mkdtempSync(join(packageDir, '.docs-example-'));
  const serverCode = swap(
    swap(block('Server'), 'createHTTPServer({', 'export const server = createHTTPServer({'),
    '}).listen(3000);',
    "});\nserver.listen(0, '127.0.0.1');",
  );
  writeFileSync(join(dir, 'server.ts'), serverCode);
  ({ server } = (await import(pathToFileURL(join(dir, 'server.ts')).href)) as { server: Server });
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  rmSync(dir, { recursive: true, force: true });
  for (const name of Object.keys(stubs)) Reflect.deleteProperty(globalThis, name);
});

describe('docs/trpc.md', () => {
  it("the client links' block reaches the server block at the URL path it is given (/trpc)", async () => {
    const { port } = server.address() as AddressInfo;
    const clientCode = swap(block('Client links'), "'https://api.example.com/trpc'", `'http://127.0.0.1:${port}/trpc'`);
    writeFileSync(join(dir, 'client.ts'), `${clientCode}\nexport { items };\n`);
    // The block queries and mutates at its top level: a server answering elsewhere fails the import.
    const { items } = (await import(pathToFileURL(join(dir, 'client.ts')).href)) as { items: unknown };
    expect(items).toEqual(['book']);
  });
});
