import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import { describeCommand, type CommandContext, type CommandSink } from '../../src/pipeline.js';
import { Sentence } from '../../src/protocol/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { Pool, type PoolOptions } from '../../src/upstream/pool.js';
import { createUpstreamHandler } from '../../src/upstream/upstream-handler.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';

const OPTIONS: PoolOptions = {
  min: 1,
  max: 1,
  acquireTimeoutMs: 2000,
  idleTimeoutMs: 60_000,
  healthCheckIntervalMs: 60_000,
  reconnectInitialDelayMs: 5,
  reconnectMaxDelayMs: 20,
  maxInFlightPerSession: 1,
};

type Tap = { teardown(fn: () => unknown): void };

async function setup(t: Tap, options: Partial<PoolOptions> = {}) {
  const sim = await startSimulator({ user: 'svc', password: 'pw', streamIntervalMs: 5 });
  const pool = new Pool(
    { ...OPTIONS, ...options },
    () =>
      new UpstreamConnection({
        host: '127.0.0.1',
        port: sim.port,
        username: 'svc',
        password: 'pw',
        timeoutMs: 2000,
      }),
  );
  t.teardown(async () => {
    pool.close();
    await sim.close();
  });
  pool.start();
  await eventually(() => pool.stats.ready === 1, 'the pool to open its session');
  return { sim, pool, handler: createUpstreamHandler(pool) };
}

function context(...words: string[]): CommandContext {
  return {
    router: 'r',
    user: 'u',
    clientId: 1,
    address: '127.0.0.1',
    ...describeCommand(Sentence.from(words)),
    receivedAt: 0,
    notes: {},
  };
}

/** A sink that records what it is told, as text. */
function recorder(): CommandSink & { lines: string[]; ended: Promise<void> } {
  const lines: string[] = [];
  let end: () => void = () => undefined;
  return {
    lines,
    ended: new Promise((resolve) => {
      end = resolve;
    }),
    reply: (s) => lines.push(String(s)),
    done(s) {
      lines.push(String(s));
      end();
    },
    refuse(error: RosgateError) {
      lines.push(`refused: ${error.code}`);
      end();
    },
  };
}

t.test('a command is sent with a tag of the session and its replies reach the sink', async (t) => {
  const { pool, handler } = await setup(t);
  const ctx = context('/system/identity/print', '.tag=client');
  const sink = recorder();
  handler.handle(ctx, sink);
  await sink.ended;
  const tag = ctx.notes.upstreamTag as string;
  t.ok(tag !== undefined && tag !== 'client', 'the upstream tag is noted');
  t.same(sink.lines, [`!re .tag=${tag} =name=MikroTik`, `!done .tag=${tag}`]);
  t.equal(pool.stats.inFlight, 0, 'the session is free again');
});

t.test('a command cancelled while it waits for a session is answered interrupted', async (t) => {
  const { sim, pool, handler } = await setup(t);
  const stream = recorder();
  const running = handler.handle(
    context('/interface/monitor-traffic', '=interface=ether1'),
    stream,
  );
  const waiting = recorder();
  const exchange = handler.handle(context('/system/identity/print'), waiting);
  t.equal(pool.stats.waiting, 1, 'the second command waits for the only session');
  let answered = 0;
  exchange.cancel(() => answered++);
  t.same(waiting.lines, ['!trap =category=2 =message=interrupted', '!done']);
  t.equal(answered, 1, 'the cancel is answered at once');
  t.equal(pool.stats.waiting, 0, 'its request for a session is withdrawn');
  exchange.cancel(() => answered++);
  t.equal(answered, 2, 'a cancel after the end is answered at once too');

  running.cancel(() => answered++);
  await stream.ended;
  t.equal(answered, 3, 'a running command is cancelled on the router');
  t.equal(sim.counters.cancels, 1);
});

t.test('a command whose session cannot be acquired in time is refused', async (t) => {
  const { handler } = await setup(t, { acquireTimeoutMs: 10 });
  handler.handle(context('/interface/monitor-traffic', '=interface=ether1'), recorder());
  const sink = recorder();
  handler.handle(context('/system/identity/print'), sink);
  await sink.ended;
  t.same(sink.lines, [`refused: ${ErrorCode.AcquireTimeout}`]);
});

t.test('a session that refuses the send costs that command alone', async (t) => {
  // Never connected: its send throws. The pool never hands such a session out;
  // this stands for a bug there.
  const dead = new UpstreamConnection({
    host: '127.0.0.1',
    port: 1,
    username: 'u',
    password: 'p',
    timeoutMs: 10,
  });
  const pool = {
    acquire(onReady: (c: UpstreamConnection) => void) {
      onReady(dead);
      return () => undefined;
    },
  } as unknown as Pool;
  const handler = createUpstreamHandler(pool);
  const sink = recorder();
  const exchange = handler.handle(context('/system/identity/print'), sink);
  t.same(sink.lines, [`refused: ${ErrorCode.UpstreamClosed}`]);
  let answered = false;
  exchange.cancel(() => {
    answered = true;
  });
  t.ok(answered, 'a cancel of the refused command is answered at once');
});

t.test('a sink that throws on the done is not refused afterwards', async (t) => {
  const { pool, handler } = await setup(t);
  const lines: string[] = [];
  handler.handle(context('/system/identity/print'), {
    reply: (s) => lines.push(String(s)),
    done() {
      lines.push('done');
      throw new Error('a bug in a stage');
    },
    refuse: (e) => lines.push(`refused: ${e.code}`),
  });
  await eventually(() => lines.includes('done'), 'the done to arrive');
  await eventually(() => pool.stats.inFlight === 0);
  t.same(lines.slice(1), ['done'], 'the command ends once');
  const after = recorder();
  handler.handle(context('/system/identity/print'), after);
  await after.ended;
  t.match(after.lines.at(-1), /^!done/, 'and the session serves the next one');
});

t.test('a command lost with its session is refused with the reason', async (t) => {
  const { sim, handler } = await setup(t);
  const sink = recorder();
  handler.handle(context('/interface/monitor-traffic', '=interface=ether1'), sink);
  await eventually(() => sim.activeStreams() === 1);
  sim.faults.dropAll();
  await sink.ended;
  t.equal(sink.lines.at(-1), `refused: ${ErrorCode.UpstreamClosed}`);
});
