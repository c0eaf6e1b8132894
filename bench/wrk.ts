// wrk, the load generator: one run, its result read from a line our Lua `done()` prints (exact
// numbers, not wrk's rounded text).
import { spawn, spawnSync } from 'node:child_process';

export interface WrkLoad {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly durationSeconds: number;
  /** A Lua script made by wrkScript(). */
  readonly scriptPath: string;
  /** A shared library wrk runs with (LD_PRELOAD), such as the no-resume build. */
  readonly preload?: string;
}

export interface WrkErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
  /** Responses with a status of 400 or more (wrk's "Non-2xx or 3xx responses"). */
  readonly status: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: WrkErrors;
}

const resultMarker = 'MESHGATE_BENCH_RESULT';

/** A wrk script: the case's request shaping (may be empty) plus the reporter this module reads. */
export function wrkScript(requestLua: string): string {
  return `${requestLua}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("\\n${resultMarker} %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
`;
}

/** wrk's version line, or undefined when wrk is not installed. */
export function wrkVersion(): string | undefined {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) return undefined;
  return /wrk \S+/.exec(`${probe.stdout}${probe.stderr}`)?.[0] ?? 'wrk';
}

export function runWrk(load: WrkLoad): Promise<WrkResult> {
  const args = ['-t', String(load.threads), '-c', String(load.connections), '-d', `${load.durationSeconds}s`, '--latency', '-s', load.scriptPath, load.url];
  return new Promise((resolve, reject) => {
    const env = load.preload === undefined ? process.env : { ...process.env, LD_PRELOAD: load.preload };
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const fields = new RegExp(`${resultMarker} ([\\d ]+)`).exec(output)?.[1]?.split(' ').map(Number);
      if (code !== 0 || fields === undefined || fields.length !== 9) {
        reject(new Error(`wrk ${args.join(' ')} failed (exit ${code}): ${output.slice(-1000)}`));
        return;
      }
      const [requests, durationUs, p50Us, p99Us, connect, read, write, timeout, status] = fields as [number, number, number, number, number, number, number, number, number];
      resolve({
        requests,
        requestsPerSecond: requests / (durationUs / 1e6),
        p50Ms: p50Us / 1000,
        p99Ms: p99Us / 1000,
        errors: { connect, read, write, timeout, status },
      });
    });
  });
}
