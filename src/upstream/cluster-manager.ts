import { isDeepStrictEqual } from 'node:util';
import { createCluster, type Cluster, type ClusterConfig, type ClusterDeps } from './cluster.js';
import { compileHashKey, type HashKeyFunction } from './lb/hash-key.js';
import { endpointOrigin } from './endpoint.js';
import type { DnsAnswers } from './endpoint-set.js';

// The runtime clusters behind the current snapshot. A reload keeps every cluster whose config
// did not change (its DNS state, load-balancer position and active counts with it), builds the
// new ones and closes the ones no route names any more. A rebuilt DNS cluster starts from the
// names' last answers, so it serves at once and keeps its endpoints' pools. The pools of an
// address that a new DNS answer no longer names are closed then, not at the next reload: a name
// whose addresses rotate would otherwise leave a pool behind for every address it ever had.

export interface ManagedCluster {
  readonly config: ClusterConfig;
  readonly cluster: Cluster;
  /** Present when the cluster balances by consistent hash. */
  readonly hashKey?: HashKeyFunction;
}

export interface ClusterManager {
  update(configs: ReadonlyMap<string, ClusterConfig>): void;
  get(name: string): ManagedCluster | undefined;
  all(): IterableIterator<ManagedCluster>;
  close(): void;
}

export function createClusterManager(options: Omit<ClusterDeps, 'dnsAnswers'>): ClusterManager {
  let clusters = new Map<string, ManagedCluster>();
  const dnsAnswers: DnsAnswers = new Map();
  const deps: ClusterDeps = { ...options, dnsAnswers };

  /** Closes every pool that no endpoint of a current cluster uses. */
  const retainPools = () =>
    void deps.pools.retain(
      [...clusters.values()].flatMap(({ cluster }) => cluster.endpoints().map((endpoint) => ({ origin: endpointOrigin(endpoint), options: cluster.poolOptions }))),
    );

  const build = (config: ClusterConfig): ManagedCluster => {
    const consistentHash = config.loadBalancer?.consistentHash;
    const cluster = createCluster(config, deps);
    cluster.onEndpointsChange(retainPools);
    return { config, cluster, ...(consistentHash === undefined ? {} : { hashKey: compileHashKey(consistentHash) }) };
  };

  return {
    update(configs) {
      const next = new Map<string, ManagedCluster>();
      for (const [name, config] of configs) {
        const existing = clusters.get(name);
        next.set(name, existing !== undefined && isDeepStrictEqual(existing.config, config) ? existing : build(config));
      }
      for (const [name, managed] of clusters) {
        if (next.get(name) !== managed) managed.cluster.close();
      }
      clusters = next;
      forgetUnusedAnswers(dnsAnswers, next.values());
      retainPools();
    },
    get: (name) => clusters.get(name),
    all: () => clusters.values(),
    close() {
      for (const managed of clusters.values()) managed.cluster.close();
      clusters = new Map();
      void deps.pools.close();
    },
  };
}

/** Drops the answers of names no cluster resolves any more. */
function forgetUnusedAnswers(answers: DnsAnswers, clusters: Iterable<ManagedCluster>): void {
  const inUse = new Set<string>();
  for (const { config } of clusters) if (config.endpoints.kind === 'dns') for (const target of config.endpoints.targets) inUse.add(target.hostname);
  for (const hostname of answers.keys()) if (!inUse.has(hostname)) answers.delete(hostname);
}
