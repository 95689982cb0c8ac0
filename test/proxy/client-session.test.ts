import net from 'node:net';
import { Duplex, Writable } from 'node:stream';
import t from 'tap';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import {
  answerInterrupted,
  type CommandContext,
  type CommandSink,
  type Exchange,
  type SessionObserver,
} from '../../src/pipeline.js';
import { UserListAuthenticator, type Authenticator } from '../../src/proxy/authenticator.js';
import {
  BURST_SLICE_BYTES,
  ClientSession,
  type ClientSessionOptions,
} from '../../src/proxy/client-session.js';
import { createProxyStats, type ProxyStats } from '../../src/proxy/stats.js';
import { Decoder, Sentence, computeResponse, encodeSentences } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';

type Tap = { teardown(fn: () => unknown): void };

/** One command the fake pipeline was handed. */
interface Call {
  context: CommandContext;
  sink: CommandSink;
  /** Times the session asked to cancel it. */
  cancels: number;
  /** Answers the cancels asked so far (when the exchange holds them). */
  answerCancels: (() => void)[];
}

const DONE = Sentence.from(['!done']);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Resolves in the next event-loop turn, once this one's output has been handed over. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The limits every session of these tests starts from. */
const LIMITS = {
  maxInFlightPerClient: 4,
  maxOutputBufferBytes: 8 * 1024 * 1024,
  preLoginMaxSentences: 4,
  preLoginTimeoutMs: 5000,
  clientIdleTimeoutMs: 0,
  emptyReplies: 'strip',
  keepaliveReply: 'done',
} as const satisfies Partial<ClientSessionOptions>;

/**
 * What sessions of one test share: a fake pipeline that by default keeps
 * every command until the test answers it through `calls` (a cancel is
 * answered at once, as the router would), the log lines and the counters.
 */
