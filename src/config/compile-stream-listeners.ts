import { BlockList, isIP } from 'node:net';
import type { Server } from './kinds/gateway.js';
import type { L4MatchAttributes, RouteDestination, TLSMatchAttributes, VirtualServiceSpec } from './kinds/virtual-service.js';
import type { Resource, ValidatedConfig } from './validate.js';
import type { ListenerConfig, StreamConnection, StreamListenerConfig, StreamRoute } from './snapshot.js';
import type { FieldPath } from './issue.js';
import { resolveShortName } from './fqdn.js';
import { resolveCluster } from './compile-clusters.js';
import { reportPortProblem, type RouteCompileContext } from './compile-routes.js';
import { domainsFor, gatewayKey, type BoundServer } from './compile-listeners.js';
import { resolveGatewayName } from '../routing/request-match.js';
import { hostMatches, hostsIntersect, parseGatewayServerHost, serverHostAllowsNamespace } from '../routing/host-match.js';
import { createWeightedPicker } from '../routing/weighted-pick.js';
import { createStreamRouteTable, type StreamRouteCandidate } from '../routing/stream-route-table.js';

// Gateway servers whose connections are relayed as bytes -> stream listeners, as istiod builds
// their filter chains (pilot/pkg/networking/core/gateway.go):
// - tls.mode PASSTHROUGH (protocol TLS or HTTPS): VirtualService tls[] routes, one filter chain per
//   SNI name (each sniHost intersected with the server's hosts; a name claimed twice keeps its
//   first route), and the bound VirtualServices' tcp[] routes for connections no SNI route takes;
// - protocol TCP: the first tcp[] route that matches, VirtualServices in config order.
// A VirtualService applies when it names the server's Gateway and one of its hosts meets the
// server's hosts. Match blocks: `port` and `gateways` are settled here; `destinationSubnets` and
// `sourceSubnet` are checked per connection; `sourceLabels`/`sourceNamespace` never hold at a
// gateway (see request-match.ts).

/** Whether this server's connections are relayed as bytes (and so are this file's to compile). */
export function isStreamServer(server: Server): boolean {
  const protocol = server.port.protocol.toUpperCase();
  if (protocol === 'TCP') return server.tls === undefined;
  return (protocol === 'TLS' || protocol === 'HTTPS') && server.tls?.mode === 'PASSTHROUGH';
}

interface PendingStreamListener {
  readonly bind: string;
  readonly port: number;
  readonly servers: BoundServer[];
  /** A PASSTHROUGH server is on the port: connections are routed by SNI. */
  passthrough: boolean;
}

/**
 * `httpListeners`: the terminating listeners compiled for the same config. A passthrough port
 * that also has terminating servers takes theirs as `terminating`, and their hosts compete with
 * the tls[] server names (the most specific wins), as Envoy's filter chains on one listener do.
 */
export function compileStreamListeners(config: ValidatedConfig, context: RouteCompileContext, httpListeners: readonly ListenerConfig[] = []): StreamListenerConfig[] {
  checkStreamRoutes(config.virtualServices, context);
  const pending = collectStreamServers(config.gateways);
  const listeners: StreamListenerConfig[] = [];
  for (const listener of pending.values()) {
    const name = `${listener.bind}_${listener.port}`;
    const terminating = listener.passthrough ? httpListeners.find((l) => l.name === name && l.tls !== undefined) : undefined;
    listeners.push(compileListener(listener, config.virtualServices, context, terminating));
  }
  return listeners;
}

function collectStreamServers(gateways: ValidatedConfig['gateways']): Map<string, PendingStreamListener> {
  const listeners = new Map<string, PendingStreamListener>();
  for (const gateway of gateways) {
    for (const server of gateway.spec.servers) {
      if (!isStreamServer(server)) continue;
      const bind = server.bind ?? '0.0.0.0';
      const key = `${bind}_${server.port.number}`;
      const listener = listeners.get(key) ?? { bind, port: server.port.number, servers: [], passthrough: false };
      listeners.set(key, listener);
      listener.servers.push({ gateway: gatewayKey(gateway), gatewayNamespace: gateway.metadata.namespace, server });
      if (server.tls?.mode === 'PASSTHROUGH') listener.passthrough = true;
    }
  }
  return listeners;
}

