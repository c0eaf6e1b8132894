import test from 'ava';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseClientHello, peekClientHello, type PeekOptions } from '../../src/listeners/sni-peek.js';

// The ClientHellos here are real ones, sent by node's TLS client to a server that only records
// bytes; the parser must find their SNI whole, split into records, and cut at every byte.

/** A listening socket server; `onSocket` gets each accepted socket. */
async function listen(onSocket: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The bytes of the first flight node's TLS client sends, with or without an SNI. */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  let resolveHello: (hello: Buffer) => void = () => undefined;
  const hello = new Promise<Buffer>((resolve) => (resolveHello = resolve));
  const server = await listen((socket) => {
    let bytes = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (parseClientHello(bytes).kind !== 'incomplete') {
        resolveHello(bytes);
        socket.destroy();
      }
    });
  });
  const client = tlsConnect({ host: '127.0.0.1', port: server.port, ...(servername === undefined ? {} : { servername }), rejectUnauthorized: false });
  client.on('error', () => undefined);
  const bytes = await hello;
  client.destroy();
  await server.close();
  return bytes;
}

/** The same handshake message carried in records of at most `size` bytes each. */
function reframe(hello: Buffer, size: number): Buffer {
  const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += size) {
    const fragment = handshake.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

test('parses the SNI of a real ClientHello, and says incomplete for every shorter prefix', async (t) => {
  const hello = await captureClientHello('Shop.Example.com');
  t.deepEqual(parseClientHello(hello), { kind: 'tls', serverName: 'shop.example.com' });
  for (let cut = 0; cut < hello.length; cut++) {
    if (parseClientHello(hello.subarray(0, cut)).kind !== 'incomplete') t.fail(`a prefix of ${cut} bytes is not incomplete`);
  }
});

test('a ClientHello spread over several records is joined before it is read', async (t) => {
  const split = reframe(await captureClientHello('a.example.com'), 40);
  t.deepEqual(parseClientHello(split), { kind: 'tls', serverName: 'a.example.com' });
  t.is(parseClientHello(split.subarray(0, split.length - 1)).kind, 'incomplete');
});

test('a ClientHello without SNI (node sends none to an IP address) is TLS with no server name', async (t) => {
  t.deepEqual(parseClientHello(await captureClientHello(undefined)), { kind: 'tls', serverName: undefined });
});

test('bytes that are not a TLS handshake are said so at once', (t) => {
  t.is(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'not-tls');
  t.is(parseClientHello(Buffer.from([0x16, 0x02])).kind, 'not-tls');
  // A handshake record whose message is not a ClientHello (a ServerHello, type 2).
  t.is(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])).kind, 'not-tls');
  t.is(parseClientHello(Buffer.alloc(0)).kind, 'incomplete');
});

/** Peeks on the server side of a connection the test drives from `drive`. */
async function peekWith(options: PeekOptions, drive: (client: Socket) => Promise<void> | void) {
  let resolvePeek: (value: Awaited<ReturnType<typeof peekClientHello>> & { socket: Socket }) => void = () => undefined;
  const peeked = new Promise<Awaited<ReturnType<typeof peekClientHello>> & { socket: Socket }>((resolve) => (resolvePeek = resolve));
  const server = await listen((socket) => void peekClientHello(socket, options).then((outcome) => resolvePeek({ ...outcome, socket })));
  const client = netConnect(server.port, '127.0.0.1');
  client.setNoDelay(true);
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  await drive(client);
  const outcome = await peeked;
  return {
    outcome,
    async close() {
      client.destroy();
      outcome.socket.destroy();
      await server.close();
    },
  };
}

test('a ClientHello written a few bytes at a time is read whole, and every byte is handed back', async (t) => {
  const hello = await captureClientHello('tiny.example.com');
  const { outcome, close } = await peekWith({}, async (client) => {
    for (let at = 0; at < hello.length; at += 7) {
      client.write(hello.subarray(at, at + 7));
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  t.teardown(close);
  t.is(outcome.kind, 'tls');
  t.is(outcome.kind === 'tls' ? outcome.serverName : undefined, 'tiny.example.com');
  t.deepEqual(outcome.bytes, hello);
  t.true(outcome.socket.isPaused(), 'the socket is left paused for whoever takes it next');
});

test('the peek is bounded: a client that stops mid-hello times out, one that sends too much is cut off', async (t) => {
  const hello = await captureClientHello('slow.example.com');
  const slow = await peekWith({ timeoutMs: 100 }, (client) => void client.write(hello.subarray(0, 20)));
  t.teardown(slow.close);
  t.is(slow.outcome.kind, 'timeout');
  t.is(slow.outcome.bytes.length, 20);

  // A record header announcing a handshake larger than the bound.
  const huge = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0xff, 0xff]), Buffer.alloc(600)]);
  const big = await peekWith({ maxBytes: 512 }, (client) => void client.write(huge));
  t.teardown(big.close);
  t.is(big.outcome.kind, 'too-large');
});

test('a client that goes away during the peek is reported closed', async (t) => {
  const gone = await peekWith({}, (client) => void client.end(Buffer.from([0x16, 0x03])));
  t.teardown(gone.close);
  t.is(gone.outcome.kind, 'closed');
});