function harness(options: Partial<ClientSessionOptions>, onHandle?: (call: Call) => Exchange) {
  const calls: Call[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const stats = options.stats ?? createProxyStats();
  const authenticator: Authenticator = new UserListAuthenticator([
    { name: 'u', verify: async (p) => p.equals(Buffer.from('p')), secret: Buffer.from('p') },
  ]);
  const optionsFor = (connId: number): ClientSessionOptions => ({
    connId,
    router: 'r',
    address: '127.0.0.1',
    handler: {
      handle(context, commandSink) {
        const call: Call = { context, sink: commandSink, cancels: 0, answerCancels: [] };
        calls.push(call);
        if (onHandle !== undefined) return onHandle(call);
        return {
          cancel(onAnswered) {
            call.cancels++;
            answerInterrupted(commandSink);
            onAnswered();
          },
        };
      },
    },
    authenticator,
    logger: createLogger('debug', sink),
    stats,
    decoderLimits: {},
    preLoginDecoderLimits: { maxWordBytes: 8192, maxSentenceBytes: 8192 },
    ...LIMITS,
    ...options,
  });
  return { calls, logs, stats, optionsFor };
}

/** ClientSessions behind a TCP port, over a {@link harness}. */
async function serve(
  t: Tap,
  options: Partial<ClientSessionOptions> = {},
  onHandle?: (call: Call) => Exchange,
  prepare?: (options: ClientSessionOptions) => void,
) {
  const { calls, logs, stats, optionsFor } = harness(options, onHandle);
  const sessions: ClientSession[] = [];
  const server = net.createServer((socket) => {
    const sessionOptions = optionsFor(sessions.length + 1);
    prepare?.(sessionOptions);
    sessions.push(new ClientSession(socket, sessionOptions));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sessions) s.shutdown();
    return new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    calls,
    sessions,
    logs,
    stats,
    port,
    client: (user = 'u'): Promise<RawClient> =>
      user === '' ? openRaw(t, port) : openRaw(t, port, { user, password: 'p' }),
  };
}

/** Answers every command with a bare `!done` at once; a cancel is answered at once. */
function answerDone(call: Call): Exchange {
  call.sink.done(DONE);
  return { cancel: (onAnswered) => onAnswered() };
}

/** Holds every cancel until the test answers it. */
function holdCancels(call: Call): Exchange {
  return {
    cancel(onAnswered) {
      call.cancels++;
      call.answerCancels.push(() => {
        answerInterrupted(call.sink);
        onAnswered();
      });
    },
  };
}

/** Stats whose `refusedInFlight` counter fails: a broken collaborator. */
function brokenStats(): ProxyStats {
  const stats = createProxyStats();
  Object.defineProperty(stats, 'refusedInFlight', {
    get: () => 0,
    set: () => {
      throw new Error('a broken counter');
    },
  });
  return stats;
}

t.test('a throw from the pipeline refuses that command alone', async (t) => {
  const s = await serve(t, {}, (call) => {
    if (call.context.sentence.command === '/boom') throw new Error('a bug in a stage');
    call.sink.done(DONE);
    return { cancel: (onAnswered) => onAnswered() };
  });
  const c = await s.client();
  t.same(text(await c.call(['/boom', '.tag=1'])), [
    '!trap .tag=1 =message=internal error in rosgate',
    '!done .tag=1',
  ]);
  t.same(text(await c.call(['/system/identity/print', '.tag=2'])), ['!done .tag=2']);
  t.equal(s.sessions[0]?.inFlight, 0, 'nothing is left open');
});

t.test('a stage that answers and then throws answers the client once', async (t) => {
  const s = await serve(t, {}, (call) => {
    call.sink.done(DONE);
    // Whatever a stage does after the end is ignored.
    call.sink.reply(Sentence.from(['!re', '=late=1']));
    call.sink.done(DONE);
    call.sink.refuse(new RosgateError(ErrorCode.Internal, 'late'));
    throw new Error('a bug after answering');
  });
  const c = await s.client();
  c.send(['/a', '.tag=1']);
  c.send(['/b', '.tag=2']);
  t.same(text(await c.untilDone('2')), ['!done .tag=1', '!done .tag=2']);
});

t.test('a broken collaborator while handling a sentence costs that sentence', async (t) => {
  const s = await serve(t, { stats: brokenStats(), maxInFlightPerClient: 1 });
  const c = await s.client();
  c.send(['/interface/monitor-traffic', '.tag=1']);
  t.same(text(await c.call(['/system/identity/print', '.tag=2'])), [
    '!trap .tag=2 =message=internal error in rosgate',
    '!done .tag=2',
  ]);
  t.match(s.logs, [
    { msg: 'client logged in' },
    { level: 50, msg: 'handling a client sentence failed' },
  ]);
  t.same(text(await c.call(['/cancel', '=tag=1', '.tag=c'])), [
    '!trap .tag=1 =category=2 =message=interrupted',
    '!done .tag=1',
    '!done .tag=c',
  ]);
});

t.test('a broken collaborator outside any one sentence closes that client only', async (t) => {
  let isBroken = false;
  const s = await serve(t, {}, undefined, (options) => {
    Object.defineProperty(options, 'preLoginMaxSentences', {
      get: () => {
        if (isBroken) {
          isBroken = false;
          throw new Error('a broken setting');
        }
        return 4;
      },
    });
  });
  const c = await s.client('');
  isBroken = true;
  c.send(['/login', '=name=u', '=password=p']);
  t.same(text(await c.untilClosed()), ['!fatal internal error']);
  t.match(s.logs, [{ level: 50, msg: 'client session failed; closing it' }]);
  const other = await s.client();
  t.same(text(await other.call(['#', '.tag=k'])), ['!done .tag=k'], 'others go on');
});

t.test(
  'a broken collaborator while handling what follows a login costs that sentence',
  async (t) => {
    const s = await serve(t, { stats: brokenStats(), maxInFlightPerClient: 1 });
    const c = await s.client('');
    c.write(
      encodeSentences([
        ['/login', '=name=u', '=password=p'],
        ['/a', '.tag=1'],
        ['/b', '.tag=2'],
      ]),
    );
    t.same(text(await c.untilDone('2')), [
      '!done',
      '!trap .tag=2 =message=internal error in rosgate',
      '!done .tag=2',
    ]);
    t.equal(s.calls.length, 1, 'the first command runs');
  },
);

t.test('cancels waiting for the router count against the in-flight limit', async (t) => {
  const s = await serve(t, { maxInFlightPerClient: 2 }, holdCancels);
  const c = await s.client();
  c.send(['/interface/monitor-traffic', '.tag=1']);
  c.send(['/interface/monitor-traffic', '.tag=2']);
  await eventually(() => s.calls.length === 2, 'both streams to reach the pipeline');
  c.send(['/cancel', '.tag=c1']);
  c.send(['/cancel', '.tag=c2']);
  t.same(text(await c.call(['/cancel', '.tag=c3'])), [
    '!trap .tag=c3 =message=too many commands in flight (limit 2)',
    '!done .tag=c3',
  ]);
  t.same(
    s.calls.map((call) => call.cancels),
    [1, 1],
    'two bare cancels cancel each command once',
  );
  for (const call of s.calls) call.answerCancels.forEach((answer) => answer());
  const replies = text(await c.untilDone('c2'));
  t.same(replies.filter((r) => r.startsWith('!done')).sort(), [
    '!done .tag=1',
    '!done .tag=2',
    '!done .tag=c1',
    '!done .tag=c2',
  ]);
});

t.test('a cancel of a command whose cancel was answered already is answered at once', async (t) => {
  // The router took the first cancel (trap, done(cancel)) but has not ended
  // the command yet: a client asking again must not wait for ever.
  const s = await serve(t, {}, (call) => ({
    cancel(onAnswered) {
      call.cancels++;
      call.answerCancels.push(() => {
        call.sink.reply(Sentence.from(['!trap', '=category=2', '=message=interrupted']));
        onAnswered();
      });
    },
  }));
  const c = await s.client();
  c.send(['/interface/listen', '.tag=x']);
  await eventually(() => s.calls.length === 1, 'the listen to reach the pipeline');
  c.send(['/cancel', '=tag=x', '.tag=c1']);
  await eventually(() => s.calls[0]?.cancels === 1, 'the cancel to reach the pipeline');
  s.calls[0]?.answerCancels.forEach((answer) => answer());
  t.same(text(await c.untilDone('c1')), [
    '!trap .tag=x =category=2 =message=interrupted',
    '!done .tag=c1',
  ]);
  t.same(text(await c.call(['/cancel', '=tag=x', '.tag=c2'])), ['!done .tag=c2']);
  t.same(text(await c.call(['/cancel', '.tag=c3'])), ['!done .tag=c3'], 'a bare cancel too');
  t.equal(s.calls[0]?.cancels, 1, 'the pipeline was asked once');
  s.calls[0]?.sink.done(DONE);
  t.same(text(await c.untilDone('x')), ['!done .tag=x']);
  t.equal(s.sessions[0]?.inFlight, 0);
});

t.test('an exchange whose cancel throws refuses its command and answers the cancel', async (t) => {
  const s = await serve(t, {}, () => ({
    cancel() {
      throw new Error('a bug in a cancel');
    },
  }));
  const c = await s.client();
  c.send(['/interface/monitor-traffic', '.tag=1']);
  t.same(text(await c.call(['/cancel', '=tag=1', '.tag=c'])), [
    '!trap .tag=1 =message=internal error in rosgate',
    '!done .tag=1',
    '!done .tag=c',
  ]);
});

t.test('the session tells its user, what is open, and when it is idle', async (t) => {
  const s = await serve(t);
  const c = await s.client();
  const session = s.sessions[0] as ClientSession;
  t.equal(session.user, 'u');
  await session.idle();
  c.send(['/interface/monitor-traffic', '.tag=1']);
  await eventually(() => s.calls.length === 1);
  t.equal(session.inFlight, 1);
  let isIdle = false;
  const idle = session.idle().then(() => {
    isIdle = true;
  });
  // A turn of the event loop: a wrongly settled promise would have run its callback.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(isIdle, false, 'not idle while a command runs');
  s.calls[0]?.sink.done(DONE);
  await idle;
  t.equal(session.inFlight, 0);
});

t.test('a logged-in client silent for clientIdleTimeoutMs is closed', async (t) => {
  const s = await serve(t, { clientIdleTimeoutMs: 30 });
  const quiet = await s.client();
  t.same(text(await quiet.untilClosed()), ['!fatal idle timeout']);

  const busy = await s.client();
  busy.send(['/interface/monitor-traffic', '.tag=1']);
  await eventually(() => s.calls.length === 1);
  // The idle timer is Node's own (the session takes no timers): only a real
  // wait past clientIdleTimeoutMs shows that it did not fire.
  await sleep(45);
  t.equal(busy.isClosed, false, 'a client with a command open is not idle');
  s.calls[0]?.sink.done(DONE);
  t.same(text(await busy.untilClosed()), ['!done .tag=1', '!fatal idle timeout']);
});

t.test('a sentence begun and not ended within sentenceTimeoutMs closes its client', async (t) => {
  const s = await serve(t, { sentenceTimeoutMs: 30 });
  const c = await s.client();
  const bytes = encodeSentences([['/ip/address/print', `=comment=${'x'.repeat(1000)}`]]);
  c.write(bytes.subarray(0, 500));
  t.same(text(await c.untilClosed()), ['!fatal sentence not completed in time']);
  t.equal(s.calls.length, 0, 'nothing of it ran');
});

t.test(
  'the sentence deadline runs per sentence: a client whose sentences each end in time is kept',
  async (t) => {
    // Gaps a fifth of the deadline, eight of them longer than it in all: a
    // deadline per connection would fire, and a loaded machine stays far
    // from one gap taking the whole deadline.
    const s = await serve(t, { sentenceTimeoutMs: 200 }, answerDone);
    const c = await s.client();
    const one = encodeSentences([['/ip/address/print', '=comment=abc']]);
    const stream = Buffer.concat(Array.from({ length: 8 }, () => one));
    // Every write ends inside a sentence, and one ends with each write after the first.
    const step = one.length;
    for (let at = 0; at < stream.length; at += step) {
      c.write(stream.subarray(at === 0 ? 0 : at - 3, Math.min(stream.length, at + step - 3)));
      await sleep(40);
    }
    c.write(stream.subarray(stream.length - 3));
    await eventually(() => s.calls.length === 8, 'every sentence to run');
    t.equal(c.isClosed, false, 'a stream of sentences, each ended in time, is no partial one');
    const off = await serve(t, { sentenceTimeoutMs: 0 });
    const idle = await off.client();
    idle.write(one.subarray(0, 5));
    await sleep(45);
    t.equal(idle.isClosed, false, '0 never closes');
  },
);

t.test('a relayed challenge that arrives after its client left is closed', async (t) => {
  let handOut: () => void = () => undefined;
  let closed = 0;
  const s = await serve(t, {
    authenticator: {
      verifyPassword: async () => false,
      secretsFor: () => [],
      openLegacyChallenge: () =>
        new Promise((resolve) => {
          handOut = () =>
            resolve({
              challengeHex: 'ab'.repeat(16),
              check: async () => true,
              close: () => closed++,
            });
        }),
    },
  });
  const c = await s.client('');
  c.send(['/login']);
  await eventually(() => s.sessions.length === 1);
  await c.close();
  await s.sessions[0]?.closed();
  handOut();
  await eventually(() => closed === 1, 'the relay to be closed');
});

t.test('a login is told only if its client is still there when it is taken', async (t) => {
  const events: string[] = [];
  const observer: SessionObserver = {
    loginSucceeded: (e) => events.push(`login ${e.user}`),
    loginFailed: () => undefined,
    loggedOut: (e) => events.push(`logout ${e.user}`),
  };
  let passwordChecked!: (isRight: boolean) => void;
  const authenticator = new UserListAuthenticator([
    {
      name: 'u',
      verify: () => new Promise<boolean>((resolve) => (passwordChecked = resolve)),
      secret: Buffer.from('p'),
    },
  ]);
  const s = await serve(t, { observer, authenticator });
  const c = await s.client('');
  c.send(['/login', '=name=u', '=password=p']);
  await eventually(() => passwordChecked !== undefined, 'the password check to start');
  await c.close();
  await s.sessions[0]?.closed();
  passwordChecked(true);
  // The check's answer is handled in the promise jobs that follow.
  await new Promise((resolve) => setImmediate(resolve));
  t.same(events, [], 'no login without its logout');
});

t.test('a second login in a session ends the first user there', async (t) => {
  const events: string[] = [];
  const observer: SessionObserver = {
    loginSucceeded: (e) => events.push(`login ${e.user}`),
    loginFailed: () => undefined,
    loggedOut: (e) => events.push(`logout ${e.user} ${e.commands}`),
  };
  const authenticator = new UserListAuthenticator(
    ['u', 'v'].map((name) => ({
      name,
      verify: async (p: Buffer) => p.equals(Buffer.from('p')),
      secret: Buffer.from('p'),
    })),
  );
  const s = await serve(t, { observer, authenticator }, answerDone);
  const c = await s.client('u');
  await c.call(['/system/identity/print', '.tag=1']);
  t.same(text(await c.call(['/login', '=name=v', '=password=p'])), ['!done']);
  await c.call(['/system/identity/print', '.tag=2']);
  await c.call(['/system/identity/print', '.tag=3']);
  await c.close();
  await eventually(() => events.length === 4, 'the last logout');
  t.same(events, ['login u', 'logout u 1', 'login v', 'logout v 2']);
});

t.test('a logout is told with the method of the login', async (t) => {
  const events: string[] = [];
  const observer: SessionObserver = {
    loginSucceeded: () => undefined,
    loginFailed: () => undefined,
    loggedOut: (e) => events.push(`${e.user} ${e.method} ${e.commands}`),
  };
  const s = await serve(t, { observer }, answerDone);
  const c = await s.client('');
  const hex = (await c.call(['/login']))[0]?.attributeString('ret') as string;
  const response = computeResponse('p', Buffer.from(hex, 'hex'));
  t.same(text(await c.call(['/login', '=name=u', `=response=${response}`])), ['!done']);
  await c.call(['/system/identity/print', '.tag=1']);
  await c.close();
  await eventually(() => events.length === 1);
  t.same(events, ['u challenge 1']);
});

t.test('a 64 KiB sentence before login is a framing error', async (t) => {
  const s = await serve(t);
  const c = await s.client('');
  c.send(['/login', `=name=${'x'.repeat(64 * 1024)}`, '=password=p']);
  t.same(text(await c.untilClosed()), ['!fatal protocol error']);
  t.equal(s.stats.framingErrors, 1);
});

t.test(
  'untagged commands run one at a time; queued ones never start once the client left',
  async (t) => {
    const s = await serve(t);
    const c = await s.client();
    c.send(['/a']);
    c.send(['/b']);
    c.send(['/c']);
    await eventually(() => s.calls.length === 1);
    t.equal(s.sessions[0]?.inFlight, 3, 'all three are open');
    s.calls[0]?.sink.done(DONE);
    await eventually(() => s.calls.length === 2, 'the second to start when the first ends');
    t.equal(s.calls[1]?.context.sentence.command, '/b');
    await c.close();
    await eventually(() => s.calls[1]?.cancels === 1, 'the running one to be cancelled');
    await s.sessions[0]?.closed();
    t.equal(s.calls.length, 2, 'the queued one never reached the pipeline');
  },
);

t.test('a refusal reaches the client as a trap with its message and category', async (t) => {
  const s = await serve(t, {}, (call) => {
    const interrupted = call.context.sentence.command === '/late';
    call.sink.refuse(
      interrupted
        ? new RosgateError(ErrorCode.Interrupted, 'interrupted')
        : new RosgateError(ErrorCode.RateLimited, 'rate limit exceeded'),
    );
    return { cancel: (onAnswered) => onAnswered() };
  });
  const c = await s.client();
  t.same(text(await c.call(['/a', '.tag=1'])), [
    '!trap .tag=1 =message=rate limit exceeded',
    '!done .tag=1',
  ]);
  t.same(text(await c.call(['/late', '.tag=2'])), [
    '!trap .tag=2 =category=2 =message=interrupted',
    '!done .tag=2',
  ]);
});

t.test(
  'a client that stops reading is dropped past its bound and its commands cancelled',
  async (t) => {
    const row = Sentence.from(['!re', `=data=${'x'.repeat(64 * 1024)}`]);
    const s = await serve(t, { maxOutputBufferBytes: 256 * 1024 }, (call) => {
      const timer = setInterval(() => {
        for (let i = 0; i < 16; i++) call.sink.reply(row);
      }, 1);
      return {
        cancel(onAnswered) {
          call.cancels++;
          clearInterval(timer);
          answerInterrupted(call.sink);
          onAnswered();
        },
      };
    });
    const c = await s.client();
    c.socket.pause();
    c.send(['/stream', '.tag=1']);
    await eventually(() => s.stats.slowClientDrops === 1, 'the stalled client to be dropped');
    t.equal(s.calls[0]?.cancels, 1, 'its command is cancelled');
    t.match(s.logs.at(-1), { code: ErrorCode.SlowClient, msg: 'client too slow to read; dropped' });
  },
);

/** Answers with `rows` rows of 64 KiB and `!done` at once, as a cache hit replays a kept reply. */
function answerAtOnce(rows: number): (call: Call) => Exchange {
  return (call) => {
    for (let i = 0; i < rows; i++) call.sink.reply(ROW_64K);
    call.sink.done(DONE);
    return { cancel: (onAnswered) => onAnswered() };
  };
}

const ROW_64K = Sentence.from(['!re', `=data=${'x'.repeat(64 * 1024)}`]);

/** Each sentence as its command and tag. */
const heads = (sentences: readonly Sentence[]): string[] =>
  sentences.map((s) => `${s.command} ${s.tagString}`);

/** What a client gets for an answerAtOnce(`rows`) command tagged `tag`. */
const answerHeads = (rows: number, tag: string): string[] => [
  ...Array<string>(rows).fill(`!re ${tag}`),
  `!done ${tag}`,
];

t.test(
  'answers given at once that together pass the output bound reach a client that reads',
  async (t) => {
    // Each answer is 1 MiB, four times the bound, and three are asked for in one write.
    const s = await serve(t, { maxOutputBufferBytes: 256 * 1024 }, answerAtOnce(16));
    const c = await s.client();
    c.write(
      encodeSentences([
        ['/a', '.tag=1'],
        ['/b', '.tag=2'],
        ['/c', '.tag=3'],
      ]),
    );
    t.same(heads(await c.untilDone('3')), [
      ...answerHeads(16, '1'),
      ...answerHeads(16, '2'),
      ...answerHeads(16, '3'),
    ]);
    t.equal(s.stats.slowClientDrops, 0, 'the client is not dropped');
  },
);

/**
 * A client over a stream whose writes are taken only once the test says
 * so: a peer that does not read, with no kernel buffer in between.
 */
function stalledPeer() {
  const written: Buffer[] = [];
  const untaken: (() => void)[] = [];
  /** Bytes of the oldest untaken write the peer has read so far. */
  let readOfOldest = 0;
  let isReading = false;
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, taken) {
      written.push(chunk);
      if (isReading) taken();
      else untaken.push(taken);
    },
  });
  const oldestUntaken = (): Buffer | undefined => written[written.length - untaken.length];
  return {
    socket,
    send: (sentences: string[][]): void => {
      socket.push(encodeSentences(sentences));
    },
    /** Everything the peer has taken, decoded. */
    received: (): Sentence[] => new Decoder().decode(Buffer.concat(written)),
    /** The peer reads, from now on. */
    read(): void {
      isReading = true;
      for (const taken of untaken.splice(0)) taken();
    },
    /** Bytes written to the peer's socket that it has not read. */
    unreadBytes: (): number =>
      Buffer.concat(written.slice(written.length - untaken.length)).length - readOfOldest,
    /** Bytes written to the peer's socket, taken or not. */
    writtenBytes: (): number => Buffer.concat(written).length,
    /** The peer reads the oldest write it has not, and no more. */
    readOne(): void {
      readOfOldest = 0;
      untaken.shift()?.();
    },
    /**
     * The peer reads `bytes` more, as a slow link does: a write is taken
     * once all of it is read (what the socket behind it is told).
     */
    readBytes(bytes: number): void {
      let left = bytes;
      for (let oldest = oldestUntaken(); oldest !== undefined; oldest = oldestUntaken()) {
        const take = Math.min(left, oldest.length - readOfOldest);
        readOfOldest += take;
        left -= take;
        if (readOfOldest < oldest.length) return;
        readOfOldest = 0;
        untaken.shift()?.();
      }
    },
  };
}

