import { mkdirSync, writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's
 * own summary, and keeps it in node_modules/.cache so .ci/run can repeat it last.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    const line = `tests: ${passed} passed, ${failed} failed, ${skipped} skipped`;
    console.log(`\n${line}`);
    mkdirSync('node_modules/.cache', { recursive: true });
    writeFileSync('node_modules/.cache/test-summary.txt', `${line}\n`);
  }
}
