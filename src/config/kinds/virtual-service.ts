import { z } from 'zod';
import {
  addCodedIssue,
  duration,
  exportTo,
  int32,
  integer,
  labelMap,
  oneOf,
  Percent,
  PortSelector,
  regex,
  routeHost,
  serviceHost,
  StringMatch,
  stringList,
  subsetName,
  portNumber,
  whenObject,
  atLeastOneMillisecond,
} from './common.js';
import { grpcStatusCodes } from '../../filters/fault/grpc-status.js';

// VirtualService (istio/api networking/v1alpha3/virtual_service.proto): HTTP, TLS and TCP routes.

export const Destination = z.strictObject({
  host: serviceHost,
  subset: subsetName.optional(),
  port: PortSelector.optional(),
});
export type Destination = z.output<typeof Destination>;

export const HeaderOperations = z.strictObject({
  set: z.record(z.string(), z.string()).optional(),
  add: z.record(z.string(), z.string()).optional(),
  remove: stringList.optional(),
});
export type HeaderOperations = z.output<typeof HeaderOperations>;

export const Headers = z.strictObject({
  request: HeaderOperations.optional(),
  response: HeaderOperations.optional(),
});
export type Headers = z.output<typeof Headers>;

export const HTTPMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: z.record(z.string(), StringMatch).optional(),
  port: portNumber.optional(),
  sourceLabels: labelMap.optional(),
  gateways: stringList.optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(z.string(), StringMatch).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.output<typeof HTTPMatchRequest>;

// Weights as current Istio validates them (validateHTTPRouteDestinations and
// validateRouteDestinations in istio/istio pkg/config/validation): each weight must be >= 0, and
// when a route has more than one destination their total must not be 0. Weights are relative
// (a destination receives weight/total of the traffic); they need not add up to 100.
const routeWeights = z.superRefine(
  (destinations: readonly unknown[], ctx) => {
    let total = 0;
    destinations.forEach((destination, index) => {
      const weight = (destination as { weight?: unknown } | null)?.weight;
      if (typeof weight !== 'number') return;
      if (weight < 0) addCodedIssue(ctx, 'MG_ERR_CONFIG_WEIGHTS', `weight ${weight} is negative; weights must be >= 0`, [index, 'weight']);
      else total += weight;
    });
    if (destinations.length > 1 && total === 0) {
      addCodedIssue(ctx, 'MG_ERR_CONFIG_WEIGHTS', `the ${destinations.length} destinations of this route have a total weight of 0; give at least one a positive weight`);
    }
  },
  { when: (payload) => Array.isArray(payload.value) },
);

export const HTTPRouteDestination = z.strictObject({
  destination: Destination,
  weight: int32.optional(),
  headers: Headers.optional(),
});
export type HTTPRouteDestination = z.output<typeof HTTPRouteDestination>;

export const RouteDestination = z.strictObject({
  destination: Destination,
  weight: int32.optional(),
});
export type RouteDestination = z.output<typeof RouteDestination>;

export const RegexRewrite = z.strictObject({ match: regex, rewrite: z.string() });
export type RegexRewrite = z.output<typeof RegexRewrite>;

export const HTTPRewrite = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    uriRegexRewrite: RegexRewrite.optional(),
  })
  .check(oneOf(['uri', 'uriRegexRewrite']))
  .check(
    z.superRefine((rewrite, ctx) => {
      if (rewrite.uri === undefined && rewrite.uriRegexRewrite === undefined && rewrite.authority === undefined) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'a rewrite needs uri, uriRegexRewrite or authority');
      }
    }, whenObject),
  );
export type HTTPRewrite = z.output<typeof HTTPRewrite>;