/** Whether `session` has closed, as a flag a test can poll. */
function isClosedFlag(session: ClientSession): { isClosed: boolean } {
  const flag = { isClosed: false };
  void session.closed().then(() => (flag.isClosed = true));
  return flag;
}

/** A session over `peer`, logged in as `u`, over a harness. */
async function loggedInOver(
  t: Tap,
  peer: ReturnType<typeof stalledPeer>,
  h: ReturnType<typeof harness>,
): Promise<ClientSession> {
  const session = new ClientSession(peer.socket, h.optionsFor(1));
  t.teardown(() => session.shutdown());
  peer.send([['/login', '=name=u', '=password=p']]);
  await eventually(() => session.user === 'u', 'the login');
  return session;
}

t.test(
  'a client that stops reading is read no further behind a burst, and dropped by what follows it',
  async (t) => {
    const h = harness({ maxOutputBufferBytes: 256 * 1024 }, (call) => {
      // A stream: a burst at once, as a cache replays, then rows as the router sends them.
      for (let i = 0; i < 16; i++) call.sink.reply(ROW_64K);
      return { cancel: (onAnswered) => onAnswered() };
    });
    const peer = stalledPeer();
    await loggedInOver(t, peer, h);
    peer.send([
      ['/stream', '.tag=1'],
      ['/b', '.tag=2'],
    ]);
    await eventually(() => h.calls.length > 0, 'the first command');
    t.equal(h.calls.length, 1, 'the sentence after the burst is not read');
    t.equal(h.stats.slowClientDrops, 0, 'the burst, four times the bound, is not held against it');

    // The router's rows count at once, in a turn of their own as in this one.
    await nextTurn();
    const stream = h.calls[0] as Call;
    for (let i = 0; i < 3; i++) stream.sink.reply(ROW_64K);
    t.equal(h.stats.slowClientDrops, 0, 'rows within the bound are kept for it');
    await nextTurn();
    stream.sink.reply(ROW_64K);
    t.equal(h.stats.slowClientDrops, 1, 'the rows after the burst pass the bound: dropped');
    t.equal(stream.cancels, 0, 'its stream had nothing to cancel on the fake router');
  },
);

