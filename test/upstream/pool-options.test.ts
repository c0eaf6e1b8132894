import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import { Pool } from 'undici';
import { ConnectionPoolSettings as ConnectionPoolSchema } from '../../src/config/kinds/destination-rule.js';
import { type ConnectionPoolSettings, poolOptionsFor } from '../../src/upstream/pool-options.js';

// meshgate's defaults when a DestinationRule says nothing: Istio's 10s connect timeout and
// unlimited connections; undici's 4s without a Keep-Alive hint, 600s cap on a hint, 60s TCP keep-alive.
const defaults = {
  connections: null,
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 600_000,
  connect: { timeout: 10_000, keepAlive: true, keepAliveInitialDelay: 60_000 },
};

const table: [string, ConnectionPoolSettings | undefined, object][] = [
  ['no connectionPool', undefined, defaults],
  ['an empty connectionPool', {}, defaults],
  ['tcp with only the schema defaults (2^32-1 connections, 10s)', { tcp: { maxConnections: 4294967295, connectTimeout: 10_000 } }, defaults],
  ['maxConnections 0 (proto3 unset)', { tcp: { maxConnections: 0 } }, defaults],
  ['maxConnections and connectTimeout', { tcp: { maxConnections: 100, connectTimeout: 250 } }, { ...defaults, connections: 100, connect: { ...defaults.connect, timeout: 250 } }],
  ['tcpKeepalive with a time', { tcp: { tcpKeepalive: { time: 30_000 } } }, { ...defaults, connect: { ...defaults.connect, keepAliveInitialDelay: 30_000 } }],
  ['tcpKeepalive without a time: the OS default', { tcp: { tcpKeepalive: {} } }, { ...defaults, connect: { ...defaults.connect, keepAliveInitialDelay: 0 } }],
  ['tcpKeepalive under a second: Node counts whole seconds', { tcp: { tcpKeepalive: { time: 200 } } }, { ...defaults, connect: { ...defaults.connect, keepAliveInitialDelay: 1_000 } }],
  ['maxRequestsPerConnection 0: unlimited', { http: { maxRequestsPerConnection: 0 } }, defaults],
  ['maxRequestsPerConnection 1: no keep-alive', { http: { maxRequestsPerConnection: 1 } }, { ...defaults, pipelining: 0 }],
  ['maxRequestsPerConnection 10: undici sends one more than it is told', { http: { maxRequestsPerConnection: 10 } }, { ...defaults, maxRequestsPerClient: 9 }],
  ['idleTimeout 1h (the schema default): caps a hint, unhinted stays 4s', { http: { idleTimeout: 3_600_000 } }, { ...defaults, keepAliveMaxTimeout: 3_600_000 }],
  ['idleTimeout under 4s bounds both', { http: { idleTimeout: 1_500 } }, { ...defaults, keepAliveTimeout: 1_500, keepAliveMaxTimeout: 1_500 }],
  ['idleTimeout 0 (Envoy: disabled)', { http: { idleTimeout: 0 } }, defaults],
];

for (const [name, settings, expected] of table) {
  test(`maps ${name}`, async (t) => {
    const options = poolOptionsFor(settings);
    t.deepEqual(options.undici, expected);
    // undici accepts every mapping.
    await new Pool('http://127.0.0.1:1', options.undici).close();
  });
}

test('the fingerprint is equal exactly when the undici options are', (t) => {
  const fingerprints = table.map(([, settings]) => poolOptionsFor(settings).fingerprint);
  for (let i = 0; i < table.length; i++) {
    for (let j = 0; j < table.length; j++) {
      t.is(fingerprints[i] === fingerprints[j], isDeepStrictEqual(table[i]![2], table[j]![2]), `${table[i]![0]} / ${table[j]![0]}`);
    }
  }
});

test('validated settings map as written: the schema filled idleTimeout 1h does not lengthen unhinted keep-alive', (t) => {
  const validated = ConnectionPoolSchema.parse({ tcp: { maxConnections: 5 }, http: { maxRequestsPerConnection: 3, http1MaxPendingRequests: 7 } });
  t.is(validated.http?.idleTimeout, 3_600_000);
  t.deepEqual(poolOptionsFor(validated).undici, {
    ...defaults,
    connections: 5,
    maxRequestsPerClient: 2,
    keepAliveMaxTimeout: 3_600_000,
  });
});

test('pool options are frozen config', (t) => {
  const options = poolOptionsFor({ tcp: { maxConnections: 3 } });
  t.true(Object.isFrozen(options));
  t.true(Object.isFrozen(options.undici));
  t.true(Object.isFrozen(options.undici.connect));
});

test('settings that give the same options share one object; others do not, and the HTTP/2 flag tells them apart', (t) => {
  t.is(poolOptionsFor({ tcp: { maxConnections: 3 } }), poolOptionsFor({ tcp: { maxConnections: 3 } }));
  // Different settings, same undici options (0 and no limit are both unlimited): shared too.
  t.is(poolOptionsFor({ http: { maxRequestsPerConnection: 0 } }), poolOptionsFor(undefined));
  t.not(poolOptionsFor({ tcp: { maxConnections: 3 } }), poolOptionsFor({ tcp: { maxConnections: 4 } }));
  const h2 = poolOptionsFor({ tcp: { maxConnections: 3 } }, true);
  t.not(h2, poolOptionsFor({ tcp: { maxConnections: 3 } }));
  t.true(h2.http2);
  t.is(h2, poolOptionsFor({ tcp: { maxConnections: 3 } }, true));
});
