import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';
import { destinationRuleYaml, serviceEntryYaml, virtualServiceYaml } from '../helpers/service-yaml.js';
import { requireTool } from '../helpers/require-tool.js';

const exec = promisify(execFile);
const curlTest = requireTool('curl') ? test : test.skip;

// VirtualService retries end to end: real upstreams that fail on command (statuses, resets,
// hangs, refused connections), tries counted where they land, and the access log's flags.

/** The upstream does what the last path segment says; `/flaky/...` fails twice, then answers. */
const behave: UpstreamHandler = (req, res, name) => {
  const url = req.url ?? '/';
  const last = url.split('/').pop() ?? '';
  const body = () => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    return new Promise<Buffer>((resolve) => req.on('end', () => resolve(Buffer.concat(chunks))));
  };
  if (url.startsWith('/flaky/')) {
    const seenBefore = (flakyHits.get(url) ?? 0) + 1;
    flakyHits.set(url, seenBefore);
    void body().then((received) => {
      res.writeHead(seenBefore <= 2 ? 500 : 200, { 'x-upstream': name });
      res.end(`try ${seenBefore} got ${received.length} bytes`);
    });
    return;
  }
  if (last === 'reset') return void req.socket.destroy();
  if (last === 'hang') return;
  if (last === 'grpc14') {
    res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '14' });
    return void res.end();
  }
  const status = /^\d{3}$/.test(last) ? Number(last) : 200;
  void body().then(() => {
    res.writeHead(status, { 'x-upstream': name });
    res.end(`${name} ${status}`);
  });
};
const flakyHits = new Map<string, number>();

const tokens = ['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', '503', 'unavailable'] as const;
const behaviours = ['500', '503', '409', 'reset', 'grpc14'] as const;
// Which behaviours each retryOn token retries (Envoy's router semantics).
const retried: Record<(typeof tokens)[number], readonly string[]> = {
  '5xx': ['500', '503', 'reset'],
  'gateway-error': ['503', 'reset'],
  reset: ['reset'],
  'connect-failure': [],
  'retriable-4xx': ['409'],
  '503': ['503'],
  unavailable: ['grpc14'],
};

interface World {
  gateway: GatewayProcess;
  port: number;
  app: TestUpstream;
  bad: TestUpstream;
  good: TestUpstream;
}
let world: World;

const url = (path: string) => `http://127.0.0.1:${world.port}${path}`;
const tries = (upstream: TestUpstream, path: string) => upstream.seen.filter((seen) => seen.url === path).length;

test.before(async () => {
  const app = await startUpstream('app', behave);
  const bad = await startUpstream('bad', (_req, res) => {
    res.writeHead(503);
    res.end('bad');
  });
  const good = await startUpstream('good');
  const refusedPort = await freePort();
  const port = await freePort();
  const dest = (host: string, servicePort: number) => `{ destination: { host: ${host}, port: { number: ${servicePort} } } }`;
  const tokenRoutes = tokens
    .map(
      (token) => `    - match: [{ uri: { prefix: /tok/${token}/ } }]
      retries: { attempts: 2, retryOn: "${token}" }
      route: [${dest('app.internal', 80)}]
    - match: [{ uri: { prefix: /refused/${token} } }]
      retries: { attempts: 2, retryOn: "${token}" }
      route: [${dest('refused.internal', 80)}]`,
    )
    .join('\n');
  const http = `${tokenRoutes}
    - match: [{ uri: { prefix: /flaky/ } }]
      retries: { attempts: 2, retryOn: 5xx }
      route: [${dest('app.internal', 80)}]
    - match: [{ uri: { prefix: /per-try/ } }]
      timeout: 5s
      retries: { attempts: 2, retryOn: reset, perTryTimeout: 200ms }
      route: [${dest('app.internal', 80)}]
    - match: [{ uri: { prefix: /no-retries/ } }]
      retries: { attempts: 0 }
      route: [${dest('refused.internal', 80)}]
    - match: [{ uri: { prefix: /two-endpoints/ } }]
      retries: { attempts: 2, retryOn: "503" }
      route: [${dest('pair.internal', 80)}]
    - match: [{ uri: { prefix: /default-policy/ } }]
      route: [${dest('half-refused.internal', 80)}]`;
  const dir = await configDir('retries');
  await writeConfig(
    dir,
    'retries.yaml',
    `${gatewayYaml(port)}---
${virtualServiceYaml('retries', http)}${serviceEntryYaml('app', 'app.internal', 80, [app.port])}${serviceEntryYaml('refused', 'refused.internal', 80, [refusedPort])}${serviceEntryYaml('pair', 'pair.internal', 80, [bad.port, good.port])}${destinationRuleYaml('pair', 'pair.internal', '    loadBalancer: { simple: ROUND_ROBIN }')}${serviceEntryYaml('half-refused', 'half-refused.internal', 80, [refusedPort, good.port])}${destinationRuleYaml('half-refused', 'half-refused.internal', '    loadBalancer: { simple: ROUND_ROBIN }')}`,
  );
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  world = { gateway, port, app, bad, good };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await Promise.all([world?.app.close(), world?.bad.close(), world?.good.close()]);
});