t.test('a client that reads again after a burst is read on, in order', async (t) => {
  const h = harness({ maxOutputBufferBytes: 256 * 1024 }, answerAtOnce(16));
  const peer = stalledPeer();
  await loggedInOver(t, peer, h);
  peer.send([
    ['/a', '.tag=1'],
    ['/b', '.tag=2'],
    ['/c', '.tag=3'],
  ]);
  await eventually(() => h.calls.length > 0, 'the first command');
  t.equal(h.calls.length, 1, 'one burst at a time');
  peer.read();
  await eventually(() => h.calls.length === 3, 'the commands behind the burst');
  t.same(heads(peer.received()), [
    '!done undefined',
    ...answerHeads(16, '1'),
    ...answerHeads(16, '2'),
    ...answerHeads(16, '3'),
  ]);
  t.equal(h.stats.slowClientDrops, 0);
});

t.test(
  "a cancel behind rosgate's own small answer is read while a stream outpaces the client",
  async (t) => {
    const h = harness({ maxOutputBufferBytes: 256 * 1024 });
    const peer = stalledPeer();
    await loggedInOver(t, peer, h);
    peer.readOne(); // the login's answer
    peer.send([['/interface/listen', '.tag=s']]);
    await eventually(() => h.calls.length === 1, 'the stream');
    const stream = h.calls[0] as Call;
    const row = Sentence.from(['!re', `=data=${'x'.repeat(8 * 1024)}`]);
    // 24 KiB of rows the client has not read, past the socket's high-water mark.
    for (let i = 0; i < 3; i++) {
      stream.sink.reply(row);
      await nextTurn();
    }
    peer.send([
      ['#', '.tag=k'],
      ['/cancel', '=tag=s', '.tag=c'],
    ]);
    // The router sends two rows for each one the client reads.
    for (let i = 0; i < 100 && stream.cancels === 0 && h.stats.slowClientDrops === 0; i++) {
      stream.sink.reply(row);
      await nextTurn();
      stream.sink.reply(row);
      await nextTurn();
      peer.readOne();
      await nextTurn();
    }
    t.equal(stream.cancels, 1, 'the cancel is read and the stream cancelled');
    t.equal(h.stats.slowClientDrops, 0, 'before the rows pass the bound');
  },
);

