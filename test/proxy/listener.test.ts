import net from 'node:net';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import t from 'tap';
import { createLogger } from '../../src/logger.js';
import { UserListAuthenticator } from '../../src/proxy/authenticator.js';
import { ProxyListener, type ProxyListenerOptions } from '../../src/proxy/listener.js';
import { createProxyStats } from '../../src/proxy/stats.js';
import { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { RawClient, openRaw, text } from '../fixtures/raw-client.js';
import { TEST_PEM } from '../fixtures/tls-peers.js';

type Tap = { teardown(fn: () => unknown): void };

const TLS = { host: '127.0.0.1', port: 0, options: { cert: TEST_PEM.cert, key: TEST_PEM.key } };
const DONE = Sentence.from(['!done']);

/** A listener whose sessions answer every command with `!done`, and its log lines. */
async function listen(
  t: Tap,
  options: Partial<Omit<ProxyListenerOptions, 'session'>> & {
    session?: Partial<ProxyListenerOptions['session']>;
  } = {},
) {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const stats = createProxyStats();
  const listener = new ProxyListener({
    router: 'r',
    host: '127.0.0.1',
    port: 0,
    maxClients: 100,
    maxClientsPerAddress: 100,
    backlog: 4096,
    keepAliveMs: 60_000,
    logger: createLogger('debug', sink),
    stats,
    ...options,
    session: {
      handler: {
        handle(_context, commandSink) {
          commandSink.done(DONE);
          return { cancel: (onAnswered) => onAnswered() };
        },
      },
      authenticator: new UserListAuthenticator([{ name: 'u', verify: async () => true }]),
      decoderLimits: {},
      preLoginDecoderLimits: {},
      maxInFlightPerClient: 4,
      maxOutputBufferBytes: 1024 * 1024,
      preLoginMaxSentences: 4,
      preLoginTimeoutMs: 5000,
      clientIdleTimeoutMs: 0,
      emptyReplies: 'strip',
      keepaliveReply: 'done',
      ...options.session,
    },
  });
  const port = await listener.listen();
  t.teardown(() => listener.close(0));
  return { listener, stats, logs, port };
}

/** A TCP connection that keeps its side open after the peer's FIN, as a careless client does. */
function halfOpenClient(port: number): Promise<{ socket: net.Socket; received: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
      resolve({ socket, received }),
    );
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.once('error', reject);
  });
}

const logged = (logs: Record<string, unknown>[], msg: string) => logs.filter((l) => l.msg === msg);

t.test('a refused client that never closes its side is cut after the linger', async (t) => {
  const { listener, stats, port } = await listen(t, { maxClients: 1, refusedLingerMs: 20 });
  const kept = await openRaw(t, port);
  await eventually(() => listener.sessions.size === 1);
  const refused = await halfOpenClient(port);
  const ended = new Promise((resolve) => refused.socket.once('end', resolve));
  await ended;
  t.match(Buffer.concat(refused.received).toString('latin1'), /too many connections/);
  t.equal(stats.clientsRefused, 1);
  await kept.close();
  // A stop waits for every connection: the refused one must be gone by itself.
  await t.resolves(listener.close(0), 'the stop did not wait for the refused client');
  t.equal(listener.connections, 0);
  refused.socket.destroy();
});

t.test('a stop resolves only once every client slot is back', async (t) => {
  const { listener, stats, port } = await listen(t);
  await openRaw(t, port, { user: 'u', password: 'p' });
  await eventually(() => listener.sessions.size === 1);
  // The session's socket is the last to go: the server reports it gone when
  // it is destroyed, a moment before its 'close' gives the slot back.
  await listener.close(0);
  t.equal(listener.connections, 0);
  t.equal(stats.clientsConnected, 0);
});

t.test('a client ended by !fatal holds its slot until its socket closes', async (t) => {
  const { listener, stats, port } = await listen(t, { maxClients: 1 });
  // Junk before login until the session gives up, then the peer keeps its side open.
  const junk = await halfOpenClient(port);
  for (let i = 0; i < 6; i++) junk.socket.write(Buffer.from([0x04, 0x2f, 0x78, 0x79, 0x7a, 0x00]));
  await new Promise((resolve) => junk.socket.once('end', resolve));
  t.match(Buffer.concat(junk.received).toString('latin1'), /!fatal/);
  t.equal(listener.connections, 1, 'its socket is still open');
  const next = await halfOpenClient(port);
  await eventually(() => next.socket.readableEnded, 'the refusal');
  t.match(Buffer.concat(next.received).toString('latin1'), /too many connections/);
  t.equal(stats.clientsRefused, 1);
  junk.socket.destroy();
  next.socket.destroy();
  await eventually(() => listener.connections === 0, 'the slot to come back');
  t.equal(stats.clientsConnected, 0);
});

