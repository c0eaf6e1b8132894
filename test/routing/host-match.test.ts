import test from 'ava';
import {
  hostMatches,
  hostsIntersect,
  normalizeHost,
  parseGatewayServerHost,
  serverHostAllowsNamespace,
  stripPort,
} from '../../src/routing/host-match.js';

const matchCases: [pattern: string, host: string, expected: boolean][] = [
  ['*', 'foo.com', true],
  ['*', '', true],
  ['foo.com', 'foo.com', true],
  ['foo.com', 'FOO.com', true],
  ['FOO.COM', 'foo.com', true],
  ['foo.com', 'bar.com', false],
  ['foo.com', 'www.foo.com', false],
  ['*.foo.com', 'bar.foo.com', true],
  ['*.foo.com', 'a.b.foo.com', true],
  ['*.foo.com', 'foo.com', false],
  ['*.foo.com', '.foo.com', false],
  ['*.foo.com', 'barfoo.com', false],
  ['*.Foo.com', 'BAR.foo.COM', true],
  ['*.com', 'foo.com', true],
];

for (const [pattern, host, expected] of matchCases) {
  test(`hostMatches(${JSON.stringify(pattern)}, ${JSON.stringify(host)}) is ${expected}`, (t) => {
    t.is(hostMatches(pattern, host), expected);
  });
}

// [VirtualService host, Gateway server host, the domain served] - the bindings of Istio's Gateway docs.
const intersectCases: [string, string, string | undefined][] = [
  ['*', 'foo.com', 'foo.com'],
  ['foo.com', '*', 'foo.com'],
  ['bar.foo.com', '*.foo.com', 'bar.foo.com'],
  ['*.foo.com', '*', '*.foo.com'],
  ['*.foo.com', '*.bar.foo.com', '*.bar.foo.com'],
  ['*.bar.foo.com', '*.foo.com', '*.bar.foo.com'],
  ['foo.com', 'foo.com', 'foo.com'],
  ['Foo.com', 'foo.COM', 'foo.com'],
  ['*', '*', '*'],
  ['foo.com', '*.foo.com', undefined],
  ['bar.com', 'foo.com', undefined],
  ['*.a.com', '*.b.com', undefined],
  ['uk.bookinfo.com', '*.bookinfo.com', 'uk.bookinfo.com'],
];

for (const [vsHost, serverHost, expected] of intersectCases) {
  test(`hostsIntersect(${JSON.stringify(vsHost)}, ${JSON.stringify(serverHost)}) is ${JSON.stringify(expected)}`, (t) => {
    t.is(hostsIntersect(vsHost, serverHost), expected);
    t.is(hostsIntersect(serverHost, vsHost), expected, 'the intersection is symmetric');
  });
}

test('parseGatewayServerHost: namespace/dnsName, with `*/` the default', (t) => {
  t.deepEqual(parseGatewayServerHost('uk.bookinfo.com'), { namespace: '*', host: 'uk.bookinfo.com' });
  t.deepEqual(parseGatewayServerHost('prod/*.example.com'), { namespace: 'prod', host: '*.example.com' });
  t.deepEqual(parseGatewayServerHost('./foo.example.com'), { namespace: '.', host: 'foo.example.com' });
  t.deepEqual(parseGatewayServerHost('*/foo.example.com'), { namespace: '*', host: 'foo.example.com' });
  t.deepEqual(parseGatewayServerHost('prod/*'), { namespace: 'prod', host: '*' });
  t.true(Object.isFrozen(parseGatewayServerHost('a/b')));
});

test('serverHostAllowsNamespace: `*` any, `.` the Gateway\'s own, `~` none, else that namespace', (t) => {
  const gatewayNamespace = 'istio-system';
  t.true(serverHostAllowsNamespace(parseGatewayServerHost('foo.com'), 'default', gatewayNamespace));
  t.true(serverHostAllowsNamespace(parseGatewayServerHost('*/foo.com'), 'default', gatewayNamespace));
  t.true(serverHostAllowsNamespace(parseGatewayServerHost('./foo.com'), 'istio-system', gatewayNamespace));
  t.false(serverHostAllowsNamespace(parseGatewayServerHost('./foo.com'), 'default', gatewayNamespace));
  t.true(serverHostAllowsNamespace(parseGatewayServerHost('prod/foo.com'), 'prod', gatewayNamespace));
  t.false(serverHostAllowsNamespace(parseGatewayServerHost('prod/foo.com'), 'default', gatewayNamespace));
  t.false(serverHostAllowsNamespace(parseGatewayServerHost('~/foo.com'), 'default', gatewayNamespace));
  t.false(serverHostAllowsNamespace(parseGatewayServerHost('~/foo.com'), 'istio-system', gatewayNamespace));
});

const portCases: [string, string][] = [
  ['foo.com', 'foo.com'],
  ['foo.com:8080', 'foo.com'],
  ['foo.com:80', 'foo.com'],
  ['127.0.0.1:9', '127.0.0.1'],
  ['[::1]:8080', '[::1]'],
  ['[::1]', '[::1]'],
  ['[2001:db8::1]:443', '[2001:db8::1]'],
  // Not a port Envoy could parse: left alone.
  ['foo.com:', 'foo.com:'],
  ['foo.com:http', 'foo.com:http'],
  ['[::1]:', '[::1]:'],
  ['[::1', '[::1'],
  // A bare IPv6 literal has colons but no port.
  ['::1', '::1'],
  ['', ''],
];

for (const [header, expected] of portCases) {
  test(`stripPort(${JSON.stringify(header)}) is ${JSON.stringify(expected)}`, (t) => {
    t.is(stripPort(header), expected);
  });
}

test('normalizeHost lower-cases and strips the port, keeps a trailing dot, and keeps a normal host as the same string', (t) => {
  t.is(normalizeHost('Bookinfo.COM:8080'), 'bookinfo.com');
  t.is(normalizeHost('[::FFFF:7F00:1]:80'), '[::ffff:7f00:1]');
  t.is(normalizeHost('foo.com.'), 'foo.com.');
  const normal = 'already.normal';
  t.is(normalizeHost(normal), normal);
});
