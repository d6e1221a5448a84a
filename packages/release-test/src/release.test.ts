// The release as a user meets it: the repository's own `pnpm version-packages` and
// `pnpm release`, run in a copy of the working tree (this one is never bumped), publish
// to a verdaccio on 127.0.0.1; a project outside the workspace installs from it with npm
// and uses the packages from ESM, CommonJS and TypeScript. Then a release of core alone.
// Takes a few minutes (two builds of every package); needs the npm registry for the
// consumer's third-party packages.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsumerOptions,
  installConsumer,
  installSpecs,
  type Released,
  runConsumer,
  typecheckConsumer,
  workspaceRanges,
} from './consumer.js';
import { PUBLISHED } from './published.js';
import { type LocalRegistry, type Manifest, startRegistry } from './registry.js';
import { cleanEnv, run } from './run.js';
import { copyWorkspace, workspacePackages } from './workspace.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MINUTE = 60_000;
const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'] as const;

let temp = '';
let registry: LocalRegistry;
let copy = '';
let releaseEnv: NodeJS.ProcessEnv;
let consumerEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), 'resilience-release-'));
  registry = await startRegistry(join(temp, 'registry'), MINUTE);
  copy = join(temp, 'repo');
  copyWorkspace(ROOT, copy);
  writeFileSync(join(copy, '.npmrc'), registry.npmrc('all'));
  // A home of its own: no user .npmrc (nor its tokens) takes part in the release.
  const home = join(temp, 'home');
  mkdirSync(home);
  releaseEnv = cleanEnv({
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    // changeset publish asks npm which versions the registry has: the same registry.
    npm_config_registry: registry.url,
    // The copy links the workspace's installation: nothing to install before a script runs.
    pnpm_config_verify_deps_before_run: 'false',
    CI: 'true',
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
  });
  writeFileSync(join(temp, 'user.npmrc'), '');
  consumerEnv = cleanEnv({ npm_config_userconfig: join(temp, 'user.npmrc') });
}, 2 * MINUTE);

afterAll(() => {
  registry?.stop();
  if (temp) rmSync(temp, { recursive: true, force: true });
}, MINUTE);

/** The published packages as the copy holds them now. */
function released(): (Released & { dir: string; manifest: Manifest })[] {
  return PUBLISHED.map((name) => {
    const found = workspacePackages(copy).find((p) => p.manifest.name === name);
    if (!found) throw new Error(`${name} is listed in published.ts but no workspace package has that name`);
    const readme = readFileSync(join(copy, found.dir, 'README.md'), 'utf8');
    return { name, version: found.manifest.version, readme, dir: found.dir, manifest: found.manifest };
  });
}

async function release(): Promise<void> {
  // Fails loudly, before anything is published, if the registry setting is not the local one.
  const configured = (
    await run('pnpm', ['config', 'get', 'registry'], { cwd: copy, env: releaseEnv, timeoutMs: MINUTE })
  ).trim();
  expect(configured).toBe(registry.url);
  await run('pnpm', ['version-packages'], { cwd: copy, env: releaseEnv, timeoutMs: 2 * MINUTE });
  await run('pnpm', ['release'], { cwd: copy, env: releaseEnv, timeoutMs: 10 * MINUTE });
}

