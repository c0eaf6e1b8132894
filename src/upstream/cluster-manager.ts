import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log.js';
import { createCluster, type Cluster, type ClusterConfig } from './cluster.js';
import { compileHashKey, type HashKeyFunction } from './lb/hash-key.js';
import type { PoolRegistry } from './pool-registry.js';
import { endpointOrigin } from './endpoint.js';

// The runtime clusters behind the current snapshot. A reload keeps every cluster whose config
// did not change (its DNS state, load-balancer position and active counts with it), builds the
// new ones and closes the ones no route names any more.

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

export function createClusterManager(deps: { pools: PoolRegistry; logger: Logger }): ClusterManager {
  let clusters = new Map<string, ManagedCluster>();

  const build = (config: ClusterConfig): ManagedCluster => {
    const consistentHash = config.loadBalancer?.consistentHash;
    return {
      config,
      cluster: createCluster(config, deps),
      ...(consistentHash === undefined ? {} : { hashKey: compileHashKey(consistentHash) }),
    };
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
      void deps.pools.retain(
        [...next.values()].flatMap(({ cluster }) =>
          cluster.endpoints().map((endpoint) => ({ origin: endpointOrigin(endpoint), options: cluster.poolOptions })),
        ),
      );
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
