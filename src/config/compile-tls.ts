import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { ServerTLSSettings } from './kinds/gateway.js';
import type { ServerCredential } from './credentials.js';

// A terminating Gateway server's TLS settings and certificates -> the options of its tls.Server
// and the checks a client certificate must pass. Servers with the same material and settings
// share one compiled config (and so one tls.Server per listener, built once per snapshot).

export type TerminatingMode = 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL';

export interface TlsServerConfig {
  readonly mode: TerminatingMode;
  /** The certificates, CA, CRL, versions and cipher suites of the server's tls.Server. */
  readonly contextOptions: Readonly<SecureContextOptions>;
  /**
   * Equal keys: the same certificates and client verification, so one connection may carry
   * requests for both servers (HTTP/2 connection reuse); different keys answer 421.
   */
  readonly contextKey: string;
  /** subjectAltNames, verifyCertificateSpki and verifyCertificateHash on a client certificate; undefined when none is set. */
  readonly verifyPeer?: (raw: Buffer, subjectAltName: string | undefined) => string | undefined;
}

/** Istio's default minimum for gateways is TLS 1.2; the maximum is the newest. */
const versions = { TLSV1_0: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' } as const;
const versionOrder = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export type TlsContextCache = Map<string, TlsServerConfig>;

/** Throws an Error with a user-facing message when the settings cannot be served. */
export function compileServerTls(settings: ServerTLSSettings & { mode: TerminatingMode }, credential: ServerCredential, cache: TlsContextCache): TlsServerConfig {
  const minVersion = settings.minProtocolVersion === undefined || settings.minProtocolVersion === 'TLS_AUTO' ? 'TLSv1.2' : versions[settings.minProtocolVersion];
  const maxVersion = settings.maxProtocolVersion === undefined || settings.maxProtocolVersion === 'TLS_AUTO' ? 'TLSv1.3' : versions[settings.maxProtocolVersion];
  if (versionOrder.indexOf(minVersion) > versionOrder.indexOf(maxVersion)) {
    throw new Error(`minProtocolVersion ${settings.minProtocolVersion ?? 'TLS_AUTO'} is above maxProtocolVersion ${settings.maxProtocolVersion ?? 'TLS_AUTO'}`);
  }
  const verifiesClient = settings.mode !== 'SIMPLE';
  const options: SecureContextOptions = {
    cert: credential.pairs.map((pair) => pair.cert),
    key: credential.pairs.map((pair) => pair.key),
    minVersion,
    maxVersion,
    ...(settings.cipherSuites === undefined || settings.cipherSuites.length === 0 ? {} : { ciphers: settings.cipherSuites.join(':') }),
    ...(verifiesClient && credential.ca !== undefined ? { ca: credential.ca } : {}),
    ...(verifiesClient && credential.crl !== undefined ? { crl: credential.crl } : {}),
  };
  const pins = verifiesClient ? pinsOf(settings) : undefined;
  const contextKey = createHash('sha256').update(JSON.stringify({ mode: settings.mode, options, pins })).digest('base64url');
  const cached = cache.get(contextKey);
  if (cached !== undefined) return cached;
  try {
    // Built here only to refuse what OpenSSL would refuse (a cipher suite it does not know) as a
    // config issue; the listener's tls.Server builds the one it serves with.
    createSecureContext(options);
  } catch (err) {
    throw new Error(`these TLS settings cannot be served: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const verifyPeer = pins === undefined ? undefined : createPeerCheck(pins);
  const compiled: TlsServerConfig = Object.freeze({ mode: settings.mode, contextOptions: Object.freeze(options), contextKey, ...(verifyPeer === undefined ? {} : { verifyPeer }) });
  cache.set(contextKey, compiled);
  return compiled;
}

interface Pins {
  readonly subjectAltNames: readonly string[];
  readonly spki: readonly string[];
  readonly hashes: readonly string[];
}

function pinsOf(settings: ServerTLSSettings): Pins | undefined {
  const subjectAltNames = settings.subjectAltNames ?? [];
  const spki = settings.verifyCertificateSpki ?? [];
  // Envoy accepts a hash with or without colons, in either case.
  const hashes = (settings.verifyCertificateHash ?? []).map((hash) => hash.replace(/:/g, '').toLowerCase());
  if (subjectAltNames.length === 0 && spki.length === 0 && hashes.length === 0) return undefined;
  return { subjectAltNames, spki, hashes };
}

// Envoy's rules: a SAN list must match one SAN of the certificate; when SPKI and hash pins are
// both set, matching either is enough.
function createPeerCheck(pins: Pins): NonNullable<TlsServerConfig['verifyPeer']> {
  return (raw, subjectAltName) => {
    if (pins.subjectAltNames.length > 0) {
      const names = (subjectAltName ?? '').split(', ').map((entry) => entry.slice(entry.indexOf(':') + 1));
      if (!names.some((name) => pins.subjectAltNames.includes(name))) return 'no subject alternative name of the client certificate is allowed';
    }
    if (pins.spki.length === 0 && pins.hashes.length === 0) return undefined;
    const hash = createHash('sha256').update(raw).digest('hex');
    if (pins.hashes.includes(hash)) return undefined;
    if (pins.spki.length > 0) {
      const spki = new X509Certificate(raw).publicKey.export({ type: 'spki', format: 'der' });
      if (pins.spki.includes(createHash('sha256').update(spki).digest('base64'))) return undefined;
    }
    return 'the client certificate matches no verifyCertificateSpki or verifyCertificateHash pin';
  };
}
