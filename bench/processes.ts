// The processes a benchmark run starts (upstreams, proxies): each in its own process group so
// that it and whatever it forks (cluster workers, nginx workers) can be ended together, and
// every one of them is ended when the harness stops, even on Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import ts from 'typescript';

export interface ManagedProcess {
  readonly label: string;
  readonly pid: number;
  /** The last few KiB the process wrote (stderr, and stdout when captured), for error messages. */
  output(): string;
  /** The exit code or signal once the process has exited, else undefined. */
  exitStatus(): string | undefined;
  /** Resolves with the port the process prints as `{"port":N}` on stdout (node scripts here). */
  announcedPort(timeoutMs: number): Promise<number>;
  /** SIGTERM, then SIGKILL to the whole process group if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ManagedProcess>();
const outputTailBytes = 4096;

export function startProcess(label: string, command: string, args: readonly string[], stdout: 'ignore' | 'pipe'): ManagedProcess {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', stdout, 'pipe'] });
  let tail = '';
  let status: string | undefined;
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-outputTailBytes);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = code === null ? String(signal) : `exit code ${code}`;
      running.delete(handle);
      resolve();
    });
    child.once('error', (err) => {
      status = err.message;
      running.delete(handle);
      resolve();
    });
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is gone already.
    }
  };

  const handle: ManagedProcess = {
    label,
    pid: child.pid ?? -1,
    output: () => tail,
    exitStatus: () => status,
    announcedPort: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${label}: no port announced within ${timeoutMs} ms: ${tail}`)), timeoutMs);
        const look = () => {
          const port = /\{"port":(\d+)\}/.exec(tail)?.[1];
          if (port !== undefined) finish(undefined, Number(port));
        };
        const finish = (err: Error | undefined, port?: number) => {
          clearTimeout(timer);
          child.stdout?.off('data', look);
          if (err === undefined) resolve(port!);
          else reject(err);
        };
        child.stdout?.on('data', look);
        void exited.then(() => finish(new Error(`${label} exited (${status}) before announcing its port: ${tail}`)));
        look();
      }),
    stop: async (graceMs = 10_000) => {
      if (status === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Whatever it forked and left behind goes with it.
      killGroup('SIGKILL');
    },
  };
  if (child.pid === undefined) status = 'not started';
  else running.add(handle);
  return handle;
}

/** Ends every process still running (Ctrl-C, a failed run). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(2_000)));
}

/** A free TCP port on 127.0.0.1, for servers that cannot announce one they picked themselves. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Transpiles a self-contained TypeScript entry script (no relative imports) to an .mjs file
 * under node_modules/.cache, where its package imports still resolve. The benchmark runs it with
 * plain node, so neither tsx's loader nor its esbuild child process counts in the memory of
 * the upstream or the reference proxy.
 */
export async function compileNodeScript(repoRoot: string, tsFile: string): Promise<string> {
  const source = await readFile(tsFile, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: tsFile,
  });
  const outDir = path.join(repoRoot, 'node_modules', '.cache', 'meshgate-bench');
  await mkdir(outDir, { recursive: true });
  const outFile = path.join(outDir, `${path.basename(tsFile, '.ts')}.mjs`);
  await writeFile(outFile, outputText);
  return outFile;
}