export const HTTPRedirect = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    port: portNumber.optional(),
    derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: z.enum(['http', 'https']).optional(),
    // The proto: "The default response code is MOVED_PERMANENTLY (301)"; Istio accepts 3xx only.
    redirectCode: integer(300, 399).default(301),
  })
  .check(oneOf(['port', 'derivePort']))
  .check(
    z.superRefine((redirect, ctx) => {
      if ([redirect.uri, redirect.authority, redirect.port, redirect.derivePort, redirect.scheme].every((field) => field === undefined)) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'a redirect needs uri, authority, scheme, port or derivePort');
      }
    }, whenObject),
  );
export type HTTPRedirect = z.output<typeof HTTPRedirect>;

export const HTTPBody = z
  .strictObject({
    string: z.string().optional(),
    bytes: z.base64().optional(),
  })
  .check(oneOf(['string', 'bytes']));
export type HTTPBody = z.output<typeof HTTPBody>;

const httpStatus = integer(200, 599);

export const HTTPDirectResponse = z.strictObject({
  status: httpStatus,
  body: HTTPBody.optional(),
});
export type HTTPDirectResponse = z.output<typeof HTTPDirectResponse>;

export const Delegate = z.strictObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
});
export type Delegate = z.output<typeof Delegate>;

export const CorsPolicy = z.strictObject({
  allowOrigins: z.array(StringMatch).optional(),
  /** Deprecated in Istio in favour of allowOrigins. */
  allowOrigin: stringList.optional(),
  allowMethods: stringList.optional(),
  allowHeaders: stringList.optional(),
  exposeHeaders: stringList.optional(),
  maxAge: duration.optional(),
  allowCredentials: z.boolean().optional(),
  // The proto: unset means FORWARD (pass unmatched preflights to the upstream).
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).default('FORWARD'),
});
export type CorsPolicy = z.output<typeof CorsPolicy>;

export const HTTPRetry = z.strictObject({
  attempts: integer(0, 2147483647).optional(),
  perTryTimeout: duration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  // The proto: "Defaults to true".
  retryIgnorePreviousHosts: z.boolean().default(true),
  backoff: duration.optional(),
}).check(atLeastOneMillisecond(['perTryTimeout', 'backoff']));
export type HTTPRetry = z.output<typeof HTTPRetry>;

const Delay = z
  .strictObject({
    fixedDelay: duration.optional(),
    exponentialDelay: duration.optional(),
    percentage: Percent.optional(),
    /** Deprecated integer percentage; use percentage. */
    percent: integer(0, 100).optional(),
  })
  .check(oneOf(['fixedDelay', 'exponentialDelay'], { required: true }))
  .check(
    z.superRefine((delay, ctx) => {
      // The proto: fixedDelay "MUST be >=1ms". Istio's validation refuses exponentialDelay.
      if (typeof delay.fixedDelay === 'number' && delay.fixedDelay < 1) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', 'fixedDelay must be at least 1ms', ['fixedDelay']);
      }
      if (delay.exponentialDelay !== undefined) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', 'exponentialDelay is not supported by Istio; use fixedDelay', ['exponentialDelay']);
      }
    }, whenObject),
  );

// Istio's validation accepts the canonical gRPC status names only, and refuses http2Error.
const grpcStatusName = z.enum(Object.keys(grpcStatusCodes) as [string, ...string[]]);

const Abort = z
  .strictObject({
    httpStatus: httpStatus.optional(),
    grpcStatus: grpcStatusName.optional(),
    http2Error: z.string().optional(),
    percentage: Percent.optional(),
  })
  .check(oneOf(['httpStatus', 'grpcStatus', 'http2Error'], { required: true }))
  .check(
    z.superRefine((abort, ctx) => {
      if (abort.http2Error !== undefined) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', 'HTTP/2 abort fault injection is not supported by Istio; use httpStatus or grpcStatus', ['http2Error']);
      }
    }, whenObject),
  );

export const HTTPFaultInjection = z
  .strictObject({ delay: Delay.optional(), abort: Abort.optional() })
  .check(
    z.superRefine((fault, ctx) => {
      if (fault.delay === undefined && fault.abort === undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'fault injection needs a delay, an abort or both');
    }, whenObject),
  );
