import t from 'tap';
import { hashPassword } from '../../src/config/secrets.js';
import { eventually } from '../fixtures/eventually.js';
import { computeResponse } from '../../src/protocol/index.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { PAROL, PAROL_1251, winboxRouter } from '../fixtures/winbox-router.js';

// rosgate's users are text in config.yaml; a client's name is bytes: UTF-8
// from most clients, windows-1252 from node-routeros and Winbox on Windows.

const JOSE = 'jos\u00e9';
const SARKA = '\u0160\u00e1rka';
const LOCKED = /too many failed logins; try again in \d+s/;

/** A stack whose users josé (read-only) and Šárka are rosgate's own, locked out after 3 failures. */
function namedUsersStack(t: Parameters<typeof startStack>[0]): Promise<Stack> {
  return startStack(t, {
    config: {
      users: [
        { name: JOSE, password: 'pw' },
        { name: SARKA, password: 'pw' },
      ],
      policy: { users: { [JOSE]: 'readonly' }, lockout: { maxAttempts: 3 } },
    },
  });
}

/** A raw client's login with the name in `encoding`; its answer as one line. */
async function login(
  t: Parameters<typeof startStack>[0],
  stack: Stack,
  encoding: 'utf8' | 'latin1',
  password: string,
): Promise<{ answer: string; client: RawClient }> {
  const client = await openRaw(t, stack.port);
  const words = ['/login', Buffer.from(`=name=${JOSE}`, encoding), `=password=${password}`];
  return { answer: text(await client.call(words)).join(' | '), client };
}

const HOTSPOT_ADD = ['/ip/hotspot/user/add', '=name=guest', '=password=x'];

t.test(
  'a configured josé logs in with a UTF-8 name and with a latin1 one, and gets his role both ways',
  async (t) => {
    const stack = await namedUsersStack(t);
    for (const encoding of ['utf8', 'latin1'] as const) {
      const { answer, client } = await login(t, stack, encoding, 'pw');
      t.equal(answer, '!done', `${encoding} bytes name josé`);
      t.match(
        text(await client.call([...HOTSPOT_ADD, '.tag=w'])),
        ['!trap .tag=w =message=not enough permissions (rosgate rule readonly-'],
        `josé's read-only role applies (${encoding})`,
      );
      t.equal(
        String((await client.call(['/system/identity/print', '.tag=r'])).at(-1)),
        '!done .tag=r',
      );
    }
    // node-routeros writes windows-1252: é as e9, Š as 8a.
    const api = await stack.client({ user: JOSE, password: 'pw' });
    await t.rejects(
      api.write(HOTSPOT_ADD[0] as string, HOTSPOT_ADD.slice(1)),
      /not enough permissions/,
    );
    const sarka = await stack.client({ user: SARKA, password: 'pw' });
    t.match(await sarka.write('/system/identity/print'), [{ name: /./ }], 'Šárka logs in');
    const users = stack.logs.filter((l) => l.msg === 'client logged in').map((l) => l.user);
    t.same(users, [JOSE, JOSE, JOSE, SARKA], 'logs name each user as configured');
    t.equal(
      stack.sim.counters.commands['/ip/hotspot/user/add'] ?? 0,
      0,
      'no write reached the router',
    );
  },
);

t.test('failed logins as josé count against one josé, whatever bytes spelled him', async (t) => {
  const stack = await namedUsersStack(t);
  for (const encoding of ['utf8', 'utf8', 'latin1'] as const) {
    t.match((await login(t, stack, encoding, 'wrong')).answer, /^!trap =message=invalid user name/);
  }
  t.match(
    (await login(t, stack, 'latin1', 'pw')).answer,
    LOCKED,
    'the fourth try meets the lockout',
  );
  t.match((await login(t, stack, 'utf8', 'pw')).answer, LOCKED, 'whichever bytes it uses');
});

/** A password beyond ASCII, as its two common byte spellings. */
const CAFE = 'caf\u00e9';
const SPELLINGS = { utf8: Buffer.from(CAFE, 'utf8'), 'windows-1252': Buffer.from(CAFE, 'latin1') };

