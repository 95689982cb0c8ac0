import t from 'tap';
import {
  fillImpact,
  nameQueryOf,
  reaches,
  replyShape,
  reportedChange,
  writeChange,
  type ReplyShape,
} from '../../src/cache/row-change.js';
import { Sentence } from '../../src/protocol/index.js';
import { cacheHarness, commandOf, type CacheHarness } from '../fixtures/cache-fake-handler.js';

const USERS = '/ip/hotspot/user';
const LOOKUP_A = [`${USERS}/print`, '?name=a', '=.proplist=.id,name'];
const LOOKUP_B = [`${USERS}/print`, '?name=b', '=.proplist=.id,name'];
const TABLE = [`${USERS}/print`, '=.proplist=.id,name'];

const change = (...words: string[]) => writeChange(commandOf(words));

t.test('writeChange: which rows a write to a row-scoped menu changes, when it says', async (t) => {
  t.same(change(`${USERS}/add`, '=name=Voucher-1', '=password=x'), {
    kind: 'named',
    ids: [],
    name: 'voucher-1',
  });
  t.equal(change(`${USERS}/add`, '=password=x'), undefined, 'an add without a name');
  t.same(change(`${USERS}/remove`, '=.id=*1,*A2'), { kind: 'removed', ids: ['*1', '*A2'] });
  t.same(change(`${USERS}/remove`, '=numbers=*3'), { kind: 'removed', ids: ['*3'] });
  t.equal(change(`${USERS}/remove`, '=numbers=alice'), undefined, 'a name is not an id');
  t.equal(change(`${USERS}/remove`), undefined, 'no row named');
  t.same(change(`${USERS}/set`, '=.id=*1', '=comment=x'), { kind: 'kept-name', ids: ['*1'] });
  t.same(change(`${USERS}/set`, '=.id=*1', '=name=New'), {
    kind: 'named',
    ids: ['*1'],
    name: 'new',
  });
  for (const verb of ['enable', 'disable', 'reset-counters', 'comment'])
    t.same(change(`${USERS}/${verb}`, '=.id=*1'), { kind: 'kept-name', ids: ['*1'] }, verb);
  for (const verb of ['unset', 'move', 'frobnicate'])
    t.equal(change(`${USERS}/${verb}`, '=.id=*1', '=value-name=name'), undefined, verb);
});

t.test('reportedChange: what a listen reply says about the changed row', async (t) => {
  const report = (...words: string[]) => reportedChange(Sentence.from(['!re', ...words]));
  t.same(report('=.id=*5', '=.dead=yes'), { kind: 'removed', ids: ['*5'] });
  t.same(report('=.id=*5', '=.dead=true', '=name=x'), { kind: 'removed', ids: ['*5'] });
  t.same(report('=.id=*5', '=name=Bob'), { kind: 'named', ids: ['*5'], name: 'bob' });
  t.equal(report('=.id=*5'), undefined, 'no name: anything may have changed');
  t.equal(report('=.id=*5', '=.dead=no'), undefined);
  t.equal(report('=name=x'), undefined, 'no id');
  t.equal(report('=.id=5', '=name=x'), undefined, 'not an id');
});

t.test('nameQueryOf: only a print filtered by ?name= alone has a name filter', async (t) => {
  const of = (...words: string[]) => nameQueryOf(Sentence.from([`${USERS}/print`, ...words]));
  t.equal(of('?name=Alice'), 'alice');
  t.equal(of('?name=Alice', '=.proplist=name', '=count-only=', '.tag=7'), 'alice');
  t.equal(of(), undefined, 'no filter');
  t.equal(of('?name=a', '?name=b', '?#|'), undefined, 'a stack program');
  t.equal(of('?comment=a'), undefined);
  t.equal(of('?=name=a'), undefined, 'another spelling is not trusted');
  t.equal(of('?name=a', '=from=*1'), undefined, 'from selects rows too');
  t.equal(of('?name=a', 'detail'), undefined, 'a word of unknown meaning');
});

