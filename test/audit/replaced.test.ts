import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AuditRecord } from '../../src/audit/audit-record.js';
import {
  type AuditFileReplacedEvent,
  type FileAuditWriterOptions,
} from '../../src/audit/audit-writer.js';
import { FileAppender } from '../../src/audit/file-appender.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { auditFiles, fileWriterIn, readRecords, sampleEvent } from '../fixtures/audit-helpers.js';

// The live file replaced or removed on disk while rosgate writes to it: an
// `rm`, logrotate without copytruncate, an editor's `sed -i`.

const DAY = 'audit-2024-05-01.jsonl';
const NEXT = 'audit-2024-05-01.1.jsonl';

function writerIn(
  t: { teardown(fn: () => unknown): void },
  dir: string,
  options: Partial<FileAuditWriterOptions> = {},
  isWatched = true,
) {
  const replaced: AuditFileReplacedEvent[] = [];
  const { writer, clock, log } = fileWriterIn(t, dir, {
    flushIntervalMs: 3_600_000,
    retentionDays: 0,
    ...(isWatched ? { onFileReplaced: (event) => replaced.push(event) } : {}),
    ...options,
  });
  let n = 0;
  /** Writes `count` records and flushes them. */
  const writeSome = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) writer.write(sampleEvent(++n, clock.now()));
    await writer.flush();
  };
  return { writer, clock, log, replaced, writeSome };
}

async function verifiesAll(t: Test, dir: string): Promise<void> {
  const result = await verifyFiles(auditFiles(dir));
  t.same(result.problems, [], 'verify over the directory finds nothing wrong');
  t.equal(result.ok, true);
}

function fileEvent(records: readonly AuditRecord[]): AuditRecord | undefined {
  return records.find((r) => r.kind === 'auditFile');
}

t.test(
  'a live file removed on disk: copied back into a new file, the event recorded, the chain whole',
  async (t) => {
    const dir = t.testdir();
    const { writer, log, replaced, writeSome, clock } = writerIn(t, dir);
    await writeSome(3);
    unlinkSync(join(dir, DAY));
    clock.advance(1000);
    await writeSome(2);
    t.same(readdirSync(dir).sort(), [NEXT, 'head.json']);
    const records = readRecords(dir);
    t.same(
      records.map((r) => [r.seq, r.kind]),
      [
        [1, 'command'],
        [2, 'command'],
        [3, 'command'],
        [4, 'auditFile'],
        [5, 'command'],
        [6, 'command'],
      ],
      'the removed records, then the event, then the new ones',
    );
    t.match(fileEvent(records), {
      action: 'auditFileRemoved',
      result: 'error',
      category: 'security',
      level: 'metadata',
      timestamp: '2024-05-01T10:00:01.000Z',
      details: { file: DAY, reason: 'removed', next: NEXT, seq: 3, salvagedBytes: Number },
    });
    t.equal(writer.stats().fileReplaced, 1, 'counted');
    t.match(replaced, [{ file: DAY, reason: 'removed', next: NEXT, seq: 3 }]);
    t.match(
      log.lines().filter((l) => l['level'] === 50),
      [
        {
          code: 'ROSGATE_AUDIT_FILE_REPLACED',
          file: DAY,
          next: NEXT,
          msg: 'the live audit file was removed on disk; the chain continues in a new file',
        },
      ],
    );
    t.match(writer.head(), { seq: 6, file: NEXT });
    await verifiesAll(t, dir);
    await writeSome(1);
    t.equal(writer.stats().fileReplaced, 1, 'the new file is the live one now');
  },
);

t.test('a removed file after earlier ones still verifies: nothing is lost', async (t) => {
  const dir = t.testdir();
  const { clock, writeSome } = writerIn(t, dir);
  await writeSome(2);
  clock.advance(86_400_000);
  await writeSome(2);
  unlinkSync(join(dir, 'audit-2024-05-02.jsonl'));
  await writeSome(1);
  t.same(
    auditFiles(dir).map((f) => f.slice(dir.length + 1)),
    [DAY, 'audit-2024-05-02.1.jsonl'],
  );
  t.same(
    readRecords(dir).map((r) => r.seq),
    [1, 2, 3, 4, 5, 6],
  );
  await verifiesAll(t, dir);
});

