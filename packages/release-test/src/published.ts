/**
 * The packages `pnpm release` publishes: the one list to extend when a package goes public.
 * The release test fails while this list and the workspace's public packages differ, and
 * for each name here it checks the published manifest, installs the package with its
 * README's install line in a project outside the workspace, loads every entry of its
 * exports map in ESM and CommonJS, and type-checks its README's code under `node16` and
 * `bundler` resolution.
 */
export const PUBLISHED: readonly string[] = [
  '@resilience/axios',
  '@resilience/core',
  '@resilience/express',
  '@resilience/fetch',
  '@resilience/koa',
  '@resilience/opentelemetry',
  '@resilience/prometheus',
  '@resilience/redis',
  '@resilience/trpc',
];
