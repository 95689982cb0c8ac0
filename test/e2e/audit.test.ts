import t, { type Test } from 'tap';
import { searchAudit, verifyFiles, type AuditRecord } from '../../src/audit/index.js';
import { runCli } from '../../src/cli.js';
import { allText, auditFiles, readRecords } from '../fixtures/audit-helpers.js';
import { eventually } from '../fixtures/eventually.js';
import { loggedIn, connectApi, startStack } from '../fixtures/stack.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { adminClient } from '../fixtures/wire-admin.js';
import { cliIo } from '../fixtures/wire-cli.js';

// The audit trail written by the running app: every kind of event, found by
// searchAudit and through the admin port, with no secret anywhere, and a
// chain that `rosgate audit verify` accepts.

const TOKEN = 'e2e-audit-token-0123456789';
const VOUCHER_PW = 'Voucher-Pw-7f3k9';
const BILLING_PW = 'Billing-Pw-2m8q4';
const WRONG_PW = 'Wrong-Pw-5x1z0';

const ALL_KINDS = [
  'start',
  'login',
  'command',
  'flag',
  'policyDenied',
  'logout',
  'loginFailed',
  'lockout',
  'config',
  'breaker',
  'stop',
];

async function found(dir: string, filters: Parameters<typeof searchAudit>[1]) {
  const records: AuditRecord[] = [];
  for await (const record of searchAudit(dir, filters)) records.push(record);
  return records;
}

/**
 * The app of these tests with an audit trail in `dir`, after traffic that
 * makes every kind of event but the stop: each test runs its own.
 */
async function runTraffic(t: Test) {
  const dir = t.testdir();
  const stack = await startStack(t, {
    sim: { users: { billing: BILLING_PW } },
    config: {
      monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
      audit: { dir, flushIntervalMs: 10 },
      // Two failed logins of one user lock it; one timed-out command opens the circuit.
      policy: { lockout: { userMaxAttempts: 2 } },
      cache: { enabled: false },
      flow: {
        commandIdleTimeoutMs: 200,
        rateLimit: { enabled: false },
        breaker: { threshold: 1, volumeThreshold: 1, resetTimeoutMs: 60_000 },
      },
    },
  });
  const admin = adminClient(stack.app.adminPort as number, TOKEN);

  const api = await stack.client();
  await api.write('/ip/hotspot/user/add', ['=name=voucher-1', `=password=${VOUCHER_PW}`]);
  await api.write('/ip/hotspot/user/print', ['?name=voucher-1']);
  await api.write('/ip/hotspot/user/add', [
    '=name=voucher-2',
    '=comment=<script>alert(1)</script>',
  ]);
  const billing = await connectApi(stack.port, { user: 'billing', password: BILLING_PW });
  await t.rejects(billing.write('/system/reboot'), { message: /billing-deny-reboot/ });
  await billing.close();
  for (let i = 0; i < 2; i++)
    await t.rejects(connectApi(stack.port, { user: 'billing', password: WRONG_PW }));
  const put = await admin.request('config/log', { method: 'PUT', body: { level: 'debug' } });
  t.equal(put.status, 200);
  stack.sim.faults.stopAnswering = true;
  const raw = await loggedIn(t, stack);
  t.match(text(await raw.call(['/ip/address/print', '.tag=late'])), [
    /did not answer in time/,
    '!done .tag=late',
  ]);
  await eventually(() => stack.router.flow.breakerState === 'open', 'the circuit to open');
  return { dir, stack, admin, raw };
}

