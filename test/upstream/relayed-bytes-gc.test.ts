import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
// The built module: the child is plain node, with V8 flags of its own and no TypeScript loader.
const moduleUrl = new URL('../../dist/upstream/relayed-bytes-gc.js', import.meta.url).href;

// The child names each relay step before it takes it, and V8's --trace-gc prints every
// collection as it happens, so the test sees which step collected.
const child = `
const { noteRelayedBytes, relayedBytesPerCollection } = await import(${JSON.stringify(moduleUrl)});
console.log('step: threshold - 1');
noteRelayedBytes(relayedBytesPerCollection - 1);
console.log('step: 1 more');
noteRelayedBytes(1);
console.log('step: threshold - 1 again');
noteRelayedBytes(relayedBytesPerCollection - 1);
console.log('step: done');
`;

async function scavengesPerStep(nodeFlags: string[]): Promise<Record<string, number>> {
  const { stdout } = await run(process.execPath, [...nodeFlags, '--trace-gc', '--input-type=module', '-e', child]);
  const counts: Record<string, number> = {};
  let step = 'before';
  for (const line of stdout.split('\n')) {
    const marker = /^step: (.+)$/.exec(line);
    if (marker) {
      step = marker[1]!;
      counts[step] = 0;
    } else if (line.includes('Scavenge') && step !== 'before') {
      counts[step] = (counts[step] ?? 0) + 1;
    }
  }
  return counts;
}

test('a worker (with gc exposed) runs one young-generation collection each time the relayed bytes reach the threshold', async (t) => {
  t.deepEqual(await scavengesPerStep(['--expose-gc']), { 'threshold - 1': 0, '1 more': 1, 'threshold - 1 again': 0, done: 0 });
});

test('without gc exposed, relaying collects nothing and does not fail', async (t) => {
  t.deepEqual(await scavengesPerStep([]), { 'threshold - 1': 0, '1 more': 0, 'threshold - 1 again': 0, done: 0 });
});
