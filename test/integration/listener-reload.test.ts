import test from 'ava';
import { createServer } from 'node:net';
import { request } from 'undici';
import { connect } from 'node:http2';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';

// A reload that adds a Gateway server opens its port; one that removes it closes the port; a
// port that cannot be bound is logged and every other listener keeps serving (as Envoy does).

/** singleRouteConfig's Gateway, with one more server per extra port. */
function withExtraPorts(yaml: string, ports: number[]): string {
  const servers = ports.map((port) => `    - port: { number: ${port}, name: http-${port}, protocol: HTTP }\n      hosts: ["*"]\n`).join('');
  return yaml.replace('      hosts: ["*"]\n', `      hosts: ["*"]\n${servers}`);
}

test('reloads open new listeners, close removed ones, and survive a port that is taken', async (t) => {
  const upstream = await startUpstream('app', (_req, res, name) => res.end(name));
  const [first, second, taken] = [await freePort(), await freePort(), await freePort()];
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(taken, '0.0.0.0', resolve));
  const dir = await configDir('listener-reload');
  const base = singleRouteConfig({ port: first, upstreamPort: upstream.port });
  await writeConfig(dir, 'app.yaml', base);
  const gateway = await startGatewayProcess(['--config', dir]);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
    await new Promise((resolve) => squatter.close(resolve));
  });
  const get = async (port: number) => {
    const res = await request(`http://127.0.0.1:${port}/`, { reset: true });
    return res.body.text();
  };

  await writeConfig(dir, 'app.yaml', withExtraPorts(base, [second]));
  await gateway.waitForLog((l) => l.msg === 'config reloaded' && (l.listeners as { port: number }[]).some((x) => x.port === second));
  t.is(await get(second), 'app');

  await writeConfig(dir, 'app.yaml', withExtraPorts(base, [taken]));
  const failure = await gateway.waitForLog((l) => l.msg === 'listener could not bind; the other listeners keep serving');
  t.is(failure.listener, `0.0.0.0_${taken}`);
  await gateway.waitForLog((l) => l.msg === 'listener closed' && l.listener === `0.0.0.0_${second}`);
  await t.throwsAsync(get(second), undefined, 'the removed listener no longer accepts');
  t.is(await get(first), 'app', 'the listener that did not change still serves');
  t.is(gateway.child.exitCode, null, 'the gateway is still running');
});

test('a reload that turns a port from HTTP into HTTP2 moves it to the HTTP/2 listener on the same port', async (t) => {
  const upstream = await startUpstream('app', (req, res, name) => res.end(`${name} ${req.httpVersion}`));
  const port = await freePort();
  const dir = await configDir('listener-kind');
  const base = singleRouteConfig({ port, upstreamPort: upstream.port });
  await writeConfig(dir, 'app.yaml', base);
  const gateway = await startGatewayProcess(['--config', dir]);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
  });
  await writeConfig(dir, 'app.yaml', base.replace('name: http, protocol: HTTP }', 'name: http2, protocol: HTTP2 }'));
  await gateway.waitForLog((l) => l.msg === 'config reloaded');
  const session = connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.destroy());
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':path': '/' });
    stream.on('response', (headers) => resolve(Number(headers[':status'])));
    stream.on('error', reject);
    stream.resume();
    stream.end();
  });
  t.is(status, 200, 'h2c with prior knowledge on the port after the reload');
  t.is(await (await request(`http://127.0.0.1:${port}/`, { reset: true })).body.text(), 'app 1.1');
});
