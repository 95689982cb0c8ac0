import t from 'tap';
import { validateConfig, type SecretFiles } from '../../src/config/index.js';
import { LOGIN_ENCODINGS } from '../../src/protocol/index.js';
import { errorOf, problemsOf, ROUTER } from './fixtures/helpers.js';

interface RuleCase {
  /** The rule, as a sentence. */
  name: string;
  raw: unknown;
  env?: NodeJS.ProcessEnv;
  files?: SecretFiles;
  problems: string[];
}

const router = (extra: Record<string, unknown>) => ({ routers: [{ ...ROUTER, ...extra }] });
const user = (extra: Record<string, unknown>) => ({
  routers: [ROUTER],
  users: [{ name: 'billing', password: 'u-pw', ...extra }],
});
const enoent = Object.assign(new Error('no such file'), { code: 'EACCES' });

const cases: RuleCase[] = [
  {
    name: 'the document must be a mapping',
    raw: ['routers'],
    problems: ['the configuration must be a mapping'],
  },
  {
    name: 'a scalar document is refused',
    raw: 'routers',
    problems: ['the configuration must be a mapping'],
  },
  {
    name: 'top-level keys are known',
    raw: { rooters: [] },
    problems: ['rooters is not a known key (did you mean routers?)'],
  },
  {
    name: 'routers is a list',
    raw: { routers: { host: 'x' } },
    problems: ['routers must be a list'],
  },
  {
    name: 'each router is a mapping',
    raw: { routers: ['x'] },
    problems: ['routers[0] must be a mapping'],
  },
  {
    name: 'an unknown key is told the known key it most likely meant',
    raw: {
      routers: [{ ...ROUTER, pool: { mx: 3 }, listen: { hots: 'x' }, tls: { certfile: 'c' } }],
      cache: { enabeld: true, zzz: 1 },
      flow: { ratelimit: {} },
    },
    problems: [
      'routers[0].listen.hots is not a known key (did you mean host?)',
      'routers[0].tls.certfile is not a known key (did you mean certFile?)',
      'routers[0].pool.mx is not a known key (did you mean max?)',
      'cache.enabeld is not a known key (did you mean enabled?)',
      'cache.zzz is not a known key',
      'flow.ratelimit is not a known key (did you mean rateLimit?)',
    ],
  },
  {
    name: 'an environment variable written as a key is told the key it sets in the file',
    raw: { MAX_CONNECTIONS: 5, MIKROTIK_HOST: 'r' },
    problems: [
      'MAX_CONNECTIONS is not a known key: it is an environment variable; in this file it is routers[0].pool.max',
      'MIKROTIK_HOST is not a known key: it is an environment variable; in this file it is routers[0].host',
    ],
  },
  {
    name: 'router keys are known',
    raw: router({ pasword: 'x' }),
    problems: ['routers[0].pasword is not a known key (did you mean password?)'],
  },
  {
    name: 'a router needs a host',
    raw: { routers: [{ password: 'p' }] },
    problems: ['routers[0].host is required'],
  },
  {
    name: 'a host is a non-empty string',
    raw: router({ host: '' }),
    problems: ['routers[0].host must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'a router host with a port says where the port goes',
    raw: router({ host: '192.0.2.1:8728' }),
    problems: [
      'routers[0].host must be a host name or IP address without a port (192.0.2.1:8728): put 8728 in port (MIKROTIK_PORT)',
    ],
  },
  {
    name: 'MIKROTIK_HOST with a port is named as the variable',
    raw: {},
    env: { MIKROTIK_HOST: '[2001:db8::1]:8729', MIKROTIK_PASSWORD: 'p' },
    problems: [
      'MIKROTIK_HOST must be a host name or IP address without a port ([2001:db8::1]:8729): put 8729 in port (MIKROTIK_PORT)',
    ],
  },
  {
    name: 'a router host is no URL',
    raw: router({ host: 'http://192.0.2.1/' }),
    problems: ['routers[0].host must be a host name or IP address, not a URL (http://192.0.2.1/)'],
  },
  {
    name: 'an IPv6 router host goes without brackets',
    raw: router({ host: '[2001:db8::1]' }),
    problems: ['routers[0].host must be an IPv6 address without brackets (2001:db8::1)'],
  },
  ...[' 192.0.2.1', 'router lan', 'a..b', '-router', 'x'.repeat(64)].map((host) => ({
    name: `a router host ${JSON.stringify(host)} is refused, quoted`,
    raw: router({ host }),
    problems: [`routers[0].host must be a host name or IP address (${JSON.stringify(host)})`],
  })),
  {
    name: 'listen, TLS and monitoring hosts follow the same rule, each naming its own port',
    raw: {
      routers: [{ ...ROUTER, listen: { host: '0.0.0.0:8728' }, tls: { host: '127.0.0.1:8729' } }],
      monitoring: { host: '0.0.0.0:9728' },
    },
    problems: [
      'routers[0].listen.host must be a host name or IP address without a port (0.0.0.0:8728): put 8728 in listen.port (PROXY_PORT)',
      'routers[0].tls.host must be a host name or IP address without a port (127.0.0.1:8729): put 8729 in tls.port (PROXY_TLS_PORT)',
      'monitoring.host must be a host name or IP address without a port (0.0.0.0:9728): put 9728 in port (MONITORING_PORT)',
    ],
  },
  {
    name: 'a numeric YAML password is refused with a hint to quote it',
    raw: router({ password: 1234 }),
    problems: ['routers[0].password must be a non-empty string (quote numbers in YAML)'],
  },
  ...[0, 65536, 1.5, '8728', -1].map((port) => ({
    name: `router port ${JSON.stringify(port)} is refused`,
    raw: router({ port }),
    problems: ['routers[0].port must be an integer 1-65535'],
  })),
  {
    name: 'router names are plain enough to be metric labels',
    raw: router({ name: 'core router' }),
    problems: ['routers[0].name must match [a-zA-Z0-9_.-]+'],
  },
  {
    name: 'a router name is a string',
    raw: router({ name: 7 }),
    problems: ['routers[0].name must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'a username is a non-empty string',
    raw: router({ username: '' }),
    problems: ['routers[0].username must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'a bare list item is not an empty router',
    raw: { routers: [null] },
    problems: ['routers[0] must be a mapping'],
  },
  {
    name: 'router names are unique',
    raw: {
      routers: [
        { ...ROUTER, name: 'a' },
        { ...ROUTER, name: 'a', listen: { port: 8729 } },
      ],
    },
    problems: ['routers[1].name is duplicated (first at routers[0].name)'],
  },
  {
    name: 'two unnamed routers both default to the name default',
    raw: { routers: [ROUTER, { ...ROUTER, listen: { port: 8729 } }] },
    problems: ['routers[1].name is duplicated (first at routers[0].name)'],
  },
  {
    name: 'listen ports are unique across routers',
    raw: {
      routers: [
        { ...ROUTER, name: 'a' },
        { ...ROUTER, name: 'b' },
      ],
    },
    problems: ['routers[1].listen.port is duplicated (first at routers[0].listen.port)'],
  },
  {
    name: 'listen is a mapping',
    raw: router({ listen: 8728 }),
    problems: ['routers[0].listen must be a mapping'],
  },
  {
    name: 'listen keys are known',
    raw: router({ listen: { prot: 1 } }),
    problems: ['routers[0].listen.prot is not a known key (did you mean port?)'],
  },
  {
    name: 'a listen port is 0-65535',
    raw: router({ listen: { port: 65536 } }),
    problems: ['routers[0].listen.port must be an integer 0-65535'],
  },
  {
    name: 'a listen host is a string',
    raw: router({ listen: { host: 127 } }),
    problems: ['routers[0].listen.host must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'timeoutMs is a positive timer value',
    raw: router({ timeoutMs: 0 }),
    problems: ['routers[0].timeoutMs must be an integer 1-2147483647'],
  },
  {
    name: 'emptyReplies is strip or passthrough',
    raw: router({ emptyReplies: 'drop' }),
    problems: ['routers[0].emptyReplies must be one of strip, passthrough'],
  },
  {
    name: 'pool is a mapping',
    raw: router({ pool: [] }),
    problems: ['routers[0].pool must be a mapping'],
  },
  {
    name: 'pool keys are known',
    raw: router({ pool: { maximum: 3 } }),
    problems: ['routers[0].pool.maximum is not a known key'],
  },
  {
    name: 'pool.max is at most 1000',
    raw: router({ pool: { max: 1001 } }),
    problems: ['routers[0].pool.max must be an integer 1-1000'],
  },
  {
    name: 'pool.max is at least 1',
    raw: router({ pool: { min: 0, max: 0 } }),
    problems: ['routers[0].pool.max must be an integer 1-1000'],
  },
  {
    name: 'pool.min is not negative',
    raw: router({ pool: { min: -1 } }),
    problems: ['routers[0].pool.min must be an integer 0-1000'],
  },
  {
    name: 'pool.max is at least pool.min',
    raw: router({ pool: { min: 4, max: 2 } }),
    problems: ['routers[0].pool.max must be >= routers[0].pool.min'],
  },
  {
    name: 'the reconnect delay ceiling is at least the first delay',
    raw: router({ pool: { reconnectInitialDelayMs: 500, reconnectMaxDelayMs: 100 } }),
    problems: [
      'routers[0].pool.reconnectMaxDelayMs must be >= routers[0].pool.reconnectInitialDelayMs',
    ],
  },
  {
    name: 'pool timers are positive',
    raw: router({
      pool: {
        acquireTimeoutMs: 0,
        idleTimeoutMs: 2 ** 31,
        healthCheckIntervalMs: -5,
        reconnectInitialDelayMs: 0,
        reconnectMaxDelayMs: 0.5,
      },
    }),
    problems: [
      'routers[0].pool.reconnectInitialDelayMs must be an integer 1-2147483647',
      'routers[0].pool.reconnectMaxDelayMs must be an integer 1-2147483647',
      'routers[0].pool.acquireTimeoutMs must be an integer 1-2147483647',
      'routers[0].pool.idleTimeoutMs must be an integer 1-2147483647',
      'routers[0].pool.healthCheckIntervalMs must be an integer 1-2147483647',
    ],
  },
  {
    name: 'in-flight commands per session are 1-65535',
    raw: router({ pool: { maxInFlightPerSession: 0 } }),
    problems: ['routers[0].pool.maxInFlightPerSession must be an integer 1-65535'],
  },
  {
    name: 'the write buffer towards a router holds at least 1 KiB',
    raw: router({ pool: { maxWriteBufferBytes: 16383 } }),
    problems: ['routers[0].pool.maxWriteBufferBytes must be an integer >= 16384'],
  },
  {
    name: 'a router sets only one password source',
    raw: router({ passwordEnv: 'PW' }),
    env: { PW: 'x' },
    problems: ['routers[0] must set only one of password, passwordEnv, passwordFile'],
  },
  {
    name: 'a login encoding is UTF-8 or a single-byte code page',
    raw: router({ loginEncoding: 'cp1251' }),
    problems: [`routers[0].loginEncoding must be one of ${LOGIN_ENCODINGS.join(', ')}`],
  },
  {
    name: "a router's username must be writable in its login encoding, its characters named",
    raw: router({ username: 'op\u00e9rateur\u00e9', loginEncoding: 'windows-1251' }),
    problems: [
      'routers[0].username has characters windows-1251 (loginEncoding) cannot write: \u00e9',
    ],
  },
  ...[
    { from: { password: '\u00fcber' }, key: 'routers[0].password' },
    { from: { passwordEnv: 'PW' }, key: 'routers[0].passwordEnv' },
    { from: { passwordFile: 'pw.txt' }, key: 'routers[0].passwordFile' },
  ].map(({ from, key }) => ({
    name: `a password that its login encoding cannot write is named by its source (${key}), never shown`,
    raw: { routers: [{ host: 'r', loginEncoding: 'windows-1251', ...from }] },
    env: { PW: '\u00fcber' },
    files: new Map([['pw.txt', '\u00fcber\n']]),
    problems: [
      `${key} gives a password with characters windows-1251 (loginEncoding) cannot write: set loginEncoding to the code page the password was set in`,
    ],
  })),
  {
    name: 'MIKROTIK_PASSWORD is named when it is the password the encoding cannot write',
    raw: { routers: [{ host: 'r', loginEncoding: 'koi8-r' }] },
    env: { MIKROTIK_PASSWORD: '\u00fcber' },
    problems: [
      'MIKROTIK_PASSWORD gives a password with characters koi8-r (loginEncoding) cannot write: set loginEncoding to the code page the password was set in',
    ],
  },
  {
    name: 'passwordEnv must name a variable that is set',
    raw: { routers: [{ host: 'r', passwordEnv: 'ROUTER_PW' }] },
    problems: [
      'routers[0].passwordEnv names the environment variable ROUTER_PW, which is not set or is empty',
    ],
  },
  {
    name: 'passwordEnv must name a variable that is not empty',
    raw: { routers: [{ host: 'r', passwordEnv: 'ROUTER_PW' }] },
    env: { ROUTER_PW: '' },
    problems: [
      'routers[0].passwordEnv names the environment variable ROUTER_PW, which is not set or is empty',
    ],
  },
  {
    name: 'passwordFile must have been read',
    raw: { routers: [{ host: 'r', passwordFile: 'pw.txt' }] },
    problems: ['routers[0].passwordFile cannot be read: pw.txt (ENOENT)'],
  },
  {
    name: 'a passwordFile read error is reported with its code',
    raw: { routers: [{ host: 'r', passwordFile: 'pw.txt' }] },
    files: new Map([['pw.txt', enoent]]),
    problems: ['routers[0].passwordFile cannot be read: pw.txt (EACCES)'],
  },
  {
    name: 'a passwordFile read error without a code still names the file',
    raw: { routers: [{ host: 'r', passwordFile: 'pw.txt' }] },
    files: new Map([['pw.txt', new Error('odd')]]),
    problems: ['routers[0].passwordFile cannot be read: pw.txt (error)'],
  },
  {
    name: 'a passwordFile holding only a newline is empty',
    raw: { routers: [{ host: 'r', passwordFile: 'pw.txt' }] },
    files: new Map([['pw.txt', '\n']]),
    problems: ['routers[0].passwordFile is an empty file: pw.txt'],
  },
  { name: 'users is a list', raw: { users: 'billing' }, problems: ['users must be a list'] },
  {
    name: 'each user is a mapping',
    raw: { users: [null] },
    problems: ['users[0] must be a mapping'],
  },
  {
    name: 'user keys are known',
    raw: user({ role: 'admin' }),
    problems: ['users[0].role is not a known key'],
  },
  {
    name: 'a user needs a name',
    raw: { users: [{ password: 'p' }] },
    problems: ['users[0].name is required'],
  },
  {
    name: 'users without names are not also reported as duplicates',
    raw: { users: [{ password: 'p' }, { password: 'q' }] },
    problems: ['users[0].name is required', 'users[1].name is required'],
  },
  {
    name: 'user names are unique',
    raw: {
      users: [
        { name: 'a', password: 'p' },
        { name: 'b', password: 'p' },
        { name: 'a', password: 'q' },
      ],
    },
    problems: ['users[2].name is duplicated (first at users[0].name)'],
  },
  {
    name: 'a user sets one password source, not none',
    raw: { users: [{ name: 'a' }] },
    problems: [
      'users[0] must set exactly one of passwordHash, password, passwordEnv, passwordFile',
    ],
  },
  {
    name: 'a user sets one password source, not two',
    raw: user({ passwordEnv: 'PW' }),
    env: { PW: 'x' },
    problems: [
      'users[0] must set exactly one of passwordHash, password, passwordEnv, passwordFile',
    ],
  },
  {
    name: 'a passwordHash must come from hashPassword()',
    raw: { users: [{ name: 'a', passwordHash: 'md5$abc' }] },
    problems: ['users[0].passwordHash must be a hash from hashPassword(): scrypt$N$r$p$salt$hash'],
  },
  {
    name: 'a passwordHash is a string',
    raw: { users: [{ name: 'a', passwordHash: 12 }] },
    problems: ['users[0].passwordHash must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'a user passwordEnv must be set',
    raw: { users: [{ name: 'a', passwordEnv: 'A_PW' }] },
    problems: [
      'users[0].passwordEnv names the environment variable A_PW, which is not set or is empty',
    ],
  },
  {
    name: 'a user passwordFile must be readable',
    raw: { users: [{ name: 'a', passwordFile: '/run/secrets/a' }] },
    problems: ['users[0].passwordFile cannot be read: /run/secrets/a (ENOENT)'],
  },
  {
    name: 'user routers is a list',
    raw: user({ routers: 'default' }),
    problems: ['users[0].routers must be a list of router names'],
  },
  {
    name: 'user routers holds only names',
    raw: user({ routers: ['default', 3] }),
    problems: ['users[0].routers must be a list of router names'],
  },
  {
    name: 'user routers names configured routers',
    raw: user({ routers: ['default', 'edge'] }),
    problems: ['users[0].routers[1] is not the name of a configured router'],
  },
  { name: 'limits is a mapping', raw: { limits: 5 }, problems: ['limits must be a mapping'] },
  {
    name: 'limits keys are known',
    raw: { limits: { maxWords: 5 } },
    problems: ['limits.maxWords is not a known key (did you mean maxWordsPerSentence?)'],
  },
  {
    name: 'a word limit fits the 32-bit length prefix',
    raw: { limits: { maxWordBytes: 2 ** 32 } },
    problems: ['limits.maxWordBytes must be an integer 1-4294967295'],
  },
  {
    name: 'count limits are positive',
    raw: {
      limits: {
        maxWordsPerSentence: 0,
        maxSentenceBytes: 0,
        maxInFlightPerClient: 0,
        maxClientsPerAddress: 0,
        maxClients: 0,
        maxOutputBufferBytes: 0,
        preLoginMaxSentences: 0,
      },
    },
    problems: [
      'limits.maxWordsPerSentence must be an integer >= 1',
      'limits.maxSentenceBytes must be an integer >= 1',
      'limits.maxInFlightPerClient must be an integer >= 1',
      'limits.maxClientsPerAddress must be an integer >= 1',
      'limits.maxClients must be an integer >= 1',
      'limits.maxOutputBufferBytes must be an integer >= 1',
      'limits.preLoginMaxSentences must be an integer >= 1',
    ],
  },
  {
    name: 'login timers are timer values',
    raw: { limits: { preLoginTimeoutMs: 0, loginCacheTtlMs: -1 } },
    problems: [
      'limits.preLoginTimeoutMs must be an integer 1-2147483647',
      'limits.loginCacheTtlMs must be an integer 0-2147483647',
    ],
  },
  {
    name: 'keepaliveReply is done or trap',
    raw: { limits: { keepaliveReply: 'ok' } },
    problems: ['limits.keepaliveReply must be one of done, trap'],
  },
  {
    name: 'login caches and client timers are timer values, 0 turning them off',
    raw: { limits: { loginFailureCacheTtlMs: -1, clientIdleTimeoutMs: 2 ** 31 } },
    problems: [
      'limits.loginFailureCacheTtlMs must be an integer 0-2147483647',
      'limits.clientIdleTimeoutMs must be an integer 0-2147483647',
    ],
  },
  {
    name: 'logins checked against the router at once are 1-1000',
    raw: { limits: { maxConcurrentLoginChecks: 1001 } },
    problems: ['limits.maxConcurrentLoginChecks must be an integer 1-1000'],
  },
  {
    name: 'a client may send at least 256 bytes before logging in',
    raw: { limits: { preLoginMaxSentenceBytes: 255 } },
    problems: ['limits.preLoginMaxSentenceBytes must be an integer 256-4294967295'],
  },
  {
    name: 'client TCP keepalive is at least a second, and can not be turned off',
    raw: { limits: { clientKeepAliveMs: 0 } },
    problems: ['limits.clientKeepAliveMs must be an integer 1000-2147483647'],
  },
  {
    name: 'the listen backlog is 1-65535',
    raw: { limits: { listenBacklog: 0 } },
    problems: ['limits.listenBacklog must be an integer 1-65535'],
  },
  {
    name: 'monitoring is a mapping',
    raw: { monitoring: true },
    problems: ['monitoring must be a mapping'],
  },
  {
    name: 'the monitoring port is 0-65535',
    raw: { monitoring: { port: 70000 } },
    problems: ['monitoring.port must be an integer 0-65535'],
  },
  {
    name: 'the monitoring port is not a proxy port',
    raw: { routers: [{ ...ROUTER, listen: { port: 9728 } }] },
    problems: ['monitoring.port is already used by routers[0].listen.port'],
  },
  { name: 'log is a mapping', raw: { log: 'debug' }, problems: ['log must be a mapping'] },
  {
    name: 'the log level is one pino knows',
    raw: { log: { level: 'verbose' } },
    problems: ['log.level must be one of fatal, error, warn, info, debug, trace, silent'],
  },
  { name: 'shutdown is a mapping', raw: { shutdown: 1 }, problems: ['shutdown must be a mapping'] },
  {
    name: 'the grace period is not negative',
    raw: { shutdown: { graceMs: -1 } },
    problems: ['shutdown.graceMs must be an integer 0-2147483647'],
  },
];

for (const c of cases) {
  t.test(c.name, (t) => {
    t.same(
      problemsOf(() => validateConfig(c.raw, c.env, c.files)),
      c.problems,
    );
    t.end();
  });
}

t.test('a router host is a name or an address, IPv6 with a zone too', (t) => {
  for (const host of [
    '192.0.2.1',
    'router.lan',
    'core_router.isp.example.',
    '2001:db8::1',
    'fe80::1%eth0',
  ]) {
    t.equal(validateConfig(router({ host })).config.routers[0]?.host, host);
  }
  t.end();
});

t.test('several problems are reported at once, in one error whose message lists them', (t) => {
  const err = errorOf(() =>
    validateConfig({
      routers: [{ host: 'r', port: 0, pool: { min: 3, max: 2 }, pasword: 'x' }],
      users: [
        { name: 'a', password: 'p' },
        { name: 'a', password: 'q' },
      ],
      log: { level: 'loud' },
    }),
  );
  t.match(err, { name: 'RosgateError', code: 'ROSGATE_CONFIG' });
  // A mapping's own problems come first, in the order of its keys, then its unknown keys.
  const problems = [
    'routers[0].port must be an integer 1-65535',
    'routers[0].pool.max must be >= routers[0].pool.min',
    'routers[0].pasword is not a known key (did you mean password?)',
    'users[1].name is duplicated (first at users[0].name)',
    'log.level must be one of fatal, error, warn, info, debug, trace, silent',
  ];
  t.same((err as Error & { details: unknown }).details, { problems });
  t.equal(
    err.message,
    ['invalid configuration: 5 problems', ...problems.map((p) => `  - ${p}`)].join('\n'),
  );
  t.end();
});

t.test('two listeners may both ask for an ephemeral port, as may monitoring', (t) => {
  const { config } = validateConfig({
    routers: [
      { ...ROUTER, name: 'a', listen: { port: 0 } },
      { ...ROUTER, name: 'b', listen: { port: 0 } },
    ],
    monitoring: { port: 0 },
  });
  t.same(
    config.routers.map((r) => r.listen.port),
    [0, 0],
  );
  t.end();
});

t.test('the input is not changed by validation', (t) => {
  const raw = { routers: [{ host: 'r', password: 'p' }] };
  const copy = structuredClone(raw);
  validateConfig(raw, { MIKROTIK_PORT: '1', MIKROTIK_HOST: 'other' });
  t.same(raw, copy);
  t.end();
});

t.test('users resolve their secret, and keep the name of where it came from', (t) => {
  const { config } = validateConfig(
    {
      routers: [
        { ...ROUTER, name: 'a' },
        { ...ROUTER, name: 'b', listen: { port: 8729 } },
      ],
      users: [
        { name: 'inline', password: 'one' },
        { name: 'env', passwordEnv: 'TWO', routers: ['b'] },
        { name: 'file', passwordFile: 'three.txt', routers: [] },
        {
          name: 'hash',
          passwordHash:
            'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
        },
      ],
    },
    { TWO: 'two' },
    new Map([['three.txt', 'three\r\n']]),
  );
  t.same(config.users, [
    { name: 'inline', secret: Buffer.from('one') },
    { name: 'env', secret: Buffer.from('two'), passwordEnv: 'TWO', routers: ['b'] },
    { name: 'file', secret: Buffer.from('three'), passwordFile: 'three.txt', routers: [] },
    {
      name: 'hash',
      passwordHash:
        'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    },
  ]);
  t.notOk(
    'password' in (config.users[0] ?? {}),
    'the inline plaintext is kept only as the secret buffer',
  );
  t.notOk('secret' in (config.users[3] ?? {}), 'a hash-only user has no plaintext secret');
  t.end();
});

t.test('a non-ASCII password becomes its UTF-8 bytes', (t) => {
  const { config } = validateConfig({ users: [{ name: 'a', password: 'pässwörd' }] });
  t.same(config.users[0]?.secret, Buffer.from('pässwörd', 'utf8'));
  t.end();
});

t.test(
  'a login encoding is taken from MIKROTIK_LOGIN_ENCODING, and text it writes is accepted',
  (t) => {
    const { config } = validateConfig(
      {
        routers: [
          { host: 'r', username: '\u043e\u043f', password: '\u043f\u0430\u0440\u043e\u043b\u044c' },
        ],
      },
      { MIKROTIK_LOGIN_ENCODING: 'windows-1251' },
    );
    t.equal(config.routers[0]?.loginEncoding, 'windows-1251');
    t.equal(
      config.routers[0]?.password,
      '\u043f\u0430\u0440\u043e\u043b\u044c',
      'the password stays text',
    );
    t.end();
  },
);

t.test('a password file loses one trailing newline only', (t) => {
  const { config } = validateConfig(
    { routers: [{ host: 'r', passwordFile: 'pw' }] },
    {},
    new Map([['pw', 'secret\n\n']]),
  );
  t.equal(config.routers[0]?.password, 'secret\n');
  t.end();
});

t.test('warnings', async (t) => {
  t.test("a router port that is the other API service's default warns", (t) => {
    const warned = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
      validateConfig({ routers: [{ host: 'r', password: 'p', ...raw }] }, env).warnings.filter(
        (w) => w.code === 'ROSGATE_CONFIG_UPSTREAM_PORT_TLS',
      );
    t.same(
      warned({}, { MIKROTIK_PORT: '8729' }).map((w) => w.message),
      [
        "MIKROTIK_PORT is 8729, the router's api-ssl port, but upstreamTls is off: set upstreamTls (MIKROTIK_TLS) to verify, insecure or anonymous, or use 8728",
      ],
    );
    t.same(
      warned({ port: 8728, upstreamTls: 'insecure' }).map((w) => w.message),
      [
        "routers[0].port is 8728, the router's plain api port, but upstreamTls is insecure: use 8729 (api-ssl), or upstreamTls off (MIKROTIK_TLS)",
      ],
    );
    for (const raw of [
      {},
      { port: 8729, upstreamTls: 'insecure' },
      { upstreamTls: 'anonymous' },
      { port: 18728 },
    ])
      t.same(warned(raw), [], JSON.stringify(raw));
    t.end();
  });

  t.test(
    'a secret from the environment loses one trailing newline, as from a file, and says so',
    (t) => {
      const { config, warnings } = validateConfig(
        {
          routers: [
            { host: 'r' },
            { name: 'b', host: 'r', passwordEnv: 'B_PW', listen: { port: 1 } },
          ],
          users: [{ name: 'u', passwordEnv: 'U_PW' }],
          shared: { url: 'redis://127.0.0.1:7000' },
        },
        {
          MIKROTIK_PASSWORD: 'router-pw\n',
          B_PW: 'b-pw\r\n',
          U_PW: 'u-pw\n\n',
          MONITORING_TOKEN: 'a-token-of-sixteen-or-more\n',
          REDIS_PASSWORD: 'redis-pw\n',
        },
      );
      t.equal(config.routers[0]?.password, 'router-pw');
      t.equal(config.routers[1]?.password, 'b-pw');
      t.same(config.users[0]?.secret, Buffer.from('u-pw\n'), 'one newline only');
      t.equal(config.monitoring.token, 'a-token-of-sixteen-or-more');
      t.equal(config.shared?.password, 'redis-pw');
      const said = 'ends with a newline, which was dropped (a Secret made from a file keeps it)';
      t.same(
        warnings.map((w) => [w.code, w.message]),
        [
          'MIKROTIK_PASSWORD',
          'routers[1].passwordEnv',
          'users[0].passwordEnv',
          'MONITORING_TOKEN',
          'REDIS_PASSWORD',
        ].map((at) => ['ROSGATE_CONFIG_SECRET_TRAILING_NEWLINE', `${at} ${said}`]),
      );
      const sentinel = validateConfig(
        { routers: [{ host: 'r', password: 'p' }] },
        {
          REDIS_SENTINEL_NAME: 'master',
          REDIS_SENTINELS: '127.0.0.1:26379',
          REDIS_SENTINEL_PASSWORD: 'sentinel-pw\n',
        },
      );
      t.equal(sentinel.config.shared?.sentinel?.password, 'sentinel-pw');
      t.same(sentinel.config.shared?.sentinel?.nodes, ['127.0.0.1:26379'], 'the rest kept');
      const inFile = validateConfig({ routers: [{ host: 'r', password: 'pw\n' }] });
      t.equal(
        inFile.config.routers[0]?.password,
        'pw\n',
        'text written in the file stays as written',
      );
      t.end();
    },
  );

  t.test('pool.max above 19 warns that the router allows 20 sessions by default', (t) => {
    const at19 = validateConfig(
      { routers: [{ host: 'r', passwordEnv: 'P', pool: { max: 19 } }] },
      { P: 'p' },
    );
    t.same(at19.warnings, []);
    const at20 = validateConfig(
      { routers: [{ host: 'r', passwordEnv: 'P', pool: { max: 20 } }] },
      { P: 'p' },
    );
    t.same(at20.warnings, [
      {
        code: 'ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS',
        path: 'routers[0].pool.max',
        message:
          'routers[0].pool.max is 20: RouterOS allows 20 API sessions by default (/ip service api max-sessions), and one should stay free for administration',
      },
    ]);
    t.equal(at20.config.routers[0]?.pool.max, 20, 'the setting is still accepted');
    t.end();
  });

  t.test('an inline user password warns; a hash, variable or file does not', (t) => {
    const { warnings } = validateConfig(
      {
        users: [
          { name: 'a', password: 'p' },
          { name: 'b', passwordEnv: 'B' },
          { name: 'c', passwordFile: 'c' },
        ],
      },
      { B: 'b' },
      new Map([['c', 'c']]),
    );
    t.same(
      warnings.filter((w) => w.code !== 'ROSGATE_CONFIG_NO_ROUTERS'),
      [
        {
          code: 'ROSGATE_CONFIG_INLINE_PASSWORD',
          path: 'users[0].password',
          message:
            'users[0].password is a plaintext password in the configuration; prefer passwordEnv or passwordFile',
        },
      ],
    );
    t.end();
  });

  t.test('a router without a password is allowed with a warning', (t) => {
    const { config, warnings } = validateConfig({ routers: [{ host: 'r' }] });
    t.equal(config.routers[0]?.password, '');
    t.same(warnings, [
      {
        code: 'ROSGATE_CONFIG_EMPTY_ROUTER_PASSWORD',
        path: 'routers[0]',
        message:
          'routers[0] has no password (set MIKROTIK_PASSWORD, password, passwordEnv or passwordFile)',
      },
    ]);
    t.end();
  });
  t.end();
});
