import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditRecord } from '../../src/audit/audit-record.js';
import { FileAuditWriter } from '../../src/audit/audit-writer.js';
import { canonicalText, digestText, lineOf } from '../fixtures/chain-text.js';
import { reportAudit } from '../../src/audit/report-audit.js';
import { searchAudit } from '../../src/audit/search-audit.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { captureLogger, sampleEvent } from '../fixtures/audit-helpers.js';

const KEY = Buffer.from('a key only the operator holds');

/** Writes `count` records into a fresh folder and returns the file and its lines (newline kept). */
async function chain(
  t: { testdir(): string },
  count: number,
  integrityKey?: Buffer,
): Promise<{ dir: string; file: string; lines: string[]; records: AuditRecord[] }> {
  const dir = t.testdir();
  const writer = new FileAuditWriter({
    dir,
    bufferSize: 1000,
    flushIntervalMs: 60_000,
    maxQueued: 10_000,
    maxFileBytes: 100 * 1024 * 1024,
    retentionDays: 0,
    integrityKey,
    logger: captureLogger().logger,
    now: () => Date.parse('2024-05-01T10:00:00.000Z'),
  });
  for (let i = 1; i <= count; i++) writer.write(sampleEvent(i));
  await writer.close();
  const file = join(dir, 'audit-2024-05-01.jsonl');
  const lines = readFileSync(file, 'utf8')
    .split(/(?<=\n)/)
    .filter((line) => line !== '');
  return { dir, file, lines, records: lines.map((line) => JSON.parse(line) as AuditRecord) };
}

t.test('an intact chain verifies, and names its last record', async (t) => {
  const { file, records } = await chain(t, 5);
  t.same(await verifyFiles([file]), {
    ok: true,
    records: 5,
    problems: [],
    problemCount: 0,
    last: { seq: 5, hash: records[4]?.hash },
  });
  t.same(await verifyFiles([file], { head: { seq: 5, hash: records[4]?.hash as string } }), {
    ok: true,
    records: 5,
    problems: [],
    problemCount: 0,
    last: { seq: 5, hash: records[4]?.hash },
  });
});

t.test('one flipped bit at any position of a line is found', async (t) => {
  const { file, lines, records } = await chain(t, 5);
  const original = Buffer.from(lines.join(''), 'utf8');
  const head = { seq: 5, hash: records[4]?.hash as string };
  for (const index of [0, 2, 4]) {
    const start = Buffer.byteLength(lines.slice(0, index).join(''));
    const length = Buffer.byteLength(lines[index] as string);
    let missed = 0;
    for (let at = start; at < start + length; at++) {
      const bytes = Buffer.from(original);
      bytes[at] = (bytes[at] as number) ^ 1;
      writeFileSync(file, bytes);
      if ((await verifyFiles([file], { head })).ok) missed++;
    }
    t.equal(missed, 0, `every byte of line ${index + 1} (${length} bytes) is covered`);
  }
});

t.test('a deleted line is a gap at its seq', async (t) => {
  const { file, lines } = await chain(t, 5);
  writeFileSync(file, [...lines.slice(0, 2), ...lines.slice(3)].join(''));
  const result = await verifyFiles([file]);
  t.equal(result.ok, false);
  t.equal(result.firstBadSeq, 3);
  t.same(result.problems, [{ file, line: 3, seq: 3, kind: 'gap' }]);
});

t.test('a reordered pair is a gap then an order problem', async (t) => {
  const { file, lines } = await chain(t, 5);
  const [a, b, c, d, e] = lines;
  writeFileSync(file, [a, c, b, d, e].join(''));
  const result = await verifyFiles([file]);
  t.equal(result.firstBadSeq, 2);
  t.same(result.problems, [
    { file, line: 2, seq: 2, kind: 'gap' },
    { file, line: 3, seq: 2, kind: 'order' },
  ]);
});

t.test('a cut-off tail passes alone but is found with the head kept elsewhere', async (t) => {
  const { file, lines, records } = await chain(t, 5);
  const head = { seq: 5, hash: records[4]?.hash as string };
  writeFileSync(file, lines.slice(0, 3).join(''));
  t.equal((await verifyFiles([file])).ok, true);
  const result = await verifyFiles([file], { head });
  t.equal(result.ok, false);
  t.equal(result.firstBadSeq, 4);
  t.same(result.problems, [{ file, line: 4, seq: 4, kind: 'truncated' }]);
  writeFileSync(file, '');
  t.same((await verifyFiles([file], { head })).problems, [
    { file, line: 1, seq: 1, kind: 'truncated' },
  ]);
});

