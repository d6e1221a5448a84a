/** Counts round trips: the commands clients send, as MONITOR sees them (commands run by scripts excluded). */
import type { Redis } from 'ioredis';

export interface Monitor {
  /** The commands (lower case, with their first argument) sent while `during` ran. */
  commands(during: () => Promise<unknown>): Promise<string[]>;
  /** Closes the MONITOR connection and `client` (left open, it would try to reconnect to a stopped server forever). */
  stop(): void;
}

export async function monitor(client: Redis): Promise<Monitor> {
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
