import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESILIENCE_METRICS_OPTION_NAMES } from './options.js';

// The README ships in the tarball: its option list is what a user reading it on npm sees.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('names every option registerResilienceMetrics takes', () => {
    const list = readme.slice(readme.indexOf('Options:'), readme.indexOf('## ', readme.indexOf('Options:')));
    const missing = Object.keys(RESILIENCE_METRICS_OPTION_NAMES).filter((name) => !list.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
