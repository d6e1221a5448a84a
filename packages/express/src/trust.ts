import type { ProxyTrust } from '@resilience/core';
import type { Request } from 'express';

const known = new WeakMap<object, ProxyTrust>();

/**
 * How Express resolves client addresses: `trust proxy` unset, false or 0 trusts none. Any
 * other setting Express compiles into `trust proxy fn(address, hop)`: one that trusts a public
 * address (TEST-NET-3) 64 hops down (`true`, `() => true`, a hop count above 64) trusts every
 * hop, so the client writes the address that is used; a smaller count or a list of addresses
 * trusts hops.
 */
export function trustOf({ app }: Request): ProxyTrust {
  const setting: unknown = app.get('trust proxy');
  if (setting === undefined || setting === false || setting === 0) return 'none';
  const trusts: unknown = app.get('trust proxy fn');
  if (typeof trusts !== 'function') return setting === true ? 'all' : 'hops';
  let trust = known.get(trusts);
  if (trust === undefined) {
    try {
      trust = trusts('203.0.113.1', 64) ? 'all' : 'hops';
    } catch {
      trust = 'hops'; // a function of the user's that takes only its own proxies' addresses
    }
    known.set(trusts, trust);
  }
  return trust;
}
