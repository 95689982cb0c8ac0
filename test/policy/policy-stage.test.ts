import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { SETTLED, type CommandHandler } from '../../src/pipeline.js';
import {
  createPolicyStage,
  type LockoutEvent,
  type PolicyStageOptions,
} from '../../src/policy/index.js';
import { Sentence } from '../../src/protocol/index.js';
import { commandContext, policyConfig, policyHarness } from '../fixtures/policy-harness.js';

t.test(
  'a denied command gets the rule in a PolicyDenied refusal and never reaches the router',
  async (t) => {
    const harness = policyHarness();
    const outcome = harness.run('panel', ['/system/reboot', '.tag=7']);
    t.equal(outcome.isForwarded, false);
    t.equal(outcome.error?.code, ErrorCode.PolicyDenied);
    t.equal(outcome.error?.message, 'not enough permissions (rosgate rule billing-deny-reboot)');
    t.equal(outcome.ends, 1);
    t.same(outcome.notes, { rule: 'billing-deny-reboot', verdict: 'deny' });
    t.equal(harness.router.received.length, 0);
  },
);

t.test('an allowed command reaches the router with the deciding rule noted', async (t) => {
  const harness = policyHarness();
  const outcome = harness.run('panel', ['/ip/hotspot/user/print']);
  t.equal(outcome.isForwarded, true);
  t.same(outcome.notes, { rule: 'billing-allow-rest', verdict: 'allow' });
  t.equal(outcome.ends, 1, 'the router answered through the same sink');
});

t.test('closing the policy stage stops nothing it needs: it still decides', async (t) => {
  const harness = policyHarness();
  harness.policy.close();
  t.equal(harness.run('panel', ['/system/reboot']).error?.code, ErrorCode.PolicyDenied);
});

t.test('monitor mode decides, logs and counts a denial, but forwards the command', async (t) => {
  const harness = policyHarness({ mode: 'monitor' });
  const outcome = harness.run('panel', ['/system/reboot']);
  t.equal(outcome.isForwarded, true);
  t.equal(outcome.error, undefined);
  t.same(outcome.notes, { rule: 'billing-deny-reboot', verdict: 'deny' });
  t.same(harness.policy.routerStats('default').decisions, [
    { rule: 'billing-deny-reboot', verdict: 'deny', count: 1 },
  ]);
  t.match(harness.logs, [
    { msg: 'policy would deny a command (monitor mode)', rule: 'billing-deny-reboot' },
  ]);
});

t.test('onDenied hears each enforced denial; a monitored one goes on', async (t) => {
  const heard: { action: string; code: string; verdict: string | undefined }[] = [];
  const onDenied: NonNullable<PolicyStageOptions['onDenied']> = (context, error) =>
    heard.push({
      action: context.sentence.command,
      code: error.code,
      verdict: context.notes.verdict,
    });
  const enforcing = policyHarness({}, { onDenied });
  enforcing.run('panel', ['/system/reboot']);
  enforcing.run('panel', ['/ip/hotspot/user/print']);
  t.same(heard, [{ action: '/system/reboot', code: ErrorCode.PolicyDenied, verdict: 'deny' }]);
  const monitoring = policyHarness({ mode: 'monitor' }, { onDenied });
  t.equal(monitoring.run('panel', ['/system/reboot']).isForwarded, true);
  t.equal(heard.length, 1, 'the audit stage records a monitored denial with its outcome');
});

t.test('input failures name the attribute and the rule, and are counted by rule', async (t) => {
  const harness = policyHarness();
  const outcome = harness.run('panel', ['/ip/hotspot/user/add', '=name=v', '=mac-address=nope']);
  t.equal(outcome.error?.code, ErrorCode.InputInvalid);
  t.equal(outcome.error?.message, 'invalid value for mac-address: must be a MAC address');
  t.same(outcome.error?.details, { attribute: 'mac-address', rule: 'mac-address' });
  t.same(outcome.notes, { rule: 'input:mac-address', verdict: 'deny' });
  const stats = harness.policy.routerStats('default');
  t.equal(stats.inputFailures, 1);
  t.same(stats.inputFailuresByRule, { 'mac-address': 1 });
});

t.test('with input rules off, malformed values go through', async (t) => {
  const harness = policyHarness({ input: { enabled: false } });
  t.ok(harness.run('panel', ['/ip/hotspot/user/add', '=name=v', '=mac-address=nope']).isForwarded);
});

