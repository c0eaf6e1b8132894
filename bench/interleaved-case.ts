// One case against every target, the targets' runs interleaved. The host's speed drifts over
// minutes: measured back to back, a slow minute fell on one target and moved its ratios by 30%.
// So all targets start first, each in front of its own fresh upstream, and wait side by side
// (idle, they run no timers: bench/README.md); then round i gives every target its warm-up and
// one measured run, in an order rotated by i (A B C, then B C A, ...): a slow minute falls on
// every target alike, and no target always goes first or last.
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import type { BenchCase } from './cases.js';
import { waitUntilServing } from './probe.js';
import { treeCpuSeconds, treeRss, type TreeRss } from './process-tree.js';
import { startProcess, type ManagedProcess } from './processes.js';
import { progress } from './progress.js';
import { describeErrors, oneLine, type MeasuredRun, type TargetResult } from './report.js';
import type { RunningTarget, Target } from './targets.js';
import type { TlsFiles } from './tls-material.js';
import { runWrk, type WrkLoad, type WrkResult } from './wrk.js';

export const warmupSeconds = 2;
export const wrkThreads = 2;

export interface CaseLoad {
  readonly durationSeconds: number;
  readonly connections: number;
  readonly runs: number;
}

export interface CaseFiles {
  readonly workRoot: string;
  readonly upstreamScript: string;
  readonly luaScript: string;
  readonly tls: TlsFiles | undefined;
  /** The no-resume library wrk preloads in the full-handshake case; undefined when not built. */
  readonly noResume: string | undefined;
}

/** One target in this case: what it started, what it measured, and why it failed if it did. */
interface Entrant {
  readonly target: Target;
  readonly tag: string;
  readonly runs: MeasuredRun[];
  upstream?: ManagedProcess;
  serving?: { readonly target: RunningTarget; readonly load: Omit<WrkLoad, 'durationSeconds'> };
  rss?: TreeRss;
  failure?: string;
}

/** The result of each of `targets` (none skipped): measured, or failed and why. */
export async function measureCase(benchCase: BenchCase, targets: readonly Target[], load: CaseLoad, files: CaseFiles): Promise<Map<Target, TargetResult>> {
  const entrants: Entrant[] = targets.map((target) => ({ target, tag: `[${benchCase.id}] ${target.label}`, runs: [] }));
  try {
    // One after another: each target listens before the next asks freePort() for its port, so
    // no two are handed the same one.
    for (const entrant of entrants) await attempt(entrant, () => start(entrant, benchCase, load, files));
    for (let round = 1; round <= load.runs; round++) {
      for (const entrant of rotated(entrants, round - 1)) await attempt(entrant, () => measureRun(entrant, round, load));
    }
    for (const entrant of entrants) {
      await attempt(entrant, async () => {
        const { target } = entrant.serving!;
        assertRunning(target);
        entrant.rss = treeRss(target.process.pid);
      });
    }
    return new Map(
      entrants.map((entrant): [Target, TargetResult] => [
        entrant.target,
        entrant.failure !== undefined ? { kind: 'failed', reason: entrant.failure } : { kind: 'measured', runs: entrant.runs, rss: entrant.rss! },
      ]),
    );
  } finally {
    await Promise.all(entrants.map(stop));
  }
}

/** `items` starting at index `shift` (wrapping): shift 0 is A B C, 1 is B C A, 2 is C A B. */
function rotated<T>(items: readonly T[], shift: number): T[] {
  const first = items.length === 0 ? 0 : shift % items.length;
  return [...items.slice(first), ...items.slice(0, first)];
}

/** Runs `step` unless the entrant has failed; a step that throws makes it a failed row and stops it. */
async function attempt(entrant: Entrant, step: () => Promise<void>): Promise<void> {
  if (entrant.failure !== undefined) return;
  try {
    await step();
  } catch (err) {
    entrant.failure = oneLine(err);
    progress(`${entrant.tag}: failed: ${entrant.failure}`);
    // A broken target does not sit beside the others' runs.
    await stop(entrant);
  }
}

async function start(entrant: Entrant, benchCase: BenchCase, load: CaseLoad, files: CaseFiles): Promise<void> {
  const upstream = startProcess('upstream', process.execPath, [files.upstreamScript], 'pipe');
  entrant.upstream = upstream;
  const upstreamPort = await upstream.announcedPort(10_000);
  const workDir = await mkdtemp(path.join(files.workRoot, `${benchCase.id}-${entrant.target.id}-`));
  const tls = benchCase.tls === true ? files.tls : undefined;
  const running = await entrant.target.start({ benchCase, upstream: { port: upstreamPort, process: upstream }, workDir, tls });
  entrant.serving = {
    target: running,
    load: {
      url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${running.port}${benchCase.path}`,
      threads: Math.min(wrkThreads, load.connections),
      connections: load.connections,
      scriptPath: files.luaScript,
      ...(benchCase.fullHandshakes === true && files.noResume !== undefined ? { preload: files.noResume } : {}),
    },
  };
  await waitUntilServing(running.port, benchCase.probe, tls !== undefined, running.process, running.startTimeoutMs);
}

async function measureRun(entrant: Entrant, round: number, load: CaseLoad): Promise<void> {
  const { target, load: wrkLoad } = entrant.serving!;
  let result: WrkResult;
  let cpuUsPerRequest: number;
  try {
    await runWrk({ ...wrkLoad, durationSeconds: warmupSeconds });
    const cpuBefore = treeCpuSeconds(target.process.pid);
    result = await runWrk({ ...wrkLoad, durationSeconds: load.durationSeconds });
    cpuUsPerRequest = ((treeCpuSeconds(target.process.pid) - cpuBefore) * 1e6) / Math.max(result.requests, 1);
  } catch (err) {
    // A target that exited (waiting or under load) is reported by its exit, not by wrk's refused connections.
    assertRunning(target);
    throw err;
  }
  entrant.runs.push({ ...result, cpuUsPerRequest });
  progress(
    `${entrant.tag}: run ${round}/${load.runs}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, CPU ${Math.round(cpuUsPerRequest)} us/request, errors ${describeErrors([result.errors])}`,
  );
  assertRunning(target);
}

function assertRunning(target: RunningTarget): void {
  const exit = target.process.exitStatus();
  if (exit !== undefined) throw new Error(`${target.process.label} exited during the case (${exit}): ${target.process.output()}`);
}

/** The target, then the upstream it was in front of; stopping twice is harmless. */
async function stop(entrant: Entrant): Promise<void> {
  await entrant.serving?.target.stop();
  await entrant.upstream?.stop();
}
