/**
 * The breaker and what the pool knows of the router: a
 * loss of the router counts once, and a router seen back turns an open
 * circuit half-open at once, whatever is left of the reset timeout.
 */
import t from 'tap';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { setupFlow, type FlowSetup } from '../fixtures/flow-setup.js';
import { eventually } from '../fixtures/eventually.js';

/** Lets opossum's promise callbacks run (it counts outcomes asynchronously). */
const tick = () => new Promise((resolve) => setImmediate(resolve));

const PROBE = '/system/identity/print';
const ADD = ['/ip/hotspot/user/add', '=name=v'];

const closed = (message = 'router closed the connection') =>
  new RosgateError(ErrorCode.UpstreamClosed, message);

/** Sends `n` adds; the router has them all in flight. */
function sendAdds(setup: FlowSetup, n: number) {
  const before = setup.inner.calls.length;
  const sent = Array.from({ length: n }, () => setup.send(ADD));
  return { sent, calls: setup.inner.calls.slice(before) };
}

/** Five commands time out: the router is up but failing. */
async function openByTimeouts(setup: FlowSetup): Promise<void> {
  for (const call of sendAdds(setup, 5).calls) call.fail(ErrorCode.CommandTimeout);
  await tick();
}

/** The router is lost, and still unreachable `monitoringMs` later: the circuit opens. */
async function openByOutage(setup: FlowSetup): Promise<void> {
  setup.flow.routerLost(closed('connect ECONNREFUSED'));
  setup.clock.advance(10_000);
  setup.flow.routerLost(closed('connect ECONNREFUSED'));
  await tick();
}

const probes = (setup: FlowSetup) => setup.inner.calls.filter((c) => c.command === PROBE);

t.test('twenty commands lost with one session count as one failure', async (t) => {
  const setup = setupFlow(t, { rateLimit: { enabled: false }, maxConcurrency: 32 });
  const { sent, calls } = sendAdds(setup, 20);
  const error = closed();
  for (const call of calls) call.sink.refuse(error);
  await tick();
  t.equal(setup.flow.breakerState, 'closed');
  t.equal(setup.flow.stats().breakerFailures, 1);
  for (const { sink } of sent) t.same(sink.events, [`refuse ${error.code} ${error.message}`]);
});

t.test(
  'every session dropping at once is one failure: the pool reports each loss before its commands fail',
  async (t) => {
    const setup = setupFlow(t, { rateLimit: { enabled: false }, maxConcurrency: 32 });
    const { calls } = sendAdds(setup, 20);
    const sessions = [0, 1, 2, 3, 4].map(() => closed());
    // Five sessions, four commands on each; the pool hears of each close first.
    sessions.forEach((error, s) => {
      setup.flow.routerLost(error);
      for (const call of calls.slice(s * 4, s * 4 + 4)) call.sink.refuse(error);
    });
    // The reconnects fail until the router listens again.
    for (let i = 0; i < 6; i++) setup.flow.routerLost(closed('connect ECONNREFUSED'));
    await tick();
    t.equal(setup.flow.breakerState, 'closed', 'a 0.4 s restart leaves the circuit closed');
    t.equal(setup.flow.stats().breakerFailures, 1);
  },
);

t.test('once the router is seen back, the next loss counts again', async (t) => {
  const setup = setupFlow(t);
  setup.flow.routerLost(closed());
  setup.clock.advance(5000);
  setup.flow.routerReachable('login');
  setup.flow.routerLost(closed());
  setup.flow.routerLost(closed());
  await tick();
  t.equal(setup.flow.stats().breakerFailures, 2);
});

