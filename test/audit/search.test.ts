import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditEvent, AuditRecord } from '../../src/audit/audit-record.js';
import { FileAuditWriter } from '../../src/audit/audit-writer.js';
import { reportAudit } from '../../src/audit/report-audit.js';
import { searchAudit, type AuditFilters } from '../../src/audit/search-audit.js';
import { captureLogger, sampleEvent } from '../fixtures/audit-helpers.js';

const DAY1 = Date.parse('2024-05-01T10:00:00.000Z');
const DAY2 = Date.parse('2024-05-02T10:00:00.000Z');
const DAY3 = Date.parse('2024-05-03T10:00:00.000Z');
const KEY = Buffer.alloc(32, 9);

/**
 * Eight records over three days: billing on `default` mostly, a denial, a
 * login, a failure, and one whose details look like another user's.
 */
async function fixture(t: { testdir(): string }, encryptionKey?: Buffer): Promise<string> {
  const dir = t.testdir();
  const writer = new FileAuditWriter({
    dir,
    bufferSize: 100,
    flushIntervalMs: 60_000,
    maxQueued: 1000,
    maxFileBytes: 1 << 20,
    retentionDays: 0,
    encryptionKey,
    logger: captureLogger().logger,
    now: () => DAY1,
  });
  const events: AuditEvent[] = [
    sampleEvent(1, DAY1),
    { ...sampleEvent(2, DAY1 + 1000), router: 'r2' },
    { ...sampleEvent(3, DAY1 + 2000), result: 'failure' },
    {
      ...sampleEvent(4, DAY2),
      kind: 'policyDenied',
      category: 'security',
      action: '/system/reboot',
      path: '/system',
      verb: 'reboot',
      result: 'denied',
      userId: 'mallory',
      ipAddress: '198.51.100.7',
    },
    {
      ...sampleEvent(5, DAY2 + 1000),
      kind: 'login',
      category: 'authentication',
      action: 'login',
      path: undefined,
      verb: undefined,
      details: { method: 'plain' },
    },
    { ...sampleEvent(6, DAY3), action: '/ip/hotspot/active/print', path: '/ip/hotspot/active' },
    { ...sampleEvent(7, DAY3 + 1000), userId: 'ops', router: undefined },
  ];
  events.push({ ...sampleEvent(8, DAY3 + 2000), details: { userId: 'mallory', router: 'r2' } });
  for (const event of events) writer.write(event);
  await writer.close();
  return dir;
}

async function ids(dir: string, filters?: AuditFilters): Promise<string[]> {
  const out: string[] = [];
  for await (const record of searchAudit(dir, filters)) out.push(record.id.slice(-1));
  return out;
}

t.test('search streams every record in written order without filters', async (t) => {
  const dir = await fixture(t);
  t.same(await ids(dir), ['1', '2', '3', '4', '5', '6', '7', '8']);
});

t.test('search filters by user, category, result, router, ip, kind and path glob', async (t) => {
  const dir = await fixture(t);
  t.same(await ids(dir, { user: 'mallory' }), ['4']);
  t.same(await ids(dir, { category: 'authentication' }), ['5']);
  t.same(await ids(dir, { result: 'failure' }), ['3']);
  t.same(await ids(dir, { router: 'r2' }), ['2']);
  t.same(await ids(dir, { ip: '198.51.100.7' }), ['4']);
  t.same(await ids(dir, { kind: 'login' }), ['5']);
  t.same(await ids(dir, { path: '/ip/hotspot/**' }), ['1', '2', '3', '6', '7', '8']);
  t.same(await ids(dir, { path: '/ip/hotspot/active' }), ['6']);
  t.same(await ids(dir, { user: 'billing', result: 'success', router: 'default' }), [
    '1',
    '5',
    '6',
    '8',
  ]);
  t.same(await ids(dir, { user: 'nobody' }), []);
});

