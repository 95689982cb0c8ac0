import net from 'node:net';
import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import { Sentence, encodeSentence, type WordInput } from '../../src/protocol/index.js';
import { startSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';
import { UpstreamConnection, type ReplyHandler } from '../../src/upstream/upstream-connection.js';

async function simulator(t: Tap, options: SimulatorOptions = {}) {
  const sim = await startSimulator({ user: 'svc', password: 'pw', ...options });
  t.teardown(() => sim.close());
  return sim;
}

type Tap = { teardown(fn: () => unknown): void };

function open(port: number, password = 'pw', timeoutMs = 2000): UpstreamConnection {
  return new UpstreamConnection({ host: '127.0.0.1', port, username: 'svc', password, timeoutMs });
}

/** Collects a command's replies as strings. */
function collector(): ReplyHandler & { done: Promise<string[]>; error?: RosgateError } {
  const lines: string[] = [];
  let finish: (lines: string[]) => void = () => undefined;
  const handler = {
    done: new Promise<string[]>((resolve) => {
      finish = resolve;
    }),
    onReply(s: Sentence, isFinal: boolean) {
      lines.push(s.toString());
      if (isFinal) finish(lines);
    },
    onError(err: RosgateError) {
      handler.error = err;
      finish(lines);
    },
  } as ReplyHandler & { done: Promise<string[]>; error?: RosgateError };
  return handler;
}

const cmd = (...words: WordInput[]): Sentence => Sentence.from(words);

t.test('logs in with the plain method and routes replies by its own tags', async (t) => {
  const sim = await simulator(t);
  const up = open(sim.port);
  await up.connect();
  t.teardown(() => up.close());
  t.equal(up.state, 'ready');
  const a = collector();
  const b = collector();
  const tagA = up.send(cmd('/system/identity/print', '.tag=client-tag'), a);
  const tagB = up.send(cmd('/system/identity/print'), b);
  t.not(tagA, tagB, 'each command gets its own upstream tag');
  t.equal(up.inFlight, 2);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  t.match(ra, [new RegExp(`^!re =name=.* \\.tag=${tagA}$`), `!done .tag=${tagA}`]);
  t.match(rb, [new RegExp(`\\.tag=${tagB}$`), `!done .tag=${tagB}`]);
  t.equal(up.inFlight, 0);
});

t.test('a session that is not connected yet refuses to send', async (t) => {
  const up = open(1);
  t.throws(() => up.send(cmd('/system/identity/print'), collector()), {
    code: ErrorCode.UpstreamClosed,
    message: 'router connection is not ready',
  });
});

t.test('falls back to the challenge login on a router before 6.43', async (t) => {
  const sim = await simulator(t, { version: '6.42' });
  const up = open(sim.port);
  await up.connect();
  t.teardown(() => up.close());
  const c = collector();
  up.send(cmd('/system/identity/print'), c);
  t.equal((await c.done).length, 2);
});

t.test('a refused login rejects with the router message and never the password', async (t) => {
  const sim = await simulator(t);
  const up = open(sim.port, 'wrong-password');
  const err = (await up.connect().catch((e: unknown) => e)) as RosgateError;
  t.equal(err.code, ErrorCode.UpstreamLogin);
  t.match(err.message, /invalid user name or password/);
  t.notMatch(err.message, /wrong-password/);
  t.equal(up.state, 'closed');
});

t.test('a router that does not answer the login times out', async (t) => {
  const sim = await simulator(t);
  sim.faults.stopAnswering = true;
  const up = open(sim.port, 'pw', 30);
  const err = (await up.connect().catch((e: unknown) => e)) as RosgateError;
  t.equal(err.code, ErrorCode.UpstreamTimeout);
});

t.test('a refused TCP connection rejects with a closed error', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const err = (await open(port)
    .connect()
    .catch((e: unknown) => e)) as RosgateError;
  t.equal(err.code, ErrorCode.UpstreamClosed);
});

t.test('losing the connection fails every command in flight', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  const stream = collector();
  up.send(cmd('/interface/monitor-traffic', '=interface=ether1'), stream);
  const closed = new Promise((resolve) => up.once('close', resolve));
  sim.faults.dropAll();
  await stream.done;
  t.equal(stream.error?.code, ErrorCode.UpstreamClosed);
  await closed;
  t.throws(() => up.send(cmd('/system/identity/print'), collector()), {
    code: ErrorCode.UpstreamClosed,
  });
});

t.test('cancel stops a stream and reports when the router answered', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  t.teardown(() => up.close());
  const stream = collector();
  const tag = up.send(cmd('/interface/monitor-traffic', '=interface=ether1'), stream);
  const answered = new Promise<void>((resolve) => up.cancel(tag, resolve));
  await answered;
  const lines = await stream.done;
  t.equal(lines.at(-1), `!done .tag=${tag}`);
  t.ok(lines.includes(`!trap =category=2 =message=interrupted .tag=${tag}`));
  let calledAtOnce = false;
  up.cancel(tag, () => {
    calledAtOnce = true;
  });
  t.ok(calledAtOnce, 'cancelling a finished command answers at once');
});

