import t from 'tap';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { createFlowStage } from '../../src/flow/index.js';
import { createLogger } from '../../src/logger.js';
import { FakeClock } from '../fixtures/flow-clock.js';
import { eventually } from '../fixtures/eventually.js';
import { flowConfig, setupFlow, type FlowSetup } from '../fixtures/flow-setup.js';

/** Lets opossum's promise callbacks run (it counts outcomes asynchronously). */
const tick = () => new Promise((resolve) => setImmediate(resolve));

const PROBE = '/system/identity/print';
/** Short enough to wait for for real: opossum's reset timer is its own. */
const RESET_MS = 20;

/** Sends `n` commands and fails each with `code`. */
async function failCommands(
  setup: FlowSetup,
  n: number,
  code: ErrorCode = ErrorCode.UpstreamTimeout,
) {
  for (let i = 0; i < n; i++) {
    setup.send(['/ip/hotspot/user/add', `=name=v${i}`]);
    setup.inner.last().fail(code);
  }
  await tick();
}

async function openBreaker(t: Parameters<typeof setupFlow>[0], raw: object = {}) {
  const setup = setupFlow(t, { breaker: { resetTimeoutMs: RESET_MS }, ...raw });
  await failCommands(setup, 5);
  return setup;
}

t.test('five transport failures open the circuit; then commands are refused at once', async (t) => {
  const setup = setupFlow(t);
  await failCommands(setup, 4);
  t.equal(setup.flow.breakerState, 'closed', 'four are not enough');
  await failCommands(setup, 1);
  t.equal(setup.flow.breakerState, 'open');
  t.same(setup.changes, [
    {
      router: 'r1',
      from: 'closed',
      to: 'open',
      reason: '5 failures in 10000ms (last ROSGATE_UPSTREAM_TIMEOUT)',
    },
  ]);
  const line = setup.logs.find((l) => l.msg === 'circuit breaker');
  t.match(line, { level: 40, router: 'r1', from: 'closed', to: 'open' });

  const { sink } = setup.send(['/system/identity/print']);
  t.same(sink.events, [
    'refuse ROSGATE_BREAKER_OPEN router unavailable (circuit open, retry in 60s): router went away',
  ]);
  t.equal(setup.inner.calls.length, 5, 'it never reached the router');
  setup.clock.advance(30_500);
  t.match(setup.send(['/system/identity/print']).sink.events, [/retry in 30s\): /]);
  setup.clock.advance(40_000);
  t.match(setup.send(['/system/identity/print']).sink.events, [/retry in 1s\): /], 'never 0s');
  const stats = setup.flow.stats();
  t.equal(stats.breakerState, 1);
  t.same(stats.breakerTransitions, { open: 1, halfOpen: 0, closed: 0 });
  t.equal(stats.breakerFailures, 5);
  t.equal(stats.refusals.breakerOpen, 3);
});

/** An acquire timeout as the pool gives it: with the router down, or every session busy. */
async function failAcquires(setup: FlowSetup, n: number, isRouterDown: boolean) {
  for (let i = 0; i < n; i++) {
    setup.send(['/ip/hotspot/user/add', `=name=a${i}`]);
    setup.inner.last().sink.refuse(
      new RosgateError(ErrorCode.AcquireTimeout, 'no router session available in time', {
        details: { timeoutMs: 5000, isRouterDown },
      }),
    );
  }
  await tick();
}

t.test('every transport code counts as a failure', async (t) => {
  const codes = [
    ErrorCode.UpstreamClosed,
    ErrorCode.UpstreamTimeout,
    ErrorCode.UpstreamProtocol,
    ErrorCode.CommandTimeout,
  ];
  const setup = setupFlow(t);
  for (const code of codes) await failCommands(setup, 1, code);
  await failAcquires(setup, 1, true);
  t.equal(setup.flow.breakerState, 'open');
  t.match(setup.changes[0]?.reason, /last ROSGATE_ACQUIRE_TIMEOUT/);
});

