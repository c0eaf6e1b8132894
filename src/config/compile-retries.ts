import type { HTTPRetry, VirtualServiceSpec } from './kinds/virtual-service.js';
import type { Resource } from './validate.js';
import type { IssueSink } from './compile-issues.js';
import type { FieldPath } from './issue.js';
import type { Interner } from './interner.js';
import { compileRetryPolicy, parseRetryOn, type RetryPolicy } from '../upstream/retry-policy.js';

// A route's `retries`, with what it says checked the way Istio's validation does: retryOn items
// are Envoy retry conditions or HTTP status codes. Conditions Envoy knows but meshgate does not
// act on are warned about and ignored.

// Envoy conditions Istio accepts that meshgate has nothing to act on (rate-limit headers from
// Envoy, HTTP/3, retriable-headers which Istio cannot configure).
const notActedOn = new Set(['envoy-ratelimited', 'retriable-headers', 'reset-before-request', 'http3-post-connect-failure', 'internal']);

export function compileRouteRetries(
  vs: Resource<VirtualServiceSpec>,
  retries: HTTPRetry | undefined,
  path: FieldPath,
  issues: IssueSink,
  shared: Interner,
): RetryPolicy | undefined {
  if (retries?.retryOn !== undefined) {
    const { codes, unknown } = parseRetryOn(retries.retryOn);
    for (const item of unknown) {
      if (notActedOn.has(item)) issues.unsupported(vs, [...path, 'retryOn'], `retry condition "${item}" is valid Istio but meshgate does not act on it; it is ignored`);
      else issues.error(vs, [...path, 'retryOn'], 'MG_ERR_CONFIG_FIELD_VALUE', `"${item}" is not a retry condition (expected Envoy's 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, resource-exhausted, unavailable, or an HTTP status code)`);
    }
    for (const code of codes) {
      if (code < 100 || code > 599) issues.error(vs, [...path, 'retryOn'], 'MG_ERR_CONFIG_FIELD_VALUE', `${code} is not an HTTP status code`);
    }
  }
  if (retries?.retryRemoteLocalities !== undefined) {
    issues.unsupported(vs, [...path, 'retryRemoteLocalities'], 'retries.retryRemoteLocalities is valid Istio but meshgate has no localities to choose between; it is ignored');
  }
  return shared.intern(`retry ${JSON.stringify(retries)}`, () => compileRetryPolicy(retries));
}
