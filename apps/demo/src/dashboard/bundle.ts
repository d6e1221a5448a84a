import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the dashboard's bundle is written: `app.js` and `app.css`. */
export const BUNDLE_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

/** Bundles the browser code (plain DOM and uPlot) with esbuild: nothing is fetched at run time. */
export async function bundleDashboard(): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir: BUNDLE_DIR,
    logLevel: 'warning',
  });
}

/** Builds the bundle unless `pnpm demo` (the package's build task) already did. */
export async function ensureBundle(): Promise<void> {
  if (!existsSync(`${BUNDLE_DIR}app.js`)) await bundleDashboard();
}
