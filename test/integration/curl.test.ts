import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { requireTool } from '../helpers/require-tool.js';

// Interop with a client people really use: curl against the built gateway, its options read
// the way a user types them.

const exec = promisify(execFile);
const curlTest = requireTool('curl') ? test : test.skip;
const host = 'curl.example.com';

interface World {
  gateway: GatewayProcess;
  port: number;
  upstream: TestUpstream;
  dir: string;
}

let world: World;

const answer: UpstreamHandler = (req, res, name) => {
  if (req.url === '/upload') {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => res.end(JSON.stringify({ sha256: hash.digest('hex'), bytes })));
  } else if (req.url === '/streamed') {
    // No content-length: HTTP/1.1 clients get it chunked, HTTP/1.0 ones until the close.
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
    for (let i = 0; i < 100; i++) res.write(`line ${i}\n`);
    res.end();
  } else {
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
    res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url }));
  }
};

test.before(async () => {
  const upstream = await startUpstream('curl-app', answer);
  const port = await freePort();
  const dir = await configDir('curl');
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: upstream.port, host }));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  world = { gateway, port, upstream, dir };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.upstream.close();
});

async function curl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec('curl', ['--silent', '--show-error', '--max-time', '20', ...args], { maxBuffer: 8 * 1024 * 1024 });
}

const url = (pathAndQuery: string) => `http://127.0.0.1:${world.port}${pathAndQuery}`;

curlTest('-H Host picks the virtual host; another host has no route', async (t) => {
  const routed = await curl('-H', `Host: ${host}`, url('/by-host'));
  t.like(JSON.parse(routed.stdout), { upstream: 'curl-app', url: '/by-host' });

  const other = await curl('-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: elsewhere.example.com', url('/by-host-elsewhere'));
  t.is(other.stdout, '404');
  t.regex(await accessLogLine(world.gateway, '/by-host-elsewhere'), /" 404 NR route_not_found /);
});

curlTest('--data-binary uploads a file byte for byte, through curl\'s Expect: 100-continue', async (t) => {
  // Large enough that curl asks first and waits for the gateway's 100 Continue.
  const content = randomBytes(2 * 1024 * 1024);
  const file = path.join(world.dir, 'upload.bin');
  await writeFile(file, content);
  const { stdout, stderr } = await curl('-v', '-H', `Host: ${host}`, '--data-binary', `@${file}`, url('/upload'));
  t.deepEqual(JSON.parse(stdout), { sha256: createHash('sha256').update(content).digest('hex'), bytes: content.length });
  t.regex(stderr, /^> Expect: 100-continue\r?$/m);
  t.regex(stderr, /^< HTTP\/1\.1 100 Continue\r?$/m);
  t.false('expect' in (world.upstream.seen.find((r) => r.url === '/upload')?.headers ?? { expect: 'no request seen' }));
});

curlTest('-I sends HEAD and prints the upstream\'s headers', async (t) => {
  const { stdout } = await curl('-I', '-H', `Host: ${host}`, url('/head-by-curl'));
  t.regex(stdout, /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(stdout, /\r\nx-upstream: curl-app\r\n/i);
  t.regex(stdout, /\r\nx-envoy-upstream-service-time: \d+\r\n/i);
  t.is(world.upstream.seen.find((r) => r.url === '/head-by-curl')?.method, 'HEAD');
});

curlTest('--http1.0 gets a whole body without chunked encoding', async (t) => {
  const { stdout } = await curl('--http1.0', '--include', '-H', `Host: ${host}`, url('/streamed'));
  const [head = '', body] = stdout.split('\r\n\r\n');
  t.notRegex(head, /transfer-encoding/i, 'HTTP/1.0 has no chunked encoding');
  t.is(body, Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
  t.regex(await accessLogLine(world.gateway, '/streamed'), /"GET \/streamed HTTP\/1\.0" 200 /);
});

curlTest('curl -v with Connection: close is promised no keep-alive', async (t) => {
  const { stderr } = await curl('-v', '-H', 'Connection: close', '-H', `Host: ${host}`, url('/verbose'));
  t.regex(stderr, /^> Connection: close\r?$/m);
  t.regex(stderr, /^< connection: close\r?$/im);
  t.notRegex(stderr, /^< .*keep-alive/im);
  t.regex(stderr, /Closing connection/i);
});
