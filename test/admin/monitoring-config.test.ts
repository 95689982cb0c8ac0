import { join } from 'node:path';
import t from 'tap';
import { loadConfig, redactConfig, validateConfig } from '../../src/config/index.js';
import { problemsOf, ROUTER } from '../config/fixtures/helpers.js';

const TOKEN = 'a-token-of-24-characters';
const base = (monitoring: unknown) => ({ routers: [ROUTER], monitoring });
const monitoringWarnings = (warnings: readonly { path: string }[]) =>
  warnings.filter((w) => !w.path.startsWith('routers'));

t.test('a monitoring section with only host and port reads exactly as before', (t) => {
  const { config } = validateConfig(base({ host: '127.0.0.1', port: 0 }));
  t.same(config.monitoring, { host: '127.0.0.1', port: 0 });
  t.end();
});

t.test('the admin keys are read when set', (t) => {
  const { config, warnings } = validateConfig(
    base({
      enabled: false,
      tokenEnv: 'ADMIN_TOKEN',
      requireTokenFor: ['metrics', 'ready'],
      readiness: { requireRouter: true },
      businessPollMs: 0,
    }),
    { ADMIN_TOKEN: TOKEN },
  );
  t.same(config.monitoring, {
    host: '0.0.0.0',
    port: 9728,
    token: TOKEN,
    tokenEnv: 'ADMIN_TOKEN',
    requireTokenFor: ['metrics', 'ready'],
    readiness: { requireRouter: true },
    businessPollMs: 0,
    enabled: false,
  });
  t.same(monitoringWarnings(warnings), []);
  t.end();
});

t.test('keys at their defaults are left out, as if not written', (t) => {
  const defaults = { host: '0.0.0.0', port: 9728 };
  t.same(
    validateConfig(base({ readiness: null, requireTokenFor: null })).config.monitoring,
    defaults,
  );
  t.same(
    validateConfig(
      base({
        enabled: true,
        readiness: { requireRouter: false },
        requireTokenFor: [],
        businessPollMs: 30000,
      }),
    ).config.monitoring,
    defaults,
  );
  t.same(validateConfig(base({ readiness: {} })).config.monitoring, defaults);
  t.end();
});

t.test('an inline token works but is warned about', (t) => {
  const { config, warnings } = validateConfig(base({ token: TOKEN }));
  t.equal(config.monitoring.token, TOKEN);
  t.match(monitoringWarnings(warnings), [
    {
      code: 'ROSGATE_CONFIG_INLINE_PASSWORD',
      path: 'monitoring.token',
      message: /plaintext token/,
    },
  ]);
  t.end();
});

t.test('MONITORING_TOKEN wins over the file and is not warned about', (t) => {
  const { config, warnings } = validateConfig(base({ tokenFile: 'missing.txt' }), {
    MONITORING_TOKEN: TOKEN,
  });
  t.equal(config.monitoring.token, TOKEN);
  t.equal(config.monitoring.tokenFile, undefined);
  t.same(monitoringWarnings(warnings), []);
  t.end();
});

t.test('the token is read from a file named in the YAML, without its newline', async (t) => {
  const dir = t.testdir({
    'rosgate.yaml': 'routers: [{ host: r, passwordEnv: P }]\nmonitoring:\n  tokenFile: token.txt\n',
    'token.txt': `${TOKEN}\n`,
  });
  const { config } = await loadConfig({ file: join(dir, 'rosgate.yaml'), env: { P: 'pw' } });
  t.equal(config.monitoring.token, TOKEN);
  t.equal(config.monitoring.tokenFile, 'token.txt');
  t.end();
});

t.test('the token is redacted wherever the configuration is shown', (t) => {
  const { config } = validateConfig(base({ tokenEnv: 'ADMIN_TOKEN' }), { ADMIN_TOKEN: TOKEN });
  const shown = redactConfig(config).monitoring;
  t.equal(shown.token, '***');
  t.equal(shown.tokenEnv, 'ADMIN_TOKEN', 'where the token comes from stays visible');
  t.end();
});

const problems: {
  name: string;
  monitoring: unknown;
  env?: NodeJS.ProcessEnv;
  expected: string[];
}[] = [
  {
    name: 'only one token source may be set',
    monitoring: { token: TOKEN, tokenEnv: 'X' },
    expected: ['monitoring must set only one of token, tokenEnv, tokenFile'],
  },
  {
    name: 'a short token is refused',
    monitoring: { tokenEnv: 'SHORT' },
    env: { SHORT: 'short' },
    expected: ['monitoring.tokenEnv must hold a token of at least 16 characters'],
  },
  {
    name: 'a short MONITORING_TOKEN is refused by its name',
    monitoring: {},
    env: { MONITORING_TOKEN: 'short' },
    expected: ['MONITORING_TOKEN must hold a token of at least 16 characters'],
  },
  {
    name: 'tokenEnv must name a variable that is set',
    monitoring: { tokenEnv: 'UNSET' },
    expected: [
      'monitoring.tokenEnv names the environment variable UNSET, which is not set or is empty',
    ],
  },
  {
    name: 'tokenEnv must be a string',
    monitoring: { tokenEnv: 5 },
    expected: ['monitoring.tokenEnv must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'an inline token must be a string',
    monitoring: { token: 5 },
    expected: ['monitoring.token must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'tokenFile must be readable',
    monitoring: { tokenFile: 'nowhere.txt' },
    expected: ['monitoring.tokenFile cannot be read: nowhere.txt (ENOENT)'],
  },
  {
    name: 'requireTokenFor lists open endpoints only',
    monitoring: { requireTokenFor: ['metrics', 'status'] },
    expected: ['monitoring.requireTokenFor must list only live, ready, health, metrics'],
  },
  {
    name: 'readiness is a mapping',
    monitoring: { readiness: true },
    expected: ['monitoring.readiness must be a mapping'],
  },
  {
    name: 'readiness.requireRouter is a boolean',
    monitoring: { readiness: { requireRouter: 'yes' } },
    expected: ['monitoring.readiness.requireRouter must be true or false'],
  },
  {
    name: 'businessPollMs is a timer delay',
    monitoring: { businessPollMs: -1 },
    expected: ['monitoring.businessPollMs must be an integer 0-2147483647'],
  },
  {
    name: 'enabled is a boolean',
    monitoring: { enabled: 'no' },
    expected: ['monitoring.enabled must be true or false'],
  },
  {
    name: 'monitoring is a mapping',
    monitoring: true,
    expected: ['monitoring must be a mapping'],
  },
  {
    name: 'host and port keep their rules',
    monitoring: { host: '', port: 70000 },
    expected: [
      'monitoring.host must be a non-empty string (quote numbers in YAML)',
      'monitoring.port must be an integer 0-65535',
    ],
  },
  {
    name: 'unknown keys are errors',
    monitoring: { tokn: TOKEN },
    expected: ['monitoring.tokn is not a known key (did you mean token?)'],
  },
];

for (const p of problems) {
  t.test(p.name, (t) => {
    t.same(
      problemsOf(() => validateConfig(base(p.monitoring), p.env ?? {})),
      p.expected,
    );
    t.end();
  });
}
