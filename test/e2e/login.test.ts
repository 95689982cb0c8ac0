import t from 'tap';
import { RouterOSAPI } from 'node-routeros';
import { computeResponse, encodeSentences, type Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, RawClient, text } from '../fixtures/raw-client.js';
import { startStack } from '../fixtures/stack.js';

const USERS = {
  users: [{ name: 'legacy', password: 'old-secret' }],
};

/** The challenge of a bare login's answer: exactly one `!done` with 32 hex digits. */
function challengeOf(replies: readonly Sentence[]): Buffer {
  const hex = replies[0]?.attributeString('ret') ?? '';
  if (replies.length !== 1 || replies[0]?.command !== '!done' || !/^[0-9a-f]{32}$/.test(hex)) {
    throw new Error(`no challenge in ${text(replies).join(' | ')}`);
  }
  return Buffer.from(hex, 'hex');
}

t.test('the legacy challenge login works in front of a 7.x router', async (t) => {
  const stack = await startStack(t, { sim: { version: '7.19' }, config: USERS });
  const c = await openRaw(t, stack.port);
  const first = await c.call(['/login', '.tag=1']);
  t.match(
    String(first[0]),
    /^!done \.tag=1 =ret=[0-9a-f]{32}$/,
    'a bare login gets exactly one sentence with a challenge',
  );
  const response = computeResponse('old-secret', challengeOf(first));
  t.same(text(await c.call(['/login', '=name=legacy', `=response=${response}`, '.tag=2'])), [
    '!done .tag=2',
  ]);
  const reply = await c.call(['/system/identity/print']);
  t.equal(String(reply.at(-1)), '!done', 'commands work after the legacy login');
});

t.test('each connection gets a fresh challenge and a wrong response is refused', async (t) => {
  const stack = await startStack(t, { config: USERS });
  const a = await openRaw(t, stack.port);
  const b = await openRaw(t, stack.port);
  const ca = challengeOf(await a.call(['/login']));
  const cb = challengeOf(await b.call(['/login']));
  t.notSame(ca, cb);
  const wrong = computeResponse('guess', ca);
  t.same(text(await a.call(['/login', '=name=legacy', `=response=${wrong}`])), [
    '!trap =message=invalid user name or password (6)',
    '!done',
  ]);
});

t.test('a bare login followed by a plain login succeeds (the phpnuxbill flow)', async (t) => {
  const stack = await startStack(t, { config: USERS });
  const c = await openRaw(t, stack.port);
  challengeOf(await c.call(['/login']));
  t.same(text(await c.call(['/login', '=name=legacy', '=password=old-secret'])), ['!done']);
});

t.test('an empty password plus a valid response logs in (the PEAR2 fallback)', async (t) => {
  const stack = await startStack(t, { config: USERS });
  const c = await openRaw(t, stack.port);
  const challenge = challengeOf(await c.call(['/login']));
  const response = computeResponse('old-secret', challenge);
  t.same(text(await c.call(['/login', '=name=legacy', '=password=', `=response=${response}`])), [
    '!done',
  ]);
});

t.test(
  'a wrong password is refused with the router message, in one write, and counted',
  async (t) => {
    const stack = await startStack(t);
    const c = await openRaw(t, stack.port);
    const [trap, done] = await c.call(['/login', '=name=admin', '=password=wrong', '.tag=7']);
    t.same(text([trap as Sentence, done as Sentence]), [
      '!trap .tag=7 =message=invalid user name or password (6)',
      '!done .tag=7',
    ]);
    t.equal(
      c.chunkOf(trap as Sentence),
      c.chunkOf(done as Sentence),
      'trap and done arrived in one segment',
    );
    t.equal(stack.router.stats.loginsFailed, 1);
    t.notMatch(stack.logText(), /wrong/, 'the password is not logged');
    t.same(text(await c.login('admin', 'secret')), ['!done'], 'the connection stays usable');
  },
);

t.test('node-routeros refuses a wrong password with the router message', async (t) => {
  const stack = await startStack(t);
  const api = new RouterOSAPI({
    host: '127.0.0.1',
    port: stack.port,
    user: 'admin',
    password: 'nope',
    timeout: 5,
  });
  await t.rejects(api.connect(), /Username or password is invalid/);
  await api.close().catch(() => undefined);
});

t.test('logins checked by the router are remembered', async (t) => {
  const stack = await startStack(t, { sim: { users: { billing: 'pw' } } });
  await eventually(() => stack.router.pool.stats.ready === 1);
  const logins = stack.sim.counters.loginsOk;
  for (let i = 0; i < 3; i++) {
    const c = await RawClient.connect(stack.port);
    t.same(text(await c.login('billing', 'pw')), ['!done']);
    await c.close();
  }
  t.equal(stack.sim.counters.loginsOk - logins, 1, 'only the first login reached the router');
});

t.test("rosgate's own router account is checked without the router", async (t) => {
  const stack = await startStack(t);
  await eventually(() => stack.router.pool.stats.ready === 1);
  const logins = stack.sim.counters.loginsOk + stack.sim.counters.loginsFailed;
  const c = await RawClient.connect(stack.port);
  t.same(text(await c.login('admin', 'secret')), ['!done']);
  t.same(text(await c.login('admin', 'wrong')), [
    '!trap =message=invalid user name or password (6)',
    '!done',
  ]);
  await c.close();
  t.equal(stack.sim.counters.loginsOk + stack.sim.counters.loginsFailed, logins);
});

