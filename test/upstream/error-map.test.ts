import test from 'ava';
import { errors as undiciErrors } from 'undici';
import { MeshgateError, type ResponseFlag } from '../../src/errors.js';
import { mapUpstreamError } from '../../src/upstream/error-map.js';

function codeError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

const table: [string, unknown, number, ResponseFlag][] = [
  ['connect refused', codeError('ECONNREFUSED'), 503, 'UF'],
  ['host unreachable', codeError('EHOSTUNREACH'), 503, 'UF'],
  ['DNS failure', codeError('ENOTFOUND'), 503, 'UF'],
  ['undici connect timeout', new undiciErrors.ConnectTimeoutError(), 503, 'UF'],
  ['pool destroyed by a reload', new undiciErrors.ClientDestroyedError(), 503, 'UF'],
  ['TLS handshake', codeError('ERR_SSL_WRONG_VERSION_NUMBER'), 503, 'UF'],
  ['headers timeout', new undiciErrors.HeadersTimeoutError(), 504, 'UT'],
  ['body timeout', new undiciErrors.BodyTimeoutError(), 504, 'UT'],
  ['reset after sending', codeError('ECONNRESET'), 503, 'UC'],
  ['other side closed', new undiciErrors.SocketError('other side closed'), 503, 'UC'],
  ['not HTTP', Object.assign(new Error('Expected HTTP/'), { code: 'HPE_INVALID_CONSTANT' }), 502, 'UPE'],
  ['headers overflow', new undiciErrors.HeadersOverflowError(), 502, 'UPE'],
  ['client aborted', new undiciErrors.RequestAbortedError(), 0, 'DC'],
  ['circuit breaker', new MeshgateError('UO', 'pool full'), 503, 'UO'],
  ['no endpoint', new MeshgateError('UH', 'no endpoints'), 503, 'UH'],
  ['code only on the cause', new Error('fetch failed', { cause: codeError('ECONNREFUSED') }), 503, 'UF'],
  ['unknown', new Error('something else'), 503, 'UC'],
  ['not an error', 'boom', 503, 'UC'],
];

for (const [name, error, status, flag] of table) {
  test(`${name} -> ${status} ${flag}`, (t) => {
    const failure = mapUpstreamError(error);
    t.is(failure.status, status);
    t.is(failure.flag, flag);
  });
}

test('local reply bodies name no address and carry no stack', (t) => {
  const err = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:8080'), { code: 'ECONNREFUSED' });
  const failure = mapUpstreamError(err);
  t.is(failure.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  t.is(failure.detail, 'upstream_reset_before_response_started{connection_failure}');
  t.false(failure.body.includes('10.0.0.5'));
});
