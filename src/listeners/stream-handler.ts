import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { StreamListenerConfig } from '../config/snapshot.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import { relayToCluster, type RelayOutcome } from '../upstream/tcp-relay.js';
import type { AccessLog } from '../observability/access-log.js';
import type { IstioMetrics, TcpConnection } from '../observability/istio-metrics.js';
import { peekClientHello, type PeekOutcome } from './sni-peek.js';

// The one handler of a stream listener: read the SNI when the port is a passthrough one, pick a
// route against the current snapshot, relay the bytes to a cluster, and write one access log line
// per connection in Envoy's TCP form (no method, path or status; flags, bytes, duration, upstream
// host, SNI). A connection no route takes is closed, as Envoy closes a connection that matches
// no filter chain (flag NR): unknown SNI, no SNI, not TLS, or a ClientHello that never completes.
// Only what happens at connect time reads the config: a reload leaves open relays alone.
// On a port that also has terminating servers, a connection whose SNI picks one of them goes to
// `terminate` with the ClientHello already read (not read twice); the HTTP side logs its
// requests, so no TCP line here.

/** The listener's current config; a reload replaces `config` and the next connection sees it. */
export interface StreamListenerRef {
  config: StreamListenerConfig;
}

export interface StreamHandlerDeps {
  readonly clusters: ClusterManager;
  readonly accessLog: AccessLog;
  readonly metrics: IstioMetrics;
  readonly logger: Logger;
}

const filterChainNotFound = 'filter_chain_not_found';

/** `terminate`: takes a connection for the port's terminating servers (a mixed port's TLS side). */
export function createStreamHandler(ref: StreamListenerRef, deps: StreamHandlerDeps, terminate?: (socket: Socket, hello: PeekOutcome) => void): (socket: Socket) => void {
  const { clusters, accessLog, metrics, logger } = deps;

  return (socket) => {
    const startTime = Date.now();
    const started = performance.now();
    const downstreamLocalAddress = `${socket.localAddress}:${socket.localPort}`;
    const downstreamRemoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    let serverName: string | undefined;
    let cluster: string | undefined;
    let counted: TcpConnection | undefined;
    const destroyOnError = () => socket.destroy();

    const finish = (outcome: RelayOutcome & { detail?: string }) => {
      // A connection closed before it was routed (NR, DC) is counted opened now.
      metrics.tcpClosed(counted ?? metrics.tcpOpened(cluster, socket), cluster, outcome.flag ?? '-');
      if (!accessLog.enabled) return;
      accessLog.log({
        startTime,
        method: '',
        path: '',
        protocol: '',
        responseCode: 0,
        ...(outcome.flag === undefined ? {} : { responseFlags: [outcome.flag] }),
        ...(outcome.detail === undefined ? {} : { responseCodeDetails: outcome.detail }),
        ...(outcome.transportFailureReason === undefined ? {} : { upstreamTransportFailureReason: outcome.transportFailureReason }),
        bytesReceived: socket.bytesRead,
        bytesSent: socket.bytesWritten,
        durationMs: performance.now() - started,
        ...(outcome.upstreamHost === undefined ? {} : { upstreamHost: outcome.upstreamHost }),
        ...(cluster === undefined ? {} : { upstreamCluster: cluster }),
        ...(outcome.upstreamLocalAddress === undefined ? {} : { upstreamLocalAddress: outcome.upstreamLocalAddress }),
        downstreamLocalAddress,
        downstreamRemoteAddress,
        ...(serverName === undefined ? {} : { requestedServerName: serverName }),
      });
    };

    const serve = async (): Promise<void> => {
      const config = ref.config;
      let peeked: PeekOutcome | undefined;
      if (config.peekSni) {
        peeked = await peekClientHello(socket);
        if (peeked.kind === 'closed') {
          socket.destroy();
          return finish({ flag: 'DC', detail: 'downstream_remote_disconnect' });
        }
        // Not TLS, or a hello that never completed: only a route without SNI (tcp[]) can take it.
        if (peeked.kind === 'tls') serverName = peeked.serverName;
      }
      const route = ref.config.route({ serverName, localAddress: socket.localAddress ?? '', remoteAddress: socket.remoteAddress ?? '' });
      if (route === 'terminate' && terminate !== undefined && peeked !== undefined) {
        // Half-closes are HTTP's to handle, not a relay's.
        socket.allowHalfOpen = false;
        socket.off('error', destroyOnError);
        return terminate(socket, peeked);
      }
      if (peeked !== undefined) socket.unshift(peeked.bytes);
      if (route === undefined || route === 'terminate') {
        socket.destroy();
        return finish({ flag: 'NR', detail: filterChainNotFound });
      }
      cluster = route.pickCluster();
      // Istio counts a relay opened when it starts, and its bytes as they go.
      counted = metrics.tcpOpened(cluster, socket);
      const managed = clusters.get(cluster);
      if (managed === undefined) {
        socket.destroy();
        return finish({ flag: 'UH' });
      }
      finish(await relayToCluster(socket, managed));
    };

    // Errors before the relay owns the socket (a reset during the peek) end it quietly.
    socket.on('error', destroyOnError);
    serve().catch((err: unknown) => {
      logger.error('stream connection failed', { err });
      socket.destroy();
    });
  };
}
