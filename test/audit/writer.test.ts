import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { ZERO_HASH } from '../../src/audit/chain-line.js';
import { prepareRecord } from '../../src/audit/audit-writer.js';
import { FileAppender } from '../../src/audit/file-appender.js';
import { LogAuditWriter } from '../../src/audit/log-audit-writer.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { eventually } from '../fixtures/eventually.js';
import {
  SlowAppender,
  fileWriterIn,
  allText,
  auditFiles,
  captureLogger,
  readRecords,
  sampleEvent,
} from '../fixtures/audit-helpers.js';

const DAY_MS = 86_400_000;

const writerIn = fileWriterIn;

t.test(
  'records wait in the buffer until it is full, then reach the day file chained from zeros',
  async (t) => {
    const dir = t.testdir();
    const { writer } = writerIn(t, dir, { bufferSize: 3 });
    writer.write(sampleEvent(1));
    writer.write(sampleEvent(2));
    // The flush interval is Node's own timer (the writer takes none): a short
    // real wait shows that nothing but a full buffer starts a write.
    await new Promise((resolve) => setTimeout(resolve, 5));
    t.equal(writer.stats().written, 0);
    t.equal(writer.stats().queued, 2);
    t.equal(writer.head(), undefined);
    writer.write(sampleEvent(3));
    await eventually(() => writer.stats().written === 3);
    const records = readRecords(dir);
    t.same(
      records.map((r) => r.seq),
      [1, 2, 3],
    );
    t.equal(records[0]?.prev, ZERO_HASH);
    t.equal(records[1]?.prev, records[0]?.hash);
    t.equal(records[2]?.prev, records[1]?.hash);
    t.same(auditFiles(dir), [join(dir, 'audit-2024-05-01.jsonl')]);
    const head = { seq: 3, hash: records[2]?.hash, file: 'audit-2024-05-01.jsonl' };
    t.same(writer.head(), head);
    t.same(JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')), head);
    t.match(writer.stats(), { written: 3, dropped: 0, flushes: 1, errors: 0, queued: 0 });
    t.equal(writer.stats().bytes, readFileSync(join(dir, 'audit-2024-05-01.jsonl')).length);
  },
);

t.test('a partial buffer is flushed by the interval timer', async (t) => {
  const dir = t.testdir();
  const { writer } = writerIn(t, dir, { flushIntervalMs: 10 });
  writer.write(sampleEvent(1));
  await eventually(() => writer.stats().written === 1);
});

t.test('close() writes every queued record; records after it are dropped', async (t) => {
  const dir = t.testdir();
  const { writer } = writerIn(t, dir);
  for (let i = 1; i <= 250; i++) writer.write(sampleEvent(i));
  await writer.close();
  t.equal(readRecords(dir).length, 250);
  t.equal((await verifyFiles(auditFiles(dir))).ok, true);
  writer.write(sampleEvent(251));
  t.equal(writer.stats().dropped, 1);
  await writer.close();
  t.equal(readRecords(dir).length, 250);
});

t.test(
  'flush() while a flush is waiting shares it, and an empty flush writes nothing',
  async (t) => {
    const dir = t.testdir();
    const { writer } = writerIn(t, dir);
    await writer.flush();
    t.equal(existsSync(join(dir, 'audit-2024-05-01.jsonl')), false);
    writer.write(sampleEvent(1));
    const first = writer.flush();
    t.equal(writer.flush(), first);
    await first;
    t.equal(writer.stats().flushes, 1);
  },
);

t.test(
  'a slow disk never holds write() up: past maxQueued records are dropped, counted and warned about once per interval',
  async (t) => {
    const dir = t.testdir();
    const appender = new SlowAppender();
    const { writer, clock, log } = writerIn(t, dir, {
      bufferSize: 2,
      maxQueued: 5,
      flushIntervalMs: 1000,
      appender,
    });
    writer.write(sampleEvent(1));
    writer.write(sampleEvent(2));
    await eventually(() => appender.appends === 1, 'the first batch is stuck on the disk');
    for (let i = 3; i <= 10; i++) writer.write(sampleEvent(i));
    t.match(writer.stats(), { queued: 5, dropped: 3, written: 0 });
    const warnings = () => log.lines().filter((l) => l['code'] === 'ROSGATE_AUDIT_DROPPED');
    t.equal(warnings().length, 1, 'one warning for the burst');
    writer.write(sampleEvent(11));
    t.equal(warnings().length, 1);
    clock.advance(1000);
    writer.write(sampleEvent(12));
    t.equal(warnings().length, 2, 'another once the interval has passed');
    t.equal(writer.stats().dropped, 5);
    appender.release();
    await writer.close();
    t.equal(writer.stats().written, 7);
    t.same(
      readRecords(dir).map((r) => r.id.slice(-2)),
      ['01', '02', '03', '04', '05', '06', '07'],
    );
    t.equal((await verifyFiles(auditFiles(dir))).ok, true);
  },
);

t.test(
  'a file past maxFileBytes continues in the next index, linked to the one before',
  async (t) => {
    const dir = t.testdir();
    const { writer } = writerIn(t, dir, { maxFileBytes: 2048 });
    for (let i = 1; i <= 12; i++) writer.write(sampleEvent(i));
    await writer.close();
    const files = auditFiles(dir);
    t.ok(files.length >= 3);
    t.equal(files[1], join(dir, 'audit-2024-05-01.1.jsonl'));
    for (const file of files)
      t.ok(readFileSync(file).length <= 2048, `${basename(file)} within the limit`);
    const records = readRecords(dir);
    t.same(
      records.map((r) => r.seq),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    const result = await verifyFiles([...files].reverse());
    t.same(result, {
      ok: true,
      records: 12,
      problems: [],
      problemCount: 0,
      last: { seq: 12, hash: records[11]?.hash },
    });
  },
);

t.test('a new day starts a new file that links to the last record of the day before', async (t) => {
  const dir = t.testdir();
  const { writer } = writerIn(t, dir, { bufferSize: 10 });
  const day = Date.parse('2024-05-01T23:59:59.000Z');
  writer.write(sampleEvent(1, day));
  writer.write(sampleEvent(2, day + 2000));
  writer.write(sampleEvent(3, day - 5000));
  await writer.close();
  t.same(auditFiles(dir), [
    join(dir, 'audit-2024-05-01.jsonl'),
    join(dir, 'audit-2024-05-02.jsonl'),
  ]);
  const second = readFileSync(join(dir, 'audit-2024-05-02.jsonl'), 'utf8').trim().split('\n');
  t.equal(second.length, 2, 'a late timestamp never goes back to an older file');
  const records = readRecords(dir);
  t.equal(records[1]?.prev, records[0]?.hash);
  t.equal((await verifyFiles(auditFiles(dir))).ok, true);
});

t.test(
  'retention deletes files dated before the window, at start and at each new day',
  async (t) => {
    const dir = t.testdir({
      'audit-2024-03-01.jsonl': '',
      'audit-2024-03-01.1.jsonl': '',
      'audit-2024-04-15.jsonl': '',
      'notes.txt': 'kept',
    });
    const { writer, clock } = writerIn(t, dir, { retentionDays: 30 });
    writer.write(sampleEvent(1));
    await writer.flush();
    t.same(
      auditFiles(dir).map((f) => f.slice(dir.length + 1)),
      ['audit-2024-04-15.jsonl', 'audit-2024-05-01.jsonl'],
    );
    t.ok(existsSync(join(dir, 'notes.txt')));
    clock.advance(20 * DAY_MS);
    writer.write(sampleEvent(2, clock.now()));
    await writer.flush();
    t.same(
      auditFiles(dir).map((f) => f.slice(dir.length + 1)),
      ['audit-2024-05-01.jsonl', 'audit-2024-05-21.jsonl'],
    );
  },
);

t.test(
  'maxTotalBytes keeps the trail within its bound by deleting the oldest whole files, and verify still passes',
  async (t) => {
    const dir = t.testdir();
    const { writer, log } = writerIn(t, dir, {
      maxFileBytes: 2048,
      maxTotalBytes: 8192,
      retentionDays: 0,
    });
    const totalBytes = (): number =>
      auditFiles(dir).reduce((sum, file) => sum + readFileSync(file).length, 0);
    for (let n = 1; n <= 120; n++) {
      writer.write(sampleEvent(n));
      if (n % 5 === 0) {
        await writer.flush();
        t.ok(totalBytes() <= 8192, `after ${n} records: ${totalBytes()} bytes`);
      }
    }
    const records = readRecords(dir);
    t.equal(records.at(-1)?.seq, 120, 'the newest record is kept');
    t.ok((records[0]?.seq ?? 0) > 1, 'the oldest records are gone');
    t.same(
      records.map((r) => r.seq),
      records.map((_, i) => (records[0]?.seq ?? 0) + i),
      'whole files went: no gap in what is left',
    );
    t.equal((await verifyFiles(auditFiles(dir))).ok, true);
    const warning = log.lines().find((l) => l['code'] === 'ROSGATE_AUDIT_PRUNED');
    t.match(warning, { level: 40, maxTotalBytes: 8192, removed: [/^audit-2024-05-01/] });
  },
);

t.test('at start, files past maxTotalBytes are deleted oldest first', async (t) => {
  const kib = 'x'.repeat(1023) + '\n';
  const dir = t.testdir({
    'audit-2024-04-28.jsonl': kib.repeat(2),
    'audit-2024-04-29.jsonl': kib.repeat(2),
    'audit-2024-04-30.jsonl': kib.repeat(2),
  });
  const { writer } = writerIn(t, dir, { maxFileBytes: 2048, maxTotalBytes: 5120 });
  writer.write(sampleEvent(1));
  await writer.flush();
  t.same(
    auditFiles(dir).map((f) => basename(f)),
    ['audit-2024-04-30.jsonl', 'audit-2024-05-01.jsonl'],
  );
});

t.test(
  'a file that goes while the size bound is kept (a shipper took it) is no error; other errors still are',
  async (t) => {
    /** A folder holding a trail of one record, then `odd` put beside it under an older audit file's name. */
    const trailWith = async (odd: (path: string) => void) => {
      const dir = t.testdir();
      const first = writerIn(t, dir).writer;
      first.write(sampleEvent(1));
      await first.close();
      odd(join(dir, 'audit-2024-04-29.jsonl'));
      return writerIn(t, dir, { maxFileBytes: 2048, maxTotalBytes: 2048 }).writer;
    };
    const gone = await trailWith((path) => symlinkSync('gone-already', path));
    gone.write(sampleEvent(2));
    await gone.flush();
    t.match(gone.stats(), { written: 1, dropped: 0, errors: 0 }, 'the batch was written');
    const loop = await trailWith((path) => symlinkSync(basename(path), path));
    loop.write(sampleEvent(2));
    await loop.flush();
    t.equal(loop.stats().errors, 1, 'a file whose size cannot be read is reported');
    const folder = await trailWith((path) => {
      mkdirSync(path);
      writeFileSync(join(path, 'inside'), 'x'.repeat(8192));
    });
    folder.write(sampleEvent(2));
    await folder.flush();
    t.equal(folder.stats().errors, 1, 'one that cannot be deleted too');
  },
);

t.test('retentionDays 0 keeps every file', async (t) => {
  const dir = t.testdir({ 'audit-2001-01-01.jsonl': '' });
  const { writer } = writerIn(t, dir, { retentionDays: 0 });
  writer.write(sampleEvent(1));
  await writer.flush();
  t.ok(existsSync(join(dir, 'audit-2001-01-01.jsonl')));
});

t.test(
  'after a crash the chain resumes from the last complete line, on a fresh line',
  async (t) => {
    const dir = t.testdir();
    const first = writerIn(t, dir).writer;
    for (let i = 1; i <= 5; i++) first.write(sampleEvent(i));
    await first.close();
    const file = join(dir, 'audit-2024-05-01.jsonl');
    const line = readFileSync(file, 'utf8').split('\n')[0] as string;
    appendFileSync(file, line.slice(0, 60));
    const second = writerIn(t, dir).writer;
    second.write(sampleEvent(6));
    second.write(sampleEvent(7));
    await second.flush();
    t.same(second.head(), {
      seq: 7,
      hash: readRecords(dir)[6]?.hash,
      file: 'audit-2024-05-01.jsonl',
    });
    const lines = readFileSync(file, 'utf8').split('\n');
    t.equal(lines[5], line.slice(0, 60), 'the torn line is left as it was');
    const result = await verifyFiles([file]);
    t.equal(result.ok, true);
    t.equal(result.records, 7);
    t.same(result.problems, [{ file, line: 6, seq: 6, kind: 'torn' }]);
  },
);

t.test('a newest file holding only a torn line resumes from the file before it', async (t) => {
  const dir = t.testdir();
  const first = writerIn(t, dir).writer;
  first.write(sampleEvent(1));
  await first.close();
  writeFileSync(join(dir, 'audit-2024-05-02.jsonl'), '{"seq":2,"prev":"00');
  const { writer } = writerIn(t, dir);
  writer.write(sampleEvent(2, Date.parse('2024-05-01T12:00:00.000Z')));
  await writer.close();
  const text = readFileSync(join(dir, 'audit-2024-05-02.jsonl'), 'utf8');
  t.match(text, /^\{"seq":2,"prev":"00\n\{"seq":2,/);
  const result = await verifyFiles(auditFiles(dir));
  t.equal(result.ok, true);
  t.same(
    result.problems.map((p) => p.kind),
    ['torn'],
  );
});

t.test('a long last record is found by reading further back', async (t) => {
  const dir = t.testdir();
  const first = writerIn(t, dir).writer;
  first.write(sampleEvent(1));
  first.write({ ...sampleEvent(2), details: { note: 'x'.repeat(200_000) } });
  await first.close();
  const { writer } = writerIn(t, dir);
  writer.write(sampleEvent(3));
  await writer.close();
  t.same(
    readRecords(dir).map((r) => r.seq),
    [1, 2, 3],
  );
  t.equal((await verifyFiles(auditFiles(dir))).ok, true);
});

t.test(
  'with an encryption key details are AES-256-GCM and the chain verifies without the key',
  async (t) => {
    const dir = t.testdir();
    const { writer } = writerIn(t, dir, { encryptionKey: Buffer.alloc(32, 7) });
    writer.write(sampleEvent(1));
    writer.write({ ...sampleEvent(2), details: undefined });
    await writer.close();
    const [record, bare] = readRecords(dir);
    t.match(record?.details, { enc: 'aes-256-gcm', iv: String, tag: String, data: String });
    t.equal(bare?.details, undefined);
    t.notMatch(allText(dir), /voucher-1/);
    t.equal((await verifyFiles(auditFiles(dir))).ok, true);
  },
);

t.test('with an integrity key the chain is an HMAC', async (t) => {
  const dir = t.testdir();
  const key = Buffer.from('an integrity key of some length');
  const { writer } = writerIn(t, dir, { integrityKey: key });
  writer.write(sampleEvent(1));
  await writer.close();
  t.equal((await verifyFiles(auditFiles(dir), { key })).ok, true);
  t.equal((await verifyFiles(auditFiles(dir))).ok, false);
});

class FlakyAppender extends FileAppender {
  failAppends = 0;
  failReplaces = 0;
  override append(path: string, data: Buffer, sync?: boolean): Promise<void> {
    if (this.failAppends > 0) {
      this.failAppends--;
      return Promise.reject(new Error('disk full'));
    }
    return super.append(path, data, sync);
  }
  override replace(path: string, data: string): Promise<void> {
    if (this.failReplaces > 0) {
      this.failReplaces--;
      return Promise.reject(new Error('disk full'));
    }
    return super.replace(path, data);
  }
}

t.test(
  'a failing disk counts an error and drops that batch; the next batch resumes from disk',
  async (t) => {
    const dir = t.testdir();
    const appender = new FlakyAppender();
    const { writer, log } = writerIn(t, dir, { appender });
    writer.write(sampleEvent(1));
    await writer.flush();
    appender.failAppends = 1;
    writer.write(sampleEvent(2));
    writer.write(sampleEvent(3));
    await writer.flush();
    t.match(writer.stats(), { written: 1, dropped: 2, errors: 1 });
    t.match(log.lines(), [
      { level: 50, code: 'ROSGATE_AUDIT_WRITE', lost: 2 },
      { level: 40, code: 'ROSGATE_AUDIT_DROPPED' },
    ]);
    appender.failReplaces = 1;
    writer.write(sampleEvent(4));
    await writer.flush();
    t.match(writer.stats(), { written: 2, dropped: 2, errors: 2 });
    t.same(
      readRecords(dir).map((r) => r.seq),
      [1, 2],
    );
    t.equal((await verifyFiles(auditFiles(dir))).ok, true);
  },
);

t.test('the file appender reopens after a failed append', async (t) => {
  const dir = t.testdir();
  const appender = new FileAppender();
  await t.rejects(appender.append(join(dir, 'missing', 'a.jsonl'), Buffer.from('x\n')));
  await appender.append(join(dir, 'a.jsonl'), Buffer.from('a\n'));
  await appender.append(join(dir, 'a.jsonl'), Buffer.from('b\n'));
  await appender.append(join(dir, 'b.jsonl'), Buffer.from('c\n'));
  await appender.close();
  t.equal(readFileSync(join(dir, 'a.jsonl'), 'utf8'), 'a\nb\n');
  t.equal(readFileSync(join(dir, 'b.jsonl'), 'utf8'), 'c\n');
});

t.test('with toFile off, records go to the log as they come', async (t) => {
  const log = captureLogger();
  const writer = new LogAuditWriter(log.logger);
  writer.write(sampleEvent(1));
  await writer.flush();
  await writer.close();
  t.equal(writer.head(), undefined);
  t.match(writer.stats(), { written: 1, dropped: 0 });
  t.match(log.lines(), [
    { msg: 'audit', audit: { action: '/ip/hotspot/user/add', result: 'success' } },
  ]);
});

class CountingAppender extends FileAppender {
  replaces = 0;
  override replace(path: string, data: string): Promise<void> {
    this.replaces++;
    return super.replace(path, data);
  }
}

t.test(
  'head.json is rewritten at most once per flush interval, on a new file, and at close',
  async (t) => {
    const dir = t.testdir();
    const appender = new CountingAppender();
    const { writer, clock } = writerIn(t, dir, { appender, bufferSize: 2 });
    const onDisk = () =>
      (JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')) as { seq: number }).seq;
    let n = 0;
    const batch = async () => {
      writer.write(sampleEvent(++n));
      writer.write(sampleEvent(++n));
      await eventually(() => writer.stats().written === n);
    };
    await batch();
    t.equal(onDisk(), 2, 'the first batch writes it');
    await batch();
    await batch();
    t.equal(appender.replaces, 1, 'batches within the interval do not');
    t.equal(writer.head()?.seq, 6, 'the head in memory is the last record');
    clock.advance(5000);
    await batch();
    t.equal(onDisk(), 8, 'a batch once the interval has passed does');
    await batch();
    t.equal(onDisk(), 8);
    await writer.close();
    t.equal(onDisk(), 10, 'close writes the last head');
    t.equal(appender.replaces, 3);
    const head = JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')) as {
      seq: number;
      hash: string;
    };
    t.equal((await verifyFiles(auditFiles(dir), { head })).ok, true);
  },
);

t.test('a chain moving to a new file rewrites head.json at once', async (t) => {
  const dir = t.testdir();
  const appender = new CountingAppender();
  const { writer } = writerIn(t, dir, { appender, maxFileBytes: 1 });
  writer.write(sampleEvent(1));
  await writer.flush();
  writer.write(sampleEvent(2));
  await writer.flush();
  t.equal(appender.replaces, 2);
  t.same(JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')), writer.head());
  t.equal(auditFiles(dir).length, 2);
});

t.test('records prepared elsewhere queue up to maxQueued, the rest are dropped', async (t) => {
  const dir = t.testdir();
  const { writer } = writerIn(t, dir, { maxQueued: 2 });
  writer.writePrepared([1, 2, 3].map((n) => prepareRecord(sampleEvent(n), undefined)));
  t.match(writer.stats(), { queued: 2, dropped: 1 });
  await writer.flush();
  t.same(
    readRecords(dir).map((r) => r.id),
    [sampleEvent(1).id, sampleEvent(2).id],
  );
});
