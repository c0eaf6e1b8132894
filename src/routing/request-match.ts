import { compileStringMatch, isPresenceMatch, type StringMatchSpec } from './string-match.js';
import { queryParams, type RequestView } from './request-view.js';
import { noInterning, type Interner } from '../config/interner.js';

// Istio's HTTPMatchRequest, compiled the way istiod translates it into an Envoy RouteMatch
// (pilot/pkg/networking/core/route/route.go: translateRoute, TranslateRouteMatch,
// translateHeaderMatch, translateQueryParamMatch) and evaluated as Envoy's router does.
//
// - uri: exact -> path, prefix -> plain string prefix (path-separated prefixes are only for
//   VirtualServices generated from Ingress or Gateway API), regex -> whole-path RE2; all against
//   the path without its query. No uri (or `uri: {}`) is Envoy's prefix "/".
// - ignoreUriCase: the uri's exact and prefix only (Envoy ignores case_sensitive for regexes).
// - headers: names lower-cased; `{}` or regex "*" mean "present"; several values of one header
//   are matched joined by ',' (Node has already joined most duplicates with ', ').
// - withoutHeaders: the header matcher inverted; "present" inverted means "absent"; a value
//   matcher treats a missing header as '' (treat_missing_header_as_empty).
// - method, authority, scheme: the pseudo-headers :method, :authority (the Host header as sent,
//   port included) and :scheme, with the same rules as headers.
// - queryParams: exact, prefix or regex on the first value, raw; `{}` or regex "*" mean present.
// - port: the block applies only on that listener port (istiod drops it elsewhere).
// - gateways: the block applies only to requests accepted by one of those Gateways; with
//   gateways set, sourceLabels and sourceNamespace are not consulted (as istiod does).
// - sourceLabels, sourceNamespace: they select client workloads, which a gateway cannot see.
//   istiod compares them with the gateway proxy's own labels and namespace, so a block that sets
//   them never applies to gateway traffic in practice; meshgate has no proxy labels, and such a
//   block never applies here either.
// - headers named `@request.auth.claims...` route on JWT claims, which only a RequestAuthentication
//   provides; meshgate has no JWT filter yet, so they are never present (such a header match
//   fails, such a withoutHeaders entry passes).
// - name, statPrefix: naming and stats only.

/** Istio's HTTPMatchRequest, with its JSON field names. */
export interface HttpMatchRequestSpec {
  name?: string;
  uri?: StringMatchSpec;
  scheme?: StringMatchSpec;
  method?: StringMatchSpec;
  authority?: StringMatchSpec;
  headers?: Readonly<Record<string, StringMatchSpec>>;
  withoutHeaders?: Readonly<Record<string, StringMatchSpec>>;
  queryParams?: Readonly<Record<string, StringMatchSpec>>;
  ignoreUriCase?: boolean;
  port?: number;
  gateways?: readonly string[];
  sourceLabels?: Readonly<Record<string, string>>;
  sourceNamespace?: string;
  statPrefix?: string;
}

export interface MatchContext {
  /** The VirtualService's namespace, in which short gateway names resolve. */
  readonly namespace: string;
  /**
   * "namespace/name" of the Gateway whose routes are being compiled. Routes are built per
   * gateway (as istiod builds them per gateway server), so `gateways` is settled here, once.
   */
  readonly gateway: string;
  /** Shares equal blocks and conditions between the routes of one compile; nothing is shared without it. */
  readonly shared?: Interner;
}

export type RequestPredicate = (req: RequestView) => boolean;

/** Compiles one match block: every field it sets must accept the request. */
export function compileHttpMatch(spec: HttpMatchRequestSpec, context: MatchContext): RequestPredicate {
  const shared = context.shared ?? noInterning;
  // The key names all the block depends on: its fields, and where gateway names resolve.
  return shared.intern(`block ${context.namespace} ${context.gateway} ${JSON.stringify(spec)}`, () => compileBlock(spec, context, shared));
}

function compileBlock(spec: HttpMatchRequestSpec, context: MatchContext, shared: Interner): RequestPredicate {
  const conditions: RequestPredicate[] = [];

  if (spec.port !== undefined && spec.port !== 0) {
    const port = spec.port;
    conditions.push(shared.intern(`port ${port}`, () => onPort(port)));
  }
  if (spec.gateways !== undefined && spec.gateways.length > 0) {
    // `mesh` is the sidecars' pseudo-gateway: never the one that accepted a gateway request.
    const gateways = new Set(spec.gateways.filter((g) => g !== MESH).map((g) => resolveGatewayName(g, context.namespace)));
    if (!gateways.has(context.gateway)) return never;
  } else if (hasEntries(spec.sourceLabels) || (spec.sourceNamespace !== undefined && spec.sourceNamespace !== '')) {
    return never;
  }

  const ignoreUriCase = spec.ignoreUriCase === true;
  conditions.push(shared.intern(`uri ${ignoreUriCase} ${JSON.stringify(spec.uri ?? {})}`, () => compileUri(spec.uri, ignoreUriCase)));
  const header = (name: string, match: StringMatchSpec, inverted: boolean) =>
    shared.intern(`header ${name} ${inverted} ${JSON.stringify(match)}`, () => compileHeaderMatch(name, match, inverted));
  if (spec.method !== undefined) conditions.push(header(':method', spec.method, false));
  if (spec.authority !== undefined) conditions.push(header(':authority', spec.authority, false));
  if (spec.scheme !== undefined) conditions.push(header(':scheme', spec.scheme, false));
  for (const [name, match] of Object.entries(spec.headers ?? {})) conditions.push(header(name, match, false));
  for (const [name, match] of Object.entries(spec.withoutHeaders ?? {})) conditions.push(header(name, match, true));
  for (const [name, match] of Object.entries(spec.queryParams ?? {})) {
    conditions.push(shared.intern(`query ${name} ${JSON.stringify(match)}`, () => compileQueryParamMatch(name, match)));
  }

  return allOf(conditions);
}

