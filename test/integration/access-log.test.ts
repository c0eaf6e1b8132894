import test from 'ava';
import { connect } from 'node:net';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, loopbackServiceEntryYaml, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';

// The access log of the built gateway in both of Istio's encodings: a TEXT gateway whose lines
// are parsed with a regex of Istio's default layout, and a JSON one (errors only) whose lines are
// parsed with JSON.parse, each carrying the response flags routing and resilience set: NR, UH,
// UF, URX, UT, DI and FI, and UF on a TCP connection.

interface Gateway {
  readonly process: GatewayProcess;
  readonly port: number;
  readonly tcpPort: number;
}

interface World {
  text: Gateway;
  json: Gateway;
  app: TestUpstream;
}
let world: World;

async function start(app: TestUpstream, mesh: string): Promise<Gateway> {
  const port = await freePort();
  const tcpPort = await freePort();
  const refused = await freePort();
  const dir = await configDir('access-log');
  const to = (host: string, port: number, extra = '') => `route: [{ destination: { host: ${host}, ${extra}port: { number: ${port} } } }]`;
  await writeConfig(
    dir,
    'app.yaml',
    `${gatewayWithServersYaml(`    - port: { number: ${port}, name: http, protocol: HTTP }
      hosts: ["*"]
    - port: { number: ${tcpPort}, name: tcp, protocol: TCP }
      hosts: ["*"]
`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /ok } }]
      ${to('app.internal', app.port)}
    - match: [{ uri: { prefix: /ghost } }]
      ${to('app.internal', app.port, 'subset: ghost, ')}
    - match: [{ uri: { prefix: /refused-once } }]
      retries: { attempts: 0 }
      ${to('refused.internal', refused)}
    - match: [{ uri: { prefix: /refused-retried } }]
      retries: { attempts: 1, retryOn: connect-failure }
      ${to('refused.internal', refused)}
    - match: [{ uri: { prefix: /slow } }]
      timeout: 100ms
      ${to('app.internal', app.port)}
    - match: [{ uri: { prefix: /fault } }]
      fault: { delay: { fixedDelay: 1ms, percentage: { value: 100 } }, abort: { httpStatus: 503, percentage: { value: 100 } } }
      ${to('app.internal', app.port)}
  tcp:
    - route: [{ destination: { host: refused-tcp.internal } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app
spec:
  host: app.internal
  subsets: [{ name: ghost, labels: { version: none } }]
${loopbackServiceEntryYaml('app', app.port, 'HTTP')}${loopbackServiceEntryYaml('refused', refused, 'HTTP')}${loopbackServiceEntryYaml('refused-tcp', refused)}`,
  );
  return { process: await startGatewayProcess(['--config', dir, '--no-watch'], { mesh }), port, tcpPort };
}

test.before(async () => {
  const app = await startUpstream('app', (req, res) => {
    if (req.url?.startsWith('/slow')) setTimeout(() => res.end('late'), 400);
    else res.end('ok');
  });
  // One after the other: ports are picked free just before a gateway binds them.
  const text = await start(app, 'accessLogFile: /dev/stdout\n');
  const json = await start(app, 'accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogErrorsOnly: true\n');
  world = { text, json, app };
});

test.after.always(async () => {
  await Promise.all([world?.text.process.stop(), world?.json.process.stop()]);
  await world?.app.close();
});

