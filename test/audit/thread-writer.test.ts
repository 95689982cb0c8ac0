import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';
import type { AuditFileReplacedEvent } from '../../src/audit/audit-writer.js';
import {
  RecordBatch,
  readBatch,
  hostAuditThread,
  type FromAuditThread,
} from '../../src/audit/audit-thread.js';
import { prepareRecord } from '../../src/audit/audit-writer.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { eventually } from '../fixtures/eventually.js';
import {
  auditFiles,
  captureLogger,
  fileWriterIn,
  readRecords,
  sampleEvent,
  threadHostOptions,
  threadWriterIn,
} from '../fixtures/audit-helpers.js';

/** The batch message of sample events `numbers`. */
function batchOf(numbers: readonly number[], id: number) {
  const batch = new RecordBatch();
  for (const n of numbers) batch.add(prepareRecord(sampleEvent(n), undefined));
  return batch.take(id);
}

/** `readBatch`'s maker of commands' records, for batches that hold none. */
const noFacts = (): never => {
  throw new Error('this batch holds no facts');
};

const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url);

t.test('the thread writes the same bytes as the writer on the proxy thread', async (t) => {
  const threaded = t.testdir({ threaded: {}, inline: {} });
  const { writer } = threadWriterIn(t, join(threaded, 'threaded'));
  const inline = fileWriterIn(t, join(threaded, 'inline'), { retentionDays: 0 }).writer;
  for (let n = 1; n <= 250; n++) {
    writer.write(sampleEvent(n));
    inline.write(sampleEvent(n));
  }
  await writer.flush();
  await inline.flush();
  const day = 'audit-2024-05-01.jsonl';
  t.equal(
    readFileSync(join(threaded, 'threaded', day), 'utf8'),
    readFileSync(join(threaded, 'inline', day), 'utf8'),
  );
  const records = readRecords(join(threaded, 'threaded'));
  t.equal(records.length, 250);
  t.same(writer.head(), {
    seq: 250,
    hash: records[249]?.hash,
    file: 'audit-2024-05-01.jsonl',
  });
  t.match(writer.stats(), { written: 250, dropped: 0, errors: 0, queued: 0 });
  t.equal(writer.stats().bytes, readFileSync(join(threaded, 'threaded', day)).length);
  t.match(await verifyFiles(auditFiles(join(threaded, 'threaded'))), { ok: true, records: 250 });
});

t.test('records wait on the proxy thread until the buffer is full or the interval', async (t) => {
  const dir = t.testdir();
  const { writer } = threadWriterIn(t, dir, { bufferSize: 3, flushIntervalMs: 200 });
  writer.write(sampleEvent(1));
  writer.write(sampleEvent(2));
  t.match(writer.stats(), { written: 0, queued: 2 });
  writer.write(sampleEvent(3));
  await eventually(() => writer.stats().written === 3);
  writer.write(sampleEvent(4));
  t.equal(writer.stats().queued, 1, 'a partial buffer waits');
  await eventually(() => writer.stats().written === 4);
  t.same(
    readRecords(dir).map((r) => r.seq),
    [1, 2, 3, 4],
  );
});

t.test('records beyond maxQueued are dropped, counted and warned about once', async (t) => {
  const dir = t.testdir();
  const { writer, log } = threadWriterIn(t, dir, { maxQueued: 5 });
  for (let n = 1; n <= 8; n++) writer.write(sampleEvent(n));
  t.match(writer.stats(), { queued: 5, dropped: 3 });
  t.equal(log.lines().filter((l) => l['code'] === 'ROSGATE_AUDIT_DROPPED').length, 1);
  await writer.flush();
  t.match(writer.stats(), { written: 5, queued: 0, dropped: 3 });
});

