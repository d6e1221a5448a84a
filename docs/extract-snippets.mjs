// Writes each ```ts block of ../README.md and ./*.md to _snippets/, one module per block,
// so `tsc` checks the code the docs show. A block fenced as ```ts nocheck is skipped.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('./_snippets/', import.meta.url);
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
const files = [new URL('../README.md', import.meta.url)];
for (const f of readdirSync(new URL('.', import.meta.url)))
  if (f.endsWith('.md')) files.push(new URL(f, import.meta.url));
let count = 0;
for (const file of files) {
  const name = file.pathname.split('/').pop().replace(/\.md$/, '');
  const blocks = readFileSync(file, 'utf8').matchAll(/^```ts[ \t]*(\S*)[^\n]*\n([\s\S]*?)^```/gm);
  let i = 0;
  for (const [, flag, code] of blocks) {
    i++;
    if (flag === 'nocheck') continue;
    writeFileSync(new URL(`${name}-${i}.ts`, out), `${code}\nexport {};\n`);
    count++;
  }
}
console.log(`extracted ${count} snippet(s) from ${files.length} file(s)`);
