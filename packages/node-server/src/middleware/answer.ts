import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errorResponse, type ProblemResponse } from '@resilience/core';
import { requestCorrelationId } from '../request-state.js';
import type { Answer } from '../respond-once.js';

/** A problem response as an answer to send: its body as JSON text. */
export function problemAnswer(problem: ProblemResponse): Answer {
  return { status: problem.status, headers: problem.headers, body: JSON.stringify(problem.body) };
}

/** The problem+json answer for `error` (see core's `errorResponse`), with the request's correlation id. */
export function errorAnswer(res: ServerResponse, error: unknown, expose = false): Answer {
  return problemAnswer(errorResponse(error, { correlationId: requestCorrelationId(res), expose }));
}

/** The response's headers as one record, lower-case names, values as text (for header merges). */
export function headerText(res: ServerResponse, names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of names) {
    const value = res.getHeader(name);
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** Sets every header of `headers` on `res`. */
export function setHeaders(res: ServerResponse, headers: Readonly<OutgoingHttpHeaders>): void {
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
}
