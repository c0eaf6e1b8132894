import test from 'ava';
import { rm } from 'node:fs/promises';
import { compileYaml, lineOf, snapshotOf } from '../helpers/compile-config.js';
import { configDir } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential } from '../helpers/certs.js';
import type { Snapshot, StreamConnection, StreamListenerConfig } from '../../src/config/snapshot.js';

// Gateway PASSTHROUGH and TCP servers compiled into stream listeners: which route (and so which
// cluster) a connection takes by SNI, port, gateway and subnets, and the issues Istio raises.

const gateway = (servers: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  servers:
${servers}
---
`;

const entries = ['a', 'b', 'c', 'd'].map((name, i) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.internal]
  resolution: STATIC
  ports: [{number: ${9001 + i}, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1}]
`).join('');

function streamListener(snapshot: Snapshot, name: string): StreamListenerConfig {
  const found = snapshot.streamListeners.find((l) => l.name === name);
  if (found === undefined) throw new Error(`no stream listener ${name}`);
  return found;
}

/** The cluster a connection is relayed to, 'terminate' when the port's terminating servers take it, or undefined when it is refused (NR). */
function clusterFor(l: StreamListenerConfig, connection: Partial<StreamConnection>): string | undefined {
  const choice = l.route({ serverName: undefined, localAddress: '10.0.0.1', remoteAddress: '192.168.1.5', ...connection });
  return choice === 'terminate' ? choice : choice?.pickCluster();
}

const cluster = (name: string, port: number) => `outbound|${port}||${name}.internal`;

test('passthrough: SNI picks the most specific name, within the server hosts; tcp[] takes what no SNI route does', async (t) => {
  const snapshot = await snapshotOf(t, `${gateway(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}`)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass}
spec:
  hosts: ["*.example.com", other.org]
  gateways: [edge]
  tls:
  - match: [{sniHosts: ["*.example.com"]}]
    route: [{destination: {host: a.internal}}]
  - match: [{sniHosts: [shop.example.com]}]
    route: [{destination: {host: b.internal}}]
  - match: [{sniHosts: ["*.eu.example.com"]}]
    route: [{destination: {host: c.internal}}]
  - match: [{sniHosts: [other.org]}]
    route: [{destination: {host: c.internal}}]
  tcp:
  - route: [{destination: {host: d.internal}}]
${entries}`);
  const l = streamListener(snapshot, '0.0.0.0_443');
  t.is(l.protocol, 'TLS');
  t.true(l.peekSni);
  t.is(clusterFor(l, { serverName: 'shop.example.com' }), cluster('b', 9002), 'exact beats a wildcard listed first');
  t.is(clusterFor(l, { serverName: 'x.eu.example.com' }), cluster('c', 9003), 'the longest wildcard wins');
  t.is(clusterFor(l, { serverName: 'api.example.com' }), cluster('a', 9001));
  t.is(clusterFor(l, { serverName: 'other.org' }), cluster('d', 9004), 'other.org is outside the server hosts: no SNI route, the tcp route takes it');
  t.is(clusterFor(l, {}), cluster('d', 9004), 'no SNI: the tcp route');
});

test('passthrough without tcp routes refuses unknown and missing SNI; port and gateways select match blocks; sourceLabels never match', async (t) => {
  const snapshot = await snapshotOf(t, `${gateway(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [a.example.com, b.example.com, c.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 8443, name: tls-alt, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: PASSTHROUGH}`)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass}
spec:
  hosts: [a.example.com, b.example.com, c.example.com]
  gateways: [edge]
  tls:
  - match: [{sniHosts: [a.example.com], port: 8443}]
    route: [{destination: {host: b.internal}}]
  - match: [{sniHosts: [a.example.com]}]
    route: [{destination: {host: a.internal}}]
  - match: [{sniHosts: [b.example.com], gateways: [someone-else]}, {sniHosts: [b.example.com], sourceLabels: {app: x}}]
    route: [{destination: {host: c.internal}}]
  - match: [{sniHosts: [c.example.com], gateways: [edge]}]
    route: [{destination: {host: c.internal}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: someone-else}
spec:
  servers: [{port: {number: 9999, name: http, protocol: HTTP}, hosts: ["*"]}]
---
${entries}`);
  const main = streamListener(snapshot, '0.0.0.0_443');
  t.is(clusterFor(main, { serverName: 'a.example.com' }), cluster('a', 9001));
  t.is(clusterFor(main, { serverName: 'b.example.com' }), undefined);
  t.is(clusterFor(main, { serverName: 'c.example.com' }), cluster('c', 9003));
  t.is(clusterFor(main, { serverName: 'd.example.com' }), undefined);
  t.is(clusterFor(main, {}), undefined);
  t.is(clusterFor(streamListener(snapshot, '0.0.0.0_8443'), { serverName: 'a.example.com' }), cluster('b', 9002));
});

