import net from 'node:net';
import t from 'tap';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { Sentence, encodeSentence, type WordInput } from '../../src/protocol/index.js';
import { startSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';
import { TEST_PEM, startTlsTerminator } from '../fixtures/tls-peers.js';
import {
  UpstreamConnection,
  type ReplyHandler,
  type UpstreamOptions,
} from '../../src/upstream/upstream-connection.js';

async function simulator(t: Tap, options: SimulatorOptions = {}) {
  const sim = await startSimulator({ user: 'svc', password: 'pw', ...options });
  t.teardown(() => sim.close());
  return sim;
}

type Tap = { teardown(fn: () => unknown): void };

/** A session as svc/pw to `port` with a 2 s timeout, but for `options`. */
function open(
  port: number,
  password = 'pw',
  timeoutMs = 2000,
  options: Partial<UpstreamOptions> = {},
): UpstreamConnection {
  return new UpstreamConnection({
    host: '127.0.0.1',
    port,
    username: 'svc',
    password,
    timeoutMs,
    ...options,
  });
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
  t.match(ra, [new RegExp(`^!re \\.tag=${tagA} =name=`), `!done .tag=${tagA}`]);
  t.match(rb, [new RegExp(`^!re \\.tag=${tagB} `), `!done .tag=${tagB}`]);
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
  t.match(err.message, /did not answer the login in time \(a TLS port reached without upstreamTls/);
});

t.test(
  'a router that takes the connection and closes it before the login is answered says what may refuse it',
  async (t) => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    const up = open((server.address() as net.AddressInfo).port);
    const err = (await up.connect().catch((e: unknown) => e)) as RosgateError;
    t.equal(err.code, ErrorCode.UpstreamClosed);
    t.match(
      err.message,
      /before answering the login: is the api service allowed from this address/,
    );
  },
);

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
  t.ok(lines.includes(`!trap .tag=${tag} =category=2 =message=interrupted`));
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

/** A session over a socket whose writes are counted. */
async function countingWrites(
  t: Tap,
  port: number,
): Promise<{ up: UpstreamConnection; writes: number[] }> {
  const writes: number[] = [];
  const up = open(port, 'pw', 2000, {
    connect: (host, p) => {
      const socket = net.connect({ host, port: p });
      const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
      socket.write = ((chunk: Buffer) => {
        writes.push(chunk.length);
        return write(chunk);
      }) as typeof socket.write;
      return socket;
    },
  });
  await up.connect();
  t.teardown(() => up.close());
  writes.length = 0;
  return { up, writes };
}

t.test('the commands sent in one callback leave in one write, in order', async (t) => {
  const sim = await simulator(t);
  const { up, writes } = await countingWrites(t, sim.port);
  const adds = Array.from({ length: 50 }, (_, i) => {
    const c = collector();
    up.send(cmd('/ip/hotspot/user/add', `.tag=client${i}`, `=name=V${i}`, '=comment=A|B|C'), c);
    return c;
  });
  t.equal(writes.length, 0, 'nothing is written before the callback ends');
  const replies = await Promise.all(adds.map((c) => c.done));
  t.equal(writes.length, 1, 'fifty adds, one write');
  t.ok(
    replies.every((lines) => lines.length === 1 && /^!done .*=ret=\*/.test(lines[0] as string)),
    'each add is answered with its new id',
  );
  // The router numbers new rows in the order it runs the adds.
  const ids = replies.map((lines) =>
    parseInt(/=ret=\*(\w+)/.exec(lines[0] as string)?.[1] ?? '', 16),
  );
  t.ok(
    ids.every((id, i) => i === 0 || id > (ids[i - 1] as number)),
    'the router ran them in the order they were sent',
  );
});

