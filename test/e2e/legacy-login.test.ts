/**
 * Legacy challenge logins with no users configured: rosgate's own
 * router account is checked locally, a router before 6.45.1 checks other
 * users' answers to its own challenge, and a newer one cannot, which the
 * client is told.
 */
import t from 'tap';
import { computeResponse, type Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { startStack, type Stack } from '../fixtures/stack.js';

/** The legacy flow: a bare `/login`, then the name and the MD5 answer to the challenge. */
async function challengeLogin(c: RawClient, user: string, password: string): Promise<string[]> {
  const first: Sentence[] = await c.call(['/login']);
  const hex = first[0]?.attributeString('ret') ?? '';
  if (first.length !== 1 || !/^[0-9a-f]{32}$/.test(hex))
    throw new Error(`no challenge in ${text(first).join(' | ')}`);
  const response = computeResponse(password, Buffer.from(hex, 'hex'));
  return text(await c.call(['/login', `=name=${user}`, `=response=${response}`]));
}

const routerLogins = (stack: Stack): { ok: number; failed: number } => ({
  ok: stack.sim.counters.loginsOk,
  failed: stack.sim.counters.loginsFailed,
});

for (const version of ['7.19', '6.44']) {
  t.test(`the router account logs in with the challenge flow (RouterOS ${version})`, async (t) => {
    const stack = await startStack(t, { sim: { version } });
    await eventually(() => stack.router.pool.stats.ready === 1);
    const before = routerLogins(stack);
    const c = await openRaw(t, stack.port);
    t.same(await challengeLogin(c, 'admin', 'secret'), ['!done']);
    t.equal(
      String((await c.call(['/system/identity/print', '.tag=1'])).at(-1)),
      '!done .tag=1',
      'and works',
    );
    const wrong = await openRaw(t, stack.port);
    t.same(await challengeLogin(wrong, 'admin', 'guess'), [
      '!trap =message=invalid user name or password (6)',
      '!done',
    ]);
    if (version === '7.19')
      t.same(
        routerLogins(stack),
        before,
        'rosgate knows its own password: the router is not asked',
      );
  });
}

t.test('in front of RouterOS 6.44 a router user logs in with the challenge relayed', async (t) => {
  const stack = await startStack(t, { sim: { version: '6.44', users: { billing: 'bill-pw' } } });
  await eventually(() => stack.router.pool.stats.ready === 1);
  const before = routerLogins(stack);
  const c = await openRaw(t, stack.port);
  t.same(await challengeLogin(c, 'billing', 'bill-pw'), ['!done']);
  t.equal(routerLogins(stack).ok, before.ok + 1, 'the router checked the answer');
  t.equal(
    String((await c.call(['/system/identity/print', '.tag=1'])).at(-1)),
    '!done .tag=1',
    'the session works',
  );

  const wrong = await openRaw(t, stack.port);
  t.same(await challengeLogin(wrong, 'billing', 'guess'), [
    '!trap =message=invalid user name or password (6)',
    '!done',
  ]);
  t.equal(routerLogins(stack).failed, before.failed + 1, 'the router refused the answer');
  await eventually(
    () => stack.sim.counters.sessionsNow === 1,
    'the relay connections to close, leaving the pool session',
  );
});

t.test(
  'in front of RouterOS 7.x a router user using the challenge is told what to configure',
  async (t) => {
    const stack = await startStack(t, { sim: { version: '7.19', users: { billing: 'bill-pw' } } });
    await eventually(() => stack.router.pool.stats.ready === 1);
    const c = await openRaw(t, stack.port);
    t.same(await challengeLogin(c, 'billing', 'bill-pw'), [
      '!trap =message=legacy login needs a rosgate user with a plaintext secret: see users in config.yaml',
      '!done',
    ]);
    t.same(
      text(await c.login('billing', 'bill-pw')),
      ['!done'],
      'the plain login still works on the same connection',
    );
    t.match(
      stack.logs.filter((l) => String(l.msg).includes('legacy challenge login')),
      [{ level: 40, user: 'billing' }],
      'the log says why',
    );
  },
);
