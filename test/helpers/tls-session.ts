import { connect as tlsConnect } from 'node:tls';

// One TLS connection as a returning client makes it: it offers a saved session (a TLS 1.3 ticket
// or a TLS 1.2 one) and reports whether the server resumed it, which certificate it saw, and the
// first new session the server gave (none after a resumed TLS 1.3 handshake: Node sends tickets
// only after a full one).

export interface Handshake {
  readonly reused: boolean;
  /** The served certificate's CN (a resumed session reports the one of the handshake it resumes). */
  readonly cn: string | undefined;
  /** The first session ticket received, if any. */
  readonly session: Buffer | undefined;
}

export interface HandshakeOptions {
  readonly port: number;
  readonly servername: string;
  readonly ca: string;
  readonly session?: Buffer;
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Connects, waits for the handshake (and the ticket after a full one), and closes. */
export function handshake(options: HandshakeOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', ...options, ALPNProtocols: ['http/1.1'] });
    let session: Buffer | undefined;
    let connected = false;
    const finish = () => {
      // TLS 1.3 sends two tickets: the second one finds the connection closed already.
      if (socket.destroyed) return;
      const peer = socket.getPeerCertificate();
      resolve({ reused: socket.isSessionReused(), cn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined, session });
      socket.destroy();
    };
    socket.on('session', (ticket: Buffer) => {
      session ??= ticket;
      if (connected) finish();
    });
    socket.once('secureConnect', () => {
      connected = true;
      // TLS 1.2 delivers its ticket in the handshake; TLS 1.3 after it, and only after a full one.
      if (session !== undefined || socket.isSessionReused()) finish();
    });
    socket.on('error', reject);
    socket.resume();
  });
}

/** `count` connections one after another, each offering `options.session`: whether each was resumed. */
export async function resumptions(count: number, options: HandshakeOptions): Promise<boolean[]> {
  const reused: boolean[] = [];
  for (let i = 0; i < count; i++) reused.push((await handshake(options)).reused);
  return reused;
}