t.test(
  "a configured user's password beyond ASCII is one password in UTF-8 and in windows-1252, plain, hashed and by the challenge",
  async (t) => {
    const stack = await startStack(t, {
      config: {
        users: [
          { name: JOSE, password: CAFE },
          { name: SARKA, passwordHash: await hashPassword(CAFE) },
        ],
      },
    });
    for (const [spelling, bytes] of Object.entries(SPELLINGS)) {
      for (const user of [JOSE, SARKA]) {
        const c = await openRaw(t, stack.port);
        const answer = await c.call([
          '/login',
          Buffer.from(`=name=${user}`),
          Buffer.concat([Buffer.from('=password='), bytes]),
        ]);
        t.same(text(answer), ['!done'], `${user} with the password in ${spelling}`);
      }
      const c = await openRaw(t, stack.port);
      const hex = (await c.call(['/login']))[0]?.attributeString('ret') ?? '';
      const response = computeResponse(bytes, Buffer.from(hex, 'hex'));
      t.same(
        text(await c.call(['/login', Buffer.from(`=name=${JOSE}`), `=response=${response}`])),
        ['!done'],
        `josé by the challenge, answered over the password in ${spelling}`,
      );
    }
    // node-routeros writes every word in windows-1252.
    const api = await stack.client({ user: JOSE, password: CAFE });
    t.match(await api.write('/system/identity/print'), [{ name: /./ }], 'node-routeros logs in');
    const wrong = await openRaw(t, stack.port);
    t.match(
      text(
        await wrong.call(['/login', Buffer.from(`=name=${JOSE}`), Buffer.from('=password=cafe')]),
      ),
      [/^!trap =message=invalid user name or password/],
      'another password is still refused',
    );
  },
);

t.test(
  'rosgate logs in to a router whose password Winbox set in windows-1251, once loginEncoding says so',
  async (t) => {
    const sim = await winboxRouter(t);
    const router = { username: 'operator', password: PAROL };
    const utf8 = await startStack(t, { simulator: sim, router });
    const client = await openRaw(t, utf8.port, { user: 'admin', password: '' });
    t.match(
      text(await client.call(['/system/identity/print'])),
      [/^!trap =message=.*(login|password)/],
      'in UTF-8 the router refuses rosgate, and the client is told',
    );
    t.match(
      utf8.logs.find(
        (l) => l.msg === "router refused rosgate's login (its username and password); retrying",
      ),
      { code: 'ROSGATE_UPSTREAM_LOGIN', hint: /set loginEncoding \(MIKROTIK_LOGIN_ENCODING\)/ },
      'the log says what to set',
    );
    t.match(
      utf8.app.metrics.events().filter((e) => e.kind === 'router'),
      [{ message: "router refused rosgate's login (ROSGATE_UPSTREAM_LOGIN)" }],
      'the dashboard says the router refused, not that it is unreachable',
    );

    const stack = await startStack(t, {
      simulator: sim,
      router: { ...router, loginEncoding: 'windows-1251' },
    });
    const viaRouter = await openRaw(t, stack.port, { user: 'admin', password: '' });
    t.match(
      text(await viaRouter.call(['/system/identity/print'])),
      ['!re =name=MikroTik', '!done'],
      "in windows-1251 rosgate's sessions log in",
    );
    const loginsBefore = sim.counters.loginsOk;
    sim.faults.dropAll();
    await eventually(
      () => sim.counters.loginsOk > loginsBefore,
      'the pool to log in again in windows-1251',
    );
    // A print no reply is cached for: it reaches the router on the new session.
    t.match(
      text(await viaRouter.call(['/interface/print', '?name=ether1', '.tag=again'])),
      ['!re .tag=again =.id=*1 =name=ether1', '!done .tag=again'],
      'after the router dropped every session, commands reach it again',
    );
    t.notOk(
      stack.logs.some((l) => l.level === 40),
      'and nothing was warned about',
    );
    const asOperator = await openRaw(t, stack.port);
    t.same(
      text(
        await asOperator.call([
          '/login',
          '=name=operator',
          Buffer.concat([Buffer.from('=password='), PAROL_1251]),
        ]),
      ),
      ['!done'],
      "a client logs in as rosgate's own account with the bytes the router holds",
    );
    const inUtf8 = await openRaw(t, stack.port);
    t.match(
      text(await inUtf8.call(['/login', '=name=operator', Buffer.from(`=password=${PAROL}`)])),
      [/^!trap =message=invalid user name or password/],
      'and not with bytes the router would refuse',
    );
  },
);

t.test(
  'a router refusing an ASCII password is said to refuse it, with no encoding hint',
  async (t) => {
    const stack = await startStack(t, { router: { password: 'not-the-password' } });
    const line = await eventually(
      () =>
        stack.logs.find(
          (l) => l.msg === "router refused rosgate's login (its username and password); retrying",
        ),
      { until: (l) => l !== undefined, what: 'the refusal logged' },
    );
    t.match(line, { code: 'ROSGATE_UPSTREAM_LOGIN', err: /invalid user name or password/ });
    t.notOk(line !== undefined && 'hint' in line, 'no hint: the encoding is not the question');
  },
);
