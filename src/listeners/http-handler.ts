import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { ResponseFlag } from '../errors.js';
import type { HttpRoute, ListenerConfig, RouteDestination } from '../config/snapshot.js';
import { createRequestView, type RequestView } from '../routing/request-view.js';
import type { ClusterManager, ManagedCluster } from '../upstream/cluster-manager.js';
import type { UpstreamLease } from '../upstream/cluster.js';
import type { PickContext } from '../upstream/lb/index.js';
import { forwardWithRetries, type RetryingOutcome } from '../upstream/retrying-forward.js';
import { proxyWebSocket } from '../upstream/websocket-proxy.js';
import { sendLocalReply, type ForwardOutcome } from '../upstream/local-reply.js';
import { buildUpstreamRequestHeaders } from '../upstream/request-headers.js';
import { newRequestId } from '../upstream/request-id.js';
import { upstreamFailures } from '../upstream/error-map.js';
import type { AccessLog, AccessLogEntry } from '../observability/access-log.js';
import type { IstioMetrics } from '../observability/istio-metrics.js';
import { responseFlagsLabel } from '../observability/response-flags-label.js';
import type { RequestTrace, Tracing } from '../observability/tracing.js';
import { tlsConnectionOf } from './tls-connection.js';
import type { Mirrors } from '../upstream/mirror.js';
import { runFault } from '../filters/fault/fault.js';
import { checkRateLimit, runRateLimit } from '../filters/ratelimit/rate-limit.js';
import type { RateLimitBackends } from '../filters/ratelimit/rate-limit-backends.js';
import { clientAddressOf } from './client-address.js';

// The one handler of a listener: route the request against the current snapshot, answer it
// here (no route, CORS preflight, redirect, direct response) or pick a destination and an
// endpoint and hand the bytes to undici. It never throws: every outcome becomes a status,
// a response flag and an access log line.

/** The listener's current config; a reload replaces `config` and the next request sees it. */
export interface ListenerRef {
  config: ListenerConfig;
}

export interface HttpHandlerDeps {
  readonly clusters: ClusterManager;
  readonly mirrors: Mirrors;
  readonly accessLog: AccessLog;
  readonly metrics: IstioMetrics;
  readonly tracing: Tracing;
  readonly logger: Logger;
  readonly rateLimits: RateLimitBackends;
}

export interface HttpHandler {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** What the access log learns along the way besides the outcome. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly started: number;
  /**
   * Read when the request arrives, since a socket destroyed before the log line has no addresses
   * left; only when an access log is written, which nothing else reads them for.
   */
  downstreamLocalAddress?: string;
  downstreamRemoteAddress?: string;
  /** The client's IP: the peer's, or the X-Forwarded-For entry numTrustedProxies points at. */
  readonly clientAddress: string;
  route?: HttpRoute;
  cluster?: string;
  upstreamHost?: string;
  forwardedFor?: string;
  /** Fault injection delayed the request (flag DI, besides the outcome's own). */
  faultDelayed?: boolean;
  /** The gateway's span, when tracing is on. */
  trace?: RequestTrace;
}