test('an upstream that fails twice then succeeds: three tries, numbered by x-envoy-attempt-count, and a 200', async (t) => {
  const res = await request(url('/flaky/get'));
  t.is(res.statusCode, 200);
  t.is(await res.body.text(), 'try 3 got 0 bytes');
  const seen = world.app.seen.filter((s) => s.url === '/flaky/get');
  t.deepEqual(seen.map((s) => s.headers['x-envoy-attempt-count']), ['1', '2', '3']);
  // One request id across the tries: they are one request.
  t.is(new Set(seen.map((s) => s.headers['x-request-id'])).size, 1);
  t.regex(await accessLogLine(world.gateway, '/flaky/get'), /" 200 - via_upstream /);
});

test('a small POST body is replayed whole on every try', async (t) => {
  const body = randomBytes(1024);
  const res = await request(url('/flaky/post'), { method: 'POST', body });
  t.is(res.statusCode, 200);
  t.is(await res.body.text(), 'try 3 got 1024 bytes');
  t.is(tries(world.app, '/flaky/post'), 3);
});

curlTest('curl\'s POST with Expect: 100-continue is answered by node, read whole and replayed on each try', async (t) => {
  const dir = await configDir('retries-curl');
  const file = path.join(dir, 'body.bin');
  await writeFile(file, randomBytes(20 * 1024));
  const { stdout } = await exec('curl', ['-sS', '-H', 'expect: 100-continue', '--data-binary', `@${file}`, '-w', ' %{http_code}', url('/flaky/curl')]);
  t.is(stdout, `try 3 got ${20 * 1024} bytes 200`);
  t.is(tries(world.app, '/flaky/curl'), 3);
});

test('a POST whose body is larger than 64 KiB is sent once and never retried', async (t) => {
  const res = await request(url('/flaky/large'), { method: 'POST', body: randomBytes(100 * 1024) });
  t.is(res.statusCode, 500);
  t.is(await res.body.text(), `try 1 got ${100 * 1024} bytes`);
  t.is(tries(world.app, '/flaky/large'), 1);
});

test('a chunked (streamed) POST body is sent once and never retried', async (t) => {
  const res = await request(url('/flaky/streamed'), { method: 'POST', body: Readable.from([randomBytes(1000), randomBytes(1000)]) });
  t.is(res.statusCode, 500);
  t.is(await res.body.text(), 'try 1 got 2000 bytes');
  t.is(tries(world.app, '/flaky/streamed'), 1);
});

for (const token of tokens) {
  test(`retryOn "${token}", token by token: the behaviours it names are retried, the others are not`, async (t) => {
    for (const behaviour of behaviours) {
      const path = `/tok/${token}/${behaviour}`;
      const res = await request(url(path));
      await res.body.dump();
      const expected = retried[token].includes(behaviour) ? 3 : 1;
      t.is(tries(world.app, path), expected, `${path}: tries`);
      const line = await accessLogLine(world.gateway, path);
      if (behaviour === 'reset') {
        t.is(res.statusCode, 503, path);
        t.regex(line, expected === 3 ? /" 503 UC,URX / : /" 503 UC /, path);
      } else if (expected === 3) {
        // Tries ran out: the last upstream answer goes to the client, flagged URX.
        t.regex(line, /" \d{3} URX via_upstream /, path);
      } else {
        t.regex(line, /" \d{3} - via_upstream /, path);
      }
    }
    // A connection that cannot be made: the connect-failure family retries it.
    const refused = `/refused/${token}`;
    const res = await request(url(refused));
    t.is(res.statusCode, 503);
    await res.body.dump();
    const expectRetry = ['5xx', 'gateway-error', 'reset', 'connect-failure'].includes(token);
    t.regex(await accessLogLine(world.gateway, refused), expectRetry ? /" 503 UF,URX / : /" 503 UF /, refused);
  });
}

test('attempts 0: a refused connection is one try, 503 UF without URX', async (t) => {
  const res = await request(url('/no-retries/x'));
  t.is(res.statusCode, 503);
  await res.body.dump();
  t.regex(await accessLogLine(world.gateway, '/no-retries/x'), /" 503 UF upstream_reset_before_response_started\{connection_failure\} /);
});

test('perTryTimeout: each try is cut at its timeout and retried; when they run out, 504 UT,URX well before the route timeout', async (t) => {
  const started = Date.now();
  const res = await request(url('/per-try/hang'));
  const elapsed = Date.now() - started;
  t.is(res.statusCode, 504);
  t.is(await res.body.text(), 'upstream request timeout');
  t.is(tries(world.app, '/per-try/hang'), 3);
  t.true(elapsed >= 600 && elapsed < 3000, `answered after ${elapsed} ms: 3 tries of 200 ms plus back-off`);
  t.regex(await accessLogLine(world.gateway, '/per-try/hang'), /" 504 UT,URX response_timeout /);
});

test('a retry goes to the other endpoint, never back to the one already tried', async (t) => {
  for (let i = 0; i < 10; i++) {
    const res = await request(url(`/two-endpoints/${i}`));
    t.is(res.statusCode, 200, `request ${i}`);
    await res.body.dump();
  }
  const badTries = world.bad.seen.filter((s) => s.url.startsWith('/two-endpoints/'));
  const goodTries = world.good.seen.filter((s) => s.url.startsWith('/two-endpoints/'));
  t.is(goodTries.length, 10);
  // Round robin puts first tries on the bad endpoint (a retry's pick moves the rotation on too).
  t.true(badTries.length > 0, `${badTries.length} first tries on the bad endpoint`);
  // A request that hit the bad endpoint first went to the good one next, not back to the bad one.
  t.is(new Set(badTries.map((s) => s.url)).size, badTries.length);
  for (const tried of badTries) {
    const next = goodTries.find((s) => s.url === tried.url);
    t.is(next?.headers['x-envoy-attempt-count'], '2', tried.url);
  }
});

test('without a retries block, Istio\'s default policy retries a refused connection on another endpoint', async (t) => {
  for (let i = 0; i < 10; i++) {
    const res = await request(url(`/default-policy/${i}`));
    t.is(res.statusCode, 200, `request ${i}`);
    await res.body.dump();
  }
  t.is(world.good.seen.filter((s) => s.url.startsWith('/default-policy/')).length, 10);
  // Some first tries went to the refused endpoint: their second try is the one the upstream saw.
  t.true(world.good.seen.some((s) => s.url.startsWith('/default-policy/') && s.headers['x-envoy-attempt-count'] === '2'));
});
