import t from 'tap';
import { applyEnvironment, validateConfig, type RouterConfig } from '../../src/config/index.js';
import { problemsOf, ROUTER } from './fixtures/helpers.js';

const FILE = { routers: [{ ...ROUTER, name: 'core' }] };

interface EnvCase {
  name: string;
  value: string;
  read: (router: RouterConfig) => unknown;
  expected: unknown;
}

const routerCases: EnvCase[] = [
  { name: 'MIKROTIK_HOST', value: '10.1.1.1', read: (r) => r.host, expected: '10.1.1.1' },
  { name: 'MIKROTIK_PORT', value: '8729', read: (r) => r.port, expected: 8729 },
  { name: 'MIKROTIK_USERNAME', value: 'api', read: (r) => r.username, expected: 'api' },
  {
    name: 'MIKROTIK_PASSWORD',
    value: ' from env ',
    read: (r) => r.password,
    expected: ' from env ',
  },
  { name: 'MIKROTIK_TIMEOUT', value: '2500', read: (r) => r.timeoutMs, expected: 2500 },
  { name: 'PROXY_HOST', value: '127.0.0.1', read: (r) => r.listen.host, expected: '127.0.0.1' },
  { name: 'PROXY_PORT', value: '0', read: (r) => r.listen.port, expected: 0 },
  { name: 'MIN_CONNECTIONS', value: '2', read: (r) => r.pool.min, expected: 2 },
  { name: 'MAX_CONNECTIONS', value: '7', read: (r) => r.pool.max, expected: 7 },
  { name: 'ACQUIRE_TIMEOUT', value: '750', read: (r) => r.pool.acquireTimeoutMs, expected: 750 },
  { name: 'IDLE_TIMEOUT', value: '1000', read: (r) => r.pool.idleTimeoutMs, expected: 1000 },
  {
    name: 'HEALTH_CHECK_INTERVAL',
    value: '5000',
    read: (r) => r.pool.healthCheckIntervalMs,
    expected: 5000,
  },
];

for (const c of routerCases) {
  t.test(`${c.name} overrides the first router from the file`, (t) => {
    const { config } = validateConfig(FILE, { [c.name]: c.value });
    const router = config.routers[0] as RouterConfig;
    t.same(c.read(router), c.expected);
    t.equal(router.name, 'core', 'the rest of the router comes from the file');
    t.end();
  });
}

t.test('MONITORING_PORT sets the monitoring port', (t) => {
  t.equal(validateConfig({}, { MONITORING_PORT: '9100' }).config.monitoring.port, 9100);
  t.end();
});

t.test('LOG_LEVEL sets the log level', (t) => {
  t.equal(validateConfig({}, { LOG_LEVEL: 'debug' }).config.log.level, 'debug');
  t.end();
});

t.test('the environment applies to the first router only', (t) => {
  const { config } = validateConfig(
    {
      routers: [
        { ...ROUTER, name: 'a' },
        { ...ROUTER, name: 'b', port: 1234, listen: { port: 8729 } },
      ],
    },
    { MIKROTIK_PORT: '4321' },
  );
  t.same(
    config.routers.map((r) => r.port),
    [4321, 1234],
  );
  t.end();
});

t.test('MIKROTIK_HOST alone creates one router named default', (t) => {
  for (const raw of [undefined, {}, { routers: [] }, { routers: null }]) {
    const { config, warnings } = validateConfig(raw, {
      MIKROTIK_HOST: '192.0.2.7',
      MIKROTIK_USERNAME: 'api',
      MIKROTIK_PASSWORD: 'pw',
      PROXY_PORT: '18728',
    });
    t.match(config.routers, [
      {
        name: 'default',
        host: '192.0.2.7',
        username: 'api',
        password: 'pw',
        port: 8728,
        listen: { port: 18728 },
      },
    ]);
    t.equal(config.routers.length, 1);
    t.same(warnings, [], 'a password from the environment is not an inline password');
  }
  t.end();
});

t.test('router variables without MIKROTIK_HOST and without routers create nothing', (t) => {
  const { config, warnings } = validateConfig(
    {},
    { MIKROTIK_PORT: '8729', MIKROTIK_PASSWORD: 'pw' },
  );
  t.same(config.routers, []);
  t.same(
    warnings.map((w) => w.code),
    ['ROSGATE_CONFIG_NO_ROUTERS'],
  );
  t.end();
});

