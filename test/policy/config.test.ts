import { readFileSync } from 'node:fs';
import t from 'tap';
import YAML from 'yaml';
import { SECTIONS, validateConfig } from '../../src/config/index.js';

const ROUTER = { routers: [{ host: '192.0.2.1', password: 'pw' }] };

/** The problems validation reports for a `policy` section. */
function problems(policy: unknown): string[] {
  try {
    validateConfig({ ...ROUTER, policy });
    return [];
  } catch (err) {
    return ((err as { details?: { problems?: string[] } }).details?.problems ?? []).filter((p) =>
      p.startsWith('policy'),
    );
  }
}

t.test(
  'defaults: enforce, billing for unknown users, the three shipped roles, detection on',
  async (t) => {
    const { config } = validateConfig(ROUTER);
    const policy = config.policy;
    t.equal(policy.mode, 'enforce');
    t.equal(policy.defaultRole, 'billing');
    t.same(policy.users, {});
    t.same(Object.keys(policy.roles), ['admin', 'billing', 'readonly']);
    t.same(policy.rules, []);
    t.same(policy.input, { enabled: true, maxStringLength: 1000, maxScriptLength: 65536 });
    t.equal(policy.attackDetection, true);
    t.same(policy.xss, { enabled: true, mode: 'monitor' });
    t.same(policy.sqlInjection, { enabled: true, mode: 'monitor' });
    t.equal(policy.scriptSyntaxInData, 'monitor');
    t.same(policy.lockout, {
      maxAttempts: 5,
      userMaxAttempts: 20,
      windowMs: 900000,
      durationMs: 900000,
      maxTracked: 10000,
      trustedSources: ['127.0.0.0/8', '::1'],
    });
    t.same(SECTIONS.policy.defaults, policy);
  },
);

t.test('environment variables set their keys', async (t) => {
  const { config } = validateConfig(ROUTER, {
    ENABLE_ATTACK_DETECTION: 'false',
    ENABLE_XSS_PROTECTION: 'no',
    ENABLE_SQL_INJECTION_PROTECTION: '0',
    MAX_STRING_LENGTH: '2000',
    MAX_LOGIN_ATTEMPTS: '3',
    LOCKOUT_DURATION: '60000',
    LOCKOUT_TRUSTED_SOURCES: '10.0.0.0/8, fd00::/8,',
  });
  const policy = config.policy;
  t.equal(policy.attackDetection, false);
  t.equal(policy.xss.enabled, false);
  t.equal(policy.sqlInjection.enabled, false);
  t.equal(policy.input.maxStringLength, 2000);
  t.equal(policy.lockout.maxAttempts, 3);
  t.equal(policy.lockout.durationMs, 60000);
  t.same(policy.lockout.trustedSources, ['10.0.0.0/8', 'fd00::/8']);
});

t.test('trusted sources are addresses or CIDRs, each named when wrong', async (t) => {
  const trusted = (trustedSources: unknown) => problems({ lockout: { trustedSources } });
  t.same(trusted(['192.0.2.7', '10.0.0.0/8', '::1', 'fd00::/8', '::/0']), []);
  t.same(trusted([]), [], 'an empty list trusts no one, loopback included');
  for (const bad of ['nope', '10.0.0.0/33', '::1/129', '10.0.0.0/8/8', '10.0.0.0/x']) {
    t.same(
      trusted(['127.0.0.1', bad]),
      ['policy.lockout.trustedSources[1] must be an IP address or a CIDR such as 10.0.0.0/8'],
      bad,
    );
  }
  t.same(trusted(5), ['policy.lockout.trustedSources must be a list of IP addresses or CIDRs']);
});

t.test('a rule takes every matcher; path defaults to every command', async (t) => {
  const { config } = validateConfig({
    ...ROUTER,
    policy: {
      users: { noc: 'admin' },
      rules: [
        {
          name: 'night-audit',
          action: 'audit',
          path: ['/ip/hotspot/**', '/ppp/secret/*'],
          verb: ['add', 'set'],
          user: 'panel',
          role: ['billing'],
          router: 'edge',
          attributes: [
            { name: 'comment', matches: '^VOUCHER' },
            { name: '.id', present: true },
          ],
        },
        { name: 'all', action: 'deny' },
      ],
    },
  });
  t.equal(config.policy.rules[1]?.path, '/**');
  t.same(config.policy.rules[1]?.attributes, []);
  t.equal(config.policy.users['noc'], 'admin');
});

t.test('problems name the path and the rule', async (t) => {
  t.same(problems({ mode: 'strict' }), ['policy.mode must be one of enforce, monitor']);
  t.same(problems({ users: { bob: 'root' } }), ['policy.users.bob must name a role']);
  t.same(problems({ defaultRole: 'nobody' }), ['policy.defaultRole must name a role']);
  t.same(problems({ rules: [{ name: 'r', action: 'deny', path: 'system/reboot' }] }), [
    'policy.rules[0].path must be a command glob such as /ip/hotspot/user/* or /system/**',
  ]);
  t.same(problems({ rules: [{ name: 'r', action: 'deny', path: '/sys tem' }] }).length, 1);
  t.same(problems({ rules: [{ name: 'bad name', action: 'permit' }] }), [
    'policy.rules[0].name must be 1-64 letters, digits or . _ : -',
    'policy.rules[0].action must be one of allow, deny, audit',
  ]);
  t.same(
    problems({ rules: [{ name: 'r', action: 'deny', attributes: [{ name: 'x', matches: '(' }] }] }),
    ['policy.rules[0].attributes[0].matches must be a valid regular expression'],
  );
  t.same(
    problems({
      rules: [
        { name: 'r', action: 'deny', attributes: [{ name: 'x', equals: 'a', present: true }] },
      ],
    }),
    ['policy.rules[0].attributes[0] must have exactly one of equals, matches or present'],
  );
  t.same(problems({ rules: [{ name: 'r', action: 'deny', colour: 'red' }] }), [
    'policy.rules[0].colour is not a known key',
  ]);
  t.same(problems({ lockout: { maxAttempts: 0 } }), ['policy.lockout.maxAttempts must be >= 1']);
  t.same(problems({ xss: { mode: 'block' } }), ['policy.xss.mode must be one of enforce, monitor']);
});

t.test('a configured role is known to users and defaultRole', async (t) => {
  const { config } = validateConfig({
    ...ROUTER,
    policy: {
      defaultRole: 'support',
      users: { bob: 'support', noc: 'admin' },
      roles: { support: [{ name: 'support-reads', action: 'allow', verb: 'print' }] },
    },
  });
  t.same(
    Object.keys(config.policy.roles),
    ['support'],
    'the shipped roles are merged in by the stage',
  );
});

t.test(
  'config.yaml documents every key with its default, the shipped roles included',
  async (t) => {
    const text = readFileSync(new URL('../../config.yaml', import.meta.url), 'utf8');
    const start = text.indexOf('\n#policy:') + 1;
    const end = text.indexOf('\n\n', start);
    const yaml = text
      .slice(start, end < 0 ? text.length : end)
      .split('\n')
      .filter((line) => line.startsWith('#') && !line.startsWith('##'))
      .map((line) => line.slice(1))
      .join('\n');
    const documented = (YAML.parse(yaml) as { policy: Record<string, unknown> }).policy;
    t.same(SECTIONS.policy.schema.parse(documented), SECTIONS.policy.defaults);
    t.same(Object.keys(documented).sort(), Object.keys(SECTIONS.policy.defaults).sort());
  },
);
