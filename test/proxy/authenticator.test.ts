import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import {
  RouterAuthenticator,
  UserListAuthenticator,
  isBeforePlainOnlyLogin,
  type RouterAuthenticatorOptions,
} from '../../src/proxy/authenticator.js';
import { readClientText } from '../../src/protocol/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';

function setup(t: { teardown(fn: () => unknown): void }) {
  return setupWith(t, {});
}

async function setupWith(
  t: { teardown(fn: () => unknown): void },
  options: Partial<RouterAuthenticatorOptions>,
  routerUsers: Record<string, string> = {},
) {
  const sim = await startSimulator({ user: 'billing', password: 'pw', users: routerUsers });
  t.teardown(() => sim.close());
  let now = 1_000;
  const auth = new RouterAuthenticator({
    connect: (username, password) =>
      new UpstreamConnection({
        host: '127.0.0.1',
        port: sim.port,
        username,
        password,
        timeoutMs: 2000,
      }),
    ttlMs: 100,
    now: () => now,
    ...options,
  });
  return { sim, auth, advance: (ms: number) => (now += ms) };
}

const pw = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('the router decides, and a success is remembered until its time is up', async (t) => {
  const { sim, auth, advance } = await setup(t);
  t.equal(await auth.verifyPassword('billing', pw('wrong')), false);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(sim.counters.loginsOk, 1, 'the second check was answered from memory');
  t.equal(
    await auth.verifyPassword('billing', pw('other')),
    false,
    'a remembered login does not admit another password',
  );
  advance(100);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(sim.counters.loginsOk, 2, 'after the time is up the router is asked again');
  t.same(auth.secretsFor('billing'), [], 'the router never reveals a secret');
});

t.test('identical logins arriving together share one router check', async (t) => {
  const { sim, auth } = await setup(t);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => auth.verifyPassword('billing', pw('pw'))),
  );
  t.same(results, [true, true, true, true, true]);
  t.equal(sim.counters.loginsOk, 1);
});

t.test('the oldest remembered login is dropped past the bound', async (t) => {
  let logins = 0;
  // A router that admits everyone, counting logins.
  const port = await fakeRouter(t, (s, reply) => {
    if (s.command === '/login') logins++;
    reply('!done', tagOf(s));
  });
  const auth = new RouterAuthenticator({
    connect: (username, password) =>
      new UpstreamConnection({ host: '127.0.0.1', port, username, password, timeoutMs: 2000 }),
    ttlMs: 60_000,
    maxEntries: 1,
  });
  await auth.verifyPassword('a', pw('1'));
  await auth.verifyPassword('b', pw('2'));
  await auth.verifyPassword('b', pw('2'));
  t.equal(logins, 2, 'b is remembered');
  await auth.verifyPassword('a', pw('1'));
  t.equal(logins, 3, 'a was dropped to keep the bound');
});

t.test('an unreachable router is an error, not a refusal', async (t) => {
  const { sim, auth } = await setup(t);
  sim.faults.refuseConnections = true;
  await t.rejects(auth.verifyPassword('billing', pw('pw')), {
    code: ErrorCode.UpstreamClosed,
    message: 'cannot verify the login: router unavailable',
  });
});

t.test('configured users are checked by their own verifier', async (t) => {
  const auth = new UserListAuthenticator([
    { name: 'a', verify: async (p) => p.equals(pw('x')), secret: pw('x') },
  ]);
  t.equal(await auth.verifyPassword('a', pw('x')), true);
  t.equal(await auth.verifyPassword('a', pw('y')), false);
  t.equal(await auth.verifyPassword('b', pw('x')), false, 'an unknown user is refused');
  t.same(auth.secretsFor('a'), [pw('x')]);
  t.same(auth.secretsFor('b'), []);
});

t.test(
  "a configured user's password is read as text, as names are: UTF-8, or windows-1252 when it is not UTF-8",
  async (t) => {
    const given: Buffer[] = [];
    const secret = Buffer.from('caf\u00e9', 'utf8');
    const auth = new UserListAuthenticator([
      { name: 'a', verify: async (p) => (given.push(p), p.equals(secret)), secret },
      { name: 'b', verify: async () => false, secret: Buffer.from('Žluť', 'utf8') },
    ]);
    t.equal(await auth.verifyPassword('a', secret), true, 'UTF-8 bytes as they came');
    t.equal(
      await auth.verifyPassword('a', Buffer.from('caf\u00e9', 'latin1')),
      true,
      'windows-1252',
    );
    t.same(given, [secret, secret], 'the verifier sees the UTF-8 of the text both times');
    t.same(
      auth.secretsFor('a'),
      [secret, Buffer.from('caf\u00e9', 'latin1')],
      'a challenge may be answered over either spelling',
    );
    t.same(
      auth.secretsFor('b'),
      [Buffer.from('Žluť', 'utf8')],
      'text windows-1252 cannot write (ť) has its UTF-8 spelling alone',
    );
  },
);

