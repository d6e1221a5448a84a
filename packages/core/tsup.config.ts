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
  // No source maps: maps with the sources embedded were two thirds of the tarball.
  sourcemap: false,
  // Smaller files, same code: esbuild simplifies the syntax, then terser drops the whitespace
  // and nothing else. Every function and class keeps its name (stack traces and
  // `error.name` read as in the source), each statement keeps its own line (`semicolons:
  // false` costs 0.1 kB), any pretty-printer restores the layout, and the TSDoc stays in the
  // declarations. The `@__PURE__` marks stay too: esbuild's own whitespace minifier drops
  // them, and bundlers then keep every module-level `new` (a one-constant import grew from
  // 81 to 13 000 bytes). Whitespace was a sixth of the tarball: 296.9 kB packed (npm), now
  // 247.1, and 249.5 as pnpm publishes it: under the 250 kB of issue 15 (the lint budget).
  // Variables inside functions get short names too (module-level names, functions, classes
  // and properties keep theirs): 242.3 kB as published, with issues 13 to 16's code in.
  minifySyntax: true,
  minify: 'terser',
  terserOptions: {
    compress: false,
    // Variables inside functions only: module-level names (the classes `error.name` reads),
    // functions, classes, exports and properties keep theirs.
    module: false,
    toplevel: false,
    mangle: { toplevel: false, keep_fnames: true, keep_classnames: true },
    keep_fnames: true,
    keep_classnames: true,
    format: { comments: false, preserve_annotations: true, semicolons: false },
  },
  target: 'node20',
  treeshake: true,
} satisfies Options;

export default defineConfig(options);
