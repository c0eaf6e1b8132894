import type { StreamConnection, StreamRoute } from '../config/snapshot.js';
import { hostMatches } from './host-match.js';

// How a stream listener picks a route, as Envoy picks a filter chain: by SNI first, the most
// specific server name winning (exact, then `*.suffix` longest first, then `*`), and the routes
// without SNI (VirtualService tcp[]) when no SNI route takes the connection. Within one name the
// routes keep config order and the first whose L4 conditions hold wins.

export interface StreamRouteCandidate {
  readonly route: StreamRoute;
  /** destinationSubnets / sourceSubnet of the match blocks that selected the route. */
  matches(connection: StreamConnection): boolean;
}

export interface StreamRouteTableInput {
  /** Server-name pattern (`*`, `*.suffix` or exact, lower case) -> candidates in config order. */
  readonly byServerName: ReadonlyMap<string, readonly StreamRouteCandidate[]>;
  /** tcp[] candidates in config order, tried after the SNI routes. */
  readonly fallback: readonly StreamRouteCandidate[];
}

export function createStreamRouteTable(input: StreamRouteTableInput): (connection: StreamConnection) => StreamRoute | undefined {
  const exact = new Map<string, readonly StreamRouteCandidate[]>();
  const wildcards: [string, readonly StreamRouteCandidate[]][] = [];
  let any: readonly StreamRouteCandidate[] = [];
  for (const [pattern, candidates] of input.byServerName) {
    if (pattern === '*') any = candidates;
    else if (pattern.startsWith('*')) wildcards.push([pattern, candidates]);
    else exact.set(pattern, candidates);
  }
  wildcards.sort((a, b) => b[0].length - a[0].length);
  const { fallback } = input;

  const first = (candidates: readonly StreamRouteCandidate[] | undefined, connection: StreamConnection) =>
    candidates?.find((candidate) => candidate.matches(connection))?.route;

  return (connection) => {
    const name = connection.serverName;
    if (name !== undefined) {
      const found = first(exact.get(name), connection) ?? firstWildcard(name, connection);
      if (found !== undefined) return found;
    }
    // `*` stands for every name and for none, as istiod leaves server_names out for it.
    return first(any, connection) ?? first(fallback, connection);
  };

  function firstWildcard(name: string, connection: StreamConnection): StreamRoute | undefined {
    for (const [pattern, candidates] of wildcards) {
      if (!hostMatches(pattern, name)) continue;
      const found = first(candidates, connection);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}
