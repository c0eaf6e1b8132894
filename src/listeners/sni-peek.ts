import type { Socket } from 'node:net';

// Reads a TLS ClientHello off a socket without terminating TLS, as Envoy's tls_inspector does:
// the SNI decides where the raw stream goes. The bytes read are handed back untouched, so the
// caller can push them back (socket.unshift) and hand the socket on: to a relay, or to a
// terminating tls.Server via `tlsServer.emit('connection', socket)`.
// RFC 8446 4.1.2 / RFC 5246 7.4.1.2 (ClientHello), RFC 6066 3 (server_name).

export type ClientHelloParse =
  /** More bytes are needed before anything can be said. */
  | { readonly kind: 'incomplete' }
  /** The bytes are not a TLS handshake (plain text, SSLv2, a malformed hello). */
  | { readonly kind: 'not-tls' }
  /** A ClientHello; `serverName` undefined when it carries no SNI. */
  | { readonly kind: 'tls'; readonly serverName: string | undefined };

export type PeekOutcome =
  | { readonly kind: 'tls'; readonly serverName: string | undefined; readonly bytes: Buffer }
  | { readonly kind: 'not-tls' | 'timeout' | 'too-large' | 'closed'; readonly bytes: Buffer };

export interface PeekOptions {
  /** Envoy's tls_inspector reads at most 64 KiB of ClientHello. */
  readonly maxBytes?: number;
  /** Envoy's listener_filters_timeout default: 15 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;

/**
 * Parses what has arrived so far. A ClientHello may span several records and each record may
 * arrive in pieces; the handshake bytes of consecutive handshake records are joined first.
 */
export function parseClientHello(data: Buffer): ClientHelloParse {
  if (data.length === 0) return { kind: 'incomplete' };
  if (data[0] !== CONTENT_HANDSHAKE) return { kind: 'not-tls' };
  if (data.length >= 2 && data[1] !== 0x03) return { kind: 'not-tls' };
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  // Join record payloads until the handshake message (4-byte header + body) is whole.
  for (;;) {
    if (data.length < offset + RECORD_HEADER) return { kind: 'incomplete' };
    if (data[offset] !== CONTENT_HANDSHAKE) return { kind: 'not-tls' };
    const recordLength = data.readUInt16BE(offset + 3);
    if (recordLength === 0 || recordLength > 16_384 + 2048) return { kind: 'not-tls' };
    const end = offset + RECORD_HEADER + recordLength;
    fragments.push(data.subarray(offset + RECORD_HEADER, Math.min(end, data.length)));
    handshakeBytes += Math.min(end, data.length) - offset - RECORD_HEADER;
    const handshake = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments, handshakeBytes);
    if (handshake.length >= 4) {
      if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'not-tls' };
      const messageLength = handshake.readUIntBE(1, 3);
      if (handshake.length >= 4 + messageLength) return readHello(handshake.subarray(4, 4 + messageLength));
    }
    if (end > data.length) return { kind: 'incomplete' };
    offset = end;
  }
}

// client_version, random, session_id, cipher_suites, compression_methods, extensions.
function readHello(body: Buffer): ClientHelloParse {
  let at = 2 + 32;
  if (body.length < at + 1) return { kind: 'not-tls' };
  at += 1 + (body[at] as number);
  if (body.length < at + 2) return { kind: 'not-tls' };
  at += 2 + body.readUInt16BE(at);
  if (body.length < at + 1) return { kind: 'not-tls' };
  at += 1 + (body[at] as number);
  // A hello with no extensions at all (TLS 1.0 era) is valid and has no SNI.
  if (body.length === at) return { kind: 'tls', serverName: undefined };
  if (body.length < at + 2) return { kind: 'not-tls' };
  const extensionsEnd = at + 2 + body.readUInt16BE(at);
  if (extensionsEnd > body.length) return { kind: 'not-tls' };
  at += 2;
  while (at + 4 <= extensionsEnd) {
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    at += 4;
    if (at + length > extensionsEnd) return { kind: 'not-tls' };
    if (type === EXTENSION_SERVER_NAME) return readServerName(body.subarray(at, at + length));
    at += length;
  }
  return { kind: 'tls', serverName: undefined };
}

function readServerName(extension: Buffer): ClientHelloParse {
  if (extension.length < 2) return { kind: 'not-tls' };
  const listEnd = Math.min(2 + extension.readUInt16BE(0), extension.length);
  let at = 2;
  while (at + 3 <= listEnd) {
    const nameType = extension[at] as number;
    const length = extension.readUInt16BE(at + 1);
    at += 3;
    if (at + length > listEnd) return { kind: 'not-tls' };
    // Host names are ASCII (RFC 6066: A-labels); compared case-insensitively later.
    if (nameType === NAME_TYPE_HOST) return { kind: 'tls', serverName: extension.toString('latin1', at, at + length).toLowerCase() };
    at += length;
  }
  return { kind: 'tls', serverName: undefined };
}

/**
 * Reads from `socket` until a ClientHello is whole, the bytes cannot be TLS, `maxBytes` have come
 * without a whole hello, the timeout passes or the client goes away. Never rejects. Afterwards the
 * socket is paused with no 'data' listener of ours, and every byte read is in `bytes`.
 */
export function peekClientHello(socket: Socket, options: PeekOptions = {}): Promise<PeekOutcome> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve) => {
    let bytes: Buffer = Buffer.alloc(0);
    const finish = (outcome: PeekOutcome) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      const parsed = parseClientHello(bytes);
      if (parsed.kind !== 'incomplete') finish({ ...parsed, bytes });
      else if (bytes.length >= maxBytes) finish({ kind: 'too-large', bytes });
    };
    const onGone = () => finish({ kind: 'closed', bytes });
    const timer = setTimeout(() => finish({ kind: 'timeout', bytes }), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
  });
}
