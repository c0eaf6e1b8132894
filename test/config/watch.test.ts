import test, { type ExecutionContext } from 'ava';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { watchConfig } from '../../src/config/watch.js';
import { configDir, writeConfig } from '../helpers/config-files.js';

// The watcher must see every edit, however it is made: atomic renames again and again, files in
// sub-folders (also ones created after start), and Kubernetes' `..data` symlink swap.

async function watched(t: ExecutionContext, root: string) {
  let changes = 0;
  const waiters: (() => void)[] = [];
  const watcher = await watchConfig([root], () => {
    changes++;
    waiters.splice(0).forEach((wake) => wake());
  }, 50);
  t.teardown(() => watcher.close());
  return {
    count: () => changes,
    /** Resolves at the next reload, or rejects after 3 s. */
    next: () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload seen within 3 s')), 3000);
        waiters.push(() => (clearTimeout(timer), resolve()));
      }),
  };
}

test('every atomic rename into the folder is seen, not only the first', async (t) => {
  const root = await configDir('watch-renames');
  await writeConfig(root, 'a.yaml', 'v: 0\n');
  const watch = await watched(t, root);
  for (let i = 1; i <= 3; i++) {
    const next = watch.next();
    await writeConfig(root, 'a.yaml', `v: ${i}\n`);
    await next;
  }
  t.is(watch.count(), 3);
});

test('files in sub-folders, including a folder made after start, are seen', async (t) => {
  const root = await configDir('watch-nested');
  await mkdir(path.join(root, 'team-a'));
  const watch = await watched(t, root);

  let next = watch.next();
  await writeFile(path.join(root, 'team-a', 'vs.yaml'), 'v: 1\n');
  await next;

  next = watch.next();
  await mkdir(path.join(root, 'team-b'));
  await next; // the new folder itself is a change, and after it the folder is watched
  next = watch.next();
  await writeFile(path.join(root, 'team-b', 'vs.yaml'), 'v: 1\n');
  await next;
  t.true(watch.count() >= 3);
});

test("Kubernetes' ConfigMap update (a new ..data symlink renamed over the old) is seen", async (t) => {
  const root = await configDir('watch-configmap');
  await mkdir(path.join(root, '..2026_01'));
  await writeFile(path.join(root, '..2026_01', 'gw.yaml'), 'v: 1\n');
  await symlink('..2026_01', path.join(root, '..data'));
  await symlink('..data/gw.yaml', path.join(root, 'gw.yaml'));
  const watch = await watched(t, root);

  const next = watch.next();
  await mkdir(path.join(root, '..2026_02'));
  await writeFile(path.join(root, '..2026_02', 'gw.yaml'), 'v: 2\n');
  await symlink('..2026_02', path.join(root, '..data_tmp'));
  await rename(path.join(root, '..data_tmp'), path.join(root, '..data'));
  await next;
  t.true(watch.count() >= 1);
});
