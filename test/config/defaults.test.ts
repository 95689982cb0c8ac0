import t from 'tap';
import {
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MONITORING,
  DEFAULT_POOL,
  DEFAULT_ROUTER,
  DEFAULT_SHUTDOWN_GRACE_MS,
  SECTIONS,
  validateConfig,
} from '../../src/config/index.js';

/** Each stage section's defaults, by key: they are tested with their stages. */
const SECTION_DEFAULTS = Object.fromEntries(
  Object.entries(SECTIONS).map(([key, section]) => [key, section.defaults]),
);

t.test('a router with only host and password gets every documented default', (t) => {
  const { config, warnings } = validateConfig({ routers: [{ host: '192.0.2.1', password: 'pw' }] });
  t.same(config, {
    routers: [
      {
        name: 'default',
        host: '192.0.2.1',
        port: 8728,
        upstreamTls: 'off',
        username: 'admin',
        loginEncoding: 'utf-8',
        password: 'pw',
        timeoutMs: 10000,
        listen: { host: '0.0.0.0', port: 8728 },
        pool: {
          min: 1,
          max: 5,
          acquireTimeoutMs: 5000,
          idleTimeoutMs: 60000,
          healthCheckIntervalMs: 30000,
          reconnectInitialDelayMs: 100,
          reconnectMaxDelayMs: 10000,
          maxInFlightPerSession: 64,
          maxWriteBufferBytes: 1024 * 1024,
        },
        emptyReplies: 'strip',
      },
    ],
    users: [],
    limits: {
      maxWordBytes: 1024 * 1024,
      maxWordsPerSentence: 1024,
      maxSentenceBytes: 4 * 1024 * 1024,
      maxInFlightPerClient: 32,
      maxClientsPerAddress: 100,
      maxClients: 1000,
      maxOutputBufferBytes: 8 * 1024 * 1024,
      preLoginMaxSentences: 4,
      preLoginTimeoutMs: 10000,
      loginCacheTtlMs: 60000,
      loginFailureCacheTtlMs: 5000,
      maxConcurrentLoginChecks: 4,
      maxRelayedLoginChallenges: 4,
      preLoginMaxSentenceBytes: 8192,
      clientIdleTimeoutMs: 0,
      sentenceTimeoutMs: 60_000,
      sendTimeoutMs: 60_000,
      clientKeepAliveMs: 60000,
      listenBacklog: 4096,
      keepaliveReply: 'done',
      clientCodePage: 'windows-1252',
    },
    monitoring: { host: '0.0.0.0', port: 9728 },
    log: { level: 'info' },
    shutdown: { graceMs: 10000 },
    ...SECTION_DEFAULTS,
  });
  t.same(warnings, [
    {
      code: 'ROSGATE_CONFIG_INLINE_PASSWORD',
      path: 'routers[0].password',
      message:
        'routers[0].password is a plaintext password in the configuration; prefer passwordEnv or passwordFile',
    },
  ]);
  t.end();
});

t.test('the exported default constants are the values a loaded config gets', (t) => {
  const { config } = validateConfig({ routers: [{ host: 'r', password: 'pw' }] });
  const router = config.routers[0];
  t.same(router?.pool, DEFAULT_POOL);
  t.same(router?.listen, DEFAULT_LISTEN);
  t.equal(router?.name, DEFAULT_ROUTER.name);
  t.equal(router?.port, DEFAULT_ROUTER.port);
  t.equal(router?.upstreamTls, DEFAULT_ROUTER.upstreamTls);
  t.equal(router?.tls, undefined, 'the TLS listener is off unless configured');
  t.same(config.limits, DEFAULT_LIMITS);
  t.same(config.monitoring, DEFAULT_MONITORING);
  t.equal(config.log.level, DEFAULT_LOG_LEVEL);
  t.equal(config.shutdown.graceMs, DEFAULT_SHUTDOWN_GRACE_MS);
  t.ok(
    Object.isFrozen(DEFAULT_POOL) && Object.isFrozen(DEFAULT_LIMITS),
    'defaults cannot be changed by accident',
  );
  t.end();
});

t.test('an empty configuration is valid, has no routers and warns that none is configured', (t) => {
  for (const raw of [undefined, null, {}, { routers: null, users: null }]) {
    const { config, warnings } = validateConfig(raw);
    t.same(config.routers, []);
    t.same(config.users, []);
    t.same(warnings, [
      {
        code: 'ROSGATE_CONFIG_NO_ROUTERS',
        path: 'routers',
        message:
          'routers is empty: set MIKROTIK_HOST, or add a router under routers: in the config file',
      },
    ]);
  }
  t.end();
});

