import { normalizeHost } from './host-match.js';

// The Gateway servers of one listener, found by name: by SNI when a TLS connection starts, by
// Host when a request arrives. Precedence is the virtual hosts' (route-table.ts): an exact
// name, then the longest `*.suffix`, then `*`, so the most specific server wins.

export interface ServerTable<S> {
  /** The server whose hosts cover `name` (a Host header or an SNI; port and case do not matter). */
  find(name: string): S | undefined;
  readonly servers: readonly S[];
}

export function createServerTable<S extends { readonly hosts: readonly string[] }>(servers: readonly S[]): ServerTable<S> {
  const exact = new Map<string, S>();
  const suffixes: { suffix: string; server: S }[] = [];
  let any: S | undefined;
  for (const server of servers) {
    for (const raw of server.hosts) {
      const host = raw.toLowerCase();
      // Validation refuses two servers of one port claiming one host; the first keeps it.
      if (host === '*') any ??= server;
      else if (host.startsWith('*')) suffixes.push({ suffix: host.slice(1), server });
      else if (!exact.has(host)) exact.set(host, server);
    }
  }
  suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  return Object.freeze({
    servers,
    find(name: string) {
      const host = normalizeHost(name);
      const found = exact.get(host);
      if (found !== undefined) return found;
      for (const { suffix, server } of suffixes) if (host.length > suffix.length && host.endsWith(suffix)) return server;
      return any;
    },
  });
}
