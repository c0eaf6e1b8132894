import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import test from 'ava';
import { compileHeaderOperations, requestAuthority } from '../../../src/filters/headers/header-edits.js';

test('Istio docs example: set replaces, add appends, remove deletes', (t) => {
  // headers: { request: { set: { test: "true" } }, response: { remove: [foo] } } and an add.
  const edit = compileHeaderOperations({ set: { test: 'true' }, add: { 'x-tag': 'v2' }, remove: ['foo'] });
  const headers: IncomingHttpHeaders = { test: 'false', 'x-tag': 'v1', foo: 'bar', keep: 'me' };
  edit(headers);
  t.deepEqual(headers, { test: 'true', 'x-tag': ['v1', 'v2'], keep: 'me' });
});

test('names are case-insensitive against lower-case header objects', (t) => {
  const edit = compileHeaderOperations({ set: { 'X-Version': 'v2' }, remove: ['X-Debug'] });
  const headers: OutgoingHttpHeaders = { 'x-version': 'v1', 'x-debug': '1' };
  edit(headers);
  t.deepEqual(headers, { 'x-version': 'v2' });
});

test('add to an absent header creates it; to a list appends to the list', (t) => {
  const edit = compileHeaderOperations({ add: { 'set-cookie': 'c=3', 'x-new': 'n' } });
  const headers: OutgoingHttpHeaders = { 'set-cookie': ['a=1', 'b=2'] };
  edit(headers);
  t.deepEqual(headers, { 'set-cookie': ['a=1', 'b=2', 'c=3'], 'x-new': 'n' });
});

test('remove runs before set and add, whatever the spec order: removing and setting a name sets it', (t) => {
  const edit = compileHeaderOperations({ remove: ['x-a'], set: { 'x-a': 'new' }, add: { 'x-b': 'added' } });
  const headers: IncomingHttpHeaders = { 'x-a': 'old', 'x-b': 'old' };
  edit(headers);
  t.deepEqual(headers, { 'x-a': 'new', 'x-b': ['old', 'added'] });
});

test('set runs before add: set then add on one name keeps both values', (t) => {
  const edit = compileHeaderOperations({ add: { 'x-a': 'added' }, set: { 'x-a': 'set' } });
  const headers: IncomingHttpHeaders = { 'x-a': 'original' };
  edit(headers);
  t.deepEqual(headers, { 'x-a': ['set', 'added'] });
});

test('destination level applies after route level: its set wins, all removes come first', (t) => {
  const edit = compileHeaderOperations(
    { set: { 'x-route': 'route', 'x-shared': 'from-route' }, remove: ['x-drop-by-route'] },
    { set: { 'x-shared': 'from-destination' }, remove: ['x-route'] },
  );
  const headers: IncomingHttpHeaders = { 'x-drop-by-route': '1', 'x-route': 'client' };
  edit(headers);
  // Envoy evaluates one list: every remove (route's, then destination's), then every write.
  t.deepEqual(headers, { 'x-route': 'route', 'x-shared': 'from-destination' });
});

test('host, :authority and pseudo-headers are never edited; empty values are skipped', (t) => {
  const edit = compileHeaderOperations({ set: { host: 'evil', ':path': '/x', 'x-empty': '' }, remove: ['Host', ':method'] });
  const headers: IncomingHttpHeaders = { host: 'shop.example.com', 'x-empty': 'kept' };
  edit(headers);
  t.deepEqual(headers, { host: 'shop.example.com', 'x-empty': 'kept' });
});

test('requestAuthority: host or :authority in set (preferred) or add becomes the upstream authority', (t) => {
  t.is(requestAuthority({ set: { Host: 'a.internal' }, add: { ':authority': 'b.internal' } }), 'a.internal');
  t.is(requestAuthority({ add: { ':authority': 'b.internal' } }), 'b.internal');
  t.is(requestAuthority({ set: { 'x-other': '1' } }), undefined);
  t.is(requestAuthority(undefined), undefined);
});

test('nothing to do compiles to an edit that changes nothing', (t) => {
  const headers: IncomingHttpHeaders = { a: '1' };
  compileHeaderOperations(undefined, {})(headers);
  t.deepEqual(headers, { a: '1' });
});