t.test('a head whose hash differs at its seq is a hash problem', async (t) => {
  const { file } = await chain(t, 3);
  const result = await verifyFiles([file], { head: { seq: 2, hash: 'f'.repeat(64) } });
  t.same(result.problems, [{ file, line: 2, seq: 2, kind: 'hash' }]);
});

/** Rewrites a chain from scratch with plain SHA-256, after editing a record: what an attacker can do. */
function rebuilt(records: readonly AuditRecord[], edit: (r: AuditRecord) => AuditRecord): string {
  let prev = '0'.repeat(64);
  return records
    .map((record) => {
      const { seq, hash: _hash, prev: _prev, ...event } = edit(record);
      const canonical = canonicalText(event, seq, prev);
      prev = digestText(canonical, undefined);
      return lineOf(canonical, prev);
    })
    .join('');
}

t.test('a rebuilt SHA-256 chain passes without the key but fails with it', async (t) => {
  const { file, records } = await chain(t, 4, KEY);
  t.equal((await verifyFiles([file], { key: KEY })).ok, true);
  writeFileSync(
    file,
    rebuilt(records, (r) => (r.seq === 2 ? { ...r, userId: 'someone-else' } : r)),
  );
  t.equal((await verifyFiles([file])).ok, true, 'a plain chain cannot tell');
  const result = await verifyFiles([file], { key: KEY });
  t.equal(result.ok, false);
  t.same(
    result.problems.map((p) => p.kind),
    ['hash', 'hash', 'hash', 'hash'],
  );
});

t.test('a record rewritten with a fresh hash breaks the link of the next one', async (t) => {
  const { file, lines, records } = await chain(t, 3);
  const edited = rebuilt(records.slice(0, 2), (r) =>
    r.seq === 2 ? { ...r, result: 'denied' } : r,
  );
  writeFileSync(file, `${edited}${lines[2]}`);
  t.same((await verifyFiles([file])).problems, [{ file, line: 3, seq: 3, kind: 'link' }]);
});

t.test(
  'the first record ever must link to zeros; a later first record is taken as it is',
  async (t) => {
    const { file, lines, records } = await chain(t, 3);
    writeFileSync(file, lines.slice(1).join(''));
    t.equal((await verifyFiles([file])).ok, true, 'older files deleted by retention');
    const forged = rebuilt(records.slice(0, 1), (r) => r).replace(/"prev":"0/, '"prev":"1');
    const canonical = forged.replace(/,"hash":"[0-9a-f]{64}"\}\n$/, '}');
    writeFileSync(file, lineOf(canonical, digestText(canonical, undefined)));
    t.same((await verifyFiles([file])).problems, [{ file, line: 1, seq: 1, kind: 'link' }]);
  },
);

t.test('a torn last line is reported as torn without failing', async (t) => {
  const { file, lines } = await chain(t, 3);
  writeFileSync(file, `${lines.join('')}${(lines[0] as string).slice(0, 40)}`);
  const result = await verifyFiles([file]);
  t.equal(result.ok, true);
  t.same(result.problems, [{ file, line: 4, seq: 4, kind: 'torn' }]);
  writeFileSync(file, `${lines.join('')}{"se`);
  t.same((await verifyFiles([file])).problems, [{ file, line: 4, seq: 4, kind: 'torn' }]);
});

t.test('a cut line that the chain does not resume after is a parse problem', async (t) => {
  const { file, lines } = await chain(t, 4);
  const cut = `${(lines[1] as string).slice(0, 40)}\n`;
  writeFileSync(file, `${lines[0]}${cut}${lines[2]}${lines[3]}`);
  const result = await verifyFiles([file]);
  t.equal(result.ok, false);
  t.same(
    result.problems.map((p) => [p.line, p.kind]),
    [
      [2, 'parse'],
      [3, 'gap'],
    ],
  );
  writeFileSync(file, `${lines[0]}${cut}`);
  t.same(
    (await verifyFiles([file])).problems.map((p) => p.kind),
    ['parse'],
    'a cut line closed by a newline at the end of a file',
  );
  writeFileSync(file, `${lines[0]}${cut}${cut}${lines[1]}`);
  t.same(
    (await verifyFiles([file])).problems.map((p) => p.kind),
    ['torn', 'torn'],
    'one record cut twice (its write failed twice, a full disk) and then written',
  );
  const other = `${(lines[2] as string).slice(0, 40)}\n`;
  writeFileSync(file, `${lines[0]}${other}${cut}${lines[1]}`);
  t.same(
    (await verifyFiles([file])).problems.map((p) => p.kind),
    ['parse', 'torn'],
    'of two cut lines of different records only the second can be a crash',
  );
});

