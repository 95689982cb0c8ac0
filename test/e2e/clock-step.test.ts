/**
 * The wired app with the wall clock stepped an hour back in the middle of a
 * command: the audit record keeps the command's real duration (measured on
 * the monotonic clock) and is stamped with the wall clock as it now reads.
 */
import t from 'tap';
import type { AuditRecord } from '../../src/audit/index.js';
import { readRecords } from '../fixtures/audit-helpers.js';
import { eventually } from '../fixtures/eventually.js';
import { text } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

const HOUR_MS = 3_600_000;

t.test('a command across a wall-clock step back is audited with its real duration', async (t) => {
  // Installed before the app is built, which keeps Date.now itself as its wall clock.
  const wall = Date.now;
  let behind = 0;
  Date.now = (): number => wall() - behind;
  t.teardown(() => {
    Date.now = wall;
  });
  const dir = t.testdir();
  const stack = await startStack(t, {
    sim: { latencyMs: 150 },
    config: { audit: { dir, flushIntervalMs: 10 }, cache: { enabled: false } },
  });
  const client = await loggedIn(t, stack);
  const reply = client.call(['/system/identity/print', '.tag=across']);
  await new Promise((resolve) => setTimeout(resolve, 50));
  behind = HOUR_MS;
  t.same(text(await reply), ['!re .tag=across =name=MikroTik', '!done .tag=across']);
  const record = await eventually(
    () => readRecords(dir).find((r: AuditRecord) => r.tag === 'across'),
    { until: (r) => r !== undefined, what: 'the command on record' },
  );
  t.ok(record?.duration !== undefined && record.duration >= 0, 'not negative');
  t.ok((record?.duration ?? HOUR_MS) < HOUR_MS, 'not an hour off');
  t.ok(
    Date.parse(record?.timestamp ?? '') < wall() - HOUR_MS / 2,
    'stamped with the wall clock, an hour back',
  );
});
