import t from 'tap';
import { createMetricsStage } from '../../src/admin/index.js';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { compose } from '../../src/pipeline.js';
import { parsePrometheus, sampleValue } from '../fixtures/admin-prom-parse.js';
import {
  FakeClock,
  FakeSources,
  HoldingHandler,
  RecordingSink,
  contextFor,
  fakeMetrics,
  words,
} from '../fixtures/admin-fakes.js';

function setup(options: { slowCommandMs?: number | (() => number) } = {}) {
  const clock = new FakeClock();
  const metrics = fakeMetrics(new FakeSources('core').asSources(), clock, options);
  const inner = new HoldingHandler();
  const metricsStage = createMetricsStage(metrics);
  const handler = compose([metricsStage.stage], inner);
  const send = (...w: string[]) => {
    const sink = new RecordingSink();
    const exchange = handler.handle(contextFor('core', w), sink);
    return { sink, exchange, held: inner.last() };
  };
  const scrape = async () => parsePrometheus(await metrics.registry.metrics());
  return { clock, metrics, metricsStage, send, scrape };
}

const requests = (
  m: Awaited<ReturnType<ReturnType<typeof setup>['scrape']>>,
  verbClass: string,
  outcome: string,
) => sampleValue(m, 'mikrotik_requests_total', { router: 'core', verb_class: verbClass, outcome });

t.test('what passes through reaches the client unchanged, and the stage counts it', async (t) => {
  const { send, clock, scrape } = setup();
  const { sink, held } = send('/ip/address/print', '.tag=7');
  t.equal(held.context.sentence.command, '/ip/address/print', 'the command goes on as it came');
  const row = words('!re', '=address=10.0.0.1/24', '.tag=x');
  const empty = words('!empty', '.tag=x');
  const done = words('!done', '.tag=x');
  clock.advance(12.5);
  held.sink.reply(row);
  held.sink.reply(empty);
  held.sink.done(done);
  t.equal(sink.replies[0], row);
  t.equal(sink.replies[1], empty);
  t.equal(sink.dones[0], done);
  const m = await scrape();
  t.equal(requests(m, 'read', 'ok'), 1);
  t.equal(
    sampleValue(m, 'mikrotik_request_duration_seconds_sum', { router: 'core', verb_class: 'read' }),
    0.0125,
  );
  t.equal(
    sampleValue(m, 'mikrotik_request_duration_seconds_bucket', {
      router: 'core',
      verb_class: 'read',
      le: '0.025',
    }),
    1,
  );
});

t.test('a router trap is a trap, not an error', async (t) => {
  const { send, scrape } = setup();
  const { sink, held } = send('/ip/hotspot/user/add', '=name=a');
  held.sink.reply(words('!trap', '=message=failure: already have user with this name'));
  held.sink.done(words('!done'));
  t.equal(sink.replies.length, 1);
  const m = await scrape();
  t.equal(requests(m, 'write', 'trap'), 1);
  t.equal(sampleValue(m, 'mikrotik_vouchers_created_total', { router: 'core' }), 0);
  const errors = m.get('mikrotik_request_errors_total')?.samples ?? [];
  t.equal(
    errors.reduce((sum, s) => sum + s.value, 0),
    0,
    'no error counted (every known code stays at 0)',
  );
});

t.test('refusals are counted by code, as refused or as errors', async (t) => {
  const { send, scrape } = setup();
  const cases: [string, ErrorCode][] = [
    ['/system/reboot', ErrorCode.PolicyDenied],
    ['/ip/address/print', ErrorCode.RateLimited],
    ['/ip/address/print', ErrorCode.UpstreamTimeout],
    ['/interface/listen', ErrorCode.UpstreamClosed],
    ['/ip/address/print', ErrorCode.Interrupted],
  ];
  for (const [command, code] of cases) {
    const { sink, held } = send(command);
    const error = new RosgateError(code, 'no');
    held.sink.refuse(error);
    t.equal(sink.refusals[0], error, `${code} reaches the client`);
  }
  const m = await scrape();
  t.equal(requests(m, 'other', 'refused'), 1);
  t.equal(requests(m, 'read', 'refused'), 1);
  t.equal(requests(m, 'read', 'error'), 1);
  t.equal(requests(m, 'stream', 'error'), 1);
  t.equal(requests(m, 'read', 'cancelled'), 1);
  for (const [, code] of cases) {
    t.equal(sampleValue(m, 'mikrotik_request_errors_total', { router: 'core', code }), 1, code);
  }
});

