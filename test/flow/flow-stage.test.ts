import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import type { CommandSink } from '../../src/pipeline.js';
import { Sentence } from '../../src/protocol/index.js';
import { createFlowStage } from '../../src/flow/index.js';
import { createLogger } from '../../src/logger.js';
import { FakeHandler, RecordingSink, flowContext } from '../fixtures/flow-fake-handler.js';
import { eventually } from '../fixtures/eventually.js';
import { flowConfig, setupFlow } from '../fixtures/flow-setup.js';

const FAST = { rateLimit: { enabled: false } };

t.test('a command that finds a token and a free slot goes straight to the router', (t) => {
  const { send, inner, flow } = setupFlow(t);
  const { sink } = send(['/ip/hotspot/user/add', '=name=v1']);
  t.same(inner.commands, ['/ip/hotspot/user/add']);
  t.equal(inner.last().context.notes.priority, 'high');
  t.equal(inner.last().context.notes.queuedMs, undefined, 'it did not wait');
  t.equal(flow.stats().inFlight, 1);
  inner.last().row({ ret: '*1' }).done();
  t.same(sink.events, ['re', 'done']);
  t.equal(flow.stats().inFlight, 0);
  t.same(flow.stats().waits, { high: 0, normal: 0, low: 0 });
  t.end();
});

t.test('over the rate, commands wait for tokens and go as the bucket refills', (t) => {
  const { send, inner, flow, clock } = setupFlow(t, {
    rateLimit: { bucketSize: 2, refillTokens: 1, refillIntervalMs: 100 },
  });
  for (let i = 0; i < 4; i++) send(['/system/identity/print']);
  t.equal(inner.calls.length, 2, 'the burst the bucket holds');
  t.equal(flow.stats().queued.normal, 2);
  t.equal(flow.stats().tokens, 0);
  clock.advance(99);
  t.equal(inner.calls.length, 2);
  clock.advance(1);
  t.equal(inner.calls.length, 3, 'one token per refill');
  clock.advance(100);
  t.equal(inner.calls.length, 4);
  t.equal(inner.calls[3]?.context.notes.queuedMs, 200);
  const stats = flow.stats();
  t.same(stats.waits, { high: 0, normal: 2, low: 0 });
  t.same(stats.waitMsTotal, { high: 0, normal: 300, low: 0 });
  t.equal(stats.queued.normal, 0);
  t.equal(clock.pending, 4, 'only the idle timers of the running commands are left');
  t.end();
});

t.test('a full queue refuses at once, and the refused command never reaches the router', (t) => {
  const { send, inner, flow } = setupFlow(t, {
    rateLimit: { bucketSize: 1, refillIntervalMs: 1000, maxQueue: 2 },
  });
  send(['/system/identity/print']);
  send(['/system/identity/print']);
  send(['/system/identity/print']);
  const { sink } = send(['/ip/hotspot/user/add', '=name=v9']);
  t.same(sink.events, ['refuse ROSGATE_RATE_LIMITED rate limited: queue full (2 waiting)']);
  t.equal(inner.calls.length, 1);
  t.equal(flow.stats().refusals.queueFull, 1);
  t.end();
});

t.test('a command that waits longer than maxWaitMs is refused with how long it waited', (t) => {
  const { send, inner, flow, clock } = setupFlow(t, {
    rateLimit: { bucketSize: 1, refillIntervalMs: 60_000, maxWaitMs: 1000 },
  });
  send(['/system/identity/print']);
  clock.advance(400);
  const late = send(['/system/identity/print']);
  clock.advance(999);
  t.same(late.sink.events, []);
  clock.advance(1);
  t.same(late.sink.events, ['refuse ROSGATE_RATE_LIMITED rate limited: waited 1000ms']);
  t.equal(inner.calls.length, 1);
  t.equal(flow.stats().refusals.waitTimeout, 1);
  t.equal(flow.stats().queued.normal, 0);
  t.end();
});

