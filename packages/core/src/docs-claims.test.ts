import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RETRYABLE_STATUSES } from './client/decisions.js';

// The pages users read (docs/*.md, the root README, every package README) and core's
// sources, checked for claims about code that does not exist.
const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const pages = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync(new URL('packages/', root))
    .filter((p) => existsSync(new URL(`packages/${p}/README.md`, root)))
    .map((p) => `packages/${p}/README.md`),
];

/** A page cut into what a reader takes as one statement: paragraphs, list items, table rows, code lines. */
function statements(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inCode = false;
  const flush = () => {
    if (current.trim()) out.push(current.trim());
    current = '';
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      flush();
      inCode = !inCode;
    } else if (inCode || line.trim() === '' || /^\s*([-*|]|\d+\.)\s/.test(line)) {
      flush();
      current = line;
      if (inCode) flush();
    } else current += ` ${line}`;
  }
  flush();
  return out;
}

/** What a statement says about each package DESIGN.md lays out: present-tense claims need "planned" until it is built. */
const CLAIMS: Record<string, RegExp> = {
  redis: /@resilience\/redis|\bRedis\b[^.]*\bstore\b|\bstore\b[^.]*\bRedis\b/i,
  express: /@resilience\/express|\bHTTP adapters?\b|\bExpress (and Koa )?(adapters?|middleware)\b/i,
  koa: /@resilience\/koa|\bHTTP adapters?\b|\bKoa (adapters?|middleware)\b/i,
  axios: /@resilience\/axios/,
  fetch: /@resilience\/fetch/,
  trpc: /@resilience\/trpc/,
};

describe('the docs claim only what is built', () => {
  it('speak of unbuilt packages (the Redis store, the HTTP adapters) as planned', () => {
    const unplanned: string[] = [];
    for (const [pkg, claim] of Object.entries(CLAIMS)) {
      if (existsSync(new URL(`packages/${pkg}/package.json`, root))) continue;
      for (const page of pages) {
        for (const s of statements(read(page))) {
          if (claim.test(s) && !/\bplanned\b/i.test(s)) unplanned.push(`${page} (${pkg}): ${s.slice(0, 100)}`);
        }
      }
    }
    expect(unplanned).toEqual([]);
  });

  it("give the HTTP clients' retried statuses as RETRYABLE_STATUSES has them, never every 5xx", () => {
    // The clients' table (408, 425, 429, 500, 502-504) leaves 501, 505 and the other 5xx out;
    // only core's retry (isTransient, which does not take 425) retries every 5xx.
    expect(RETRYABLE_STATUSES.filter((s) => s >= 500)).toEqual([500, 502, 503, 504]);
    const wrong: string[] = [];
    for (const page of pages) {
      for (const s of statements(read(page))) {
        if (/\b408, 425,? (and )?429,? and 5xx\b(?! \()/.test(s)) wrong.push(`${page}: ${s.slice(0, 100)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('mention no …OrThrow method, since none exists', () => {
    const sources = readdirSync(new URL('packages/core/src/', root), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => `packages/core/src/${f}`);
    const defined = sources.some((f) => /\w+OrThrow\s*[(<=]/.test(read(f)));
    const mentions = [...pages, ...sources].filter((f) => /OrThrow/.test(read(f)));
    expect(defined ? [] : mentions).toEqual([]);
  });
});
