import type { IncomingHttpHeaders } from 'node:http';
import { compileStringMatch, type StringMatcher, type StringMatchSpec } from '../../routing/string-match.js';

// Istio's CorsPolicy with the semantics of Envoy's CORS filter (cors_filter.cc), as Istio
// configures it (route.go TranslateCORSPolicy):
// - a request is CORS when it has a non-empty Origin; a preflight is an OPTIONS with Origin and
//   Access-Control-Request-Method;
// - an allowed preflight is answered 200 here with the allow-* headers and max-age in seconds;
// - an origin no allowOrigins entry matches gets no Access-Control-Allow-Origin; its preflight is
//   forwarded upstream (unmatchedPreflights FORWARD, the default) or answered here without it
//   (IGNORE) - Envoy still sends the other allow-* headers then, and so do we;
// - on other responses an allowed origin gets allow-origin, allow-credentials and expose-headers.

export interface CorsPolicySpec {
  allowOrigins?: StringMatchSpec[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  /** Milliseconds (the config layer's reading of the proto Duration). */
  maxAge?: number;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'FORWARD' | 'IGNORE';
}

export interface CorsRequest {
  readonly method?: string;
  readonly headers: IncomingHttpHeaders;
}

export interface CorsPreflightAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface CompiledCors {
  /** The answer to a preflight handled here; undefined for other requests and forwarded preflights. */
  preflight(req: CorsRequest): CorsPreflightAnswer | undefined;
  /** Headers to add to a response for this Origin; undefined when there are none to add. */
  responseHeaders(origin: string | undefined): Readonly<Record<string, string>> | undefined;
}

export function compileCors(spec: CorsPolicySpec): CompiledCors {
  const matchers: StringMatcher[] = (spec.allowOrigins ?? []).map((match) => compileStringMatch(match));
  // Envoy's isOriginAllowed: an entry that matches the literal `*` allows every origin.
  const anyOrigin = matchers.some((matches) => matches('*'));
  const isAllowed = (origin: string): boolean => anyOrigin || matchers.some((matches) => matches(origin));

  const allowMethods = joined(spec.allowMethods);
  const allowHeaders = joined(spec.allowHeaders);
  const exposeHeaders = joined(spec.exposeHeaders);
  const maxAge = spec.maxAge === undefined ? undefined : String(Math.floor(spec.maxAge / 1000));
  const credentials = spec.allowCredentials === true;
  const forwardUnmatched = spec.unmatchedPreflights !== 'IGNORE';

  return Object.freeze({
    preflight(req: CorsRequest): CorsPreflightAnswer | undefined {
      const origin = req.headers.origin;
      if (!origin || req.method !== 'OPTIONS') return undefined;
      const requestMethod = req.headers['access-control-request-method'];
      if (!requestMethod) return undefined;
      const allowed = isAllowed(origin);
      if (!allowed && forwardUnmatched) return undefined;

      const headers: Record<string, string> = {};
      if (allowed) headers['access-control-allow-origin'] = origin;
      if (credentials) headers['access-control-allow-credentials'] = 'true';
      if (allowMethods !== undefined) {
        headers['access-control-allow-methods'] = allowMethods === '*' ? String(requestMethod) : allowMethods;
      }
      if (allowHeaders !== undefined) {
        const requested = req.headers['access-control-request-headers'];
        if (allowHeaders !== '*') headers['access-control-allow-headers'] = allowHeaders;
        else if (requested) headers['access-control-allow-headers'] = String(requested);
      }
      if (maxAge !== undefined) headers['access-control-max-age'] = maxAge;
      return { status: 200, headers };
    },

    responseHeaders(origin: string | undefined): Readonly<Record<string, string>> | undefined {
      if (!origin || !isAllowed(origin)) return undefined;
      const headers: Record<string, string> = { 'access-control-allow-origin': origin };
      if (credentials) headers['access-control-allow-credentials'] = 'true';
      if (exposeHeaders !== undefined) headers['access-control-expose-headers'] = exposeHeaders;
      return headers;
    },
  });
}

/** Istio joins lists with ',' (no space); an empty list sets nothing. */
function joined(values: string[] | undefined): string | undefined {
  return values === undefined || values.length === 0 ? undefined : values.join(',');
}
