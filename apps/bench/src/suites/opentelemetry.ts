import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { circuitBreaker, consecutive, type Policy, pipeline, retry, timeout } from '@resilience/core';
import { type InstrumentOptions, instrument } from '@resilience/opentelemetry';
import { compare, type SuiteOptions, type Task } from '../harness.js';

// Issue 16: what `instrument` costs. With no SDK registered (the API's no-op providers) an
// instrumented policy must stay within 3 % of an uninstrumented one, measured in the same
// run; with the SDK (metrics into a reader, spans into an in-memory exporter) the suite
// states the cost per call. Success path: a trivial `async () => 1`.

const fn = async () => 1;

/** Policies to measure, each made anew for every variant, so instrumenting one leaves the others untouched. */
const policies: Record<string, () => Policy> = {
  retry: () => retry({ maxAttempts: 3, handle: () => true }),
  circuitBreaker: () => circuitBreaker({ strategy: consecutive(5), registry: false }),
  'pipeline(retry, breaker, timeout)': () =>
    pipeline(
      retry({ maxAttempts: 3, handle: () => true }),
      circuitBreaker({ strategy: consecutive(5), registry: false }),
      timeout(1_000, { strategy: 'cooperative' }),
    ),
};

class IdleReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A task that calls `policy` and, every 10 000 calls, drops the finished spans so memory stays flat. */
function task(name: string, policy: Policy, spans?: InMemorySpanExporter): Task {
  let calls = 0;
  return [
    name,
    () => {
      if (spans !== undefined && ++calls % 10_000 === 0) spans.reset();
      return policy.execute(fn);
    },
  ];
}

export default async function opentelemetry(options: SuiteOptions): Promise<void> {
  for (const [name, make] of Object.entries(policies)) {
    const instrumented = make();
    instrument(instrumented, { name: 'bench' }); // the global providers: no SDK registered
    await compare(
      `OpenTelemetry, no SDK: ${name}`,
      [task(`${name}`, make()), task(`${name} instrumented, no SDK`, instrumented)],
      { ...options, targets: [{ ours: `${name} instrumented, no SDK`, peer: name, maxRatio: 1.03 }] },
    );
  }

  // The SDK as an application runs it: the AsyncLocalStorage context manager, a meter
  // provider with a reader (collected on demand, never here), spans into memory.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const variants: Record<string, Omit<InstrumentOptions, 'name'>> = {
    'metrics + spans': { meterProvider, tracerProvider },
    'metrics only': { meterProvider },
    'spans only': { tracerProvider },
  };
  for (const [name, make] of Object.entries(policies)) {
    const tasks = [task(name, make())];
    for (const [variant, providers] of Object.entries(variants)) {
      const policy = make();
      instrument(policy, { name: 'bench', ...providers });
      tasks.push(task(`${name} with the SDK: ${variant}`, policy, spans));
    }
    const medians = await compare(`OpenTelemetry, with the SDK: ${name}`, tasks, options);
    const base = medians.get(name) ?? Number.NaN;
    for (const [task] of tasks.slice(1)) {
      console.log(`cost   ${task}: +${((medians.get(task) ?? Number.NaN) - base).toFixed(0)} ns a call`);
    }
  }
  context.disable();
}
