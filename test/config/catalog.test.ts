import t from 'tap';
import { z } from 'zod';
import {
  applyEnvironment,
  env,
  envBindings,
  filePathsIn,
  guideEnvBindings,
  isLiveKey,
  sectionSettings,
  setting,
  settingsIn,
} from '../../src/config/index.js';

t.test('a key is live when the nearest setting on its path says so', (t) => {
  const live = [
    'limits',
    'limits.maxSentenceBytes',
    'log.level',
    'shutdown.graceMs',
    'flow.rateLimit.bucketSize',
    'cache.listen.paths',
    'policy.lockout.maxAttempts',
    'routers[0].pool',
    'routers[0].pool.max',
    'routers.core.pool.max',
  ];
  const restart = [
    'routers',
    'routers[0].host',
    'routers.core.listen.port',
    'users[0].name',
    'monitoring.port',
    'audit.enabled',
  ];
  for (const key of live) t.equal(isLiveKey(key), true, `${key} is live`);
  for (const key of restart) t.equal(isLiveKey(key), false, `${key} needs a restart`);
  t.end();
});

t.test('a key the schema does not know is not live', (t) => {
  for (const key of ['nope', 'limits.nope', 'log.level.deeper', 'routers.pool.max', '']) {
    t.equal(isLiveKey(key), false, JSON.stringify(key));
  }
  t.end();
});

t.test("a section's keys are listed with their variable and liveness", (t) => {
  const flow = sectionSettings('flow');
  t.same(flow[0], { key: 'rateLimit.enabled', env: 'ENABLE_RATE_LIMITING', isLive: true });
  t.same(
    flow.find((s) => s.key === 'priority.rules[].path'),
    { key: 'priority.rules[].path', isLive: true },
    "a list of mappings lists its items' keys",
  );
  const routers = sectionSettings('routers');
  t.same(
    routers.find((s) => s.key === 'pool.max'),
    {
      key: 'pool.max',
      env: 'MAX_CONNECTIONS',
      isLive: true,
    },
  );
  t.same(
    routers.find((s) => s.key === 'host'),
    {
      key: 'host',
      env: 'MIKROTIK_HOST',
      isLive: false,
    },
  );
  t.same(
    sectionSettings('policy').find((s) => s.key === 'roles'),
    { key: 'roles', isLive: true },
    'a mapping of free names is one key',
  );
  t.same(
    sectionSettings('monitoring').map((s) => s.key),
    [
      'enabled',
      'host',
      'port',
      'token',
      'tokenEnv',
      'tokenFile',
      'requireTokenFor',
      'readiness.requireRouter',
      'businessPollMs',
    ],
  );
  t.end();
});

/** A section declared as a stage would: one key with a variable and another guide's name for it. */
const demo = z.strictObject({
  queue: setting(
    z.strictObject({
      maxSize: env(z.int().min(0).default(10), 'QUEUE_MAX', 'DEMO_QUEUE_MAX_SIZE'),
    }),
    { isLive: true },
  ),
  name: env(z.string().default('x'), 'DEMO_NAME'),
});

t.test('a variable may go by another name too; its own name wins over the alias', (t) => {
  const bindings = envBindings(z.strictObject({ demo }));
  t.same(
    bindings.map((b) => [b.name, b.keys, b.type]),
    [
      ['DEMO_QUEUE_MAX_SIZE', ['demo', 'queue', 'maxSize'], 'number'],
      ['QUEUE_MAX', ['demo', 'queue', 'maxSize'], 'number'],
      ['DEMO_NAME', ['demo', 'name'], 'string'],
    ],
  );
  const alias = applyEnvironment({}, { DEMO_QUEUE_MAX_SIZE: '7' }, bindings);
  t.same(alias.raw, { demo: { queue: { maxSize: 7 } } });
  t.same([...alias.origins], [['demo.queue.maxSize', 'DEMO_QUEUE_MAX_SIZE']]);
  const both = applyEnvironment({}, { DEMO_QUEUE_MAX_SIZE: '7', QUEUE_MAX: '8' }, bindings);
  t.same(both.raw, { demo: { queue: { maxSize: 8 } } });
  t.same([...both.origins], [['demo.queue.maxSize', 'QUEUE_MAX']]);
  t.same(settingsIn(demo), [
    {
      key: 'queue.maxSize',
      env: 'QUEUE_MAX',
      envAliases: ['DEMO_QUEUE_MAX_SIZE'],
      isLive: true,
    },
    { key: 'name', env: 'DEMO_NAME', isLive: false },
  ]);
  t.end();
});