t.test('a client that takes nothing of its burst and sent nothing behind it is idle', async (t) => {
  const h = harness({ maxOutputBufferBytes: 256 * 1024, clientIdleTimeoutMs: 15 }, answerAtOnce(4));
  const peer = stalledPeer();
  const closed = isClosedFlag(await loggedInOver(t, peer, h));
  peer.send([['/a', '.tag=1']]);
  await eventually(() => closed.isClosed, 'the idle timeout');
  t.same(h.calls.length, 1);
});

t.test(
  'a command behind a burst waits for the client to read, not for the idle timeout',
  async (t) => {
    const h = harness(
      { maxOutputBufferBytes: 256 * 1024, clientIdleTimeoutMs: 20 },
      answerAtOnce(4),
    );
    const peer = stalledPeer();
    const closed = isClosedFlag(await loggedInOver(t, peer, h));
    peer.send([
      ['/a', '.tag=1'],
      ['/b', '.tag=2'],
    ]);
    await eventually(() => h.calls.length === 1, 'the first command');
    await sleep(45); // three idle timeouts before the client reads anything
    t.equal(closed.isClosed, false, 'a client whose sentences wait unread is not idle');
    peer.read();
    await eventually(() => h.calls.length === 2, 'the command behind the burst');
    await eventually(() => heads(peer.received()).includes('!done 2'), 'its answer');
  },
);

