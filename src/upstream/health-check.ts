// Active health checking (meshgate's HealthCheckPolicy; Istio has none at a gateway): every
// `interval` each endpoint of the cluster gets GET `path`; `unhealthyThreshold` failed checks
// in a row take it out of load balancing, `healthyThreshold` good ones bring it back. Endpoints
// start healthy. Each worker process checks on its own.

import Agent from 'undici/lib/dispatcher/agent.js';
import request from 'undici/lib/api/api-request.js';
import type { Logger } from '../log.js';
import { type Endpoint, endpointKey, endpointOrigin } from './endpoint.js';

/** A HealthCheckPolicy as compiled onto a cluster (durations in milliseconds). */
export interface HealthCheckSettings {
  /** "namespace/name" of the policy, for logs. */
  readonly policy: string;
  readonly path: string;
  /** Host header of the checks: the service host. */
  readonly host: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  /** Statuses that pass, as [from, to] inclusive ranges. */
  readonly expectedStatuses: readonly (readonly [number, number])[];
}

export interface HealthChecker {
  /** endpointKey()s that failed their checks. */
  unhealthy(): ReadonlySet<string>;
  close(): void;
}

export interface HealthCheckerDeps {
  readonly endpoints: () => readonly Endpoint[];
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly cluster: string;
}

interface CheckState {
  healthy: boolean;
  /** Consecutive results against the current state. */
  streak: number;
}

export function createHealthChecker(settings: HealthCheckSettings, deps: HealthCheckerDeps): HealthChecker {
  // Checks keep no connection between rounds, so they never take a slot of the traffic pools.
  const agent = new Agent({ pipelining: 0, connect: { timeout: settings.timeoutMs } });
  const states = new Map<string, CheckState>();
  let unhealthy: ReadonlySet<string> = new Set();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const passes = (status: number) => settings.expectedStatuses.some(([from, to]) => status >= from && status <= to);

  const check = async (endpoint: Endpoint): Promise<boolean> => {
    try {
      const url = new URL(`${endpointOrigin(endpoint)}${settings.path}`);
      const response = await request.call(agent, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { host: settings.host, 'user-agent': 'Envoy/HC' },
        headersTimeout: settings.timeoutMs,
        bodyTimeout: settings.timeoutMs,
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      await response.body.dump();
      return passes(response.statusCode);
    } catch {
      return false;
    }
  };

  const record = (key: string, ok: boolean): boolean => {
    const state = states.get(key) ?? { healthy: true, streak: 0 };
    states.set(key, state);
    if (ok === state.healthy) {
      state.streak = 0;
      return false;
    }
    state.streak++;
    if (state.streak < (state.healthy ? settings.unhealthyThreshold : settings.healthyThreshold)) return false;
    state.healthy = ok;
    state.streak = 0;
    deps.logger.info(ok ? 'health check passed: endpoint back in' : 'health check failed: endpoint out', {
      cluster: deps.cluster,
      endpoint: key,
      policy: settings.policy,
    });
    return true;
  };

  const round = async () => {
    const endpoints = deps.endpoints();
    const results = await Promise.all(endpoints.map(async (endpoint) => [endpointKey(endpoint), await check(endpoint)] as const));
    if (closed) return;
    let changed = false;
    for (const [key, ok] of results) changed = record(key, ok) || changed;
    const present = new Set(results.map(([key]) => key));
    for (const key of states.keys()) if (!present.has(key)) states.delete(key);
    if (changed) {
      unhealthy = new Set([...states].filter(([, state]) => !state.healthy).map(([key]) => key));
      deps.onChange();
    }
    // The next round starts an interval after this one ended, so slow checks never pile up.
    timer = setTimeout(() => void round(), settings.intervalMs);
    timer.unref();
  };
  void round();

  return {
    unhealthy: () => unhealthy,
    close() {
      closed = true;
      clearTimeout(timer);
      void agent.close();
    },
  };
}