t.test('waiting for a busy session is no failure of a router that answers', async (t) => {
  const setup = setupFlow(t);
  await failAcquires(setup, 10, false);
  t.equal(setup.flow.breakerState, 'closed');
  t.equal(setup.flow.stats().breakerFailures, 0);
});

t.test('100 !trap replies leave the circuit closed', async (t) => {
  const setup = setupFlow(t, { rateLimit: { enabled: false } });
  for (let i = 0; i < 100; i++) {
    setup.send(['/ip/hotspot/user/add', '=name=dup']);
    setup.inner.last().trap();
  }
  await tick();
  t.equal(setup.flow.breakerState, 'closed');
  t.equal(setup.flow.stats().breakerFailures, 0);
});

t.test('refusals that are not transport failures do not count', async (t) => {
  const setup = setupFlow(t);
  await failCommands(setup, 10, ErrorCode.PolicyDenied);
  await failCommands(setup, 10, ErrorCode.Internal);
  t.equal(setup.flow.breakerState, 'closed');
});

t.test('client cancels and rate-limit refusals do not count', async (t) => {
  const setup = setupFlow(t, {
    rateLimit: { bucketSize: 10, refillIntervalMs: 60_000, maxQueue: 0 },
  });
  for (let i = 0; i < 10; i++) setup.send(['/ip/hotspot/user/listen']).exchange.cancel(() => {});
  for (let i = 0; i < 10; i++) {
    t.match(setup.send(['/system/identity/print']).sink.events, [/rate limited: queue full/]);
  }
  await tick();
  t.equal(setup.flow.breakerState, 'closed');
  t.equal(setup.flow.stats().breakerFailures, 0);
});

t.test('failures spread wider than the monitoring window do not open the circuit', async (t) => {
  const setup = setupFlow(t);
  await failCommands(setup, 4);
  setup.clock.advance(10_000);
  await failCommands(setup, 1);
  t.equal(setup.flow.breakerState, 'closed');
  setup.clock.advance(5_000);
  await failCommands(setup, 3);
  t.equal(setup.flow.breakerState, 'closed', 'four in the window');
  await failCommands(setup, 1);
  t.equal(setup.flow.breakerState, 'open');
});

t.test('the volume threshold keeps a single failure from opening the circuit', async (t) => {
  const setup = setupFlow(t, { breaker: { threshold: 1, volumeThreshold: 3 } });
  await failCommands(setup, 1);
  t.equal(setup.flow.breakerState, 'closed');
  setup.send(['/system/identity/print']);
  setup.inner.last().done();
  await failCommands(setup, 1);
  t.equal(setup.flow.breakerState, 'open', 'three commands, one failure');
});

t.test('commands waiting in the queue are refused when the circuit opens', async (t) => {
  const setup = setupFlow(t, { rateLimit: { bucketSize: 5, refillIntervalMs: 60_000 } });
  for (let i = 0; i < 5; i++) setup.send(['/ppp/active/print']);
  const waiting = [0, 1, 2].map(() => setup.send(['/system/identity/print']));
  for (const call of setup.inner.calls) call.fail(ErrorCode.UpstreamClosed);
  await tick();
  t.equal(setup.flow.breakerState, 'open');
  for (const { sink } of waiting) t.match(sink.events, [/^refuse ROSGATE_BREAKER_OPEN/]);
  t.equal(setup.flow.stats().refusals.breakerOpen, 3);
  t.equal(setup.flow.stats().queued.normal, 0);
  t.equal(setup.clock.pending, 0, 'no timer left for the queue');
});