t.test('a script that runs what the role may not is denied naming the command', async (t) => {
  const harness = policyHarness();
  const outcome = harness.run('panel', [
    '/system/scheduler/add',
    '=name=x',
    '=on-event=/user add name=e group=full',
  ]);
  t.equal(
    outcome.error?.message,
    'not enough permissions (rosgate rule script-escalation: /user/add)',
  );
  t.same(outcome.notes, { rule: 'script-escalation', verdict: 'deny' });
});

t.test('the same script is allowed for a role that may run it', async (t) => {
  const harness = policyHarness();
  const words = ['/system/scheduler/add', '=name=x', '=on-event=/user add name=e group=full'];
  t.ok(harness.run('noc', words).isForwarded);
});

t.test('without attack detection, scripts and names are not examined', async (t) => {
  const harness = policyHarness({ attackDetection: false });
  t.ok(
    harness.run('panel', ['/system/scheduler/add', '=name=x', '=on-event=/system reboot'])
      .isForwarded,
  );
  const outcome = harness.run('panel', ['/queue/simple/add', '=name=q;x']);
  t.same(outcome.notes, { rule: 'billing-allow-rest', verdict: 'allow' });
});

t.test('script syntax in a name is flagged, counted and logged, and forwarded', async (t) => {
  const harness = policyHarness();
  const outcome = harness.run('panel', ['/queue/simple/add', '=name=q;x', '=comment=a;b[c]$d']);
  t.ok(outcome.isForwarded);
  t.same(outcome.notes, { rule: 'billing-allow-rest', verdict: 'flag', flags: ['script-syntax'] });
  t.same(harness.policy.routerStats('default').flags, { 'script-syntax': 1 });
  t.match(harness.logs, [
    { msg: 'policy flagged a command', flags: ['script-syntax'], cmd: '/queue/simple/add' },
  ]);
});

t.test('script syntax in a name is refused when scriptSyntaxInData is enforce', async (t) => {
  const harness = policyHarness({ scriptSyntaxInData: 'enforce' });
  const outcome = harness.run('panel', ['/queue/simple/add', '=name=q;x']);
  t.equal(outcome.error?.code, ErrorCode.InputInvalid);
  t.equal(outcome.error?.message, 'invalid value for name: must not contain script syntax');
  t.same(outcome.notes, { rule: 'script-syntax', verdict: 'deny', flags: ['script-syntax'] });
});

t.test('enforced detection still forwards in monitor mode', async (t) => {
  const harness = policyHarness({ mode: 'monitor', xss: { mode: 'enforce' } });
  const outcome = harness.run('panel', ['/queue/simple/set', '=.id=*1', '=comment=<script>']);
  t.ok(outcome.isForwarded);
  t.same(outcome.notes, { rule: 'xss', verdict: 'deny', flags: ['xss'] });
});

t.test(
  'XSS and SQL injection markers are flagged together, and refused one at a time when enforced',
  async (t) => {
    const words = ['/queue/simple/set', '=.id=*1', '=comment=<script>', "=name=x' OR 1=1"];
    const flagged = policyHarness().run('panel', words);
    t.same(flagged.notes.flags, ['xss', 'sql-injection']);
    const sql = policyHarness({ sqlInjection: { mode: 'enforce' } }).run('panel', words);
    t.equal(sql.error?.message, 'invalid value for name: must not contain SQL injection');
    const xss = policyHarness({ xss: { mode: 'enforce' } }).run('panel', words);
    t.equal(
      xss.error?.message,
      'invalid value for comment: must not contain HTML or script markup',
    );
  },
);

t.test('XSS and SQL injection checks can be turned off', async (t) => {
  const harness = policyHarness({ xss: { enabled: false }, sqlInjection: { enabled: false } });
  const outcome = harness.run('panel', [
    '/queue/simple/set',
    '=.id=*1',
    "=comment=<script>' OR 1=1",
  ]);
  t.equal(outcome.notes.verdict, 'allow');
  const nothing = policyHarness({
    attackDetection: false,
    xss: { enabled: false },
    sqlInjection: { enabled: false },
  });
  const words = ['/queue/simple/set', '=.id=*1', '=name=$x', "=comment=<script>' OR 1=1"];
  t.equal(nothing.run('panel', words).notes.verdict, 'allow', 'with every detection off');
});

t.test('an audit rule allows the command and records it as audited', async (t) => {
  const harness = policyHarness({
    rules: [{ name: 'watch-secrets', action: 'audit', path: '/ppp/secret/*' }],
  });
  const outcome = harness.run('panel', ['/ppp/secret/print']);
  t.ok(outcome.isForwarded);
  t.same(outcome.notes, { rule: 'watch-secrets', verdict: 'audit' });
  t.match(harness.logs, [{ msg: 'policy audit', rule: 'watch-secrets', level: 30 }]);
});

