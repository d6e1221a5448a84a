import { StoreUnavailableError } from '@resilience/core';

/**
 * The rejection of a failed operation. An ACL refusal is named as one: Redis's text for a
 * command a script may not run ("ERR The user executing the script can't run this command")
 * names neither the command nor the user. So is READONLY: the client is still connected to
 * a node a failover made a replica, and every write will fail until it reconnects. Both are
 * told by how Redis's error reply begins (its code, and the text Redis 7.0 and 7.2 give a
 * script's refusal), as ioredis and node-redis keep it in the message: the rest of a message
 * may quote a key, a channel or a stored value.
 */
export const failed = (what: string, error: unknown): StoreUnavailableError => {
  const text = `${(error as Error)?.message ?? error}`;
  const hint = /^(NOPERM |ERR (The user executing the script can't|ACL failure in script))/.test(text)
    ? " (an ACL refusal: grant the client's user what docs/redis.md#acl lists)"
    : /^READONLY/.test(text)
      ? ' (Redis answered as a read-only replica: the client is connected to a former primary; see docs/redis.md#failover)'
      : '';
  return new StoreUnavailableError(`redisStore: ${what} failed: ${text}${hint}`, { cause: error });
};