async function expectReleased(packages: ReturnType<typeof released>): Promise<Manifest[]> {
  const versions = new Map(packages.map((p) => [p.name, p.version]));
  const manifests: Manifest[] = [];
  for (const { name, version, dir } of packages) {
    const packument = await registry.packument(name);
    expect(packument['dist-tags'].latest, name).toBe(version);
    const manifest = packument.versions[version]!;
    manifests.push(manifest);
    for (const field of DEPENDENCY_FIELDS) {
      for (const [dependency, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
        expect(range, `${name} ${field}.${dependency}`).not.toMatch(/^workspace:/);
        const local = versions.get(dependency);
        if (local !== undefined && field === 'dependencies')
          expect(range, `${name} -> ${dependency}`).toBe(`^${local}`);
      }
    }
    expect(manifest, name).toMatchObject({
      license: 'MIT',
      repository: { type: 'git', url: 'git+https://github.com/resilience-js/resilience.git', directory: dir },
      homepage: expect.stringMatching(/^https:\/\//),
      bugs: { url: expect.stringMatching(/^https:\/\//) },
      engines: { node: expect.any(String) },
      keywords: expect.arrayContaining([expect.any(String)]),
    });
    const changelog = readFileSync(join(copy, dir, 'CHANGELOG.md'), 'utf8');
    expect(changelog, `${name} CHANGELOG.md`).toMatch(new RegExp(`^## ${version.replaceAll('.', '\\.')}$`, 'm'));
  }
  return manifests;
}

/** Downloads each tarball: its file list (only what users need) and its size, printed for the release notes. */
async function expectTarballs(manifests: readonly Manifest[]): Promise<void> {
  const sizes: string[] = [];
  for (const manifest of manifests) {
    const { tarball } = (manifest as unknown as { dist: { tarball: string } }).dist;
    const bytes = Buffer.from(await (await fetch(tarball)).arrayBuffer());
    const file = join(temp, `${manifest.name.replace('/', '-')}-${manifest.version}.tgz`);
    writeFileSync(file, bytes);
    const files = (await run('tar', ['-tzf', file], { cwd: temp, env: consumerEnv, timeoutMs: MINUTE }))
      .split('\n')
      .filter((f) => f !== '');
    expect(files, manifest.name).toEqual(
      expect.arrayContaining(['package/package.json', 'package/README.md', 'package/LICENSE']),
    );
    const unexpected = files.filter((f) => !/^package\/(dist\/.+|package\.json|README\.md|LICENSE)$/.test(f));
    expect(unexpected, manifest.name).toEqual([]);
    sizes.push(
      `${manifest.name}@${manifest.version}: ${(bytes.length / 1000).toFixed(1)} kB packed, ${files.length} files`,
    );
  }
  console.log(`tarballs:\n  ${sizes.join('\n  ')}`);
}

function consumer(name: string): ConsumerOptions {
  return { cwd: join(temp, name), env: consumerEnv, npmrc: registry.npmrc('@resilience'), timeoutMs: 5 * MINUTE };
}

describe('the release', () => {
  it('lists every public workspace package in published.ts, and only those', () => {
    const publicPackages = workspacePackages(ROOT)
      .filter((p) => p.manifest.private !== true)
      .map((p) => p.manifest.name);
    expect([...PUBLISHED].sort(), 'src/published.ts lists the public packages: add a new one there').toEqual(
      publicPackages.sort(),
    );
  });

  it('the consumer project has no node_modules above it that could lend it a package', () => {
    for (let dir = temp; dir !== dirname(dir); dir = dirname(dir))
      expect(existsSync(join(dir, 'node_modules')), dir).toBe(false);
  });

  it(
    'pnpm version-packages and pnpm release publish every public package with its CHANGELOG, its metadata and caret ranges on the released core',
    async () => {
      const before = released();
      await release();
      const after = released();
      for (const [i, p] of after.entries()) expect(p.version, p.name).not.toBe(before[i]!.version);
      await expectTarballs(await expectReleased(after));
      // The working tree was not bumped.
      for (const { dir, version } of before)
        expect(JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')).version).toBe(version);
    },
    15 * MINUTE,
  );

  it(
    'a project outside the workspace installs them from the registry with npm and uses them from ESM, CommonJS and TypeScript (node16 and bundler)',
    async () => {
      const packages = released();
      const options = consumer('consumer');
      await installConsumer(installSpecs(packages, workspaceRanges(ROOT)), options);
      const esm = await runConsumer('consumer.mjs', PUBLISHED, options);
      const cjs = await runConsumer('consumer.cjs', PUBLISHED, options);
      expect(Object.keys(esm).length).toBeGreaterThanOrEqual(PUBLISHED.length);
      for (const [id, { file, names }] of Object.entries(esm)) {
        expect(cjs[id]?.names, `${id}: the same exports from require() as from import`).toEqual(names);
        expect(file, id).toMatch(/\.js$/);
        expect(cjs[id]?.file, id).toMatch(/\.cjs$/);
      }
      const readmes = packages.map((p) => ({
        ...p,
        readme: readFileSync(join(options.cwd, 'node_modules', p.name, 'README.md'), 'utf8'),
      }));
      await typecheckConsumer(esm, readmes, { ...options, timeoutMs: 3 * MINUTE });
    },
    15 * MINUTE,
  );

  it(
    'a release of core alone republishes its dependents with ranges that take the new core, and a fresh install holds one core',
    async () => {
      writeFileSync(
        join(copy, '.changeset', 'release-test-core-only.md'),
        "---\n'@resilience/core': minor\n---\n\nA change to core alone.\n",
      );
      const before = released();
      await release();
      const after = released();
      const core = after.find((p) => p.name === '@resilience/core')!;
      const dependents = after.filter(
        (p) => (p.manifest.dependencies as Record<string, string> | undefined)?.['@resilience/core'],
      );
      expect(dependents.length).toBeGreaterThan(0);
      for (const p of [core, ...dependents])
        expect(p.version, p.name).not.toBe(before.find((b) => b.name === p.name)!.version);
      await expectReleased(after);

      const options = consumer('consumer-after-core-release');
      await installConsumer(installSpecs(after, workspaceRanges(ROOT)), options);
      const tree = JSON.parse(await run('npm', ['ls', '--all', '--json'], options)) as Tree;
      expect([...new Set(coreVersions(tree))]).toEqual([core.version]);
    },
    15 * MINUTE,
  );
});

interface Tree {
  version?: string;
  dependencies?: Record<string, Tree>;
}

function* coreVersions(tree: Tree): Generator<string> {
  for (const [name, child] of Object.entries(tree.dependencies ?? {})) {
    if (name === '@resilience/core' && child.version) yield child.version;
    yield* coreVersions(child);
  }
}
