import test from 'ava';
import { clientAddressOf } from '../../src/listeners/client-address.js';

// Envoy's xff_num_trusted_hops, as MeshConfig numTrustedProxies sets it.

test('with no trusted proxy the header is never read: the peer is the client', (t) => {
  t.is(clientAddressOf('::ffff:192.0.2.1', { 'x-forwarded-for': '10.0.0.1' }, 0), '192.0.2.1');
});

test('with N trusted proxies the client is the N-th entry from the right; what a client wrote before it is ignored', (t) => {
  const headers = { 'x-forwarded-for': 'spoofed, 203.0.113.7, 10.0.0.5' };
  t.is(clientAddressOf('127.0.0.1', headers, 1), '10.0.0.5');
  t.is(clientAddressOf('127.0.0.1', headers, 2), '203.0.113.7');
  t.is(clientAddressOf('127.0.0.1', { 'x-forwarded-for': ['198.51.100.1', '10.0.0.5'] }, 2), '198.51.100.1');
});

test('fewer entries than trusted proxies, or no header: the peer address stands', (t) => {
  t.is(clientAddressOf('127.0.0.1', { 'x-forwarded-for': '10.0.0.5' }, 2), '127.0.0.1');
  t.is(clientAddressOf('127.0.0.1', {}, 1), '127.0.0.1');
});
