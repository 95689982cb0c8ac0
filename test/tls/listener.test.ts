import net from 'node:net';
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, RawClient, text } from '../fixtures/raw-client.js';
import { startStack } from '../fixtures/stack.js';
import { ADH_ONLY, TEST_PEM, TEST_PEM_FILES, sendPlain } from '../fixtures/tls-peers.js';
import { encodeSentence } from '../../src/protocol/index.js';

type Row = Record<string, string>;

const WITH_CERT = { certFile: 'cert.pem', keyFile: 'key.pem' };

t.test(
  'node-routeros with verification off logs in and works through the TLS listener',
  async (t) => {
    const stack = await startStack(t, { tls: WITH_CERT, files: TEST_PEM_FILES });
    t.not(stack.tlsPort, stack.port, 'TLS has its own port');
    const api = await stack.client({ tls: { rejectUnauthorized: false } });

    const identity = (await api.write('/system/identity/print')) as Row[];
    t.type(identity[0]?.name, 'string', 'identity print answers');
    const added = (await api.write('/ip/hotspot/user/add', [
      '=name=tls-user',
      '=password=p1',
      '=comment=over api-ssl',
    ])) as Row[];
    t.match(added[0]?.ret, /^\*[0-9A-F]+$/);
    const rows = (await api.write('/ip/hotspot/user/print', ['?name=tls-user'])) as Row[];
    t.match(rows, [{ name: 'tls-user', comment: 'over api-ssl' }]);
    const row = stack.sim.data.require('/ip/hotspot/user').findBy('name', 'tls-user');
    t.equal(row?.get('comment')?.toString('latin1'), 'over api-ssl', 'the router has the user');
    t.equal(stack.router.stats.tlsHandshakeErrors, 0);
    t.equal(stack.router.listener.sessions.size, 1, 'the TLS client has an ordinary session');
  },
);

t.test(
  'a client verifying the listener certificate against it as its CA is accepted',
  async (t) => {
    const stack = await startStack(t, { tls: WITH_CERT, files: TEST_PEM_FILES });
    const api = await stack.client({ tls: { ca: TEST_PEM.cert } });
    const identity = (await api.write('/system/identity/print')) as Row[];
    t.equal(identity.length, 1);
  },
);

t.test(
  'a client pinned to anonymous DH works against a listener without certificate',
  async (t) => {
    const stack = await startStack(t, { tls: {} });
    const c = await RawClient.connect(stack.tlsPort as number, { tls: ADH_ONLY });
    t.teardown(() => c.close());
    t.same(c.socket.getCipher().name, 'ADH-AES256-GCM-SHA384');
    t.equal(c.socket.getProtocol(), 'TLSv1.2');
    t.equal(c.socket.getPeerCertificate().subject, undefined, 'no certificate was sent');
    t.same(text(await c.login('admin', 'secret')), ['!done']);
    const reply = text(await c.call(['/system/identity/print', '.tag=i']));
    t.match(reply, [/^!re \.tag=i =name=.*$/, '!done .tag=i']);
    t.equal(reply.length, 2);
  },
);

t.test('a TLS 1.3 client settles on TLS 1.2 with a listener that has no certificate', async (t) => {
  const stack = await startStack(t, { tls: {} });
  const c = await RawClient.connect(stack.tlsPort as number, {
    tls: {
      ciphers: 'TLS_AES_256_GCM_SHA384:ADH-AES128-GCM-SHA256:@SECLEVEL=0',
      rejectUnauthorized: false,
    },
  });
  t.teardown(() => c.close());
  t.equal(c.socket.getProtocol(), 'TLSv1.2');
  t.equal(c.socket.getCipher().name, 'ADH-AES128-GCM-SHA256');
});

t.test(
  'a certificate listener serves both ADH-only and certificate clients when asked',
  async (t) => {
    const stack = await startStack(t, {
      tls: { ...WITH_CERT, allowAnonymous: true },
      files: TEST_PEM_FILES,
    });
    const adh = await RawClient.connect(stack.tlsPort as number, { tls: ADH_ONLY });
    t.teardown(() => adh.close());
    t.equal(adh.socket.getCipher().name, 'ADH-AES256-GCM-SHA384');
    t.same(text(await adh.login('admin', 'secret')), ['!done']);

    const api = await stack.client({ tls: { rejectUnauthorized: false } });
    t.equal(((await api.write('/system/identity/print')) as Row[]).length, 1);
  },
);

