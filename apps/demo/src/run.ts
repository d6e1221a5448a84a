import { createServer, type Server } from 'node:http';
import { type Clock, type Store, systemClock } from '@resilience/core';
import { type ApiKit, apiKit } from './api-kit.js';
import { expressApp } from './express-api.js';
import { koaApp } from './koa-api.js';
import { close, listen } from './listen.js';
import { LoadGenerator } from './load.js';
import { Provider } from './provider.js';
import { type Phase, schedule } from './schedule.js';
import type { DemoSettings } from './settings.js';
import { type RunFacts, type Summary, summarize } from './summary.js';
import { API_NAMES, type ApiName, httpSender, trpcSender } from './targets.js';
import { trpcServer } from './trpc-api.js';

/** Where the three APIs listen, and the rest of a running demo, for the terminal and the dashboard. */
export interface RunningDemo {
  settings: DemoSettings;
  phases: readonly Phase[];
  provider: Provider;
  load: LoadGenerator;
  kits: Record<ApiName, ApiKit>;
  urls: Record<ApiName, string>;
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
  const kit = (name: ApiName, client: 'axios' | 'fetch') =>
    apiKit({
      name: `${name}-provider`,
      client,
      providerUrl,
      settings,
      clock,
      ...(hooks.store && { store: hooks.store }),
    });
  const kits: Record<ApiName, ApiKit> = {
    express: kit('express', 'axios'),
    koa: kit('koa', 'fetch'),
    trpc: kit('trpc', 'fetch'),
  };
  const servers: Record<ApiName, Server> = {
    express: createServer(expressApp(kits.express)),
    koa: createServer(koaApp(kits.koa).callback()),
    trpc: trpcServer(kits.trpc),
  };
  const urls = Object.fromEntries(
    await Promise.all(API_NAMES.map(async (api) => [api, await listen(servers[api])] as const)),
  ) as Record<ApiName, string>;
  const load = new LoadGenerator({
    apis: { express: httpSender(urls.express), koa: httpSender(urls.koa), trpc: trpcSender(urls.trpc) },
    phases,
    durationMs: settings.durationMs,
    ratePerApi: settings.ratePerApi,
    noisyPerApi: settings.noisyPerApi,
    seed: settings.seed,
    clock,
  });
  const breakers = watchBreakers(kits, () => load.elapsedMs);
  try {
    // Warm up: connections open and code compiled before the clock starts (the provider answers
    // without faults until then).
    for (const api of API_NAMES) await load.warmUp(api);
    await hooks.onStart?.({ settings, phases, provider, load, kits, urls, breakers });
    provider.start();
    await load.run();
    // One more evaluation, so an alert whose condition ended after the last tick is resolved.
    await Promise.all(API_NAMES.map((api) => kits[api].alerts.evaluate(kits[api].upstreamStats.snapshot())));
    for (const sample of load.samples) sample.faults = provider.faultsOf(sample.id);
    return summarize({
      seed: settings.seed,
      durationMs: settings.durationMs,
      wallMs: clock.now() - began,
      phases,
      samples: load.samples,
      skipped: load.skipped,
      breakers,
      alerts: record(API_NAMES, (api) => {
        const { stats } = kits[api].alerts;
        const names = kits[api].alerts.history({ status: 'firing' }).map((a) => a.name);
        return { fired: stats.fired, resolved: stats.resolved, active: stats.active, names };
      }),
      sagas: record(API_NAMES, (api) => ({ ...kits[api].orders.counts })),
      provider: { calls: provider.calls, injected: provider.injected },
    });
  } finally {
    await Promise.all(API_NAMES.map((api) => close(servers[api])));
    for (const api of API_NAMES) kits[api].stop();
    await provider.close();
  }
}

/** Counts each API's provider breaker opening and closing again, from the client's events. */
function watchBreakers(kits: Record<ApiName, ApiKit>, elapsedMs: () => number): RunFacts['breakers'] {
  return record(API_NAMES, (api) => {
    const state: RunFacts['breakers'][ApiName] = { opens: 0, recoveries: 0, state: 'closed' };
    kits[api].upstream.client.onEvent((event) => {
      if (event.type !== 'state_change') return;
      const { from, to } = event as unknown as { from: string; to: string };
      state.state = to;
      if (to === 'open') state.opens++;
      if (to === 'closed' && from !== 'closed') {
        state.recoveries++;
        state.lastClosedMs = elapsedMs();
      }
    });
    return state;
  });
}

function record<K extends string, V>(keys: readonly K[], value: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, value(key)])) as Record<K, V>;
}
