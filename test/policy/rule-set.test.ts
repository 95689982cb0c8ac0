import t from 'tap';
import { DEFAULT_DENY } from '../../src/policy/index.js';
import { RuleSet, type Subject } from '../../src/policy/rule-set.js';
import { policyConfig } from '../fixtures/policy-harness.js';

const panel: Subject = { user: 'panel', role: 'billing', router: 'default' };

/** The command word and its verb, as the stage passes them. */
function segments(command: string): [string, string] {
  return [command, command.slice(command.lastIndexOf('/') + 1)];
}

function attributes(values: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries(values));
}

function ruleSet(raw: Record<string, unknown>): RuleSet {
  return new RuleSet(policyConfig(raw));
}

t.test('the first matching rule wins, global rules before the role', async (t) => {
  const rules = ruleSet({
    rules: [
      { name: 'first', action: 'audit', path: '/system/*' },
      { name: 'second', action: 'deny', path: '/system/**' },
    ],
  });
  t.same(rules.decide(panel, ...segments('/system/reboot'), attributes()), {
    rule: 'first',
    action: 'audit',
  });
  t.same(rules.decide(panel, ...segments('/system/scheduler/add'), attributes()), {
    rule: 'second',
    action: 'deny',
  });
  t.same(rules.decide(panel, ...segments('/ip/address/print'), attributes()), {
    rule: 'billing-allow-rest',
    action: 'allow',
  });
});

t.test('* is one segment, ** any depth including none', async (t) => {
  const rules = ruleSet({
    roles: {
      r: [
        { name: 'one', action: 'allow', path: '/user/*' },
        { name: 'any', action: 'audit', path: '/ip/**/print' },
      ],
    },
  });
  const r: Subject = { ...panel, role: 'r' };
  const decide = (command: string): string =>
    rules.decide(r, ...segments(command), attributes()).rule;
  t.equal(decide('/user/add'), 'one');
  t.equal(decide('/user/group/add'), DEFAULT_DENY);
  t.equal(decide('/ip/print'), 'any');
  t.equal(decide('/ip/hotspot/user/print'), 'any');
  t.equal(decide('/ip/hotspot/user/add'), DEFAULT_DENY);
});

t.test('rules match on user, role, router and verb lists', async (t) => {
  const rules = ruleSet({
    rules: [
      { name: 'by-user', action: 'deny', user: 'mallory' },
      { name: 'by-router', action: 'deny', router: ['edge1', 'edge2'], verb: ['add', 'set'] },
      { name: 'by-role', action: 'audit', role: 'readonly', verb: 'print' },
    ],
  });
  const decide = (subject: Subject, command: string): string =>
    rules.decide(subject, ...segments(command), attributes()).rule;
  t.equal(decide({ ...panel, user: 'mallory' }, '/system/identity/print'), 'by-user');
  t.equal(decide({ ...panel, router: 'edge2' }, '/ip/hotspot/user/add'), 'by-router');
  t.equal(decide({ ...panel, router: 'edge2' }, '/ip/hotspot/user/print'), 'billing-allow-rest');
  t.equal(decide({ ...panel, role: 'readonly' }, '/ip/hotspot/user/print'), 'by-role');
  t.equal(decide(panel, '/ip/hotspot/user/print'), 'billing-allow-rest');
});

t.test('attribute conditions: equals, matches, present and absent, all must hold', async (t) => {
  const rules = ruleSet({
    rules: [
      {
        name: 'full-group',
        action: 'deny',
        path: '/ip/hotspot/user/*',
        attributes: [
          { name: 'profile', equals: 'vip' },
          { name: 'comment', present: false },
        ],
      },
      {
        name: 'vouchers',
        action: 'audit',
        attributes: [{ name: 'comment', matches: '^VOUCHER_SYSTEM\\|' }],
      },
    ],
  });
  const decide = (values: Record<string, string>): string =>
    rules.decide(panel, ...segments('/ip/hotspot/user/add'), attributes(values)).rule;
  t.equal(decide({ profile: 'vip' }), 'full-group');
  t.equal(decide({ profile: 'vip', comment: 'VOUCHER_SYSTEM|1' }), 'vouchers');
  t.equal(decide({ profile: 'basic', comment: 'VOUCHER_SYSTEM|1' }), 'vouchers');
  t.equal(decide({ profile: 'basic', comment: 'other' }), 'billing-allow-rest');
  t.equal(decide({}), 'billing-allow-rest');
});

