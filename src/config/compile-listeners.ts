import type { GatewaySpec, Server } from './kinds/gateway.js';
import type { VirtualServiceSpec } from './kinds/virtual-service.js';
import type { Resource, ValidatedConfig } from './validate.js';
import type { HttpRoute, ListenerConfig, ListenerProtocol, ServerBlock } from './snapshot.js';
import { serverCredentialKey, terminatesTls, type ServerCredentials } from './credentials.js';
import { compileServerTls, type TerminatingMode, type TlsContextCache } from './compile-tls.js';
import { createServerTable } from '../routing/server-table.js';
import { resolveShortName } from './fqdn.js';
import { compileVirtualServiceRoutes, type RouteCompileContext } from './compile-routes.js';
import { resolveGatewayName } from '../routing/request-match.js';
import { createRouteTable, type VirtualHostInput } from '../routing/route-table.js';
import { hostsIntersect, parseGatewayServerHost, serverHostAllowsNamespace } from '../routing/host-match.js';
import { isStreamServer } from './compile-stream-listeners.js';

// Gateway servers -> listeners (one per bind:port), and on each listener the virtual hosts
// Istio would build: every host of a bound VirtualService intersected with the hosts of the
// servers it is bound to, routes of several VirtualServices for one host merged in order.

const httpProtocols: ReadonlySet<string> = new Set<ListenerProtocol>(['HTTP', 'HTTP2', 'GRPC']);

export interface BoundServer {
  readonly gateway: string;
  readonly gatewayNamespace: string;
  readonly server: Server;
}

interface HttpBoundServer extends BoundServer {
  readonly block: ServerBlock;
}

interface PendingListener {
  readonly bind: string;
  readonly port: number;
  readonly protocol: ListenerProtocol;
  readonly servers: HttpBoundServer[];
}

export function compileListeners(config: ValidatedConfig, context: RouteCompileContext, credentials: ServerCredentials = {}): ListenerConfig[] {
  const pending = collectHttpServers(config.gateways, context, credentials);
  const routesCache = new Map<string, HttpRoute[]>();
  const routesOf = (vs: Resource<VirtualServiceSpec>, gateway: string) => {
    const key = `${vs.metadata.namespace}/${vs.metadata.name}@${gateway}`;
    let routes = routesCache.get(key);
    if (routes === undefined) {
      routes = compileVirtualServiceRoutes(vs, gateway, context);
      routesCache.set(key, routes);
    }
    return routes;
  };

  return [...pending.values()].map((listener) => {
    // domain -> the VirtualServices (in config order) whose routes serve it on this listener
    const hosts = new Map<string, { gateway: string; vs: Resource<VirtualServiceSpec> }[]>();
    for (const vs of config.virtualServices) {
      // As istiod builds gateway routes from http[] only: a VirtualService without any (tls[] or
      // tcp[] alone) must not add an empty virtual host that hides a wildcard one with 404s.
      if ((vs.spec.http ?? []).length === 0) continue;
      const vsGateways = new Set((vs.spec.gateways ?? []).map((g) => resolveGatewayName(g, vs.metadata.namespace)));
      for (const bound of listener.servers) {
        if (!vsGateways.has(bound.gateway)) continue;
        for (const domain of domainsFor(vs, bound)) {
          const serving = hosts.get(domain) ?? [];
          if (!serving.some((s) => s.vs === vs)) serving.push({ gateway: bound.gateway, vs });
          hosts.set(domain, serving);
        }
      }
    }
    const virtualHosts: VirtualHostInput<HttpRoute>[] = [...hosts].map(([domain, serving]) => ({
      name: `${domain}:${listener.port}`,
      domains: [domain],
      routes: serving.flatMap(({ vs, gateway }) => routesOf(vs, gateway)),
    }));
    const blocks = listener.servers.map((bound) => bound.block);
    const first = blocks[0];
    const tls = first?.tls === undefined ? undefined : { defaultServer: { ...first, tls: first.tls } };
    return Object.freeze({
      name: `${listener.bind}_${listener.port}`,
      bind: listener.bind,
      port: listener.port,
      protocol: listener.protocol,
      routes: createRouteTable(virtualHosts),
      servers: createServerTable(blocks),
      redirectsToHttps: tls === undefined && blocks.some((block) => block.httpsRedirect),
      ...(tls === undefined ? {} : { tls: Object.freeze(tls) }),
      http2: listener.protocol !== 'HTTP',
      trustedProxies: config.meshConfigs[0]?.spec.defaultConfig.gatewayTopology.numTrustedProxies ?? 0,
    });
  });
}

