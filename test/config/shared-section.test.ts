import t from 'tap';
import { redactConfig, validateConfig, type RosgateConfig } from '../../src/config/index.js';
import { problemsOf } from './fixtures/helpers.js';

const ROUTER = { name: 'a', host: 'r', password: 'pw' };

t.test('without a shared section nothing is shared and the config has no shared key', (t) => {
  const { config } = validateConfig({ routers: [ROUTER] }, {});
  t.equal(config.shared, undefined);
  t.equal(config.routers[0]?.maxSessions, undefined);
  t.end();
});

t.test(
  'REDIS_URL, REDIS_PASSWORD, REDIS_PREFIX, REPLICA_ID and ROUTER_MAX_SESSIONS set the section',
  (t) => {
    const { config } = validateConfig(
      { routers: [ROUTER] },
      {
        REDIS_URL: 'rediss://redis.example:6380/1',
        REDIS_PASSWORD: 'redis-secret',
        REDIS_PREFIX: 'billing:',
        REPLICA_ID: 'pod-7',
        ROUTER_MAX_SESSIONS: '12',
      },
    );
    t.same(config.shared, {
      url: 'rediss://redis.example:6380/1',
      password: 'redis-secret',
      prefix: 'billing:',
      replicaId: 'pod-7',
    });
    t.equal(config.routers[0]?.maxSessions, 12);
    t.end();
  },
);

t.test('a url that is not redis:// or rediss:// is refused with the rule', (t) => {
  for (const url of ['http://redis:6379', 'redis//nohost', 'redis://']) {
    const problems = problemsOf(() => validateConfig({ routers: [ROUTER], shared: { url } }, {}));
    t.match(problems.join('\n'), /shared\.url.*must be a redis:\/\/ or rediss:\/\/ URL/, url);
  }
  t.end();
});

t.test('a replica id holding ":" is refused', (t) => {
  const problems = problemsOf(() =>
    validateConfig({ routers: [ROUTER], shared: { url: 'redis://r', replicaId: 'a:b' } }, {}),
  );
  t.match(problems.join('\n'), /shared\.replicaId.*without ":"/);
  t.end();
});

t.test('the Redis password is redacted, in its key and inside the url', (t) => {
  const { config } = validateConfig(
    { routers: [ROUTER], shared: { url: 'redis://user:in-url-secret@r:6379/0' } },
    { REDIS_PASSWORD: 'redis-secret' },
  );
  const text = JSON.stringify(redactConfig(config));
  t.notMatch(text, /redis-secret|in-url-secret/);
  t.match(text, /redis:\/\/user:\*\*\*@r:6379\/0/);
  const plain = redactConfig({ ...config, shared: { url: 'redis://r:6379' } });
  t.equal(plain.shared?.url, 'redis://r:6379', 'a url without a password is kept as it is');
  const odd = redactConfig({ ...config, shared: { url: 'not a url' } } as RosgateConfig);
  t.equal(odd.shared?.url, 'not a url', 'text that is no url is kept as it is');
  t.end();
});

t.test(
  'REDIS_SENTINEL_NAME, REDIS_SENTINELS and REDIS_SENTINEL_PASSWORD set shared.sentinel',
  (t) => {
    const { config } = validateConfig(
      { routers: [ROUTER] },
      {
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_SENTINELS: 'sentinel-0:26379, [fd00::7]:26379 ,10.0.0.3:26379',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
        REDIS_PASSWORD: 'redis-secret',
      },
    );
    t.same(config.shared, {
      sentinel: {
        name: 'mymaster',
        nodes: ['sentinel-0:26379', '[fd00::7]:26379', '10.0.0.3:26379'],
        password: 'sentinel-secret',
      },
      password: 'redis-secret',
    });
    t.notMatch(JSON.stringify(redactConfig(config)), /sentinel-secret|redis-secret/);
    t.end();
  },
);

t.test('REDIS_CLUSTER_NODES sets shared.cluster; a password in a node URL is redacted', (t) => {
  const { config } = validateConfig(
    { routers: [ROUTER] },
    { REDIS_CLUSTER_NODES: 'redis://:node-secret@c-0:6379,rediss://c-1:6380' },
  );
  t.same(config.shared, {
    cluster: { nodes: ['redis://:node-secret@c-0:6379', 'rediss://c-1:6380'] },
  });
  const text = JSON.stringify(redactConfig(config));
  t.notMatch(text, /node-secret/);
  t.match(text, /rediss:\/\/c-1:6380/);
  t.end();
});