t.test(
  'a value is read as text as names are (UTF-8, else windows-1252) before equals or matches judge it',
  async (t) => {
    const rules = ruleSet({
      rules: [
        { name: 'cafe', action: 'deny', attributes: [{ name: 'comment', equals: 'caf\u00e9' }] },
        {
          name: 'kafe',
          action: 'deny',
          attributes: [{ name: 'comment', matches: '^\u041a\u0430\u0444\u0435$' }],
        },
        { name: 'euro', action: 'deny', attributes: [{ name: 'comment', matches: '\u20ac' }] },
      ],
    });
    const ruleFor = (bytes: Buffer): string =>
      rules.decide(
        panel,
        ...segments('/queue/simple/add'),
        new Map([['comment', bytes.toString('latin1')]]),
      ).rule;
    t.equal(ruleFor(Buffer.from('caf\u00e9', 'latin1')), 'cafe', 'café in windows-1252');
    t.equal(ruleFor(Buffer.from('caf\u00e9', 'utf8')), 'cafe', 'café in UTF-8');
    t.equal(ruleFor(Buffer.from('\u041a\u0430\u0444\u0435', 'utf8')), 'kafe', 'Кафе in UTF-8');
    t.equal(ruleFor(Buffer.from('10 \u20ac', 'utf8')), 'euro', '€ in UTF-8');
    t.equal(ruleFor(Buffer.from([0x31, 0x30, 0x20, 0x80])), 'euro', '€ in windows-1252');
    t.equal(ruleFor(Buffer.from('cafe')), 'billing-allow-rest', 'another value matches none');
  },
);

t.test('users get their role from users, anyone else the default role', async (t) => {
  const rules = ruleSet({ users: { noc: 'admin' }, defaultRole: 'readonly' });
  t.equal(rules.roleOf('noc'), 'admin');
  t.equal(rules.roleOf('someone'), 'readonly');
  t.equal(rules.roleOf('constructor'), 'readonly', 'inherited object keys are not users');
});

t.test('a configured role replaces the shipped one of its name; the others stay', async (t) => {
  const rules = ruleSet({
    roles: { billing: [{ name: 'only-prints', action: 'allow', verb: 'print' }] },
  });
  t.equal(rules.decide(panel, ...segments('/system/reboot'), attributes()).rule, DEFAULT_DENY);
  t.equal(
    rules.decide(panel, ...segments('/system/identity/print'), attributes()).rule,
    'only-prints',
  );
  const noc: Subject = { ...panel, role: 'admin' };
  t.equal(rules.decide(noc, ...segments('/system/reboot'), attributes()).rule, 'admin-allow-all');
});

t.test('an unknown role has no rules: everything is denied by default', async (t) => {
  const rules = ruleSet({});
  const ghost: Subject = { ...panel, role: 'ghost' };
  t.equal(
    rules.decide(ghost, ...segments('/system/identity/print'), attributes()).rule,
    DEFAULT_DENY,
  );
  t.equal(rules.mayDeny(ghost, ['system', 'identity', 'print']), DEFAULT_DENY);
});

t.test('the shipped readonly role allows reads only, and no print to a file', async (t) => {
  const rules = ruleSet({});
  const report: Subject = { ...panel, role: 'readonly' };
  const decide = (command: string, values: Record<string, string> = {}): string =>
    rules.decide(report, ...segments(command), attributes(values)).rule;
  t.equal(decide('/ip/hotspot/user/print'), 'readonly-allow-reads');
  t.equal(decide('/ip/hotspot/user/getall'), 'readonly-allow-reads');
  t.equal(decide('/interface/listen'), 'readonly-allow-reads');
  t.equal(decide('/ip/hotspot/user/print', { file: 'x' }), 'readonly-deny-print-to-file');
  t.equal(decide('/interface/monitor-traffic'), 'readonly-deny-rest');
});

t.test('script words: an abbreviation that may name a denied command is denied', async (t) => {
  const rules = ruleSet({});
  t.equal(rules.mayDeny(panel, ['sys', 'reb']), 'billing-deny-reboot');
  t.equal(rules.mayDeny(panel, ['us', 'add']), 'billing-deny-user');
  t.equal(rules.mayDeny(panel, ['ip', 'hotspot', 'export']), 'billing-deny-export');
  t.equal(rules.mayDeny(panel, ['ip', 'hotspot', 'exp']), 'billing-deny-export');
  t.equal(rules.mayDeny(panel, ['sys', 'sch', 'add']), undefined);
  t.equal(rules.mayDeny(panel, ['ip', 'hotspot', 'user', 'remove']), undefined);
});

