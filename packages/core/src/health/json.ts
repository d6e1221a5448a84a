import { isPlainObject, type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { HealthCheckResult, HealthReport } from './health.js';
import type { HealthCheckStatus, HealthStatus } from './options.js';

/** The media type of draft-inadarei-api-health-check-06. */
export const HEALTH_JSON_CONTENT_TYPE = 'application/health+json';

/** Service-level members of the health document (all optional in the draft). */
export interface HealthJsonOptions {
  /**
   * When the report was taken (clock ms since the epoch, e.g. `clock.now()` after `run()`),
   * stamped on every check entry as ISO 8601 `time`. Entries have no `time` without it.
   */
  time?: number;
  serviceId?: string;
  version?: string;
  releaseId?: string;
  description?: string;
  notes?: string[];
  links?: Record<string, string>;
}

const HEALTH_JSON_NAMES = {
  time: true,
  serviceId: true,
  version: true,
  releaseId: true,
  description: true,
  notes: true,
  links: true,
} as const satisfies OptionNames<HealthJsonOptions>;

// Checks `HealthJsonOptions` into `v` (a `healthRoutes` checks them at construction).
export function checkHealthJson(v: OptionsValidator, options: HealthJsonOptions | undefined): void {
  const o = v.known(options, HEALTH_JSON_NAMES);
  v.number('time', o.time, { min: -8.64e15, max: 8.64e15 }); // what a Date holds
  for (const k of ['serviceId', 'version', 'releaseId', 'description'] as const) v.string(k, o[k]);
  const strings = (l: unknown) => (l as unknown[]).every((s) => typeof s === 'string');
  v.check(o.notes === undefined || (Array.isArray(o.notes) && strings(o.notes)), 'notes', o.notes, 'strings');
  v.check(
    o.links === undefined || (isPlainObject(o.links) && strings(Object.values(o.links))),
    'links',
    o.links,
    'a record of strings',
  );
}

/** One entry of a `checks` array. `output` is omitted on `pass`, as the draft asks. */
export interface HealthJsonCheck {
  componentId?: string;
  componentType?: string;
  observedValue?: unknown;
  observedUnit?: string;
  status: HealthCheckStatus;
  /** ISO 8601 time of the report (from the `time` option). */
  time?: string;
  output?: string;
}

/** An `application/health+json` document. */
export interface HealthJson extends HealthJsonOptions {
  status: HealthCheckStatus;
  output?: string;
  checks: Record<string, HealthJsonCheck[]>;
}

const STATUS_WORD: Record<HealthStatus, HealthCheckStatus> = {
  healthy: 'pass',
  degraded: 'warn',
  unhealthy: 'fail',
};

/** Whether a check is keyed by its bare name plus its response time (see {@link toHealthJson}). */
const measuresResponseTime = (name: string, result: HealthCheckResult) =>
  !name.includes(':') && result.observedValue === undefined;

function checkJson(result: HealthCheckResult, time: string | undefined, responseTime: boolean): HealthJsonCheck {
  const entry: HealthJsonCheck = { status: result.status };
  if (time !== undefined) entry.time = time;
  if (result.componentId !== undefined) entry.componentId = result.componentId;
  if (result.componentType !== undefined) entry.componentType = result.componentType;
  if (responseTime) {
    entry.observedValue = result.durationMs;
    entry.observedUnit = 'ms';
  }
  if (result.observedValue !== undefined) entry.observedValue = result.observedValue;
  if (result.observedUnit !== undefined) entry.observedUnit = result.observedUnit;
  const output = result.output ?? result.error;
  if (result.status !== 'pass' && output !== undefined) entry.output = output;
  return entry;
}

/**
 * Renders a report as an `application/health+json` document (draft-inadarei-api-health-check-06),
 * `checks` keyed in the draft's `"component:measurement"` form. See docs/health.md.
 */
export function toHealthJson(report: HealthReport, options: HealthJsonOptions = {}): HealthJson {
  const v = new OptionsValidator('toHealthJson');
  checkHealthJson(v, options);
  v.done();
  const status = STATUS_WORD[report.status];
  const time = options.time === undefined ? undefined : new Date(options.time).toISOString();
  const checks: Record<string, HealthJsonCheck[]> = {};
  const problems: string[] = [];
  for (const [name, result] of Object.entries(report.checks)) {
    const responseTime = measuresResponseTime(name, result);
    const key = responseTime ? `${name}:responseTime` : name;
    const entry = checkJson(result, time, responseTime);
    // 'db' (its response time) and a check named 'db:responseTime' share a key: both kept, as the draft's arrays allow.
    if (Object.hasOwn(checks, key)) checks[key]!.push(entry);
    else checks[key] = [entry];
    if (result.status !== 'pass') problems.push(`${name}: ${result.status}`);
  }
  const doc: Record<string, unknown> = { status };
  for (const key of ['version', 'releaseId', 'serviceId', 'description', 'notes', 'links'] as const) {
    if (options[key] !== undefined) doc[key] = options[key];
  }
  if (status !== 'pass') doc.output = problems.join(', ');
  doc.checks = checks;
  return doc as unknown as HealthJson;
}

/** The HTTP status for a report or document: 200 for pass/warn (healthy/degraded), 503 for fail. */
export function healthHttpStatus(subject: { status: HealthStatus | HealthCheckStatus }): 200 | 503 {
  return subject.status === 'fail' || subject.status === 'unhealthy' ? 503 : 200;
}

/** `Cache-Control` for a result reused `maxAgeMs` (whole seconds, rounded down; `max-age=0` when not cached). */
export function healthCacheControl(maxAgeMs: number): string {
  // At most 2^31 s, as RFC 9111 caps delta-seconds: 1e308 would write 1e+305.
  const seconds = Number.isFinite(maxAgeMs) && maxAgeMs > 0 ? Math.min(Math.floor(maxAgeMs / 1_000), 2 ** 31) : 0;
  return `max-age=${seconds}`;
}

/** Everything an HTTP adapter sends for a health endpoint. */
export interface HealthHttpResponse {
  status: 200 | 503;
  headers: { 'content-type': string; 'cache-control': string };
  body: HealthJson;
}

/**
 * The status, headers and body of a health response, for the Express and Koa adapters. Pass as
 * `maxAgeMs` what the report has left of its cache life, `registry.maxAgeMs(report)`, not
 * `cacheMs`: a report served from the cache is already part stale (docs/health.md).
 */
export function healthResponse(
  report: HealthReport,
  options: HealthJsonOptions & { maxAgeMs?: number } = {},
): HealthHttpResponse {
  const { maxAgeMs = 0, ...jsonOptions } = options;
  const body = toHealthJson(report, jsonOptions);
  return {
    status: healthHttpStatus(body),
    headers: { 'content-type': HEALTH_JSON_CONTENT_TYPE, 'cache-control': healthCacheControl(maxAgeMs) },
    body,
  };
}
