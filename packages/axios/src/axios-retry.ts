import { isPlainObject, type OptionsValidator } from '@resilience/core/internal';

// What a user coming from axios-retry brings along, and what takes its place.

/**
 * axios-retry's options, given to `withResilience` or inside its `retry`, and what takes their
 * place (core would suggest `retry` for `retryCondition`, or nothing); the client's checks then
 * pass over them. Getters are not called.
 */
const AXIOS_RETRY_OPTIONS: Readonly<Record<string, string>> = {
  retries: 'retry: { maxAttempts: retries + 1 }',
  retryCondition: 'retry: { handle }, given the AxiosError',
  retryDelay: 'retry: { backoff }, e.g. backoff.exponential()',
  onRetry: 'retry: { onRetry }',
  shouldResetTimeout: 'timeout, which bounds each attempt (deadlineMs all of them)',
  onMaxRetryTimesExceeded: "client.onEvent(), type 'give_up'",
  validateResponse: "none: axios' validateStatus decides what fails",
};

export function refuseAxiosRetry(v: OptionsValidator, options: unknown): void {
  const refuse = (at: unknown, name: string, path: string, hint: string) => {
    const own = isPlainObject(at) ? Object.getOwnPropertyDescriptor(at, name) : undefined;
    if (own) v.check(false, path, own.value, `a known option (axios-retry's? here: ${hint})`);
  };
  try {
    const retry = isPlainObject(options) ? Object.getOwnPropertyDescriptor(options, 'retry')?.value : undefined;
    for (const [name, hint] of Object.entries(AXIOS_RETRY_OPTIONS)) {
      refuse(options, name, name, hint);
      // Inside retry, its own onRetry and core's hint for retries stand.
      if (name !== 'onRetry' && name !== 'retries') {
        refuse(retry, name, `retry.${name}`, hint.replace(/^retry: \{ (\w+) \}/, '$1'));
      }
    }
  } catch {}
}

/** A request config still carrying axios-retry's key: refused before anything is sent. */
export const AXIOS_RETRY = (received: unknown) => ({
  option: "config['axios-retry']",
  received,
  allowed:
    'no key of axios-retry: remove axiosRetry() from the instance (its retries multiply ours); to send one request once, read a config key of your own in idempotent',
});
