import test from 'ava';
import { createConfigDump } from '../../src/admin/config-dump.js';
import { toWire } from '../../src/process/messages.js';
import { compileYaml } from '../helpers/compile-config.js';
import { singleRouteConfig } from '../helpers/config-files.js';

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
