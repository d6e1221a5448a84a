// The dashboard's bundle, as `src/main.ts` finds it when started without `pnpm demo`'s build:
// missing, current, or older than a source it was built from.
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBundle } from './bundle.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A page's source in a directory of its own: `app.ts` importing `text.ts`, and where its bundle goes. */
function sources(text: string) {
  dir = mkdtempSync(join(tmpdir(), 'demo-bundle-'));
  const entry = join(dir, 'app.ts');
  writeFileSync(entry, "import { text } from './text.js';\ndocument.title = text;\n");
  writeFileSync(join(dir, 'text.ts'), `export const text = ${JSON.stringify(text)};\n`);
  return { entry, outdir: join(dir, 'dist'), text: join(dir, 'text.ts') };
}

const setTime = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

describe('the dashboard bundle', () => {
  it('is built when missing, kept while current, and rebuilt when a source it was built from changed', async () => {
    const page = sources('first');
    expect(await ensureBundle(page)).toBe('built');
    const bundle = join(page.outdir, 'app.js');
    expect(readFileSync(bundle, 'utf8')).toContain('first');

    setTime(bundle, 2_000_000_000);
    expect(await ensureBundle(page)).toBe('current');

    // An edit of an imported file (not the entry), newer than the bundle: `src/main.ts` started
    // without `pnpm demo` served the old page.
    writeFileSync(page.text, 'export const text = "second";\n');
    setTime(page.text, 2_000_000_100);
    expect(await ensureBundle(page)).toBe('built');
    expect(readFileSync(bundle, 'utf8')).toContain('second');
  });
});
