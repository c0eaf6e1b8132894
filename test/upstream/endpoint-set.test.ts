import test from 'ava';
import { createLogger } from '../../src/log.js';
import { endpointKey } from '../../src/upstream/endpoint.js';
import { createDnsEndpoints, createStaticEndpoints, type LookupAll } from '../../src/upstream/endpoint-set.js';

function recordingLogger() {
  const lines: { level: string; msg: string; hostname?: string }[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) }) };
}

/** A resolver whose answer the test sets, counting the lookups it served. */
function settableLookup(initial: string[] | Error) {
  let answer = initial;
  const state = {
    calls: 0,
    set(next: string[] | Error) {
      answer = next;
    },
    lookup: (async () => {
      state.calls++;
      if (answer instanceof Error) throw answer;
      return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    }) as LookupAll,
  };
  return state;
}

const nextChange = (set: { onChange(listener: () => void): void }) => new Promise<void>((resolve) => set.onChange(resolve));

test('static endpoints are what was given, ready at once', async (t) => {
  const endpoints = [{ address: '10.0.0.1', port: 80, labels: { version: 'v1' }, weight: 1 }];
  const set = createStaticEndpoints(endpoints);
  await set.ready();
  t.deepEqual(set.current(), endpoints);
  t.true(Object.isFrozen(set.current()));
});

test('localhost resolves through the real resolver to loopback endpoints with the target port and labels', async (t) => {
  const { logger } = recordingLogger();
  const set = createDnsEndpoints([{ hostname: 'localhost', port: 8080, labels: { app: 'a' }, weight: 2 }], { logger });
  t.teardown(() => set.close());
  await set.ready();
  const endpoints = set.current();
  t.true(endpoints.length >= 1);
  for (const endpoint of endpoints) {
    t.true(['127.0.0.1', '::1'].includes(endpoint.address), endpoint.address);
    t.is(endpoint.port, 8080);
    t.deepEqual(endpoint.labels, { app: 'a' });
    t.is(endpoint.weight, 2);
  }
});

test('IP literals are endpoints as they are, without asking the resolver', async (t) => {
  const resolver = settableLookup(new Error('must not be called'));
  const { logger } = recordingLogger();
  const set = createDnsEndpoints(
    [
      { hostname: '192.0.2.10', port: 80, labels: {}, weight: 1 },
      { hostname: '2001:db8::10', port: 80, labels: {}, weight: 1 },
    ],
    { logger, lookup: resolver.lookup },
  );
  t.teardown(() => set.close());
  await set.ready();
  t.deepEqual(set.current().map(endpointKey), ['192.0.2.10:80', '[2001:db8::10]:80']);
  t.is(resolver.calls, 0);
});

test('every address of a name is an endpoint; a changed answer replaces them and notifies once', async (t) => {
  const resolver = settableLookup(['10.0.0.2', '10.0.0.1', '10.0.0.1']);
  const { logger } = recordingLogger();
  const set = createDnsEndpoints([{ hostname: 'api.example.com', port: 443, labels: {}, weight: 1 }], {
    logger,
    lookup: resolver.lookup,
    refreshMs: 10,
  });
  t.teardown(() => set.close());
  let changes = 0;
  set.onChange(() => changes++);
  await set.ready();
  t.deepEqual(set.current().map(endpointKey), ['10.0.0.1:443', '10.0.0.2:443']);

  // Refreshes with the same answer (in another order) change nothing.
  resolver.set(['10.0.0.1', '10.0.0.2'].reverse());
  const calls = resolver.calls;
  while (resolver.calls < calls + 3) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(changes, 1);

  const changed = nextChange(set);
  resolver.set(['10.0.0.3']);
  await changed;
  t.deepEqual(set.current().map(endpointKey), ['10.0.0.3:443']);
  t.is(changes, 2);
});

test('a failing refresh keeps the last good answer and logs once per change of state', async (t) => {
  const resolver = settableLookup(['10.0.0.1']);
  const { lines, logger } = recordingLogger();
  const set = createDnsEndpoints([{ hostname: 'flaky.example.com', port: 80, labels: {}, weight: 1 }], {
    logger,
    lookup: resolver.lookup,
    refreshMs: 5,
  });
  t.teardown(() => set.close());
  await set.ready();

  resolver.set(Object.assign(new Error('queryA ETIMEOUT flaky.example.com'), { code: 'ETIMEOUT' }));
  let calls = resolver.calls;
  while (resolver.calls < calls + 5) await new Promise((resolve) => setTimeout(resolve, 5));
  t.deepEqual(set.current().map(endpointKey), ['10.0.0.1:80']);
  const warnings = lines.filter((line) => line.level === 'warn');
  t.is(warnings.length, 1);
  t.is(warnings[0]?.hostname, 'flaky.example.com');

  resolver.set(['10.0.0.1']);
  calls = resolver.calls;
  while (resolver.calls < calls + 3) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(lines.filter((line) => line.msg === 'dns resolution recovered').length, 1);
  t.is(lines.filter((line) => line.level === 'warn').length, 1);
});

test('ready() is bounded when the first answer never comes, and the set is then empty', async (t) => {
  const { logger } = recordingLogger();
  const set = createDnsEndpoints([{ hostname: 'hangs.example.com', port: 80, labels: {}, weight: 1 }], {
    logger,
    lookup: () => new Promise(() => {}),
    readyTimeoutMs: 50,
  });
  t.teardown(() => set.close());
  const started = Date.now();
  await set.ready();
  t.true(Date.now() - started < 5000);
  t.deepEqual(set.current(), []);
});

test('a name that never resolves leaves an empty set and is logged; other names still serve', async (t) => {
  const { lines, logger } = recordingLogger();
  const set = createDnsEndpoints(
    [
      { hostname: 'does-not-exist.invalid', port: 80, labels: {}, weight: 1 },
      { hostname: 'localhost', port: 81, labels: {}, weight: 1 },
    ],
    { logger },
  );
  t.teardown(() => set.close());
  await set.ready();
  t.true(set.current().length >= 1);
  t.true(set.current().every((endpoint) => endpoint.port === 81));
  t.deepEqual(lines.filter((line) => line.level === 'warn').map((line) => line.hostname), ['does-not-exist.invalid']);
});

test('two names answering the same address are one endpoint', async (t) => {
  const { logger } = recordingLogger();
  const lookup: LookupAll = async () => [{ address: '10.0.0.9' }];
  const set = createDnsEndpoints(
    [
      { hostname: 'a.example.com', port: 80, labels: {}, weight: 1 },
      { hostname: 'b.example.com', port: 80, labels: {}, weight: 1 },
    ],
    { logger, lookup },
  );
  t.teardown(() => set.close());
  await set.ready();
  t.deepEqual(set.current().map(endpointKey), ['10.0.0.9:80']);
});