t.test('records added without a hash are tampering, and search never shows them', async (t) => {
  const key = Buffer.from('k'.repeat(32));
  const { dir, file, lines } = await chain(t, 4, key);
  const forged = (seq: number, user: string) =>
    JSON.stringify({ seq, prev: '0'.repeat(64), id: `forged-${seq}`, userId: user });
  // One before seq 3, where the next record links to the one before it (as
  // after a crash), and one at the end with no newline (as a cut tail).
  writeFileSync(
    file,
    `${lines[0]}${lines[1]}${forged(3, 'alice')}\n${lines[2]}${lines[3]}${forged(5, 'mallory')}`,
  );
  const result = await verifyFiles([file], { key });
  t.equal(result.ok, false);
  t.same(
    result.problems.map((p) => [p.line, p.kind]),
    [
      [3, 'parse'],
      [6, 'parse'],
    ],
  );
  // And lines shaped like records: one whose inside is not JSON, one whose
  // fields are not text (a report would choke on them).
  const shaped = (inside: string) =>
    `{"seq":6,"prev":"${'0'.repeat(64)}",${inside},"hash":"${'a'.repeat(64)}"}`;
  writeFileSync(
    file,
    `${readFileSync(file, 'utf8')}\n${shaped('"userId":{"toString":1},"result":"success"')}\n${shaped('oops')}`,
  );
  t.equal((await reportAudit(dir, { groupBy: 'user' })).total, 4, 'the report counts the four');
  const found: string[] = [];
  for await (const record of searchAudit(dir, {})) found.push(record.id);
  t.equal(found.length, 4, 'the four records written');
  t.notOk(
    found.some((id) => id.startsWith('forged')),
    'no forged record',
  );
});

t.test(
  'a torn first line of the oldest file left (retention) is torn, not tampering',
  async (t) => {
    const { file, lines } = await chain(t, 4);
    // The file before it is gone; this one begins with the line a crash cut,
    // and the writer wrote that record again after it.
    writeFileSync(file, `${(lines[2] as string).slice(0, 40)}\n${lines[2]}${lines[3]}`);
    const result = await verifyFiles([file]);
    t.equal(result.ok, true);
    t.same(result.problems, [{ file, line: 1, seq: 1, kind: 'torn' }]);
    // A cut line followed by another seq than its own is no crash.
    writeFileSync(file, `${(lines[1] as string).slice(0, 40)}\n${lines[2]}${lines[3]}`);
    t.same(
      (await verifyFiles([file])).problems.map((p) => p.kind),
      ['parse'],
    );
  },
);

t.test('lines that are not records are parse problems', async (t) => {
  const { file, lines } = await chain(t, 2);
  writeFileSync(file, `${lines[0]}hello\n\n${lines[1]}`);
  const result = await verifyFiles([file]);
  t.same(
    result.problems.map((p) => [p.line, p.seq, p.kind]),
    [
      [2, 2, 'parse'],
      [3, 2, 'parse'],
    ],
  );
  t.equal(result.records, 2);
});

t.test('files are read in the order given when their names are not audit file names', async (t) => {
  const { dir, file } = await chain(t, 2);
  const { file: other } = await chain(t, 2);
  copyFileSync(file, join(dir, 'b.jsonl'));
  copyFileSync(other, join(dir, 'a.jsonl'));
  const result = await verifyFiles([join(dir, 'b.jsonl'), join(dir, 'a.jsonl')]);
  t.same(
    result.problems.map((p) => p.kind),
    ['order', 'order'],
  );
});

t.test('problems past maxProblems are counted, not listed', async (t) => {
  const { file } = await chain(t, 5, KEY);
  const result = await verifyFiles([file], { maxProblems: 2 });
  t.equal(result.ok, false);
  t.equal(result.problems.length, 2);
  t.equal(result.problemCount, 5);
  t.equal(result.firstBadSeq, 1);
});

t.test('a file that cannot be read rejects', async (t) => {
  await t.rejects(verifyFiles([join(t.testdir(), 'missing.jsonl')]), { code: 'ENOENT' });
});

t.test('a file larger than one read verifies, with lines split across reads', async (t) => {
  const dir = t.testdir();
  const writer = new FileAuditWriter({
    dir,
    bufferSize: 10,
    flushIntervalMs: 60_000,
    maxQueued: 10,
    maxFileBytes: 100 * 1024 * 1024,
    retentionDays: 0,
    logger: captureLogger().logger,
    now: () => Date.parse('2024-05-01T10:00:00.000Z'),
  });
  for (let i = 1; i <= 3; i++)
    writer.write({ ...sampleEvent(i), details: { blob: 'x'.repeat(700_000) } });
  await writer.close();
  const result = await verifyFiles([join(dir, 'audit-2024-05-01.jsonl')]);
  t.same({ ok: result.ok, records: result.records }, { ok: true, records: 3 });
});
