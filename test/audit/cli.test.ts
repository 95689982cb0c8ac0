import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { FileAuditWriter } from '../../src/audit/audit-writer.js';
import { runAuditCli } from '../../src/audit/cli.js';
import { auditFiles, captureLogger, sampleEvent } from '../fixtures/audit-helpers.js';

const INTEGRITY_KEY = 'the operator integrity key';
const ENCRYPTION_KEY = 'cd'.repeat(32);

function capture(highWaterMark?: number): Writable & { text: () => string } {
  let text = '';
  const stream = new Writable({
    ...(highWaterMark === undefined ? {} : { highWaterMark }),
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      setImmediate(callback);
    },
  });
  return Object.assign(stream, { text: () => text });
}

async function cli(
  argv: string[],
  highWaterMark?: number,
): Promise<{ code: number; out: string; err: string }> {
  const stdout = capture(highWaterMark);
  const stderr = capture();
  const code = await runAuditCli(argv, { stdout, stderr });
  return { code, out: stdout.text(), err: stderr.text() };
}

async function logDir(
  t: { testdir(fixture: Record<string, string>): string },
  count: number,
  options: { integrityKey?: Buffer; encryptionKey?: Buffer } = {},
): Promise<{ dir: string; files: string[] }> {
  const dir = t.testdir({
    'integrity.key': `${INTEGRITY_KEY}\n`,
    'encryption.key': ENCRYPTION_KEY,
    'bad.key': 'nope',
  });
  const logs = join(dir, 'audit');
  const writer = new FileAuditWriter({
    dir: logs,
    bufferSize: 2000,
    flushIntervalMs: 60_000,
    maxQueued: 2000,
    maxFileBytes: 1 << 20,
    retentionDays: 0,
    ...options,
    logger: captureLogger().logger,
    now: () => Date.parse('2024-05-01T10:00:00.000Z'),
  });
  for (let i = 1; i <= count; i++) {
    writer.write({ ...sampleEvent(i), userId: i % 2 === 0 ? 'ops' : 'billing' });
  }
  await writer.close();
  return { dir, files: auditFiles(logs) };
}

t.test('help prints the usage; no command or an unknown one exits 2', async (t) => {
  const help = await cli(['help']);
  t.equal(help.code, 0);
  t.match(help.out, /rosgate audit verify FILE/);
  t.equal((await cli([])).code, 2);
  const unknown = await cli(['shred']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /unknown audit command "shred"/);
  const option = await cli(['verify', 'x', '--force']);
  t.equal(option.code, 2);
  t.match(option.err, /--force/);
  t.match(option.err, /usage:/);
});

t.test('verify exits 0 on an intact log and prints its head', async (t) => {
  const { dir, files } = await logDir(t, 3);
  const head = JSON.parse(readFileSync(join(dir, 'audit', 'head.json'), 'utf8')) as {
    seq: number;
    hash: string;
  };
  const result = await cli(['verify', ...files]);
  t.equal(result.code, 0);
  t.equal(result.out, `intact: 3 records, head 3:${head.hash}\n`);
  t.equal((await cli(['verify', ...files, '--head', `3:${head.hash}`])).code, 0);
  t.equal((await cli(['verify', ...files, '--head', join(dir, 'audit', 'head.json')])).code, 0);
});

t.test('verify exits 1 on a tampered log, naming each problem and the first bad seq', async (t) => {
  const { files } = await logDir(t, 4);
  const file = files[0] as string;
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('voucher-2', 'voucher-X'));
  const result = await cli(['verify', file]);
  t.equal(result.code, 1);
  t.match(result.out, /^audit-2024-05-01\.jsonl:2: seq 2: hash\n/);
  t.match(result.out, /tampered: 1 problem\(s\) in 4 records, first bad seq 2/);
  t.match(result.out, /pass --key-file/);
});

