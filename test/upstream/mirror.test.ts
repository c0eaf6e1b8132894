import type { ServerResponse } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { Pool, request } from 'undici';
import { createLogger, type LogLevel } from '../../src/log.js';
import { createMirrors, shadowAuthority, type MirrorOptions, type Mirrors } from '../../src/upstream/mirror.js';
import type { UpstreamLease } from '../../src/upstream/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { startUpstream, type UpstreamHandler } from '../helpers/upstream.js';

// The mirror runtime on real sockets: a node server plays the gateway and hands each request to
// createMirrors(), the mirror is a real upstream behind an undici Pool.

test("shadowAuthority appends -shadow to the host, before the port, as Envoy's shadow writer does", (t) => {
  t.is(shadowAuthority('foo'), 'foo-shadow');
  t.is(shadowAuthority('foo:8080'), 'foo-shadow:8080');
  t.is(shadowAuthority('10.0.0.1:80'), '10.0.0.1-shadow:80');
  t.is(shadowAuthority('[::1]'), '[::1]-shadow');
  t.is(shadowAuthority('[::1]:8443'), '[::1]-shadow:8443');
});

async function listen(t: ExecutionContext, handler: UpstreamHandler): Promise<number> {
  const upstream = await startUpstream('mirror', handler);
  t.teardown(() => upstream.close());
  return upstream.port;
}

interface Setup {
  mirrors: Mirrors;
  url: string;
  logs: { level: LogLevel; msg: string; [key: string]: unknown }[];
  released: () => number;
}

/** A front server that answers 200 itself and mirrors every request to `mirrorPort` (or to no endpoint). */
async function front(t: ExecutionContext, mirrorPort: number | undefined, options: Partial<MirrorOptions> & { timeoutMs?: number } = {}): Promise<Setup> {
  const logs: Setup['logs'] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line) as Setup['logs'][number]) });
  const mirrors = createMirrors({ logger, ...options });
  const pool = mirrorPort === undefined ? undefined : new Pool(`http://127.0.0.1:${mirrorPort}`);
  t.teardown(() => pool?.destroy());
  let released = 0;
  const lease = async (): Promise<UpstreamLease | undefined> =>
    pool === undefined
      ? undefined
      : { endpoint: { address: '127.0.0.1', port: mirrorPort!, labels: {}, weight: 1 }, key: `127.0.0.1:${mirrorPort!}`, origin: '', pool, release: () => released++ };
  const port = await listen(t, (req, res) => {
    const done = mirrors.start([{ cluster: 'mirror', chance: 1 }], {
      req,
      path: req.url ?? '/',
      headers: { ...req.headers },
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      lease,
    });
    req.resume();
    req.on('end', () => {
      res.end('primary');
      done?.();
    });
  });
  return { mirrors, url: `http://127.0.0.1:${port}`, logs, released: () => released };
}

test('a copy that outlives the route timeout is abandoned: its endpoint is released and it counts as failed', async (t) => {
  let closedByGateway = 0;
  const mirrorPort = await listen(t, (req) => req.socket.on('close', () => closedByGateway++));
  const { mirrors, url, logs, released } = await front(t, mirrorPort, { timeoutMs: 150 });
  const response = await request(url);
  t.is(await response.body.text(), 'primary');
  await eventually(() => (mirrors.counts('mirror').inFlight === 0 ? true : undefined));
  t.deepEqual(mirrors.counts('mirror'), { inFlight: 0, sent: 1, failed: 1, dropped: 0 });
  t.is(released(), 1);
  await eventually(() => (closedByGateway === 1 ? true : undefined));
  t.true(logs.some((l) => l.msg === 'mirror request failed' && String((l.err as { message: string }).message).includes('timeout')));
});

test('past maxInFlight copies are dropped and counted, with one warning', async (t) => {
  const held: ServerResponse[] = [];
  const mirrorPort = await listen(t, (_req, res) => held.push(res));
  const { mirrors, url, logs } = await front(t, mirrorPort, { maxInFlight: 2 });
  for (let i = 0; i < 5; i++) await (await request(url)).body.text();
  t.deepEqual(mirrors.counts('mirror'), { inFlight: 2, sent: 2, failed: 0, dropped: 3 });
  t.is(logs.filter((l) => l.msg === 'mirror requests dropped: too many in flight').length, 1);
  await eventually(() => (held.length === 2 ? true : undefined));
  for (const res of held) res.end('late mirror answer');
  await eventually(() => (mirrors.counts('mirror').inFlight === 0 ? true : undefined));
  t.is(mirrors.counts('mirror').failed, 0, 'answered copies are not failures');
});

test('a mirror cluster without an endpoint fails the copy, not the primary', async (t) => {
  const { mirrors, url } = await front(t, undefined);
  t.is(await (await request(url)).body.text(), 'primary');
  await eventually(() => (mirrors.counts('mirror').inFlight === 0 ? true : undefined));
  t.deepEqual(mirrors.counts('mirror'), { inFlight: 0, sent: 1, failed: 1, dropped: 0 });
});
