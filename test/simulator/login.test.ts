import t from 'tap';
import { RouterOSAPI } from 'node-routeros';
import { computeResponse } from '../../src/protocol/index.js';
import { openRaw as client, text } from '../fixtures/raw-client.js';
import { connectApi, startTestSimulator as simulator } from '../fixtures/stack.js';

t.test(
  'a plain login with the right credentials is answered with exactly !done and the tag',
  async (t) => {
    const sim = await simulator(t, { password: 'secret' });
    const c = await client(t, sim.port);
    c.send(['/login', '=name=admin', '=password=secret', '.tag=k3j9x0a1q']);
    t.equal(String(await c.next()), '!done .tag=k3j9x0a1q');
    c.send(['/login', '=name=admin', '=password=secret']);
    t.equal(String(await c.next()), '!done');
    t.equal(sim.counters.loginsOk, 2);
  },
);

t.test('wrong credentials get trap then done with the same tag in one write', async (t) => {
  const sim = await simulator(t, { password: 'secret' });
  const c = await client(t, sim.port);
  c.send(['/login', '=name=admin', '=password=wrong', '.tag=7']);
  const trap = await c.next();
  const done = await c.next();
  t.equal(String(trap), '!trap .tag=7 =message=invalid user name or password (6)');
  t.equal(String(done), '!done .tag=7');
  t.equal(c.chunkOf(trap), c.chunkOf(done), 'trap and done arrive in the same TCP chunk');
  c.send(['/login', '=name=root', '=password=secret']);
  t.same(
    (await c.untilDone()).map((s) => s.command),
    ['!trap', '!done'],
  );
  t.equal(sim.counters.loginsFailed, 2);
  t.notOk(c.isClosed, 'the session stays open by default');
});

t.test('failedLoginCloses closes the connection after the refusal', async (t) => {
  const sim = await simulator(t, { failedLoginCloses: true });
  const c = await client(t, sim.port);
  c.send(['/login', '=name=admin', '=password=nope']);
  t.same((await c.untilDone()).length, 2);
  await c.closed;
  t.ok(c.isClosed);
  const d = await client(t, sim.port);
  d.send(['/login', '=name=admin', '=password=']);
  await d.next();
  d.send(['/login', '=name=admin', '=password=nope']);
  t.equal((await d.untilDone())[0]?.command, '!trap');
  d.send(['/system/identity/print']);
  t.equal(
    (await d.untilDone()).length,
    2,
    'a logged-in session is not closed by a failed re-login',
  );
});

t.test(
  'a bare /login gets exactly one sentence with a fresh 32-hex challenge per connection',
  async (t) => {
    const sim = await simulator(t);
    const challenges: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await client(t, sim.port);
      c.send(['/login', '.tag=1']);
      const reply = await c.next();
      t.equal(reply.command, '!done');
      t.equal(reply.wordString(1), '.tag=1', 'the tag right after the reply word');
      const match = /^=ret=([0-9a-f]{32})$/.exec(reply.wordString(2));
      t.ok(match, 'ret is 32 lowercase hex digits');
      challenges.push(match?.[1] as string);
      t.ok(await c.isSilent(20), 'nothing follows the challenge');
    }
    t.not(challenges[0], challenges[1]);
  },
);

for (const version of ['6.42', '6.43', '6.45']) {
  t.test(
    `on ${version} a correct challenge response logs in and a wrong one is refused`,
    async (t) => {
      const sim = await simulator(t, { version, password: 'pw' });
      const c = await client(t, sim.port);
      c.send(['/login']);
      const challenge = Buffer.from((await c.next()).attributeString('ret') as string, 'hex');
      c.send(['/login', '=name=admin', '=response=00deadbeefdeadbeefdeadbeefdeadbeef']);
      const refused = await c.untilDone();
      t.equal(refused[0]?.command, '!trap');
      t.equal(
        refused[0]?.wordString(1),
        version === '6.42'
          ? '=message=cannot log in'
          : '=message=invalid user name or password (6)',
      );
      c.send(['/login', '=name=admin', `=response=${computeResponse('pw', challenge)}`, '.tag=a']);
      t.equal(String(await c.next()), '!done .tag=a');
    },
  );
}

t.test('the legacy vector of the manual is accepted for an empty password', async (t) => {
  // chal 93b438ec9b80057c06dd9fe67d56aa9a, pw "" -> 00e134102a9d330dd7b1849fedfea3cb57 (§3.2).
  t.equal(
    computeResponse('', Buffer.from('93b438ec9b80057c06dd9fe67d56aa9a', 'hex')),
    '00e134102a9d330dd7b1849fedfea3cb57',
  );
  const sim = await simulator(t, { version: '6.42' });
  const c = await client(t, sim.port);
  c.send(['/login']);
  const challenge = Buffer.from((await c.next()).attributeString('ret') as string, 'hex');
  c.send(['/login', '=name=admin', `=response=${computeResponse('', challenge)}`]);
  t.equal(String(await c.next()), '!done');
});