/** Compiles an HTTPRoute's match list: any block may accept; no blocks accept every request. */
export function compileHttpMatches(specs: readonly HttpMatchRequestSpec[] | undefined, context: MatchContext): RequestPredicate {
  if (specs === undefined || specs.length === 0) return compileUri(undefined, false);
  const blocks = specs.map((spec) => compileHttpMatch(spec, context));
  if (blocks.length === 1) return blocks[0] as RequestPredicate;
  return (req) => {
    for (const block of blocks) if (block(req)) return true;
    return false;
  };
}

/**
 * Resolves a Gateway reference of a VirtualService to "namespace/name" as istiod does: `name` and
 * `./name` are in the VirtualService's namespace, `ns/name` is explicit, and the legacy
 * `name.ns.svc.cluster.local` (or `name.ns`) form names its namespace second.
 */
export function resolveGatewayName(reference: string, namespace: string): string {
  const slash = reference.indexOf('/');
  if (slash >= 0) return reference.slice(0, slash) === '.' ? `${namespace}${reference.slice(slash)}` : reference;
  const dot = reference.indexOf('.');
  if (dot < 0) return `${namespace}/${reference}`;
  const rest = reference.slice(dot + 1);
  const end = rest.indexOf('.');
  return `${end < 0 ? rest : rest.slice(0, end)}/${reference.slice(0, dot)}`;
}

const MESH = 'mesh';
const JWT_CLAIM_PREFIX = '@request.auth.claims';

const never: RequestPredicate = () => false;

// Built outside compileBlock, whose scope holds the interner: a predicate made there would keep it alive.
function onPort(port: number): RequestPredicate {
  return (req) => req.port === port;
}

function allOf(conditions: readonly RequestPredicate[]): RequestPredicate {
  if (conditions.length === 1) return conditions[0] as RequestPredicate;
  // Most blocks have a uri and one more condition: two captured functions cost less than an array.
  if (conditions.length === 2) {
    const [first, second] = conditions as [RequestPredicate, RequestPredicate];
    return (req) => first(req) && second(req);
  }
  // A copy is exactly as long as its contents; the array pushed to keeps spare room.
  const all = conditions.slice();
  return (req) => {
    for (const condition of all) if (!condition(req)) return false;
    return true;
  };
}

// Envoy's prefix "/": every origin-form path, but not `OPTIONS *`.
const anyOriginFormPath: RequestPredicate = (req) => req.path.charCodeAt(0) === 0x2f;

function compileUri(uri: StringMatchSpec | undefined, ignoreCase: boolean): RequestPredicate {
  if (uri === undefined || (uri.exact === undefined && uri.prefix === undefined && uri.regex === undefined)) return anyOriginFormPath;
  const test = compileStringMatch(uri, { ignoreCase });
  return (req) => test(req.path);
}

type HeaderReader = (req: RequestView) => string | undefined;

// Chosen once per header name, so a request never goes through a switch on the name.
function headerReader(name: string): HeaderReader {
  switch (name) {
    case ':method':
      return (req) => req.method;
    case ':scheme':
      return (req) => req.scheme;
    case ':authority':
    case 'host':
      return (req) => (req.authority === '' ? undefined : req.authority);
    case ':path':
      return (req) => (req.query === '' ? req.path : `${req.path}?${req.query}`);
    default:
      return (req) => {
        const value = req.headers[name];
        return value === undefined || typeof value === 'string' ? value : value.join(',');
      };
  }
}

function compileHeaderMatch(name: string, spec: StringMatchSpec, inverted: boolean): RequestPredicate {
  if (name.startsWith(JWT_CLAIM_PREFIX)) return inverted ? () => true : never;
  const read = headerReader(name.toLowerCase());
  if (isPresenceMatch(spec)) {
    return inverted ? (req) => read(req) === undefined : (req) => read(req) !== undefined;
  }
  const test = compileStringMatch(spec);
  if (inverted) return (req) => !test(read(req) ?? '');
  return (req) => {
    const value = read(req);
    return value !== undefined && test(value);
  };
}

function compileQueryParamMatch(name: string, spec: StringMatchSpec): RequestPredicate {
  if (isPresenceMatch(spec)) return (req) => queryParams(req).has(name);
  const test = compileStringMatch(spec);
  return (req) => {
    const value = queryParams(req).get(name);
    return value !== undefined && test(value);
  };
}

function hasEntries(record: Readonly<Record<string, string>> | undefined): boolean {
  return record !== undefined && Object.keys(record).length > 0;
}