t.test('an empty variable counts as unset', (t) => {
  const { config } = validateConfig(FILE, { MIKROTIK_PORT: '', MIKROTIK_HOST: '', LOG_LEVEL: '' });
  t.equal(config.routers[0]?.port, 8728);
  t.equal(config.routers[0]?.host, 'router.example');
  t.equal(config.log.level, 'info');
  t.end();
});

t.test('numbers in variables may carry surrounding spaces', (t) => {
  t.equal(validateConfig(FILE, { MIKROTIK_PORT: ' 8729\n' }).config.routers[0]?.port, 8729);
  t.end();
});

t.test('MIKROTIK_PASSWORD beats a passwordFile or passwordEnv in the file', (t) => {
  for (const source of [
    { passwordFile: 'missing.txt' },
    { passwordEnv: 'UNSET_VARIABLE' },
    { password: 'file-pw' },
  ]) {
    const { config, warnings } = validateConfig(
      { routers: [{ host: 'r', ...source }] },
      { MIKROTIK_PASSWORD: 'env-pw' },
    );
    t.equal(config.routers[0]?.password, 'env-pw');
    t.same(warnings, []);
  }
  t.end();
});

t.test('invalid values are reported under the variable name', (t) => {
  t.same(
    problemsOf(() => validateConfig(FILE, { MIKROTIK_PORT: 'abc' })),
    ['MIKROTIK_PORT must be an integer 1-65535'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MIKROTIK_PORT: '70000' })),
    ['MIKROTIK_PORT must be an integer 1-65535'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { PROXY_PORT: '1.5' })),
    ['PROXY_PORT must be an integer 0-65535'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MAX_CONNECTIONS: '0' })),
    ['MAX_CONNECTIONS must be an integer 1-1000'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MIKROTIK_TIMEOUT: '-1' })),
    ['MIKROTIK_TIMEOUT must be an integer 1-2147483647'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MONITORING_PORT: 'x' })),
    ['MONITORING_PORT must be an integer 0-65535'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { LOG_LEVEL: 'loud' })),
    ['LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
  );
  t.end();
});

t.test('cross-field rules name whichever variable or path set each side', (t) => {
  t.same(
    problemsOf(() => validateConfig(FILE, { MIN_CONNECTIONS: '4', MAX_CONNECTIONS: '2' })),
    ['MAX_CONNECTIONS must be >= MIN_CONNECTIONS'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MIN_CONNECTIONS: '9' })),
    ['routers[0].pool.max must be >= MIN_CONNECTIONS'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { PROXY_PORT: '9728' })),
    ['monitoring.port is already used by PROXY_PORT'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MONITORING_PORT: '8728' })),
    ['MONITORING_PORT is already used by routers[0].listen.port'],
  );
  t.end();
});

t.test('warnings name the variable that set the value', (t) => {
  const { warnings } = validateConfig(FILE, { MAX_CONNECTIONS: '25' });
  t.match(
    warnings.find((w) => w.code === 'ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS'),
    {
      path: 'MAX_CONNECTIONS',
      message: /^MAX_CONNECTIONS is 25: /,
    },
  );
  t.end();
});

t.test(
  'variables cannot apply where the file has the wrong shape, and the shape is reported',
  (t) => {
    t.same(
      problemsOf(() => validateConfig({ routers: 'x' }, { MIKROTIK_HOST: 'h' })),
      ['routers must be a list'],
    );
    t.same(
      problemsOf(() => validateConfig({ routers: [7] }, { MIKROTIK_HOST: 'h' })),
      ['routers[0] must be a mapping'],
    );
    t.same(
      problemsOf(() =>
        validateConfig({ routers: [{ ...ROUTER, pool: 5 }] }, { MAX_CONNECTIONS: '3' }),
      ),
      ['routers[0].pool must be a mapping'],
    );
    t.same(
      problemsOf(() => validateConfig([], { LOG_LEVEL: 'debug' })),
      ['the configuration must be a mapping'],
    );
    t.end();
  },
);

