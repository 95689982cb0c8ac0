import t from 'tap';
import { pino } from 'pino';
import { createCacheStage } from '../../src/cache/index.js';
import { SECTIONS } from '../../src/config/index.js';
import { ErrorCode } from '../../src/errors.js';
import { commandOf, FakeHandler, RecordingSink } from '../fixtures/cache-fake-handler.js';
import { eventually } from '../fixtures/eventually.js';

const LISTEN = '/ppp/secret/listen';

function stageWithDefaults(retryInitialMs: number): { router: FakeHandler; close(): void } {
  const cache = createCacheStage({
    config: SECTIONS.cache.schema.parse({
      listen: { paths: ['/ppp/secret'], retryInitialMs },
    }),
    logger: pino({ level: 'silent' }),
  });
  const router = new FakeHandler();
  cache.stage(router).handle(commandOf(['/ppp/secret/print']), new RecordingSink());
  router.of(LISTEN)[0]?.refuse(ErrorCode.UpstreamClosed);
  return { router, close: () => cache.close() };
}

t.test('with the default clock and timers a lost listen is sent again', async (t) => {
  const { router, close } = stageWithDefaults(1);
  await eventually(() => router.of(LISTEN).length >= 2, 'the listen to be sent again');
  t.equal(router.of(LISTEN).length, 2);
  close();
});

t.test('close clears a default timer still waiting', async (t) => {
  const { router, close } = stageWithDefaults(40);
  close();
  // These tests cover the default timers themselves (every other cache test
  // injects a clock): only a real wait past the 40 ms retry shows it never fired.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(router.of(LISTEN).length, 1);
});
