import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { request } from 'undici';
import { sendLocalReply } from '../../src/upstream/local-reply.js';
import type { ForwardOutcome } from '../../src/upstream/local-reply.js';

async function serve(t: import('ava').ExecutionContext, reply: (res: http.ServerResponse) => ForwardOutcome) {
  const outcomes: ForwardOutcome[] = [];
  const server = http.createServer((_req, res) => outcomes.push(reply(res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, outcomes };
}

test('a local reply is text/plain with its length, and reports its status, flag and bytes', async (t) => {
  const server = await serve(t, (res) => sendLocalReply(res, 503, 'no healthy upstream', 'UH'));
  const response = await request(server.url);
  t.is(response.statusCode, 503);
  t.is(response.headers['content-type'], 'text/plain');
  t.is(response.headers['content-length'], '19');
  t.is(await response.body.text(), 'no healthy upstream');
  t.deepEqual(server.outcomes[0], { status: 503, flag: 'UH', bytesReceived: 0, bytesSent: 19 });
});

test('an empty local reply (404 NR) has content-length 0 and no content type', async (t) => {
  const server = await serve(t, (res) => sendLocalReply(res, 404, '', 'NR'));
  const response = await request(server.url);
  t.is(response.statusCode, 404);
  t.is(response.headers['content-length'], '0');
  t.is(response.headers['content-type'], undefined);
});

test('extra headers go out with it and may set the content type; HEAD gets no body', async (t) => {
  const server = await serve(t, (res) =>
    sendLocalReply(res, 200, '{"ok":true}', undefined, { 'content-type': 'application/json', 'x-extra': '1' }),
  );
  const response = await request(server.url);
  t.is(response.headers['content-type'], 'application/json');
  t.is(response.headers['x-extra'], '1');
  t.is(await response.body.text(), '{"ok":true}');
  const head = await request(server.url, { method: 'HEAD' });
  t.is(head.headers['content-length'], '11');
  t.is(await head.body.text(), '');
  t.is(server.outcomes[1]?.bytesSent, 0);
});

test('once the response has started, a local reply resets the connection instead', async (t) => {
  const server = await serve(t, (res) => {
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
    return sendLocalReply(res, 503, 'too late', 'UC');
  });
  const error = await t.throwsAsync(async () => {
    const response = await request(server.url);
    await response.body.text();
  });
  t.truthy(error);
  t.is(server.outcomes[0]?.status, 200);
});