t.test(
  'a command cancelled while it waits gets interrupted and !done, and never reaches the router',
  (t) => {
    const { send, inner, flow, clock } = setupFlow(t, {
      rateLimit: { bucketSize: 1, refillIntervalMs: 100 },
    });
    send(['/system/identity/print']);
    const waiting = send(['/ip/hotspot/user/add', '=name=v1'], { clientId: 2 });
    let answered = 0;
    waiting.exchange.cancel(() => answered++);
    t.same(waiting.sink.events, ['trap interrupted', 'done']);
    t.equal(answered, 1);
    t.equal(flow.stats().queued.high, 0);
    clock.advance(1000);
    t.same(inner.commands, ['/system/identity/print']);
    waiting.exchange.cancel(() => answered++);
    t.equal(answered, 2, 'a second cancel is answered at once');
    t.same(waiting.sink.events, ['trap interrupted', 'done'], 'and sends nothing more');
    t.end();
  },
);

t.test("one client's 1,000 queued adds delay another client's print by one turn", (t) => {
  const { send, inner } = setupFlow(t, { ...FAST, maxConcurrency: 1 });
  for (let i = 0; i < 1000; i++) send(['/ip/hotspot/user/add', `=name=v${i}`], { clientId: 1 });
  send(['/system/identity/print'], { clientId: 2 });
  t.equal(inner.calls.length, 1, 'the cap lets one run');
  for (let i = 0; i < 3; i++) inner.calls[i]?.done();
  t.equal(inner.calls.length, 4);
  const position = inner.commands.indexOf('/system/identity/print');
  t.equal(position, 2, 'the first add ran; client 1 had one turn, then client 2');
  t.end();
});

t.test("a client's commands go by priority: writes, then prints, then dumps", (t) => {
  const { send, inner } = setupFlow(t, { ...FAST, maxConcurrency: 1 });
  send(['/system/identity/print']);
  send(['/ip/hotspot/user/print']);
  send(['/ip/address/print']);
  send(['/ip/hotspot/user/set', '=.id=*1', '=disabled=yes']);
  for (let i = 0; i < 3; i++) inner.calls[i]?.done();
  t.same(inner.commands, [
    '/system/identity/print',
    '/ip/hotspot/user/set',
    '/ip/address/print',
    '/ip/hotspot/user/print',
  ]);
  t.equal(inner.calls[3]?.context.notes.priority, 'low');
  t.end();
});

t.test('at most maxConcurrency commands run on the router at once', (t) => {
  const { send, inner, flow } = setupFlow(t, { ...FAST, maxConcurrency: 2 });
  for (let i = 0; i < 3; i++) send(['/system/identity/print']);
  t.equal(inner.calls.length, 2);
  t.equal(flow.stats().inFlight, 2);
  t.equal(flow.stats().queued.normal, 1);
  inner.calls[0]?.trap('no such item');
  t.equal(inner.calls.length, 3, 'an answer, even a trap, frees the slot');
  t.equal(flow.stats().inFlight, 2);
  t.end();
});

t.test('streams hold no slot unless streamsHoldSlot is set', async (t) => {
  t.test('by default a running listen leaves the slot to others', (t) => {
    const { send, inner, flow } = setupFlow(t, { ...FAST, maxConcurrency: 1 });
    send(['/ip/hotspot/user/listen']);
    send(['/system/identity/print']);
    t.equal(inner.calls.length, 2);
    t.equal(flow.stats().streams, 1);
    t.equal(flow.stats().inFlight, 1);
    inner.calls[0]?.fail(ErrorCode.UpstreamClosed);
    t.equal(flow.stats().streams, 0);
    t.end();
  });
  t.test(
    'an unbounded monitor or bandwidth-test is a stream too; a bounded one takes a slot',
    (t) => {
      const { send, inner, flow } = setupFlow(t, { ...FAST, maxConcurrency: 1 });
      send(['/interface/ethernet/monitor', '=numbers=ether1']);
      send(['/tool/bandwidth-test', '=address=10.0.0.2']);
      send(['/interface/ethernet/monitor', '=numbers=ether1', '=once=']);
      send(['/system/identity/print']);
      t.equal(inner.calls.length, 3, 'the print waits behind the bounded monitor');
      t.equal(flow.stats().streams, 2);
      t.equal(flow.stats().inFlight, 1);
      t.end();
    },
  );
  t.test('with streamsHoldSlot a listen takes the only slot', (t) => {
    const { send, inner } = setupFlow(t, { ...FAST, maxConcurrency: 1, streamsHoldSlot: true });
    send(['/ip/hotspot/user/listen']);
    send(['/system/identity/print']);
    t.equal(inner.calls.length, 1);
    t.end();
  });
});

