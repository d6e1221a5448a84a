import { type Attributes, trace } from '@opentelemetry/api';
import { ATTRIBUTES as A, type RejectionReason } from './attributes.js';

/** What a middleware of your own decided about a request, for {@link annotateActiveSpan}. */
export interface RequestDecision {
  /** The name of the limiter or policy that decided (`resilience.policy.name`). */
  policy?: string;
  /** Why the request was refused, when it was (`resilience.rejection.reason`). */
  rejected?: RejectionReason;
  /** The response was replayed from an idempotency record (`resilience.idempotency.replayed`). */
  replayed?: boolean;
}

const REASONS: ReadonlySet<unknown> = new Set<RejectionReason>([
  'broken_circuit',
  'bulkhead_full',
  'rate_limited',
  'shed',
  'throttled',
  'budget_spent',
  '_OTHER',
]);

/**
 * Adds a request's decision to the active span (an HTTP server span that OpenTelemetry's
 * own instrumentation made), as attributes, from a middleware of your own (another
 * framework, a tRPC procedure); the adapters' decisions reach the span through
 * `instrumentHttpDecisions()`. Returns whether a recording span was
 * annotated; without one (no SDK, or no span) it does nothing. Throws a `TypeError` for a
 * decision of the wrong shape.
 *
 * @example
 * if (!decision.allowed) annotateActiveSpan({ policy: 'api', rejected: 'rate_limited' });
 */
export function annotateActiveSpan(decision: RequestDecision): boolean {
  const { policy, rejected, replayed } = (decision ?? {}) as RequestDecision;
  if (
    typeof decision !== 'object' ||
    decision === null ||
    Object.keys(decision).some((key) => key !== 'policy' && key !== 'rejected' && key !== 'replayed') ||
    (policy !== undefined && (typeof policy !== 'string' || policy.length === 0)) ||
    (rejected !== undefined && !REASONS.has(rejected)) ||
    (replayed !== undefined && typeof replayed !== 'boolean')
  ) {
    throw new TypeError(
      `annotateActiveSpan: expected { policy?: non-empty string, rejected?: ${[...REASONS].join(' | ')}, replayed?: boolean }`,
    );
  }
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return false;
  const attributes: Attributes = {};
  if (policy !== undefined) attributes[A.policyName] = policy;
  if (rejected !== undefined) attributes[A.rejectionReason] = rejected;
  if (replayed !== undefined) attributes[A.idempotencyReplayed] = replayed;
  span.setAttributes(attributes);
  return true;
}
