import test, { type ExecutionContext } from 'ava';
import { rm } from 'node:fs/promises';
import { loadConfig } from '../../src/config/load.js';
import { validateConfig } from '../../src/config/validate.js';
import { formatIssue } from '../../src/config/issue.js';
import { createServiceRegistry, labelsInclude, type ServiceRegistry } from '../../src/config/service-registry.js';
import { configDir, writeConfig } from '../helpers/config-files.js';

// The registry of a standalone gateway: ServiceEntries, WorkloadEntries and DestinationRules
// looked up by host as istiod looks them up, from validated YAML.

async function registryOf(t: ExecutionContext, yaml: string): Promise<ServiceRegistry> {
  const dir = await configDir('service-registry');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = await writeConfig(dir, 'config.yaml', yaml);
  const loaded = await loadConfig([file], { defaultNamespace: 'default' });
  const { config, issues } = validateConfig(loaded.documents);
  t.deepEqual([...loaded.issues, ...issues].map(formatIssue), []);
  return createServiceRegistry(config);
}

const serviceEntry = (name: string, hosts: string, namespace = 'default') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: ${hosts}
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
---
`;

const destinationRule = (name: string, namespace: string, host: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  host: "${host}"
---
`;

const workloadEntry = (name: string, namespace: string, labels: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${namespace}}
spec: {address: 10.0.0.1, labels: ${labels}}
---
`;

test('serviceEntryFor: an exact host first, then the most specific wildcard', async (t) => {
  const registry = await registryOf(
    t,
    `${serviceEntry('wide', '["*.example.com"]')}${serviceEntry('narrow', '["*.api.example.com"]')}${serviceEntry('exact', '[v1.api.example.com, other.org]')}`,
  );
  const nameFor = (host: string) => registry.serviceEntryFor(host)?.metadata.name;
  t.is(nameFor('v1.api.example.com'), 'exact');
  t.is(nameFor('other.org'), 'exact');
  t.is(nameFor('v2.api.example.com'), 'narrow');
  t.is(nameFor('www.example.com'), 'wide');
  // `*.example.com` does not cover the bare domain.
  t.is(nameFor('example.com'), undefined);
  t.is(nameFor('example.org'), undefined);
});

test('serviceEntryFor compares hosts case-insensitively', async (t) => {
  const registry = await registryOf(t, serviceEntry('mixed', '[Api.Example.COM]'));
  t.is(registry.serviceEntryFor('api.example.com')?.metadata.name, 'mixed');
});

test('workloadEntriesFor: the namespace given, and every selector label', async (t) => {
  const registry = await registryOf(
    t,
    `${workloadEntry('vm-1', 'shop', '{app: vm, version: v1}')}${workloadEntry('vm-2', 'shop', '{app: vm, version: v2}')}${workloadEntry('db', 'shop', '{app: db}')}${workloadEntry('vm-other', 'other', '{app: vm, version: v1}')}`,
  );
  const names = (namespace: string, selector: Record<string, string>) => registry.workloadEntriesFor(namespace, selector).map((we) => we.metadata.name);
  t.deepEqual(names('shop', { app: 'vm' }), ['vm-1', 'vm-2']);
  t.deepEqual(names('shop', { app: 'vm', version: 'v2' }), ['vm-2']);
  t.deepEqual(names('other', { app: 'vm' }), ['vm-other']);
  t.deepEqual(names('shop', { app: 'cache' }), []);
  t.deepEqual(names('shop', {}), ['vm-1', 'vm-2', 'db']);
});

test('destinationRuleFor: short rule hosts resolve in the rule’s namespace', async (t) => {
  const registry = await registryOf(t, `${destinationRule('reviews', 'shop', 'reviews')}`);
  t.is(registry.destinationRuleFor('reviews.shop.svc.cluster.local', 'shop')?.metadata.name, 'reviews');
  t.is(registry.destinationRuleFor('reviews.default.svc.cluster.local', 'default'), undefined);
});

test('destinationRuleFor: exact beats wildcard, the longer wildcard beats the shorter', async (t) => {
  const registry = await registryOf(
    t,
    `${destinationRule('all', 'default', '*')}${destinationRule('wide', 'default', '*.example.com')}${destinationRule('narrow', 'default', '*.api.example.com')}${destinationRule('exact', 'default', 'v1.api.example.com')}`,
  );
  const nameFor = (host: string) => registry.destinationRuleFor(host, 'default')?.metadata.name;
  t.is(nameFor('v1.api.example.com'), 'exact');
  t.is(nameFor('v2.api.example.com'), 'narrow');
  t.is(nameFor('www.example.com'), 'wide');
  t.is(nameFor('anything.org'), 'all');
});

test('destinationRuleFor: among rules for one host, the one in the routing namespace wins; else any', async (t) => {
  const registry = await registryOf(
    t,
    `${destinationRule('from-team', 'team', 'api.example.com')}${destinationRule('from-shop', 'shop', 'api.example.com')}${destinationRule('shop-wide', 'shop', '*.example.com')}`,
  );
  const ruleFor = (namespace: string) => {
    const rule = registry.destinationRuleFor('api.example.com', namespace);
    return rule === undefined ? undefined : `${rule.metadata.namespace}/${rule.metadata.name}`;
  };
  t.is(ruleFor('shop'), 'shop/from-shop');
  t.is(ruleFor('team'), 'team/from-team');
  // No rule in `default`: the exact host still beats the shop namespace's wildcard.
  t.is(ruleFor('default'), 'team/from-team');
});

test('labelsInclude: every selector key with its value; an empty selector selects all', (t) => {
  t.true(labelsInclude({ app: 'vm', version: 'v1' }, { app: 'vm' }));
  t.true(labelsInclude({ app: 'vm' }, {}));
  t.false(labelsInclude({ app: 'vm' }, { app: 'vm', version: 'v1' }));
  t.false(labelsInclude({ app: 'vm', version: 'v2' }, { version: 'v1' }));
});
