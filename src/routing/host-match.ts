// Istio's host rules: how a VirtualService host binds to a Gateway server host, and how a
// request's Host header is reduced to the name that virtual host lookup compares.
// Host names are case-insensitive (RFC 4343); patterns are `*`, `*.suffix` or exact.

/** True when `host` (a concrete name) is covered by `pattern` (`*`, `*.suffix` or exact). */
export function hostMatches(pattern: string, host: string): boolean {
  const p = lowerAscii(pattern);
  const h = lowerAscii(host);
  if (p === '*') return true;
  if (p.charCodeAt(0) === STAR) {
    // `*.foo.com` covers any depth of subdomain, never the bare `foo.com` (the star is not empty).
    const suffix = p.slice(1);
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return p === h;
}

/**
 * The domain a VirtualService host serves on a Gateway server host: the more specific of the two
 * when one covers the other, undefined when they are disjoint. This is how istiod picks the
 * virtual host domains of a gateway (VS `*` on server `foo.com` serves `foo.com`; VS `bar.foo.com`
 * on server `*.foo.com` serves `bar.foo.com`; VS `*.foo.com` on server `*` serves `*.foo.com`).
 */
export function hostsIntersect(a: string, b: string): string | undefined {
  const x = lowerAscii(a);
  const y = lowerAscii(b);
  if (x === y) return x;
  if (patternCovers(x, y)) return y;
  if (patternCovers(y, x)) return x;
  return undefined;
}

/** A Gateway server host in Istio's `namespace/dnsName` form. */
export interface GatewayServerHost {
  /** `*` any namespace (the default), `.` the Gateway's own, `~` none, or a namespace name. */
  readonly namespace: string;
  readonly host: string;
}

/** Splits `ns/host`; a host without `ns/` selects VirtualServices of every namespace (`*`). */
export function parseGatewayServerHost(entry: string): GatewayServerHost {
  const slash = entry.indexOf('/');
  if (slash < 0) return Object.freeze({ namespace: '*', host: entry });
  return Object.freeze({ namespace: entry.slice(0, slash), host: entry.slice(slash + 1) });
}

/** Whether a VirtualService in `namespace` may bind to this server host of a Gateway in `gatewayNamespace`. */
export function serverHostAllowsNamespace(parsed: GatewayServerHost, namespace: string, gatewayNamespace: string): boolean {
  switch (parsed.namespace) {
    case '*':
      return true;
    case '.':
      return namespace === gatewayNamespace;
    case '~':
      // Istio emits `~/` for Gateway API listeners that no route may attach to.
      return false;
    default:
      return parsed.namespace === namespace;
  }
}

/**
 * Removes a numeric `:port` from a Host header: `foo.com:8080` -> `foo.com`, `[::1]:8080` -> `[::1]`.
 * Anything else is returned as it came (`foo.com:`, `foo:bar`, a bare `::1`), as Envoy only
 * strips a port it can parse.
 */
export function stripPort(hostHeader: string): string {
  if (hostHeader.charCodeAt(0) === OPEN_BRACKET) {
    const close = hostHeader.indexOf(']');
    if (close < 0 || close === hostHeader.length - 1) return hostHeader;
    return hostHeader.charCodeAt(close + 1) === COLON && isDigits(hostHeader, close + 2) ? hostHeader.slice(0, close + 1) : hostHeader;
  }
  const colon = hostHeader.lastIndexOf(':');
  // More than one colon without brackets is an IPv6 literal, which has no port to strip.
  if (colon < 0 || hostHeader.indexOf(':') !== colon) return hostHeader;
  return isDigits(hostHeader, colon + 1) ? hostHeader.slice(0, colon) : hostHeader;
}

/**
 * The name virtual host lookup compares: port stripped, lower-cased. A trailing dot is kept, as
 * Envoy keeps it unless strip_trailing_host_dot is set (Istio does not set it).
 * Returns its argument unchanged (no allocation) when it is already normal.
 */
export function normalizeHost(hostHeader: string): string {
  return lowerAscii(stripPort(hostHeader));
}

const STAR = 0x2a;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;

// `pattern` covers `other` when every name `other` stands for is also matched by `pattern`.
function patternCovers(pattern: string, other: string): boolean {
  if (pattern === '*') return true;
  if (pattern.charCodeAt(0) !== STAR) return false;
  if (other.charCodeAt(0) === STAR) {
    if (other === '*') return false;
    // `*.foo.com` covers `*.bar.foo.com`: the narrower suffix ends with the wider one.
    return other.slice(1).endsWith(pattern.slice(1));
  }
  return hostMatches(pattern, other);
}

function isDigits(value: string, from: number): boolean {
  if (from >= value.length) return false;
  for (let i = from; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// Lower-cases only when there is an ASCII capital, so the common already-lower host costs no string.
function lowerAscii(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return value.toLowerCase();
  }
  return value;
}