t.test('before login', async (t) => {
  const stack = await startStack(t, { config: { limits: { preLoginMaxSentences: 3 } } });

  t.test('a command gets a not logged in trap on its tag', async (t) => {
    const c = await openRaw(t, stack.port);
    t.same(text(await c.call(['/ip/address/print', '.tag=a'])), [
      '!trap .tag=a =message=not logged in',
      '!done .tag=a',
    ]);
  });

  t.test('too many sentences end the connection with a fatal, and nothing after it', async (t) => {
    const c = await openRaw(t, stack.port);
    c.write(
      encodeSentences(Array.from({ length: 6 }, (_, i) => ['/ip/address/print', `.tag=${i}`])),
    );
    t.same(text(await c.untilClosed()).slice(-2), [
      '!done .tag=2',
      '!fatal too many commands before login',
    ]);
  });

  t.test('a login without a name is refused', async (t) => {
    const c = await openRaw(t, stack.port);
    t.same(text(await c.call(['/login', '=password=secret'])), [
      '!trap =message=invalid user name or password (6)',
      '!done',
    ]);
  });

  t.test('bad bytes after a quit get no second fatal', async (t) => {
    const c = await openRaw(t, stack.port);
    c.write(Buffer.concat([encodeSentences([['/quit']]), Buffer.from([0xf8])]));
    t.same(
      text(await c.untilClosed()),
      ['!fatal session terminated on request'],
      'one fatal, for the quit',
    );
  });

  t.test('a framing error ends only that connection', async (t) => {
    const bad = await openRaw(t, stack.port);
    const good = await openRaw(t, stack.port);
    bad.write(Buffer.from([0xf8, 1, 2, 3]));
    t.same(text(await bad.untilClosed()), ['!fatal protocol error']);
    t.same(text(await good.login('admin', 'secret')), ['!done']);
  });

  t.test('quit ends the session with the router reason', async (t) => {
    const c = await openRaw(t, stack.port);
    c.send(['/quit']);
    t.same(text(await c.untilClosed()), ['!fatal session terminated on request']);
  });
});

t.test('a login answered after its client left is neither written nor counted', async (t) => {
  const stack = await startStack(t, { sim: { users: { billing: 'pw' } } });
  await eventually(() => stack.router.pool.stats.ready === 1);
  const loginsOk = stack.sim.counters.loginsOk;
  stack.sim.faults.latencyMs = 30;
  const c = await RawClient.connect(stack.port);
  c.send(['/login', '=name=billing', '=password=pw']);
  await eventually(() => stack.sim.counters.sessionsNow === 2, 'the check to reach the router');
  await c.close();
  await eventually(() => stack.sim.counters.loginsOk === loginsOk + 1, 'the router to answer');
  t.equal(stack.router.stats.loginsOk, 0);
  t.equal(stack.router.stats.loginsFailed, 0);
});

/** `=password=<text>` as a client sends it: UTF-8. */
const utf8Password = (password: string): Buffer => Buffer.from(`=password=${password}`, 'utf8');

for (const version of ['7.17', '6.42']) {
  t.test(`a non-ASCII service password is UTF-8 on both sides (RouterOS ${version})`, async (t) => {
    const stack = await startStack(t, { sim: { version, password: 'p\u00e4ssword' } });
    await eventually(
      () => stack.router.pool.stats.ready === 1,
      'rosgate logs in to the router with the UTF-8 password',
    );
    const c = await openRaw(t, stack.port);
    t.same(
      text(await c.call(['/login', '=name=admin', utf8Password('p\u00e4ssword'), '.tag=1'])),
      ['!done .tag=1'],
      'the client sends UTF-8 and logs in',
    );
    t.equal(
      String((await c.call(['/system/identity/print', '.tag=2'])).at(-1)),
      '!done .tag=2',
      'and its commands reach the router',
    );
    const latin1 = await openRaw(t, stack.port);
    t.same(
      text(
        await latin1.call([
          '/login',
          '=name=admin',
          Buffer.from('=password=p\u00e4ssword', 'latin1'),
        ]),
      ),
      ['!trap =message=invalid user name or password (6)', '!done'],
      'the same text as latin1 bytes is another password',
    );
    const legacy = await openRaw(t, stack.port);
    const challenge = challengeOf(await legacy.call(['/login']));
    const response = computeResponse(Buffer.from('p\u00e4ssword', 'utf8'), challenge);
    t.same(
      text(await legacy.call(['/login', '=name=admin', `=response=${response}`])),
      ['!done'],
      'the legacy answer is made over the UTF-8 bytes',
    );
  });
}

t.test('a Cyrillic router user logs in through rosgate with the bytes it sent', async (t) => {
  const stack = await startStack(t, {
    sim: {
      version: '7.17',
      users: { '\u043e\u043f\u0435\u0440': '\u043f\u0430\u0440\u043e\u043b\u044c' },
    },
  });
  const c = await openRaw(t, stack.port);
  t.same(
    text(
      await c.call([
        '/login',
        Buffer.from('=name=\u043e\u043f\u0435\u0440', 'utf8'),
        utf8Password('\u043f\u0430\u0440\u043e\u043b\u044c'),
      ]),
    ),
    ['!done'],
    'the router accepted the UTF-8 name and password rosgate passed on',
  );
  t.equal(stack.sim.counters.loginsOk >= 2, true, 'the router checked it');
});
