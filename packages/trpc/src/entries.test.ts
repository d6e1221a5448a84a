// The two entries as they ship, built here from the sources (no earlier `pnpm build` needed),
// each loaded alone in a fresh process: a client loads no server code, a server no client code.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const coreSrc = fileURLToPath(new URL('../../core/src/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
};
let dist = '';

beforeAll(async () => {
  // Inside the package, so the build resolves tRPC from its node_modules as an installed copy would.
  dist = mkdtempSync(join(packageDir, '.entries-'));
  await build({
    entry: ['src/client.ts', 'src/server.ts'].map((e) => join(packageDir, e)),
    format: ['esm', 'cjs'],
    outDir: dist,
    dts: false,
    silent: true,
    config: false,
    target: 'node20',
    // tRPC stays outside, as the peer dependencies are in the real build; core is bundled
    // from its sources, so the test needs no build of it either.
    external: Object.keys(manifest.peerDependencies),
    noExternal: ['@resilience/core'],
    esbuildOptions(options) {
      options.alias = {
        '@resilience/core/internal': join(coreSrc, 'internal.ts'),
        '@resilience/core': join(coreSrc, 'index.ts'),
      };
    },
  });
}, 120_000);

afterAll(() => {
  if (dist) rmSync(dist, { recursive: true, force: true });
});

/** The files a fresh Node process has loaded after requiring `modules` (CommonJS), relative to the package. */
function loaded(...modules: string[]): Set<string> {
  const script = `for (const m of ${JSON.stringify(modules)}) require(m);
    process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const files = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: packageDir, encoding: 'utf8' }));
  return new Set((files as string[]).map((f) => relative(packageDir, f)));
}

const minus = (a: Set<string>, b: Set<string>) => [...a].filter((f) => !b.has(f));

/** The modules an entry imports or requires, following its relative imports through the shared chunks. */
function graph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const code = readFileSync(join(dist, file), 'utf8');
    for (const [, spec] of code.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)) {
      if (spec!.startsWith('./')) visit(spec!.slice(2));
      else packages.add(spec!);
    }
  };
  visit(entry);
  return { files: [...files], packages: [...packages].sort() };
}

describe('the entries, each loaded alone', () => {
  it('CommonJS: ./client loads nothing a tRPC client does not load anyway', () => {
    const baseline = loaded('@trpc/client', '@trpc/server/observable');
    const client = loaded(join(dist, 'client.cjs'));
    expect(minus(client, baseline)).toEqual([relative(packageDir, join(dist, 'client.cjs'))]);
  });

  it('CommonJS: ./server loads nothing a tRPC server does not load anyway', () => {
    // `@trpc/server/observable` wraps a legacy Observable subscription (timeoutMiddleware): an
    // entry of tRPC's server package, whose code `@trpc/server` has loaded already.
    const baseline = loaded('@trpc/server', '@trpc/server/rpc', '@trpc/server/observable');
    const server = loaded(join(dist, 'server.cjs'));
    expect(minus(server, baseline)).toEqual([relative(packageDir, join(dist, 'server.cjs'))]);
    expect([...server].filter((f) => f.includes('@trpc/client') || f.includes('trpc+client'))).toEqual([]);
  });

  it.each(['js', 'cjs'])('%s: neither entry imports the other, and each imports only its side of tRPC', (ext) => {
    const client = graph(`client.${ext}`);
    const server = graph(`server.${ext}`);
    expect(client.files).not.toContain(`server.${ext}`);
    expect(server.files).not.toContain(`client.${ext}`);
    expect(client.packages).toEqual(['@trpc/client', '@trpc/server/observable']);
    expect(server.packages).toEqual(['@trpc/server', '@trpc/server/observable', '@trpc/server/rpc']);
  });

  it('ESM: each entry loads alone', () => {
    for (const entry of ['client.js', 'server.js']) {
      const script = `const m = await import(${JSON.stringify(join(dist, entry))}); process.stdout.write(Object.keys(m).sort().join(','));`;
      const names = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(names).toMatch(entry === 'client.js' ? /retryLink/ : /rateLimitMiddleware/);
    }
  });
});
