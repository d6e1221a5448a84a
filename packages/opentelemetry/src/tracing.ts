import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type AttemptObserver, HedgeLostError, isTimeoutError } from '@resilience/core';
import { ATTRIBUTES as A, errorType, failureOutcome } from './attributes.js';

/** Span and span-event names. */
export const SPANS = {
  /** The caller's call through an instrumented policy or pipeline. */
  call: 'resilience.call',
  /** One attempt of a retry or hedge policy, a child of the call's span. */
  attempt: 'resilience.attempt',
  /** Span event: a breaker changed state (on the span active when it did). */
  stateChange: 'resilience.breaker.state_change',
  /** Span event: a hedge started (on the span of the call that hedged). */
  hedge: 'resilience.hedge',
  /** Span event: the call or attempt of this span ended on a time limit. */
  timeout: 'resilience.timeout',
} as const;

/** Runs `call` with `span` active under `parent`, and ends the span with the call's outcome. */
function runIn<T>(span: Span, parent: Context, call: () => Promise<T>): Promise<T> {
  return context.with(trace.setSpan(parent, span), call).then(
    (value) => {
      span.setAttribute(A.outcome, 'success');
      span.end();
      return value;
    },
    (error: unknown) => {
      try {
        span.setAttributes({ [A.outcome]: failureOutcome(error), [A.errorType]: errorType(error) });
        // No message: an error's message may hold a URL or a user's data. A hedge's loser did not fail (another
        // attempt answered): no ERROR to count against a call that succeeded.
        if (!(error instanceof HedgeLostError)) span.setStatus({ code: SpanStatusCode.ERROR });
        if (isTimeoutError(error)) span.addEvent(SPANS.timeout, { [A.timeoutLimit]: error.timeoutMs / 1000 });
      } finally {
        // Ended, and the call's own error passed on, whatever reading the error did.
        span.end();
      }
      throw error;
    },
  );
}

/** A `runCall` that runs each call in a `resilience.call` span, a child of the caller's active span. */
export function callSpans(tracer: Tracer, attributes: Attributes): <T>(call: () => Promise<T>) => Promise<T> {
  return (call) => {
    const parent = context.active();
    return runIn(tracer.startSpan(SPANS.call, { attributes }, parent), parent, call);
  };
}

/**
 * Runs each attempt in a `resilience.attempt` span, a child of the span that was active when
 * its call began (the call's own span under `instrument`); for a hedge policy, each hedge
 * adds a `resilience.hedge` event to that span.
 */
export function attemptSpans(tracer: Tracer, name: string, hedges: boolean): AttemptObserver {
  return {
    callStarted() {
      const parent = context.active();
      return (run, { attempt, delayMs }) => {
        const delay = delayMs / 1000;
        if (hedges && attempt > 1) {
          trace.getSpan(parent)?.addEvent(SPANS.hedge, { [A.attempt]: attempt, [A.attemptDelay]: delay });
        }
        const attributes = { [A.policyName]: name, [A.attempt]: attempt, [A.attemptDelay]: delay };
        return runIn(tracer.startSpan(SPANS.attempt, { attributes }, parent), parent, run);
      };
    },
  };
}

/** Adds the state-change event to the active span, if there is one. */
export function spanStateChange(name: string, from: unknown, to: unknown): void {
  if (typeof from !== 'string' || typeof to !== 'string') return;
  trace.getActiveSpan()?.addEvent(SPANS.stateChange, {
    [A.policyName]: name,
    [A.breakerState]: to,
    [A.breakerPreviousState]: from,
  });
}
