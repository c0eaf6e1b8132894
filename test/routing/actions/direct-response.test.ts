import test from 'ava';
import { compileDirectResponse } from '../../../src/routing/actions/direct-response.js';

test('Istio docs: a string body goes out as text/plain with the status', (t) => {
  const response = compileDirectResponse({ status: 503, body: { string: 'unknown path' } });
  t.is(response.status, 503);
  t.is(response.body.toString('utf8'), 'unknown path');
  t.deepEqual(response.headers, { 'content-type': 'text/plain' });
  t.is(response.detail, 'direct_response');
});

test('a bytes body is base64 and is sent as the decoded bytes', (t) => {
  const response = compileDirectResponse({ status: 200, body: { bytes: Buffer.from([0, 255, 1, 254]).toString('base64') } });
  t.deepEqual([...response.body], [0, 255, 1, 254]);
});

test('no body: an empty body and no content type', (t) => {
  const response = compileDirectResponse({ status: 204 });
  t.is(response.body.length, 0);
  t.deepEqual(response.headers, {});
});

test('a multi-byte string body is its UTF-8 bytes', (t) => {
  t.is(compileDirectResponse({ status: 200, body: { string: 'héllo ✓' } }).body.length, 10);
});

test('the compiled response is frozen config', (t) => {
  const response = compileDirectResponse({ status: 200, body: { string: 'x' } });
  t.true(Object.isFrozen(response));
  t.true(Object.isFrozen(response.headers));
});
