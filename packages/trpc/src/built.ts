// Shared by both entries: a core factory's bad options, reported as the link's or middleware's.
import { checkNested, type OptionsValidator } from '@resilience/core/internal';

export { isPlainObject } from '@resilience/core/internal';

/**
 * What a core factory builds for a link or a middleware, its bad options reported in `v`'s
 * one error beside the link's own: under `path` when they are one option of it (`retryLink`'s
 * `retry.maxAttempts`). Not built when an option it is handed (`handed`) is already bad, so
 * nothing is reported twice.
 */
export function built<T>(v: OptionsValidator, path: string | undefined, handed: string[], build: () => T): T {
  const result = checkNested(v, path, build, handed);
  v.done();
  return result as T;
}
