import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.js';
import type { BindFailure, ListenerAddress } from '../data-plane.js';
import type { MetricJson } from '../observability/metric-json.js';
import type { ClusterStatus } from '../upstream/cluster.js';
import { createSharedLimits } from '../filters/ratelimit/shared-limits.js';
import { startTicketKeyRotation } from './ticket-key-rotation.js';
import { workerExecArgv } from './worker-exec-argv.js';
import { workerSettingsVariable, type PrimaryMessage, type WireConfig, type WorkerMessage, type WorkerSettings } from './messages.js';

// The primary's side of node:cluster: it forks the workers, hands each the current config,
// knows which generation each one serves, and replaces a worker that dies, backing off when
// workers keep dying young (a crash loop must not spin the CPU). It also holds the session-ticket
// keys all workers share, so a TLS session resumes whichever worker takes the connection.

/**
 * Who hands new connections to workers. 'kernel': every worker accepts on the shared listening
 * socket and the kernel wakes whichever is free (nginx's model; a new connection costs the primary
 * nothing). 'round-robin': the primary accepts each connection and passes it to the next worker
 * over IPC (node:cluster's default on Linux), which spreads connections evenly but costs the
 * primary about as much CPU per connection as a TLS handshake costs nginx.
 */
export type ConnectionBalance = 'kernel' | 'round-robin';

export interface SupervisorOptions {
  readonly count: number;
  readonly connectionBalance: ConnectionBalance;
  /** The worker script (dist/process/worker-main.js). */
  readonly exec: string;
  readonly settings: WorkerSettings;
  readonly logger: Logger;
}

export interface WorkerReport {
  readonly listeners: readonly ListenerAddress[];
  readonly bindFailures: readonly BindFailure[];
}

export interface WorkerStats {
  readonly workers: number;
  /** Workers replaced since start (each died without being asked to stop). */
  readonly restarts: number;
  readonly pids: readonly number[];
}

export interface Supervisor {
  /** Forks the workers; resolves when every one serves `config`, rejects when one cannot. */
  start(generation: number, config: WireConfig): Promise<WorkerReport>;
  /** Hands every worker a new config; resolves when every live worker serves it. */
  update(generation: number, config: WireConfig): Promise<WorkerReport>;
  listeners(): readonly ListenerAddress[];
  stats(): WorkerStats;
  /** Every live worker's metrics; a worker that does not answer in time is left out. */
  collectMetrics(): Promise<(readonly MetricJson[])[]>;
  /** Every live worker's clusters (a worker that does not answer in time is left out). */
  clusterStatus(): Promise<(readonly ClusterStatus[])[]>;
  /** Drains every worker, and ends the ones still running after the drain time. */
  stop(): Promise<void>;
  /** Ends every worker now. */
  kill(): void;
}

/** A worker that lived shorter than this died young: its replacement waits, longer each time. */
const youngMs = 5000;
const firstBackoffMs = 100;
const maxBackoffMs = 30_000;
/** Time a drained worker gets, past the drain timeout, to close and exit by itself. */
const exitGraceMs = 2000;
/** How long the admin port waits for a worker's answer. */
const queryTimeoutMs = 2000;

interface Tracked {
  readonly worker: Worker;
  readonly startedAt: number;
  generation: number;
  bindFailures: readonly BindFailure[];
}

interface Waiter {
  readonly generation: number;
  resolve(report: WorkerReport): void;
  reject(err: Error): void;
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const { logger } = options;
  const live = new Map<number, Tracked>();
  const waiters = new Set<Waiter>();
  let current: { generation: number; config: WireConfig } | undefined;
  let listeners: readonly ListenerAddress[] = [];
  let restarts = 0;
  let youngDeaths = 0;
  let stopping = false;
  let exited: (() => void) | undefined;
  let queryId = 0;
  /** The questions asked of workers (metrics, clusters) that wait for their answer, by id. */
  const queries = new Map<number, (answer: unknown) => void>();
  // Local rate limits of all workers, counted here so that `--workers` does not multiply them.
  const sharedLimits = createSharedLimits();

  // Read by node:cluster once, at setupPrimary; it overrides NODE_CLUSTER_SCHED_POLICY.
  cluster.schedulingPolicy = options.connectionBalance === 'kernel' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  cluster.setupPrimary({ exec: options.exec, serialization: 'advanced', execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });

  const send = (worker: Worker, message: PrimaryMessage) => {
    if (worker.isConnected()) worker.send(message);
  };

  const ticketKeys = startTicketKeyRotation((keys) => {
    for (const { worker } of live.values()) send(worker, { type: 'ticket-keys', keys });
    logger.info('session-ticket keys rotated', { workers: live.size });
  });