function collectHttpServers(gateways: ValidatedConfig['gateways'], context: RouteCompileContext, credentials: ServerCredentials): Map<string, PendingListener> {
  const listeners = new Map<string, PendingListener>();
  const contexts: TlsContextCache = new Map();
  for (const gateway of gateways) {
    gateway.spec.servers.forEach((server, index) => {
      // PASSTHROUGH and TCP servers are compile-stream-listeners.ts's.
      if (isStreamServer(server)) return;
      const block = serverBlock(gateway, index, server, context, credentials, contexts);
      if (block === undefined) return;
      const protocol = (block.tls === undefined ? server.port.protocol.toUpperCase() : 'HTTPS') as ListenerProtocol;
      const bind = server.bind ?? '0.0.0.0';
      const key = `${bind}_${server.port.number}`;
      const listener = listeners.get(key) ?? { bind, port: server.port.number, protocol, servers: [] };
      listener.servers.push({ gateway: gatewayKey(gateway), gatewayNamespace: gateway.metadata.namespace, server, block });
      listeners.set(key, listener);
    });
  }
  return listeners;
}

/** The server as the data plane serves it, or undefined (with an issue) when this build does not serve it. */
function serverBlock(
  gateway: Resource<GatewaySpec>,
  index: number,
  server: Server,
  context: RouteCompileContext,
  credentials: ServerCredentials,
  contexts: TlsContextCache,
): ServerBlock | undefined {
  const path = ['spec', 'servers', index];
  const protocol = server.port.protocol.toUpperCase();
  const name = serverCredentialKey(gateway, index);
  const hosts = server.hosts.map((host) => parseGatewayServerHost(host).host);
  if (server.tls?.mode === 'ISTIO_MUTUAL') {
    context.issues.error(gateway, [...path, 'tls', 'mode'], 'MG_ERR_TLS_SETTINGS', 'ISTIO_MUTUAL needs the mesh workload certificates istiod issues, which meshgate does not have (not built yet); use MUTUAL with a credentialName');
    return undefined;
  }
  if (httpProtocols.has(protocol) && (server.tls === undefined || server.tls.mode === undefined)) {
    return Object.freeze({ name, hosts, httpsRedirect: server.tls?.httpsRedirect === true });
  }
  if (protocol !== 'HTTPS' || !terminatesTls(server)) {
    context.issues.unsupported(gateway, [...path, server.tls === undefined ? 'port' : 'tls'],
      `${protocol}${server.tls?.mode === undefined ? '' : ` with tls mode ${server.tls.mode}`} servers are not served yet (a terminated TLS server's TCP routes, AUTO_PASSTHROUGH and protocols other than HTTP, HTTP2, GRPC, HTTPS, TLS and TCP); this server is skipped`);
    return undefined;
  }
  const credential = credentials[name];
  // The primary read the files and reported what was wrong with them; nothing to serve here.
  if (credential === undefined) return undefined;
  try {
    const tls = compileServerTls(server.tls as typeof server.tls & { mode: TerminatingMode }, credential, contexts);
    return Object.freeze({ name, hosts, httpsRedirect: false, tls });
  } catch (err) {
    context.issues.error(gateway, [...path, 'tls'], 'MG_ERR_TLS_SETTINGS', err instanceof Error ? err.message : String(err));
    return undefined;
  }
}

export function gatewayKey(gateway: Resource<GatewaySpec>): string {
  return `${gateway.metadata.namespace}/${gateway.metadata.name}`;
}

/** The domains a VirtualService serves through one bound server: its hosts intersected with the server's. */
export function domainsFor(vs: Resource<VirtualServiceSpec>, bound: BoundServer): string[] {
  const domains: string[] = [];
  for (const serverHost of bound.server.hosts) {
    const parsed = parseGatewayServerHost(serverHost);
    if (!serverHostAllowsNamespace(parsed, vs.metadata.namespace, bound.gatewayNamespace)) continue;
    for (const vsHost of vs.spec.hosts ?? []) {
      const domain = hostsIntersect(parsed.host, resolveShortName(vsHost, vs.metadata.namespace));
      if (domain !== undefined && !domains.includes(domain)) domains.push(domain);
    }
  }
  return domains;
}