t.test(
  "an unknown name and a refused plaintext user run a hashed user's check too, so timing tells no names",
  async (t) => {
    const checked: string[] = [];
    const user = (name: string, secret?: string) => ({
      name,
      verify: async (p: Buffer) => {
        checked.push(`${name}:${p.toString()}`);
        return p.equals(pw('right'));
      },
      ...(secret === undefined ? {} : { secret: pw(secret) }),
    });
    const hashed = new UserListAuthenticator([user('plain', 'right'), user('hashed')]);
    t.equal(
      await hashed.verifyPassword('nobody', pw('right')),
      false,
      'refused, whatever the password',
    );
    t.same(checked, ['hashed:right'], 'the check of a user without a plaintext secret ran');
    checked.length = 0;
    t.equal(await hashed.verifyPassword('plain', pw('wrong')), false);
    t.same(
      checked,
      ['plain:wrong', 'hashed:wrong'],
      "a plaintext user's refusal costs the slow check too: timing tells no plaintext names",
    );
    checked.length = 0;
    t.equal(await hashed.verifyPassword('hashed', pw('wrong')), false);
    t.same(checked, ['hashed:wrong'], "a hashed user's refusal was slow already: one check");
    checked.length = 0;
    t.equal(await hashed.verifyPassword('plain', pw('right')), true);
    t.same(checked, ['plain:right'], 'a success runs only its own check');
    checked.length = 0;
    const plain = new UserListAuthenticator([user('first', 'right'), user('second', 'right')]);
    t.equal(await plain.verifyPassword('nobody', pw('x')), false);
    t.same(checked, ['first:x'], "with plaintext secrets only, the first user's check ran");
    t.equal(
      await new UserListAuthenticator([]).verifyPassword('nobody', pw('x')),
      false,
      'with no users there is nothing to hide',
    );
  },
);

/**
 * A router that holds every login answer until the test lets it go, and
 * says how many logins it held at once.
 */
async function heldRouter(t: { teardown(fn: () => unknown): void }) {
  const held: (() => void)[] = [];
  const router = {
    held,
    peak: 0,
    logins: [] as string[],
    release: () => held.splice(0).forEach((f) => f()),
  };
  const port = await fakeRouter(t, (s, reply) => {
    if (s.command !== '/login') return reply('!done', tagOf(s));
    const name = s.attributeString('name') ?? '';
    router.logins.push(name);
    held.push(() =>
      s.attributeString('password') === 'good'
        ? reply('!done', tagOf(s))
        : reply('!trap', '=message=invalid user name or password (6)', tagOf(s)),
    );
    router.peak = Math.max(router.peak, held.length);
  });
  return { port, router };
}

function authFor(port: number, options: Partial<RouterAuthenticatorOptions> = {}) {
  return new RouterAuthenticator({
    connect: (username, password) =>
      new UpstreamConnection({ host: '127.0.0.1', port, username, password, timeoutMs: 2000 }),
    ttlMs: 60_000,
    ...options,
  });
}

t.test('logins are checked a few at a time, the rest wait their turn', async (t) => {
  const { port, router } = await heldRouter(t);
  const auth = authFor(port, { maxConcurrentChecks: 2 });
  const results = Array.from({ length: 5 }, (_, i) => auth.verifyPassword(`u${i}`, pw('good')));
  await eventually(() => router.held.length === 2, 'two checks to reach the router');
  t.same(auth.checks, { waiting: 3, running: 2 }, 'three more wait');
  while (router.logins.length < 5 || router.held.length > 0) {
    router.release();
    await eventually(() => router.held.length > 0 || router.logins.length === 5);
  }
  t.same(await Promise.all(results), [true, true, true, true, true]);
  t.equal(router.peak, 2, 'never more than two at once');
  t.same(auth.checks, { waiting: 0, running: 0 });
});

t.test('a check whose client has gone is dropped before it reaches the router', async (t) => {
  const { port, router } = await heldRouter(t);
  const auth = authFor(port, { maxConcurrentChecks: 1 });
  const first = auth.verifyPassword('a', pw('good'));
  await eventually(() => router.held.length === 1);
  let isWanted = true;
  const gone = auth.verifyPassword('b', pw('good'), () => isWanted);
  t.same(auth.checks, { waiting: 1, running: 1 });
  isWanted = false;
  router.release();
  t.equal(await first, true);
  await t.rejects(gone, {
    code: ErrorCode.Interrupted,
    message: 'the client left before its login was checked',
  });
  t.same(router.logins, ['a'], "the gone client's login never reached the router");
});

