// Writes each ```ts block of ../README.md, ./*.md and ../packages/*/README.md to _snippets/,
// one module per block, so `tsc` checks the code the docs show. A block fenced as
// ```ts nocheck is skipped.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('./_snippets/', import.meta.url);
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
/** Each page with the name its snippets take: README, retry, packages-fetch-README, ... */
const pages = [['README', new URL('../README.md', import.meta.url)]];
for (const f of readdirSync(new URL('.', import.meta.url)))
  if (f.endsWith('.md')) pages.push([f.replace(/\.md$/, ''), new URL(f, import.meta.url)]);
const packages = new URL('../packages/', import.meta.url);
for (const p of readdirSync(packages)) {
  const readme = new URL(`${p}/README.md`, packages);
  if (existsSync(readme)) pages.push([`packages-${p}-README`, readme]);
}
let count = 0;
for (const [name, file] of pages) {
  const blocks = readFileSync(file, 'utf8').matchAll(/^```ts[ \t]*(\S*)[^\n]*\n([\s\S]*?)^```/gm);
  let i = 0;
  for (const [, flag, code] of blocks) {
    i++;
    if (flag === 'nocheck') continue;
    writeFileSync(new URL(`${name}-${i}.ts`, out), `${code}\nexport {};\n`);
    count++;
  }
}
console.log(`extracted ${count} snippet(s) from ${pages.length} file(s)`);
