import test from 'ava';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type UpstreamHandler } from '../helpers/upstream.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';
import { performance } from 'node:perf_hooks';
import type { ExecutionContext } from 'ava';

// VirtualService http[].timeout: the gateway answers 504 with flag UT when the upstream is slower;
// a route without one (Istio's default: no timeout) waits for the upstream.

/** A gateway whose route for `path` has `timeout`; every other path goes to the same upstream without one. */
async function startTimedGateway(t: ExecutionContext, handler: UpstreamHandler, path: string, timeout: string) {
  const upstream = await startUpstream('slow', handler);
  const port = await freePort();
  const dir = await configDir('timeout');
  const timedRoute = `
    - match: [{ uri: { exact: ${path} } }]
      timeout: ${timeout}
      route:
        - destination: { host: app.internal, port: { number: ${upstream.port} } }`;
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: upstream.port, extraRoute: timedRoute }));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
  });
  return { port, gateway };
}

test('a route timeout answers 504 UT; a route without one waits', async (t) => {
  const { port, gateway } = await startTimedGateway(
    t,
    (req, res) => {
      const timer = setTimeout(() => res.end('late'), req.url === '/slow' ? 5000 : 600);
      res.on('close', () => clearTimeout(timer));
    },
    '/slow',
    '300ms',
  );

  const started = Date.now();
  const timedOut = await request(`http://127.0.0.1:${port}/slow`);
  const elapsed = Date.now() - started;
  t.is(timedOut.statusCode, 504);
  t.is(await timedOut.body.text(), 'upstream request timeout');
  t.true(elapsed >= 300 && elapsed < 4000, `answered after ${elapsed} ms, not at the upstream's 5 s`);

  const patient = await request(`http://127.0.0.1:${port}/other`);
  t.is(patient.statusCode, 200);
  t.is(await patient.body.text(), 'late');

  const line = await eventually(() => gateway.accessLog.find((l) => l.includes('"GET /slow ')));
  t.regex(line, /" 504 UT response_timeout /);
});

test('the 504 UT comes within 10% of the configured timeout', async (t) => {
  // Never answers; closing the test upstream ends its connections.
  // Long enough that 10% outlasts the scheduling delays of a loaded 2-core machine.
  const { port, gateway } = await startTimedGateway(t, () => {}, '/hang', '5s');

  const started = performance.now();
  const res = await request(`http://127.0.0.1:${port}/hang`);
  await res.body.dump();
  const elapsed = performance.now() - started;
  t.is(res.statusCode, 504);
  const line = await eventually(() => gateway.accessLog.find((l) => l.includes('"GET /hang ')));
  // %DURATION%, the gateway's own measure from the request's arrival to the end of its answer.
  const duration = Number(/" 504 UT response_timeout - "-" \d+ \d+ (\d+) /.exec(line)?.[1]);
  t.true(duration >= 5000 && duration <= 5500, `access log duration ${duration} ms for a 5 s timeout`);
  // The client's view adds a connection and a loaded machine's scheduling: a looser bound.
  t.true(elapsed >= 5000 && elapsed < 6500, `client saw the answer after ${Math.round(elapsed)} ms`);
});
