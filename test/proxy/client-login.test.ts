import { Writable } from 'node:stream';
import t from 'tap';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { LoginGate, SessionObserver } from '../../src/pipeline.js';
import type { Authenticator, LegacyChallenge } from '../../src/proxy/authenticator.js';
import { ClientLogin, type LoginOutcome } from '../../src/proxy/client-login.js';
import { Sentence, computeResponse } from '../../src/protocol/index.js';

const SECRET = 'old-secret';

/** Everything a ClientLogin talks to, recording what it was told. */
function harness(authenticator: Partial<Authenticator> = {}) {
  const events: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  let locked: RosgateError | undefined;
  const gate: LoginGate = {
    admit: () => locked,
    record: (_a, user, isOk) => events.push(`record ${user} ${isOk}`),
    release: (_a, user) => events.push(`release ${user}`),
  };
  const observer: SessionObserver = {
    loginSucceeded: (e) => events.push(`ok ${e.user} ${e.method}`),
    loginFailed: (e) => events.push(`failed ${e.user} ${e.method} ${e.code}`),
    loggedOut: () => undefined,
  };
  const auth: Authenticator = {
    verifyPassword: async (name, password) =>
      name === 'known' && password.equals(Buffer.from('pw')),
    secretsFor: (name) => (name === 'legacy' ? [Buffer.from(SECRET)] : []),
    ...authenticator,
  };
  const login = new ClientLogin({
    router: 'r',
    clientId: 7,
    address: '10.0.0.1',
    authenticator: auth,
    gate,
    observer,
    logger: createLogger('debug', sink),
    isWanted: () => true,
  });
  return {
    login,
    events,
    logs,
    lock(error: RosgateError | undefined) {
      locked = error;
    },
  };
}

const login = (...words: string[]): Sentence => Sentence.from(['/login', ...words]);
const responseTo = (hex: string, secret = SECRET): string =>
  `=response=${computeResponse(secret, Buffer.from(hex, 'hex'))}`;
const errorOf = (outcome: LoginOutcome): RosgateError | undefined =>
  outcome.isOk ? undefined : outcome.error;

/** A router challenge handed out by a relay, recording what happened to it. */
function relayed(accepts: boolean): LegacyChallenge & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    challengeHex: 'cd'.repeat(16),
    check: async (name) => {
      events.push(`check ${name.toString('latin1')}`);
      return accepts;
    },
    close: () => events.push('close'),
  };
}

t.test('only a /login with no credentials asks for a challenge', async (t) => {
  t.equal(ClientLogin.isChallengeRequest(login()), true);
  t.equal(ClientLogin.isChallengeRequest(login('=name=a')), false);
  t.equal(ClientLogin.isChallengeRequest(login('=password=a')), false);
  t.equal(ClientLogin.isChallengeRequest(login('=response=00')), false);
});

t.test(
  'a plain login is checked and told to the gate; a refusal to the observer too',
  async (t) => {
    const h = harness();
    t.same(await h.login.check(login('=name=known', '=password=pw')), {
      isOk: true,
      user: 'known',
      method: 'plain',
    });
    const refused = await h.login.check(login('=name=known', '=password=nope'));
    t.equal(errorOf(refused)?.code, ErrorCode.LoginInvalid);
    t.equal(errorOf(refused)?.message, 'invalid user name or password (6)');
    // A success is the session's to tell: it takes the login only if the client is still there.
    t.same(h.events, [
      'record known true',
      'record known false',
      `failed known plain ${ErrorCode.LoginInvalid}`,
    ]);
  },
);

t.test('a locked-out login is refused before anything is checked', async (t) => {
  let asked = 0;
  const h = harness({
    verifyPassword: async () => {
      asked++;
      return true;
    },
  });
  h.lock(new RosgateError(ErrorCode.LockedOut, 'too many failed logins'));
  const outcome = await h.login.check(login('=name=known', '=password=pw'));
  t.equal(errorOf(outcome)?.code, ErrorCode.LockedOut);
  t.equal(asked, 0);
  t.same(h.events, [`failed known plain ${ErrorCode.LockedOut}`]);
});

t.test('a login that cannot be checked counts for nothing at the gate', async (t) => {
  const unreachable = new RosgateError(ErrorCode.UpstreamClosed, 'router unavailable');
  const a = harness({ verifyPassword: () => Promise.reject(unreachable) });
  t.equal(errorOf(await a.login.check(login('=name=known', '=password=pw'))), unreachable);
  t.same(a.events, ['release known', `failed known plain ${ErrorCode.UpstreamClosed}`]);

  const left = new RosgateError(ErrorCode.Interrupted, 'the client left');
  const b = harness({ verifyPassword: () => Promise.reject(left) });
  await b.login.check(login('=name=known', '=password=pw'));
  t.same(b.events[0], 'release known', 'a check dropped because its client left is no failure');

  const c = harness({ verifyPassword: () => Promise.reject(new Error('a bug')) });
  const outcome = await c.login.check(login('=name=known', '=password=pw'));
  t.equal(errorOf(outcome)?.code, ErrorCode.Internal);
  t.equal(
    errorOf(outcome)?.message,
    'cannot verify the login',
    'an unknown throw says nothing inside',
  );
});

t.test("rosgate's own challenge is checked against a plaintext secret", async (t) => {
  const h = harness();
  const hex = await h.login.challenge();
  t.match(hex, /^[0-9a-f]{32}$/);
  t.same(await h.login.check(login('=name=legacy', responseTo(hex))), {
    isOk: true,
    user: 'legacy',
    method: 'challenge',
  });
  const again = await h.login.challenge();
  t.not(again, hex, 'every challenge is fresh');
  const wrong = await h.login.check(login('=name=legacy', responseTo(again, 'guess')));
  t.equal(errorOf(wrong)?.code, ErrorCode.LoginInvalid);
  const stale = await h.login.check(login('=name=legacy', responseTo(again)));
  t.equal(errorOf(stale)?.code, ErrorCode.LoginInvalid, 'a challenge answers one login only');
});

