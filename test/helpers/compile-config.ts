import type { ExecutionContext } from 'ava';
import { rm } from 'node:fs/promises';
import { buildSnapshot } from '../../src/config/pipeline.js';
import { formatIssue } from '../../src/config/issue.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { configDir, writeConfig } from './config-files.js';

// Compile-stage tests go through the real pipeline from YAML text on disk, as `meshgate` does.

/** load + validate + compile of one YAML file; the file is removed when the test ends. */
export async function compileYaml(t: ExecutionContext, yaml: string, certsDir?: string) {
  const dir = await configDir('compile');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = await writeConfig(dir, 'config.yaml', yaml);
  return { file, ...(await buildSnapshot({ paths: [file], defaultNamespace: 'default', generation: 1, certsDir: certsDir ?? dir })) };
}

/** The snapshot of a configuration that must compile without errors. */
export async function snapshotOf(t: ExecutionContext, yaml: string, certsDir?: string): Promise<Snapshot> {
  const { snapshot, issues } = await compileYaml(t, yaml, certsDir);
  if (snapshot === undefined) throw new Error(`expected a snapshot, got:\n${issues.map(formatIssue).join('\n')}`);
  return snapshot;
}

/** The 1-based line of the first line of `text` containing `needle`, for asserting issue positions. */
export function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((line) => line.includes(needle)) + 1;
}
