import { defineConfig, type Options } from 'tsup';

/** The build, also run by `src/package.test.ts` to check what ships. */
export const options = {
  entry: ['src/index.ts', 'src/testing.ts', 'src/internal.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // Shared chunks in both formats: every class exists once, so `instanceof` holds across
  // the entries in CommonJS as in ESM.
  splitting: true,
  // No source maps: the output is unminified, and maps with the sources embedded were two
  // thirds of the tarball.
  sourcemap: false,
  target: 'node20',
  treeshake: true,
} satisfies Options;

export default defineConfig(options);