t.test('a cancel of a running command goes to the router, whose answer reaches the client', (t) => {
  const { send, inner, flow } = setupFlow(t);
  const { sink, exchange } = send(['/ip/hotspot/user/listen']);
  let answered = 0;
  exchange.cancel(() => answered++);
  t.equal(inner.last().cancels, 1);
  t.equal(answered, 1);
  t.same(sink.events, ['trap interrupted', 'done']);
  t.equal(flow.stats().streams, 0);
  t.end();
});

t.test(
  'a command with no reply for commandIdleTimeoutMs is cancelled on the router and refused',
  (t) => {
    const { send, inner, flow, clock, logs } = setupFlow(t, {
      ...FAST,
      maxConcurrency: 1,
      commandIdleTimeoutMs: 1000,
    });
    const { sink } = send(['/ip/hotspot/user/print']);
    const next = send(['/system/identity/print']);
    clock.advance(600);
    inner.calls[0]?.row();
    clock.advance(600);
    t.same(sink.events, ['re'], 'a reply restarts the idle time');
    clock.advance(400);
    t.same(sink.events, ['re', 'refuse ROSGATE_COMMAND_TIMEOUT router did not answer in time']);
    t.equal(inner.calls[0]?.cancels, 1, 'cancelled on the router');
    inner.calls[0]?.row();
    inner.calls[0]?.done();
    inner.calls[0]?.fail();
    t.equal(sink.events.length, 2, "the router's late answer is swallowed");
    t.equal(inner.calls[1]?.command, '/system/identity/print', 'the slot went to the next command');
    t.same(next.sink.events, []);
    t.equal(flow.stats().timeouts, 1);
    const line = logs.find((l) => l.msg === 'command timed out');
    t.match(line, { level: 40, router: 'r1', cmd: '/ip/hotspot/user/print', durationMs: 1600 });
    t.end();
  },
);

t.test("the idle timeout is the router's timeoutMs unless commandIdleTimeoutMs is set", (t) => {
  const { send, clock } = setupFlow(t, {}, { stage: { routerTimeoutMs: 3000 } });
  const { sink } = send(['/system/identity/print']);
  clock.advance(2999);
  t.same(sink.events, []);
  clock.advance(1);
  t.same(sink.events, ['refuse ROSGATE_COMMAND_TIMEOUT router did not answer in time']);
  t.end();
});

t.test('streams are exempt from the idle timeout', (t) => {
  const { send, clock, flow } = setupFlow(t, { commandIdleTimeoutMs: 1000 });
  const { sink } = send(['/interface/monitor-traffic', '=interface=ether1']);
  clock.advance(3_600_000);
  t.same(sink.events, []);
  t.equal(flow.stats().timeouts, 0);
  t.end();
});

t.test('with maxStreamMs a stream is stopped after that long, which is no router failure', (t) => {
  const { send, clock, flow, inner } = setupFlow(t, {
    maxStreamMs: 5000,
    breaker: { threshold: 1, volumeThreshold: 1 },
  });
  const { sink } = send(['/ip/address/print', '=follow=']);
  clock.advance(4999);
  inner.last().row();
  clock.advance(1);
  t.same(sink.events, [
    're',
    'refuse ROSGATE_COMMAND_TIMEOUT stream stopped after 5000ms (maxStreamMs)',
  ]);
  t.equal(inner.last().cancels, 1);
  t.equal(flow.stats().timeouts, 1);
  t.equal(flow.stats().breakerFailures, 0);
  t.equal(flow.breakerState, 'closed');
  t.end();
});