t.test('a relayed challenge is checked by the router', async (t) => {
  const accepted = relayed(true);
  const h = harness({ openLegacyChallenge: async () => accepted });
  t.equal(
    await h.login.challenge(),
    accepted.challengeHex,
    "the client gets the router's challenge",
  );
  t.same(await h.login.check(login('=name=billing', '=response=00ff')), {
    isOk: true,
    user: 'billing',
    method: 'challenge',
  });
  t.same(accepted.events, ['check billing']);

  const refused = relayed(false);
  const r = harness({ openLegacyChallenge: async () => refused });
  await r.login.challenge();
  const outcome = await r.login.check(login('=name=billing', '=response=00ff'));
  t.equal(
    errorOf(outcome)?.code,
    ErrorCode.LoginInvalid,
    'the router refusing is a wrong password',
  );
});

t.test('a relayed challenge nobody answers is closed', async (t) => {
  const unused = relayed(true);
  const h = harness({ openLegacyChallenge: async () => unused });
  await h.login.challenge();
  t.same(
    await h.login.check(login('=name=known', '=password=pw')),
    { isOk: true, user: 'known', method: 'plain' },
    'a plain login after the challenge',
  );
  t.same(unused.events, ['close'], 'closes the relay unanswered');

  const asked = relayed(true);
  const twice = harness({ openLegacyChallenge: async () => asked });
  await twice.login.challenge();
  await twice.login.challenge();
  twice.login.close();
  t.same(asked.events, ['close', 'close'], 'a second challenge or the client leaving closes it');
});

t.test("a relay that fails hands out rosgate's own challenge and says so", async (t) => {
  for (const [what, thrown, code] of [
    ['a coded error', new RosgateError(ErrorCode.UpstreamClosed, 'away'), ErrorCode.UpstreamClosed],
    ['an unknown throw', new Error('a bug'), ErrorCode.Internal],
  ] as const) {
    const h = harness({ openLegacyChallenge: () => Promise.reject(thrown) });
    const hex = await h.login.challenge();
    t.match(hex, /^[0-9a-f]{32}$/, `${what}: a challenge all the same`);
    t.same(await h.login.check(login('=name=legacy', responseTo(hex))), {
      isOk: true,
      user: 'legacy',
      method: 'challenge',
    });
    t.match(h.logs, [{ level: 40, code, msg: /cannot relay a legacy login challenge/ }], what);
  }
});

t.test(
  'a challenge login without a known secret gets a trap saying what to configure',
  async (t) => {
    const h = harness();
    const hex = await h.login.challenge();
    const outcome = await h.login.check(login('=name=unknown-1', responseTo(hex)));
    t.equal(errorOf(outcome)?.code, ErrorCode.LegacyLoginUnsupported);
    t.equal(
      errorOf(outcome)?.message,
      'legacy login needs a rosgate user with a plaintext secret: see users in config.yaml',
    );
    await h.login.check(login('=name=unknown-1', '=response=00'));
    const warned = h.logs.filter((l) => String(l.msg).includes('legacy challenge login'));
    t.match(warned, [{ user: 'unknown-1' }], 'the log says it once per user name');
    t.equal(
      errorOf(await h.login.check(login('=name=unknown-1')))?.code,
      ErrorCode.LoginInvalid,
      'a login with neither password nor response is a wrong one',
    );
  },
);

t.test('the legacy warning is kept for a bounded number of names', async (t) => {
  const h = harness();
  for (let i = 0; i < 1100; i++) await h.login.check(login(`=name=many-${i}`, '=response=00'));
  const warned = h.logs.filter((l) => String(l.msg).includes('legacy challenge login')).length;
  t.ok(warned > 0 && warned <= 1000, `${warned} warnings for 1100 names`);
});

t.test('a login without a name is checked as the empty name', async (t) => {
  const h = harness();
  const outcome = await h.login.check(login('=password=pw'));
  t.equal(outcome.user, '');
  t.equal(errorOf(outcome)?.code, ErrorCode.LoginInvalid);
});

t.test(
  "past the relay limit a client gets rosgate's challenge, and a router user's answer to it says why",
  async (t) => {
    const limit = new RosgateError(
      ErrorCode.ClientLimit,
      'too many legacy logins under way (limit 4): try again, or log in with =password=',
    );
    const h = harness({ openLegacyChallenge: () => Promise.reject(limit) });
    const hex = await h.login.challenge();
    t.match(hex, /^[0-9a-f]{32}$/, "rosgate's own challenge");
    t.match(h.logs, [{ level: 20, code: ErrorCode.ClientLimit }], 'said at debug level only');
    t.equal(errorOf(await h.login.check(login('=name=router-user', responseTo(hex)))), limit);
    t.same(
      h.events.slice(-2),
      ['release router-user', 'failed router-user challenge ROSGATE_CLIENT_LIMIT'],
      'no failure towards a lockout; the refusal is told',
    );

    const again = await h.login.challenge();
    t.equal(
      (await h.login.check(login('=name=legacy', responseTo(again)))).isOk,
      true,
      "a user whose secret rosgate knows answers rosgate's challenge",
    );
    await h.login.challenge();
    t.equal(
      errorOf(await h.login.check(login('=name=known', '=password=pw'))),
      undefined,
      'a plain login after it works',
    );
  },
);