export function createHttpHandler(ref: ListenerRef, deps: HttpHandlerDeps): HttpHandler {
  const { clusters, mirrors, accessLog, metrics, tracing, logger } = deps;
  const rateLimitRun = { backends: deps.rateLimits, logger };

  const begin = (req: IncomingMessage): { exchange: Exchange; view: RequestView } => {
    // Envoy gives every request an id, local replies included, so logs can name each one.
    if (!req.headers['x-request-id']) req.headers['x-request-id'] = newRequestId();
    const { socket } = req;
    const { trustedProxies } = ref.config;
    const clientAddress = trustedProxies === 0 ? (socket.remoteAddress ?? '') : clientAddressOf(socket.remoteAddress, req.headers, trustedProxies);
    const exchange: Exchange = { req, started: performance.now(), clientAddress };
    if (accessLog.enabled) {
      exchange.downstreamLocalAddress = `${socket.localAddress}:${socket.localPort}`;
      // Envoy prints an address taken from X-Forwarded-For with port 0.
      exchange.downstreamRemoteAddress = trustedProxies === 0 ? `${clientAddress}:${socket.remotePort}` : `${clientAddress}:0`;
    }
    const view = createRequestView({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, scheme: ref.config.tls === undefined ? 'http' : 'https', port: ref.config.port });
    if (tracing.enabled) exchange.trace = tracing.start(view.method, view.authority, req.url ?? '/', req.headers);
    return { exchange, view };
  };

  const finish = (exchange: Exchange, outcome: RetryingOutcome): void => {
    const durationMs = performance.now() - exchange.started;
    const { req } = exchange;
    // Istio labels a request gRPC by its content type; a direct answer has no cluster (destination "unknown").
    const grpcStatus = req.headers['content-type']?.startsWith('application/grpc') === true ? (outcome.grpcStatus ?? '') : undefined;
    const flags = responseFlagsLabel(outcome.flag, outcome.extraFlag, exchange.faultDelayed === true);
    metrics.request(exchange.cluster, grpcStatus, outcome.status, flags, durationMs, outcome.bytesReceived, outcome.bytesSent);
    if (accessLog.enabled) accessLog.log(accessLogEntry(exchange, outcome, durationMs));
    exchange.trace?.end(outcome.status, flags === '-' ? undefined : flags, exchange.cluster);
  };

  /**
   * An endpoint lease for the destination. Only a DNS cluster still waiting for its first answer
   * returns a promise: every other request goes on in the same turn.
   */
  const lease = (managed: ManagedCluster | undefined, req: IncomingMessage, view: RequestView, clientAddress: string): Leased | Promise<Leased> => {
    if (managed === undefined) return noLease;
    const hash = managed.hashKey?.({ headers: req.headers, remoteAddress: clientAddress, query: view.query });
    const context = hash?.key === undefined ? noHashKey : { hashKey: hash.key };
    const chosen = managed.cluster.choose(context);
    if (chosen !== undefined) return { lease: chosen, setCookie: hash?.setCookie, context };
    return managed.cluster.ready().then(() => ({ lease: managed.cluster.choose(context), setCookie: hash?.setCookie, context }));
  };

  const upstreamRequest = (view: RequestView, route: HttpRoute, destination: RouteDestination, req: IncomingMessage, trace: RequestTrace | undefined) => {
    const action = route.action;
    const pathAndQuery = view.query === '' ? view.path : `${view.path}?${view.query}`;
    const authority = destination.authority ?? view.authority;
    const target = action.kind === 'forward' && action.rewrite !== undefined ? action.rewrite(pathAndQuery, authority) : { path: pathAndQuery, authority };
    const forwardedClientCert = tlsConnectionOf(req.socket)?.forwardedClientCert;
    const headers = buildUpstreamRequestHeaders(req.headers, { remoteAddress: req.socket.remoteAddress, scheme: view.scheme, authority: target.authority, forwardedClientCert });
    trace?.inject(headers);
    destination.requestHeaders?.(headers);
    return { path: target.path, headers };
  };

  // Never rejects: a request's failure is answered here, with no promise or closures to catch it per request.
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const { exchange, view } = begin(req);
      const refusal = serverRefusal(ref.config, req, view);
      if (refusal !== undefined) return finish(exchange, withDetail(sendLocalReply(res, refusal.status, refusal.body, undefined, refusal.headers), refusal.detail));
      const route = ref.config.routes.route(view);
      if (route === undefined) return finish(exchange, withDetail(sendLocalReply(res, 404, '', 'NR'), 'route_not_found'));
      exchange.route = route;

      // design.md's order: rate limit, then fault. Only a route a policy reaches pays for it.
      if (route.rateLimit !== undefined) {
        const limited = await runRateLimit(route.rateLimit, req, res, exchange.clientAddress, rateLimitRun);
        if (limited !== undefined) return finish(exchange, limited);
      }

      // Istio puts Envoy's fault filter before CORS and the router: a delay, then maybe the
      // gateway's own answer, preflights included.
      if (route.action.kind === 'forward' && route.action.fault !== undefined) {
        const step = runFault(route.action.fault, req, res);
        // Only a delay waits: every other request goes on in the same turn.
        const fault = step instanceof Promise ? await step : step;
        exchange.faultDelayed = fault.delayed;
        if (fault.outcome !== undefined) {
          // Envoy resolves the route's cluster before its fault filter runs: an abort is the destination's.
          exchange.cluster = route.action.pickDestination().cluster;
          return finish(exchange, fault.outcome);
        }
      }

      const preflight = route.cors?.preflight(req);
      if (preflight !== undefined) return finish(exchange, withDetail(sendLocalReply(res, preflight.status, '', undefined, preflight.headers), 'cors_response'));

      const action = route.action;
      if (action.kind === 'redirect') {
        const { status, location } = action.redirect({ ...view, ...hostPortOf(view.authority) });
        const headers: OutgoingHttpHeaders = { location };
        route.responseHeaders?.(headers);
        return finish(exchange, withDetail(sendLocalReply(res, status, '', undefined, headers), 'direct_response'));
      }
      if (action.kind === 'direct') {
        const headers: OutgoingHttpHeaders = { ...action.headers };
        route.responseHeaders?.(headers);
        return finish(exchange, withDetail(sendLocalReply(res, action.status, action.body, undefined, headers), action.detail));
      }

      const destination = action.pickDestination();
      exchange.cluster = destination.cluster;
      const managed = clusters.get(destination.cluster);
      const leasing = lease(managed, req, view, exchange.clientAddress);
      const { lease: chosen, setCookie, context } = leasing instanceof Promise ? await leasing : leasing;
      if (managed === undefined || chosen === undefined) return finish(exchange, localFailure(res, upstreamFailures.noHealthyUpstream));
      const { path, headers } = upstreamRequest(view, route, destination, req, exchange.trace);
      exchange.forwardedFor = headers['x-forwarded-for'] as string | undefined;
      const corsHeaders = route.cors?.responseHeaders(req.headers.origin);
      const mirrored =
        action.mirrors === undefined
          ? undefined
          : mirrors.start(action.mirrors, {
              req,
              path,
              headers,
              ...(action.timeoutMs === undefined ? {} : { timeoutMs: action.timeoutMs }),
              lease: async (cluster) => (await lease(clusters.get(cluster), req, view, exchange.clientAddress)).lease,
            });
      try {
        const outcome = await forwardWithRetries({
          req,
          res,
          cluster: managed.cluster,
          lease: chosen,
          pick: context,
          path,
          headers,
          timeoutMs: action.timeoutMs,
          retry: action.retry,
          // Most routes edit nothing: no function to make and call for them.
          editResponseHeaders:
            destination.responseHeaders === undefined && corsHeaders === undefined && setCookie === undefined
              ? undefined
              : (response) => {
                  destination.responseHeaders?.(response);
                  if (corsHeaders !== undefined) Object.assign(response, corsHeaders);
                  if (setCookie !== undefined) appendSetCookie(response, setCookie);
                },
          onTry: (endpoint) => (exchange.upstreamHost = endpoint),
        });
        finish(exchange, outcome);
      } finally {
        mirrored?.();
      }
    } catch (err) {
      // A bug here must cost one request, never the process or a stack trace in a body.
      logger.error('request handling failed', { err, kind: 'http' });
      if (res.headersSent) res.destroy();
      else sendLocalReply(res, 500, 'internal error');
    }
  };

  const handleUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const { exchange, view } = begin(req);
    // The same server rules as a request: no WebSocket reaches a server its connection was not made for.
    const refusal = serverRefusal(ref.config, req, view);
    if (refusal !== undefined) return finish(exchange, refuseUpgrade(socket, refusal.status, undefined, refusal.headers));
    const route = ref.config.routes.route(view);
    const action = route?.action;
    if (route === undefined || action?.kind !== 'forward') {
      // An upgrade to a route the gateway answers itself (or to no route) is refused plainly.
      return finish(exchange, refuseUpgrade(socket, route === undefined ? 404 : 400, route === undefined ? 'NR' : undefined));
    }
    exchange.route = route;
    // A WebSocket counts against the route's limits like any request, once, when it opens.
    if (route.rateLimit !== undefined) {
      const rejection = await checkRateLimit(route.rateLimit, req, exchange.clientAddress, rateLimitRun);
      if (rejection !== undefined) return finish(exchange, { ...refuseUpgrade(socket, rejection.status, rejection.flag, rejection.headers), detail: rejection.detail });
    }
    const destination = action.pickDestination();
    exchange.cluster = destination.cluster;
    const managed = clusters.get(destination.cluster);
    const { lease: chosen } = await lease(managed, req, view, exchange.clientAddress);
    if (managed === undefined || chosen === undefined) return finish(exchange, refuseUpgrade(socket, 503, 'UH'));
    exchange.upstreamHost = chosen.key;
    // An upgrade is a request like any other to the circuit breakers.
    if (managed.cluster.overflows(chosen)) {
      chosen.release();
      return finish(exchange, refuseUpgrade(socket, 503, 'UO'));
    }
    const { path, headers } = upstreamRequest(view, route, destination, req, exchange.trace);
    exchange.forwardedFor = headers['x-forwarded-for'] as string | undefined;
    try {
      const outcome = await proxyWebSocket({
        req,
        socket,
        head,
        dispatcher: chosen.pool,
        path,
        headers,
        ...(destination.responseHeaders === undefined ? {} : { editResponseHeaders: destination.responseHeaders }),
      });
      finish(exchange, outcome);
    } finally {
      chosen.release();
    }
  };

  // A bug here must cost one connection, never the process.
  const containUpgrade = (socket: Duplex) => (err: unknown) => {
    logger.error('request handling failed', { err, kind: 'upgrade' });
    socket.destroy();
  };

  return {
    onRequest(req, res) {
      void handle(req, res);
    },
    onUpgrade(req, socket, head) {
      handleUpgrade(req, socket, head).catch(containUpgrade(socket));
    },
  };
}

