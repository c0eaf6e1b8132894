import test from 'ava';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';

// VirtualService http[].timeout: the gateway answers 504 with flag UT when the upstream is slower;
// a route without one (Istio's default: no timeout) waits for the upstream.

test('a route timeout answers 504 UT; a route without one waits', async (t) => {
  const upstream = await startUpstream('slow', (req, res) => {
    const timer = setTimeout(() => res.end('late'), req.url === '/slow' ? 5000 : 600);
    res.on('close', () => clearTimeout(timer));
  });
  const port = await freePort();
  const dir = await configDir('timeout');
  const timedRoute = `
    - match: [{ uri: { exact: /slow } }]
      timeout: 300ms
      route:
        - destination: { host: app.internal, port: { number: ${upstream.port} } }`;
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: upstream.port, extraRoute: timedRoute }));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
  });

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
