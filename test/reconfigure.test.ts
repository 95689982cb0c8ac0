import t from 'tap';
import { validateConfig, type RosgateConfig } from '../src/config/index.js';
import {
  LIVE_SECTIONS,
  appliesOf,
  mergePatch,
  reconfigureAll,
  reconfigureSection,
} from '../src/reconfigure.js';

/** Two routers, the first with a pool of its own. */
function base(extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): RosgateConfig {
  return validateConfig(
    {
      routers: [
        { name: 'core', host: '10.0.0.1', password: 'pw', pool: { min: 2, max: 4 } },
        { name: 'edge', host: '10.0.0.2', password: 'pw', listen: { port: 8730 } },
      ],
      ...extra,
    },
    env,
  ).config;
}

t.test('the live sections are the ones a running rosgate can change', async (t) => {
  t.same([...LIVE_SECTIONS].sort(), [
    'cache',
    'flow',
    'limits',
    'log',
    'policy',
    'routers',
    'shutdown',
  ]);
});

t.test('a live section is merged onto the one in force and checked', async (t) => {
  const current = base({ flow: { maxConcurrency: 8 } });
  const result = reconfigureSection(current, 'flow', { rateLimit: { bucketSize: 7 } });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.same(result.changed, ['flow']);
  t.same(result.changes, [{ key: 'flow.rateLimit.bucketSize', old: 100, new: 7, applies: 'now' }]);
  t.equal(result.config.flow.rateLimit.bucketSize, 7);
  t.equal(result.config.flow.maxConcurrency, 8, 'a key left out keeps the value in force');
  t.equal(result.config.flow.rateLimit.refillTokens, 10, 'and so does a nested one');
  t.equal(result.config.routers, current.routers, 'other sections are the same objects');
  t.equal(current.flow.rateLimit.bucketSize, 100, 'the configuration in force is not touched');
});

t.test('a PUT keeps what the environment set unless it names that key', async (t) => {
  const current = base({}, { ENABLE_CIRCUIT_BREAKER: 'false', MAX_CONCURRENCY: '3' });
  t.equal(current.flow.breaker.enabled, false);
  const result = reconfigureSection(current, 'flow', { maxConcurrency: 8 });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.equal(
    result.config.flow.breaker.enabled,
    false,
    'the breaker the environment turned off stays off',
  );
  t.same(result.changes, [{ key: 'flow.maxConcurrency', old: 3, new: 8, applies: 'now' }]);
  const named = reconfigureSection(current, 'flow', { breaker: { enabled: true } });
  t.equal(named.isOk && named.config.flow.breaker.enabled, true, 'a body that names it wins');
});

t.test('null sets a key, or a whole part of a section, back to its default', async (t) => {
  const current = base({}, { ENABLE_CIRCUIT_BREAKER: 'false', MAX_CONCURRENCY: '3' });
  const result = reconfigureSection(current, 'flow', {
    maxConcurrency: null,
    breaker: null,
  });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.equal(result.config.flow.maxConcurrency, 16);
  t.equal(result.config.flow.breaker.enabled, true, 'the default, not the environment');
  t.same(
    result.changes.map((c) => [c.key, c.old, c.new]),
    [
      ['flow.maxConcurrency', 3, 16],
      ['flow.breaker.enabled', false, true],
    ],
  );
  const same = reconfigureSection(current, 'flow', {});
  t.same(same.isOk && same.changes, [], 'an empty body changes no key');
  t.same(same.isOk && same.changed, ['flow'], 'but its section is applied anew, as before');
});

t.test('a key that comes or goes is shown as null on the side where it is absent', async (t) => {
  const added = reconfigureSection(base(), 'policy', { users: { alice: 'admin' } });
  t.ok(added.isOk);
  if (!added.isOk) return;
  t.same(added.changes, [{ key: 'policy.users.alice', old: null, new: 'admin', applies: 'now' }]);
  const removed = reconfigureSection(added.config, 'policy', { users: { alice: null } });
  t.ok(removed.isOk);
  if (!removed.isOk) return;
  t.same(removed.changes, [{ key: 'policy.users.alice', old: 'admin', new: null, applies: 'now' }]);
  t.same(removed.config.policy.users, {});
});

