// Run after tsup in a package's build, from the package directory:
//   tsup && node ../../scripts/esm-types.mjs
// tsup writes every declaration twice, `.d.ts` for `import` and `.d.cts` for `require`,
// identical but for the file names they import (half of a package's unpacked size). This
// makes each `import` types entry of the `exports` map one line that re-exports its
// `require` entry (TypeScript reads `./index.cjs` as `./index.d.cts`), so the declarations,
// TSDoc included, ship once and both formats name the same classes; then it deletes the
// `.d.ts` chunks nothing imports any more.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const entries = new Set();
for (const target of Object.values(manifest.exports)) {
  const { import: esm, require: cjs } = typeof target === 'object' ? target : {};
  if (!esm?.types || !cjs?.default) continue;
  if (dirname(esm.types) !== dirname(cjs.default) || !esm.types.endsWith('.d.ts')) {
    throw new Error(`esm-types: expected ${esm.types} to be a .d.ts beside ${cjs.default}`);
  }
  writeFileSync(esm.types, `export * from './${basename(cjs.default)}';\n`);
  entries.add(join(esm.types));
}
for (const dir of new Set([...entries].map(dirname))) {
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    if (file.endsWith('.d.ts') && !entries.has(path)) rmSync(path);
  }
}
