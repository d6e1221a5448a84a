/**
 * The store's view of the user's client, found by shape: ioredis (`Redis`, `Cluster`) has
 * `evalsha`, node-redis (`createClient`, `createCluster`) has `evalSha`. The store only
 * runs scripts; it opens no connection of its own.
 */
export interface Connection {
  evalsha(sha: string, keys: readonly Arg[], args: readonly Arg[]): Promise<unknown>;
  eval(source: string, keys: readonly Arg[], args: readonly Arg[]): Promise<unknown>;
  /** A connection to each primary: the server itself, or every master of a cluster (for SCAN). */
  primaries(): Promise<Connection[]>;
  /** True for a cluster client: a script's keys must then share a hash slot. */
  readonly cluster: boolean;
  /** `PUBLISH` (a cluster carries it to every node). */
  publish(channel: string, message: string): Promise<unknown>;
  /** A cluster's primary holding `slot` in the client's map (`host:port`), if known. */
  owner(slot: number): string | undefined;
  /** The database the client was made for (`db`, `database`, a URL's path): pub/sub channels ignore it. */
  readonly db: number;
}

/** A key or argument of a script: text, or bytes (a key holding a lone surrogate, see the store). */
export type Arg = string | Buffer;

type Fn = (...args: never[]) => unknown;
type IoRedis = {
  evalsha: Fn;
  eval: Fn;
  publish: (channel: string, message: string) => Promise<unknown>;
  isCluster?: boolean;
  nodes?: (role: 'master') => IoRedis[];
  slots?: (string[] | undefined)[];
  options?: { keyPrefix?: string; db?: number };
};
type NodeRedisArgs = { keys: Arg[]; arguments: Arg[] };
type NodeRedis = {
  evalSha: (sha: string, options: NodeRedisArgs) => Promise<unknown>;
  eval: (source: string, options: NodeRedisArgs) => Promise<unknown>;
  publish: (channel: string, message: string) => Promise<unknown>;
  masters?: unknown[];
  slots?: ({ master?: { address?: string } } | undefined)[];
  options?: { database?: number };
  nodeClient?: (node: unknown) => Promise<NodeRedis>;
};

const has = (value: unknown, method: string): boolean =>
  typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[method] === 'function';

function ioredis(client: IoRedis): Connection {
  const run = (command: 'evalsha' | 'eval') => (first: string, keys: readonly Arg[], args: readonly Arg[]) =>
    (client[command] as (...a: (Arg | number)[]) => Promise<unknown>)(first, keys.length, ...keys, ...args);
  return {
    evalsha: run('evalsha'),
    eval: run('eval'),
    cluster: client.isCluster === true,
    primaries: async () =>
      client.isCluster === true && client.nodes ? client.nodes('master').map(ioredis) : [ioredis(client)],
    publish: (channel, message) => client.publish(channel, message),
    owner: (slot) => client.slots?.[slot]?.[0],
    db: Number(client.options?.db) || 0,
  };
}

function nodeRedis(client: NodeRedis): Connection {
  const options = (keys: readonly Arg[], args: readonly Arg[]) => ({ keys: [...keys], arguments: [...args] });
  return {
    evalsha: (sha, keys, args) => client.evalSha(sha, options(keys, args)),
    eval: (source, keys, args) => client.eval(source, options(keys, args)),
    cluster: Array.isArray(client.masters),
    async primaries() {
      const { masters, nodeClient } = client;
      if (!Array.isArray(masters) || typeof nodeClient !== 'function') return [nodeRedis(client)];
      return (await Promise.all(masters.map((m) => nodeClient.call(client, m)))).map(nodeRedis);
    },
    publish: (channel, message) => client.publish(channel, message),
    owner: (slot) => client.slots?.[slot]?.master?.address,
    db: Number(client.options?.database) || 0,
  };
}

/** The connection over a client of a known shape, or undefined. */
export function connectionOf(client: unknown): Connection | undefined {
  if (has(client, 'evalsha')) return ioredis(client as IoRedis);
  if (has(client, 'evalSha')) return nodeRedis(client as NodeRedis);
  return undefined;
}

/** The `keyPrefix` an ioredis client adds to keys (which its SCAN would not), if any. */
export const keyPrefixOf = (client: unknown): unknown =>
  has(client, 'evalsha') ? (client as IoRedis).options?.keyPrefix : undefined;
