import { X509Certificate } from 'node:crypto';
import type { ServerCredentials } from '../config/credentials.js';

// /certs: the certificates the gateway serves, read from the PEM the primary loaded, in the
// spirit of Envoy's /certs (its field names where it has them). Only certificates: the keys
// beside them in the credentials never leave this function.

export interface CertificateView {
  readonly serial_number: string;
  readonly subject: string;
  readonly issuer: string;
  readonly subject_alt_names: readonly string[];
  readonly valid_from: string;
  readonly expiration_time: string;
  readonly days_until_expiration: number;
}

export interface CertsView {
  readonly certificates: readonly {
    /** The Gateway server: "namespace/gateway#index". */
    readonly server: string;
    readonly cert_chain: readonly CertificateView[];
    /** The CA that verifies client certificates (MUTUAL), when the server has one. */
    readonly ca_cert: readonly CertificateView[];
  }[];
}

const dayMs = 24 * 3600 * 1000;

export function createCertsView(credentials: ServerCredentials, now = Date.now()): CertsView {
  return {
    certificates: Object.entries(credentials).map(([server, credential]) => ({
      server,
      cert_chain: credential.pairs.flatMap((pair) => certificates(pair.cert, now)),
      ca_cert: credential.ca === undefined ? [] : certificates(credential.ca, now),
    })),
  };
}

function certificates(pem: string, now: number): CertificateView[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    const cert = new X509Certificate(block);
    const expires = Date.parse(cert.validTo);
    return {
      serial_number: cert.serialNumber,
      subject: cert.subject.replaceAll('\n', ', '),
      issuer: cert.issuer.replaceAll('\n', ', '),
      // "DNS:a.example.com, IP Address:10.0.0.1" as node reads it.
      subject_alt_names: cert.subjectAltName === undefined ? [] : cert.subjectAltName.split(', '),
      valid_from: new Date(cert.validFrom).toISOString(),
      expiration_time: new Date(expires).toISOString(),
      days_until_expiration: Math.floor((expires - now) / dayMs),
    };
  });
}
