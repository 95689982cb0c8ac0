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

const DURATION = 'mikrotik_request_duration_seconds';

function setup(...routers: string[]) {
  const clock = new FakeClock();
  const sources = new FakeSources(...routers);
  const metrics = fakeMetrics(sources.asSources(), clock);
  const inner = new HoldingHandler();
  const handler = compose([createMetricsStage(metrics).stage], inner);
  /** One command on `router` that takes `ms` and ends with `!done`, or refused with `code`. */
  const run = (router: string, command: string[], ms: number, code?: ErrorCode) => {
    handler.handle(contextFor(router, command), new RecordingSink());
    const held = inner.last();
    clock.advance(ms);
    if (code === undefined) held.sink.done(words('!done'));
    else held.sink.refuse(new RosgateError(code, 'no'));
  };
  const scrape = async () => parsePrometheus(await metrics.registry.metrics());
  return { clock, sources, metrics, run, scrape };
}

const bucket = (router: string, verbClass: string, le: string) => ({
  router,
  verb_class: verbClass,
  le,
});

t.test('each router and verb class has its own buckets, sum and count', async (t) => {
  const { run, scrape } = setup('core', 'edge');
  run('core', ['/ip/address/print'], 1);
  run('core', ['/ip/address/print'], 1.5);
  run('core', ['/ip/address/set', '=.id=*1'], 30);
  run('edge', ['/ip/address/print'], 12_000);
  run('edge', ['/interface/listen'], 4);
  const m = await scrape();
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('core', 'read', '0.001')), 1, 'on a bound');
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('core', 'read', '0.0025')), 2);
  t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'read' }), 2);
  t.equal(sampleValue(m, `${DURATION}_sum`, { router: 'core', verb_class: 'read' }), 0.0025);
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('core', 'write', '0.025')), 0);
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('core', 'write', '0.05')), 1);
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('edge', 'read', '10')), 0);
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('edge', 'read', '+Inf')), 1, 'past 10 s');
  t.equal(sampleValue(m, `${DURATION}_bucket`, bucket('edge', 'stream', '0.005')), 1);
  t.equal(sampleValue(m, `${DURATION}_count`, { router: 'edge', verb_class: 'write' }), 0);
  t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'other' }), 0);
});

t.test('counts go on across scrapes', async (t) => {
  const { run, scrape } = setup('core');
  run('core', ['/ip/address/print'], 2);
  run('core', ['/ip/address/print'], 1, ErrorCode.RateLimited);
  let m = await scrape();
  t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'read' }), 2);
  const refused = { router: 'core', code: ErrorCode.RateLimited };
  t.equal(sampleValue(m, 'mikrotik_request_errors_total', refused), 1);
  run('core', ['/ip/address/print'], 3);
  run('core', ['/ip/address/print'], 1, ErrorCode.RateLimited);
  m = await scrape();
  t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'read' }), 4);
  t.equal(sampleValue(m, `${DURATION}_sum`, { router: 'core', verb_class: 'read' }), 0.007);
  t.equal(sampleValue(m, 'mikrotik_request_errors_total', refused), 2);
  const requests = { router: 'core', verb_class: 'read' };
  t.equal(sampleValue(m, 'mikrotik_requests_total', { ...requests, outcome: 'ok' }), 2);
  t.equal(sampleValue(m, 'mikrotik_requests_total', { ...requests, outcome: 'refused' }), 2);
});

t.test(
  "the first scrape lists every router's series at 0 and never zeroes counts already there",
  async (t) => {
    const { run, scrape, sources } = setup('core');
    run('core', ['/ip/address/print'], 2);
    run('elsewhere', ['/ip/address/print'], 2);
    let m = await scrape();
    t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'read' }), 1);
    t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'stream' }), 0);
    t.equal(
      sampleValue(m, 'mikrotik_connection_pool_acquisition_seconds_count', { router: 'core' }),
      0,
    );
    t.equal(
      sampleValue(m, `${DURATION}_count`, { router: 'elsewhere', verb_class: 'read' }),
      1,
      'a router seen in traffic has its series too',
    );
    sources.routerList = [...sources.routerList, ...new FakeSources('added').routerList];
    run('added', ['/ip/address/print'], 2);
    m = await scrape();
    t.equal(sampleValue(m, `${DURATION}_count`, { router: 'added', verb_class: 'read' }), 1);
    t.equal(sampleValue(m, `${DURATION}_count`, { router: 'added', verb_class: 'write' }), 0);
    t.equal(sampleValue(m, `${DURATION}_count`, { router: 'core', verb_class: 'read' }), 1);
  },
);

