import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

/**
 * Every class name in the sources. esbuild writes a class as `var Name = class …`, whose `.name`
 * (what `error.name` reads) comes from the variable: these variables keep their names when the
 * others are shortened.
 */
function classNames(dir = fileURLToPath(new URL('src', import.meta.url))): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && f.name.endsWith('.ts') && !f.name.endsWith('.test.ts'))
    .flatMap((f) => [...readFileSync(join(f.parentPath, f.name), 'utf8').matchAll(/\bclass ([A-Za-z_$][\w$]*)/g)])
    .map((m) => m[1]!);
}

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
  // `error.name` read as in the source), any pretty-printer restores the layout, and the
  // TSDoc stays in the declarations. One statement a line (a newline where a semicolon would
  // be; 0.1 kB): Node prints the line an uncaught error was thrown from above its stack, which
  // with statements joined was most of a chunk (15 to 65 kB of code above a newcomer's uncaught
  // ConfigurationError or TimeoutError). The `@__PURE__` marks stay too: esbuild's own whitespace minifier drops
  // them, and bundlers then keep every module-level `new` (a one-constant import grew from
  // 81 to 13 000 bytes). Whitespace was a sixth of the tarball: 296.9 kB packed (npm), now
  // 247.1, and 249.5 as pnpm publishes it: under the 250 kB of issue 15 (the lint budget).
  // Variables get short names too, module-level ones included (imports, constants, regular
  // expressions); functions, classes and properties keep theirs, so stack traces and
  // `error.name` still read as in the source: 248.9 kB as published with this session's code
  // in, against 252.8 with module-level names kept (242.3 kB after issues 13 to 16).
  minifySyntax: true,
  minify: 'terser',
  terserOptions: {
    compress: false,
    // Functions, classes (the names `error.name` reads), exports and properties keep their
    // names; every other variable, module-level ones included, gets a short one.
    module: false,
    toplevel: false,
    mangle: { toplevel: true, keep_fnames: true, keep_classnames: true, reserved: classNames() },
    keep_fnames: true,
    keep_classnames: true,
    format: { comments: false, preserve_annotations: true, semicolons: false },
  },
  target: 'node20',
  treeshake: true,
} satisfies Options;

export default defineConfig(options);