t.test(
  "replyShape: the ids a reply shows, unknown when a row hides them or it's a count",
  async (t) => {
    const shape = (print: string[], ...rows: string[][]): ReplyShape =>
      replyShape(
        Sentence.from(print),
        rows.map((words) => Sentence.from(words)),
      );
    t.same(shape(LOOKUP_A, ['!re', '=.id=*1', '=name=a']), {
      ids: new Set(['*1']),
      nameQuery: 'a',
    });
    t.same(shape(LOOKUP_A, ['!empty']), { ids: new Set(), nameQuery: 'a' });
    t.same(shape([`${USERS}/print`, '=.proplist=name'], ['!re', '=name=a']), {
      ids: undefined,
      nameQuery: undefined,
    });
    t.same(shape([`${USERS}/print`, '=count-only=', '?name=a']), {
      ids: undefined,
      nameQuery: 'a',
    });
    // The whole menu: every change to a row reaches it, so its ids are not read.
    const whole = [`${USERS}/print`, '=.proplist=.id,name', '.tag=9'];
    t.same(shape(whole, ['!re', '=.id=*1', '=name=a'], ['!re', '=.id=*2', '=name=b']), {
      ids: undefined,
      nameQuery: undefined,
    });
    t.same(
      shape([`${USERS}/print`, '=from=*1'], ['!re', '=.id=*1', '=name=a']),
      {
        ids: new Set(['*1']),
        nameQuery: undefined,
      },
      'from selects rows: its ids are kept',
    );
    t.same(
      shape([`${USERS}/print`, '?comment=x'], ['!re', '=.id=*2', '=name=b']),
      {
        ids: new Set(['*2']),
        nameQuery: undefined,
      },
      'so does a query',
    );
    t.ok(
      reaches({ kind: 'kept-name', ids: ['*7'] }, shape(whole, ['!re', '=.id=*1', '=name=a'])),
      'a change to any row reaches the whole menu',
    );
  },
);

t.test('reaches and fillImpact: what a one-row change can make wrong', async (t) => {
  const lookup = (ids: string[] | undefined, nameQuery: string | undefined): ReplyShape => ({
    ids: ids === undefined ? undefined : new Set(ids),
    nameQuery,
  });
  const removed = { kind: 'removed', ids: ['*1'] } as const;
  const keptName = { kind: 'kept-name', ids: ['*1'] } as const;
  const added = { kind: 'named', ids: [], name: 'x' } as const;
  const renamed = { kind: 'named', ids: ['*1'], name: 'x' } as const;
  t.ok(reaches(removed, lookup(['*1'], 'a')), 'a reply that shows the row');
  t.notOk(reaches(removed, lookup(['*2'], undefined)), 'a removed row enters no reply');
  t.ok(reaches(removed, lookup(undefined, 'a')), 'a count may have counted it');
  t.notOk(reaches(keptName, lookup(['*2'], 'a')), 'its name still does not match');
  t.ok(reaches(keptName, lookup(['*2'], undefined)), 'another filter may match it now');
  t.notOk(reaches(added, lookup(undefined, 'a')), 'a new row named x is no a');
  t.ok(reaches(added, lookup([], 'x')));
  t.ok(reaches(added, lookup(['*2'], undefined)), 'the whole table grows');
  t.ok(reaches(renamed, lookup(['*1'], 'a')), 'renamed away');
  t.ok(reaches(renamed, lookup(['*2'], 'x')), 'renamed into');

  t.equal(fillImpact(removed, undefined), 'ids');
  t.equal(fillImpact(keptName, 'a'), 'ids');
  t.equal(fillImpact(keptName, undefined), 'all');
  t.equal(fillImpact(added, 'a'), 'none');
  t.equal(fillImpact(added, 'x'), 'all');
  t.equal(fillImpact(renamed, 'a'), 'ids');
});

/** Prints `words` and answers with rows of `*id=name` pairs. */
function fill(h: CacheHarness, words: string[], ...rows: [id: string, name: string][]): void {
  h.send(words);
  for (const [id, name] of rows) h.router.last.reply('!re', `=.id=${id}`, `=name=${name}`);
  h.router.last.done();
}

const note = (h: CacheHarness, words: string[]) => h.send(words).context.notes.cache;

/** Lookups of a and b and the whole table kept. */
function kept(config: Record<string, unknown> = {}): CacheHarness {
  const h = cacheHarness(config);
  fill(h, LOOKUP_A, ['*1', 'a']);
  fill(h, LOOKUP_B, ['*2', 'b']);
  fill(h, TABLE, ['*1', 'a'], ['*2', 'b']);
  return h;
}

t.test(
  'a voucher add keeps the lookups of other names; the whole table and related menus go',
  async (t) => {
    const h = kept();
    fill(h, ['/ip/hotspot/active/print']);
    fill(h, [`${USERS}/print`, '?name=v1', '=.proplist=.id,name']);
    h.send([`${USERS}/add`, '=name=V1', '=password=x']);
    h.router.last.done('!done', '=ret=*3');
    t.equal(note(h, LOOKUP_A), 'hit');
    t.equal(note(h, LOOKUP_B), 'hit');
    t.match(h.cache.stats(), { r1: { invalidations: 3 } }, 'the table, v1 and the active sessions');
    t.equal(note(h, [`${USERS}/print`, '?name=v1', '=.proplist=.id,name']), 'miss');
  },
);