t.test('stats count hits, decisions, input failures and flags per router', async (t) => {
  const harness = policyHarness();
  harness.run('panel', ['/system/reboot'], 'r1');
  harness.run('panel', ['/system/identity/print'], 'r1');
  harness.run('panel', ['/ip/hotspot/user/add', '=name=v', '=mac-address=x'], 'r1');
  harness.run('panel', ['/system/identity/print'], 'r2');
  harness.run('panel', ['/queue/simple/add', '=name=$x'], 'r2');
  const stats = harness.policy.stats();
  t.same(stats.routers['r1'], {
    hits: { 'billing-deny-reboot': 1, 'billing-allow-rest': 2 },
    decisions: [
      { rule: 'billing-deny-reboot', verdict: 'deny', count: 1 },
      { rule: 'billing-allow-rest', verdict: 'allow', count: 1 },
      { rule: 'input:mac-address', verdict: 'deny', count: 1 },
    ],
    inputFailures: 1,
    inputFailuresByRule: { 'mac-address': 1 },
    flags: {},
    lockouts: 0,
  });
  t.same(stats.routers['r2']?.decisions, [
    { rule: 'billing-allow-rest', verdict: 'allow', count: 1 },
    { rule: 'billing-allow-rest', verdict: 'flag', count: 1 },
  ]);
  t.same(stats.routers['r2']?.flags, { 'script-syntax': 1 });
  harness.run('panel', ['/system/reboot'], 'r1');
  t.same(stats.routers['r1']?.hits['billing-deny-reboot'], 1, 'a snapshot does not change');
  t.same(harness.policy.routerStats('r3'), {
    hits: {},
    decisions: [],
    inputFailures: 0,
    inputFailuresByRule: {},
    flags: {},
    lockouts: 0,
  });
});

t.test('a rule named __proto__ is counted like any other', async (t) => {
  const harness = policyHarness({ rules: [{ name: '__proto__', action: 'allow' }] }, {});
  harness.run('panel', ['/system/reboot'], '__proto__');
  const stats = harness.policy.stats();
  t.same(Object.keys(stats.routers), ['__proto__']);
  t.same(stats.routers['__proto__']?.hits, JSON.parse('{"__proto__":1}'));
});

t.test(
  'updateRules applies a new policy to the commands that follow, keeping counters',
  async (t) => {
    const harness = policyHarness();
    t.notOk(harness.run('panel', ['/system/reboot']).isForwarded);
    harness.policy.updateRules(policyConfig({ users: { panel: 'admin' }, mode: 'monitor' }));
    t.same(harness.run('panel', ['/system/reboot']).notes, {
      rule: 'admin-allow-all',
      verdict: 'allow',
    });
    t.same(harness.policy.routerStats('default').hits, {
      'billing-deny-reboot': 1,
      'admin-allow-all': 1,
    });
  },
);

t.test('an internal error refuses that command with a generic message and is logged', async (t) => {
  const failed: string[] = [];
  const harness = policyHarness({}, { onFailed: (_context, error) => failed.push(error.code) });
  const inner: CommandHandler = {
    handle() {
      t.fail('must not be reached');
      return SETTLED;
    },
  };
  const handler = harness.policy.stage(inner);
  const context = commandContext(['/system/identity/print']);
  Object.defineProperty(context, 'sentence', {
    get() {
      throw new Error('secret internal detail');
    },
  });
  let message = '';
  handler.handle(context, {
    reply: () => undefined,
    done: () => undefined,
    refuse: (err) => {
      message = `${err.code}: ${err.message}`;
    },
  });
  t.equal(message, `${ErrorCode.Internal}: internal error in rosgate`);
  t.match(harness.logs, [{ msg: 'policy failed', level: 50 }]);
  t.same(failed, [ErrorCode.Internal], 'told, for the audit trail');
});

t.test('without a logger the stage decides silently', async (t) => {
  const policy = createPolicyStage({ config: policyConfig({ mode: 'monitor' }) });
  let isForwarded = false;
  const handler = policy.stage({
    handle(_context, sink) {
      isForwarded = true;
      sink.done(Sentence.from(['!done']));
      return SETTLED;
    },
  });
  handler.handle(commandContext(['/system/reboot']), {
    reply: () => undefined,
    done: () => undefined,
    refuse: () => t.fail('monitor mode forwards'),
  });
  t.ok(isForwarded);
  const gate = policy.loginGate('default');
  for (let i = 0; i < 5; i++) gate.record('192.0.2.1', 'u', false);
  t.equal(policy.routerStats('default').lockouts, 1);
});