function compileListener(
  listener: PendingStreamListener,
  virtualServices: readonly Resource<VirtualServiceSpec>[],
  context: RouteCompileContext,
  terminating: ListenerConfig | undefined,
): StreamListenerConfig {
  const byServerName = new Map<string, StreamRouteCandidate[]>();
  const fallback: StreamRouteCandidate[] = [];
  const routes = new Map<string, StreamRoute>();
  const routeOf = (vs: Resource<VirtualServiceSpec>, path: FieldPath, destinations: readonly RouteDestination[]) => {
    const key = `${vs.metadata.namespace}/${vs.metadata.name}:${path.join('.')}`;
    let route = routes.get(key);
    if (route === undefined) {
      route = compileStreamRoute(vs, path, destinations, context);
      routes.set(key, route);
    }
    return route;
  };

  for (const vs of virtualServices) {
    const vsGateways = new Set((vs.spec.gateways ?? []).map((g) => resolveGatewayName(g, vs.metadata.namespace)));
    for (const bound of listener.servers) {
      if (!vsGateways.has(bound.gateway) || domainsFor(vs, bound).length === 0) continue;
      const at = { port: listener.port, gateway: bound.gateway, namespace: vs.metadata.namespace };
      if (bound.server.tls?.mode === 'PASSTHROUGH') {
        vs.spec.tls?.forEach((tls, i) => {
          if (tls.route === undefined || tls.route.length === 0) return;
          tls.match.forEach((match, j) => {
            if (!appliesHere(match, at)) return;
            const candidate = { route: routeOf(vs, ['spec', 'tls', i, 'route'], tls.route!), matches: subnetMatcher([match], vs, ['spec', 'tls', i, 'match'], [j], context) };
            for (const name of serverNames(match.sniHosts, vs, bound)) {
              const list = byServerName.get(name) ?? [];
              list.push(candidate);
              byServerName.set(name, list);
            }
          });
        });
      }
      vs.spec.tcp?.forEach((tcp, i) => {
        if (tcp.route === undefined || tcp.route.length === 0) return;
        const blocks = (tcp.match ?? []).map((match, j) => ({ match, j })).filter(({ match }) => appliesHere(match, at));
        if (tcp.match !== undefined && tcp.match.length > 0 && blocks.length === 0) return;
        const matches = blocks.length === 0 ? always : subnetMatcher(blocks.map((b) => b.match), vs, ['spec', 'tcp', i, 'match'], blocks.map((b) => b.j), context);
        fallback.push({ route: routeOf(vs, ['spec', 'tcp', i, 'route'], tcp.route), matches });
      });
    }
  }

  const peekSni = listener.passthrough;
  const terminatingHosts = terminating?.servers.servers.flatMap((block) => (block.tls === undefined ? [] : block.hosts.map((host) => host.toLowerCase()))) ?? [];
  return Object.freeze({
    name: `${listener.bind}_${listener.port}`,
    bind: listener.bind,
    port: listener.port,
    protocol: peekSni ? 'TLS' : 'TCP',
    peekSni,
    ...(terminating === undefined ? {} : { terminating }),
    route: createStreamRouteTable({ byServerName, fallback, terminating: terminatingHosts }),
  });
}