t.test(
  '6.42 answers a plain login with a challenge because it ignores the extra words',
  async (t) => {
    const sim = await simulator(t, { version: '6.42', password: 'pw' });
    const c = await client(t, sim.port);
    c.send(['/login', '=name=admin', '=password=pw']);
    const reply = await c.next();
    t.equal(reply.command, '!done');
    t.match(reply.attributeString('ret'), /^[0-9a-f]{32}$/);
    t.equal(sim.counters.loginsOk, 0);
  },
);

t.test('6.42 refuses a response when no challenge was issued', async (t) => {
  const sim = await simulator(t, { version: '6.42' });
  const c = await client(t, sim.port);
  c.send(['/login', '=name=admin', `=response=${computeResponse('', Buffer.alloc(16))}`]);
  t.same(text(await c.untilDone()), ['!trap =message=cannot log in', '!done']);
});

t.test('node-routeros logs in to 6.42 through its MD5 fallback', async (t) => {
  const sim = await simulator(t, { version: '6.42', password: 'pw' });
  const api = await connectApi(sim.port, { password: 'pw' });
  t.teardown(() => api.close());
  t.same(await api.write('/system/identity/print'), [{ name: 'MikroTik' }]);
});

t.test(
  '6.43-6.45.0 also accept a plain login, and a response with a wrong password word',
  async (t) => {
    const sim = await simulator(t, { version: '6.44', password: 'pw' });
    const c = await client(t, sim.port);
    c.send(['/login', '=name=admin', '=password=pw']);
    t.equal(String(await c.next()), '!done');
    const d = await client(t, sim.port);
    d.send(['/login']);
    const challenge = Buffer.from((await d.next()).attributeString('ret') as string, 'hex');
    // PEAR2 develop's fallback: empty password word plus a valid response (§3.3).
    d.send([
      '/login',
      '=name=admin',
      '=password=',
      `=response=${computeResponse('pw', challenge)}`,
    ]);
    t.equal(String(await d.next()), '!done');
    const f = await client(t, sim.port);
    f.send(['/login', '=name=admin']);
    t.equal(
      (await f.untilDone())[0]?.command,
      '!trap',
      'no password word means an empty password, which is wrong here',
    );
    const e = await client(t, sim.port);
    e.send(['/login', '=name=admin', '=response=00ff']);
    t.equal(
      (await e.untilDone())[0]?.command,
      '!trap',
      'a response without a challenge is refused',
    );
  },
);

t.test('6.45.1+ still sends a challenge but refuses every response', async (t) => {
  for (const version of ['6.45.1', '6.47', '7.19']) {
    const sim = await simulator(t, { version, password: 'pw' });
    const c = await client(t, sim.port);
    c.send(['/login']);
    const first = await c.next();
    t.match(first.attributeString('ret'), /^[0-9a-f]{32}$/);
    const challenge = Buffer.from(first.attributeString('ret') as string, 'hex');
    c.send(['/login', '=name=admin', `=response=${computeResponse('pw', challenge)}`]);
    t.same(
      text(await c.untilDone()),
      ['!trap =message=invalid user name or password (6)', '!done'],
      version,
    );
    c.send(['/login', '=name=admin', '=password=pw', `=response=00ff`]);
    t.equal(String(await c.next()), '!done', `${version}: the password decides when both are sent`);
  }
});

t.test('a plain login without a password word means an empty password', async (t) => {
  const sim = await simulator(t);
  const c = await client(t, sim.port);
  c.send(['/login', '=name=admin']);
  t.equal(String(await c.next()), '!done');
});

t.test(
  'a login without a name or with an unknown one is refused, even with the empty password',
  async (t) => {
    const sim = await simulator(t);
    const c = await client(t, sim.port);
    c.send(['/login', '=password=']);
    t.same(text(await c.untilDone()), [
      '!trap =message=invalid user name or password (6)',
      '!done',
    ]);
    c.send(['/login', '=name=nobody', '=password=']);
    t.same(text(await c.untilDone()), [
      '!trap =message=invalid user name or password (6)',
      '!done',
    ]);
    t.equal(sim.counters.loginsFailed, 2);
    t.equal(sim.counters.loginsOk, 0);
  },
);

t.test('6.42 refuses a right answer to its challenge for an unknown user', async (t) => {
  const sim = await simulator(t, { version: '6.42' });
  const c = await client(t, sim.port);
  c.send(['/login']);
  const challenge = Buffer.from((await c.next()).attributeString('ret') as string, 'hex');
  c.send(['/login', '=name=nobody', `=response=${computeResponse('', challenge)}`]);
  t.same(text(await c.untilDone()), ['!trap =message=cannot log in', '!done']);
});

