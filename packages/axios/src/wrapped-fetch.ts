// A fetch of `@resilience/fetch` under an instance that retries already, and its refusal.

/** What `@resilience/fetch` marks the fetch it returns with. */
const WRAPPED_FETCH = Symbol.for('@resilience/fetch.wraps');

/** Whether the fetch adapter would send through `@resilience/fetch`'s fetch: two retry layers, attempts multiplied (4 × 4). */
export const wrapsFetch = (env: { fetch?: unknown } | null | undefined): boolean =>
  (env?.fetch as { [WRAPPED_FETCH]?: unknown } | null | undefined)?.[WRAPPED_FETCH] === true;

/** The refusal of such an `env.fetch`, in the instance's defaults or a request's config. */
export const WRAPPED_ENV_FETCH = {
  option: 'env.fetch',
  received: 'a fetch @resilience/fetch wraps',
  allowed: 'a fetch withResilience does not wrap (the plain fetch: this instance retries already)',
} as const;
