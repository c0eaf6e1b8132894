import test from 'ava';
import { compileRedirect, type HttpRedirectSpec, type RedirectRequest } from '../../../src/routing/actions/redirect.js';

const request: RedirectRequest = {
  scheme: 'http',
  host: 'ratings.example.com',
  port: 8080,
  path: '/v1/getProductRatings',
  query: '',
};

const table: [string, HttpRedirectSpec, Partial<RedirectRequest>, number, string][] = [
  [
    'Istio docs: uri and authority replaced, 301 by default',
    { uri: '/v1/bookRatings', authority: 'newratings.default.svc.cluster.local' },
    {},
    301,
    'http://newratings.default.svc.cluster.local/v1/bookRatings',
  ],
  ['uri keeps the request query', { uri: '/new' }, { query: 'a=1&b=2' }, 301, 'http://ratings.example.com/new?a=1&b=2'],
  ['a query in uri replaces the request one', { uri: '/new?from=old' }, { query: 'a=1' }, 301, 'http://ratings.example.com/new?from=old'],
  ['no uri keeps path and query', { authority: 'other.example.com' }, { query: 'q' }, 301, 'http://other.example.com/v1/getProductRatings?q'],
  ['uri without a leading slash gets one', { uri: 'relative' }, {}, 301, 'http://ratings.example.com/relative'],
  ['redirectCode is used as given', { uri: '/x', redirectCode: 308 }, {}, 308, 'http://ratings.example.com/x'],
  ['scheme https, no port named', { scheme: 'https' }, {}, 301, 'https://ratings.example.com/v1/getProductRatings'],
  ['scheme https drops the Host port :80 of the old scheme', { scheme: 'https' }, { hostPort: 80 }, 301, 'https://ratings.example.com/v1/getProductRatings'],
  ['scheme https keeps a non-default Host port', { scheme: 'https' }, { hostPort: 8080 }, 301, 'https://ratings.example.com:8080/v1/getProductRatings'],
  ['same scheme keeps the Host port', { uri: '/x' }, { hostPort: 8080 }, 301, 'http://ratings.example.com:8080/x'],
  ['port replaces the Host port', { port: 9443 }, { hostPort: 8080 }, 301, 'http://ratings.example.com:9443/v1/getProductRatings'],
  ['https with port 443 writes no port', { scheme: 'https', port: 443 }, { hostPort: 80 }, 301, 'https://ratings.example.com/v1/getProductRatings'],
  ['http with port 80 writes no port', { port: 80 }, {}, 301, 'http://ratings.example.com/v1/getProductRatings'],
  ['derivePort FROM_REQUEST_PORT uses the listener port', { derivePort: 'FROM_REQUEST_PORT' }, {}, 301, 'http://ratings.example.com:8080/v1/getProductRatings'],
  ['derivePort FROM_REQUEST_PORT on 80 over http writes none', { derivePort: 'FROM_REQUEST_PORT' }, { port: 80 }, 301, 'http://ratings.example.com/v1/getProductRatings'],
  ['derivePort FROM_PROTOCOL_DEFAULT writes none', { scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' }, {}, 301, 'https://ratings.example.com/v1/getProductRatings'],
  ['authority and port together', { authority: 'new.example.com', port: 8443, scheme: 'https' }, { hostPort: 80 }, 301, 'https://new.example.com:8443/v1/getProductRatings'],
  ['authority alone drops the request port', { authority: 'new.example.com' }, { hostPort: 8080 }, 301, 'http://new.example.com/v1/getProductRatings'],
  ['IPv6 host keeps its brackets', { uri: '/x' }, { host: '[2001:db8::1]', hostPort: 8080 }, 301, 'http://[2001:db8::1]:8080/x'],
];

for (const [name, spec, overrides, status, location] of table) {
  test(name, (t) => {
    t.deepEqual(compileRedirect(spec)({ ...request, ...overrides }), { status, location });
  });
}