t.test('the running app writes every kind of audit event', async (t) => {
  const { dir, admin } = await runTraffic(t);
  const records = await eventually(() => found(dir, {}), {
    until: (all) => ALL_KINDS.slice(0, -1).every((kind) => all.some((r) => r.kind === kind)),
    what: 'every kind but stop on disk',
    intervalMs: 20,
    attempts: 250,
  });

  t.test('each kind is found by searchAudit', async (t) => {
    const one = (kind: string) => records.find((r) => r.kind === kind) as AuditRecord;
    t.match(one('start'), { category: 'system', result: 'success', details: { pid: Number } });
    t.match(one('login'), { userId: 'admin', ipAddress: '127.0.0.1', category: 'authentication' });
    const [add] = await found(dir, { kind: 'command', path: '/ip/hotspot/user' });
    t.match(add, {
      action: '/ip/hotspot/user/add',
      level: 'request',
      result: 'success',
      userId: 'admin',
      router: 'default',
      // The router's `!done =ret=*N`: the new row's .id, for later set/remove records.
      details: { attributes: { name: 'voucher-1', password: '***' }, ret: /^\*[0-9A-F]+$/ },
    });
    t.match(one('flag'), {
      action: '/ip/hotspot/user/add',
      category: 'security',
      verdict: 'flag',
      details: { flags: Array },
    });
    t.match(one('policyDenied'), {
      userId: 'billing',
      action: '/system/reboot',
      rule: 'billing-deny-reboot',
      result: 'denied',
    });
    t.match(one('logout'), { userId: 'billing', details: { commands: 1 } });
    t.equal(records.filter((r) => r.kind === 'loginFailed').length, 2);
    t.match(one('loginFailed'), { userId: 'billing', result: 'failure' });
    t.match(one('lockout'), { userId: 'billing', category: 'security', result: 'denied' });
    t.match(one('config'), { category: 'configuration', details: { keys: ['log'] } });
    t.match(one('breaker'), { router: 'default', details: { from: 'closed', to: 'open' } });
    // The denied reboot (path /system, verb reboot), by the command as written and by verb.
    t.match(await found(dir, { path: '/system/reboot' }), [{ kind: 'policyDenied' }]);
    t.match(await found(dir, { verb: 'reboot' }), [{ kind: 'policyDenied' }]);
    const [late] = await found(dir, { result: 'error', path: '/ip/address' });
    t.match(late, { details: { code: 'ROSGATE_COMMAND_TIMEOUT' } });
  });

  t.test('each kind is found through the admin port', async (t) => {
    for (const kind of ALL_KINDS.slice(0, -1)) {
      const answer = await admin.request(`audit-logs?kind=${kind}&limit=1`);
      t.match(answer.json(), { count: 1, records: [{ kind }] }, `${kind} through audit-logs`);
    }
    for (const query of ['path=/system/reboot', 'verb=reboot']) {
      const answer = await admin.request(`audit-logs?${query}`);
      t.match(
        answer.json(),
        { count: 1, records: [{ kind: 'policyDenied', path: '/system', verb: 'reboot' }] },
        `the denied reboot through audit-logs?${query}`,
      );
    }
    const report = await admin.request('audit-report', { body: { groupBy: 'category' } });
    const rows = report.json<{ rows: { key: string; total: number }[] }>().rows;
    t.same(
      ['authentication', 'configuration', 'hotspot', 'security', 'system'].filter(
        (key) => !rows.some((r) => r.key === key),
      ),
      [],
      'the report groups every category the traffic touched',
    );
    const head = (await admin.request('audit/head')).json<{ seq: number; hash: string }>();
    const last = readRecords(dir).at(-1) as AuditRecord & { hash: string };
    t.ok(head.seq <= last.seq, 'the head is a record on disk');
    const atHead = readRecords(dir).find((r) => r.seq === head.seq) as AuditRecord & {
      hash: string;
    };
    t.equal(atHead.hash, head.hash, 'with its hash');
  });
});

t.test('a stopped app leaves a complete trail, and no secret', async (t) => {
  const { dir, stack, raw } = await runTraffic(t);
  await raw.close();
  await stack.app.stop(0);

  t.test('the stop is the last record, and the chain verifies', async (t) => {
    const records = readRecords(dir);
    t.equal(records.at(-1)?.kind, 'stop');
    t.same(
      records.map((r) => r.seq),
      records.map((_, i) => i + 1),
      'nothing was lost on the way out',
    );
    const result = await verifyFiles(auditFiles(dir));
    t.same([result.ok, result.records, result.problems], [true, records.length, []]);
  });

  t.test('no secret is in the audit files or the log', async (t) => {
    const files = allText(dir);
    const logs = stack.logText();
    for (const secret of [VOUCHER_PW, BILLING_PW, WRONG_PW]) {
      t.notOk(files.includes(secret), `${secret} is not in the audit files`);
      t.notOk(logs.includes(secret), `${secret} is not in the log`);
    }
    t.notMatch(files, /"password":"(?!\*\*\*")/, 'every password value is ***');
  });

  t.test('rosgate audit verify, search and report read the trail', async (t) => {
    const verify = cliIo();
    t.equal(await runCli(['audit', 'verify', ...auditFiles(dir)], verify), 0);
    t.match(verify.out(), /^intact: \d+ records, head \d+:[0-9a-f]{64}$/m);

    const search = cliIo();
    t.equal(
      await runCli(
        [
          'audit',
          'search',
          '--dir',
          dir,
          '--user',
          'billing',
          '--result',
          'denied',
          '--format',
          'json',
        ],
        search,
      ),
      0,
    );
    const lines = search
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    t.match(lines, [{ kind: 'policyDenied', action: '/system/reboot' }]);

    for (const filter of [
      ['--path', '/system/reboot'],
      ['--verb', 'reboot'],
    ]) {
      const byCommand = cliIo();
      t.equal(
        await runCli(['audit', 'search', '--dir', dir, ...filter, '--format', 'json'], byCommand),
        0,
      );
      t.match(
        byCommand
          .out()
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as AuditRecord),
        [{ kind: 'policyDenied', path: '/system', verb: 'reboot' }],
        `audit search ${filter.join(' ')} finds the denied reboot`,
      );
    }

    const report = cliIo();
    t.equal(
      await runCli(
        ['audit', 'report', '--dir', dir, '--group-by', 'user', '--format', 'json'],
        report,
      ),
      0,
    );
    t.match(JSON.parse(report.out()), {
      groupBy: 'user',
      rows: [{ key: String }],
    });
    t.ok(
      (JSON.parse(report.out()) as { rows: { key: string }[] }).rows.some(
        (r) => r.key === 'billing',
      ),
    );

    const table = cliIo();
    t.equal(await runCli(['audit', 'report', '--dir', dir, '--group-by', 'result'], table), 0);
    t.match(table.out(), /denied/);
  });
});

