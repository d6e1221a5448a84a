import { type Attributes, trace } from '@opentelemetry/api';
import { type Disposer, type HttpDecision, type HttpDecisionKind, onHttpDecision } from '@resilience/core';
import { ATTRIBUTES as A } from './attributes.js';

/** What each decision adds besides `resilience.decision`, in the vocabulary of the metrics and of `annotateActiveSpan`. */
const IMPLIED: Record<HttpDecisionKind, Attributes> = {
  rate_limited: { [A.rejectionReason]: 'rate_limited' },
  shed: { [A.rejectionReason]: 'shed' },
  replayed: { [A.idempotencyReplayed]: true },
  timed_out: {},
  idempotency_conflict: {},
  store_unavailable: {},
};

function annotate({ decision, policy }: HttpDecision): void {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  span.setAttributes({ [A.decision]: decision, ...IMPLIED[decision] });
  if (policy !== undefined) span.setAttribute(A.policyName, policy);
}

/**
 * Puts the decisions of the server adapters (`@resilience/express`, `@resilience/koa`) on the
 * active span — the HTTP server span OpenTelemetry's own instrumentation made for the request
 * — as attributes: `resilience.decision` (`rate_limited`, `shed`, `replayed`, `timed_out`,
 * `idempotency_conflict`, `store_unavailable`), with `resilience.policy.name` for a rate
 * limit's, `resilience.rejection.reason` for a refusal and `resilience.idempotency.replayed`
 * for a replay. The adapters make no spans of their own. Without a recording span it does
 * nothing. Returns a disposer.
 *
 * @example
 * const stop = instrumentHttpDecisions(); // once, after the SDK has started
 */
export function instrumentHttpDecisions(): Disposer {
  return onHttpDecision(annotate);
}
