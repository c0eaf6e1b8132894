// A route's retry policy: Istio's HTTPRetry turned into Envoy's retry_on semantics the way istiod
// converts it (pilot route/retry): no `retries` block means Istio's default policy, `attempts: 0`
// disables retries, and a status code in retryOn ("503") becomes a retriable status code.
// Everything here is decided once per snapshot; a request only asks the compiled predicates.

import type { ResponseFlag } from '../errors.js';

/** Istio HTTPRetry as validated (durations in milliseconds). */
export interface RetrySettings {
  readonly attempts?: number;
  readonly perTryTimeout?: number;
  readonly retryOn?: string;
  readonly retryIgnorePreviousHosts?: boolean;
  readonly backoff?: number;
}

export interface RetryPolicy {
  /** Retries after the first try (Envoy's num_retries; Istio's `attempts`). */
  readonly retries: number;
  readonly perTryTimeoutMs?: number;
  /** Whether a retry avoids endpoints already tried (Envoy's previous_hosts predicate); never with consistent hashing. */
  readonly avoidPreviousHosts: boolean;
  /** Envoy's jittered exponential back-off: base interval, capped at ten times it. */
  readonly backoffBaseMs: number;
  /** A response the upstream sent is worth another try. */
  retriableResponse(status: number, headers: Readonly<Record<string, string | string[] | undefined>>): boolean;
  /** A try that got no response (flag UF, UC, UT for a per-try timeout...) is worth another. */
  retriableFailure(flag: ResponseFlag): boolean;
}

/** The retryOn tokens meshgate knows (Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on). */
export const retryOnTokens = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'cancelled',
  'unavailable',
  'deadline-exceeded',
  'resource-exhausted',
] as const;
type RetryOnToken = (typeof retryOnTokens)[number];

const DEFAULT_BACKOFF_MS = 25;
// istiod's default: 2 retries on these conditions. Current istiod lists no retriable status
// codes with it (older releases listed 503), so retriable-status-codes alone matches nothing.
const defaultRetryOn = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

// gRPC status codes of the gRPC tokens, read from a trailers-only response's grpc-status header.
const grpcCodes: Readonly<Partial<Record<RetryOnToken, string>>> = {
  cancelled: '1',
  'deadline-exceeded': '4',
  'resource-exhausted': '8',
  unavailable: '14',
};

/** Splits retryOn into known tokens and status codes; anything else is reported by the caller. */
export function parseRetryOn(retryOn: string): { tokens: RetryOnToken[]; codes: number[]; unknown: string[] } {
  const tokens: RetryOnToken[] = [];
  const codes: number[] = [];
  const unknown: string[] = [];
  for (const raw of retryOn.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (/^\d{3}$/.test(item)) codes.push(Number(item));
    else if ((retryOnTokens as readonly string[]).includes(item)) tokens.push(item as RetryOnToken);
    else unknown.push(item);
  }
  return { tokens, codes, unknown };
}

/** The policy of a route; undefined when retries are off (`attempts: 0`). */
export function compileRetryPolicy(settings: RetrySettings | undefined): RetryPolicy | undefined {
  if (settings === undefined) return istioDefaultPolicy;
  if ((settings.attempts ?? 0) <= 0) return undefined;
  return new CompiledRetryPolicy(settings);
}

/**
 * Plain data and methods on the prototype: a route's policy is one small object, not two
 * closures, their contexts and two Sets.
 */
class CompiledRetryPolicy implements RetryPolicy {
  readonly retries: number;
  readonly perTryTimeoutMs?: number;
  readonly avoidPreviousHosts: boolean;
  readonly backoffBaseMs: number;
  readonly #any5xx: boolean;
  readonly #gateway: boolean;
  readonly #resets: boolean;
  readonly #connect: boolean;
  readonly #retriable4xx: boolean;
  readonly #statusCodes: readonly number[];
  /** grpc-status values of the gRPC tokens in retryOn. */
  readonly #grpc: readonly string[];

  constructor(settings: RetrySettings | undefined) {
    const parsed = parseRetryOn(settings?.retryOn ?? defaultRetryOn);
    // istiod: a status code in retryOn switches on retriable-status-codes.
    const on = new Set<RetryOnToken>(parsed.tokens);
    if (parsed.codes.length > 0) on.add('retriable-status-codes');
    this.retries = settings?.attempts ?? 2;
    this.perTryTimeoutMs = settings?.perTryTimeout;
    this.avoidPreviousHosts = settings?.retryIgnorePreviousHosts ?? true;
    this.backoffBaseMs = settings?.backoff ?? DEFAULT_BACKOFF_MS;
    this.#any5xx = on.has('5xx');
    this.#gateway = this.#any5xx || on.has('gateway-error');
    this.#resets = this.#gateway || on.has('reset');
    this.#connect = this.#resets || on.has('connect-failure');
    this.#retriable4xx = on.has('retriable-4xx');
    this.#statusCodes = [...new Set(parsed.codes)];
    this.#grpc = [...on].map((token) => grpcCodes[token]).filter((code): code is string => code !== undefined);
    Object.freeze(this);
  }

  retriableResponse(status: number, headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
    if (this.#any5xx && status >= 500) return true;
    if (this.#gateway && (status === 502 || status === 503 || status === 504)) return true;
    if (status === 409 && this.#retriable4xx) return true;
    if (this.#statusCodes.includes(status)) return true;
    if (this.#grpc.length === 0) return false;
    const grpcStatus = headers['grpc-status'];
    return typeof grpcStatus === 'string' && this.#grpc.includes(grpcStatus);
  }

  retriableFailure(flag: ResponseFlag): boolean {
    switch (flag) {
      case 'UF':
        // A connection that was never made. (Envoy never retries an overflow, UO.)
        return this.#connect;
      case 'UC':
      case 'UPE':
      case 'UT':
        // No usable response: Envoy retries these as resets (a per-try timeout included).
        return this.#resets;
      default:
        return false;
    }
  }
}

/** What a route without `retries` gets: one instance, shared by every such route of every snapshot. */
const istioDefaultPolicy: RetryPolicy = new CompiledRetryPolicy(undefined);

/**
 * Envoy's JitteredExponentialBackOffStrategy: the n-th retry (from 1) waits a random time below
 * base × (2^n - 1), never more than ten times the base.
 */
export function backoffDelayMs(policy: Pick<RetryPolicy, 'backoffBaseMs'>, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.backoffBaseMs * (2 ** retry - 1), policy.backoffBaseMs * 10);
  return Math.floor(random() * ceiling);
}
