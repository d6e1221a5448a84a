import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunOptions, run } from './run.js';
import { workspacePackages } from './workspace.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Each entry of the consumer's report: the file an entry point loaded and the names it exported. */
export type ConsumerReport = Record<string, { file: string; names: string[] }>;

/** A package as the consumer meets it: its name, released version and README. */
export interface Released {
  readonly name: string;
  readonly version: string;
  readonly readme: string;
}

const FENCE = /^```(\w+)[ \t]*(\S*)[^\n]*\n([\s\S]*?)^```/gm;

/** The ```ts blocks of a README that are type-checked (not fenced as `ts nocheck`). */
export function tsBlocks(readme: string): string[] {
  return [...readme.matchAll(FENCE)].filter(([, lang, flag]) => lang === 'ts' && flag !== 'nocheck').map((m) => m[3]!);
}

/** The package names on a README's `npm install` lines. */
export function installLine(readme: string): string[] {
  return [...readme.matchAll(FENCE)]
    .filter(([, lang]) => lang === 'sh' || lang === 'bash')
    .flatMap((m) => m[3]!.split('\n'))
    .flatMap((line) => /^\s*npm (?:install|i) ([^#]*)/.exec(line)?.[1]?.split(/\s+/) ?? [])
    .filter((word) => word !== '' && !word.startsWith('-'));
}

/** The packages a README's code imports (`node:` and built-in modules left out). */
function importedPackages(readme: string): string[] {
  return tsBlocks(readme).flatMap((code) =>
    [...code.matchAll(/(?:\bfrom|^import|\bimport\()\s*'([^'.][^']*)'/gm)]
      .map((m) => m[1]!)
      .filter((id) => !isBuiltin(id))
      .map((id) =>
        id
          .split('/')
          .slice(0, id.startsWith('@') ? 2 : 1)
          .join('/'),
      ),
  );
}

/**
 * What a user of these packages installs: each README's `npm install` line and the
 * packages its code imports; `@resilience/*` at the released versions, anything else at
 * the range the workspace itself tests with (`ranges`); `@types/node`, and the `@types/*`
 * package of any other that the workspace installs one for (express, koa).
 */
export function installSpecs(released: readonly Released[], ranges: ReadonlyMap<string, string>): string[] {
  const versions = new Map(released.map((r) => [r.name, r.version]));
  const named = released.flatMap((r) => [...installLine(r.readme), ...importedPackages(r.readme)]);
  const types = named
    .map((name) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`)
    .filter((name) => ranges.has(name));
  const names = new Set(['@types/node', ...named, ...types]);
  return [...names].sort().map((name) => {
    const version = versions.get(name) ?? ranges.get(name);
    return version === undefined ? name : `${name}@${version}`;
  });
}

/** The version ranges of third-party packages the workspace's manifests name, dev dependencies first. */
export function workspaceRanges(root: string): Map<string, string> {
  const manifests = [
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')),
    ...workspacePackages(root).map((p) => p.manifest),
  ];
  const ranges = new Map<string, string>();
  for (const field of ['devDependencies', 'dependencies', 'peerDependencies'])
    for (const manifest of manifests)
      for (const [name, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>))
        if (!ranges.has(name) && !range.startsWith('workspace:')) ranges.set(name, range);
  return ranges;
}

export interface ConsumerOptions extends RunOptions {
  /** The registry lines of the project's `.npmrc`. */
  readonly npmrc: string;
}

/**
 * A fresh project in `cwd` (outside the workspace) that installs `specs` with npm, as a
 * user would, and holds the consumer fixtures. Rejects when npm reports a missing or
 * invalid dependency or peer dependency afterwards (`npm ls --all`).
 */
export async function installConsumer(specs: readonly string[], options: ConsumerOptions): Promise<void> {
  const dir = options.cwd;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(dir, '.npmrc'), `${options.npmrc}audit=false\nfund=false\nupdate-notifier=false\n`);
  for (const file of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, file), join(dir, file));
  await run('npm', ['install', '--prefer-online', ...specs], options);
  await run('npm', ['ls', '--all'], options);
}

/** Runs the consumer's ESM or CommonJS entry over `packages` and returns its report. */
export async function runConsumer(
  entry: 'consumer.mjs' | 'consumer.cjs',
  packages: readonly string[],
  options: ConsumerOptions,
): Promise<ConsumerReport> {
  const report = join(options.cwd, `${entry}.json`);
  await run(process.execPath, [entry, JSON.stringify(packages), report], options);
  return JSON.parse(readFileSync(report, 'utf8')) as ConsumerReport;
}

// skipLibCheck as `tsc --init` writes it: with it off, peers' own declarations fail whatever
// we ship (@types/koa against content-disposition 1.x's bundled types; @trpc/client wants the
// DOM lib). Our declarations are still resolved and used by every line checked here, and attw
// checks them file by file in `pnpm lint`.
const COMPILER_OPTIONS = {
  target: 'es2022',
  lib: ['es2022', 'dom'],
  types: ['node'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
};

/**
 * Type-checks, in the consumer project, every name each entry exported at run time (from
 * an ES module and from a CommonJS one), the typed fixture and the published READMEs' code,
 * under `moduleResolution: node16` and under `bundler`, with the workspace's TypeScript.
 */
export async function typecheckConsumer(
  report: ConsumerReport,
  readmes: readonly Released[],
  options: ConsumerOptions,
) {
  const dir = options.cwd;
  const entries = Object.entries(report);
  const uses = entries.map(
    ([id, { names }], i) => `import * as m${i} from '${id}';\n${names.map((n) => `m${i}.${n};\n`).join('')}`,
  );
  writeFileSync(join(dir, 'exports-esm.ts'), `${uses.join('')}export {};\n`);
  writeFileSync(join(dir, 'exports-cjs.cts'), `${uses.join('')}export {};\n`);
  for (const { name, readme } of readmes)
    tsBlocks(readme).forEach((code, i) => {
      writeFileSync(join(dir, `readme-${name.split('/').pop()}-${i + 1}.ts`), `${code}\nexport {};\n`);
    });
  const configs = {
    node16: { module: 'node16', moduleResolution: 'node16', include: ['*.ts', '*.cts'] },
    bundler: { module: 'esnext', moduleResolution: 'bundler', include: ['*.ts'] },
  };
  for (const [mode, { include, ...resolution }] of Object.entries(configs)) {
    const config = `tsconfig.${mode}.json`;
    writeFileSync(
      join(dir, config),
      JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, ...resolution }, include }),
    );
    await run(process.execPath, [TSC, '-p', config], options);
  }
}