t.test('verify with --head finds a cut-off tail', async (t) => {
  const { files } = await logDir(t, 3);
  const file = files[0] as string;
  const lines = readFileSync(file, 'utf8').split('\n');
  const last = JSON.parse(lines[2] as string) as { hash: string };
  writeFileSync(file, `${lines.slice(0, 2).join('\n')}\n`);
  const result = await cli(['verify', file, '--head', `3:${last.hash}`]);
  t.equal(result.code, 1);
  t.match(result.out, /seq 3: truncated/);
  t.notMatch(result.out, /key-file/);
});

t.test('verify reports a torn line but exits 0', async (t) => {
  const { files } = await logDir(t, 2);
  writeFileSync(files[0] as string, '{"seq":3,"prev":"ab', { flag: 'a' });
  const result = await cli(['verify', ...files]);
  t.equal(result.code, 0);
  t.match(result.out, /:3: seq 3: torn\n/);
  t.match(result.out, /1 torn line\(s\): a record cut short by a crash/);
});

t.test(
  'verify checks an HMAC chain with --key-file, and lists at most 1000 problems',
  async (t) => {
    const { dir, files } = await logDir(t, 1003, { integrityKey: Buffer.from(INTEGRITY_KEY) });
    const keyed = await cli(['verify', ...files, '--key-file', join(dir, 'integrity.key')]);
    t.equal(keyed.code, 0);
    t.match(keyed.out, /intact: 1003 records/);
    const plain = await cli(['verify', ...files]);
    t.equal(plain.code, 1);
    t.match(plain.out, /\.\.\. and 3 more problems/);
    t.match(plain.out, /tampered: 1003 problem\(s\)/);
  },
);

t.test('verify exits 2 when it cannot start or read', async (t) => {
  const { dir, files } = await logDir(t, 1);
  const none = await cli(['verify']);
  t.equal(none.code, 2);
  t.match(none.err, /at least one FILE/);
  const missing = await cli(['verify', join(dir, 'audit-1999-01-01.jsonl')]);
  t.equal(missing.code, 2);
  t.match(missing.err, /cannot read the audit log: ENOENT/);
  const badHead = await cli(['verify', ...files, '--head', 'latest']);
  t.equal(badHead.code, 2);
  t.match(badHead.err, /--head must be SEQ:HASH/);
  const wrongShape = await cli(['verify', ...files, '--head', join(dir, 'encryption.key')]);
  t.equal(wrongShape.code, 2);
  writeFileSync(join(dir, 'head.json'), '{"seq":"1"}');
  const shape = await cli(['verify', ...files, '--head', join(dir, 'head.json')]);
  t.equal(shape.code, 2);
  t.match(shape.err, /--head file must hold/);
});

t.test('an empty log verifies as intact with no records', async (t) => {
  const dir = t.testdir({ 'audit-2024-05-01.jsonl': '' });
  const result = await cli(['verify', join(dir, 'audit-2024-05-01.jsonl')]);
  t.equal(result.code, 0);
  t.equal(result.out, 'intact: 0 records, no records\n');
});

t.test('search prints a table by default and JSON lines on request', async (t) => {
  const { dir } = await logDir(t, 3);
  const logs = join(dir, 'audit');
  const table = await cli(['search', '--dir', logs, '--user', 'billing']);
  t.equal(table.code, 0);
  const rows = table.out.trimEnd().split('\n');
  t.match(rows[0], /^timestamp\s+user\s+ip\s+router\s+result\s+action$/);
  t.equal(rows.length, 3);
  t.match(
    rows[1],
    /^2024-05-01T10:00:00\.000Z\s+billing\s+192\.0\.2\.10\s+default\s+success\s+\/ip\/hotspot\/user\/add$/,
  );
  const json = await cli([
    'search',
    '--dir',
    logs,
    '--format',
    'json',
    '--from',
    '2024-05-01',
    '--to',
    '2024-05-01',
    '--path',
    '/ip/hotspot/**',
    '--result',
    'success',
    '--router',
    'default',
    '--ip',
    '192.0.2.10',
    '--category',
    'hotspot',
  ]);
  t.equal(json.code, 0);
  t.same(
    json.out
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { seq: number }).seq),
    [1, 2, 3],
  );
  const none = await cli(['search', '--dir', logs, '--from', '2024-05-02T00:00:00Z']);
  t.equal(none.out.trim().split('\n').length, 1, 'only the header');
});

