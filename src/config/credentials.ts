import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigErrorCode } from '../errors.js';
import type { IssueSink } from './compile-issues.js';
import type { FieldPath } from './issue.js';
import type { GatewaySpec, Server, ServerTLSSettings } from './kinds/gateway.js';
import type { Resource, ValidatedConfig } from './validate.js';

// The certificates of terminating Gateway servers, read by the primary in the config pipeline:
// a `credentialName` from the certs folder laid out as Kubernetes mounts a TLS Secret
// (certs/NAME/tls.crt, tls.key, ca.crt, ca.crl, or the generic keys cert, key, cacert, crl; the
// CA may sit in a separate NAME-cacert folder, Istio's convention), or the file paths of
// serverCertificate, privateKey, caCertificates, caCrl and tlsCertificates. Every problem is a
// config issue at the Gateway field; the result is plain PEM text, which crosses to the workers.

export interface CertificateKeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface ServerCredential {
  /** One pair, or two side by side (RSA and ECDSA): the TLS stack picks what the client supports. */
  readonly pairs: readonly CertificateKeyPair[];
  /** CA bundle that verifies client certificates (MUTUAL, OPTIONAL_MUTUAL). */
  readonly ca?: string;
  readonly crl?: string;
}

/** By serverCredentialKey(): PEM text only, so it survives the primary-to-worker channel. */
export type ServerCredentials = Readonly<Record<string, ServerCredential>>;

const terminatingModes: ReadonlySet<string> = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);

/** A warning when a served certificate expires within this. */
const expiryWarningMs = 30 * 24 * 3600 * 1000;

const keyNames = { cert: ['tls.crt', 'cert'], key: ['tls.key', 'key'], ca: ['ca.crt', 'cacert'], crl: ['ca.crl', 'crl'] } as const;

export function serverCredentialKey(gateway: { readonly metadata: { readonly namespace: string; readonly name: string } }, serverIndex: number): string {
  return `${gateway.metadata.namespace}/${gateway.metadata.name}#${serverIndex}`;
}

/** Whether the server terminates TLS here (SIMPLE, MUTUAL, OPTIONAL_MUTUAL); a mode left out is Istio's PASSTHROUGH. */
export function terminatesTls(server: Server): server is Server & { tls: ServerTLSSettings } {
  return server.tls?.mode !== undefined && terminatingModes.has(server.tls.mode);
}

export async function readServerCredentials(config: ValidatedConfig, certsDir: string, issues: IssueSink, now = Date.now()): Promise<ServerCredentials> {
  const out: Record<string, ServerCredential> = {};
  for (const gateway of config.gateways) {
    for (const [index, server] of gateway.spec.servers.entries()) {
      if (!terminatesTls(server)) continue;
      const reader = createReader(gateway, ['spec', 'servers', index, 'tls'], certsDir, issues, now);
      const credential = await readServer(server.tls, reader);
      if (credential !== undefined) out[serverCredentialKey(gateway, index)] = Object.freeze(credential);
    }
  }
  return Object.freeze(out);
}

interface Reader {
  /** The first of `names` in `folder` that exists; an issue at `field` when none does and `required`. */
  fromFolder(folder: string, names: readonly string[], field: FieldPath, required: boolean): Promise<string | undefined>;
  fromFile(file: string, field: FieldPath): Promise<string | undefined>;
  certificate(pem: string, field: FieldPath): X509Certificate | undefined;
  pair(cert: string | undefined, key: string | undefined, field: FieldPath): CertificateKeyPair | undefined;
  caBundle(pem: string | undefined, field: FieldPath): string | undefined;
  crl(pem: string | undefined, field: FieldPath): string | undefined;
  error(field: FieldPath, code: ConfigErrorCode, message: string): void;
}

