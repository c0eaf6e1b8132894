import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { Pool, request } from 'undici';
import { forwardRequest, type ForwardOutcome } from '../../src/upstream/forward.js';
import { buildUpstreamRequestHeaders } from '../../src/upstream/request-headers.js';
import { freePort } from '../helpers/free-port.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(t: ExecutionContext, handler: Handler): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

interface GatewayOptions {
  timeoutMs?: number;
  editResponseHeaders?: (headers: OutgoingHttpHeaders, status: number) => void;
}

/** A bare node server that forwards every request to the upstream port through forwardRequest. */
async function startGateway(t: ExecutionContext, upstreamPort: number, options: GatewayOptions = {}) {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`);
  t.teardown(() => pool.destroy());
  const outcomes: Promise<ForwardOutcome>[] = [];
  const port = await listen(t, (req, res) => {
    const headers = buildUpstreamRequestHeaders(req.headers, {
      remoteAddress: req.socket.remoteAddress,
      scheme: 'http',
      authority: req.headers.host ?? '',
    });
    outcomes.push(forwardRequest({ req, res, dispatcher: pool, path: req.url ?? '/', headers, ...options }));
  });
  return { url: `http://127.0.0.1:${port}`, port, outcomes };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function failAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

test('a 1 MiB body streams through in both directions while the other end is still sending', async (t) => {
  const requestBody = randomBytes(1024 * 1024);
  const responseBody = randomBytes(1024 * 1024);
  const chunk = 64 * 1024;
  const upstreamGotFirstChunk = deferred();
  const clientGotFirstChunk = deferred();
  let upstreamSawHash = '';

  const upstreamPort = await listen(t, (req, res) => {
    const parts: Buffer[] = [];
    req.once('data', () => upstreamGotFirstChunk.resolve());
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', async () => {
      upstreamSawHash = sha256(Buffer.concat(parts));
      res.writeHead(200, { 'content-length': responseBody.length });
      res.write(responseBody.subarray(0, chunk));
      // The rest only once the client has the first chunk: a gateway that buffers would hang here.
      await clientGotFirstChunk.promise;
      res.end(responseBody.subarray(chunk));
    });
  });
  const gateway = await startGateway(t, upstreamPort);

  async function* clientBody() {
    yield requestBody.subarray(0, chunk);
    // Likewise: the rest of the upload only once the upstream has its first chunk.
    await upstreamGotFirstChunk.promise;
    for (let offset = chunk; offset < requestBody.length; offset += chunk) yield requestBody.subarray(offset, offset + chunk);
  }

  const exchange = (async () => {
    const response = await request(`${gateway.url}/upload`, { method: 'POST', body: Readable.from(clientBody()) });
    const received: Buffer[] = [];
    for await (const part of response.body) {
      clientGotFirstChunk.resolve();
      received.push(part as Buffer);
    }
    return { status: response.statusCode, body: Buffer.concat(received) };
  })();
  const result = await Promise.race([exchange, failAfter(20_000, 'the gateway waited for a whole body before passing it on')]);

  t.is(result.status, 200);
  t.is(upstreamSawHash, sha256(requestBody));
  t.is(sha256(result.body), sha256(responseBody));
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.status, 200);
  t.is(outcome.flag, undefined);
  t.is(outcome.detail, 'via_upstream');
  t.is(outcome.bytesReceived, requestBody.length);
  t.is(outcome.bytesSent, responseBody.length);
  t.is(typeof outcome.upstreamMs, 'number');
});

test('hop-by-hop headers are stripped both ways; XFF, proto and request id are set; response edits apply', async (t) => {
  const upstreamPort = await listen(t, (req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      connection: 'x-backend-hop',
      'x-backend-hop': 'private',
      'keep-alive': 'timeout=9',
      'proxy-connection': 'keep-alive',
    });
    res.end(JSON.stringify(req.headers));
  });
  const gateway = await startGateway(t, upstreamPort, {
    editResponseHeaders: (headers, status) => {
      headers['x-edited'] = String(status);
    },
  });

  const response = await new Promise<IncomingMessage & { text: string }>((resolve, reject) => {
    http
      .get(
        `${gateway.url}/echo`,
        {
          agent: false,
          headers: {
            host: 'shop.example.com',
            connection: 'keep-alive, X-Client-Hop',
            'x-client-hop': 'private',
            'keep-alive': 'timeout=5',
            'proxy-connection': 'keep-alive',
            te: 'trailers',
            'x-forwarded-for': '198.51.100.9',
            'x-request-id': 'client-id-1',
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (part: string) => (text += part));
          res.on('end', () => resolve(Object.assign(res, { text })));
        },
      )
      .on('error', reject);
  });

  const seen = JSON.parse(response.text) as Record<string, string>;
  t.is(seen.host, 'shop.example.com');
  t.is(seen['x-client-hop'], undefined);
  t.is(seen['keep-alive'], undefined);
  t.is(seen['proxy-connection'], undefined);
  t.is(seen['transfer-encoding'], undefined, 'a GET without a body is not sent chunked');
  t.is(seen.te, 'trailers');
  t.is(seen['x-forwarded-for'], '198.51.100.9, 127.0.0.1');
  t.is(seen['x-forwarded-proto'], 'http');
  t.is(seen['x-request-id'], 'client-id-1');

  t.is(response.headers['x-backend-hop'], undefined);
  t.is(response.headers['proxy-connection'], undefined);
  t.not(response.headers['keep-alive'], 'timeout=9');
  t.is(response.headers['x-edited'], '200');
  t.regex(String(response.headers['x-envoy-upstream-service-time']), /^\d+$/);
});

