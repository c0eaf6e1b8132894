import test from 'ava';
import { createCircuitBreaker } from '../../src/upstream/circuit-breaker.js';

// Istio's connectionPool limits as Envoy's circuit-breaker thresholds; 2^32-1 and 0 are unlimited.

const unlimited = 4294967295;

test('no settings, or Istio\'s unlimited defaults: nothing overflows', (t) => {
  for (const breaker of [createCircuitBreaker(undefined), createCircuitBreaker({ tcp: { maxConnections: unlimited }, http: { http1MaxPendingRequests: unlimited, http2MaxRequests: 0 } })]) {
    t.false(breaker.overflows(10_000, 10_000));
    for (let i = 0; i < 1000; i++) t.true(breaker.startRetry());
  }
});

test('an endpoint takes maxConnections requests plus http1MaxPendingRequests waiting; the next overflows', (t) => {
  const breaker = createCircuitBreaker({ tcp: { maxConnections: 2 }, http: { http1MaxPendingRequests: 1 } });
  t.false(breaker.overflows(3, 3));
  t.true(breaker.overflows(4, 4));
  // Pending requests only exist when connections are limited.
  t.false(createCircuitBreaker({ http: { http1MaxPendingRequests: 1 } }).overflows(50, 50));
});

test('http2MaxRequests caps the cluster\'s requests in flight, for HTTP/1.1 too', (t) => {
  const breaker = createCircuitBreaker({ http: { http2MaxRequests: 5 } });
  t.false(breaker.overflows(1, 5));
  t.true(breaker.overflows(1, 6));
});

test('maxRetries caps retries in flight; a slot given back is free again', (t) => {
  const breaker = createCircuitBreaker({ http: { maxRetries: 2 } });
  t.true(breaker.startRetry());
  t.true(breaker.startRetry());
  t.false(breaker.startRetry());
  breaker.endRetry();
  t.true(breaker.startRetry());
});
