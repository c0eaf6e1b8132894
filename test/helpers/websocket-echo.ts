import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// The least of a WebSocket server (RFC 6455) for an http.Server's 'upgrade' event: the
// handshake, then every frame the client sends echoed back unmasked, a close frame included
// (after which the server ends the connection). Frames are taken one by one: no fragmentation.

const handshakeGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const opcodes = Object.freeze({ text: 0x1, binary: 0x2, close: 0x8 });

/** Answers the upgrade and echoes; `seen.headers` gets the upgrade request's headers. */
export function acceptAndEcho(req: IncomingMessage, socket: Duplex, seen: { headers?: IncomingHttpHeaders } = {}): void {
  seen.headers = req.headers;
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${handshakeGuid}`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-upstream: yes\r\n\r\n`,
  );
  let pending = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    for (;;) {
      const frame = readClientFrame(pending);
      if (frame === undefined) return;
      pending = pending.subarray(frame.size);
      socket.write(serverFrame(frame.opcode, frame.payload));
      if (frame.opcode === opcodes.close) socket.end();
    }
  });
  socket.on('error', () => socket.destroy());
}

/** One final, unmasked frame, as a server sends it. */
export function serverFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  if (length < 126) return Buffer.concat([Buffer.from([0x80 | opcode, length]), payload]);
  const header = Buffer.alloc(length < 0x10000 ? 4 : 10);
  header[0] = 0x80 | opcode;
  if (length < 0x10000) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A close frame with its status code. */
export function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return serverFrame(opcodes.close, payload);
}

/** The first complete (masked) client frame in `bytes`, or undefined while it is incomplete. */
function readClientFrame(bytes: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (bytes.length < 2) return undefined;
  const opcode = bytes[0]! & 0x0f;
  const shortLength = bytes[1]! & 0x7f;
  const lengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
  const maskAt = 2 + lengthBytes;
  if (bytes.length < maskAt + 4) return undefined;
  const length = shortLength === 126 ? bytes.readUInt16BE(2) : shortLength === 127 ? Number(bytes.readBigUInt64BE(2)) : shortLength;
  const payloadAt = maskAt + 4;
  if (bytes.length < payloadAt + length) return undefined;
  const mask = bytes.subarray(maskAt, payloadAt);
  const payload = Buffer.from(bytes.subarray(payloadAt, payloadAt + length).map((byte, i) => byte ^ mask[i % 4]!));
  return { opcode, payload, size: payloadAt + length };
}
