// Passive health checking, Istio's DestinationRule outlierDetection as Envoy runs it: an
// endpoint that answers too many errors in a row is ejected (every load balancer skips it) for
// baseEjectionTime × the number of times it has been ejected; ejected endpoints come back at
// the first sweep (every `interval`) after their time is up. State is per worker process.

import type { ResponseFlag } from '../errors.js';
import type { Logger } from '../log.js';

/** Istio OutlierDetection as validated (durations in milliseconds). */
export interface OutlierDetectionSettings {
  readonly consecutiveErrors?: number;
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly interval?: number;
  readonly baseEjectionTime?: number;
  readonly maxEjectionPercent?: number;
  readonly minHealthPercent?: number;
}

/** One try's result on an endpoint: the status it answered, or the flag of the failure that stood for an answer. */
export interface TryResult {
  readonly status?: number;
  readonly flag?: ResponseFlag;
}

export interface OutlierDetector {
  report(key: string, result: TryResult): void;
  /** endpointKey()s ejected now. */
  ejected(): ReadonlySet<string>;
  /** Ejections since the detector started (Envoy's outlier_detection.ejections_enforced_total). */
  ejections(): number;
  close(): void;
}

export interface OutlierDetectorDeps {
  /** How many endpoints the cluster has now (maxEjectionPercent is a share of them). */
  readonly endpointCount: () => number;
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly cluster: string;
  readonly now?: () => number;
}

// Envoy's defaults, which Istio leaves in place: 5 consecutive 5xx, sweep every 10s, 30s
// base ejection, at most 10% ejected; max_ejection_time 300s bounds the growing ejections.
const DEFAULT_CONSECUTIVE_5XX = 5;
const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_BASE_EJECTION_MS = 30_000;
const DEFAULT_MAX_EJECTION_PERCENT = 10;
const MAX_EJECTION_TIME_MS = 300_000;

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Times ejected, decayed by one each sweep the endpoint spends in the pool (Envoy's num_ejections). */
  ejections: number;
  ejectedUntil?: number;
}

// Failures that stood in for an upstream answer count as Envoy counts local-origin errors when
// they are not split out: a connection failure or reset as 503, a timeout as 504.
function statusOf(result: TryResult): number | undefined {
  if (result.status !== undefined) return result.status;
  switch (result.flag) {
    case 'UF':
    case 'UC':
    case 'UPE':
      return 503;
    case 'UT':
      return 504;
    default:
      return undefined; // the client left, or the gateway itself refused (UO): says nothing of the endpoint
  }
}

/** Thresholds as istiod sets them: 0 turns a detector off; the deprecated consecutiveErrors counts gateway errors. */
export function outlierThresholds(settings: OutlierDetectionSettings): { fiveXx: number; gateway: number } {
  const legacy = settings.consecutiveErrors ?? 0;
  return {
    fiveXx: settings.consecutive5xxErrors ?? (legacy > 0 ? 0 : DEFAULT_CONSECUTIVE_5XX),
    gateway: settings.consecutiveGatewayErrors ?? legacy,
  };
}

export function createOutlierDetector(settings: OutlierDetectionSettings, deps: OutlierDetectorDeps): OutlierDetector {
  const now = deps.now ?? Date.now;
  const { fiveXx, gateway } = outlierThresholds(settings);
  const baseMs = settings.baseEjectionTime ?? DEFAULT_BASE_EJECTION_MS;
  const maxPercent = settings.maxEjectionPercent ?? DEFAULT_MAX_EJECTION_PERCENT;
  const hosts = new Map<string, HostState>();
  let ejected: ReadonlySet<string> = new Set();
  let ejections = 0;

  const publish = () => {
    ejected = new Set([...hosts].filter(([, state]) => state.ejectedUntil !== undefined).map(([key]) => key));
    deps.onChange();
  };

  const eject = (key: string, state: HostState, reason: string) => {
    state.consecutive5xx = 0;
    state.consecutiveGateway = 0;
    // Envoy: eject only while the share ejected, this one included, stays within the maximum.
    const total = Math.max(deps.endpointCount(), 1);
    if ((100 * (ejected.size + 1)) / total > maxPercent) {
      deps.logger.info('outlier not ejected: maxEjectionPercent reached', { cluster: deps.cluster, endpoint: key, reason });
      return;
    }
    state.ejections++;
    ejections++;
    const forMs = Math.min(baseMs * state.ejections, Math.max(baseMs, MAX_EJECTION_TIME_MS));
    state.ejectedUntil = now() + forMs;
    deps.logger.info('outlier ejected', { cluster: deps.cluster, endpoint: key, reason, ejectionMs: forMs });
    publish();
  };

  const sweep = () => {
    const at = now();
    let changed = false;
    for (const [key, state] of hosts) {
      if (state.ejectedUntil !== undefined && state.ejectedUntil <= at) {
        delete state.ejectedUntil;
        changed = true;
        deps.logger.info('outlier returned', { cluster: deps.cluster, endpoint: key });
      } else if (state.ejectedUntil === undefined && state.ejections > 0) {
        state.ejections--;
      }
    }
    if (changed) publish();
  };
  const timer = setInterval(sweep, settings.interval ?? DEFAULT_INTERVAL_MS);
  timer.unref();

  return {
    report(key, result) {
      const status = statusOf(result);
      if (status === undefined) return;
      let state = hosts.get(key);
      if (state === undefined) {
        state = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0 };
        hosts.set(key, state);
      }
      if (state.ejectedUntil !== undefined) return;
      const isGateway = status === 502 || status === 503 || status === 504;
      state.consecutive5xx = status >= 500 ? state.consecutive5xx + 1 : 0;
      state.consecutiveGateway = isGateway ? state.consecutiveGateway + 1 : 0;
      if (fiveXx > 0 && state.consecutive5xx >= fiveXx) eject(key, state, 'consecutive 5xx');
      else if (gateway > 0 && state.consecutiveGateway >= gateway) eject(key, state, 'consecutive gateway errors');
    },
    ejected: () => ejected,
    ejections: () => ejections,
    close: () => clearInterval(timer),
  };
}