t.test(
  'after resetTimeoutMs one identity print probes the router; its answer closes the circuit',
  async (t) => {
    const setup = await openBreaker(t);
    await eventually(() => setup.inner.last().command === PROBE, 'the probe');
    const probe = setup.inner.last();
    t.match(probe.context, {
      user: 'rosgate',
      clientId: 0,
      router: 'r1',
      command: { menu: '/system/identity' },
    });
    t.equal(setup.flow.breakerState, 'half-open');
    t.match(
      setup.send(['/ip/hotspot/user/print']).sink.events,
      [/^refuse ROSGATE_BREAKER_OPEN .*retry in 1s/],
      'half-open, other commands are refused like open',
    );
    probe.row({ name: 'MikroTik' }).done();
    await tick();
    t.equal(setup.flow.breakerState, 'closed');
    t.same(
      setup.changes.map((c) => [c.from, c.to, c.reason]),
      [
        ['closed', 'open', '5 failures in 10000ms (last ROSGATE_UPSTREAM_TIMEOUT)'],
        ['open', 'half-open', `reset timeout elapsed (${RESET_MS}ms)`],
        ['half-open', 'closed', 'router answered while half-open'],
      ],
    );
    t.same(setup.flow.stats().breakerTransitions, { open: 1, halfOpen: 1, closed: 1 });
    const { sink } = setup.send(['/system/identity/print']);
    setup.inner.last().done();
    t.same(sink.events, ['done'], 'commands pass again');
    await failCommands(setup, 1);
    t.equal(setup.flow.breakerState, 'closed', 'the old failures were forgotten');
  },
);

t.test('a !trap answer to the probe closes the circuit too: the router answered', async (t) => {
  const setup = await openBreaker(t);
  await eventually(() => setup.inner.last().command === PROBE, 'the probe');
  setup.inner.last().trap('not enough permissions');
  await tick();
  t.equal(setup.flow.breakerState, 'closed');
});

t.test('a failed probe opens the circuit again, and a later probe may close it', async (t) => {
  const setup = await openBreaker(t);
  await eventually(() => setup.inner.last().command === PROBE, 'the probe');
  setup.inner.last().fail(ErrorCode.UpstreamClosed);
  await tick();
  t.equal(setup.flow.breakerState, 'open');
  t.same(setup.changes.at(-1), {
    router: 'r1',
    from: 'half-open',
    to: 'open',
    reason: 'failure while half-open (ROSGATE_UPSTREAM_CLOSED)',
  });
  const probes = () => setup.inner.calls.filter((c) => c.command === PROBE).length;
  await eventually(() => probes() === 2, 'a second probe');
  setup.inner.last().done();
  await tick();
  t.equal(setup.flow.breakerState, 'closed');
});

t.test(
  'a probe the router does not answer times out, is cancelled, and reopens the circuit',
  async (t) => {
    const setup = await openBreaker(t, { commandIdleTimeoutMs: 1000 });
    await eventually(() => setup.inner.last().command === PROBE, 'the probe');
    setup.clock.advance(1000);
    t.equal(setup.inner.last().cancels, 1);
    await tick();
    t.equal(setup.flow.breakerState, 'open');
    t.match(setup.changes.at(-1)?.reason, /ROSGATE_COMMAND_TIMEOUT/);
  },
);

t.test(
  'routerLost() counts one failure per loss of the router; past monitoringMs unreachable the circuit opens',
  async (t) => {
    const setup = setupFlow(t);
    const lost = () => new RosgateError(ErrorCode.UpstreamClosed, 'connect ECONNREFUSED');
    for (let i = 0; i < 5; i++) setup.flow.routerLost(lost());
    await tick();
    t.equal(
      setup.flow.breakerState,
      'closed',
      'five failed connects of one outage are one failure',
    );
    t.equal(setup.flow.stats().breakerFailures, 1);
    setup.clock.advance(10_000);
    setup.flow.routerLost(lost());
    await tick();
    t.equal(setup.flow.breakerState, 'open', 'still unreachable after monitoringMs');
    t.equal(
      setup.changes[0]?.reason,
      'router unreachable for 10000ms (last ROSGATE_UPSTREAM_CLOSED)',
    );
    setup.flow.routerLost(lost());
    await tick();
    t.equal(setup.flow.stats().breakerFailures, 1, 'while open a loss changes nothing');
  },
);