t.test(
  'a login answered as the router went away does not split one drop into two losses',
  async (t) => {
    const setup = setupFlow(t);
    setup.flow.routerLost(closed());
    setup.flow.routerLost(closed());
    // A session whose login answer was on its way when the router died.
    setup.flow.routerReachable('login');
    setup.clock.advance(999);
    setup.flow.routerLost(closed());
    setup.flow.routerLost(closed());
    await tick();
    t.equal(
      setup.flow.stats().breakerFailures,
      1,
      'sessions dropping within a second are one loss',
    );
    setup.clock.advance(1);
    setup.flow.routerReachable('login');
    setup.flow.routerLost(closed());
    await tick();
    t.equal(setup.flow.stats().breakerFailures, 2, 'a second later, a new one');
  },
);

t.test('a !trap and a lost command each stay what they are: the trap never counts', async (t) => {
  const setup = setupFlow(t);
  const { calls } = sendAdds(setup, 3);
  calls[0]?.trap();
  calls[1]?.sink.refuse(closed());
  calls[2]?.trap();
  await tick();
  t.equal(setup.flow.stats().breakerFailures, 1);
});

t.test('a router unreachable for less than monitoringMs never opens the circuit', async (t) => {
  const setup = setupFlow(t);
  setup.flow.routerLost(closed());
  for (let i = 0; i < 99; i++) {
    setup.clock.advance(100);
    setup.flow.routerLost(closed('connect ECONNREFUSED'));
  }
  await tick();
  t.equal(setup.flow.breakerState, 'closed', '9.9 s of failed connects');
  setup.clock.advance(100);
  setup.flow.routerLost(closed('connect ECONNREFUSED'));
  await tick();
  t.equal(setup.flow.breakerState, 'open', '10 s');
  t.same(setup.changes.at(-1), {
    router: 'r1',
    from: 'closed',
    to: 'open',
    reason: 'router unreachable for 10000ms (last ROSGATE_UPSTREAM_CLOSED)',
  });
});

t.test(
  'a router seen back after an outage turns the open circuit half-open at once; the probe answered closes it',
  async (t) => {
    const setup = setupFlow(t);
    await openByOutage(setup);
    t.equal(setup.flow.breakerState, 'open');
    setup.clock.advance(1000);
    t.match(
      setup.send(ADD).sink.events,
      [/retry in 59s\): .+$/],
      'refused while the router is away',
    );

    setup.flow.routerReachable('login');
    t.equal(setup.flow.breakerState, 'half-open', 'at once, 59 s before the reset timeout');
    t.equal(probes(setup).length, 1, 'one identity print probes the router');
    t.match(
      setup.send(ADD).sink.events,
      [/^refuse ROSGATE_BREAKER_OPEN .*retry in 1s\): .+$/],
      'commands meanwhile are refused, not made to wait',
    );
    setup.flow.routerReachable('probe');
    t.equal(probes(setup).length, 1, 'more evidence sends no second probe');

    probes(setup)[0]?.done();
    await tick();
    t.equal(setup.flow.breakerState, 'closed');
    t.same(
      setup.changes.map((c) => [c.from, c.to, c.reason]),
      [
        ['closed', 'open', 'router unreachable for 10000ms (last ROSGATE_UPSTREAM_CLOSED)'],
        ['open', 'half-open', 'router reachable again (login)'],
        ['half-open', 'closed', 'router answered while half-open'],
      ],
    );
    const { sink } = setup.send(ADD);
    setup.inner.last().done();
    t.same(sink.events, ['done'], 'commands pass again');
    setup.flow.routerLost(closed());
    await tick();
    t.equal(setup.flow.stats().breakerFailures, 2, 'and the next loss is a new one');
  },
);