t.test('commands not yet written when the session closes never reach the router', async (t) => {
  const sim = await simulator(t);
  const { up } = await countingWrites(t, sim.port);
  const c = collector();
  up.send(cmd('/ip/hotspot/user/add', '=name=late'), c);
  up.close();
  await c.done;
  t.equal(c.error?.code, ErrorCode.UpstreamClosed, 'the command is told the session closed');
  await eventually(() => sim.counters.sessionsNow === 0);
  t.equal(sim.counters.commands['/quit'], 1, 'the router saw the logout');
  t.equal(sim.counters.commands['/ip/hotspot/user/add'], undefined, 'and not the add');
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
  const up = open(port, 'pw', 20, {
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
  // The router put the tag last: rewritten in place, it stays last.
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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const stream = (iface = 'ether1'): Sentence =>
  cmd('/interface/monitor-traffic', `=interface=${iface}`);
const probes = (sim: { counters: { commands: Record<string, number> } }): number =>
  sim.counters.commands['/system/identity/print'] ?? 0;

t.test('a dropped session reports its close before any command hears of it', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  const heard: string[] = [];
  up.once('close', () => heard.push(`close while ${up.state}`));
  for (const name of ['a', 'b']) {
    up.send(stream(), {
      onReply: () => undefined,
      onError: (err) => heard.push(`${name}: ${err.code} while ${up.state}`),
    });
  }
  sim.faults.dropAll();
  await eventually(() => heard.length === 3, 'the close and both commands to be told');
  t.same(heard, [
    'close while closed',
    `a: ${ErrorCode.UpstreamClosed} while closed`,
    `b: ${ErrorCode.UpstreamClosed} while closed`,
  ]);
});

t.test('a fatal from the router closes the session first, then fails its commands', async (t) => {
  const port = await fakeRouter(t, (s, reply) => {
    if (s.command === '/login') return reply('!done', tagOf(s));
    if (s.command === '/system/reboot') reply('!fatal', 'router is rebooting');
  });
  const up = open(port);
  await up.connect();
  const heard: string[] = [];
  up.once('close', (err: RosgateError) => heard.push(`close: ${err.message}`));
  const running = collector();
  up.send(cmd('/interface/monitor-traffic', '=interface=ether1'), {
    onReply: running.onReply,
    onError: (err) => {
      heard.push(`stream: ${err.message}`);
      running.onError(err);
    },
  });
  up.send(cmd('/system/reboot'), collector());
  await running.done;
  t.same(heard, [
    'close: router ended the session: router is rebooting',
    'stream: router ended the session: router is rebooting',
  ]);
  t.throws(() => up.send(cmd('/system/identity/print'), collector()), {
    message: 'router ended the session: router is rebooting',
  });
});

t.test('a throw from a reply handler ends that command alone', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  t.teardown(() => up.close());

  let failure: RosgateError | undefined;
  up.send(stream(), {
    onReply() {
      throw new Error('a bug in whoever reads the rows');
    },
    onError(err) {
      failure = err;
    },
  });
  await eventually(() => failure !== undefined, 'the command to be refused');
  t.equal(failure?.code, ErrorCode.Internal, 'an unknown throw becomes an internal error');
  t.equal(failure?.message, 'internal error in rosgate', 'whose text says nothing inside');
  await eventually(() => sim.activeStreams() === 0, 'the stream to be cancelled on the router');
  t.equal(sim.counters.cancels, 1);
  t.equal(up.inFlight, 0, 'the command no longer counts');

  const coded = new RosgateError(ErrorCode.ClientLimit, 'the client went over its bound');
  let onDone: RosgateError | undefined;
  up.send(cmd('/system/identity/print'), {
    onReply(_s, isFinal) {
      if (isFinal) throw coded;
    },
    onError(err) {
      onDone = err;
    },
  });
  await eventually(() => onDone !== undefined, 'the throw on the done to reach onError');
  t.equal(onDone, coded, 'a RosgateError thrown is passed on as it is');

  t.equal(up.state, 'ready', 'the session goes on');
  const after = collector();
  up.send(cmd('/system/identity/print'), after);
  t.equal((await after.done).at(-1)?.startsWith('!done'), true, 'and carries the next command');
});

t.test('a throw from a handler told of a failure does not stop the others', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  up.once('close', () => {
    throw new Error('a bug in a close listener');
  });
  up.send(stream('ether1'), {
    onReply: () => undefined,
    onError() {
      throw new Error('a bug in an error handler');
    },
  });
  const second = collector();
  up.send(stream('ether2'), second);
  sim.faults.dropAll();
  await second.done;
  t.equal(second.error?.code, ErrorCode.UpstreamClosed, 'the second command is told');
});

t.test('a command cancelled twice sends one cancel to the router and answers both', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  const up = open(sim.port);
  await up.connect();
  t.teardown(() => up.close());
  const running = collector();
  const tag = up.send(stream(), running);
  const answered: number[] = [];
  up.cancel(tag, () => answered.push(1));
  up.cancel(tag, () => answered.push(2));
  up.cancel(tag);
  await running.done;
  await eventually(() => answered.length === 2, 'both cancels to be answered');
  t.same(answered, [1, 2]);
  t.equal(sim.counters.cancels, 1, 'the router saw one cancel');
});