test('connection refused: 503 UF with Envoy\'s short text body', async (t) => {
  // Nothing listens there, and no other test's listen(0) can take it meanwhile.
  const closedPort = await freePort();
  const gateway = await startGateway(t, closedPort);
  const response = await request(`${gateway.url}/x`);
  const body = await response.body.text();
  t.is(response.statusCode, 503);
  t.is(response.headers['content-type'], 'text/plain');
  t.is(body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  t.false(body.includes(String(closedPort)));
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.flag, 'UF');
  t.is(outcome.status, 503);
  t.is(outcome.detail, 'upstream_reset_before_response_started{connection_failure}');
  t.is(outcome.bytesSent, body.length);
});

test('an upstream slower than the route timeout: 504 UT, and the upstream request is abandoned', async (t) => {
  const upstreamAbandoned = deferred();
  const upstreamPort = await listen(t, (_req, res) => {
    res.once('close', () => upstreamAbandoned.resolve());
  });
  const gateway = await startGateway(t, upstreamPort, { timeoutMs: 200 });
  const response = await request(`${gateway.url}/slow`);
  t.is(response.statusCode, 504);
  t.is(await response.body.text(), 'upstream request timeout');
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.flag, 'UT');
  t.is(outcome.detail, 'response_timeout');
  const abandoned = await Promise.race([upstreamAbandoned.promise.then(() => true), failAfter(10_000, 'the upstream request was left open')]);
  t.true(abandoned, 'the upstream saw its request closed');
});

test('an upstream reset after the response started resets the client too', async (t) => {
  const upstreamPort = await listen(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100000' });
    res.write(Buffer.alloc(1000, 'a'), () => setTimeout(() => res.socket?.destroy(), 50));
  });
  const gateway = await startGateway(t, upstreamPort);
  const clientSaw = await new Promise<{ status?: number; complete: boolean; bytes: number }>((resolve) => {
    http.get(`${gateway.url}/reset`, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (part: Buffer) => (bytes += part.length));
      res.on('close', () => resolve({ status: res.statusCode, complete: res.complete, bytes }));
      res.on('error', () => undefined);
    });
  });
  t.is(clientSaw.status, 200);
  t.false(clientSaw.complete, 'the client must not take a truncated body for a whole one');
  t.is(clientSaw.bytes, 1000);
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.status, 200);
  t.is(outcome.flag, 'UC');
  t.is(outcome.detail, 'upstream_reset_after_response_started{connection_termination}');
});

test('a client that goes away aborts the upstream request: DC, status 0', async (t) => {
  const upstreamGotRequest = deferred();
  const upstreamSawAbort = deferred();
  const upstreamPort = await listen(t, (_req, res) => {
    upstreamGotRequest.resolve();
    res.once('close', () => upstreamSawAbort.resolve());
  });
  const gateway = await startGateway(t, upstreamPort);
  const clientRequest = http.get(`${gateway.url}/long-poll`, { agent: false });
  clientRequest.on('error', () => undefined);
  await upstreamGotRequest.promise;
  clientRequest.destroy();
  await Promise.race([upstreamSawAbort.promise, failAfter(10_000, 'the upstream never learnt the client left')]);
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.flag, 'DC');
  t.is(outcome.status, 0);
  t.is(outcome.detail, 'downstream_remote_disconnect');
});

test('HEAD and bodiless POST pass through with their framing intact', async (t) => {
  const upstreamPort = await listen(t, (req, res) => {
    let length = 0;
    req.on('data', (part: Buffer) => (length += part.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '5', 'x-method': req.method ?? '', 'x-length': String(length) });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
  });
  const gateway = await startGateway(t, upstreamPort);
  const head = await request(gateway.url, { method: 'HEAD' });
  t.is(head.statusCode, 200);
  t.is(head.headers['content-length'], '5');
  t.is(await head.body.text(), '');
  const post = await request(gateway.url, { method: 'POST', headers: { 'content-length': '0' } });
  t.is(post.headers['x-method'], 'POST');
  t.is(post.headers['x-length'], '0');
  t.is(await post.body.text(), 'hello');
});
