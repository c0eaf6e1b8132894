import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

// A self-signed certificate for test servers, made at test time (node-forge builds the X.509;
// node's crypto makes the key, which is far faster than forge's pure-JS RSA). Nothing is written
// to disk: tests hand the PEMs to tls.createServer and use the certificate as the client's CA.

export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

export function selfSignedCertificate(commonName: string, altNames: readonly string[] = [commonName]): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: 'commonName', value: commonName }];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'subjectAltName', altNames: altNames.map((value) => ({ type: 2, value })) },
  ]);
  certificate.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(certificate), key };
}
