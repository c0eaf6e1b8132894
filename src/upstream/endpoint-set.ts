// Where a cluster's endpoints come from: a fixed list (STATIC ServiceEntry endpoints and
// WorkloadEntries) or DNS names resolved in the background (Envoy's STRICT_DNS: every address
// of every name is an endpoint). Readers take current() per request; onChange lets the cluster
// rebuild its load balancer once per change instead of per request.

import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import { type Endpoint, endpointKey } from './endpoint.js';

export interface EndpointSet {
  /** The endpoints now; a frozen array replaced (never mutated) on change. */
  current(): readonly Endpoint[];
  /** Resolves once the first answer is in (or its wait is over); never rejects. */
  ready(): Promise<void>;
  /** Called after current() changed. */
  onChange(listener: () => void): void;
  close(): void;
}

/** One DNS name of a ServiceEntry (resolution: DNS); each of its addresses becomes an endpoint. */
export interface DnsTarget {
  readonly hostname: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
  readonly locality?: string;
}

/**
 * The last good answer for each DNS name, shared by a worker's clusters. A cluster that a reload
 * rebuilds starts from it, serves at once and keeps its endpoints' pools, while its own first
 * lookup runs in the background (Envoy's new cluster keeps serving the old hosts while it warms).
 */
export type DnsAnswers = Map<string, readonly string[]>;

/** The one form of dns.promises.lookup used here; node's own function satisfies it. */
export type LookupAll = (hostname: string, options: { all: true }) => Promise<readonly { address: string }[]>;

export interface DnsEndpointsOptions {
  /** Envoy's dns_refresh_rate default. */
  refreshMs?: number;
  /** How long the first ready() waits for the first answer before the cluster serves without it. */
  readyTimeoutMs?: number;
  lookup?: LookupAll;
  /** Answers to start from, and where to keep this set's answers for the next one. */
  answers?: DnsAnswers;
  logger: Logger;
}

const DEFAULT_DNS_REFRESH_MS = 5000;
const DEFAULT_READY_TIMEOUT_MS = 5000;

export function createStaticEndpoints(endpoints: readonly Endpoint[]): EndpointSet {
  return new StaticEndpoints(Object.freeze([...endpoints]));
}

// A class, not closures: most clusters are static, and a worker may hold thousands of them.
class StaticEndpoints implements EndpointSet {
  constructor(private readonly endpoints: readonly Endpoint[]) {}

  current(): readonly Endpoint[] {
    return this.endpoints;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  // Static endpoints never change, and there is nothing to stop.
  onChange(): void {}

  close(): void {}
}

export function createDnsEndpoints(targets: readonly DnsTarget[], options: DnsEndpointsOptions): EndpointSet {
  const refreshMs = options.refreshMs ?? DEFAULT_DNS_REFRESH_MS;
  const lookup: LookupAll = options.lookup ?? dnsPromises.lookup;
  const { logger } = options;
  const known = options.answers;
  // Per target: its last good answer (kept while refreshes fail) and whether it is failing now.
  const answers: (readonly string[] | undefined)[] = targets.map((target) => known?.get(target.hostname));
  const answeredAlready = answers.every((answer) => answer !== undefined);
  const failing: boolean[] = targets.map(() => false);
  const listeners: (() => void)[] = [];
  // Names that are IP literals never change; only the others need a timer.
  const needsRefresh = targets.some((target) => isIP(target.hostname) === 0);
  let endpoints: readonly Endpoint[] = Object.freeze([]);
  let signature = '';
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function resolveTarget(target: DnsTarget, index: number): Promise<void> {
    let addresses: readonly string[];
    try {
      addresses =
        isIP(target.hostname) !== 0
          ? [target.hostname]
          : [...new Set((await lookup(target.hostname, { all: true })).map((answer) => answer.address))].sort();
      if (addresses.length === 0) throw new Error(`no address for ${target.hostname}`);
    } catch (err) {
      if (!failing[index]) {
        failing[index] = true;
        logger.warn('dns resolution failed; keeping the last answer', {
          hostname: target.hostname,
          kept: answers[index] ?? [],
          err,
        });
      }
      return;
    }
    answers[index] = addresses;
    if (failing[index]) {
      failing[index] = false;
      logger.info('dns resolution recovered', { hostname: target.hostname, addresses });
    }
    if (closed) return;
    known?.set(target.hostname, addresses);
    // Published per name, so that a slow name does not hold back the others' answers.
    publish();
  }

  function publish(): void {
    const next: Endpoint[] = [];
    const seen = new Set<string>();
    targets.forEach((target, index) => {
      for (const address of answers[index] ?? []) {
        const endpoint: Endpoint = {
          address,
          port: target.port,
          labels: target.labels,
          weight: target.weight,
          ...(target.locality === undefined ? {} : { locality: target.locality }),
        };
        const key = endpointKey(endpoint);
        // Two names resolving to one address:port are one endpoint, not double its weight.
        if (seen.has(key)) continue;
        seen.add(key);
        next.push(Object.freeze(endpoint));
      }
    });
    const nextSignature = [...seen].join(',');
    if (nextSignature === signature) return;
    signature = nextSignature;
    endpoints = Object.freeze(next);
    for (const listener of listeners) listener();
  }

  // One round at a time: the next is scheduled when this one is done, so a slow resolver
  // cannot pile up lookups.
  async function refresh(): Promise<void> {
    await Promise.all(targets.map(resolveTarget));
    if (!closed && needsRefresh) {
      timer = setTimeout(() => void refresh(), refreshMs);
      timer.unref();
    }
  }

  if (answers.some((answer) => answer !== undefined)) publish();
  const firstAnswer = refresh();
  let readyPromise: Promise<void> | undefined = answeredAlready ? Promise.resolve() : undefined;

  return {
    current: () => endpoints,
    ready() {
      readyPromise ??= new Promise<void>((resolve) => {
        const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
        // Not unref'd: someone is waiting on it, and it is cleared as soon as the first answer lands.
        const bound = setTimeout(resolve, readyTimeoutMs);
        void firstAnswer.then(() => {
          clearTimeout(bound);
          resolve();
        });
      });
      return readyPromise;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      listeners.length = 0;
    },
  };
}
