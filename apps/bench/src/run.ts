import { readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { beginSuite, type SuiteOptions, targetResults } from './harness.js';
import { isolation } from './isolate.js';

// pnpm bench [suite…] [--filter <suite>]… [--quick] [--rounds <n>] [--forks <n>] [--json <file>]
// Runs every suite in src/suites, or those whose file name contains a name given (as an
// argument or with --filter). --json writes each target's figure, spread and verdict, for
// `node compare.mjs <a.json> <b.json>`.

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    filter: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string' },
    forks: { type: 'string' },
    json: { type: 'string' },
  },
});
const count = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected an integer ≥ 1, received ${value}`);
  return n;
};
const options: SuiteOptions = {
  quick: values.quick,
  rounds: count('rounds', values.rounds),
  forks: count('forks', values.forks),
};
const wanted = [...positionals, ...values.filter.flatMap((f) => f.split(','))].filter(Boolean);
const dir = fileURLToPath(new URL('./suites/', import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort();
const suites =
  isolation === undefined
    ? all.filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
    : [`${isolation.suite}.ts`]; // a child measuring one target alone runs its suite only
const unmatched = wanted.filter((w) => !all.some((f) => f.includes(w)));
if (unmatched.length > 0) {
  throw new Error(`no suite matches ${unmatched.join(', ')}; suites: ${all.map((f) => f.slice(0, -3)).join(', ')}`);
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const startLoad = load();
console.log(
  `# resilience benchmarks — node ${process.version}, ${availableParallelism()} CPUs, load ${startLoad}, ${suites.length} suite(s)`,
);
for (const file of suites) {
  const suite = (await import(new URL(`./suites/${file}`, import.meta.url).href)) as {
    default: (options: SuiteOptions) => Promise<void>;
  };
  beginSuite(file.slice(0, -3));
  await suite.default(options);
}
const endLoad = load();
console.log(`\n# load at the end: ${endLoad} (1, 5, 15 min)`);

if (values.json !== undefined) {
  const run = {
    node: process.version,
    cpus: availableParallelism(),
    load: { start: startLoad, end: endLoad },
    quick: options.quick,
    suites: suites.map((f) => f.slice(0, -3)),
    targets: targetResults(),
  };
  writeFileSync(values.json, `${JSON.stringify(run, null, 2)}\n`);
  console.log(`# targets written to ${values.json}`);
}
