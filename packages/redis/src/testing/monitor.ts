/** Counts round trips: the commands clients send, as MONITOR sees them (commands run by scripts excluded). */
import { once } from 'node:events';
import type { Redis } from 'ioredis';

export interface Monitor {
  /** The commands (lower case, with their first argument) sent while `during` ran. */
  commands(during: () => Promise<unknown>): Promise<string[]>;
  /** Closes the MONITOR connection and `client` (left open, it would try to reconnect to a stopped server forever). */
  stop(): void;
}

/**
 * Starts MONITOR on a duplicate of `client`. Nothing else may talk to the server until it resolves: ioredis 5
 * enters monitoring mode a microtask after MONITOR's `+OK`, so another client's command echoed in the same
 * socket read reaches an empty command queue and is thrown as "Command queue state error" with no listener.
 * So `client`'s own ready check (an INFO) is let finish first.
 */
export async function monitor(client: Redis): Promise<Monitor> {
  if (client.status !== 'ready') await once(client, 'ready');
  const watcher = await client.monitor();
  let seen: string[] | undefined;
  let marker: ((id: string) => void) | undefined;
  watcher.on('monitor', (_time: string, args: string[], source: string) => {
    const [name = '', first = ''] = args;
    if (name.toLowerCase() === 'echo' && first.startsWith('monitor:')) marker?.(first);
    else if (source !== 'lua') seen?.push(`${name.toLowerCase()} ${first}`.trim());
  });
  let n = 0;
  const mark = async (id: string) => {
    const arrived = new Promise<void>((resolve) => {
      marker = (m) => m === id && resolve();
    });
    await client.echo(id);
    await arrived;
  };
  return {
    async commands(during) {
      n++;
      await mark(`monitor:${n}:start`);
      seen = [];
      await during();
      const got = seen;
      await mark(`monitor:${n}:end`);
      seen = undefined;
      return got;
    },
    stop() {
      watcher.disconnect();
      client.disconnect();
    },
  };
}