t.test('with the breaker off failures pass through and nothing opens', async (t) => {
  const setup = setupFlow(t, { breaker: { enabled: false } });
  await failCommands(setup, 20);
  setup.flow.routerLost(new RosgateError(ErrorCode.UpstreamClosed, 'x'));
  setup.clock.advance(10_000);
  setup.flow.routerLost(new RosgateError(ErrorCode.UpstreamClosed, 'x'));
  setup.flow.routerReachable('login');
  await tick();
  const stats = setup.flow.stats();
  t.equal(setup.flow.breakerState, 'closed');
  t.equal(stats.breakerState, 0);
  t.equal(stats.breakerFailures, 0);
  t.same(stats.breakerTransitions, { open: 0, halfOpen: 0, closed: 0 });
});

t.test('an onStateChange that throws is logged, and the breaker carries on', async (t) => {
  const setup = setupFlow(
    t,
    {},
    {
      stage: {
        onStateChange: () => {
          throw new Error('audit down');
        },
      },
    },
  );
  await failCommands(setup, 5);
  t.equal(setup.flow.breakerState, 'open');
  t.ok(setup.logs.some((l) => l.msg === 'flow: onStateChange threw' && l.level === 50));
});

t.test('a stage that was never wired fails its probe', async (t) => {
  const clock = new FakeClock();
  const flow = createFlowStage({
    router: 'r1',
    config: flowConfig({ breaker: { resetTimeoutMs: RESET_MS } }),
    routerTimeoutMs: 10_000,
    logger: createLogger('silent', process.stdout),
    now: clock.now,
    timers: clock.timers,
  });
  t.teardown(() => flow.close());
  flow.routerLost(new RosgateError(ErrorCode.UpstreamClosed, 'x'));
  clock.advance(10_000);
  flow.routerLost(new RosgateError(ErrorCode.UpstreamClosed, 'x'));
  await tick();
  await eventually(() => flow.stats().breakerTransitions.halfOpen === 1, 'half-open');
  await tick();
  t.equal(flow.breakerState, 'open');
});

t.test(
  'half-open, ends that are not the router answering leave the decision to the probe',
  async (t) => {
    const setup = setupFlow(t, {
      rateLimit: { enabled: false },
      maxConcurrency: 32,
      maxStreamMs: 1000,
      breaker: { resetTimeoutMs: RESET_MS },
    });
    // Sent while the circuit is closed; they end once it is half-open.
    const stream = setup.send(['/ip/hotspot/user/listen']);
    setup.send(['/ip/hotspot/user/add', '=name=waits']);
    const waitsForSession = setup.inner.last();
    const cancelled = setup.send(['/ip/hotspot/user/add', '=name=cancelled']);
    await failCommands(setup, 5);
    await eventually(() => setup.inner.last().command === PROBE, 'the probe');
    t.equal(setup.flow.breakerState, 'half-open');

    setup.clock.advance(1000); // maxStreamMs cuts the stream
    t.match(stream.sink.events, [/^refuse ROSGATE_COMMAND_TIMEOUT stream stopped/]);
    waitsForSession.sink.refuse(
      new RosgateError(ErrorCode.AcquireTimeout, 'no router session available in time', {
        details: { timeoutMs: 5000, isRouterDown: false },
      }),
    );
    cancelled.exchange.cancel(() => {});
    t.same(cancelled.sink.events, ['trap interrupted', 'done'], 'the cancel is answered');
    await tick();
    t.equal(setup.flow.breakerState, 'half-open', 'none of them closed the circuit');
    t.equal(setup.flow.stats().breakerFailures, 5, 'nor counted as a failure');

    setup.inner.last().fail(ErrorCode.UpstreamTimeout); // the probe's verdict
    await tick();
    t.equal(setup.flow.breakerState, 'open', 'the probe decides');
    t.same(setup.flow.stats().breakerTransitions, { open: 2, halfOpen: 1, closed: 0 });
  },
);