export type HTTPFaultInjection = z.output<typeof HTTPFaultInjection>;

export const HTTPMirrorPolicy = z.strictObject({
  destination: Destination,
  percentage: Percent.optional(),
});
export type HTTPMirrorPolicy = z.output<typeof HTTPMirrorPolicy>;

// Istio's validateHTTPRoute: a route forwards, redirects, responds directly or delegates, never two of these.
const routeActions = ['route', 'redirect', 'directResponse', 'delegate'] as const;

export const HTTPRoute = z
  .strictObject({
    name: z.string().optional(),
    match: z.array(HTTPMatchRequest).optional(),
    route: z.array(HTTPRouteDestination).check(routeWeights).optional(),
    redirect: HTTPRedirect.optional(),
    directResponse: HTTPDirectResponse.optional(),
    delegate: Delegate.optional(),
    rewrite: HTTPRewrite.optional(),
    timeout: duration.optional(),
    retries: HTTPRetry.optional(),
    fault: HTTPFaultInjection.optional(),
    mirror: Destination.optional(),
    mirrors: z.array(HTTPMirrorPolicy).optional(),
    /** Deprecated in Istio in favour of mirrorPercentage. */
    mirrorPercent: integer(0, 100).optional(),
    mirrorPercentage: Percent.optional(),
    corsPolicy: CorsPolicy.optional(),
    headers: Headers.optional(),
  })
  .check(oneOf(['mirror', 'mirrors']))
  .check(
    z.superRefine((route, ctx) => {
      const actions = routeActions.filter((field) => (field === 'route' ? (route.route?.length ?? 0) > 0 : route[field] !== undefined));
      if (actions.length === 0) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'an HTTP route needs one of route, redirect, directResponse or delegate');
      } else if (actions.length > 1) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', `only one of route, redirect, directResponse, delegate may be set, found ${actions.join(' and ')}`, [actions[1] as string]);
      }
      for (const terminal of ['redirect', 'directResponse'] as const) {
        if (route[terminal] === undefined) continue;
        for (const field of ['rewrite', 'fault'] as const) {
          if (route[field] !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', `${field} cannot be combined with ${terminal}`, [field]);
        }
      }
    }, whenObject),
  );
export type HTTPRoute = z.output<typeof HTTPRoute>;

export const TLSMatchAttributes = z.strictObject({
  sniHosts: z.array(routeHost).min(1),
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceLabels: labelMap.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});
export type TLSMatchAttributes = z.output<typeof TLSMatchAttributes>;

export const L4MatchAttributes = z.strictObject({
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: labelMap.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});
export type L4MatchAttributes = z.output<typeof L4MatchAttributes>;

export const TLSRoute = z.strictObject({
  match: z.array(TLSMatchAttributes).min(1),
  route: z.array(RouteDestination).check(routeWeights).optional(),
});
export type TLSRoute = z.output<typeof TLSRoute>;

export const TCPRoute = z.strictObject({
  match: z.array(L4MatchAttributes).optional(),
  route: z.array(RouteDestination).check(routeWeights).optional(),
});
export type TCPRoute = z.output<typeof TCPRoute>;

export const VirtualServiceSpec = z
  .strictObject({
    hosts: z.array(routeHost).optional(),
    gateways: stringList.optional(),
    http: z.array(HTTPRoute).optional(),
    tls: z.array(TLSRoute).optional(),
    tcp: z.array(TCPRoute).optional(),
    exportTo: exportTo.optional(),
  })
  .check(
    z.superRefine((spec, ctx) => {
      if ([spec.http, spec.tls, spec.tcp].every((routes) => routes === undefined || routes.length === 0)) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'a VirtualService needs http, tls or tcp routes');
      }
    }, whenObject),
  );
export type VirtualServiceSpec = z.output<typeof VirtualServiceSpec>;

// Shared with DestinationRule, re-exported so the VirtualService message set is importable from one file.
export { Percent, PortSelector, StringMatch };
