import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { configDir, writeConfig } from './config-files.js';

// Runs the built gateway (dist/cli.js, what `npm test` builds) as a real process and reads
// its JSON log lines, so integration tests exercise exactly what a user runs.

export const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly adminPort: number;
  readonly readinessPort: number;
  readonly logs: LogLine[];
  readonly accessLog: string[];
  /** Resolves with the first log line that satisfies `test`, seen already or still to come. */
  waitForLog(test: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The MeshConfig every test gateway gets: the access log on stdout (Istio's default is off). */
export const testMeshSpec = 'accessLogFile: /dev/stdout\n';

/**
 * `mesh`: the MeshConfig spec (YAML under `spec:`, unindented), testMeshSpec unless given; pass
 * `false` when the test's own config has a MeshConfig. `env`: variables added to the process's
 * environment (the workers inherit them).
 */
export async function startGatewayProcess(args: string[], options: { timeoutMs?: number; mesh?: string | false; env?: Record<string, string> } = {}): Promise<GatewayProcess> {
  const meshArgs: string[] = [];
  if (options.mesh !== false) {
    const spec = (options.mesh ?? testMeshSpec).replace(/^(?=.)/gm, '  ');
    const file = await writeConfig(await configDir('mesh'), 'mesh-config.yaml', `apiVersion: meshgate.dev/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: mesh\nspec:\n${spec}`);
    meshArgs.push('--config', file);
  }
  // One worker unless a test asks for more: several tests count exactly what one process does.
  const child = spawn(process.execPath, [cliPath, 'run', '--admin-port', '0', '--readiness-port', '0', '--prometheus-port', '0', '--workers', '1', ...meshArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const logs: LogLine[] = [];
  const accessLog: string[] = [];
  const waiters = new Set<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  const stderrText: string[] = [];

  createInterface({ input: child.stdout! }).on('line', (line) => accessLog.push(line));
  createInterface({ input: child.stderr! }).on('line', (text) => {
    stderrText.push(text);
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    for (const waiter of waiters) {
      if (waiter.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  // Generous: a primary and its workers start slowly when the whole suite shares two cores.
  const waitForLog = (test: (line: LogLine) => boolean, timeoutMs = options.timeoutMs ?? 30_000) => {
    const seen = logs.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = { test, resolve: (line: LogLine) => (clearTimeout(timer), resolve(line)) };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`gateway log line not seen within ${timeoutMs} ms; stderr so far:\n${stderrText.join('\n')}`));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then((code) => {
        if (!waiters.has(waiter)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`gateway exited with ${code} before the log line; stderr:\n${stderrText.join('\n')}`));
      });
    });
  };

  // The admin port answers first (readiness 503); traffic is served once every worker is ready.
  let admin: LogLine;
  let readiness: LogLine;
  try {
    await waitForLog((l) => l.msg === 'gateway ready');
    admin = await waitForLog((l) => l.msg === 'admin ready');
    readiness = await waitForLog((l) => l.msg === 'readiness ready');
  } catch (err) {
    // A gateway that never became ready must not outlive the test, holding its ports and CPU.
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    adminPort: admin.port as number,
    readinessPort: readiness.port as number,
    logs,
    accessLog,
    waitForLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
