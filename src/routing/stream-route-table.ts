import type { StreamChoice, StreamConnection } from '../config/snapshot.js';
import { hostMatches } from './host-match.js';

// How a stream listener picks a route, as Envoy picks a filter chain: by SNI first, the most
// specific server name winning (exact, then `*.suffix` longest first, then `*`), and the routes
// without SNI (VirtualService tcp[]) when no SNI route takes the connection. Within one name the
// routes keep config order and the first whose L4 conditions hold wins.
// On a port that also has terminating servers (SIMPLE, MUTUAL, OPTIONAL_MUTUAL) their hosts are
// server names too, and a connection whose most specific name is one of them is terminated. A
// name claimed by both sides (a tls[] sniHost equal to a terminating server's host) goes to the
// terminating server: Envoy would refuse two filter chains with one match.

export interface StreamRouteCandidate {
  readonly route: StreamChoice;
  /** destinationSubnets / sourceSubnet of the match blocks that selected the route. */
  matches(connection: StreamConnection): boolean;
}

export interface StreamRouteTableInput {
  /** Server-name pattern (`*`, `*.suffix` or exact, lower case) -> candidates in config order. */
  readonly byServerName: ReadonlyMap<string, readonly StreamRouteCandidate[]>;
  /** tcp[] candidates in config order, tried after the SNI routes. */
  readonly fallback: readonly StreamRouteCandidate[];
  /** The hosts of the port's terminating servers (lower case); empty on a port without any. */
  readonly terminating?: readonly string[];
}

const terminate: StreamRouteCandidate = Object.freeze({ route: 'terminate' as const, matches: () => true });

export function createStreamRouteTable(input: StreamRouteTableInput): (connection: StreamConnection) => StreamChoice | undefined {
  const byPattern = new Map<string, readonly StreamRouteCandidate[]>(input.byServerName);
  // The terminating server comes first under its name, so it wins a tie.
  for (const host of input.terminating ?? []) byPattern.set(host, [terminate, ...(byPattern.get(host) ?? [])]);
  const exact = new Map<string, readonly StreamRouteCandidate[]>();
  const wildcards: [string, readonly StreamRouteCandidate[]][] = [];
  let any: readonly StreamRouteCandidate[] = [];
  for (const [pattern, candidates] of byPattern) {
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

  function firstWildcard(name: string, connection: StreamConnection): StreamChoice | undefined {
    for (const [pattern, candidates] of wildcards) {
      if (!hostMatches(pattern, name)) continue;
      const found = first(candidates, connection);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}
