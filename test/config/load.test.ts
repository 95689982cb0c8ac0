import { join } from 'node:path';
import t from 'tap';
import {
  DEFAULT_LIMITS,
  loadConfig,
  parseConfigYaml,
  validateConfig,
} from '../../src/config/index.js';
import {
  problemsOfAsync,
  problemsOf,
  SHIPPED_CONFIG,
  uncommentedConfigYaml,
} from './fixtures/helpers.js';

const YAML = `# a full example
routers:
  - name: core
    host: 192.0.2.1
    port: 8730
    username: api
    passwordFile: secrets/core.txt
    timeoutMs: 3000
    listen: { host: 127.0.0.1, port: 18728 }
    pool:
      min: 2
      max: 4
users:
  - name: billing
    passwordEnv: BILLING_PW
    routers: [core]
limits:
  maxClients: 50
monitoring:
  port: 19728
log:
  level: warn
shutdown:
  graceMs: 2000
`;

t.test('a YAML file is loaded with its secrets and defaults for what it leaves out', async (t) => {
  const dir = t.testdir({ 'rosgate.yaml': YAML, secrets: { 'core.txt': 'core-pw\n' } });
  const { config, warnings } = await loadConfig({
    file: join(dir, 'rosgate.yaml'),
    env: { BILLING_PW: 'billing-pw' },
  });
  t.match(config.routers, [
    {
      name: 'core',
      host: '192.0.2.1',
      port: 8730,
      username: 'api',
      password: 'core-pw',
      timeoutMs: 3000,
      listen: { host: '127.0.0.1', port: 18728 },
      pool: { min: 2, max: 4, acquireTimeoutMs: 5000 },
      emptyReplies: 'strip',
    },
  ]);
  t.same(config.users, [
    {
      name: 'billing',
      secret: Buffer.from('billing-pw'),
      passwordEnv: 'BILLING_PW',
      routers: ['core'],
    },
  ]);
  t.equal(config.limits.maxClients, 50);
  t.equal(config.limits.maxWordBytes, 1024 * 1024);
  t.same(config.monitoring, { host: '0.0.0.0', port: 19728 });
  t.equal(config.log.level, 'warn');
  t.equal(config.shutdown.graceMs, 2000);
  t.same(warnings, []);
});

t.test('the environment beats the file', async (t) => {
  const dir = t.testdir({ 'rosgate.yaml': YAML, secrets: { 'core.txt': 'core-pw' } });
  const { config } = await loadConfig({
    file: 'rosgate.yaml',
    cwd: dir,
    env: {
      BILLING_PW: 'b',
      MIKROTIK_HOST: '192.0.2.99',
      LOG_LEVEL: 'error',
      MIKROTIK_PASSWORD: 'env-pw',
    },
  });
  t.equal(config.routers[0]?.host, '192.0.2.99');
  t.equal(config.routers[0]?.password, 'env-pw');
  t.equal(config.log.level, 'error');
});

t.test(
  'a relative file and password files are found from cwd and the file directory',
  async (t) => {
    const dir = t.testdir({
      etc: { 'rosgate.yaml': 'routers: [{ host: r, passwordFile: pw }]\n', pw: 'from-etc-dir' },
      pw: 'from-cwd',
    });
    const { config } = await loadConfig({ file: 'etc/rosgate.yaml', cwd: dir, env: {} });
    t.equal(config.routers[0]?.password, 'from-etc-dir');
  },
);

t.test('without a file, password files are found from cwd', async (t) => {
  const dir = t.testdir({ pw: 'from-cwd\n' });
  const { config } = await loadConfig({ cwd: dir, env: { MIKROTIK_HOST: 'r' } });
  t.equal(config.routers[0]?.password, '', 'no file: nothing refers to a password file');
  const users = await loadConfig({ cwd: dir, env: {} });
  t.same(users.config.routers, []);
});

t.test('an empty or comment-only file gives the defaults', async (t) => {
  const dir = t.testdir({ 'empty.yaml': '', 'comments.yaml': '# nothing yet\n' });
  for (const file of ['empty.yaml', 'comments.yaml']) {
    const { config } = await loadConfig({
      file,
      cwd: dir,
      env: { MIKROTIK_HOST: 'r', MIKROTIK_PASSWORD: 'p' },
    });
    t.equal(config.routers[0]?.host, 'r');
  }
});

t.test('a missing config file is a config error naming the file', async (t) => {
  const dir = t.testdir({});
  t.same(await problemsOfAsync(loadConfig({ file: 'nope.yaml', cwd: dir, env: {} })), [
    `config file ${join(dir, 'nope.yaml')} cannot be read (ENOENT)`,
  ]);
});

t.test('a missing or unreadable password file is reported with the other problems', async (t) => {
  const dir = t.testdir({
    'rosgate.yaml': `routers:
  - host: r
    passwordFile: missing.txt
    port: 0
users:
  - name: a
    passwordFile: folder
`,
    folder: {},
  });
  t.same(await problemsOfAsync(loadConfig({ file: 'rosgate.yaml', cwd: dir, env: {} })), [
    'routers[0].port must be an integer 1-65535',
    'routers[0].passwordFile cannot be read: missing.txt (ENOENT)',
    'users[0].passwordFile cannot be read: folder (EISDIR)',
  ]);
});