t.test('null sections, as YAML writes an empty key, take their defaults', (t) => {
  const { config } = validateConfig(
    {
      routers: [{ host: 'r', passwordEnv: 'PW', listen: null, pool: null, port: null }],
      limits: null,
      monitoring: null,
      log: null,
      shutdown: null,
    },
    { PW: 'x' },
  );
  t.same(config.routers[0]?.pool, DEFAULT_POOL);
  t.same(config.routers[0]?.listen, DEFAULT_LISTEN);
  t.equal(config.routers[0]?.port, 8728);
  t.same(config.limits, DEFAULT_LIMITS);
  t.equal(config.log.level, 'info');
  t.end();
});

t.test('every setting given explicitly is kept', (t) => {
  const { config } = validateConfig(
    {
      routers: [
        {
          name: 'core-1.lab_a',
          host: '10.0.0.1',
          port: 8729,
          username: 'api',
          passwordEnv: 'CORE_PW',
          timeoutMs: 2500,
          listen: { host: '127.0.0.1', port: 0 },
          pool: {
            min: 0,
            max: 3,
            acquireTimeoutMs: 100,
            idleTimeoutMs: 200,
            healthCheckIntervalMs: 300,
            reconnectInitialDelayMs: 10,
            reconnectMaxDelayMs: 10,
            maxInFlightPerSession: 1,
            maxWriteBufferBytes: 16384,
          },
          emptyReplies: 'passthrough',
        },
      ],
      limits: {
        maxWordBytes: 10,
        maxWordsPerSentence: 11,
        maxSentenceBytes: 12,
        maxInFlightPerClient: 13,
        maxClientsPerAddress: 14,
        maxClients: 15,
        maxOutputBufferBytes: 16,
        preLoginMaxSentences: 17,
        preLoginTimeoutMs: 18,
        loginCacheTtlMs: 0,
        loginFailureCacheTtlMs: 0,
        maxConcurrentLoginChecks: 1000,
        maxRelayedLoginChallenges: 1000,
        preLoginMaxSentenceBytes: 256,
        clientIdleTimeoutMs: 19,
        sentenceTimeoutMs: 0,
        sendTimeoutMs: 20,
        clientKeepAliveMs: 1000,
        listenBacklog: 1,
        keepaliveReply: 'trap',
        clientCodePage: 'koi8-r',
      },
      monitoring: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      shutdown: { graceMs: 0 },
    },
    { CORE_PW: 'secret' },
  );
  const router = config.routers[0];
  t.match(router, {
    name: 'core-1.lab_a',
    host: '10.0.0.1',
    port: 8729,
    username: 'api',
    password: 'secret',
    timeoutMs: 2500,
    listen: { host: '127.0.0.1', port: 0 },
    pool: {
      min: 0,
      max: 3,
      acquireTimeoutMs: 100,
      reconnectMaxDelayMs: 10,
      maxInFlightPerSession: 1,
      maxWriteBufferBytes: 16384,
    },
    emptyReplies: 'passthrough',
  });
  t.same(config.limits, {
    maxWordBytes: 10,
    maxWordsPerSentence: 11,
    maxSentenceBytes: 12,
    maxInFlightPerClient: 13,
    maxClientsPerAddress: 14,
    maxClients: 15,
    maxOutputBufferBytes: 16,
    preLoginMaxSentences: 17,
    preLoginTimeoutMs: 18,
    loginCacheTtlMs: 0,
    loginFailureCacheTtlMs: 0,
    maxConcurrentLoginChecks: 1000,
    maxRelayedLoginChallenges: 1000,
    preLoginMaxSentenceBytes: 256,
    clientIdleTimeoutMs: 19,
    sentenceTimeoutMs: 0,
    sendTimeoutMs: 20,
    clientKeepAliveMs: 1000,
    listenBacklog: 1,
    keepaliveReply: 'trap',
    clientCodePage: 'koi8-r',
  });
  t.same(config.monitoring, { host: '127.0.0.1', port: 0 });
  t.equal(config.log.level, 'silent');
  t.equal(config.shutdown.graceMs, 0);
  t.end();
});
