import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the dashboard's bundle is written: `app.js` and `app.css`. */
export const BUNDLE_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

/** The page's browser code, and where its bundle goes (the dashboard's unless a test says otherwise). */
export interface BundleSources {
  entry: string;
  outdir: string;
}

const DASHBOARD: BundleSources = { entry: fileURLToPath(new URL('./app.ts', import.meta.url)), outdir: BUNDLE_DIR };

/** Beside the bundle: the files esbuild read to make it (the entry, what it imports, uPlot's). */
const INPUTS = 'inputs.json';

/** Bundles the browser code (plain DOM and uPlot) with esbuild: nothing is fetched at run time. */
export async function bundleDashboard(sources: BundleSources = DASHBOARD): Promise<void> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [sources.entry],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir: sources.outdir,
    logLevel: 'warning',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(input));
  await writeFile(join(sources.outdir, INPUTS), JSON.stringify(inputs));
}

/**
 * Builds the bundle unless `pnpm demo` (the package's build task) already built it from the
 * sources as they are: started as `src/main.ts`, the demo would otherwise serve a page older
 * than its code. Cheap when current: a few `stat`s.
 */
export async function ensureBundle(sources: BundleSources = DASHBOARD): Promise<'built' | 'current'> {
  if (await isCurrent(sources)) return 'current';
  await bundleDashboard(sources);
  return 'built';
}

/** Whether the bundle is newer than every file it was built from (none missing). */
async function isCurrent(sources: BundleSources): Promise<boolean> {
  try {
    const built = (await stat(join(sources.outdir, 'app.js'))).mtimeMs;
    const inputs = JSON.parse(await readFile(join(sources.outdir, INPUTS), 'utf8')) as string[];
    const times = await Promise.all(inputs.map(async (input) => (await stat(input)).mtimeMs));
    return inputs.length > 0 && times.every((time) => time <= built);
  } catch {
    return false; // no bundle, one built before its inputs were listed, or a source gone
  }
}
