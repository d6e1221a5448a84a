/**
 * Real Redis servers for the tests: `redis-server` processes on free loopback ports with no
 * persistence, and a three-primary Redis Cluster made of three of them. Starting one that
 * cannot start fails loudly (the tests never skip for want of a server): install
 * `redis-server` (it brings `redis-cli`), e.g. `apt-get install redis-server`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface RedisServer {
  readonly port: number;
  /** Freezes the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
  /** Kills the server process (SIGKILL, as a crash would) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same port, empty (no persistence). */
  restart(): Promise<void>;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface RedisCluster {
  readonly ports: readonly number[];
  /** The primaries' servers, in the order of `ports` (to kill or freeze one). */
  readonly nodes: readonly RedisServer[];
  stop(): Promise<void>;
}

const free = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A port free on 127.0.0.1, with `port + 10000` free too when a cluster bus needs it. Both stay
 * below 32 768, where Linux starts handing out ports to outgoing connections and to servers
 * listening on port 0 (the other test files' servers): one of those could take the port
 * between this check and redis-server's bind.
 */
async function freePort(bus: boolean): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 10_000 + Math.floor(Math.random() * 12_000);
    if ((await free(port)) && (!bus || (await free(port + 10_000)))) return port;
  }
  throw new Error('no free loopback port for redis-server');
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Runs redis-server with `args` and resolves once it accepts connections on `port`. */
async function spawnServer(port: number, args: readonly string[]) {
  const child: ChildProcess = spawn('redis-server', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) =>
      reject(
        new Error(
          `could not start redis-server on 127.0.0.1:${port} (${why}). The Redis tests need a real server: ` +
            `install redis-server (apt-get install redis-server) so that it is on PATH.\n${output}`,
        ),
      );
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`it exited with code ${code}`));
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
  });
  return { child, exited };
}

/** Starts one redis-server and resolves once it accepts connections. */
export async function startRedis(extra: readonly string[] = [], bus = false): Promise<RedisServer> {
  const port = await freePort(bus);
  const dir = mkdtempSync(join(tmpdir(), 'resilience-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  let { child, exited } = await spawnServer(port, [...args, ...extra]);
  return {
    port,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      ({ child, exited } = await spawnServer(port, [...args, ...extra]));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts three cluster-enabled servers, joins them as three primaries, and waits until the
 * cluster is ok. `extra`: more redis-server arguments for each node.
 */
export async function startCluster(extra: readonly string[] = []): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', ...extra], true));
    }
    const ports = nodes.map((n) => n.port);
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) {
      for (let tries = 0; ; tries++) {
        const info = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
        if (info.includes('cluster_state:ok')) break;
        if (tries > 300) throw new Error(`the cluster node on port ${port} never reported cluster_state:ok:\n${info}`);
        await delay(50);
      }
    }
    return { ports, nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
