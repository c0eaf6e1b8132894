import test from 'ava';
import { connect, createServer, type AddressInfo } from 'node:net';
import { freePort } from '../helpers/free-port.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, writeConfig } from '../helpers/config-files.js';
import { destinationRuleYaml, serviceEntryYaml, virtualServiceYaml } from '../helpers/service-yaml.js';

// TCP relays and outlier detection: an endpoint that refuses connections is ejected after
// consecutive5xxErrors failed connects, and every relay after that goes to the one that answers.

/** Opens a connection through the gateway and resolves with the first bytes it gets, or '' when it is closed first. */
function firstBytes(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', (data) => {
      resolve(data.toString());
      socket.destroy();
    });
    socket.once('close', () => resolve(''));
    socket.on('error', () => undefined);
  });
}

test('a refusing endpoint is ejected after consecutive failed connects; later relays all reach the other', async (t) => {
  const echo = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end('hello from echo');
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const echoPort = (echo.address() as AddressInfo).port;
  const refusedPort = await freePort();
  const port = await freePort();
  const dir = await configDir('tcp-outlier');
  await writeConfig(
    dir,
    'tcp.yaml',
    `${gatewayWithServersYaml(`    - port: { number: ${port}, name: tcp, protocol: TCP }
      hosts: ["*"]
`)}---
${virtualServiceYaml('tcp', '    - route: [{ destination: { host: pair.internal, port: { number: 80 } } }]', 'tcp')}${serviceEntryYaml('pair', 'pair.internal', 80, [refusedPort, echoPort])}${destinationRuleYaml(
      'pair',
      'pair.internal',
      `    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }`,
    )}`,
  );
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  t.teardown(async () => {
    await gateway.stop();
    echo.close();
  });

  const answers: string[] = [];
  for (let i = 0; i < 12; i++) answers.push(await firstBytes(port));
  const refused = answers.filter((a) => a === '').length;
  t.is(refused, 2, `answers: ${JSON.stringify(answers)}`);
  // Round robin alternates, so the two refusals are among the first four; none after them.
  t.deepEqual(answers.slice(4), Array.from({ length: 8 }, () => 'hello from echo'));
  const ejected = await gateway.waitForLog((l) => l.msg === 'outlier ejected');
  t.is(ejected.endpoint, `127.0.0.1:${refusedPort}`);
});
