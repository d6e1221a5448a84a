#!/usr/bin/env node
// Compares two `pnpm bench --json <file>` runs, target by target:
//   node apps/bench/compare.mjs <old.json> <new.json>
// A ratio's change is called beyond noise when the new median lies outside the old run's
// IQR (the middle half of its per-round ratios); a memory figure has no spread to judge by.
import { readFileSync } from 'node:fs';

const [oldFile, newFile] = process.argv.slice(2);
if (oldFile === undefined || newFile === undefined) {
  console.error('usage: node compare.mjs <old.json> <new.json>');
  process.exit(2);
}
const read = (file) => new Map(JSON.parse(readFileSync(file, 'utf8')).targets.map((t) => [t.id, t]));
const before = read(oldFile);
const after = read(newFile);

const figure = (t) => (t === undefined ? '—' : `${t.value.toPrecision(3)}${t.unit === 'ratio' ? '' : ` ${t.unit}`}`);
function noise(a, b) {
  if (a === undefined) return 'new target';
  if (b === undefined) return 'gone';
  if (a.spread === undefined) return '';
  return b.value < a.spread.q1 || b.value > a.spread.q3 ? 'beyond noise' : 'within noise';
}

let section;
for (const id of new Set([...before.keys(), ...after.keys()])) {
  const a = before.get(id);
  const b = after.get(id);
  const at = id.lastIndexOf(' › ');
  if (id.slice(0, at) !== section) console.log(`\n## ${(section = id.slice(0, at))}`);
  const change = a && b ? `${(((b.value - a.value) / a.value) * 100).toFixed(1)} %` : '';
  const verdict = `${a?.verdict ?? '—'} → ${b?.verdict ?? '—'}`;
  console.log(`${id.slice(at + 3)}: ${figure(a)} → ${figure(b)}  ${change}  ${verdict}  ${noise(a, b)}`.trimEnd());
}
