import t from 'tap';
import { encodeSentence } from '../../src/protocol/index.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startStack } from '../fixtures/stack.js';

// Docs/architecture.md.md invariants not already proven by the scenario tests.

t.test(
  'invariant 1: a print reaches the client byte for byte as the router sent it, but for the tag',
  async (t) => {
    const stack = await startStack(t, { sim: { hotspotUsers: 300 } });
    const login = { user: 'admin', password: 'secret' };
    const direct = await openRaw(t, stack.sim.port, login);
    const proxied = await openRaw(t, stack.port, login);
    const [fromRouter, throughRosgate] = await Promise.all(
      [direct, proxied].map(async (c) =>
        (await c.call(['/ip/hotspot/user/print', '.tag=p'])).map((s) =>
          s.withTag(undefined).toString('hex'),
        ),
      ),
    );
    t.equal(throughRosgate?.length, 301, 'every row and the done');
    t.same(throughRosgate, fromRouter);
  },
);

t.test('invariant 5: router traps are answers, not failures of the router session', async (t) => {
  const stack = await startStack(t);
  const c = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
  await c.call(['/ip/hotspot/user/add', '=name=taken', '=password=x', '.tag=0']);
  const opened = stack.router.pool.stats.opened;
  for (let i = 1; i <= 30; i++) {
    const [trap] = await c.call([
      '/ip/hotspot/user/add',
      '=name=taken',
      '=password=x',
      `.tag=${i}`,
    ]);
    t.match(String(trap), new RegExp(`^!trap \\.tag=${i} =message=failure: already have user`));
  }
  t.equal(stack.router.pool.stats.opened, opened, 'no router session was dropped or reopened');
});

t.test(
  'invariant 7: a client past the sentence limits is cut off without harm to others',
  async (t) => {
    const stack = await startStack(t, {
      config: { limits: { maxWordBytes: 1024, maxWordsPerSentence: 16, maxSentenceBytes: 4096 } },
    });
    const cases: [string, Buffer][] = [
      [
        'a word over maxWordBytes',
        encodeSentence(['/ip/hotspot/user/add', `=comment=${'x'.repeat(2000)}`]),
      ],
      [
        'too many words',
        encodeSentence([
          '/ip/hotspot/user/add',
          ...Array.from({ length: 20 }, (_, i) => `=a${i}=1`),
        ]),
      ],
      [
        'a sentence over maxSentenceBytes',
        encodeSentence(['/x', ...Array.from({ length: 8 }, () => `=c=${'y'.repeat(900)}`)]),
      ],
    ];
    const login = { user: 'admin', password: 'secret' };
    const good = await openRaw(t, stack.port, login);
    for (const [name, bytes] of cases) {
      const bad = await openRaw(t, stack.port, login);
      bad.write(bytes);
      t.same(text(await bad.untilClosed()), ['!fatal protocol error'], name);
    }
    t.equal(stack.router.stats.framingErrors, 3);
    t.equal(
      String((await good.call(['/system/identity/print', '.tag=g'])).at(-1)),
      '!done .tag=g',
      'other clients are unaffected',
    );
  },
);

t.test('invariant 8: passwords never reach the logs', async (t) => {
  const stack = await startStack(t, { sim: { password: 'router-S3cret' } });
  const c = await openRaw(t, stack.port);
  await c.call(['/login', '=name=admin', '=password=client-Wr0ng']);
  t.same(text(await c.login('admin', 'router-S3cret')), ['!done']);
  await c.call(['/ip/hotspot/user/add', '=name=v', '=password=voucher-Pw', '.tag=a']);
  await c.call(['/cancel', '.tag=c']);
  const logs = stack.logText();
  t.match(logs, /client logged in/, 'the log was written');
  for (const secret of ['router-S3cret', 'client-Wr0ng']) t.notMatch(logs, secret);
});
