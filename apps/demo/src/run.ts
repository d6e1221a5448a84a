import { createServer, type Server } from 'node:http';
import { type Clock, type Store, systemClock } from '@resilience/core';
import { type ApiKit, apiKit } from './api-kit.js';
import type { SagaCounts } from './checkout.js';
import { expressApp } from './express-api.js';
import { koaApp } from './koa-api.js';
import { close, listen } from './listen.js';
import { LoadGenerator } from './load.js';
import { Provider } from './provider.js';
import { type Phase, schedule } from './schedule.js';
import type { DemoSettings } from './settings.js';
import { type RunFacts, type Summary, summarize } from './summary.js';
import { API_NAMES, type ApiName, httpSender, type Send, trpcSender } from './targets.js';
import { trpcServer } from './trpc-api.js';

/** Where the three APIs listen, and the rest of a running demo, for the terminal and the dashboard. */
export interface RunningDemo {
  settings: DemoSettings;
  clock: Clock;
  phases: readonly Phase[];
  provider: Provider;
  load: LoadGenerator;
  /** Each API's instances: one, or two sharing a store (`--redis`). */
  kits: Record<ApiName, ApiKit[]>;
  urls: Record<ApiName, string[]>;
  breakers: RunFacts['breakers'];
}

export interface RunHooks {
  /** Called once everything listens, before the load starts. */
  onStart?(demo: RunningDemo): void | Promise<void>;
  clock?: Clock;
  store?: Store;
}

/** Runs the whole demo once and returns its summary. */
export async function runDemo(settings: DemoSettings, hooks: RunHooks = {}): Promise<Summary> {
  const clock = hooks.clock ?? systemClock;
  const began = clock.now();
  const phases = schedule(settings.seed, settings.durationMs);
  const provider = new Provider({ phases, seed: settings.seed, clock });
  const providerUrl = await provider.listen();
  // With a shared store (--redis) each API runs twice, as two instances behind a balancer.
  const instances = hooks.store ? 2 : 1;
  const kits = record(API_NAMES, (api) =>
    Array.from({ length: instances }, () =>
      apiKit({
        api,
        client: api === 'express' ? 'axios' : 'fetch',
        providerUrl,
        settings,
        clock,
        ...(hooks.store && { store: hooks.store }),
      }),
    ),
  );
  const servers = record(API_NAMES, (api) => kits[api].map((kit) => SERVERS[api](kit)));
  const urls = record(API_NAMES, () => [] as string[]);
  for (const api of API_NAMES) for (const server of servers[api]) urls[api].push(await listen(server));
  const load = new LoadGenerator({
    apis: record(API_NAMES, (api) => roundRobin(urls[api].map(api === 'trpc' ? trpcSender : httpSender))),
    phases,
    durationMs: settings.durationMs,
    ratePerApi: settings.ratePerApi,
    noisyPerApi: settings.noisyPerApi,
    seed: settings.seed,
    clock,
  });
  const breakers = watchBreakers(kits, phases, () => load.elapsedMs);
  try {
    // Warm up: connections open and code compiled before the clock starts (the provider answers
    // without faults until then).
    for (const api of API_NAMES) await load.warmUp(api);
    // The summary counts the run only: the warm-up's orders, provider calls and retries are
    // left out (the provider's counts start again with its schedule).
    const all = API_NAMES.flatMap((api) => kits[api]);
    for (const kit of all) kit.orders.resetCounts();
    const warmUpRetries = retriesOf(all);
    await hooks.onStart?.({ settings, clock, phases, provider, load, kits, urls, breakers });
    provider.start();
    await load.run();
    // Let the metrics window pass once after the last answer, then evaluate once more: an
    // alert whose condition has ended resolves, as it would on a service that stays up.
    await clock.sleep(settings.windowMs);
    await Promise.all(all.map((kit) => kit.alerts.evaluate(kit.upstreamStats.snapshot())));
    for (const sample of load.samples) sample.faults = provider.faultsOf(sample.id);
    const firedInOutage = outageWindow(phases, clock.now() - load.elapsedMs, settings.windowMs);
    return summarize({
      seed: settings.seed,
      durationMs: settings.durationMs,
      wallMs: clock.now() - began,
      phases,
      samples: load.samples,
      skipped: load.skipped,
      breakers,
      alerts: record(API_NAMES, (api) => ({
        fired: total(kits[api], (kit) => kit.alerts.stats.fired),
        firedInOutage: total(kits[api], (kit) => kit.alerts.history({ status: 'firing' }).filter(firedInOutage).length),
        resolved: total(kits[api], (kit) => kit.alerts.stats.resolved),
        active: total(kits[api], (kit) => kit.alerts.stats.active),
        names: kits[api].flatMap((kit) => kit.alerts.history({ status: 'firing' }).map((a) => a.name)),
      })),
      sagas: record(API_NAMES, (api) => {
        const counts = kits[api].map((kit) => kit.orders.counts);
        const sum = (key: keyof SagaCounts) => total(counts, (c) => c[key]);
        return {
          completed: sum('completed'),
          compensated: sum('compensated'),
          compensationFailed: sum('compensationFailed'),
          declined: sum('declined'),
          declinedCompensated: sum('declinedCompensated'),
        };
      }),
      instances,
      provider: { calls: provider.calls, injected: provider.injected, retries: retriesOf(all) - warmUpRetries },
    });
  } finally {
    await Promise.all(API_NAMES.flatMap((api) => servers[api].map(close)));
    for (const kit of API_NAMES.flatMap((api) => kits[api])) kit.stop();
    await provider.close();
  }
}