test('TCP: the first tcp[] route whose match holds, across VirtualServices in order; subnets are checked per connection', async (t) => {
  const snapshot = await snapshotOf(t, `${gateway(`  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: [db.example.com]`)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: elsewhere}
spec:
  hosts: [other.example.com]
  gateways: [edge]
  tcp:
  - route: [{destination: {host: d.internal}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db.example.com]
  gateways: [edge]
  tcp:
  - match: [{port: 6000}]
    route: [{destination: {host: d.internal}}]
  - match: [{sourceSubnet: 192.168.0.0/16, destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: a.internal}}]
  - match: [{sourceSubnet: "::1/128"}, {sourceSubnet: 172.16.0.1}]
    route: [{destination: {host: b.internal}}]
  - route:
    - {destination: {host: c.internal}, weight: 100}
    - {destination: {host: d.internal}, weight: 0}
${entries}`);
  const l = streamListener(snapshot, '0.0.0.0_5432');
  t.is(l.protocol, 'TCP');
  t.false(l.peekSni);
  t.is(clusterFor(l, {}), cluster('a', 9001), 'the VirtualService whose hosts miss the server is not bound; port 6000 is not this port');
  t.is(clusterFor(l, { remoteAddress: '::ffff:192.168.9.9' }), cluster('a', 9001), 'an IPv4-mapped address matches its IPv4 block');
  t.is(clusterFor(l, { localAddress: '127.0.0.1' }), cluster('c', 9003), 'destination outside 10.0.0.0/8');
  t.is(clusterFor(l, { remoteAddress: '::1', localAddress: '127.0.0.1' }), cluster('b', 9002));
  t.is(clusterFor(l, { remoteAddress: '172.16.0.1', localAddress: '127.0.0.1' }), cluster('b', 9002), 'a bare address is a /32');
  for (let i = 0; i < 20; i++) t.is(clusterFor(l, { remoteAddress: '8.8.8.8' }), cluster('c', 9003), 'weight 0 gets nothing');
});

test('Istio validation of tls[] and tcp[]: SNI hosts outside hosts, routes without destinations, bad subnets; at file:line', async (t) => {
  const yaml = `${gateway(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}`)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [a.example.com, "*.wild.example.com"]
  gateways: [edge]
  tls:
  - match: [{sniHosts: [a.example.com, x.wild.example.com, b.example.com]}]
    route: [{destination: {host: a.internal}}]
  - match: [{sniHosts: [a.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: short}
spec:
  hosts: [web]
  gateways: [edge]
  tls:
  - match: [{sniHosts: [web, web.default.svc.cluster.local]}]
    route: [{destination: {host: a.internal}}]
  tcp:
  - match: [{destinationSubnets: [10.0.0.0/33]}]
    route: [{destination: {host: a.internal}}]
  - match: [{sourceSubnet: not-an-ip}]
${entries}`;
  const { file, snapshot, issues } = await compileYaml(t, yaml);
  t.is(snapshot, undefined);
  t.deepEqual(
    issues.map((i) => [i.code, i.severity, i.file, i.line, i.path]),
    [
      ['MG_ERR_CONFIG_HOST', 'error', file, lineOf(yaml, 'b.example.com]'), 'spec.tls[0].match[0].sniHosts[2]'],
      ['MG_ERR_CONFIG_FIELD_REQUIRED', 'error', file, lineOf(yaml, '- match: [{sniHosts: [a.example.com]}]'), 'spec.tls[1]'],
      ['MG_ERR_CONFIG_FIELD_REQUIRED', 'error', file, lineOf(yaml, 'not-an-ip'), 'spec.tcp[1]'],
      ['MG_ERR_CONFIG_FIELD_VALUE', 'error', file, lineOf(yaml, '10.0.0.0/33'), 'spec.tcp[0].match[0].destinationSubnets[0]'],
    ],
  );
});

test('PASSTHROUGH and terminating servers on one port: the most specific of tls[] names and terminating hosts wins; a tie goes to the terminating server', async (t) => {
  const certs = await configDir('mixed-certs');
  t.teardown(() => rm(certs, { recursive: true, force: true }));
  const ca = await makeCa(certs, 'ca');
  await writeCredential(certs, 'web', await issueCert(certs, ca, 'web', { sans: ['*.example.com'] }));
  const snapshot = await snapshotOf(t, `${gateway(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [a.example.com, "*.pass.example.com", "*.shop.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com", tie.shop.com]
    tls: {mode: SIMPLE, credentialName: web}`)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass}
spec:
  hosts: [a.example.com, "*.pass.example.com", "*.shop.com"]
  gateways: [edge]
  tls:
  - match: [{sniHosts: [a.example.com]}]
    route: [{destination: {host: a.internal}}]
  - match: [{sniHosts: ["*.pass.example.com"]}]
    route: [{destination: {host: b.internal}}]
  - match: [{sniHosts: [tie.shop.com, other.shop.com]}]
    route: [{destination: {host: c.internal}}]
${entries}`, certs);
  const l = streamListener(snapshot, '0.0.0.0_443');
  t.true(l.peekSni);
  t.is(l.terminating, snapshot.listeners.find((h) => h.name === '0.0.0.0_443'), 'the terminating side is the port\'s own TLS listener config');
  t.is(clusterFor(l, { serverName: 'a.example.com' }), cluster('a', 9001), 'an exact passthrough name beats the terminating *.example.com');
  t.is(clusterFor(l, { serverName: 'b.example.com' }), 'terminate');
  t.is(clusterFor(l, { serverName: 'x.pass.example.com' }), cluster('b', 9002), 'the longer passthrough wildcard beats *.example.com');
  t.is(clusterFor(l, { serverName: 'tie.shop.com' }), 'terminate', 'one name on both sides: the terminating server');
  t.is(clusterFor(l, { serverName: 'other.shop.com' }), cluster('c', 9003));
  t.is(clusterFor(l, { serverName: 'unknown.org' }), undefined);
  t.is(clusterFor(l, {}), undefined, 'no SNI, no `*` anywhere: refused');
});
