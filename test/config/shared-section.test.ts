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
