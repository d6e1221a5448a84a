// Shared by both entries: a core factory's bad options, reported as the link's or middleware's.
import { ConfigurationError, isConfigurationError } from '@resilience/core';

/**
 * What a core factory builds for a link or a middleware, its bad options reported as the
 * link's or middleware's (`subject`): under `path` when they are one option of it
 * (`retryLink`'s `retry.maxAttempts`).
 */
export function built<T>(subject: string, path: string | undefined, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!isConfigurationError(error)) throw error;
    const under = (option: string) => (path === undefined ? option : option === 'options' ? path : `${path}.${option}`);
    throw new ConfigurationError(
      subject,
      error.issues.map((i) => ({ ...i, option: under(i.option) })),
    );
  }
}