t.test('a check shared with a client still waiting goes on when another leaves', async (t) => {
  const { port, router } = await heldRouter(t);
  const auth = authFor(port, { maxConcurrentChecks: 1 });
  const first = auth.verifyPassword('a', pw('good'));
  await eventually(() => router.held.length === 1);
  const left = auth.verifyPassword('b', pw('good'), () => false);
  const stays = auth.verifyPassword('b', pw('good'), () => true);
  router.release();
  await first;
  await eventually(() => router.held.length === 1, 'the shared check to reach the router');
  router.release();
  t.same(await Promise.all([left, stays]), [true, true]);
  t.same(router.logins, ['a', 'b'], 'one router login for both');
});

t.test('a refused password is remembered briefly, so retries skip the router', async (t) => {
  const { sim, auth, advance } = await setupWith(t, { failureTtlMs: 50 });
  t.equal(await auth.verifyPassword('billing', pw('wrong')), false);
  t.equal(await auth.verifyPassword('billing', pw('wrong')), false);
  t.equal(sim.counters.loginsFailed, 1, 'the retry was answered from memory');
  t.equal(await auth.verifyPassword('billing', pw('pw')), true, 'the right password still works');
  t.equal(await auth.verifyPassword('billing', pw('wrong')), false);
  t.equal(sim.counters.loginsFailed, 2, 'a success forgets the remembered failure');
  advance(50);
  t.equal(await auth.verifyPassword('billing', pw('wrong')), false);
  t.equal(sim.counters.loginsFailed, 3, 'after its time the router is asked again');
});

t.test('with no failure memory every wrong password reaches the router', async (t) => {
  const { sim, auth } = await setupWith(t, { failureTtlMs: 0 });
  await auth.verifyPassword('billing', pw('wrong'));
  await auth.verifyPassword('billing', pw('wrong'));
  t.equal(sim.counters.loginsFailed, 2);
});

t.test("rosgate's own account is checked without the router", async (t) => {
  const { sim, auth } = await setupWith(t, {
    serviceAccount: { name: 'svc', password: 'svc-pw' },
  });
  t.equal(await auth.verifyPassword('svc', pw('svc-pw')), true);
  t.equal(await auth.verifyPassword('svc', pw('other')), false);
  t.same(auth.secretsFor('svc'), [pw('svc-pw')], 'its secret is known for challenge logins');
  t.equal(sim.counters.loginsOk + sim.counters.loginsFailed, 0, 'the router was not asked');
});

t.test("rosgate's own account in a code page is known by the bytes the router holds", async (t) => {
  const name = '\u043e\u043f';
  const nameBytes = Buffer.from('eef0', 'hex'); // оп in windows-1251
  const password = Buffer.from('efe0f0eeebfc', 'hex'); // пароль in windows-1251
  const { sim, auth } = await setupWith(t, { serviceAccount: { name, nameBytes, password } });
  // The client's windows-1251 bytes read as windows-1252 text: not the name, but its bytes.
  const asText = readClientText(nameBytes);
  t.equal(await auth.verifyPassword(asText, password, undefined, nameBytes), true);
  t.equal(
    await auth.verifyPassword(
      name,
      Buffer.from('\u043f\u0430\u0440\u043e\u043b\u044c'),
      undefined,
      Buffer.from(name),
    ),
    false,
    'the name as UTF-8 text is the account too, but the password must be the bytes the router holds',
  );
  t.same(auth.secretsFor(asText, nameBytes), [password]);
  t.same(auth.secretsFor(asText), [], 'without the bytes, the text alone does not name it');
  t.equal(sim.counters.loginsOk + sim.counters.loginsFailed, 0, 'the router was not asked');
});

t.test('the router checks the bytes a client sent, and is remembered by them', async (t) => {
  const { sim, auth } = await setupWith(t, {}, { 'jos\u00e9': 'pw' });
  const utf8 = Buffer.from('jos\u00e9', 'utf8');
  const latin1 = Buffer.from('jos\u00e9', 'latin1');
  t.equal(await auth.verifyPassword('jos\u00e9', pw('pw'), undefined, utf8), true);
  t.equal(
    await auth.verifyPassword('jos\u00e9', pw('pw'), undefined, latin1),
    false,
    'the same text in other bytes is another router user, asked anew',
  );
  t.equal(sim.counters.loginsFailed, 1, 'the router refused those bytes');
  t.equal(
    await auth.verifyPassword('jos\u00e9', pw('pw')),
    true,
    'bytes left out are the UTF-8 of the text',
  );
  t.equal(sim.counters.loginsOk, 1, 'and answered from memory');
});