// Istio's default TEXT layout, field by field.
const textLayout =
  /^\[(?<start>[^\]]+)\] "(?<method>\S+) (?<path>\S+) (?<protocol>\S+)" (?<code>\d+) (?<flags>\S+) (?<details>\S+) (?<termination>\S+) "(?<transport>[^"]*)" (?<received>\d+) (?<sent>\d+) (?<duration>\d+) (?<upstreamTime>\S+) "(?<xff>[^"]*)" "(?<agent>[^"]*)" "(?<requestId>[^"]*)" "(?<authority>[^"]*)" "(?<upstreamHost>[^"]*)" (?<cluster>\S+) (?<upstreamLocal>\S+) (?<downstreamLocal>\S+) (?<downstreamRemote>\S+) (?<sni>\S+) (?<route>\S+)$/;

type Fields = Record<string, string | number | null>;

const send = async (gateway: Gateway, path: string) => {
  const response = await request(`http://127.0.0.1:${gateway.port}${path}`, { headers: { 'user-agent': 'access-log-test' } });
  await response.body.dump();
  return response.statusCode;
};

const textLine = async (path: string): Promise<Fields> => {
  const line = await eventually(() => world.text.process.accessLog.find((l) => l.includes(` ${path} `)));
  const match = textLayout.exec(line);
  if (match?.groups === undefined) throw new Error(`not Istio's layout: ${line}`);
  return match.groups;
};

const jsonLine = async (path: string | null): Promise<Fields> =>
  eventually(() => world.json.process.accessLog.map((l) => JSON.parse(l) as Fields).find((fields) => fields.path === path));

const cases: readonly { path: string; status: number; flags: string; details: string }[] = [
  { path: '/nowhere', status: 404, flags: 'NR', details: 'route_not_found' },
  { path: '/ghost', status: 503, flags: 'UH', details: 'no_healthy_upstream' },
  { path: '/refused-once', status: 503, flags: 'UF', details: 'upstream_reset_before_response_started{connection_failure}' },
  { path: '/refused-retried', status: 503, flags: 'UF,URX', details: 'upstream_reset_before_response_started{connection_failure}' },
  { path: '/slow', status: 504, flags: 'UT', details: 'response_timeout' },
  { path: '/fault', status: 503, flags: 'DI,FI', details: 'fault_filter_abort' },
];

for (const { path, status, flags, details } of cases) {
  test(`${path}: ${status} ${flags} in a TEXT line of Istio's layout and a JSON line of its keys`, async (t) => {
    t.is(await send(world.text, path), status);
    t.is(await send(world.json, path), status);
    const text = await textLine(path);
    t.like(text, { method: 'GET', path, protocol: 'HTTP/1.1', code: String(status), flags, details, agent: 'access-log-test' });
    t.regex(String(text.requestId), /^[0-9a-f-]{36}$/);
    const json = await jsonLine(path);
    t.like(json, { method: 'GET', path, protocol: 'HTTP/1.1', response_code: status, response_flags: flags, response_code_details: details, user_agent: 'access-log-test' });
    t.is(typeof json.duration, 'number');
  });
}

test('errors only: the JSON gateway logs no 200 without flags, the TEXT gateway logs every request', async (t) => {
  t.is(await send(world.json, '/ok-quiet'), 200);
  t.is(await send(world.json, '/nowhere-after-ok'), 404);
  // One worker writes its lines in order: once the 404 is logged, the 200 would have been too.
  await jsonLine('/nowhere-after-ok');
  t.false(world.json.process.accessLog.some((l) => l.includes('/ok-quiet')));
  t.is(await send(world.text, '/ok-logged'), 200);
  t.like(await textLine('/ok-logged'), { code: '200', flags: '-', details: 'via_upstream' });
});

test('a TCP connection to a refused endpoint: UF, status 0, no method or path, in both encodings', async (t) => {
  for (const gateway of [world.text, world.json]) {
    await new Promise<void>((resolve) => {
      const socket = connect(gateway.tcpPort, '127.0.0.1');
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
  }
  const text = await eventually(() => world.text.process.accessLog.map((l) => textLayout.exec(l)?.groups).find((g) => g?.method === '-' && g.flags === 'UF'));
  t.like(text, { code: '0', path: '-', protocol: '-' });
  t.regex(String(text.cluster), /^outbound\|\d+\|\|refused-tcp\.internal$/);
  const json = await jsonLine(null);
  t.like(json, { method: null, response_code: 0, response_flags: 'UF' });
});

test('no MeshConfig: no access log (Istio\'s default); a reload that turns it on applies at once', async (t) => {
  const port = await freePort();
  const dir = await configDir('access-log-reload');
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: world.app.port }));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch'], { mesh: false });
  t.teardown(() => gateway.stop());
  const get = async (path: string) => (await request(`http://127.0.0.1:${port}${path}`)).body.dump();
  await get('/ok-before');
  await writeConfig(dir, 'mesh.yaml', 'apiVersion: meshgate.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec: { accessLogFile: /dev/stdout, accessLogEncoding: JSON }\n');
  gateway.child.kill('SIGHUP');
  await gateway.waitForLog((l) => l.msg === 'config reloaded' && l.generation === 2);
  await get('/ok-after');
  const line = await eventually(() => gateway.accessLog.find((l) => l.includes('/ok-after')));
  t.like(JSON.parse(line), { path: '/ok-after', response_code: 200, response_flags: '-' });
  t.deepEqual(gateway.accessLog, [line], 'nothing was logged before the reload');
});