t.test('script words: trailing words may be unnamed arguments', async (t) => {
  const rules = ruleSet({});
  t.equal(rules.mayDeny(panel, ['system', 'script', 'run', 'cleanup']), 'billing-deny-script-run');
  t.equal(rules.mayDeny(panel, ['file', 'remove', 'x']), 'billing-deny-file-remove');
});

t.test(
  'script words: an allow rule must cover them exactly, else the default denies',
  async (t) => {
    const rules = ruleSet({
      roles: {
        hotspot: [
          { name: 'hotspot-users', action: 'allow', path: '/ip/hotspot/**' },
          {
            name: 'only-vip',
            action: 'allow',
            path: '/queue/**',
            attributes: [{ name: 'name', equals: 'vip' }],
          },
          { name: 'log-scripts', action: 'audit', path: '/log/*' },
        ],
      },
    });
    const subject: Subject = { ...panel, role: 'hotspot' };
    t.equal(rules.mayDeny(subject, ['ip', 'hotspot', 'user', 'remove']), undefined);
    t.equal(rules.mayDeny(subject, ['log', 'info']), undefined, 'an audit rule allows');
    t.equal(
      rules.mayDeny(subject, ['ip', 'hot', 'user', 'remove']),
      DEFAULT_DENY,
      'an abbreviation is not covered',
    );
    t.equal(
      rules.mayDeny(subject, ['queue', 'simple', 'add']),
      DEFAULT_DENY,
      'conditions cannot be checked in a script',
    );
  },
);

t.test('script words: rules for other users or routers are skipped', async (t) => {
  const rules = ruleSet({ rules: [{ name: 'mallory', action: 'deny', user: 'mallory' }] });
  t.equal(rules.mayDeny(panel, ['ip', 'hotspot', 'user', 'add']), undefined);
  t.equal(
    rules.mayDeny({ ...panel, user: 'mallory' }, ['ip', 'hotspot', 'user', 'add']),
    'mallory',
  );
});

t.test('script words: a verb filter matches abbreviated verbs too', async (t) => {
  const rules = ruleSet({
    roles: {
      r: [
        { name: 'no-remove', action: 'deny', verb: ['remove', 'unset'] },
        { name: 'rest', action: 'allow' },
      ],
    },
  });
  const subject: Subject = { ...panel, role: 'r' };
  t.equal(rules.mayDeny(subject, ['ip', 'hotspot', 'user', 'rem']), 'no-remove');
  t.equal(rules.mayDeny(subject, ['ip', 'hotspot', 'user', 'add']), undefined);
});

t.test('a decision remembered by command word is the decision the rules give', async (t) => {
  const rules = ruleSet({
    rules: [
      {
        name: 'vip',
        action: 'deny',
        path: '/ip/hotspot/user/add',
        attributes: [{ name: 'profile', equals: 'vip' }],
      },
    ],
    roles: { narrow: [{ name: 'narrow-ip', action: 'allow', path: '/ip/**' }] },
  });
  const narrow: Subject = { ...panel, role: 'narrow' };
  for (let round = 0; round < 2; round++) {
    t.equal(rules.decide(narrow, ...segments('/system/reboot'), attributes()).rule, DEFAULT_DENY);
    t.equal(rules.decide(narrow, ...segments('/ip/address/print'), attributes()).rule, 'narrow-ip');
    // A rule with conditions met on the way: each command's attributes decide.
    const add = (profile: string): string =>
      rules.decide(panel, ...segments('/ip/hotspot/user/add'), attributes({ profile })).rule;
    t.equal(add('vip'), 'vip');
    t.equal(add('basic'), 'billing-allow-rest');
  }
});

t.test('the remembered decisions stay bounded and right past their bound', async (t) => {
  const rules = ruleSet({});
  for (let i = 0; i < 1100; i++)
    t.equal(
      rules.decide(panel, ...segments(`/ip/m${i}/print`), attributes()).rule,
      'billing-allow-rest',
    );
  t.equal(
    rules.decide(panel, ...segments('/system/reboot'), attributes()).rule,
    'billing-deny-reboot',
  );
  t.equal(
    rules.decide(panel, ...segments('/ip/m0/print'), attributes()).rule,
    'billing-allow-rest',
  );
});

t.test('rules that name users or routers are checked for every command', async (t) => {
  const rules = ruleSet({
    rules: [{ name: 'by-user', action: 'deny', path: '/ip/**', user: 'mallory' }],
  });
  const decide = (user: string): string =>
    rules.decide({ ...panel, user }, ...segments('/ip/address/print'), attributes()).rule;
  t.equal(decide('panel'), 'billing-allow-rest');
  t.equal(decide('mallory'), 'by-user');
  t.equal(decide('panel'), 'billing-allow-rest');
});
