import { connect, type Socket } from 'node:net';
import type { ResponseFlag } from '../errors.js';
import type { ManagedCluster } from './cluster-manager.js';
import { mapUpstreamError } from './error-map.js';

// Envoy's tcp_proxy for one downstream connection: pick an endpoint of the cluster (the
// cluster's load balancer, as HTTP forwarding does, but no HTTP pool), connect, and pipe bytes
// both ways with backpressure. Half-close passes through (a FIN one way leaves the other way
// open); an error or reset on either side closes both. Whatever the client sent before the
// relay began must have been pushed back onto the client socket (socket.unshift) by then.

export interface RelayOutcome {
  /** UH no endpoint, UO over tcp.maxConnections, UF connection failure; none once the upstream connection was made. */
  readonly flag?: ResponseFlag;
  /** %UPSTREAM_TRANSPORT_FAILURE_REASON%: the connect error's code. */
  readonly transportFailureReason?: string;
  /** `ip:port` of the endpoint chosen. */
  readonly upstreamHost?: string;
  readonly upstreamLocalAddress?: string;
}

/** Relays open per cluster, for connectionPool.tcp.maxConnections (Envoy's max_connections circuit breaker). */
const openRelays = new WeakMap<ManagedCluster['cluster'], number>();

/** Envoy's tcp_proxy idle timeout when the DestinationRule sets none (Istio's documented default). */
const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60 * 1000;

/** Relays `client` to an endpoint of `managed`; resolves (never rejects) once both sides are closed. */
export async function relayToCluster(client: Socket, managed: ManagedCluster): Promise<RelayOutcome> {
  await managed.cluster.ready();
  if (client.destroyed) return {};
  const hash = managed.hashKey?.({ headers: {}, remoteAddress: client.remoteAddress ?? '', query: '' });
  const { cluster } = managed;
  const limit = cluster.poolOptions.undici.connections;
  const relays = openRelays.get(cluster) ?? 0;
  if (typeof limit === 'number' && relays >= limit) {
    client.destroy();
    return { flag: 'UO' };
  }
  const lease = cluster.choose(hash?.key === undefined ? {} : { hashKey: hash.key });
  if (lease === undefined) {
    client.destroy();
    return { flag: 'UH' };
  }
  const upstreamHost = lease.key;
  const connectOptions = cluster.poolOptions.connect;
  openRelays.set(cluster, relays + 1);
  const idleSetting = managed.config.trafficPolicy?.connectionPool?.tcp?.idleTimeout;
  // Envoy: 0 disables the idle timeout.
  const idleMs = idleSetting ?? DEFAULT_IDLE_TIMEOUT_MS;

  return new Promise((resolve) => {
    const upstream = connect({
      host: lease.endpoint.address,
      port: lease.endpoint.port,
      allowHalfOpen: true,
      keepAlive: connectOptions.keepAlive,
      keepAliveInitialDelay: connectOptions.keepAliveInitialDelay,
    });
    let connected = false;
    let failure: Pick<RelayOutcome, 'flag' | 'transportFailureReason'> = {};
    let upstreamLocalAddress: string | undefined;
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      lease.release();
      openRelays.set(cluster, (openRelays.get(cluster) ?? 1) - 1);
      resolve({ ...failure, upstreamHost, ...(upstreamLocalAddress === undefined ? {} : { upstreamLocalAddress }) });
    };

    upstream.setTimeout(connectOptions.timeout, () => {
      if (!connected) upstream.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'ETIMEDOUT' }));
    });
    upstream.once('connect', () => {
      connected = true;
      // Outlier detection hears of every connection: Envoy counts a connection made as a 200.
      cluster.report(lease, { status: 200 });
      upstreamLocalAddress = `${upstream.localAddress}:${upstream.localPort}`;
      upstream.setTimeout(0);
      if (idleMs > 0) client.setTimeout(idleMs, () => destroyBoth());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', (err) => {
      if (!connected) {
        const mapped = mapUpstreamError(err);
        failure = { flag: mapped.flag, transportFailureReason: (err as { code?: string }).code ?? mapped.detail };
        cluster.report(lease, { flag: mapped.flag });
      }
      destroyBoth();
    });
    client.on('error', destroyBoth);
    // A side that closed with an error (a reset) takes the other with it; a clean close has
    // already ended the other side through the pipe.
    upstream.once('close', (hadError) => {
      if (hadError || !connected) client.destroy();
      closed();
    });
    client.once('close', (hadError) => {
      if (hadError || !connected) upstream.destroy();
      closed();
    });
  });
}
