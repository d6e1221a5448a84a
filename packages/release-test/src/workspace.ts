import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Copies the working tree of the repository at `root` into `into` — the files git tracks
 * or would track, as they are on disk, so uncommitted work is released too — and commits
 * them there as one snapshot, so `changeset version` can read the commits that added each
 * changeset. Nothing is installed: the copy's root `node_modules` is a link to the
 * original's, and each package's own `node_modules` (links into it and to sibling
 * packages) is copied link for link, so the copy's packages resolve each other.
 */
export function copyWorkspace(root: string, into: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
    .split('\0')
    .filter((file) => file !== '' && existsSync(join(root, file)));
  for (const file of files) cpSync(join(root, file), join(into, file), { verbatimSymlinks: true });

  symlinkSync(join(root, 'node_modules'), join(into, 'node_modules'), 'dir');
  for (const name of readdirSync(join(root, 'packages'))) {
    const modules = join(root, 'packages', name, 'node_modules');
    if (existsSync(join(into, 'packages', name)) && existsSync(modules) && lstatSync(modules).isDirectory())
      cpSync(modules, join(into, 'packages', name, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  }

  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=release-test', '-c', 'user.email=release-test@localhost', ...args], {
      cwd: into,
      stdio: 'ignore',
    });
  git('init', '--quiet', '--initial-branch=main');
  // The linked node_modules is a symlink, which the repository's `node_modules/` rule does not match.
  writeFileSync(join(into, '.git', 'info', 'exclude'), 'node_modules\n.npmrc\n');
  git('add', '--all');
  git('commit', '--quiet', '--no-gpg-sign', '--message', 'snapshot of the working tree');
}

/** A workspace package: its folder (relative to the root) and its manifest. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: {
    readonly name: string;
    readonly version: string;
    readonly private?: boolean;
    readonly [field: string]: unknown;
  };
}

/** The packages of the workspace at `root`, as pnpm-workspace.yaml lists them (`packages/*`, `apps/*`, `examples/*`, `docs`). */
export function workspacePackages(root: string): WorkspacePackage[] {
  const dirs = ['docs', ...['packages', 'apps', 'examples'].flatMap((group) => subdirs(root, group))];
  return dirs
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }));
}

function subdirs(root: string, group: string): string[] {
  return existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => `${group}/${name}`) : [];
}
