import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** A publish token of the registry's one user. */
  readonly token: string;
  /** `.npmrc` lines that send `@resilience/*` (or everything, with `all`) to this registry, with the token. */
  npmrc(scope: 'all' | '@resilience'): string;
  /** The manifest of every version of a package, as npm reads it. */
  packument(name: string): Promise<Packument>;
  stop(): void;
}

export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly [field: string]: unknown;
}

export interface Packument {
  readonly 'dist-tags': Record<string, string>;
  readonly versions: Record<string, Manifest & { dist: { tarball: string } }>;
}

const SERVER = fileURLToPath(new URL('./registry-server.cjs', import.meta.url));

/**
 * Starts verdaccio on a free port of 127.0.0.1 with its storage in `dir`, and registers a
 * user to publish with. Rejects with the server's output when it has not listened within
 * `startMs` or exited first: the release test cannot go on without it.
 */
export async function startRegistry(dir: string, startMs: number): Promise<LocalRegistry> {
  mkdirSync(dir, { recursive: true });
  const child = fork(SERVER, [dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let port: number;
  try {
    const exited = once(child, 'exit').then(([code, signal]) => {
      throw new Error(`verdaccio exited (${code ?? signal}) before listening`);
    });
    const [message] = await Promise.race([once(child, 'message', { signal: AbortSignal.timeout(startMs) }), exited]);
    port = (message as { port: number }).port;
  } catch (error) {
    stop();
    throw new Error(`the local registry did not start: ${(error as Error).message}\n${output}`);
  }
  const url = `http://127.0.0.1:${port}/`;
  const token = await addUser(url).catch((error: Error) => {
    stop();
    throw error;
  });
  return {
    url,
    token,
    npmrc: (scope) =>
      `${scope === 'all' ? 'registry' : '@resilience:registry'}=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`,
    packument: async (name) => {
      const response = await fetch(new URL(name.replace('/', '%2f'), url));
      if (!response.ok) throw new Error(`${name} is not on the local registry (${response.status})`);
      return (await response.json()) as Packument;
    },
    stop,
  };
}

async function addUser(url: string): Promise<string> {
  const response = await fetch(new URL('-/user/org.couchdb.user:release', url), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'release', password: 'release-test' }),
  });
  const body = (await response.json()) as { token?: string };
  if (!response.ok || !body.token) throw new Error(`the local registry refused a user: ${JSON.stringify(body)}`);
  return body.token;
}
