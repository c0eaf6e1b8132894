import type { CorsPolicy, Destination, Headers, HTTPRoute, HTTPMatchRequest, VirtualServiceSpec } from './kinds/virtual-service.js';
import type { FieldPath } from './issue.js';
import type { Resource } from './validate.js';
import type { HttpRoute, RouteAction, RouteDestination } from './snapshot.js';
import type { IssueSink } from './compile-issues.js';
import { resolveShortName } from './fqdn.js';
import { resolveCluster, type ClusterProblem } from './compile-clusters.js';
import type { ServiceRegistry } from './service-registry.js';
import type { ClusterConfig } from '../upstream/cluster.js';
import { compileHttpMatch } from '../routing/request-match.js';
import { createWeightedPicker } from '../routing/weighted-pick.js';
import { compileRedirect } from '../routing/actions/redirect.js';
import { compileRewrite } from '../routing/actions/rewrite.js';
import { compileDirectResponse } from '../routing/actions/direct-response.js';
import { compileHeaderOperations, requestAuthority } from '../filters/headers/header-edits.js';
import { compileCors } from '../filters/cors/cors.js';
import { compileFault } from '../filters/fault/fault.js';
import { compileMirrorPolicies } from './compile-mirrors.js';
import { compileRouteRetries } from './compile-retries.js';
import type { RateLimitAttachments } from './compile-rate-limits.js';

// VirtualService http[] -> the ordered routes of one gateway's virtual hosts. Istio turns each
// match block into its own Envoy route (so a prefix rewrite knows which prefix matched) and
// drops blocks whose `gateways` do not name the gateway being built.

/** HTTPRoute fields that validate but that this build does not act on yet, with the issue that adds them. */
const notYetActedOn: readonly (keyof HTTPRoute)[] = ['delegate'];

export interface RouteCompileContext {
  readonly registry: ServiceRegistry;
  readonly clusters: Map<string, ClusterConfig>;
  readonly issues: IssueSink;
  readonly rateLimits?: RateLimitAttachments;
}

/** Routes of one VirtualService as seen through one gateway ("namespace/name"). */
export function compileVirtualServiceRoutes(
  vs: Resource<VirtualServiceSpec>,
  gateway: string,
  context: RouteCompileContext,
): HttpRoute[] {
  const namespace = vs.metadata.namespace;
  const routes: HttpRoute[] = [];
  (vs.spec.http ?? []).forEach((http, index) => {
    const blocks: readonly (HTTPMatchRequest | undefined)[] = http.match?.length ? http.match : [undefined];
    const action = compileAction(vs, http, index, context);
    // Istio leaves out a route whose delegate VirtualService it cannot use; the rest still serves.
    if (action === undefined) return;
    const rateLimit = context.rateLimits?.forRoute(`${namespace}/${vs.metadata.name}`, gateway, index, http.name);
    const shared = {
      virtualService: `${namespace}/${vs.metadata.name}`,
      ...(rateLimit === undefined ? {} : { rateLimit }),
      ...(http.corsPolicy === undefined ? {} : { cors: compileCorsPolicy(http.corsPolicy) }),
      ...(http.headers?.response === undefined ? {} : { responseHeaders: compileHeaderOperations(http.headers.response) }),
    };
    for (const block of blocks) {
      routes.push(
        Object.freeze({
          ...shared,
          name: routeName(http.name, block?.name),
          match: compileHttpMatch(block ?? {}, { namespace, gateway }),
          action: withRewrite(action, http, block),
        }),
      );
    }
  });
  return routes;
}

// Istio names the Envoy route after the http route, and the match block when it has a name too.
function routeName(httpName: string | undefined, matchName: string | undefined): string {
  if (httpName === undefined) return matchName ?? '';
  return matchName === undefined ? httpName : `${httpName}.${matchName}`;
}

