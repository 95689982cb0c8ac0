import t from 'tap';
import {
  formatConfigError,
  hashPassword,
  redactConfig,
  validateConfig,
  type ResolvedUser,
} from '../../src/config/index.js';
import { errorOf } from './fixtures/helpers.js';

const SECRETS = [
  'router-inline-pw',
  'router-env-pw',
  'router-file-pw',
  'user-inline-pw',
  'user-env-pw',
  'user-file-pw',
];

async function loaded() {
  const hash = await hashPassword('user-hash-pw', { cost: 1024, blockSize: 8, parallelization: 1 });
  const { config } = validateConfig(
    {
      routers: [
        { name: 'a', host: 'r', password: 'router-inline-pw', listen: { port: 1 } },
        { name: 'b', host: 'r', passwordEnv: 'ROUTER_PW', listen: { port: 2 } },
        { name: 'c', host: 'r', passwordFile: 'router.txt', listen: { port: 3 } },
      ],
      users: [
        { name: 'u1', password: 'user-inline-pw' },
        { name: 'u2', passwordEnv: 'USER_PW' },
        { name: 'u3', passwordFile: 'user.txt' },
        { name: 'u4', passwordHash: hash },
      ],
    },
    { ROUTER_PW: 'router-env-pw', USER_PW: 'user-env-pw' },
    new Map([
      ['router.txt', 'router-file-pw\n'],
      ['user.txt', 'user-file-pw\n'],
    ]),
  );
  return { config, hash };
}

t.test('the redacted config holds no password, secret or hash', async (t) => {
  const { config, hash } = await loaded();
  const json = JSON.stringify(redactConfig(config));
  for (const secret of [...SECRETS, hash]) t.notMatch(json, secret, secret);
  t.notMatch(json, Buffer.from('user-env-pw').toString('hex'));
  const redacted = redactConfig(config);
  t.same(
    redacted.routers.map((r) => r.password),
    ['***', '***', '***'],
  );
  t.same(redacted.users, [
    { name: 'u1', secret: '***' },
    { name: 'u2', secret: '***', passwordEnv: 'USER_PW' },
    { name: 'u3', secret: '***', passwordFile: 'user.txt' },
    { name: 'u4', passwordHash: '***' },
  ]);
});

t.test('redaction keeps every other setting and leaves the config as it was', async (t) => {
  const { config } = await loaded();
  const before = JSON.stringify(config);
  const redacted = redactConfig(config);
  t.same(redacted.limits, config.limits);
  t.same(redacted.routers[1]?.pool, config.routers[1]?.pool);
  t.not(redacted.limits, config.limits, 'a copy, not the same object');
  t.equal(JSON.stringify(config), before);
  t.equal(config.routers[0]?.password, 'router-inline-pw');
});

t.test('an empty router password is shown as *** too, so emptiness does not leak', (t) => {
  const { config } = validateConfig({ routers: [{ host: 'r' }] });
  t.equal(redactConfig(config).routers[0]?.password, '***');
  t.end();
});

t.test('an absent secret stays absent rather than looking set', (t) => {
  const { config } = validateConfig({});
  const user = { name: 'x', secret: undefined } as unknown as ResolvedUser;
  t.same(redactConfig({ ...config, users: [user] }).users, [{ name: 'x', secret: undefined }]);
  t.end();
});

t.test('a Buffer under any key is taken to be a secret', (t) => {
  const { config } = validateConfig({});
  const odd = { ...config, limits: { ...config.limits, note: Buffer.from('hidden') } };
  t.same(redactConfig(odd).limits, { ...config.limits, note: '***' });
  t.end();
});

t.test('no error message quotes a password, whatever is wrong around it', (t) => {
  const err = errorOf(() =>
    validateConfig(
      {
        routers: [
          {
            host: 'r',
            password: 'router-inline-pw',
            passwordEnv: 'ROUTER_PW',
            pasword: 'router-inline-pw',
          },
          {
            host: 'r',
            password: 'router-inline-pw',
            port: 'router-inline-pw',
            name: 'router-inline-pw!',
          },
        ],
        users: [
          { name: 'u', password: 'user-inline-pw', passwordFile: 'user.txt' },
          { name: 'v', passwordHash: 'user-inline-pw' },
          { name: 'w', password: 'user-inline-pw', routers: ['user-inline-pw'] },
        ],
        log: { level: 'user-env-pw' },
      },
      { ROUTER_PW: 'router-env-pw', MIKROTIK_PORT: 'router-env-pw', LOG_LEVEL: 'user-env-pw' },
      new Map([['user.txt', 'user-file-pw']]),
    ),
  );
  const text = `${err.message}\n${formatConfigError(err)}\n${JSON.stringify(err)}`;
  t.match(err.message, /^invalid configuration: \d+ problems/);
  for (const secret of SECRETS) t.notMatch(text, secret, secret);
  t.end();
});