t.test(
  'an ADH-only client is refused by a certificate listener that does not allow it',
  async (t) => {
    const stack = await startStack(t, { tls: WITH_CERT, files: TEST_PEM_FILES });
    await t.rejects(RawClient.connect(stack.tlsPort as number, { tls: ADH_ONLY }));
    await eventually(
      () => stack.router.stats.tlsHandshakeErrors === 1,
      'the failed handshake to be counted',
    );
    t.equal(stack.router.listener.sessions.size, 0, 'no session was opened');
  },
);

t.test('plaintext and garbage on the TLS port cost only that connection', async (t) => {
  const stack = await startStack(t, { tls: WITH_CERT, files: TEST_PEM_FILES });
  const tlsPort = stack.tlsPort as number;

  const login = encodeSentence(['/login', '=name=admin', '=password=secret']);
  t.equal((await sendPlain(tlsPort, login)).length, 0, 'a plaintext login gets no answer');
  // A handshake record holding a message of an unknown type, then plain noise.
  await sendPlain(tlsPort, Buffer.from(`160301000aff${'ff'.repeat(9)}`, 'hex'));
  await sendPlain(tlsPort, Buffer.alloc(64, 0xa5));
  await sendPlain(tlsPort, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  await eventually(
    () => stack.router.stats.tlsHandshakeErrors === 4,
    'each failed handshake to be counted',
  );
  const failures = stack.logs.filter((l) => l['msg'] === 'TLS handshake with a client failed');
  t.equal(failures.length, 4, 'each one logged');
  t.match(failures[0], { level: 40, address: '127.0.0.1', err: String });

  const plain = await openRaw(t, stack.port);
  t.same(text(await plain.login('admin', 'secret')), ['!done'], 'the plain port still works');
  const api = await stack.client({ tls: { rejectUnauthorized: false } });
  t.equal(
    ((await api.write('/system/identity/print')) as Row[]).length,
    1,
    'the TLS port still works',
  );
});

t.test('TLS and plain clients from one address share its connection cap', async (t) => {
  const stack = await startStack(t, {
    tls: {},
    config: { limits: { maxClientsPerAddress: 1 } },
  });
  const plain = await openRaw(t, stack.port);
  t.same(text(await plain.login('admin', 'secret')), ['!done']);

  // Counted from accept: over the cap, the connection is cut before its
  // handshake, since no RouterOS sentence can be read without TLS.
  await t.rejects(openRaw(t, stack.tlsPort as number, { tls: ADH_ONLY }), {
    code: 'ECONNRESET',
  });
  t.equal(stack.router.stats.clientsRefused, 1);
  t.match(
    stack.logs.find((l) => l['msg'] === 'client refused: too many connections'),
    { address: '127.0.0.1', refused: 1 },
    'the refusal is logged with the address',
  );
});

t.test('the TLS port is logged at start and closed at stop', async (t) => {
  const stack = await startStack(t, { tls: {} });
  const started = stack.logs.find((l) => l['msg'] === 'listening for RouterOS API clients');
  t.match(started, { port: stack.port, tlsPort: stack.tlsPort, upstreamTls: 'off' });

  await stack.app.stop(0);
  await t.rejects(RawClient.connect(stack.tlsPort as number), { code: 'ECONNREFUSED' });
});

t.test('a stop does not wait for a TLS client that never finishes its handshake', async (t) => {
  const stack = await startStack(t, { tls: {} });
  const silent = net.connect({ host: '127.0.0.1', port: stack.tlsPort as number });
  const closed = new Promise((resolve) => silent.on('close', resolve));
  silent.on('error', () => {});
  silent.resume();
  // node-routeros pinned to ADH, as its own tests connect to a router without certificate.
  const api = await stack.client({
    tls: {
      ciphers: 'ADH-AES256-GCM-SHA384:@SECLEVEL=0',
      maxVersion: 'TLSv1.2',
      rejectUnauthorized: false,
    },
  });
  t.equal(((await api.write('/system/identity/print')) as Row[]).length, 1);
  await eventually(
    () => stack.router.listener.sessions.size === 1,
    'the node-routeros client to have a session',
  );

  await stack.app.stop(0);
  await closed;
  t.equal(silent.destroyed, true, 'the stop finished and the half-open client was closed');
  t.equal(stack.router.listener.connections, 0, 'no connection is left');
  t.equal(stack.router.stats.tlsHandshakeErrors, 0, 'a cut handshake is not a client error');
});

t.test('without tls settings there is no TLS port', async (t) => {
  const stack = await startStack(t);
  t.equal(stack.tlsPort, undefined);
  t.equal(stack.router.listener.tlsPort, undefined);
});

t.test('a TLS port already in use fails the start and frees the plain port', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const taken = (blocker.address() as net.AddressInfo).port;
  await t.rejects(startStack(t, { tls: { port: taken } }), { code: 'EADDRINUSE' });
});