t.test(
  'the login gate of a router uses the lockout settings and counts and reports its lockouts',
  async (t) => {
    let nowMs = 1_000;
    const events: (LockoutEvent & { router: string })[] = [];
    const harness = policyHarness(
      { lockout: { maxAttempts: 2, durationMs: 60_000 } },
      { now: () => nowMs, onLockout: (event) => events.push(event) },
    );
    const gate = harness.policy.loginGate('r1');
    for (let i = 0; i < 2; i++) {
      t.equal(gate.admit('192.0.2.1', 'u'), undefined);
      gate.record('192.0.2.1', 'u', false);
    }
    t.same(events, [
      { router: 'r1', scope: 'source', address: '192.0.2.1', failures: 2, untilMs: 61_000 },
    ]);
    t.equal(gate.admit('192.0.2.1', 'u')?.message, 'too many failed logins; try again in 60s');
    nowMs += 60_000;
    t.equal(gate.admit('192.0.2.1', 'u'), undefined);
    t.equal(harness.policy.routerStats('r1').lockouts, 1);
    t.match(harness.logs, [{ msg: 'login locked out', router: 'r1', address: '192.0.2.1' }]);
  },
);

t.test(
  'the lockouts of every router are listed and cleared, and survive a reload of the same rules',
  async (t) => {
    const nowMs = 1_000;
    const config = policyConfig({ lockout: { maxAttempts: 1 } });
    const { policy } = policyHarness({ lockout: { maxAttempts: 1 } }, { now: () => nowMs });
    const r1 = policy.loginGate('r1');
    t.equal(policy.loginGate('r1'), r1, 'one gate per router');
    const r2 = policy.loginGate('r2');
    r1.record('127.0.0.1', 'mallory', false);
    r2.record('127.0.0.1', 'mallory', false);
    r2.record('192.0.2.1', 'alice', false);
    t.same(policy.lockouts(), [
      {
        router: 'r1',
        scope: 'source-user',
        address: '127.0.0.1',
        user: 'mallory',
        failures: 1,
        untilMs: 901_000,
      },
      { router: 'r2', scope: 'source', address: '192.0.2.1', failures: 1, untilMs: 901_000 },
      {
        router: 'r2',
        scope: 'source-user',
        address: '127.0.0.1',
        user: 'mallory',
        failures: 1,
        untilMs: 901_000,
      },
    ]);
    policy.updateRules(config);
    t.equal(policy.lockouts().length, 3, 'a reload of the same rules keeps them');
    t.same(
      policy.clearLockouts({ router: 'r2', user: 'mallory' }).map((l) => [l.router, l.scope]),
      [['r2', 'source-user']],
    );
    t.same(
      policy.clearLockouts({}).map((l) => [l.router, l.scope]),
      [
        ['r1', 'source-user'],
        ['r2', 'source'],
      ],
    );
    t.same(policy.lockouts(), []);
    policy.updateRules(policyConfig({ lockout: { maxAttempts: 2 } }));
    r1.record('192.0.2.9', 'u', false);
    t.same(policy.lockouts(), [], 'the gates took the new threshold');
  },
);

t.test('log lines carry no attribute values', async (t) => {
  const harness = policyHarness();
  harness.run('panel', ['/queue/simple/add', '=name=q;x', '=comment=hunter2', '=password=hunter2']);
  harness.run('panel', [
    '/ip/hotspot/user/add',
    '=name=v',
    '=password=hunter2',
    '=mac-address=hunter2',
  ]);
  t.equal(harness.logs.length, 2);
  t.notMatch(JSON.stringify(harness.logs), /hunter2/);
});

t.test('an attribute written without a value (=once) is present and empty', async (t) => {
  const harness = policyHarness({
    rules: [{ name: 'once-only', action: 'audit', attributes: [{ name: 'once', equals: '' }] }],
  });
  t.same(harness.run('panel', ['/interface/monitor-traffic', '=interface=ether1', '=once']).notes, {
    rule: 'once-only',
    verdict: 'audit',
  });
  t.same(harness.run('panel', ['/interface/monitor-traffic', '=interface=ether1']).notes, {
    rule: 'billing-allow-rest',
    verdict: 'allow',
  });
});
