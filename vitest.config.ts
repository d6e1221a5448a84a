import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests import workspace packages from source, so `pnpm test` needs no build first.
const alias = {
  '@resilience/core/testing': here('./packages/core/src/testing.ts'),
  '@resilience/core/internal': here('./packages/core/src/internal.ts'),
  '@resilience/core': here('./packages/core/src/index.ts'),
  '@resilience/express': here('./packages/express/src/index.ts'),
  '@resilience/koa': here('./packages/koa/src/index.ts'),
};

// The projects that run whole programs against the clock of a real machine (the release through
// a local registry, the demo's timed runs and its browser) go after the rest, one group at a
// time, so the parallel unit tests do not starve them of the CPU.
const GROUP_ORDER: Record<string, number> = { 'release-test': 1, demo: 2 };

// Every package and app with a src/ folder is one vitest project, named after its folder.
const projects = ['packages', 'apps'].flatMap((group) =>
  readdirSync(here(`./${group}`), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(here(`./${group}/${d.name}/src`)))
    .map((d) => ({
      extends: true as const,
      test: {
        name: d.name,
        root: `./${group}/${d.name}`,
        include: ['src/**/*.test.ts'],
        sequence: { groupOrder: GROUP_ORDER[d.name] ?? 0 },
      },
    })),
);

export default defineConfig({
  resolve: { alias },
  test: {
    projects,
    reporters: ['default', './scripts/summary-reporter.ts'],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      exclude: ['**/*.test.ts', '**/*.bench.ts', '**/testing/**', '**/testing.ts', '**/internal.ts', '**/index.ts'],
      reporter: ['text-summary'],
      thresholds: {
        'packages/core/src/**': { lines: 90 },
      },
    },
  },
});
