// The yardstick of the proxy benchmark: the least a fastify proxy can do. One catch-all route
// hijacks the reply and forwards with undici's Pool.stream() over kept-alive connections; no
// routing, no filters, no access log. What meshgate costs beyond this is what its features cost.
// It imports only fastify and undici: run.ts transpiles it and runs it with plain node.
//
//   node reference-proxy.mjs UPSTREAM_PORT [CERT KEY]
//   prints {"port":N} once listening on 127.0.0.1 (HTTPS with CERT and KEY)
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Pool, type Dispatcher } from 'undici';

const upstreamPort = Number(process.argv[2]);
const [certFile, keyFile] = process.argv.slice(3);
if (!Number.isInteger(upstreamPort) || upstreamPort <= 0) throw new Error('usage: reference-proxy UPSTREAM_PORT [CERT KEY]');

// Connection-scoped headers (RFC 9110 7.6.1) cannot be forwarded; undici refuses most of them.
const hopByHop: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in headers) if (!hopByHop.has(name)) out[name] = headers[name];
  return out;
}

const pool = new Pool(`http://127.0.0.1:${upstreamPort}`);
// `https: null` makes fastify serve plain HTTP (one instance type for both, unlike two calls).
const tls = certFile === undefined || keyFile === undefined ? null : { cert: readFileSync(certFile), key: readFileSync(keyFile) };
const app = Fastify({ logger: false, https: tls });
// Bodies stream through unread: no parser may consume them (or refuse their content type).
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, _payload, done) => done(null));

app.all('*', (request, reply) => {
  reply.hijack();
  const res = reply.raw;
  const { headers } = request;
  const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  pool.stream(
    { method: request.method as Dispatcher.HttpMethod, path: request.url, headers: endToEnd(headers), body: hasBody ? request.raw : null },
    ({ statusCode, headers: upstreamHeaders }) => {
      res.writeHead(statusCode, endToEnd(upstreamHeaders));
      return res;
    },
    (err) => {
      if (err === null) return;
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-length': 0 }).end();
    },
  );
});

await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => process.exit(0));
