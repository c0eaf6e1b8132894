import type { GatewaySpec, Server } from './kinds/gateway.js';
import type { VirtualServiceSpec } from './kinds/virtual-service.js';
import type { Resource, ValidatedConfig } from './validate.js';
import type { HttpRoute, ListenerConfig, ListenerProtocol } from './snapshot.js';
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

interface PendingListener {
  readonly bind: string;
  readonly port: number;
  readonly protocol: ListenerProtocol;
  readonly servers: BoundServer[];
}

export function compileListeners(config: ValidatedConfig, context: RouteCompileContext): ListenerConfig[] {
  const pending = collectHttpServers(config.gateways, context);
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
    return Object.freeze({
      name: `${listener.bind}_${listener.port}`,
      bind: listener.bind,
      port: listener.port,
      protocol: listener.protocol,
      routes: createRouteTable(virtualHosts),
    });
  });
}

function collectHttpServers(gateways: ValidatedConfig['gateways'], context: RouteCompileContext): Map<string, PendingListener> {
  const listeners = new Map<string, PendingListener>();
  for (const gateway of gateways) {
    gateway.spec.servers.forEach((server, index) => {
      const path = ['spec', 'servers', index];
      const protocol = server.port.protocol.toUpperCase();
      // PASSTHROUGH and TCP servers are compile-stream-listeners.ts's.
      if (isStreamServer(server)) return;
      if (!httpProtocols.has(protocol) || server.tls !== undefined) {
        context.issues.unsupported(gateway, [...path, server.tls === undefined ? 'port' : 'tls'],
          `${protocol}${server.tls === undefined ? '' : ' with tls'} servers are not served yet (TLS termination comes with the TLS work); this server is skipped`);
        return;
      }
      const bind = server.bind ?? '0.0.0.0';
      const key = `${bind}_${server.port.number}`;
      const listener = listeners.get(key) ?? { bind, port: server.port.number, protocol: protocol as ListenerProtocol, servers: [] };
      listener.servers.push({ gateway: gatewayKey(gateway), gatewayNamespace: gateway.metadata.namespace, server });
      listeners.set(key, listener);
    });
  }
  return listeners;
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
