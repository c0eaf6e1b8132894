import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { appRouteYaml, configDir, gatewayWithServersYaml, loopbackServiceEntryYaml, writeConfig } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential, type Issued } from '../helpers/certs.js';
import { requireTool } from '../helpers/require-tool.js';
import { scrapeUntil, total } from '../helpers/prometheus-text.js';

// HTTP/2 from clients (ALPN h2 beside http/1.1 on a TLS port; h2c prior knowledge beside
// HTTP/1.1 on a plaintext HTTP2/GRPC port), HTTP/2 to GRPC upstreams, gRPC end to end with its
// status and trailers, and httpsRedirect on a plain server.

const exec = promisify(execFile);
const curlTest = requireTool('curl') ? test : test.skip;

const echoService = {
  echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (value: Buffer) => value,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (value: Buffer) => value,
  },
} satisfies grpc.ServiceDefinition;

interface World {
  gateway: GatewayProcess;
  httpsPort: number;
  h2cPort: number;
  grpcPort: number;
  redirectPort: number;
  upstream: TestUpstream;
  grpcServer: grpc.Server;
  dir: string;
  ca: Issued;
}

let world: World;

function config(w: { httpsPort: number; h2cPort: number; grpcPort: number; redirectPort: number; upstreamPort: number; grpcUpstreamPort: number; deadPort: number }): string {
  return `${gatewayWithServersYaml(`    - port: { number: ${w.httpsPort}, name: https, protocol: HTTPS }
      hosts: [h2.test]
      tls: { mode: SIMPLE, credentialName: h2-cred }
    - port: { number: ${w.h2cPort}, name: http2, protocol: HTTP2 }
      hosts: ["*"]
    - port: { number: ${w.grpcPort}, name: grpc, protocol: GRPC }
      hosts: ["*"]
    - port: { number: ${w.redirectPort}, name: http, protocol: HTTP }
      hosts: [h2.test]
      tls: { httpsRedirect: true }
`)}---
${appRouteYaml({ upstreamPort: w.upstreamPort, extraRoute: `
    - match: [{ uri: { prefix: /dead } }]
      route:
        - destination: { host: dead.internal, port: { number: ${w.deadPort} } }
    - match: [{ uri: { prefix: /test.Faulted/ } }]
      fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 100 } } }
      route:
        - destination: { host: grpc.internal, port: { number: ${w.grpcUpstreamPort} } }
    - match: [{ uri: { prefix: /test.Echo/ } }]
      route:
        - destination: { host: grpc.internal, port: { number: ${w.grpcUpstreamPort} } }` })}${loopbackServiceEntryYaml('grpc', w.grpcUpstreamPort, 'GRPC')}${loopbackServiceEntryYaml('dead', w.deadPort, 'HTTP2')}`;
}

async function startGrpcUpstream(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const trailers = new grpc.Metadata();
      trailers.set('x-trailer', 'from-upstream');
      const text = call.request.toString();
      if (text === 'fail') callback({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: trailers });
      else callback(null, Buffer.from(`echo:${text}`), trailers);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { server, port };
}

