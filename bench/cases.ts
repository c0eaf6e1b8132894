// What the proxy benchmark measures: each case is one kind of traffic (wrk's Lua shapes it),
// the meshgate config that serves it, and a probe request that must succeed before any load.
import { rateLimitedConfigYaml, scaleConfigYaml, scaleRequests, singleRouteConfigYaml, type StaticEndpoint } from './config-generator.js';
import type { TlsFiles } from './tls-material.js';

export interface Probe {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Host header; the target's address when absent. */
  readonly host?: string;
  readonly body?: Buffer;
  /** The body length the upstream answers with; any non-empty body when absent. */
  readonly expectedBodyBytes?: number;
}

export interface BenchCase {
  readonly id: string;
  readonly title: string;
  /** The path wrk's URL carries (a Lua `request` function may send others). */
  readonly path: string;
  /** Lua that shapes wrk's requests; empty for plain GETs of `path`. */
  readonly requestLua: string;
  readonly probe: Probe;
  /** Peers (nginx, HAProxy, the reference proxy) always run one catch-all route; this says so when it matters. */
  readonly peerNote?: string;
  /** Every target, the direct upstream included, serves HTTPS with the run's certificate. */
  readonly tls?: true;
  /** wrk offers no TLS session on a new connection (bench/no-resume.c), so each is a full handshake. */
  readonly fullHandshakes?: true;
  meshgateConfig(gatewayPort: number, upstream: StaticEndpoint, tls: TlsFiles | undefined): string;
}

const scale = { virtualServices: 1000, routesPerService: 10 } as const;
const kib = 1024;
const mib = 1024 * 1024;

function vhostsLua(): string {
  // Built once per wrk thread, then sent round-robin: request() allocates nothing.
  const rows = scaleRequests(scale, 4096).map((r) => `{"${r.host}","${r.path}",${r.gold}}`);
  return `local prepared = {}
local next_request = 0
init = function(args)
  local targets = {${rows.join(',')}}
  for i, t in ipairs(targets) do
    local headers = { Host = t[1] }
    if t[3] then headers["x-tier"] = "gold" end
    prepared[i] = wrk.format("GET", t[2], headers)
  end
end
request = function()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end`;
}

export const benchCases: readonly BenchCase[] = [
  {
    id: 'plain',
    title: 'GET keep-alive, small body',
    path: '/',
    requestLua: '',
    probe: { method: 'GET', path: '/' },
    meshgateConfig: singleRouteConfigYaml,
  },
  {
    id: 'vhosts',
    title: `GET over ${scale.virtualServices.toLocaleString('en')} VirtualServices x ${scale.routesPerService} routes`,
    path: '/',
    requestLua: vhostsLua(),
    probe: { method: 'GET', path: '/api/v0/x', host: 'svc-0.example.com' },
    peerNote: 'peers proxy the same requests with one catch-all route',
    meshgateConfig: (gatewayPort, upstream) => scaleConfigYaml({ gatewayPort, ...scale, endpoint: upstream }),
  },
  {
    id: 'post-1k',
    title: 'POST 1 KiB body (echoed)',
    path: '/echo',
    requestLua: `wrk.method = "POST"
wrk.body = string.rep("x", ${kib})
wrk.headers["Content-Type"] = "application/octet-stream"`,
    probe: { method: 'POST', path: '/echo', body: Buffer.alloc(kib, 'x'), expectedBodyBytes: kib },
    meshgateConfig: singleRouteConfigYaml,
  },
  {
    id: 'get-1m',
    title: 'GET 1 MiB response body',
    path: `/bytes/${mib}`,
    requestLua: '',
    probe: { method: 'GET', path: `/bytes/${mib}`, expectedBodyBytes: mib },
    meshgateConfig: singleRouteConfigYaml,
  },
  // Rate limiting's cost, to read beside `plain` (no limit): a Local limit, then a Global one
  // counted in Redis (REDIS_URL, else 127.0.0.1:6379), both far above the load so nothing is rejected.
  {
    id: 'ratelimit-local',
    title: 'GET keep-alive, small body, Local rate limit (nothing rejected)',
    path: '/',
    requestLua: '',
    probe: { method: 'GET', path: '/' },
    peerNote: 'peers proxy without any rate limit (the same as plain)',
    meshgateConfig: (gatewayPort, upstream) => rateLimitedConfigYaml(gatewayPort, upstream),
  },
  {
    id: 'ratelimit-redis',
    title: 'GET keep-alive, small body, Global rate limit in Redis (nothing rejected)',
    path: '/',
    requestLua: '',
    probe: { method: 'GET', path: '/' },
    peerNote: 'peers proxy without any rate limit (the same as plain)',
    meshgateConfig: (gatewayPort, upstream) => rateLimitedConfigYaml(gatewayPort, upstream, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
  },
  {
    id: 'tls',
    title: 'HTTPS GET keep-alive, small body',
    path: '/',
    requestLua: '',
    probe: { method: 'GET', path: '/' },
    tls: true,
    meshgateConfig: singleRouteConfigYaml,
  },
  {
    id: 'tls-handshake',
    title: 'HTTPS GET, new TLS connection per request, full handshake (req/s = full handshakes/s)',
    path: '/',
    // wrk reconnects after each `Connection: close` answer; bench/no-resume.c stops it offering
    // the last session, so every connection is a new client's full handshake.
    requestLua: 'wrk.headers["Connection"] = "close"',
    probe: { method: 'GET', path: '/' },
    tls: true,
    fullHandshakes: true,
    meshgateConfig: singleRouteConfigYaml,
  },
  {
    id: 'tls-resume',
    title: 'HTTPS GET, new TLS connection per request, offering the last session (a returning client)',
    path: '/',
    // wrk's own behaviour: each new connection offers the session of the one before. A server
    // that sends a fresh ticket on every resumption (nginx does) resumes them all; Node's TLS
    // 1.3 server sends none after a resumed handshake, so every other connection is a full one.
    requestLua: 'wrk.headers["Connection"] = "close"',
    probe: { method: 'GET', path: '/' },
    tls: true,
    meshgateConfig: singleRouteConfigYaml,
  },
];
