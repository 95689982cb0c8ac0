import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { createPipeline, type Stage } from '../../src/pipeline.js';
import {
  cacheHarness,
  commandOf,
  FakeHandler,
  RecordingSink,
} from '../fixtures/cache-fake-handler.js';

// The cache keeps the `next` of its first command for fills, writes and its
// listens. In a pipeline that `next` is a link to the chain in force, so
// after a rebuild (a flow change) all of them reach the new stage.

const USERS = ['/ip/hotspot/user/print', '=.proplist=name'];
const LISTEN = '/ip/hotspot/user/listen';

/** Stands for a flow stage: everything it gets goes to `router`. */
const flowTo =
  (router: FakeHandler): Stage =>
  () =>
    router;

t.test(
  'after a rebuild the cache sends misses, writes and re-sent listens to the new stage',
  async (t) => {
    const h = cacheHarness({
      listen: { paths: ['/ip/hotspot/user'], retryInitialMs: 1000, retryMaxMs: 4000 },
    });
    const [before, after] = [new FakeHandler(), new FakeHandler()];
    const pipeline = createPipeline([h.cache.stage, flowTo(before)], new FakeHandler());
    const send = (words: string[]) => {
      const sink = new RecordingSink();
      const context = commandOf(words);
      pipeline.handle(context, sink);
      return { sink, context };
    };
    send(USERS);
    before.last.reply('!re', '=name=a');
    before.last.done();
    t.same(
      before.calls.map((c) => c.command),
      [LISTEN, '/ip/hotspot/user/print'],
      'the first stage got the listen and the fill',
    );

    pipeline.rebuild([h.cache.stage, flowTo(after)]);
    t.equal(send(USERS).context.notes.cache, 'hit', 'what was kept is still served');
    send(['/ip/address/print']);
    send(['/ip/hotspot/user/add', '=name=b']);
    t.same(
      after.calls.map((c) => c.command),
      ['/ip/address/print', '/ip/hotspot/user/add'],
      'a miss and a write reach the new stage',
    );
    before.of(LISTEN)[0]?.refuse(ErrorCode.UpstreamClosed);
    h.clock.advance(1000);
    t.equal(after.of(LISTEN).length, 1, 'the lost listen is sent again through the new stage');
    t.equal(before.calls.length, 2, 'nothing more reached the replaced stage');
  },
);
