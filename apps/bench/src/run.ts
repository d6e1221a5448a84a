import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beginSuite, type SuiteOptions } from './harness.js';

// Runs every suite in src/suites (or only those named on the command line).
const args = process.argv.slice(2);
const options: SuiteOptions = { quick: args.includes('--quick') || process.env.BENCH_QUICK === '1' };
const only = args.filter((a) => !a.startsWith('--'));
const dir = fileURLToPath(new URL('./suites/', import.meta.url));
const suites = (existsSync(dir) ? readdirSync(dir) : [])
  .filter((f) => f.endsWith('.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

console.log(`# resilience benchmarks — node ${process.version}, ${suites.length} suite(s)`);
for (const file of suites) {
  const suite = (await import(new URL(`./suites/${file}`, import.meta.url).href)) as {
    default: (options: SuiteOptions) => Promise<void>;
  };
  beginSuite(file.slice(0, -3));
  await suite.default(options);
}
