import t from 'tap';
import { Checker } from '../../src/config/index.js';

const checker = (origins: ReadonlyMap<string, string> = new Map()) =>
  new Checker(origins, {}, new Map());

t.test('a number is read in its range, fractions included; absent or null is the fallback', (t) => {
  const c = checker();
  t.equal(c.number({ ratio: 0.25 }, 'cache', 'ratio', 0, 1, 0.5), 0.25);
  t.equal(c.number({ ratio: 0 }, 'cache', 'ratio', 0, 1, 0.5), 0);
  t.equal(c.number({ ratio: 1 }, 'cache', 'ratio', 0, 1, 0.5), 1);
  t.equal(c.number({}, 'cache', 'ratio', 0, 1, 0.5), 0.5);
  t.equal(c.number({ ratio: null }, 'cache', 'ratio', 0, 1, 0.5), 0.5);
  t.same(c.problems, []);
  t.end();
});

t.test('a number out of range, not finite or not a number is a problem naming the range', (t) => {
  for (const ratio of [-0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '0.5', true]) {
    const c = checker();
    t.equal(c.number({ ratio }, 'cache', 'ratio', 0, 1, 0.5), undefined, String(ratio));
    t.same(c.problems, ['cache.ratio must be a number 0-1']);
  }
  t.end();
});

t.test('a number set by an environment variable is named by the variable', (t) => {
  const c = checker(new Map([['cache.ratio', 'CACHE_RATIO']]));
  c.number({ ratio: 2 }, 'cache', 'ratio', 0, 1, 0.5);
  t.same(c.problems, ['CACHE_RATIO must be a number 0-1']);
  t.end();
});

t.test('a list is returned as written; absent or null is an empty list', (t) => {
  const c = checker();
  const items = [1, 'two', { three: 3 }];
  t.equal(c.list({ items }, 'root', 'items'), items);
  t.same(c.list({}, 'root', 'items'), []);
  t.same(c.list({ items: null }, '', 'items'), []);
  t.same(c.problems, []);
  t.end();
});

t.test('anything but a list where a list belongs is a problem, at the root too', (t) => {
  const c = checker();
  t.equal(c.list({ items: 'one' }, 'root', 'items'), undefined);
  t.equal(c.list({ routers: { host: 'x' } }, '', 'routers'), undefined);
  t.same(c.problems, ['root.items must be a list', 'routers must be a list']);
  t.end();
});

t.test('a list of names is read as written; absent or null is a copy of the fallback', (t) => {
  const c = checker();
  const fallback = ['live'] as const;
  t.same(c.stringList({ names: ['ready', 'metrics'] }, 'monitoring', 'names', fallback), [
    'ready',
    'metrics',
  ]);
  for (const node of [{}, { names: null }]) {
    const names = c.stringList(node, 'monitoring', 'names', fallback);
    t.same(names, ['live']);
    t.not(names, fallback, 'the caller may change it without changing the fallback');
  }
  t.same(c.problems, []);
  t.end();
});

t.test(
  'a list of names with anything but non-empty strings is a problem; the fallback stands',
  (t) => {
    for (const names of ['live', ['live', ''], ['live', 3], [null]]) {
      const c = checker();
      t.same(c.stringList({ names }, 'monitoring', 'names', ['live']), ['live']);
      t.same(c.problems, ['monitoring.names must be a list of non-empty strings']);
    }
    t.end();
  },
);
