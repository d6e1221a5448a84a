import { expect } from 'vitest';
import type { ScenarioContext, Served } from './context.js';

/** The middleware or route a scenario is about (the bullet of issue 11 it proves). */
export type Area =
  | 'rateLimit'
  | 'idempotency'
  | 'timeout'
  | 'loadShedding'
  | 'errorHandler'
  | 'healthRoutes'
  | 'metricsRoute'
  | 'adminRoutes'
  | 'signals'
  | 'gracefulShutdown'
  | 'options'
  | 'decisions';

// biome-ignore lint/suspicious/noExplicitAny: option functions receive whatever the framework passes (req, ctx).
export type Context = ScenarioContext<unknown, any>;

/** One scenario: its name says the behaviour; `run` builds the app, sends real requests and asserts. */
export interface Scenario {
  readonly area: Area;
  readonly name: string;
  run(t: Context): Promise<void>;
}

/** The problem+json body of a response, after checking its media type. */
export async function problemOf(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as Record<string, unknown>;
}

/** A counter of handler runs. */
export function counter() {
  let n = 0;
  return {
    get runs() {
      return n;
    },
    /** Counts a run and returns `value` (a handler's reply). */
    add<T>(value?: T): T {
      n++;
      return value as T;
    },
  };
}

/**
 * A retry of a request whose first run still holds its key: sent again while it is answered
 * 409 (at most 50 times), so the answer is the one after the key's holder is done.
 */
export async function retryPast409(app: Served, path: string, init: RequestInit): Promise<Response> {
  let res = await app.fetch(path, init);
  for (let i = 0; i < 50 && res.status === 409; i++) res = await app.fetch(path, init);
  return res;
}
