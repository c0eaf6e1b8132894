import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

// Certificates made at test time with the openssl CLI into a temp folder: a CA, server and
// client certificates it signs (EC P-256 by default: fast to make; RSA on request).

const run = promisify(execFile);

export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

function keyArgs(rsa: boolean): string[] {
  return rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
}

async function issued(certFile: string, keyFile: string): Promise<Issued> {
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile, keyFile };
}

export async function makeCa(dir: string, name: string): Promise<Issued> {
  await mkdir(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', ...keyArgs(false), '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '365', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return issued(certFile, keyFile);
}

export interface IssueOptions {
  /** DNS names (and `URI:...` entries, written as they are). */
  readonly sans?: readonly string[];
  readonly days?: number;
  readonly rsa?: boolean;
}

export async function issueCert(dir: string, ca: Issued, name: string, options: IssueOptions = {}): Promise<Issued> {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  const sans = (options.sans ?? []).map((san) => (san.startsWith('URI:') ? san : `DNS:${san}`));
  await writeFile(ext, sans.length === 0 ? 'basicConstraints=CA:FALSE\n' : `basicConstraints=CA:FALSE\nsubjectAltName=${sans.join(',')}\n`);
  await run('openssl', ['req', ...keyArgs(options.rsa === true), '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}/O=meshgate tests`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(Date.now() + Math.floor(Math.random() * 1000)),
    '-out', certFile, '-days', String(options.days ?? 365), '-extfile', ext]);
  return issued(certFile, keyFile);
}

/** certs/NAME/tls.crt and tls.key (and ca.crt), as Kubernetes mounts a TLS Secret. */
export async function writeCredential(certsDir: string, name: string, pair: Issued, ca?: Issued): Promise<void> {
  const folder = path.join(certsDir, name);
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'tls.crt'), pair.cert);
  await writeFile(path.join(folder, 'tls.key'), pair.key);
  if (ca !== undefined) await writeFile(path.join(folder, 'ca.crt'), ca.cert);
}

/** A CRL from `ca` that revokes `revoked` (openssl ca with a throw-away database). */
export async function revoke(dir: string, ca: Issued, revoked: readonly Issued[]): Promise<string> {
  const db = path.join(dir, `crl-db-${Date.now()}`);
  await mkdir(db);
  const config = path.join(db, 'ca.cnf');
  await writeFile(path.join(db, 'index.txt'), '');
  await writeFile(path.join(db, 'crlnumber'), '01\n');
  await writeFile(config, `[ca]\ndefault_ca=test\n[test]\ndatabase=${db}/index.txt\ncrlnumber=${db}/crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n`);
  const ca_ = ['-config', config, '-keyfile', ca.keyFile, '-cert', ca.certFile];
  for (const cert of revoked) await run('openssl', ['ca', ...ca_, '-revoke', cert.certFile]);
  const crl = path.join(db, 'ca.crl');
  await run('openssl', ['ca', ...ca_, '-gencrl', '-out', crl]);
  return readFile(crl, 'utf8');
}