t.test('search shows records without user, address or router as dashes', async (t) => {
  const dir = t.testdir();
  const writer = new FileAuditWriter({
    dir,
    bufferSize: 10,
    flushIntervalMs: 60_000,
    maxQueued: 10,
    maxFileBytes: 1 << 20,
    retentionDays: 0,
    logger: captureLogger().logger,
    now: Date.now,
  });
  writer.write({
    id: 'x',
    timestamp: '2024-05-01T00:00:00.000Z',
    kind: 'start',
    level: 'metadata',
    category: 'system',
    action: 'start',
    result: 'success',
  });
  await writer.close();
  const result = await cli(['search', '--dir', dir]);
  t.match(result.out.split('\n')[1], /^2024-05-01T00:00:00\.000Z\s+-\s+-\s+-\s+success\s+start$/);
});

t.test('search decrypts details with --key-file', async (t) => {
  const { dir } = await logDir(t, 1, { encryptionKey: Buffer.from(ENCRYPTION_KEY, 'hex') });
  const logs = join(dir, 'audit');
  const plain = await cli([
    'search',
    '--dir',
    logs,
    '--format',
    'json',
    '--key-file',
    join(dir, 'encryption.key'),
  ]);
  t.match(JSON.parse(plain.out) as object, { details: { attributes: { name: 'voucher-1' } } });
  const sealed = await cli(['search', '--dir', logs, '--format', 'json']);
  t.match(JSON.parse(sealed.out) as object, { details: { enc: 'aes-256-gcm' } });
  const bad = await cli(['search', '--dir', logs, '--key-file', join(dir, 'bad.key')]);
  t.equal(bad.code, 2);
  t.match(bad.err, /--key-file must hold/);
});

t.test('search and report refuse bad options and missing folders with exit 2', async (t) => {
  const dir = t.testdir();
  t.match(
    (await cli(['search', '--dir', dir, '--format', 'xml'])).err,
    /--format must be json or table/,
  );
  t.match(
    (await cli(['search', '--dir', dir, '--from', 'yesterday'])).err,
    /--from must be an ISO date/,
  );
  t.match(
    (await cli(['report', '--dir', dir, '--group-by', 'color'])).err,
    /--group-by must be one of category, user, path, result, router/,
  );
  t.match((await cli(['report', '--dir', dir])).err, /--group-by/);
  const missing = await cli(['search', '--dir', join(dir, 'none')]);
  t.equal(missing.code, 2);
  t.match(missing.err, /cannot read the audit log/);
});

t.test('report prints counts per group and result, as a table or JSON', async (t) => {
  const { dir } = await logDir(t, 5);
  const logs = join(dir, 'audit');
  const table = await cli([
    'report',
    '--dir',
    logs,
    '--group-by',
    'user',
    '--from',
    '2024-05-01',
    '--to',
    '2024-05-01',
  ]);
  t.equal(table.code, 0);
  t.equal(
    table.out,
    [
      'user     total  success  failure  denied  error  cancelled',
      'billing      3        3        0       0      0          0',
      'ops          2        2        0       0      0          0',
      '(all)        5',
      '',
    ].join('\n'),
  );
  const json = await cli(['report', '--dir', logs, '--group-by', 'result', '--format', 'json']);
  t.same(JSON.parse(json.out), {
    groupBy: 'result',
    total: 5,
    rows: [{ key: 'success', total: 5, results: { success: 5 } }],
  });
});

t.test('output waits for a slow reader instead of buffering without bound', async (t) => {
  const { dir } = await logDir(t, 20);
  const result = await cli(['search', '--dir', join(dir, 'audit'), '--format', 'json'], 1);
  t.equal(result.code, 0);
  t.equal(result.out.trim().split('\n').length, 20);
});
