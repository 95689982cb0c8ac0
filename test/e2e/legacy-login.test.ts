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

/** The challenge each connection got for its bare `/login`. */
const challenges = new WeakMap<RawClient, string>();

/** The legacy flow's second step, on a connection that already has its challenge. */
async function challengeLoginWith(c: RawClient, user: string, password: string): Promise<string[]> {
  const hex = challenges.get(c) ?? '';
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

t.test(
  'clients that ask for challenges and never answer hold at most maxRelayedLoginChallenges router sessions',
  async (t) => {
    const stack = await startStack(t, {
      sim: { version: '6.44.6', maxSessions: 20, users: { billing: 'bill-pw' } },
      router: { pool: { min: 1, max: 1 } },
      config: { limits: { maxRelayedLoginChallenges: 2 } },
    });
    await eventually(() => stack.router.pool.stats.ready === 1);
    const idle: RawClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await openRaw(t, stack.port);
      const answer = text(await c.call(['/login']));
      t.equal(answer.length, 1, `client ${i} gets exactly one sentence`);
      t.match(answer[0], /^!done =ret=[0-9a-f]{32}$/, `client ${i} gets a challenge`);
      challenges.set(c, String(answer[0]).slice('!done =ret='.length));
      idle.push(c);
    }
    t.ok(
      stack.sim.counters.sessionsPeak <= 3,
      `router sessions: the pool's one and two relays at most (peak ${stack.sim.counters.sessionsPeak})`,
    );

    const legit = await openRaw(t, stack.port);
    t.same(text(await legit.login('billing', 'bill-pw')), ['!done'], 'a real login still succeeds');

    const [relayed, , beyond, service] = idle as [RawClient, RawClient, RawClient, RawClient];
    const refused = text(
      await beyond.call(['/login', '=name=billing', `=response=00${'0'.repeat(32)}`]),
    );
    t.same(
      refused,
      [
        '!trap =message=too many legacy logins under way (limit 2): try again, or log in with =password=',
        '!done',
      ],
      "a router user's answer to rosgate's own challenge is refused, saying why",
    );
    t.same(
      text(await beyond.login('billing', 'bill-pw')),
      ['!done'],
      'the plain login works on that connection',
    );
    t.same(
      await challengeLoginWith(service, 'admin', 'secret'),
      ['!done'],
      "the service account answers rosgate's own challenge",
    );
    t.same(
      await challengeLoginWith(relayed, 'billing', 'bill-pw'),
      ['!done'],
      'a relayed challenge is still checked by the router',
    );
    await eventually(
      () => stack.sim.counters.sessionsNow <= 2,
      'the answered relay to close, leaving the pool session and the other relay',
    );
  },
);
