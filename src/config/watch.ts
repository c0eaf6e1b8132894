import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

// Reload on file change. Editors save in bursts (write, rename, chmod) and Kubernetes swaps a
// ConfigMap volume's `..data` symlink in several steps, so changes are debounced into one reload.

export interface ConfigWatcher {
  close(): void;
}

export async function watchConfig(paths: readonly string[], onChange: () => void, debounceMs = 250): Promise<ConfigWatcher> {
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const target of paths) {
    const isDirectory = (await stat(target)).isDirectory();
    // A file is watched through its folder: replacing it (rename over) would orphan a file watch.
    const folder = isDirectory ? target : path.dirname(target);
    const name = isDirectory ? undefined : path.basename(target);
    watchers.push(
      watch(folder, { recursive: isDirectory, persistent: false }, (_event, changed) => {
        if (name === undefined || changed === null || changed === name || changed.startsWith('..')) schedule();
      }),
    );
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