async function readServer(tls: ServerTLSSettings, reader: Reader): Promise<ServerCredential | undefined> {
  const pairs: (CertificateKeyPair | undefined)[] = [];
  let ca: string | undefined;
  let crl: string | undefined;
  // Secret folders the CA may come from, in Istio's order: the named CA secret, else the
  // credential's own folder, else its NAME-cacert companion.
  const caFolders: { folder: string; field: FieldPath }[] = [];

  const credentialNames = tls.credentialName !== undefined ? [tls.credentialName] : (tls.credentialNames ?? []);
  for (const [i, name] of credentialNames.entries()) {
    const field: FieldPath = tls.credentialName !== undefined ? ['credentialName'] : ['credentialNames', i];
    const cert = await reader.fromFolder(name, keyNames.cert, field, true);
    const key = await reader.fromFolder(name, keyNames.key, field, true);
    pairs.push(reader.pair(cert, key, field));
  }
  for (const [i, entry] of (tls.tlsCertificates ?? []).entries()) {
    const field: FieldPath = ['tlsCertificates', i];
    const cert = entry.serverCertificate === undefined ? missing(reader, [...field, 'serverCertificate']) : await reader.fromFile(entry.serverCertificate, [...field, 'serverCertificate']);
    const key = entry.privateKey === undefined ? missing(reader, [...field, 'privateKey']) : await reader.fromFile(entry.privateKey, [...field, 'privateKey']);
    pairs.push(reader.pair(cert, key, field));
  }
  if (tls.serverCertificate !== undefined && tls.privateKey !== undefined) {
    const cert = await reader.fromFile(tls.serverCertificate, ['serverCertificate']);
    const key = await reader.fromFile(tls.privateKey, ['privateKey']);
    pairs.push(reader.pair(cert, key, ['serverCertificate']));
  }

  if (tls.caCertificates !== undefined) {
    ca = reader.caBundle(await reader.fromFile(tls.caCertificates, ['caCertificates']), ['caCertificates']);
  } else if (tls.tlsCertificates?.[0]?.caCertificates !== undefined) {
    const field: FieldPath = ['tlsCertificates', 0, 'caCertificates'];
    ca = reader.caBundle(await reader.fromFile(tls.tlsCertificates[0].caCertificates, field), field);
  } else if (tls.caCertCredentialName !== undefined) {
    caFolders.push({ folder: tls.caCertCredentialName, field: ['caCertCredentialName'] });
  } else if (credentialNames[0] !== undefined) {
    const field: FieldPath = tls.credentialName !== undefined ? ['credentialName'] : ['credentialNames', 0];
    caFolders.push({ folder: credentialNames[0], field }, { folder: `${credentialNames[0]}-cacert`, field });
  }
  let crlFolder: { folder: string; field: FieldPath } | undefined;
  for (const { folder, field } of caFolders) {
    const pem = await reader.fromFolder(folder, keyNames.ca, field, false);
    if (pem === undefined) continue;
    ca = reader.caBundle(pem, field);
    crlFolder = { folder, field };
    break;
  }
  if (tls.caCrl !== undefined) crl = reader.crl(await reader.fromFile(tls.caCrl, ['caCrl']), ['caCrl']);
  else if (crlFolder !== undefined) crl = reader.crl(await reader.fromFolder(crlFolder.folder, keyNames.crl, crlFolder.field, false), crlFolder.field);

  const needsCa = tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL';
  if (needsCa && ca === undefined && caFolders.length > 0) {
    const tried = caFolders.map(({ folder }) => keyNames.ca.map((name) => `${folder}/${name}`).join(', ')).join(', ');
    reader.error(caFolders[0]!.field, 'MG_ERR_TLS_FILE', `TLS mode ${tls.mode} needs a CA to verify client certificates; none of ${tried} exists in the certs folder`);
  } else if (needsCa && ca === undefined && caFolders.length === 0 && tls.caCertificates === undefined) {
    reader.error([], 'MG_ERR_TLS_FILE', `TLS mode ${tls.mode} needs caCertificates to verify client certificates`);
  }
  if (pairs.length === 0 || pairs.some((pair) => pair === undefined)) return undefined;
  return { pairs: pairs as CertificateKeyPair[], ...(ca === undefined ? {} : { ca }), ...(crl === undefined ? {} : { crl }) };
}

function missing(reader: Reader, field: FieldPath): undefined {
  reader.error(field, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'a tlsCertificates entry needs serverCertificate and privateKey');
  return undefined;
}

function createReader(gateway: Resource<GatewaySpec>, base: FieldPath, certsDir: string, issues: IssueSink, now: number): Reader {
  const error = (field: FieldPath, code: ConfigErrorCode, message: string) => issues.error(gateway, [...base, ...field], code, message);
  const read = async (file: string, field: FieldPath, reportMissing: boolean): Promise<string | undefined> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !reportMissing) return undefined;
      error(field, 'MG_ERR_TLS_FILE', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`);
      return undefined;
    }
  };
  const certificate = (pem: string, field: FieldPath): X509Certificate | undefined => {
    try {
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "BEGIN CERTIFICATE" block');
      return new X509Certificate(pem);
    } catch (err) {
      error(field, 'MG_ERR_TLS_PEM', `not a PEM certificate: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };
  return {
    error,
    certificate,
    fromFile: (file, field) => read(path.resolve(certsDir, file), field, true),
    async fromFolder(folder, names, field, required) {
      for (const name of names) {
        const text = await read(path.join(certsDir, folder, name), field, false);
        if (text !== undefined) return text;
      }
      if (required) error(field, 'MG_ERR_TLS_FILE', `the certs folder ${certsDir} has no ${names.map((name) => `${folder}/${name}`).join(' or ')}`);
      return undefined;
    },
    pair(certPem, keyPem, field) {
      if (certPem === undefined || keyPem === undefined) return undefined;
      const cert = certificate(certPem, field);
      let key;
      try {
        key = createPrivateKey(keyPem);
      } catch (err) {
        error(field, 'MG_ERR_TLS_PEM', `not a PEM private key: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
      if (cert === undefined) return undefined;
      if (!cert.checkPrivateKey(key)) {
        error(field, 'MG_ERR_TLS_KEY_MISMATCH', `the private key does not belong to the certificate for ${cert.subject.replace(/\n/g, ', ')}`);
        return undefined;
      }
      const left = Date.parse(cert.validTo) - now;
      if (left < expiryWarningMs) {
        issues.warning(gateway, [...base, ...field], 'MG_ERR_TLS_CERT_EXPIRING',
          left <= 0 ? `the certificate for ${cert.subject.replace(/\n/g, ', ')} expired on ${cert.validTo}; clients will refuse it` : `the certificate for ${cert.subject.replace(/\n/g, ', ')} expires on ${cert.validTo}, in ${Math.ceil(left / 86_400_000)} day(s)`);
      }
      return { cert: certPem, key: keyPem };
    },
    caBundle(pem, field) {
      if (pem === undefined) return undefined;
      const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) {
        error(field, 'MG_ERR_TLS_PEM', 'the CA file holds no PEM certificate');
        return undefined;
      }
      return blocks.every((block) => certificate(block, field) !== undefined) ? pem : undefined;
    },
    crl(pem, field) {
      if (pem === undefined) return undefined;
      if (!pem.includes('-----BEGIN X509 CRL-----')) {
        error(field, 'MG_ERR_TLS_PEM', 'the CRL file holds no "BEGIN X509 CRL" block');
        return undefined;
      }
      return pem;
    },
  };
}