t.test('a remove or a set by id drops only the replies that show the row', async (t) => {
  const h = kept();
  fill(h, [`${USERS}/print`, '?comment=vip', '=.proplist=.id,name']);
  h.send([`${USERS}/remove`, '=.id=*2']);
  h.router.last.done();
  t.equal(note(h, LOOKUP_A), 'hit');
  t.equal(note(h, [`${USERS}/print`, '?comment=vip', '=.proplist=.id,name']), 'hit');
  t.equal(note(h, LOOKUP_B), 'miss');
  h.router.last.done();
  t.equal(note(h, TABLE), 'miss');
  h.router.last.done();

  h.send([`${USERS}/set`, '=.id=*1', '=comment=vip']);
  h.router.last.done();
  t.equal(note(h, LOOKUP_A), 'miss', 'it shows *1');
  h.router.last.done();
  t.equal(note(h, LOOKUP_B), 'hit', 'b still is not *1');
  t.equal(
    note(h, [`${USERS}/print`, '?comment=vip', '=.proplist=.id,name']),
    'miss',
    'may match now',
  );
});

t.test('a write the cache cannot read, or on a menu not row-scoped, drops the menu', async (t) => {
  const h = kept();
  h.send([`${USERS}/remove`, '=numbers=a']);
  t.equal(h.cache.stats()['r1']?.entries, 0);
  const off = kept({ rowScoped: [] });
  off.send([`${USERS}/add`, '=name=v1']);
  t.equal(off.cache.stats()['r1']?.entries, 0, 'rowScoped [] turns it off');
});

t.test('the listen reports drop only what the reported row can reach', async (t) => {
  const h = kept({ listen: { paths: [USERS] } });
  const listen = h.router.of(`${USERS}/listen`)[0];
  listen?.reply('!re', '=.id=*9', '=name=new');
  t.equal(note(h, LOOKUP_A), 'hit', 'a row named new is no a');
  listen?.reply('!re', '=.id=*2', '=.dead=yes');
  t.equal(note(h, LOOKUP_B), 'miss');
  h.router.last.done();
  t.equal(note(h, LOOKUP_A), 'hit');
  listen?.reply('!re', '=.id=*1');
  t.equal(h.cache.stats()['r1']?.entries, 0, 'a report without a name drops the menu');
});

t.test('a print on its way when a known row changes', async (t) => {
  t.test(
    'is kept when its rows turn out not to show the row, but not shared meanwhile',
    async (t) => {
      const h = cacheHarness();
      h.send(LOOKUP_A);
      const print = h.router.last;
      h.send([`${USERS}/remove`, '=.id=*2']);
      h.router.last.done();
      t.equal(note(h, LOOKUP_A), 'miss', 'a new print does not join it');
      const second = h.router.last;
      print.reply('!re', '=.id=*1', '=name=a');
      print.done();
      const hit = h.send(LOOKUP_A);
      t.equal(hit.context.notes.cache, 'hit');
      t.same(hit.sink.texts, ['!re =.id=*1 =name=a', '!done']);
      second.done();
    },
  );
  t.test('is not kept when its rows show the row', async (t) => {
    const h = cacheHarness();
    h.send(LOOKUP_B);
    const print = h.router.last;
    h.send([`${USERS}/set`, '=.id=*2', '=comment=x']);
    h.router.last.done();
    print.reply('!re', '=.id=*2', '=name=b');
    print.done();
    t.equal(h.cache.stats()['r1']?.entries, 0);
  });
  t.test('is untouched by an add of another name, and given up for its own', async (t) => {
    const h = cacheHarness();
    h.send(LOOKUP_A);
    const print = h.router.last;
    h.send([`${USERS}/add`, '=name=v1']);
    h.router.last.done();
    t.equal(note(h, LOOKUP_A), 'coalesced');
    h.send([`${USERS}/add`, '=name=A']);
    h.router.last.done();
    print.done();
    t.equal(h.cache.stats()['r1']?.entries, 0);
  });
  t.test('is given up when it has another filter', async (t) => {
    const h = cacheHarness();
    h.send(TABLE);
    const print = h.router.last;
    h.send([`${USERS}/enable`, '=.id=*7']);
    h.router.last.done();
    print.done();
    t.equal(h.cache.stats()['r1']?.entries, 0);
  });
});

t.test('a one-row change leaves prints of other menus alone', async (t) => {
  const h = cacheHarness();
  h.send(['/ip/pool/print']);
  const print = h.router.last;
  h.send([`${USERS}/remove`, '=.id=*1']);
  print.done();
  t.equal(note(h, ['/ip/pool/print']), 'hit');
});

t.test('on a watched menu that is not row-scoped, any report drops the menu', async (t) => {
  const h = cacheHarness({ listen: { paths: ['/ppp/profile'] } });
  fill(h, ['/ppp/profile/print', '?name=a', '=.proplist=.id,name'], ['*1', 'a']);
  h.router.of('/ppp/profile/listen')[0]?.reply('!re', '=.id=*2', '=name=b');
  t.equal(h.cache.stats()['r1']?.entries, 0);
});