t.test('records below and at full reach one chain through the writer thread', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(t, {
    config: {
      audit: {
        dir,
        flushIntervalMs: 10,
        redact: ['comment'],
        levels: [{ path: '/ip/hotspot/user', verb: 'print', level: 'full' }],
      },
      cache: { enabled: false },
    },
  });
  const api = await stack.client();
  await api.write('/ip/hotspot/user/add', [
    '=name=full-1',
    '=comment=card 4111',
    `=password=${VOUCHER_PW}`,
  ]);
  await api.write('/ip/hotspot/user/print', ['?name=full-1']);
  await api.write('/system/identity/print');
  await api.close();
  await stack.app.stop(0);
  const records = readRecords(dir).filter((r) => r.kind === 'command');
  t.match(records, [
    {
      action: '/ip/hotspot/user/add',
      level: 'request',
      details: { attributes: { name: 'full-1', comment: '***', password: '***' } },
    },
    {
      action: '/ip/hotspot/user/print',
      level: 'full',
      rows: 1,
      details: { queries: ['?name=full-1'], reply: [{ name: 'full-1', comment: '***' }] },
    },
    { action: '/system/identity/print', level: 'metadata', details: undefined },
  ]);
  t.notOk(allText(dir).includes('4111'), 'the redacted value is nowhere');
  t.match(await verifyFiles(auditFiles(dir)), { ok: true, problems: [] });
});

t.test(
  'command records made on the writer thread name the replica, on faults and after a reload',
  async (t) => {
    const dir = t.testdir();
    const stack = await startStack(t, {
      config: { audit: { dir, flushIntervalMs: 10 }, shared: { replicaId: 'pod-3' } },
    });
    const client = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
    t.match(text(await client.call(['/system/identity/print'])), ['!re =name=MikroTik', '!done']);
    // The router drops the add while it runs: the client hears of it, the record keeps why.
    stack.sim.faults.latencyMs = 1_000;
    client.send(['/ip/hotspot/user/add', '=name=pod-v1', `=password=${VOUCHER_PW}`]);
    await eventually(() => (stack.sim.counters.commands['/ip/hotspot/user/add'] ?? 0) > 0);
    stack.sim.faults.dropAll();
    t.match(text(await client.untilDone())[0], /^!trap /);
    stack.sim.faults.latencyMs = 0;
    t.match(await stack.app.reconfigure('cache', { enabled: false }), { ok: true });
    t.match(text(await client.call(['/ip/hotspot/user/print', '?name=nobody'])).at(-1), '!done');
    client.close();
    await stack.app.stop(0);
    const commands = readRecords(dir).filter((r) => r.kind === 'command');
    t.match(commands, [
      { action: '/system/identity/print', replica: 'pod-3', result: 'success' },
      {
        action: '/ip/hotspot/user/add',
        replica: 'pod-3',
        result: 'error',
        details: { code: /^ROSGATE_/, attributes: { name: 'pod-v1', password: '***' } },
      },
      { action: '/ip/hotspot/user/print', replica: 'pod-3', cache: undefined },
    ]);
    t.notOk(allText(dir).includes(VOUCHER_PW), 'the password is nowhere');
    t.match(await verifyFiles(auditFiles(dir)), { ok: true, problems: [] });
  },
);
