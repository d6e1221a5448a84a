// Shared by both entries: a core factory's bad options, reported as the link's or middleware's.
import { checkNested, OptionsValidator } from '@resilience/core/internal';

/**
 * What a core factory builds for a link or a middleware, its bad options reported as the
 * link's or middleware's (`subject`): under `path` when they are one option of it
 * (`retryLink`'s `retry.maxAttempts`).
 */
export function built<T>(subject: string, path: string | undefined, build: () => T): T {
  const v = new OptionsValidator(subject);
  const result = checkNested(v, path, build);
  v.done();
  return result as T;
}
