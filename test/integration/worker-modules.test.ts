import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { meshConfigYaml, namedRouteYaml, rateLimitPolicyYaml } from '../helpers/rate-limit-yaml.js';
import { sharedRedisUrl } from '../helpers/redis-server.js';

// A worker compiles config the primary already validated, so it must not load zod, nor ioredis
// unless a Global rate limit counts in Redis. The real binary runs with a preload that records
// every module each process imports; the worker's list is read after it has served a request.

const recorder = new URL('../helpers/record-modules.mjs', import.meta.url).href;

interface Imported {
  /** The node_modules packages, by name. */
  readonly packages: Set<string>;
  /** Every module file, as its URL. */
  readonly urls: readonly string[];
}

/** What the primary and the worker imported (the worker is the process that ran worker-main). */
async function importedModules(dir: string): Promise<{ primary: Set<string>; worker: Set<string>; workerUrls: readonly string[] }> {
  const byRole: { primary: Imported[]; worker: Imported[] } = { primary: [], worker: [] };
  for (const name of await readdir(dir)) {
    const urls = (await readFile(join(dir, name), 'utf8')).split('\n');
    const packages = new Set(urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
    byRole[urls.some((url) => url.endsWith('/dist/process/worker-main.js')) ? 'worker' : 'primary'].push({ packages, urls });
  }
  if (byRole.primary.length !== 1 || byRole.worker.length !== 1) throw new Error(`expected one primary and one worker record in ${dir}`);
  return { primary: byRole.primary[0]!.packages, worker: byRole.worker[0]!.packages, workerUrls: byRole.worker[0]!.urls };
}

/** Runs the gateway on `policy` (a RateLimitPolicy on route `api`, and a MeshConfig), serves one request through it, and reads what its processes imported. */
async function runGateway(t: { teardown(fn: () => unknown): void }, name: string, policy: string, readyLog: string) {
  const app = await startUpstream('app');
  t.teardown(() => app.close());
  const yaml = singleRouteConfig({ port: 0, upstreamPort: app.port, extraRoute: namedRouteYaml('api', app.port) }) + policy;
  const port = await freePort();
  const dir = await configDir(name);
  const records = await configDir(`${name}-modules`);
  await writeConfig(dir, 'app.yaml', yaml.replace('port: { number: 0,', `port: { number: ${port},`));
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import=${recorder}`.trim();
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch'], { mesh: false, env: { NODE_OPTIONS: nodeOptions, MG_TEST_MODULES_DIR: records } });
  t.teardown(() => gateway.stop());
  await gateway.waitForLog((line) => line.msg === readyLog);
  const response = await fetch(`http://127.0.0.1:${port}/api/one`);
  return { status: response.status, packages: await importedModules(records) };
}

test('a worker serving a Local rate limit loads neither zod nor ioredis, nor the indexes of undici and rate-limiter-flexible; the primary, which validates, loads zod', async (t) => {
  const policy = rateLimitPolicyYaml('local', 'api', '    - limit: { requests: 5, unit: Minute }') + meshConfigYaml('');
  const { status, packages } = await runGateway(t, 'lean-local', policy, 'gateway ready');
  t.is(status, 200);
  // What it does load is seen: the record is not empty by mistake.
  t.true(packages.worker.has('fastify') && packages.worker.has('undici') && packages.worker.has('rate-limiter-flexible'), [...packages.worker].join(' '));
  t.false(packages.worker.has('zod'), 'the worker imported zod');
  t.false(packages.worker.has('ioredis'), 'the worker imported ioredis without a Global policy');
  t.true(packages.primary.has('zod'));
  // undici's and rate-limiter-flexible's indexes load fetch, WebSocket and every store: the worker imports the parts it uses.
  t.true(packages.workerUrls.some((url) => url.endsWith('/node_modules/undici/lib/dispatcher/pool.js')));
  t.false(packages.workerUrls.some((url) => url.endsWith('/node_modules/undici/index.js')), "the worker imported undici's index");
  t.false(packages.workerUrls.some((url) => url.endsWith('/node_modules/rate-limiter-flexible/index.js')), "the worker imported rate-limiter-flexible's index");
});

test('a worker with a Global rate limit loads ioredis once the policy is configured', async (t) => {
  const policy =
    rateLimitPolicyYaml('global', 'api', '    - limit: { requests: 5, unit: Minute }', 'Global') +
    meshConfigYaml(`  rateLimit:
    backend:
      redis:
        url: ${sharedRedisUrl}
        keyPrefix: mgtest-${randomUUID()}`);
  const { status, packages } = await runGateway(t, 'lean-global', policy, 'rate limit backend ready');
  t.is(status, 200);
  t.true(packages.worker.has('ioredis'));
  t.false(packages.worker.has('zod'));
});