t.test('search finds a command as the client wrote it, and by verb', async (t) => {
  const dir = await fixture(t);
  // The denied reboot is path /system, verb reboot: found by the command.
  t.same(await ids(dir, { path: '/system/reboot' }), ['4']);
  t.same(await ids(dir, { path: '/system' }), ['4'], 'and by its menu path, as before');
  t.same(await ids(dir, { path: '/system/**' }), ['4']);
  t.same(await ids(dir, { path: '/ip/hotspot/user/add' }), ['1', '2', '3', '7', '8']);
  t.same(await ids(dir, { path: '/ip/hotspot/active/add' }), ['6']);
  t.same(await ids(dir, { verb: 'reboot' }), ['4']);
  t.same(await ids(dir, { verb: 'add', user: 'ops' }), ['7']);
  t.same(await ids(dir, { path: '/system/reboot', verb: 'add' }), []);
  t.same(await ids(dir, { path: '/login' }), [], 'a login has no command');

  // A command at the root menu (`/quit`: path `/`, verb `quit`).
  const root = join(t.testdir(), 'root');
  const writer = new FileAuditWriter({
    dir: root,
    bufferSize: 100,
    flushIntervalMs: 60_000,
    maxQueued: 1000,
    maxFileBytes: 1 << 20,
    retentionDays: 0,
    logger: captureLogger().logger,
    now: () => DAY1,
  });
  writer.write({ ...sampleEvent(9, DAY1), action: '/quit', path: '/', verb: 'quit' });
  await writer.close();
  t.same(await ids(root, { path: '/quit' }), ['9']);
  t.same(await ids(root, { path: '/' }), ['9']);
});

t.test('search keeps the time range, and opens no file dated outside it', async (t) => {
  const dir = await fixture(t);
  mkdirSync(join(dir, 'audit-2024-04-30.jsonl'));
  mkdirSync(join(dir, 'audit-2024-05-04.jsonl'));
  t.same(await ids(dir, { from: DAY1 + 1000, to: DAY2 }), ['2', '3', '4']);
  t.same(await ids(dir, { from: DAY3, to: DAY3 + 5000 }), ['6', '7', '8']);
  t.same(await ids(dir, { from: DAY1, to: DAY1 }), ['1']);
});

t.test('search skips lines that are not records', async (t) => {
  const dir = await fixture(t);
  appendFileSync(join(dir, 'audit-2024-05-03.jsonl'), '{"seq":8,"prev":"00","userId":"ops"\n');
  t.same(await ids(dir, { user: 'ops' }), ['7']);
});

t.test('search decrypts details with the encryption key only', async (t) => {
  const dir = await fixture(t, KEY);
  const first = async (filters: AuditFilters): Promise<AuditRecord | undefined> => {
    for await (const record of searchAudit(dir, filters)) return record;
    return undefined;
  };
  t.same((await first({ key: KEY }))?.details, {
    attributes: { name: 'voucher-1', profile: '1day' },
  });
  t.match((await first({}))?.details, { enc: 'aes-256-gcm' });
  t.match((await first({ key: Buffer.alloc(32, 1) }))?.details, { enc: 'aes-256-gcm' });
});

t.test('a report counts records per group and result, largest group first', async (t) => {
  const dir = await fixture(t);
  t.same(await reportAudit(dir, { groupBy: 'user' }), {
    groupBy: 'user',
    total: 8,
    rows: [
      { key: 'billing', total: 6, results: { success: 5, failure: 1 } },
      { key: 'mallory', total: 1, results: { denied: 1 } },
      { key: 'ops', total: 1, results: { success: 1 } },
    ],
  });
  const byPath = await reportAudit(dir, { groupBy: 'path', from: DAY2, to: DAY2 + 5000 });
  t.same(byPath.rows, [
    { key: '-', total: 1, results: { success: 1 } },
    { key: '/system', total: 1, results: { denied: 1 } },
  ]);
  t.same(
    (await reportAudit(dir, { groupBy: 'router' })).rows.map((r) => [r.key, r.total]),
    [
      ['default', 6],
      ['-', 1],
      ['r2', 1],
    ],
  );
});
