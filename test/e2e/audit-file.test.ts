import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditRecord } from '../../src/audit/index.js';
import { runCli } from '../../src/cli.js';
import { sampleValue } from '../fixtures/admin-prom-parse.js';
import { auditFiles, readRecords } from '../fixtures/audit-helpers.js';
import { startStack } from '../fixtures/stack.js';
import { adminClient } from '../fixtures/wire-admin.js';
import { eventually } from '../fixtures/eventually.js';
import { cliIo } from '../fixtures/wire-cli.js';

// The live audit file removed under the running app (a careless `rm`): the
// app notices at its next flush, logs, counts, goes on in a new file that
// continues the chain, and records the event in the trail itself.

const TOKEN = 'e2e-audit-file-token-0123456789';

t.test(
  'a live audit file removed mid-run is noticed, recorded, counted, and the chain verifies',
  async (t) => {
    const dir = t.testdir();
    const stack = await startStack(t, {
      config: {
        monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
        audit: { dir, bufferSize: 1, flushIntervalMs: 3_600_000 },
        cache: { enabled: false },
      },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    const api = await stack.client();
    for (let i = 0; i < 5; i++) await api.write('/ip/address/print');
    const before = await eventually(async () => readRecords(dir), {
      until: (records) => records.filter((r) => r.kind === 'command').length === 5,
      what: 'five commands on disk',
      intervalMs: 20,
      attempts: 250,
    });
    const [live] = readdirSync(dir).filter((name) => name.endsWith('.jsonl'));
    unlinkSync(join(dir, live as string));

    for (let i = 0; i < 20; i++) await api.write('/ip/address/print');
    const after = await eventually(async () => readRecords(dir), {
      until: (records) => records.filter((r) => r.kind === 'command').length === 25,
      what: 'all 25 commands in the directory',
      intervalMs: 20,
      attempts: 250,
    });
    t.same(
      after.slice(0, before.length).map((r) => r.id),
      before.map((r) => r.id),
      'the removed records are back in the directory',
    );
    const event = after.find((r) => r.kind === 'auditFile') as AuditRecord;
    t.match(event, {
      action: 'auditFileRemoved',
      result: 'error',
      details: { file: live, reason: 'removed', next: /^audit-\d{4}-\d{2}-\d{2}\.1\.jsonl$/ },
    });
    t.equal(readdirSync(dir).includes(live as string), false, 'the removed name stays free');
    t.match(
      stack.logs.filter((l) => l['code'] === 'ROSGATE_AUDIT_FILE_REPLACED'),
      [{ level: 50, file: live, reason: 'removed' }],
      'one error in the log',
    );
    const metrics = await admin.metrics();
    t.equal(sampleValue(metrics, 'rosgate_audit_file_replaced_total'), 1, 'counted');
    t.match(
      stack.app.metrics.events().filter((e) => e.kind === 'audit'),
      [{ message: new RegExp(`audit file ${live} removed on disk; the chain continues in `) }],
      'and shown on the dashboard',
    );

    await api.close();
    await stack.app.stop(0);
    const io = cliIo();
    t.equal(await runCli(['audit', 'verify', ...auditFiles(dir)], io), 0, io.out());
    t.match(io.out(), /^intact: \d+ records/m);
  },
);
