import test from 'ava';
import type { ResponseFlag } from '../../src/errors.js';
import { backoffDelayMs, compileRetryPolicy } from '../../src/upstream/retry-policy.js';

// Istio's HTTPRetry read as istiod hands it to Envoy: the default policy, attempts 0, retryOn
// token by token, status codes, and Envoy's jittered exponential back-off.

const noHeaders = {};
const grpc = (code: string) => ({ 'grpc-status': code });

test('no retries block: Istio\'s default, 2 retries on connect-failure, refused-stream, unavailable, cancelled, and no status code', (t) => {
  const policy = compileRetryPolicy(undefined)!;
  t.is(policy.retries, 2);
  t.true(policy.avoidPreviousHosts);
  t.is(policy.backoffBaseMs, 25);
  t.false(policy.retriableResponse(503, noHeaders));
  t.false(policy.retriableResponse(500, noHeaders));
  t.false(policy.retriableResponse(502, noHeaders));
  t.true(policy.retriableResponse(200, grpc('14')));
  t.true(policy.retriableResponse(200, grpc('1')));
  t.false(policy.retriableResponse(200, grpc('4')));
  t.true(policy.retriableFailure('UF'));
  t.false(policy.retriableFailure('UC'));
  t.false(policy.retriableFailure('UT'));
});

test('attempts 0 (or a retries block without attempts) turns retries off', (t) => {
  t.is(compileRetryPolicy({ attempts: 0 }), undefined);
  t.is(compileRetryPolicy({ retryOn: '5xx' }), undefined);
});

// [retryOn, what the try got, retried?]
type Got = { status: number; headers?: Record<string, string> } | { flag: ResponseFlag };
const table: [string, string, Got, boolean][] = [
  ['5xx', '500', { status: 500 }, true],
  ['5xx', '503', { status: 503 }, true],
  ['5xx', '409', { status: 409 }, false],
  ['5xx', 'connect failure', { flag: 'UF' }, true],
  ['5xx', 'reset', { flag: 'UC' }, true],
  ['5xx', 'per-try timeout', { flag: 'UT' }, true],
  ['gateway-error', '502', { status: 502 }, true],
  ['gateway-error', '504', { status: 504 }, true],
  ['gateway-error', '500', { status: 500 }, false],
  ['gateway-error', 'reset', { flag: 'UC' }, true],
  ['reset', 'reset', { flag: 'UC' }, true],
  ['reset', 'per-try timeout', { flag: 'UT' }, true],
  ['reset', '503', { status: 503 }, false],
  ['connect-failure', 'connect failure', { flag: 'UF' }, true],
  ['connect-failure', 'reset', { flag: 'UC' }, false],
  ['connect-failure', '503', { status: 503 }, false],
  ['retriable-4xx', '409', { status: 409 }, true],
  ['retriable-4xx', '404', { status: 404 }, false],
  ['refused-stream', 'connect failure', { flag: 'UF' }, false],
  ['retriable-status-codes', '503 (no codes listed)', { status: 503 }, false],
  ['503', '503', { status: 503 }, true],
  ['503', '502', { status: 502 }, false],
  ['retriable-status-codes,418', '418', { status: 418 }, true],
  ['cancelled', 'grpc-status 1', { status: 200, headers: grpc('1') }, true],
  ['unavailable', 'grpc-status 14', { status: 200, headers: grpc('14') }, true],
  ['deadline-exceeded', 'grpc-status 4', { status: 200, headers: grpc('4') }, true],
  ['resource-exhausted', 'grpc-status 8', { status: 200, headers: grpc('8') }, true],
  ['unavailable', 'grpc-status 8', { status: 200, headers: grpc('8') }, false],
  ['5xx', 'the client left', { flag: 'DC' }, false],
  ['5xx', 'overflow', { flag: 'UO' }, false],
];

for (const [retryOn, what, got, retried] of table) {
  test(`retryOn "${retryOn}": ${what} is ${retried ? '' : 'not '}retried`, (t) => {
    const policy = compileRetryPolicy({ attempts: 1, retryOn })!;
    const answer = 'flag' in got ? policy.retriableFailure(got.flag) : policy.retriableResponse(got.status, got.headers ?? noHeaders);
    t.is(answer, retried);
  });
}

test('perTryTimeout, retryIgnorePreviousHosts and backoff are read', (t) => {
  const policy = compileRetryPolicy({ attempts: 3, perTryTimeout: 200, retryIgnorePreviousHosts: false, backoff: 100 })!;
  t.is(policy.retries, 3);
  t.is(policy.perTryTimeoutMs, 200);
  t.false(policy.avoidPreviousHosts);
  t.is(policy.backoffBaseMs, 100);
});

test('back-off: below base x (2^n - 1), never above ten times the base', (t) => {
  const policy = { backoffBaseMs: 25 };
  const almostOne = () => 0.999999;
  t.is(backoffDelayMs(policy, 1, almostOne), 24);
  t.is(backoffDelayMs(policy, 2, almostOne), 74);
  t.is(backoffDelayMs(policy, 3, almostOne), 174);
  t.is(backoffDelayMs(policy, 4, almostOne), 249);
  t.is(backoffDelayMs(policy, 10, almostOne), 249);
  t.is(backoffDelayMs(policy, 1, () => 0), 0);
});

test('every route without retries shares one default policy; an explicit block compiles anew (a compile interns it)', (t) => {
  t.is(compileRetryPolicy(undefined), compileRetryPolicy(undefined));
  t.not(compileRetryPolicy({ attempts: 2 }), compileRetryPolicy({ attempts: 2 }));
});
