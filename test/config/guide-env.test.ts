import t from 'tap';
import {
  GUIDE_ENV_BINDINGS,
  GUIDE_IGNORED_VARIABLES,
  GUIDE_TRANSLATED_VARIABLES,
  validateConfig,
  type RosgateConfig,
} from '../../src/config/index.js';
import { problemsOf, ROUTER } from './fixtures/helpers.js';

// The MikroTik proxy guide's variables: read wherever rosgate has the
// setting, and named in one warning at start when they mean nothing here.

const FILE = { routers: [ROUTER] };

function load(env: Record<string, string>) {
  return validateConfig(FILE, env);
}

const ignoredWarnings = (warnings: readonly { code: string; path: string; message: string }[]) =>
  warnings.filter((w) => w.code === 'ROSGATE_CONFIG_IGNORED_VARIABLE');

const cases: {
  env: Record<string, string>;
  read: (c: RosgateConfig) => unknown;
  expected: unknown;
}[] = [
  { env: { REQUEST_QUEUE_MAX_SIZE: '50' }, read: (c) => c.flow.rateLimit.maxQueue, expected: 50 },
  {
    env: { SESSION_TIMEOUT: '600000' },
    read: (c) => c.limits.clientIdleTimeoutMs,
    expected: 600_000,
  },
  { env: { ENABLE_VALIDATION: 'false' }, read: (c) => c.policy.input.enabled, expected: false },
  {
    env: { STRICT_VALIDATION: 'true' },
    read: (c) => [c.policy.xss.mode, c.policy.sqlInjection.mode, c.policy.scriptSyntaxInData],
    expected: ['enforce', 'enforce', 'enforce'],
  },
  {
    env: { STRICT_VALIDATION: 'no' },
    read: (c) => [c.policy.xss.mode, c.policy.sqlInjection.mode, c.policy.scriptSyntaxInData],
    expected: ['monitor', 'monitor', 'monitor'],
  },
  { env: { ENABLE_MONITORING: 'false' }, read: (c) => c.monitoring.enabled, expected: false },
  { env: { ENABLE_MONITORING: 'true' }, read: (c) => c.monitoring.enabled, expected: undefined },
  {
    env: { METRICS_COLLECTION_INTERVAL: '60000' },
    read: (c) => c.monitoring.businessPollMs,
    expected: 60_000,
  },
  {
    env: { ENABLE_BUSINESS_METRICS: 'false' },
    read: (c) => c.monitoring.businessPollMs,
    expected: 0,
  },
  {
    env: { ENABLE_BUSINESS_METRICS: 'true' },
    read: (c) => c.monitoring.businessPollMs,
    expected: undefined,
  },
  { env: { REQUEST_TIMEOUT: '15000' }, read: (c) => c.flow.commandIdleTimeoutMs, expected: 15_000 },
  { env: { SHUTDOWN_TIMEOUT: '30000' }, read: (c) => c.shutdown.graceMs, expected: 30_000 },
];

for (const c of cases) {
  const [[name, value]] = Object.entries(c.env) as [[string, string]];
  t.test(`${name}=${value} is read into rosgate's setting, with no warning`, async (t) => {
    const { config, warnings } = load(c.env);
    t.same(c.read(config), c.expected);
    t.same(ignoredWarnings(warnings), []);
  });
}

/** The guide's variables rosgate reads: declared with their setting, then the translated ones. */
const GUIDE_READ = [
  ...GUIDE_ENV_BINDINGS.map((binding) => binding.name),
  ...Object.keys(GUIDE_TRANSLATED_VARIABLES),
];

t.test('every guide variable rosgate reads has a case here', async (t) => {
  const tested = new Set(cases.flatMap((c) => Object.keys(c.env)));
  t.ok(GUIDE_READ.length >= 9);
  t.same(
    GUIDE_READ.filter((name) => !tested.has(name)),
    [],
  );
});

