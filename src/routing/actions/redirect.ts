// Istio's HTTPRedirect as Envoy carries it out (Istio route.go ApplyRedirect, Envoy
// Http::Utility::newUri): each part of the request URL the redirect names is replaced, the
// rest is kept. `uri` replaces the path and keeps the request's query unless it has its own.

export interface HttpRedirectSpec {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  redirectCode?: number;
}

export interface RedirectRequest {
  /** The scheme the client used (the listener's). */
  readonly scheme: string;
  /** The Host header without its port (IPv6 keeps its brackets). */
  readonly host: string;
  /** The listener's port: what `derivePort: FROM_REQUEST_PORT` puts in the Location. */
  readonly port: number;
  /** The port written in the Host header, if any; kept when the host is not redirected. */
  readonly hostPort?: number;
  /** The path without its query. */
  readonly path: string;
  /** The query without its `?`; '' when there is none. */
  readonly query: string;
}

export interface Redirect {
  readonly status: number;
  readonly location: string;
}

export function compileRedirect(spec: HttpRedirectSpec): (req: RedirectRequest) => Redirect {
  const status = spec.redirectCode ?? 301;
  const { uri, authority, scheme } = spec;
  const uriHasQuery = uri?.includes('?') ?? false;
  const redirectsPort = spec.port !== undefined || spec.derivePort !== undefined;

  return (req) => {
    const finalScheme = scheme ?? req.scheme;
    const port = redirectsPort ? redirectPort(spec, req.port, finalScheme) : '';
    const host = authority ?? requestHost(req, finalScheme, port);
    let path: string;
    if (uri === undefined) {
      path = withQuery(req.path, req.query);
    } else {
      path = uriHasQuery ? uri : withQuery(uri, req.query);
    }
    if (!path.startsWith('/')) path = `/${path}`;
    return { status, location: `${finalScheme}://${host}${port}${path}` };
  };
}

/** `:port`, or '' where Istio leaves it out (FROM_PROTOCOL_DEFAULT, :80 on http, :443 on https). */
function redirectPort(spec: HttpRedirectSpec, requestPort: number, finalScheme: string): string {
  const port = spec.port ?? (spec.derivePort === 'FROM_REQUEST_PORT' ? requestPort : 0);
  if (port === 0) return '';
  if ((port === 80 && finalScheme === 'http') || (port === 443 && finalScheme === 'https')) return '';
  return `:${port}`;
}

/**
 * The client's Host when the redirect keeps it. Envoy drops its port when the redirect sets
 * one, and when the scheme changes away from a port that was only the old scheme's default.
 */
function requestHost(req: RedirectRequest, finalScheme: string, newPort: string): string {
  if (req.hostPort === undefined) return req.host;
  const removePort =
    newPort !== '' ||
    (finalScheme !== req.scheme &&
      ((req.scheme === 'https' && req.hostPort === 443) || (req.scheme === 'http' && req.hostPort === 80)));
  return removePort ? req.host : `${req.host}:${req.hostPort}`;
}

function withQuery(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}