t.test('close writes what waits and the head; later records are dropped', async (t) => {
  const dir = t.testdir();
  const { writer } = threadWriterIn(t, dir);
  writer.write(sampleEvent(1));
  writer.write(sampleEvent(2));
  await writer.close();
  await writer.close();
  t.equal(readRecords(dir).length, 2);
  t.same(JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')), writer.head());
  writer.write(sampleEvent(3));
  t.equal(writer.stats().dropped, 1);
  await writer.flush();
  t.equal(readRecords(dir).length, 2);
});

t.test('a flush with nothing waiting still waits for the thread', async (t) => {
  const dir = t.testdir();
  const { writer } = threadWriterIn(t, dir);
  await writer.flush();
  t.equal(writer.head(), undefined);
  t.match(writer.stats(), { written: 0, flushes: 0 });
});

t.test('the thread logs through the parent, errors with their code', async (t) => {
  const dir = t.testdir({ 'not-a-folder': 'a file where the audit folder should be' });
  const { writer, log } = threadWriterIn(t, join(dir, 'not-a-folder'));
  writer.write(sampleEvent(1));
  await writer.flush();
  const failed = log.lines().find((l) => l['code'] === 'ROSGATE_AUDIT_WRITE');
  t.match(failed, { level: 50, msg: 'audit write failed', lost: 1, err: { code: 'EEXIST' } });
  t.match(writer.stats(), { errors: 1, dropped: 1, written: 0 });
});

t.test('a live file removed on disk is reported through the parent', async (t) => {
  const dir = t.testdir();
  const replaced: AuditFileReplacedEvent[] = [];
  const { writer } = threadWriterIn(t, dir, { onFileReplaced: (e) => replaced.push(e) });
  writer.write(sampleEvent(1));
  await writer.flush();
  rmSync(join(dir, 'audit-2024-05-01.jsonl'));
  writer.write(sampleEvent(2));
  await writer.flush();
  t.match(replaced, [{ reason: 'removed', file: 'audit-2024-05-01.jsonl', seq: 1 }]);
  t.equal(writer.stats().fileReplaced, 1);
  t.match(await verifyFiles(auditFiles(dir)), { ok: true });
});

t.test('a thread that dies loses only what it held; the next resumes the chain', async (t) => {
  const dir = t.testdir();
  const { writer, log } = threadWriterIn(t, dir, {
    entry: fixture('audit-thread-dies.ts'),
  });
  writer.write(sampleEvent(1));
  await writer.flush();
  writer.write(sampleEvent(2));
  // The fixture's thread exits on its second batch, once (a marker file says so).
  await writer.flush();
  t.match(writer.stats(), { dropped: 1, queued: 0 });
  t.ok(log.lines().some((l) => l['lost'] === 1 && String(l['msg']).includes('stopped')));
  writer.write(sampleEvent(3));
  await eventually(() => writer.stats().written === 2);
  t.same(
    readRecords(dir).map((r) => r.seq),
    [1, 2],
    'the new thread numbers on from the files',
  );
  t.match(writer.stats(), { written: 2, dropped: 1 });
  t.match(await verifyFiles(auditFiles(dir)), { ok: true, records: 2 });
});

const stopped = (log: ReturnType<typeof captureLogger>): number =>
  log.lines().filter((l) => String(l['msg']).includes('thread stopped')).length;

t.test('an entry that cannot start is logged and retried; records wait, bounded', async (t) => {
  const dir = t.testdir();
  const { writer, log } = threadWriterIn(t, dir, {
    entry: fixture('audit-thread-broken.mjs'),
    maxQueued: 2,
  });
  writer.write(sampleEvent(1));
  writer.write(sampleEvent(2));
  writer.write(sampleEvent(3));
  t.match(writer.stats(), { queued: 2, dropped: 1 });
  await writer.flush();
  t.equal(stopped(log), 1);
  t.match(writer.stats(), { queued: 0, dropped: 3 }, 'the thread took two and lost them');
  t.match(
    log.lines().find((l) => String(l['msg']).includes('thread failed')),
    { code: 'ROSGATE_AUDIT_WRITE', err: { message: 'this entry never starts a writer' } },
  );
  writer.write(sampleEvent(4));
  t.match(writer.stats(), { queued: 1 }, 'until the next thread, records wait');
  await eventually(() => stopped(log) === 2, 'a second thread was tried');
  t.match(writer.stats(), { written: 0, queued: 0, dropped: 4 });
});

t.test('closing while no thread runs starts one to take what waits', async (t) => {
  const dir = t.testdir();
  const { writer, log } = threadWriterIn(t, dir, { entry: fixture('audit-thread-dies.ts') });
  writer.write(sampleEvent(1));
  await writer.flush();
  writer.write(sampleEvent(2));
  await writer.flush();
  t.equal(stopped(log), 1, 'the thread died on its second batch');
  writer.write(sampleEvent(3));
  await writer.close();
  t.same(
    readRecords(dir).map((r) => r.id.slice(-1)),
    ['1', '3'],
  );
  t.match(writer.stats(), { written: 2, dropped: 1, queued: 0 });
});

t.test('the thread keeps the trail within maxTotalBytes too', async (t) => {
  const dir = t.testdir();
  const { writer } = threadWriterIn(t, dir, { maxFileBytes: 2048, maxTotalBytes: 8192 });
  for (let n = 1; n <= 60; n++) {
    writer.write(sampleEvent(n));
    if (n % 10 === 0) await writer.flush();
  }
  const total = auditFiles(dir).reduce((sum, file) => sum + readFileSync(file).length, 0);
  t.ok(total <= 8192, `${total} bytes`);
  t.ok((readRecords(dir)[0]?.seq ?? 0) > 1, 'the oldest records are gone');
  t.equal((await verifyFiles(auditFiles(dir))).ok, true);
});

t.test('the host answers each message once its records are on disk', async (t) => {
  const dir = t.testdir();
  const { port1, port2 } = new MessageChannel();
  const seen: FromAuditThread[] = [];
  port1.on('message', (m: FromAuditThread) => seen.push(m));
  hostAuditThread(
    port2,
    threadHostOptions(dir, { integrityKey: new Uint8Array(Buffer.alloc(32, 7)) as Buffer }),
  );
  port1.postMessage(batchOf([1, 2], 1));
  port1.postMessage({ type: 'flush', id: 2 });
  await eventually(() => seen.length === 2);
  t.match(seen, [
    { type: 'ack', id: 1, stats: { written: 2 }, head: { seq: 2 } },
    { type: 'ack', id: 2, stats: { written: 2 } },
  ]);
  t.match(await verifyFiles(auditFiles(dir), { key: Buffer.alloc(32, 7) }), {
    ok: true,
    records: 2,
  });
  // Another file, empty, where the live one was.
  rmSync(join(dir, 'audit-2024-05-01.jsonl'));
  writeFileSync(join(dir, 'audit-2024-05-01.jsonl'), '');
  port1.postMessage(batchOf([1], 3));
  port1.postMessage({ type: 'close', id: 4 });
  await eventually(() => seen.some((m) => m.type === 'ack' && m.id === 4));
  t.match(
    seen.filter((m) => m.type !== 'ack'),
    [
      { type: 'log', level: 'error', fields: { code: 'ROSGATE_AUDIT_FILE_REPLACED' } },
      { type: 'fileReplaced', event: { reason: 'replaced' } },
    ],
  );
  port1.close();
  t.ok(auditFiles(dir).length >= 2);
});

t.test('the host sends an error as a plain object that keeps its code', async (t) => {
  const dir = t.testdir({ 'not-a-folder': '' });
  const { port1, port2 } = new MessageChannel();
  const seen: FromAuditThread[] = [];
  port1.on('message', (m: FromAuditThread) => seen.push(m));
  hostAuditThread(port2, threadHostOptions(join(dir, 'not-a-folder')));
  port1.postMessage(batchOf([1], 1));
  port1.postMessage({ type: 'close', id: 2 });
  await eventually(() => seen.some((m) => m.type === 'ack' && m.id === 2));
  const logged = seen.find((m) => m.type === 'log');
  t.match(logged, { level: 'error', fields: { lost: 1, err: { type: 'Error', code: 'EEXIST' } } });
  t.notOk(logged?.type === 'log' && logged.fields['err'] instanceof Error);
  port1.close();
});

t.test('a batch carries any text byte for byte, in order, in buffers it grows to', async (t) => {
  const batch = new RecordBatch();
  t.notOk(batch.isFull(), 'an empty batch takes a record');
  const texts = ['plain', 'quote " and \\ backslash', 'ünïcödé ✓ 𝄞', 'x'.repeat(100_000)];
  const records = texts.map((body, i) => ({ date: `2026-12-0${i}`, body }));
  for (const record of records) batch.add(record);
  t.equal(batch.count, 4);
  const message = batch.take(7);
  t.equal(batch.count, 0, 'taking empties the batch');
  t.ok(
    message.bytes.byteLength >= 300_000,
    'a record larger than a batch got a buffer of its size',
  );
  t.same(
    readBatch(message, noFacts).map(({ date, body }) => ({ date, body: body.toString() })),
    records,
  );
  let added = 0;
  for (; !batch.isFull(); added++) batch.add(prepareRecord(sampleEvent(added), undefined));
  t.equal(batch.count, added);
  t.same(
    readBatch(batch.take(8), noFacts).map((record) => record.body.toString()),
    Array.from({ length: added }, (_, n) => prepareRecord(sampleEvent(n), undefined).body),
    'a full batch reads back whole',
  );
});
