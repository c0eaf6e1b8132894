import test, { type ExecutionContext } from 'ava';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Pool, request, WebSocket } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { acceptAndEcho } from '../helpers/websocket-echo.js';

// Workers on node:cluster, run as a user runs them: a dead worker is replaced, reloads under
// load fail nothing, SIGTERM drains. Every gateway here runs two workers.

interface Running {
  gateway: GatewayProcess;
  port: number;
  dir: string;
  upstream: TestUpstream;
}

async function start(t: ExecutionContext, handler?: Parameters<typeof startUpstream>[1], extraArgs: readonly string[] = []): Promise<Running> {
  const upstream = await startUpstream('app', handler ?? ((_req, res, name) => res.end(name)));
  const port = await freePort();
  const dir = await configDir('process-model');
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: upstream.port }));
  const gateway = await startGatewayProcess(['--config', dir, '--workers', '2', ...extraArgs]);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
  });
  return { gateway, port, dir, upstream };
}

async function workers(gateway: GatewayProcess): Promise<{ workers: number; restarts: number; pids: number[] }> {
  const res = await request(`http://127.0.0.1:${gateway.adminPort}/workers`);
  return (await res.body.json()) as { workers: number; restarts: number; pids: number[] };
}

/** singleRouteConfig plus a response header naming the generation, so a test sees which config answered. */
function taggedConfig(port: number, upstreamPort: number, tag: number): string {
  return singleRouteConfig({ port, upstreamPort }).replace(
    '    - route:\n',
    `    - headers: { response: { set: { x-config: "${tag}" } } }\n      route:\n`,
  );
}

test('a worker killed with SIGKILL is replaced and traffic continues', async (t) => {
  const { gateway, port } = await start(t);
  const before = await workers(gateway);
  t.is(before.workers, 2);
  t.is(before.pids.length, 2);

  process.kill(before.pids[0]!, 'SIGKILL');
  const exited = await gateway.waitForLog((l) => l.msg === 'worker exited; starting another');
  t.is(exited.signal, 'SIGKILL');

  let after = await workers(gateway);
  for (let i = 0; i < 100 && (after.workers < 2 || after.pids.includes(before.pids[0]!)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await workers(gateway);
  }
  t.is(after.workers, 2);
  t.is(after.restarts, 1);
  t.false(after.pids.includes(before.pids[0]!));

  // New connections each time, so both workers (the new one too) take requests.
  const statuses = await Promise.all(
    Array.from({ length: 100 }, async () => (await request(`http://127.0.0.1:${port}/`, { reset: true })).statusCode),
  );
  t.deepEqual(new Set(statuses), new Set([200]));
});

/** CPU time (user + system, in clock ticks) a process has used: which workers did the work. */
async function cpuTicks(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  // Fields 14 and 15 of proc(5), counted from the state field (3).
  return Number(fields[11]) + Number(fields[12]);
}

for (const balance of ['kernel', 'round-robin'] as const) {
  test(`--connection-balance ${balance}: both workers take new connections`, async (t) => {
    const { gateway, port } = await start(t, undefined, ['--connection-balance', balance]);
    const { pids } = await workers(gateway);
    const before = await Promise.all(pids.map(cpuTicks));
    // 20 clients, each opening a new connection per request, as a load balancer's health checks
    // and short-lived clients do.
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = 0; i < 40; i++) statuses.push((await request(`http://127.0.0.1:${port}/`, { reset: true })).statusCode);
      }),
    );
    t.deepEqual(new Set(statuses), new Set([200]));
    const used = (await Promise.all(pids.map(cpuTicks))).map((ticks, i) => ticks - before[i]!);
    const total = used[0]! + used[1]!;
    t.log(`CPU ticks per worker for 800 connections (${balance}): ${used.join(', ')}`);
    // Even within a factor of 4: neither worker is left idle while the other takes everything.
    for (const share of used) t.true(share >= total / 5, `worker CPU ticks ${used.join(', ')}`);
  });
}

test('workers run with 4 MiB semi-spaces, a 30% old-generation growth and gc exposed', async (t) => {
  const { gateway } = await start(t);
  const { pids } = await workers(gateway);
  for (const pid of pids) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    t.true(argv.includes('--max-semi-space-size=4') && argv.includes('--heap-growing-percent=30') && argv.includes('--expose-gc'), argv.join(' '));
  }
});

