import { StoreUnavailableError } from '@resilience/core';

/**
 * The rejection of a failed operation. An ACL refusal is named as one: Redis's text for a
 * command a script may not run ("ERR The user executing the script can't run this command")
 * names neither the command nor the user.
 */
export const failed = (what: string, error: unknown): StoreUnavailableError => {
  const text = `${(error as Error)?.message ?? error}`;
  return new StoreUnavailableError(
    `redisStore: ${what} failed: ${text}${/NOPERM|can't run this command/.test(text) ? " (an ACL refusal: grant the client's user what docs/redis.md#acl lists)" : ''}`,
    { cause: error },
  );
};