t.test('a cancel the router never answers completes when the connection is lost', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  const stream = collector();
  const tag = up.send(cmd('/interface/monitor-traffic', '=interface=ether1'), stream);
  sim.faults.stopAnswering = true;
  const answered = new Promise<void>((resolve) => up.cancel(tag, resolve));
  sim.faults.dropAll();
  await answered;
  await stream.done;
  t.equal(stream.error?.code, ErrorCode.UpstreamClosed);
});

t.test('close logs out with /quit and the router ends the session', async (t) => {
  const sim = await simulator(t);
  const up = open(sim.port);
  await up.connect();
  t.equal(sim.counters.sessionsNow, 1);
  up.close();
  t.equal(up.state, 'closed');
  await eventually(() => sim.counters.sessionsNow === 0);
  t.equal(sim.counters.commands['/quit'], 1, 'the router saw a logout, not a dropped socket');
});

t.test('a router that ignores the logout is cut off after the timeout', async (t) => {
  // Half-open allowed: this router neither answers /quit nor closes on our FIN.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write(encodeSentence(['!done', '.tag=1'])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  let socket: net.Socket | undefined;
  const up = new UpstreamConnection({
    host: '127.0.0.1',
    port,
    username: 'svc',
    password: 'pw',
    timeoutMs: 20,
    connect: (host, p) => (socket = net.connect({ host, port: p })),
  });
  await up.connect();
  up.close();
  t.equal(socket?.destroyed, false, 'the logout waits for the router first');
  await eventually(() => socket?.destroyed === true, 'rosgate to cut the socket');
  server.close();
});

t.test('a fatal from the router closes the session with its reason', async (t) => {
  const sim = await simulator(t);
  const up = open(sim.port);
  await up.connect();
  const c = collector();
  up.send(cmd('/system/identity/print'), c);
  await c.done;
  const closed = new Promise<RosgateError>((resolve) => up.once('close', resolve));
  up.send(cmd('/quit'), collector());
  t.match((await closed).message, /session terminated on request/);
});

t.test(
  'the health probe succeeds on a working router and times out on a stalled one',
  async (t) => {
    const sim = await simulator(t);
    const up = open(sim.port, 'pw', 40);
    await up.connect();
    await up.probe();
    sim.faults.stopAnswering = true;
    const err = (await up.probe().catch((e: unknown) => e)) as RosgateError;
    t.equal(err.code, ErrorCode.UpstreamTimeout);
    t.equal(up.state, 'closed');
  },
);

t.test(
  'a refused challenge response on a router before 6.43 rejects with its message',
  async (t) => {
    const sim = await simulator(t, { version: '6.42' });
    const err = (await open(sim.port, 'bad')
      .connect()
      .catch((e: unknown) => e)) as RosgateError;
    t.equal(err.code, ErrorCode.UpstreamLogin);
    t.match(err.message, /cannot log in/);
  },
);

t.test('a malformed login challenge is refused', async (t) => {
  const port = await fakeRouter(t, (s, reply) => reply('!done', '=ret=not-hex', tagOf(s)));
  const err = (await open(port)
    .connect()
    .catch((e: unknown) => e)) as RosgateError;
  t.equal(err.code, ErrorCode.UpstreamLogin);
  t.match(err.message, /malformed login challenge/);
});

t.test('untagged or unknown-tag replies are dropped; a refused probe is an error', async (t) => {
  const port = await fakeRouter(t, (s, reply) => {
    if (s.command === '/login') return reply('!done', tagOf(s));
    reply('!re', '=stray=1');
    reply('!re', '=stray=2', '.tag=zzz');
    reply('!trap', '=message=not allowed', tagOf(s));
    reply('!done', tagOf(s));
  });
  const up = open(port);
  await up.connect();
  t.teardown(() => up.close());
  const c = collector();
  const tag = up.send(cmd('/system/identity/print'), c);
  t.same(await c.done, [`!trap =message=not allowed .tag=${tag}`, `!done .tag=${tag}`]);
  await t.rejects(up.probe(), { code: ErrorCode.UpstreamProtocol, message: /not allowed/ });
});

t.test(
  'a trap without a message and a fatal without a reason still say what happened',
  async (t) => {
    const port = await fakeRouter(t, (s, reply) => {
      if (s.command === '/login') return reply('!done', tagOf(s));
      if (s.command === '/system/identity/print') {
        reply('!trap', tagOf(s));
        return reply('!done', tagOf(s));
      }
      reply('!fatal');
    });
    const up = open(port);
    await up.connect();
    await t.rejects(up.probe(), { message: 'health probe refused: unknown error' });
    const closed = new Promise<RosgateError>((resolve) => up.once('close', resolve));
    up.send(cmd('/quit'), collector());
    t.equal((await closed).message, 'router ended the session: fatal');
  },
);

t.test('bytes that break the protocol close the session', async (t) => {
  // A fake router that logs anyone in and then sends a reserved control byte.
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      socket.write(encodeSentence(['!done', '.tag=1']));
      socket.once('data', () => socket.write(Buffer.from([0xf8])));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const up = open((server.address() as net.AddressInfo).port);
  await up.connect();
  const c = collector();
  up.send(cmd('/system/identity/print'), c);
  await c.done;
  t.equal(c.error?.code, ErrorCode.UpstreamProtocol);
});
