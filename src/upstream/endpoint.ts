// One address a cluster can send a request to: a WorkloadEntry, a ServiceEntry endpoint or one
// answer of a DNS name. Its key names it in retry/outlier exclude sets and its origin names the
// shared connection pool, so both are the same string for the same address in every cluster.

export interface Endpoint {
  /** An IPv4 or IPv6 literal (no brackets). */
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Load-balancing weight, at least 1 (Istio's default is 1). */
  readonly weight: number;
  /** Istio locality "region/zone/subzone", kept for locality load balancing later. */
  readonly locality?: string;
}

/** "10.0.0.1:8080" or "[::1]:8080": the endpoint's identity in exclude sets and logs. */
export function endpointKey(endpoint: Pick<Endpoint, 'address' | 'port'>): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

/** "http://10.0.0.1:8080": the origin of the endpoint's shared undici pool. */
export function endpointOrigin(endpoint: Pick<Endpoint, 'address' | 'port'>): string {
  return `http://${endpointKey(endpoint)}`;
}

export interface EndpointNames {
  /** endpointKey(). */
  readonly key: string;
  /** endpointOrigin(). */
  readonly origin: string;
}

// Made once per endpoint object, for every cluster that balances over it: the clusters of one
// ServiceEntry share its endpoints (2,000 with 1,000 VirtualServices in the bench), and a map
// and five strings per cluster and endpoint added up to about 0.5 MiB there.
const namesByEndpoint = new WeakMap<Endpoint, EndpointNames>();

/** The endpoint's key and origin, built at its first use. */
export function endpointNames(endpoint: Endpoint): EndpointNames {
  let names = namesByEndpoint.get(endpoint);
  if (names === undefined) {
    names = Object.freeze({ key: endpointKey(endpoint), origin: endpointOrigin(endpoint) });
    namesByEndpoint.set(endpoint, names);
  }
  return names;
}
