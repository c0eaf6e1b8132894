// The upstream every benchmark case proxies to, run as its own process so that it does not
// share an event loop with the load generator or the proxy. It imports nothing but node's own
// modules: run.ts transpiles it and runs it with plain node.
//
//   node upstream.mjs [CERT KEY]   prints {"port":N} once listening on 127.0.0.1 (HTTPS with CERT and KEY)
//
//   POST/PUT any path     echoes the request body back, streamed
//   GET /bytes/N          N bytes (up to 16 MiB), e.g. /bytes/1048576
//   anything else         a fixed small body
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const smallBody = Buffer.from('hello from the meshgate bench upstream\n');
const maxSizedBytes = 16 * 1024 * 1024;
const sizedBodies = new Map<number, Buffer>();
const sizedPrefix = '/bytes/';

function sizedBody(size: number): Buffer {
  let body = sizedBodies.get(size);
  if (body === undefined) {
    body = Buffer.alloc(size, 'x');
    sizedBodies.set(size, body);
  }
  return body;
}

const [certFile, keyFile] = process.argv.slice(2);

const handler: http.RequestListener = (req, res) => {
  if (req.method === 'POST' || req.method === 'PUT') {
    const length = req.headers['content-length'];
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(length === undefined ? {} : { 'content-length': length }) });
    req.pipe(res);
    return;
  }
  const url = req.url ?? '/';
  const size = url.startsWith(sizedPrefix) ? Number(url.slice(sizedPrefix.length)) : NaN;
  const body = Number.isInteger(size) && size >= 0 && size <= maxSizedBytes ? sizedBody(size) : smallBody;
  res.writeHead(200, { 'content-type': body === smallBody ? 'text/plain' : 'application/octet-stream', 'content-length': body.length });
  res.end(body);
};
const server =
  certFile === undefined || keyFile === undefined
    ? http.createServer(handler)
    : https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler);
// Longer than any proxy's idle timeout for upstream connections, so that no proxy picks a
// kept-alive connection the upstream is closing at that moment (a 502 that is not the proxy's).
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('upstream has no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