t.test('applyEnvironment copies the document and records where each value came from', (t) => {
  const raw = { routers: [{ host: 'r', pool: { min: 1 } }] };
  const overlay = applyEnvironment(raw, {
    MAX_CONNECTIONS: '3',
    LOG_LEVEL: 'warn',
    UNRELATED: 'x',
  });
  t.same(overlay.raw, {
    routers: [{ host: 'r', pool: { min: 1, max: 3 } }],
    log: { level: 'warn' },
  });
  t.same(
    [...overlay.origins],
    [
      ['routers[0].pool.max', 'MAX_CONNECTIONS'],
      ['log.level', 'LOG_LEVEL'],
    ],
    'in the order the schema declares the keys',
  );
  t.same(raw, { routers: [{ host: 'r', pool: { min: 1 } }] }, 'the input is untouched');
  t.end();
});

t.test('a numeric section variable becomes a number, spaces and fractions included', (t) => {
  const { config } = validateConfig(FILE, {
    RATE_LIMIT_BUCKET_SIZE: ' 250\n',
    MAX_CONCURRENCY: '8',
  });
  t.equal(config.flow.rateLimit.bucketSize, 250);
  t.equal(config.flow.maxConcurrency, 8);
  t.same(
    applyEnvironment({}, { CACHE_MAX_SIZE: '-2.5' }).raw,
    { cache: { maxEntries: -2.5 } },
    'the number is read as written; validation judges it',
  );
  t.end();
});

t.test('a numeric section variable that is not a number is refused under its name', (t) => {
  t.same(
    problemsOf(() => validateConfig(FILE, { RATE_LIMIT_BUCKET_SIZE: 'lots' })),
    ['RATE_LIMIT_BUCKET_SIZE must be a number'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { RATE_LIMIT_BUCKET_SIZE: '2.5' })),
    ['RATE_LIMIT_BUCKET_SIZE must be an integer'],
  );
  t.same(
    problemsOf(() => validateConfig(FILE, { MAX_CONCURRENCY: '0' })),
    ['MAX_CONCURRENCY must be >= 1'],
  );
  t.end();
});

t.test('a boolean section variable takes true/false, 1/0, yes/no and on/off in any case', (t) => {
  const words: [string, boolean][] = [
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['TRUE', true],
    [' Yes ', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
    ['False', false],
    ['OFF', false],
  ];
  for (const [word, value] of words) {
    const { config } = validateConfig(FILE, { ENABLE_CACHING: word, ENABLE_RATE_LIMITING: word });
    t.equal(config.cache.enabled, value, `ENABLE_CACHING=${JSON.stringify(word)}`);
    t.equal(config.flow.rateLimit.enabled, value, `ENABLE_RATE_LIMITING=${JSON.stringify(word)}`);
  }
  t.end();
});

t.test('any other word in a boolean section variable is refused under its name', (t) => {
  for (const word of ['maybe', 'enabled', '2']) {
    t.same(
      problemsOf(() => validateConfig(FILE, { ENABLE_CACHING: word })),
      ['ENABLE_CACHING must be a boolean'],
    );
  }
  t.end();
});

t.test('a string section variable is taken as written', (t) => {
  const { config } = validateConfig(FILE, { AUDIT_LOG_DIR: ' /var/log/rosgate audit ' });
  t.equal(config.audit.dir, ' /var/log/rosgate audit ');
  t.end();
});

t.test('a section variable beats the file, and an empty one leaves the file alone', (t) => {
  const file = { ...FILE, flow: { rateLimit: { bucketSize: 50, maxQueue: 7 } } };
  const set = validateConfig(file, { RATE_LIMIT_BUCKET_SIZE: '60' }).config.flow.rateLimit;
  t.match(set, { bucketSize: 60, maxQueue: 7 });
  const unset = validateConfig(file, { RATE_LIMIT_BUCKET_SIZE: '' }).config.flow.rateLimit;
  t.match(unset, { bucketSize: 50, maxQueue: 7 });
  t.end();
});

t.test('a section variable cannot apply where the file has the wrong shape', (t) => {
  t.same(
    problemsOf(() =>
      validateConfig({ ...FILE, flow: { rateLimit: 5 } }, { ENABLE_RATE_LIMITING: 'on' }),
    ),
    ['flow.rateLimit must be a mapping'],
  );
  t.end();
});
