import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

// Reload on file change. Editors save in bursts (write, rename, chmod) and Kubernetes swaps a
// ConfigMap volume's `..data` symlink in several steps, so changes are debounced into one reload.
// Every folder is watched on its own (plain inotify): Node 20's `recursive` watch on Linux is
// emulated and was seen to miss a second rename into the same folder.

export interface ConfigWatcher {
  close(): void;
}

export async function watchConfig(paths: readonly string[], onChange: () => void, debounceMs = 250): Promise<ConfigWatcher> {
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // Folders may have come or gone with the change; watch what is there now, then reload.
      void sync().then(() => {
        if (!closed) onChange();
      });
    }, debounceMs);
  };

  const watchFolder = (folder: string, onlyFile?: string) => {
    if (watchers.has(folder)) return;
    const watcher = watch(folder, { persistent: false }, (_event, changed) => {
      if (onlyFile === undefined || changed === null || changed === onlyFile || changed.startsWith('..')) schedule();
    });
    // A folder removed under us ends its watch; the next sync drops it.
    watcher.on('error', () => watcher.close());
    watchers.set(folder, watcher);
  };

  const sync = async () => {
    const wanted = new Set<string>();
    for (const target of paths) {
      const isDirectory = await stat(target).then((s) => s.isDirectory(), () => false);
      // A file is watched through its folder: replacing it (rename over) would orphan a file watch.
      if (!isDirectory) {
        wanted.add(path.dirname(target));
        watchFolder(path.dirname(target), path.basename(target));
        continue;
      }
      for (const folder of await foldersUnder(target)) {
        wanted.add(folder);
        watchFolder(folder);
      }
    }
    for (const [folder, watcher] of watchers) {
      if (!wanted.has(folder)) {
        watcher.close();
        watchers.delete(folder);
      }
    }
  };

  await sync();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

// The folders the loader reads: the root and every sub-folder not hidden (which also leaves out
// Kubernetes' `..2024_...` volume folders; the root's watch sees their `..data` swap).
async function foldersUnder(root: string): Promise<string[]> {
  const folders = [root];
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory() && !entry.name.startsWith('.')) folders.push(...(await foldersUnder(path.join(root, entry.name))));
  }
  return folders;
}
