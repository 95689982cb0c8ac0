import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isoTimestamp } from '../../src/audit/audit-files.js';
import { categoryOf } from '../../src/audit/audit-record.js';
import type { FileAuditWriterOptions } from '../../src/audit/audit-writer.js';
import { FileAppender } from '../../src/audit/file-appender.js';
import { eventually } from '../fixtures/eventually.js';
import { auditFiles, fileWriterIn, readRecords, sampleEvent } from '../fixtures/audit-helpers.js';

/** A real appender that counts what reached the disk: appends synced at once, and syncs. */
class CountingAppender extends FileAppender {
  syncedAppends = 0;
  unsyncedAppends = 0;
  syncs = 0;
  failSyncs = 0;
  override append(path: string, data: Buffer, sync = true): Promise<void> {
    if (sync) this.syncedAppends++;
    else this.unsyncedAppends++;
    return super.append(path, data, sync);
  }
  override sync(): Promise<void> {
    this.syncs++;
    if (this.failSyncs > 0) {
      this.failSyncs--;
      return Promise.reject(new Error('I/O error'));
    }
    return super.sync();
  }
}

function writerIn(
  t: { teardown(fn: () => unknown): void },
  dir: string,
  options: Partial<FileAuditWriterOptions> = {},
) {
  const appender = new CountingAppender();
  return { ...fileWriterIn(t, dir, { bufferSize: 2, appender, ...options }), appender };
}

t.test('without a sync interval every flush is synced before it resolves', async (t) => {
  const { writer, appender } = writerIn(t, t.testdir());
  for (let n = 1; n <= 6; n += 2) {
    writer.write(sampleEvent(n));
    writer.write(sampleEvent(n + 1));
    await writer.flush();
  }
  t.equal(appender.syncedAppends, 3);
  t.equal(appender.unsyncedAppends, 0);
});

t.test(
  'with a sync interval the first flush syncs, later ones are written at once and synced by a timer',
  async (t) => {
    const dir = t.testdir();
    const { writer, appender } = writerIn(t, dir, { syncIntervalMs: 20 });
    writer.write(sampleEvent(1));
    writer.write(sampleEvent(2));
    await writer.flush();
    t.equal(appender.syncedAppends, 1, 'the last sync is long ago: this flush syncs');
    writer.write(sampleEvent(3));
    writer.write(sampleEvent(4));
    await writer.flush();
    writer.write(sampleEvent(5));
    writer.write(sampleEvent(6));
    await writer.flush();
    t.equal(appender.unsyncedAppends, 2, 'the clock has not moved: written, not synced');
    t.same(
      readRecords(dir).map((r) => r.seq),
      [1, 2, 3, 4, 5, 6],
      'written records are in the file before any sync',
    );
    // One timer for both unsynced flushes.
    await eventually(() => appender.syncs === 2);
    t.equal(appender.syncs, 2, 'the first flush synced once; the timer once for the next two');
  },
);

t.test('a flush once the interval has passed syncs again at once', async (t) => {
  const { writer, appender, clock } = writerIn(t, t.testdir(), { syncIntervalMs: 60_000 });
  writer.write(sampleEvent(1));
  writer.write(sampleEvent(2));
  await writer.flush();
  clock.advance(60_000);
  writer.write(sampleEvent(3));
  writer.write(sampleEvent(4));
  await writer.flush();
  t.equal(appender.syncedAppends, 2);
  t.equal(appender.unsyncedAppends, 0);
});

t.test('close syncs what a flush left unsynced, and no timer runs after it', async (t) => {
  const dir = t.testdir();
  const { writer, appender } = writerIn(t, dir, { syncIntervalMs: 60_000 });
  writer.write(sampleEvent(1));
  writer.write(sampleEvent(2));
  await writer.flush();
  writer.write(sampleEvent(3));
  writer.write(sampleEvent(4));
  await writer.flush();
  const syncsBefore = appender.syncs;
  await writer.close();
  t.equal(appender.syncs, syncsBefore, 'the timer was cancelled');
  t.same(
    readRecords(dir).map((r) => r.seq),
    [1, 2, 3, 4],
  );
  t.equal(auditFiles(dir).length, 1);
});

t.test('a failed timed sync is counted and logged, and the writer goes on', async (t) => {
  const dir = t.testdir();
  const { writer, appender, log } = writerIn(t, dir, { syncIntervalMs: 10 });
  appender.failSyncs = 0;
  writer.write(sampleEvent(1));
  writer.write(sampleEvent(2));
  await writer.flush();
  appender.failSyncs = 1;
  writer.write(sampleEvent(3));
  writer.write(sampleEvent(4));
  await writer.flush();
  await eventually(() => writer.stats().errors === 1);
  t.match(log.text(), /audit write failed/);
  writer.write(sampleEvent(5));
  writer.write(sampleEvent(6));
  await writer.flush();
  t.same(
    readRecords(dir).map((r) => r.seq),
    [1, 2, 3, 4, 5, 6],
  );
});

t.test('the file appender syncs only what it appended unsynced', async (t) => {
  const dir = t.testdir();
  const appender = new CountingAppender();
  await appender.sync();
  t.equal(appender.syncs, 1, 'nothing held: nothing to do');
  await appender.append(join(dir, 'a.jsonl'), Buffer.from('a\n'), false);
  await appender.append(join(dir, 'b.jsonl'), Buffer.from('b\n'), false);
  await appender.sync();
  await appender.sync();
  await appender.close();
  t.equal(readFileSync(join(dir, 'a.jsonl'), 'utf8'), 'a\n');
  t.equal(readFileSync(join(dir, 'b.jsonl'), 'utf8'), 'b\n');
});

t.test('isoTimestamp writes what toISOString writes', async (t) => {
  const samples = [
    0, -1, -1001, 999, 1000, 1_700_000_000_123.7, 253_402_300_799_999, 253_402_300_800_000,
  ];
  let ms = Date.parse('2024-05-01T10:00:00.000Z');
  for (let i = 0; i < 2000; i++) {
    ms += (i * 7919) % 1733;
    samples.push(ms);
  }
  for (const sample of samples) {
    const expected = new Date(Math.floor(sample)).toISOString();
    if (isoTimestamp(sample) !== expected)
      t.fail(`${sample}: ${isoTimestamp(sample)} != ${expected}`);
  }
  t.equal(isoTimestamp(-62_198_755_200_001), new Date(-62_198_755_200_001).toISOString());
  t.equal(isoTimestamp(1000), '1970-01-01T00:00:01.000Z');
  t.equal(isoTimestamp(1007), '1970-01-01T00:00:01.007Z');
  t.equal(isoTimestamp(1070), '1970-01-01T00:00:01.070Z');
});

t.test(
  'categoryOf answers the same for a path asked again, and past the paths it keeps',
  async (t) => {
    t.equal(categoryOf('/ip/hotspot/user'), 'hotspot');
    t.equal(categoryOf('/ip/hotspot/user'), 'hotspot');
    t.equal(categoryOf('/ip/route'), 'network');
    for (let i = 0; i < 1100; i++) categoryOf(`/made/up/${i}`);
    t.equal(categoryOf('/made/up/1099'), 'other');
    t.equal(categoryOf('/system/script/x'), 'configuration');
    t.equal(categoryOf('/system/scriptx'), 'system');
  },
);
