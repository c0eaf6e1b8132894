import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';
import { sendMany } from '../helpers/send-many.js';

// VirtualService mirror/mirrors through the built gateway: the mirror gets a copy with the
// "-shadow" authority and the same body; a mirror that never answers, never reads, or refuses
// connections changes neither the status nor the latency of the primary; percentages hold; the
// copies in flight to one mirror are bounded and the overflow is dropped and logged.

interface Copy {
  url: string;
  host: string | undefined;
  requestId: string | undefined;
  bytes: number;
  sha256: string;
}

interface World {
  gateway: GatewayProcess;
  port: number;
  app: TestUpstream;
  shadow: TestUpstream;
  shadowTwo: TestUpstream;
  stuck: TestUpstream;
  copies: Copy[];
}

let world: World;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Reads the whole body, then answers with its length and hash (the primary) or records it (a mirror). */
function hashing(onBody: (req: IncomingMessage, res: ServerResponse, bytes: number, digest: string) => void) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => onBody(req, res, bytes, hash.digest('hex')));
  };
}

const serviceEntry = (name: string, port: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.internal]
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`;

test.before(async () => {
  const copies: Copy[] = [];
  const record = (req: IncomingMessage, res: ServerResponse, bytes: number, digest: string) => {
    copies.push({ url: req.url ?? '', host: req.headers.host, requestId: req.headers['x-request-id'] as string | undefined, bytes, sha256: digest });
    res.end('mirror answer, discarded');
  };
  const app = await startUpstream('app', hashing((_req, res, bytes, digest) => res.end(JSON.stringify({ bytes, sha256: digest }))));
  const shadow = await startUpstream('shadow', hashing(record));
  const shadowTwo = await startUpstream('shadow-two', hashing(record));
  // Accepts, never reads a body and never answers.
  const stuck = await startUpstream('stuck', () => {});
  const deadPort = await freePort();
  const port = await freePort();
  const to = (host: string) => `{ host: ${host}.internal }`;
  const config = `${gatewayYaml(port)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app }
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /copy } }]
      mirror: ${to('shadow')}
      route: [{ destination: ${to('app')} }]
    - match: [{ uri: { prefix: /two } }]
      mirrors:
        - destination: ${to('shadow')}
        - destination: ${to('shadow-two')}
          percentage: { value: 100 }
      route: [{ destination: ${to('app')} }]
    - match: [{ uri: { prefix: /some } }]
      mirror: ${to('shadow')}
      mirrorPercentage: { value: 30 }
      route: [{ destination: ${to('app')} }]
    - match: [{ uri: { prefix: /none } }]
      mirror: ${to('shadow')}
      mirrorPercentage: { value: 0 }
      route: [{ destination: ${to('app')} }]
    - match: [{ uri: { prefix: /stuck } }]
      mirror: ${to('stuck')}
      route: [{ destination: ${to('app')} }]
    - match: [{ uri: { prefix: /dead } }]
      mirror: ${to('dead')}
      route: [{ destination: ${to('app')} }]
    - route: [{ destination: ${to('app')} }]
${serviceEntry('app', app.port)}${serviceEntry('shadow', shadow.port)}${serviceEntry('shadow-two', shadowTwo.port)}${serviceEntry('stuck', stuck.port)}${serviceEntry('dead', deadPort)}`;
  const dir = await configDir('mirror');
  await writeConfig(dir, 'app.yaml', config);
  // debug: the log says why a copy was given up.
  world = { gateway: await startGatewayProcess(['--config', dir, '--no-watch', '--log-level', 'debug']), port, app, shadow, shadowTwo, stuck, copies };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await Promise.all([world?.app.close(), world?.shadow.close(), world?.shadowTwo.close(), world?.stuck.close()]);
});

const url = (path: string) => `http://127.0.0.1:${world.port}${path}`;

// A primary that waited for its mirror would never be answered while the mirror refuses or holds
// the copy, so every primary answered is the check; the latencies are logged, never asserted
// (speed is the benchmarks' business).
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Requests alternate between the mirrored `path` and a route without a mirror, under the same load. */
async function againstBaseline(t: ExecutionContext, path: string, count: number, concurrency: number) {
  const results = await sendMany((i) => url(i % 2 === 0 ? `${path}-${i}` : `/plain-${i}`), count, concurrency);
  const mirrored = results.filter((_, i) => i % 2 === 0);
  const plain = results.filter((_, i) => i % 2 === 1);
  const ms = (list: typeof results) => list.map((r) => r.ms);
  t.log(`${path}: median ${median(ms(mirrored)).toFixed(1)} ms, slowest ${Math.max(...ms(mirrored)).toFixed(1)} ms; ` +
    `without a mirror: median ${median(ms(plain)).toFixed(1)} ms, slowest ${Math.max(...ms(plain)).toFixed(1)} ms`);
  t.deepEqual(
    results.map((r) => r.status),
    results.map(() => 200),
  );
}