/** The server names a tls[] match block claims on a server: each sniHost met with each server host. */
function serverNames(sniHosts: readonly string[], vs: Resource<VirtualServiceSpec>, bound: BoundServer): string[] {
  const names: string[] = [];
  for (const serverHost of bound.server.hosts) {
    const parsed = parseGatewayServerHost(serverHost);
    if (!serverHostAllowsNamespace(parsed, vs.metadata.namespace, bound.gatewayNamespace)) continue;
    for (const sni of sniHosts) {
      const name = hostsIntersect(parsed.host, sni);
      if (name !== undefined && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

interface MatchPlace {
  readonly port: number;
  readonly gateway: string;
  readonly namespace: string;
}

// istiod's l4SingleMatch at a gateway: port and gateways decide whether the block exists here.
function appliesHere(match: TLSMatchAttributes | L4MatchAttributes, at: MatchPlace): boolean {
  if (match.port !== undefined && match.port !== 0 && match.port !== at.port) return false;
  if (match.gateways !== undefined && match.gateways.length > 0) {
    return match.gateways.some((g) => resolveGatewayName(g, at.namespace) === at.gateway);
  }
  const hasSourceLabels = match.sourceLabels !== undefined && Object.keys(match.sourceLabels).length > 0;
  return !hasSourceLabels && (match.sourceNamespace === undefined || match.sourceNamespace === '');
}

const always = (): boolean => true;

/** Any of the blocks holds: its destinationSubnets contain the local address and its sourceSubnet the client's. */
function subnetMatcher(
  blocks: readonly (TLSMatchAttributes | L4MatchAttributes)[],
  vs: Resource<VirtualServiceSpec>,
  matchPath: FieldPath,
  indexes: readonly number[],
  context: RouteCompileContext,
): (connection: StreamConnection) => boolean {
  const tests = blocks.map((block, b) => {
    const at = [...matchPath, indexes[b] as number];
    const destination = block.destinationSubnets?.length ? subnets(block.destinationSubnets, vs, [...at, 'destinationSubnets'], context) : undefined;
    const sourceSubnet = 'sourceSubnet' in block && block.sourceSubnet ? block.sourceSubnet : undefined;
    const source = sourceSubnet === undefined ? undefined : subnets([sourceSubnet], vs, [...at, 'sourceSubnet'], context);
    if (destination === undefined && source === undefined) return always;
    return (connection: StreamConnection) =>
      (destination === undefined || contains(destination, connection.localAddress)) && (source === undefined || contains(source, connection.remoteAddress));
  });
  if (tests.includes(always)) return always;
  return (connection) => tests.some((test) => test(connection));
}

function subnets(entries: readonly string[], vs: Resource<VirtualServiceSpec>, path: FieldPath, context: RouteCompileContext): BlockList {
  const list = new BlockList();
  entries.forEach((entry, index) => {
    const [address = '', prefixText] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? bits : Number(prefixText);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > bits || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
      const at = path[path.length - 1] === 'sourceSubnet' ? path : [...path, index];
      context.issues.error(vs, at, 'MG_ERR_CONFIG_FIELD_VALUE', `expected an IP address or CIDR block such as 10.0.0.0/8, got ${JSON.stringify(entry)}`);
      return;
    }
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  });
  return list;
}

// An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; CIDRs are written in IPv4.
function contains(list: BlockList, address: string): boolean {
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const family = isIP(plain);
  return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

function compileStreamRoute(vs: Resource<VirtualServiceSpec>, path: FieldPath, destinations: readonly RouteDestination[], context: RouteCompileContext): StreamRoute {
  const choices = destinations.map((target, i) => {
    const { destination } = target;
    const host = resolveShortName(destination.host, vs.metadata.namespace);
    const resolution = resolveCluster(
      { host, ...(destination.subset === undefined ? {} : { subset: destination.subset }), ...(destination.port?.number === undefined ? {} : { port: destination.port.number }) },
      vs.metadata.namespace,
      context.registry,
      context.shared,
    );
    if (resolution.problem !== undefined) reportPortProblem(vs, [...path, i, 'destination'], host, resolution.problem, context.issues);
    context.clusters.set(resolution.config.name, resolution.config);
    // Istio: a lone destination takes all traffic whatever its weight says.
    return { weight: destinations.length === 1 ? 1 : (target.weight ?? 0), value: resolution.config.name };
  });
  return Object.freeze({ pickCluster: createWeightedPicker(choices) });
}

// Istio's VirtualService validation of tls[] and tcp[] routes (validateTLSRoute, validateTCPRoute):
// a route needs destinations, and an SNI host must be one of the VirtualService's hosts.
function checkStreamRoutes(virtualServices: readonly Resource<VirtualServiceSpec>[], context: RouteCompileContext): void {
  for (const vs of virtualServices) {
    // As written (Istio compares them so) and as resolved (a short name stands for its FQDN).
    const written = vs.spec.hosts ?? [];
    const hosts = [...new Set([...written, ...written.map((host) => resolveShortName(host, vs.metadata.namespace))])];
    vs.spec.tls?.forEach((tls, i) => {
      if (tls.route === undefined || tls.route.length === 0) {
        context.issues.error(vs, ['spec', 'tls', i], 'MG_ERR_CONFIG_FIELD_REQUIRED', 'a tls[] route needs at least one route destination');
      }
      tls.match.forEach((match, j) =>
        match.sniHosts.forEach((sni, k) => {
          if (hosts.some((host) => sni === host || hostMatches(host, sni) || (sni.startsWith('*') && hostsIntersect(host, sni) === sni))) return;
          context.issues.error(vs, ['spec', 'tls', i, 'match', j, 'sniHosts', k], 'MG_ERR_CONFIG_HOST',
            `SNI host ${JSON.stringify(sni)} is not one of the VirtualService's hosts (${written.join(', ') || 'none'}); Istio requires sniHosts to be covered by hosts`);
        }),
      );
    });
    vs.spec.tcp?.forEach((tcp, i) => {
      if (tcp.route === undefined || tcp.route.length === 0) {
        context.issues.error(vs, ['spec', 'tcp', i], 'MG_ERR_CONFIG_FIELD_REQUIRED', 'a tcp[] route needs at least one route destination');
      }
    });
  }
}
