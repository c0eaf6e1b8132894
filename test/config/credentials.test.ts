import test, { type ExecutionContext } from 'ava';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compileYaml, lineOf } from '../helpers/compile-config.js';
import { configDir, gatewayWithServersYaml } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential, type Issued } from '../helpers/certs.js';
import { createConfigDump } from '../../src/admin/config-dump.js';
import { toWire } from '../../src/process/messages.js';
import { formatIssue } from '../../src/config/issue.js';

// The certificates of terminating servers, read and checked in the config pipeline: every
// problem is an issue with its code at the Gateway field that names the file, and the snapshot
// is refused; what the pipeline hands on is PEM, which never reaches /config_dump.

interface Certs {
  readonly dir: string;
  readonly ca: Issued;
  readonly web: Issued;
  readonly webRsa: Issued;
  readonly other: Issued;
}

let shared: Certs;

test.before(async () => {
  const dir = await configDir('credentials');
  const ca = await makeCa(dir, 'cred-ca');
  shared = {
    dir,
    ca,
    web: await issueCert(dir, ca, 'web', { sans: ['web.test'] }),
    webRsa: await issueCert(dir, ca, 'web-rsa', { sans: ['web.test'], rsa: true }),
    other: await issueCert(dir, ca, 'other', { sans: ['other.test'] }),
  };
});

test.after.always(() => rm(shared.dir, { recursive: true, force: true }));

