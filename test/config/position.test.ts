import test from 'ava';
import { LineCounter, parseDocument } from 'yaml';
import { locateNode } from '../../src/config/position.js';

const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
spec:
  hosts: [a, b]
  http:
  - name: first
    route:
    - destination:
        host: reviews
  - name: second
    headers: &edits
      request:
        set: {x-a: "1"}
    mirror: *edits
`;

const lineCounter = new LineCounter();
const document = parseDocument(text, { lineCounter });
const at = (...path: (string | number)[]) => locateNode(document, lineCounter, document.contents, path);

test('an existing map entry is located at its key', (t) => {
  t.deepEqual(at('spec', 'http', 0, 'route', 0, 'destination', 'host'), { line: 9, column: 9 });
  t.deepEqual(at('kind'), { line: 2, column: 1 });
});

test('a sequence item is located at the item, flow items included', (t) => {
  t.deepEqual(at('spec', 'http', 1), { line: 10, column: 5 });
  t.deepEqual(at('spec', 'hosts', 1), { line: 4, column: 14 });
});

test('a missing field points at the deepest parent that exists', (t) => {
  t.deepEqual(at('spec', 'http', 0, 'route', 0, 'destination', 'subset'), { line: 8, column: 7 });
  t.deepEqual(at('spec', 'http', 7, 'route'), { line: 5, column: 3 });
  t.deepEqual(at('spec', 'hosts', 0, 'deeper'), { line: 4, column: 11 });
});

test('the empty path is the start of the node', (t) => {
  t.deepEqual(at(), { line: 1, column: 1 });
});

test('paths through an alias follow the anchored node', (t) => {
  t.deepEqual(at('spec', 'http', 1, 'mirror', 'request', 'set', 'x-a'), { line: 13, column: 15 });
});
