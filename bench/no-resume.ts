// Builds bench/no-resume.c, the wrk preload that makes every TLS connection a full handshake (the
// C file says why). Only a C compiler is needed: the file declares the two OpenSSL functions it uses.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type NoResumeBuild = { readonly kind: 'built'; readonly library: string } | { readonly kind: 'missing'; readonly reason: string };

export function buildNoResume(repoRoot: string): NoResumeBuild {
  const outDir = path.join(repoRoot, 'node_modules', '.cache', 'meshgate-bench');
  mkdirSync(outDir, { recursive: true });
  const library = path.join(outDir, 'no-resume.so');
  const compile = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, path.join(repoRoot, 'bench', 'no-resume.c'), '-ldl'], { encoding: 'utf8' });
  if (compile.error !== undefined) return { kind: 'missing', reason: 'no C compiler (cc) to build bench/no-resume.c: apt-get install -y gcc' };
  if (compile.status !== 0) return { kind: 'missing', reason: `cc could not build bench/no-resume.c: ${compile.stderr.trim().slice(0, 200)}` };
  return { kind: 'built', library };
}