/** An endpoint lease with what choosing it needed, which a retry and the response reuse. */
interface Leased {
  readonly lease: UpstreamLease | undefined;
  readonly setCookie: string | undefined;
  readonly context: PickContext;
}

const noHashKey: PickContext = Object.freeze({});
const noLease: Leased = { lease: undefined, setCookie: undefined, context: noHashKey };

interface ServerRefusal {
  readonly status: 301 | 421;
  readonly body: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly detail: string;
}

/**
 * What the Gateway server of the request's host says before any route: a plain server with
 * httpsRedirect answers 301 to https (Envoy's require_tls); on a TLS port, a host whose server
 * has other certificates or client checks than the server the handshake chose (by SNI) answers
 * 421, so an HTTP/2 client that reused the connection opens one for that host (RFC 9110 15.5.20).
 */
function serverRefusal(config: ListenerConfig, req: IncomingMessage, view: RequestView): ServerRefusal | undefined {
  if (config.tls === undefined && !config.redirectsToHttps) return undefined;
  const server = config.servers.find(view.host);
  if (server === undefined) return undefined;
  if (config.tls === undefined) {
    if (!server.httpsRedirect) return undefined;
    const target = req.url?.startsWith('/') ? req.url : `${view.path}${view.query === '' ? '' : `?${view.query}`}`;
    return { status: 301, body: '', headers: { location: `https://${view.host}${target}` }, detail: 'direct_response' };
  }
  const connection = tlsConnectionOf(req.socket);
  // By name: a connection made before a reload (new certificates) still belongs to its server.
  if (connection === undefined || connection.server.name === server.name || connection.server.tls?.contextKey === server.tls?.contextKey) return undefined;
  return { status: 421, body: 'misdirected request', detail: 'misdirected_request' };
}

