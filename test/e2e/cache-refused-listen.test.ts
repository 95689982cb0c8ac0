/**
 * Through the whole pipeline, every stage at its default: a
 * router that refuses the cache's `listen` (with `.proplist`, or always)
 * still gets its users table served from the cache, with at most one warning,
 * and a client that writes through rosgate then prints sees its write.
 */
import t from 'tap';
import type { RefuseListen } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { text } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

const USERS = ['/ip/hotspot/user/print', '=.proplist=.id,name,comment'];

const cacheStats = (stack: Stack) => stack.app.cache.stats()['default'];

const refusedWarnings = (stack: Stack): Record<string, unknown>[] =>
  stack.logs.filter(
    (line) => line['level'] === 40 && String(line['msg']).startsWith('cache listen'),
  );

const CASES: [RefuseListen, { active: number; refused: number; warnings: number }][] = [
  ['proplist', { active: 1, refused: 0, warnings: 0 }],
  ['always', { active: 0, refused: 1, warnings: 1 }],
];

for (const [refuseListen, want] of CASES) {
  t.test(`a router refusing listen (${refuseListen}) keeps the cache serving`, async (t) => {
    const stack = await startStack(t, { sim: { refuseListen } });
    const c = await loggedIn(t, stack);
    const first = await c.call([...USERS, '.tag=1']);
    await eventually(
      () => stack.sim.counters.commands['/ip/hotspot/user/listen'] === 2,
      'the listen to be sent again without .proplist',
    );
    await eventually(
      () =>
        cacheStats(stack)?.listensActive === want.active &&
        cacheStats(stack)?.listensRefused === want.refused,
      'the listen to settle',
    );
    let hits = cacheStats(stack)?.hits ?? 0;
    for (let i = 0; i < 3 && (cacheStats(stack)?.hits ?? 0) === hits; i++)
      await c.call([...USERS, '.tag=2']);
    t.ok((cacheStats(stack)?.hits ?? 0) > hits, 'prints are answered from the cache again');
    hits = cacheStats(stack)?.hits ?? 0;
    t.same(text(await c.call([...USERS, '.tag=1'])), text(first), 'the same reply');
    t.equal(cacheStats(stack)?.hits, hits + 1);
    t.equal(refusedWarnings(stack).length, want.warnings);

    const id = first[0]?.attributeString('.id') as string;
    await c.call(['/ip/hotspot/user/set', `=.id=${id}`, '=comment=paid', '.tag=w']);
    const after = await c.call([...USERS, '.tag=3']);
    t.equal(
      after.find((s) => s.attributeString('.id') === id)?.attributeString('comment'),
      'paid',
      'a print after a write through rosgate shows it',
    );
  });
}