function compileAction(
  vs: Resource<VirtualServiceSpec>,
  http: HTTPRoute,
  index: number,
  context: RouteCompileContext,
): RouteAction | undefined {
  const path = ['spec', 'http', index];
  for (const field of notYetActedOn) {
    if (http[field] !== undefined) {
      context.issues.unsupported(vs, [...path, field], `http[].${field} is valid Istio but meshgate does not act on it yet; ${field === 'delegate' ? 'this route is left out' : 'it is ignored'}`);
    }
  }
  if (http.delegate !== undefined) return undefined;
  if (http.redirect !== undefined) return { kind: 'redirect', redirect: compileRedirect(http.redirect) };
  if (http.directResponse !== undefined) return { kind: 'direct', ...compileDirectResponse(http.directResponse) };
  const routeHeaders = http.headers;

  const clusterOf = (destination: Destination, fieldPath: FieldPath): string => {
    const host = resolveShortName(destination.host, vs.metadata.namespace);
    const resolution = resolveCluster(
      { host, ...(destination.subset === undefined ? {} : { subset: destination.subset }), ...(destination.port?.number === undefined ? {} : { port: destination.port.number }) },
      vs.metadata.namespace,
      context.registry,
    );
    if (resolution.problem !== undefined) {
      reportPortProblem(vs, [...path, ...fieldPath], host, resolution.problem, context.issues);
    }
    context.clusters.set(resolution.config.name, resolution.config);
    return resolution.config.name;
  };
  const destinations = (http.route ?? []).map((route, i): { weight: number; value: RouteDestination } => ({
    // Istio: a lone destination takes all traffic whatever its weight says.
    weight: http.route!.length === 1 ? 1 : (route.weight ?? 0),
    value: destinationOf(clusterOf(route.destination, ['route', i, 'destination']), routeHeaders, route.headers),
  }));
  const fault = http.fault === undefined ? {} : { fault: compileFault(http.fault) };
  const mirrors = compileMirrorPolicies(http, clusterOf);
  // Istio's timeout is off unless set; 0s also means off; a route with a fault has none.
  const timeout = http.timeout === undefined || http.timeout === 0 || http.fault !== undefined ? {} : { timeoutMs: http.timeout };
  // Retries are still checked where written; a route with a fault has none either (Istio).
  const compiledRetry = compileRouteRetries(vs, http.retries, [...path, 'retries'], context.issues);
  const retry = compiledRetry === undefined || http.fault !== undefined ? {} : { retry: compiledRetry };
  return { kind: 'forward', pickDestination: createWeightedPicker(destinations), ...timeout, ...retry, ...fault, ...(mirrors.length === 0 ? {} : { mirrors }) };
}

// Istio reads the deprecated `allowOrigin` list as exact origins when `allowOrigins` is absent,
// and its UNSPECIFIED preflight policy is FORWARD.
function compileCorsPolicy(policy: CorsPolicy) {
  const { allowOrigin, unmatchedPreflights, ...rest } = policy;
  return compileCors({
    ...rest,
    allowOrigins: rest.allowOrigins ?? (allowOrigin ?? []).map((exact) => ({ exact })),
    unmatchedPreflights: unmatchedPreflights === 'IGNORE' ? 'IGNORE' : 'FORWARD',
  });
}

function destinationOf(cluster: string, routeLevel: Headers | undefined, destinationLevel: Headers | undefined): RouteDestination {
  const hasRequestEdits = routeLevel?.request !== undefined || destinationLevel?.request !== undefined;
  const hasResponseEdits = routeLevel?.response !== undefined || destinationLevel?.response !== undefined;
  // Istio: a route-level host wins over a destination's (and rewrite.authority over both).
  const authority = requestAuthority(routeLevel?.request) ?? requestAuthority(destinationLevel?.request);
  return Object.freeze({
    cluster,
    ...(hasRequestEdits ? { requestHeaders: compileHeaderOperations(routeLevel?.request, destinationLevel?.request) } : {}),
    ...(hasResponseEdits ? { responseHeaders: compileHeaderOperations(routeLevel?.response, destinationLevel?.response) } : {}),
    ...(authority === undefined ? {} : { authority }),
  });
}

function withRewrite(action: RouteAction, http: HTTPRoute, block: HTTPMatchRequest | undefined): RouteAction {
  if (action.kind !== 'forward' || http.rewrite === undefined) return action;
  // Envoy rewrites the matched part: the prefix of a prefix match (`/` when the block has no
  // uri condition), the whole path of an exact or regex match.
  const matchedPrefix = block?.uri === undefined ? '/' : block.uri.prefix;
  return { ...action, rewrite: compileRewrite(http.rewrite, matchedPrefix) };
}

export function reportPortProblem(
  vs: Resource<VirtualServiceSpec>,
  path: (string | number)[],
  host: string,
  problem: ClusterProblem,
  issues: IssueSink,
): void {
  switch (problem.kind) {
    case 'port-defaulted':
      issues.warning(vs, [...path, 'port'], 'MG_ERR_CONFIG_DESTINATION_PORT',
        `${host} has no ServiceEntry, so its ports are unknown; port 80 is used. Set destination.port.number, or declare the host in a ServiceEntry`);
      return;
    case 'port-ambiguous':
      issues.error(vs, [...path, 'port'], 'MG_ERR_CONFIG_DESTINATION_PORT',
        `${host} has several ports (${problem.ports.join(', ')}); set destination.port.number to one of them`);
      return;
    case 'port-unknown':
      issues.error(vs, [...path, 'port', 'number'], 'MG_ERR_CONFIG_DESTINATION_PORT',
        `port ${problem.port} is not a port of ${host}; its ServiceEntry declares ${problem.ports.join(', ')}`);
      return;
  }
}