/**
 * Whether an alert (`at` on the run's clock) fired in the outage, or within one metrics
 * window after it: the rules read a trailing window, so what they see then is the outage.
 */
function outageWindow(phases: readonly Phase[], runStartedAt: number, windowMs: number) {
  const outage = phases.find((p) => p.name === 'outage')!;
  return (alert: { at: number }) =>
    alert.at >= runStartedAt + outage.startMs && alert.at < runStartedAt + outage.endMs + windowMs;
}

/**
 * Counts each API's provider breaker opening and closing again, from its clients' events
 * (with two instances, each instance's view of the shared breaker); the API's state is the
 * worst of its instances'. The opens in the outage are counted apart: the target is that each
 * breaker opened there, which an open in the transient phase does not show.
 */
function watchBreakers(
  kits: Record<ApiName, ApiKit[]>,
  phases: readonly Phase[],
  elapsedMs: () => number,
): RunFacts['breakers'] {
  const outage = phases.find((p) => p.name === 'outage')!;
  return record(API_NAMES, (api) => {
    const seen: RunFacts['breakers'][ApiName] = { opens: 0, opensInOutage: 0, recoveries: 0, state: 'closed' };
    const states = kits[api].map(() => 'closed');
    for (const [i, kit] of kits[api].entries()) {
      kit.upstream.client.onEvent((event) => {
        if (event.type !== 'state_change') return;
        const { from, to } = event as unknown as { from: string; to: string };
        states[i] = to;
        seen.state = WORST.find((state) => states.includes(state)) ?? 'closed';
        if (to === 'open') {
          seen.opens++;
          const at = elapsedMs();
          if (at >= outage.startMs && at < outage.endMs) seen.opensInOutage++;
        }
        if (to === 'closed' && from !== 'closed') {
          seen.recoveries++;
          seen.lastClosedMs = elapsedMs();
        }
      });
    }
    return seen;
  });
}

const WORST = ['isolated', 'open', 'half-open', 'closed'];

/** The retries the APIs' provider clients made so far (their retry policies report to `upstreamStats`). */
export function retriesOf(kits: readonly ApiKit[]): number {
  return total(kits, (kit) => kit.upstreamStats.snapshot().lifetime.retries);
}

const SERVERS: Record<ApiName, (kit: ApiKit) => Server> = {
  express: (kit) => createServer(expressApp(kit)),
  koa: (kit) => createServer(koaApp(kit).callback()),
  trpc: trpcServer,
};

/** Spreads requests over an API's instances in turn, as a load balancer would. */
function roundRobin(senders: Send[]): Send {
  let next = 0;
  return (request, signal) => senders[next++ % senders.length]!(request, signal);
}

const total = <T>(items: readonly T[], count: (item: T) => number) => items.reduce((sum, item) => sum + count(item), 0);

function record<K extends string, V>(keys: readonly K[], value: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, value(key)])) as Record<K, V>;
}