t.test('a failed early probe leaves the circuit open until the reset timeout it had', async (t) => {
  const setup = setupFlow(t);
  await openByOutage(setup);
  setup.clock.advance(20_000);
  setup.flow.routerReachable('login');
  probes(setup)[0]?.fail(ErrorCode.UpstreamTimeout);
  await tick();
  t.equal(setup.flow.breakerState, 'open');
  t.same(setup.changes.at(-1), {
    router: 'r1',
    from: 'half-open',
    to: 'open',
    reason: 'failure while half-open (ROSGATE_UPSTREAM_TIMEOUT)',
  });
  t.match(setup.send(ADD).sink.events, [/retry in 40s\): .+$/], 'the reset timeout runs on');
  t.same(setup.flow.stats().breakerTransitions, { open: 2, halfOpen: 1, closed: 0 });
  setup.flow.routerReachable('probe');
  t.equal(probes(setup).length, 1, 'evidence with no loss since sends no probe');
});

t.test('a circuit opened while the router stayed reachable keeps its reset timeout', async (t) => {
  const setup = setupFlow(t);
  await openByTimeouts(setup);
  t.equal(setup.flow.breakerState, 'open');
  setup.flow.routerReachable('probe');
  t.equal(setup.flow.breakerState, 'open', 'answered health probes do not shorten it');
  t.equal(probes(setup).length, 0);

  // The router is lost and comes back: that is new evidence.
  setup.flow.routerLost(closed());
  setup.flow.routerReachable('login');
  t.equal(setup.flow.breakerState, 'half-open');
  t.equal(probes(setup).length, 1);
});

t.test(
  'the reset timeout running out during an early probe sends no second probe; the early one decides',
  async (t) => {
    const setup = setupFlow(t, { breaker: { resetTimeoutMs: 20 } });
    await openByTimeouts(setup);
    setup.flow.routerLost(closed());
    setup.flow.routerReachable('login');
    // opossum's own reset timer (20 ms, real time) turns half-open meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 40));
    t.equal(probes(setup).length, 1, 'one probe only');
    t.equal(setup.flow.stats().breakerTransitions.halfOpen, 1);
    probes(setup)[0]?.fail(ErrorCode.UpstreamClosed);
    await tick();
    t.equal(setup.flow.breakerState, 'open', 'its failure opens the circuit again');
    t.equal(setup.changes.at(-1)?.reason, 'failure while half-open (ROSGATE_UPSTREAM_CLOSED)');
    await eventually(() => probes(setup).length === 2, 'the next probe, a reset timeout later');
    probes(setup)[1]?.done();
    await tick();
    t.equal(setup.flow.breakerState, 'closed');
  },
);

t.test(
  'a command lost with a loss already counted, ending while half-open, opens the circuit again',
  async (t) => {
    const setup = setupFlow(t, { breaker: { resetTimeoutMs: 20 } });
    const [longRunning] = sendAdds(setup, 1).calls;
    await openByTimeouts(setup);
    const error = closed();
    setup.flow.routerLost(error);
    await eventually(() => probes(setup).length === 1, 'the half-open probe');
    longRunning?.sink.refuse(error);
    await tick();
    t.equal(setup.flow.breakerState, 'open', 'no answer is no reason to close');
    t.equal(setup.changes.at(-1)?.reason, 'failure while half-open (ROSGATE_UPSTREAM_CLOSED)');
  },
);

t.test('an open circuit says why: the last failure of the router', async (t) => {
  const setup = setupFlow(t);
  const login = new RosgateError(
    ErrorCode.UpstreamLogin,
    "router refused rosgate's login: invalid user name or password",
  );
  setup.flow.routerLost(login);
  setup.clock.advance(10_000);
  setup.flow.routerLost(login);
  await tick();
  t.equal(setup.flow.breakerState, 'open');
  t.same(setup.send(ADD).sink.events, [
    "refuse ROSGATE_BREAKER_OPEN router unavailable (circuit open, retry in 60s): router refused rosgate's login: invalid user name or password",
  ]);

  setup.flow.routerReachable('login');
  probes(setup)[0]?.fail(ErrorCode.UpstreamTimeout);
  await tick();
  t.match(
    setup.send(ADD).sink.events,
    [/retry in 60s\): router went away$/],
    'a failed probe is the last failure now',
  );
});
