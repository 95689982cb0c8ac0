import t from 'tap';
import { validateConfig, type RosgateConfig } from '../src/config/index.js';
import { LIVE_SECTIONS, reconfigureAll, reconfigureSection } from '../src/reconfigure.js';

/** Two routers, the first with a pool of its own. */
function base(extra: Record<string, unknown> = {}): RosgateConfig {
  return validateConfig({
    routers: [
      { name: 'core', host: '10.0.0.1', password: 'pw', pool: { min: 2, max: 4 } },
      { name: 'edge', host: '10.0.0.2', password: 'pw', listen: { port: 8730 } },
    ],
    ...extra,
  }).config;
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

t.test('a live section is checked and replaces the one in force', async (t) => {
  const current = base();
  const result = reconfigureSection(current, 'flow', { rateLimit: { bucketSize: 7 } });
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.same(result.changed, ['flow']);
  t.equal(result.config.flow.rateLimit.bucketSize, 7);
  t.equal(result.config.flow.rateLimit.refillTokens, 10, 'keys left out take their defaults');
  t.equal(result.config.routers, current.routers, 'other sections are the same objects');
  t.equal(current.flow.rateLimit.bucketSize, 100, 'the configuration in force is not touched');
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

t.test('a section that is not live is refused as needing a restart', async (t) => {
  for (const section of ['monitoring', 'audit', 'users', 'nonsense']) {
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
  const [core, edge] = result.config.routers;
  t.equal(core, current.routers[0], 'the untouched router is the same object');
  t.equal(edge?.pool.max, 2);
  t.equal(edge?.host, '10.0.0.2', 'everything but the pool is kept');
  t.equal(edge?.password, 'pw');
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
  const result = reconfigureAll(current, next);
  t.ok(result.isOk);
  if (!result.isOk) return;
  t.equal(result.config, next);
  t.same([...result.changed].sort(), ['cache', 'log', 'routers']);
  const same = reconfigureAll(current, base());
  t.same(same.isOk && same.changed, [], 'an unchanged file changes nothing');
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
  t.same(reconfigureAll(current, next), {
    isOk: false,
    errors: [
      'monitoring changed: it needs a restart',
      'routers[0].host changed: it needs a restart',
      'routers[0].password changed: it needs a restart',
    ],
  });
  const fewer = validateConfig({ routers: [{ name: 'core', host: '10.0.0.1', password: 'pw' }] });
  t.same(reconfigureAll(current, fewer.config), {
    isOk: false,
    errors: ['routers were added or removed: it needs a restart'],
  });
});