test('the mirror gets a copy with the -shadow authority (port kept), the same path, request id and body', async (t) => {
  const body = randomBytes(512 * 1024);
  const response = await request(url('/copy/sized?q=1'), {
    method: 'POST',
    headers: { host: 'shop.test:8080', 'x-request-id': 'mirror-sized' },
    body,
  });
  t.is(response.statusCode, 200);
  t.deepEqual(await response.body.json(), { bytes: body.length, sha256: sha256(body) });
  const copy = await eventually(() => world.copies.find((c) => c.requestId === 'mirror-sized'));
  t.is(copy.host, 'shop.test-shadow:8080');
  t.is(copy.url, '/copy/sized?q=1');
  t.is(copy.bytes, body.length);
  t.is(copy.sha256, sha256(body));
  t.is(world.app.seen.find((seen) => seen.url === '/copy/sized?q=1')?.headers.host, 'shop.test:8080', 'the primary keeps its authority');

  // A chunked body (no content-length) is copied as it streams.
  const chunks = [randomBytes(100_000), randomBytes(50_000), randomBytes(1)];
  const streamed = await request(url('/copy/streamed'), {
    method: 'POST',
    headers: { host: 'shop.test', 'x-request-id': 'mirror-streamed' },
    body: Readable.from(chunks),
  });
  const whole = Buffer.concat(chunks);
  t.deepEqual(await streamed.body.json(), { bytes: whole.length, sha256: sha256(whole) });
  const streamedCopy = await eventually(() => world.copies.find((c) => c.requestId === 'mirror-streamed'));
  t.is(streamedCopy.host, 'shop.test-shadow');
  t.is(streamedCopy.sha256, sha256(whole));
});

test('mirrors[]: each destination gets its copy; mirrorPercentage 0 sends none', async (t) => {
  const response = await request(url('/two'), { headers: { 'x-request-id': 'mirror-two' } });
  t.is(response.statusCode, 200);
  await response.body.dump();
  await eventually(() => (world.shadow.seen.some((s) => s.url === '/two') && world.shadowTwo.seen.some((s) => s.url === '/two') ? true : undefined));
  t.is(world.copies.filter((c) => c.requestId === 'mirror-two').length, 2);

  const none = await request(url('/none'));
  await none.body.dump();
  t.is(none.statusCode, 200);
  // The /two copies went out after /none was asked for: wait for a later copy to order the check.
  const after = await request(url('/copy/after-none'), { headers: { 'x-request-id': 'after-none' } });
  await after.body.dump();
  await eventually(() => world.copies.find((c) => c.requestId === 'after-none'));
  t.false(world.shadow.seen.some((s) => s.url === '/none'));
});

test('mirrorPercentage 30 copies about 30% of 400 requests', async (t) => {
  const results = await sendMany((i) => url(`/some-${i}`), 400, 8);
  t.true(results.every((r) => r.status === 200));
  // Copies still on their way when the last primary answered are waited for by a marker copy.
  const marker = await request(url('/copy/after-some'), { headers: { 'x-request-id': 'after-some' } });
  await marker.body.dump();
  await eventually(() => world.copies.find((c) => c.requestId === 'after-some'));
  const copied = world.shadow.seen.filter((s) => s.url.startsWith('/some-')).length;
  t.log(`${copied} of 400 copied`);
  t.true(copied >= 88 && copied <= 152, `${copied} copies is not about 30% (120) of 400`);
});

test('a mirror that refuses connections: every primary is answered 200', async (t) => {
  await againstBaseline(t, '/dead', 120, 4);
});

test('a mirror that never answers nor reads: primaries are unaffected, copies in flight stop at 256 and the rest are dropped and logged', async (t) => {
  // More than the socket buffers between the gateway and the mirror hold: the copy falls behind.
  const body = randomBytes(16 * 1024 * 1024);
  const upload = await request(url('/stuck/upload'), { method: 'POST', body });
  t.deepEqual(await upload.body.json(), { bytes: body.length, sha256: sha256(body) }, 'the primary got the whole body');
  const abandoned = await world.gateway.waitForLog((line) => line.msg === 'mirror request failed' && String((line.err as { message?: string }).message).includes('slower'));
  t.regex(String(abandoned.cluster), /stuck\.internal$/);

  // 320 mirrored requests among 640: more copies than the bound of 256 may hold.
  await againstBaseline(t, '/stuck', 640, 16);

  const dropped = await world.gateway.waitForLog((line) => line.msg === 'mirror requests dropped: too many in flight');
  t.is(dropped.maxInFlight, 256);
  t.true((dropped.dropped as number) > 0);
  // Every copy the gateway let through arrived and is still held (the upload's was abandoned).
  const held = () => world.stuck.seen.filter((s) => s.url !== '/stuck/upload');
  await eventually(() => (held().length === 256 ? true : undefined));
  t.is(held().length, 256);
  t.true(world.stuck.seen.every((s) => s.headers.host?.startsWith('127.0.0.1-shadow:')));
});