t.test('the guide variables that set one key are declared beside that setting', async (t) => {
  t.same(GUIDE_ENV_BINDINGS.map((b) => [b.name, b.keys, b.type]).sort(), [
    ['ENABLE_MONITORING', ['monitoring', 'enabled'], 'boolean'],
    ['ENABLE_VALIDATION', ['policy', 'input', 'enabled'], 'boolean'],
    ['METRICS_COLLECTION_INTERVAL', ['monitoring', 'businessPollMs'], 'number'],
    ['REQUEST_QUEUE_MAX_SIZE', ['flow', 'rateLimit', 'maxQueue'], 'number'],
    ['REQUEST_TIMEOUT', ['flow', 'commandIdleTimeoutMs'], 'number'],
    ['SESSION_TIMEOUT', ['limits', 'clientIdleTimeoutMs'], 'number'],
    ['SHUTDOWN_TIMEOUT', ['shutdown', 'graceMs'], 'number'],
  ]);
  t.same(Object.keys(GUIDE_TRANSLATED_VARIABLES), ['STRICT_VALIDATION', 'ENABLE_BUSINESS_METRICS']);
});

t.test("rosgate's own name for a setting wins, and the guide's is named", async (t) => {
  const { config, warnings } = load({ REQUEST_QUEUE_MAX_SIZE: '50', MAX_RATE_LIMIT_QUEUE: '70' });
  t.equal(config.flow.rateLimit.maxQueue, 70);
  t.same(ignoredWarnings(warnings), [
    {
      code: 'ROSGATE_CONFIG_IGNORED_VARIABLE',
      path: 'REQUEST_QUEUE_MAX_SIZE',
      message: 'REQUEST_QUEUE_MAX_SIZE is ignored (MAX_RATE_LIMIT_QUEUE sets the same key)',
    },
  ]);
});

t.test('ENABLE_BUSINESS_METRICS=false wins over the interval, which is named', async (t) => {
  const { config, warnings } = load({
    ENABLE_BUSINESS_METRICS: 'false',
    METRICS_COLLECTION_INTERVAL: '60000',
  });
  t.equal(config.monitoring.businessPollMs, 0);
  t.match(ignoredWarnings(warnings), [{ path: 'METRICS_COLLECTION_INTERVAL' }]);
  t.equal(ignoredWarnings(warnings).length, 1);
});

t.test('a guide variable with a bad value is named in the error', async (t) => {
  t.same(
    problemsOf(() => load({ SESSION_TIMEOUT: 'soon', ENABLE_MONITORING: 'maybe' })),
    ['SESSION_TIMEOUT must be an integer 0-2147483647', 'ENABLE_MONITORING must be true or false'],
  );
});

t.test('a translated guide variable that is not true or false is named in the error', async (t) => {
  t.same(
    problemsOf(() => load({ STRICT_VALIDATION: 'maybe' })),
    ['STRICT_VALIDATION must be one of enforce, monitor'],
  );
});

t.test('a guide variable cannot apply where the file has the wrong shape', async (t) => {
  t.same(
    problemsOf(() => validateConfig({ ...FILE, monitoring: 5 }, { ENABLE_MONITORING: 'false' })),
    ['monitoring must be a mapping'],
  );
});

t.test('each guide variable with no meaning here gets one warning naming it', async (t) => {
  const names = Object.keys(GUIDE_IGNORED_VARIABLES);
  t.ok(names.length > 0);
  const env = Object.fromEntries(names.map((name) => [name, 'x']));
  const warnings = ignoredWarnings(load(env).warnings);
  t.same(
    warnings.map((w) => w.path),
    names,
  );
  for (const w of warnings) t.match(w.message, new RegExp(`^${w.path} is ignored \\(.+\\)$`));
  t.same(ignoredWarnings(load({ PORT: '' }).warnings), [], 'an empty variable counts as unset');
  t.same(ignoredWarnings(load({}).warnings), []);
});
