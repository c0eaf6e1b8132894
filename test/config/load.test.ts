import test from 'ava';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { hasErrors } from '../../src/config/issue.js';

const gateway = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ${name}${extra}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

async function folder(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'meshgate-load-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

test('folders are read recursively in name order, config extensions only', async (t) => {
  const root = await folder(t, {
    'b.yaml': gateway('b'),
    'a/z.yml': gateway('az'),
    'a/y.json': JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'ay' }, spec: {} }),
    'README.md': gateway('readme'),
    'c.txt': gateway('text'),
  });
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'default' });
  t.deepEqual(issues, []);
  t.deepEqual(documents.map((d) => d.metadata.name), ['ay', 'az', 'b']);
  t.is(documents[0]?.file, join(root, 'a', 'y.json'));
});

test('an explicitly named file is read whatever its extension', async (t) => {
  const root = await folder(t, { 'gateway.conf': gateway('named') });
  const { documents } = await loadConfig([join(root, 'gateway.conf')], { defaultNamespace: 'default' });
  t.deepEqual(documents.map((d) => d.metadata.name), ['named']);
});

test('dot entries are skipped, so a ConfigMap volume loads each file once', async (t) => {
  // The kubelet's layout: ..2024_01_01/ holds the files, ..data links to it, names link into ..data.
  const root = await folder(t, { '..2024_01_01_00_00_00.1/gw.yaml': gateway('gw'), '.hidden.yaml': gateway('hidden') });
  await symlink('..2024_01_01_00_00_00.1', join(root, '..data'));
  await symlink(join('..data', 'gw.yaml'), join(root, 'gw.yaml'));
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'default' });
  t.deepEqual(issues, []);
  t.deepEqual(documents.map((d) => d.metadata.name), ['gw']);
  t.is(documents[0]?.file, join(root, 'gw.yaml'));
});

test('multi-document files keep each resource with its line, metadata and a locator', async (t) => {
  const text = `---
# comment only
---
${gateway('first', '\n  namespace: edge\n  labels: {app: web}\n  annotations: {owner: team-a}\n  creationTimestamp: "2024-05-01T10:00:00Z"')}---
${gateway('second')}`;
  const root = await folder(t, { 'multi.yaml': text });
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'fallback' });
  t.deepEqual(issues, []);
  const [first, second] = documents;
  t.deepEqual(first?.metadata, { name: 'first', namespace: 'edge', labels: { app: 'web' }, annotations: { owner: 'team-a' }, creationTimestamp: '2024-05-01T10:00:00Z' });
  t.is(first?.line, 4);
  t.is(first?.apiVersion, 'networking.istio.io/v1');
  t.is(first?.kind, 'Gateway');
  t.deepEqual(first?.locate(['spec', 'servers', 0, 'hosts']), { line: 15, column: 5 });
  t.is(second?.metadata.namespace, 'fallback');
  t.is(second?.line, 17);
  t.deepEqual(second?.spec, { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
});

test('a kind: List yields its items, located inside the list', async (t) => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: one}
  spec:
    host: one
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: two}
  spec:
    host: two
`;
  const root = await folder(t, { 'list.yaml': text });
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'default' });
  t.deepEqual(issues, []);
  t.deepEqual(documents.map((d) => [d.metadata.name, d.line]), [['one', 4], ['two', 9]]);
  t.deepEqual(documents[1]?.locate(['spec', 'host']), { line: 13, column: 5 });
});

test('a folder of Kubernetes manifests loads with warnings only', async (t) => {
  const root = await folder(t, {
    'deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n',
    'service.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n',
    'gateway.yaml': gateway('edge'),
  });
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'default' });
  t.false(hasErrors(issues));
  t.deepEqual(issues.map((i) => [i.code, i.severity, i.kind, i.line]), [
    ['MG_ERR_CONFIG_KIND_SKIPPED', 'warning', 'Deployment', 2],
    ['MG_ERR_CONFIG_KIND_SKIPPED', 'warning', 'Service', 2],
  ]);
  t.regex(issues[0]?.message ?? '', /apps\/v1\/Deployment web/);
  t.deepEqual(documents.map((d) => d.kind), ['Gateway']);
});

test('YAML syntax errors carry the parser position and spare the file’s other documents', async (t) => {
  const root = await folder(t, { 'bad.yaml': `${gateway('good')}---\nkind: Gateway\nmetadata: {name: [x}\n` });
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'default' });
  t.deepEqual(documents.map((d) => d.metadata.name), ['good']);
  t.true(issues.length > 0);
  for (const issue of issues) {
    t.is(issue.code, 'MG_ERR_CONFIG_YAML');
    t.is(issue.line, 11);
    t.true(issue.column > 1);
  }
});

test('an unknown apiVersion of a known kind is an error; a resource without a name is refused', async (t) => {
  const root = await folder(t, {
    'a.yaml': gateway('old').replace('networking.istio.io/v1', 'networking.istio.io/v1alpha1'),
    'b.yaml': 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  namespace: x\nspec: {}\n',
  });
  const { documents, issues } = await loadConfig([root], { defaultNamespace: 'default' });
  t.deepEqual(documents, []);
  t.deepEqual(issues.map((i) => [i.code, i.severity, i.path, i.line]), [
    ['MG_ERR_CONFIG_API_VERSION', 'error', 'apiVersion', 1],
    ['MG_ERR_CONFIG_DOCUMENT', 'error', 'metadata', 3],
  ]);
});

test('an unreadable path is an issue, never an exception', async (t) => {
  const root = await folder(t, {});
  const missing = join(root, 'nope');
  const { documents, issues } = await loadConfig([missing, root], { defaultNamespace: 'default' });
  t.deepEqual(documents, []);
  t.deepEqual(issues.map((i) => [i.code, i.file, i.line]), [['MG_ERR_CONFIG_READ', missing, 0]]);
});