  /** Asks every live worker one question; resolves with the answers that came within queryTimeoutMs. */
  const askWorkers = <Answer>(type: 'metrics' | 'clusters'): Promise<Answer[]> => {
    const ask = ({ worker }: Tracked) =>
      new Promise<Answer | undefined>((resolve) => {
        const id = ++queryId;
        const done = (answer: Answer | undefined) => {
          clearTimeout(timer);
          queries.delete(id);
          resolve(answer);
        };
        const timer = setTimeout(() => done(undefined), queryTimeoutMs);
        queries.set(id, done as (answer: unknown) => void);
        send(worker, { type, id });
      });
    return Promise.all([...live.values()].filter(({ worker }) => worker.isConnected()).map(ask)).then((answers) => answers.filter((answer): answer is Awaited<Answer> => answer !== undefined));
  };

  const settle = () => {
    for (const waiter of waiters) {
      const workers = [...live.values()];
      if (workers.some((w) => w.generation < waiter.generation)) continue;
      waiters.delete(waiter);
      const failures = new Map(workers.flatMap((w) => w.bindFailures).map((f) => [f.listener, f]));
      waiter.resolve({ listeners, bindFailures: [...failures.values()] });
    }
  };

  const waitFor = (generation: number) =>
    new Promise<WorkerReport>((resolve, reject) => {
      waiters.add({ generation, resolve, reject });
      settle();
    });

  const fork = (strict: boolean) => {
    const worker = cluster.fork({ [workerSettingsVariable]: JSON.stringify(options.settings) });
    const tracked: Tracked = { worker, startedAt: Date.now(), generation: 0, bindFailures: [] };
    live.set(worker.id, tracked);
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'listening') {
        // A worker still starting when stop() ran never got its drain (it was not listening yet).
        if (stopping) return send(worker, { type: 'drain' });
        // Before the config, so the worker's first TLS server already has them.
        send(worker, { type: 'ticket-keys', keys: ticketKeys.current() });
        if (current !== undefined) send(worker, { type: 'config', ...current, strict });
        return;
      }
      if (message.type === 'rate-limit') {
        void sharedLimits.consume(message.limit, message.key).then((result) => send(worker, { type: 'rate-limit-result', id: message.id, result }));
        return;
      }
      if (message.type === 'metrics' || message.type === 'clusters') {
        queries.get(message.id)?.(message.type === 'metrics' ? message.metrics : message.clusters);
        return;
      }
      if (message.type === 'applied') {
        tracked.generation = Math.max(tracked.generation, message.generation);
        tracked.bindFailures = message.bindFailures;
        listeners = message.listeners;
        settle();
        return;
      }
      for (const waiter of waiters) {
        if (waiter.generation === message.generation) {
          waiters.delete(waiter);
          waiter.reject(new Error(message.message));
        }
      }
      logger.error('worker could not apply the configuration', { worker: worker.id, generation: message.generation, error: message.message });
    });
    worker.once('exit', (code, signal) => {
      live.delete(worker.id);
      if (stopping) {
        if (live.size === 0) exited?.();
        return;
      }
      replace(tracked, code, signal);
      settle();
    });
  };

  const replace = (dead: Tracked, code: number | null, signal: string | null) => {
    restarts++;
    youngDeaths = Date.now() - dead.startedAt < youngMs ? youngDeaths + 1 : 0;
    const delayMs = youngDeaths === 0 ? 0 : Math.min(firstBackoffMs * 2 ** (youngDeaths - 1), maxBackoffMs);
    logger.error('worker exited; starting another', { worker: dead.worker.id, code, signal, restarts, delayMs });
    setTimeout(() => {
      if (!stopping) fork(false);
    }, delayMs).unref();
  };

  return {
    async start(generation, config) {
      current = { generation, config };
      for (let i = 0; i < options.count; i++) fork(true);
      // A worker dying before it serves fails the start: its replacement would die the same way.
      let onExit: ((worker: Worker, code: number, signal: string) => void) | undefined;
      const died = new Promise<never>((_, reject) => {
        onExit = (worker, code, signal) => reject(new Error(`worker ${worker.id} exited during start (code ${code}, signal ${signal})`));
        cluster.once('exit', onExit);
      });
      try {
        return await Promise.race([waitFor(generation), died]);
      } finally {
        if (onExit !== undefined) cluster.off('exit', onExit);
      }
    },
    update(generation, config) {
      current = { generation, config };
      for (const { worker } of live.values()) send(worker, { type: 'config', generation, config, strict: false });
      return waitFor(generation);
    },
    listeners: () => listeners,
    stats: () => ({ workers: live.size, restarts, pids: [...live.values()].flatMap(({ worker }) => worker.process.pid ?? []) }),
    collectMetrics: () => askWorkers<readonly MetricJson[]>('metrics'),
    clusterStatus: () => askWorkers<readonly ClusterStatus[]>('clusters'),
    stop() {
      stopping = true;
      ticketKeys.stop();
      if (live.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          logger.warn('workers still running after the drain timeout; ending them', { workers: live.size });
          for (const { worker } of live.values()) worker.process.kill('SIGKILL');
        }, options.settings.drainMs + exitGraceMs);
        exited = () => {
          clearTimeout(deadline);
          resolve();
        };
        for (const { worker } of live.values()) send(worker, { type: 'drain' });
      });
    },
    kill() {
      stopping = true;
      ticketKeys.stop();
      for (const { worker } of live.values()) worker.process.kill('SIGKILL');
    },
  };
}
