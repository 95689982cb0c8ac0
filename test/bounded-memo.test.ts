import t from 'tap';
import { boundedMemo } from '../src/bounded-memo.js';

t.test('a memo computes a key once, up to its bound, and each time past it', async (t) => {
  const computed: string[] = [];
  const lengthOf = boundedMemo(2, (key) => {
    computed.push(key);
    return key.length;
  });
  t.equal(lengthOf('a'), 1);
  t.equal(lengthOf('bb'), 2);
  t.equal(lengthOf('a'), 1);
  t.equal(lengthOf('ccc'), 3);
  t.equal(lengthOf('ccc'), 3);
  t.same(
    computed,
    ['a', 'bb', 'ccc', 'ccc'],
    'a and bb are remembered; ccc, past the bound, is not',
  );
});

t.test('a remembered undefined is not computed again', async (t) => {
  let calls = 0;
  const nothing = boundedMemo(4, () => {
    calls++;
    return undefined;
  });
  nothing('x');
  nothing('x');
  t.equal(calls, 1);
});