t.test('a sentence left unfinished behind a burst has time while the client reads', async (t) => {
  const TIMEOUT_MS = 30;
  const h = harness({ maxOutputBufferBytes: 256 * 1024, sentenceTimeoutMs: TIMEOUT_MS }, (call) => {
    for (let i = 0; i < 4; i++) call.sink.reply(ROW_64K);
    return { cancel: (onAnswered) => onAnswered() };
  });
  const peer = stalledPeer();
  const closed = isClosedFlag(await loggedInOver(t, peer, h));
  // A stream's burst, then half of the next sentence: a word of 15 bytes, 14 sent.
  peer.socket.push(
    Buffer.concat([
      encodeSentences([['/stream', '.tag=1']]),
      Buffer.from([0x0f, ...Buffer.from('/system/identi')]),
    ]),
  );
  await eventually(() => h.calls.length === 1, 'the stream');
  // The clock runs from before this moment.
  const started = performance.now();
  await nextTurn();
  (h.calls[0] as Call).sink.reply(ROW_64K); // rows after the burst, a write of their own
  const writtenBefore = peer.writtenBytes();
  peer.readOne(); // the client reads, and the socket takes the burst's first slice
  await eventually(() => closed.isClosed, 'the cut once it reads no more');
  // Cut at the first expiry it would have been, less than one period on;
  // it read within that period, so the clock ran a second one.
  t.ok(
    performance.now() - started >= 1.5 * TIMEOUT_MS,
    'the clock was wound again by the read, then ran out',
  );
  t.equal(
    peer.writtenBytes() - writtenBefore,
    BURST_SLICE_BYTES,
    'the socket took the first slice of the burst; the rest waits for the client to read it',
  );
});

t.test(
  'a client reading a long burst slowly is seen reading it slice by slice, and not cut while it reads',
  async (t) => {
    const TIMEOUT_MS = 40;
    const ROWS = 48; // 3 MB: a slow link takes longer than the clock's period to read it
    const h = harness(
      { maxOutputBufferBytes: 256 * 1024, sentenceTimeoutMs: TIMEOUT_MS },
      (call) => {
        if (call.context.sentence.command === '/stream')
          for (let i = 0; i < ROWS; i++) call.sink.reply(ROW_64K);
        call.sink.done(Sentence.from(['!done']));
        return { cancel: (onAnswered) => onAnswered() };
      },
    );
    const peer = stalledPeer();
    const closed = isClosedFlag(await loggedInOver(t, peer, h));
    const next = encodeSentences([['/system/identity/print', '.tag=2']]);
    // The burst's command, then the next sentence but its last byte.
    peer.socket.push(
      Buffer.concat([encodeSentences([['/stream', '.tag=1']]), next.subarray(0, -1)]),
    );
    await eventually(() => h.calls.length === 1, 'the burst');
    const started = performance.now();
    // A slice per half period: 3 MB take six periods of the clock.
    do {
      await sleep(TIMEOUT_MS / 2);
      t.equal(closed.isClosed, false, 'not cut while it reads');
      if (closed.isClosed) return;
      peer.readBytes(BURST_SLICE_BYTES);
    } while (peer.unreadBytes() > 0);
    t.ok(heads(peer.received()).includes('!done 1'), 'it read the whole burst');
    t.ok(performance.now() - started > 4 * TIMEOUT_MS, 'it read over several periods of the clock');
    peer.read();
    peer.socket.push(next.subarray(-1));
    await eventually(() => heads(peer.received()).includes('!done 2'), 'the next command answered');
    t.equal(h.calls.length, 2);
  },
);

t.test('before login only a login, a quit or a few refused sentences are allowed', async (t) => {
  const s = await serve(t, { preLoginMaxSentences: 3, keepaliveReply: 'trap' });
  const c = await s.client('');
  t.same(text(await c.call(['/ip/address/print', '.tag=1'])), [
    '!trap .tag=1 =message=not logged in',
    '!done .tag=1',
  ]);
  t.same(text(await c.call(['/login', '=name=u', '=password=wrong', '.tag=2'])), [
    '!trap .tag=2 =message=invalid user name or password (6)',
    '!done .tag=2',
  ]);
  t.equal(s.stats.loginsFailed, 1);
  c.send(['#', '.tag=3']);
  c.send(['#', '.tag=4']);
  t.same(text(await c.untilClosed()), [
    '!trap .tag=3 =message=not logged in',
    '!done .tag=3',
    '!fatal too many commands before login',
  ]);

  const keepalive = await s.client();
  t.same(text(await keepalive.call(['#', '.tag=k'])), [
    '!trap .tag=k =message=no such command prefix',
    '!done .tag=k',
  ]);
  keepalive.send(['/quit']);
  t.same(text(await keepalive.untilClosed()), ['!fatal session terminated on request']);
});

t.test(
  'commands sent behind a login wait for it, and for a second login behind them',
  async (t) => {
    let release: () => void = () => undefined;
    let verifications = 0;
    const s = await serve(
      t,
      {
        authenticator: {
          verifyPassword: (_name, _password, isWanted) =>
            new Promise((resolve) => {
              verifications++;
              release = () => resolve(isWanted?.() === true);
            }),
          secretsFor: () => [],
        },
      },
      answerDone,
    );
    const c = await s.client('');
    // One write: the four sentences arrive together, so all are read by the
    // time the first login is being verified.
    c.write(
      encodeSentences([
        ['/login', '=name=u', '=password=p', '.tag=l1'],
        ['/a', '.tag=1'],
        ['/login', '=name=u', '=password=p', '.tag=l2'],
        ['/b', '.tag=2'],
      ]),
    );
    await eventually(() => verifications === 1, 'the first login to be verified');
    release();
    await eventually(() => s.calls.length === 1, 'the first command to run after the login');
    release();
    t.same(text(await c.untilDone('2')), [
      '!done .tag=l1',
      '!done .tag=1',
      '!done .tag=l2',
      '!done .tag=2',
    ]);
  },
);