t.test(
  "rosgate's own account is known by its name as text, whatever bytes spelled it",
  async (t) => {
    const { sim, auth } = await setupWith(t, {
      serviceAccount: { name: 'jos\u00e9', password: 'svc-pw' },
    });
    const latin1 = Buffer.from('jos\u00e9', 'latin1');
    t.equal(await auth.verifyPassword('jos\u00e9', pw('svc-pw'), undefined, latin1), true);
    t.same(auth.secretsFor('jos\u00e9'), [pw('svc-pw')]);
    t.equal(sim.counters.loginsOk + sim.counters.loginsFailed, 0, 'the router was not asked');
  },
);

t.test('a legacy challenge is relayed only to a router before 6.45.1', async (t) => {
  const none = authFor(1);
  t.equal(await none.openLegacyChallenge(), undefined, 'no relay, no router challenge');

  const challenge = { challengeHex: 'ab'.repeat(16), check: async () => true, close() {} };
  let asked = 0;
  let version: string | undefined = '6.44.6 (stable)';
  const old = authFor(1, {
    relay: {
      routerVersion: async () => {
        asked++;
        return version;
      },
      open: async () => challenge,
    },
  });
  t.equal(
    (await old.openLegacyChallenge())?.challengeHex,
    challenge.challengeHex,
    'an old router gets to check the answer',
  );
  version = '7.19';
  t.equal(
    (await old.openLegacyChallenge())?.challengeHex,
    challenge.challengeHex,
    'the version is asked once',
  );
  t.equal(asked, 1);

  const current = authFor(1, {
    relay: { routerVersion: async () => '7.19.1 (stable)', open: async () => challenge },
  });
  t.equal(await current.openLegacyChallenge(), undefined, 'a current router cannot check it');

  let fails = true;
  const flaky = authFor(1, {
    relay: {
      routerVersion: async () => {
        if (fails) throw new Error('router away');
        return '6.40';
      },
      open: async () => challenge,
    },
  });
  t.equal(await flaky.openLegacyChallenge(), undefined, 'an unknown version relays nothing');
  fails = false;
  t.equal(
    (await flaky.openLegacyChallenge())?.challengeHex,
    challenge.challengeHex,
    'and is asked again next time',
  );
});

t.test('relayed challenges under way are bounded by maxRelayedChallenges', async (t) => {
  const events: string[] = [];
  let opens = 0;
  const auth = authFor(1, {
    maxRelayedChallenges: 2,
    relay: {
      routerVersion: async () => '6.44.6',
      open: async () => {
        const n = ++opens;
        if (n === 3) throw new Error('router away');
        return {
          challengeHex: String(n).repeat(32),
          check: async () => {
            events.push(`check ${n}`);
            return n === 1;
          },
          close: () => events.push(`close ${n}`),
        };
      },
    },
  });
  const first = await auth.openLegacyChallenge();
  const second = await auth.openLegacyChallenge();
  t.equal(auth.relayedChallenges, 2, 'two under way');
  await t.rejects(auth.openLegacyChallenge(), {
    code: ErrorCode.ClientLimit,
    message: 'too many legacy logins under way (limit 2): try again, or log in with =password=',
  });
  t.equal(opens, 2, 'a third is refused before the router is asked');
  t.equal(await first?.check(pw('u'), pw('r')), true, "the router's verdict is passed on");
  t.equal(auth.relayedChallenges, 1, 'an answered challenge frees its place');
  first?.close();
  t.equal(auth.relayedChallenges, 1, 'closing an answered one frees nothing more');
  await t.rejects(auth.openLegacyChallenge(), /router away/, 'a relay that fails to open');
  t.equal(auth.relayedChallenges, 1, 'holds no place');
  second?.close();
  second?.close();
  t.equal(auth.relayedChallenges, 0, 'a dropped challenge frees its place, once');
  t.same(events, ['check 1', 'close 1', 'close 2', 'close 2']);
  auth.reconfigure({ ttlMs: 60_000, maxRelayedChallenges: 1 });
  const fourth = await auth.openLegacyChallenge();
  await t.rejects(
    auth.openLegacyChallenge(),
    { code: ErrorCode.ClientLimit },
    'a new limit holds at once',
  );
  fourth?.close();
});

t.test('routers before 6.45.1 still check challenge responses', async (t) => {
  const cases: [string | undefined, boolean][] = [
    ['5.26', true],
    ['6.42', true],
    ['6.44.6 (stable)', true],
    ['6.45', true],
    ['6.45.0', true],
    ['6.45.1', false],
    ['6.46', false],
    ['6.49.10 (long-term)', false],
    ['7.1', false],
    ['7.19.1 (stable)', false],
    ['', false],
    ['unknown', false],
    [undefined, false],
  ];
  for (const [version, expected] of cases)
    t.equal(isBeforePlainOnlyLogin(version), expected, String(version));
});
