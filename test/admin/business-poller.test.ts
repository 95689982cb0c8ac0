import t from 'tap';
import { BusinessPoller, type IntervalTimers } from '../../src/admin/index.js';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import type { CommandHandler } from '../../src/pipeline.js';
import { SETTLED } from '../../src/pipeline.js';
import {
  FakeSources,
  HoldingHandler,
  fakeMetrics,
  memoryLogger,
  words,
} from '../fixtures/admin-fakes.js';
import { eventually } from '../fixtures/eventually.js';

/** Timers the test fires by hand. */
class ManualTimers implements IntervalTimers {
  runs: (() => void)[] = [];
  intervals: number[] = [];
  cleared = 0;
  setInterval(run: () => void, ms: number): unknown {
    this.runs.push(run);
    this.intervals.push(ms);
    return this.runs.length;
  }
  clearInterval(): void {
    this.cleared += 1;
  }
  fire(): void {
    for (const run of this.runs) run();
  }
}

function setup(handler: CommandHandler = new HoldingHandler()) {
  const metrics = fakeMetrics(new FakeSources('core').asSources());
  const timers = new ManualTimers();
  const log = memoryLogger();
  const poller = new BusinessPoller({
    routers: [{ name: 'core', handler }],
    metrics,
    intervalMs: 30_000,
    logger: log.logger,
    timers,
  });
  return { metrics, timers, poller, log };
}

t.test('each round sends a count-only print of both menus and keeps the counts', (t) => {
  const inner = new HoldingHandler();
  const { metrics, timers, poller } = setup(inner);
  poller.start();
  poller.start();
  t.same(timers.intervals, [30_000], 'one timer, at the configured interval');
  timers.fire();
  t.same(
    inner.held.map((h) => h.context.sentence.toString()),
    ['/ip/hotspot/active/print =count-only=', '/ppp/active/print =count-only='],
  );
  t.match(inner.held[0]?.context, {
    router: 'core',
    user: 'rosgate',
    clientId: 0,
    command: { menu: '/ip/hotspot/active', verb: 'print' },
  });
  inner.held[0]?.sink.done(words('!done', '=ret=17'));
  inner.held[1]?.sink.done(words('!done', '=ret=4'));
  t.equal(metrics.traffic.of('core').activeUsers.hotspot?.count, 17);
  t.equal(metrics.traffic.of('core').activeUsers.pppoe?.count, 4);
  timers.fire();
  t.equal(inner.held.length, 4, 'the next round asks again');
  t.end();
});

t.test('a print still running is not sent again', (t) => {
  const inner = new HoldingHandler();
  const { timers, poller } = setup(inner);
  poller.start();
  timers.fire();
  timers.fire();
  t.equal(inner.held.length, 2);
  inner.held[1]?.sink.refuse(new RosgateError(ErrorCode.RateLimited, 'later'));
  timers.fire();
  t.same(
    inner.held.map((h) => h.context.command.menu),
    ['/ip/hotspot/active', '/ppp/active', '/ppp/active'],
  );
  t.end();
});

t.test('a trap or a refusal changes nothing and is not an error in the log', (t) => {
  const inner = new HoldingHandler();
  const { metrics, poller, log } = setup(inner);
  poller.poll();
  inner.held[0]?.sink.reply(words('!trap', '=message=no such command prefix'));
  inner.held[0]?.sink.done(words('!done'));
  inner.held[1]?.sink.refuse(new RosgateError(ErrorCode.BreakerOpen, 'open'));
  t.same(metrics.traffic.of('core').activeUsers, {});
  t.match(log.lines, [{ level: 20, msg: 'business poll refused', code: 'ROSGATE_BREAKER_OPEN' }]);
  t.end();
});

t.test('an answer given before handle() returns does not leave the print pending', (t) => {
  let calls = 0;
  const answering: CommandHandler = {
    handle(_context, sink) {
      calls += 1;
      sink.done(words('!done', '=ret=3'));
      return SETTLED;
    },
  };
  const { metrics, poller } = setup(answering);
  poller.poll();
  poller.poll();
  t.equal(calls, 4);
  t.equal(metrics.traffic.of('core').activeUsers.pppoe?.count, 3);
  t.end();
});

t.test('a handler that throws is logged and the next round tries again', (t) => {
  let calls = 0;
  const throwing: CommandHandler = {
    handle() {
      calls += 1;
      throw new Error('boom');
    },
  };
  const { poller, log } = setup(throwing);
  poller.poll();
  poller.poll();
  t.equal(calls, 4);
  t.match(log.lines[0], { level: 40, msg: 'business poll failed', router: 'core' });
  t.end();
});

t.test('stop clears the timer and cancels the prints still running', (t) => {
  const inner = new HoldingHandler();
  const { timers, poller } = setup(inner);
  poller.stop();
  t.equal(timers.cleared, 0, 'nothing to clear before start');
  poller.start();
  timers.fire();
  inner.held[0]?.sink.done(words('!done', '=ret=1'));
  poller.stop();
  t.equal(timers.cleared, 1);
  t.same(
    inner.held.map((h) => h.cancels),
    [0, 1],
  );
  inner.held[1]?.sink.done(words('!done'));
  t.end();
});

t.test('with Node timers it polls on its own', async (t) => {
  const inner = new HoldingHandler();
  const metrics = fakeMetrics(new FakeSources('core').asSources());
  const poller = new BusinessPoller({
    routers: [{ name: 'core', handler: inner }],
    metrics,
    intervalMs: 5,
    logger: memoryLogger().logger,
  });
  poller.start();
  t.teardown(() => poller.stop());
  await eventually(() => inner.held.length >= 2, 'two polls');
  t.same(
    inner.held.slice(0, 2).map((h) => h.context.sentence.toString()),
    ['/ip/hotspot/active/print =count-only=', '/ppp/active/print =count-only='],
    'its first round, sent by its own timer',
  );
});
