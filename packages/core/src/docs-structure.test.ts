import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The shape every page users read must keep: each docs page with its anti-patterns and a
// type-checked example, an index that lists every page, links that lead somewhere, and a
// README per published package with its install line, example and docs link.
const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const docsPages = readdirSync(new URL('docs/', root))
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .sort();
const packageDirs = readdirSync(new URL('packages/', root)).filter((p) =>
  existsSync(new URL(`packages/${p}/package.json`, root)),
);
const published = packageDirs.filter((p) => JSON.parse(read(`packages/${p}/package.json`)).private !== true);

/** The ```ts blocks a page shows and docs/extract-snippets.mjs type-checks (not fenced `ts nocheck`). */
const checkedTs = (text: string) =>
  [...text.matchAll(/^```ts[ \t]*(\S*)[^\n]*\n([\s\S]*?)^```/gm)]
    .filter(([, flag]) => flag !== 'nocheck')
    .map((m) => m[2]!);

/** A page's text outside fenced code, where links and headings are. */
const prose = (text: string) => text.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');

/** GitHub's anchor for each heading of a page. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replaceAll(' ', '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe('the docs keep their shape', () => {
  it.each(docsPages)('docs/%s has an Anti-patterns section with items and a type-checked example', (page) => {
    const text = read(`docs/${page}`);
    const section = /^## Anti-patterns\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(prose(text))?.[1] ?? '';
    expect(section, 'a "## Anti-patterns" section with at least one item').toMatch(/^- /m);
    expect(
      checkedTs(text).some((code) => /from '@resilience\//.test(code)),
      'a ```ts example that imports @resilience/*',
    ).toBe(true);
  });

  it('docs/README.md links every page', () => {
    const index = read('docs/README.md');
    const unlisted = docsPages.filter((page) => !index.includes(`](${page})`));
    expect(unlisted).toEqual([]);
  });

  it('every relative link of README.md and docs/*.md leads to a file, and its #anchor to a heading there', () => {
    const broken: string[] = [];
    for (const page of ['README.md', 'docs/README.md', ...docsPages.map((p) => `docs/${p}`)]) {
      const base = new URL(page, root);
      for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:)/.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const file = path === '' ? base : new URL(path, base);
        if (!existsSync(file)) broken.push(`${page}: ${target}`);
        else if (anchor && file.pathname.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
          broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(published)('packages/%s/README.md has the install line, a type-checked example and a docs link', (dir) => {
    const { name } = JSON.parse(read(`packages/${dir}/package.json`)) as { name: string };
    const text = read(`packages/${dir}/README.md`);
    const install = /^npm install (.*)$/m.exec(text)?.[1] ?? '';
    expect(install.split(/\s+/), 'an `npm install` line naming the package').toContain(name);
    expect(checkedTs(text).length, 'a ```ts example').toBeGreaterThan(0);
    expect(text).toMatch(/\(https:\/\/github\.com\/resilience-js\/resilience\/(blob|tree)\/main\/docs\b/);
  });

  it('the README package table lists every package under packages/, linked', () => {
    const readme = read('README.md');
    const unlisted = packageDirs.filter((p) => !readme.includes(`](packages/${p})`));
    expect(unlisted).toEqual([]);
  });

  it("the README package table links each published package's docs page", () => {
    const rows = read('README.md')
      .split('\n')
      .filter((line) => line.startsWith('| '));
    const undocumented = published.filter((p) => {
      const row = rows.find((line) => line.includes(`](packages/${p})`)) ?? '';
      return !/\]\(docs\/[\w-]+\.md\)/.test(row);
    });
    expect(undocumented).toEqual([]);
  });
});
