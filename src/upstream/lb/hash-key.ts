// The consistent-hash key of a request, from the one source Istio's ConsistentHashLB names
// (its hash_key oneof), read as Envoy's hash policies read it. Compiled once per cluster; the
// returned function runs per request.

import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ConsistentHashSettings } from './index.js';

export interface HashKeyRequest {
  readonly headers: IncomingHttpHeaders;
  /** The downstream peer's IP address, without port. */
  readonly remoteAddress: string;
  /** The raw query string, with or without its leading "?". */
  readonly query: string;
}

export interface HashKey {
  /** undefined: no key, and the ring picks at random. */
  readonly key: string | undefined;
  /** A Set-Cookie value to add to the response when the key is a cookie generated now. */
  readonly setCookie?: string;
}

export type HashKeyFunction = (request: HashKeyRequest) => HashKey;

const noKey: HashKey = Object.freeze({ key: undefined });

export function compileHashKey(consistentHash: ConsistentHashSettings): HashKeyFunction {
  const { httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName } = consistentHash;
  if (httpHeaderName !== undefined) return compileHeaderKey(httpHeaderName.toLowerCase());
  if (httpCookie !== undefined) return compileCookieKey(httpCookie);
  if (useSourceIp === true) return ({ remoteAddress }) => (remoteAddress === '' ? noKey : { key: remoteAddress });
  if (httpQueryParameterName !== undefined) return compileQueryKey(httpQueryParameterName);
  return () => noKey;
}

function compileHeaderKey(name: string): HashKeyFunction {
  return ({ headers }) => {
    const value = headers[name];
    if (value === undefined) return noKey;
    // Envoy sorts repeated values so that their order does not change the key.
    return { key: typeof value === 'string' ? value : [...value].sort().join(',') };
  };
}

function compileCookieKey(cookie: NonNullable<ConsistentHashSettings['httpCookie']>): HashKeyFunction {
  const { name, ttl } = cookie;
  if (ttl === undefined) {
    return ({ headers }) => {
      const value = findCookie(headers.cookie, name);
      return value === undefined ? noKey : { key: value };
    };
  }
  // Envoy's generated cookie: name="value"; Max-Age (whole seconds of the TTL, left out when
  // zero: a session cookie); Path when set; HttpOnly.
  const maxAge = Math.floor(ttl / 1000);
  const attributes = `${maxAge > 0 ? `; Max-Age=${maxAge}` : ''}${cookie.path ? `; Path=${cookie.path}` : ''}; HttpOnly`;
  return ({ headers }) => {
    const value = findCookie(headers.cookie, name);
    if (value !== undefined) return { key: value };
    // Envoy hashes the connection's addresses into 16 hex digits; random digits of the same
    // form spread clients behind one NAT address over the endpoints just as well.
    const generated = randomBytes(8).toString('hex');
    return { key: generated, setCookie: `${name}="${generated}"${attributes}` };
  };
}

/** The value of cookie `name` (surrounding double quotes removed), or undefined when absent or empty. */
function findCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join('; ');
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end < 0) end = text.length;
    const equals = text.indexOf('=', start);
    if (equals >= 0 && equals < end && text.slice(start, equals).trim() === name) {
      let value = text.slice(equals + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value === '' ? undefined : value;
    }
    start = end + 1;
  }
  return undefined;
}

function compileQueryKey(name: string): HashKeyFunction {
  return ({ query }) => {
    // Envoy hashes the first value of the parameter as it appears (not percent-decoded).
    let start = query.startsWith('?') ? 1 : 0;
    while (start <= query.length) {
      let end = query.indexOf('&', start);
      if (end < 0) end = query.length;
      const equals = query.indexOf('=', start);
      const nameEnd = equals >= 0 && equals < end ? equals : end;
      if (nameEnd - start === name.length && query.startsWith(name, start)) {
        return { key: nameEnd === end ? '' : query.slice(nameEnd + 1, end) };
      }
      start = end + 1;
    }
    return noKey;
  };
}
