// Checks what `npm pack` would publish from the current directory (a package's lint step):
//   node ../../scripts/check-package.mjs --max-packed=250000 --max-unpacked=1000000
// - the tarball's packed and unpacked bytes against the budgets; packed as `pnpm pack` packs
//   it, since `pnpm release` publishes with pnpm, whose tarball is ~1 % larger than npm's;
// - `repository`, `homepage` and `bugs` in the manifest, so the registry links to the source,
//   and `license`, `engines` and `keywords`;
// - a LICENSE file (a copy of the root one), which npm ships whatever `files` says;
// - a sibling package named as `workspace:^`, which publishes as a caret range of its version
//   (`workspace:*` would pin the exact one, and a hand-written range would go stale);
// - every link in the README is absolute: relative ones point outside the tarball;
// - every name an entry's declarations export as a value is one its build exports: one that is
//   not (a class re-exported with `export type`, which the bundled declarations lose) type-checks
//   in `import { Name }` and fails when it runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ts from 'typescript';

const { values } = parseArgs({ options: { 'max-packed': { type: 'string' }, 'max-unpacked': { type: 'string' } } });
const budget = (name) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`--${name} must be a positive number of bytes`);
  return n;
};
const maxPacked = budget('max-packed');
const maxUnpacked = budget('max-unpacked');

const problems = [];
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));

const [pack] = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
);
const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
const packed = publishedSize();
if (packed > maxPacked) problems.push(`packed ${kB(packed)}, budget ${kB(maxPacked)}`);
if (pack.unpackedSize > maxUnpacked) problems.push(`unpacked ${kB(pack.unpackedSize)}, budget ${kB(maxUnpacked)}`);

for (const field of ['repository', 'homepage', 'bugs', 'license', 'engines', 'keywords']) {
  if (manifest[field] === undefined) problems.push(`package.json has no "${field}"`);
}
for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
  for (const [name, range] of Object.entries(manifest[field] ?? {})) {
    if (name.startsWith('@resilience/') && range !== 'workspace:^')
      problems.push(`${field}.${name} is "${range}": name a sibling package as "workspace:^"`);
  }
}
if (!pack.files.some((f) => f.path === 'LICENSE'))
  problems.push('no LICENSE in the tarball: copy the root LICENSE here');

const readme = readFileSync('README.md', 'utf8');
for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
  if (!/^(https?:|mailto:|#)/.test(target))
    problems.push(`README.md links to "${target}", which is not in the tarball`);
}

for (const target of Object.values(manifest.exports ?? {})) {
  const { types, default: file } = target?.require ?? {};
  if (types === undefined || file === undefined) continue;
  const program = ts.createProgram([types], {
    module: ts.ModuleKind.Node16,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(resolve(types));
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) continue;
  // The properties of `typeof import(entry)`: the values, without the type-only exports.
  const declared = checker
    .getTypeOfSymbolAtLocation(moduleSymbol, source)
    .getProperties()
    .map((p) => p.name);
  const built = new Set(Object.keys(createRequire(resolve('package.json'))(file)));
  const missing = declared.filter((name) => !built.has(name));
  if (missing.length > 0)
    problems.push(
      `${types} declares ${missing.join(', ')} as a value, which ${file} does not export: export the type only`,
    );
}

const summary = `${manifest.name}: ${kB(packed)} packed, ${kB(pack.unpackedSize)} unpacked, ${pack.entryCount} files`;
if (problems.length > 0) {
  console.error(`${summary}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(summary);

/** Bytes of the tarball `pnpm publish` would upload: packed for real into a temporary folder. */
function publishedSize() {
  const dir = mkdtempSync(join(tmpdir(), 'check-package-'));
  try {
    execFileSync('pnpm', ['pack', '--pack-destination', dir], { stdio: 'ignore' });
    const [tarball] = readdirSync(dir);
    return statSync(join(dir, tarball)).size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
