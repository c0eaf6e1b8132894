import type { IncomingHttpHeaders } from 'node:http';
import { normalizeHost } from './host-match.js';

// What route matching reads from a request, built once per request by the listener so that
// every matcher reads plain fields instead of re-parsing the URL or the Host header.

export interface RequestView {
  readonly method: string;
  /** The path without query or fragment, as Envoy's path matchers see it. */
  readonly path: string;
  /** The raw query, without '?'; '' when there is none. */
  readonly query: string;
  readonly scheme: 'http' | 'https';
  /** The Host (HTTP/1) or :authority (HTTP/2) header as sent, port included; '' when absent. */
  readonly authority: string;
  /** The authority lower-cased with its port stripped: what virtual host lookup compares. */
  readonly host: string;
  /** The listener port (what HTTPMatchRequest.port compares). */
  readonly port: number;
  readonly headers: IncomingHttpHeaders;
}

export interface RequestViewInput {
  readonly method: string;
  /** The request target as Node gives it (req.url): origin-form, or absolute-form from a proxy client. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly scheme: 'http' | 'https';
  readonly port: number;
}

/** Builds the view of one request. */
export function createRequestView(input: RequestViewInput): RequestView {
  let target = input.url;
  let authority = headerAuthority(input.headers);
  // RFC 9112 3.2.2: with an absolute-form target the Host header is ignored for the URI's authority.
  const absolute = target.charCodeAt(0) === SLASH ? null : ABSOLUTE_FORM.exec(target);
  if (absolute !== null) {
    authority = absolute[1] ?? '';
    target = absolute[2] || '/';
  }
  // Fragments never reach routing: Envoy strips them before matching.
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const question = target.indexOf('?');
  return {
    method: input.method,
    path: question < 0 ? target : target.slice(0, question),
    query: question < 0 ? '' : target.slice(question + 1),
    scheme: input.scheme,
    authority,
    host: normalizeHost(authority),
    port: input.port,
    headers: input.headers,
  };
}

/**
 * The query parameters of a request, parsed on first use and kept for the request's lifetime,
 * so only requests that meet a route matching on queryParams pay. As Envoy's router does: values
 * are raw (not percent-decoded), `?key` has the value '', and the first of repeated keys wins.
 */
export function queryParams(req: RequestView): ReadonlyMap<string, string> {
  if (req.query === '') return NO_PARAMS;
  let params = parsedQueries.get(req);
  if (params === undefined) {
    params = parseQuery(req.query);
    parsedQueries.set(req, params);
  }
  return params;
}

const SLASH = 0x2f;
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/is;
const NO_PARAMS: ReadonlyMap<string, string> = new Map();
const parsedQueries = new WeakMap<RequestView, ReadonlyMap<string, string>>();

function headerAuthority(headers: IncomingHttpHeaders): string {
  const value = headers[':authority'] ?? headers.host;
  return typeof value === 'string' ? value : '';
}

function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    if (!params.has(name)) params.set(name, equals < 0 ? '' : pair.slice(equals + 1));
  }
  return params;
}