t.test('a busy session the router went silent on is probed after half its timeout', async (t) => {
  const sim = await simulator(t);
  let now = 1_000;
  let clockReads = 0;
  const up = open(sim.port, 'pw', 40, {
    now: () => {
      clockReads++;
      return now;
    },
  });
  await up.connect();
  sim.faults.stopAnswering = true;
  const silent = collector();
  up.send(cmd('/ip/hotspot/user/print'), silent);
  // The watchdog reads the clock each time it looks: three looks, no time passed.
  const readsBefore = clockReads;
  await eventually(() => clockReads >= readsBefore + 3, 'the watchdog to look three times');
  t.equal(up.isProbing, false, 'no probe while less than half the timeout has passed');
  now += 20;
  await eventually(() => up.isProbing, 'a probe once half the timeout has passed');
  await silent.done;
  t.equal(silent.error?.code, ErrorCode.UpstreamTimeout, 'the command fails with a timeout');
  t.equal(silent.error?.message, 'router did not answer the health probe in time');
  t.same(silent.error?.details, { timeoutMs: 20 }, 'after the other half of the timeout');
  t.equal(up.state, 'closed');
});

t.test('a quiet stream keeps its session as long as the probe is answered', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 60_000 });
  const up = open(sim.port, 'pw', 20);
  await up.connect();
  t.teardown(() => up.close());
  const quiet = collector();
  const tag = up.send(stream(), quiet);
  await eventually(() => probes(sim) >= 3, 'the quiet session to be probed again and again');
  t.equal(up.state, 'ready', 'answered probes keep it');
  t.equal(quiet.error, undefined, 'and the stream goes on');
  up.cancel(tag);
  await quiet.done;
  const probed = probes(sim);
  // The watchdog runs on Node's timers, which the connection takes from no
  // one: only a real wait shows it has stopped (four probe intervals of 10 ms).
  await sleep(40);
  t.equal(probes(sim), probed, 'an idle session is no longer watched');
});

t.test('bytes that leave a partial word do not make a silent router look alive', async (t) => {
  const port = await fakeRouter(t, (s, reply, socket) => {
    if (s.command === '/login') return reply('!done', tagOf(s));
    // A prefix announcing 32 bytes, then two of them, then silence.
    socket.write(Buffer.from([0x20, 0x61, 0x62]));
  });
  const up = open(port, 'pw', 40);
  await up.connect();
  const c = collector();
  up.send(cmd('/ip/hotspot/user/print'), c);
  await c.done;
  t.equal(c.error?.code, ErrorCode.UpstreamTimeout, 'the command fails within the timeout');
});

t.test('a handler that closes the session and throws leaves nothing counted', async (t) => {
  const sim = await simulator(t, { streamIntervalMs: 5 });
  let socket: net.Socket | undefined;
  const up = open(sim.port, 'pw', 2000, {
    connect: (host, port) => (socket = net.connect({ host, port })),
  });
  await up.connect();
  const errors: RosgateError[] = [];
  up.send(stream(), {
    onReply() {
      up.close();
      throw new Error('a bug after closing');
    },
    onError: (err) => errors.push(err),
  });
  await eventually(() => up.state === 'closed', 'the handler to close the session');
  // Once the router has closed the connection after the /quit, nothing more can arrive.
  const routerSide = socket as net.Socket;
  if (!routerSide.closed) await new Promise((resolve) => routerSide.once('close', resolve));
  t.equal(routerSide.closed, true, 'the router closed the session');
  t.same(
    errors.map((e) => e.message),
    ['router session closed by rosgate'],
    'the command is told once, of the close',
  );
  t.equal(up.inFlight, 0, 'and is not taken off twice');
});

