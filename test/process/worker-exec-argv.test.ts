import test from 'ava';
import { workerExecArgv } from '../../src/process/worker-exec-argv.js';

const defaults = ['--max-semi-space-size=4', '--heap-growing-percent=30', '--expose-gc'];

test('workers get 4 MiB semi-spaces, a 30% old-generation growth and gc unless the user chose them', (t) => {
  t.deepEqual(workerExecArgv([], undefined), defaults);
  t.deepEqual(workerExecArgv(['--enable-source-maps'], ''), ['--enable-source-maps', ...defaults]);
  t.deepEqual(workerExecArgv(['--max-semi-space-size=32'], undefined), ['--max-semi-space-size=32', '--heap-growing-percent=30', '--expose-gc']);
  t.deepEqual(workerExecArgv([], '--max-old-space-size=512 --max_semi_space_size=2'), ['--heap-growing-percent=30', '--expose-gc']);
  t.deepEqual(workerExecArgv(['--heap_growing_percent=0'], '--max-semi-space-size 2'), ['--heap_growing_percent=0', '--expose-gc']);
  t.deepEqual(workerExecArgv(['--expose_gc'], undefined), ['--expose_gc', '--max-semi-space-size=4', '--heap-growing-percent=30']);
});
