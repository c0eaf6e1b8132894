import http from 'node:http';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { MeshgateError } from '../../src/errors.js';
import { createHttpListener, type HttpListener, type HttpListenerOptions } from '../../src/listeners/http-listener.js';
import { createLogger } from '../../src/log.js';

const quietLogger = createLogger({ write: () => undefined });

async function start(
  t: ExecutionContext,
  handlers: Partial<Pick<HttpListenerOptions, 'onRequest' | 'onUpgrade'>>,
): Promise<HttpListener> {
  const listener = await createHttpListener({
    bind: '127.0.0.1',
    port: 0,
    logger: quietLogger,
    onRequest: handlers.onRequest ?? ((_req, res) => res.end()),
    onUpgrade: handlers.onUpgrade ?? ((_req, socket) => socket.destroy()),
  });
  t.teardown(() => listener.close(0));
  return listener;
}

/** Sends raw bytes, returns everything the server wrote until it closed the connection. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (part: string) => (received += part));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

function get(port: number, path: string, agent: http.Agent | false = false) {
  return new Promise<{ status?: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (part: string) => (body += part));
        res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

test('port 0 binds a free port that address() reports', async (t) => {
  const listener = await start(t, { onRequest: (_req, res) => res.end('hi') });
  const { address, port } = listener.address();
  t.is(address, '127.0.0.1');
  t.true(port > 0);
  t.is((await get(port, '/')).body, 'hi');
});

test('every request reaches onRequest raw: the path as sent, any method, a bad URL, any body untouched', async (t) => {
  const seen: string[] = [];
  const listener = await start(t, {
    onRequest: (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${Buffer.concat(parts).toString()}`);
        res.end();
      });
    },
  });
  const { port } = listener.address();
  const send = (head: string, body = '') =>
    rawExchange(port, `${head}\r\nHost: x\r\nConnection: close\r\n${body ? `Content-Length: ${body.length}\r\n` : ''}\r\n${body}`);

  await send('GET /a//b/../c%2F;p=1?x=1&x=2 HTTP/1.1');
  await send('PURGE /cache HTTP/1.1');
  await send('GET /%c0 HTTP/1.1');
  await send('POST /upload HTTP/1.1\r\nContent-Type: not a media type', '{"raw":');
  await send('QUERY /search HTTP/1.1', 'q=1');
  t.deepEqual(seen, [
    'GET /a//b/../c%2F;p=1?x=1&x=2 ',
    'PURGE /cache ',
    'GET /%c0 ',
    'POST /upload {"raw":',
    'QUERY /search q=1',
  ]);
});

test('a malformed request gets node\'s 4xx with no body and no stack, then the connection closes', async (t) => {
  const listener = await start(t, {});
  const { port } = listener.address();
  const badLine = await rawExchange(port, 'NOT A REQUEST\r\n\r\n');
  t.is(badLine, 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  const bigHeader = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(32 * 1024)}\r\n\r\n`);
  t.true(bigHeader.startsWith('HTTP/1.1 431 '));
  t.false(bigHeader.includes('Error'));
});

test('an Upgrade request goes to onUpgrade with its socket', async (t) => {
  const listener = await start(t, {
    onUpgrade: (req, socket) => socket.end(`HTTP/1.1 400 Bad Request\r\nx-upgrade: ${req.headers.upgrade}\r\ncontent-length: 0\r\n\r\n`),
  });
  const answer = await rawExchange(
    listener.address().port,
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  t.true(answer.includes('x-upgrade: websocket'));
});

test('close(drainMs) lets an in-flight request finish, refuses new connections and returns without waiting out drainMs', async (t) => {
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const listener = await start(t, {
    onRequest: (req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('finished'), 300);
      else res.end('quick');
    },
  });
  const { port } = listener.address();
  t.is((await get(port, '/warm-up', agent)).body, 'quick'); // leaves an idle keep-alive connection
  const slow = get(port, '/slow', agent);
  await new Promise((resolve) => setTimeout(resolve, 50));

  const startedAt = Date.now();
  const closed = listener.close(20_000);
  t.is((await slow).body, 'finished');
  await closed;
  t.true(Date.now() - startedAt < 10_000, 'close waited for drainMs although nothing was left');
  await t.throwsAsync(get(port, '/after', false), { code: 'ECONNREFUSED' });
});

test('close(drainMs) cuts requests still running at the deadline', async (t) => {
  const listener = await start(t, { onRequest: () => undefined });
  const { port } = listener.address();
  const hanging = get(port, '/never');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await listener.close(200);
  await t.throwsAsync(hanging, { code: 'ECONNRESET' });
});

test('a port already taken fails with MG_ERR_LISTEN', async (t) => {
  const listener = await start(t, {});
  const error = await t.throwsAsync(
    createHttpListener({
      bind: '127.0.0.1',
      port: listener.address().port,
      logger: quietLogger,
      onRequest: () => undefined,
      onUpgrade: () => undefined,
    }),
  );
  t.true(error instanceof MeshgateError);
  t.is((error as MeshgateError).code, 'MG_ERR_LISTEN');
});