/** A router that answers the login and then reads nothing until `readAgain()`. */
async function stallingRouter(t: Tap): Promise<{ port: number; readAgain(): void }> {
  let peer: net.Socket | undefined;
  const port = await fakeRouter(t, (s, reply, socket) => {
    if (s.command !== '/login') return;
    reply('!done', tagOf(s));
    peer = socket;
    socket.pause();
  });
  return { port, readAgain: () => peer?.resume() };
}

t.test('a router that stops reading makes the session congested until it drains', async (t) => {
  let bound = 64 * 1024;
  const { port, readAgain } = await stallingRouter(t);
  const up = open(port, 'pw', 2000, {
    // Read each time: a live change reaches the open session.
    maxWriteBufferBytes: () => bound,
  });
  await up.connect();
  t.teardown(() => up.close());
  t.equal(up.isCongested, false, 'a fresh session is not congested');
  t.equal(open(port).isCongested, false, 'nor is one that never connected');
  const big = cmd('/ip/hotspot/user/add', `=comment=${'x'.repeat(256 * 1024)}`);
  for (let i = 0; i < 400 && !up.isCongested; i++) up.send(big, collector());
  t.equal(up.isCongested, true, 'writes pile up past the bound');
  bound = 1024 * 1024 * 1024;
  t.equal(up.isCongested, false, 'a bound raised live applies to the open session');
  bound = 64 * 1024;
  const drained = new Promise((resolve) => up.once('drain', resolve));
  readAgain();
  await drained;
  t.equal(up.isCongested, false, 'and it can take commands again once they are written');
});

t.test(
  "a bound below the socket's own high-water mark still sees the router read again",
  async (t) => {
    const { port, readAgain } = await stallingRouter(t);
    // Node 22's default high-water mark, four times the bound.
    let socket: net.Socket | undefined;
    const up = open(port, 'pw', 2000, {
      maxWriteBufferBytes: 16 * 1024,
      connect: (host, p) => {
        // Passed on to the Duplex underneath; the typings do not list it.
        const options = { host, port: p, writableHighWaterMark: 64 * 1024 };
        return (socket = net.connect(options as net.NetConnectOpts));
      },
    });
    await up.connect();
    t.teardown(() => up.close());
    t.equal(socket?.writableHighWaterMark, 64 * 1024);
    const big = cmd('/ip/hotspot/user/add', `=comment=${'x'.repeat(32 * 1024)}`);
    for (let i = 0; i < 400 && !up.isCongested; i++) {
      up.send(big, collector());
      await new Promise((resolve) => setImmediate(resolve));
    }
    t.equal(up.isCongested, true, 'writes pile up past the socket mark');
    const drained = new Promise((resolve) => up.once('drain', resolve));
    readAgain();
    await drained;
    t.equal(up.isCongested, false, 'and drain tells when they are written');
  },
);

t.test('logs in over TLS once the handshake is done', async (t) => {
  const sim = await simulator(t);
  const front = await startTlsTerminator(sim.port, { cert: TEST_PEM.cert, key: TEST_PEM.key });
  t.teardown(() => front.close());
  const up = open(front.port, 'pw', 2000, {
    tls: { rejectUnauthorized: false },
  });
  await up.connect();
  t.teardown(() => up.close());
  const c = collector();
  up.send(cmd('/system/identity/print'), c);
  t.equal((await c.done).length, 2);
  t.equal(front.ciphers.length, 1, 'through the TLS front');
  t.equal(up.isCongested, false, 'a session whose router reads is not congested');
});

t.test('a router session is watched by TCP keepalive', async (t) => {
  const sim = await simulator(t);
  const calls: unknown[][] = [];
  const up = open(sim.port, 'pw', 2000, {
    connect: (host, port) => {
      const socket = net.connect({ host, port });
      const setKeepAlive = socket.setKeepAlive.bind(socket);
      socket.setKeepAlive = (...args: Parameters<typeof setKeepAlive>) => {
        calls.push(args);
        return setKeepAlive(...args);
      };
      return socket;
    },
  });
  await up.connect();
  t.teardown(() => up.close());
  t.same(calls, [[true, 30_000]], 'so a router that vanished without a FIN is found');
});
