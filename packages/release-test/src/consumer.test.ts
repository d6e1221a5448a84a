import { describe, expect, it } from 'vitest';
import { installLine, installSpecs, tsBlocks } from './consumer.js';

const readme = [
  '# @resilience/express',
  '```sh',
  'npm install @resilience/express @resilience/core express   # or: koa',
  '```',
  '```ts',
  "import http from 'node:http';",
  "import { readFile } from 'fs';",
  "import express from 'express';",
  "import { rateLimit } from '@resilience/express';",
  "import { trace } from '@opentelemetry/api';",
  "import './local.js';",
  '```',
  '```ts nocheck',
  "import { never } from 'not-checked';",
  '```',
].join('\n');

describe('what the consumer installs', () => {
  it("reads the README's install line without its comment", () => {
    expect(installLine(readme)).toEqual(['@resilience/express', '@resilience/core', 'express']);
  });

  it('type-checks the ```ts blocks but those fenced as nocheck', () => {
    expect(tsBlocks(readme)).toHaveLength(1);
  });

  it('pins @resilience/* at the released versions and the rest at the workspace ranges, with their @types', () => {
    const released = [
      { name: '@resilience/express', version: '0.2.1', readme },
      { name: '@resilience/core', version: '0.3.0', readme: '' },
    ];
    const ranges = new Map([
      ['express', '^5.3.0'],
      ['@types/express', '^5.0.6'],
      ['@types/node', '^20.19.0'],
      ['@opentelemetry/api', '~1.9.1'],
    ]);
    expect(installSpecs(released, ranges)).toEqual([
      '@opentelemetry/api@~1.9.1',
      '@resilience/core@0.3.0',
      '@resilience/express@0.2.1',
      '@types/express@^5.0.6',
      '@types/node@^20.19.0',
      'express@^5.3.0',
    ]);
  });
});
