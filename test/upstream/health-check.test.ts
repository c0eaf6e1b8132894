import test from 'ava';
import { createLogger } from '../../src/log.js';
import { createHealthChecker, type HealthCheckSettings } from '../../src/upstream/health-check.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

// Active health checks against a real endpoint whose answer the test changes: thresholds in a
// row, expected status ranges, a check that hangs past its timeout.

const logger = createLogger({ level: 'error', write: () => {} });

test('unhealthyThreshold failures in a row take an endpoint out, healthyThreshold passes bring it back', async (t) => {
  let answer: number | 'hang' = 204;
  const server = await startUpstream('checked', (req, res) => {
    if (answer === 'hang') return;
    res.writeHead(answer);
    res.end();
  });
  t.teardown(() => server.close());
  const key = `127.0.0.1:${server.port}`;
  const settings: HealthCheckSettings = {
    policy: 'default/hc',
    path: '/healthz',
    host: 'checked.internal',
    intervalMs: 20,
    timeoutMs: 200,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    expectedStatuses: [[200, 299]],
  };
  let changes = 0;
  const checker = createHealthChecker(settings, {
    endpoints: () => [{ address: '127.0.0.1', port: server.port, labels: {}, weight: 1 }],
    onChange: () => changes++,
    logger,
    cluster: 'outbound|80||checked.internal',
  });
  t.teardown(() => checker.close());
  const checks = () => server.seen.filter((s) => s.url === '/healthz').length;

  await eventually(() => (checks() >= 3 ? true : undefined));
  t.false(checker.unhealthy().has(key), '204 is in 200-299');

  answer = 503;
  const failingFrom = checks();
  await eventually(() => (checker.unhealthy().has(key) ? true : undefined));
  t.true(checks() - failingFrom >= 3, `out after ${checks() - failingFrom} checks`);
  t.is(changes, 1);

  // A check that hangs past its timeout is a failure too: still out.
  answer = 'hang';
  const hangingFrom = checks();
  await eventually(() => (checks() - hangingFrom >= 2 ? true : undefined));
  t.true(checker.unhealthy().has(key));

  answer = 200;
  const passingFrom = checks();
  await eventually(() => (checker.unhealthy().has(key) ? undefined : true));
  t.true(checks() - passingFrom >= 2, `back after ${checks() - passingFrom} checks`);
  t.is(changes, 2);
  t.is(server.seen.at(-1)?.headers.host, 'checked.internal');
});