t.test('a command slower than slowCommandMs is logged once, with its path and duration', (t) => {
  const { send, clock, inner, logs, flow } = setupFlow(t, { slowCommandMs: 5000 });
  send(['/system/identity/print']);
  clock.advance(5000);
  inner.last().done();
  send(['/ip/hotspot/user/print', '?name=v1']);
  for (let i = 0; i < 3; i++) {
    clock.advance(2500);
    inner.last().row();
  }
  inner.last().done();
  const slow = logs.filter((l) => l.msg === 'slow command');
  t.equal(slow.length, 1, 'exactly 5000 ms is not slow; 7500 ms is, once');
  t.match(slow[0], {
    level: 40,
    router: 'r1',
    path: '/ip/hotspot/user',
    cmd: '/ip/hotspot/user/print',
    durationMs: 7500,
    connId: 1,
  });
  t.equal(flow.stats().slowCommands, 1);
  t.end();
});

t.test('slowCommandMs 0 logs no command as slow', (t) => {
  const { send, clock, inner, logs } = setupFlow(t, { slowCommandMs: 0 });
  send(['/system/identity/print']);
  clock.advance(9000);
  inner.last().done();
  t.equal(logs.filter((l) => l.msg === 'slow command').length, 0);
  t.end();
});

t.test('with rate limiting off nothing waits for a token', (t) => {
  const { send, inner, flow } = setupFlow(t, { ...FAST, maxConcurrency: 1000 });
  for (let i = 0; i < 500; i++) send(['/system/identity/print']);
  t.equal(inner.calls.length, 500);
  t.equal(flow.stats().tokens, 100, 'the configured size is reported');
  t.end();
});

t.test('with the priority queue off commands keep their order and get no priority note', (t) => {
  const { send, inner } = setupFlow(t, {
    ...FAST,
    maxConcurrency: 1,
    priority: { enabled: false },
  });
  send(['/system/identity/print']);
  send(['/ip/hotspot/user/print']);
  send(['/ip/hotspot/user/add', '=name=v1']);
  for (let i = 0; i < 2; i++) inner.calls[i]?.done();
  t.same(inner.commands, [
    '/system/identity/print',
    '/ip/hotspot/user/print',
    '/ip/hotspot/user/add',
  ]);
  t.equal(inner.last().context.notes.priority, undefined);
  t.end();
});

t.test('a throw from the next handler refuses that command and frees its slot', (t) => {
  const { flow } = setupFlow(t, { ...FAST, maxConcurrency: 1 });
  let calls = 0;
  const handler = flow.stage({
    handle() {
      calls++;
      throw new Error('boom');
    },
  });
  const sink = new RecordingSink();
  handler.handle(flowContext(['/system/identity/print'], { clientId: 1 }), sink);
  handler.handle(flowContext(['/system/identity/print'], { clientId: 2 }), sink);
  t.same(sink.events, [
    'refuse ROSGATE_INTERNAL internal error in rosgate',
    'refuse ROSGATE_INTERNAL internal error in rosgate',
  ]);
  t.equal(calls, 2);
  t.equal(flow.stats().inFlight, 0);
  t.end();
});

t.test('close() refuses what waits and every later command', (t) => {
  const { send, flow, clock } = setupFlow(t, {
    rateLimit: { bucketSize: 1, refillIntervalMs: 1000 },
  });
  const first = send(['/system/identity/print']);
  const waiting = send(['/system/identity/print']);
  flow.close();
  t.same(waiting.sink.events, ['refuse ROSGATE_SHUTTING_DOWN rosgate is shutting down']);
  const late = send(['/system/identity/print']);
  t.same(late.sink.events, ['refuse ROSGATE_SHUTTING_DOWN rosgate is shutting down']);
  t.same(first.sink.events, [], 'what runs is left to finish');
  t.equal(clock.pending, 1, 'only its idle timer is left');
  t.end();
});