t.test('a bare cancel answers queued untagged commands itself', async (t) => {
  const s = await serve(t);
  const c = await s.client();
  c.send(['/a']);
  c.send(['/b']);
  await eventually(() => s.calls.length === 1);
  c.send(['/cancel']);
  t.same(text(await c.read(5)), [
    '!trap =category=2 =message=interrupted',
    '!done',
    '!trap =category=2 =message=interrupted',
    '!done',
    '!done',
  ]);
  t.equal(s.calls.length, 1, 'the queued command never reached the pipeline');
});

t.test('a client that leaves mid-command ends the session at once', async (t) => {
  const s = await serve(t, {}, holdCancels);
  const c = await s.client();
  c.send(['/interface/monitor-traffic', '.tag=1']);
  await eventually(() => s.calls.length === 1);
  const session = s.sessions[0] as ClientSession;
  const idle = session.idle();
  await c.close();
  await t.resolves(
    Promise.all([session.closed(), idle]),
    'idle and closed although the router has not answered the cancel yet',
  );
  const call = s.calls[0] as Call;
  t.equal(call.cancels, 1, 'the command is cancelled in the pipeline');
  call.sink.reply(Sentence.from(['!re', '=late=1']));
  call.answerCancels.forEach((answer) => answer());
  t.equal(session.inFlight, 0, 'late replies go nowhere and the command ends');
});

t.test('sentences after a quit in the same write are ignored', async (t) => {
  const s = await serve(t);
  const c = await s.client();
  c.write(encodeSentences([['/quit'], ['/ip/address/print', '.tag=1']]));
  t.same(text(await c.untilClosed()), ['!fatal session terminated on request']);
  t.equal(s.calls.length, 0);
});

for (const emptyReplies of ['strip', 'passthrough'] as const) {
  t.test(`the !empty of RouterOS 7.18 is handled as configured (${emptyReplies})`, async (t) => {
    const s = await serve(t, { emptyReplies }, (call) => {
      call.sink.reply(Sentence.from(['!empty']));
      call.sink.done(DONE);
      return { cancel: (onAnswered) => onAnswered() };
    });
    const c = await s.client();
    t.same(
      text(await c.call(['/ip/address/print', '.tag=1'])),
      emptyReplies === 'strip' ? ['!done .tag=1'] : ['!empty .tag=1', '!done .tag=1'],
    );
  });
}

t.test(
  'the replies of one turn leave in one write of one buffer, byte for byte, with the client tag',
  async (t) => {
    const writes: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        writes.push(chunk);
        done();
      },
    });
    let call: { sink: CommandSink } | undefined;
    const session = new ClientSession(socket, {
      connId: 1,
      router: 'r',
      address: '127.0.0.1',
      handler: {
        handle(_context, sink) {
          call = { sink };
          return { cancel: (onAnswered) => onAnswered() };
        },
      },
      authenticator: new UserListAuthenticator([
        { name: 'u', verify: async (p) => p.equals(Buffer.from('p')), secret: Buffer.from('p') },
      ]),
      logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
      stats: createProxyStats(),
      decoderLimits: {},
      preLoginDecoderLimits: {},
      ...LIMITS,
    });
    t.teardown(() => session.shutdown());
    socket.push(encodeSentences([['/login', '=name=u', '=password=p']]));
    await eventually(() => writes.length === 1, 'the login answer');
    socket.push(encodeSentences([['/ip/address/print', '.tag=c7']]));
    await eventually(() => call !== undefined, 'the command in the pipeline');
    const sink = (call as { sink: CommandSink }).sink;
    // As the router sends them: its own tag, first or last.
    const [a, b, empty, done] = new Decoder().decode(
      encodeSentences([
        ['!re', '.tag=u9', '=address=10.0.0.1/24'],
        ['!re', '=address=10.0.0.2/24', '.tag=u9'],
        ['!empty', '.tag=u9'],
        ['!done', '.tag=u9'],
      ]),
    ) as Sentence[];
    sink.reply(a as Sentence);
    sink.reply(b as Sentence);
    sink.reply(empty as Sentence);
    sink.done(done as Sentence);
    await eventually(() => writes.length === 2, 'the replies');
    await sleep(5);
    t.equal(writes.length, 2, 'one write for the whole turn');
    t.same(
      writes[1],
      encodeSentences([
        ['!re', '.tag=c7', '=address=10.0.0.1/24'],
        ['!re', '=address=10.0.0.2/24', '.tag=c7'],
        ['!done', '.tag=c7'],
      ]),
    );
  },
);

t.test(
  'a login and the commands behind it in one write: counted and sized as a logged-in client',
  async (t) => {
    const s = await serve(t, { preLoginMaxSentences: 4 }, answerDone);
    const c = await s.client('');
    c.write(
      encodeSentences([
        ['/login', '=name=u', '=password=p', '.tag=l'],
        ['/a', '.tag=1'],
        ['/b', '.tag=2'],
        ['/c', '.tag=3'],
        // Past the 8 KiB limit of a login sentence, within a logged-in client's.
        ['/d', `=comment=${'x'.repeat(64 * 1024)}`, '.tag=4'],
      ]),
    );
    t.same(
      text(await c.untilDone('4')).map((line) => line.slice(0, 12)),
      ['!done .tag=l', '!done .tag=1', '!done .tag=2', '!done .tag=3', '!done .tag=4'],
    );
    t.equal(s.calls.length, 4, 'every command ran');
    t.equal(s.stats.framingErrors, 0, 'no framing error');
  },
);

t.test(
  'a framing error behind a login in one write closes the client once it is answered',
  async (t) => {
    const s = await serve(t);
    const c = await s.client('');
    c.write(
      Buffer.concat([
        encodeSentences([['/login', '=name=u', '=password=p', '.tag=l']]),
        Buffer.from([0xf8]),
      ]),
    );
    t.same(text(await c.untilClosed()), ['!done .tag=l', '!fatal protocol error']);
    t.equal(s.stats.framingErrors, 1);
  },
);

