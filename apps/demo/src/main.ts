import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { redisStore } from '@resilience/redis';
import { Redis } from 'ioredis';
import { startDashboard } from './dashboard/server.js';
import { runDemo } from './run.js';
import { DEFAULT_DURATION_S, DEFAULT_SEED, demoSettings } from './settings.js';
import { progress, summaryTables } from './terminal.js';

const USAGE = `usage: pnpm demo [--duration <s>] [--seed <n>] [--no-dashboard] [--json] [--redis <url>]`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: String(DEFAULT_DURATION_S) },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    'no-dashboard': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    redis: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const durationS = Number(values.duration);
const seed = Number(values.seed);
if (values.help || !(durationS >= 5 && durationS <= 3_600) || !Number.isInteger(seed)) {
  console.error(USAGE);
  console.error('--duration is 5 to 3600 seconds; --seed an integer.');
  process.exit(values.help ? 0 : 2);
}

const settings = demoSettings({ durationMs: durationS * 1_000, seed });
const tty = process.stdout.isTTY === true && !values.json;
const log = (line: string) => (values.json ? console.error(line) : console.log(line));
// --redis: each API runs as two instances sharing limits, breakers and idempotency records.
const redis = values.redis === undefined ? undefined : new Redis(values.redis);
const store =
  redis && redisStore({ client: redis, prefix: `resilience-demo:${randomUUID().slice(0, 8)}`, timeoutMs: 1_000 });
let stop = () => {};
let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
const summary = await runDemo(settings, {
  ...(store && { store }),
  async onStart(demo) {
    if (!values['no-dashboard']) {
      dashboard = await startDashboard(demo);
      log(`dashboard: ${dashboard.url}`);
    }
    log(
      `provider ${demo.provider.url}; APIs: express ${demo.urls.express.join(' ')}, koa ${demo.urls.koa.join(' ')}, trpc ${demo.urls.trpc.map((u) => `${u}/trpc`).join(' ')}`,
    );
    log(`admin routes: Authorization: Bearer ${settings.adminToken}; seed ${seed}, ${durationS} s`);
    stop = progress(demo, tty, log);
  },
});
stop();
await dashboard?.stop();
redis?.disconnect();
if (values.json) console.log(JSON.stringify(summary, null, 2));
else console.log(summaryTables(summary));
const missed = summary.targets.filter((t) => !t.ok);
if (missed.length > 0) {
  console.error(`missed: ${missed.map((t) => `${t.name} (${t.value})`).join('; ')}`);
  process.exitCode = 1;
}