/** A sink whose refuse() throws, as a broken session might. */
function throwingSink(refusals: RosgateError[]): CommandSink {
  return {
    reply() {},
    done() {},
    refuse(error) {
      refusals.push(error);
      throw new Error('session gone');
    },
  };
}

t.test(
  'a next handler that answers and then throws has its error logged; the answer stands',
  (t) => {
    const { flow, logs } = setupFlow(t);
    const handler = flow.stage({
      handle(_context, sink) {
        sink.done(Sentence.from(['!done']));
        throw new Error('late boom');
      },
    });
    const sink = new RecordingSink();
    handler.handle(flowContext(['/system/identity/print']), sink);
    t.same(sink.events, ['done']);
    t.match(
      logs.find((l) => l.msg === 'flow: a callback threw'),
      { level: 50, connId: 1 },
    );
    t.end();
  },
);

t.test('a sink that throws when a waiting command is refused does not stop the queue', (t) => {
  const { handler, clock, flow, logs } = setupFlow(t, {
    rateLimit: { bucketSize: 1, refillIntervalMs: 60_000, maxWaitMs: 1000 },
  });
  handler.handle(flowContext(['/system/identity/print']), new RecordingSink());
  const refusals: RosgateError[] = [];
  for (const clientId of [2, 3]) {
    handler.handle(flowContext(['/system/identity/print'], { clientId }), throwingSink(refusals));
  }
  clock.advance(1000);
  t.equal(refusals.length, 2);
  t.equal(flow.stats().refusals.waitTimeout, 2);
  t.equal(logs.filter((l) => l.msg === 'flow: a callback threw').length, 2);
  t.end();
});

t.test(
  'a sink that throws at the idle timeout is logged, and the router still gets the cancel',
  (t) => {
    const { handler, clock, inner, logs } = setupFlow(t, { commandIdleTimeoutMs: 1000 });
    const refusals: RosgateError[] = [];
    handler.handle(flowContext(['/system/identity/print']), throwingSink(refusals));
    clock.advance(1000);
    t.equal(refusals[0]?.code, ErrorCode.CommandTimeout);
    t.equal(inner.last().cancels, 1);
    t.ok(logs.some((l) => l.msg === 'flow: a callback threw'));
    t.end();
  },
);

t.test('a router that answers at once while the queue is being served loses no command', (t) => {
  const { send, clock, inner, flow } = setupFlow(
    t,
    { rateLimit: { bucketSize: 1, refillIntervalMs: 100 }, maxConcurrency: 1 },
    { inner: { answerAll: true } },
  );
  const sent = [1, 2, 3, 4, 5].map((clientId) => send(['/system/identity/print'], { clientId }));
  clock.advance(400);
  t.equal(inner.calls.length, 5);
  for (const { sink } of sent) t.same(sink.events, ['re', 'done']);
  t.equal(flow.stats().inFlight, 0);
  t.end();
});

t.test('without an injected clock the stage runs on Date.now and the global timers', (t) => {
  const flow = createFlowStage({
    router: 'r1',
    config: flowConfig(),
    routerTimeoutMs: 10_000,
    logger: createLogger('silent', process.stdout),
  });
  t.teardown(() => flow.close());
  const inner = new FakeHandler();
  const sink = new RecordingSink();
  flow.stage(inner).handle(flowContext(['/system/identity/print']), sink);
  inner.last().done();
  t.same(sink.events, ['done']);
  t.equal(flow.stats().inFlight, 0);
  t.end();
});

