import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { sendMany } from '../helpers/send-many.js';
import { eventually } from '../helpers/eventually.js';
import { meshConfigYaml, namedRouteYaml, rateLimitPolicyYaml } from '../helpers/rate-limit-yaml.js';
import { requireTool } from '../helpers/require-tool.js';
import { sharedRedisUrl as sharedRedis, startPrivateRedis } from '../helpers/redis-server.js';

// Global RateLimitPolicies against real Redis (REDIS_URL, else 127.0.0.1:6379): several gateway
// processes hold one limit together, and a private redis-server stopped mid-test shows the fail
// modes and the recovery. Every test writes under a key prefix of its own.

let app: TestUpstream;

test.before(async () => {
  app = await startUpstream('app');
});

test.after.always(async () => {
  await app?.close();
});

function globalConfig(port: number, redis: string, requests: number, extraMesh = ''): string {
  return (
    singleRouteConfig({ port, upstreamPort: app.port, extraRoute: namedRouteYaml('api', app.port) }) +
    rateLimitPolicyYaml('global', 'api', `    - limit: { requests: ${requests}, unit: Minute }`, 'Global') +
    meshConfigYaml(`  rateLimit:
    timeout: 1s
    backend:
      redis:
        url: ${redis}
        keyPrefix: mgtest-${randomUUID()}${extraMesh}`)
  );
}

/** Starts a gateway that the test stops when it ends, even when a sibling started beside it fails. */
async function startGateway(t: ExecutionContext, name: string, yaml: string): Promise<{ gateway: GatewayProcess; url: (path: string) => string }> {
  const port = await freePort();
  const dir = await configDir(name);
  await writeConfig(dir, 'app.yaml', yaml.replaceAll('GATEWAY_PORT', String(port)));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch'], { mesh: false });
  t.teardown(() => gateway.stop());
  await gateway.waitForLog((line) => line.msg === 'rate limit backend ready');
  return { gateway, url: (path) => `http://127.0.0.1:${port}${path}` };
}

/** The private Redis the outage test starts and stops is a real redis-server. */
const redisServerTest = requireTool('redis-server') ? test : test.skip;

const passed = (sent: readonly { status: number }[]) => sent.filter((s) => s.status === 200).length;

test('three gateway processes sharing one Redis hold one global limit together', async (t) => {
  // One prefix for all three: the same policy on three replicas.
  const yaml = globalConfig(0, sharedRedis, 50).replace('port: { number: 0,', 'port: { number: GATEWAY_PORT,');
  const gateways = await Promise.all(['rl-g1', 'rl-g2', 'rl-g3'].map((name) => startGateway(t, name, yaml)));
  const sent = await sendMany((i) => gateways[i % 3]!.url(`/api/${i}`), 300, 30);
  const total = passed(sent);
  t.log(`passed ${total} of 300; limit 50`);
  t.true(total >= 49 && total <= 51, `passed ${total}`);
  t.is(sent.filter((s) => s.status === 429).length, 300 - total);
});

redisServerTest('Redis stopped mid-way: fail closed answers 500 RLSE, fail open limits locally; limiting resumes in Redis when it is back', async (t) => {
  const password = `pw-${randomUUID()}`;
  const redis = await startPrivateRedis(password);
  t.teardown(() => redis.stop());
  // The password comes from the environment, never from the YAML.
  process.env.MG_TEST_REDIS_PASSWORD = password;
  const secret = '\n        password: { env: MG_TEST_REDIS_PASSWORD }';
  const closed = await startGateway(t, 'rl-closed', globalConfig(0, redis.url, 20, secret).replace('port: { number: 0,', 'port: { number: GATEWAY_PORT,').replace('  rateLimit:\n', '  rateLimit:\n    failClosed: true\n'));
  const open = await startGateway(t, 'rl-open', globalConfig(0, redis.url, 20, secret).replace('port: { number: 0,', 'port: { number: GATEWAY_PORT,'));

  t.is(passed(await sendMany((i) => closed.url(`/api/up-${i}`), 30, 10)), 20);
  t.is(passed(await sendMany((i) => open.url(`/api/up-${i}`), 30, 10)), 20);

  // A Redis that holds the connection but answers nothing cannot hang a request: the timeout
  // (1s here) ends each wait, and the fail mode answers.
  redis.pause();
  const whilePaused = await sendMany((i) => closed.url(`/api/paused-${i}`), 3, 3);
  redis.resume();
  t.deepEqual(whilePaused.map((s) => s.status), [500, 500, 500]);

  await redis.stop();
  const whileDownClosed = await sendMany((i) => closed.url(`/api/down-${i}`), 30, 10);
  t.deepEqual([...new Set(whileDownClosed.map((s) => s.status))], [500]);
  t.regex(await eventually(() => closed.gateway.accessLog.find((line) => line.includes('/api/down-0 '))), /" 500 RLSE rate_limiter_error /);
  // Fail open: the insurance limiter holds the same limit in memory (a fresh count: 20 of 30).
  t.is(passed(await sendMany((i) => open.url(`/api/down-${i}`), 30, 10)), 20);
  // One line when Redis went away, not one per request or per reconnect attempt.
  const outageLines = (gateway: GatewayProcess) => gateway.logs.filter((line) => line.msg.startsWith('rate limit backend unreachable')).length;
  await sendMany((i) => closed.url(`/api/still-down-${i}`), 10, 5);
  for (const { gateway } of [closed, open]) t.is(outageLines(gateway), 1);

  await redis.start();
  for (const { gateway } of [closed, open]) {
    await eventually(() => (gateway.logs.filter((line) => line.msg === 'rate limit backend ready').length === 2 ? true : undefined), 15_000);
  }
  // Redis came back empty: a fresh window, counted in Redis again.
  for (const { url } of [closed, open]) t.is(passed(await sendMany((i) => url(`/api/back-${i}`), 30, 10)), 20);
  t.is(closed.gateway.child.exitCode, null);
  t.is(open.gateway.child.exitCode, null);
});
