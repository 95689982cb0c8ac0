import net from 'node:net';
import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import { Sentence } from '../../src/protocol/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { UpstreamConnection, type ReplyHandler } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';

const TIMEOUT_MS = 400;
const CANCEL = Buffer.from('/cancel', 'latin1');

type Tap = { teardown(fn: () => unknown): void };

/**
 * A socket to the router that loses every `/cancel` written to it: the
 * router never reads them (a router that hung for a moment), while the
 * rest of the session works.
 */
function losingCancels(host: string, port: number): net.Socket {
  const socket = net.connect({ host, port });
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
  socket.write = ((chunk: Buffer) =>
    chunk.includes(CANCEL) ? true : write(chunk)) as typeof socket.write;
  return socket;
}

async function simulator(t: Tap): Promise<Simulator> {
  const sim = await startSimulator({ user: 'svc', password: 'pw', streamIntervalMs: 5 });
  t.teardown(() => sim.close());
  return sim;
}

async function open(
  t: Tap,
  port: number,
  connect?: (host: string, port: number) => net.Socket,
): Promise<UpstreamConnection> {
  const up = new UpstreamConnection({
    host: '127.0.0.1',
    port,
    username: 'svc',
    password: 'pw',
    timeoutMs: TIMEOUT_MS,
    ...(connect === undefined ? {} : { connect }),
  });
  await up.connect();
  t.teardown(() => up.close());
  return up;
}

/** A command's rows and how it ended. */
function watcher(): ReplyHandler & {
  rows: number;
  error: RosgateError | undefined;
  ended: Promise<void>;
} {
  let end: () => void = () => undefined;
  const handler = {
    rows: 0,
    error: undefined as RosgateError | undefined,
    ended: new Promise<void>((resolve) => {
      end = resolve;
    }),
    onReply(_s: Sentence, isFinal: boolean) {
      if (isFinal) end();
      else handler.rows++;
    },
    onError(err: RosgateError) {
      handler.error = err;
      end();
    },
  };
  return handler;
}

/** Answers an identity print on `up`: proof the session still carries commands. */
function identity(up: UpstreamConnection): Promise<string[]> {
  const replies: string[] = [];
  return new Promise((resolve, reject) =>
    up.send(Sentence.from(['/system/identity/print']), {
      onReply: (s, isFinal) => {
        replies.push(s.command);
        if (isFinal) resolve(replies);
      },
      onError: reject,
    }),
  );
}

/** A session to the simulator on a socket that loses every /cancel, and why it closed. */
async function sessionLosingCancels(t: Tap) {
  const sim = await simulator(t);
  const up = await open(t, sim.port, losingCancels);
  let closeError: RosgateError | undefined;
  up.on('close', (err: RosgateError) => {
    closeError = err;
  });
  return { sim, up, closeError: () => closeError };
}

/** Waits for the router to have no stream and no session left. */
function routerEndsEverything(sim: Simulator): Promise<void> {
  return eventually(
    () => sim.activeStreams() === 0 && sim.counters.sessionsNow === 0,
    'the router to end the stream with the session',
  );
}

t.test(
  'a stream whose cancel the router never reads ends with its session after the timeout',
  async (t) => {
    const { sim, up, closeError } = await sessionLosingCancels(t);
    const stream = watcher();
    const tag = up.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), stream);
    await eventually(() => stream.rows > 0, 'the stream to send rows');
    t.equal(sim.activeStreams(), 1);
    let isAnswered = false;
    up.cancel(tag, () => {
      isAnswered = true;
    });
    await stream.ended;
    t.equal(stream.error?.code, ErrorCode.UpstreamTimeout, 'the stream ends with a timeout');
    t.match(stream.error?.message, /did not confirm the cancel/);
    t.equal(isAnswered, true, 'the cancel counts as answered');
    t.equal(up.state, 'closed', 'the session is given up with it');
    t.equal(closeError(), stream.error, 'the pool hears why');
    t.equal(up.inFlight, 0);
    await routerEndsEverything(sim);
  },
);

t.test(
  'a stream dropped by a throwing handler, whose cancel the router never reads, ends with its session',
  async (t) => {
    const { sim, up, closeError } = await sessionLosingCancels(t);
    let failure: RosgateError | undefined;
    up.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
      onReply: () => {
        throw new Error('a bug in whoever reads the rows');
      },
      onError: (err) => {
        failure = err;
      },
    });
    await eventually(() => failure !== undefined, 'the throw to end the command');
    t.equal(failure?.code, ErrorCode.Internal, 'the command ends at once');
    t.equal(up.state, 'ready', 'while the cancel is under way the session goes on');
    await eventually(() => up.state === 'closed', 'the session to be given up');
    t.match(closeError()?.message, /did not confirm the cancel/);
    await routerEndsEverything(sim);
  },
);

t.test(
  'a command the router confirms cancelling but never ends is given up, and the session goes on',
  async (t) => {
    // The router lost the print (it never ran it): it answers the cancel of
    // an unknown tag with a trap and !done, and nothing more comes for the print.
    const port = await fakeRouter(t, (sentence, reply) => {
      const command = sentence.command;
      if (command === '/login') reply('!done', tagOf(sentence));
      else if (command === '/cancel') {
        reply('!trap', '=category=0', '=message=no such command', tagOf(sentence));
        reply('!done', tagOf(sentence));
      } else if (command === '/system/identity/print') {
        reply('!re', '=name=r', tagOf(sentence));
        reply('!done', tagOf(sentence));
      }
    });
    const up = await open(t, port);
    const print = watcher();
    const tag = up.send(Sentence.from(['/ip/hotspot/user/print']), print);
    t.equal(up.inFlight, 1);
    await new Promise<void>((resolve) => up.cancel(tag, resolve));
    await print.ended;
    t.equal(print.error?.code, ErrorCode.UpstreamTimeout, 'the command ends with a timeout');
    t.match(print.error?.message, /did not end the cancelled command/);
    t.equal(up.inFlight, 0, 'it no longer holds a place on the session');
    t.equal(print.rows, 0);
    t.equal(up.state, 'ready', 'the session itself goes on');
    t.same(await identity(up), ['!re', '!done'], 'and carries the next command');
  },
);

t.test(
  'a command that ends by itself while its cancel goes unanswered leaves the session alone',
  async (t) => {
    // The router never answers the cancel, but the print ends on its own.
    let printTag = '';
    const port = await fakeRouter(t, (sentence, reply) => {
      const command = sentence.command;
      if (command === '/login') reply('!done', tagOf(sentence));
      else if (command === '/ip/hotspot/user/print') printTag = tagOf(sentence);
      else if (command === '/cancel') reply('!done', printTag);
      else if (command === '/system/identity/print') {
        reply('!re', '=name=r', tagOf(sentence));
        reply('!done', tagOf(sentence));
      }
    });
    const up = await open(t, port);
    const print = watcher();
    const tag = up.send(Sentence.from(['/ip/hotspot/user/print']), print);
    const answered = new Promise<void>((resolve) => up.cancel(tag, resolve));
    await print.ended;
    t.equal(print.error, undefined, 'the command ends with its own !done');
    await answered;
    t.equal(up.state, 'ready', 'the unanswered cancel costs the session nothing');
    t.same(await identity(up), ['!re', '!done'], 'which carries the next command');
  },
);
