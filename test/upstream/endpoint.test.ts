import test from 'ava';
import { endpointKey, endpointOrigin } from '../../src/upstream/endpoint.js';

test('keys and origins bracket IPv6 addresses so that the port stays readable', (t) => {
  t.is(endpointKey({ address: '10.0.0.1', port: 8080 }), '10.0.0.1:8080');
  t.is(endpointKey({ address: '::1', port: 8080 }), '[::1]:8080');
  t.is(endpointOrigin({ address: '10.0.0.1', port: 8080 }), 'http://10.0.0.1:8080');
  t.is(endpointOrigin({ address: '2001:db8::5', port: 443 }), 'http://[2001:db8::5]:443');
  // The origin is one undici accepts as it is.
  t.is(new URL(endpointOrigin({ address: '2001:db8::5', port: 8443 })).host, '[2001:db8::5]:8443');
});
