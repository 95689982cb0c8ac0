import t from 'tap';
import { CachedReply } from '../../src/cache/cached-reply.js';
import { ReplyStore } from '../../src/cache/reply-store.js';
import { reaches, type ReplyShape, type RowChange } from '../../src/cache/row-change.js';
import { Sentence } from '../../src/protocol/index.js';

const USERS = '/ip/hotspot/user';
const DONE = Sentence.from(['!done']);
const TIMES = { storedAt: 0, expiresAt: 1000 };

function replyOf(path: string, shape: ReplyShape): CachedReply {
  return CachedReply.of(path, shape, [], DONE, TIMES, false);
}

/** A seeded generator (mulberry32), so a failure can be replayed from its seed. */
function randomFrom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const IDS = ['*1', '*2', '*3', '*4', '*A'];
const NAMES = ['a', 'b', 'c'];

t.test('a row change drops exactly the replies of its menu that it can reach', async (t) => {
  const seed = 19;
  const random = randomFrom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const idsOf = (): string[] => IDS.filter(() => random() < 0.3);
  for (let round = 0; round < 200; round++) {
    const store = new ReplyStore({ maxEntries: 1000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
    const shapes = new Map<string, ReplyShape>();
    for (let i = 0; i < 12; i++) {
      const shape: ReplyShape = {
        ids: random() < 0.2 ? undefined : new Set(idsOf()),
        nameQuery: random() < 0.4 ? undefined : pick(NAMES),
      };
      const key = `k${i % 10}`; // some keys are set twice: the newer reply replaces the older
      shapes.set(key, shape);
      store.set(key, replyOf(USERS, shape));
    }
    // Another menu's replies are never reached.
    store.set('other', replyOf('/ppp/secret', { ids: undefined, nameQuery: undefined }));
    const kind = pick(['named', 'removed', 'kept-name'] as const);
    const change: RowChange =
      kind === 'named'
        ? { kind, ids: idsOf(), name: pick(NAMES) }
        : { kind, ids: random() < 0.2 ? [] : idsOf() };
    const expected = [...shapes].filter(([, shape]) => reaches(change, shape)).map(([k]) => k);
    const dropped = store.dropReached(USERS, change);
    const kept = [...shapes.keys()].filter((key) => store.get(key) !== undefined);
    t.equal(dropped, expected.length, `seed ${seed} round ${round}: count`);
    t.same(
      kept.sort(),
      [...shapes.keys()].filter((key) => !expected.includes(key)).sort(),
      `seed ${seed} round ${round}: what is left`,
    );
    t.not(store.get('other'), undefined, 'the other menu keeps its reply');
  }
});

t.test('a change to a menu with nothing kept drops nothing', async (t) => {
  const store = new ReplyStore({ maxEntries: 10, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
  t.equal(store.dropReached(USERS, { kind: 'removed', ids: ['*1'] }), 0);
});

t.test(
  'a reply pushed out or deleted leaves the index: a later change does not count it',
  async (t) => {
    const store = new ReplyStore({ maxEntries: 1, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
    store.set('a', replyOf(USERS, { ids: new Set(['*1']), nameQuery: 'a' }));
    store.set('b', replyOf(USERS, { ids: new Set(['*1']), nameQuery: 'b' }));
    t.equal(store.evictions, 1);
    t.equal(store.dropReached(USERS, { kind: 'removed', ids: ['*1'] }), 1, 'only b was kept');
    store.set('c', replyOf(USERS, { ids: undefined, nameQuery: undefined }));
    store.delete('c');
    t.equal(store.dropReached(USERS, { kind: 'named', ids: ['*1'], name: 'c' }), 0);
    t.equal(store.size, 0);
  },
);