t.test('two Redis sources at once are refused, naming the keys and the rule', (t) => {
  const cases: [Record<string, unknown>, Record<string, string>][] = [
    [{ url: 'redis://r', cluster: { nodes: ['redis://c:1'] } }, {}],
    [{ sentinel: { name: 'm', nodes: ['s:26379'] } }, { REDIS_URL: 'redis://r' }],
    [{}, { REDIS_CLUSTER_NODES: 'redis://c:1', REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm' }],
  ];
  for (const [shared, env] of cases) {
    const problems = problemsOf(() => validateConfig({ routers: [ROUTER], shared }, env));
    t.match(
      problems.join('\n'),
      /shared.*must set only one of url, sentinel, cluster/,
      JSON.stringify({ shared, env }),
    );
  }
  t.end();
});

t.test('a sentinel that is not host:port, or a cluster node that is not a URL, is refused', (t) => {
  const bad: [Record<string, unknown>, Record<string, string>, RegExp][] = [
    [{}, { REDIS_SENTINELS: 's:26379,s2', REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINELS.*host:port/],
    [{ sentinel: { name: 'm', nodes: ['s:0'] } }, {}, /shared\.sentinel\.nodes.*host:port/],
    [{ sentinel: { name: 'm', nodes: ['s:65536'] } }, {}, /shared\.sentinel\.nodes.*host:port/],
    [{ sentinel: { name: 'm', nodes: ['redis://s:1'] } }, {}, /shared\.sentinel\.nodes.*host:port/],
    [{ sentinel: { name: 'm', nodes: [] } }, {}, /shared\.sentinel\.nodes.*host:port/],
    [{ sentinel: { nodes: ['s:1'] } }, {}, /shared\.sentinel\.name.*required/],
    [
      {},
      { REDIS_CLUSTER_NODES: 'c-0:6379' },
      /REDIS_CLUSTER_NODES.*redis:\/\/ or rediss:\/\/ URLs/,
    ],
    [{ cluster: { nodes: ['http://c:1'] } }, {}, /shared\.cluster\.nodes.*URLs/],
  ];
  for (const [shared, env, rule] of bad) {
    const problems = problemsOf(() => validateConfig({ routers: [ROUTER], shared }, env));
    t.match(problems.join('\n'), rule, JSON.stringify({ shared, env }));
  }
  t.end();
});

t.test('shared keys set without a Redis warn, each named by its key or variable', (t) => {
  const { config, warnings } = validateConfig(
    { routers: [ROUTER], shared: { strict: true } },
    { REDIS_PASSWORD: 'redis-secret', REDIS_PREFIX: 'billing:', REPLICA_ID: 'pod-7' },
  );
  t.same(config.shared, {
    password: 'redis-secret',
    prefix: 'billing:',
    replicaId: 'pod-7',
    strict: true,
  });
  const rule =
    'is set but nothing is shared: no Redis is named (REDIS_URL, REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES)';
  t.same(
    warnings.filter((w) => w.code === 'ROSGATE_CONFIG_SHARED_WITHOUT_REDIS'),
    [
      {
        code: 'ROSGATE_CONFIG_SHARED_WITHOUT_REDIS',
        path: 'REDIS_PASSWORD',
        message: `REDIS_PASSWORD ${rule}`,
      },
      {
        code: 'ROSGATE_CONFIG_SHARED_WITHOUT_REDIS',
        path: 'REDIS_PREFIX',
        message: `REDIS_PREFIX ${rule}`,
      },
      {
        code: 'ROSGATE_CONFIG_SHARED_WITHOUT_REDIS',
        path: 'shared.strict',
        message: `shared.strict ${rule}`,
      },
    ],
    'replicaId alone is fine: it names the replica in audit records',
  );
  const named = validateConfig(
    { routers: [ROUTER] },
    { REDIS_URL: 'redis://r', REDIS_PREFIX: 'b:' },
  );
  t.same(
    named.warnings.filter((w) => w.code === 'ROSGATE_CONFIG_SHARED_WITHOUT_REDIS'),
    [],
    'with a Redis named, no warning',
  );
  t.end();
});
