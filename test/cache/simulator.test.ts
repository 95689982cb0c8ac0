import t from 'tap';
import { pino } from 'pino';
import { createCacheStage, type CacheStage } from '../../src/cache/index.js';
import { SECTIONS } from '../../src/config/index.js';
import type { CommandHandler } from '../../src/pipeline.js';
import type { Sentence } from '../../src/protocol/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import type { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import {
  connectUpstream,
  runDirect,
  runThrough,
  upstreamHandler,
} from '../fixtures/cache-upstream.js';
import { eventually } from '../fixtures/eventually.js';

const USERS = ['/ip/hotspot/user/print', '=.proplist=.id,name,comment'];

interface Rig {
  sim: Simulator;
  cache: CacheStage;
  pipeline: CommandHandler;
  /** A session straight to the simulator: the writer around rosgate. */
  direct: UpstreamConnection;
}

async function rig(t: { teardown(fn: () => unknown): void }): Promise<Rig> {
  const sim = await startSimulator({
    user: 'admin',
    password: 'secret',
    version: '7.18',
    hotspotUsers: 20,
  });
  const upstream = await connectUpstream(sim);
  const direct = await connectUpstream(sim);
  const cache = createCacheStage({
    config: SECTIONS.cache.schema.parse({}),
    logger: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    cache.close();
    upstream.close();
    direct.close();
    await sim.close();
  });
  return { sim, cache, pipeline: cache.stage(upstreamHandler(upstream)), direct };
}

const untagged = (sentences: readonly Sentence[]): Buffer =>
  Buffer.concat(sentences.map((s) => s.withTag(undefined)));

t.test(
  'against the simulator: a hit is the router reply byte for byte, and never reaches the router',
  async (t) => {
    const { sim, pipeline, direct: writer } = await rig(t);
    const first = await runThrough(pipeline, USERS);
    t.equal(first.note, 'miss');
    const second = await runThrough(pipeline, USERS);
    t.equal(second.note, 'hit');
    t.equal(sim.counters.commands['/ip/hotspot/user/print'], 1, 'one print reached the router');
    t.equal(second.sink.sentences.length, 21);
    const straight = await runDirect(writer, USERS);
    t.same(
      untagged(second.sink.sentences),
      untagged(straight),
      'identical to a direct print but for the tag',
    );

    const empty = ['/ip/hotspot/user/print', '?name=nobody'];
    await runThrough(pipeline, empty);
    const again = await runThrough(pipeline, empty);
    t.equal(again.note, 'hit');
    t.same(
      again.sink.texts.map((s) => s.split(' ')[0]),
      ['!empty', '!done'],
      "7.18's !empty is kept as it came",
    );
  },
);

t.test(
  'against the simulator: a change made around rosgate reaches the cache through listen',
  async (t) => {
    const { sim, cache, pipeline, direct: writer } = await rig(t);
    const before = await runThrough(pipeline, USERS);
    await eventually(() => sim.activeStreams() === 1, 'the listen to run on the router');
    t.equal(sim.activeStreams(), 1, 'the listen runs on the router');
    t.equal((await runThrough(pipeline, USERS)).note, 'hit');

    const id = before.sink.sentences[0]?.attributeString('.id') as string;
    await runDirect(writer, ['/ip/hotspot/user/set', `=.id=${id}`, '=comment=changed by winbox']);
    await eventually(
      () => (cache.stats()['r1']?.invalidations ?? 0) > 0,
      'the listen to report the change',
    );
    t.ok((cache.stats()['r1']?.invalidations ?? 0) > 0, 'the listen reported the change');

    const after = await runThrough(pipeline, USERS);
    t.equal(after.note, 'miss');
    t.equal(after.sink.sentences[0]?.attributeString('comment'), 'changed by winbox');
    t.equal(sim.counters.commands['/ip/hotspot/user/print'], 2);

    cache.close();
    await eventually(() => sim.activeStreams() === 0, 'close to cancel the listen');
    t.equal(sim.activeStreams(), 0, 'close cancels the listen on the router');
  },
);

t.test(
  'against the simulator: a client that adds through rosgate then prints sees its add',
  async (t) => {
    const { pipeline } = await rig(t);
    await runThrough(pipeline, USERS);
    const add = await runThrough(pipeline, [
      '/ip/hotspot/user/add',
      '=name=voucher-1',
      '=password=x',
    ]);
    t.match(add.sink.texts, [/^!done \.tag=\w+ =ret=\*/]);
    const after = await runThrough(pipeline, USERS);
    t.equal(after.note, 'miss');
    t.ok(after.sink.sentences.some((s) => s.attributeString('name') === 'voucher-1'));
  },
);
