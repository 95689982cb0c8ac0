import t from 'tap';
import { computeResponse } from '../../src/protocol/index.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startStack, type Stack } from '../fixtures/stack.js';

// A billing panel that saves its text in windows-1251 (an older PHP panel on
// a Russian server) sends a Cyrillic name as one byte per letter. rosgate
// reads it in `limits.clientCodePage` where it meets configured text.

const KASSIR = '\u041a\u0430\u0441\u0441\u0438\u0440'; // Кассир
const KASSIR_1251 = Buffer.from('cae0f1f1e8f0', 'hex');
const PAROL = '\u043f\u0430\u0440\u043e\u043b\u044c'; // пароль
const PAROL_1251 = Buffer.from('efe0f0eeebfc', 'hex');
const TEST = '\u0422\u0435\u0441\u0442'; // Тест
const TEST_1251 = Buffer.from('d2e5f1f2', 'hex');

const word = (prefix: string, bytes: Buffer): Buffer => Buffer.concat([Buffer.from(prefix), bytes]);

/** Кассир (password пароль) is rosgate's user, a cashier whose adds commented `Тест` are denied. */
function cashierStack(t: Parameters<typeof startStack>[0], limits: object): Promise<Stack> {
  return startStack(t, {
    config: {
      limits,
      users: [{ name: KASSIR, password: PAROL }],
      policy: {
        users: { [KASSIR]: 'cashier' },
        roles: {
          cashier: [
            {
              name: 'cashier-no-test-users',
              path: '/ip/hotspot/user/add',
              action: 'deny',
              attributes: [{ name: 'comment', equals: TEST }],
            },
            { name: 'cashier-hotspot', path: '/ip/hotspot/**', action: 'allow' },
          ],
        },
      },
    },
  });
}

t.test(
  'with clientCodePage windows-1251 a windows-1251 name and password log in as the configured user, with their role and conditions',
  async (t) => {
    const stack = await cashierStack(t, { clientCodePage: 'windows-1251' });
    const client = await openRaw(t, stack.port);
    t.same(
      text(
        await client.call(['/login', word('=name=', KASSIR_1251), word('=password=', PAROL_1251)]),
      ),
      ['!done'],
      'the name and the password read as Кассир and пароль',
    );
    t.match(
      stack.logs.find((l) => l.msg === 'client logged in'),
      { user: KASSIR },
      'the log names the configured user',
    );
    t.match(
      text(
        await client.call([
          '/ip/hotspot/user/add',
          '=name=guest1',
          word('=comment=', TEST_1251),
          '.tag=t',
        ]),
      ),
      ['!trap .tag=t =message=not enough permissions (rosgate rule cashier-no-test-users)'],
      "the cashier's role applies, and its condition reads the comment as Тест",
    );
    t.match(
      text(await client.call(['/ip/hotspot/user/add', '=name=guest2', '=comment=paid', '.tag=p'])),
      ['!done .tag=p =ret=*'],
      'another comment passes',
    );
    t.match(
      text(await client.call(['/system/reboot', '.tag=r'])),
      ['!trap .tag=r =message=not enough permissions (rosgate rule default-deny)'],
      'and what the role does not allow is denied',
    );

    const inUtf8 = await openRaw(t, stack.port);
    t.same(
      text(
        await inUtf8.call([
          '/login',
          Buffer.from(`=name=${KASSIR}`),
          Buffer.from(`=password=${PAROL}`),
        ]),
      ),
      ['!done'],
      'a UTF-8 client still logs in as the same user',
    );

    const legacy = await openRaw(t, stack.port);
    const hex = (await legacy.call(['/login']))[0]?.attributeString('ret') ?? '';
    const response = computeResponse(PAROL_1251, Buffer.from(hex, 'hex'));
    t.same(
      text(await legacy.call(['/login', word('=name=', KASSIR_1251), `=response=${response}`])),
      ['!done'],
      'the legacy challenge, answered over the windows-1251 password, is accepted',
    );
  },
);

t.test('at the default windows-1252 the same bytes are another name', async (t) => {
  const stack = await cashierStack(t, {});
  const client = await openRaw(t, stack.port);
  t.match(
    text(
      await client.call(['/login', word('=name=', KASSIR_1251), word('=password=', PAROL_1251)]),
    ),
    [/^!trap =message=invalid user name or password/],
    'Êàññèð is no configured user',
  );
});

t.test(
  'the code page is read at start: a live change is recorded and waits for a restart',
  async (t) => {
    const stack = await cashierStack(t, {});
    const result = await stack.app.reconfigure('limits', { clientCodePage: 'windows-1251' });
    t.match(result, {
      ok: true,
      changes: [
        {
          key: 'limits.clientCodePage',
          old: 'windows-1252',
          new: 'windows-1251',
          applies: 'restart',
        },
      ],
    });
    const client = await openRaw(t, stack.port);
    t.match(
      text(
        await client.call(['/login', word('=name=', KASSIR_1251), word('=password=', PAROL_1251)]),
      ),
      [/^!trap =message=invalid user name or password/],
      'clients that connect after it are read as before, until the restart',
    );
  },
);