async function certsFolder(t: ExecutionContext): Promise<string> {
  const dir = await configDir('certs');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function gateway(tls: string, port = 443, name = 'edge'): string {
  return gatewayWithServersYaml(`  - port: {number: ${port}, name: https, protocol: HTTPS}
    hosts: [web.test]
    tls: ${tls}
`, name);
}

test('credentialName: tls.crt and tls.key of certs/NAME are served; the CA may come from NAME-cacert', async (t) => {
  const certs = await certsFolder(t);
  await writeCredential(certs, 'web', shared.web);
  await mkdir(path.join(certs, 'web-cacert'));
  await writeFile(path.join(certs, 'web-cacert', 'ca.crt'), shared.ca.cert);
  const { snapshot, credentials, issues } = await compileYaml(t, gateway('{mode: MUTUAL, credentialName: web}'), certs);
  t.deepEqual(issues.map(formatIssue), []);
  t.is(snapshot?.listeners[0]?.protocol, 'HTTPS');
  t.is(snapshot?.listeners[0]?.tls?.defaultServer.tls.mode, 'MUTUAL');
  t.is(credentials?.['default/edge#0']?.ca, shared.ca.cert);
});

test('the generic Secret keys cert, key and cacert work too', async (t) => {
  const certs = await certsFolder(t);
  await mkdir(path.join(certs, 'web'));
  await writeFile(path.join(certs, 'web', 'cert'), shared.web.cert);
  await writeFile(path.join(certs, 'web', 'key'), shared.web.key);
  await writeFile(path.join(certs, 'web', 'cacert'), shared.ca.cert);
  const { snapshot, issues } = await compileYaml(t, gateway('{mode: OPTIONAL_MUTUAL, credentialName: web}'), certs);
  t.deepEqual(issues.map(formatIssue), []);
  t.is(snapshot?.listeners[0]?.tls?.defaultServer.tls.mode, 'OPTIONAL_MUTUAL');
});

test('file paths and tlsCertificates (RSA and ECDSA side by side), relative to the certs folder', async (t) => {
  const certs = await certsFolder(t);
  for (const [name, pem] of [['ec.crt', shared.web.cert], ['ec.key', shared.web.key], ['rsa.crt', shared.webRsa.cert], ['rsa.key', shared.webRsa.key]]) {
    await writeFile(path.join(certs, name!), pem!);
  }
  const paths = await compileYaml(t, gateway('{mode: SIMPLE, serverCertificate: ec.crt, privateKey: ec.key}'), certs);
  t.deepEqual(paths.issues.map(formatIssue), []);
  const both = await compileYaml(t, gateway('{mode: SIMPLE, tlsCertificates: [{serverCertificate: rsa.crt, privateKey: rsa.key}, {serverCertificate: ec.crt, privateKey: ec.key}]}'), certs);
  t.deepEqual(both.issues.map(formatIssue), []);
  t.is(both.credentials?.['default/edge#0']?.pairs.length, 2);
});

test('a missing credential, bad PEM and a key of another certificate are errors at the field; the snapshot is refused', async (t) => {
  const certs = await certsFolder(t);
  await mkdir(path.join(certs, 'garbled'));
  await writeFile(path.join(certs, 'garbled', 'tls.crt'), 'not a certificate');
  await writeFile(path.join(certs, 'garbled', 'tls.key'), shared.web.key);
  await writeCredential(certs, 'mismatch', { ...shared.web, key: shared.other.key });
  const yaml = `${gateway('{mode: SIMPLE, credentialName: absent}')}---
${gateway('{mode: SIMPLE, credentialName: garbled}', 444, 'garbled')}---
${gateway('{mode: SIMPLE, credentialName: mismatch}', 445, 'mismatch')}`;
  const { file, snapshot, issues } = await compileYaml(t, yaml, certs);
  t.is(snapshot, undefined);
  const lines = yaml.split('\n');
  const lineOfNth = (needle: string) => lines.findIndex((line) => line.includes(needle)) + 1;
  t.deepEqual(issues.map((i) => [i.code, i.file, i.line, i.resource, i.path]), [
    ['MG_ERR_TLS_FILE', file, lineOfNth('credentialName: absent'), 'default/edge', 'spec.servers[0].tls.credentialName'],
    ['MG_ERR_TLS_FILE', file, lineOfNth('credentialName: absent'), 'default/edge', 'spec.servers[0].tls.credentialName'],
    ['MG_ERR_TLS_PEM', file, lineOfNth('credentialName: garbled'), 'default/garbled', 'spec.servers[0].tls.credentialName'],
    ['MG_ERR_TLS_KEY_MISMATCH', file, lineOfNth('credentialName: mismatch'), 'default/mismatch', 'spec.servers[0].tls.credentialName'],
  ]);
  t.regex(issues[0]!.message, /has no absent\/tls\.crt or absent\/cert/);
});

test('MUTUAL without a CA anywhere is an error; ISTIO_MUTUAL is refused as not built', async (t) => {
  const certs = await certsFolder(t);
  await writeCredential(certs, 'web', shared.web);
  const yaml = `${gateway('{mode: MUTUAL, credentialName: web}')}---
${gateway('{mode: ISTIO_MUTUAL}', 444, 'mesh')}`;
  const { issues } = await compileYaml(t, yaml, certs);
  // One run reports both: compile still runs when a certificate is unusable.
  t.deepEqual(issues.map((i) => [i.code, i.severity, i.line, i.resource, i.path]), [
    ['MG_ERR_TLS_FILE', 'error', lineOf(yaml, 'mode: MUTUAL'), 'default/edge', 'spec.servers[0].tls.credentialName'],
    ['MG_ERR_TLS_SETTINGS', 'error', lineOf(yaml, 'mode: ISTIO_MUTUAL'), 'default/mesh', 'spec.servers[0].tls.mode'],
  ]);
  t.regex(issues[0]!.message, /needs a CA to verify client certificates; none of web\/ca\.crt, web\/cacert, web-cacert\/ca\.crt, web-cacert\/cacert exists/);
  const istio = await compileYaml(t, gateway('{mode: ISTIO_MUTUAL}'), certs);
  t.deepEqual(istio.issues.map((i) => [i.code, i.severity, i.path]), [['MG_ERR_TLS_SETTINGS', 'error', 'spec.servers[0].tls.mode']]);
  t.regex(istio.issues[0]!.message, /not built yet/);
});

test('servers on one port keep their own versions and cipher suites; a cipher suite nobody knows is an error', async (t) => {
  const certs = await certsFolder(t);
  await writeCredential(certs, 'web', shared.web);
  const twoServers = gatewayWithServersYaml(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.test]
    tls: {mode: SIMPLE, credentialName: web}
  - port: {number: 443, name: https-2, protocol: HTTPS}
    hosts: [two.test]
    tls: {mode: SIMPLE, credentialName: web, minProtocolVersion: TLSV1_3}
`);
  const two = await compileYaml(t, twoServers, certs);
  t.deepEqual(two.issues.map(formatIssue), []);
  const [first, second] = two.snapshot?.listeners[0]?.servers.servers ?? [];
  t.is(first?.tls?.contextOptions.minVersion, 'TLSv1.2');
  t.is(second?.tls?.contextOptions.minVersion, 'TLSv1.3');
  const unknown = await compileYaml(t, gateway('{mode: SIMPLE, credentialName: web, cipherSuites: [NO-SUCH-CIPHER]}'), certs);
  t.deepEqual(unknown.issues.map((i) => [i.code, i.path]), [['MG_ERR_TLS_SETTINGS', 'spec.servers[0].tls']]);
});

test('/config_dump never carries a private key', async (t) => {
  const certs = await certsFolder(t);
  await writeCredential(certs, 'web', shared.web);
  const { snapshot, config, credentials } = await compileYaml(t, gateway('{mode: SIMPLE, credentialName: web}'), certs);
  if (snapshot === undefined || config === undefined) return t.fail('the config compiles');
  const wire = toWire(config, credentials);
  t.true(JSON.stringify(wire).includes('PRIVATE KEY'), 'the workers get the key');
  const dump = JSON.stringify(createConfigDump(snapshot, wire));
  t.false(dump.includes('PRIVATE KEY'));
  t.false(dump.includes(shared.web.key.split('\n')[1]!));
  t.true(dump.includes('"credentialName":"web"'));
});
