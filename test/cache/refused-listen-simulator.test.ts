import t from 'tap';
import { Writable } from 'node:stream';
import { createCacheStage, type CacheStage } from '../../src/cache/index.js';
import { SECTIONS } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import type { CommandHandler } from '../../src/pipeline.js';
import { startSimulator, type RefuseListen, type Simulator } from '../../src/simulator/index.js';
import type { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { ManualClock } from '../fixtures/cache-clock.js';
import {
  connectUpstream,
  runDirect,
  runThrough,
  upstreamHandler,
} from '../fixtures/cache-upstream.js';
import { eventually } from '../fixtures/eventually.js';
import type { Teardown } from '../fixtures/raw-client.js';

// Against the simulator: a router that refuses the cache's
// listen with `.proplist`, or refuses listen altogether.

const USERS = ['/ip/hotspot/user/print', '=.proplist=.id,name,comment'];
/** Five minutes: the lifetime of a users print that shows no counter. */
const USERS_TTL_MS = 5 * 60_000;

interface Rig {
  sim: Simulator;
  cache: CacheStage;
  pipeline: CommandHandler;
  /** A session straight to the simulator: the writer around rosgate. */
  writer: UpstreamConnection;
  clock: ManualClock;
  warnings(): Record<string, unknown>[];
}

async function rig(t: Teardown, refuseListen: RefuseListen): Promise<Rig> {
  const sim = await startSimulator({ password: 'secret', hotspotUsers: 5, refuseListen });
  const upstream = await connectUpstream(sim);
  const writer = await connectUpstream(sim);
  const clock = new ManualClock();
  let logText = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logText += chunk.toString();
      callback();
    },
  });
  const cache = createCacheStage({
    // A slow retry far away, so moving the clock past a TTL does not start it.
    config: SECTIONS.cache.schema.parse({ listen: { refusedRetryMs: 3_600_000 } }),
    logger: createLogger('debug', destination),
    now: clock.now,
    timers: clock,
  });
  t.teardown(async () => {
    cache.close();
    upstream.close();
    writer.close();
    await sim.close();
  });
  return {
    sim,
    cache,
    pipeline: cache.stage(upstreamHandler(upstream)),
    writer,
    clock,
    warnings: () =>
      logText
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['level'] === 40),
  };
}

/** Prints until one is answered from the cache; returns the prints the router got. */
async function printUntilHit(rig: Rig, words: string[]): Promise<number> {
  for (let i = 0; i < 5; i++) {
    if ((await runThrough(rig.pipeline, words)).note === 'hit') break;
  }
  return rig.sim.counters.commands['/ip/hotspot/user/print'] ?? 0;
}

const commentOf = async (rig: Rig, words: string[], id: string): Promise<string | undefined> =>
  (await runThrough(rig.pipeline, words)).sink.sentences
    .find((s) => s.attributeString('.id') === id)
    ?.attributeString('comment');

t.test(
  'a router that refuses listen with .proplist: the cache listens without it, hits again, and a change around rosgate drops the whole menu',
  async (t) => {
    const r = await rig(t, 'proplist');
    const first = await runThrough(r.pipeline, USERS);
    await eventually(() => r.sim.activeStreams() === 1, 'the listen without .proplist to run');
    t.equal(r.sim.counters.commands['/ip/hotspot/user/listen'], 2, 'refused once, then accepted');
    t.ok((await printUntilHit(r, USERS)) <= 3, 'hits happen again');
    t.match(r.cache.stats(), { r1: { listensActive: 1, listensRefused: 0 } });
    t.same(r.warnings(), [], 'a listen that runs is no warning');

    const [one, two] = first.sink.sentences.map((s) => s.attributeString('.id') as string);
    const byName = [...USERS, `?name=${first.sink.sentences[1]?.attributeString('name')}`];
    await printUntilHit(r, byName);
    // Row one changes around rosgate: the report drops every users reply, row two's too.
    const invalidations = r.cache.stats()['r1']?.invalidations ?? 0;
    await runDirect(r.writer, ['/ip/hotspot/user/set', `=.id=${one}`, '=comment=winbox']);
    await eventually(
      () => (r.cache.stats()['r1']?.invalidations ?? 0) > invalidations,
      'the listen to report the change',
    );
    t.equal((await runThrough(r.pipeline, byName)).note, 'miss', 'the whole menu was dropped');
    t.equal(await commentOf(r, USERS, one as string), 'winbox');

    // A write through rosgate: row-scoped, and prints stay correct.
    await runThrough(r.pipeline, ['/ip/hotspot/user/set', `=.id=${two}`, '=comment=billing']);
    t.equal(await commentOf(r, USERS, two as string), 'billing');
    t.equal(await commentOf(r, byName, two as string), 'billing');
  },
);

t.test(
  'a router that refuses every listen: the menu is served like an unwatched one, with one warning',
  async (t) => {
    const r = await rig(t, 'always');
    const first = await runThrough(r.pipeline, USERS);
    await eventually(
      () => r.cache.stats()['r1']?.listensRefused === 1,
      'both listens to be refused',
    );
    t.equal(r.sim.counters.commands['/ip/hotspot/user/listen'], 2, 'with and without .proplist');
    t.ok((await printUntilHit(r, USERS)) <= 3, 'hits happen again');
    t.equal((await runThrough(r.pipeline, USERS)).note, 'hit');
    t.match(r.warnings(), [{ router: 'r1', path: '/ip/hotspot/user', delayMs: 3_600_000 }]);
    t.equal(r.warnings().length, 1, 'one warning');

    // A write through rosgate is seen at once.
    const id = first.sink.sentences[0]?.attributeString('.id') as string;
    await runThrough(r.pipeline, ['/ip/hotspot/user/set', `=.id=${id}`, '=comment=billing']);
    t.equal(await commentOf(r, USERS, id), 'billing');

    // A change around rosgate is seen once the reply's lifetime is over, as on an unwatched menu.
    await printUntilHit(r, USERS);
    await runDirect(r.writer, ['/ip/hotspot/user/set', `=.id=${id}`, '=comment=winbox']);
    t.equal(await commentOf(r, USERS, id), 'billing', 'served from the cache within its TTL');
    r.clock.advance(USERS_TTL_MS);
    t.equal(await commentOf(r, USERS, id), 'winbox');
    t.equal(r.warnings().length, 1, 'still one warning');
  },
);
