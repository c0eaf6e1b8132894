import type { ConfigIssue } from './issue.js';
import { hasErrors } from './issue.js';
import type { Snapshot } from './snapshot.js';
import { loadConfig } from './load.js';
import { validateConfig, type ValidatedConfig } from './validate.js';
import { compileSnapshot } from './compile.js';
import { createIssueSink } from './compile-issues.js';
import { readServerCredentials, type ServerCredentials } from './credentials.js';
import { readRateLimitSecrets, type RateLimitSecrets } from './rate-limit-secrets.js';

// sources -> load -> validate -> compile, the one path every start, reload and
// `meshgate validate` takes. A result with errors carries no snapshot: it is refused whole.

export interface PipelineOptions {
  readonly paths: readonly string[];
  readonly defaultNamespace: string;
  readonly generation: number;
  /** Where credentialName folders and relative certificate paths are found. */
  readonly certsDir: string;
}

export interface PipelineResult {
  readonly snapshot?: Snapshot;
  /** The validated resources the snapshot was compiled from; present with the snapshot. */
  readonly config?: ValidatedConfig;
  /** The certificates the snapshot serves (PEM, private keys included): for the workers only. */
  readonly credentials?: ServerCredentials;
  /** The Redis password and CA of Global rate limits: for the workers only. */
  readonly rateLimitSecrets?: RateLimitSecrets;
  readonly issues: readonly ConfigIssue[];
}

export async function buildSnapshot(options: PipelineOptions): Promise<PipelineResult> {
  const loaded = await loadConfig([...options.paths], { defaultNamespace: options.defaultNamespace });
  const validated = validateConfig(loaded.documents);
  const issues = [...loaded.issues, ...validated.issues];
  if (hasErrors(issues)) return { issues };
  const credentialIssues = createIssueSink();
  const credentials = await readServerCredentials(validated.config, options.certsDir, credentialIssues);
  const rateLimitSecrets = await readRateLimitSecrets(validated.config, options.certsDir, credentialIssues);
  issues.push(...credentialIssues.issues);
  // Compile runs even when a certificate is unusable (its server is left out), so one run
  // reports every issue; any error still refuses the whole snapshot.
  const compiled = compileSnapshot(validated.config, options.generation, credentials, rateLimitSecrets);
  const all = [...issues, ...compiled.issues];
  return hasErrors(all) ? { issues: all } : { snapshot: compiled.snapshot, config: validated.config, credentials, ...(rateLimitSecrets === undefined ? {} : { rateLimitSecrets }), issues: all };
}
