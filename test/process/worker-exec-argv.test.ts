import test from 'ava';
import { workerExecArgv } from '../../src/process/worker-exec-argv.js';

test('workers get 8 MiB semi-spaces unless the user chose a size', (t) => {
  t.deepEqual(workerExecArgv([], undefined), ['--max-semi-space-size=8']);
  t.deepEqual(workerExecArgv(['--enable-source-maps'], ''), ['--enable-source-maps', '--max-semi-space-size=8']);
  t.deepEqual(workerExecArgv(['--max-semi-space-size=32'], undefined), ['--max-semi-space-size=32']);
  t.deepEqual(workerExecArgv([], '--max-old-space-size=512 --max_semi_space_size=2'), []);
});