t.test('YAML keys that are not known are errors naming their path', async (t) => {
  const dir = t.testdir({ 'rosgate.yaml': 'routers:\n  - host: r\n    pasword: hunter2\n' });
  t.same(await problemsOfAsync(loadConfig({ file: 'rosgate.yaml', cwd: dir, env: {} })), [
    'routers[0].pasword is not a known key (did you mean password?)',
  ]);
});

t.test('keys named like built-in members of an object are unknown keys, not setters', async (t) => {
  // `__proto__:` replaced the mapping's prototype: its keys were read as the section's own,
  // and `toString` at the top passed as known (`in` saw Object.prototype's).
  const yaml = [
    'routers:',
    '  - host: r',
    'cache:',
    '  __proto__:',
    '    enabled: false',
    'toString: 1',
    '',
  ].join('\n');
  const dir = t.testdir({ 'rosgate.yaml': yaml });
  t.same(await problemsOfAsync(loadConfig({ file: 'rosgate.yaml', cwd: dir, env: {} })), [
    'toString is not a known key',
    'cache.__proto__ is not a known key',
  ]);
});

t.test(
  'YAML syntax errors are all reported, by file and position, without quoting the source',
  (t) => {
    const text = 'routers:\n  - host: r\n    password: "hunter2\nusers: [\n';
    const problems = problemsOf(() => parseConfigYaml(text, '/etc/rosgate.yaml'));
    t.ok(problems.length >= 1);
    for (const p of problems) {
      t.match(p, /^\/etc\/rosgate\.yaml: .* at line \d+, column \d+$/);
      t.notMatch(p, 'hunter2');
    }
    const twice = problemsOf(() => parseConfigYaml('a: 1\na: 2\nb: @x\n', 'c.yaml'));
    t.same(twice, [
      'c.yaml: Map keys must be unique at line 2, column 1',
      'c.yaml: Plain value cannot start with reserved character @ at line 3, column 4',
    ]);
    t.end();
  },
);

t.test('an alias with no anchor is a config error', (t) => {
  t.same(
    problemsOf(() => parseConfigYaml('a: *missing\n', 'c.yaml')),
    ['c.yaml: Unresolved alias (the anchor must be set before the alias): missing'],
  );
  t.end();
});

t.test('with no options, the process environment and working directory are used', async (t) => {
  const dir = t.testdir({
    'rosgate.yaml': 'users: [{ name: u, passwordFile: pw.txt }]\n',
    'pw.txt': 'cwd-pw',
  });
  const cwd = process.cwd();
  const names = ['MIKROTIK_HOST', 'MIKROTIK_PASSWORD'] as const;
  const saved = names.map((name) => process.env[name]);
  t.teardown(() => {
    process.chdir(cwd);
    names.forEach((name, i) => {
      if (saved[i] === undefined) delete process.env[name];
      else process.env[name] = saved[i];
    });
  });
  process.chdir(dir);
  process.env.MIKROTIK_HOST = 'process-env-host';
  process.env.MIKROTIK_PASSWORD = 'p';
  const { config } = await loadConfig();
  t.equal(config.routers[0]?.host, 'process-env-host');
  const fromCwd = await loadConfig({ file: 'rosgate.yaml' });
  t.same(
    fromCwd.config.users[0]?.secret,
    Buffer.from('cwd-pw'),
    'the file is found in the working directory',
  );
});

t.test(
  'the shipped config.yaml loads, has no router, and so warns that rosgate cannot start',
  async (t) => {
    const { config, warnings } = await loadConfig({ file: SHIPPED_CONFIG, env: {} });
    t.same(config.routers, []);
    t.same(config.users, []);
    t.same(
      warnings.map((w) => w.code),
      ['ROSGATE_CONFIG_NO_ROUTERS'],
    );
  },
);

t.test('the shipped config.yaml plus MIKROTIK_HOST gives one router', async (t) => {
  const { config } = await loadConfig({
    file: SHIPPED_CONFIG,
    env: { MIKROTIK_HOST: '192.0.2.1', MIKROTIK_PASSWORD: 'pw' },
  });
  t.match(config.routers, [{ name: 'default', host: '192.0.2.1', password: 'pw' }]);
});

t.test(
  'uncommenting every example setting in config.yaml gives the documented defaults',
  async (t) => {
    const raw = parseConfigYaml(uncommentedConfigYaml(), SHIPPED_CONFIG);
    const { config, warnings } = validateConfig(raw, {
      MIKROTIK_ROUTER_PASSWORD: 'r',
      ROSGATE_BILLING_PASSWORD: 'b',
    });
    const defaults = validateConfig(
      { routers: [{ host: '192.0.2.1', passwordEnv: 'P' }] },
      { P: 'r' },
    ).config;
    t.same(config.routers, defaults.routers);
    t.same(config.limits, DEFAULT_LIMITS);
    t.same(config.monitoring, defaults.monitoring);
    t.same(config.log, defaults.log);
    t.same(config.shutdown, defaults.shutdown);
    t.same(config.users, [
      {
        name: 'billing',
        secret: Buffer.from('b'),
        passwordEnv: 'ROSGATE_BILLING_PASSWORD',
        routers: ['default'],
      },
    ]);
    t.same(warnings, []);
  },
);
