// Test fixture (not exported): the real OpenTelemetry SDK with in-memory readers.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type DataPoint, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll } from 'vitest';

/** A reader that collects when asked. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Installs the AsyncLocalStorage context manager for the file's tests (NodeSDK installs it in an application). */
export function useContextManager(): void {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });
}

/** A meter provider and a tracer provider of the real SDK, and what they recorded. */
export function sdk() {
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    meterProvider,
    tracerProvider,
    /** The finished spans, in the order they ended. */
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    /** The data points of metric `name` now (none when it has not been reported); rejects on a collection error. */
    async points<T = number>(name: string): Promise<DataPoint<T>[]> {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new AggregateError(errors, 'collection failed');
      const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
      return (metric?.dataPoints ?? []) as DataPoint<T>[];
    },
    /** How each metric reported so far reaches an exporter: its kind (from its points), unit and description. */
    async described(): Promise<Array<{ name: string; kind: string; unit: string; description: string }>> {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .map(({ descriptor: { name, unit, description }, ...data }) => {
          const monotonic = data.dataPointType === DataPointType.SUM && 'isMonotonic' in data && data.isMonotonic;
          return {
            name,
            kind: monotonic ? 'counter' : DataPointType[data.dataPointType]!.toLowerCase(),
            unit,
            description,
          };
        });
    },
  };
}

/** The value of the point whose attributes include `attributes`, or undefined. */
export function valueAt<T>(points: DataPoint<T>[], attributes: Record<string, unknown>): T | undefined {
  return points.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value;
}

/** An error as Node's network stack throws it. */
export function networkError(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}
