import {
  createNoopMeter,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { type Clock, type OptionNames, systemClock } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { MAX_NAME_LENGTH } from './attributes.js';

/** How much of a rate limit is in use. */
export interface RateLimitUsage {
  used: number;
  limit: number;
}

/** Options of {@link instrumentAll}. */
export interface InstrumentAllOptions {
  /** Where metrics go. @default the global one (`metrics.getMeterProvider()`) */
  meterProvider?: MeterProvider;
  /** Where spans go. @default the global one (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
  /** Times calls for `resilience.call.duration` (a `FakeClock` in tests). @default systemClock */
  clock?: Clock;
}

/** Options of {@link instrument}. */
export interface InstrumentOptions extends InstrumentAllOptions {
  /**
   * `resilience.policy.name` on every metric and span: a short, fixed name for what the
   * policy protects (`'payments'`, `'openai'`), never a value that varies per request.
   */
  name: string;
  /**
   * Reads how much of a rate limit is in use, for the `resilience.rate_limit.utilization` gauge
   * (`used / limit`), at each collection. A promise is awaited; one that throws or rejects,
   * or whose ratio is NaN, infinite or negative, is left out of that collection, as is one
   * that has not settled within `usageTimeoutMs`. A call still pending is not made again: later
   * collections wait on it.
   *
   * @example
   * usage: () => { const d = limiter.peekSync('openai'); return { used: d.limit - d.remaining, limit: d.limit }; }
   */
  usage?: () => RateLimitUsage | PromiseLike<RateLimitUsage>;
  /** How long a collection waits for `usage()` before leaving it out. @default 1000 */
  usageTimeoutMs?: number;
}

const ALL_OPTION_NAMES = {
  meterProvider: true,
  tracerProvider: true,
  clock: true,
} as const satisfies OptionNames<InstrumentAllOptions>;

const OPTION_NAMES = {
  ...ALL_OPTION_NAMES,
  name: true,
  usage: true,
  usageTimeoutMs: true,
} as const satisfies OptionNames<InstrumentOptions>;

/** The scope name of this package's meter and tracer. */
export const SCOPE = '@resilience/opentelemetry';

/** What instrumenting needs: a meter and a tracer where an SDK is behind them, else undefined. */
export interface Telemetry {
  readonly meter: Meter | undefined;
  readonly tracer: Tracer | undefined;
  readonly clock: Clock;
}

/**
 * What a provider given in the options hands back (its `getMeter`, `getTracer`), checked to be
 * a meter (tracer): one that throws, or answers something else, is reported as the provider,
 * instead of a raw TypeError when the instruments are made, or no report at all. `undefined`
 * when the provider was not given, is of the wrong shape (reported already), or failed.
 */
function provided<T>(
  v: OptionsValidator,
  option: string,
  provider: unknown,
  get: () => unknown,
  methods: readonly string[],
  what: string,
): T | undefined {
  if (provider === undefined || v.issues.some((i) => i.option === option)) return undefined;
  let value: unknown;
  try {
    value = get();
  } catch {
    value = undefined;
  }
  const ok =
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  v.check(ok, option, provider, what);
  return ok ? (value as T) : undefined;
}

/**
 * The meter and tracer to report through, leaving out the API's no-op ones (no SDK
 * registered), so an instrumented policy with no SDK does no work per call at all.
 */
function telemetry(v: OptionsValidator, options: Partial<InstrumentAllOptions>): Telemetry {
  const { meterProvider, tracerProvider } = options;
  const given = {
    meter: provided<Meter>(
      v,
      'meterProvider',
      meterProvider,
      () => meterProvider!.getMeter(SCOPE),
      ['createHistogram', 'createCounter', 'createObservableGauge'],
      'a MeterProvider whose getMeter returns a Meter',
    ),
    tracer: provided<Tracer>(
      v,
      'tracerProvider',
      tracerProvider,
      () => tracerProvider!.getTracer(SCOPE),
      ['startSpan'],
      'a TracerProvider whose getTracer returns a Tracer',
    ),
  };
  v.done();
  const meter = given.meter ?? metrics.getMeterProvider().getMeter(SCOPE);
  const tracers = tracerProvider ?? trace.getTracerProvider();
  // A proxy provider with no delegate answers with the API's one no-op provider (no SDK registered).
  const noTracer =
    tracers instanceof ProxyTracerProvider && tracers.getDelegate() === new ProxyTracerProvider().getDelegate();
  return {
    meter: meter === createNoopMeter() ? undefined : meter,
    tracer: noTracer ? undefined : (given.tracer ?? tracers.getTracer(SCOPE)),
    clock: options.clock ?? systemClock,
  };
}

function checkCommon(v: OptionsValidator, o: Partial<InstrumentAllOptions>): void {
  v.check(
    o.meterProvider === undefined || typeof o.meterProvider?.getMeter === 'function',
    'meterProvider',
    o.meterProvider,
    'a MeterProvider (with getMeter)',
  );
  v.check(
    o.tracerProvider === undefined || typeof o.tracerProvider?.getTracer === 'function',
    'tracerProvider',
    o.tracerProvider,
    'a TracerProvider (with getTracer)',
  );
  v.clock('clock', o.clock);
}

/** Validates `instrument`'s arguments; throws one `ConfigurationError` naming each bad one. */
export function resolveInstrumentOptions(source: unknown, options: InstrumentOptions): Telemetry {
  const v = new OptionsValidator('instrument');
  v.check(
    typeof (source as { onEvent?: unknown } | null)?.onEvent === 'function',
    'source',
    source,
    'a policy, pipeline, breaker or rate limiter (with onEvent)',
  );
  v.required('options', options);
  const o = v.known(options, OPTION_NAMES);
  v.required('name', o.name);
  v.check(
    o.name === undefined || (typeof o.name === 'string' && o.name.length > 0 && o.name.length <= MAX_NAME_LENGTH),
    'name',
    o.name,
    'a short fixed name (1 to 100 characters)',
  );
  v.function('usage', o.usage);
  v.number('usageTimeoutMs', o.usageTimeoutMs, { gt: 0, max: 2_147_483_647 });
  checkCommon(v, o);
  return telemetry(v, o);
}

/** Validates `instrumentAll`'s arguments. */
export function resolveInstrumentAllOptions(registry: unknown, options: InstrumentAllOptions): Telemetry {
  const v = new OptionsValidator('instrumentAll');
  const r = registry as Record<string, unknown> | null;
  v.check(
    typeof r?.breakers === 'function' && typeof r.list === 'function' && typeof r.onAdd === 'function',
    'registry',
    registry,
    'a BreakerRegistry (breakers, list, onAdd)',
  );
  const o = v.known(options, ALL_OPTION_NAMES);
  checkCommon(v, o);
  return telemetry(v, o);
}