t.test(
  "rosgate's own untagged answers never overtake the answers of earlier untagged commands",
  async (t) => {
    const s = await serve(t, { maxInFlightPerClient: 2 });
    const c = await s.client();
    // An in-order (untagged) client pipelining three reads and a keepalive.
    c.write(encodeSentences([['/a/print'], ['/b/print'], ['/c/print'], ['#']]));
    await eventually(() => s.calls.length === 1, 'the first command to run');
    t.equal(await c.isSilent(20), true, 'nothing is answered ahead of /a');
    s.calls[0]?.sink.reply(Sentence.from(['!re', '=row=of-a']));
    s.calls[0]?.sink.done(DONE);
    await eventually(() => s.calls.length === 2, 'the second command to run');
    s.calls[1]?.sink.reply(Sentence.from(['!re', '=row=of-b']));
    s.calls[1]?.sink.done(DONE);
    t.same(text(await c.read(7)), [
      '!re =row=of-a',
      '!done',
      '!re =row=of-b',
      '!done',
      '!trap =message=too many commands in flight (limit 2)',
      '!done',
      '!done',
    ]);
    t.same(text(await c.call(['#', '.tag=k'])), ['!done .tag=k'], 'a tagged answer goes at once');
  },
);

t.test(
  'an untagged cancel and a second login answer after the untagged command before them',
  async (t) => {
    const s = await serve(t);
    const c = await s.client();
    c.write(
      encodeSentences([
        ['/a/print'],
        ['/cancel', '=tag=none'],
        ['/login', '=name=u', '=password=p'],
      ]),
    );
    await eventually(() => s.calls.length === 1, 'the command to run');
    t.equal(await c.isSilent(20), true, 'nothing is answered ahead of /a');
    s.calls[0]?.sink.done(DONE);
    t.same(text(await c.read(3)), ['!done', '!done', '!done']);
    t.equal(s.sessions[0]?.user, 'u');
  },
);

t.test(
  'a client that leaves while its login is checked is seen leaving; a large batch behind a login waits in TCP',
  async (t) => {
    const releases: (() => void)[] = [];
    const s = await serve(
      t,
      {
        authenticator: {
          verifyPassword: (_name, _password, isWanted) =>
            new Promise((resolve) => releases.push(() => resolve(isWanted?.() === true))),
          secretsFor: () => [],
        },
      },
      answerDone,
    );
    const leaver = await s.client('');
    leaver.write(encodeSentences([['/login', '=name=u', '=password=p'], ['/a']]));
    await eventually(() => releases.length === 1, 'the login to be checked');
    let hasClosed = false;
    void s.sessions[0]?.closed().then(() => (hasClosed = true));
    leaver.socket.end();
    await eventually(() => hasClosed, 'the session to see its client leave');
    t.ok(hasClosed, 'the session ended while the check was under way');

    const c = await s.client('');
    const big = `=comment=${'x'.repeat(100 * 1024)}`;
    c.write(
      encodeSentences([
        ['/login', '=name=u', '=password=p', '.tag=l'],
        ['/a', big, '.tag=1'],
        ['/b', big, '.tag=2'],
      ]),
    );
    await eventually(() => releases.length === 2, 'the second login to be checked');
    await eventually(() => s.sessions[1]?.inFlight === 0 && c.socket.writableLength === 0);
    (releases[1] as () => void)();
    t.same(text(await c.untilDone('2')), ['!done .tag=l', '!done .tag=1', '!done .tag=2']);
    t.equal(s.calls.length, 2, 'both large commands ran after the login');
  },
);

/** Replies `rows` rows after the command, a turn each, as a router's reply comes, then `!done`. */
function answerLater(rows: number): (call: Call) => Exchange {
  return (call) => {
    let sent = 0;
    const next = (): void => {
      if (sent++ < rows) {
        call.sink.reply(ROW_64K);
        setImmediate(next);
      } else call.sink.done(DONE);
    };
    setImmediate(next);
    return { cancel: (onAnswered) => onAnswered() };
  };
}

t.test(
  'a client that takes none of its output within sendTimeoutMs is dropped, a burst or a reply',
  async (t) => {
    for (const [what, answer] of [
      ['a reply', answerLater(2)],
      ['a burst', answerAtOnce(4)],
    ] as const) {
      const h = harness({ maxOutputBufferBytes: 1024 * 1024, sendTimeoutMs: 30 }, answer);
      const peer = stalledPeer();
      const closed = isClosedFlag(await loggedInOver(t, peer, h));
      peer.send([['/a', '.tag=1']]);
      await eventually(() => closed.isClosed, `${what} never taken: the send clock`);
      t.equal(h.stats.slowClientDrops, 1, `${what}: counted as a slow client`);
      t.match(
        h.logs.find((l) => l.msg === 'client took none of its output in time; dropped'),
        { code: 'ROSGATE_SLOW_CLIENT', sendTimeoutMs: 30 },
      );
    }
  },
);

t.test('a client that reads its output slowly is given the time while it reads', async (t) => {
  const TIMEOUT_MS = 30;
  const h = harness(
    { maxOutputBufferBytes: 1024 * 1024, sendTimeoutMs: TIMEOUT_MS },
    answerLater(8),
  );
  const peer = stalledPeer();
  const closed = isClosedFlag(await loggedInOver(t, peer, h));
  peer.send([['/a', '.tag=1']]);
  const started = performance.now();
  do {
    await sleep(TIMEOUT_MS / 2);
    t.equal(closed.isClosed, false, 'not dropped while it reads');
    if (closed.isClosed) return;
    peer.readOne();
  } while (!heads(peer.received()).includes('!done 1') || peer.unreadBytes() > 0);
  t.ok(performance.now() - started > 2 * TIMEOUT_MS, 'over several periods of the clock');
  t.equal(h.stats.slowClientDrops, 0);

  const never = harness({ maxOutputBufferBytes: 1024 * 1024, sendTimeoutMs: 0 }, answerLater(2));
  const stuck = stalledPeer();
  const open = isClosedFlag(await loggedInOver(t, stuck, never));
  stuck.send([['/a', '.tag=1']]);
  await sleep(3 * TIMEOUT_MS);
  t.equal(open.isClosed, false, 'with 0 a client that reads nothing keeps its connection');
});
