import type { CorsPolicy, Destination, Headers, HTTPRoute, HTTPMatchRequest, VirtualServiceSpec } from './kinds/virtual-service.js';
import type { FieldPath } from './issue.js';
import type { Resource } from './validate.js';
import type { HeaderEdit, HttpRoute, RouteAction, RouteDestination } from './snapshot.js';
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
import { compileHeaderOperations, requestAuthority, type HeaderOperationsSpec } from '../filters/headers/header-edits.js';
import { compileCors } from '../filters/cors/cors.js';
import { compileFault } from '../filters/fault/fault.js';
import { compileMirrorPolicies } from './compile-mirrors.js';
import { compileRouteRetries } from './compile-retries.js';
import type { RateLimitAttachments } from './compile-rate-limits.js';
import type { Interner } from './interner.js';

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
  /** Shares equal compiled pieces (matches, destinations, pickers, policies) between routes. */
  readonly shared: Interner;
}

/** Routes of one VirtualService as seen through one gateway ("namespace/name"). */
export function compileVirtualServiceRoutes(
  vs: Resource<VirtualServiceSpec>,
  gateway: string,
  context: RouteCompileContext,
): HttpRoute[] {
  const namespace = vs.metadata.namespace;
  const virtualService = `${namespace}/${vs.metadata.name}`;
  const matchContext = { namespace, gateway, shared: context.shared };
  const routes: HttpRoute[] = [];
  (vs.spec.http ?? []).forEach((http, index) => {
    const blocks: readonly (HTTPMatchRequest | undefined)[] = http.match?.length ? http.match : [undefined];
    const action = compileAction(vs, http, index, context);
    // Istio leaves out a route whose delegate VirtualService it cannot use; the rest still serves.
    if (action === undefined) return;
    const rateLimit = context.rateLimits?.forRoute(virtualService, gateway, index, http.name);
    const cors = http.corsPolicy === undefined ? undefined : compileCorsPolicy(http.corsPolicy);
    const responseHeaders = http.headers?.response === undefined ? undefined : sharedHeaderEdit(context.shared, http.headers.response);
    for (const block of blocks) {
      // Every field in the same order, absent ones undefined: all routes share one hidden class.
      const route: HttpRoute = {
        name: routeName(http.name, block?.name),
        virtualService,
        match: compileHttpMatch(block ?? {}, matchContext),
        action: withRewrite(action, http, block),
        cors,
        responseHeaders,
        rateLimit,
      };
      routes.push(Object.freeze(route));
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
      context.shared,
    );
    if (resolution.problem !== undefined) {
      reportPortProblem(vs, [...path, ...fieldPath], host, resolution.problem, context.issues);
    }
    context.clusters.set(resolution.config.name, resolution.config);
    return resolution.config.name;
  };
  // Resolved for every route, so that each reports its own problems; equal ones are shared.
  const destinations = (http.route ?? []).map((route, i) => ({
    // Istio: a lone destination takes all traffic whatever its weight says.
    weight: http.route!.length === 1 ? 1 : (route.weight ?? 0),
    ...sharedDestination(context.shared, clusterOf(route.destination, ['route', i, 'destination']), routeHeaders, route.headers),
  }));
  const pickerKey = destinations.map(({ weight, key }) => `${weight} ${key}`).join(' ');
  const pickDestination = context.shared.intern(`picker ${pickerKey}`, () => createWeightedPicker(destinations));
  const fault = http.fault === undefined ? undefined : compileFault(http.fault);
  const mirrors = compileMirrorPolicies(http, clusterOf);
  // Istio's timeout is off unless set; 0s also means off; a route with a fault has none.
  const timeoutMs = http.timeout === undefined || http.timeout === 0 || http.fault !== undefined ? undefined : http.timeout;
  // Retries are still checked where written; a route with a fault has none either (Istio).
  const compiledRetry = compileRouteRetries(vs, http.retries, [...path, 'retries'], context.issues, context.shared);
  const retry = http.fault !== undefined ? undefined : compiledRetry;
  const forward = (): RouteAction => ({ kind: 'forward', pickDestination, timeoutMs, retry, fault, mirrors: mirrors.length === 0 ? undefined : mirrors });
  if (fault !== undefined || mirrors.length > 0) return forward();
  // retry and pickDestination are shared already, so their identity keys the action.
  return context.shared.intern(`forward ${pickerKey} ${timeoutMs} ${JSON.stringify(http.retries)}`, forward);
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

/** A destination with its header edits, shared by every route naming the same cluster with the same edits. */
function sharedDestination(
  shared: Interner,
  cluster: string,
  routeLevel: Headers | undefined,
  destinationLevel: Headers | undefined,
): { key: string; value: RouteDestination } {
  const key = `${cluster} ${JSON.stringify([routeLevel?.request, routeLevel?.response, destinationLevel?.request, destinationLevel?.response])}`;
  const value = shared.intern(`destination ${key}`, (): RouteDestination => {
    const hasRequestEdits = routeLevel?.request !== undefined || destinationLevel?.request !== undefined;
    const hasResponseEdits = routeLevel?.response !== undefined || destinationLevel?.response !== undefined;
    return Object.freeze({
      cluster,
      requestHeaders: hasRequestEdits ? sharedHeaderEdit(shared, routeLevel?.request, destinationLevel?.request) : undefined,
      responseHeaders: hasResponseEdits ? sharedHeaderEdit(shared, routeLevel?.response, destinationLevel?.response) : undefined,
      // Istio: a route-level host wins over a destination's (and rewrite.authority over both).
      authority: requestAuthority(routeLevel?.request) ?? requestAuthority(destinationLevel?.request),
    });
  });
  return { key, value };
}

function sharedHeaderEdit(shared: Interner, ...levels: (HeaderOperationsSpec | undefined)[]): HeaderEdit {
  return shared.intern(`header-edit ${JSON.stringify(levels)}`, () => compileHeaderOperations(...levels));
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