t.test(
  'a cancelled command counts as cancelled, and the cancel goes on to the router',
  async (t) => {
    const { send, scrape } = setup();
    const { sink, exchange, held } = send('/interface/monitor-traffic', '=interface=ether1');
    let isAnswered = false;
    exchange.cancel(() => {
      isAnswered = true;
    });
    t.equal(held.cancels, 1);
    held.answerCancel?.();
    t.ok(isAnswered);
    held.sink.reply(words('!trap', '=category=2', '=message=interrupted'));
    held.sink.done(words('!done'));
    t.equal(sink.dones.length, 1);
    t.equal(requests(await scrape(), 'stream', 'cancelled'), 1);
  },
);

t.test('slowCommandMs is read as it is now, and 0 counts none as slow', async (t) => {
  let slowMs = 0;
  const { send, scrape, clock } = setup({ slowCommandMs: () => slowMs });
  const run = (ms: number) => {
    const { held } = send('/ip/address/print');
    clock.advance(ms);
    held.sink.done(words('!done'));
  };
  run(60_000);
  slowMs = 1000;
  run(999);
  run(1001);
  const m = await scrape();
  t.equal(
    sampleValue(m, 'rosgate_slow_commands_total', { router: 'core', verb_class: 'read' }),
    1,
    'only the one slower than the threshold in force',
  );
});

t.test('a command that ends before its cancel reaches the router counts by its end', async (t) => {
  const { send, scrape } = setup();
  const { exchange, held } = send('/ip/hotspot/user/add', '=name=late');
  exchange.cancel(() => undefined);
  t.equal(held.cancels, 1);
  held.sink.done(words('!done', '=ret=*1A'));
  const { held: trapped } = send('/ip/hotspot/user/add', '=name=dup');
  trapped.sink.reply(words('!trap', '=category=1', '=message=already have such user'));
  trapped.sink.done(words('!done'));
  const m = await scrape();
  t.equal(requests(m, 'write', 'ok'), 1, 'the router ran the add');
  t.equal(requests(m, 'write', 'trap'), 1);
  t.equal(requests(m, 'write', 'cancelled'), 0);
});

t.test('a handler that throws is counted as the refusal the client gets', async (t) => {
  const metrics = fakeMetrics(new FakeSources('core').asSources(), new FakeClock());
  const handler = compose([createMetricsStage(metrics).stage], {
    handle() {
      throw new Error('a bug below');
    },
  });
  const sink = new RecordingSink();
  const exchange = handler.handle(contextFor('core', ['/ip/address/print']), sink);
  t.equal(sink.refusals.length, 1);
  t.equal((sink.refusals[0] as RosgateError | undefined)?.code, ErrorCode.Internal);
  let answered = false;
  exchange.cancel(() => (answered = true));
  t.ok(answered, 'nothing is left to cancel');
  const m = parsePrometheus(await metrics.registry.metrics());
  t.equal(requests(m, 'read', 'error'), 1);
});

t.test('a command is counted once even if its end is reported twice', async (t) => {
  const { send, scrape, metricsStage } = setup();
  const { sink, held } = send('/ip/hotspot/user/add', '=name=a');
  held.sink.done(words('!done', '=ret=*1'));
  held.sink.done(words('!done', '=ret=*1'));
  held.sink.refuse(new RosgateError(ErrorCode.UpstreamClosed, 'gone'));
  t.equal(sink.dones.length, 1, 'nothing after the end is passed on');
  t.equal(sink.refusals.length, 0);
  t.same(metricsStage.stats(), { droppedAfterEnd: 2 }, 'what came after the end is counted');
  metricsStage.close();
  const m = await scrape();
  t.equal(requests(m, 'write', 'ok'), 1);
  t.equal(requests(m, 'write', 'error'), 0);
  t.equal(sampleValue(m, 'mikrotik_vouchers_created_total', { router: 'core' }), 1);
});

t.test('streaming prints are streams; unknown verbs are other', async (t) => {
  const { send, scrape } = setup();
  for (const command of [
    ['/ip/address/print', '=follow='],
    ['/interface/print', '=interval=1'],
    ['/system/script/run', '=number=0'],
  ]) {
    send(...command).held.sink.done(words('!done'));
  }
  const m = await scrape();
  t.equal(requests(m, 'stream', 'ok'), 2);
  t.equal(requests(m, 'other', 'ok'), 1);
});

