import test from 'ava';
import { createConfigDump } from '../../src/admin/config-dump.js';
import { toWire } from '../../src/process/messages.js';
import { compileYaml } from '../helpers/compile-config.js';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configDir, singleRouteConfig } from '../helpers/config-files.js';

test('the config dump is plain data: resources with their source file, listeners and clusters', async (t) => {
  const { file, snapshot, config } = await compileYaml(t, singleRouteConfig({ port: 8080, upstreamPort: 9000 }));
  if (snapshot === undefined || config === undefined) return t.fail('the config compiles');
  const dump = createConfigDump(snapshot, toWire(config));

  t.is(dump.generation, 1);
  t.deepEqual(dump.listeners, [{ name: '0.0.0.0_8080', bind: '0.0.0.0', port: 8080, protocol: 'HTTP', servers: [{ name: 'default/edge#0', hosts: ['*'] }] }]);
  t.deepEqual(
    dump.resources.map((r) => ({ kind: r.kind, source: r.source })),
    [
      { kind: 'Gateway', source: file },
      { kind: 'VirtualService', source: file },
      { kind: 'ServiceEntry', source: file },
    ],
  );
  t.deepEqual(
    dump.clusters.map((c) => (c as { name: string }).name),
    [...snapshot.clusters.keys()],
  );
  // What the primary keeps must survive a JSON round trip unchanged: no closures, no syntax trees.
  t.deepEqual(JSON.parse(JSON.stringify(dump)), dump);
});

test('the Redis password of rate limits reaches the workers but never the config dump, from a file, an environment variable or the URL', async (t) => {
  const dir = await configDir('dump-secret');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'redis-password'), 'file-s3cret\n');
  const mesh = (redis: string) => `---
apiVersion: meshgate.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  rateLimit:
    backend:
      redis: ${redis}
`;
  process.env.MG_TEST_DUMP_PASSWORD = 'env-s3cret';
  const cases = [
    { redis: `{ url: "redis://127.0.0.1:6379", password: { file: ${join(dir, 'redis-password')} } }`, secret: 'file-s3cret', wire: 'file-s3cret' },
    { redis: '{ url: "redis://127.0.0.1:6379", password: { env: MG_TEST_DUMP_PASSWORD } }', secret: 'env-s3cret', wire: 'env-s3cret' },
    { redis: '{ url: "redis://user:url-s3cret@127.0.0.1:6379/0" }', secret: 'url-s3cret', wire: undefined },
  ];
  for (const { redis, secret, wire } of cases) {
    const { snapshot, config, rateLimitSecrets, issues } = await compileYaml(t, singleRouteConfig({ port: 8080, upstreamPort: 9000 }) + mesh(redis));
    if (snapshot === undefined || config === undefined) return t.fail(issues.map((i) => i.message).join('\n'));
    const wired = toWire(config, {}, rateLimitSecrets);
    t.is(wired.rateLimitSecrets?.password, wire);
    const text = JSON.stringify(createConfigDump(snapshot, wired));
    t.false(text.includes(secret), `the dump shows ${secret}`);
    t.true(text.includes('"rateLimit"'));
  }
});

test('a password file that cannot be read, or an unset variable, is a config error at its field', async (t) => {
  delete process.env.MG_TEST_UNSET_PASSWORD;
  for (const [source, path] of [
    ['{ file: /nonexistent/redis-password }', 'spec.rateLimit.backend.redis.password.file'],
    ['{ env: MG_TEST_UNSET_PASSWORD }', 'spec.rateLimit.backend.redis.password.env'],
  ] as const) {
    const { snapshot, issues } = await compileYaml(
      t,
      `${singleRouteConfig({ port: 8080, upstreamPort: 9000 })}---
apiVersion: meshgate.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  rateLimit: { backend: { redis: { url: "redis://127.0.0.1:6379", password: ${source} } } }
`,
    );
    t.is(snapshot, undefined);
    t.like(issues.find((issue) => issue.code === 'MG_ERR_RATELIMIT_SECRET'), { path, kind: 'MeshConfig' });
  }
});