test('20 reloads under 200 concurrent connections: no failed request, no socket error', async (t) => {
  const { port, dir, upstream } = await start(t);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 200 });
  t.teardown(() => pool.close());
  const statuses = new Map<number, number>();
  const errors: string[] = [];
  const tags = new Set<string>();
  let loading = true;

  const client = async () => {
    while (loading) {
      try {
        const res = await pool.request({ method: 'GET', path: '/' });
        await res.body.text();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        tags.add(String(res.headers['x-config'] ?? 'none'));
      } catch (err) {
        errors.push(err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err));
      }
    }
  };
  const clients = Array.from({ length: 200 }, client);

  // Each reload is done when the load itself sees its tag: the watcher may reload more than once
  // for one write, so counting generations could run ahead of the configs written.
  for (let tag = 1; tag <= 20; tag++) {
    await writeConfig(dir, 'app.yaml', taggedConfig(port, upstream.port, tag));
    for (let waited = 0; !tags.has(String(tag)) && waited < 15_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  loading = false;
  await Promise.all(clients);

  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.log(`${total} requests during 20 reloads; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${errors.length} errors; configs seen ${tags.size}`);
  t.deepEqual([...statuses.keys()], [200], 'every response was a 200');
  t.deepEqual(errors, [], 'no socket error');
  t.true(total > 200, 'the load really ran during the reloads');
  t.true(tags.has('20'), 'the last configuration served');
});

test('a WebSocket stays open across reloads', async (t) => {
  const echo = createServer();
  echo.on('upgrade', (req, socket) => acceptAndEcho(req, socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (echo.closeAllConnections(), echo.close(() => resolve()))));
  const echoPort = (echo.address() as AddressInfo).port;
  const port = await freePort();
  const dir = await configDir('process-model-ws');
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: echoPort }));
  const gateway = await startGatewayProcess(['--config', dir, '--workers', '2']);
  t.teardown(() => gateway.stop());

  const socket = new WebSocket(`ws://127.0.0.1:${port}/chat`);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
  });
  let closed = false;
  socket.addEventListener('close', () => (closed = true));
  const echoOf = (text: string) =>
    new Promise<string>((resolve) => {
      socket.addEventListener('message', (event) => resolve(String(event.data)), { once: true });
      socket.send(text);
    });

  for (let tag = 1; tag <= 3; tag++) {
    await writeConfig(dir, 'app.yaml', taggedConfig(port, echoPort, tag));
    await gateway.waitForLog((l) => l.msg === 'config reloaded' && (l.generation as number) >= tag + 1);
    t.is(await echoOf(`after reload ${tag}`), `after reload ${tag}`);
  }
  t.false(closed, 'the WebSocket was never closed');
  socket.close();
});

test('SIGTERM: not ready at once, in-flight requests finish, then exit 0', async (t) => {
  const inFlightCount = 10;
  let arrived = 0;
  let allArrived: () => void;
  const upstreamHasAll = new Promise<void>((resolve) => (allArrived = resolve));
  const { gateway, port } = await start(t, (_req, res, name) => {
    if (++arrived === inFlightCount) allArrived();
    setTimeout(() => res.end(name), 1000);
  });
  const inFlight = Array.from({ length: inFlightCount }, async () => {
    const res = await request(`http://127.0.0.1:${port}/`, { reset: true });
    return { status: res.statusCode, text: await res.body.text() };
  });
  // Every request is in flight (at the upstream) before the signal, however busy the machine.
  await upstreamHasAll;
  const exitCode = gateway.stop('SIGTERM');
  await gateway.waitForLog((l) => l.msg === 'draining');

  const readiness = await request(`http://127.0.0.1:${gateway.adminPort}/healthz/ready`);
  await readiness.body.text();
  t.is(readiness.statusCode, 503, 'not ready while draining');

  for (const response of await Promise.all(inFlight)) t.deepEqual(response, { status: 200, text: 'app' });
  t.is(await exitCode, 0);
  await t.throwsAsync(request(`http://127.0.0.1:${port}/`), undefined, 'no longer accepting');
});