t.test('a full print of /ip/hotspot/active sets the hotspot users to its row count', async (t) => {
  const { send, scrape, metrics } = setup();
  const print = send('/ip/hotspot/active/print', '=.proplist=user');
  for (let i = 0; i < 3; i++) print.held.sink.reply(words('!re', `=user=u${i}`));
  print.held.sink.done(words('!done'));
  const m = await scrape();
  t.equal(sampleValue(m, 'mikrotik_active_users_hotspot', { router: 'core' }), 3);
  t.equal(metrics.traffic.of('core').activeUsers.hotspot?.count, 3);
});

t.test('a count-only print of /ppp/active sets the PPPoE users from its =ret=', async (t) => {
  const { send, scrape } = setup();
  send('/ppp/active/print', '=count-only=').held.sink.done(words('!done', '=ret=42'));
  t.equal(sampleValue(await scrape(), 'mikrotik_active_users_pppoe', { router: 'core' }), 42);
});

t.test('partial, failed or odd prints leave the active users alone', async (t) => {
  const { send, scrape } = setup();
  send('/ppp/active/print').held.sink.done(words('!done'));
  const partial: string[][] = [
    ['/ppp/active/print', '?service=pppoe'],
    ['/ppp/active/print', '=from=*1'],
    ['/ppp/active/print', '=follow-only='],
    ['/ppp/active/getall', '?name=x'],
    ['/ppp/active/remove', '=.id=*1'],
    ['/ppp/secret/print'],
  ];
  for (const command of partial) {
    const { held } = send(...command);
    held.sink.reply(words('!re', '=name=x'));
    held.sink.done(words('!done'));
  }
  const trapped = send('/ppp/active/print');
  trapped.held.sink.reply(words('!re', '=name=x'));
  trapped.held.sink.reply(words('!trap', '=message=interrupted'));
  trapped.held.sink.done(words('!done'));
  send('/ppp/active/print', '=count-only=').held.sink.done(words('!done', '=ret=lots'));
  send('/ppp/active/print', '=count-only=').held.sink.done(words('!done'));
  send('/ppp/active/getall').held.sink.refuse(new RosgateError(ErrorCode.RateLimited, 'later'));
  t.equal(sampleValue(await scrape(), 'mikrotik_active_users_pppoe', { router: 'core' }), 0);
});

t.test('hotspot user commands other than add are not vouchers', async (t) => {
  const { send, scrape } = setup();
  send('/ip/hotspot/user/set', '=.id=*1', '=limit-uptime=1h').held.sink.done(words('!done'));
  send('/ip/hotspot/user/add', '=name=v1').held.sink.done(words('!done', '=ret=*2'));
  t.equal(sampleValue(await scrape(), 'mikrotik_vouchers_created_total', { router: 'core' }), 1);
});

t.test(
  'slow commands are counted and listed, streams never, and the list is bounded',
  async (t) => {
    const { send, scrape, clock, metrics } = setup({ slowCommandMs: 100 });
    const fast = send('/ip/address/print');
    clock.advance(100);
    fast.held.sink.done(words('!done'));
    const stream = send('/interface/listen');
    clock.advance(10_000);
    stream.held.sink.done(words('!done'));
    for (let i = 0; i < 60; i++) {
      const slow = send(`/queue/simple/set`, `=.id=*${i}`);
      clock.advance(101 + i);
      slow.held.sink.done(words('!done'));
    }
    const m = await scrape();
    t.equal(
      sampleValue(m, 'rosgate_slow_commands_total', { router: 'core', verb_class: 'write' }),
      60,
    );
    t.equal(
      sampleValue(m, 'rosgate_slow_commands_total', { router: 'core', verb_class: 'read' }),
      0,
    );
    t.equal(
      sampleValue(m, 'rosgate_slow_commands_total', { router: 'core', verb_class: 'stream' }),
      0,
    );
    const listed = metrics.traffic.slowCommands();
    t.equal(listed.length, 50, 'the latest 50');
    t.match(listed[0], {
      router: 'core',
      path: '/queue/simple',
      verbClass: 'write',
      durationMs: 111,
    });
    t.match(listed[49], { durationMs: 160, at: clock.ms });
  },
);

t.test('latency percentiles come from the latest commands of each class', (t) => {
  const { send, clock, metrics } = setup();
  t.same(metrics.traffic.latency('core', 'read'), { count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  for (let ms = 1; ms <= 1100; ms++) {
    const c = send('/ip/address/print');
    clock.advance(ms);
    c.held.sink.done(words('!done'));
  }
  t.same(metrics.traffic.latency('core', 'read'), {
    count: 1024,
    p50: 77 + 511,
    p90: 77 + 921,
    p99: 77 + 1013,
    max: 1100,
  });
  t.end();
});
