import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { redisStore } from '@resilience/redis';
import { Redis } from 'ioredis';
import { startDashboard } from './dashboard/server.js';
import { runDemo } from './run.js';
import { DEFAULT_DURATION_S, DEFAULT_SEED, demoSettings } from './settings.js';
import { progress, summaryTables } from './terminal.js';

const USAGE = `usage: pnpm demo [--duration <s>] [--seed <n>] [--no-dashboard] [--json] [--redis <url>]

  --duration <s>   the schedule's length, 5 to 3600 seconds (default ${DEFAULT_DURATION_S})
  --seed <n>       an integer: the schedule's phase lengths and fault mix (default ${DEFAULT_SEED});
                   which requests meet a fault varies with timing from run to run
  --no-dashboard   do not serve the dashboard
  --json           print the summary as JSON on stdout (progress goes to stderr)
  --redis <url>    two instances of each API sharing one Redis (e.g. redis://127.0.0.1:6379)`;

/** The command line, or its usage and exit code 2 for a mistyped flag or a missing value. */
function commandLine() {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: String(DEFAULT_DURATION_S) },
        seed: { type: 'string', default: String(DEFAULT_SEED) },
        'no-dashboard': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        redis: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const values = commandLine();
// Blank is no value: Number('') and Number(' ') are 0, which would run seed 0 unasked.
const numberOf = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));
const durationS = numberOf(values.duration);
const seed = numberOf(values.seed);
if (values.help || !(durationS >= 5 && durationS <= 3_600) || !Number.isSafeInteger(seed)) {
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  console.error(`--duration is 5 to 3600 seconds; --seed an integer.\n\n${USAGE}`);
  process.exit(2);
}

const settings = demoSettings({ durationMs: durationS * 1_000, seed });
// A terminal that reports no width (some CI pseudo-terminals) would get an empty redraw: plain lines then.
const tty = process.stdout.isTTY === true && !values.json && (process.stdout.columns ?? 0) > 0;
const log = (line: string) => (values.json ? console.error(line) : console.log(line));
// --redis: each API runs as two instances sharing limits, breakers and idempotency records.
const redis = values.redis === undefined ? undefined : await connectRedis(values.redis);
const store =
  redis && redisStore({ client: redis, prefix: `resilience-demo:${randomUUID().slice(0, 8)}`, timeoutMs: 1_000 });
let stop: (early?: boolean) => void = () => {};
let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
// Ctrl-C (SIGINT) or `kill` (SIGTERM): the progress lines stay as they were, the terminal
// and the dashboard page are told the demo was stopped (its stream ended cleanly), and the
// exit code is a shell's for the signal (128 + its number); a second signal exits at once.
// `on`, not `once`: log-update's cursor restorer (signal-exit) kills the process on a
// signal it finds no other listener for, before the page could be told.
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const exit = () => process.exit(EXIT_CODES[signal]);
    if (interrupted) exit();
    interrupted = true;
    stop(true);
    console.error(`stopped (${signal === 'SIGINT' ? 'Ctrl-C' : signal}) before the end: no summary`);
    setTimeout(exit, 2_000).unref();
    void (dashboard?.stop({ stopped: true, signal }) ?? Promise.resolve()).finally(exit);
  });
}
const summary = await runDemo(settings, {
  ...(store && { store }),
  async onStart(demo) {
    if (!values['no-dashboard']) {
      dashboard = await startDashboard(demo);
      log(`dashboard: ${dashboard.url}`);
    }
    // One address a line, so that none wraps on a narrow terminal.
    log(`provider  ${demo.provider.url}`);
    log(`express   ${demo.urls.express.join(' ')}`);
    log(`koa       ${demo.urls.koa.join(' ')}`);
    log(`trpc      ${demo.urls.trpc.map((u) => `${u}/trpc`).join(' ')}`);
    log(`admin routes: Authorization: Bearer ${settings.adminToken}`);
    log(`seed ${seed}, ${durationS} s; Ctrl-C stops the demo early`);
    stop = progress(demo, tty, log);
  },
});
stop();
await dashboard?.stop({ ok: summary.ok, targets: summary.targets });
redis?.disconnect();
if (values.json) console.log(JSON.stringify(summary, null, 2));
else console.log(summaryTables(summary));
const missed = summary.targets.filter((t) => !t.ok);
if (missed.length > 0) {
  console.error(`missed: ${missed.map((t) => `${t.name} (${t.value})`).join('; ')}`);
  process.exitCode = 1;
}

/**
 * Connects to the Redis of `--redis`, or says it cannot and exits 2: without this the run
 * went ahead for minutes against a store that was not there, under a stack trace a second.
 */
async function connectRedis(url: string): Promise<Redis> {
  let lastError: Error | undefined;
  let connected = false;
  const client = new Redis(url, { lazyConnect: true });
  // Said once if the connection is lost mid-run (ioredis reconnects; the store's calls time out until then).
  client.on('error', (error: Error) => {
    if (connected && lastError === undefined) console.error(`redis: ${error.message} (reconnecting)`);
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(lastError ?? new Error('no answer in 5 s')), 5_000);
  });
  try {
    await Promise.race([client.connect().then(() => client.ping()), deadline]);
    connected = true;
    lastError = undefined;
    return client;
  } catch (error) {
    client.disconnect();
    // The suggested server listens where the user pointed (ioredis defaults to 6379).
    const port = URL.canParse(url) ? new URL(url).port || '6379' : '6379';
    console.error(
      `cannot reach Redis at ${url}: ${(lastError ?? (error as Error)).message}. Start one (redis-server --port ${port} --save '') or run without --redis.`,
    );
    process.exit(2);
  } finally {
    clearTimeout(timer);
  }
}
