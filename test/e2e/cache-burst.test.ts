import t from 'tap';
import { encodeSentences } from '../../src/protocol/index.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

const USERS_PRINT = '/ip/hotspot/user/print';
/** A billing table print with no volatile property: kept for minutes. */
const USERS = [
  USERS_PRINT,
  '=.proplist=.id,name,password,profile,server,comment,mac-address,address,email,disabled',
];
/** The client's output bound: one reply fits in it, two do not. */
const BOUND = 1024 * 1024;

t.test(
  'a client that reads gets two large cached prints asked for in one write, and is not dropped',
  async (t) => {
    const stack = await startStack(t, {
      sim: { hotspotUsers: 5000 },
      config: { limits: { maxOutputBufferBytes: BOUND }, flow: { rateLimit: { enabled: false } } },
    });
    const c = await loggedIn(t, stack);
    const fill = await c.call([...USERS, '.tag=fill']);
    const replyBytes = fill.reduce((sum, s) => sum + s.byteLength, 0);
    t.ok(replyBytes > BOUND / 2 && replyBytes < BOUND, 'one reply fits in the bound, two do not');

    c.write(
      encodeSentences([
        [...USERS, '.tag=a'],
        [...USERS, '.tag=b'],
      ]),
    );
    const both = await c.untilDone('b');
    const cache = stack.app.cache.stats()[stack.router.config.name];
    t.match(cache, { misses: 1, hits: 2 }, 'both were answered from the cache');
    t.equal(stack.sim.counters.commands[USERS_PRINT], 1, 'one print reached the router');
    t.equal(stack.router.stats.slowClientDrops, 0, 'the client is not dropped');
    // Each reply whole, in order, on its own tag, byte for byte the router's but for the tag.
    const untagged = (tag: string): Buffer[] =>
      both.filter((s) => s.tagString === tag).map((s) => s.withTag(undefined));
    const router = fill.map((s) => s.withTag(undefined));
    t.same(untagged('a'), router, 'the first reply is the router reply');
    t.same(untagged('b'), router, 'the second reply is the router reply');
    t.equal(both.length, 2 * fill.length, 'nothing else came');
    t.equal(
      both.findIndex((s) => s.tagString === 'b'),
      fill.length,
      'the replies do not interleave',
    );
  },
);