t.test('lists are replaced as a whole, as JSON Merge Patch says', async (t) => {
  const current = base({
    policy: { rules: [{ name: 'one', action: 'deny', path: '/system/reboot' }] },
  });
  const result = reconfigureSection(current, 'policy', {
    rules: [{ name: 'two', action: 'audit', path: '/ip/**' }],
  });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.same(
    result.config.policy.rules.map((r) => r.name),
    ['two'],
  );
  t.match(result.changes, [
    { key: 'policy.rules', old: [{ name: 'one' }], new: [{ name: 'two' }] },
  ]);
});

t.test('the answer says which keys wait for a restart and which reach new clients', async (t) => {
  const result = reconfigureSection(base(), 'limits', {
    listenBacklog: 16,
    maxClients: 5,
    maxWordBytes: 4096,
  });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.same(result.changes, [
    { key: 'limits.maxWordBytes', old: 1_048_576, new: 4096, applies: 'new-clients' },
    { key: 'limits.maxClients', old: 1000, new: 5, applies: 'now' },
    { key: 'limits.listenBacklog', old: 4096, new: 16, applies: 'restart' },
  ]);
  t.equal(result.config.limits.listenBacklog, 16, 'a restart-only key is recorded');
  t.same(
    [
      'limits.listenBacklog',
      'policy.lockout.maxTracked',
      'policy.lockout.maxAttempts',
      'policy.lockout.trustedSources',
      'limits.clientKeepAliveMs',
      'limits.maxConcurrentLoginChecks',
      'policy.lockouts',
      'routers.core.pool.max',
    ].map((key) => appliesOf(key)),
    ['restart', 'restart', 'now', 'now', 'new-clients', 'now', 'now', 'now'],
  );
  t.same(
    ['policy.lockout.maxAttempts', 'policy.lockout.durationMs', 'policy.rules'].map((key) =>
      appliesOf(key, true),
    ),
    ['restart', 'restart', 'now'],
    'replicas sharing state keep the lockout limits they started with',
  );
});

t.test(
  'a lockout change applies now unless Redis is named: a shared password or prefix alone shares nothing',
  async (t) => {
    const change = (env: NodeJS.ProcessEnv) => {
      const result = reconfigureSection(base({}, env), 'policy', { lockout: { maxAttempts: 3 } });
      return result.isOk ? result.changes.map((c) => c.applies) : result;
    };
    t.same(change({ REDIS_PASSWORD: 'pw', REDIS_PREFIX: 'billing:' }), ['now']);
    t.same(change({ REDIS_URL: 'redis://r:6379' }), ['restart']);
  },
);

t.test('JSON Merge Patch follows the examples of RFC 7386', async (t) => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of cases) {
    t.same(
      mergePatch(target, patch),
      result,
      `${JSON.stringify(target)} + ${JSON.stringify(patch)}`,
    );
  }
  const target = { a: { b: 1 } };
  mergePatch(target, { a: { b: 2 } });
  t.same(target, { a: { b: 1 } }, 'the target is not changed');
});

t.test('a bad live section names every field and its rule', async (t) => {
  const result = reconfigureSection(base(), 'flow', {
    rateLimit: { bucketSize: 0 },
    maxConcurrency: 'many',
  });
  t.notOk(result.isOk);
  if (result.isOk) return;
  t.match(result.errors, [/^flow\.rateLimit\.bucketSize must be >= 1/, /^flow\.maxConcurrency/]);
});

t.test('a key named __proto__ in a PUT body is an unknown key, not a setter', async (t) => {
  // JSON.parse makes it an own key; merging it replaced the section's prototype, so the
  // body passed as valid and changed nothing, or changed what the prototype named.
  const body: unknown = JSON.parse('{"__proto__":{"enabled":false}}');
  const result = reconfigureSection(base(), 'cache', body);
  t.same(result, { isOk: false, errors: ['cache.__proto__ is not a known key'] });
  const merged = mergePatch({ a: 1 }, JSON.parse('{"__proto__":{"b":2}}')) as object;
  t.same(Object.entries(merged), [
    ['a', 1],
    ['__proto__', { b: 2 }],
  ]);
});

t.test('a section that is not live is refused as needing a restart', async (t) => {
  for (const section of ['monitoring', 'audit', 'nonsense']) {
    const result = reconfigureSection(base(), section, {});
    t.same(result, {
      isOk: false,
      errors: [`${section} cannot change while rosgate runs: it needs a restart`],
    });
  }
});