t.test('acquisition times are counted per router into their buckets', async (t) => {
  const { metrics, scrape } = setup('core', 'edge');
  metrics.observeAcquire('core', 0.0005);
  metrics.observeAcquire('core', 0.0006);
  metrics.observeAcquire('edge', 7);
  const m = await scrape();
  const name = 'mikrotik_connection_pool_acquisition_seconds';
  t.equal(sampleValue(m, `${name}_bucket`, { router: 'core', le: '0.0005' }), 1);
  t.equal(sampleValue(m, `${name}_bucket`, { router: 'core', le: '0.001' }), 2);
  t.equal(sampleValue(m, `${name}_bucket`, { router: 'edge', le: '5' }), 0);
  t.equal(sampleValue(m, `${name}_bucket`, { router: 'edge', le: '+Inf' }), 1);
  t.equal(sampleValue(m, `${name}_sum`, { router: 'edge' }), 7);
});

t.test('a command record counts as the stage counts a command', async (t) => {
  const { metrics, clock, run, scrape } = setup('core');
  run('core', ['/queue/simple/set', '=.id=*1'], 6000, ErrorCode.UpstreamTimeout);
  metrics.recordCommand({
    router: 'core',
    path: '/queue/simple',
    verbClass: 'write',
    outcome: 'error',
    durationMs: 6000,
    at: clock.ms,
    code: ErrorCode.UpstreamTimeout,
  });
  metrics.recordCommand({
    router: 'core',
    path: '/ip/address',
    verbClass: 'read',
    outcome: 'ok',
    durationMs: 4,
    at: clock.ms,
  });
  t.equal(metrics.commandsFinished, 3);
  const m = await scrape();
  const write = { router: 'core', verb_class: 'write' };
  t.equal(sampleValue(m, 'mikrotik_requests_total', { ...write, outcome: 'error' }), 2);
  t.equal(sampleValue(m, `${DURATION}_bucket`, { ...write, le: '5' }), 0);
  t.equal(sampleValue(m, `${DURATION}_bucket`, { ...write, le: '10' }), 2);
  t.equal(sampleValue(m, 'rosgate_slow_commands_total', write), 2);
  t.equal(
    sampleValue(m, 'mikrotik_request_errors_total', {
      router: 'core',
      code: ErrorCode.UpstreamTimeout,
    }),
    2,
  );
  t.match(metrics.traffic.slowCommands(), [
    { router: 'core', path: '/queue/simple', verbClass: 'write', durationMs: 6000 },
    { router: 'core', path: '/queue/simple', verbClass: 'write', durationMs: 6000 },
  ]);
  t.same(metrics.traffic.of('core').requests.read, {
    ok: 1,
    trap: 0,
    refused: 0,
    error: 0,
    cancelled: 0,
  });
});

t.test('full prints are told from partial ones by their words, exactly', async (t) => {
  const { metrics } = setup('core');
  const inner = new HoldingHandler();
  const handler = compose([createMetricsStage(metrics).stage], inner);
  const count = (command: string[], rows: number, done = words('!done')) => {
    handler.handle(contextFor('core', command), new RecordingSink());
    const held = inner.last();
    for (let i = 0; i < rows; i++) held.sink.reply(words('!re', `=name=u${i}`));
    held.sink.done(done);
    return metrics.traffic.of('core').activeUsers.pppoe?.count;
  };
  t.equal(count(['/ppp/active/print', '=fromage=1'], 2), 2, '=fromage is not =from');
  t.equal(count(['/ppp/active/print', '=from'], 5), 2, '=from with no value is a =from');
  t.equal(count(['/ppp/active/print', '.tag=9'], 3), 3, 'a tag is no query');
  t.equal(count(['/ppp/active/print', '=count-only'], 0, words('!done', '=ret=7')), 7);
  t.equal(count(['/ppp/active/print', '=count-onlyx='], 4, words('!done', '=ret=8')), 4);
});

t.test('a reply after the end is dropped and counted, and changes no figure', async (t) => {
  const { metrics } = setup('core');
  const inner = new HoldingHandler();
  const stage = createMetricsStage(metrics);
  const sink = new RecordingSink();
  compose([stage.stage], inner).handle(contextFor('core', ['/ppp/active/print']), sink);
  const held = inner.last();
  held.sink.reply(words('!re', '=name=a'));
  held.sink.done(words('!done'));
  held.sink.reply(words('!re', '=name=b'));
  held.sink.reply(words('!trap', '=message=late'));
  t.equal(sink.replies.length, 1, 'nothing after the end reaches the client');
  t.same(stage.stats(), { droppedAfterEnd: 2 });
  t.equal(metrics.traffic.of('core').activeUsers.pppoe?.count, 1);
  t.equal(metrics.traffic.of('core').requests.read.ok, 1);
});
