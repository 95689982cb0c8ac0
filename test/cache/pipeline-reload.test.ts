import t from 'tap';
import { createCacheStage } from '../../src/cache/index.js';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
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

t.test(
  'a write under way when the cache section is reloaded reaches the new cache when it ends',
  async (t) => {
    // A reload (live-config.ts) puts a new cache stage in, closes the old one
    // with the new one as its successor, and rebuilds the chain.
    const config = cacheHarness({ listen: { enabled: false } }).config;
    const logger = createLogger('silent', process.stdout);
    let cache = createCacheStage({ config, logger });
    const router = new FakeHandler();
    const pipeline = createPipeline([cache.stage], router);
    const send = (words: string[]) => {
      const sink = new RecordingSink();
      const context = commandOf(words);
      pipeline.handle(context, sink);
      return { sink, context };
    };
    /** A reload of the cache section, as live-config.ts does it. */
    const reload = () => {
      const old = cache;
      cache = createCacheStage({ config, logger });
      old.close(cache);
      pipeline.rebuild([cache.stage]);
    };
    /** A print the router runs before the write takes effect, kept by the cache in force. */
    const keepOldPrint = () => {
      send(['/ip/hotspot/user/print']);
      router.last.reply('!re', '=.id=*1', '=name=alice', '=limit-uptime=0s');
      router.last.done();
    };
    const write = send(['/ip/hotspot/user/set', '=numbers=alice', '=limit-uptime=1h']);
    reload();
    keepOldPrint();
    // And a second reload before the write ends: its end reaches the last cache.
    reload();
    keepOldPrint();
    router.of('/ip/hotspot/user/set')[0]?.done();
    t.same(write.sink.texts, ['!done'], 'the write is answered');
    t.equal(
      send(['/ip/hotspot/user/print']).context.notes.cache,
      'miss',
      'the client that saw its !done does not get the print from before the write',
    );
    // A script (any menu) under way at the next reload drops everything there.
    const script = send(['/system/script/run', '=number=s1']);
    reload();
    send(['/ip/address/print']);
    router.last.reply('!re', '=.id=*1', '=address=10.0.0.1/24');
    router.last.done();
    router.of('/system/script/run')[0]?.done();
    t.same(script.sink.texts, ['!done']);
    t.equal(send(['/ip/address/print']).context.notes.cache, 'miss');
  },
);