t.test("a router's pool changes by name; the other routers stay as they are", async (t) => {
  const current = base();
  const result = reconfigureSection(current, 'routers', { edge: { pool: { max: 2 } } });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.same(result.changed, ['routers']);
  t.same(result.changes, [{ key: 'routers.edge.pool.max', old: 5, new: 2, applies: 'now' }]);
  const [core, edge] = result.config.routers;
  t.equal(core, current.routers[0], 'the untouched router is the same object');
  t.equal(edge?.pool.max, 2);
  t.equal(edge?.pool.min, current.routers[1]?.pool.min, 'pool keys left out are kept');
  t.equal(edge?.host, '10.0.0.2', 'everything but the pool is kept');
  t.equal(edge?.password, 'pw');
  const reset = reconfigureSection(current, 'routers', { core: { pool: null }, edge: {} });
  t.ok(reset.isOk);
  if (!reset.isOk) return;
  t.same(
    reset.changes.map((c) => c.key),
    ['routers.core.pool.min', 'routers.core.pool.max'],
    'null sets the pool back to its defaults; an entry without a pool changes nothing',
  );
});

t.test('a routers body must be a mapping of running routers to their pool', async (t) => {
  const current = base();
  for (const body of [null, [], 'core']) {
    t.same(reconfigureSection(current, 'routers', body), {
      isOk: false,
      errors: ['routers must be a mapping of router name to { pool }'],
    });
  }
  t.same(
    reconfigureSection(current, 'routers', {
      gone: { pool: { max: 2 } },
      core: [],
      edge: { host: '10.9.9.9', pool: { max: 2 } },
    }),
    {
      isOk: false,
      errors: [
        'routers.gone must name a running router',
        'routers.core must be a mapping',
        'routers.edge.host cannot change live: it needs a restart',
      ],
    },
  );
});

t.test('a bad pool is refused with the path of the router that has it', async (t) => {
  const result = reconfigureSection(base(), 'routers', { core: { pool: { max: 0 } } });
  t.notOk(result.isOk);
  if (result.isOk) return;
  t.match(result.errors, [/^routers\.core\.pool\.max must be/]);
});

t.test('a whole new configuration applies the live sections that differ', async (t) => {
  const current = base();
  const next = base({
    log: { level: 'debug' },
    cache: { enabled: false },
    routers: [
      { name: 'core', host: '10.0.0.1', password: 'pw', pool: { min: 1, max: 2 } },
      { name: 'edge', host: '10.0.0.2', password: 'pw', listen: { port: 8730 } },
    ],
  });
  const result = reconfigureAll(current, current, next);
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.same(result.config, next);
  t.same([...result.changed].sort(), ['cache', 'log', 'routers']);
  t.same(
    result.changes.map((c) => c.key),
    ['log.level', 'routers.core.pool.min', 'routers.core.pool.max', 'cache.enabled'],
  );
  t.same([result.kept, result.overridden], [[], []], 'nothing was changed through the admin port');
  const same = reconfigureAll(current, current, base());
  t.same(same.isOk && same.changes, [], 'an unchanged file changes nothing');
});

t.test('a whole new configuration that changes what needs a restart is refused', async (t) => {
  const current = base();
  const next = base({
    monitoring: { port: 9999 },
    routers: [
      { name: 'core', host: '10.0.0.9', password: 'other', pool: { max: 2 } },
      { name: 'edge', host: '10.0.0.2', password: 'pw', listen: { port: 8730 } },
    ],
  });
  t.same(reconfigureAll(current, current, next), {
    isOk: false,
    errors: [
      'monitoring changed: it needs a restart',
      'routers[0].host changed: it needs a restart',
      'routers[0].password changed: it needs a restart',
    ],
  });
  const fewer = validateConfig({ routers: [{ name: 'core', host: '10.0.0.1', password: 'pw' }] });
  t.same(reconfigureAll(current, current, fewer.config), {
    isOk: false,
    errors: ['routers were added or removed: it needs a restart'],
  });
});