test.before(async () => {
  const upstream = await startUpstream('h2-app');
  const grpcUpstream = await startGrpcUpstream();
  const [httpsPort, h2cPort, grpcPort, redirectPort, deadPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = await configDir('http2');
  const certs = path.join(dir, 'certs');
  const ca = await makeCa(dir, 'h2-ca');
  await writeCredential(certs, 'h2-cred', await issueCert(dir, ca, 'h2', { sans: ['h2.test'] }));
  await mkdir(path.join(dir, 'config'));
  await writeConfig(path.join(dir, 'config'), 'app.yaml', config({ httpsPort, h2cPort, grpcPort, redirectPort, upstreamPort: upstream.port, grpcUpstreamPort: grpcUpstream.port, deadPort }));
  const gateway = await startGatewayProcess(['--config', path.join(dir, 'config'), '--certs', certs, '--no-watch']);
  world = { gateway, httpsPort, h2cPort, grpcPort, redirectPort, upstream, grpcServer: grpcUpstream.server, dir, ca };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.upstream.close();
  world?.grpcServer.forceShutdown();
  if (world !== undefined) await rm(world.dir, { recursive: true, force: true });
});

async function curl(args: string[]): Promise<{ version: string; status: string; body: string }> {
  const { stdout } = await exec('curl', ['-sS', ...args, '-w', '\n%{http_version} %{http_code}']);
  const lines = stdout.split('\n');
  const [version, status] = lines.pop()!.split(' ');
  return { version: version!, status: status!, body: lines.join('\n') };
}

curlTest('a TLS port speaks h2 and http/1.1 by ALPN', async (t) => {
  const base = ['--cacert', world.ca.certFile, '--resolve', `h2.test:${world.httpsPort}:127.0.0.1`, `https://h2.test:${world.httpsPort}/x`];
  const h2 = await curl(['--http2', ...base]);
  t.is(h2.version, '2');
  t.is(h2.status, '200');
  t.is((JSON.parse(h2.body) as { headers: Record<string, string> }).headers.host, `h2.test:${world.httpsPort}`, 'the upstream gets :authority as Host');
  const h1 = await curl(['--http1.1', ...base]);
  t.is(h1.version, '1.1');
  t.is(h1.status, '200');
  // The access log names each protocol as Envoy does.
  await eventually(() => (world.gateway.accessLog.some((line) => line.includes('"GET /x HTTP/1.1"')) ? true : undefined));
  t.true(world.gateway.accessLog.some((line) => line.includes('"GET /x HTTP/2"')));
});

curlTest('a plaintext HTTP2 port speaks h2c with prior knowledge and HTTP/1.1', async (t) => {
  const url = `http://127.0.0.1:${world.h2cPort}/plain`;
  const h2c = await curl(['--http2-prior-knowledge', url]);
  t.is(h2c.version, '2');
  t.is(h2c.status, '200');
  const h1 = await curl(['--http1.1', url]);
  t.is(h1.version, '1.1');
  t.is(h1.status, '200');
});

curlTest('httpsRedirect: a plain server answers 301 to the https URL', async (t) => {
  const { stdout } = await exec('curl', ['-sS', '-o', '/dev/null', '-H', 'host: h2.test', '-w', '%{http_code} %{redirect_url}', `http://127.0.0.1:${world.redirectPort}/a/b?c=1`]);
  t.is(stdout, '301 https://h2.test/a/b?c=1');
});

function unary(client: grpc.Client, text: string, method = '/test.Echo/Echo'): Promise<{ error?: grpc.ServiceError; value?: string; trailers: grpc.Metadata }> {
  return new Promise((resolve) => {
    let outcome: { error?: grpc.ServiceError; value?: string } = {};
    const call = client.makeUnaryRequest(method, (v: Buffer) => v, (v: Buffer) => v, Buffer.from(text), (error, value) => {
      outcome = error ? { error } : { value: value?.toString() };
    });
    call.on('status', (status) => setImmediate(() => resolve({ ...outcome, trailers: status.metadata })));
  });
}

test('gRPC unary calls through a GRPC port and a TLS port: messages, status and trailers end to end', async (t) => {
  const clients = [
    new grpc.Client(`127.0.0.1:${world.grpcPort}`, grpc.credentials.createInsecure()),
    new grpc.Client(`127.0.0.1:${world.httpsPort}`, grpc.credentials.createSsl(Buffer.from(world.ca.cert)), {
      'grpc.ssl_target_name_override': 'h2.test',
      'grpc.default_authority': 'h2.test',
    }),
  ];
  t.teardown(() => clients.forEach((client) => client.close()));
  for (const client of clients) {
    const ok = await unary(client, 'hello');
    t.is(ok.error, undefined);
    t.is(ok.value, 'echo:hello');
    t.deepEqual(ok.trailers.get('x-trailer'), ['from-upstream']);
    const failed = await unary(client, 'fail');
    t.is(failed.error?.code, grpc.status.NOT_FOUND);
    // A trailers-only answer: its status reaches the client as trailers after the headers.
    t.is(failed.error?.details, 'no such thing');
  }
  // Istio's metrics have each call's gRPC status (0 from the trailers, 5 from a trailers-only answer).
  const grpcCalls = { destination_service: 'grpc.internal', request_protocol: 'grpc', response_code: '200' };
  const { samples } = await scrapeUntil(`http://127.0.0.1:${world.gateway.adminPort}/stats/prometheus`, (s) => total(s, 'istio_requests_total', { ...grpcCalls, grpc_response_status: '5' }) >= 2);
  t.is(total(samples, 'istio_requests_total', { ...grpcCalls, grpc_response_status: '5' }), 2);
  t.true(total(samples, 'istio_requests_total', { ...grpcCalls, grpc_response_status: '0' }) >= 2);
});

test('a grpcStatus fault abort reaches a real gRPC client as that status, flagged FI', async (t) => {
  const client = new grpc.Client(`127.0.0.1:${world.grpcPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const aborted = await unary(client, 'hello', '/test.Faulted/Echo');
  t.is(aborted.error?.code, grpc.status.UNAVAILABLE, aborted.error?.details);
  t.is(aborted.error?.details, 'fault filter abort');
  const line = await eventually(() => world.gateway.accessLog.find((entry) => entry.includes('/test.Faulted/Echo')));
  t.regex(line, / 200 FI /);
  // Counted against the route's destination, as Envoy knows its cluster before the fault filter runs.
  const aborts = { destination_service: 'grpc.internal', request_protocol: 'grpc', response_flags: 'FI', grpc_response_status: String(grpc.status.UNAVAILABLE) };
  const { samples } = await scrapeUntil(`http://127.0.0.1:${world.gateway.adminPort}/stats/prometheus`, (s) => total(s, 'istio_requests_total', aborts) >= 1);
  t.is(total(samples, 'istio_requests_total', aborts), 1);
});

curlTest('an HTTP/2 upstream that refuses the connection is 503 UF, as an HTTP/1.1 one', async (t) => {
  const dead = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${world.h2cPort}/dead`]);
  t.is(dead.status, '503');
  t.regex(dead.body, /upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
  const line = await eventually(() => world.gateway.accessLog.find((entry) => entry.includes('/dead')));
  // Istio's default retries try again first (URX once they are spent).
  t.regex(line, / 503 UF(,URX)? /);
});
