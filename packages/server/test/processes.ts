import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** A free TCP port on 127.0.0.1 (bound and released; good enough for tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs Baton as its own process. `command` defaults to the source entry point through tsx;
 * pass ['npm', 'start'] to start it the README way.
 */
export async function spawnServer(
  env: Record<string, string>,
  command: string[] = [
    process.execPath,
    '--conditions=baton-source',
    '--import',
    'tsx',
    'packages/server/src/main.ts',
  ],
): Promise<ServerProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(command[0]!, command.slice(1), {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: port, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, signal); // the whole group: npm start has children
      } catch {
        // already gone
      }
    }
    return exited;
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`server exited early (${child.exitCode}): ${out.slice(-500)}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return { url, child, output: () => out, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop('SIGKILL');
  throw new Error(`server did not answer /healthz within 30 s: ${out.slice(-500)}`);
}

/** Runs the `baton` CLI from source, as an operator would, and returns its output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  options: { input?: string } = {},
): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(
    process.execPath,
    ['--conditions=baton-source', '--import', 'tsx', 'packages/server/src/cli.ts', ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 30_000,
      input: options.input ?? '',
    },
  );
}

/** `runCli` without blocking the event loop: for several runs at once, or beside an in-process server. */
export function runCliAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=baton-source', '--import', 'tsx', 'packages/server/src/cli.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        resolve({ status: error ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
}
