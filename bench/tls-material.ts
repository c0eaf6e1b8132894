// The certificate every target serves in the HTTPS cases: made once per benchmark run with the
// openssl command (ECDSA P-256, what certbot and Caddy issue by default), self-signed, for
// 127.0.0.1. wrk does not verify it; the probe does not either.
import { execFile } from 'node:child_process';
import { writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate and key in one PEM file, as HAProxy's `crt` wants them. */
  readonly combinedFile: string;
  /** Said in the report's header. */
  readonly description: string;
}

export async function createTlsFiles(dir: string): Promise<TlsFiles> {
  const certFile = path.join(dir, 'bench-cert.pem');
  const keyFile = path.join(dir, 'bench-key.pem');
  const combinedFile = path.join(dir, 'bench-combined.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=bench.meshgate.test',
    '-addext', 'subjectAltName=DNS:bench.meshgate.test,IP:127.0.0.1',
  ]);
  await writeFile(combinedFile, `${await readFile(certFile, 'utf8')}${await readFile(keyFile, 'utf8')}`);
  return { certFile, keyFile, combinedFile, description: 'self-signed ECDSA P-256 certificate made by openssl for the run' };
}