t.test(
  'a stage built on a reload keeps the tokens and the circuit of the one it replaces',
  async (t) => {
    const raw = { rateLimit: { bucketSize: 10, refillTokens: 1, refillIntervalMs: 60_000 } };
    const old = setupFlow(t, raw);
    for (let i = 0; i < 6; i++) old.send(['/system/identity/print']);
    t.equal(old.flow.stats().tokens, 4);
    const handOver = old.flow.handOver();
    t.same(handOver, {
      breaker: { ...handOver.breaker, state: 'closed' },
      tokens: 4,
      slots: handOver.slots,
      waiting: [],
    });

    const next = setupFlow(t, raw, { stage: { previous: handOver } });
    t.equal(next.flow.stats().tokens, 4, 'the spent tokens stay spent');
    t.equal(next.flow.breakerState, 'closed');
    const smaller = setupFlow(
      t,
      { rateLimit: { bucketSize: 2 } },
      { stage: { previous: handOver } },
    );
    t.equal(smaller.flow.stats().tokens, 2, 'never more than the new bucket holds');

    // Half-open: the new circuit probes again at once (the old probe answers the old stage).
    const failing = setupFlow(t, { breaker: { resetTimeoutMs: 20 } });
    for (let i = 0; i < 5; i++) {
      failing.send(['/ip/hotspot/user/add', `=name=v${i}`]);
      failing.inner.last().fail(ErrorCode.UpstreamTimeout);
    }
    await eventually(() => failing.flow.breakerState === 'half-open', 'half-open');
    const carried = setupFlow(
      t,
      { rateLimit: { enabled: false } },
      {
        stage: { previous: failing.flow.handOver() },
      },
    );
    t.equal(carried.flow.breakerState, 'half-open', 'its own probe is under way');
    t.match(carried.changes, [{ to: 'half-open' }], 'half-open, told once');
    t.equal(carried.inner.last().context.sentence.command, '/system/identity/print', 'the probe');
    t.match(carried.send(['/ip/address/print']).sink.events, [
      /^refuse ROSGATE_BREAKER_OPEN router unavailable \(circuit open, retry in \d+s\)/,
    ]);
    carried.inner.calls[0]?.done();
    await eventually(() => carried.flow.breakerState === 'closed', 'the probe to close it');
    t.same(carried.flow.handOver().tokens, undefined, 'no bucket, no tokens to hand over');
    const refused = setupFlow(t, {}, { stage: { previous: failing.flow.handOver() } });
    refused.inner.calls[0]?.fail(ErrorCode.UpstreamTimeout);
    await eventually(() => refused.flow.breakerState === 'open', 'a failed probe to reopen it');

    const unexplained = setupFlow(t, FAST, {
      stage: {
        previous: {
          breaker: {
            state: 'open',
            isRouterLost: false,
            lostAt: 0,
            lossCountedAt: -Infinity,
            lastError: undefined,
          },
          tokens: undefined,
        },
      },
    });
    t.same(
      unexplained.send(['/system/identity/print']).sink.events,
      ['refuse ROSGATE_BREAKER_OPEN router unavailable (circuit open, retry in 60s)'],
      'no failure known: the refusal says no more',
    );
  },
);

/** Two slots, no rate limit, one priority: only the cap makes commands wait. */
const TWO_SLOTS = { ...FAST, maxConcurrency: 2, priority: { enabled: false } };