function withDetail(outcome: ForwardOutcome, detail: string): ForwardOutcome {
  return { ...outcome, detail };
}

function localFailure(res: ServerResponse, failure: typeof upstreamFailures.noHealthyUpstream): ForwardOutcome {
  return withDetail(sendLocalReply(res, failure.status, failure.body, failure.flag), failure.detail);
}

const upgradeRefusalReasons = {
  301: 'Moved Permanently',
  400: 'Bad Request',
  404: 'Not Found',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
} as const;

function refuseUpgrade(socket: Duplex, status: keyof typeof upgradeRefusalReasons, flag: ForwardOutcome['flag'], headers?: OutgoingHttpHeaders): ForwardOutcome {
  let extra = '';
  for (const name in headers) extra += `${name}: ${String(headers[name])}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${upgradeRefusalReasons[status]}\r\n${extra}content-length: 0\r\nconnection: close\r\n\r\n`);
  return { status, ...(flag === undefined ? {} : { flag }), bytesReceived: 0, bytesSent: 0 };
}

/** The port written in the Host header, which a redirect keeps when it does not change the host. */
function hostPortOf(authority: string): { hostPort?: number } {
  const match = /:(\d+)$/.exec(authority);
  return match === null || authority.endsWith(']') ? {} : { hostPort: Number(match[1]) };
}

function appendSetCookie(headers: OutgoingHttpHeaders, cookie: string): void {
  const existing = headers['set-cookie'];
  headers['set-cookie'] = existing === undefined ? cookie : [...(Array.isArray(existing) ? existing : [String(existing)]), cookie];
}

function responseFlagsOf(outcome: RetryingOutcome, delayed: boolean): Pick<AccessLogEntry, 'responseFlags'> {
  const flags = [outcome.flag, outcome.extraFlag, delayed ? 'DI' : undefined].filter((flag): flag is ResponseFlag => flag !== undefined);
  return flags.length === 0 ? {} : { responseFlags: flags };
}

function accessLogEntry(exchange: Exchange, outcome: RetryingOutcome, durationMs: number): AccessLogEntry {
  const { req } = exchange;
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  return {
    // The wall clock when the request came, read only for a log line.
    startTime: Date.now() - durationMs,
    method: req.method ?? '-',
    path: req.url ?? '-',
    protocol: req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
    responseCode: outcome.status,
    ...responseFlagsOf(outcome, exchange.faultDelayed === true),
    ...(outcome.detail === undefined ? {} : { responseCodeDetails: outcome.detail }),
    bytesReceived: outcome.bytesReceived,
    bytesSent: outcome.bytesSent,
    durationMs,
    ...(outcome.upstreamMs === undefined ? {} : { upstreamServiceTimeMs: outcome.upstreamMs }),
    forwardedFor: exchange.forwardedFor ?? header('x-forwarded-for'),
    userAgent: header('user-agent'),
    requestId: header('x-request-id'),
    authority: header('host'),
    upstreamHost: exchange.upstreamHost,
    upstreamCluster: exchange.cluster,
    downstreamLocalAddress: exchange.downstreamLocalAddress,
    downstreamRemoteAddress: exchange.downstreamRemoteAddress,
    routeName: exchange.route?.name,
  };
}