t.test('refused sockets past maxClients lingering are cut at once', async (t) => {
  const { listener, stats, port } = await listen(t, { maxClients: 1, refusedLingerMs: 60_000 });
  const kept = await openRaw(t, port);
  await eventually(() => listener.sessions.size === 1);
  const refused: Awaited<ReturnType<typeof halfOpenClient>>[] = [];
  for (let i = 0; i < 3; i++) refused.push(await halfOpenClient(port));
  // The one lingering ends its side; those cut are closed (perhaps reset).
  for (const c of refused) c.socket.on('error', () => undefined);
  await eventually(
    () => refused.every((c) => c.socket.readableEnded || c.socket.destroyed),
    'every refused socket to be answered or cut',
  );
  const said = refused.map((c) =>
    /too many connections/.test(Buffer.concat(c.received).toString('latin1')),
  );
  t.same(said, [true, false, false], 'one lingers to say why; the flood behind it is cut');
  t.equal(stats.clientsRefused, 3);
  for (const c of refused) c.socket.destroy();
  await kept.close();
});

t.test('refusals are logged once per interval, with their count', async (t) => {
  const { listener, stats, logs, port } = await listen(t, {
    maxClients: 1,
    refusalLogIntervalMs: 40,
    refusedLingerMs: 5,
  });
  const kept = await openRaw(t, port);
  await eventually(() => listener.sessions.size === 1);
  const refused = await Promise.all([1, 2, 3, 4, 5].map(() => RawClient.connect(port)));
  await Promise.all(refused.map((c) => c.untilClosed()));
  t.equal(stats.clientsRefused, 5, 'every refusal is counted');
  t.match(logged(logs, 'client refused: too many connections'), [
    { level: 40, address: '127.0.0.1', refused: 1 },
  ]);
  await eventually(
    () => logged(logs, 'clients refused: too many connections').length === 1,
    'the summary line at the end of the interval',
  );
  t.match(logged(logs, 'clients refused: too many connections'), [
    { level: 40, refused: 4, intervalMs: 40 },
  ]);

  // A quiet interval logs nothing; the next refusal starts a new one. The
  // interval runs on Node's own timer (the listener takes none): only a real
  // wait past its 40 ms shows that it ended without a line.
  await new Promise((resolve) => setTimeout(resolve, 45));
  const late = await RawClient.connect(port);
  await late.untilClosed();
  t.equal(logged(logs, 'client refused: too many connections').length, 2);
  t.equal(logged(logs, 'clients refused: too many connections').length, 1);
  await kept.close();
});

t.test(
  'a silent TLS client is cut after the login timeout and logged with its address',
  async (t) => {
    const { listener, stats, logs } = await listen(t, {
      tls: TLS,
      session: { preLoginTimeoutMs: 30 },
    });
    const silent = await halfOpenClient(listener.tlsPort as number);
    t.equal(listener.connections, 1, 'the handshake counts against the caps from accept');
    await new Promise((resolve) => silent.socket.once('end', resolve));
    silent.socket.destroy();
    t.equal(stats.tlsHandshakeErrors, 1);
    t.match(logged(logs, 'TLS handshake with a client failed'), [
      { level: 40, address: '127.0.0.1', err: /timeout/i },
    ]);
    await eventually(() => listener.connections === 0, 'the handshake to free its slot');
  },
);

t.test('a TLS client that resets its handshake costs that connection only', async (t) => {
  const { listener, stats, logs, port } = await listen(t, { tls: TLS });
  const raw = await halfOpenClient(listener.tlsPort as number);
  // The start of a ClientHello, then a reset.
  raw.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00]));
  await eventually(() => listener.connections === 1);
  raw.socket.resetAndDestroy();
  await eventually(() => stats.tlsHandshakeErrors === 1, 'the failed handshake to be counted');
  t.match(logged(logs, 'TLS handshake with a client failed'), [{ address: '127.0.0.1' }]);
  const c = await openRaw(t, port, { user: 'u', password: 'p' });
  t.same(text(await c.call(['/system/identity/print', '.tag=1'])), ['!done .tag=1']);
});