t.test(
  'a live file rotated away by logrotate (renamed, an empty one created) is copied on',
  async (t) => {
    const dir = t.testdir();
    const { writeSome, writer } = writerIn(t, dir);
    await writeSome(3);
    renameSync(join(dir, DAY), join(dir, `${DAY}-20240502`));
    writeFileSync(join(dir, DAY), '');
    await writeSome(1);
    const records = readRecords(dir);
    t.same(
      records.map((r) => r.seq),
      [1, 2, 3, 4, 5],
      'the rotated records, the event, the new one',
    );
    t.match(fileEvent(records), { action: 'auditFileReplaced', details: { reason: 'replaced' } });
    t.equal(writer.stats().fileReplaced, 1);
    await verifiesAll(t, dir);
  },
);

t.test(
  'a live file replaced with content (sed -i) is left as found and the chain goes on beside it',
  async (t) => {
    const dir = t.testdir();
    const { writeSome, replaced } = writerIn(t, dir, {}, false);
    await writeSome(3);
    // What `sed -i` does: a new file with the (here unchanged) text, renamed over the old one.
    copyFileSync(join(dir, DAY), join(dir, 'sed-tmp'));
    renameSync(join(dir, 'sed-tmp'), join(dir, DAY));
    await writeSome(1);
    t.same(replaced, [], 'no callback given, none called');
    const next = readFileSync(join(dir, NEXT), 'utf8').split('\n').filter(Boolean);
    t.same(
      next.map((line) => (JSON.parse(line) as AuditRecord).seq),
      [4, 5],
      'the new file starts with the event, nothing copied',
    );
    t.match(JSON.parse(next[0] as string), {
      kind: 'auditFile',
      details: { reason: 'replaced', salvagedBytes: 0, seq: 3 },
    });
    await verifiesAll(t, dir);

    // An edit that changes a record is for verify to find.
    const lines = readFileSync(join(dir, DAY), 'utf8').split('\n');
    lines[1] = (lines[1] as string).replace('"result":"success"', '"result":"failure"');
    writeFileSync(join(dir, 'sed-tmp'), lines.join('\n'));
    renameSync(join(dir, 'sed-tmp'), join(dir, DAY));
    t.match((await verifyFiles(auditFiles(dir))).problems, [{ seq: 2, kind: 'hash' }]);
  },
);

t.test('the whole audit folder removed: it is made again and the chain goes on', async (t) => {
  const dir = join(t.testdir(), 'audit');
  const { writeSome, writer } = writerIn(t, dir);
  await writeSome(2);
  rmSync(dir, { recursive: true });
  await writeSome(1);
  t.same(
    readRecords(dir).map((r) => r.kind),
    ['command', 'command', 'auditFile', 'command'],
  );
  t.ok(existsSync(join(dir, 'head.json')));
  t.equal(writer.stats().fileReplaced, 1);
  await verifiesAll(t, dir);
});

t.test('a removed file continued past its size limit takes the next free index', async (t) => {
  const dir = t.testdir();
  const { writeSome } = writerIn(t, dir, { maxFileBytes: 1024 });
  await writeSome(6);
  const before = auditFiles(dir).map((f) => f.slice(dir.length + 1));
  t.ok(before.length >= 2, `rotated by size: ${before.join(', ')}`);
  unlinkSync(join(dir, before.at(-1) as string));
  await writeSome(1);
  const names = auditFiles(dir).map((f) => f.slice(dir.length + 1));
  t.ok(names.includes(`audit-2024-05-01.${before.length}.jsonl`), names.join(', '));
  t.notOk(names.includes(before.at(-1) as string), 'the removed name is not reused');
  await verifiesAll(t, dir);
});

t.test(
  'the file appender checks only the file it holds, and fails on what it cannot see',
  async (t) => {
    const dir = t.testdir();
    const appender = new FileAppender();
    t.teardown(() => appender.close());
    const path = join(dir, 'a.jsonl');
    t.same(await appender.check(path), { state: 'same' }, 'nothing held');
    t.equal(await appender.salvage(join(dir, 'b.jsonl')), 0, 'nothing held, nothing copied');
    await appender.append(path, Buffer.from('a\n'));
    t.same(await appender.check(join(dir, 'other.jsonl')), { state: 'same' }, 'not the held path');
    t.same(await appender.check(path), { state: 'same' });
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'a file where the folder was');
    await t.rejects(appender.check(path), { code: 'ENOTDIR' });
    unlinkSync(dir);
    mkdirSync(dir);
  },
);
