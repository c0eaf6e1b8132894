import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ValidatedConfig } from './validate.js';
import type { IssueSink } from './compile-issues.js';

// The files and variables MeshConfig's rate-limit backend names, read by the primary on every
// load (workers read no files): the Redis password, kept out of the YAML, and the CA of a TLS
// Redis. A missing one is a config error at its field, like a missing certificate.

export interface RateLimitSecrets {
  readonly password?: string;
  readonly caPem?: string;
}

export async function readRateLimitSecrets(config: ValidatedConfig, certsDir: string, issues: IssueSink): Promise<RateLimitSecrets | undefined> {
  const mesh = config.meshConfigs[0];
  const redis = mesh?.spec.rateLimit.backend?.redis;
  if (mesh === undefined || redis === undefined) return undefined;
  const base = ['spec', 'rateLimit', 'backend', 'redis'];
  const secrets: { password?: string; caPem?: string } = {};
  const source = redis.password;
  if (source?.env !== undefined) {
    const value = process.env[source.env];
    if (value === undefined || value === '') issues.error(mesh, [...base, 'password', 'env'], 'MG_ERR_RATELIMIT_SECRET', `environment variable ${source.env} is not set in the gateway's environment`);
    else secrets.password = value;
  } else if (source?.file !== undefined) {
    try {
      secrets.password = (await readFile(resolve(certsDir, source.file), 'utf8')).replace(/[\r\n]+$/, '');
    } catch (err) {
      issues.error(mesh, [...base, 'password', 'file'], 'MG_ERR_RATELIMIT_SECRET', `cannot read the password file ${source.file}: ${(err as Error).message}`);
    }
  }
  const ca = redis.tls?.caCertificates;
  if (ca !== undefined) {
    try {
      secrets.caPem = await readFile(resolve(certsDir, ca), 'utf8');
    } catch (err) {
      issues.error(mesh, [...base, 'tls', 'caCertificates'], 'MG_ERR_TLS_FILE', `cannot read the Redis CA file ${ca}: ${(err as Error).message}`);
    }
  }
  return secrets;
}
