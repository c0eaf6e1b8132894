import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'undici';
import { cliPath, startGatewayProcess } from '../helpers/gateway-process.js';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';

// The `meshgate` command as a user meets it: exit codes, what validate prints, and SIGTERM.

const exec = promisify(execFile);

async function meshgate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cliPath, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('validate accepts the example config', async (t) => {
  const { code, stdout } = await meshgate('validate', 'gateways/');
  t.is(code, 0, stdout);
  t.regex(stdout, /configuration OK: 2 listener\(s\), \d+ cluster\(s\), 0 warning/);
});

test('validate names file, line, code and field of every error, and exits 1', async (t) => {
  const dir = await configDir('cli');
  // Schema errors in one resource, a reference error in another: all three are reported at once.
  const file = await writeConfig(dir, 'broken.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: dangling
spec:
  hosts: ["b.example.com"]
  gateways: [missing-gateway]
  http:
    - directResponse: { status: 204 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: broken
spec:
  hosts: ["a.example.com"]
  http:
    - match:
        - uri:
            regex: "(unclosed"
      route:
        - destination:
            host: a.internal
          weigth: 100
`);
  const { code, stdout } = await meshgate('validate', file);
  t.is(code, 1);
  t.regex(stdout, new RegExp(`${file}:7:\\d+: error MG_ERR_CONFIG_GATEWAY_MISSING`));
  t.regex(stdout, new RegExp(`${file}:20:\\d+: error MG_ERR_CONFIG_REGEX .*spec\\.http\\[0\\]\\.match\\[0\\]\\.uri\\.regex`));
  t.regex(stdout, new RegExp(`${file}:24:\\d+: error MG_ERR_CONFIG_FIELD_UNKNOWN .*weigth`));
  t.regex(stdout, /configuration refused: 3 error\(s\)/);

  const json = await meshgate('validate', '--output', 'json', file);
  t.is(json.code, 1);
  const report = JSON.parse(json.stdout) as { valid: boolean; issues: { code: string; line: number; path: string }[] };
  t.false(report.valid);
  t.deepEqual(
    report.issues.map((i) => i.code).sort(),
    ['MG_ERR_CONFIG_FIELD_UNKNOWN', 'MG_ERR_CONFIG_GATEWAY_MISSING', 'MG_ERR_CONFIG_REGEX'],
  );
});

test('run refuses to start on a config with errors and says why', async (t) => {
  const dir = await configDir('cli-run');
  await writeConfig(dir, 'bad.yaml', 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: g }\nspec: { servers: [] , selectr: {} }\n');
  const { code, stderr } = await meshgate('run', '--config', dir, '--no-admin');
  t.is(code, 1);
  t.regex(stderr, /MG_ERR_CONFIG_FIELD_UNKNOWN/);
  t.notRegex(stderr, /\n\s+at /, 'no stack trace for a config error');
});

test('command-line mistakes exit 2 with usage', async (t) => {
  const unknown = await meshgate('frobnicate', 'x');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = await meshgate('run', '--config', 'gateways/', '--no-such-flag');
  t.is(badFlag.code, 2);
  const badPort = await meshgate('run', '--config', 'gateways/', '--readiness-port', '99999');
  t.is(badPort.code, 2);
  t.regex(badPort.stderr, /--readiness-port "99999" is not a port/);
  const badBalance = await meshgate('run', '--config', 'gateways/', '--connection-balance', 'random');
  t.is(badBalance.code, 2);
  t.regex(badBalance.stderr, /--connection-balance "random" is not kernel or round-robin/);
});

test('SIGTERM lets an in-flight request finish, then exits 0', async (t) => {
  const upstream = await startUpstream('slow', (_req, res) => setTimeout(() => res.end('finished'), 800));
  t.teardown(() => upstream.close());
  const port = await freePort();
  const dir = await configDir('cli-term');
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: upstream.port }));
  const gateway = await startGatewayProcess(['--config', dir]);

  const inFlight = request(`http://127.0.0.1:${port}/`).then(async (res) => ({ status: res.statusCode, text: await res.body.text() }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const exitCode = gateway.stop('SIGTERM');
  t.deepEqual(await inFlight, { status: 200, text: 'finished' });
  t.is(await exitCode, 0);
  await t.throwsAsync(request(`http://127.0.0.1:${port}/`), undefined, 'no longer accepting');
});