t.test('a client that resets its connection is only a closed session', async (t) => {
  const { listener, port } = await listen(t, { tls: TLS });
  const plain = await openRaw(t, port, { user: 'u', password: 'p' });
  plain.socket.resetAndDestroy();
  const raw = await halfOpenClient(listener.tlsPort as number);
  const secure = tls.connect({ socket: raw.socket, rejectUnauthorized: false });
  secure.on('error', () => undefined);
  await new Promise((resolve) => secure.once('secureConnect', resolve));
  await eventually(() => listener.sessions.size === 1, 'the TLS session to start');
  raw.socket.resetAndDestroy();
  await eventually(() => listener.sessions.size === 0 && listener.connections === 0);
  const after = await openRaw(t, port, { user: 'u', password: 'p' });
  t.same(
    text(await after.call(['/system/identity/print', '.tag=1'])),
    ['!done .tag=1'],
    'both resets were absorbed: the next client is served',
  );
});

t.test('the listen backlog and client keepalive are set as configured', async (t) => {
  const backlogs: unknown[] = [];
  const keepAlives: unknown[][] = [];
  const listenOriginal = net.Server.prototype.listen;
  const keepAliveOriginal = net.Socket.prototype.setKeepAlive;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    backlogs.push((args[0] as { backlog?: number }).backlog);
    return listenOriginal.apply(this, args as Parameters<typeof listenOriginal>);
  } as typeof listenOriginal;
  net.Socket.prototype.setKeepAlive = function (this: net.Socket, ...args: unknown[]) {
    keepAlives.push(args);
    return keepAliveOriginal.apply(this, args as Parameters<typeof keepAliveOriginal>);
  };
  t.teardown(() => {
    net.Server.prototype.listen = listenOriginal;
    net.Socket.prototype.setKeepAlive = keepAliveOriginal;
  });
  const { port } = await listen(t, { backlog: 2048, keepAliveMs: 15_000, tls: TLS });
  t.same(backlogs, [2048, 2048], 'on the plain and the TLS port');
  await openRaw(t, port, { user: 'u', password: 'p' });
  t.same(keepAlives.at(-1), [true, 15_000], 'client sockets are probed by TCP keepalive');
});

t.test('new limits apply to clients that connect afterwards', async (t) => {
  const { listener, stats, port } = await listen(t, { maxClientsPerAddress: 1 });
  const first = await openRaw(t, port, { user: 'u', password: 'p' });
  const refused = await RawClient.connect(port);
  t.same(text(await refused.untilClosed()), ['!fatal too many connections']);
  t.equal(stats.clientsRefused, 1);
  listener.reconfigure({
    maxClients: 100,
    maxClientsPerAddress: 2,
    session: { preLoginTimeoutMs: 20 },
  });
  const second = await RawClient.connect(port);
  t.same(
    text(await second.untilClosed()),
    ['!fatal login timeout'],
    'the new login timeout applies',
  );
  t.same(
    text(await first.call(['/a', '.tag=1'])),
    ['!done .tag=1'],
    'the first client is untouched',
  );
});

t.test('a stop refuses new clients and says it is draining', async (t) => {
  const { listener, port } = await listen(t);
  t.equal(listener.isDraining, false);
  const c = await openRaw(t, port, { user: 'u', password: 'p' });
  const stopping = listener.close(60_000);
  t.equal(listener.isDraining, true);
  await t.rejects(RawClient.connect(port), 'the port is closed');
  await c.close();
  await stopping;
});

t.test('a TLS client over the caps is cut before its handshake', async (t) => {
  const { listener, stats, port } = await listen(t, { tls: TLS, maxClients: 1 });
  await openRaw(t, port, { user: 'u', password: 'p' });
  await eventually(() => listener.sessions.size === 1);
  const over = await halfOpenClient(listener.tlsPort as number);
  await new Promise((resolve) => over.socket.once('end', resolve));
  over.socket.destroy();
  t.equal(stats.clientsRefused, 1);
  t.equal(stats.tlsHandshakeErrors, 0, 'a refusal, not a failed handshake');
});

t.test('a stop cuts TLS handshakes short without calling them failures', async (t) => {
  const { listener, stats, logs } = await listen(t, { tls: TLS });
  const pending = await halfOpenClient(listener.tlsPort as number);
  await eventually(() => listener.connections === 1);
  await listener.close(0);
  pending.socket.destroy();
  t.equal(stats.tlsHandshakeErrors, 0);
  t.equal(logged(logs, 'TLS handshake with a client failed').length, 0);
});
