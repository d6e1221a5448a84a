import { spawn } from 'node:child_process';

export interface RunOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The command and every process it started are killed after this long. */
  readonly timeoutMs: number;
}

const TAIL_CHARS = 6_000;

/**
 * Runs a command to its end and resolves with its output, or rejects with an error that
 * names the command, how it ended and the tail of what it printed. The command runs in its
 * own process group, killed whole when the time runs out (pnpm, turbo and tsup under it).
 */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' && child.pid !== undefined) killGroup(child.pid);
      if (code === 0) return resolve(output);
      const how = signal === 'SIGKILL' ? `was killed after ${options.timeoutMs} ms` : `exited with ${code ?? signal}`;
      reject(new Error(`${command} ${args.join(' ')} (in ${options.cwd}) ${how}:\n${output.slice(-TAIL_CHARS)}`));
    });
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group has already gone.
  }
}

/**
 * The environment of the test process without what the test runner and an enclosing
 * `pnpm` run put there (`npm_config_*`, `pnpm_config_*`, `VITEST`, `NODE_ENV`, ...), so a
 * command behaves as it does in a maintainer's shell, plus `extra`.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const dropped = /^(npm_|pnpm_|vitest|vite_|node_options$|node_env$|test$|mode$|dev$|prod$|ssr$|base_url$)/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !dropped.test(name)));
  return { ...env, ...extra };
}