t.test('commands before login get the not-logged-in trap and done', async (t) => {
  const sim = await simulator(t);
  const c = await client(t, sim.port);
  c.send(['/interface/print', '.tag=3']);
  const trap = await c.next();
  const done = await c.next();
  t.equal(String(trap), '!trap .tag=3 =message=not logged in');
  t.equal(String(done), '!done .tag=3');
  t.equal(c.chunkOf(trap), c.chunkOf(done));
});

t.test(
  'commands sent right behind a login wait for its answer and run logged in, in order',
  async (t) => {
    const sim = await simulator(t, { password: 'secret', latencyMs: 20 });
    const c = await client(t, sim.port);
    c.send(['/login', '=name=admin', '=password=wrong', '.tag=1']);
    c.send(['/login', '=name=admin', '=password=secret', '.tag=2']);
    c.send(['/system/identity/print', '.tag=3']);
    t.same(text(await c.read(5)), [
      '!trap .tag=1 =message=invalid user name or password (6)',
      '!done .tag=1',
      '!done .tag=2',
      '!re .tag=3 =name=MikroTik',
      '!done .tag=3',
    ]);
    t.equal(sim.counters.loginsOk, 1);
  },
);

t.test(
  'the accounts are the /user menu: added, changed and disabled over the API, their passwords never printed',
  async (t) => {
    const sim = await simulator(t, { password: 'secret', users: { billing: 'b-pw' } });
    const admin = await client(t, sim.port, { user: 'admin', password: 'secret' });
    const users = text(await admin.call(['/user/print', '=.proplist=name,password']));
    t.same(users, ['!re =name=admin', '!re =name=billing', '!done'], 'no password is shown');
    admin.send(['/user/add', '=name=bob', '=password=bob-pw', '=group=write']);
    await admin.untilDone();
    const login = async (name: string, password: string) => {
      const c = await client(t, sim.port);
      c.send(['/login', `=name=${name}`, `=password=${password}`]);
      return String((await c.untilDone())[0]).split(' ')[0];
    };
    t.equal(await login('bob', 'bob-pw'), '!done', 'a user added over the API logs in');
    t.equal(await login('billing', 'b-pw'), '!done', 'so does one given as an option');
    admin.send(['/user/set', '=numbers=bob', '=password=new-pw']);
    await admin.untilDone();
    t.equal(await login('bob', 'bob-pw'), '!trap', 'the old password no longer works');
    t.equal(await login('bob', 'new-pw'), '!done');
    admin.send(['/user/disable', '=numbers=bob']);
    await admin.untilDone();
    t.equal(await login('bob', 'new-pw'), '!trap', 'a disabled user cannot log in');
    admin.send(['/user/add', '=name=guest', '=group=read']);
    await admin.untilDone();
    t.equal(await login('guest', ''), '!done', 'a user without a password has the empty one');
  },
);

t.test('the not-logged-in text is configurable', async (t) => {
  const sim = await simulator(t, { notLoggedInMessage: 'login first' });
  const c = await client(t, sim.port);
  c.send(['/cancel']);
  t.equal(String(await c.next()), '!trap =message=login first');
});

t.test('past preLoginMaxSentences the connection gets !fatal and is closed', async (t) => {
  const sim = await simulator(t, { preLoginMaxSentences: 3 });
  const c = await client(t, sim.port);
  for (let i = 0; i < 3; i++) {
    c.send(['/ip/address/print']);
    t.equal((await c.untilDone()).length, 2);
  }
  c.send(['/ip/address/print']);
  t.equal(String(await c.next()), '!fatal too many commands before login');
  await c.closed;
  t.ok(c.isClosed);
});

t.test('/quit before login ends the session with !fatal', async (t) => {
  const sim = await simulator(t);
  const c = await client(t, sim.port);
  c.send(['/quit', '.tag=9']);
  t.equal(String(await c.next()), '!fatal session terminated on request');
  await c.closed;
});

t.test(
  'a login after a successful login is checked again and the session stays logged in',
  async (t) => {
    const sim = await simulator(t, { password: 'pw' });
    const c = await client(t, sim.port, { user: 'admin', password: 'pw' });
    c.send(['/login', '=name=admin', '=password=bad']);
    t.equal((await c.untilDone())[0]?.command, '!trap');
    c.send(['/system/identity/print']);
    t.same(text(await c.untilDone()), ['!re =name=MikroTik', '!done']);
  },
);

t.test('node-routeros reports a refused login', async (t) => {
  const sim = await simulator(t, { password: 'pw' });
  const api = new RouterOSAPI({
    host: '127.0.0.1',
    port: sim.port,
    user: 'admin',
    password: 'bad',
    timeout: 5,
  });
  await t.rejects(api.connect());
  t.equal(sim.counters.loginsFailed, 1);
});