t.test(
  'a stage built on a reload counts the slots the old one still holds: no burst past maxConcurrency',
  (t) => {
    const old = setupFlow(t, TWO_SLOTS);
    old.send(['/ip/address/print']);
    old.send(['/ip/address/print']);
    const { now, timers } = old.clock;
    const next = setupFlow(t, TWO_SLOTS, {
      stage: { previous: old.flow.handOver(), now, timers },
    });
    const late = [next.send(['/system/identity/print']), next.send(['/system/identity/print'])];
    t.equal(next.inner.calls.length, 0, 'both slots are still held by the old stage');
    t.equal(next.flow.stats().slotsInUse, 2, 'which the stage in force reports as in use');
    t.equal(next.flow.stats().queued.normal, 2);
    old.inner.calls[0]?.done();
    t.equal(next.inner.calls.length, 1, 'the slot the old stage frees goes to the new one');
    t.equal(old.flow.stats().inFlight, 1, 'each stage counts what it runs');
    t.equal(next.flow.stats().inFlight, 1);
    next.inner.last().done();
    t.equal(next.inner.calls.length, 2, 'a slot the new stage frees is its own again');
    old.inner.calls[1]?.done();
    next.inner.last().done();
    t.same(
      late.map((sent) => sent.sink.events),
      [['done'], ['done']],
      'every command is answered',
    );

    const wider = setupFlow(
      t,
      { ...TWO_SLOTS, maxConcurrency: 3 },
      { stage: { previous: next.flow.handOver(), now, timers } },
    );
    next.send(['/ip/address/print']);
    next.send(['/ip/address/print']);
    wider.send(['/system/identity/print']);
    t.equal(wider.inner.calls.length, 1, 'the new maxConcurrency is the limit across both');
    wider.send(['/system/identity/print']);
    t.equal(wider.inner.calls.length, 1);
    t.equal(wider.flow.stats().queued.normal, 1);
    t.end();
  },
);

t.test(
  'what waited in the replaced stage waits on in the new one: served first, in order, within maxWaitMs',
  (t) => {
    const raw = { ...TWO_SLOTS, maxConcurrency: 1, rateLimit: { enabled: false, maxWaitMs: 1000 } };
    const old = setupFlow(t, raw);
    old.send(['/ip/address/print']);
    const waited = [
      old.send(['/interface/print'], { clientId: 1 }),
      old.send(['/ip/route/print'], { clientId: 2 }),
      old.send(['/ppp/secret/print'], { clientId: 3 }),
    ];
    old.clock.advance(400);
    const { now, timers } = old.clock;
    const next = setupFlow(
      t,
      { ...raw, commandIdleTimeoutMs: 500 },
      { stage: { previous: old.flow.handOver(), now, timers } },
    );
    t.same(old.flow.stats().queued, { high: 0, normal: 0, low: 0 }, 'nothing waits in the old one');
    t.equal(next.flow.stats().queued.normal, 3);
    const newer = next.send(['/system/identity/print'], { clientId: 4 });

    let answered = 0;
    waited[2]?.exchange.cancel(() => answered++);
    t.same(waited[2]?.sink.events, ['trap interrupted', 'done'], 'a cancel still withdraws it');
    t.equal(answered, 1);
    t.equal(next.flow.stats().queued.normal, 3, 'from the new queue');

    old.inner.calls[0]?.done();
    t.same(next.inner.commands, ['/interface/print'], 'the oldest goes first');
    t.equal(next.inner.last().context.notes.queuedMs, 400, 'its wait counts from when it came');
    next.inner.last().done();
    t.same(next.inner.commands, ['/interface/print', '/ip/route/print']);
    old.clock.advance(500);
    t.same(
      waited[1]?.sink.events,
      ['refuse ROSGATE_COMMAND_TIMEOUT router did not answer in time'],
      'it runs on the idle timeout of the new stage',
    );
    t.same(next.inner.commands, ['/interface/print', '/ip/route/print', '/system/identity/print']);
    t.same(newer.sink.events, [], 'what came after the reload goes after them');
    next.inner.last().done();
    t.same(newer.sink.events, ['done']);

    const third = setupFlow(t, raw, { stage: { previous: next.flow.handOver(), now, timers } });
    third.send(['/ip/address/print']);
    const late = third.send(['/system/identity/print']);
    const handed = setupFlow(t, raw, { stage: { previous: third.flow.handOver(), now, timers } });
    old.clock.advance(999);
    t.same(late.sink.events, []);
    old.clock.advance(1);
    t.same(
      late.sink.events,
      ['refuse ROSGATE_RATE_LIMITED rate limited: waited 1000ms'],
      'a handed-over wait is bounded by maxWaitMs like any other',
    );
    t.equal(handed.flow.stats().refusals.waitTimeout, 1);
    t.end();
  },
);
