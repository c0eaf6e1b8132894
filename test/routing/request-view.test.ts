import test from 'ava';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { request } from 'undici';
import { createRequestView, queryParams, type RequestView } from '../../src/routing/request-view.js';

// A real server on 127.0.0.1 builds a view of each request it receives and answers with it, so
// these tests see exactly what Node hands the listener for what a client really sent.

let server: Server;
let port: number;

test.before(async () => {
  server = createServer((req, res) => {
    const view = createRequestView({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      scheme: 'http',
      port,
    });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...view, headers: undefined, params: Object.fromEntries(queryParams(view)) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

test.after.always(() => new Promise<void>((resolve) => server.close(() => resolve())));

type Seen = Omit<RequestView, 'headers'> & { params: Record<string, string> };

async function viewOf(path: string, headers: Record<string, string> = {}): Promise<Seen> {
  const response = await request(`http://127.0.0.1:${port}${path}`, { headers });
  return (await response.body.json()) as Seen;
}

// Sends bytes as they are, for request targets and Host headers an HTTP client would not produce.
async function rawViewOf(head: string): Promise<Seen> {
  const socket = connect(port, '127.0.0.1');
  socket.end(head);
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Seen;
}

test('path and query are split; the query stays raw', async (t) => {
  const seen = await viewOf('/productpage?u=normal&x=a%20b', { host: 'bookinfo.com' });
  t.is(seen.method, 'GET');
  t.is(seen.path, '/productpage');
  t.is(seen.query, 'u=normal&x=a%20b');
  t.deepEqual(seen.params, { u: 'normal', x: 'a%20b' });
  t.is(seen.scheme, 'http');
  t.is(seen.port, port);
});

test('no query: query is \'\' and there are no parameters', async (t) => {
  const seen = await viewOf('/static/app.css');
  t.is(seen.path, '/static/app.css');
  t.is(seen.query, '');
  t.deepEqual(seen.params, {});
});

test('Host with a port: authority keeps it as sent, host is lower-cased without it', async (t) => {
  const seen = await viewOf('/', { host: 'BookInfo.com:8080' });
  t.is(seen.authority, 'BookInfo.com:8080');
  t.is(seen.host, 'bookinfo.com');
});

test('IPv6 Host: brackets kept, port stripped', async (t) => {
  const seen = await viewOf('/', { host: '[::1]:8080' });
  t.is(seen.authority, '[::1]:8080');
  t.is(seen.host, '[::1]');
});

test('a trailing dot in Host is kept, as Envoy keeps it', async (t) => {
  const seen = await viewOf('/', { host: 'bookinfo.com.' });
  t.is(seen.host, 'bookinfo.com.');
});

test('HTTP/1.0 without Host: authority and host are empty', async (t) => {
  const seen = await rawViewOf('GET /x HTTP/1.0\r\n\r\n');
  t.is(seen.authority, '');
  t.is(seen.host, '');
  t.is(seen.path, '/x');
});

test('absolute-form target: the URI\'s authority replaces the Host header', async (t) => {
  const seen = await rawViewOf('GET http://Other.example:81/a/b?q=1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n');
  t.is(seen.authority, 'Other.example:81');
  t.is(seen.host, 'other.example');
  t.is(seen.path, '/a/b');
  t.is(seen.query, 'q=1');
});

test('a fragment sent on the wire never reaches the path or the query', async (t) => {
  const seen = await rawViewOf('GET /a?b=1#frag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.is(seen.path, '/a');
  t.is(seen.query, 'b=1');
});

test('OPTIONS * keeps its asterisk path', async (t) => {
  const seen = await rawViewOf('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.is(seen.method, 'OPTIONS');
  t.is(seen.path, '*');
});

function view(query: string): RequestView {
  return createRequestView({ method: 'GET', url: `/p?${query}`, headers: {}, scheme: 'http', port: 80 });
}

test('queryParams: `?key` is \'\', the first of a repeated key wins, `=` in a value stays', (t) => {
  const params = queryParams(view('flag&a=1&a=2&eq=x=y&empty='));
  t.is(params.get('flag'), '');
  t.is(params.get('a'), '1');
  t.is(params.get('eq'), 'x=y');
  t.is(params.get('empty'), '');
  t.false(params.has('missing'));
});

test('queryParams parses once per request and keeps the result', (t) => {
  const req = view('a=1');
  t.is(queryParams(req), queryParams(req));
  t.not(queryParams(req), queryParams(view('a=1')));
});