t.test('a reload keeps admin-port changes to keys the file did not change', async (t) => {
  const loaded = base();
  const put = reconfigureSection(loaded, 'flow', { maxConcurrency: 8 });
  const pool =
    put.isOk && reconfigureSection(put.config, 'routers', { core: { pool: { max: 3 } } });
  if (!pool || !pool.isOk) throw new Error('the PUTs were refused');
  const current = pool.config;
  const fresh = base({ log: { level: 'debug' } });
  const result = reconfigureAll(current, loaded, fresh);
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.equal(result.config.flow.maxConcurrency, 8, 'the PUT value stays');
  t.equal(result.config.routers[0]?.pool.max, 3, 'so does the pool one');
  t.equal(result.config.log.level, 'debug', 'and what the file changed is applied');
  t.same(
    result.changes.map((c) => c.key),
    ['log.level'],
  );
  t.same(result.kept, ['routers.core.pool.max', 'flow.maxConcurrency']);
  t.same(result.overridden, []);
});

t.test('a reload wins for keys the file changed, PUT-made or not', async (t) => {
  const loaded = base();
  const put = reconfigureSection(loaded, 'flow', {
    maxConcurrency: 8,
    rateLimit: { bucketSize: 5 },
  });
  if (!put.isOk) throw new Error('the PUT was refused');
  const fresh = base({ flow: { maxConcurrency: 12, rateLimit: { refillTokens: 20 } } });
  const result = reconfigureAll(put.config, loaded, fresh);
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.equal(result.config.flow.maxConcurrency, 12, 'the file changed it: the file wins');
  t.equal(result.config.flow.rateLimit.bucketSize, 5, 'the file did not: the PUT stays');
  t.equal(result.config.flow.rateLimit.refillTokens, 20);
  t.same(result.overridden, ['flow.maxConcurrency']);
  t.same(result.kept, ['flow.rateLimit.bucketSize']);
  t.same(
    result.changes.map((c) => [c.key, c.old, c.new]),
    [
      ['flow.rateLimit.refillTokens', 10, 20],
      ['flow.maxConcurrency', 8, 12],
    ],
  );
  const again = reconfigureAll(result.config, fresh, fresh);
  t.same(again.isOk && [again.changes, again.kept], [[], ['flow.rateLimit.bucketSize']]);
});

t.test('a reload whose merge breaks a rule is refused naming the key', async (t) => {
  const loaded = base();
  const put = reconfigureSection(loaded, 'routers', { core: { pool: { min: 3 } } });
  if (!put.isOk) throw new Error('the PUT was refused');
  const lowered = base({
    routers: [
      { name: 'core', host: '10.0.0.1', password: 'pw', pool: { min: 2, max: 2 } },
      { name: 'edge', host: '10.0.0.2', password: 'pw', listen: { port: 8730 } },
    ],
  });
  const result = reconfigureAll(put.config, loaded, lowered);
  t.notOk(result.isOk);
  t.match(result, { errors: [/^routers\.core\.pool\.max must be/] });
  const flow = reconfigureSection(loaded, 'flow', { rateLimit: { refillTokens: 1 } });
  if (!flow.isOk) throw new Error('the PUT was refused');
  const bad = { ...loaded, flow: { ...loaded.flow, maxConcurrency: 0 } } as RosgateConfig;
  t.match(reconfigureAll(flow.config, loaded, bad), {
    isOk: false,
    errors: [/^flow\.maxConcurrency must be >= 1/],
  });
});

t.test(
  'a reload applies a changed users section to new clients; a PUT cannot change it',
  async (t) => {
    const current = base({ users: [{ name: 'billing', password: 'old-secret' }] });
    const next = base({
      users: [
        { name: 'billing', password: 'new-secret' },
        { name: 'hotspot', password: 'another-secret' },
      ],
    });
    const result = reconfigureAll(current, current, next);
    t.ok(result.isOk);
    if (!result.isOk) return;
    t.same(result.changed, ['users']);
    t.same(result.config.users, next.users);
    t.same(result.changes, [
      {
        key: 'users',
        old: [{ name: 'billing', secret: '***' }],
        new: [
          { name: 'billing', secret: '***' },
          { name: 'hotspot', secret: '***' },
        ],
        applies: 'new-clients',
      },
    ]);
    t.notMatch(
      JSON.stringify(result.changes),
      /old-secret|new-secret|another-secret/,
      'no secret in the answer',
    );
    t.same(reconfigureSection(current, 'users', []), {
      isOk: false,
      errors: [
        'users cannot change through the admin port: change the file and reload it (SIGHUP), so that no secret travels over HTTP',
      ],
    });
  },
);