/** A section whose settings name the guide's variable beside them: with rosgate's own, or alone. */
const guided = z.strictObject({
  queue: setting(z.int().min(0).default(10), { env: 'QUEUE_MAX', guideEnv: 'GUIDE_QUEUE' }),
  idleMs: setting(z.int().min(0).optional(), { guideEnv: 'GUIDE_IDLE' }),
  on: setting(z.boolean().default(true), { guideEnv: 'GUIDE_ON', isLive: true }),
});

t.test("a guide's variable is declared beside its setting, apart from rosgate's own", (t) => {
  const schema = z.strictObject({ guided });
  t.same(
    envBindings(schema).map((b) => b.name),
    ['QUEUE_MAX'],
  );
  t.same(
    guideEnvBindings(schema).map((b) => [b.name, b.keys, b.type, b.isRequired]),
    [
      ['GUIDE_QUEUE', ['guided', 'queue'], 'number', false],
      ['GUIDE_IDLE', ['guided', 'idleMs'], 'number', false],
      ['GUIDE_ON', ['guided', 'on'], 'boolean', false],
    ],
  );
  t.same(settingsIn(guided), [
    { key: 'queue', env: 'QUEUE_MAX', guideEnv: 'GUIDE_QUEUE', isLive: false },
    { key: 'idleMs', guideEnv: 'GUIDE_IDLE', isLive: false },
    { key: 'on', guideEnv: 'GUIDE_ON', isLive: true },
  ]);
  t.end();
});

t.test("a guide's variable applies first: rosgate's name wins over it and names it", (t) => {
  const schema = z.strictObject({ guided });
  const apply = (env: Record<string, string>) =>
    applyEnvironment({}, env, envBindings(schema), guideEnvBindings(schema));
  const alone = apply({ GUIDE_QUEUE: '7', GUIDE_IDLE: '5', GUIDE_ON: 'off' });
  t.same(alone.raw, { guided: { queue: 7, idleMs: 5, on: false } });
  t.same(
    [...alone.origins],
    [
      ['guided.queue', 'GUIDE_QUEUE'],
      ['guided.idleMs', 'GUIDE_IDLE'],
      ['guided.on', 'GUIDE_ON'],
    ],
  );
  t.same(alone.ignored, []);
  const both = apply({ GUIDE_QUEUE: '7', QUEUE_MAX: '8' });
  t.same(both.raw, { guided: { queue: 8 } });
  t.same([...both.origins], [['guided.queue', 'QUEUE_MAX']]);
  t.same(both.ignored, [{ variable: 'GUIDE_QUEUE', reason: 'QUEUE_MAX sets the same key' }]);
  t.end();
});

t.test('the files a document names are the values of the keys declared as files', (t) => {
  const raw = {
    routers: [
      { passwordFile: 'router.pw', tls: { certFile: 'cert.pem', keyFile: 'key.pem' } },
      { upstreamCaFile: 'ca.pem', passwordFile: 7 },
      'not a router',
    ],
    users: [{ name: 'u', passwordFile: 'user.pw' }],
    monitoring: { tokenFile: 'token' },
    policy: { rules: [{ name: 'r', action: 'deny', path: ['/a', '/b'] }] },
    audit: { integrity: { keyFile: 'read by the audit trail itself' } },
  };
  t.same([...filePathsIn(raw)], ['router.pw', 'cert.pem', 'key.pem', 'ca.pem', 'user.pw', 'token']);
  t.same([...filePathsIn('not a document')], []);
  t.end();
});
