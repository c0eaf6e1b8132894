import type { ConfigIssue } from './issue.js';
import { hasErrors } from './issue.js';
import type { Snapshot } from './snapshot.js';
import { loadConfig } from './load.js';
import { validateConfig, type ValidatedConfig } from './validate.js';
import { compileSnapshot } from './compile.js';

// sources -> load -> validate -> compile, the one path every start, reload and
// `meshgate validate` takes. A result with errors carries no snapshot: it is refused whole.

export interface PipelineOptions {
  readonly paths: readonly string[];
  readonly defaultNamespace: string;
  readonly generation: number;
}

export interface PipelineResult {
  readonly snapshot?: Snapshot;
  /** The validated resources the snapshot was compiled from; present with the snapshot. */
  readonly config?: ValidatedConfig;
  readonly issues: readonly ConfigIssue[];
}

export async function buildSnapshot(options: PipelineOptions): Promise<PipelineResult> {
  const loaded = await loadConfig([...options.paths], { defaultNamespace: options.defaultNamespace });
  const validated = validateConfig(loaded.documents);
  const issues = [...loaded.issues, ...validated.issues];
  if (hasErrors(issues)) return { issues };
  const compiled = compileSnapshot(validated.config, options.generation);
  const all = [...issues, ...compiled.issues];
  return hasErrors(all) ? { issues: all } : { snapshot: compiled.snapshot, config: validated.config, issues: all };
}
